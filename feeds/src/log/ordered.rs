//! The ordered checks of a log: those that look at earlier entries (the link to the
//! previous entry or the checkpoint, forks, the log state: revocations, the clock, cited
//! list states, what a delete may retract), in log order.

use std::collections::BTreeSet;

use super::{Checkpoint, ForkProof, LogState, VerifiedLog};
use crate::delegation::{CertHash, Grantee};
use crate::entry::{Kind, SignedEntry};
use crate::error::{Error, Result};
use crate::list::ListBook;

/// What the entries checked so far carry to later ones.
pub(super) struct OrderedState<'a> {
    /// The lists that grants to a list rely on.
    lists: &'a ListBook,
    /// The trusted checkpoint's state with every entry accepted so far taken in, except for
    /// the clock of entries from `clocked` on (see [`OrderedState::catch_up`]).
    state: LogState,
    /// How many entries of this log have their time in `state.clock`.
    clocked: usize,
    retracted: BTreeSet<u64>,
    revoked: BTreeSet<CertHash>,
}

impl<'a> OrderedState<'a> {
    pub(super) fn new(trusted: Option<&Checkpoint>, lists: &'a ListBook) -> OrderedState<'a> {
        OrderedState {
            lists,
            state: trusted.map(|t| t.state.clone()).unwrap_or_default(),
            clocked: 0,
            retracted: BTreeSet::new(),
            revoked: BTreeSet::new(),
        }
    }

    /// Takes the times of the entries before `index` into the clock. The ordered pass of
    /// [`check_batches`] skips plain posts, whose time is all they carry on.
    fn catch_up(&mut self, entries: &[SignedEntry], index: usize) {
        if let Some(skipped) = entries.get(self.clocked..index) {
            for entry in skipped {
                self.state.clock = self.state.clock.max(entry.entry().time);
            }
        }
        self.clocked = self.clocked.max(index);
    }

    /// The checks of entry `index` that depend on other entries, in [`check_log`]'s order:
    /// its certificates, its seq and link to the previous entry (or the start), the trusted
    /// checkpoint, and what its kind does.
    pub(super) fn check(
        &mut self,
        entries: &[SignedEntry],
        index: usize,
        bad_certs: &BTreeSet<CertHash>,
        trusted: Option<&Checkpoint>,
    ) -> Result<()> {
        self.catch_up(entries, index);
        let signed = &entries[index];
        let entry = signed.entry();
        let seq = entry.seq;
        for cert in &entry.delegation {
            let hash = cert.hash();
            if bad_certs.contains(&hash) {
                return Err(Error::Delegation {
                    seq,
                    reason: "certificate signature does not verify",
                });
            }
            if self.state.revoked.contains(&hash) {
                return Err(Error::Delegation {
                    seq,
                    reason: "certificate was revoked earlier in the feed",
                });
            }
        }
        // A delegate picks its entry's time: it may not pick one before the feed's clock,
        // or it could sign on with a certificate after it expired.
        if !entry.delegation.is_empty() && entry.time < self.state.clock {
            return Err(Error::Delegation {
                seq,
                reason: "is used by an entry dated before an earlier entry of the feed",
            });
        }
        if let (Some(member), Some(last)) = (&entry.member, entry.delegation.last())
            && let Grantee::List(list) = &last.cert().grantee
        {
            // Like time: a member removed from the list may not go on citing the list
            // before its removal once the feed has cited a later state.
            if self
                .state
                .cited
                .get(list)
                .is_some_and(|&c| member.list_seq < c)
            {
                return Err(Error::Delegation {
                    seq,
                    reason: "cites a list entry older than one cited earlier in the feed",
                });
            }
            self.lists
                .check(list, member)
                .map_err(|reason| Error::Delegation { seq, reason })?;
        }
        // The entries accepted so far.
        let accepted = &entries[..index];
        match accepted.last() {
            Some(previous) => {
                if seq == previous.seq() {
                    return Err(fork_or_repeat(previous, signed));
                }
                if seq != previous.seq() + 1 {
                    return Err(Error::SeqGap {
                        expected: previous.seq() + 1,
                        found: seq,
                    });
                }
                if entry.prev != Some(previous.hash()) {
                    return Err(Error::BrokenChain { seq });
                }
            }
            None => check_start(signed, trusted)?,
        }
        if let Some(trusted) = trusted.filter(|t| t.seq == seq && t.hash != signed.hash()) {
            return Err(match &trusted.entry {
                Some(known) => ForkProof::new(known.clone(), signed.clone())
                    .map_or(Error::ConflictsWithHead { seq }, |p| {
                        Error::Fork(Box::new(p))
                    }),
                None => Error::ConflictsWithHead { seq },
            });
        }
        match &entry.kind {
            Kind::Post => {}
            Kind::Delete { retracts } => {
                // Every entry before this one is accepted and in the state: the checkpoint's
                // state covers those before this log.
                if self.state.not_posts.contains(retracts) {
                    return Err(Error::BadRetraction {
                        seq,
                        target: *retracts,
                    });
                }
                self.retracted.insert(*retracts);
            }
            Kind::Revoke { cert } => {
                self.revoked.insert(*cert);
            }
            Kind::List { .. } => {}
        }
        self.state.apply(signed);
        self.clocked = index + 1;
        Ok(())
    }
}

/// The last check, that the log does not end below the trusted checkpoint; then the log.
pub(super) fn finish(
    entries: Vec<SignedEntry>,
    mut state: OrderedState<'_>,
    trusted: Option<&Checkpoint>,
) -> Result<VerifiedLog> {
    state.catch_up(&entries, entries.len());
    if let Some(trusted) = trusted {
        let found = entries.last().map_or(0, SignedEntry::seq);
        if found < trusted.seq {
            return Err(Error::Rollback {
                trusted: trusted.seq,
                found,
            });
        }
    }
    Ok(VerifiedLog {
        entries,
        retracted: state.retracted,
        revoked: state.revoked,
        state: state.state,
    })
}

fn check_start(first: &SignedEntry, trusted: Option<&Checkpoint>) -> Result<()> {
    let seq = first.seq();
    if seq == 1 {
        return Ok(());
    }
    match trusted {
        Some(t) if t.seq + 1 == seq => {
            if first.entry().prev == Some(t.hash) {
                Ok(())
            } else {
                Err(Error::BrokenChain { seq })
            }
        }
        Some(t) if seq <= t.seq => Err(Error::Rollback {
            trusted: t.seq,
            found: seq,
        }),
        Some(t) => Err(Error::SeqGap {
            expected: t.seq + 1,
            found: seq,
        }),
        None => Err(Error::SeqGap {
            expected: 1,
            found: seq,
        }),
    }
}

fn fork_or_repeat(previous: &SignedEntry, current: &SignedEntry) -> Error {
    let delegated = |e: &SignedEntry| !e.entry().delegation.is_empty();
    // A repeat, or a second writer's entry at a taken seq (no fork proof: see ForkProof).
    if previous.bytes() == current.bytes() || delegated(previous) || delegated(current) {
        return Error::SeqGap {
            expected: previous.seq() + 1,
            found: current.seq(),
        };
    }
    match ForkProof::new(previous.clone(), current.clone()) {
        Ok(proof) => Error::Fork(Box::new(proof)),
        Err(e) => e,
    }
}
