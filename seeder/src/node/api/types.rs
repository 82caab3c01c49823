//! The typed requests and answers of the API, as they travel: the control socket's server
//! and its client (the command line) use the same structs, and so do both ends of the
//! node-to-node routes. Identities and feed names travel as text and are checked by the
//! method (a bad one is a `400` with a stable name).
//!
//! Fields of answers are declared in alphabetical order: the JSON the command line prints
//! (`follows --json`) keeps the key order it had when it was built from `json!` maps.

use std::path::PathBuf;

use feeds::SignedHead;
use serde::{Deserialize, Serialize};

use store::{CapChange, FollowStatus};

/// A follow or unfollow request (`POST /follow`, `POST /unfollow` on the control socket).
/// A follow's caps: absent leaves the cap as it is, a number sets it, `"none"` removes it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FollowRequest {
    pub identity: String,
    pub feed: Option<String>,
    /// Unfollow only: also delete the content no other follow names.
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

/// What a follow did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowAnswer {
    /// False when the follow existed already.
    pub new: bool,
}

/// What an unfollow did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfollowAnswer {
    /// Torrents deleted with `delete`.
    pub deleted_torrents: usize,
    /// False when there was no such follow.
    pub removed: bool,
}

/// What `publish` just committed (the body of `POST /published`; absent: any feed).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublishedRequest {
    pub identity: String,
    pub feed: String,
}

/// A follow and how far it got (`GET /follows`, `follows --json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowView {
    pub added_at: u64,
    pub complete: u64,
    pub entries: u64,
    /// `None` follows every feed of the identity.
    pub feed: Option<String>,
    pub feeds: Vec<FeedProblem>,
    pub have_bytes: u64,
    pub identity: String,
    pub last_error: Option<String>,
    pub last_update: Option<u64>,
    pub max_bytes: Option<u64>,
    pub max_files: Option<u64>,
    pub over_limit: Option<OverLimit>,
    pub reserved_bytes: u64,
    pub reserved_files: u64,
    pub torrents: u64,
    pub total_bytes: u64,
}

/// A feed a follow covers, with its problem (frozen, failing) if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedProblem {
    pub feed: String,
    pub problem: Option<String>,
}

/// Torrents of a follow that wait over a cap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverLimit {
    pub bytes: u64,
    pub reason: Option<String>,
    pub torrents: u64,
}

impl From<&FollowStatus> for FollowView {
    fn from(f: &FollowStatus) -> FollowView {
        FollowView {
            added_at: f.added_at,
            complete: f.complete,
            entries: f.entries,
            feed: f.feed.as_ref().map(|f| f.as_str().to_owned()),
            feeds: f
                .feeds
                .iter()
                .map(|(name, problem)| FeedProblem {
                    feed: name.as_str().to_owned(),
                    problem: problem.clone(),
                })
                .collect(),
            have_bytes: f.have_bytes,
            identity: f.identity.to_string(),
            last_error: f.last_error.clone(),
            last_update: f.last_update,
            max_bytes: f.limits.caps.max_bytes,
            max_files: f.limits.caps.max_files,
            over_limit: (f.limits.waiting > 0).then(|| OverLimit {
                bytes: f.limits.waiting_bytes,
                reason: f.limits.reason.clone(),
                torrents: f.limits.waiting,
            }),
            reserved_bytes: f.limits.used.bytes,
            reserved_files: f.limits.used.files,
            torrents: f.torrents,
            total_bytes: f.total_bytes,
        }
    }
}

/// A node registering as a follower of a feed (`POST /api/v1/followers`, docs/protocol.md):
/// the body the follower sends and the serving node reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowerRegistration {
    pub identity: String,
    pub feed: String,
    /// Where the follower takes pushed heads.
    pub url: String,
}

/// A signed head pushed by another node (`POST /api/v1/heads`: the bencoded head as the
/// body, the pushing node's URL in `x-swarmfeed-node`).
#[derive(Clone, Debug)]
pub struct PushedHead {
    pub head: SignedHead,
    /// The URL the pushing node says it serves the feed at.
    pub node_url: Option<String>,
}

/// The header naming the pushing node's URL beside a pushed head.
pub const NODE_URL_HEADER: &str = "x-swarmfeed-node";

/// `POST /publish`: what `swarmfeed publish` takes, for the node to publish itself. Paths
/// are absolute (the node does not share the caller's working directory).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublishRequest {
    /// Keystore name of the identity; absent: the default identity.
    pub identity: Option<String>,
    pub feed: String,
    /// The file or directory to publish.
    pub path: PathBuf,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub meta: Vec<(String, String)>,
    pub piece_size: Option<u64>,
    #[serde(default)]
    pub webseeds: Vec<String>,
    #[serde(default)]
    pub trackers: Vec<String>,
    /// Publish although the identity was imported and its feeds were not synced.
    #[serde(default)]
    pub force_new_feed: bool,
}

/// One line of the answer to `POST /publish` (newline-delimited JSON): `started`, any number
/// of `hashed`, then `published` or `failed`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PublishEvent {
    /// The request is accepted and its files listed; hashing starts.
    Started {
        total_bytes: u64,
        skipped_symlinks: Vec<PathBuf>,
    },
    /// Bytes hashed so far.
    Hashed { bytes: u64 },
    /// The entry is committed.
    Published(PublishAnswer),
    /// Publishing failed after the answer began (its own status was already sent).
    Failed(PublishFailure),
}

/// Why a publish failed once its answer had begun: the status and stable name it would
/// have had as an error answer, and the message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishFailure {
    pub status: u16,
    pub error: String,
    pub message: String,
}

/// A committed publication, and where the node serves it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishAnswer {
    pub identity: String,
    pub feed: String,
    pub seq: u64,
    pub kind: String,
    pub entry_hash: String,
    pub content: Option<PublishedContentInfo>,
    pub entry_url: Option<String>,
    pub torrent_url: Option<String>,
    /// Set when the entry is committed but the node could not take it in (not seeded or
    /// announced yet): why.
    pub not_taken_in: Option<String>,
}

/// The torrent of a publication.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishedContentInfo {
    pub infohash: String,
    pub magnet: String,
    pub torrent_path: PathBuf,
}

impl PublishAnswer {
    /// The answer for `published`, with the URLs of the node at `public_url` if one serves it.
    pub fn of(published: &publisher::Published, public_url: Option<&str>) -> PublishAnswer {
        let entry = published.entry.entry();
        let content = published
            .content
            .as_ref()
            .map(|content| PublishedContentInfo {
                infohash: content.infohash.to_string(),
                magnet: content.magnet.clone(),
                torrent_path: content.torrent_path.clone(),
            });
        PublishAnswer {
            identity: published.identity.to_string(),
            feed: entry.feed.to_string(),
            seq: entry.seq,
            kind: entry.kind.name().to_owned(),
            entry_hash: published.entry.hash().to_string(),
            entry_url: public_url
                .map(|url| format!("{url}/{}/{}/{}", published.identity, entry.feed, entry.seq)),
            torrent_url: public_url
                .zip(content.as_ref())
                .map(|(url, c)| format!("{url}/torrents/{}.torrent", c.infohash)),
            content,
            not_taken_in: None,
        }
    }
}

/// `POST /retract`: what `swarmfeed retract` takes, for the node to sign the `delete` entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RetractRequest {
    /// Keystore name of the identity; absent: the default identity.
    pub identity: Option<String>,
    pub feed: String,
    /// The seq of the post to retract.
    pub seq: u64,
}

/// A committed `delete` entry, and where the node serves it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RetractAnswer {
    pub identity: String,
    pub feed: String,
    /// The seq of the `delete` entry itself.
    pub seq: u64,
    pub kind: String,
    pub entry_hash: String,
    pub entry_url: Option<String>,
    /// Set when the entry is committed but the node could not take it in: why.
    pub not_taken_in: Option<String>,
}

impl From<PublishAnswer> for RetractAnswer {
    fn from(answer: PublishAnswer) -> RetractAnswer {
        RetractAnswer {
            identity: answer.identity,
            feed: answer.feed,
            seq: answer.seq,
            kind: answer.kind,
            entry_hash: answer.entry_hash,
            entry_url: answer.entry_url,
            not_taken_in: answer.not_taken_in,
        }
    }
}

impl From<RetractAnswer> for PublishAnswer {
    /// The answer as `publish` prints it (no content, no torrent).
    fn from(answer: RetractAnswer) -> PublishAnswer {
        PublishAnswer {
            identity: answer.identity,
            feed: answer.feed,
            seq: answer.seq,
            kind: answer.kind,
            entry_hash: answer.entry_hash,
            content: None,
            entry_url: answer.entry_url,
            torrent_url: None,
            not_taken_in: answer.not_taken_in,
        }
    }
}

/// Where `verify` and `identity sync` look for feeds and what they may reach: their flags,
/// as `serve` takes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FetchOptions {
    /// Base URLs of nodes that may hold the feeds.
    pub nodes: Vec<String>,
    /// DHT bootstrap nodes (`host:port`); absent: the running node's own DHT.
    pub dht_bootstrap: Option<Vec<String>>,
    /// Fetch from private and loopback addresses too.
    pub allow_private_fetch: bool,
    /// Networks to fetch from although not public.
    pub fetch_allow: Vec<http_server::Network>,
    /// The address the fetch's DHT and BitTorrent bind to (any free ports).
    pub bind_ip: std::net::Ipv4Addr,
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            nodes: Vec::new(),
            dht_bootstrap: None,
            allow_private_fetch: false,
            fetch_allow: Vec::new(),
            bind_ip: std::net::Ipv4Addr::UNSPECIFIED,
        }
    }
}

/// `GET /verify?…` (`swarmfeed verify`): fetch a feed from wherever it can be found and
/// check it as a follower would, keeping nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRequest {
    pub identity: String,
    pub feed: String,
    #[serde(flatten)]
    pub fetch: FetchOptions,
}

/// What a verified feed turned out to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every entry up to `verified_seq` checked (signatures, chain, the head that names the
    /// last one); the highest head found is at `head_seq`.
    Valid { verified_seq: u64, head_seq: u64 },
    /// Two different signed entries at `seq`: the feed forked.
    Forked { seq: u64 },
}

/// `POST /restore` (`swarmfeed identity sync`, and the sync `identity import` runs): fetch
/// an own identity's feeds from the network into the data directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    /// Keystore name of the identity; absent: the default identity.
    pub identity: Option<String>,
    /// Seconds to keep looking before giving up.
    pub timeout_secs: u64,
    #[serde(flatten)]
    pub fetch: FetchOptions,
}

/// What a restore installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreAnswer {
    /// The identity's id.
    pub identity: String,
    /// One per feed its identity record lists.
    pub feeds: Vec<RestoredFeed>,
}

/// One feed as the restore left it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredFeed {
    pub feed: String,
    pub installed: publisher::restore::Installed,
}
