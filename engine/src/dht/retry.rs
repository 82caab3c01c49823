//! Puts and announces made while the routing table was small, run again as it grows.
//!
//! A put or announce goes to the closest nodes the routing table leads to. Made while the
//! table is empty (the first node of a network, a node that just restarted) it reaches no
//! one, and made while the table holds only a few nodes it reaches only those; the next
//! republish round is far away (30 minutes by default). So each such operation is kept here
//! and run again whenever the table has grown since it was last tried, and one that failed
//! is tried again a few times with a growing wait. Once it has succeeded with a table of
//! [`SMALL_TABLE`] nodes or more it is forgotten: on a DHT of millions that is at once, and
//! nothing here sends anything the republish rounds would not.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A table with fewer nodes than this is small: what was put through it may not have reached
/// the nodes that join later.
pub const SMALL_TABLE: usize = 8;
/// Most operations of each kind kept; further ones wait for the next republish round.
const MAX_PENDING: usize = 4096;
/// Most tries of an operation that keeps failing with a table that does not grow.
const MAX_FAILED_TRIES: u32 = 5;
/// Longest wait between two tries of one operation.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What to run again.
#[derive(Debug, Clone)]
pub enum Operation {
    Put(Box<feeds::MutableItem>),
    Announce { info_hash: [u8; 20], port: u16 },
}

impl Operation {
    fn key(&self) -> Key {
        match self {
            Operation::Put(item) => Key::Item(*item.key().as_bytes(), item.salt().to_vec()),
            Operation::Announce { info_hash, .. } => Key::Announce(*info_hash),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Item([u8; 32], Vec<u8>),
    Announce([u8; 20]),
}

#[derive(Debug)]
struct Entry {
    operation: Operation,
    /// Routing-table size when last tried.
    table: usize,
    failed: bool,
    tries: u32,
    due: Instant,
}

/// The operations to run again (see the module's documentation).
#[derive(Debug, Default)]
pub struct Retries {
    entries: HashMap<Key, Entry>,
}

impl Retries {
    /// Records the outcome of `operation`, tried with `table` nodes in the routing table.
    pub fn note(&mut self, operation: &Operation, table: usize, succeeded: bool) {
        let key = operation.key();
        if succeeded && table >= SMALL_TABLE {
            self.entries.remove(&key);
            return;
        }
        let now = Instant::now();
        if let Some(entry) = self.entries.get_mut(&key) {
            // A newer item replaces an older one; a retry of an older one (a put that was
            // overtaken) never replaces the newer.
            if let (Operation::Put(new), Operation::Put(old)) = (operation, &entry.operation)
                && new.seq() < old.seq()
            {
                return;
            }
            entry.operation = operation.clone();
            entry.table = table;
            entry.failed = !succeeded;
            entry.due = now + backoff(entry.tries);
        } else if self.entries.len() < MAX_PENDING {
            self.entries.insert(
                key,
                Entry {
                    operation: operation.clone(),
                    table,
                    failed: !succeeded,
                    tries: 0,
                    due: now + backoff(0),
                },
            );
        }
    }

    /// Drops a waiting announce of `info_hash` (the torrent is no longer seeded).
    pub fn forget_announce(&mut self, info_hash: &[u8; 20]) {
        self.entries.remove(&Key::Announce(*info_hash));
    }

    /// The operations to run now, with `table` nodes in the routing table: those due whose
    /// table has grown since they were tried, and failed ones with tries left. Each is
    /// marked as tried; its outcome comes back through [`Retries::note`].
    pub fn take_due(&mut self, table: usize) -> Vec<Operation> {
        if table == 0 {
            return Vec::new();
        }
        let now = Instant::now();
        self.entries
            .retain(|_, e| !(e.failed && e.tries >= MAX_FAILED_TRIES && e.table >= table));
        let mut due = Vec::new();
        for entry in self.entries.values_mut() {
            let grown = table > entry.table;
            if entry.due <= now && (grown || (entry.failed && entry.tries < MAX_FAILED_TRIES)) {
                entry.tries = if grown { 0 } else { entry.tries + 1 };
                entry.table = table;
                entry.due = now + backoff(entry.tries + 1);
                due.push(entry.operation.clone());
            }
        }
        due
    }

    /// Operations kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is kept.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One second, doubling with each try, at most [`MAX_BACKOFF`].
fn backoff(tries: u32) -> Duration {
    Duration::from_secs(1u64 << tries.min(6)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(seq: i64) -> feeds::MutableItem {
        let pair = feeds::Keypair::from_seed(&[3; 32]);
        feeds::IdentityRecord {
            feeds: Vec::new(),
            name: None,
            nodes: Vec::new(),
        }
        .sign(&pair, seq)
        .unwrap()
        .item()
        .clone()
    }

    fn announce() -> Operation {
        Operation::Announce {
            info_hash: [1; 20],
            port: 6881,
        }
    }

    fn wait_out(retries: &mut Retries) {
        for entry in retries.entries.values_mut() {
            entry.due = Instant::now();
        }
    }

    #[test]
    fn an_operation_on_an_empty_table_runs_again_once_the_table_grows() {
        let mut retries = Retries::default();
        retries.note(&announce(), 0, false);
        wait_out(&mut retries);
        assert!(retries.take_due(0).is_empty(), "nobody to send it to");
        let due = retries.take_due(1);
        assert_eq!(due.len(), 1);
        // Tried with one node: succeeded, kept until the table is no longer small.
        retries.note(&due[0], 1, true);
        wait_out(&mut retries);
        assert!(retries.take_due(1).is_empty(), "the table did not grow");
        assert_eq!(retries.take_due(3).len(), 1);
        retries.note(&announce(), SMALL_TABLE, true);
        assert!(retries.is_empty());
    }

    #[test]
    fn a_put_through_a_large_table_is_not_kept() {
        let mut retries = Retries::default();
        retries.note(&Operation::Put(Box::new(item(1))), 200, true);
        assert!(retries.is_empty());
    }

    #[test]
    fn a_failing_operation_is_tried_a_few_times_then_left_to_republishing() {
        let mut retries = Retries::default();
        retries.note(&announce(), 50, false);
        let mut tries = 0;
        for _ in 0..20 {
            wait_out(&mut retries);
            for operation in retries.take_due(50) {
                tries += 1;
                retries.note(&operation, 50, false);
            }
        }
        assert_eq!(tries, MAX_FAILED_TRIES);
        assert!(retries.is_empty());
    }

    #[test]
    fn a_newer_item_replaces_the_older_and_never_the_reverse() {
        let mut retries = Retries::default();
        retries.note(&Operation::Put(Box::new(item(2))), 0, false);
        retries.note(&Operation::Put(Box::new(item(1))), 0, false);
        wait_out(&mut retries);
        let due = retries.take_due(1);
        assert!(matches!(&due[..], [Operation::Put(i)] if i.seq() == 2));
        assert_eq!(retries.len(), 1);
    }

    #[test]
    fn backoff_grows_to_a_minute() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
