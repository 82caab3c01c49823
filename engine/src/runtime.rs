//! The tokio runtime an engine runs best on.
//!
//! librqbit reads every 16 KiB chunk it uploads inside `tokio::task::block_in_place`, which
//! hands the worker's core to a thread of the runtime's blocking pool for the duration. With
//! tokio's default pool (up to 512 threads) those hand-offs keep waking idle pool threads:
//! measured on the node seeding 1 GiB to libtorrent on loopback, 294,000 context switches
//! and 2.0 s of CPU, against 18,000 and 1.2 s for stock `rqbit`, whose runtime allows 8
//! blocking threads. A small pool makes a hand-off mostly free (the blocked thread takes its
//! core back), so the node's runtime caps it: the engine's blocking permits
//! ([`EngineConfig::blocking_threads`]) plus a few for `tokio::fs` and DNS.

use super::EngineConfig;

/// Blocking threads beyond the engine's own permits, for other `spawn_blocking` work.
const SPARE_BLOCKING_THREADS: usize = 8;

/// A multi-threaded runtime (all drivers on) with a blocking pool sized for an engine with
/// the default [`EngineConfig::blocking_threads`].
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(EngineConfig::default().blocking_threads + SPARE_BLOCKING_THREADS)
        .build()
}

/// Raises this process's open-file limit towards its hard limit (up to 1,048,576), for
/// peer connections, HTTP clients and the engine's open torrent files (bounded by
/// [`EngineConfig::max_open_files`], whose default is sized from this limit: raise it
/// before starting the engine). Returns the limit now in force.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    librqbit::try_increase_nofile_limit().map_err(std::io::Error::other)
}
