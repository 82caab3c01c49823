//! Bytes sent and received over the last day, for the status page: once a minute the
//! engine's counters are summed over every torrent and the difference since the previous
//! sample is kept, in a ring of 1,440 minutes (fixed memory: about 35 KiB). The history
//! lives in memory and starts again with the node; `/metrics` has the running counters
//! for anything longer.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use super::NodeHandle;
use store::unix_now;

/// Minutes kept: one day.
pub const MINUTES: usize = 24 * 60;
const SAMPLE_EVERY: Duration = Duration::from_secs(60);

/// Traffic in the minute that ended at `at` (unix seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficMinute {
    pub at: u64,
    pub sent: u64,
    pub received: u64,
}

/// The last day of traffic, a minute at a time.
#[derive(Debug, Default)]
pub struct TrafficHistory {
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    minutes: VecDeque<TrafficMinute>,
    /// Counter totals at the last sample.
    last: Option<(u64, u64)>,
}

/// Bytes sent and received since the engine started, over the torrents it holds now.
pub fn totals(node: &NodeHandle) -> (u64, u64) {
    node.engine
        .list()
        .iter()
        .fold((0, 0), |(sent, received), t| {
            (sent + t.uploaded_bytes, received + t.downloaded_bytes)
        })
}

impl TrafficHistory {
    /// Takes a sample: the traffic since the previous one. A counter that went down (a
    /// torrent removed, or paused) counts as nothing rather than as a huge jump.
    pub fn record(&self, at: u64, sent_total: u64, received_total: u64) {
        let Ok(mut ring) = self.inner.lock() else {
            return;
        };
        if let Some((sent, received)) = ring.last {
            let minute = TrafficMinute {
                at,
                sent: sent_total.saturating_sub(sent),
                received: received_total.saturating_sub(received),
            };
            if ring.minutes.len() == MINUTES {
                ring.minutes.pop_front();
            }
            ring.minutes.push_back(minute);
        }
        ring.last = Some((sent_total, received_total));
    }

    /// The samples of the last day, oldest first, then the minute running now (up to `at`).
    pub fn last_day(&self, at: u64, sent_total: u64, received_total: u64) -> Vec<TrafficMinute> {
        let Ok(ring) = self.inner.lock() else {
            return Vec::new();
        };
        let mut out: Vec<TrafficMinute> = ring
            .minutes
            .iter()
            .filter(|m| m.at + 24 * 3600 > at)
            .copied()
            .collect();
        if let Some((sent, received)) = ring.last {
            out.push(TrafficMinute {
                at,
                sent: sent_total.saturating_sub(sent),
                received: received_total.saturating_sub(received),
            });
        }
        out
    }
}

/// Samples the engine's counters once a minute until the node stops.
pub async fn traffic_loop(node: NodeHandle) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = node.cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (sent, received) = totals(&node);
        node.traffic.record(unix_now(), sent, received);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_one_day_of_differences_and_ignores_counters_going_down() {
        let history = TrafficHistory::default();
        history.record(60, 1000, 50);
        assert!(history.inner.lock().unwrap().minutes.is_empty());
        history.record(120, 1500, 80);
        history.record(180, 200, 90); // a torrent left: its bytes are not negative traffic
        let day = history.last_day(200, 260, 100);
        let got: Vec<(u64, u64, u64)> = day.iter().map(|m| (m.at, m.sent, m.received)).collect();
        assert_eq!(got, vec![(120, 500, 30), (180, 0, 10), (200, 60, 10)]);
        for minute in 0..(MINUTES as u64 + 100) {
            history.record(240 + minute * 60, 0, 0);
        }
        assert_eq!(history.inner.lock().unwrap().minutes.len(), MINUTES);
    }
}
