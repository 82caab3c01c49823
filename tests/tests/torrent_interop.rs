//! `swarmfeed torrent create` against stock clients: libtorrent (python3-libtorrent),
//! `transmission-show` and `mktorrent` must read its .torrent files as we do, and libtorrent's
//! full recheck of the data must find every piece.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::binary::{field, swarmfeed, swarmfeed_ok, workspace_root};

/// Deterministic bytes (xorshift): the data set is the same on every run.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A directory with nested, unicode, empty and large files, and an empty directory.
fn data_set(parent: &Path) -> PathBuf {
    let root = parent.join("Album ünïcødé");
    write(&root, "big/recording.flac", &noise(1, 20 << 20));
    write(&root, "cover 日本語.jpg", &noise(2, 123_457));
    write(
        &root,
        "notes/deep/er/still/deeper/readme.txt",
        b"hello, swarm\n",
    );
    write(&root, "notes/empty.txt", b"");
    write(&root, "Ωmega — 😀.txt", &noise(3, 16 * 1024 + 1));
    fs::create_dir_all(root.join("nothing/here")).unwrap();
    root
}

/// Runs `swarmfeed torrent create`, returning the .torrent path and the printed infohash.
fn create(data: &Path, out_dir: &Path, extra: &[&str]) -> (PathBuf, String) {
    let torrent = out_dir.join("set.torrent");
    let mut args = vec![
        "torrent",
        "create",
        data.to_str().unwrap(),
        "-o",
        torrent.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let stdout = swarmfeed_ok(&args);
    let infohash = field(&stdout, "infohash")
        .expect("an infohash line")
        .to_owned();
    assert_eq!(infohash.len(), 40);
    (torrent, infohash)
}

/// libtorrent's view of a torrent after a full recheck of the data under `save_path`.
fn libtorrent_recheck(torrent: &Path, save_path: &Path) -> serde_json::Value {
    let script = workspace_root().join("tests/python/lt_recheck.py");
    let output = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(torrent)
        .arg(save_path)
        .output()
        .expect("run /usr/bin/python3 (python3-libtorrent)");
    assert!(
        output.status.success(),
        "libtorrent failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("lt_recheck.py prints JSON")
}

#[test]
fn libtorrent_loads_our_torrent_reports_the_same_infohash_and_rechecks_the_data_to_100_percent() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_set(dir.path());
    let (torrent, infohash) = create(&data, dir.path(), &["--webseed", "http://127.0.0.1:1/ws/"]);

    let report = libtorrent_recheck(&torrent, dir.path());
    assert_eq!(report["infohash"], infohash.as_str());
    assert_eq!(report["name"], "Album ünïcødé");
    assert_eq!(report["progress"], 1.0, "{report}");
    assert_eq!(report["pieces"], report["total_pieces"], "{report}");
    let files: Vec<String> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}={}", f[0].as_str().unwrap(), f[1]))
        .collect();
    assert_eq!(
        files,
        [
            "Album ünïcødé/big/recording.flac=20971520",
            "Album ünïcødé/cover 日本語.jpg=123457",
            "Album ünïcødé/notes/deep/er/still/deeper/readme.txt=13",
            "Album ünïcødé/notes/empty.txt=0",
            "Album ünïcødé/Ωmega — 😀.txt=16385",
        ]
    );
}

#[test]
fn libtorrent_recheck_of_a_corrupted_copy_finds_a_missing_piece() {
    // The control for the test above: the recheck really compares bytes.
    let dir = tempfile::tempdir().unwrap();
    let data = data_set(dir.path());
    let (torrent, _) = create(&data, dir.path(), &["--piece-size", "256KiB"]);
    let big = data.join("big/recording.flac");
    let mut bytes = fs::read(&big).unwrap();
    bytes[5 << 20] ^= 1;
    fs::write(&big, bytes).unwrap();

    let report = libtorrent_recheck(&torrent, dir.path());
    let total = report["total_pieces"].as_u64().unwrap();
    assert_eq!(report["pieces"].as_u64().unwrap(), total - 1, "{report}");
}

#[test]
fn transmission_show_reports_the_same_infohash_and_piece_size() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_set(dir.path());
    let (torrent, infohash) = create(&data, dir.path(), &["--piece-size", "1MiB"]);
    let output = Command::new("transmission-show")
        .arg(&torrent)
        .output()
        .expect("run transmission-show");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&infohash),
        "transmission-show printed:\n{text}"
    );
    assert!(
        text.contains("1.00 MiB") || text.contains("1 MiB"),
        "piece size in:\n{text}"
    );
    assert!(text.contains("Ωmega — 😀.txt"), "{text}");
}

#[test]
fn mktorrent_with_the_same_piece_size_produces_the_same_infohash() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_set(dir.path());
    let (ours, infohash) = create(&data, dir.path(), &["--piece-size", "512KiB"]);
    let theirs = dir.path().join("mktorrent.torrent");
    let status = Command::new("mktorrent")
        .args(["-l", "19", "-o"])
        .arg(&theirs)
        .arg(&data)
        .output()
        .expect("run mktorrent");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let shown = swarmfeed_ok(&["torrent", "show", theirs.to_str().unwrap()]);
    assert_eq!(field(&shown, "infohash"), Some(infohash.as_str()));
    assert!(ours.exists());
}

#[test]
fn a_path_escaping_through_a_symlink_fails_with_one_line_and_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secret.txt", b"not yours");
    write(dir.path(), "share/file.txt", b"yours");
    std::os::unix::fs::symlink("../secret.txt", dir.path().join("share/link")).unwrap();
    let share = dir.path().join("share");
    let out = dir.path().join("x.torrent");
    let output = swarmfeed(&[
        "torrent",
        "create",
        share.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: symlink "), "{stderr}");
    assert!(!out.exists(), "no .torrent is written on error");
}

#[test]
fn a_missing_path_fails_with_one_line_and_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let output = swarmfeed(&["torrent", "create", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        format!("error: {} does not exist", missing.display())
    );
}
