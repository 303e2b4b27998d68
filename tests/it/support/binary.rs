//! The real `webhook-trigger` binary, for tests that run it as users do: the CLI with
//! `--json`, and `serve` as a child process on a free loopback port.

use std::path::Path;
use std::process::{Child, Command};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_webhook-trigger");

/// A child process that is killed (and reaped) when the test lets go of it, pass or fail.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the CLI with `--json` on the store at `db`; fails the test unless it succeeds.
pub fn cli(db: &Path, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["--store", db.to_str().expect("utf-8 path"), "--json"])
        .args(args)
        .env_remove("WEBHOOK_STORE")
        .output()
        .expect("run cli");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
