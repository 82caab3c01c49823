//! Keeping this node's signed items and torrents findable: DHT nodes forget items after a
//! while or on restart, and mainline never republishes, so the node puts every head and
//! identity record it holds back, and re-announces every torrent, on an interval. A node
//! needs no secret to republish a signed item.

use std::time::Duration;

use feeds::{IdentityKey, InfoHash};

use super::NodeHandle;
use engine::dht::SMALL_TABLE;

/// Where the node keeps the addresses of the DHT nodes it knew (see [`engine::dht::contacts`]).
pub fn contacts_path(data: &data_dir::DataDir) -> std::path::PathBuf {
    data.root().join("dht-nodes.json")
}

/// Saves the routing table's addresses whenever they changed (checked every 5 s), so a
/// restart, even a crash, finds its way back into the network.
pub async fn contacts_loop(node: NodeHandle) {
    let path = contacts_path(&node.data);
    let mut saved = engine::dht::contacts::load(&path);
    loop {
        tokio::select! {
            _ = node.cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        let mut contacts = node.dht.contacts().await;
        contacts.sort();
        if contacts.is_empty() || contacts == saved {
            continue;
        }
        let (to_save, path) = (contacts.clone(), path.clone());
        match tokio::task::spawn_blocking(move || engine::dht::contacts::save(&path, &to_save))
            .await
        {
            Ok(Ok(())) => saved = contacts,
            Ok(Err(e)) => tracing::warn!("cannot save the DHT nodes known: {e}"),
            Err(_) => {}
        }
    }
}

/// Runs the DHT's puts and announces again as its routing table grows (see [`engine::dht`]).
pub async fn retry_loop(node: NodeHandle) {
    tokio::select! {
        _ = node.cancel.cancelled() => {}
        _ = node.dht.retry_loop() => {}
    }
}

/// Puts every held head, identity record and extension item back into the DHT, and re-announces every
/// torrent, each `republish_interval`: DHT nodes forget items after a while or on restart.
/// The first round runs soon after start, once the routing table holds
/// [`SMALL_TABLE`] nodes or 5 s have passed (and never on an empty table), so a restarted
/// node is findable again without waiting a whole interval. What a round sends while the
/// table is small runs again as it grows ([`engine::dht`]).
pub async fn republish_loop(node: NodeHandle) {
    const FIRST_ROUND: Duration = Duration::from_secs(5);
    let first = async {
        let size = node.dht.wait_for_table(SMALL_TABLE, FIRST_ROUND).await;
        if size == 0 {
            node.dht
                .wait_for_table(1, node.config.republish_interval())
                .await;
        }
    };
    tokio::select! {
        _ = node.cancel.cancelled() => return,
        _ = first => {}
    }
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = node.cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = node.config.republish_interval();
        let mut feeds = node.store.followed_feeds().await.unwrap_or_default();
        let mut own: Vec<IdentityKey> = node
            .data
            .keystore()
            .list()
            .unwrap_or_default()
            .into_iter()
            .map(|stored| stored.public)
            .collect();
        own.extend(super::own::held_identities(&node).await);
        // Feeds published here whose key is gone (a deleted account's identity) too.
        own.extend(node.data.identities_with_feeds().unwrap_or_default());
        own.sort();
        own.dedup();
        for identity in own {
            for feed in node.data.feeds_of(&identity).unwrap_or_default() {
                feeds.push((identity, feed));
            }
        }
        let mut identities: Vec<IdentityKey> =
            feeds.iter().map(|(identity, _)| *identity).collect();
        identities.sort();
        identities.dedup();
        for identity in identities {
            if let Ok(Some(record)) = node.store.identity_record(&identity).await {
                let _ = node.dht.put_item(record.item()).await;
            }
            super::extensions::republish(&node, &identity).await;
        }
        for (identity, feed) in feeds {
            if let Ok(Some(head)) = node.store.head(&identity, &feed).await {
                put_with_retries(&node, head.item()).await;
            }
        }
        // Announces take a DHT round trip each: 16 at a time, so a restarted node with many
        // torrents is findable again in seconds rather than minutes.
        let infohashes: Vec<InfoHash> = node.engine.list().iter().map(|s| s.infohash).collect();
        for chunk in infohashes.chunks(16) {
            let mut announces = tokio::task::JoinSet::new();
            for &infohash in chunk {
                let node = node.clone();
                announces.spawn(async move {
                    let _ = node.dht.announce_peer(infohash.0, node.bt_port()).await;
                });
            }
            while announces.join_next().await.is_some() {}
        }
    }
}

/// Puts a signed item into the DHT. mainline refuses a put while another put of the same
/// target is in flight (heads of quick successive publishes; a republish round), so a refused
/// put is tried again every 250 ms, for up to 6 s (a put in flight ends within a lookup's
/// time), rather than leaving an older head as the newest the DHT holds.
pub(super) async fn put_with_retries(node: &NodeHandle, item: &feeds::MutableItem) {
    for attempt in 1..=24u32 {
        match node.dht.put_item(item).await {
            Ok(()) => return,
            Err(engine::dht::DhtError::Put(mainline::errors::PutMutableError::Concurrency(e))) => {
                tracing::debug!(seq = item.seq(), attempt, "DHT put refused ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return tracing::debug!(seq = item.seq(), "DHT put: {e}"),
        }
    }
}
