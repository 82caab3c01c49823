//! The connection cap, and which connection leaves when a new one needs its place.
//!
//! At most `cap` connections are open. A connection is *idle* while it waits on its client:
//! for a request head (just accepted, or between keep-alive requests), or for body bytes
//! its route waits for and that have not come (`body::TimedBody`); it is *busy* from a
//! complete head until its answer's body is handed over, but for those body waits. When the cap is reached, a new connection takes the
//! place of the connection that has been idle longest, if that one has been idle for at
//! least `min_idle`; it is closed at once (nginx does the same with its "reusable"
//! connections). So a crowd of silent or slow-header clients cannot keep real clients out
//! for the header timeout: real clients send their request at once and are busy, while the
//! crowd is idle and makes way. `min_idle` spares clients that were just accepted and have
//! not had the time to send their head, so a burst of real clients larger than the cap
//! waits to be served rather than being cut. While no connection can make way, the listener
//! stops accepting until one ends, goes idle or has been idle long enough; the rest wait in
//! the kernel's accept queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// `ConnState::idle_since` of a busy connection.
const BUSY: u64 = 0;
/// `ConnState::idle_since` of a connection chosen to make way.
const EVICTED: u64 = u64::MAX;

pub struct Slots {
    cap: usize,
    min_idle: Duration,
    state: Mutex<State>,
    /// Signalled when a connection closes or goes idle.
    changed: Notify,
}

struct State {
    open: usize,
    next: u64,
    /// Idle connections, longest idle first, tagged with the `idle_since` they had when
    /// queued and the time; an entry whose connection has moved on since is stale.
    idle: VecDeque<(u64, Instant, Arc<ConnState>)>,
}

/// One open connection's place; frees it when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    conn: Arc<ConnState>,
}

pub struct ConnState {
    /// `BUSY`, `EVICTED`, or the sequence number of its turn in the idle queue.
    idle_since: AtomicU64,
    /// Tells the connection to close and make way (a oneshot: its receiver costs two atomic
    /// loads per poll, where a cancellation token takes a lock).
    evict: Mutex<Option<oneshot::Sender<()>>>,
}

impl ConnState {
    fn evict(&self) {
        if let Some(sender) = self.evict.lock().ok().and_then(|mut s| s.take()) {
            let _ = sender.send(());
        }
    }

    #[cfg(test)]
    fn evicted(&self) -> bool {
        self.idle_since.load(Ordering::Acquire) == EVICTED
            && self.evict.lock().map_or(true, |s| s.is_none())
    }
}

impl Slots {
    pub fn new(cap: usize, min_idle: Duration) -> Arc<Slots> {
        Arc::new(Slots {
            cap: cap.max(1),
            min_idle,
            state: Mutex::new(State {
                open: 0,
                next: 1,
                idle: VecDeque::new(),
            }),
            changed: Notify::new(),
        })
    }

    /// Waits until a new connection can be opened: below the cap, or with a connection idle
    /// for `min_idle` that can make way.
    pub async fn ready(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.can_open(Instant::now()) {
                Ok(()) => return,
                Err(None) => changed.await,
                Err(Some(old_enough)) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(old_enough) => {}
                    }
                }
            }
        }
    }

    /// `Err(Some(t))`: the connection idle longest can make way at `t`; `Err(None)`: none is
    /// idle.
    fn can_open(&self, now: Instant) -> Result<(), Option<Instant>> {
        let Ok(mut state) = self.state.lock() else {
            return Ok(());
        };
        if state.open < self.cap {
            return Ok(());
        }
        state.drop_stale_front();
        match state.idle.front() {
            Some((_, since, _)) if now >= *since + self.min_idle => Ok(()),
            Some((_, since, _)) => Err(Some(*since + self.min_idle)),
            None => Err(None),
        }
    }

    /// A place for a just accepted connection, idle until its first request head; at the
    /// cap, the connection idle longest is told to close (it is counted until it has). The
    /// receiver completes when this connection must make way.
    pub fn open(self: &Arc<Slots>) -> (Slot, oneshot::Receiver<()>) {
        let (sender, evicted) = oneshot::channel();
        let conn = Arc::new(ConnState {
            idle_since: AtomicU64::new(BUSY),
            evict: Mutex::new(Some(sender)),
        });
        if let Ok(mut state) = self.state.lock() {
            if state.open >= self.cap {
                state.evict_one(Instant::now() - self.min_idle);
            }
            state.open += 1;
            state.queue_idle(&conn);
        }
        (
            Slot {
                slots: self.clone(),
                conn,
            },
            evicted,
        )
    }

    /// Connections open now.
    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.state.lock().map_or(0, |s| s.open)
    }
}

impl State {
    fn queue_idle(&mut self, conn: &Arc<ConnState>) {
        let seq = self.next;
        self.next += 1;
        let queued = conn
            .idle_since
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                (now != EVICTED).then_some(seq)
            });
        if queued.is_ok() {
            self.idle.push_back((seq, Instant::now(), conn.clone()));
        }
        // Busy turns leave stale entries behind: compact once they outnumber the open.
        if self.idle.len() > 2 * self.open + 64 {
            self.idle
                .retain(|(seq, _, conn)| conn.idle_since.load(Ordering::Acquire) == *seq);
        }
    }

    fn drop_stale_front(&mut self) {
        while let Some((seq, _, conn)) = self.idle.front() {
            if conn.idle_since.load(Ordering::Acquire) == *seq {
                return;
            }
            self.idle.pop_front();
        }
    }

    /// Tells the connection idle longest to close if it has been idle since `before` or
    /// longer; false if there is none.
    fn evict_one(&mut self, before: Instant) -> bool {
        self.drop_stale_front();
        let Some((_, since, _)) = self.idle.front() else {
            return false;
        };
        if *since > before {
            return false;
        }
        let Some((seq, _, conn)) = self.idle.pop_front() else {
            return false;
        };
        let claimed =
            conn.idle_since
                .compare_exchange(seq, EVICTED, Ordering::AcqRel, Ordering::Acquire);
        if claimed.is_ok() {
            conn.evict();
        }
        claimed.is_ok()
    }
}

impl Slot {
    /// The connection got a complete request head.
    pub fn busy(&self) {
        let _ = self
            .conn
            .idle_since
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                (now != EVICTED).then_some(BUSY)
            });
    }

    /// The connection handed over its answer and waits for the next head.
    pub fn idle(&self) {
        if let Ok(mut state) = self.slots.state.lock() {
            state.queue_idle(&self.conn);
        }
        self.slots.changed.notify_one();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conn.idle_since.store(EVICTED, Ordering::Release);
        if let Ok(mut state) = self.slots.state.lock() {
            state.open -= 1;
        }
        self.slots.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_connection_idle_longest_makes_way_and_busy_ones_stay() {
        let slots = Slots::new(2, Duration::ZERO);
        let (a, _a) = slots.open();
        let (b, _b) = slots.open();
        assert!(slots.can_open(Instant::now()).is_ok(), "both are idle");
        // a gets a request: b is now the only idle one and makes way for c.
        a.busy();
        let (c, _c) = slots.open();
        assert!(!a.conn.evicted());
        assert!(b.conn.evicted());
        drop(b);
        assert_eq!(slots.open_count(), 2);
        // a answers and goes idle after c: c was idle longer, so c makes way.
        a.idle();
        let (d, _d) = slots.open();
        assert!(c.conn.evicted() && !a.conn.evicted());
        drop(c);
        // Everyone busy: no place until one goes idle or closes.
        a.busy();
        d.busy();
        assert_eq!(slots.can_open(Instant::now()), Err(None));
        d.idle();
        assert!(slots.can_open(Instant::now()).is_ok());
        drop(d);
        drop(a);
        assert_eq!(slots.open_count(), 0);
    }

    #[test]
    fn an_evicted_connection_stays_evicted_and_stale_entries_are_compacted() {
        let slots = Slots::new(1, Duration::ZERO);
        let (a, _a) = slots.open();
        let (b, _b) = slots.open();
        assert!(a.conn.evicted());
        a.busy();
        a.idle();
        assert_eq!(a.conn.idle_since.load(Ordering::Acquire), EVICTED);
        for _ in 0..1000 {
            b.busy();
            b.idle();
        }
        assert!(slots.state.lock().unwrap().idle.len() <= 2 * 2 + 64 + 1);
    }

    #[test]
    fn a_connection_makes_way_only_once_idle_for_the_minimum() {
        let slots = Slots::new(1, Duration::from_secs(1));
        let start = Instant::now();
        let (a, _a) = slots.open();
        match slots.can_open(start) {
            Err(Some(at)) => assert!(at >= start + Duration::from_millis(900)),
            other => panic!("{other:?}"),
        }
        assert!(slots.can_open(start + Duration::from_secs(2)).is_ok());
        // Just accepted: a does not make way for b (the cap is passed by one instead).
        let (b, _b) = slots.open();
        assert!(!a.conn.evicted() && !b.conn.evicted());
        assert_eq!(slots.open_count(), 2);
    }
}
