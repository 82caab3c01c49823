//! The node's own feeds: what was published on the data directory (by the node itself
//! through the control socket's `/publish`, or by `swarmfeed publish` while no node ran) is
//! taken into the store, seeded from where its files lie, put into the DHT and pushed to
//! the nodes that follow it. Runs at start and after every publish.
//!
//! Secret keys stay on disk unless a signature is needed: an identity record is re-signed
//! (to name this node, or list a new feed) only when its content changes, with the key of
//! that identity alone.

use std::path::PathBuf;

use feeds::layout::{segment_name, tail_name};
use feeds::{FeedName, IdentityKey, Keypair, Kind, SignedEntry, SignedHead, SignedIdentityRecord};
use publisher::feed_writer::{
    FeedState, current_identity_record, read_committed, stored_identity_record,
    update_identity_record,
};
use publisher::publish::ContentRecord;

use super::{Error, NodeHandle, Result, content, replicate};
use store::{LogPart, NewTorrent, Origin, TorrentState, unix_now};

/// An own feed the node could not take in (its store refused the entries: a full disk, a
/// locked database), and why. The entries stay committed in the data directory, and the
/// next `sync_all` (the next publish, or a restart) takes them in.
#[derive(Debug)]
pub struct NotTakenIn {
    pub identity: IdentityKey,
    pub feed: FeedName,
    pub error: Error,
}

/// Takes in every feed of every identity in the keystore, of every identity the gateway
/// holds for its users, and of every identity whose key is gone that published here;
/// returns the feeds it could not. Identities are listed by their
/// public keys; a key is loaded only for a record to re-sign (a held identity's record is
/// re-signed at its members' next publish: the node alone does not unseal its key).
pub async fn sync_all(node: &NodeHandle) -> Result<Vec<NotTakenIn>> {
    let mut failed = Vec::new();
    let data = node.data.clone();
    let keys = blocking(move || data.keystore().list_public()).await??;
    let held = held_identities(node).await;
    let keyless = keyless_identities(node, &keys, &held).await?;
    for (name, identity) in keys {
        // One identity's record that cannot be signed (its key file unreadable, say) does
        // not keep the others, or its own feeds, from being taken in.
        if let Err(e) = sync_identity_record(node, &identity, None).await {
            tracing::warn!(%identity, name, "cannot update the identity record: {e}");
        }
        super::extensions::sync_own(node, &identity).await;
        failed.extend(sync_feeds(node, &identity).await?);
    }
    // The node alone does not unseal a key it holds for users, and an identity whose key is
    // gone (an account deletion destroyed the key the gateway held) has none: what they
    // signed stays served, seeded and findable as it stands. Their records are taken in as
    // signed, their feeds like the others (republish_loop then keeps them alive).
    const HELD: &str = "it is re-signed when a member next publishes or sets the profile";
    const KEYLESS: &str = "its key is gone, so it stays as signed";
    let unsigned = held.into_iter().map(|id| (id, HELD));
    for (identity, why) in unsigned.chain(keyless.into_iter().map(|id| (id, KEYLESS))) {
        take_in_record_as_signed(node, &identity, why).await;
        super::extensions::sync_own(node, &identity).await;
        failed.extend(sync_feeds(node, &identity).await?);
    }
    Ok(failed)
}

/// The identities the data directory holds feeds of that are neither in the keystore
/// (`keys`) nor `held` for users: published here with a key since destroyed.
async fn keyless_identities(
    node: &NodeHandle,
    keys: &[(String, IdentityKey)],
    held: &[IdentityKey],
) -> Result<Vec<IdentityKey>> {
    let data = node.data.clone();
    let mut published = blocking(move || data.identities_with_feeds()).await??;
    published.retain(|id| !held.contains(id) && !keys.iter().any(|(_, k)| k == id));
    Ok(published)
}

/// The identities the gateway holds for its users (none without accounts; an unreadable
/// accounts database is logged and lists none).
pub async fn held_identities(node: &NodeHandle) -> Vec<IdentityKey> {
    let Some(accounts) = &node.accounts else {
        return Vec::new();
    };
    match accounts.held_identities().await {
        Ok(ids) => ids.iter().filter_map(|id| id.parse().ok()).collect(),
        Err(e) => {
            tracing::warn!("cannot list the identities held for users: {e}");
            Vec::new()
        }
    }
}

/// Takes in every feed of one identity; returns the feeds it could not.
pub async fn sync_feeds(node: &NodeHandle, identity: &IdentityKey) -> Result<Vec<NotTakenIn>> {
    let mut failed = Vec::new();
    for feed in node.data.feeds_of(identity)? {
        if let Err(error) = sync_feed(node, identity, &feed).await {
            tracing::warn!(%identity, %feed, "cannot take in own feed: {error}");
            failed.push(NotTakenIn {
                identity: *identity,
                feed,
                error,
            });
        }
    }
    Ok(failed)
}

/// Takes in `identity`'s record as it was signed, signing nothing (the node holds no key it
/// may use alone). A record that no longer names this node first (its public URL changed)
/// or misses a feed is still served; `why` says when, if ever, it is re-signed.
async fn take_in_record_as_signed(node: &NodeHandle, identity: &IdentityKey, why: &str) {
    let (data, url, id) = (node.data.clone(), node.public_url.clone(), *identity);
    let stored = blocking(move || stored_identity_record(&data, &id, Some(&url)))
        .await
        .and_then(|read| read.map_err(Error::from));
    match stored {
        Ok(Some((record, current))) => {
            if !current {
                tracing::info!(%identity, "identity record taken in as signed, though it does not name this node's URL first or list every feed: {why}");
            }
            take_in_record(node, record).await;
        }
        Ok(None) => tracing::warn!(%identity, "no identity record in the data directory"),
        Err(e) => tracing::warn!(%identity, "cannot read the identity record: {e}"),
    }
}

/// Brings `identity`'s record up to date (naming this node first, listing every feed) and
/// hands it to the store and the DHT. The record is re-signed only if its content changes,
/// with `keypair` or else the keystore's key of that identity (no other key is read).
pub async fn sync_identity_record(
    node: &NodeHandle,
    identity: &IdentityKey,
    keypair: Option<Keypair>,
) -> Result<()> {
    if publisher::restore::is_pending(&node.data, identity) {
        // Imported from a backup and not synced yet: a record signed now could outrank or
        // fork the one the network holds. The restore installs that one, then this runs.
        tracing::info!(%identity, "identity record not signed: its restore is pending (identity sync)");
        return Ok(());
    }
    let (data, url, id) = (node.data.clone(), node.public_url.clone(), *identity);
    let record = blocking(move || {
        if let Some(current) = current_identity_record(&data, &id, Some(&url))? {
            return Ok(current);
        }
        let keypair = match keypair {
            Some(keypair) => keypair,
            None => data.keystore().keypair_of(&id)?.1,
        };
        update_identity_record(&data, &keypair, Some(&url))
    })
    .await??;
    node.store.put_identity_record(&record).await?;
    put_record_into_dht(node, record);
    Ok(())
}

/// Stores `record` and puts it into the DHT; a refusal is logged.
async fn take_in_record(node: &NodeHandle, record: SignedIdentityRecord) {
    match node.store.put_identity_record(&record).await {
        Ok(_) => put_record_into_dht(node, record),
        Err(e) => {
            tracing::warn!(identity = %record.identity(), "cannot store the identity record: {e}")
        }
    }
}

fn put_record_into_dht(node: &NodeHandle, record: SignedIdentityRecord) {
    let dht_node = node.clone();
    tokio::spawn(async move {
        if let Err(e) = dht_node.dht.put_item(record.item()).await {
            tracing::debug!("DHT put of identity record: {e}");
        }
    });
}

/// Takes in one own feed: new entries, head, log torrents, content.
pub async fn sync_feed(node: &NodeHandle, identity: &IdentityKey, feed: &FeedName) -> Result<()> {
    let (data, id, name) = (node.data.clone(), *identity, feed.clone());
    let (state, entries) = blocking(move || read_committed(&data, &id, &name)).await??;
    let checkpoint = node.store.checkpoint(identity, feed).await?;
    let verified = checkpoint.as_ref().map_or(0, |c| c.seq);
    let fresh: Vec<SignedEntry> = entries.into_iter().filter(|e| e.seq() > verified).collect();
    if !fresh.is_empty() {
        let log = feeds::verify_log(identity, feed, fresh, checkpoint.as_ref())?;
        node.store.append_verified_log(identity, feed, &log).await?;
        for entry in &log.entries {
            seed_own_content(node, entry).await;
        }
    }
    seed_log_torrents(node, identity, feed, &state).await?;
    let dir = node.data.feed_dir(identity, feed);
    let head_path = dir.join("head");
    let head = read(&head_path).await?;
    let head = SignedHead::decode(&head)?;
    node.store.put_head(&head).await?;
    replicate::publish_head(node, head);
    Ok(())
}

/// Seeds a post's content from where it lies, or stops seeding what a delete retracts.
async fn seed_own_content(node: &NodeHandle, signed: &SignedEntry) {
    let entry = signed.entry();
    match (&entry.kind, &entry.content) {
        (Kind::Post, Some(content)) => {
            let infohash = content.infohash;
            let record_path = node.data.content_path(&infohash);
            let torrent_path = node.data.torrent_path(&infohash);
            let loaded = read(&record_path)
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<ContentRecord>(&b).ok());
            let (Some(record), Ok(torrent)) = (loaded, read_torrent(torrent_path).await) else {
                tracing::warn!(%infohash, "published content has no record or .torrent in the data directory");
                return;
            };
            if let Some(change) = record.files.iter().find_map(|f| f.check_unchanged().err()) {
                refuse_changed(node, infohash, change).await;
                return;
            }
            let origin = Origin::Published {
                content_root: record.root.clone(),
            };
            let mut new = NewTorrent::from_content(content, origin);
            new.metainfo = Some(torrent.clone());
            if let Err(e) = node.store.put_torrent(new).await {
                tracing::warn!(%infohash, "cannot store torrent: {e}");
                return;
            }
            let state = match node.engine.seed_existing(&torrent, &record.root).await {
                // The publisher hashed every byte (BLAKE3 included) just now.
                Ok(_) => TorrentState {
                    complete: true,
                    have_bytes: content.size,
                    last_verified: Some(unix_now()),
                    error: None,
                },
                Err(e) => {
                    // Files moved or changed since publishing: say so instead of serving wrong bytes.
                    tracing::warn!(%infohash, root = %record.root.display(), "cannot seed published content: {e}");
                    TorrentState {
                        error: Some(format!("cannot seed from {}: {e}", record.root.display())),
                        ..TorrentState::default()
                    }
                }
            };
            content::record_state(node, &infohash, state).await;
            replicate::announce(node, infohash);
        }
        (Kind::Delete { retracts }, _) => {
            replicate::retract(node, &entry.author, &entry.feed, *retracts).await
        }
        _ => {}
    }
}

/// Stores and seeds the tail and sealed segments the publisher wrote beside the feed.
async fn seed_log_torrents(
    node: &NodeHandle,
    identity: &IdentityKey,
    feed: &FeedName,
    state: &FeedState,
) -> Result<()> {
    let dir = node.data.feed_dir(identity, feed);
    let mut parts: Vec<(LogPart, PathBuf, String)> = Vec::new();
    for (index, hash) in state.segments.iter().enumerate() {
        let index = index as u64;
        let path = dir
            .join("segments")
            .join(index.to_string())
            .join(segment_name(feed, index));
        parts.push((LogPart::Segment(index), path, hash.clone()));
    }
    if let Some(tail) = &state.tail {
        parts.push((
            LogPart::Tail,
            dir.join("tails").join(tail).join(tail_name(feed)),
            tail.clone(),
        ));
    }
    let previous_tail = super::tails::current(node, identity, feed).await;
    for (part, path, hash) in parts {
        let infohash: feeds::InfoHash = hash.parse()?;
        if let LogPart::Segment(_) = part
            && node
                .store
                .log_torrent_by_infohash(&infohash)
                .await?
                .is_some()
        {
            continue;
        }
        let bytes = read(&path).await?;
        let torrent_path = path.with_file_name(format!(
            "{}.torrent",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let torrent = read_torrent(torrent_path).await?;
        node.store
            .put_log_torrent(identity, feed, part, &infohash, bytes)
            .await?;
        node.engine.seed_existing(&torrent, &path).await?;
        replicate::announce(node, infohash);
        if part == LogPart::Tail {
            let tails = dir.join("tails");
            let feed_of = (identity, feed);
            super::tails::retire_replaced(node, feed_of, &tails, infohash, previous_tail, false)
                .await;
        }
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Fetch(format!("worker stopped: {e}")))
}

/// Reads a .torrent of the data directory (at most 64 MiB) without blocking the executor.
pub(super) async fn read_torrent(path: PathBuf) -> Result<Vec<u8>> {
    Ok(blocking(move || data_dir::bounded_read::read_torrent_file(&path)).await??)
}

/// Reads a file of the data directory without blocking the executor.
async fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    tokio::fs::read(path).await.map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Records that published content is no longer served, and why.
pub async fn refuse_all(node: &NodeHandle, changed: Vec<(feeds::InfoHash, String)>) {
    for (infohash, change) in changed {
        refuse_changed(node, infohash, change).await;
    }
}

async fn refuse_changed(node: &NodeHandle, infohash: feeds::InfoHash, change: String) {
    tracing::error!(%infohash, "published content changed on disk, no longer served: {change}");
    node.dht.forget_announced(infohash.0);
    let _ = node.engine.remove(&infohash, false).await;
    let state = TorrentState {
        error: Some(change),
        ..TorrentState::default()
    };
    content::record_state(node, &infohash, state).await;
}
