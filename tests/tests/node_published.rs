//! Content is seeded where it lies: a published file that is later edited (to another
//! length or in place at the same length, while the node is down or running) or moved is
//! reported and no longer served or seeded, instead of serving bytes its entry does not
//! name; an untouched file is served across restarts without being re-hashed.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tests::binary::swarmfeed_ok;
use tests::commands::new_identity;
use tests::files::write_pattern_file;
use tests::http::{http_get, http_request};
use tests::node::{NodeOptions, NodeProcess, metric, wait_for_more};
use tests::poll::wait_for;
use tests::process::run_python;

#[test]
fn a_published_file_changed_while_the_node_was_down_is_reported_and_not_served() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("song.txt");
    fs::write(&file, b"the words as published").unwrap();
    let infohash = publish_file(&data, &file);

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

/// Publishes `file` in a fresh data dir; returns the infohash.
fn publish_file(data: &Path, file: &Path) -> String {
    new_identity(data, "alice");
    let out = swarmfeed_ok(&[
        "--data",
        data.to_str().unwrap(),
        "publish",
        file.to_str().unwrap(),
        "--json",
    ]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["infohash"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Overwrites a few bytes in the middle of `file`, keeping its length, then sets its mtime
/// back to what it was: only the ctime (and the bytes) say it changed.
fn edit_in_place_keeping_length_and_mtime(file: &Path) {
    let before = fs::metadata(file).unwrap();
    let mtime = before.modified().unwrap();
    let handle = fs::OpenOptions::new().write(true).open(file).unwrap();
    handle.write_all_at(b"EDITED!", before.len() / 2).unwrap();
    handle.set_modified(mtime).unwrap();
    drop(handle);
    let after = fs::metadata(file).unwrap();
    assert_eq!(after.len(), before.len());
    assert_eq!(after.modified().unwrap(), mtime);
}

/// Stock libtorrent, told only of the node's BitTorrent port, downloads the torrent.
fn libtorrent_downloads(node: &NodeProcess, data: &Path, infohash: &str, limit: u64) -> bool {
    let save = tempfile::tempdir().unwrap();
    let torrent = data.join("torrents").join(format!("{infohash}.torrent"));
    assert!(torrent.exists(), "{}", torrent.display());
    let (ok, _, _) = run_python(
        "lt_download_from_peer.py",
        &[
            torrent.display().to_string(),
            save.path().display().to_string(),
            format!("127.0.0.1:{}", node.info.bt_port),
            limit.to_string(),
        ],
        Duration::from_secs(limit + 20),
    );
    ok
}

/// `film.bin`, `len` pattern bytes, published in a fresh data dir (no node started yet).
struct Film {
    tmp: tempfile::TempDir,
    data: PathBuf,
    file: PathBuf,
    original: Vec<u8>,
    infohash: String,
}

impl Film {
    fn publish(len: u64, seed: u64) -> Film {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let file = tmp.path().join("film.bin");
        write_pattern_file(&file, len, seed);
        let original = fs::read(&file).unwrap();
        let infohash = publish_file(&data, &file);
        Film {
            tmp,
            data,
            file,
            original,
            infohash,
        }
    }

    /// A node on the data dir with `toml` as its config file.
    fn start_node_with_config(&self, toml: &str) -> NodeProcess {
        let config = self.tmp.path().join("node.toml");
        fs::write(&config, toml).unwrap();
        let options = NodeOptions {
            args: vec!["--config".into(), config.display().to_string()],
            ..NodeOptions::default()
        };
        NodeProcess::start(&self.data, &options)
    }

    /// Where `node`'s gateway serves the film.
    fn url(&self, node: &NodeProcess) -> String {
        format!("{}/files/{}/film.bin", node.info.public_url, self.infohash)
    }
}

fn status(url: &str) -> u16 {
    http_request("GET", url, &[], b"").map_or(0, |(status, _)| status)
}

#[test]
fn a_published_file_edited_in_place_at_the_same_length_while_the_node_was_down_is_not_served() {
    let film = Film::publish(3 << 20, 11);
    let (data, file, infohash) = (&film.data, &film.file, &film.infohash);

    let mut node = NodeProcess::start(data, &NodeOptions::default());
    assert!(http_get(&film.url(&node)).as_deref() == Some(&film.original[..]));
    assert!(
        libtorrent_downloads(&node, data, infohash, 30),
        "libtorrent downloads the untouched file"
    );
    node.stop();

    edit_in_place_keeping_length_and_mtime(file);
    let edited = fs::read(file).unwrap();
    let node = NodeProcess::start(data, &NodeOptions::default());
    let url = film.url(&node);
    assert_eq!(status(&url), 410, "{}", node.log());
    assert!(
        node.log().contains("BLAKE3 no longer matches"),
        "{}",
        node.log()
    );
    assert!(
        !libtorrent_downloads(&node, data, infohash, 8),
        "no peer can download the edited file"
    );
    // The node never wrote into the publisher's file.
    assert!(fs::read(file).unwrap() == edited);
}

#[test]
fn an_untouched_published_file_is_served_after_restarts_without_being_re_hashed() {
    let film = Film::publish(3 << 20, 12);

    for round in 0..3 {
        let mut node = NodeProcess::start(&film.data, &NodeOptions::default());
        assert!(
            http_get(&film.url(&node)).as_deref() == Some(&film.original[..]),
            "round {round}"
        );
        let log = node.log();
        let line = log
            .lines()
            .find(|l| l.contains("published content checked at start"))
            .unwrap_or_else(|| panic!("no start check in the log:\n{log}"));
        println!("round {round}: {line}");
        assert!(line.contains("rehashed_files=0"), "{line}");
        node.stop();
    }

    // Touched (mtime moved) but the same bytes: re-hashed once, still served, then stat only.
    let handle = fs::OpenOptions::new().write(true).open(&film.file).unwrap();
    handle
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(handle);
    for expected in ["rehashed_files=1", "rehashed_files=0"] {
        let mut node = NodeProcess::start(&film.data, &NodeOptions::default());
        assert!(http_get(&film.url(&node)).as_deref() == Some(&film.original[..]));
        let log = node.log();
        let line = log
            .lines()
            .find(|l| l.contains("published content checked at start"))
            .unwrap();
        assert!(line.contains(expected), "{expected}: {line}");
        node.stop();
    }
}

#[test]
fn the_gateway_refuses_a_published_file_at_once_when_it_is_edited_while_the_node_runs() {
    let film = Film::publish(1 << 20, 17);
    // The scrub's own checks are an hour away: only the gateway's check can catch the edit.
    let node = film.start_node_with_config("[scrub]\ninterval_secs = 3600\ncheck_secs = 3600\n");
    let url = film.url(&node);
    assert!(http_get(&url).as_deref() == Some(&film.original[..]));
    assert!(http_get(&url).as_deref() == Some(&film.original[..]));

    edit_in_place_keeping_length_and_mtime(&film.file);
    assert_eq!(status(&url), 503, "the edited file is refused at once");
    assert_ne!(
        http_get(&url).as_deref(),
        Some(&fs::read(&film.file).unwrap()[..])
    );
    assert!(
        node.log().contains("not served until re-verified"),
        "{}",
        node.log()
    );
}

#[test]
fn a_published_file_edited_while_the_node_runs_is_caught_by_the_scrub() {
    let film = Film::publish(3 << 20, 13);
    let node = film
        .start_node_with_config("[scrub]\ninterval_secs = 1\ncheck_secs = 1\nrate = 104857600\n");
    let url = film.url(&node);
    assert!(http_get(&url).as_deref() == Some(&film.original[..]));
    // The scrub re-verifies it while nothing changed: no false alarm.
    wait_for(Duration::from_secs(10), "a clean scrub pass", || {
        node.log()
            .contains("published content checked at start")
            .then_some(())
    });
    // More whole re-hashes (of the film and the feed's log parts) while nothing changed.
    wait_for_more(
        &node,
        "swarmfeed_scrub_verifications_total",
        3.0,
        Duration::from_secs(30),
    );
    assert!(http_get(&url).as_deref() == Some(&film.original[..]));
    assert_eq!(metric(&node, "swarmfeed_verify_failures"), Some(0.0));

    edit_in_place_keeping_length_and_mtime(&film.file);
    let edited_at = Instant::now();
    wait_for(
        Duration::from_secs(15),
        "the scrub to stop serving it",
        || (status(&url) == 410).then_some(()),
    );
    println!("edit caught {:?} after it was made", edited_at.elapsed());
    assert!(
        node.log().contains("BLAKE3 no longer matches"),
        "{}",
        node.log()
    );
    assert_eq!(metric(&node, "swarmfeed_verify_failures"), Some(1.0));
    assert!(
        !libtorrent_downloads(&node, &film.data, &film.infohash, 8),
        "no peer can download the edited file"
    );
}
