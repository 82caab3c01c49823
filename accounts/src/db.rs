//! The accounts database: its own SQLite file beside the node's, so secrets stay apart from
//! replica data and a sign-in never touches the node's store (or its page cache).
//!
//! One dedicated thread owns the connection and runs each job in its own transaction:
//! SQLite blocks, so no call runs on an async executor thread, and account traffic is small
//! enough that one connection serves it. Answers come back on oneshot channels.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle on the database thread; the thread ends when the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    jobs: mpsc::Sender<Job>,
}

const SCHEMA_VERSION: i64 = 1;

/// Version 1 of the schema. Every secret column holds a hash or a sealed blob.
const SCHEMA_V1: &str = r#"
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    email_norm TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- 'active' or 'pending_approval'; unconfirmed sign-ups are tokens, not users
    status TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    invited_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    invitation_id INTEGER REFERENCES invitations(id) ON DELETE SET NULL,
    -- sealed TOTP secret (XChaCha20-Poly1305 under the secrets key), once confirmed
    totp_secret BLOB,
    -- sealed TOTP secret awaiting its first code
    totp_pending BLOB,
    -- the last TOTP time step accepted: a code is never accepted twice
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    upload_quota INTEGER,
    uploaded_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    code_hash BLOB NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    max_uses INTEGER NOT NULL,
    uses INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
-- Single-use mailed tokens: sign-up confirmations, email changes, password resets,
-- sign-in links, second-factor challenges, identity invitations. Only the hash is kept.
CREATE TABLE tokens (
    hash BLOB PRIMARY KEY,
    purpose TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    email TEXT,
    password_hash TEXT,
    invitation_id INTEGER,
    identity TEXT,
    role TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX tokens_by_email ON tokens(purpose, email);
CREATE INDEX tokens_by_expiry ON tokens(expires_at);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE TABLE recovery_codes (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at INTEGER
);
CREATE INDEX recovery_codes_by_user ON recovery_codes(user_id);
CREATE TABLE rate_events (
    key TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX rate_events_by_key ON rate_events(key, at);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    ip TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_user ON audit(user_id, id);
CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    -- the identity's secret key sealed under the secrets key; NULL if held elsewhere
    sealed_key BLOB,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE memberships (
    identity TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (identity, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id);
"#;

impl Db {
    /// Opens (creating and migrating) the database and starts its thread.
    pub(crate) fn open(path: &Path) -> Result<Db> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = Connection::open(path).map_err(Error::db("open"))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(Error::db("busy_timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(Error::db("wal"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(Error::db("synchronous"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(Error::db("foreign_keys"))?;
        // Freed pages are zeroed: a deleted token or key does not linger in the file.
        conn.pragma_update(None, "secure_delete", true)
            .map_err(Error::db("secure_delete"))?;
        migrate(&mut conn)?;
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("accounts-db".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| Error::Internal(format!("spawning the database thread: {e}")))?;
        Ok(Db { jobs })
    }

    /// Runs `f` in an immediate transaction on the database thread; commits if it returns Ok.
    pub(crate) async fn tx<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let run = || {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(Error::db(op))?;
                let out = f(&tx)?;
                tx.commit().map_err(Error::db(op))?;
                Ok(out)
            };
            let _ = reply.send(run());
        });
        self.jobs.send(job).map_err(|_| Error::DatabaseGone)?;
        answer.await.map_err(|_| Error::DatabaseGone)?
    }
}

impl Db {
    /// Checkpoints the write-ahead log into the database file and truncates it: after a
    /// deletion, the pages `secure_delete` zeroed replace the old ones in the file, and the
    /// log, whose old frames may still hold what was deleted, is emptied. `Ok(false)` when
    /// a reader elsewhere (`swarmfeed admin`, a backup) kept the log from being emptied.
    pub(crate) async fn truncate_wal(&self) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let busy = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(Error::db("wal checkpoint"));
            let _ = reply.send(busy.map(|busy| busy == 0));
        });
        self.jobs.send(job).map_err(|_| Error::DatabaseGone)?;
        answer.await.map_err(|_| Error::DatabaseGone)?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(Error::db("user_version"))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Config(format!(
            "the accounts database has schema {version}, newer than this build's {SCHEMA_VERSION}"
        )));
    }
    if version < 1 {
        let tx = conn.transaction().map_err(Error::db("migrate"))?;
        tx.execute_batch(SCHEMA_V1).map_err(Error::db("migrate"))?;
        tx.pragma_update(None, "user_version", 1)
            .map_err(Error::db("migrate"))?;
        tx.commit().map_err(Error::db("migrate"))?;
    }
    Ok(())
}
