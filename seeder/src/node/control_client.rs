//! The command line's client of the control socket: HTTP/1.1 over the Unix socket through
//! hyper, answers read into the typed structs the server writes ([`super::api::types`]).
//! The command line is synchronous, so the client runs its calls on a small runtime of its
//! own (one thread).

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::api::{
    FollowAnswer, FollowRequest, FollowView, PublishAnswer, PublishEvent, PublishRequest,
    PublishedRequest, RestoreAnswer, RestoreRequest, RetractAnswer, RetractRequest, SearchAnswer,
    SearchRequest, UnfollowAnswer, Verdict, VerifyRequest,
};
use http_server::ErrorBody;

/// How long the client waits for the next bytes of an answer (a publish sends progress
/// while it hashes, so only a stuck node waits this long).
const READ_TIMEOUT: Duration = Duration::from_secs(600);

/// Why talking to a running node failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing listens on the data directory's control socket.
    #[error("no node is running on this data directory")]
    NotRunning,
    /// The socket refused the connection or broke off.
    #[error("control socket {}: {source}", path.display())]
    Socket {
        path: PathBuf,
        source: std::io::Error,
    },
    /// HTTP over the socket failed.
    #[error("control socket {}: {source}", path.display())]
    Http { path: PathBuf, source: hyper::Error },
    /// The node answered with an error: its stable name (`error`) and message.
    #[error("{message}")]
    Node {
        status: u16,
        error: String,
        message: String,
    },
    /// The node's answer is not what this command expects (another version?).
    #[error("the node's answer to {what} is not understood: {reason}")]
    BadAnswer { what: String, reason: String },
    /// The node stopped answering.
    #[error("the node did not answer within {} s", READ_TIMEOUT.as_secs())]
    TimedOut,
}

/// A client of the control socket of the node running on a data directory.
pub struct ControlClient {
    socket: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl ControlClient {
    /// The control socket at `socket`, if a node answers there.
    pub fn connect(socket: &Path) -> Result<ControlClient, ControlError> {
        if std::os::unix::net::UnixStream::connect(socket).is_err() {
            return Err(ControlError::NotRunning);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| ControlError::Socket {
                path: socket.to_owned(),
                source,
            })?;
        Ok(ControlClient {
            socket: socket.to_owned(),
            runtime,
        })
    }

    /// `POST /follow`.
    pub fn follow(&self, request: &FollowRequest) -> Result<FollowAnswer, ControlError> {
        self.call(Method::POST, "/follow", Some(request))
    }

    /// `POST /unfollow`.
    pub fn unfollow(&self, request: &FollowRequest) -> Result<UnfollowAnswer, ControlError> {
        self.call(Method::POST, "/unfollow", Some(request))
    }

    /// `POST /profile`: sign a new version of an own identity's profile.
    pub fn profile(
        &self,
        request: &super::api::ProfileRequest,
    ) -> Result<super::api::ProfileAnswer, ControlError> {
        self.call(Method::POST, "/profile", Some(request))
    }

    /// `GET /follows`.
    pub fn follows(&self) -> Result<Vec<FollowView>, ControlError> {
        self.call(Method::GET, "/follows", None::<&()>)
    }

    /// `GET /search?…`: the node API's search.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchAnswer, ControlError> {
        let path = format!("/search?{}", request.to_query());
        self.call(Method::GET, &path, None::<&()>)
    }

    /// `POST /retract`: the node signs a `delete` entry and takes it in.
    pub fn retract(&self, request: &RetractRequest) -> Result<RetractAnswer, ControlError> {
        self.call(Method::POST, "/retract", Some(request))
    }

    /// `GET /verify?…`: the node fetches the feed and checks it.
    pub fn verify(&self, request: &VerifyRequest) -> Result<Verdict, ControlError> {
        let path = format!("/verify?{}", request.to_query());
        self.call(Method::GET, &path, None::<&()>)
    }

    /// `POST /restore`: the node syncs an own identity's feeds into the data directory.
    pub fn restore(&self, request: &RestoreRequest) -> Result<RestoreAnswer, ControlError> {
        self.call(Method::POST, "/restore", Some(request))
    }

    /// `POST /published`: take in what was just committed to the data directory.
    pub fn published(&self, request: &PublishedRequest) -> Result<(), ControlError> {
        self.runtime.block_on(async {
            let response = self.send(Method::POST, "/published", Some(request)).await?;
            read_all(response.into_body()).await.map(drop)
        })
    }

    /// `POST /publish`: the node publishes; `on_event` sees each progress event as it comes.
    pub fn publish(
        &self,
        request: &PublishRequest,
        mut on_event: impl FnMut(&PublishEvent),
    ) -> Result<PublishAnswer, ControlError> {
        self.runtime.block_on(async {
            let response = self.send(Method::POST, "/publish", Some(request)).await?;
            let mut body = response.into_body();
            let mut pending = Vec::new();
            loop {
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let event: PublishEvent = parse("/publish", &line)?;
                    match event {
                        PublishEvent::Published(answer) => return Ok(answer),
                        PublishEvent::Failed(f) => {
                            return Err(ControlError::Node {
                                status: f.status,
                                error: f.error,
                                message: f.message,
                            });
                        }
                        event => on_event(&event),
                    }
                }
                match next_frame(&mut body).await? {
                    Some(bytes) => pending.extend_from_slice(&bytes),
                    None => {
                        return Err(ControlError::BadAnswer {
                            what: "/publish".into(),
                            reason: "it ended before the result".into(),
                        });
                    }
                }
            }
        })
    }

    /// One request whose whole answer is one JSON value.
    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ControlError> {
        self.runtime.block_on(async {
            let response = self.send(method, path, body).await?;
            let bytes = read_all(response.into_body()).await?;
            parse(path, &bytes)
        })
    }

    /// Sends one request on a fresh connection; a non-2xx answer becomes
    /// [`ControlError::Node`].
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Response<Incoming>, ControlError> {
        let socket = |source| ControlError::Socket {
            path: self.socket.clone(),
            source,
        };
        let http = |source| ControlError::Http {
            path: self.socket.clone(),
            source,
        };
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(socket)?;
        let (mut sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.map_err(http)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("control connection: {e}");
            }
        });
        let body = match body {
            Some(body) => serde_json::to_vec(body).map_err(|e| ControlError::BadAnswer {
                what: path.to_owned(),
                reason: format!("cannot encode the request: {e}"),
            })?,
            None => Vec::new(),
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, "swarmfeed")
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ControlError::BadAnswer {
                what: path.to_owned(),
                reason: format!("cannot build the request: {e}"),
            })?;
        let response = tokio::time::timeout(READ_TIMEOUT, sender.send_request(request))
            .await
            .map_err(|_| ControlError::TimedOut)?
            .map_err(http)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = read_all(response.into_body()).await?;
        let answer = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
            error: status.canonical_reason().unwrap_or("error").to_owned(),
            message: String::from_utf8_lossy(&bytes).into_owned(),
        });
        Err(node_error(status.as_u16(), answer))
    }
}

fn node_error(status: u16, answer: ErrorBody) -> ControlError {
    ControlError::Node {
        status,
        error: answer.error,
        message: answer.message,
    }
}

fn parse<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(bytes).map_err(|e| ControlError::BadAnswer {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

/// The next data of an answer; `None` at its end.
async fn next_frame(body: &mut Incoming) -> Result<Option<Bytes>, ControlError> {
    loop {
        let frame = tokio::time::timeout(READ_TIMEOUT, body.frame())
            .await
            .map_err(|_| ControlError::TimedOut)?;
        match frame {
            None => return Ok(None),
            Some(Err(e)) => {
                return Err(ControlError::BadAnswer {
                    what: "the answer".into(),
                    reason: e.to_string(),
                });
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

async fn read_all(mut body: Incoming) -> Result<Vec<u8>, ControlError> {
    let mut bytes = Vec::new();
    while let Some(data) = next_frame(&mut body).await? {
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}
