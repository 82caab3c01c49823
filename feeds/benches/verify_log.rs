//! How close full feed verification gets to raw ed25519 batch verification.
//!
//! Builds one 100,000-entry feed (posts with a 1–3 file content reference and a title), then
//! times, median of several runs each:
//! 1. the floor: the same (message, signature, key) triples through
//!    `ed25519_dalek::verify_batch` in chunks of `BATCH_SIZE` on every core;
//! 2. `decode_and_verify_log` of the raw entries (decode + full verification);
//! 3. `verify_log` of entries decoded beforehand;
//!
//! and prints entries/s and the ratios (2)/(1) and (3)/(1). A parallel decode alone is timed
//! too, to show where the rest of the time goes. The CPU time all threads of the process
//! spent in each case (Linux `schedstat`) is printed beside it: on a loaded machine it shows
//! the work done when wall time mostly shows the wait. Run with
//! `cargo bench -p feeds --bench verify_log`; `VERIFY_LOG_ENTRIES` and `VERIFY_LOG_RUNS`
//! override the feed size and the number of runs.

mod harness;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use feeds::signatures::BATCH_SIZE;
use feeds::{
    ContentRef, Entry, FeedName, FileRef, InfoHash, Keypair, Kind, SignedEntry,
    decode_and_verify_log, verify_log,
};
use harness::{T0, env_or, median};
use rayon::prelude::*;

/// Wall time for the whole feed that full verification should stay under.
const TARGET: Duration = Duration::from_secs(1);
/// Share of the raw batch-verify throughput that full verification should reach.
const TARGET_RATIO: f64 = 0.85;

fn main() {
    let n = env_or("VERIFY_LOG_ENTRIES", 100_000);
    let runs = env_or("VERIFY_LOG_RUNS", 7);
    let author = Keypair::from_seed(&[7; 32]);
    let feed = FeedName::new("bench").unwrap_or_else(|e| panic!("feed name: {e}"));

    let started = Instant::now();
    let entries = build_feed(&author, &feed, n as u64);
    let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
    let bytes: usize = raw.iter().map(Vec::len).sum();
    println!(
        "verify_log: {n} entries, {:.0} bytes each on average, built in {:.2?}; \
         {} threads, batches of {BATCH_SIZE}, median of {runs} runs",
        bytes as f64 / n as f64,
        started.elapsed(),
        rayon::current_num_threads(),
    );

    let messages: Vec<&[u8]> = entries.iter().map(SignedEntry::signed_message).collect();
    let signatures: Vec<Signature> = entries.iter().map(|e| *e.signature()).collect();
    let keys: Vec<VerifyingKey> = entries
        .iter()
        .map(|e| *e.signer().verifying_key())
        .collect();

    // Runs alternate between the cases, so load from elsewhere on the machine spreads
    // over all of them instead of skewing one.
    let mut floor = Vec::new();
    let mut decode_only = Vec::new();
    let mut full = Vec::new();
    let mut predecoded = Vec::new();
    let first_timed = CPU.with(|c| c.borrow().len());
    for _ in 0..runs.max(1) {
        floor.push(time_floor(&messages, &signatures, &keys));
        decode_only.push(time_decode(&raw));
        full.push(time(
            raw.clone(),
            |raw| decode_and_verify_log(&author.public(), &feed, raw, None),
            |log| log.is_ok_and(|l| l.entries.len() == n),
        ));
        predecoded.push(time(
            entries.clone(),
            |entries| verify_log(&author.public(), &feed, entries, None),
            |log| log.is_ok_and(|l| l.entries.len() == n),
        ));
    }
    let [floor, decode_only, full, predecoded] = [floor, decode_only, full, predecoded].map(median);
    // Four timed cases per run, in the order above.
    let cpu = [0, 1, 2, 3].map(|case| cpu_times(first_timed, 4, case).map(median));

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let per_core =
        |d: Duration| d.as_secs_f64() * 1e6 * rayon::current_num_threads() as f64 / n as f64;
    let cpu_floor = cpu[0];
    let line = |name: &str, d: Duration, cpu: Option<Duration>| {
        let cpu = match (cpu, cpu_floor) {
            (Some(c), Some(f)) => format!(
                "  cpu {:>7.2?} ratio {:.3}",
                c,
                f.as_secs_f64() / c.as_secs_f64()
            ),
            _ => String::new(),
        };
        println!(
            "{name:<44} {:>9.2?}  {:>9.0} entries/s  {:>5.1} µs/entry/core  ratio {:.3}{cpu}",
            d,
            rate(d),
            per_core(d),
            rate(d) / rate(floor),
        );
    };
    line("(1) ed25519_dalek::verify_batch (floor)", floor, cpu[0]);
    line("    parallel SignedEntry::decode only", decode_only, cpu[1]);
    line("(2) decode_and_verify_log", full, cpu[2]);
    line("(3) verify_log (pre-decoded)", predecoded, cpu[3]);
    let ratio = rate(full) / rate(floor);
    println!(
        "decode_and_verify_log: {:.2?} for {n} entries (target < {TARGET:?}: {}), \
         ratio (2)/(1) {ratio:.3} (target >= {TARGET_RATIO}: {}), ratio (3)/(1) {:.3}",
        full,
        verdict(full * 100_000 / n as u32 <= TARGET),
        verdict(ratio >= TARGET_RATIO),
        rate(predecoded) / rate(floor),
    );
}

/// A valid chain of `n` posts; signing is sequential because each entry hashes the last.
fn build_feed(author: &Keypair, feed: &FeedName, n: u64) -> Vec<SignedEntry> {
    let mut entries: Vec<SignedEntry> = Vec::with_capacity(n as usize);
    for seq in 1..=n {
        let files: Vec<FileRef> = (0..1 + seq % 3)
            .map(|i| FileRef {
                path: vec!["media".into(), format!("part-{seq}-{i}.ogg")],
                length: 1_000 + seq * 7 + i,
                blake3: [(seq + i) as u8; 32],
            })
            .collect();
        let entry = Entry {
            author: author.public(),
            feed: feed.clone(),
            seq,
            prev: entries.last().map(SignedEntry::hash),
            time: T0 + seq * 60,
            kind: Kind::Post,
            content: Some(ContentRef {
                infohash: InfoHash([(seq % 251) as u8; 20]),
                name: format!("episode-{seq}"),
                size: files.iter().map(|f| f.length).sum(),
                files,
            }),
            meta: BTreeMap::from([("title".to_string(), format!("Episode {seq} of the bench"))]),
            delegation: Vec::new(),
            member: None,
        };
        let signed = entry
            .sign(author)
            .unwrap_or_else(|e| panic!("entry {seq} signs: {e}"));
        entries.push(signed);
    }
    entries
}

/// Times `run` on `input`; the input is prepared, and the output checked and dropped,
/// outside the clock.
fn time<T, R>(input: T, run: impl FnOnce(T) -> R, check: impl FnOnce(R) -> bool) -> Duration {
    let cpu = cpu_time();
    let started = Instant::now();
    let output = run(input);
    let elapsed = started.elapsed();
    let cpu = cpu_time()
        .zip(cpu)
        .map(|(after, before)| after.saturating_sub(before));
    assert!(check(output), "the bench feed verifies");
    CPU.with(|c| c.borrow_mut().push(cpu));
    elapsed
}

thread_local! {
    /// CPU time of each [`time`] call, in call order.
    static CPU: std::cell::RefCell<Vec<Option<Duration>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// CPU time so far of all threads of this process, from `/proc/self/task/*/schedstat`
/// (nanoseconds on the CPU); `None` where that does not exist.
fn cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// The CPU times recorded since `from`, every `stride`-th one starting at `offset`.
fn cpu_times(from: usize, stride: usize, offset: usize) -> Option<Vec<Duration>> {
    CPU.with(|c| {
        c.borrow()[from..]
            .iter()
            .skip(offset)
            .step_by(stride)
            .copied()
            .collect()
    })
}

fn time_floor(messages: &[&[u8]], signatures: &[Signature], keys: &[VerifyingKey]) -> Duration {
    let batches = || {
        messages
            .par_chunks(BATCH_SIZE)
            .zip(signatures.par_chunks(BATCH_SIZE))
            .zip(keys.par_chunks(BATCH_SIZE))
    };
    time(
        (),
        |()| batches().all(|((m, s), k)| ed25519_dalek::verify_batch(m, s, k).is_ok()),
        |ok| ok,
    )
}

fn time_decode(raw: &[Vec<u8>]) -> Duration {
    time(
        raw.to_vec(),
        |raw| {
            raw.into_par_iter()
                .map(SignedEntry::decode)
                .collect::<Result<Vec<_>, _>>()
        },
        |decoded| decoded.is_ok_and(|d| d.len() == raw.len()),
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}
