//! Reading what the node holds: signed heads, identity records, log parts and .torrent files
//! (what other nodes fetch), and feeds, entries and identities (what the gateway shows).
//!
//! No method here takes an actor: everything a node holds today is public — signed by its
//! publisher, addressed by its hash, and served to anyone who asks. Private feeds will add
//! one (and the policy deciding who may read them) here.
//!
//! The answers are the store's own plain-data types, re-exported below so callers need not
//! know where they come from: nothing is copied into a second form on the way out.

use data_dir::DataDir;
use feeds::{FeedName, IdentityKey, InfoHash, SignedHead, SignedIdentityRecord};

use super::NodeApi;
use crate::node::own;
use http_server::ApiError;

pub use store::{
    EntryPage, FeedState, FeedStatus, IdentityInfo, Order, RecentCursor, RecentPage, StoredEntry,
    StoredFile, StoredTorrent,
};

/// A .torrent file as the node serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentFile {
    /// The publisher's exact bytes.
    pub bytes: Vec<u8>,
    /// This node's BitTorrent port, when it seeds the torrent (a peer hint: a follower that
    /// took the .torrent from here can connect at once instead of waiting for the DHT).
    pub peer_port: Option<u16>,
}

/// An identity that publishes from this node: its key in the node's keystore, or held
/// (sealed) by the gateway for its users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnIdentity {
    /// The keystore's name for it (`None`: held for users, who name it by its profile).
    pub name: Option<String>,
    pub key: IdentityKey,
    /// The feeds it publishes from this node.
    pub feeds: Vec<FeedName>,
    /// Held by the gateway for its users (`[accounts]`).
    pub held: bool,
}

impl NodeApi {
    /// The store's write generation: it moves on every change, so an answer rendered at one
    /// generation stays right until it moves (the gateway's page cache).
    pub fn generation(&self) -> u64 {
        self.node.store.generation()
    }

    /// The URL this node is reached at, without a trailing `/`.
    pub fn public_url(&self) -> &str {
        &self.node.public_url
    }

    /// The newest signed head held of a feed, or `not_found`.
    pub async fn head(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<SignedHead, ApiError> {
        self.node
            .store
            .head(identity, feed)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no head of {identity}/{feed} here")))
    }

    /// The newest identity record held of `identity`, or `not_found`.
    pub async fn identity_record(
        &self,
        identity: &IdentityKey,
    ) -> Result<SignedIdentityRecord, ApiError> {
        self.node
            .store
            .identity_record(identity)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no identity record of {identity} here")))
    }

    /// The bytes of a feed log part (the file its torrent holds), or `not_found` if this
    /// node holds no part `infohash` of that feed.
    pub async fn log_part(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        infohash: &InfoHash,
    ) -> Result<Vec<u8>, ApiError> {
        match self
            .node
            .store
            .log_torrent_by_infohash(infohash)
            .await
            .map_err(ApiError::internal)?
        {
            Some(part) if part.identity == *identity && part.feed == *feed => Ok(part.bytes),
            _ => Err(ApiError::not_found(format!(
                "no log part {infohash} of {identity}/{feed} here"
            ))),
        }
    }

    /// The publisher's exact .torrent of a torrent held here, or `not_found`.
    pub async fn torrent_file(&self, infohash: &InfoHash) -> Result<TorrentFile, ApiError> {
        let bytes = self
            .node
            .store
            .torrent_file(infohash)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no .torrent for {infohash} here")))?;
        let seeding = self
            .node
            .engine
            .stats(infohash)
            .is_ok_and(|status| status.have_bytes > 0 || status.total_bytes == 0);
        Ok(TorrentFile {
            bytes,
            peer_port: seeding.then(|| self.node.bt_port()),
        })
    }

    /// What the node holds about a feed, or `not_found`.
    pub async fn feed_state(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<FeedState, ApiError> {
        self.known_feed_state(identity, feed).await?.ok_or_else(|| {
            ApiError::not_found(format!("this node holds no feed {identity}/{feed}"))
        })
    }

    /// What the node holds about a feed, `None` if nothing.
    pub async fn known_feed_state(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<Option<FeedState>, ApiError> {
        self.node
            .store
            .feed_state(identity, feed)
            .await
            .map_err(ApiError::internal)
    }

    /// A page of a feed's entries (none if the feed is not held).
    pub async fn entries(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        page: EntryPage,
    ) -> Result<Vec<StoredEntry>, ApiError> {
        self.node
            .store
            .entries(identity, feed, page)
            .await
            .map_err(ApiError::internal)
    }

    /// One entry, or `not_found`.
    pub async fn entry(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        seq: u64,
    ) -> Result<StoredEntry, ApiError> {
        self.node
            .store
            .entry(identity, feed, seq)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::not_found(format!("this node holds no entry {identity}/{feed}/{seq}"))
            })
    }

    /// The newest posts of every followed feed, retracted ones left out.
    pub async fn recent_followed_posts(
        &self,
        before: Option<RecentCursor>,
        limit: u32,
    ) -> Result<RecentPage, ApiError> {
        self.node
            .store
            .recent_followed_posts(before, limit)
            .await
            .map_err(ApiError::internal)
    }

    /// Everything held about an identity (`None`: nothing).
    pub async fn identity(&self, identity: &IdentityKey) -> Result<Option<IdentityInfo>, ApiError> {
        self.node
            .store
            .identity(identity)
            .await
            .map_err(ApiError::internal)
    }

    /// The identities publishing from this node, with their feeds: the keystore's, then
    /// those the gateway holds for its users. A keystore or accounts database that cannot
    /// be read lists none of its own (pages show the rest of what the node holds).
    pub async fn own_identities(&self) -> Vec<OwnIdentity> {
        let held = own::held_identities(&self.node).await;
        let data: DataDir = self.node.data.clone();
        tokio::task::spawn_blocking(move || {
            let listed = data.keystore().list().unwrap_or_default();
            let mut own: Vec<OwnIdentity> = listed
                .into_iter()
                .map(|id| OwnIdentity {
                    feeds: data.feeds_of(&id.public).unwrap_or_default(),
                    name: Some(id.name),
                    key: id.public,
                    held: false,
                })
                .collect();
            for key in held {
                if own.iter().all(|o| o.key != key) {
                    own.push(OwnIdentity {
                        feeds: data.feeds_of(&key).unwrap_or_default(),
                        name: None,
                        key,
                        held: true,
                    });
                }
            }
            own
        })
        .await
        .unwrap_or_default()
    }

    /// A torrent held here (`None`: not held).
    pub async fn torrent(&self, infohash: &InfoHash) -> Result<Option<StoredTorrent>, ApiError> {
        self.node
            .store
            .torrent(infohash)
            .await
            .map_err(ApiError::internal)
    }
}
