//! The `uploads/` folder of the data directory, where the gateway's upload form writes: each
//! upload in a folder of its own, and while it is not finished a marker beside it,
//! `uploads/ID.pending`, naming the user and the bytes charged to their quota.
//!
//! An upload that fails, is cut (the client went away, or stalled: see [`long_bodies`]) or
//! whose publish fails leaves nothing behind: its folder is removed, then its marker, then
//! its charge is given back (in that order, so a crash in between never gives back twice).
//! When the node itself dies mid-upload, the marker is still there at the next start, and
//! [`clean_at_start`] does the same; unless the upload's entry was committed just before the
//! crash (a content record names its folder), which then stays published and charged.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use accounts::{Accounts, UserId};
use serde::{Deserialize, Serialize};

use super::NodeHandle;
use crate::config::NodeConfig;
use crate::node::api::{Operation, Surface, state_changing_path};

/// What a marker records.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Marker {
    user: i64,
    /// Bytes charged to the user's quota for this upload.
    charged: u64,
}

/// The upload route's body timing: idle and total limits from `[accounts]` instead of the
/// gateway's body timeout (empty when accounts are off: there is no upload route then).
pub(crate) fn long_bodies(config: &NodeConfig) -> Vec<http_server::server::LongBody> {
    let path = state_changing_path(Surface::Account, Operation::PublishFiles);
    match path {
        Some(path) if config.accounts.mode != accounts::Mode::Off => {
            vec![http_server::server::LongBody {
                path,
                idle: Duration::from_secs(config.accounts.upload_idle_secs),
                total: Duration::from_secs(config.accounts.upload_timeout_secs),
            }]
        }
        _ => Vec::new(),
    }
}

/// An upload under way: its folder, marker and charge. Dropped before [`Pending::finish`]
/// or [`Pending::abort`] (the request was cut mid-upload), it cleans up in a task of its own.
pub(crate) struct Pending {
    accounts: Accounts,
    user: UserId,
    folder: PathBuf,
    marker: PathBuf,
    charged: u64,
    done: bool,
}

impl Pending {
    /// A new folder under `uploads`, with its marker, for an upload already charged
    /// `charged` bytes; on failure the charge is given back.
    pub async fn begin(
        node: &NodeHandle,
        accounts: &Accounts,
        user: UserId,
        charged: u64,
    ) -> std::io::Result<Pending> {
        let uploads = node.data.root().join("uploads");
        let made = async {
            let folder = new_folder(&uploads).await?;
            let marker = marker_of(&folder);
            let pending = Pending {
                accounts: accounts.clone(),
                user,
                folder,
                marker,
                charged,
                done: false,
            };
            pending.write_marker().await?;
            Ok(pending)
        };
        match made.await {
            Ok(pending) => Ok(pending),
            Err(e) => {
                refund(accounts, user, charged).await;
                Err(e)
            }
        }
    }

    /// The upload's own folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The files are written, `kept` bytes of them: the rest of the charge is given back
    /// (the marker first, so a crash in between gives back too little, never too much).
    pub async fn received(&mut self, kept: u64) -> std::io::Result<()> {
        let extra = self.charged.saturating_sub(kept);
        self.charged = kept;
        self.write_marker().await?;
        refund(&self.accounts, self.user, extra).await;
        Ok(())
    }

    /// Published: the files stay, charged.
    pub async fn finish(mut self) {
        self.done = true;
        if let Err(e) = tokio::fs::remove_file(&self.marker).await {
            tracing::warn!(marker = %self.marker.display(), "cannot remove an upload's marker: {e}");
        }
    }

    /// Failed: folder, marker and charge go.
    pub async fn abort(mut self) {
        self.done = true;
        undo(
            &self.accounts,
            self.user,
            &self.folder,
            &self.marker,
            self.charged,
        )
        .await;
    }

    async fn write_marker(&self) -> std::io::Result<()> {
        let marker = Marker {
            user: self.user.0,
            charged: self.charged,
        };
        let bytes = serde_json::to_vec(&marker).map_err(std::io::Error::other)?;
        let path = self.marker.clone();
        tokio::task::spawn_blocking(move || data_dir::write_atomic(&path, &bytes))
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (accounts, user, charged) = (self.accounts.clone(), self.user, self.charged);
        let (folder, marker) = (self.folder.clone(), self.marker.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime
                    .spawn(async move { undo(&accounts, user, &folder, &marker, charged).await });
            }
            // No runtime (the node is going away): the next start cleans up.
            Err(_) => {
                tracing::warn!(folder = %folder.display(), "an upload was cut; its files go at the next start")
            }
        }
    }
}

/// Removes an unfinished upload and gives its charge back.
async fn undo(accounts: &Accounts, user: UserId, folder: &Path, marker: &Path, charged: u64) {
    match tokio::fs::remove_dir_all(folder).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            // The marker stays: the next start tries again (and gives the charge back then).
            tracing::warn!(folder = %folder.display(), "cannot remove a failed upload: {e}");
            return;
        }
    }
    match tokio::fs::remove_file(marker).await {
        Ok(()) => refund(accounts, user, charged).await,
        Err(e) => {
            tracing::warn!(marker = %marker.display(), "cannot remove a failed upload's marker: {e}");
        }
    }
}

async fn refund(accounts: &Accounts, user: UserId, bytes: u64) {
    if bytes > 0
        && let Err(e) = accounts.refund_upload(user, bytes).await
    {
        tracing::warn!(
            user = user.0,
            bytes,
            "cannot give back an upload's quota: {e}"
        );
    }
}

fn marker_of(folder: &Path) -> PathBuf {
    let mut name = folder.as_os_str().to_owned();
    name.push(".pending");
    PathBuf::from(name)
}

/// A new folder of its own under `uploads`.
async fn new_folder(uploads: &Path) -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    tokio::fs::create_dir_all(uploads).await?;
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = uploads.join(format!("{nanos:x}-{}-{n}", std::process::id()));
        match tokio::fs::create_dir(&dir).await {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Uploads left unfinished by a node that died: removed and given back, unless their entry
/// was committed (then only the marker goes). Returns how many were removed.
pub(crate) async fn clean_at_start(node: &NodeHandle) -> usize {
    let Some(accounts) = node.accounts.as_ref() else {
        return 0;
    };
    let uploads = node.data.root().join("uploads");
    let markers: Vec<PathBuf> = match std::fs::read_dir(&uploads) {
        Ok(entries) => entries
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pending"))
            .collect(),
        Err(_) => return 0,
    };
    if markers.is_empty() {
        return 0;
    }
    let published = published_roots(node.data.root()).await;
    let mut removed = 0;
    for marker in markers {
        let folder = marker.with_extension("");
        let recorded = std::fs::read(&marker)
            .ok()
            .and_then(|b| serde_json::from_slice::<Marker>(&b).ok());
        let resolved = std::fs::canonicalize(&folder).unwrap_or_else(|_| folder.clone());
        if published.iter().any(|root| root.starts_with(&resolved)) {
            let _ = tokio::fs::remove_file(&marker).await;
            continue;
        }
        match recorded {
            Some(m) => undo(accounts, UserId(m.user), &folder, &marker, m.charged).await,
            // Unreadable (cut while written): nothing to give back.
            None => undo(accounts, UserId(0), &folder, &marker, 0).await,
        }
        tracing::info!(folder = %folder.display(), "removed an upload left unfinished");
        removed += 1;
    }
    removed
}

/// The folders every published torrent is seeded from (read only after a crash mid-upload).
async fn published_roots(root: &Path) -> Vec<PathBuf> {
    let content = root.join("content");
    tokio::task::spawn_blocking(move || {
        let Ok(entries) = std::fs::read_dir(&content) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| {
                let bytes = std::fs::read(e.ok()?.path()).ok()?;
                let record: publisher::publish::ContentRecord =
                    serde_json::from_slice(&bytes).ok()?;
                Some(record.root)
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}
