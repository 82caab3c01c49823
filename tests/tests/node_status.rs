//! The operator's status page (`/status`) with real data: a node that follows two feeds of
//! a publisher (a cap on one follow and on the node) and publishes one file of its own that
//! no other peer holds. In headless Chromium the page lists that file first among the
//! torrents at risk, draws the traffic chart (SVG, no script), and is valid to the W3C Nu
//! checker; a screenshot is kept under target/test-artifacts/node_status/. A client behind
//! a proxy, even on loopback, is refused.

use std::time::Duration;

use serde_json::json;
use tests::browser::{Browser, artifact_path};
use tests::commands::{follow, follows, new_identity, publish};
use tests::html_check::html_problems;
use tests::node::{NodeOptions, NodeProcess, http_request, test_root, write_pattern_file};
use tests::poll::poll_for;

#[test]
fn the_status_page_shows_the_lonely_torrent_first_and_is_the_operators_only() {
    let (_guard, root) = test_root();
    // The publisher: two feeds, three entries.
    let publisher_data = root.join("publisher");
    new_identity(&publisher_data, "alice");
    let files = root.join("files");
    std::fs::create_dir_all(&files).unwrap();
    for (name, len) in [
        ("song.ogg", 900_000),
        ("cover.png", 300_000),
        ("talk.webm", 1_500_000),
    ] {
        write_pattern_file(&files.join(name), len, len);
    }
    let song = publish(&publisher_data, &files.join("song.ogg"), "A song", &[]);
    publish(&publisher_data, &files.join("cover.png"), "The cover", &[]);
    publish(
        &publisher_data,
        &files.join("talk.webm"),
        "A talk",
        &["--feed", "talks"],
    );
    let alice = song["identity"].as_str().unwrap().to_owned();
    let publisher = NodeProcess::start(
        &publisher_data,
        &NodeOptions {
            bootstrap: None,
            args: Vec::new(),
        },
    );

    // The seeding box: its own file that nobody else has, and the two feeds followed.
    let data = root.join("box");
    new_identity(&data, "bob");
    write_pattern_file(&files.join("lonely.bin"), 400_000, 7);
    let lonely = publish(&data, &files.join("lonely.bin"), "Only here", &[]);
    let node = NodeProcess::start(
        &data,
        &NodeOptions {
            bootstrap: Some(publisher.dht_address()),
            args: vec!["--max-bytes".into(), "64MiB".into()],
        },
    );
    follow(&data, &format!("{alice}/main"), &["--max-bytes", "8MiB"]);
    follow(&data, &format!("{alice}/talks"), &[]);
    // Replicated: both follows with every torrent complete (the follows as last seen if not).
    let mut last = serde_json::Value::Null;
    let held = poll_for(Duration::from_secs(90), || {
        let list = follows(&data);
        let held = list.as_array().is_some_and(|list| {
            list.len() == 2
                && list
                    .iter()
                    .all(|f| f["torrents"].as_u64() > Some(0) && f["torrents"] == f["complete"])
        });
        last = list;
        held.then_some(())
    });
    assert!(held.is_some(), "both feeds not held within 90 s: {last}");

    let url = format!("{}/status", node.info.public_url);
    let (status, html) = http_request("GET", &url, &[], b"").expect("the node answers");
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    // Through a proxy on the same machine: not the operator.
    let (refused, _) = http_request("GET", &url, &[("X-Forwarded-For", "192.0.2.9")], b"").unwrap();
    assert_eq!(refused, 403);

    let mut browser = Browser::start();
    browser.navigate(&url);
    assert_eq!(browser.evaluate("document.title"), "Status · swarmfeed");
    let shot = artifact_path("node_status/status.png");
    browser.screenshot(&shot);
    eprintln!("screenshot: {}", shot.display());
    // The at-risk table: the first row is the file only this node holds.
    let rows = browser.evaluate(
        "[...[...document.querySelectorAll('h2')].find(h => h.textContent.startsWith('At risk'))\
         .nextElementSibling.querySelectorAll('tr')].slice(1)\
         .map(tr => [...tr.cells].map(c => c.innerText.trim()))",
    );
    let rows = rows.as_array().unwrap();
    let first = rows[0].as_array().unwrap();
    assert!(
        first[0].as_str().unwrap().starts_with("lonely.bin"),
        "{rows:?}"
    );
    assert!(
        first[0]
            .as_str()
            .unwrap()
            .contains(lonely["infohash"].as_str().unwrap())
    );
    assert_eq!(first[1], json!("published here"));
    assert_eq!(first[2], json!("0"), "known peers of the lonely torrent");
    // The followed content has the publisher as a known peer, and comes after.
    let song_row = rows
        .iter()
        .position(|r| r[0].as_str().unwrap().starts_with("song.ogg"))
        .expect("song.ogg listed");
    assert!(song_row > 0);
    assert_ne!(rows[song_row][2], json!("0"), "{rows:?}");
    // The chart: bars of what was received from the publisher, drawn in SVG.
    let received = browser.evaluate(
        "[...document.querySelectorAll('svg.chart rect title')]\
         .filter(t => t.textContent.includes('received')).length",
    );
    assert!(received.as_u64() >= Some(1), "no received bar: {received}");
    let text = browser.evaluate("document.body.innerText").to_string();
    for expected in [
        "node, over every follow",
        "of 64.0 MiB",
        "of 8.0 MiB",
        "Scrub",
        "Errors",
    ] {
        assert!(text.contains(expected), "{expected:?} missing: {text}");
    }

    let problems = html_problems(&[("status", html.as_str())]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
