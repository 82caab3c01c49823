//! A torrent's state as the rest of the node sees it.

use feeds::InfoHash;
use librqbit::{TorrentStats, TorrentStatsState};

/// What a torrent is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TorrentState {
    /// Checking data on disk (`checked_bytes` so far) before going live.
    Checking {
        checked_bytes: u64,
    },
    /// Connected to the swarm: downloading what is missing, uploading what it has.
    Live,
    Paused,
    /// Stopped by an error (message from librqbit).
    Error(String),
}

/// One torrent's progress and traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct TorrentStatus {
    pub infohash: InfoHash,
    pub state: TorrentState,
    /// Bytes verified on disk.
    pub have_bytes: u64,
    pub total_bytes: u64,
    /// Every wanted byte is on disk and verified.
    pub complete: bool,
    /// Peers connected now.
    pub peers: u32,
    /// Peers known (connected or not).
    pub known_peers: u32,
    pub uploaded_bytes: u64,
    /// Bytes received from peers while live (wasted ones included); 0 when not live.
    pub downloaded_bytes: u64,
    /// Bytes per second, averaged by librqbit over the last seconds.
    pub download_rate: f64,
    pub upload_rate: f64,
}

impl TorrentStatus {
    /// Live with every byte: seeding.
    pub fn is_seeding(&self) -> bool {
        self.state == TorrentState::Live && self.complete
    }

    pub(crate) fn from_stats(infohash: InfoHash, stats: &TorrentStats) -> TorrentStatus {
        const MIB: f64 = 1024.0 * 1024.0;
        let state = match stats.state {
            TorrentStatsState::Initializing { .. } => TorrentState::Checking {
                checked_bytes: stats.progress_bytes,
            },
            TorrentStatsState::Live => TorrentState::Live,
            TorrentStatsState::Paused => TorrentState::Paused,
            TorrentStatsState::Error => {
                TorrentState::Error(stats.error.clone().unwrap_or_default())
            }
        };
        let have_bytes = match state {
            TorrentState::Checking { .. } => 0,
            _ => stats.progress_bytes,
        };
        let (peers, known_peers, download_rate, upload_rate) = match &stats.live {
            Some(live) => {
                let p = &live.snapshot.peer_stats;
                (
                    p.live,
                    p.seen,
                    live.download_speed.mbps * MIB,
                    live.upload_speed.mbps * MIB,
                )
            }
            None => (0, 0, 0.0, 0.0),
        };
        TorrentStatus {
            infohash,
            state,
            have_bytes,
            total_bytes: stats.total_bytes,
            complete: stats.finished,
            peers,
            known_peers,
            uploaded_bytes: stats.uploaded_bytes,
            downloaded_bytes: stats.live.as_ref().map_or(0, |l| l.snapshot.fetched_bytes),
            download_rate,
            upload_rate,
        }
    }
}
