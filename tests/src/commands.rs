//! `swarmfeed` subcommands that tests run again and again, with their `--json` output parsed.

use std::path::Path;

/// `swarmfeed --data DATA publish PATH --title TITLE --json EXTRA…`: the printed object.
pub fn publish(data: &Path, path: &Path, title: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "--data",
        data.to_str().expect("UTF-8 path"),
        "publish",
        path.to_str().expect("UTF-8 path"),
        "--title",
        title,
        "--json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&crate::binary::swarmfeed_ok(&args)).expect("publish --json prints JSON")
}

/// `swarmfeed --data DATA follows --json`.
pub fn follows(data: &Path) -> serde_json::Value {
    serde_json::from_str(&crate::binary::swarmfeed_ok(&[
        "--data",
        data.to_str().expect("UTF-8 path"),
        "follows",
        "--json",
    ]))
    .expect("follows --json prints JSON")
}

/// The first follow of `follows --json`, if any.
pub fn first_follow(data: &Path) -> Option<serde_json::Value> {
    follows(data).as_array()?.first().cloned()
}

/// `swarmfeed --data DATA identity new --name NAME`.
pub fn new_identity(data: &Path, name: &str) {
    crate::binary::swarmfeed_ok(&[
        "--data",
        data.to_str().expect("UTF-8 path"),
        "identity",
        "new",
        "--name",
        name,
    ]);
}

/// `swarmfeed --data DATA follow TARGET EXTRA…`; TARGET is an identity id or `ID/FEED`.
pub fn follow(data: &Path, target: &str, extra: &[&str]) {
    let mut args = vec![
        "--data",
        data.to_str().expect("UTF-8 path"),
        "follow",
        target,
    ];
    args.extend_from_slice(extra);
    crate::binary::swarmfeed_ok(&args);
}
