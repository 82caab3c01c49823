//! Followed content: adding it to the engine, feeding downloads peers from the DHT, and
//! checking every finished file against the BLAKE3 hash its entry names.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use feeds::{InfoHash, Metainfo};

use super::replicate::announce;
use super::{NodeHandle, fetch};
use crate::engine::TorrentSource;
use crate::store::{Origin, TorrentQuery, TorrentState};

/// Adds a followed torrent to the engine (background: a magnet waits for peers).
pub(super) async fn start_download(node: &NodeHandle, infohash: InfoHash, name: Option<String>) {
    if !in_flight().lock().is_ok_and(|mut set| set.insert(infohash)) {
        return;
    }
    let node = node.clone();
    tokio::spawn(async move {
        let source = match node.store.torrent_file(&infohash).await {
            Ok(Some(bytes)) => TorrentSource::Torrent(bytes),
            _ => {
                let name = name
                    .map(|n| format!("&dn={}", percent(&n)))
                    .unwrap_or_default();
                TorrentSource::Magnet(format!("magnet:?xt=urn:btih:{infohash}{name}"))
            }
        };
        let peers = fetch::swarm_peers(&node, infohash).await;
        let dir = node.config.download_dir().join(infohash.to_string());
        let peer_count = peers.len();
        match node.engine.download(source, Some(&dir), peers).await {
            Ok(_) => tracing::debug!(%infohash, peers = peer_count, "download started"),
            Err(e) => tracing::warn!(%infohash, "cannot start download: {e}"),
        }
        if let Ok(mut set) = in_flight().lock() {
            set.remove(&infohash);
        }
    });
}

/// Torrents being added right now (a magnet add can take a while).
fn in_flight() -> &'static Mutex<HashSet<InfoHash>> {
    static IN_FLIGHT: OnceLock<Mutex<HashSet<InfoHash>>> = OnceLock::new();
    IN_FLIGHT.get_or_init(Default::default)
}

/// Watches followed downloads: feeds them DHT peers, verifies each finished file's BLAKE3
/// against its entry, and records the result.
pub async fn content_loop(node: NodeHandle) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut rounds: u64 = 0;
    loop {
        tokio::select! {
            _ = node.cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        rounds += 1;
        let page = node
            .store
            .torrents(TorrentQuery {
                after: None,
                limit: 1000,
                only_incomplete: true,
            })
            .await;
        for torrent in page.unwrap_or_default() {
            if torrent.origin != Origin::Followed || torrent.state.error.is_some() {
                continue;
            }
            let status = match node.engine.stats(&torrent.infohash) {
                Ok(status) => status,
                Err(e) => {
                    tracing::debug!(infohash = %torrent.infohash, "not in the engine: {e}");
                    continue;
                }
            };
            if rounds % 5 == 1 {
                tracing::debug!(infohash = %torrent.infohash, have = status.have_bytes, total = status.total_bytes, peers = status.peers, state = ?status.state, "downloading");
            }
            if status.complete {
                verify_download(&node, torrent.infohash).await;
            } else if rounds % 5 == 1 {
                let peers = fetch::swarm_peers(&node, torrent.infohash).await;
                let _ = node.engine.add_peers(&torrent.infohash, &peers);
            }
        }
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
        let _ = node
            .store
            .set_file_verified(&infohash, file.index, good)
            .await;
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
            let _ = node
                .store
                .set_torrent_metainfo(&infohash, metainfo.encode())
                .await;
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
    let _ = node.store.set_torrent_state(&infohash, state).await;
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
