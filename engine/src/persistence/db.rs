//! The session database's own thread: every SQLite call of the engine's session store runs
//! there, never on an async executor thread, and whatever is queued when it wakes is done in
//! one transaction (group commit): a thousand torrents restored at once cost a few commits,
//! and bitfield flushes of many torrents share one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;

use anyhow::{Context, anyhow};
use rusqlite::{Connection, params};

use super::schema;

/// Most messages done in one transaction.
const MAX_BATCH: usize = 1024;

/// A job's answer, sent once its transaction is committed (or failed to commit).
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job: runs inside the batch's transaction (in a savepoint of its own), says whether it
/// succeeded and how to answer.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

enum Message {
    Job(Job),
    /// A torrent's piece bitfield, written only while its row is still of `generation`.
    Bits {
        info_hash: [u8; 20],
        generation: i64,
        bits: Vec<u8>,
    },
}

/// A handle on the database thread; it ends once every handle is dropped.
#[derive(Clone)]
pub(super) struct Db {
    tx: mpsc::Sender<Message>,
}

impl Db {
    /// Starts the database thread on an open connection (see [`open_connection`]).
    pub fn start(conn: Connection) -> anyhow::Result<Db> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("engine-session-db".into())
            .spawn(move || run(&conn, &rx))
            .context("start the session database thread")?;
        Ok(Db { tx })
    }

    /// Runs `f` on the database thread, inside a transaction; answers once it is committed.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let _ = answer.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(anyhow!("commit: {e}")),
                });
            });
            (ok, reply)
        });
        self.tx
            .send(Message::Job(job))
            .map_err(|_| anyhow!("the session database thread has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow!("the session database thread has stopped"))?
    }

    /// Queues a bitfield write without waiting (called from librqbit's synchronous flush).
    pub fn save_bits(&self, info_hash: [u8; 20], generation: i64, bits: Vec<u8>) -> bool {
        self.tx
            .send(Message::Bits {
                info_hash,
                generation,
                bits,
            })
            .is_ok()
    }
}

/// Opens (creating and migrating; importing a JSON session from `json_dir` the first time)
/// the database at `path`. Blocking.
pub(super) fn open_connection(path: &Path, json_dir: Option<&Path>) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(path).with_context(|| format!("open {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(anyhow!("{} refused WAL mode (got {mode})", path.display()));
    }
    // A crash loses at most the last commits, never consistency (WAL).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    schema::migrate(&mut conn, json_dir)?;
    Ok(conn)
}

fn run(conn: &Connection, rx: &mpsc::Receiver<Message>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        run_batch(conn, batch);
    }
}

fn run_batch(conn: &Connection, batch: Vec<Message>) {
    // Only the newest snapshot of each torrent's bitfield in the batch is written.
    let mut newest = HashMap::new();
    for (index, message) in batch.iter().enumerate() {
        if let Message::Bits { info_hash, .. } = message {
            newest.insert(*info_hash, index);
        }
    }
    let mut replies = Vec::new();
    let began = conn.execute_batch("BEGIN IMMEDIATE");
    for (index, message) in batch.into_iter().enumerate() {
        match message {
            Message::Job(job) => {
                let _ = conn.execute_batch("SAVEPOINT job");
                let (ok, reply) = job(conn);
                if !ok {
                    let _ = conn.execute_batch("ROLLBACK TO job");
                }
                let _ = conn.execute_batch("RELEASE job");
                replies.push(reply);
            }
            Message::Bits {
                info_hash,
                generation,
                bits,
            } if newest.get(&info_hash) == Some(&index) => {
                if let Err(e) = write_bits(conn, &info_hash, generation, &bits) {
                    tracing::warn!(error = %e, "cannot save a piece bitfield");
                }
            }
            Message::Bits { .. } => {}
        }
    }
    let committed = began
        .and_then(|()| conn.execute_batch("COMMIT"))
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, "session database: a transaction failed");
            e.to_string()
        });
    for reply in replies {
        reply(committed.clone());
    }
}

/// Updates a bitfield only while its row is the one the snapshot was loaded from: a torrent
/// cleared (failed spot-check), re-checked or deleted meanwhile keeps its new state.
fn write_bits(
    conn: &Connection,
    info_hash: &[u8; 20],
    generation: i64,
    bits: &[u8],
) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE bitfields SET bits = ?3 WHERE info_hash = ?1 AND generation = ?2")?
        .execute(params![&info_hash[..], generation, bits])
}
