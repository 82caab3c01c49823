//! The session database's schema, migrated by `PRAGMA user_version`, and the one-time import
//! of librqbit's JSON session (`session.json`, `{infohash}.torrent`, `{infohash}.bitv`) that
//! engines before this store kept: imported in the migration's own transaction, so a data
//! dir moves over whole or not at all, and its torrents resume without a re-hash.

use std::fs;
use std::path::Path;

use anyhow::{Context, anyhow};
use rusqlite::{Connection, params};

/// Each step takes the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: librqbit's session (which torrents, where their files lie) and piece bitfields.
    "CREATE TABLE torrents (
         id INTEGER PRIMARY KEY,          -- librqbit's torrent id
         info_hash BLOB NOT NULL UNIQUE,  -- 20 bytes
         trackers TEXT NOT NULL,          -- JSON array of URLs
         output_folder TEXT NOT NULL,
         only_files TEXT,                 -- JSON array of file indexes, NULL: all
         paused INTEGER NOT NULL
     );
     -- Apart from the rows above, so updating a torrent's state never rewrites its metainfo.
     CREATE TABLE metainfo (
         info_hash BLOB PRIMARY KEY,
         torrent BLOB NOT NULL            -- the .torrent file's bytes
     );
     -- Written before a torrent is added when its pieces are known (published content), so
     -- not tied to a torrents row. `generation` changes whenever the row is replaced: a
     -- flush from an older snapshot never overwrites a newer state.
     CREATE TABLE bitfields (
         info_hash BLOB PRIMARY KEY,
         generation INTEGER NOT NULL,
         bits BLOB NOT NULL               -- one bit per piece, most significant first
     );",
];

/// librqbit's JSON session file, renamed once imported.
const SESSION_JSON: &str = "session.json";
const IMPORTED_SUFFIX: &str = "imported";

/// Brings the schema up to date; the first migration also imports a JSON session from
/// `json_dir` if one is there.
pub(super) fn migrate(conn: &mut Connection, json_dir: Option<&Path>) -> anyhow::Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let found = usize::try_from(found).map_err(|_| anyhow!("negative user_version {found}"))?;
    if found > MIGRATIONS.len() {
        return Err(anyhow!(
            "session database schema {found} is newer than this program's {}",
            MIGRATIONS.len()
        ));
    }
    if found < MIGRATIONS.len() {
        let tx = conn.transaction()?;
        for step in &MIGRATIONS[found..] {
            tx.execute_batch(step)?;
        }
        if found == 0
            && let Some(dir) = json_dir
        {
            import_json(&tx, dir)?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
        tx.commit()?;
    }
    // Imported (now or by a run that stopped before tidying up): the JSON files are unused.
    if let Some(dir) = json_dir {
        retire_json(dir);
    }
    Ok(())
}

/// Copies every torrent of librqbit's JSON session in `dir`, with its metainfo and
/// bitfield, into the (new, empty) tables.
fn import_json(conn: &Connection, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(SESSION_JSON);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    let json: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not librqbit's session JSON", path.display()))?;
    let Some(torrents) = json.get("torrents").and_then(|t| t.as_object()) else {
        return Ok(());
    };
    let mut imported = 0;
    for (id, torrent) in torrents {
        let Ok(id) = id.parse::<i64>() else { continue };
        let Some(hex) = torrent.get("info_hash").and_then(|h| h.as_str()) else {
            continue;
        };
        let Some(info_hash) = parse_hex20(hex) else {
            continue;
        };
        let trackers = torrent
            .get("trackers")
            .cloned()
            .unwrap_or_else(|| serde_json::Value::Array(Vec::new()));
        let Some(output_folder) = torrent.get("output_folder").and_then(|f| f.as_str()) else {
            continue;
        };
        let only_files = torrent
            .get("only_files")
            .filter(|f| !f.is_null())
            .map(serde_json::Value::to_string);
        let paused = torrent
            .get("is_paused")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        conn.execute(
            "INSERT OR REPLACE INTO torrents (id, info_hash, trackers, output_folder, only_files, paused)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, &info_hash[..], trackers.to_string(), output_folder, only_files, paused],
        )?;
        let torrent_path = dir.join(format!("{hex}.torrent"));
        if let Ok(torrent) = data_dir::bounded_read::read_torrent_file(&torrent_path) {
            conn.execute(
                "INSERT OR REPLACE INTO metainfo (info_hash, torrent) VALUES (?1, ?2)",
                params![&info_hash[..], torrent],
            )?;
        }
        // librqbit spot-checks it at the add and re-hashes if it lies.
        if let Ok(bits) = fs::read(dir.join(format!("{hex}.bitv"))) {
            conn.execute(
                "INSERT OR REPLACE INTO bitfields (info_hash, generation, bits) VALUES (?1, 0, ?2)",
                params![&info_hash[..], bits],
            )?;
        }
        imported += 1;
    }
    tracing::info!(
        torrents = imported,
        from = %path.display(),
        "imported librqbit's JSON session into the session database"
    );
    Ok(())
}

/// Renames `session.json` out of librqbit's way and removes its per-torrent files: no
/// engine reads them any more. Best effort: leftovers are only disk space.
fn retire_json(dir: &Path) {
    let session = dir.join(SESSION_JSON);
    if !session.exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stem = name
            .trim_start_matches('.')
            .split('.')
            .next()
            .unwrap_or_default();
        let per_torrent =
            name.ends_with(".bitv") || name.ends_with(".bitv.tmp") || name.ends_with(".torrent");
        if per_torrent && parse_hex20(stem).is_some() {
            let _ = fs::remove_file(&path);
        }
    }
    let _ = fs::remove_file(dir.join(format!("{SESSION_JSON}.tmp")));
    let _ = fs::rename(
        &session,
        dir.join(format!("{SESSION_JSON}.{IMPORTED_SUFFIX}")),
    );
}

/// 40 hex digits as 20 bytes.
pub(crate) fn parse_hex20(hex: &str) -> Option<[u8; 20]> {
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
