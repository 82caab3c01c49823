//! Publishing files as the node: the publish flow of the `publisher` crate run inside the
//! node (for the control socket's `/publish` and the gateway's upload form), then the new
//! entry taken in at once. Only the key of the identity that signs is loaded: for the
//! operator from the keystore, for a signed-in user the key the accounts database keeps
//! sealed for that identity ([`Signer`]).

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use feeds::{IdentityKey, Keypair};
use hyper::body::Bytes;
use publisher::TorrentOptions;
use publisher::publish::{PreparedPublish, prepare_signed};
use publisher::torrent::KnownDigest;
use tokio::task::JoinHandle;

use super::authorize::{Authorized, Operation};
use super::parse::{parse_feed, parse_identity};
use super::types::{PublishAnswer, PublishEvent, PublishFailure, PublishRequest};
use super::{Actor, NodeApi};
use crate::node::{NodeHandle, own};
use http_server::{ApiError, ErrorCode};
use store::unix_now;

/// How often a streamed publish reports hashing progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A publish under way: its files are listed and hashing runs.
pub struct Publishing {
    total_bytes: u64,
    skipped_symlinks: Vec<PathBuf>,
    hashed: Arc<AtomicU64>,
    task: JoinHandle<Result<PublishAnswer, ApiError>>,
}

impl Publishing {
    /// Bytes the hashing pass reads.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Bytes hashed so far.
    pub fn hashed(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }

    /// The committed entry (and whether the node took it in).
    pub async fn finish(self) -> Result<PublishAnswer, ApiError> {
        self.task.await.map_err(ApiError::internal)?
    }
}

/// Where the key that signs comes from.
pub(super) enum Signer {
    /// The keystore's identity of that name (`None`: the default): the operator's.
    Keystore(Option<String>),
    /// A key the gateway holds for its users, unsealed for this publish only.
    Held(Keypair),
}

impl NodeApi {
    /// Publishes files as a new entry of an own feed: checks `request` (identity, feed,
    /// metadata, path) and starts hashing; errors in the request come back here, before
    /// any progress. Only the key of the identity named (or the default one) is loaded.
    /// A user names the identity by its id and must be its owner or publisher; the key
    /// is the one the gateway holds for it.
    pub async fn publish(
        &self,
        actor: &Actor,
        request: PublishRequest,
    ) -> Result<Publishing, ApiError> {
        let (authorized, signer) = self
            .may_sign(actor, Operation::PublishFiles, request.identity.as_deref())
            .await?;
        // A request names files; it never vouches for their hashes.
        start(&self.node, &authorized, signer, request, Vec::new()).await
    }

    /// The decision to sign as `identity` (publish, retract), and the key that will sign.
    pub(super) async fn may_sign(
        &self,
        actor: &Actor,
        operation: Operation,
        identity: Option<&str>,
    ) -> Result<(Authorized, Signer), ApiError> {
        let Actor::User { user } = actor else {
            let authorized = self.authorize(actor, operation)?;
            return Ok((authorized, Signer::Keystore(identity.map(str::to_owned))));
        };
        let Some(identity) = identity else {
            // Decided (and refused) all the same: a user has no default identity.
            self.authorize(actor, operation)?;
            return Err(ApiError::bad_request(
                ErrorCode::BadIdentity,
                "name the identity to publish as",
            ));
        };
        let identity: IdentityKey = match parse_identity(identity) {
            Ok(identity) => identity,
            Err(e) => {
                self.authorize(actor, operation)?;
                return Err(e);
            }
        };
        let authorized = self.authorize_on(actor, operation, &identity).await?;
        let accounts = self.accounts().ok_or_else(|| {
            ApiError::internal("a user acts but the node has no accounts service")
        })?;
        let seed = accounts
            .signing_key(*user, &identity.to_string())
            .await
            .map_err(|e| match e {
                accounts::Error::UnknownIdentity(_) => ApiError::new(
                    StatusCode::NOT_FOUND,
                    ErrorCode::UnknownIdentity,
                    format!("this gateway holds no key for {identity}"),
                ),
                e => ApiError::internal(e),
            })?;
        Ok((authorized, Signer::Held(Keypair::from_seed(&seed))))
    }
}

/// The one publish implementation, for the control socket and the upload form alike.
/// `known`: BLAKE3 digests of files the node itself wrote and hashed as they arrived (the
/// upload form's), by path inside the torrent; taken while each file keeps its stamp
/// (publisher's `torrent::known`). Empty for anything a request names.
pub(super) async fn start(
    node: &NodeHandle,
    _: &Authorized,
    signer: Signer,
    request: PublishRequest,
    known: Vec<(Vec<String>, KnownDigest)>,
) -> Result<Publishing, ApiError> {
    let feed = parse_feed(&request.feed)?;
    if !request.path.is_absolute() {
        return Err(ApiError::bad_request(
            ErrorCode::BadPath,
            format!(
                "{} is not an absolute path (the node does not share your working directory)",
                request.path.display()
            ),
        ));
    }
    let data = node.data.clone();
    let force = request.force_new_feed;
    let publish_request = publisher::PublishRequest {
        path: request.path,
        feed: Some(feed.clone()),
        // The key is chosen above ([`Signer`]).
        identity: None,
        title: request.title,
        description: request.description,
        meta: request.meta,
        torrent: TorrentOptions {
            piece_length: request.piece_size,
            webseeds: request.webseeds,
            trackers: request.trackers,
            blake3: true,
        },
        // The node's gateway web-seeds what it publishes.
        gateway: Some(node.public_url.clone()),
    };
    let prepared = blocking(move || -> publisher::Result<PreparedPublish> {
        let keypair = match signer {
            // Only the one identity named (or the default) is read from the keystore.
            Signer::Keystore(name) => data.keystore().resolve(name.as_deref())?.1,
            Signer::Held(keypair) => keypair,
        };
        publisher::restore::check_may_sign(&data, &keypair.public(), force)?;
        let mut prepared = prepare_signed(&publish_request, keypair)?;
        prepared.trust_digests(&known)?;
        Ok(prepared)
    })
    .await?
    .map_err(publisher_error)?;

    let hashed = Arc::new(AtomicU64::new(0));
    let (total_bytes, skipped_symlinks) = (
        prepared.total_length(),
        prepared.skipped_symlinks().to_vec(),
    );
    let (node, counter) = (node.clone(), hashed.clone());
    let task = tokio::spawn(async move {
        let keypair = prepared.keypair().clone();
        let data = node.data.clone();
        let published = blocking(move || {
            let progress = move |n: u64| {
                counter.fetch_add(n, Ordering::Relaxed);
            };
            prepared.publish(&data, unix_now(), &progress)
        })
        .await?
        .map_err(publisher_error)?;
        Ok(take_in_published(&node, published, keypair).await)
    });
    Ok(Publishing {
        total_bytes,
        skipped_symlinks,
        hashed,
        task,
    })
}

/// Takes a committed entry in (its identity's record, then its feed: seeded, announced,
/// pushed) and answers it; an entry the node cannot take in is still committed, and its
/// answer says why it is not served yet.
pub(super) async fn take_in_published(
    node: &NodeHandle,
    mut published: publisher::Published,
    keypair: feeds::Keypair,
) -> PublishAnswer {
    let identity = published.identity;
    let feed = published.entry.entry().feed.clone();
    let taken_in = match own::sync_identity_record(node, &identity, Some(keypair)).await {
        Ok(()) => own::sync_feed(node, &identity, &feed).await,
        Err(e) => Err(e),
    };
    if let Some(content) = &mut published.content {
        // The caller does not share the node's working directory.
        content.torrent_path = std::path::absolute(&content.torrent_path)
            .unwrap_or_else(|_| content.torrent_path.clone());
    }
    match taken_in {
        Ok(()) => PublishAnswer::of(&published, Some(&node.public_url)),
        Err(e) => {
            tracing::warn!(%identity, %feed, "cannot take in own feed: {e}");
            PublishAnswer {
                not_taken_in: Some(format!("cannot take in own feed {identity}/{feed}: {e}")),
                ..PublishAnswer::of(&published, None)
            }
        }
    }
}

/// The answer of `/publish`: one JSON event a line, `started`, `hashed` while it hashes,
/// then `published` or `failed`. Publishing goes on if the caller hangs up: an entry is
/// committed whole or not at all.
pub fn publish_stream(publishing: Publishing) -> Response {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let started = PublishEvent::Started {
            total_bytes: publishing.total_bytes,
            skipped_symlinks: publishing.skipped_symlinks.clone(),
        };
        let _ = sender.send(line(&started)).await;
        let Publishing { hashed, task, .. } = publishing;
        let mut task = task;
        let mut reported = 0;
        let mut ticks = tokio::time::interval(PROGRESS_EVERY);
        let result = loop {
            tokio::select! {
                result = &mut task => break result,
                _ = ticks.tick() => {
                    let bytes = hashed.load(Ordering::Relaxed);
                    if bytes != reported {
                        reported = bytes;
                        let _ = sender.send(line(&PublishEvent::Hashed { bytes })).await;
                    }
                }
            }
        };
        let last = match result.map_err(ApiError::internal).and_then(|r| r) {
            Ok(answer) => PublishEvent::Published(answer),
            Err(e) => PublishEvent::Failed(PublishFailure {
                status: e.status().as_u16(),
                error: e.name().to_owned(),
                message: e.message().to_owned(),
            }),
        };
        let _ = sender.send(line(&last)).await;
    });
    let stream = futures_lite::stream::unfold(receiver, |mut receiver| async move {
        let bytes = receiver.recv().await?;
        Some((Ok::<_, Infallible>(bytes), receiver))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

fn line(event: &PublishEvent) -> Bytes {
    let mut bytes = serde_json::to_vec(event).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The stable name and status of a publisher error, with its message.
pub(super) fn publisher_error(e: publisher::Error) -> ApiError {
    use data_dir::Error as D;
    use publisher::Error as E;
    let (status, name) = match &e {
        E::FileChanged { .. } => (StatusCode::CONFLICT, ErrorCode::FileChanged),
        E::Io { .. } | E::DataDir(D::Io { .. } | D::Random(_) | D::BackupEncrypt(_)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::PublishFailed)
        }
        E::DataDir(D::UnknownIdentity(_) | D::NoDefaultIdentity) => {
            (StatusCode::NOT_FOUND, ErrorCode::UnknownIdentity)
        }
        E::NotSynced(_) => (StatusCode::CONFLICT, ErrorCode::NotSynced),
        E::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::BadPath),
        E::NoSuchEntry { .. } => (StatusCode::NOT_FOUND, ErrorCode::BadSeq),
        _ => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
    };
    ApiError::new(status, name, e.to_string())
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}
