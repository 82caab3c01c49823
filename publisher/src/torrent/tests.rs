//! The torrent builder against a naive reference, and its policies on odd trees.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use feeds::metainfo::{FileLayout, Metainfo};
use sha1::{Digest, Sha1};

use super::hash::Pipeline;
use super::*;
use crate::Error;

const PIECE: u64 = 16 << 10;

/// Deterministic bytes (xorshift), so failures reproduce.
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

fn write(root: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, bytes).unwrap();
    path
}

/// The obvious single-threaded hasher: concatenate everything, cut, hash.
fn reference_pieces(contents: &[Vec<u8>], piece: u64) -> Vec<[u8; 20]> {
    let stream: Vec<u8> = contents.concat();
    stream
        .chunks(piece as usize)
        .map(|p| Sha1::digest(p).into())
        .collect()
}

fn options(piece: u64) -> TorrentOptions {
    TorrentOptions {
        piece_length: Some(piece),
        blake3: true,
        ..TorrentOptions::default()
    }
}

fn build(path: &Path, options: &TorrentOptions) -> crate::Result<BuiltTorrent> {
    create_torrent(path, options, &|_| {})
}

#[test]
fn pieces_and_blake3_match_a_naive_reference_across_file_and_chunk_boundaries() {
    let p = PIECE as usize;
    // Sizes around piece boundaries, plus some that straddle the pipeline's 4 MiB chunks.
    let sizes = [
        0,
        1,
        p - 1,
        p,
        p + 1,
        0,
        3 * p + 7,
        4 << 20,
        (4 << 20) - 1,
        5,
        2 * p,
        777_777,
    ];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    let mut contents = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let bytes = noise(i as u64, *size);
        write(&root, &format!("f{i:02}"), &bytes);
        contents.push(bytes);
    }
    let built = build(&root, &options(PIECE)).unwrap();
    assert_eq!(
        built.metainfo.info.pieces,
        reference_pieces(&contents, PIECE)
    );
    for (file, bytes) in built.files.iter().zip(&contents) {
        assert_eq!(
            file.blake3,
            Some(*blake3::hash(bytes).as_bytes()),
            "{:?}",
            file.path
        );
        assert_eq!(file.length, bytes.len() as u64);
    }
}

#[test]
fn a_single_file_gives_a_single_file_torrent_named_after_it_at_every_boundary_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = PIECE as usize;
    for size in [1, p - 1, p, p + 1, 2 * p, 1_000_003] {
        let bytes = noise(size as u64, size);
        let path = write(dir.path(), &format!("file-{size}.bin"), &bytes);
        let built = build(&path, &options(PIECE)).unwrap();
        let info = &built.metainfo.info;
        assert_eq!(info.name, format!("file-{size}.bin"));
        assert_eq!(
            info.files,
            FileLayout::Single {
                length: size as u64
            }
        );
        assert_eq!(
            info.pieces,
            reference_pieces(std::slice::from_ref(&bytes), PIECE)
        );
        assert_eq!(
            built.files[0].blake3,
            Some(*blake3::hash(&bytes).as_bytes())
        );
    }
}

#[test]
fn large_pieces_spanning_several_reads_hash_like_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let contents: Vec<Vec<u8>> = (0..3)
        .map(|i| noise(i, (6 << 20) + i as usize * 999))
        .collect();
    for (i, bytes) in contents.iter().enumerate() {
        write(dir.path(), &format!("d/{i}"), bytes);
    }
    let piece = 8 << 20;
    let built = build(&dir.path().join("d"), &options(piece)).unwrap();
    assert_eq!(
        built.metainfo.info.pieces,
        reference_pieces(&contents, piece)
    );
}

/// Creates the same files in the given order under `root/album`.
fn make_album(root: &Path, order: &[usize]) -> PathBuf {
    let files = [
        "b/z.txt",
        "a.txt",
        "b/a.txt",
        "c/d/e/f.bin",
        "A.txt",
        "b c.txt",
        "empty",
    ];
    for &i in order {
        let len = if files[i] == "empty" { 0 } else { 1000 * i + 5 };
        write(&root.join("album"), files[i], &noise(i as u64, len));
    }
    fs::create_dir_all(root.join("album/empty-dir/nested")).unwrap();
    root.join("album")
}

#[test]
fn the_same_tree_built_twice_and_a_copy_created_in_another_order_give_identical_bytes() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = make_album(one.path(), &[0, 1, 2, 3, 4, 5, 6]);
    let second = make_album(two.path(), &[6, 5, 4, 3, 2, 1, 0]);
    let plain = TorrentOptions {
        webseeds: vec!["http://127.0.0.1:8080/ws/".into()],
        trackers: vec!["udp://tracker.example:6969/announce".into()],
        ..TorrentOptions::default()
    };
    let a = build(&first, &plain).unwrap().metainfo.encode();
    let b = build(&first, &plain).unwrap().metainfo.encode();
    let c = build(&second, &plain).unwrap().metainfo.encode();
    assert_eq!(a, b);
    assert_eq!(a, c);
    let decoded = Metainfo::decode(&a).unwrap();
    let paths: Vec<String> = decoded
        .info
        .file_list()
        .into_iter()
        .map(|(p, _)| p.join("/"))
        .collect();
    // Sorted by components, bytewise; the empty directory is gone, the empty file kept.
    assert_eq!(
        paths,
        [
            "A.txt",
            "a.txt",
            "b/a.txt",
            "b/z.txt",
            "b c.txt",
            "c/d/e/f.bin",
            "empty"
        ]
    );
}

#[test]
fn unicode_names_and_deep_trees_are_carried_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ünïcødé 日本");
    write(&root, "café/naïve — 😀.txt", b"hello");
    let deep: Vec<String> = (0..40).map(|i| format!("level{i}")).collect();
    write(&root, &format!("{}/bottom.txt", deep.join("/")), b"deep");
    let built = build(&root, &TorrentOptions::default()).unwrap();
    assert_eq!(built.metainfo.info.name, "ünïcødé 日本");
    let list = built.metainfo.info.file_list();
    assert_eq!(list[0].0, ["café", "naïve — 😀.txt"]);
    assert_eq!(list[1].0.len(), 41);
}

#[test]
fn progress_reports_add_up_to_the_total_size() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "x/a", &noise(1, 5 << 20));
    write(dir.path(), "x/b", &noise(2, 12345));
    let seen = AtomicU64::new(0);
    let tree = SourceTree::scan(&dir.path().join("x")).unwrap();
    build_torrent(&tree, &TorrentOptions::default(), &|n| {
        seen.fetch_add(n, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(seen.load(Ordering::Relaxed), tree.total_length());
}

#[test]
fn a_directory_with_only_empty_files_or_dirs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "x/empty", b"");
    fs::create_dir_all(dir.path().join("x/sub")).unwrap();
    let err = build(&dir.path().join("x"), &TorrentOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NoContent(_)), "{err}");
}

#[test]
fn a_missing_path_is_reported_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let err = build(&dir.path().join("nope"), &TorrentOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(err.to_string().ends_with("nope does not exist"), "{err}");
}

#[test]
fn a_piece_size_that_is_not_a_power_of_two_in_range_is_refused() {
    for bad in [0, 1000, 8 << 10, 3 << 20, 128 << 20] {
        assert!(
            matches!(check_piece_length(bad), Err(Error::BadPieceLength(_))),
            "{bad}"
        );
    }
    assert_eq!(check_piece_length(256 << 10).unwrap(), 256 << 10);
}

#[test]
fn a_symlink_escaping_the_root_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secret", b"outside");
    write(dir.path(), "share/ok", b"inside");
    std::os::unix::fs::symlink("../secret", dir.path().join("share/leak")).unwrap();
    let err = build(&dir.path().join("share"), &TorrentOptions::default()).unwrap_err();
    assert!(matches!(err, Error::SymlinkEscapesRoot { .. }), "{err}");
    assert!(err.to_string().contains("share/leak"), "{err}");
}

#[test]
fn a_dangling_symlink_is_an_error_and_one_inside_the_root_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "share/real", b"data");
    std::os::unix::fs::symlink("real", dir.path().join("share/alias")).unwrap();
    let built = build(&dir.path().join("share"), &TorrentOptions::default()).unwrap();
    assert_eq!(
        built.metainfo.info.file_list(),
        vec![(vec!["real".to_owned()], 4)]
    );
    assert_eq!(built.skipped_symlinks, vec![built.root.join("alias")]);

    std::os::unix::fs::symlink("gone", dir.path().join("share/dangling")).unwrap();
    let err = build(&dir.path().join("share"), &TorrentOptions::default()).unwrap_err();
    assert!(matches!(err, Error::DanglingSymlink(_)), "{err}");
}

#[test]
fn a_fifo_in_the_tree_is_refused_rather_than_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "share/file", b"data");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.path().join("share/pipe"))
        .status();
    if !status.is_ok_and(|s| s.success()) {
        return; // no mkfifo on this machine: nothing to check
    }
    let err = build(&dir.path().join("share"), &TorrentOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotRegularFile(_)), "{err}");
}

#[test]
fn a_file_that_changes_size_after_listing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "x/a", &noise(1, 100_000));
    let tree = SourceTree::scan(&dir.path().join("x")).unwrap();
    fs::write(&file, noise(1, 99_999)).unwrap();
    let err = build_torrent(&tree, &TorrentOptions::default(), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::FileChanged { .. }), "{err}");
}

/// Runs the pipeline with `change` applied to each file right after it is opened.
fn hash_with_change(change: &(dyn Fn(&Path) + Sync)) -> crate::Result<Hashes> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "x/a", &noise(1, 3 << 20));
    let tree = SourceTree::scan(&dir.path().join("x")).unwrap();
    Pipeline {
        files: tree.files(),
        piece_length: PIECE,
        with_blake3: true,
        progress: &|_| {},
        after_open: Some(change),
    }
    .run()
}

#[test]
fn a_file_that_grows_while_being_read_is_an_error() {
    let err = hash_with_change(&|path| {
        let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
        std::io::Write::write_all(&mut f, b"more").unwrap();
    })
    .unwrap_err();
    assert!(matches!(
        err,
        Error::FileChanged {
            what: "it was modified while being read",
            ..
        }
    ));
}

#[test]
fn a_file_that_shrinks_while_being_read_is_an_error() {
    let err = hash_with_change(&|path| {
        fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(1000)
            .unwrap();
    })
    .unwrap_err();
    assert!(matches!(
        err,
        Error::FileChanged {
            what: "it shrank while being read",
            ..
        }
    ));
}

#[test]
fn a_file_rewritten_in_place_while_being_read_is_an_error() {
    let err = hash_with_change(&|path| {
        // Same size, new bytes: only the modification time tells.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(path, noise(9, 3 << 20)).unwrap();
    })
    .unwrap_err();
    assert!(matches!(err, Error::FileChanged { .. }), "{err}");
}
