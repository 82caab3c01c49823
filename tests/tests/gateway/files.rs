//! `/files/…` and `/ws/…`: byte-exact ranges, validators, safe paths, and BEP 19 web seeding
//! to a stock client.

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::commands::publish;

use crate::client::{get, request};
use crate::{Fixture, blake3_hex, pattern, write};

#[test]
fn files_answer_byte_exact_ranges_with_validators_and_refuse_traversal() {
    let fx = Fixture::start(&[]);
    let clip = pattern(300 * 1024 + 17, 1);
    write(&fx.root.join("in/clip.bin"), &clip);
    let single = publish(&fx.data, &fx.root.join("in/clip.bin"), "A clip", &[]);
    let ih = single["infohash"].as_str().unwrap().to_owned();
    let url = fx.url();
    let path = format!("/files/{ih}/clip.bin");
    let len = clip.len();

    let full = get(url, &path);
    assert_eq!(full.status, 200, "{}", full.text());
    assert_eq!(full.body, clip);
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        full.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(full.header("x-content-type-options"), Some("nosniff"));
    let etag = format!("\"{}\"", blake3_hex(&clip));
    assert_eq!(full.header("etag"), Some(etag.as_str()));
    assert!(full.header("last-modified").is_some());

    let ranges: [(String, usize, usize); 6] = [
        ("bytes=0-1".into(), 0, 1),
        ("bytes=0-65535".into(), 0, 65535),
        ("bytes=100000-150000".into(), 100_000, 150_000),
        (format!("bytes={}-{}", len - 10, len - 1), len - 10, len - 1),
        ("bytes=-500".into(), len - 500, len - 1),
        (format!("bytes={}-", len - 300), len - 300, len - 1),
    ];
    for (range, start, end) in ranges {
        let reply = request("GET", url, &path, &[("Range", &range)]);
        assert_eq!(reply.status, 206, "{range}");
        assert_eq!(reply.body, clip[start..=end], "{range}");
        assert_eq!(
            reply.header("content-range"),
            Some(format!("bytes {start}-{end}/{len}").as_str()),
            "{range}"
        );
        assert_eq!(
            reply.header("content-length"),
            Some((end - start + 1).to_string().as_str())
        );
    }
    let past = request("GET", url, &path, &[("Range", &format!("bytes={len}-"))]);
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    let several = request("GET", url, &path, &[("Range", "bytes=0-1,5-9")]);
    assert_eq!((several.status, several.body.len()), (200, len));

    let head = request("HEAD", url, &path, &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(len.to_string().as_str())
    );
    assert_eq!(head.header("etag"), Some(etag.as_str()));

    let cached = request("GET", url, &path, &[("If-None-Match", &etag)]);
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    let changed = request(
        "GET",
        url,
        &path,
        &[("Range", "bytes=0-1"), ("If-Range", "\"not-the-tag\"")],
    );
    assert_eq!((changed.status, changed.body.len()), (200, len));
    let same = request(
        "GET",
        url,
        &path,
        &[("Range", "bytes=0-1"), ("If-Range", &etag)],
    );
    assert_eq!((same.status, same.body.as_slice()), (206, &clip[..2]));

    // A directory: paths with spaces and non-ASCII, and an HTML file that must be sandboxed.
    let song = pattern(70_000, 2);
    write(&fx.root.join("in/album/sub dir/b é.bin"), &song);
    write(
        &fx.root.join("in/album/page.html"),
        b"<script>document.title=document.cookie</script>",
    );
    write(&fx.root.join("in/album/notes.txt"), b"liner notes\n");
    let multi = publish(&fx.data, &fx.root.join("in/album"), "An album", &[]);
    let mih = multi["infohash"].as_str().unwrap().to_owned();
    let reply = get(url, &format!("/files/{mih}/sub%20dir/b%20%C3%A9.bin"));
    assert_eq!((reply.status, reply.body == song), (200, true));
    let page = get(url, &format!("/files/{mih}/page.html"));
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html"));
    assert_eq!(page.header("content-security-policy"), Some("sandbox"));
    let notes = get(url, &format!("/files/{mih}/notes.txt"));
    assert_eq!(notes.header("content-type"), Some("text/plain"));

    // Only the torrent's own files, matched by path: traversal is refused before any lookup.
    for bad in [
        format!("/files/{ih}/../../../etc/passwd"),
        format!("/files/{ih}/%2e%2e/%2e%2e/etc/passwd"),
        format!("/files/{mih}/sub%20dir/..%2f..%2f..%2fetc%2fpasswd"),
        format!("/files/{mih}//etc/passwd"),
        format!("/files/{mih}/sub%20dir%5c..%5cpage.html"),
    ] {
        let reply = get(url, &bad);
        assert!(
            matches!(reply.status, 400 | 404),
            "{bad}: {} {}",
            reply.status,
            reply.text()
        );
        assert!(!reply.text().contains("root:"), "{bad}");
    }
    let dotdot = get(url, &format!("/files/{ih}/%2e%2e/clip.bin"));
    assert_eq!(dotdot.status, 400);
    assert_eq!(dotdot.json()["error"], "bad_path");
    let missing = get(url, &format!("/files/{mih}/nothing.txt"));
    assert_eq!(
        (missing.status, missing.json()["error"].clone()),
        (404, "not_found".into())
    );
    let unknown = get(url, &format!("/files/{}/x", "ab".repeat(20)));
    assert_eq!(
        (unknown.status, unknown.json()["error"].clone()),
        (404, "not_found".into())
    );
    let malformed = get(url, "/files/xyz/clip.bin");
    assert_eq!(
        (malformed.status, malformed.json()["error"].clone()),
        (400, "bad_infohash".into())
    );

    // BEP 19 paths: the name, then for a multi-file torrent the file's path.
    let ws = request(
        "GET",
        url,
        &format!("/ws/{ih}/clip.bin"),
        &[("Range", "bytes=10-19")],
    );
    assert_eq!((ws.status, ws.body.as_slice()), (206, &clip[10..20]));
    let ws = get(url, &format!("/ws/{mih}/album/sub%20dir/b%20%C3%A9.bin"));
    assert_eq!((ws.status, ws.body == song), (200, true));
    assert_eq!(
        get(url, &format!("/ws/{mih}/sub%20dir/b%20%C3%A9.bin")).status,
        404
    );
    assert_eq!(get(url, &format!("/ws/{ih}/other.bin")).status, 404);
}

#[test]
fn aria2_downloads_a_multi_file_torrent_from_the_gateway_alone() {
    let fx = Fixture::start(&[]);
    let album = fx.root.join("in/album");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("one.bin", pattern(1_500_000, 3)),
        ("disc 2/two é.bin", pattern(700_001, 4)),
        ("empty.txt", Vec::new()),
        ("notes.txt", b"hello\n".to_vec()),
    ];
    for (name, bytes) in &files {
        write(&album.join(name), bytes);
    }
    let published = publish(&fx.data, &album, "Album", &["--piece-size", "64KiB"]);
    let ih = published["infohash"].as_str().unwrap().to_owned();

    // The .torrent naming this gateway as web seed keeps the infohash.
    let torrent = get(fx.url(), &format!("/webseed-torrents/{ih}.torrent"));
    assert_eq!(torrent.status, 200, "{}", torrent.text());
    let metainfo = feeds::Metainfo::decode(&torrent.body).unwrap();
    assert_eq!(metainfo.infohash().to_string(), ih);
    let webseed = format!("{}/ws/{ih}/", fx.url());
    assert_eq!(metainfo.webseeds, vec![webseed]);
    assert!(metainfo.trackers.is_empty());
    let torrent_path = fx.root.join("album.torrent");
    fs::write(&torrent_path, &torrent.body).unwrap();

    // aria2 with every peer source off: DHT, local discovery, trackers, peer exchange.
    let out = fx.root.join("out");
    let mut child = Command::new("aria2c")
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--seed-time=0",
            "--bt-tracker-interval=0",
            "--console-log-level=warn",
            "--summary-interval=0",
            "--check-certificate=false",
        ])
        .arg(format!("--dir={}", out.display()))
        .arg(&torrent_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aria2c (apt-get install aria2)");
    let status = tests::poll::wait_child(&mut child, Duration::from_secs(120))
        .expect("aria2c did not finish within 120 s");
    let mut log = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(status.success(), "aria2c failed ({status}): {log}");
    for (name, bytes) in &files {
        let got = fs::read(out.join("album").join(name)).unwrap();
        assert!(got == *bytes, "{name} differs after the web seed download");
    }
}
