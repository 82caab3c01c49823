//! Running a search: the query's words as FTS5 match expressions, the walk over the newest
//! matches, the filters, and the ranking ([`super::rank`]).

use std::collections::HashMap;

use ::feeds::{FeedName, IdentityKey};
use rusqlite::{params_from_iter, types::Value};

use super::rank::{TitleWord, title_score};
use super::{
    CANDIDATES, FILTERED_CANDIDATES, MAX_LIMIT, MAX_QUERY_BYTES, MAX_WORDS, SearchHit, SearchOrder,
    SearchQuery, SearchResults, invalid,
};
use crate::{JobResult, decode_feed_name, decode_key};

/// The FTS5 table a query word is matched in, with the word as a match expression, and as
/// the title score looks for it.
#[derive(Debug, PartialEq, Eq)]
struct Word {
    table: &'static str,
    expr: String,
    title: TitleWord,
}

/// The trigram table: a word of three or more characters matches as a substring.
const SUBSTRINGS: &str = "search_text";
/// The word table: short words and prefixes.
const WORDS: &str = "search_words";

/// The match expressions of a query's text, in the query's order. Each word is quoted, so
/// FTS5 syntax in a query (`NEAR`, `"`, `:`, `^`) is only text.
fn parse(text: &str) -> JobResult<Vec<Word>> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(invalid("longer than 512 bytes"));
    }
    let mut words = Vec::new();
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
        words.push(if prefix {
            Word {
                table: WORDS,
                expr: format!("{quoted}*"),
                title: TitleWord::words(word, true),
            }
        } else if short {
            Word {
                table: WORDS,
                expr: quoted,
                title: TitleWord::words(word, false),
            }
        } else {
            Word {
                table: SUBSTRINGS,
                expr: quoted,
                title: TitleWord::substring(word),
            }
        });
    }
    if words.len() > MAX_WORDS {
        return Err(invalid("more than 16 words"));
    }
    if words.is_empty() {
        return Err(invalid("no words"));
    }
    Ok(words)
}

/// Runs `query` on a read transaction (or any connection: the benchmark uses its own).
#[doc(hidden)]
pub fn search(tx: &rusqlite::Connection, query: &SearchQuery) -> JobResult<SearchResults> {
    let words = parse(&query.text)?;
    let mut args: Vec<Value> = Vec::new();
    let filters = filters(query, &mut args);
    let cap = if filters.is_empty() {
        CANDIDATES
    } else {
        FILTERED_CANDIDATES
    };
    // The trigram table drives when the query has a word for it (its doclists are read in
    // rowid order, newest first); the word table's words then only filter.
    let in_table = |table: &str| {
        words
            .iter()
            .filter(|w| w.table == table)
            .map(|w| w.expr.as_str())
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let (table, other) = if words.iter().any(|w| w.table == SUBSTRINGS) {
        let other = words.iter().any(|w| w.table == WORDS).then_some(WORDS);
        (SUBSTRINGS, other)
    } else {
        (WORDS, None)
    };
    args.push(Value::Text(in_table(table)));
    let mut walk = format!("{table} MATCH ?{}", args.len());
    if let Some(other) = other {
        args.push(Value::Text(in_table(other)));
        walk.push_str(&format!(
            " AND rowid IN (SELECT rowid FROM {other} WHERE {other} MATCH ?{})",
            args.len()
        ));
    }
    args.push(Value::Integer(cap as i64 + 1));
    let walk = format!(
        "SELECT rowid AS doc_id FROM {table} WHERE {walk} ORDER BY rowid DESC LIMIT ?{}",
        args.len()
    );
    let where_filters = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    // The walk runs as a coroutine, newest-indexed first straight off the doclist, and stops
    // at its LIMIT or as soon as enough candidates passed the filters: a frequent term costs
    // the rows read, not its whole doclist.
    let sql = format!(
        "SELECT d.doc_id, d.feed_id, d.seq, d.kind, d.time, d.size, d.title
         FROM ({walk}) AS w CROSS JOIN search_docs d ON d.doc_id = w.doc_id
         {where_filters}
         LIMIT {}",
        CANDIDATES + 1
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
        Ok(Candidate {
            doc_id: r.get(0)?,
            feed_id: r.get(1)?,
            seq: r.get(2)?,
            kind: r.get(3)?,
            time: r.get(4)?,
            size: r.get(5)?,
            title: r.get(6)?,
            score: 0,
        })
    })?;
    let mut candidates = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    // Fewer candidates than wanted: the filters dropped the rest of a walk that may have
    // stopped at its LIMIT before the doclist ended.
    let truncated = candidates.len() > CANDIDATES
        || (!filters.is_empty() && {
            let mut count = tx.prepare_cached(&format!("SELECT count(*) FROM ({walk})"))?;
            let used = count.parameter_count();
            let walked: usize =
                count.query_row(params_from_iter(args.iter().take(used)), |r| r.get(0))?;
            walked > cap
        });
    candidates.truncate(CANDIDATES);
    match query.order {
        SearchOrder::Relevance => {
            let title_words: Vec<TitleWord> = words.into_iter().map(|w| w.title).collect();
            for candidate in &mut candidates {
                candidate.score = title_score(&candidate.title, &title_words);
            }
            candidates.sort_by(|a, b| {
                let length = |c: &Candidate| (c.score > 0).then(|| c.title.chars().count());
                (b.score.cmp(&a.score))
                    .then_with(|| length(a).cmp(&length(b)))
                    .then_with(|| b.doc_id.cmp(&a.doc_id))
            });
        }
        SearchOrder::Newest => {
            candidates.sort_by_key(|c| std::cmp::Reverse((c.time, c.doc_id)));
        }
    }
    candidates.truncate(query.limit.clamp(1, MAX_LIMIT) as usize);
    let mut feeds: HashMap<i64, (IdentityKey, FeedName)> = HashMap::new();
    let mut feed_of = tx.prepare_cached(
        "SELECT i.key, f.name FROM feeds f JOIN identities i USING (identity_id)
         WHERE f.feed_id = ?1",
    )?;
    let mut results = SearchResults {
        hits: Vec::with_capacity(candidates.len()),
        truncated,
    };
    for c in candidates {
        let (identity, feed) = match feeds.get(&c.feed_id) {
            Some(known) => known.clone(),
            None => {
                let (key, name): (Vec<u8>, String) =
                    feed_of.query_row([c.feed_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let known = (decode_key(&key)?, decode_feed_name(&name)?);
                feeds.insert(c.feed_id, known.clone());
                known
            }
        };
        results.hits.push(SearchHit {
            identity,
            feed,
            seq: c.seq,
            kind: c.kind,
            time: c.time,
            title: (!c.title.is_empty()).then_some(c.title),
            size: c.size,
            score: c.score,
        });
    }
    Ok(results)
}

/// An indexed entry the walk found and the filters kept.
struct Candidate {
    doc_id: i64,
    feed_id: i64,
    seq: u64,
    kind: String,
    time: u64,
    size: Option<u64>,
    title: String,
    score: u32,
}

/// The filters' SQL conditions on `d` (search_docs), their values pushed onto `args`.
fn filters(query: &SearchQuery, args: &mut Vec<Value>) -> Vec<String> {
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
    let mut bind = |sql: &str, value: Value| {
        args.push(value);
        filters.push(sql.replace('?', &format!("?{}", args.len())));
    };
    if let Some(kind) = &query.kind {
        bind("d.kind = ?", Value::Text(kind.clone()));
    }
    if let Some(ext) = &query.extension {
        let ext = ext.trim_start_matches('.').to_lowercase();
        bind(
            "EXISTS (SELECT 1 FROM search_exts x WHERE x.ext = ? AND x.doc_id = d.doc_id)",
            Value::Text(ext),
        );
    }
    let int = |v: u64| Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
    if let Some(v) = query.min_size {
        bind("d.size >= ?", int(v));
    }
    if let Some(v) = query.max_size {
        bind("d.size <= ?", int(v));
    }
    if let Some(v) = query.since {
        bind("d.time >= ?", int(v));
    }
    if let Some(v) = query.until {
        bind("d.time <= ?", int(v));
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_are_quoted_and_split_by_length_and_star() {
        let p = parse(r#"ubunt hd lin* say"hi NEAR ; ""#).unwrap();
        let shown: Vec<(&str, &str)> = p.iter().map(|w| (w.table, w.expr.as_str())).collect();
        assert_eq!(p[2].title, TitleWord::words("lin", true));
        assert_eq!(
            shown,
            [
                (SUBSTRINGS, r#""ubunt""#),
                (WORDS, r#""hd""#),
                (WORDS, r#""lin"*"#),
                (SUBSTRINGS, r#""say""hi""#),
                (SUBSTRINGS, r#""NEAR""#),
            ]
        );
        assert!(parse("   ").is_err());
        assert!(parse("*").is_err());
        assert!(parse(&"a ".repeat(17)).is_err());
        assert!(parse(&"x".repeat(513)).is_err());
    }
}
