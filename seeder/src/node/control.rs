//! The local control API: HTTP over a Unix socket in the data directory (mode 0600, so only
//! the owner of the data directory can use it), never on a public listener. `publish` hands
//! its new entries over through it; `follow`, `unfollow` and `follows` talk to it.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use tokio::net::UnixListener;

use super::api::{
    Actor, ApiError, ErrorCode, FollowAnswer, FollowView, Operation, PublishedRequest,
    STATE_CHANGING, Surface, UnfollowAnswer,
};
use super::{Error, NodeHandle, Result};

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
    let mut app = Router::new().route("/follows", get(follows));
    // The commands that change state are those of the API's table, and only those.
    for command in STATE_CHANGING
        .iter()
        .filter(|c| c.surface == Surface::Control)
    {
        if let Some(handler) = handler(command.operation) {
            app = app.route(command.path, handler);
        }
    }
    let app = app.with_state(node);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::error!("control socket stopped: {e}");
    }
}

/// `POST /published`: what `publish` just committed (absent: any feed).
async fn published(State(node): State<NodeHandle>, body: Bytes) -> Result<StatusCode, ApiError> {
    let request = if body.is_empty() {
        None
    } else {
        Some(json::<PublishedRequest>(&body)?)
    };
    node.api().published(&Actor::Operator, request).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn follow(
    State(node): State<NodeHandle>,
    body: Bytes,
) -> Result<Json<FollowAnswer>, ApiError> {
    let answer = node.api().follow(&Actor::Operator, json(&body)?).await?;
    Ok(Json(answer))
}

async fn unfollow(
    State(node): State<NodeHandle>,
    body: Bytes,
) -> Result<Json<UnfollowAnswer>, ApiError> {
    let answer = node.api().unfollow(&Actor::Operator, json(&body)?).await?;
    Ok(Json(answer))
}

async fn follows(State(node): State<NodeHandle>) -> Result<Json<Vec<FollowView>>, ApiError> {
    Ok(Json(node.api().follows().await?))
}

/// A request body as its typed request: `400 bad_request` if it is not one.
fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(ErrorCode::BadRequest, e.to_string()))
}

/// The adapter of an operation served on the control socket.
fn handler(operation: Operation) -> Option<MethodRouter<NodeHandle>> {
    match operation {
        Operation::Publish => Some(post(published)),
        Operation::Follow => Some(post(follow)),
        Operation::Unfollow => Some(post(unfollow)),
        Operation::PushHead | Operation::RegisterFollower => None,
    }
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
