//! The node's SQLite store: identities, feeds and their entries, the feed-log torrents,
//! content torrents and their files, follows, and the nodes we know.
//!
//! One file in WAL mode, `synchronous=NORMAL` (a crash loses at most the last commits, never
//! consistency), foreign keys on, schema migrations by `PRAGMA user_version`
//! ([`schema`]). Every hot lookup has an index; no query scans a whole table.
//!
//! Threading: SQLite calls block, so none runs on an async executor thread. One dedicated
//! writer thread owns the only read-write connection and runs each write as a job in its own
//! transaction: writes are serialised (SQLite allows one writer anyway), compare-and-set
//! operations such as [`Store::put_head`] are atomic without retry loops, and our writers
//! never meet `SQLITE_BUSY`. Reads go to a small pool of reader threads, each with its own
//! connection; WAL gives each read a consistent snapshot while the writer commits, so a long
//! write (a million-entry log) does not stall the pages a gateway serves. Dedicated threads
//! rather than `spawn_blocking`: connections and their prepared-statement caches live as long
//! as the store, a burst of queries cannot starve tokio's blocking pool (file I/O, hashing),
//! and the store needs no runtime at all: answers come back on oneshot channels that any
//! executor can await (the CLI edits the store with a plain `block_on`). A [`Store`] is two
//! channel senders, so cloning it is cheap; the threads end when the last clone is dropped.

mod checkpoints;
mod entries;
mod extensions;
mod feeds;
mod follows;
mod holdings;
mod identities;
mod limits;
mod logs;
mod nodes;
pub mod schema;
pub mod search;
mod torrents;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::oneshot;

use ::feeds::{EntryHash, FeedName, IdentityKey, InfoHash};

pub use self::entries::{
    AppendOutcome, EntryPage, Order, PAGE_BYTES, RecentCursor, RecentPage, StoredEntry,
};
pub use self::feeds::{FeedState, FeedStatus, HeadChange};
pub use self::follows::{FollowStatus, Unfollowed};
pub use self::holdings::{Holdings, TorrentProblem};
pub use self::identities::IdentityInfo;
pub use self::limits::{Admission, CapChange, Caps, FollowCaps, Usage};
pub use self::logs::{LogPart, LogTorrent};
pub use self::nodes::{KnownNode, REGISTRATION_LIFETIME_SECS, Registered};
pub use self::search::{SearchHit, SearchOrder, SearchQuery, SearchResults};
pub use self::torrents::{
    NewFile, NewTorrent, Origin, StoredFile, StoredTorrent, TorrentPages, TorrentQuery,
    TorrentState,
};

/// The SQL of the hot entry queries, for tests that check their plans walk an index.
#[doc(hidden)]
pub mod hot_queries {
    pub use super::entries::{PAGE_NEWEST, PAGE_OLDEST, RECENT_FOLLOWED, WITH_INFOHASH};
}

/// Reader threads (and connections). Reads are short indexed queries; a few suffice.
const READERS: usize = 3;
/// How long a connection waits for a lock before failing (checkpoints, other processes).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong, and in which store operation.
#[derive(Debug, thiserror::Error)]
#[error("store {op}: {kind}")]
pub struct Error {
    /// The operation, e.g. `append_verified_entries`.
    pub op: &'static str,
    pub kind: ErrorKind,
}

/// The kinds of store failure.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the database schema is version {found}, newer than this program's {known}")]
    SchemaTooNew { found: i64, known: usize },
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("entry {seq} of {feed} is stored with hash {stored}; refusing {offered}")]
    Conflict {
        feed: String,
        seq: u64,
        stored: EntryHash,
        offered: EntryHash,
    },
    #[error("feed {feed} is frozen by a fork proof")]
    Frozen { feed: String },
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot start a database thread: {0}")]
    Thread(std::io::Error),
    #[error("the database threads have stopped")]
    Closed,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
/// What the jobs on the database threads return; [`Store`] adds the operation name.
type JobResult<T> = std::result::Result<T, ErrorKind>;
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The node's store: cheap to clone, every operation async and off the executor.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::Sender<Job>,
    readers: mpsc::Sender<Job>,
    path: Arc<Path>,
    /// Moves after every committed write (see [`Store::generation`]).
    generation: Arc<AtomicU64>,
    /// Reservations whose release failed: the next [`Store::admit_waiting`] gives them back
    /// before it admits anything, so a failed write cannot hold capacity until a restart.
    owed_releases: Arc<Mutex<HashSet<InfoHash>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path: Arc<Path> = Arc::from(path.as_ref());
        let op = "open";
        let fail = |kind| Error { op, kind };
        let (writer, jobs) = mpsc::channel::<Job>();
        let (ready, opened) = oneshot::channel();
        let writer_path = path.clone();
        spawn("store-writer", move || match open_writer(&writer_path) {
            Ok(conn) => {
                let _ = ready.send(Ok(()));
                serve(conn, &Mutex::new(jobs));
            }
            Err(kind) => drop(ready.send(Err(kind))),
        })
        .map_err(fail)?;
        opened
            .await
            .map_err(|_| fail(ErrorKind::Closed))?
            .map_err(fail)?;

        let (readers, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        let mut pending = Vec::new();
        for _ in 0..READERS {
            let (ready, opened) = oneshot::channel();
            let (reader_path, jobs) = (path.clone(), jobs.clone());
            spawn("store-reader", move || match open_reader(&reader_path) {
                Ok(conn) => {
                    let _ = ready.send(Ok(()));
                    serve(conn, &jobs);
                }
                Err(kind) => drop(ready.send(Err(kind))),
            })
            .map_err(fail)?;
            pending.push(opened);
        }
        for opened in pending {
            opened
                .await
                .map_err(|_| fail(ErrorKind::Closed))?
                .map_err(fail)?;
        }
        Ok(Store {
            writer,
            readers,
            path,
            generation: Arc::new(AtomicU64::new(0)),
            owed_releases: Arc::default(),
        })
    }

    /// The schema version of the open database (see [`schema`]).
    pub async fn schema_version(&self) -> Result<i64> {
        self.read("schema_version", |tx| schema::version(tx)).await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A counter that moves after every committed write of this store (every clone shares
    /// it). Whatever was computed from reads that began after `generation()` returned N is
    /// still current while it returns N: the gateway keys its page cache on it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Runs `f` in an immediate (write) transaction on the writer thread; commits if it succeeds.
    pub(crate) async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> JobResult<T> + Send + 'static,
    {
        let generation = self.generation.clone();
        call(&self.writer, op, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            generation.fetch_add(1, Ordering::Release);
            Ok(out)
        })
        .await
    }

    /// Runs `f` in a read transaction (one consistent snapshot) on a reader thread.
    pub(crate) async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> JobResult<T> + Send + 'static,
    {
        call(&self.readers, op, move |conn| f(&conn.transaction()?)).await
    }
}

async fn call<T, F>(jobs: &mpsc::Sender<Job>, op: &'static str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> JobResult<T> + Send + 'static,
{
    let closed = || Error {
        op,
        kind: ErrorKind::Closed,
    };
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(move |conn| {
        // A bug that panics fails this call, not the thread and every later call.
        let out = catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| {
            Err(ErrorKind::Invalid(
                "the operation panicked; see the log".into(),
            ))
        });
        let _ = reply.send(out);
    });
    jobs.send(job).map_err(|_| closed())?;
    answer
        .await
        .map_err(|_| closed())?
        .map_err(|kind| Error { op, kind })
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> JobResult<()> {
    thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map(drop)
        .map_err(ErrorKind::Thread)
}

fn serve(mut conn: Connection, jobs: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // Readers share one queue; whoever holds the lock waits for the next job.
        let job = match jobs.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut conn),
            Err(mpsc::RecvError) => return,
        }
    }
}

fn connect(path: &Path) -> JobResult<Connection> {
    let open_error = |source| ErrorKind::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn open_writer(path: &Path) -> JobResult<Connection> {
    let mut conn = connect(path)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(ErrorKind::Invalid(format!(
            "{} cannot use WAL (journal mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

fn open_reader(path: &Path) -> JobResult<Connection> {
    let conn = connect(path)?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(conn)
}

/// Now, in Unix seconds: the clock of the times the store keeps, and of whatever is
/// compared with them (last verifications, registrations, the status page's ages).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now() -> u64 {
    unix_now()
}

/// The id of `key`'s row, if any.
fn identity_id(tx: &Transaction, key: &IdentityKey) -> JobResult<Option<i64>> {
    let mut stmt = tx.prepare_cached("SELECT identity_id FROM identities WHERE key = ?1")?;
    Ok(stmt.query_row([key.as_bytes()], |r| r.get(0)).optional()?)
}

/// The id of `key`'s row, created if needed.
fn ensure_identity(tx: &Transaction, key: &IdentityKey) -> JobResult<i64> {
    let now = now();
    let mut stmt = tx.prepare_cached(
        "INSERT INTO identities (key, first_seen, last_seen) VALUES (?1, ?2, ?2)
         ON CONFLICT (key) DO NOTHING",
    )?;
    stmt.execute(params![key.as_bytes(), now])?;
    identity_id(tx, key)?.ok_or_else(|| ErrorKind::Invalid("identity row vanished".into()))
}

/// The id of the feed's row, if any.
fn feed_id(tx: &Transaction, key: &IdentityKey, feed: &FeedName) -> JobResult<Option<i64>> {
    let mut stmt = tx.prepare_cached(
        "SELECT f.feed_id FROM feeds f JOIN identities i USING (identity_id)
         WHERE i.key = ?1 AND f.name = ?2",
    )?;
    Ok(stmt
        .query_row(params![key.as_bytes(), feed.as_str()], |r| r.get(0))
        .optional()?)
}

/// The id of the feed's row, created (with its identity) if needed.
fn ensure_feed(tx: &Transaction, key: &IdentityKey, feed: &FeedName) -> JobResult<i64> {
    if let Some(id) = feed_id(tx, key, feed)? {
        return Ok(id);
    }
    let identity = ensure_identity(tx, key)?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO feeds (identity_id, name, updated_at) VALUES (?1, ?2, ?3)
         RETURNING feed_id",
    )?;
    Ok(stmt.query_row(params![identity, feed.as_str(), now()], |r| r.get(0))?)
}

/// Reads a stored identity key back.
fn decode_key(bytes: &[u8]) -> JobResult<IdentityKey> {
    IdentityKey::from_slice(bytes).map_err(|e| corrupt("identity key", e))
}

/// Reads a stored feed name back.
fn decode_feed_name(name: &str) -> JobResult<FeedName> {
    FeedName::new(name).map_err(|e| corrupt(format!("feed name {name:?}"), e))
}

fn corrupt(what: impl Into<String>, reason: impl std::fmt::Display) -> ErrorKind {
    ErrorKind::Corrupt {
        what: what.into(),
        reason: reason.to_string(),
    }
}

/// `key/feed`, for messages.
fn feed_label(key: &IdentityKey, feed: &FeedName) -> String {
    format!("{key}/{feed}")
}
