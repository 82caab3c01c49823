//! Log output for a busy node: the access log (target [`ACCESS`]) is batched, everything
//! else is written as it comes.
//!
//! Every line goes through `tracing` (format, filter, subscriber). Writing one line per
//! request to stderr cost a `write` per request and made the executor's workers wait on
//! stderr's lock, so [`NodeLogWriter`] gathers access lines in memory and a thread of its
//! own writes them in one `write` every [`FLUSH_EVERY`] (sooner past [`BATCH_BYTES`]);
//! they appear up to that long after their request ended. Any other line first writes the
//! access lines waiting, then itself, so lines stay in order. Past [`MAX_BYTES`] waiting
//! (stderr blocked), access lines are dropped and counted in a line of their own: a request
//! never waits for the log. [`flush`] writes what waits (the server calls it as it stops).

use std::io::Write;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// The access log's target: one line per answered request.
pub const ACCESS: &str = "swarmfeed::access";
/// Waiting access lines are written at least this often.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Waiting bytes that wake the writer thread before [`FLUSH_EVERY`].
pub const BATCH_BYTES: usize = 256 << 10;
/// Most bytes that may wait; access lines past it are dropped and counted.
pub const MAX_BYTES: usize = 32 << 20;

/// A `tracing_subscriber` writer to stderr that batches access lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeLogWriter;

impl<'a> MakeWriter<'a> for NodeLogWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter { batched: false }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LineWriter {
        LineWriter {
            batched: meta.target() == ACCESS,
        }
    }
}

/// Writes one formatted event.
pub struct LineWriter {
    batched: bool,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let batch = batch();
        if self.batched {
            batch.push(buf);
        } else {
            batch.write_through(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes every access line waiting now, on the caller's thread.
pub fn flush() {
    if let Some(batch) = BATCH.get() {
        let _ = batch.write_through(&[]);
    }
}

static BATCH: OnceLock<Batch> = OnceLock::new();

fn batch() -> &'static Batch {
    let mut fresh = false;
    let batch = BATCH.get_or_init(|| {
        fresh = true;
        Batch {
            waiting: Mutex::new(Waiting::default()),
            wake: Condvar::new(),
            out: Mutex::new(Vec::new()),
        }
    });
    if fresh {
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(|| batch.run());
        if let Err(e) = spawned {
            // Lines then wait for the next other line or `flush` (dropped past MAX_BYTES).
            let _ = writeln!(std::io::stderr(), "cannot start the log writer thread: {e}");
        }
    }
    batch
}

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    dropped: u64,
}

struct Batch {
    waiting: Mutex<Waiting>,
    wake: Condvar,
    /// Held while writing to stderr, so batches and other lines go out in order; its
    /// buffer is swapped with the waiting one, so neither side grows a new one per round.
    out: Mutex<Vec<u8>>,
}

impl Batch {
    fn push(&self, line: &[u8]) {
        let Ok(mut waiting) = self.waiting.lock() else {
            return;
        };
        if waiting.bytes.len() + line.len() > MAX_BYTES {
            waiting.dropped += 1;
            return;
        }
        let before = waiting.bytes.len();
        waiting.bytes.extend_from_slice(line);
        if before < BATCH_BYTES && waiting.bytes.len() >= BATCH_BYTES {
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        loop {
            if let Ok(waiting) = self.waiting.lock() {
                let _ = self
                    .wake
                    .wait_timeout_while(waiting, FLUSH_EVERY, |w| w.bytes.len() < BATCH_BYTES);
            }
            let _ = self.write_through(&[]);
        }
    }

    /// Writes the waiting lines, then `line`.
    fn write_through(&self, line: &[u8]) -> std::io::Result<()> {
        let Ok(mut out) = self.out.lock() else {
            return std::io::stderr().write_all(line);
        };
        out.clear();
        let dropped = match self.waiting.lock() {
            Ok(mut waiting) => {
                std::mem::swap(&mut waiting.bytes, &mut out);
                std::mem::take(&mut waiting.dropped)
            }
            Err(_) => 0,
        };
        if dropped > 0 {
            let _ = writeln!(
                out,
                "{dropped} access log lines dropped: stderr did not keep up"
            );
        }
        out.extend_from_slice(line);
        let written = if out.is_empty() {
            Ok(())
        } else {
            std::io::stderr().lock().write_all(&out)
        };
        // Keep a moderate buffer for the next round, not the largest burst's.
        if out.capacity() > 4 * BATCH_BYTES {
            *out = Vec::new();
        }
        written
    }
}
