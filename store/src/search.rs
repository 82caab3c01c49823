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
//! Latency: ranking every match of a frequent term by bm25 costs a per-row column-size lookup
//! (0.1–0.4 s for a term in hundreds of thousands of rows), so a query reads its matches
//! newest-indexed first (FTS5 walks a doclist in rowid order without sorting) and ranks at
//! most [`CANDIDATES`] of them ([`FILTERED_CANDIDATES`] when filters may drop many). A term
//! with fewer matches than that is ranked exactly; a more frequent one is ranked among its
//! newest-indexed matches, and the result says so ([`SearchResults::truncated`]).

use rusqlite::{Transaction, params_from_iter, types::Value};

use ::feeds::{FeedName, IdentityKey, SignedEntry};

use super::{ErrorKind, JobResult, Result, Store, corrupt, decode_feed_name, decode_key};

/// Matches ranked when no filter narrows them.
pub const CANDIDATES: usize = 1000;
/// Matches read when filters may drop most of them.
pub const FILTERED_CANDIDATES: usize = 20_000;
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
    /// bm25 (lower is better); 0 when the order is by time.
    pub score: f64,
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

/// The match expressions of a query's text: substring words for the trigram table, short
/// words and prefixes for the word table. Each word is quoted, so FTS5 syntax in a query
/// (`NEAR`, `"`, `:`, `^`) is only text.
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    substrings: Vec<String>,
    words: Vec<String>,
}

fn parse(text: &str) -> JobResult<Parsed> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(invalid("longer than 512 bytes"));
    }
    let mut parsed = Parsed::default();
    for raw in text.split_whitespace().take(MAX_WORDS + 1) {
        let (word, prefix) = match raw.strip_suffix('*') {
            Some(stem) => (stem.trim_end_matches('*'), true),
            None => (raw, false),
        };
        // A short word without a letter or digit is no token of the word table: it would
        // match nothing, and with AND, make the whole query match nothing.
        let short = word.chars().count() < 3;
        if word.is_empty() || (short && !word.chars().any(char::is_alphanumeric)) {
            continue;
        }
        let quoted = format!("\"{}\"", word.replace('"', "\"\""));
        if prefix {
            parsed.words.push(format!("{quoted}*"));
        } else if short {
            parsed.words.push(quoted);
        } else {
            parsed.substrings.push(quoted);
        }
    }
    if parsed.substrings.len() + parsed.words.len() > MAX_WORDS {
        return Err(invalid("more than 16 words"));
    }
    if parsed.substrings.is_empty() && parsed.words.is_empty() {
        return Err(invalid("no words"));
    }
    Ok(parsed)
}

/// Runs `query` on a read transaction (or any connection: the benchmark uses its own).
#[doc(hidden)]
pub fn search(tx: &rusqlite::Connection, query: &SearchQuery) -> JobResult<SearchResults> {
    let parsed = parse(&query.text)?;
    let mut args: Vec<Value> = Vec::new();
    let mut filters = Vec::new();
    if let Some(key) = &query.identity {
        args.push(Value::Blob(key.as_bytes().to_vec()));
        let mut filter = format!(
            "d.feed_id IN (SELECT f.feed_id FROM feeds f JOIN identities i USING (identity_id)
              WHERE i.key = ?{}",
            args.len()
        );
        if let Some(feed) = &query.feed {
            args.push(Value::Text(feed.as_str().into()));
            filter.push_str(&format!(" AND f.name = ?{}", args.len()));
        }
        filter.push(')');
        filters.push(filter);
    }
    let mut bind = |filters: &mut Vec<String>, sql: &str, value: Value| {
        args.push(value);
        filters.push(sql.replace('?', &format!("?{}", args.len())));
    };
    if let Some(kind) = &query.kind {
        bind(&mut filters, "d.kind = ?", Value::Text(kind.clone()));
    }
    if let Some(ext) = &query.extension {
        let ext = ext.trim_start_matches('.').to_lowercase();
        bind(
            &mut filters,
            "EXISTS (SELECT 1 FROM search_exts x WHERE x.ext = ? AND x.doc_id = d.doc_id)",
            Value::Text(ext),
        );
    }
    let int = |v: u64| Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
    if let Some(v) = query.min_size {
        bind(&mut filters, "d.size >= ?", int(v));
    }
    if let Some(v) = query.max_size {
        bind(&mut filters, "d.size <= ?", int(v));
    }
    if let Some(v) = query.since {
        bind(&mut filters, "d.time >= ?", int(v));
    }
    if let Some(v) = query.until {
        bind(&mut filters, "d.time <= ?", int(v));
    }
    let cap = if filters.is_empty() {
        CANDIDATES
    } else {
        FILTERED_CANDIDATES
    };
    // The driving table ranks; the other one, if the query has words for it, only filters.
    let (table, expr, other) = if parsed.substrings.is_empty() {
        ("search_words", parsed.words.join(" AND "), None)
    } else {
        let other = (!parsed.words.is_empty()).then(|| parsed.words.join(" AND "));
        ("search_text", parsed.substrings.join(" AND "), other)
    };
    args.push(Value::Text(expr));
    let expr_at = args.len();
    let mut inner = format!("{table} MATCH ?{expr_at}");
    if let Some(other) = other {
        args.push(Value::Text(other));
        inner.push_str(&format!(
            " AND rowid IN (SELECT rowid FROM search_words WHERE search_words MATCH ?{})",
            args.len()
        ));
    }
    args.push(Value::Integer(cap as i64 + 1));
    let cap_at = args.len();
    let limit = query.limit.clamp(1, MAX_LIMIT);
    let (score, order) = match query.order {
        SearchOrder::Relevance => (format!("bm25({table})"), "m.score, d.doc_id DESC"),
        SearchOrder::Newest => ("0.0".to_string(), "d.time DESC, d.doc_id DESC"),
    };
    let where_filters = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    // The candidates come newest-indexed first straight off the doclist; the LIMIT stops the
    // walk, so a frequent term costs `cap` rows, not its whole doclist.
    let sql = format!(
        "WITH m AS MATERIALIZED (
             SELECT rowid AS doc_id, {score} AS score FROM {table}
             WHERE {inner} ORDER BY rowid DESC LIMIT ?{cap_at})
         SELECT i.key, f.name, d.seq, d.kind, d.time, d.title, d.size, m.score
         FROM m JOIN search_docs d USING (doc_id)
         JOIN feeds f ON f.feed_id = d.feed_id JOIN identities i ON i.identity_id = f.identity_id
         {where_filters}
         ORDER BY {order} LIMIT {limit}"
    );
    // Whether the walk stopped at the cap: the filters may have dropped most candidates.
    let candidates: usize = {
        let count_sql = format!(
            "SELECT count(*) FROM (SELECT rowid FROM {table} WHERE {inner}
             ORDER BY rowid DESC LIMIT ?{cap_at})"
        );
        let mut stmt = tx.prepare_cached(&count_sql)?;
        let used = stmt.parameter_count();
        stmt.query_row(params_from_iter(args.iter().take(used)), |r| r.get(0))?
    };
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, u64>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<u64>>(6)?,
            r.get::<_, f64>(7)?,
        ))
    })?;
    let mut results = SearchResults {
        hits: Vec::new(),
        truncated: candidates > cap,
    };
    for row in rows {
        let (key, feed, seq, kind, time, title, size, score) = row?;
        results.hits.push(SearchHit {
            identity: decode_key(&key)?,
            feed: decode_feed_name(&feed)?,
            seq,
            kind,
            time,
            title: title.filter(|t| !t.is_empty()),
            size,
            score,
        });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_are_quoted_and_split_by_length_and_star() {
        let p = parse(r#"ubunt hd lin* say"hi NEAR ; ""#).unwrap();
        assert_eq!(p.substrings, [r#""ubunt""#, r#""say""hi""#, r#""NEAR""#]);
        assert_eq!(p.words, [r#""hd""#, r#""lin"*"#]);
        assert!(parse("   ").is_err());
        assert!(parse("*").is_err());
        assert!(parse(&"a ".repeat(17)).is_err());
        assert!(parse(&"x".repeat(513)).is_err());
    }

    #[test]
    fn extensions_are_short_lower_case_suffixes_of_the_last_component() {
        assert_eq!(extension("a/b/Film.MKV").as_deref(), Some("mkv"));
        assert_eq!(extension("dir.d/README"), None);
        assert_eq!(extension(".hidden"), None);
        assert_eq!(extension("a.tar.gz").as_deref(), Some("gz"));
    }
}
