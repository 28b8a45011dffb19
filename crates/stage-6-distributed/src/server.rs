//! A private `redis-server` for the demo and the tests: a child process that listens on a Unix
//! socket in a folder of its own and on no TCP port, so it can never meet (or be mistaken for)
//! a Redis someone else runs on this machine.

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The program this module runs.
const PROGRAM: &str = "redis-server";

/// How long a fresh server has to answer PING. Loading a large append-only file could take
/// longer; the demo's and the tests' files are small.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a server has to exit after SIGTERM. It writes its append-only file first, which is
/// quick for the small files here; after this it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the waits look again.
const POLL: Duration = Duration::from_millis(20);

/// A `redis-server` child process with its socket, log and data in one folder. Dropping it stops
/// the server.
#[derive(Debug)]
pub struct PrivateRedis {
    /// The folder with the socket, the log and (with append-only) the data.
    dir: PathBuf,
    /// Whether the server keeps an append-only file, so that a restart keeps the data.
    append_only: bool,
    /// The running server.
    child: Child,
}

impl PrivateRedis {
    /// Whether `redis-server` is on `PATH`, so that [`PrivateRedis::start`] can run it.
    pub fn on_path() -> bool {
        let Some(path) = std::env::var_os("PATH") else {
            return false;
        };
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(PROGRAM))
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
    }

    /// Starts `redis-server` with its socket (`redis.sock`), log (`redis.log`) and data in `dir`,
    /// which must exist, and waits until it answers PING. With `append_only` it keeps an
    /// append-only file there, so that [`PrivateRedis::restart`] keeps the data; without, it
    /// keeps nothing on disk.
    pub fn start(dir: &Path, append_only: bool) -> Result<PrivateRedis, String> {
        // Absolute, because Redis changes into `--dir` before it opens the socket and the log,
        // and the URL needs an absolute path.
        let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !dir.is_dir() {
            return Err(format!("{} is not a folder", dir.display()));
        }
        let child = spawn(&dir, append_only)?;
        // From here on, dropping `redis` stops the child if it never gets ready.
        let mut redis = PrivateRedis {
            dir,
            append_only,
            child,
        };
        redis.wait_until_ready()?;
        Ok(redis)
    }

    /// The URL to connect to: `redis+unix://<folder>/redis.sock`.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", url_path(&self.socket()))
    }

    /// Stops the server with SIGTERM, waits for it to exit (Redis writes its append-only file on
    /// the way out), and starts it again in the same folder with the same settings. Clients see
    /// their connections close, as they would when a real broker restarts.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop()?;
        self.child = spawn(&self.dir, self.append_only)?;
        self.wait_until_ready()
    }

    /// Where the server listens.
    fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// Waits until the server answers PING on its socket, or fails if it exits or takes too long.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let socket = self.socket();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return Err(format!(
                        "{PROGRAM} exited at start ({status}); its log says:\n{}",
                        log_tail(&self.dir)
                    ));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("cannot check on {PROGRAM}: {e}")),
            }
            if answers_ping(&socket) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{PROGRAM} did not answer on {} within {READY_TIMEOUT:?}; its log says:\n{}",
                    socket.display(),
                    log_tail(&self.dir)
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Sends SIGTERM and waits for the server to exit; kills it if it takes too long.
    fn stop(&mut self) -> Result<(), String> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return Ok(());
        }
        let pid = i32::try_from(self.child.id())
            .map_err(|_| format!("{PROGRAM}'s pid {} is out of range", self.child.id()))?;
        match kill(Pid::from_raw(pid), Signal::SIGTERM) {
            // ESRCH: it has exited already and only waits to be reaped.
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => return Err(format!("cannot signal {PROGRAM}: {e}")),
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
                _ => break,
            }
        }
        // Whatever went wrong, leave no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!(
            "{PROGRAM} did not exit within {STOP_TIMEOUT:?} of SIGTERM, so it was killed"
        ))
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // Nobody is left to tell: `stop` kills the server if SIGTERM is not enough, which is
        // all that matters here.
        let _ = self.stop();
    }
}

/// Runs `redis-server` in the foreground with everything in `dir`.
fn spawn(dir: &Path, append_only: bool) -> Result<Child, String> {
    let mut command = Command::new(PROGRAM);
    command
        // No TCP listener at all: only the socket, readable by this user alone.
        .args(["--port", "0", "--unixsocket"])
        .arg(dir.join("redis.sock"))
        .args(["--unixsocketperm", "700"])
        // No RDB snapshots: the data lives in memory, or in the append-only file when asked.
        .args(["--save", ""])
        .arg("--dir")
        .arg(dir)
        .args(["--daemonize", "no", "--logfile"])
        .arg(dir.join("redis.log"));
    if append_only {
        command.args(["--appendonly", "yes"]);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {PROGRAM}: {e}"))
}

/// Whether a server on `socket` answers PING with PONG. A server still loading its append-only
/// file answers `-LOADING` instead, which is not ready yet.
fn answers_ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let timeout = Some(Duration::from_millis(500));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0; 16];
    matches!(stream.read(&mut reply), Ok(n) if reply[..n].starts_with(b"+PONG"))
}

/// The last lines of the server's log, for an error message.
fn log_tail(dir: &Path) -> String {
    match std::fs::read_to_string(dir.join("redis.log")) {
        Ok(log) => {
            let lines: Vec<&str> = log.lines().collect();
            lines[lines.len().saturating_sub(10)..].join("\n")
        }
        Err(e) => format!("(no log: {e})"),
    }
}

/// `path` as the path of a URL: bytes other than unreserved ones and `/` percent-encoded, so
/// that a folder with a space, `#` or `?` in its name still makes a URL that means it.
fn url_path(path: &Path) -> String {
    let mut encoded = String::new();
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
