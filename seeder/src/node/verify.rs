//! Verifying a feed (`NodeApi::verify`, api/verify.rs): fetch it from wherever it can be
//! found (DHT, nodes, the swarm) and check it the way a follower does, from its first entry,
//! keeping nothing.

use std::time::Duration;

use feeds::{FeedName, IdentityKey};

use super::api::Verdict;
use super::fetch::{self, Fetcher, NewLog};
use super::replicate::with_timeout;
use super::{Error, Result};

/// Finds `identity`'s `feed` (its identity record first: it names the nodes serving it;
/// `nodes` are asked too) and verifies the log of the highest head whose log can be fetched.
/// An error says why no verdict was reached (no head, a log that does not verify).
pub async fn verify_feed(
    fetcher: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
    nodes: &[String],
) -> Result<Verdict> {
    for url in nodes {
        fetcher
            .store
            .note_node(url.trim_end_matches('/'), Some((identity, feed)))
            .await?;
    }
    if fetcher.store.identity_record(identity).await?.is_none()
        && let Some(record) = with_timeout(fetcher.dht.get_identity_record(identity))
            .await
            .flatten()
    {
        fetcher.store.put_identity_record(&record).await?;
    }
    let (heads, _) = fetch::heads(fetcher, identity, feed, None, Duration::from_secs(15)).await;
    let Some(highest) = heads.first() else {
        return Err(Error::Fetch("no head found yet (DHT or nodes)".into()));
    };
    let head_seq = highest.head().seq;
    // As a follower: a head nobody serves the log of yet falls back to a lower one.
    let mut failure = None;
    for head in heads.iter().filter(|h| h.head().seq > 0) {
        match fetch::new_log(fetcher, identity, feed, head, 0, None).await {
            Ok(NewLog::Verified { log, .. }) => {
                let verified_seq = log.entries.last().map_or(0, |e| e.entry().seq);
                return Ok(Verdict::Valid {
                    verified_seq,
                    head_seq,
                });
            }
            Ok(NewLog::Forked(proof)) => return Ok(Verdict::Forked { seq: proof.seq() }),
            Err(e) => {
                tracing::debug!(%identity, %feed, seq = head.head().seq, "head's log not fetched: {e}");
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(
        Ok(Verdict::Valid {
            verified_seq: 0,
            head_seq,
        }),
        Err,
    )
}
