//! Node URLs that come with pushed heads (`X-Swarmfeed-Node`). A pusher says "I serve this
//! feed"; the node takes that only from the push that brought it a newer head (a replayed
//! head, which anyone can fetch and resend, records nothing), only for a URL the outbound
//! policy allows, at a bounded rate per feed and in all, and into rows capped apart from
//! registered followers and nodes that answered (see `Store::note_pushed_node`), which are
//! asked first. So junk pushes can neither reach inside nor crowd out real nodes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use feeds::{FeedName, IdentityKey};

use super::NodeHandle;

/// Pushed node URLs kept per feed; past it the one seen longest ago makes way.
pub const PUSHED_PER_FEED: u32 = 16;
/// Pushed node URLs kept over every feed.
pub const PUSHED_TOTAL: u32 = 1024;
/// Pushed node URLs recorded per minute for one feed (burst the same).
const PER_FEED_PER_MINUTE: f64 = 6.0;
/// Pushed node URLs recorded per minute over every feed (burst the same).
const TOTAL_PER_MINUTE: f64 = 120.0;
/// Feeds whose rate the limiter tracks before idle ones are forgotten.
const MAX_FEEDS_TRACKED: usize = 10_000;

/// Token buckets for recording pushed node URLs: one per feed and one for all.
#[derive(Default)]
pub struct PushedNodes {
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    feeds: HashMap<(IdentityKey, FeedName), (f64, Instant)>,
    total: Option<(f64, Instant)>,
}

/// Refills `bucket` at `per_minute` (capped at a minute's worth) as of `now`.
fn refill(bucket: &mut (f64, Instant), per_minute: f64, now: Instant) {
    let (tokens, at) = bucket;
    *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_minute / 60.0).min(per_minute);
    *at = now;
}

impl PushedNodes {
    /// Takes one recording for `feed` if both its bucket and the total one allow it.
    fn take(&self, identity: &IdentityKey, feed: &FeedName) -> bool {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return false;
        };
        let key = (*identity, feed.clone());
        if buckets.feeds.len() >= MAX_FEEDS_TRACKED && !buckets.feeds.contains_key(&key) {
            // Forget feeds whose bucket has refilled: they are as if new.
            buckets.feeds.retain(|_, bucket| {
                refill(bucket, PER_FEED_PER_MINUTE, now);
                bucket.0 < PER_FEED_PER_MINUTE
            });
            if buckets.feeds.len() >= MAX_FEEDS_TRACKED {
                return false;
            }
        }
        let total = buckets.total.get_or_insert((TOTAL_PER_MINUTE, now));
        refill(total, TOTAL_PER_MINUTE, now);
        if total.0 < 1.0 {
            return false;
        }
        let bucket = buckets
            .feeds
            .entry(key)
            .or_insert((PER_FEED_PER_MINUTE, now));
        refill(bucket, PER_FEED_PER_MINUTE, now);
        if bucket.0 < 1.0 {
            return false;
        }
        bucket.0 -= 1.0;
        if let Some(total) = buckets.total.as_mut() {
            total.0 -= 1.0;
        }
        true
    }
}

/// Records the node URL `header` that came with a push of a head NEWER than the one held
/// (the caller checks that), if the policy allows it and the rate does. Never fails the
/// push: the head is taken either way; a refused URL is logged.
pub async fn record(
    node: &NodeHandle,
    peer: &super::api::Actor,
    header: &str,
    identity: &IdentityKey,
    feed: &FeedName,
) {
    let url = match node.outbound.check_node_url(header).await {
        Ok(url) => url,
        Err(e) => {
            tracing::info!(%peer, %identity, %feed, "pushed node URL not recorded: {e}");
            return;
        }
    };
    // This node's own URL is not another node.
    if super::NodeUrl::parse(&node.public_url).is_ok_and(|own| own == url) {
        return;
    }
    if !node.pushed.take(identity, feed) {
        tracing::info!(%peer, %identity, %feed, %url, "pushed node URL not recorded: rate limited");
        return;
    }
    if let Err(e) = node
        .store
        .note_pushed_node(url.as_str(), identity, feed, PUSHED_PER_FEED, PUSHED_TOTAL)
        .await
    {
        tracing::warn!(%url, %identity, %feed, "cannot record a pushed node URL: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_are_rate_limited_per_feed_and_in_all() {
        let limiter = PushedNodes::default();
        let identity: IdentityKey = feeds::Keypair::from_seed(&[1; 32]).public();
        let feed = |n: usize| FeedName::new(&format!("f{n}")).unwrap();
        let taken = (0..100)
            .filter(|_| limiter.take(&identity, &feed(0)))
            .count();
        assert_eq!(taken, PER_FEED_PER_MINUTE as usize);
        let taken = (1..1000)
            .filter(|n| limiter.take(&identity, &feed(*n)))
            .count();
        assert_eq!(
            taken,
            TOTAL_PER_MINUTE as usize - PER_FEED_PER_MINUTE as usize
        );
    }
}
