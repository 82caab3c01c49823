//! Schema migrations, tracked by `PRAGMA user_version`.
//!
//! [`MIGRATIONS`]`[i]` takes the schema from version `i` to `i + 1`. Migrations are applied in
//! one transaction with the version bump, so a crash leaves the old schema or the new one.
//! Never edit a released migration: append a new one.
//!
//! Identities and feeds get integer ids so that the big tables (entries, their indexes) key
//! on 8 bytes rather than a 32-byte key and a name. Every foreign key's child column leads
//! an index, so cascades and joins never scan.

use rusqlite::{Connection, TransactionBehavior};

use super::{ErrorKind, JobResult};

/// The migrations, oldest first; the schema version is how many have been applied.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

const V1: &str = "
CREATE TABLE identities (
    identity_id INTEGER PRIMARY KEY,
    key         BLOB NOT NULL UNIQUE CHECK (length(key) = 32),
    record      BLOB,              -- latest SignedIdentityRecord, portable encoding
    record_seq  INTEGER,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);

CREATE TABLE feeds (
    feed_id      INTEGER PRIMARY KEY,
    identity_id  INTEGER NOT NULL REFERENCES identities ON DELETE CASCADE,
    name         TEXT NOT NULL,
    head         BLOB,             -- latest SignedHead, portable encoding
    head_seq     INTEGER,
    verified_seq INTEGER NOT NULL DEFAULT 0,  -- entries 1..=verified_seq are stored
    status       TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'frozen', 'error')),
    error        TEXT,
    fork_proof   BLOB,
    updated_at   INTEGER NOT NULL,
    UNIQUE (identity_id, name)
);

CREATE TABLE entries (
    feed_id   INTEGER NOT NULL REFERENCES feeds ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL,
    kind      TEXT NOT NULL,
    time      INTEGER NOT NULL,
    retracts  INTEGER,
    infohash  BLOB,
    title     TEXT,
    retracted INTEGER NOT NULL DEFAULT 0,
    bytes     BLOB NOT NULL,       -- last: the small columns stay on the row's first page
    PRIMARY KEY (feed_id, seq)
);
CREATE INDEX entries_by_infohash ON entries (infohash) WHERE infohash IS NOT NULL;
CREATE INDEX entries_by_time ON entries (time, feed_id, seq);

-- Distinct content torrents of each feed: follow status and deletes aggregate over these
-- (bounded by the torrents held) instead of over entries.
CREATE TABLE feed_torrents (
    feed_id  INTEGER NOT NULL REFERENCES feeds ON DELETE CASCADE,
    infohash BLOB NOT NULL,
    PRIMARY KEY (feed_id, infohash)
) WITHOUT ROWID;
CREATE INDEX feed_torrents_by_infohash ON feed_torrents (infohash, feed_id);

CREATE TABLE log_torrents (
    feed_id  INTEGER NOT NULL REFERENCES feeds ON DELETE CASCADE,
    kind     TEXT NOT NULL CHECK (kind IN ('segment', 'tail')),
    idx      INTEGER NOT NULL,     -- segment index; 0 for the tail
    infohash BLOB NOT NULL,
    bytes    BLOB NOT NULL,
    PRIMARY KEY (feed_id, kind, idx)
);
CREATE INDEX log_torrents_by_infohash ON log_torrents (infohash);

CREATE TABLE torrents (
    infohash      BLOB PRIMARY KEY CHECK (length(infohash) = 20),
    name          TEXT NOT NULL,
    total_size    INTEGER NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('published', 'followed')),
    content_root  TEXT,            -- where a published torrent's files lie
    complete      INTEGER NOT NULL DEFAULT 0,
    have_bytes    INTEGER NOT NULL DEFAULT 0,
    last_verified INTEGER,
    error         TEXT,
    added_at      INTEGER NOT NULL,
    metainfo      BLOB             -- the exact .torrent, once known
);
CREATE INDEX torrents_incomplete ON torrents (infohash) WHERE complete = 0;

CREATE TABLE torrent_files (
    infohash BLOB NOT NULL REFERENCES torrents ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    path     TEXT NOT NULL,        -- components joined with '/'
    length   INTEGER NOT NULL,
    blake3   BLOB CHECK (blake3 IS NULL OR length(blake3) = 32),
    verified INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (infohash, idx)
) WITHOUT ROWID;

CREATE TABLE follows (
    follow_id   INTEGER PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities ON DELETE CASCADE,
    feed        TEXT NOT NULL,     -- '' follows every feed of the identity
    added_at    INTEGER NOT NULL,
    last_update INTEGER,
    last_error  TEXT,
    UNIQUE (identity_id, feed)
);

-- The feeds each follow covers: its own feed, or those a bare-key follow expanded to.
CREATE TABLE follow_feeds (
    follow_id INTEGER NOT NULL REFERENCES follows ON DELETE CASCADE,
    feed_id   INTEGER NOT NULL REFERENCES feeds ON DELETE CASCADE,
    PRIMARY KEY (follow_id, feed_id)
) WITHOUT ROWID;
CREATE INDEX follow_feeds_by_feed ON follow_feeds (feed_id, follow_id);

CREATE TABLE nodes (
    node_id    INTEGER PRIMARY KEY,
    url        TEXT NOT NULL UNIQUE,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX nodes_by_last_seen ON nodes (last_seen);

CREATE TABLE node_feeds (
    feed_id   INTEGER NOT NULL REFERENCES feeds ON DELETE CASCADE,
    node_id   INTEGER NOT NULL REFERENCES nodes ON DELETE CASCADE,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (feed_id, node_id)
) WITHOUT ROWID;
CREATE INDEX node_feeds_by_node ON node_feeds (node_id);
";

/// Disk caps: per-follow caps, and each followed torrent's reservation. A torrent is
/// `reserved` once its full size counts against the caps (before its download starts);
/// `over_limit` says why one that did not fit waits. Torrents already held count at once.
const V2: &str = "
ALTER TABLE follows ADD COLUMN max_bytes INTEGER CHECK (max_bytes IS NULL OR max_bytes >= 0);
ALTER TABLE follows ADD COLUMN max_files INTEGER CHECK (max_files IS NULL OR max_files >= 0);
ALTER TABLE torrents ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE torrents ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0;
ALTER TABLE torrents ADD COLUMN over_limit TEXT;
UPDATE torrents SET file_count =
    (SELECT count(*) FROM torrent_files f WHERE f.infohash = torrents.infohash);
UPDATE torrents SET reserved = 1
    WHERE origin = 'followed' AND (error IS NULL OR error NOT LIKE 'retracted%');
CREATE INDEX torrents_reserved ON torrents (infohash, total_size, file_count) WHERE reserved = 1;
CREATE INDEX torrents_waiting ON torrents (added_at, infohash)
    WHERE reserved = 0 AND origin = 'followed' AND error IS NULL;
";

/// Where verifying a feed's next update resumes: `feeds::Checkpoint::encode` of the entry
/// at `verified_seq`, with what the entries up to it carry on (revocations, non-posts, the
/// log's clock). NULL, or one at another entry, is rebuilt from the stored entries.
const V3: &str = "
ALTER TABLE feeds ADD COLUMN checkpoint BLOB;
";

/// Node URLs known only because they came with a pushed head (`X-Swarmfeed-Node`) are
/// marked `pushed` until the node answers: capped apart, asked after the others, so junk
/// pushes cannot crowd out registered followers and nodes that served the feed.
const V4: &str = "
ALTER TABLE node_feeds ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0 CHECK (pushed IN (0, 1));
CREATE INDEX node_feeds_pushed ON node_feeds (last_seen, feed_id, node_id) WHERE pushed = 1;
";

/// Search (see `search.rs`): a row per indexed entry with the columns filters need, its file
/// extensions, and two contentless FTS5 tables keyed by `doc_id` (trigram for substrings,
/// unicode61 words with prefix indexes). Deleting a `search_docs` row (a retraction, or its
/// feed's cascade) deletes its FTS rows through the trigger. Filled from the stored entries
/// by [`super::search::backfill`] in the same transaction.
const V5: &str = "
CREATE TABLE search_docs (
    doc_id  INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    time    INTEGER NOT NULL,
    size    INTEGER,
    title   TEXT NOT NULL,
    UNIQUE (feed_id, seq)
);
CREATE INDEX search_docs_by_time ON search_docs (time, doc_id);
CREATE TABLE search_exts (
    ext    TEXT NOT NULL,
    doc_id INTEGER NOT NULL REFERENCES search_docs ON DELETE CASCADE,
    PRIMARY KEY (ext, doc_id)
) WITHOUT ROWID;
CREATE INDEX search_exts_by_doc ON search_exts (doc_id);
CREATE VIRTUAL TABLE search_text USING fts5 (
    title, description, meta, files,
    content = '', contentless_delete = 1,
    tokenize = 'trigram remove_diacritics 1'
);
CREATE VIRTUAL TABLE search_words USING fts5 (
    title, description, meta, files,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
);
CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
    DELETE FROM search_text WHERE rowid = old.doc_id;
    DELETE FROM search_words WHERE rowid = old.doc_id;
END;
";

/// Identity record extensions (`extensions.rs`): the newest signed item of each extension
/// an identity's record names, in its portable encoding.
const V6: &str = "
CREATE TABLE identity_extensions (
    identity_id INTEGER NOT NULL REFERENCES identities ON DELETE CASCADE,
    name        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    item        BLOB NOT NULL,
    PRIMARY KEY (identity_id, name)
) WITHOUT ROWID;
";

/// The index in [`MIGRATIONS`] of the one that adds search, after which stored entries are
/// indexed.
const SEARCH_MIGRATION: usize = 4;

/// The schema version this program writes.
pub fn current_version() -> usize {
    MIGRATIONS.len()
}

/// The database's schema version.
pub fn version(conn: &Connection) -> JobResult<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Applies the migrations the database lacks, all in one transaction.
pub(super) fn migrate(conn: &mut Connection) -> JobResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let found = version(&tx)?;
    let applied = usize::try_from(found).map_err(|_| {
        ErrorKind::Invalid(format!("negative schema version {found} in user_version"))
    })?;
    if applied > MIGRATIONS.len() {
        return Err(ErrorKind::SchemaTooNew {
            found,
            known: MIGRATIONS.len(),
        });
    }
    for (version, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(migration)?;
        if version == SEARCH_MIGRATION {
            super::search::backfill(&tx)?;
        }
    }
    if applied < MIGRATIONS.len() {
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    }
    tx.commit()?;
    Ok(())
}
