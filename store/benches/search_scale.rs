//! A measurement, not a test: the store's search index at a million entries. Run it with
//! `scripts/bench-search` (a release build; `cargo bench -p store --bench search_scale`).
//! It builds synthetic entries (titles and file names from a Zipf-spread vocabulary, 1 to
//! 200 files each) under 1,000 feeds, indexes them with the store's own code, then prints
//! each fixed query's p50/p99 beside the same query through two peers on the same data:
//! plain FTS5 bm25 over every match (`ORDER BY rank`), and `LIKE '%term%'` on titles as
//! Torrust's index does; last, the time to add one entry of 20 files to the full index.
//!
//! `SWARMFEED_SEARCH_N` sets the entry count (default 1,000,000). `SWARMFEED_SEARCH_DB`
//! keeps the database at that path, and a later run on the same path measures it again
//! without building it (the index's schema must not have changed in between).
//! `SWARMFEED_SEARCH_PEERS=0` skips the peers (they take minutes).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use store::search::{DocText, index_doc, search};
use store::{SearchOrder, SearchQuery, Store};

/// xorshift64*: reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Rank in 0..n with P(r) ~ 1/(r+1): inverse of the harmonic CDF, approximated.
    fn zipf(&mut self, n: usize) -> usize {
        let x = ((n as f64).ln() * self.unit()).exp() - 1.0;
        (x as usize).min(n - 1)
    }
}

const COMMON: &[&str] = &[
    "the",
    "1080p",
    "x264",
    "of",
    "and",
    "season",
    "complete",
    "hd",
    "collection",
    "live",
    "documentary",
    "remastered",
    "edition",
    "album",
    "music",
    "history",
    "world",
    "linux",
    "guide",
    "official",
    "video",
    "deluxe",
    "web",
    "bluray",
    "flac",
    "new",
    "night",
    "love",
];
const EXTS: &[&str] = &[
    "mkv", "mp3", "jpg", "flac", "mp4", "pdf", "srt", "nfo", "txt", "epub", "iso", "avi",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mer", "tin", "sa", "vor", "el", "bri", "dun", "ost", "ra", "qui", "zen", "pal",
    "mo", "ter", "ax", "ni", "gor", "ve", "lum", "cha", "ri", "bek",
];

/// The vocabulary: common words first (the head of the Zipf spread), then made-up words.
fn vocabulary(size: usize) -> Vec<String> {
    let mut words: Vec<String> = COMMON.iter().map(|w| w.to_string()).collect();
    let mut rng = Rng(7);
    while words.len() < size {
        let n = 2 + (rng.next() % 3) as usize;
        let word: String = (0..n)
            .map(|_| SYLLABLES[(rng.next() % SYLLABLES.len() as u64) as usize])
            .collect();
        words.push(word);
    }
    words
}

fn entry(rng: &mut Rng, vocab: &[String]) -> DocText {
    let words: Vec<&str> = (0..3 + rng.next() % 6)
        .map(|_| vocab[rng.zipf(vocab.len())].as_str())
        .collect();
    let title = words.join(" ");
    // 1 to 200 files, most entries a few: 200^(u^3).
    let u = rng.unit();
    let files = (200f64.powf(u * u * u).round() as usize).clamp(1, 200);
    let dir = words.join(".");
    let ext = EXTS[rng.zipf(EXTS.len())];
    let mut paths = Vec::with_capacity(files);
    for i in 0..files {
        let extra = &vocab[rng.zipf(vocab.len())];
        paths.push(vec![dir.clone(), format!("{dir}.{extra}.{i:03}.{ext}")]);
    }
    let mut doc = DocText {
        title,
        size: Some(1 + rng.next() % 8_000_000_000),
        ..DocText::default()
    };
    if rng.next().is_multiple_of(10) {
        doc.description = format!("{} {}", words[0], vocab[rng.zipf(vocab.len())]);
    }
    let mut seen = std::collections::HashSet::new();
    for path in &paths {
        for part in path {
            if seen.insert(part.clone()) {
                if !doc.files.is_empty() {
                    doc.files.push('\n');
                }
                doc.files.push_str(part);
            }
        }
    }
    doc.extensions.push(ext.to_string());
    doc
}

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    f();
    percentiles(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let n: usize = std::env::var("SWARMFEED_SEARCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let peers = std::env::var("SWARMFEED_SEARCH_PEERS").map_or(true, |v| v != "0");
    let tmp = tempfile::tempdir().unwrap();
    let path = std::env::var_os("SWARMFEED_SEARCH_DB")
        .map_or_else(|| tmp.path().join("node.sqlite"), PathBuf::from);
    let kept = path.exists();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    drop(runtime.block_on(Store::open(&path)).unwrap());
    let mut conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    let vocab = vocabulary(60_000);
    if kept {
        let docs: i64 = conn
            .query_row("SELECT count(*) FROM search_docs", [], |r| r.get(0))
            .unwrap();
        println!("{} kept: {docs} entries, not built again", path.display());
    } else {
        build(&mut conn, n, &vocab);
        let size = std::fs::metadata(&path).unwrap().len()
            + std::fs::metadata(path.with_extension("sqlite-wal")).map_or(0, |m| m.len());
        println!("database {:.0} MB", size as f64 / 1e6);
        // The index as it lives: FTS5's automerge, no 'optimize' pass.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")
            .unwrap();
    }
    measure_queries(&conn, &vocab, peers);
    measure_adds(&mut conn, &vocab);
}

const FEEDS: u64 = 1000;

/// Indexes `n` synthetic entries under [`FEEDS`] feeds, in transactions of 20,000.
fn build(conn: &mut Connection, n: usize, vocab: &[String]) {
    let tx = conn.transaction().unwrap();
    for f in 0..FEEDS {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&f.to_le_bytes());
        let key = *feeds::Keypair::from_seed(&seed).public().as_bytes();
        tx.execute(
            "INSERT INTO identities (identity_id, key, first_seen, last_seen)
             VALUES (?1, ?2, 0, 0)",
            rusqlite::params![f + 1, key],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO feeds (feed_id, identity_id, name, updated_at)
             VALUES (?1, ?1, 'feed', 0)",
            [f + 1],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let mut rng = Rng(42);
    let (mut files, mut text) = (0usize, 0usize);
    let started = Instant::now();
    let mut indexing = Duration::ZERO;
    let mut seqs = vec![0u64; FEEDS as usize];
    for batch in (0..n).collect::<Vec<_>>().chunks(20_000) {
        let docs: Vec<DocText> = batch.iter().map(|_| entry(&mut rng, vocab)).collect();
        let begin = Instant::now();
        let tx = conn.transaction().unwrap();
        for doc in &docs {
            // Feeds Zipf-sized too, so one identity holds far more than another.
            let feed = rng.zipf(FEEDS as usize);
            seqs[feed] += 1;
            let time = 1_500_000_000 + (rng.next() % 300_000_000);
            files += doc.files.lines().count();
            text += doc.title.len() + doc.files.len() + doc.description.len();
            index_doc(&tx, feed as i64 + 1, seqs[feed], "post", time, doc).unwrap();
        }
        tx.commit().unwrap();
        indexing += begin.elapsed();
    }
    let build = started.elapsed();
    println!(
        "{n} entries, {:.1} distinct names each, {:.0} MB of text: indexed in {:.1} s \
         ({:.1} s in index_doc, {:.0} us an entry)",
        files as f64 / n as f64,
        text as f64 / 1e6,
        build.as_secs_f64(),
        indexing.as_secs_f64(),
        indexing.as_secs_f64() * 1e6 / n as f64,
    );
}

/// The fixed set of queries, with their labels.
fn queries(vocab: &[String]) -> Vec<(String, SearchQuery)> {
    let top = vocab[0].as_str();
    let rare = vocab[40_000].as_str();
    let substring = &vocab[100][1..vocab[100].len() - 1];
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&2u64.to_le_bytes());
    let identity = feeds::Keypair::from_seed(&seed).public();
    let q = |text: &str| SearchQuery {
        text: text.into(),
        limit: 20,
        ..SearchQuery::default()
    };
    vec![
        (format!("most frequent term {top:?}"), q(top)),
        (format!("rare term {rare:?}"), q(rare)),
        ("prefix \"docu*\"".into(), q("docu*")),
        (format!("file-name substring {substring:?}"), q(substring)),
        ("two characters \"hd\"".into(), q("hd")),
        (
            format!("{top:?} + extension flac"),
            SearchQuery {
                extension: Some("flac".into()),
                ..q(top)
            },
        ),
        (
            format!("{top:?} + size 1-2 GB, newest"),
            SearchQuery {
                min_size: Some(1_000_000_000),
                max_size: Some(2_000_000_000),
                order: SearchOrder::Newest,
                ..q(top)
            },
        ),
        (
            format!("{top:?} + a year"),
            SearchQuery {
                since: Some(1_700_000_000),
                until: Some(1_731_536_000),
                ..q(top)
            },
        ),
        (
            format!("{top:?} + identity #3"),
            SearchQuery {
                identity: Some(identity),
                ..q(top)
            },
        ),
        (
            format!("{top:?} 1080p (two terms)"),
            q(&format!("{top} 1080p")),
        ),
    ]
}

/// The FTS5 table and match expression plain FTS5 would use for `text`.
fn plain_match(text: &str) -> (&'static str, String) {
    if text.chars().count() < 3 || text.ends_with('*') {
        ("search_words", text.to_owned())
    } else {
        let words: Vec<String> = text.split(' ').map(|w| format!("\"{w}\"")).collect();
        ("search_text", words.join(" AND "))
    }
}

/// Each fixed query's p50/p99 over 100 runs, beside the peers (with `peers`).
fn measure_queries(conn: &Connection, vocab: &[String], peers: bool) {
    println!(
        "{:<40} {:>9} {:>8} {:>8} | {:>9} {:>9} {:>7} | {:>9} {:>9}",
        "query",
        "matches",
        "p50 ms",
        "p99 ms",
        "bm25 p50",
        "bm25 p99",
        "ratio",
        "LIKE p50",
        "ratio"
    );
    for (label, query) in &queries(vocab) {
        let (table, expr) = plain_match(&query.text);
        let matches: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE {table} MATCH ?1"),
                [&expr],
                |r| r.get(0),
            )
            .unwrap();
        let hits = search(conn, query).unwrap();
        assert!(!hits.hits.is_empty() || matches == 0, "{label}: no hits");
        let (p50, p99) = time(100, || search(conn, query).unwrap());
        let ranked = if hits.truncated {
            "  (ranked among newest)"
        } else {
            ""
        };
        if !peers {
            println!("{label:<40} {matches:>9} {p50:>8.2} {p99:>8.2}{ranked}");
            continue;
        }
        // Peer 1: plain FTS5, every match ranked by bm25, same match expression.
        let plain = format!(
            "SELECT d.doc_id FROM {table} JOIN search_docs d ON d.doc_id = {table}.rowid
             WHERE {table} MATCH ?1 ORDER BY rank LIMIT 20"
        );
        let mut stmt = conn.prepare(&plain).unwrap();
        let runs = if matches > 100_000 { 10 } else { 30 };
        let (b50, b99) = time(runs, || {
            stmt.query_map([&expr], |r| r.get::<_, i64>(0))
                .unwrap()
                .count()
        });
        // Peer 2: LIKE over titles, newest first (Torrust's index matches titles so).
        let like_term = query.text.split(' ').next().unwrap().trim_end_matches('*');
        let mut like = conn
            .prepare(
                "SELECT doc_id FROM search_docs WHERE title LIKE ?1 ORDER BY time DESC LIMIT 20",
            )
            .unwrap();
        let pattern = format!("%{like_term}%");
        let (l50, _) = time(3, || {
            like.query_map([&pattern], |r| r.get::<_, i64>(0))
                .unwrap()
                .count()
        });
        println!(
            "{label:<40} {matches:>9} {p50:>8.2} {p99:>8.2} | {b50:>9.1} {b99:>9.1} {:>6.0}x | {l50:>9.1} {:>6.0}x{ranked}",
            b99 / p99,
            l50 / p50,
        );
    }
}

/// Adding one entry of 20 files to the full index, each in its own transaction; the
/// entries are taken out again, so a kept database stays as it was built.
fn measure_adds(conn: &mut Connection, vocab: &[String]) {
    let mut rng = Rng(4242);
    let mut adds = Vec::new();
    let mut commits = Vec::new();
    for i in 0..500u64 {
        let mut doc = entry(&mut rng, vocab);
        let dir = doc.title.replace(' ', ".");
        doc.files = std::iter::once(dir.clone())
            .chain((0..20).map(|f| format!("{dir}.{}.{f:02}.mkv", vocab[rng.zipf(vocab.len())])))
            .collect::<Vec<_>>()
            .join("\n");
        let tx = conn.transaction().unwrap();
        let start = Instant::now();
        index_doc(&tx, 1, 10_000_000 + i, "post", 1_800_000_000, &doc).unwrap();
        adds.push(start.elapsed());
        tx.commit().unwrap();
        commits.push(start.elapsed());
    }
    conn.execute(
        "DELETE FROM search_docs WHERE feed_id = 1 AND seq >= 10000000",
        [],
    )
    .unwrap();
    let (a50, a99) = percentiles(adds);
    let (c50, c99) = percentiles(commits);
    println!(
        "add one 20-file entry: index p50 {a50:.3} ms, p99 {a99:.3} ms; \
         with its commit (synchronous=NORMAL, WAL) p50 {c50:.3} ms, p99 {c99:.3} ms"
    );
}
