//! Running stock programs (Debian's python3 with libtorrent, aria2c, …) with a time limit.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `tests/python/NAME` with Debian's python3 (where python3-libtorrent lives), killing
/// it after `limit`. Returns whether it exited 0, and its stdout and stderr.
pub fn run_python(name: &str, args: &[String], limit: Duration) -> (bool, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name);
    run_with_limit(
        Command::new("/usr/bin/python3").arg(&script).args(args),
        limit,
    )
}

/// Runs a command with no standard input, killing it after `limit`. Returns whether it
/// exited 0, and its stdout and stderr.
pub fn run_with_limit(command: &mut Command, limit: Duration) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (stdout_path, stderr_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let status = crate::poll::wait_child(&mut child, limit);
    let read = |path: &Path| {
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    };
    let (stdout, mut stderr) = (read(&stdout_path), read(&stderr_path));
    if status.is_none() {
        stderr.push_str(&format!("\nkilled after {limit:?}"));
    }
    (status.is_some_and(|s| s.success()), stdout, stderr)
}
