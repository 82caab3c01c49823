//! A node loads a secret key only to sign with it: publishing (and retracting) through a
//! running node reads the key of the identity that signs and no other, and a restarted node re-signs (so
//! reads the key of) no identity record whose content did not change.
//!
//! The proof is a second identity's key file made readable by others: the keystore refuses
//! to load such a key (as ssh does), so any load of it fails the call that made it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tests::binary::{swarmfeed, swarmfeed_ok};
use tests::commands::new_identity;
use tests::http::http_request;
use tests::node::{NodeOptions, NodeProcess, metric};

/// Makes `name`'s key file readable by group and others: the keystore no longer loads it.
fn expose_key(data: &Path, name: &str) {
    let key = data.join("keys").join(format!("{name}.key"));
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    // The keystore does refuse it: what the node must never run into below.
    let out = swarmfeed(&["--data", data.to_str().unwrap(), "identity", "show", name]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("readable by other users"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn publishing_and_retracting_through_a_running_node_load_only_the_signing_identitys_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    new_identity(&data, "alice");
    new_identity(&data, "bob");
    let node = NodeProcess::start(&data, &NodeOptions::default());
    let bob_record_path = bob_record_path(&data);
    let bob_record = fs::read(&bob_record_path).unwrap();

    expose_key(&data, "bob");
    let file = tmp.path().join("song.txt");
    fs::write(&file, b"sung by alice").unwrap();
    let out = swarmfeed(&[
        "--data",
        d,
        "publish",
        file.to_str().unwrap(),
        "--identity",
        "alice",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{}", node.log());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Taken in by the node at once: served, with its URLs printed.
    let entry_url = printed["entry_url"].as_str().unwrap();
    let (status, _) = http_request("GET", entry_url, &[], b"").unwrap();
    assert_eq!(status, 200, "{}", node.log());
    assert!(printed["torrent_url"].as_str().is_some(), "{printed}");
    assert!(
        !node.log().contains("readable by other users"),
        "{}",
        node.log()
    );
    // Bob's record was left as it was.
    assert_eq!(fs::read(&bob_record_path).unwrap(), bob_record);

    // Retracting goes through the node too: it signs the delete entry with alice's key
    // alone (a decision for the operator counted) and serves it at once.
    let retracts = || {
        metric(
            &node,
            "swarmfeed_authorizations_total{operation=\"retract\",actor=\"operator\",outcome=\"allowed\"}",
        )
    };
    assert_eq!(retracts(), Some(0.0));
    let out = swarmfeed(&["--data", d, "retract", "1", "--identity", "alice", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{}", node.log());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["kind"], "delete", "{printed}");
    assert_eq!(printed["seq"], 2, "{printed}");
    assert_eq!(retracts(), Some(1.0), "retract did not go through the node");
    let (status, _) =
        http_request("GET", printed["entry_url"].as_str().unwrap(), &[], b"").unwrap();
    assert_eq!(status, 200, "{}", node.log());
    assert!(
        !node.log().contains("readable by other users"),
        "{}",
        node.log()
    );
    assert_eq!(fs::read(&bob_record_path).unwrap(), bob_record);
}

#[test]
fn a_restarted_node_loads_no_key_when_no_identity_record_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    new_identity(&data, "alice");
    new_identity(&data, "bob");
    let file = tmp.path().join("song.txt");
    fs::write(&file, b"sung by alice").unwrap();
    swarmfeed_ok(&[
        "--data",
        data.to_str().unwrap(),
        "publish",
        file.to_str().unwrap(),
    ]);
    // The same public URL at every start: the records name the same node.
    let options = NodeOptions {
        args: vec!["--public-url".into(), "http://node.example:8080".into()],
        ..NodeOptions::default()
    };
    let mut node = NodeProcess::start(&data, &options);
    node.stop();
    let bob_record_path = bob_record_path(&data);
    let bob_record = fs::read(&bob_record_path).unwrap();

    expose_key(&data, "bob");
    let node = NodeProcess::start(&data, &options);
    assert!(
        !node.log().contains("readable by other users"),
        "{}",
        node.log()
    );
    assert_eq!(fs::read(&bob_record_path).unwrap(), bob_record);
}

/// Where the data directory keeps bob's identity record.
fn bob_record_path(data: &Path) -> std::path::PathBuf {
    let out = swarmfeed_ok(&["--data", data.to_str().unwrap(), "identity", "show", "bob"]);
    let id = out
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .unwrap();
    data.join("feeds").join(id.trim()).join("identity")
}
