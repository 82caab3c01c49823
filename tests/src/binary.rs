//! The `swarmfeed` binary under test, built once per test process, and ways to run it.
//!
//! The `tests` package cannot use `CARGO_BIN_EXE_swarmfeed` (the binary belongs to another
//! package), so the first call runs `cargo build --bin swarmfeed` in the workspace and uses
//! `target/debug/swarmfeed`. `SWARMFEED_BIN` overrides the path (e.g. to a release build).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root: the parent of this package's directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package lives inside the workspace")
        .to_path_buf()
}

/// The path of a freshly built `swarmfeed` binary.
pub fn swarmfeed_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("SWARMFEED_BIN") {
            return PathBuf::from(path);
        }
        let root = workspace_root();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--bin", "swarmfeed"])
            .current_dir(&root)
            .status()
            .expect("run cargo build --bin swarmfeed");
        assert!(status.success(), "cargo build --bin swarmfeed failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let bin = target.join("debug").join("swarmfeed");
        assert!(bin.is_file(), "no binary at {}", bin.display());
        bin
    })
}

/// Runs `swarmfeed ARGS…` to completion, with no terminal and a clean passphrase variable.
pub fn swarmfeed(args: &[&str]) -> Output {
    swarmfeed_with_env(args, &[])
}

/// Like [`swarmfeed`], with extra environment variables (e.g. `SWARMFEED_PASSPHRASE`).
pub fn swarmfeed_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(swarmfeed_bin())
        .args(args)
        .env_remove("SWARMFEED_PASSPHRASE")
        .env_remove("SWARMFEED_DATA")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run swarmfeed")
}

/// Runs `swarmfeed ARGS…`, asserts it succeeded, and returns its stdout.
pub fn swarmfeed_ok(args: &[&str]) -> String {
    let output = swarmfeed(args);
    assert!(
        output.status.success(),
        "swarmfeed {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("swarmfeed prints UTF-8")
}

/// The value of the first `key: value` line of `swarmfeed` output.
pub fn field<'a>(output: &'a str, key: &str) -> Option<&'a str> {
    output
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(": "))
}
