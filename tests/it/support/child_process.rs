//! Running one test in a process of its own, for the rare test that needs process-wide state
//! nobody else touches. All tests share this process:
//! - changing the environment while other threads read it (C code included: SQLite, aws-lc,
//!   libc) is unsound; a child process gets its environment from the start;
//! - tracing caches per call site whether any subscriber listens, and a call site first
//!   reached on another test's thread while a test installs its subscriber can stay silent
//!   for that subscriber, so a test that must see every log line runs alone.

use std::process::Command;

/// Set in the child to the name of the test it runs.
const CHILD: &str = "WEBHOOK_TEST_CHILD";

/// Runs `test` alone in a new process of this test binary, with `vars` added to its environment.
/// `name` is the test's full name as the harness lists it (`module::test`). In the child,
/// runs `test` directly; in the parent, runs the child and fails with its output unless that
/// test ran there and passed.
pub fn run_in_own_process(name: &str, vars: &[(&str, &str)], test: impl FnOnce()) {
    if std::env::var(CHILD).is_ok_and(|running| running == name) {
        test();
        return;
    }
    let output = Command::new(std::env::current_exe().expect("path of the test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .envs(vars.iter().copied())
        .output()
        .expect("start the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Indented, so that the child's summary line is not counted as a run of its own.
    let report = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr))
        .lines()
        .map(|line| format!("  | {line}\n"))
        .collect::<String>();
    assert!(
        output.status.success(),
        "{name} failed in its own process:\n{report}"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run in its own process (is the name right?):\n{report}"
    );
}
