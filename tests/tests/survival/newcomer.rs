//! A brand-new node that knows only P's id and one bootstrap address rebuilds the feed, and
//! its gateway renders it.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use tests::commands::follow;
use tests::network::holds;
use tests::node::{NodeProcess, http_get, http_request, same_tree, wait_for};

use crate::content::{ITEMS, STREAMED};
use crate::nodes::on;

fn api_entries(node: &NodeProcess, identity: &str) -> Option<serde_json::Value> {
    let url = format!(
        "{}/api/v1/feeds/{identity}/main/entries?limit=50",
        node.info.public_url
    );
    serde_json::from_slice(&http_get(&url)?).ok()
}

/// A fresh node's gateway renders the whole feed: the JSON API lists seqs `n..=1` with
/// their titles, the HTML feed page shows every title newest first, and a file streams
/// byte-exact. Returns how long after `started` the full feed was first rendered.
fn check_gateway(
    node: &NodeProcess,
    identity: &str,
    titles: &[String],
    infohashes: &[String],
    content: &Path,
    started: Instant,
) -> f64 {
    let n = titles.len();
    let page = wait_for(
        Duration::from_secs(90),
        "the fresh node's gateway to list every entry",
        || api_entries(node, identity).filter(|p| p["entries"].as_array().map(Vec::len) == Some(n)),
    );
    let rendered = started.elapsed().as_secs_f64();
    let seqs: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=n as u64).rev().collect::<Vec<_>>(), "{page}");
    for entry in page["entries"].as_array().unwrap() {
        let seq = entry["seq"].as_u64().unwrap() as usize;
        assert_eq!(entry["title"], titles[seq - 1].as_str(), "{entry}");
        assert_eq!(entry["content"]["infohash"], infohashes[seq - 1].as_str());
        assert_eq!(entry["retracted"], false);
    }
    let html = String::from_utf8(
        http_get(&format!("{}/{identity}/main", node.info.public_url)).expect("feed page"),
    )
    .unwrap();
    let positions: Vec<usize> = titles
        .iter()
        .map(|t| {
            html.find(t.as_str())
                .unwrap_or_else(|| panic!("{t} missing from the feed page"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "the feed page does not list the entries newest first: {positions:?}"
    );
    let (name, _) = ITEMS[STREAMED];
    let url = format!(
        "{}/files/{}/{name}",
        node.info.public_url, infohashes[STREAMED]
    );
    let streamed = wait_for(Duration::from_secs(120), "a streamed file", || {
        http_get(&url)
    });
    assert!(
        streamed == fs::read(content.join(name)).unwrap(),
        "the streamed {name} differs"
    );
    let ranged = http_request("GET", &url, &[("Range", "bytes=1000-1999")], b"").unwrap();
    assert_eq!(ranged.0, 206);
    assert_eq!(ranged.1, fs::read(content.join(name)).unwrap()[1000..2000]);
    rendered
}

/// A brand-new node: empty data dir, P's id, one bootstrap address. Rebuilds the feed and
/// checks every file byte-exact; returns (feed rendered, everything held) seconds.
pub fn fresh_node(
    data: &Path,
    bootstrap: String,
    identity: &str,
    titles: &[String],
    infohashes: &[String],
    content: &Path,
) -> (NodeProcess, f64, f64) {
    let started = Instant::now();
    let node = NodeProcess::start(data, &on(bootstrap, &[]));
    follow(data, identity, &[]);
    let rendered = check_gateway(&node, identity, titles, infohashes, content, started);
    wait_for(
        Duration::from_secs(120),
        "the fresh node to hold every entry",
        || holds(data, titles.len() as u64),
    );
    let complete = started.elapsed().as_secs_f64();
    for (name, _) in ITEMS {
        let held = fs::read_dir(data.join("downloads"))
            .unwrap()
            .map(|e| e.unwrap().path().join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name} not held by {}", data.display()));
        same_tree(&held, &content.join(name)).unwrap();
    }
    (node, rendered, complete)
}
