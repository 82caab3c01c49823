//! Access log: one line per answered request on the target `swarmfeed::access`, written when
//! the answer's body ends or the client goes away: peer, method, path, status, body bytes
//! sent, duration. A transfer cut short shows fewer bytes than the file.
//!
//! The lines look like the node's other log lines (`tracing`'s format, on stderr) and obey
//! the same filter (`SWARMFEED_LOG=info,swarmfeed::access=off` silences them), but they are
//! not written by `tracing`: formatting and writing a line per request on the executor cost
//! about a tenth of a cached page's CPU time, and stderr's lock made the workers wait on
//! each other. A request only pushes a small record (its path shares the request's bytes)
//! onto a queue; a writer thread formats the queue and writes it to stderr in one `write`
//! every [`FLUSH_EVERY`], or sooner when [`BATCH`] records wait. Lines therefore appear up to
//! that long after the answer. When stderr cannot keep up, at most [`MAX_QUEUED`] records
//! wait and the excess is dropped and counted in a line of its own; a request never waits
//! for the log. [`flush`] writes what waits (the server calls it when it stops).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::uri::PathAndQuery;
use axum::http::{Method, Request, StatusCode};

/// The log target.
pub const TARGET: &str = "swarmfeed::access";
/// The writer thread writes at least this often while records wait.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Records that wake the writer before [`FLUSH_EVERY`].
pub const BATCH: usize = 4096;
/// Records that may wait at most; more are dropped and counted.
pub const MAX_QUEUED: usize = 262_144;

/// Whether access lines are wanted now (the `tracing` filter of the process).
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// What a request's line needs from its head, taken before the request is handed on.
pub struct Start {
    start: Instant,
    peer: IpAddr,
    method: Method,
    path: Option<PathAndQuery>,
}

impl Start {
    pub fn new<B>(request: &Request<B>, peer: SocketAddr) -> Start {
        Start {
            start: Instant::now(),
            peer: peer.ip(),
            method: request.method().clone(),
            // Cloning shares the request's bytes: no copy.
            path: request.uri().path_and_query().cloned(),
        }
    }

    /// Logs the request: its answer's status and the body bytes sent.
    pub fn finish(self, status: StatusCode, bytes: u64) {
        queue().push(Line {
            at: SystemTime::now(),
            micros: u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX),
            peer: self.peer,
            method: self.method,
            path: self.path,
            status: status.as_u16(),
            bytes,
        });
    }
}

/// A request waiting to be written.
struct Line {
    at: SystemTime,
    peer: IpAddr,
    method: Method,
    path: Option<PathAndQuery>,
    status: u16,
    bytes: u64,
    micros: u64,
}

/// Writes every record waiting now, on the caller's thread.
pub fn flush() {
    if let Some(queue) = QUEUE.get() {
        queue.write_out();
    }
}

static QUEUE: OnceLock<Queue> = OnceLock::new();

fn queue() -> &'static Queue {
    let mut fresh = false;
    let queue = QUEUE.get_or_init(|| {
        fresh = true;
        Queue {
            state: Mutex::new(Waiting::default()),
            wake: Condvar::new(),
            write: Mutex::new(Writer::default()),
        }
    });
    if fresh {
        let spawned = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(|| queue.run());
        if let Err(e) = spawned {
            // Records then wait for `flush` (and are dropped past MAX_QUEUED).
            tracing::warn!("cannot start the access log writer: {e}");
        }
    }
    queue
}

#[derive(Default)]
struct Waiting {
    lines: Vec<Line>,
    dropped: u64,
}

struct Queue {
    state: Mutex<Waiting>,
    wake: Condvar,
    /// The writer's side, held while formatting and writing, so writes stay in order.
    write: Mutex<Writer>,
}

#[derive(Default)]
struct Writer {
    /// Swapped with the queue's records each round, so neither side grows a new vector.
    spare: Vec<Line>,
    out: Vec<u8>,
    clock: Clock,
}

impl Queue {
    fn push(&self, line: Line) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.lines.len() >= MAX_QUEUED {
            state.dropped += 1;
            return;
        }
        state.lines.push(line);
        if state.lines.len() == BATCH {
            self.wake.notify_one();
        }
    }

    /// The writer thread: waits for a batch or [`FLUSH_EVERY`], then writes.
    fn run(&self) {
        loop {
            if let Ok(state) = self.state.lock() {
                let _ = self
                    .wake
                    .wait_timeout_while(state, FLUSH_EVERY, |s| s.lines.len() < BATCH);
            }
            self.write_out();
        }
    }

    fn write_out(&self) {
        let Ok(mut writer) = self.write.lock() else {
            return;
        };
        let writer = &mut *writer;
        writer.spare.clear();
        let dropped = match self.state.lock() {
            Ok(mut state) => {
                std::mem::swap(&mut state.lines, &mut writer.spare);
                std::mem::take(&mut state.dropped)
            }
            Err(_) => return,
        };
        if writer.spare.is_empty() && dropped == 0 {
            return;
        }
        writer.out.clear();
        for line in &writer.spare {
            format_line(&mut writer.out, &mut writer.clock, line);
        }
        if dropped > 0 {
            let _ = writeln!(
                writer.out,
                "{}  WARN {TARGET}: {dropped} access log lines dropped (stderr too slow)",
                Timestamp(SystemTime::now())
            );
        }
        let _ = std::io::stderr().lock().write_all(&writer.out);
        writer.spare.clear();
        // Keep moderate buffers for the next round, not the largest burst's.
        if writer.out.capacity() > 4 << 20 {
            writer.out = Vec::new();
        }
        if writer.spare.capacity() > 4 * BATCH {
            writer.spare = Vec::new();
        }
    }
}

/// `2026-11-25T06:55:00.272742Z  INFO swarmfeed::access: peer=… method=GET path=/… status=200
/// bytes=5832 micros=12`, as `tracing`'s formatter writes its events.
fn format_line(out: &mut Vec<u8>, clock: &mut Clock, line: &Line) {
    clock.push(out, line.at);
    out.extend_from_slice(b"  INFO ");
    out.extend_from_slice(TARGET.as_bytes());
    out.extend_from_slice(b": peer=");
    match line.peer {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_number(out, u64::from(octet));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
    out.extend_from_slice(b" method=");
    out.extend_from_slice(line.method.as_str().as_bytes());
    out.extend_from_slice(b" path=");
    out.extend_from_slice(
        line.path
            .as_ref()
            .map_or("/", PathAndQuery::as_str)
            .as_bytes(),
    );
    out.extend_from_slice(b" status=");
    push_number(out, u64::from(line.status));
    out.extend_from_slice(b" bytes=");
    push_number(out, line.bytes);
    out.extend_from_slice(b" micros=");
    push_number(out, line.micros);
    out.push(b'\n');
}

fn push_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Timestamps for lines in order: the text up to the second is made once per second.
#[derive(Default)]
struct Clock {
    second: Option<u64>,
    prefix: Vec<u8>,
}

impl Clock {
    fn push(&mut self, out: &mut Vec<u8>, at: SystemTime) {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        if self.second != Some(since.as_secs()) {
            self.second = Some(since.as_secs());
            self.prefix.clear();
            let _ = write!(
                self.prefix,
                "{}",
                Timestamp(UNIX_EPOCH + Duration::from_secs(since.as_secs()))
            );
            // "….000000Z": keep up to the dot.
            self.prefix.truncate(self.prefix.len().saturating_sub(7));
        }
        out.extend_from_slice(&self.prefix);
        let micros = since.subsec_micros();
        let mut digits = [b'0'; 6];
        let mut n = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&digits);
        out.push(b'Z');
    }
}

/// RFC 3339 in UTC with microseconds.
struct Timestamp(SystemTime);

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let days = i64::try_from(secs / 86_400).unwrap_or(0);
        let (year, month, day) = civil_from_days(days);
        let rest = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            rest / 3600,
            rest / 60 % 60,
            rest % 60,
            since.subsec_micros()
        )
    }
}

/// Year, month, day of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let at = |secs: u64, micros: u64| {
            Timestamp(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
                .to_string()
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(at(1_795_588_500, 272_742), "2026-11-25T06:35:00.272742Z");
        assert_eq!(at(4_107_542_399, 999_999), "2100-02-28T23:59:59.999999Z");
    }

    #[test]
    fn a_line_names_peer_method_path_status_bytes_and_duration() {
        let mut out = Vec::new();
        let mut clock = Clock::default();
        let line = |at: u64, peer: IpAddr| Line {
            at: UNIX_EPOCH + Duration::from_micros(at),
            peer,
            method: Method::GET,
            path: None,
            status: 404,
            bytes: 0,
            micros: 0,
        };
        format_line(
            &mut out,
            &mut clock,
            &line(1_500_000, IpAddr::from([10, 0, 0, 255])),
        );
        format_line(
            &mut out,
            &mut clock,
            &line(1_999_999, "::1".parse().unwrap()),
        );
        format_line(
            &mut out,
            &mut clock,
            &line(2_000_001, IpAddr::from([0, 0, 0, 0])),
        );
        assert_eq!(
            String::from_utf8(std::mem::take(&mut out)).unwrap(),
            "1970-01-01T00:00:01.500000Z  INFO swarmfeed::access: peer=10.0.0.255 method=GET \
             path=/ status=404 bytes=0 micros=0\n\
             1970-01-01T00:00:01.999999Z  INFO swarmfeed::access: peer=::1 method=GET \
             path=/ status=404 bytes=0 micros=0\n\
             1970-01-01T00:00:02.000001Z  INFO swarmfeed::access: peer=0.0.0.0 method=GET \
             path=/ status=404 bytes=0 micros=0\n"
        );
        format_line(
            &mut out,
            &mut clock,
            &Line {
                at: UNIX_EPOCH,
                peer: IpAddr::from([127, 0, 0, 1]),
                method: Method::HEAD,
                path: Some(PathAndQuery::from_static("/a/b?page=2")),
                status: 206,
                bytes: 18_446_744_073_709_551_615,
                micros: 15,
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1970-01-01T00:00:00.000000Z  INFO swarmfeed::access: peer=127.0.0.1 method=HEAD \
             path=/a/b?page=2 status=206 bytes=18446744073709551615 micros=15\n"
        );
    }
}
