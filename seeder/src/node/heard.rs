//! Heads, identity records and their extension items that other nodes put to this node's DHT storage: for a feed
//! this node follows, a newer one is taken like a pushed head (verified, stored, the feed
//! updated at once). In a small network every put reaches every node, so a follower hears
//! its publisher's new heads over the DHT alone; see `engine::dht`'s `heard`.

use feeds::{FeedName, SignedHead, SignedIdentityRecord};

use super::{NodeHandle, schedule};
use engine::dht::HeardItem;
use store::HeadChange;

/// Takes the items heard until the node stops.
pub async fn heard_loop(node: NodeHandle) {
    let Some(mut heard) = node.dht.take_heard_items() else {
        return;
    };
    loop {
        let item = tokio::select! {
            _ = node.cancel.cancelled() => return,
            item = heard.recv() => match item {
                Some(item) => item,
                None => return,
            },
        };
        take_in(&node, item).await;
    }
}

async fn take_in(node: &NodeHandle, heard: HeardItem) {
    // Cheap checks first: most puts a node of a large DHT stores are for feeds it does not
    // follow, and need no signature check.
    let Ok(identity) = feeds::IdentityKey::from_bytes(&heard.key) else {
        return;
    };
    if heard.salt.is_empty() {
        let follows = node.store.follows().await.unwrap_or_default();
        if !follows.iter().any(|f| f.identity == identity) {
            return;
        }
        let Some(record) = heard
            .verify()
            .and_then(|item| SignedIdentityRecord::from_item(item).ok())
        else {
            return;
        };
        if let Ok(HeadChange::Newer) = node.store.put_identity_record(&record).await {
            tracing::debug!(%identity, seq = record.item().seq(), "heard a new identity record in the DHT");
            schedule::expand_soon(node);
        }
        return;
    }
    if heard.salt.starts_with(b"@") {
        let follows = node.store.follows().await.unwrap_or_default();
        if follows.iter().any(|f| f.identity == identity)
            && let Some(item) = heard.verify()
        {
            super::extensions::take_in(node, &identity, &item, "a DHT put").await;
        }
        return;
    }
    let Some(feed) = std::str::from_utf8(&heard.salt)
        .ok()
        .and_then(|name| FeedName::new(name).ok())
    else {
        return;
    };
    if !node
        .store
        .is_followed(&identity, &feed)
        .await
        .unwrap_or(false)
    {
        return;
    }
    let Some(head) = heard
        .verify()
        .and_then(|item| SignedHead::from_item(item).ok())
        .filter(|head| head.author() == identity && head.head().feed == feed)
    else {
        return;
    };
    if let Ok(HeadChange::Newer) = node.store.put_head(&head).await {
        tracing::debug!(%identity, %feed, seq = head.head().seq, "heard a new head in the DHT");
        schedule::update_soon(node, identity, feed);
    }
}
