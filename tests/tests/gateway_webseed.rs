//! Stock libtorrent (Debian's python3-libtorrent) downloads published torrents from the
//! gateway as BEP 19 web seed alone: the `.torrent` from `/webseed-torrents/`, no DHT, LSD,
//! UPnP, NAT-PMP, peer exchange or trackers, no peer given. (aria2 does the same in
//! `gateway.rs`.)

use std::path::Path;
use std::time::Duration;

use tests::commands::new_identity;
use tests::node::{
    NodeOptions, NodeProcess, http_get, publish, run_python, same_tree, test_root,
    write_pattern_file,
};

/// Fetches the web seed form of the torrent, checks it names this gateway and keeps the
/// infohash, and has libtorrent download it into `out`. Returns libtorrent's report.
fn libtorrent_download(url: &str, infohash: &str, root: &Path, out: &Path) -> String {
    let torrent = http_get(&format!("{url}/webseed-torrents/{infohash}.torrent"))
        .expect("the web seed .torrent");
    let metainfo = feeds::Metainfo::decode(&torrent).unwrap();
    assert_eq!(metainfo.infohash().to_string(), infohash);
    assert_eq!(metainfo.webseeds, vec![format!("{url}/ws/{infohash}/")]);
    assert!(metainfo.trackers.is_empty(), "no tracker to fall back on");
    let path = root.join(format!("{infohash}.torrent"));
    std::fs::write(&path, &torrent).unwrap();
    std::fs::create_dir_all(out).unwrap();
    let (ok, stdout, stderr) = run_python(
        "lt_webseed.py",
        &[
            path.to_str().unwrap().to_owned(),
            out.to_str().unwrap().to_owned(),
            "45".to_owned(),
        ],
        Duration::from_secs(55),
    );
    assert!(ok, "libtorrent did not complete:\n{stdout}\n{stderr}");
    assert!(stdout.contains("COMPLETE"), "{stdout}");
    // Every connection libtorrent made was to a web seed.
    let sources = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SOURCES "))
        .unwrap_or_default();
    assert_eq!(sources, "web_seed", "{stdout}");
    stdout
}

#[test]
fn libtorrent_downloads_published_torrents_from_the_gateway_web_seed_alone() {
    let (_guard, root) = test_root();
    let data = root.join("data");
    new_identity(&data, "alice");
    let node = NodeProcess::start(&data, &NodeOptions::default());
    let url = node.info.public_url.clone();

    // Several files, pieces that span file boundaries, an empty file, spaces and non-ASCII
    // names in a subdirectory.
    let album = root.join("in/album");
    write_pattern_file(&album.join("one.bin"), 1_500_000, 11);
    write_pattern_file(&album.join("disc 2/two é.bin"), 700_001, 12);
    write_pattern_file(&album.join("disc 2/three.bin"), 65_537, 13);
    std::fs::write(album.join("empty.txt"), b"").unwrap();
    std::fs::write(album.join("notes.txt"), b"hello\n").unwrap();
    let multi = publish(&data, &album, "Album", &["--piece-size", "64KiB"]);
    let ih = multi["infohash"].as_str().unwrap();
    let out = root.join("out-multi");
    let report = libtorrent_download(&url, ih, &root, &out);
    eprintln!("multi-file: {report}");
    same_tree(&album, &out.join("album")).unwrap();

    // A single-file torrent: the web seed URL is the torrent's name under /ws/{infohash}/.
    let single = root.join("in/solo clip.bin");
    write_pattern_file(&single, 900_000, 14);
    let one = publish(&data, &single, "Solo", &["--piece-size", "32KiB"]);
    let ih = one["infohash"].as_str().unwrap();
    let out = root.join("out-single");
    let report = libtorrent_download(&url, ih, &root, &out);
    eprintln!("single file: {report}");
    same_tree(&single, &out.join("solo clip.bin")).unwrap();
}
