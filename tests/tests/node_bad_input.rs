//! Bad requests to publish, retract and set a profile through a running node: each is refused with a
//! stable error name on the control socket and with one line and exit 3 from the command
//! line; the node keeps serving and nothing is written to the data directory.

use std::path::{Path, PathBuf};

use tests::binary::swarmfeed;
use tests::commands::new_identity;
use tests::http::control_request;
use tests::node::{NodeOptions, NodeProcess, http_get, publish, test_root};

/// One request over the control socket: the status and the error name of the answer.
fn control(socket: &Path, path: &str, body: &[u8]) -> (u16, String) {
    let (status, body) = control_request(socket, "POST", path, body);
    let error = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no error name in {body:?}"));
    (status, error)
}

/// Every file under the data directory's signed state (feeds, torrents, content records)
/// with its size.
fn signed_state(data: &Path) -> Vec<(PathBuf, u64)> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = ["feeds", "torrents", "content"]
        .iter()
        .map(|d| data.join(d))
        .collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), entry.metadata().map_or(0, |m| m.len())));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn bad_publish_and_retract_requests_get_an_error_name_and_exit_3_and_change_nothing() {
    let (_tmp, root) = test_root();
    let data = root.join("node");
    new_identity(&data, "alice");
    let file = root.join("song.txt");
    std::fs::write(&file, b"sung by alice").unwrap();
    publish(&data, &file, "Song", &[]);
    let node = NodeProcess::start(&data, &NodeOptions::default());
    let socket = node.info.control.clone();
    let before = signed_state(&data);

    // Over the control socket: the status and stable name of each refusal.
    let song = file.to_str().unwrap();
    let cases: [(&str, String, u16, &str); 14] = [
        (
            "/publish",
            r#"{"feed": "main", "path": "/no/such/file"}"#.into(),
            404,
            "bad_path",
        ),
        (
            "/publish",
            format!(r#"{{"feed": "main", "path": "{song}", "identity": "bob"}}"#),
            404,
            "unknown_identity",
        ),
        (
            "/publish",
            format!(r#"{{"feed": "bad name!", "path": "{song}"}}"#),
            400,
            "bad_feed_name",
        ),
        (
            "/publish",
            r#"{"feed": "main", "path": "song.txt"}"#.into(),
            400,
            "bad_path",
        ),
        ("/publish", r#"{"feed": "main"}"#.into(), 400, "bad_request"),
        ("/publish", String::new(), 400, "bad_request"),
        ("/publish", "{not json".into(), 400, "bad_request"),
        (
            "/retract",
            r#"{"feed": "main", "seq": 9}"#.into(),
            404,
            "bad_seq",
        ),
        (
            "/retract",
            r#"{"feed": "main", "seq": 1, "identity": "bob"}"#.into(),
            404,
            "unknown_identity",
        ),
        (
            "/retract",
            r#"{"feed": "bad name!", "seq": 1}"#.into(),
            400,
            "bad_feed_name",
        ),
        ("/retract", String::new(), 400, "bad_request"),
        ("/retract", "{not json".into(), 400, "bad_request"),
        // A field the publisher refuses: its own name, whatever the field.
        (
            "/profile",
            r#"{"name": "Alice\u202egpj.exe"}"#.into(),
            400,
            "bad_profile",
        ),
        (
            "/profile",
            r#"{"avatar": "not-a-hash"}"#.into(),
            400,
            "bad_profile",
        ),
    ];
    for (path, body, status, name) in &cases {
        assert_eq!(
            control(&socket, path, body.as_bytes()),
            (*status, (*name).to_owned()),
            "POST {path} {body}"
        );
    }

    // From the command line: one line on stderr, exit 3.
    let d = data.to_str().unwrap();
    let outside = root.join("outside");
    std::fs::create_dir_all(root.join("shared")).unwrap();
    std::fs::write(&outside, b"not shared").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("shared").join("link")).unwrap();
    let shared = root.join("shared");
    let runs: [Vec<&str>; 5] = [
        vec!["publish", "/no/such/file"],
        vec!["publish", song, "--identity", "bob"],
        // A symlink leaving the shared directory: nothing outside it is read.
        vec!["publish", shared.to_str().unwrap()],
        vec!["retract", "9"],
        vec!["retract", "1", "--identity", "bob"],
    ];
    for args in &runs {
        let mut full = vec!["--data", d];
        full.extend_from_slice(args);
        let out = swarmfeed(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }

    // The node keeps serving, and nothing was signed or written.
    assert!(
        http_get(&format!("{}/healthz", node.info.public_url)).is_some(),
        "{}",
        node.log()
    );
    assert_eq!(signed_state(&data), before);
}
