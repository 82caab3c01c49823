//! Content integrity over time: the start check of published files (before the engine
//! opens anything) and the background scrub that re-hashes everything the node holds.
//!
//! - At start, every published file is `stat`ed against the stamp recorded when it was last
//!   verified; only files whose length, mtime, ctime or inode moved are re-hashed (BLAKE3),
//!   and a file that changed is reported and never reaches the engine.
//! - While running, every `check_secs` the same `stat` check runs again (an edit is caught
//!   within seconds), and every torrent whose last full verification is older than
//!   `interval_secs` is re-hashed whole, oldest first, at no more than `rate` bytes per
//!   second. `last verified` is kept per torrent in the store.
//! - A mismatch stops the torrent: published content is reported like a changed file
//!   (410 `content_unavailable`, out of the engine); followed content is re-checked piece
//!   by piece by the engine and the bad pieces downloaded again, then BLAKE3-verified as
//!   after any download. Each mismatch counts in `/metrics` (`swarmfeed_verify_failures`).

use std::time::{Duration, Instant};

use feeds::InfoHash;
use serde::{Deserialize, Serialize};

use super::integrity::{self, RateLimiter, Verdict};
use super::{NodeHandle, Result, content, own};
use store::{Origin, StoredTorrent, TorrentState, unix_now};

/// The `[scrub]` table: how the node re-verifies what it holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ScrubConfig {
    /// Seconds after which a torrent is re-hashed whole again [default: 30 days].
    pub interval_secs: u64,
    /// Bytes per second the scrub reads at most (0: no scrub, no checks while running).
    pub rate: u64,
    /// Seconds between `stat` checks of published files (edits caught without a re-hash).
    pub check_secs: u64,
}

impl Default for ScrubConfig {
    fn default() -> Self {
        ScrubConfig {
            interval_secs: 30 * 24 * 3600,
            rate: 8 << 20,
            check_secs: 60,
        }
    }
}

/// What the start check found among published torrents.
#[derive(Debug, Default)]
pub struct StartCheck {
    /// Changed for certain, with what changed: reported, never opened.
    pub changed: Vec<(InfoHash, String)>,
    /// Touched on disk but byte-identical: seeded again through read-only storage.
    pub reverified: Vec<InfoHash>,
}

impl StartCheck {
    /// Torrents to take out of the engine's saved session before it starts.
    pub fn forget(&self) -> Vec<String> {
        self.changed
            .iter()
            .map(|(ih, _)| ih)
            .chain(&self.reverified)
            .map(ToString::to_string)
            .collect()
    }
}

/// Checks every published torrent before the engine starts: a `stat` per file, a BLAKE3
/// pass only over files whose stamp moved.
pub async fn check_at_start(store: &store::Store, data: &data_dir::DataDir) -> Result<StartCheck> {
    let started = Instant::now();
    let mut check = StartCheck::default();
    let (mut torrents, mut rehashed, mut bytes) = (0usize, 0usize, 0u64);
    let mut pages = store.torrent_pages(500, false);
    while let Some(page) = pages.next().await? {
        let published: Vec<InfoHash> = page
            .into_iter()
            .filter(|t| matches!(t.origin, Origin::Published { .. }) && t.state.error.is_none())
            .map(|t| t.infohash)
            .collect();
        torrents += published.len();
        let data = data.clone();
        let verdicts = tokio::task::spawn_blocking(move || {
            let mut limiter = RateLimiter::unlimited();
            published
                .into_iter()
                .filter_map(|infohash| {
                    let mut record = integrity::read_record(&data, &infohash)?;
                    let verdict =
                        integrity::check_published(&data, &mut record, false, &mut limiter);
                    Some((infohash, verdict))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| super::Error::Fetch(format!("start check stopped: {e}")))?;
        for (infohash, verdict) in verdicts {
            match verdict {
                Verdict::Untouched | Verdict::Interrupted => {}
                Verdict::Reverified { files, bytes: b } => {
                    tracing::info!(%infohash, files, "published files touched on disk, BLAKE3 unchanged: seeded again");
                    (rehashed, bytes) = (rehashed + files, bytes + b);
                    check.reverified.push(infohash);
                }
                Verdict::Changed(why) => check.changed.push((infohash, why)),
            }
        }
    }
    tracing::info!(
        torrents,
        rehashed_files = rehashed,
        rehashed_bytes = bytes,
        changed = check.changed.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "published content checked at start"
    );
    Ok(check)
}

/// Seeds again published torrents the start check re-verified (after the engine started).
pub async fn reseed(node: &NodeHandle, infohashes: Vec<InfoHash>) {
    for infohash in infohashes {
        let data = node.data.clone();
        let Some(record) = integrity::read_record(&data, &infohash) else {
            continue;
        };
        let torrent = match own::read_torrent(data.torrent_path(&infohash)).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(%infohash, "published .torrent unreadable: {e}");
                continue;
            }
        };
        match node.engine.seed_existing(&torrent, &record.root).await {
            Ok(_) => mark_verified(node, &infohash).await,
            Err(e) => {
                own::refuse_all(node, vec![(infohash, format!("cannot seed: {e}"))]).await;
            }
        }
    }
}

/// Re-verifies what the node holds, forever (see the module's documentation).
pub async fn scrub_loop(node: NodeHandle) {
    let config = node.config.scrub.clone();
    if config.rate == 0 {
        tracing::info!("content scrub is off (scrub.rate = 0)");
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(config.check_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = node.cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = scrub_round(&node, &config).await {
            tracing::warn!("scrub round failed: {e}");
        }
    }
}

async fn scrub_round(node: &NodeHandle, config: &ScrubConfig) -> Result<()> {
    let now = unix_now();
    let mut watch = Vec::new();
    let mut due = Vec::new();
    let mut pages = node.store.torrent_pages(1000, false);
    while let Some(page) = pages.next().await? {
        for torrent in page {
            if torrent.state.error.is_some() || !torrent.state.complete {
                continue;
            }
            let age = torrent
                .state
                .last_verified
                .map_or(u64::MAX, |at| now.saturating_sub(at));
            if age >= config.interval_secs {
                due.push(torrent);
            } else if matches!(torrent.origin, Origin::Published { .. }) {
                watch.push(torrent);
            }
        }
    }
    // Cheap stat checks first, so an edit is caught before a long re-hash of something else.
    for torrent in watch {
        if node.cancel.is_cancelled() {
            return Ok(());
        }
        verify_published(node, &torrent, false, config.rate).await;
    }
    due.sort_by_key(|t| t.state.last_verified);
    for torrent in due {
        if node.cancel.is_cancelled() {
            return Ok(());
        }
        match torrent.origin {
            Origin::Published { .. } => verify_published(node, &torrent, true, config.rate).await,
            Origin::Followed => verify_followed(node, &torrent, config.rate).await,
        }
        node.metrics.count_scrub_verification();
    }
    Ok(())
}

async fn verify_published(node: &NodeHandle, torrent: &StoredTorrent, full: bool, rate: u64) {
    let infohash = torrent.infohash;
    let data = node.data.clone();
    let limiter = RateLimiter::new(rate).with_cancel(node.cancel.clone());
    let verdict = tokio::task::spawn_blocking(move || {
        let mut limiter = limiter;
        let mut record = integrity::read_record(&data, &infohash)?;
        Some(integrity::check_published(
            &data,
            &mut record,
            full,
            &mut limiter,
        ))
    })
    .await
    .ok()
    .flatten();
    match verdict {
        None => tracing::warn!(%infohash, "published content has no readable record"),
        Some(Verdict::Interrupted) => {}
        Some(Verdict::Untouched) if !full => {}
        Some(Verdict::Untouched | Verdict::Reverified { .. }) => {
            mark_verified(node, &infohash).await
        }
        Some(Verdict::Changed(why)) => {
            node.metrics.count_verify_failure();
            own::refuse_all(node, vec![(infohash, why)]).await;
        }
    }
}

/// Re-hashes a complete download; on a mismatch, lets the engine re-check it piece by piece
/// and fetch the bad pieces again.
async fn verify_followed(node: &NodeHandle, torrent: &StoredTorrent, rate: u64) {
    let infohash = torrent.infohash;
    let Ok(files) = node.store.torrent_files(&infohash).await else {
        return;
    };
    let dir = node.config.download_dir().join(infohash.to_string());
    let single = files.len() == 1 && files[0].path == torrent.name;
    let jobs: Vec<_> = files
        .iter()
        .map(|file| {
            let path = if single {
                dir.join(&torrent.name)
            } else {
                dir.join(&torrent.name).join(&file.path)
            };
            (path, file.blake3)
        })
        .collect();
    let limiter = RateLimiter::new(rate).with_cancel(node.cancel.clone());
    let bad = tokio::task::spawn_blocking(move || {
        let mut limiter = limiter;
        for (path, expected) in jobs {
            match integrity::hash_file(&path, &mut limiter) {
                Ok(hash) if Some(hash) == expected => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(None),
                Ok(_) => {
                    return Ok(Some(format!(
                        "{} does not match its BLAKE3",
                        path.display()
                    )));
                }
                Err(e) => return Ok(Some(format!("{} cannot be read: {e}", path.display()))),
            }
        }
        Ok::<_, ()>(None)
    })
    .await;
    match bad {
        Ok(Ok(None)) if !node.cancel.is_cancelled() => mark_verified(node, &infohash).await,
        Ok(Ok(Some(why))) => {
            node.metrics.count_verify_failure();
            tracing::error!(%infohash, "downloaded content corrupted on disk, repairing from the swarm: {why}");
            repair_followed(node, torrent).await;
        }
        _ => {}
    }
}

/// Takes a corrupted download out of the engine (its fastresume bitfield goes with it) and
/// adds it again: librqbit then checks every piece and downloads the bad ones; the content
/// loop BLAKE3-verifies the files once it is complete, as after any download.
async fn repair_followed(node: &NodeHandle, torrent: &StoredTorrent) {
    let infohash = torrent.infohash;
    node.dht.forget_announced(infohash.0);
    if let Err(e) = node.engine.remove(&infohash, false).await {
        tracing::warn!(%infohash, "cannot take the corrupted download out of the engine: {e}");
    }
    let state = TorrentState {
        complete: false,
        have_bytes: 0,
        last_verified: None,
        error: None,
    };
    content::record_state(node, &infohash, state).await;
    content::start_download(node, infohash, Some(torrent.name.clone())).await;
}

async fn mark_verified(node: &NodeHandle, infohash: &InfoHash) {
    let Ok(Some(torrent)) = node.store.torrent(infohash).await else {
        return;
    };
    if torrent.state.error.is_some() {
        return;
    }
    let state = TorrentState {
        complete: true,
        have_bytes: torrent.total_size,
        last_verified: Some(unix_now()),
        error: None,
    };
    content::record_state(node, infohash, state).await;
}
