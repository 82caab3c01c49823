//! Full-text search over every entry the node holds (own and followed feeds).
//!
//! What is indexed: each stored entry's `title`, `description`, its other `meta` values, and
//! the names of the files and directories its content lists, with the entry's identity, feed, kind,
//! time, content size and file extensions beside them for filters. Entries with none of that
//! text are not indexed; the reserved `encrypted` kind never decodes, so nothing encrypted
//! reaches the index. The index is written in the same transaction that stores the entry (no
//! lag: a search sees exactly the committed entries), and a `delete` removes the entry it
//! retracts in its own transaction; dropping a feed cascades.
//!
//! Two FTS5 tables, both contentless (the text already lives in the entries' bytes) with
//! `contentless_delete=1` so retraction deletes rows:
//! - `search_text`, trigram tokenizer with diacritics folded: a query word of three or more
//!   characters matches as a substring anywhere (`ubunt` finds `kubuntu-24.04.iso`);
//! - `search_words`, `unicode61 remove_diacritics 2` with prefix indexes of 1 to 3
//!   characters: a word ending in `*` is a prefix of a word (`ubu*`), and a query word of one
//!   or two characters (which trigrams cannot find) matches a whole word (`hd`, `4k`) or,
//!   with `*`, a word's start.
//!
//! Latency: a query reads its matches newest-indexed first (FTS5 walks a doclist in rowid
//! order without sorting) and ranks at most [`CANDIDATES`] of them, by words found in the
//! title (see `search/rank.rs`: not bm25, whose IDF reads every match of every phrase); with
//! filters, the first [`CANDIDATES`] that pass them among at most [`FILTERED_CANDIDATES`]
//! matches read. A term with fewer matches is ranked among all of them; a more frequent one
//! among its newest-indexed matches, and the result says so ([`SearchResults::truncated`]).

use rusqlite::Transaction;

use ::feeds::{FeedName, IdentityKey, SignedEntry};

use super::{ErrorKind, JobResult, Result, Store, corrupt};

mod query;
mod rank;

pub use query::search;
pub use rank::fold;

/// Matches ranked.
pub const CANDIDATES: usize = 1000;
/// Matches read at most when filters may drop most of them.
pub const FILTERED_CANDIDATES: usize = 10_000;
/// The most results one query returns.
const MAX_LIMIT: u32 = 200;
/// The longest query accepted, in bytes, and the most words in one.
const MAX_QUERY_BYTES: usize = 512;
const MAX_WORDS: usize = 16;

/// The order of results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchOrder {
    /// bm25, best first.
    #[default]
    Relevance,
    /// The entry's time, newest first.
    Newest,
}

/// A search: free text plus filters, all optional except the text.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    pub text: String,
    pub identity: Option<IdentityKey>,
    /// A feed of `identity` (ignored without one).
    pub feed: Option<FeedName>,
    /// `post`, `list`, ...
    pub kind: Option<String>,
    /// A file extension without the dot, any case (`mkv`).
    pub extension: Option<String>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// Entry time bounds in Unix seconds, inclusive.
    pub since: Option<u64>,
    pub until: Option<u64>,
    pub order: SearchOrder,
    /// At most 200.
    pub limit: u32,
}

/// One entry found.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    pub identity: IdentityKey,
    pub feed: FeedName,
    pub seq: u64,
    pub kind: String,
    pub time: u64,
    pub title: Option<String>,
    pub size: Option<u64>,
    /// Query words found in the title (more is better); 0 when the order is by time.
    pub score: u32,
}

/// The answer to a [`SearchQuery`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// More matches existed than were ranked: the hits are the best of the newest-indexed.
    pub truncated: bool,
}

/// Errors a caller can show as they are: the query itself is unusable.
fn invalid(reason: &str) -> ErrorKind {
    ErrorKind::Invalid(format!("search query: {reason}"))
}

impl Store {
    /// Runs a search (see the module docs for what matches and how results are ranked).
    pub async fn search(&self, query: SearchQuery) -> Result<SearchResults> {
        self.read("search", move |tx| search(tx, &query)).await
    }
}

/// The text of one entry as the index takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocText {
    pub title: String,
    pub description: String,
    /// Other meta values, one per line.
    pub meta: String,
    /// File paths, one per line.
    pub files: String,
    /// Distinct lower-case file extensions.
    pub extensions: Vec<String>,
    pub size: Option<u64>,
}

impl DocText {
    /// What of `entry` is searchable; `None` when nothing is.
    pub fn of(entry: &SignedEntry) -> Option<DocText> {
        let entry = entry.entry();
        let mut doc = DocText::default();
        for (key, value) in &entry.meta {
            match key.as_str() {
                "title" => doc.title = value.clone(),
                "description" => doc.description = value.clone(),
                _ => push_line(&mut doc.meta, value),
            }
        }
        if let Some(content) = &entry.content {
            doc.size = Some(content.size);
            push_line(&mut doc.files, &content.name);
            // Each distinct path component once: two hundred files in one directory index
            // the directory's name once, which keeps the trigram index near the names' size.
            let mut seen = std::collections::HashSet::new();
            for file in &content.files {
                for part in &file.path {
                    if seen.insert(part.as_str()) {
                        push_line(&mut doc.files, part);
                    }
                }
                if let Some(ext) = file.path.last().and_then(|name| extension(name))
                    && !doc.extensions.contains(&ext)
                {
                    doc.extensions.push(ext);
                }
            }
        }
        let empty = doc.title.is_empty()
            && doc.description.is_empty()
            && doc.meta.is_empty()
            && doc.files.is_empty();
        (!empty).then_some(doc)
    }
}

fn push_line(into: &mut String, line: &str) {
    if !into.is_empty() {
        into.push('\n');
    }
    into.push_str(line);
}

/// The lower-case extension of a path's last component, if it has a short one.
pub fn extension(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let (stem, ext) = name.rsplit_once('.')?;
    let plain = ext.chars().all(|c| c.is_alphanumeric());
    (!stem.is_empty() && (1..=10).contains(&ext.len()) && plain).then(|| ext.to_lowercase())
}

/// Indexes one stored entry (called in the transaction that stores it).
pub(super) fn index_entry(tx: &Transaction, feed_id: i64, signed: &SignedEntry) -> JobResult<()> {
    let Some(doc) = DocText::of(signed) else {
        return Ok(());
    };
    let entry = signed.entry();
    index_doc(tx, feed_id, entry.seq, entry.kind.name(), entry.time, &doc)
}

/// Indexes one entry's text: a `search_docs` row, its extensions and both FTS rows.
#[doc(hidden)]
pub fn index_doc(
    tx: &rusqlite::Connection,
    feed_id: i64,
    seq: u64,
    kind: &str,
    time: u64,
    doc: &DocText,
) -> JobResult<()> {
    let size = doc.size.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
    let doc_id: i64 = tx
        .prepare_cached(
            "INSERT INTO search_docs (feed_id, seq, kind, time, size, title)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING doc_id",
        )?
        .query_row(
            rusqlite::params![feed_id, seq, kind, time, size, &doc.title],
            |r| r.get(0),
        )?;
    let mut ext = tx.prepare_cached("INSERT INTO search_exts (ext, doc_id) VALUES (?1, ?2)")?;
    for e in &doc.extensions {
        ext.execute(rusqlite::params![e, doc_id])?;
    }
    for table in ["search_text", "search_words"] {
        tx.prepare_cached(&format!(
            "INSERT INTO {table} (rowid, title, description, meta, files)
             VALUES (?1, ?2, ?3, ?4, ?5)"
        ))?
        .execute(rusqlite::params![
            doc_id,
            &doc.title,
            &doc.description,
            &doc.meta,
            &doc.files
        ])?;
    }
    Ok(())
}

/// Takes a retracted entry out of the index (its FTS rows go with it: see the trigger).
pub(super) fn remove_entry(tx: &Transaction, feed_id: i64, seq: u64) -> JobResult<()> {
    tx.prepare_cached("DELETE FROM search_docs WHERE feed_id = ?1 AND seq = ?2")?
        .execute(rusqlite::params![feed_id, seq])?;
    Ok(())
}

/// Indexes every stored, unretracted entry: run once by the migration that adds the index.
pub(super) fn backfill(tx: &Transaction) -> JobResult<()> {
    let mut stmt =
        tx.prepare("SELECT feed_id, seq, bytes FROM entries WHERE retracted = 0 ORDER BY rowid")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (feed_id, seq, bytes): (i64, u64, Vec<u8>) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let signed = SignedEntry::decode(bytes).map_err(|e| corrupt(format!("entry {seq}"), e))?;
        index_entry(tx, feed_id, &signed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_short_lower_case_suffixes_of_the_last_component() {
        assert_eq!(extension("a/b/Film.MKV").as_deref(), Some("mkv"));
        assert_eq!(extension("dir.d/README"), None);
        assert_eq!(extension(".hidden"), None);
        assert_eq!(extension("a.tar.gz").as_deref(), Some("gz"));
    }
}
