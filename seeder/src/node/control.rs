//! The local control API: HTTP over a Unix socket in the data directory (mode 0600, so only
//! the owner of the data directory can use it), never on a public listener. `publish` hands
//! its new entries over through it; `follow`, `unfollow` and `follows` talk to it.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::net::UnixListener;

use super::routes::{ApiError, parse_feed, parse_identity};
use super::{Error, NodeHandle, Result, content, own};
use crate::store::CapChange;

/// Binds the control socket (replacing a stale one left by a crash).
pub async fn bind(node: &NodeHandle) -> Result<UnixListener> {
    let path = node.data.control_socket();
    let _ = std::fs::remove_file(&path);
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let listener = UnixListener::bind(&path).map_err(io)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

pub async fn serve(node: NodeHandle, listener: UnixListener) {
    let cancel = node.cancel.clone();
    let app = Router::new()
        .route("/published", post(published))
        .route("/follow", post(follow))
        .route("/unfollow", post(unfollow))
        .route("/follows", get(follows))
        .with_state(node);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::error!("control socket stopped: {e}");
    }
}

/// A follow or unfollow request. A follow's caps: absent leaves the cap as it is, a number
/// sets it, `"none"` removes it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FollowRequest {
    pub identity: String,
    pub feed: Option<String>,
    #[serde(default)]
    pub delete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<CapValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<CapValue>,
}

/// A cap in a follow request: a number, or `"none"` for no cap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CapValue {
    Limit(u64),
    Word(String),
}

impl CapValue {
    /// The change it asks for.
    pub fn change(value: Option<&CapValue>) -> Result<CapChange, String> {
        match value {
            None => Ok(CapChange::Keep),
            Some(CapValue::Limit(n)) => Ok(CapChange::Set(*n)),
            Some(CapValue::Word(w)) if w == "none" => Ok(CapChange::Remove),
            Some(CapValue::Word(w)) => Err(format!("{w:?} is not a cap (a number, or \"none\")")),
        }
    }
}

/// What `publish` just committed (the body of `POST /published`; absent: any feed).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublishedRequest {
    pub identity: String,
    pub feed: String,
}

/// Takes in every own feed. Answers `500 not_taken_in` when the feed named in the body (or,
/// without a body, any feed) could not be taken in, so `publish` does not report success
/// for an entry that is not seeded or announced.
async fn published(State(node): State<NodeHandle>, body: Bytes) -> Result<StatusCode, ApiError> {
    let wanted = if body.is_empty() {
        None
    } else {
        let request: PublishedRequest = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
        Some((
            parse_identity(&request.identity)?,
            parse_feed(&request.feed)?,
        ))
    };
    let failed = own::sync_all(&node).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "sync_failed",
            e.to_string(),
        )
    })?;
    let failed = failed.into_iter().find(|f| {
        wanted
            .as_ref()
            .is_none_or(|(identity, feed)| (identity, feed) == (&f.identity, &f.feed))
    });
    match failed {
        None => Ok(StatusCode::NO_CONTENT),
        Some(f) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "not_taken_in",
            format!(
                "cannot take in own feed {}/{}: {}",
                f.identity, f.feed, f.error
            ),
        )),
    }
}

type Parsed = (
    feeds::IdentityKey,
    Option<feeds::FeedName>,
    bool,
    (CapChange, CapChange),
);

fn request(body: &[u8]) -> Result<Parsed, ApiError> {
    let request: FollowRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
    let identity = parse_identity(&request.identity)?;
    let feed = request.feed.as_deref().map(parse_feed).transpose()?;
    let cap = |value: Option<&CapValue>| {
        CapValue::change(value).map_err(|e| ApiError::bad_request("bad_cap", e))
    };
    let caps = (
        cap(request.max_bytes.as_ref())?,
        cap(request.max_files.as_ref())?,
    );
    Ok((identity, feed, request.delete, caps))
}

async fn follow(State(node): State<NodeHandle>, body: Bytes) -> Result<String, ApiError> {
    let (identity, feed, _, (max_bytes, max_files)) = request(&body)?;
    let failed = |e: crate::store::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "follow_failed",
            e.to_string(),
        )
    };
    let new = node
        .store
        .follow(&identity, feed.as_ref())
        .await
        .map_err(failed)?;
    if (max_bytes, max_files) != (CapChange::Keep, CapChange::Keep) {
        node.store
            .set_follow_caps(&identity, feed.as_ref(), max_bytes, max_files)
            .await
            .map_err(failed)?;
        content::recheck_caps(&node);
    }
    node.wake_replication();
    Ok(serde_json::json!({ "new": new }).to_string())
}

async fn unfollow(State(node): State<NodeHandle>, body: Bytes) -> Result<String, ApiError> {
    let (identity, feed, delete, _) = request(&body)?;
    let outcome = node
        .store
        .unfollow(&identity, feed.as_ref(), delete)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unfollow_failed",
                e.to_string(),
            )
        })?;
    for infohash in &outcome.infohashes {
        // A torrent waiting over a cap was never in the engine: nothing to delete.
        node.dht.forget_announced(infohash.0);
        let removed = node.engine.remove(infohash, true).await.is_ok()
            || !node.store.is_reserved(infohash).await.unwrap_or(true);
        if removed {
            let dir = node.config.download_dir().join(infohash.to_string());
            let _ = std::fs::remove_dir_all(dir);
            // Its reservation goes with its row: the space is free for what waits.
            let _ = node.store.remove_torrent(infohash).await;
        }
    }
    if !outcome.infohashes.is_empty() {
        content::recheck_caps(&node);
    }
    Ok(serde_json::json!({ "removed": outcome.removed, "deleted_torrents": outcome.infohashes.len() }).to_string())
}

async fn follows(State(node): State<NodeHandle>) -> Result<String, ApiError> {
    let follows =
        node.store.follows().await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
        })?;
    Ok(serde_json::Value::Array(follows.iter().map(follow_json).collect()).to_string())
}

/// The JSON the CLI prints for a follow.
pub fn follow_json(f: &crate::store::FollowStatus) -> serde_json::Value {
    serde_json::json!({
        "identity": f.identity.to_string(),
        "feed": f.feed.as_ref().map(|f| f.as_str().to_owned()),
        "feeds": f.feeds.iter().map(|(name, problem)| serde_json::json!({"feed": name.as_str(), "problem": problem})).collect::<Vec<_>>(),
        "entries": f.entries,
        "torrents": f.torrents,
        "complete": f.complete,
        "have_bytes": f.have_bytes,
        "total_bytes": f.total_bytes,
        "added_at": f.added_at,
        "last_update": f.last_update,
        "last_error": f.last_error,
        "max_bytes": f.limits.caps.max_bytes,
        "max_files": f.limits.caps.max_files,
        "reserved_bytes": f.limits.used.bytes,
        "reserved_files": f.limits.used.files,
        "over_limit": (f.limits.waiting > 0).then(|| serde_json::json!({
            "torrents": f.limits.waiting,
            "bytes": f.limits.waiting_bytes,
            "reason": f.limits.reason,
        })),
    })
}

/// Why talking to a running node failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no node is running on this data directory")]
    NotRunning,
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the node answered {status}: {}", message_of(body))]
    Refused { status: u16, body: String },
}

/// The `message` of a JSON error answer (`{"error":…,"message":…}`), else the body.
fn message_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}

/// A blocking client of the control socket, for the command line.
pub struct ControlClient {
    path: PathBuf,
}

impl ControlClient {
    /// The control socket of the node running on `data_dir`, if one answers there.
    pub fn connect(socket: &Path) -> Result<ControlClient, ControlError> {
        match UnixStream::connect(socket) {
            Ok(_) => Ok(ControlClient {
                path: socket.to_owned(),
            }),
            Err(_) => Err(ControlError::NotRunning),
        }
    }

    /// Sends one request; returns the body of a 2xx answer.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<String, ControlError> {
        let io = |source| ControlError::Io {
            path: self.path.clone(),
            source,
        };
        let mut stream = UnixStream::connect(&self.path).map_err(io)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(600)))
            .map_err(io)?;
        let body = body.unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: swarmfeed\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).map_err(io)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).map_err(io)?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(ControlError::Refused { status, body })
        }
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
