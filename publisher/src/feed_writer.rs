//! Appending to one's own feed, crash-safely and one publisher at a time.
//!
//! An append, under the identity's lock: append the signed entry to `log` and sync it;
//! write the log torrents (a sealed segment every 1024 entries, and the new tail); then
//! replace `state.json` (the commit point); then the signed head and, for a new feed, the
//! identity record. A crash before the commit leaves bytes past the committed length,
//! which the next writer cuts off: that entry was never acknowledged, and no head named it.
//! A crash after it leaves a head or identity record that is behind, which the next
//! writer signs afresh. So the feed never forks itself.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use feeds::head::{IdentityRecord, SignedIdentityRecord};
use feeds::layout::{self, SEGMENT_ENTRIES};
use feeds::metainfo::{Info, Metainfo};
use feeds::{
    Entry, EntryHash, FeedHead, FeedName, IdentityKey, InfoHash, Keypair, SignedEntry, SignedHead,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use data_dir::{self, DataDir, io, write_atomic};

/// What `state.json` commits.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FeedState {
    /// Seq of the last committed entry (0: empty feed).
    pub seq: u64,
    /// Hex BLAKE3 of the last committed entry.
    pub hash: Option<String>,
    /// Time of the last committed entry.
    pub time: u64,
    /// Bytes of `log` that are committed.
    pub log_len: u64,
    /// Offset in `log` of the first entry after the last sealed segment.
    pub tail_offset: u64,
    /// Infohashes (hex) of the sealed segments, in order.
    pub segments: Vec<String>,
    /// Infohash (hex) of the current tail.
    pub tail: Option<String>,
}

/// An open feed of one's own, locked for appending until dropped.
pub struct FeedWriter {
    data: DataDir,
    dir: PathBuf,
    feed: FeedName,
    keypair: Keypair,
    state: FeedState,
    log: File,
    _lock: File,
}

/// The result of an append.
pub struct Appended {
    pub entry: SignedEntry,
    pub head: SignedHead,
}

impl FeedWriter {
    /// Locks the identity's feeds (waiting for another publisher to finish) and opens `feed`,
    /// cutting off any uncommitted bytes and re-signing a head that is behind.
    pub fn open(data: &DataDir, keypair: &Keypair, feed: &FeedName) -> Result<FeedWriter> {
        let identity_dir = data.identity_dir(&keypair.public());
        data_dir::create_dir(&identity_dir)?;
        let lock_path = identity_dir.join(".lock");
        let lock = data_dir::open_append(&lock_path)?;
        lock.lock().map_err(|e| io("lock", &lock_path, e))?;

        let dir = data.feed_dir(&keypair.public(), feed);
        data_dir::create_dir(&dir)?;
        let state = read_state(&dir)?.unwrap_or_default();
        let log_path = dir.join("log");
        let log = data_dir::open_append(&log_path)?;
        let len = log
            .metadata()
            .map_err(|e| io("inspect", &log_path, e))?
            .len();
        if len < state.log_len {
            return Err(Error::Corrupt {
                path: log_path,
                reason: format!("is {len} bytes but {} are committed", state.log_len),
            });
        }
        if len > state.log_len {
            log.set_len(state.log_len)
                .map_err(|e| io("cut uncommitted bytes off", &log_path, e))?;
            log.sync_all().map_err(|e| io("sync", &log_path, e))?;
        }
        let mut writer = FeedWriter {
            data: data.clone(),
            dir,
            feed: feed.clone(),
            keypair: keypair.clone(),
            state,
            log,
            _lock: lock,
        };
        writer.repair_head()?;
        Ok(writer)
    }

    pub fn state(&self) -> &FeedState {
        &self.state
    }

    /// The seq and hash the next entry follows.
    pub fn last(&self) -> Result<Option<(u64, EntryHash)>> {
        match &self.state.hash {
            None => Ok(None),
            Some(hex) => Ok(Some((self.state.seq, parse_hash(hex, &self.dir)?))),
        }
    }

    /// Signs `entry` (whose seq and prev must follow the feed) and commits it.
    pub fn append(&mut self, entry: &Entry) -> Result<Appended> {
        let expected = self.last()?;
        if entry.seq != expected.map_or(1, |(seq, _)| seq + 1)
            || entry.prev != expected.map(|(_, h)| h)
        {
            return Err(Error::Corrupt {
                path: self.dir.clone(),
                reason: "entry does not follow the feed's last entry".into(),
            });
        }
        let signed = entry.sign(&self.keypair)?;
        let result = self.commit(signed);
        if result.is_err() {
            // Whatever was appended is not committed: cut it off now rather than at the next open.
            let _ = self.log.set_len(self.state.log_len);
        }
        result
    }

    fn commit(&mut self, signed: SignedEntry) -> Result<Appended> {
        let log_path = self.dir.join("log");
        self.log
            .write_all(signed.bytes())
            .map_err(|e| io("append to", &log_path, e))?;
        self.log.sync_data().map_err(|e| io("sync", &log_path, e))?;

        let mut state = self.state.clone();
        state.seq = signed.seq();
        state.hash = Some(signed.hash().to_string());
        state.time = signed.entry().time;
        state.log_len += signed.bytes().len() as u64;
        if signed.seq().is_multiple_of(SEGMENT_ENTRIES) {
            let entries = self.read_entries(state.tail_offset, state.log_len)?;
            let index = signed.seq() / SEGMENT_ENTRIES - 1;
            let segment = layout::seal_segment(&self.feed, index, &entries)?;
            let dir = self.dir.join("segments").join(index.to_string());
            write_log_torrent(&dir, &segment.info, &segment.bytes)?;
            state.segments.push(segment.info.infohash().to_string());
            state.tail_offset = state.log_len;
        }
        let tail_entries = self.read_entries(state.tail_offset, state.log_len)?;
        let segments = state
            .segments
            .iter()
            .map(|h| parse_infohash(h, &self.dir))
            .collect::<Result<Vec<_>>>()?;
        let tail = layout::make_tail(&self.feed, &segments, &tail_entries);
        let tail_hash = tail.info.infohash();
        write_log_torrent(
            &self.dir.join("tails").join(tail_hash.to_string()),
            &tail.info,
            &tail.bytes,
        )?;
        state.tail = Some(tail_hash.to_string());

        write_atomic(&self.dir.join("state.json"), &to_json(&state)?)?;
        let previous = std::mem::replace(&mut self.state, state);
        self.prune_tails(previous.tail.as_deref());
        let head = self.write_head()?;
        self.ensure_listed()?;
        Ok(Appended {
            entry: signed,
            head,
        })
    }

    /// Every committed entry, in order.
    pub fn entries(&mut self) -> Result<Vec<SignedEntry>> {
        self.read_entries(0, self.state.log_len)
    }

    fn read_entries(&mut self, from: u64, to: u64) -> Result<Vec<SignedEntry>> {
        read_log_range(&mut self.log, &self.dir.join("log"), from, to)
    }

    /// Removes tails older than the previous one: a follower still fetching the previous tail
    /// can finish, and the directory does not grow with every append.
    fn prune_tails(&self, previous: Option<&str>) {
        let Ok(dirs) = fs::read_dir(self.dir.join("tails")) else {
            return;
        };
        for dir in dirs.flatten() {
            let name = dir.file_name();
            let name = name.to_string_lossy();
            if Some(name.as_ref()) != self.state.tail.as_deref() && Some(name.as_ref()) != previous
            {
                let _ = fs::remove_dir_all(dir.path());
            }
        }
    }

    fn write_head(&self) -> Result<SignedHead> {
        let (seq, entry_hash) = self.last()?.ok_or_else(|| Error::Corrupt {
            path: self.dir.clone(),
            reason: "no entry to head".into(),
        })?;
        let log = parse_infohash(self.state.tail.as_deref().unwrap_or_default(), &self.dir)?;
        let head = FeedHead {
            feed: self.feed.clone(),
            seq,
            entry_hash,
            log,
            time: self.state.time,
        }
        .sign(&self.keypair)?;
        write_atomic(&self.dir.join("head"), &head.encode())?;
        Ok(head)
    }

    /// After a crash between the commit and the head: sign the head (and list the feed) again.
    fn repair_head(&mut self) -> Result<()> {
        if self.state.seq == 0 {
            return Ok(());
        }
        let current = fs::read(self.dir.join("head"))
            .ok()
            .and_then(|b| SignedHead::decode(&b).ok());
        if current.is_none_or(|h| h.head().seq != self.state.seq) {
            self.write_head()?;
        }
        self.ensure_listed()
    }

    /// Keeps the identity record listing every feed this identity holds here.
    fn ensure_listed(&self) -> Result<()> {
        update_identity_record(&self.data, &self.keypair, None).map(drop)
    }
}

/// Re-signs the identity record (`feeds/ID/identity`) when it does not list every feed the
/// data directory holds for the identity, or (given `node`) does not name that node URL
/// first. Returns the record as it now stands.
pub fn update_identity_record(
    data: &DataDir,
    keypair: &Keypair,
    node: Option<&str>,
) -> Result<SignedIdentityRecord> {
    let path = data.identity_dir(&keypair.public()).join("identity");
    let (current, wanted) = identity_record_check(data, &keypair.public(), node)?;
    let (feeds, nodes) = match (current.as_ref(), wanted) {
        (_, Some(wanted)) => wanted,
        (Some(current), None) => return Ok(current.clone()),
        // Not reached: a record is current only if there is one.
        (None, None) => {
            return Err(Error::Corrupt {
                path,
                reason: "no identity record".into(),
            });
        }
    };
    let seq = current.as_ref().map_or(1, |r| r.item().seq() + 1);
    let extensions = wanted_extensions(data, &keypair.public(), current.as_ref());
    let name = current.and_then(|r| r.record().name.clone());
    let record = IdentityRecord { feeds, name, nodes };
    // A record that names no extension stays byte for byte what 1.0 writers signed.
    let record = match extensions.is_empty() {
        true => record.sign(keypair, seq)?,
        false => {
            let names: Vec<&str> = extensions.iter().map(String::as_str).collect();
            feeds::extension::sign_record(&record, &names, keypair, seq)?
        }
    };
    write_atomic(&path, &record.encode())?;
    Ok(record)
}

/// The identity record as it stands, if it lists every feed the data directory holds for
/// `identity` and (given `node`) names that node URL first: nothing to sign, no key needed.
pub fn current_identity_record(
    data: &DataDir,
    identity: &IdentityKey,
    node: Option<&str>,
) -> Result<Option<SignedIdentityRecord>> {
    Ok(match identity_record_check(data, identity, node)? {
        (current, None) => current,
        (_, Some(_)) => None,
    })
}

/// The identity record on disk as it stands, current or not, and whether it is current (as
/// [`current_identity_record`] decides): for a node that holds no key to re-sign it with.
pub fn stored_identity_record(
    data: &DataDir,
    identity: &IdentityKey,
    node: Option<&str>,
) -> Result<Option<(SignedIdentityRecord, bool)>> {
    let (stored, wanted) = identity_record_check(data, identity, node)?;
    Ok(stored.map(|record| (record, wanted.is_none())))
}

/// The record on disk, and the feeds and nodes a new one must list (`None`: it is current).
#[allow(clippy::type_complexity)]
fn identity_record_check(
    data: &DataDir,
    identity: &IdentityKey,
    node: Option<&str>,
) -> Result<(
    Option<SignedIdentityRecord>,
    Option<(Vec<FeedName>, Vec<String>)>,
)> {
    let path = data.identity_dir(identity).join("identity");
    let current = fs::read(&path)
        .ok()
        .and_then(|b| SignedIdentityRecord::decode(&b).ok());
    let feeds = data.feeds_of(identity)?;
    let mut nodes = current
        .as_ref()
        .map(|r| r.record().nodes.clone())
        .unwrap_or_default();
    if let Some(node) = node {
        nodes.retain(|n| n != node);
        nodes.insert(0, node.to_owned());
        nodes.truncate(4);
    }
    let is_current = current.as_ref().is_some_and(|r| {
        r.record().feeds == feeds
            && r.record().nodes == nodes
            && feeds::extension::names(r) == wanted_extensions(data, identity, Some(r))
    });
    Ok((current, (!is_current).then_some((feeds, nodes))))
}

/// The extensions the record must name: those it names already (a re-signed record never
/// drops one), and those whose signed items the data directory holds (`crate::profile`).
fn wanted_extensions(
    data: &DataDir,
    identity: &IdentityKey,
    current: Option<&SignedIdentityRecord>,
) -> Vec<String> {
    let mut names = current.map(feeds::extension::names).unwrap_or_default();
    names.extend(crate::profile::extensions_held(data, identity));
    names.sort();
    names.dedup();
    names
}

/// Reads a feed's committed entries without taking the lock (for readers such as a node).
pub fn read_committed(
    data: &DataDir,
    identity: &feeds::IdentityKey,
    feed: &FeedName,
) -> Result<(FeedState, Vec<SignedEntry>)> {
    let dir = data.feed_dir(identity, feed);
    let state = read_state(&dir)?.ok_or_else(|| Error::Corrupt {
        path: dir.clone(),
        reason: "no such feed".into(),
    })?;
    let log_path = dir.join("log");
    let mut log = File::open(&log_path).map_err(|e| io("open", &log_path, e))?;
    let entries = read_log_range(&mut log, &log_path, 0, state.log_len)?;
    Ok((state, entries))
}

fn read_log_range(log: &mut File, path: &Path, from: u64, to: u64) -> Result<Vec<SignedEntry>> {
    let mut bytes = vec![
        0u8;
        usize::try_from(to - from).map_err(|_| Error::Corrupt {
            path: path.to_owned(),
            reason: "log too large".into()
        })?
    ];
    log.seek(SeekFrom::Start(from))
        .map_err(|e| io("seek in", path, e))?;
    log.read_exact(&mut bytes)
        .map_err(|e| io("read", path, e))?;
    let mut list = Vec::with_capacity(bytes.len() + 2);
    list.push(b'l');
    list.extend_from_slice(&bytes);
    list.push(b'e');
    let corrupt = |e: feeds::Error| Error::Corrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    feeds::log::split_entries(&list)
        .map_err(corrupt)?
        .into_iter()
        .map(|raw| SignedEntry::decode(raw).map_err(corrupt))
        .collect()
}

/// Writes a log torrent's data file and its .torrent beside it.
pub(crate) fn write_log_torrent(dir: &Path, info: &Info, bytes: &[u8]) -> Result<()> {
    let data_path = dir.join(&info.name);
    write_atomic(&data_path, bytes)?;
    let metainfo = Metainfo {
        info: info.clone(),
        trackers: Vec::new(),
        webseeds: Vec::new(),
    };
    Ok(write_atomic(
        &dir.join(format!("{}.torrent", info.name)),
        &metainfo.encode(),
    )?)
}

pub(crate) fn read_state(dir: &Path) -> Result<Option<FeedState>> {
    let path = dir.join("state.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                path,
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", &path, e).into()),
    }
}

pub(crate) fn to_json(state: &FeedState) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(state).map_err(|e| Error::Corrupt {
        path: PathBuf::from("state.json"),
        reason: e.to_string(),
    })
}

fn parse_hash(hex: &str, dir: &Path) -> Result<EntryHash> {
    let bytes = hex::decode(hex)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    bytes.map(EntryHash).ok_or_else(|| Error::Corrupt {
        path: dir.join("state.json"),
        reason: "bad entry hash".into(),
    })
}

fn parse_infohash(hex: &str, dir: &Path) -> Result<InfoHash> {
    hex.parse().map_err(|_| Error::Corrupt {
        path: dir.join("state.json"),
        reason: "bad infohash".into(),
    })
}
