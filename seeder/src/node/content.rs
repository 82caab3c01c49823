//! Followed content: admitting it under the disk caps, adding it to the engine, feeding
//! downloads peers from the DHT, and checking every finished file against the BLAKE3 hash
//! its entry names.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use feeds::metainfo::FileLayout;
use feeds::{InfoHash, Metainfo};

use super::replicate::announce;
use super::{NodeHandle, fetch};
use engine::TorrentSource;
use store::{Admission, Caps, Origin, StoredFile, TorrentState, unix_now};

/// How long a magnet link may wait for its metadata before the download is tried again.
const METADATA_TIMEOUT: Duration = Duration::from_secs(120);
/// The same when no peer was known to start with: the retry (every [`RETRY_ROUNDS`] rounds)
/// asks the DHT again, which by then often knows the publisher. Waiting the full
/// [`METADATA_TIMEOUT`] held such a download back two minutes (seen: a follow made while the
/// publisher's announce had not reached the DHT yet).
const METADATA_TIMEOUT_WITHOUT_PEERS: Duration = Duration::from_secs(15);

/// Rounds of the content loop (2 s each) between tries of a reserved download that is not
/// in the engine (its magnet found no peer with the metadata).
const RETRY_ROUNDS: u64 = 10;

/// A download without peers asks the DHT again after this, doubling up to [`LOOKUP_EVERY`]:
/// its publisher may have announced it a moment after the first lookup.
const LOOKUP_SOON: Duration = Duration::from_secs(2);
/// How often a download asks the DHT for more peers.
const LOOKUP_EVERY: Duration = Duration::from_secs(30);
/// Most DHT peer lookups running at once.
const MAX_LOOKUPS: usize = 8;

/// The node's own caps on followed content (`[limits]`).
pub(super) fn node_caps(node: &NodeHandle) -> Caps {
    Caps {
        max_bytes: node.config.limits.max_bytes,
        max_files: node.config.limits.max_files,
    }
}

/// Reserves a followed torrent's full size under the disk caps, then downloads it; one that
/// does not fit waits (its reason is stored and shown by `follows`).
pub(super) async fn admit_and_start(node: &NodeHandle, infohash: InfoHash, name: Option<String>) {
    match node.store.reserve(&infohash, node_caps(node)).await {
        Ok(admission) if admission.admitted() => start_download(node, infohash, name).await,
        Ok(Admission::OverLimit(reason)) => {
            tracing::info!(%infohash, "not downloaded, over a disk cap: {reason}")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(%infohash, "cannot reserve disk space: {e}"),
    }
}

/// Asks the content loop to reconsider torrents waiting over a cap (caps changed, space
/// released).
pub(crate) fn recheck_caps(node: &NodeHandle) {
    node.recheck_caps.store(true, Ordering::Relaxed);
}

/// Admits waiting torrents, oldest first, and starts those that now fit.
async fn admit_waiting(node: &NodeHandle) {
    match node.store.admit_waiting(node_caps(node), 1000).await {
        Ok(reserved) => {
            for infohash in reserved {
                tracing::info!(%infohash, "fits the disk caps now");
                start_download(node, infohash, None).await;
            }
        }
        Err(e) => {
            tracing::warn!("cannot reconsider torrents over the disk caps: {e}");
            // A release is still owed: try again on the next round rather than at the
            // next change of caps.
            if !node.store.owed_releases().is_empty() {
                recheck_caps(node);
            }
        }
    }
}

/// Gives back a torrent's reservation (its files are gone, or were never written); whether
/// it held one. A failed write is tried again a few times; after that the store owes the
/// release and the cap recheck asked for here makes it, so the space is not lost until a
/// restart.
pub(super) async fn release_reservation(node: &NodeHandle, infohash: &InfoHash) -> bool {
    let mut pause = Duration::from_millis(100);
    for attempt in 1..=RELEASE_ATTEMPTS {
        match node.store.release(infohash).await {
            Ok(released) => return released,
            Err(e) if attempt == RELEASE_ATTEMPTS => {
                tracing::warn!(%infohash, "cannot release the disk space reserved for it, the next cap recheck will: {e}");
                recheck_caps(node);
            }
            Err(e) => {
                tracing::debug!(%infohash, attempt, "cannot release the disk space reserved for it: {e}");
                tokio::time::sleep(pause).await;
                pause *= 4;
            }
        }
    }
    false
}

/// How often [`release_reservation`] tries before leaving the release to the cap recheck.
const RELEASE_ATTEMPTS: u32 = 3;

/// Records a torrent's state; a failure is logged (the state is recomputed by the next
/// check of the torrent: a download's verification, the scrub).
pub(super) async fn record_state(node: &NodeHandle, infohash: &InfoHash, state: TorrentState) {
    if let Err(e) = node.store.set_torrent_state(infohash, state).await {
        tracing::warn!(%infohash, "cannot record the state of the torrent: {e}");
    }
}

/// Adds a reserved followed torrent to the engine (background: a magnet waits for peers).
/// The torrent's files must be exactly those its entry names (the size reserved): a magnet
/// link's metadata is fetched and checked first, and nothing is written before.
pub(super) async fn start_download(node: &NodeHandle, infohash: InfoHash, name: Option<String>) {
    if !node.downloads.begin(infohash) {
        return;
    }
    let node = node.clone();
    tokio::spawn(async move {
        // A node that served the .torrent and seeds it is a peer at once; the DHT is asked
        // when there is none (and by the content loop's lookups in any case).
        let mut peers = node.downloads.take_hints(infohash);
        if peers.is_empty() {
            peers = fetch::swarm_peers(&node.fetcher(), infohash).await;
        }
        let peer_count = peers.len();
        match torrent_bytes(&node, infohash, name, &peers).await {
            Ok(bytes) => {
                let dir = node.config.download_dir().join(infohash.to_string());
                let source = TorrentSource::Torrent(bytes);
                match node.engine.download(source, Some(&dir), peers).await {
                    Ok(_) => tracing::debug!(%infohash, peers = peer_count, "download started"),
                    Err(e) => tracing::warn!(%infohash, "cannot start download: {e}"),
                }
            }
            Err(Refusal::Later(e)) => tracing::debug!(%infohash, "download not started: {e}"),
            Err(Refusal::Mismatch(e)) => {
                tracing::error!(%infohash, "{e}");
                let state = TorrentState {
                    error: Some(e),
                    ..TorrentState::default()
                };
                record_state(&node, &infohash, state).await;
                // Nothing was written: the space reserved for it is free.
                if release_reservation(&node, &infohash).await {
                    recheck_caps(&node);
                }
            }
        }
        node.downloads.end(&infohash);
    });
}

enum Refusal {
    /// Not now (no metadata yet): the content loop tries again.
    Later(String),
    /// The torrent is not what its entry names: never downloaded.
    Mismatch(String),
}

/// The .torrent of a followed torrent, checked against the files its entry names.
async fn torrent_bytes(
    node: &NodeHandle,
    infohash: InfoHash,
    name: Option<String>,
    peers: &[std::net::SocketAddr],
) -> Result<Vec<u8>, Refusal> {
    let bytes = match node.store.torrent_file(&infohash).await {
        Ok(Some(bytes)) => bytes,
        _ => {
            let name = name
                .map(|n| format!("&dn={}", percent(&n)))
                .unwrap_or_default();
            let link = format!("magnet:?xt=urn:btih:{infohash}{name}");
            let limit = if peers.is_empty() {
                METADATA_TIMEOUT_WITHOUT_PEERS
            } else {
                METADATA_TIMEOUT
            };
            let resolved =
                tokio::time::timeout(limit, node.engine.resolve_magnet(&link, peers)).await;
            match resolved {
                Ok(Ok((bytes, _))) => bytes,
                Ok(Err(e)) => return Err(Refusal::Later(e.to_string())),
                Err(_) => {
                    return Err(Refusal::Later(format!("no metadata within {limit:?}")));
                }
            }
        }
    };
    let metainfo = Metainfo::decode(&bytes)
        .map_err(|e| Refusal::Mismatch(format!("the .torrent does not decode: {e}")))?;
    if metainfo.infohash() != infohash {
        return Err(Refusal::Mismatch(
            "the .torrent has another infohash".into(),
        ));
    }
    let torrent = match node.store.torrent(&infohash).await {
        Ok(Some(torrent)) => torrent,
        _ => return Err(Refusal::Later("the torrent is not in the store".into())),
    };
    let files = node
        .store
        .torrent_files(&infohash)
        .await
        .map_err(|e| Refusal::Later(e.to_string()))?;
    if !matches_entry(&metainfo.info, &torrent.name, torrent.total_size, &files) {
        return Err(Refusal::Mismatch(
            "the torrent's files are not those its entry names (sizes or paths differ)".into(),
        ));
    }
    Ok(bytes)
}

/// Whether a torrent's info names exactly the files (paths and lengths) of its entry, so
/// that downloading it writes exactly the bytes reserved.
fn matches_entry(info: &feeds::Info, name: &str, total: u64, files: &[StoredFile]) -> bool {
    if info.name != name {
        return false;
    }
    let listed: Vec<(String, u64)> = match &info.files {
        FileLayout::Single { length } => vec![(info.name.clone(), *length)],
        FileLayout::Multi { files } => files.iter().map(|f| (f.path.join("/"), f.length)).collect(),
    };
    let sum: u64 = listed.iter().map(|(_, len)| *len).sum();
    if sum != total {
        return false;
    }
    files.is_empty()
        || (listed.len() == files.len()
            && listed
                .iter()
                .zip(files)
                .all(|((path, len), f)| *path == f.path && *len == f.length))
}

/// Followed downloads about to start: peers known for them before they do (the nodes that
/// served their .torrent and seed them, taken by [`start_download`]), and those being added
/// right now (a magnet add can take a while). One per node.
#[derive(Default)]
pub(super) struct Downloads {
    hints: Mutex<HashMap<InfoHash, Vec<SocketAddr>>>,
    in_flight: Mutex<HashSet<InfoHash>>,
}

/// Most torrents with peer hints waiting for their download (one over a disk cap may wait
/// long; its hints then go, and the DHT finds peers when it starts).
const MAX_HINTED: usize = 4096;

impl Downloads {
    /// Notes that `peer` seeds `infohash`, for when its download starts.
    pub(super) fn hint_peer(&self, infohash: InfoHash, peer: SocketAddr) {
        if let Ok(mut hints) = self.hints.lock() {
            if hints.len() >= MAX_HINTED && !hints.contains_key(&infohash) {
                hints.clear();
            }
            let peers = hints.entry(infohash).or_default();
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
    }

    fn take_hints(&self, infohash: InfoHash) -> Vec<SocketAddr> {
        self.hints
            .lock()
            .ok()
            .and_then(|mut hints| hints.remove(&infohash))
            .unwrap_or_default()
    }

    /// Whether `infohash` was not being added already (it is now).
    fn begin(&self, infohash: InfoHash) -> bool {
        self.in_flight
            .lock()
            .is_ok_and(|mut set| set.insert(infohash))
    }

    fn end(&self, infohash: &InfoHash) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(infohash);
        }
    }
}

/// Watches followed downloads: feeds them DHT peers, verifies each finished file's BLAKE3
/// against its entry, and records the result.
pub async fn content_loop(node: NodeHandle) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut rounds: u64 = 0;
    let mut lookups = PeerLookups::default();
    loop {
        tokio::select! {
            _ = node.cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        rounds += 1;
        if node.recheck_caps.swap(false, Ordering::Relaxed) {
            admit_waiting(&node).await;
        }
        // Every incomplete torrent, a page at a time (torrents waiting over a cap are
        // incomplete too, and must not hide downloads behind them).
        let mut pages = node.store.torrent_pages(1000, true);
        while let Ok(Some(page)) = pages.next().await {
            for torrent in page {
                watch(&node, &torrent, rounds, &mut lookups).await;
            }
        }
        lookups.end_round();
    }
}

/// One round of watching a followed download.
async fn watch(
    node: &NodeHandle,
    torrent: &store::StoredTorrent,
    rounds: u64,
    lookups: &mut PeerLookups,
) {
    if torrent.origin != Origin::Followed || torrent.state.error.is_some() {
        return;
    }
    // Not in the engine: waiting over a cap, its metadata still being fetched, or its
    // metadata fetch failed (no peer had it yet): a reserved one is tried again.
    let Ok(status) = node.engine.stats(&torrent.infohash) else {
        if rounds.is_multiple_of(RETRY_ROUNDS)
            && matches!(node.store.is_reserved(&torrent.infohash).await, Ok(true))
        {
            start_download(node, torrent.infohash, Some(torrent.name.clone())).await;
        }
        return;
    };
    if rounds % 5 == 1 {
        tracing::debug!(infohash = %torrent.infohash, have = status.have_bytes, total = status.total_bytes, peers = status.peers, state = ?status.state, "downloading");
    }
    if status.complete {
        verify_download(node, torrent.infohash).await;
    } else {
        lookups.ask_if_due(node, torrent.infohash, status.peers);
    }
}

/// When each running download next asks the DHT for peers. A download with no peer asks
/// again soon ([`LOOKUP_SOON`], doubling), one with peers every [`LOOKUP_EVERY`]. Lookups
/// run in the background, at most [`MAX_LOOKUPS`] at once, so a slow one (a DHT node that
/// never answers) holds up neither the loop nor the other downloads.
struct PeerLookups {
    /// Per download: when it asks next, and the wait after that.
    due: HashMap<InfoHash, (Instant, Duration)>,
    /// Downloads seen this round (the others are forgotten at its end).
    seen: HashSet<InfoHash>,
    running: Arc<Semaphore>,
}

impl Default for PeerLookups {
    fn default() -> Self {
        PeerLookups {
            due: HashMap::new(),
            seen: HashSet::new(),
            running: Arc::new(Semaphore::new(MAX_LOOKUPS)),
        }
    }
}

impl PeerLookups {
    fn ask_if_due(&mut self, node: &NodeHandle, infohash: InfoHash, connected: u32) {
        self.seen.insert(infohash);
        let now = Instant::now();
        // Just added: the add itself asked the DHT a moment ago.
        let (at, wait) = self
            .due
            .entry(infohash)
            .or_insert((now + LOOKUP_SOON, LOOKUP_SOON));
        if now < *at {
            return;
        }
        let Ok(permit) = self.running.clone().try_acquire_owned() else {
            return;
        };
        *wait = if connected > 0 {
            LOOKUP_EVERY
        } else {
            (*wait * 2).min(LOOKUP_EVERY)
        };
        *at = now + *wait;
        let node = node.clone();
        tokio::spawn(async move {
            let peers = fetch::swarm_peers(&node.fetcher(), infohash).await;
            tracing::debug!(%infohash, found = peers.len(), "peers from the DHT");
            let _ = node.engine.add_peers(&infohash, &peers);
            drop(permit);
        });
    }

    fn end_round(&mut self) {
        let seen = std::mem::take(&mut self.seen);
        self.due.retain(|infohash, _| seen.contains(infohash));
    }
}

/// Checks every file of a finished download against the BLAKE3 its entry names.
async fn verify_download(node: &NodeHandle, infohash: InfoHash) {
    let Ok(files) = node.store.torrent_files(&infohash).await else {
        return;
    };
    let Ok(Some(torrent)) = node.store.torrent(&infohash).await else {
        return;
    };
    let dir = node.config.download_dir().join(infohash.to_string());
    let single = files.len() == 1 && files[0].path == torrent.name;
    let mut all_good = true;
    for file in &files {
        let path = if single {
            dir.join(&torrent.name)
        } else {
            dir.join(&torrent.name).join(&file.path)
        };
        let expected = file.blake3;
        let good = tokio::task::spawn_blocking(move || {
            hash_file(&path).is_ok_and(|h| Some(h) == expected)
        })
        .await
        .unwrap_or(false);
        if let Err(e) = node
            .store
            .set_file_verified(&infohash, file.index, good)
            .await
        {
            tracing::warn!(%infohash, file = file.index, "cannot record the file's verification: {e}");
        }
        all_good &= good;
    }
    if !torrent.has_metainfo {
        // Fetched by magnet: keep a .torrent too, so this node can serve it like the publisher.
        let rebuilt = node.engine.info_bytes(&infohash).ok().and_then(|info| {
            let info = feeds::Info::decode(&info).ok()?;
            Some(Metainfo {
                info,
                trackers: Vec::new(),
                webseeds: Vec::new(),
            })
        });
        if let Some(metainfo) = rebuilt.filter(|m| m.infohash() == infohash) {
            // Without it the node serves no .torrent; the next verification tries again.
            if let Err(e) = node
                .store
                .set_torrent_metainfo(&infohash, metainfo.encode())
                .await
            {
                tracing::warn!(%infohash, "cannot keep the .torrent rebuilt from the metadata: {e}");
            }
        }
    }
    let state = if all_good {
        TorrentState {
            complete: true,
            have_bytes: torrent.total_size,
            last_verified: Some(unix_now()),
            error: None,
        }
    } else {
        tracing::error!(%infohash, "downloaded files do not match the BLAKE3 of their entry");
        TorrentState {
            error: Some("files do not match the BLAKE3 hashes of their entry".into()),
            ..TorrentState::default()
        }
    };
    record_state(node, &infohash, state).await;
    if all_good {
        announce(node, infohash);
    }
}

fn hash_file(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(*hasher.finalize().as_bytes())
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
