//! Content torrents: the .torrent, where the files are, how much of them we hold, and each
//! file's BLAKE3 from the entry that published it.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use ::feeds::{ContentRef, InfoHash, Metainfo};

use super::{ErrorKind, JobResult, Result, Store, corrupt, now};

/// Why the node holds a torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Published from this node: the files lie under `content_root`.
    Published { content_root: PathBuf },
    /// Downloaded because a followed feed names it.
    Followed,
}

/// A file of a new torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFile {
    pub path: Vec<String>,
    pub length: u64,
    pub blake3: Option<[u8; 32]>,
}

/// A torrent to store. `metainfo` (the exact .torrent) may come later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTorrent {
    pub infohash: InfoHash,
    pub name: String,
    pub total_size: u64,
    pub origin: Origin,
    pub metainfo: Option<Vec<u8>>,
    pub files: Vec<NewFile>,
}

impl NewTorrent {
    /// The torrent an entry's content reference names, files with their BLAKE3.
    pub fn from_content(content: &ContentRef, origin: Origin) -> NewTorrent {
        NewTorrent {
            infohash: content.infohash,
            name: content.name.clone(),
            total_size: content.size,
            origin,
            metainfo: None,
            files: content
                .files
                .iter()
                .map(|f| NewFile {
                    path: f.path.clone(),
                    length: f.length,
                    blake3: Some(f.blake3),
                })
                .collect(),
        }
    }
}

/// How far a torrent is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TorrentState {
    pub complete: bool,
    pub have_bytes: u64,
    /// Unix seconds of the last full verification of the files on disk.
    pub last_verified: Option<u64>,
    pub error: Option<String>,
}

/// A stored torrent (without its .torrent bytes: see [`Store::torrent_file`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTorrent {
    pub infohash: InfoHash,
    pub name: String,
    pub total_size: u64,
    pub origin: Origin,
    pub state: TorrentState,
    /// Unix seconds.
    pub added_at: u64,
    pub has_metainfo: bool,
}

/// A stored file of a torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    pub index: u32,
    /// Path inside the torrent, components joined with `/`.
    pub path: String,
    pub length: u64,
    pub blake3: Option<[u8; 32]>,
    pub verified: bool,
}

/// A page of torrents in infohash order: those after `after`, at most `limit` (≤ 1000).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TorrentQuery {
    pub after: Option<InfoHash>,
    pub limit: u32,
    pub only_incomplete: bool,
}

/// A walk over the stored torrents, a page at a time (see [`Store::torrent_pages`]).
pub struct TorrentPages {
    store: Store,
    query: TorrentQuery,
    done: bool,
}

impl TorrentPages {
    /// The next page; `None` once every torrent has been given. Torrents added behind the
    /// walk's position are not seen by it.
    pub async fn next(&mut self) -> Result<Option<Vec<StoredTorrent>>> {
        if self.done {
            return Ok(None);
        }
        let page = self.store.torrents(self.query).await?;
        match page.last() {
            Some(last) => {
                self.query.after = Some(last.infohash);
                Ok(Some(page))
            }
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}

const MAX_PAGE: u32 = 1000;
const COLUMNS: &str = "infohash, name, total_size, origin, content_root, complete, have_bytes,
    last_verified, error, added_at, metainfo IS NOT NULL";

impl Store {
    /// Stores a torrent, or updates a stored one: a published origin is never downgraded,
    /// known .torrent bytes are not forgotten, files are replaced when some are given. State
    /// is kept. The .torrent, if given, must decode and match the infohash. Returns whether
    /// the torrent is new.
    pub async fn put_torrent(&self, torrent: NewTorrent) -> Result<bool> {
        check_metainfo(&torrent.infohash, torrent.metainfo.as_deref()).map_err(|kind| {
            super::Error {
                op: "put_torrent",
                kind,
            }
        })?;
        self.write("put_torrent", move |tx| put(tx, &torrent)).await
    }

    /// Stores the exact .torrent of a known torrent (fetched after the entry named it).
    pub async fn set_torrent_metainfo(
        &self,
        infohash: &InfoHash,
        metainfo: Vec<u8>,
    ) -> Result<bool> {
        let infohash = *infohash;
        check_metainfo(&infohash, Some(&metainfo)).map_err(|kind| super::Error {
            op: "set_torrent_metainfo",
            kind,
        })?;
        self.write("set_torrent_metainfo", move |tx| {
            let n = tx
                .prepare_cached("UPDATE torrents SET metainfo = ?2 WHERE infohash = ?1")?
                .execute(params![infohash.0, metainfo])?;
            Ok(n == 1)
        })
        .await
    }

    /// Records a torrent's progress; false if the torrent is unknown.
    pub async fn set_torrent_state(
        &self,
        infohash: &InfoHash,
        state: TorrentState,
    ) -> Result<bool> {
        let infohash = *infohash;
        self.write("set_torrent_state", move |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE torrents SET complete = ?2, have_bytes = ?3, last_verified = ?4,
                     error = ?5 WHERE infohash = ?1",
                )?
                .execute(params![
                    infohash.0,
                    state.complete,
                    state.have_bytes,
                    state.last_verified,
                    state.error
                ])?;
            Ok(n == 1)
        })
        .await
    }

    /// Marks file `index` of a torrent as verified (or not) against its BLAKE3.
    pub async fn set_file_verified(
        &self,
        infohash: &InfoHash,
        index: u32,
        verified: bool,
    ) -> Result<bool> {
        let infohash = *infohash;
        self.write("set_file_verified", move |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE torrent_files SET verified = ?3 WHERE infohash = ?1 AND idx = ?2",
                )?
                .execute(params![infohash.0, index, verified])?;
            Ok(n == 1)
        })
        .await
    }

    /// Forgets a torrent and its files; false if it was unknown.
    pub async fn remove_torrent(&self, infohash: &InfoHash) -> Result<bool> {
        let infohash = *infohash;
        self.write("remove_torrent", move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM torrents WHERE infohash = ?1")?
                .execute([infohash.0])?;
            Ok(n == 1)
        })
        .await
    }

    /// One torrent.
    pub async fn torrent(&self, infohash: &InfoHash) -> Result<Option<StoredTorrent>> {
        let infohash = *infohash;
        self.read("torrent", move |tx| {
            let sql = format!("SELECT {COLUMNS} FROM torrents WHERE infohash = ?1");
            tx.prepare_cached(&sql)?
                .query_row([infohash.0], torrent_row)
                .optional()?
                .map(TorrentRow::finish)
                .transpose()
        })
        .await
    }

    /// The exact .torrent bytes, if known; checked to still decode to the right infohash.
    pub async fn torrent_file(&self, infohash: &InfoHash) -> Result<Option<Vec<u8>>> {
        let infohash = *infohash;
        self.read("torrent_file", move |tx| {
            let bytes: Option<Vec<u8>> = tx
                .prepare_cached("SELECT metainfo FROM torrents WHERE infohash = ?1")?
                .query_row([infohash.0], |r| r.get(0))
                .optional()?
                .flatten();
            if let Some(bytes) = &bytes {
                check_metainfo(&infohash, Some(bytes))
                    .map_err(|e| corrupt(format!("torrent {infohash}"), e))?;
            }
            Ok(bytes)
        })
        .await
    }

    /// A page of torrents in infohash order (see [`TorrentQuery`]).
    pub async fn torrents(&self, query: TorrentQuery) -> Result<Vec<StoredTorrent>> {
        self.read("torrents", move |tx| {
            // The partial index `torrents_incomplete` serves the incomplete listing.
            let filter = if query.only_incomplete {
                "AND complete = 0"
            } else {
                ""
            };
            let sql = format!(
                "SELECT {COLUMNS} FROM torrents WHERE infohash > ?1 {filter}
                 ORDER BY infohash LIMIT ?2"
            );
            let after = query.after.map_or(Vec::new(), |h| h.0.to_vec());
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![after, query.limit.min(MAX_PAGE)], torrent_row)?;
            rows.map(|row| row?.finish()).collect()
        })
        .await
    }

    /// Every stored torrent (or every incomplete one, with `only_incomplete`), `limit` at a
    /// time in infohash order: a walk that awaits other work between pages.
    pub fn torrent_pages(&self, limit: u32, only_incomplete: bool) -> TorrentPages {
        TorrentPages {
            store: self.clone(),
            query: TorrentQuery {
                after: None,
                limit,
                only_incomplete,
            },
            done: false,
        }
    }

    /// The files of a torrent, in torrent order.
    pub async fn torrent_files(&self, infohash: &InfoHash) -> Result<Vec<StoredFile>> {
        let infohash = *infohash;
        self.read("torrent_files", move |tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT idx, path, length, blake3, verified FROM torrent_files
                 WHERE infohash = ?1 ORDER BY idx",
            )?;
            let rows = stmt.query_map([infohash.0], |r| {
                Ok(StoredFile {
                    index: r.get(0)?,
                    path: r.get(1)?,
                    length: r.get(2)?,
                    blake3: r.get(3)?,
                    verified: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}

fn check_metainfo(infohash: &InfoHash, bytes: Option<&[u8]>) -> JobResult<()> {
    let Some(bytes) = bytes else { return Ok(()) };
    let metainfo = Metainfo::decode(bytes)
        .map_err(|e| ErrorKind::Invalid(format!(".torrent for {infohash} does not decode: {e}")))?;
    if metainfo.infohash() != *infohash {
        return Err(ErrorKind::Invalid(format!(
            ".torrent for {infohash} has infohash {}",
            metainfo.infohash()
        )));
    }
    Ok(())
}

fn put(tx: &Transaction, t: &NewTorrent) -> JobResult<bool> {
    let (origin, root) = match &t.origin {
        Origin::Published { content_root } => {
            let root = content_root.to_str().ok_or_else(|| {
                ErrorKind::Invalid(format!(
                    "content root {} is not UTF-8",
                    content_root.display()
                ))
            })?;
            ("published", Some(root))
        }
        Origin::Followed => ("followed", None),
    };
    let existed = tx
        .prepare_cached("SELECT 1 FROM torrents WHERE infohash = ?1")?
        .exists([t.infohash.0])?;
    tx.prepare_cached(
        "INSERT INTO torrents (infohash, name, total_size, origin, content_root, added_at, metainfo)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (infohash) DO UPDATE SET
             name = excluded.name, total_size = excluded.total_size,
             origin = CASE WHEN torrents.origin = 'published' AND excluded.origin = 'followed'
                      THEN torrents.origin ELSE excluded.origin END,
             content_root = CASE WHEN torrents.origin = 'published' AND excluded.origin = 'followed'
                      THEN torrents.content_root ELSE excluded.content_root END,
             metainfo = coalesce(excluded.metainfo, torrents.metainfo)",
    )?
    .execute(params![t.infohash.0, t.name, t.total_size, origin, root, now(), t.metainfo])?;
    if !t.files.is_empty() {
        tx.prepare_cached("DELETE FROM torrent_files WHERE infohash = ?1")?
            .execute([t.infohash.0])?;
        tx.prepare_cached("UPDATE torrents SET file_count = ?2 WHERE infohash = ?1")?
            .execute(params![t.infohash.0, t.files.len()])?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO torrent_files (infohash, idx, path, length, blake3) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (index, file) in t.files.iter().enumerate() {
            let path = file.path.join("/");
            insert.execute(params![t.infohash.0, index, path, file.length, file.blake3])?;
        }
    }
    Ok(!existed)
}

struct TorrentRow {
    infohash: [u8; 20],
    name: String,
    total_size: u64,
    origin: String,
    content_root: Option<String>,
    state: TorrentState,
    added_at: u64,
    has_metainfo: bool,
}

fn torrent_row(r: &Row) -> rusqlite::Result<TorrentRow> {
    Ok(TorrentRow {
        infohash: r.get(0)?,
        name: r.get(1)?,
        total_size: r.get(2)?,
        origin: r.get(3)?,
        content_root: r.get(4)?,
        state: TorrentState {
            complete: r.get(5)?,
            have_bytes: r.get(6)?,
            last_verified: r.get(7)?,
            error: r.get(8)?,
        },
        added_at: r.get(9)?,
        has_metainfo: r.get(10)?,
    })
}

impl TorrentRow {
    fn finish(self) -> JobResult<StoredTorrent> {
        let infohash = InfoHash(self.infohash);
        let origin = match (self.origin.as_str(), self.content_root) {
            ("published", Some(root)) => Origin::Published {
                content_root: PathBuf::from(root),
            },
            ("followed", _) => Origin::Followed,
            (other, _) => return Err(corrupt(format!("origin of torrent {infohash}"), other)),
        };
        Ok(StoredTorrent {
            infohash,
            name: self.name,
            total_size: self.total_size,
            origin,
            state: self.state,
            added_at: self.added_at,
            has_metainfo: self.has_metainfo,
        })
    }
}
