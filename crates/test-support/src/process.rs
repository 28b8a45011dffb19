//! A stage's program as a user runs it: to the end, or started, read line by line, and sent real
//! signals (`ctrlc` takes one handler per process, so a signal test needs a child process).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Runs a stage's program to the end and returns what it printed on stdout. Panics, failing the
/// test, if the program cannot start, exits with an error, or writes to stderr.
pub fn stdout_of(program: &mut Command) -> String {
    let output = program.output().expect("the program starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program:?} failed: {stderr}");
    assert!(stderr.is_empty(), "{program:?} wrote to stderr: {stderr}");
    String::from_utf8(output.stdout).expect("the program prints UTF-8")
}

/// Sends `signal` to `child`, as a terminal's Ctrl-C (SIGINT) or a service manager (SIGTERM)
/// would. A child that has exited but not been waited for still receives it (and ignores it).
pub fn send_signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in an i32"));
    kill(pid, signal).expect("the signal is delivered");
}

/// A program started with its stdout and stderr piped to the test, read line by line while it
/// runs. Dropping it kills the program, so a failing test leaves no hour-long run behind.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    /// `None` once [`Spawned::finish_within`] has taken it.
    stdout: Option<BufReader<ChildStdout>>,
    /// Every line of stdout read so far, each with its newline.
    printed: String,
    /// Drains stderr from the start, so a chatty program never blocks on a full pipe.
    stderr: Option<JoinHandle<String>>,
}

/// How a [`Spawned`] program ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status; `status.code()` is `None` if a signal killed it.
    pub status: ExitStatus,
    /// Everything it printed on stdout, including the lines read while it ran.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Spawned {
    /// Starts `program` with stdout and stderr piped.
    pub fn start(program: &mut Command) -> Self {
        let mut child = program
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program starts");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        Self {
            child,
            stdout: Some(stdout),
            printed: String::new(),
            stderr: Some(stderr),
        }
    }

    /// The next line the program prints on stdout, without its newline; `None` once stdout is
    /// closed (the program exited). Blocks until the line is complete.
    pub fn next_line(&mut self) -> Option<String> {
        let stdout = self.stdout.as_mut()?;
        let mut line = String::new();
        let read = stdout.read_line(&mut line).expect("stdout is UTF-8");
        if read == 0 {
            return None;
        }
        self.printed.push_str(&line);
        if !line.ends_with('\n') {
            self.printed.push('\n');
        }
        Some(line.trim_end_matches('\n').to_owned())
    }

    /// Reads stdout until a line for which `wanted` is true and returns it; panics if the
    /// program's output ends first.
    pub fn read_until(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            match self.next_line() {
                Some(line) if wanted(&line) => return line,
                Some(_) => {}
                None => panic!("the output ended without the line:\n{}", self.printed),
            }
        }
    }

    /// The program as a child process, e.g. for [`Child::id`].
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// Sends `signal` to the program.
    pub fn signal(&self, signal: Signal) {
        send_signal(&self.child, signal);
    }

    /// Whether the program has exited (without waiting for it to).
    pub fn has_exited(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("the child can be waited for")
            .is_some()
    }

    /// Waits for the program to exit and returns how it ended and all it printed. `limit` is
    /// only a guard against a hung program, which it kills before failing the test: choose it
    /// many times longer than the program should take, so a busy machine never reaches it.
    pub fn finish_within(mut self, limit: Duration) -> Finished {
        let mut stdout = self.stdout.take().expect("finish_within is called once");
        let rest = thread::spawn(move || {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
            rest
        });
        let give_up = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                break status;
            }
            if Instant::now() > give_up {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the program did not exit within {limit:?}; it printed:\n{}",
                    self.printed
                );
            }
            thread::sleep(Duration::from_millis(1));
        };
        let mut printed = std::mem::take(&mut self.printed);
        printed.push_str(&rest.join().expect("the stdout reader does not panic"));
        let stderr = self
            .stderr
            .take()
            .map(|reader| reader.join().expect("the stderr reader does not panic"))
            .unwrap_or_default();
        Finished {
            status,
            stdout: printed,
            stderr,
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.stdout.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
