//! Content is seeded where it lies: a published file that is later edited (to another
//! length) or moved is reported and no longer served, instead of serving bytes its entry
//! does not name.

use std::fs;

use tests::binary::swarmfeed_ok;
use tests::node::{NodeOptions, NodeProcess, http_get};

#[test]
fn a_published_file_changed_while_the_node_was_down_is_reported_and_not_served() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let file = tmp.path().join("song.txt");
    fs::write(&file, b"the words as published").unwrap();
    swarmfeed_ok(&["--data", d, "identity", "new", "--name", "alice"]);
    let out = swarmfeed_ok(&["--data", d, "publish", file.to_str().unwrap(), "--json"]);
    let infohash = serde_json::from_str::<serde_json::Value>(&out).unwrap()["infohash"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut node = NodeProcess::start(&data, &NodeOptions::default());
    let url = format!("{}/files/{infohash}/song.txt", node.info.public_url);
    assert_eq!(
        http_get(&url).as_deref(),
        Some(&b"the words as published"[..])
    );
    node.stop();

    // Edited (another length) while the node was down.
    fs::write(&file, b"the words, revised").unwrap();
    let node = NodeProcess::start(&data, &NodeOptions::default());
    let url = format!("{}/files/{infohash}/song.txt", node.info.public_url);
    assert_eq!(http_get(&url), None, "a changed file must not be served");
    assert!(
        node.log().contains("changed size since it was published"),
        "{}",
        node.log()
    );
    assert!(node.log().contains(&infohash));
    // And the engine never touched the publisher's file.
    assert_eq!(fs::read(&file).unwrap(), b"the words, revised");
}
