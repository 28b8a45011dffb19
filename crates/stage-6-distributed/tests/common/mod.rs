//! What the Redis tests share: a private server per test, the program as a worker process, and a
//! runtime to talk to the broker from a plain test.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use std::time::Duration;

use stage_6_distributed::{JobSpec, PrivateRedis, RedisBroker, Retention};
use test_support::{Spawned, scratch_folder};
use tokio::runtime::Runtime;

/// A test's own `redis-server`, stopped and its folder removed when dropped.
pub struct Server {
    /// `None` only while dropping.
    redis: Option<PrivateRedis>,
    dir: PathBuf,
}

impl Server {
    /// Where it listens: `redis+unix://…/redis.sock`.
    pub fn url(&self) -> String {
        self.redis.as_ref().expect("the server is running").url()
    }

    /// A plain connection to it, for what a test does to the server from outside.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a valid URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the private server answers")
    }

    /// Stops it for good: what a broker that went away looks like.
    pub fn stop(&mut self) {
        drop(self.redis.take());
    }

    /// Stops it (it writes its append-only file) and starts it again on the same folder.
    pub fn restart(&mut self) {
        self.redis
            .as_mut()
            .expect("the server is running")
            .restart()
            .expect("redis-server restarts");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server first, so that it does not write into a folder being removed.
        drop(self.redis.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `redis-server` is missing, in which case `test` is to be skipped: said loudly, or,
/// under CI (which installs it, so its absence is a bug), a failure.
pub fn redis_missing(test: &str) -> bool {
    if PrivateRedis::on_path() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "redis-server is not on PATH and CI is set: install Redis (6.2 or later) to run {test}"
    );
    // Straight to stderr: the test harness captures `eprintln!` from passing tests, and a skip
    // that nobody sees is a pass.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: redis-server is not on PATH; install Redis 6.2+ ***\n"
    );
    true
}

/// A private server for `test`, or `None` when `redis-server` is not installed.
pub fn private_redis(test: &str, append_only: bool) -> Option<Server> {
    if redis_missing(test) {
        return None;
    }
    let dir = scratch_folder("stage-6-redis", test);
    // A folder left behind by an earlier run with the same pid would bring its data back.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let redis = PrivateRedis::start(&dir, append_only).expect("redis-server starts");
    Some(Server {
        redis: Some(redis),
        dir,
    })
}

/// A test's own Redis, a runtime, and a broker connected to it under `name`.
pub struct Harness {
    pub server: Server,
    pub runtime: Runtime,
    pub broker: RedisBroker,
    pub url: String,
    pub name: String,
}

/// A [`Harness`] for `test`, or `None` when `redis-server` is not installed.
pub fn harness(test: &str, append_only: bool) -> Option<Harness> {
    let server = private_redis(test, append_only)?;
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let name = test.to_owned();
    let broker = runtime
        .block_on(RedisBroker::connect(&url, &name, Retention::default()))
        .expect("the private server answers");
    Some(Harness {
        server,
        runtime,
        broker,
        url,
        name,
    })
}

impl Harness {
    /// Runs `future` to its end on the test's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The program, pointed at this test's server and keys.
    pub fn program(&self) -> Command {
        let mut command = program();
        command.args(["--redis", &self.url, "--name", &self.name]);
        command
    }

    /// A worker process named `consumer`, with `args` after `work`.
    pub fn worker(&self, consumer: &str, args: &[&str]) -> Spawned {
        let mut command = self.program();
        command.args(["work", "--consumer", consumer]).args(args);
        Spawned::start(&mut command)
    }
}

/// The program under test.
pub fn program() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stage-6-distributed"));
    command.env_remove("REDIS_URL").env("RUST_LOG", "info");
    command
}

/// Job number `n`'s payload for the Redis-only tests: it squares `n` at once.
pub fn payload(n: u32) -> String {
    JobSpec {
        number: n,
        duration: Duration::ZERO,
        poison: false,
    }
    .encode()
}
