//! The publish flow: hash a path into a torrent, record where its files lie, sign an entry
//! that names it, append it to the feed, sign the new head.
//!
//! Content is never copied into the data directory: `content/INFOHASH.json` records the
//! path it is seeded from and each file's length and BLAKE3, so a node can tell when files
//! moved or changed instead of serving wrong bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use feeds::{
    ContentRef, Entry, FeedName, FileRef, IdentityKey, InfoHash, Keypair, Kind, SignedEntry,
    SignedHead,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::feed_writer::FeedWriter;
use crate::torrent::{
    BuiltTorrent, KnownDigest, SourceTree, TorrentOptions, build_torrent, check_piece_length,
};
use data_dir::{DataDir, write_atomic};

/// Metadata keys set by their own options, not by `--meta`.
const RESERVED_META: [&str; 2] = ["title", "description"];

/// What to publish.
#[derive(Clone, Debug, Default)]
pub struct PublishRequest {
    pub path: PathBuf,
    pub feed: Option<FeedName>,
    /// Keystore name of the identity; `None` is the default identity.
    pub identity: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub meta: Vec<(String, String)>,
    /// Piece size, web seeds and trackers of the torrent.
    pub torrent: TorrentOptions,
    /// Base URL of a gateway that will serve the content (the node running on the data
    /// directory): its BEP 19 web seed `{url}/ws/{infohash}/` joins the torrent's url-list,
    /// which lies outside the info dictionary, so the infohash does not depend on it.
    pub gateway: Option<String>,
}

/// A committed publication.
#[derive(Clone, Debug)]
pub struct Published {
    pub identity: IdentityKey,
    pub entry: SignedEntry,
    pub head: SignedHead,
    /// Set for posts with content.
    pub content: Option<PublishedContent>,
}

/// The torrent of a publication.
#[derive(Clone, Debug)]
pub struct PublishedContent {
    pub infohash: InfoHash,
    pub magnet: String,
    pub torrent_path: PathBuf,
}

/// Where a published torrent's files lie: `content/INFOHASH.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContentRecord {
    pub infohash: String,
    pub name: String,
    /// The shared path: the file itself, or the directory holding the files.
    pub root: PathBuf,
    pub single_file: bool,
    pub piece_length: u64,
    pub files: Vec<ContentFile>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContentFile {
    pub path: Vec<String>,
    pub fs_path: PathBuf,
    pub length: u64,
    pub blake3: String,
    /// Modification time when published or last verified (nanoseconds since the Unix
    /// epoch). The node's engine opens published files read-only, so it stays put unless
    /// somebody writes the file.
    #[serde(default)]
    pub modified_ns: Option<u128>,
    /// Status change time (ctime, nanoseconds) when published or last verified: unlike the
    /// mtime it cannot be set back by hand (`touch -d`).
    #[serde(default)]
    pub changed_ns: Option<i128>,
    /// Inode number when published or last verified (a file replaced by another one).
    #[serde(default)]
    pub inode: Option<u64>,
}

/// What a `stat` says of a published file, compared with its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileCheck {
    /// Same length, mtime, ctime and inode: untouched since it was last verified.
    Untouched,
    /// Same length but something moved (or the record predates the stamp): only its
    /// BLAKE3 can tell whether the bytes changed.
    Suspect(String),
    /// Gone, not a regular file, or another length: changed for certain.
    Changed(String),
}

impl ContentFile {
    /// Whether the file is still where it was published, with its length; `Err` says what
    /// differs. (An edit that keeps the length needs a BLAKE3 scrub to be seen.)
    pub fn check_unchanged(&self) -> std::result::Result<(), String> {
        let meta = std::fs::metadata(&self.fs_path)
            .map_err(|e| format!("{} is gone or unreadable: {e}", self.fs_path.display()))?;
        if meta.len() != self.length {
            return Err(format!(
                "{} changed size since it was published",
                self.fs_path.display()
            ));
        }
        Ok(())
    }

    /// Compares the file on disk with the stamp recorded when it was published or last
    /// verified; one `stat`, no read.
    pub fn check_stamp(&self) -> FileCheck {
        match std::fs::metadata(&self.fs_path) {
            Ok(meta) => self.check_stamp_of(&meta),
            Err(e) => FileCheck::Changed(format!(
                "{} is gone or unreadable: {e}",
                self.fs_path.display()
            )),
        }
    }

    /// Compares `meta` (of the file as opened, so what is read is what was checked) with
    /// the stamp recorded when it was published or last verified.
    pub fn check_stamp_of(&self, meta: &std::fs::Metadata) -> FileCheck {
        if !meta.is_file() || meta.len() != self.length {
            return FileCheck::Changed(format!(
                "{} changed size since it was published",
                self.fs_path.display()
            ));
        }
        let now = Stamp::of(meta);
        let recorded = Stamp {
            modified_ns: self.modified_ns,
            changed_ns: self.changed_ns,
            inode: self.inode,
        };
        if recorded.modified_ns.is_none() || recorded.changed_ns.is_none() {
            return FileCheck::Suspect(format!(
                "{} has no full stamp on record",
                self.fs_path.display()
            ));
        }
        if now != recorded {
            return FileCheck::Suspect(format!(
                "{} was modified, replaced or had its status changed since it was last verified",
                self.fs_path.display()
            ));
        }
        FileCheck::Untouched
    }

    /// Records the file's current mtime, ctime and inode (after its BLAKE3 was checked).
    pub fn restamp(&mut self, meta: &std::fs::Metadata) {
        let stamp = Stamp::of(meta);
        self.modified_ns = stamp.modified_ns;
        self.changed_ns = stamp.changed_ns;
        self.inode = stamp.inode;
    }
}

/// The parts of a file's metadata that move when it is written or replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified_ns: Option<u128>,
    changed_ns: Option<i128>,
    inode: Option<u64>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            modified_ns: modified_ns(meta),
            changed_ns: Some(
                i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            ),
            inode: Some(meta.ino()),
        }
    }
}

fn modified_ns(meta: &std::fs::Metadata) -> Option<u128> {
    let time = meta.modified().ok()?;
    Some(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos())
}

/// The feed used when none is named.
pub fn default_feed() -> FeedName {
    // "main" is a valid name; the fallback is never taken.
    FeedName::new("main").unwrap_or_else(|_| unreachable!("\"main\" is a valid feed name"))
}

/// Publishes `request.path` as a new post: one read pass hashes the torrent and every file's
/// BLAKE3, then the entry is signed and committed. `now` is the entry's time (Unix seconds).
pub fn publish(
    data: &DataDir,
    request: &PublishRequest,
    now: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Published> {
    prepare(data, request)?.publish(data, now, progress)
}

/// A publication whose inputs are checked and whose files are listed, ready to hash.
pub struct PreparedPublish {
    tree: SourceTree,
    options: TorrentOptions,
    gateway: Option<String>,
    keypair: Keypair,
    feed: FeedName,
    meta: BTreeMap<String, String>,
}

/// Checks a request (identity, metadata, path) and lists its files, without hashing.
pub fn prepare(data: &DataDir, request: &PublishRequest) -> Result<PreparedPublish> {
    let (_, keypair) = data.keystore().resolve(request.identity.as_deref())?;
    prepare_signed(request, keypair)
}

/// Like [`prepare`], signing with `keypair` instead of the keystore's identity named in the
/// request (a key the node holds elsewhere, e.g. sealed for a gateway's users).
pub fn prepare_signed(request: &PublishRequest, keypair: Keypair) -> Result<PreparedPublish> {
    let feed = request.feed.clone().unwrap_or_else(default_feed);
    let meta = entry_meta(request)?;
    if let Some(piece_length) = request.torrent.piece_length {
        check_piece_length(piece_length)?;
    }
    let tree = SourceTree::scan(&request.path)?;
    let options = TorrentOptions {
        blake3: true,
        ..request.torrent.clone()
    };
    Ok(PreparedPublish {
        tree,
        options,
        gateway: request.gateway.clone(),
        keypair,
        feed,
        meta,
    })
}

impl PreparedPublish {
    /// Bytes the hashing pass will read.
    pub fn total_length(&self) -> u64 {
        self.tree.total_length()
    }

    /// The identity that will sign.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// Symlinks inside the path that are not followed.
    pub fn skipped_symlinks(&self) -> &[PathBuf] {
        self.tree.skipped_symlinks()
    }

    /// Takes these files' BLAKE3 as computed by their writer (see
    /// [`crate::torrent::known`]): the pass then reads them for SHA-1 pieces only. Files are
    /// named by their path inside the torrent.
    pub fn trust_digests(&mut self, known: &[(Vec<String>, KnownDigest)]) -> Result<()> {
        self.tree.trust_digests(known)
    }

    /// Hashes, stores the torrent and where its files lie, then signs and commits the entry.
    pub fn publish(
        self,
        data: &DataDir,
        now: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Published> {
        let mut built = build_torrent(&self.tree, &self.options, progress)?;
        if let Some(gateway) = &self.gateway {
            let infohash = built.metainfo.infohash();
            let webseed = format!("{}/ws/{infohash}/", gateway.trim_end_matches('/'));
            built.metainfo.webseeds.push(webseed);
        }
        let (content, record) = content_of(&built)?;
        let infohash = content.infohash;
        let torrent_path = data.torrent_path(&infohash);
        write_atomic(&torrent_path, &built.metainfo.encode())?;
        let record_path = data.content_path(&infohash);
        let record_json = serde_json::to_vec_pretty(&record).map_err(|e| Error::Corrupt {
            path: record_path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&record_path, &record_json)?;

        let author = self.keypair.public();
        let mut writer = FeedWriter::open(data, &self.keypair, &self.feed)?;
        let entry = next_entry(
            &writer,
            &author,
            &self.feed,
            now,
            Kind::Post,
            Some(content),
            self.meta,
        )?;
        let appended = writer.append(&entry)?;
        Ok(Published {
            identity: author,
            entry: appended.entry,
            head: appended.head,
            content: Some(PublishedContent {
                infohash,
                magnet: built.metainfo.magnet().to_string(),
                torrent_path,
            }),
        })
    }
}

/// Publishes a `delete` entry retracting post `seq` of `feed`.
pub fn retract(
    data: &DataDir,
    identity: Option<&str>,
    feed: &FeedName,
    seq: u64,
    now: u64,
) -> Result<Published> {
    let (_, keypair) = data.keystore().resolve(identity)?;
    retract_signed(data, &keypair, feed, seq, now)
}

/// Like [`retract`], signing with `keypair` instead of a keystore identity (a key the node
/// holds elsewhere, e.g. sealed for a gateway's users).
pub fn retract_signed(
    data: &DataDir,
    keypair: &Keypair,
    feed: &FeedName,
    seq: u64,
    now: u64,
) -> Result<Published> {
    let mut writer = FeedWriter::open(data, keypair, feed)?;
    let last = writer.state().seq;
    if seq == 0 || seq > last {
        return Err(Error::NoSuchEntry {
            feed: feed.to_string(),
            seq,
            last,
        });
    }
    let entry = next_entry(
        &writer,
        &keypair.public(),
        feed,
        now,
        Kind::Delete { retracts: seq },
        None,
        BTreeMap::new(),
    )?;
    let appended = writer.append(&entry)?;
    Ok(Published {
        identity: keypair.public(),
        entry: appended.entry,
        head: appended.head,
        content: None,
    })
}

fn next_entry(
    writer: &FeedWriter,
    author: &IdentityKey,
    feed: &FeedName,
    now: u64,
    kind: Kind,
    content: Option<ContentRef>,
    meta: BTreeMap<String, String>,
) -> Result<Entry> {
    let last = writer.last()?;
    Ok(Entry {
        author: *author,
        feed: feed.clone(),
        seq: last.map_or(1, |(seq, _)| seq + 1),
        prev: last.map(|(_, hash)| hash),
        // Never before the previous entry, even if the clock stepped back.
        time: now.max(writer.state().time),
        kind,
        content,
        meta,
        delegation: Vec::new(),
        member: None,
    })
}

fn entry_meta(request: &PublishRequest) -> Result<BTreeMap<String, String>> {
    let mut meta = BTreeMap::new();
    for (key, value) in &request.meta {
        if RESERVED_META.contains(&key.as_str()) {
            return Err(Error::BadMeta {
                key: key.clone(),
                reason: "has its own option (--title, --description)",
            });
        }
        if key.is_empty() || key.len() > 64 || key.chars().any(char::is_control) {
            return Err(Error::BadMeta {
                key: key.clone(),
                reason: "must be 1 to 64 bytes without control characters",
            });
        }
        if meta.insert(key.clone(), value.clone()).is_some() {
            return Err(Error::BadMeta {
                key: key.clone(),
                reason: "is given twice",
            });
        }
    }
    if let Some(title) = &request.title {
        meta.insert("title".into(), title.clone());
    }
    if let Some(description) = &request.description {
        meta.insert("description".into(), description.clone());
    }
    Ok(meta)
}

fn content_of(built: &BuiltTorrent) -> Result<(ContentRef, ContentRecord)> {
    let info = &built.metainfo.info;
    let infohash = info.infohash();
    let mut refs = Vec::with_capacity(built.files.len());
    let mut files = Vec::with_capacity(built.files.len());
    let single_file = matches!(info.files, feeds::FileLayout::Single { .. });
    for file in &built.files {
        let blake3 = file.blake3.ok_or(Error::Corrupt {
            path: file.fs_path.clone(),
            reason: "no BLAKE3 computed".into(),
        })?;
        // In a single-file torrent the file's path is the torrent's name.
        let path = if single_file {
            vec![info.name.clone()]
        } else {
            file.path.clone()
        };
        refs.push(FileRef {
            path: path.clone(),
            length: file.length,
            blake3,
        });
        let mut content_file = ContentFile {
            path,
            fs_path: absolute(&file.fs_path),
            length: file.length,
            blake3: hex::encode(blake3),
            modified_ns: None,
            changed_ns: None,
            inode: None,
        };
        if let Ok(meta) = std::fs::metadata(&file.fs_path) {
            content_file.restamp(&meta);
        }
        files.push(content_file);
    }
    let content = ContentRef {
        infohash,
        name: info.name.clone(),
        size: info.total_length(),
        files: refs,
    };
    let record = ContentRecord {
        infohash: infohash.to_string(),
        name: info.name.clone(),
        root: absolute(&built.root),
        single_file,
        piece_length: info.piece_length,
        files,
    };
    Ok((content, record))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn recorded(path: &Path) -> ContentFile {
        let mut file = ContentFile {
            path: vec!["f".into()],
            fs_path: path.to_owned(),
            length: std::fs::metadata(path).unwrap().len(),
            blake3: String::new(),
            modified_ns: None,
            changed_ns: None,
            inode: None,
        };
        file.restamp(&std::fs::metadata(path).unwrap());
        file
    }

    #[test]
    fn a_stamp_tells_untouched_touched_and_changed_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"published bytes").unwrap();
        let mut file = recorded(&path);
        assert_eq!(file.check_stamp(), FileCheck::Untouched);

        // Same length, mtime set back: the ctime still moved.
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let handle = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&handle, b"P", 0).unwrap();
        handle.set_modified(mtime).unwrap();
        drop(handle);
        assert!(matches!(file.check_stamp(), FileCheck::Suspect(_)));
        file.restamp(&std::fs::metadata(&path).unwrap());
        assert_eq!(file.check_stamp(), FileCheck::Untouched);

        // Replaced by another file of the same length: another inode.
        let other = dir.path().join("g");
        std::fs::write(&other, b"published bytes").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(matches!(file.check_stamp(), FileCheck::Suspect(_)));

        std::fs::write(&path, b"longer than it was").unwrap();
        assert!(matches!(file.check_stamp(), FileCheck::Changed(_)));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(file.check_stamp(), FileCheck::Changed(_)));

        // A record written before stamps existed is suspect until re-hashed.
        std::fs::write(&path, b"published bytes").unwrap();
        let mut old = recorded(&path);
        old.changed_ns = None;
        assert!(matches!(old.check_stamp(), FileCheck::Suspect(_)));
    }
}
