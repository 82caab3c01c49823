//! librqbit's session state in a SQLite database of ours (`STATE/session.db`): which
//! torrents the engine holds, where their files lie, and their fastresume piece bitfields.
//!
//! librqbit 9.1.0's own JSON store rewrites the whole `session.json` on every add and update
//! (quadratic in the number of torrents) and keeps one open file and one task per torrent
//! for its bitfield. Here an add is one row, written by the database's own thread in a
//! transaction shared with whatever else is queued ([`db`]); a bitfield is a row too, its
//! flushes queued without waiting and written in batches. Ids come from an atomic counter,
//! so concurrent adds never share one. The route is a small patch to librqbit
//! (`SessionPersistenceConfig::Custom`, the persistence and bitfield traits made public):
//! see docs/engine-gaps.md.
//!
//! Crash safety: a bitfield row is replaced in one transaction (never torn), librqbit sets a
//! bit only after the piece's hash was verified, and a flush from a snapshot older than the
//! row (a torrent cleared after a failed spot-check, re-checked or deleted meanwhile) is
//! dropped. A claim that is still wrong (files changed while the node was down, piece data
//! librqbit wrote without `fsync` lost to a power cut) costs a re-hash when librqbit's
//! spot-check at the add samples it (our patch makes a hash mismatch count there).

mod db;
mod schema;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use bitvec::order::Msb0;
use bitvec::slice::BitSlice;
use futures_lite::{Stream, StreamExt};
use librqbit::api::TorrentIdOrHash;
use librqbit::dht::Id20;
use librqbit::{
    BF, BitV, BitVFactory, ManagedTorrent, SerializedTorrent, SessionPersistenceStore, TorrentId,
};
use rusqlite::{Connection, OptionalExtension, params};

use db::Db;

/// The database file in the engine's state directory.
pub(crate) const DB_FILE: &str = "session.db";

/// Torrents read per query when the session restores them.
const RESTORE_PAGE: usize = 256;

/// The engine's session store: librqbit's persistence and bitfield factory.
pub(crate) struct SessionStore {
    db: Db,
    next_id: AtomicUsize,
    next_generation: AtomicI64,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("swarmfeed session database")
    }
}

impl SessionStore {
    /// Opens the store in `state_dir`, importing librqbit's JSON session there the first
    /// time. Blocking (SQLite, the import): call it from `spawn_blocking`.
    pub fn open(state_dir: &Path) -> anyhow::Result<SessionStore> {
        let conn = db::open_connection(&state_dir.join(DB_FILE), Some(state_dir))?;
        let max_id: i64 =
            conn.query_row("SELECT coalesce(max(id), -1) FROM torrents", [], |r| {
                r.get(0)
            })?;
        let generation: i64 = conn.query_row(
            "SELECT coalesce(max(generation), 0) FROM bitfields",
            [],
            |r| r.get(0),
        )?;
        Ok(SessionStore {
            db: Db::start(conn)?,
            next_id: AtomicUsize::new(usize::try_from(max_id + 1)?),
            next_generation: AtomicI64::new(generation + 1),
        })
    }

    /// Records a torrent's verified pieces before it is added (published content: hashed by
    /// our publisher, so librqbit need not hash it again).
    pub async fn save_bitfield(&self, info_hash: Id20, bits: Vec<u8>) -> anyhow::Result<()> {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        self.db
            .call(move |conn| put_bitfield(conn, &info_hash.0, generation, &bits))
            .await
    }

    /// Waits until everything queued before (bitfield flushes too) is committed.
    pub async fn sync(&self) -> anyhow::Result<()> {
        self.db.call(|_| Ok(())).await
    }

    async fn hash_of(&self, id: TorrentIdOrHash) -> anyhow::Result<[u8; 20]> {
        match id {
            TorrentIdOrHash::Hash(hash) => Ok(hash.0),
            TorrentIdOrHash::Id(id) => {
                let id = i64::try_from(id)?;
                let hash: Vec<u8> = self
                    .db
                    .call(move |conn| {
                        Ok(conn
                            .prepare_cached("SELECT info_hash FROM torrents WHERE id = ?1")?
                            .query_row([id], |r| r.get(0))?)
                    })
                    .await?;
                hash20(&hash).context("a stored infohash is not 20 bytes")
            }
        }
    }

    async fn write(&self, id: TorrentId, torrent: SerializedTorrent) -> anyhow::Result<()> {
        let row = TorrentRow::from(torrent);
        let sql_id = i64::try_from(id)?;
        self.db.call(move |conn| Ok(row.write(conn, sql_id)?)).await
    }

    fn bitv(&self, info_hash: [u8; 20], generation: i64, bits: BF) -> Box<dyn BitV> {
        Box::new(StoredBitV {
            bits,
            info_hash,
            generation,
            dirty: false,
            db: self.db.clone(),
        })
    }
}

#[async_trait]
impl SessionPersistenceStore for SessionStore {
    async fn next_id(&self) -> anyhow::Result<TorrentId> {
        Ok(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    async fn store(&self, id: TorrentId, torrent: &Arc<ManagedTorrent>) -> anyhow::Result<()> {
        self.write(id, SerializedTorrent::from_handle(torrent))
            .await
    }

    async fn delete(&self, id: TorrentId) -> anyhow::Result<()> {
        let sql_id = i64::try_from(id)?;
        self.db
            .call(move |conn| {
                let hash: Option<Vec<u8>> = conn
                    .prepare_cached("SELECT info_hash FROM torrents WHERE id = ?1")?
                    .query_row([sql_id], |r| r.get(0))
                    .optional()?;
                match hash.as_deref().and_then(hash20) {
                    Some(hash) => Ok(delete_rows(conn, &hash)?),
                    None => Err(anyhow!("no stored torrent with id {id}")),
                }
            })
            .await
    }

    async fn get(&self, id: TorrentId) -> anyhow::Result<SerializedTorrent> {
        let sql_id = i64::try_from(id)?;
        self.db
            .call(move |conn| {
                read_torrents(conn, &[sql_id])?
                    .pop()
                    .map(|(_, t)| t)
                    .context("no torrent found")
            })
            .await
    }

    async fn update_metadata(
        &self,
        id: TorrentId,
        torrent: &Arc<ManagedTorrent>,
    ) -> anyhow::Result<()> {
        self.write(id, SerializedTorrent::from_handle(torrent))
            .await
    }

    async fn stream_all(
        &self,
    ) -> anyhow::Result<
        Pin<Box<dyn Stream<Item = anyhow::Result<(TorrentId, SerializedTorrent)>> + Send + '_>>,
    > {
        let ids: Vec<i64> = self
            .db
            .call(|conn| {
                let mut statement = conn.prepare("SELECT id FROM torrents ORDER BY id")?;
                let ids = statement
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                Ok(ids)
            })
            .await?;
        let pages: Vec<Vec<i64>> = ids.chunks(RESTORE_PAGE).map(<[i64]>::to_vec).collect();
        let stream = futures_lite::stream::iter(pages)
            .then(move |page| self.db.call(move |conn| read_torrents(conn, &page)))
            .flat_map(|page| {
                let items: Vec<anyhow::Result<(TorrentId, SerializedTorrent)>> = match page {
                    Ok(torrents) => torrents.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                futures_lite::stream::iter(items)
            });
        Ok(Box::pin(stream))
    }
}

#[async_trait]
impl BitVFactory for SessionStore {
    async fn load(&self, id: TorrentIdOrHash) -> anyhow::Result<Option<Box<dyn BitV>>> {
        let hash = self.hash_of(id).await?;
        let row: Option<(i64, Vec<u8>)> = self
            .db
            .call(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT generation, bits FROM bitfields WHERE info_hash = ?1")?
                    .query_row([&hash[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?)
            })
            .await?;
        Ok(row.map(|(generation, bits)| {
            self.bitv(hash, generation, BF::from_boxed_slice(bits.into()))
        }))
    }

    async fn clear(&self, id: TorrentIdOrHash) -> anyhow::Result<()> {
        let hash = self.hash_of(id).await?;
        self.db
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM bitfields WHERE info_hash = ?1")?
                    .execute([&hash[..]])?;
                Ok(())
            })
            .await
    }

    async fn store_initial_check(
        &self,
        id: TorrentIdOrHash,
        bits: BF,
    ) -> anyhow::Result<Box<dyn BitV>> {
        let hash = self.hash_of(id).await?;
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let bytes = bits.as_raw_slice().to_vec();
        self.db
            .call(move |conn| put_bitfield(conn, &hash, generation, &bytes))
            .await?;
        Ok(self.bitv(hash, generation, bits))
    }
}

/// A torrent's piece bitfield, in memory; flushes are queued to the database thread.
struct StoredBitV {
    bits: BF,
    info_hash: [u8; 20],
    generation: i64,
    /// Changed since the last flush (as far as we can tell: handed out mutably).
    dirty: bool,
    db: Db,
}

impl BitV for StoredBitV {
    fn as_slice(&self) -> &BitSlice<u8, Msb0> {
        self.bits.as_bitslice()
    }

    fn as_slice_mut(&mut self) -> &mut BitSlice<u8, Msb0> {
        self.dirty = true;
        self.bits.as_mut_bitslice()
    }

    fn into_dyn(self) -> Box<dyn BitV> {
        Box::new(self)
    }

    fn as_bytes(&self) -> &[u8] {
        self.bits.as_raw_slice()
    }

    fn flush(&mut self, _flush_async: bool) -> anyhow::Result<()> {
        self.dirty = false;
        if self.db.save_bits(
            self.info_hash,
            self.generation,
            self.bits.as_raw_slice().to_vec(),
        ) {
            Ok(())
        } else {
            Err(anyhow!("the session database thread has stopped"))
        }
    }
}

impl Drop for StoredBitV {
    fn drop(&mut self) {
        if self.dirty {
            let _ = self.flush(false);
        }
    }
}

/// What the `torrents` table holds of one torrent, ready to write.
struct TorrentRow {
    info_hash: [u8; 20],
    torrent: Vec<u8>,
    trackers: String,
    output_folder: String,
    only_files: Option<String>,
    paused: bool,
}

impl From<SerializedTorrent> for TorrentRow {
    fn from(t: SerializedTorrent) -> TorrentRow {
        let mut trackers: Vec<&String> = t.trackers().iter().collect();
        trackers.sort();
        TorrentRow {
            info_hash: t.info_hash().0,
            torrent: t.torrent_bytes().to_vec(),
            trackers: serde_json::to_string(&trackers).unwrap_or_else(|_| "[]".into()),
            output_folder: t.output_folder().to_string_lossy().into_owned(),
            only_files: t
                .only_files()
                .and_then(|files| serde_json::to_string(files).ok()),
            paused: t.is_paused(),
        }
    }
}

impl TorrentRow {
    /// Inserts or updates the row; an unchanged row and known metainfo are not rewritten.
    fn write(&self, conn: &Connection, id: i64) -> rusqlite::Result<()> {
        let hash = &self.info_hash[..];
        conn.prepare_cached("DELETE FROM torrents WHERE info_hash = ?1 AND id <> ?2")?
            .execute(params![hash, id])?;
        conn.prepare_cached(
            "INSERT INTO torrents (id, info_hash, trackers, output_folder, only_files, paused)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET info_hash = excluded.info_hash,
                 trackers = excluded.trackers, output_folder = excluded.output_folder,
                 only_files = excluded.only_files, paused = excluded.paused
             WHERE info_hash IS NOT excluded.info_hash OR trackers IS NOT excluded.trackers
                 OR output_folder IS NOT excluded.output_folder
                 OR only_files IS NOT excluded.only_files OR paused IS NOT excluded.paused",
        )?
        .execute(params![
            id,
            hash,
            self.trackers,
            self.output_folder,
            self.only_files,
            self.paused
        ])?;
        if !self.torrent.is_empty() {
            conn.prepare_cached(
                "INSERT INTO metainfo (info_hash, torrent) VALUES (?1, ?2)
                 ON CONFLICT (info_hash) DO NOTHING",
            )?
            .execute(params![hash, self.torrent])?;
        }
        Ok(())
    }
}

/// The stored torrents of `ids`, in that order (missing ones left out).
fn read_torrents(
    conn: &Connection,
    ids: &[i64],
) -> anyhow::Result<Vec<(TorrentId, SerializedTorrent)>> {
    let mut statement = conn.prepare_cached(
        "SELECT t.info_hash, m.torrent, t.trackers, t.output_folder, t.only_files, t.paused
         FROM torrents t LEFT JOIN metainfo m ON m.info_hash = t.info_hash WHERE t.id = ?1",
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let row = statement
            .query_row([id], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })
            .optional()?;
        let Some((hash, torrent, trackers, folder, only_files, paused)) = row else {
            continue;
        };
        let hash = hash20(&hash).context("a stored infohash is not 20 bytes")?;
        let trackers: HashSet<String> = serde_json::from_str(&trackers)
            .with_context(|| format!("torrent {id}: bad stored trackers"))?;
        let only_files: Option<Vec<usize>> = only_files
            .map(|f| serde_json::from_str(&f))
            .transpose()
            .with_context(|| format!("torrent {id}: bad stored file selection"))?;
        out.push((
            usize::try_from(id)?,
            SerializedTorrent::new(
                Id20::new(hash),
                torrent.unwrap_or_default().into(),
                trackers,
                PathBuf::from(folder),
                only_files,
                paused,
            ),
        ));
    }
    Ok(out)
}

/// Replaces a torrent's bitfield row (a new generation: older snapshots no longer apply).
fn put_bitfield(
    conn: &Connection,
    hash: &[u8; 20],
    generation: i64,
    bits: &[u8],
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO bitfields (info_hash, generation, bits) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![&hash[..], generation, bits])?;
    Ok(())
}

fn delete_rows(conn: &Connection, hash: &[u8; 20]) -> rusqlite::Result<()> {
    for table in ["torrents", "metainfo", "bitfields"] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE info_hash = ?1"))?
            .execute([&hash[..]])?;
    }
    Ok(())
}

fn hash20(bytes: &[u8]) -> Option<[u8; 20]> {
    bytes.try_into().ok()
}

/// Removes torrents from the store before an engine starts on `state_dir` (see
/// [`forget_saved`](crate::forget_saved)). Blocking.
pub(crate) fn forget(state_dir: &Path, infohashes: &[[u8; 20]]) -> anyhow::Result<()> {
    // Opening migrates (and imports a JSON session), so a forgotten torrent stays gone.
    let mut conn = db::open_connection(&state_dir.join(DB_FILE), Some(state_dir))?;
    let tx = conn.transaction()?;
    for hash in infohashes {
        delete_rows(&tx, hash)?;
    }
    tx.commit()?;
    Ok(())
}

/// Saved torrents whose output folder lies in `dir` or below it (an absolute path), with
/// that folder: one query, before an engine starts on `state_dir`. Blocking.
pub(crate) fn saved_under(
    state_dir: &Path,
    dir: &Path,
) -> anyhow::Result<Vec<([u8; 20], PathBuf)>> {
    let conn = db::open_connection(&state_dir.join(DB_FILE), Some(state_dir))?;
    let mut stmt = conn.prepare("SELECT info_hash, output_folder FROM torrents")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut found = Vec::new();
    for row in rows {
        let (hash, folder) = row?;
        let folder = PathBuf::from(folder);
        if let Some(hash) = hash20(&hash)
            && folder.starts_with(dir)
        {
            found.push((hash, folder));
        }
    }
    Ok(found)
}

pub(crate) use schema::parse_hex20;

#[cfg(test)]
mod tests;
