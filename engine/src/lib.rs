//! The node's BitTorrent engine: an embedded librqbit 9.1.0 session behind a small API, so
//! that nothing else in the node touches librqbit types, and the node's mainline DHT
//! ([`dht`]).
//!
//! - No UPnP, no local service discovery, no librqbit DHT: peers come from `initial_peers`,
//!   trackers, and incoming connections (the node runs its own DHT with `mainline`).
//! - State lives in `data_dir/engine/`: librqbit's session (every torrent, where its files
//!   lie) and a fastresume piece bitfield per torrent, so a restart does not re-hash, in a
//!   SQLite database of ours (`session.db`, see [`persistence`]): an add costs one row, not
//!   a rewrite of librqbit's whole JSON session, and no torrent keeps a file open for its
//!   bitfield. A JSON session left by an older engine is imported once.
//! - [`Engine::seed_existing`] seeds published content where it lies without reading it
//!   again: see [`fastresume`] and `docs/engine-gaps.md`.

mod config;
pub mod dht;
mod error;
mod fastresume;
mod layout;
mod local_tracker;
mod on_demand;
mod open_files;
mod persistence;
mod read_only;
mod runtime;
mod status;
mod stream;

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use feeds::InfoHash;
use librqbit::api::TorrentIdOrHash;
use librqbit::dht::Id20;
use librqbit::limits::LimitsConfig;
use librqbit::{
    AddTorrent, AddTorrentOptions, AddTorrentResponse, ListenerMode, ListenerOptions, Magnet,
    ManagedTorrent, Session, SessionOptions, SessionPersistenceConfig,
};

pub use config::{Encryption, EngineConfig};
pub use error::{Error, Result};
pub use fastresume::{forget_saved, saved_under};
pub use open_files::DEFAULT_MAX_OPEN_FILES;
pub use runtime::{raise_open_file_limit, runtime};
pub use status::{TorrentState, TorrentStatus};
pub use stream::TorrentFileStream;

use error::{engine_error, io_error, torrent_error};
use layout::TorrentLayout;
use local_tracker::LocalTracker;
use open_files::OpenFiles;
use persistence::SessionStore;
use read_only::Placements;

/// What to download: a .torrent file's bytes or a magnet link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TorrentSource {
    Torrent(Vec<u8>),
    Magnet(String),
}

/// A running BitTorrent engine.
pub struct Engine {
    session: Arc<Session>,
    listen_addr: SocketAddr,
    announce_port: Option<u16>,
    state_dir: PathBuf,
    download_dir: PathBuf,
    config: EngineConfig,
    tracker: LocalTracker,
    /// Where each torrent's files lie; published ones are opened read-only (see
    /// [`read_only`]).
    placements: Placements,
    /// The node-wide bound on open torrent files (see [`open_files`]).
    open_files: Arc<OpenFiles>,
    /// librqbit's session state (see [`persistence`]).
    store: Arc<SessionStore>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("listen_addr", &self.listen_addr)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Binds the BitTorrent listener and resumes every torrent of the previous run (from
    /// fastresume data: no re-hash). Needs a multi-threaded tokio runtime.
    pub async fn start(config: EngineConfig) -> Result<Engine> {
        let state_dir = absolute(&config.state_dir())?;
        let download_dir = absolute(&config.download_dir)?;
        for dir in [&state_dir, &download_dir] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(io_error("create directory", dir))?;
        }
        let (listen_addr, announce_port) =
            listen_and_announce(config.listen, config.announce_port)?;
        let tracker = LocalTracker::start(config.peer_poll_interval)
            .await
            .map_err(io_error("bind the local tracker on", "127.0.0.1:0"))?;
        let trackers = config
            .trackers
            .iter()
            .map(String::as_str)
            .chain([tracker.url()])
            .map(|t| t.parse())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Start {
                state_dir: state_dir.clone(),
                message: format!("bad tracker URL: {e}"),
            })?;
        let placements = Placements::load(&state_dir)?;
        let store = open_store(&state_dir).await?;
        let open_files = OpenFiles::new(open_files::max_open_files(config.max_open_files));
        let options = SessionOptions {
            dht: None,
            default_storage_factory: Some(placements.factory(open_files.clone())),
            disable_local_service_discovery: true,
            fastresume: true,
            persistence: Some(SessionPersistenceConfig::Custom(store.clone())),
            listen: Some(ListenerOptions {
                mode: if config.utp {
                    ListenerMode::TcpAndUtp
                } else {
                    ListenerMode::TcpOnly
                },
                listen_addr,
                enable_upnp_port_forwarding: false,
                announce_port,
                ipv4_only: listen_addr.is_ipv4(),
                ..ListenerOptions::default()
            }),
            ipv4_only: listen_addr.is_ipv4(),
            trackers,
            peer_limit: config.peer_limit,
            ratelimits: LimitsConfig {
                upload_bps: config.upload_limit_bps.and_then(NonZeroU32::new),
                download_bps: config.download_limit_bps.and_then(NonZeroU32::new),
            },
            concurrent_init_limit: Some(config.concurrent_checks.max(1)),
            runtime_worker_threads: Some(config.blocking_threads.max(2)),
            encryption: config.encryption.into(),
            ..SessionOptions::default()
        };
        let session = Session::new_with_opts(download_dir.clone(), options)
            .await
            .map_err(|e| Error::Start {
                state_dir: state_dir.clone(),
                message: format!("{e:#}"),
            })?;
        let listen_addr = session.listen_addr().ok_or_else(|| Error::Start {
            state_dir: state_dir.clone(),
            message: "librqbit bound no listener".into(),
        })?;
        adopt_unplaced(&session, &placements, &state_dir).await;
        Ok(Engine {
            announce_port: session.announce_port(),
            session,
            listen_addr,
            state_dir,
            download_dir,
            config,
            tracker,
            placements,
            open_files,
            store,
        })
    }

    /// The bound BitTorrent listener (the real port when the config asked for port 0).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// The port announced to trackers.
    pub fn announce_port(&self) -> Option<u16> {
        self.announce_port
    }

    /// Seeds a published torrent from where its files lie, without reading them again.
    ///
    /// `content_path` is the published path (`publisher`'s `ContentRecord::root`): the file
    /// of a single-file torrent, the directory of a multi-file one. The caller vouches that
    /// the files are those the torrent was hashed from (our publisher hashed every piece in
    /// its one read pass), so the engine records every piece as present (fastresume) instead
    /// of re-hashing; librqbit still spot-checks a few pieces and re-hashes all of them if
    /// one is wrong. The files are opened read-only (see [`read_only`]): never resized,
    /// written or touched; lengths are checked first. Already seeding: nothing happens.
    pub async fn seed_existing(&self, torrent: &[u8], content_path: &Path) -> Result<InfoHash> {
        let layout = TorrentLayout::parse(torrent)?;
        if self.handle(&layout.infohash).is_ok() {
            return Ok(layout.infohash);
        }
        let content_path = absolute(content_path)?;
        let output_folder = layout.output_folder(&content_path)?;
        let state_dir = self.state_dir.clone();
        let checked = layout.clone();
        let (placements, folder) = (self.placements.clone(), output_folder.clone());
        tokio::task::spawn_blocking(move || {
            checked.check_files(&content_path)?;
            placements.mark_read_only(&state_dir, checked.id20, &folder)
        })
        .await
        .map_err(|e| Error::Engine {
            action: "check published files",
            message: e.to_string(),
        })??;
        self.store
            .save_bitfield(layout.id20, fastresume::complete_bitfield(layout.pieces))
            .await
            .map_err(torrent_error("record the pieces of", layout.infohash))?;
        let options = AddTorrentOptions {
            overwrite: true,
            output_folder: Some(path_string(&output_folder)?),
            ..self.add_options(Vec::new())
        };
        self.add(&layout, torrent.to_vec(), options).await
    }

    /// Downloads a torrent into `dir/NAME` (or the download directory's), from
    /// `initial_peers` and the configured trackers, and seeds it once complete. Data already
    /// there is checked and kept. A magnet link is first resolved into its .torrent (from the
    /// same peers), so its files land at the same place; that waits until a peer sends the
    /// metadata (wrap it in a timeout).
    pub async fn download(
        &self,
        source: TorrentSource,
        dir: Option<&Path>,
        initial_peers: Vec<SocketAddr>,
    ) -> Result<InfoHash> {
        let (torrent, mut peers) = match source {
            TorrentSource::Torrent(bytes) => (bytes, Vec::new()),
            TorrentSource::Magnet(link) => {
                let infohash = magnet_infohash(&link)?;
                if self.handle(&infohash).is_ok() {
                    return Ok(infohash);
                }
                self.resolve_magnet(&link, &initial_peers).await?
            }
        };
        let layout = TorrentLayout::parse(&torrent)?;
        if self.handle(&layout.infohash).is_ok() {
            return Ok(layout.infohash);
        }
        peers.extend(initial_peers);
        let dir = absolute(dir.unwrap_or(&self.download_dir))?;
        let content_path = layout.content_path_in(&dir)?;
        let output_folder = layout.output_folder(&content_path)?;
        let (placements, state_dir) = (self.placements.clone(), self.state_dir.clone());
        let (id, folder) = (layout.id20, output_folder.clone());
        let placed =
            tokio::task::spawn_blocking(move || placements.mark_download(&state_dir, id, &folder))
                .await
                .map_err(|e| Error::Engine {
                    action: "record where a download goes",
                    message: e.to_string(),
                })??;
        let options = AddTorrentOptions {
            // Needed to resume into files already there; they are checked first.
            overwrite: true,
            output_folder: Some(path_string(&output_folder)?),
            ..self.add_options(peers)
        };
        let added = self.add(&layout, torrent, options).await;
        if added.is_err() && placed {
            self.placements.forget(&self.state_dir, &layout.id20);
        }
        added
    }

    /// Hands peers to a running torrent (found by the node's DHT, say): they reach it at its
    /// next announce to the engine's loopback tracker, within
    /// [`EngineConfig::peer_poll_interval`] while it downloads.
    pub fn add_peers(&self, infohash: &InfoHash, peers: &[SocketAddr]) -> Result<()> {
        self.handle(infohash)?;
        self.tracker.add_peers(infohash, peers);
        Ok(())
    }

    /// The exact info dictionary of a torrent the engine holds (for a magnet, once its
    /// metadata arrived): enough to rebuild the .torrent, whose infohash it fixes.
    pub fn info_bytes(&self, infohash: &InfoHash) -> Result<Vec<u8>> {
        self.handle(infohash)?
            .with_metadata(|m| m.info_bytes.to_vec())
            .map_err(torrent_error("read the metadata of", *infohash))
    }

    /// Progress and traffic of one torrent.
    pub fn stats(&self, infohash: &InfoHash) -> Result<TorrentStatus> {
        let handle = self.handle(infohash)?;
        Ok(TorrentStatus::from_stats(*infohash, &handle.stats()))
    }

    /// Every torrent in the engine, with its status, by infohash.
    pub fn list(&self) -> Vec<TorrentStatus> {
        let mut all = self.session.with_torrents(|torrents| {
            torrents
                .map(|(_, handle)| {
                    let infohash = InfoHash(handle.info_hash().0);
                    TorrentStatus::from_stats(infohash, &handle.stats())
                })
                .collect::<Vec<_>>()
        });
        all.sort_by_key(|s| s.infohash);
        all
    }

    /// Stops a torrent and forgets it; `delete_files` also deletes its files (for published
    /// content, the publisher's own files).
    pub async fn remove(&self, infohash: &InfoHash, delete_files: bool) -> Result<()> {
        self.handle(infohash)?;
        self.tracker.forget(infohash);
        let id = Id20::new(infohash.0);
        // Published files are the publisher's: never deleted, whatever the caller asks.
        let delete_files = delete_files && !self.placements.contains_read_only(&id);
        self.session
            .delete(TorrentIdOrHash::Hash(id), delete_files)
            .await
            .map_err(torrent_error("remove", *infohash))?;
        self.placements.forget(&self.state_dir, &id);
        Ok(())
    }

    /// Torrents the engine holds whose files lie in `dir` or below it, with their folder.
    pub fn placed_under(&self, dir: &Path) -> Result<Vec<(InfoHash, PathBuf)>> {
        let dir = absolute(dir)?;
        Ok(self
            .placements
            .under(&dir)
            .into_iter()
            .filter(|(id, _)| self.session.get(TorrentIdOrHash::Hash(*id)).is_some())
            .map(|(id, folder)| (InfoHash(id.0), folder))
            .collect())
    }

    /// Waits until every wanted byte of a torrent is on disk and verified.
    pub async fn wait_until_complete(&self, infohash: &InfoHash) -> Result<()> {
        let handle = self.handle(infohash)?;
        handle
            .wait_until_completed()
            .await
            .map_err(torrent_error("wait for", *infohash))
    }

    /// Opens file `file_index` (in the torrent's file order) for reading while it downloads:
    /// see [`TorrentFileStream`]. For data already local, read the file from disk instead.
    pub async fn open_stream(
        &self,
        infohash: &InfoHash,
        file_index: usize,
    ) -> Result<TorrentFileStream> {
        let handle = self.handle(infohash)?;
        let count = handle
            .with_metadata(|m| m.file_infos.len())
            .map_err(torrent_error("read the metadata of", *infohash))?;
        if file_index >= count {
            return Err(Error::NoSuchFile {
                infohash: *infohash,
                index: file_index,
                count,
            });
        }
        let stream = handle
            .stream(file_index)
            .await
            .map_err(torrent_error("stream", *infohash))?;
        let len = stream.len();
        Ok(TorrentFileStream::new(stream, len))
    }

    /// The bound on torrent files kept open at once, over every torrent.
    pub fn max_open_files(&self) -> usize {
        self.open_files.capacity()
    }

    /// Torrent files open now, and how many times one was opened so far.
    pub fn open_files(&self) -> (usize, u64) {
        (self.open_files.len(), self.open_files.opened())
    }

    /// Stops every torrent and closes the listener. Fastresume data is already on disk, so
    /// a crash instead costs nothing but the last pieces' bits (they are checked again).
    pub async fn shutdown(self) {
        self.session.stop().await;
        if let Err(e) = self.store.sync().await {
            tracing::warn!("engine session state not saved at shutdown: {e:#}");
        }
    }

    fn handle(&self, infohash: &InfoHash) -> Result<Arc<ManagedTorrent>> {
        self.session
            .get(TorrentIdOrHash::Hash(Id20::new(infohash.0)))
            .ok_or(Error::NotFound(*infohash))
    }

    fn add_options(&self, initial_peers: Vec<SocketAddr>) -> AddTorrentOptions {
        AddTorrentOptions {
            initial_peers: (!initial_peers.is_empty()).then_some(initial_peers),
            force_tracker_interval: self.config.tracker_interval,
            peer_limit: self.config.peer_limit,
            ..AddTorrentOptions::default()
        }
    }

    async fn add(
        &self,
        layout: &TorrentLayout,
        torrent: Vec<u8>,
        options: AddTorrentOptions,
    ) -> Result<InfoHash> {
        // No lock: our store hands out ids atomically (librqbit's JSON store gave two
        // concurrent adds the same id); the infohash check below stays as a guard.
        let response = self
            .session
            .add_torrent(AddTorrent::from_bytes(torrent), Some(options))
            .await
            .map_err(torrent_error("add", layout.infohash))?;
        match response {
            AddTorrentResponse::Added(_, handle)
            | AddTorrentResponse::AlreadyManaged(_, handle)
                if handle.info_hash().0 == layout.infohash.0 =>
            {
                Ok(layout.infohash)
            }
            AddTorrentResponse::Added(..) | AddTorrentResponse::AlreadyManaged(..) => {
                Err(Error::Torrent {
                    action: "add",
                    infohash: layout.infohash,
                    message: "librqbit answered with another torrent".into(),
                })
            }
            AddTorrentResponse::ListOnly(_) => Err(Error::Torrent {
                action: "add",
                infohash: layout.infohash,
                message: "librqbit only listed it".into(),
            }),
        }
    }

    /// Fetches a magnet link's metadata without downloading anything; returns the .torrent
    /// bytes and the peers seen. Waits until a peer sends the metadata (wrap it in a timeout).
    pub async fn resolve_magnet(
        &self,
        link: &str,
        initial_peers: &[SocketAddr],
    ) -> Result<(Vec<u8>, Vec<SocketAddr>)> {
        let options = AddTorrentOptions {
            list_only: true,
            ..self.add_options(initial_peers.to_vec())
        };
        let response = self
            .session
            .add_torrent(AddTorrent::from_url(link), Some(options))
            .await
            .map_err(|e| Error::InvalidMagnet {
                link: link.to_owned(),
                message: format!("{e:#}"),
            })?;
        match response {
            AddTorrentResponse::ListOnly(listed) => {
                Ok((listed.torrent_bytes.to_vec(), listed.seen_peers))
            }
            AddTorrentResponse::Added(_, handle)
            | AddTorrentResponse::AlreadyManaged(_, handle) => {
                let bytes = handle
                    .with_metadata(|m| m.torrent_bytes.to_vec())
                    .map_err(engine_error("read a managed torrent's metadata"))?;
                Ok((bytes, Vec::new()))
            }
        }
    }
}

/// Opens the session database (importing a JSON session the first time) off the executor.
async fn open_store(state_dir: &Path) -> Result<Arc<SessionStore>> {
    let dir = state_dir.to_owned();
    let opened = tokio::task::spawn_blocking(move || SessionStore::open(&dir)).await;
    let message = match opened {
        Ok(Ok(store)) => return Ok(Arc::new(store)),
        Ok(Err(e)) => format!("session database: {e:#}"),
        Err(e) => e.to_string(),
    };
    Err(Error::Start {
        state_dir: state_dir.to_owned(),
        message,
    })
}

/// The address to bind and the port to announce. librqbit announces no port for a
/// loopback listener unless told one, and cannot be told the port it will bind: for a
/// loopback port 0 we pick a free port first (a tiny race, loopback only).
fn listen_and_announce(
    listen: SocketAddr,
    announce_port: Option<u16>,
) -> Result<(SocketAddr, Option<u16>)> {
    if announce_port.is_some() || !listen.ip().is_loopback() {
        return Ok((listen, announce_port));
    }
    let mut listen = listen;
    if listen.port() == 0 {
        let probe = TcpListener::bind(listen).map_err(io_error("bind", listen.to_string()))?;
        let port = probe
            .local_addr()
            .map_err(io_error("read the address of", listen.to_string()))?
            .port();
        listen.set_port(port);
    }
    Ok((listen, Some(listen.port())))
}

/// Marks torrents restored without a placement (saved by an engine before placements were
/// recorded) as downloads where librqbit put them, so they too open files on demand from the
/// next start; this run they keep librqbit's storage.
async fn adopt_unplaced(session: &Session, placements: &Placements, state_dir: &Path) {
    let torrents = session.with_torrents(|torrents| {
        torrents
            .map(|(_, handle)| (handle.info_hash(), handle.output_folder().to_owned()))
            .collect::<Vec<_>>()
    });
    let (placements, state_dir) = (placements.clone(), state_dir.to_owned());
    let adopted = tokio::task::spawn_blocking(move || {
        for (id, folder) in torrents {
            if let Err(e) = placements.adopt(&state_dir, id, &folder) {
                tracing::warn!(?id, "cannot record where a torrent's files lie: {e}");
            }
        }
    });
    if let Err(e) = adopted.await {
        tracing::warn!("cannot record where torrents' files lie: {e}");
    }
}

fn magnet_infohash(link: &str) -> Result<InfoHash> {
    let invalid = |message: String| Error::InvalidMagnet {
        link: link.to_owned(),
        message,
    };
    let magnet = Magnet::parse(link).map_err(|e| invalid(format!("{e:#}")))?;
    let id20 = magnet
        .as_id20()
        .ok_or_else(|| invalid("no BitTorrent v1 infohash".into()))?;
    Ok(InfoHash(id20.0))
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(io_error("resolve", path))
}

/// librqbit takes output folders as strings.
fn path_string(path: &Path) -> Result<String> {
    path.to_str().map(str::to_owned).ok_or_else(|| Error::Io {
        action: "use (not UTF-8)",
        path: path.to_owned(),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })
}
