//! Names that another publisher signed with bidirectional controls or Windows device names
//! (our `publish` refuses them; `feeds` accepts them, formats being forever): a follower
//! downloads such a torrent inside its download folder, and its gateway shows every name
//! with the hidden characters written out and offers files under safe download names.

use std::fs;
use std::path::Path;
use std::time::Duration;

use data_dir::DataDir;
use feeds::metainfo::FileLayout;
use feeds::{ContentRef, Entry, FeedName, FileRef, Kind};
use publisher::feed_writer::FeedWriter;
use publisher::publish::{ContentFile, ContentRecord};
use publisher::torrent::{SourceTree, TorrentOptions, build_torrent};
use tests::commands::new_identity;
use tests::network::{Network, follow_until_held};

use crate::client::get;
use crate::{pattern, write};

const RLO: char = '\u{202E}';
/// The torrent's top folder: shows as `clipexe.mp4` where bidi controls act.
const ROOT: &str = "clip\u{202E}4pm.exe";
/// (harmless name hashed, name signed): the order stays the same, so the pieces hold.
const RENAMES: [(&str, &str); 3] = [
    ("a.bin", "a\u{202E}txt.exe"),
    ("c.txt", "con.txt"),
    ("n.txt", "notes."),
];

/// Signs, as the default identity of `data`, a post of `dir`'s files under the hostile
/// names, and writes its .torrent and content record as `publish` would; returns the
/// infohash.
fn publish_hostile(data: &Path, staging: &Path) -> String {
    let tree = SourceTree::scan(staging).unwrap();
    let options = TorrentOptions {
        blake3: true,
        ..TorrentOptions::default()
    };
    let mut built = build_torrent(&tree, &options, &|_| {}).unwrap();
    // The same bytes under the names a hostile publisher signs: rename the files on disk
    // and in the info dictionary (piece hashes cover the bytes only).
    let root = staging.with_file_name(ROOT);
    fs::rename(staging, &root).unwrap();
    for (from, to) in RENAMES {
        fs::rename(root.join(from), root.join(to)).unwrap();
    }
    let renamed = |name: &str| {
        RENAMES
            .iter()
            .find(|(from, _)| *from == name)
            .map_or(name.to_owned(), |(_, to)| to.to_string())
    };
    built.metainfo.info.name = ROOT.to_owned();
    let FileLayout::Multi { files } = &mut built.metainfo.info.files else {
        panic!("a multi-file torrent");
    };
    for file in files.iter_mut() {
        file.path = vec![renamed(&file.path[0])];
    }
    let infohash = built.metainfo.infohash();
    let data_dir = DataDir::new(data);
    data_dir::write_atomic(&data_dir.torrent_path(&infohash), &built.metainfo.encode()).unwrap();
    let files: Vec<(String, u64, [u8; 32])> = built
        .files
        .iter()
        .map(|f| (renamed(&f.path[0]), f.length, f.blake3.unwrap()))
        .collect();
    let record = ContentRecord {
        infohash: infohash.to_string(),
        name: ROOT.to_owned(),
        root: root.clone(),
        single_file: false,
        piece_length: built.metainfo.info.piece_length,
        files: files
            .iter()
            .map(|(name, length, blake3)| ContentFile {
                path: vec![name.clone()],
                fs_path: root.join(name),
                length: *length,
                blake3: hex::encode(blake3),
                modified_ns: None,
                changed_ns: None,
                inode: None,
            })
            .collect(),
    };
    data_dir::write_atomic(
        &data_dir.content_path(&infohash),
        &serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();

    let (_, keypair) = data_dir.keystore().resolve(None).unwrap();
    let feed = FeedName::new("main").unwrap();
    let mut writer = FeedWriter::open(&data_dir, &keypair, &feed).unwrap();
    let entry = Entry {
        author: keypair.public(),
        feed,
        seq: 1,
        prev: None,
        time: 1_700_000_000,
        kind: Kind::Post,
        content: Some(ContentRef {
            infohash,
            name: ROOT.to_owned(),
            size: files.iter().map(|f| f.1).sum(),
            files: files
                .iter()
                .map(|(name, length, blake3)| FileRef {
                    path: vec![name.clone()],
                    length: *length,
                    blake3: *blake3,
                })
                .collect(),
        }),
        meta: Default::default(),
        delegation: Vec::new(),
        member: None,
    };
    writer.append(&entry).unwrap();
    infohash.to_string()
}

/// Every byte but RFC 3986's unreserved characters as `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn hostile_names_from_another_publisher_are_shown_escaped_and_saved_inside_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let (m, b) = (root.join("mallory"), root.join("b"));
    let network = Network::new(3);
    new_identity(&m, "mallory");
    let staging = root.join("in/staging");
    let bytes = [pattern(40_000, 1), pattern(3_000, 2), pattern(500, 3)];
    for ((from, _), content) in RENAMES.iter().zip(&bytes) {
        write(&staging.join(from), content);
    }
    let infohash = publish_hostile(&m, &staging);
    let node_m = network.start_node(&m, &[]);
    let identity = tests::binary::field(
        &tests::binary::swarmfeed_ok(&["--data", m.to_str().unwrap(), "identity", "show"]),
        "id",
    )
    .unwrap()
    .to_owned();

    let node_b = network.start_node(&b, &[]);
    follow_until_held(&b, &identity, 1, Duration::from_secs(90));
    // Saved inside the follower's download folder, under the names as signed.
    let folder = b.join("downloads").join(&infohash).join(ROOT);
    for ((_, name), content) in RENAMES.iter().zip(&bytes) {
        assert_eq!(&fs::read(folder.join(name)).unwrap(), content, "{name:?}");
    }

    let url = node_b.info.public_url.clone();
    let visible_root = "clip\\u{202E}4pm.exe";
    let pages = [
        format!("/{identity}/main/1"),
        format!("/{identity}/main"),
        "/".to_owned(),
        format!("/{identity}/main/feed.rss"),
        format!("/{identity}/main/feed.atom"),
        format!("/{identity}/main/feed.json"),
    ];
    for path in &pages {
        let reply = get(&url, path);
        assert_eq!(reply.status, 200, "{path}");
        let text = reply.text();
        assert!(!text.contains(RLO), "{path} shows a raw U+202E:\n{text}");
        // JSON Feed escapes the backslash once more.
        let shown = if path.ends_with(".json") {
            visible_root.replace('\\', "\\\\")
        } else {
            visible_root.to_owned()
        };
        assert!(text.contains(&shown), "{path} lacks {shown}:\n{text}");
    }
    let entry = get(&url, &format!("/{identity}/main/1")).text();
    assert!(entry.contains("a\\u{202E}txt.exe"), "{entry}");
    assert!(
        entry.contains("con.txt") && entry.contains("notes."),
        "{entry}"
    );
    // The JSON API carries the names exactly as signed.
    let api = get(&url, &format!("/api/v1/entries/{identity}/main/1")).json();
    assert_eq!(api["content"]["name"], ROOT);

    // Downloads: the bytes as signed, saved under a safe name.
    for ((_, name), content) in RENAMES.iter().zip(&bytes) {
        let path = format!("/files/{infohash}/{}", percent_encode(name));
        let reply = get(&url, &path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(&reply.body, content);
        let disposition = reply.header("content-disposition").unwrap_or_default();
        let safe = publisher::torrent::portable_name::download_name(name);
        assert_ne!(safe, *name);
        assert!(
            disposition.starts_with("inline; filename=\"") && disposition.contains(&safe),
            "{name:?}: {disposition}"
        );
        assert!(!disposition.contains(RLO));
    }
    drop(node_b);
    drop(node_m);
}
