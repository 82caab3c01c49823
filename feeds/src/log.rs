//! Feed log verification: is this sequence of entries a valid feed of this identity?
//!
//! Checks, entry by entry in order, and the first failure is the verdict: structure (on
//! decode), author, feed, signature, delegation (scope, time, depth, certificate signatures,
//! revocation), sequence (starts at 1 or right after a trusted checkpoint, no gaps, no
//! repeats), the hash chain, retractions, agreement with a trusted head; then that the log
//! does not end below the trusted head (rollback). Two different validly signed entries with
//! the same seq are a fork, returned as a [`ForkProof`] anyone can check on its own.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::bencode;
use crate::delegation::{CertHash, SignedCert};
use crate::entry::{EntryHash, Kind, SignedEntry};
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::identity::IdentityKey;
use crate::list::ListBook;
use crate::signatures::{self, SignatureCheck, Signed};

mod fork;
mod ordered;
mod state;

pub use fork::ForkProof;
pub use state::{Checkpoint, LogState};

use ordered::{OrderedState, finish};

/// A feed (or the part of it after a checkpoint) that passed verification.
#[derive(Clone, Debug, Default)]
pub struct VerifiedLog {
    pub entries: Vec<SignedEntry>,
    /// Seqs retracted by `delete` entries of this log.
    pub retracted: BTreeSet<u64>,
    /// Certificates revoked by `revoke` entries of this log.
    pub revoked: BTreeSet<CertHash>,
    /// What the whole feed up to this log's last entry carries on: the trusted checkpoint's
    /// state with this log's entries taken in.
    pub state: LogState,
}

impl VerifiedLog {
    /// The last entry's seq and hash.
    pub fn head(&self) -> Option<(u64, EntryHash)> {
        self.entries.last().map(|e| (e.seq(), e.hash()))
    }

    /// The checkpoint to verify the feed's next entries from: the last entry with the state
    /// of the whole feed up to it. `None` for an empty log.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let last = self.entries.last()?;
        Some(Checkpoint::with_state(last, self.state.clone()))
    }
}

/// Decodes raw entries and verifies them as one log (see [`verify_log`]).
///
/// One parallel pass over batches of [`BATCH_SIZE`](signatures::BATCH_SIZE) entries decodes
/// a batch, checks its signatures and every check that needs no other batch while its bytes
/// are still in cache, on every core; then an ordered pass looks only at the few entries
/// that carry state from one entry to the next (see [`check_batches`]). Any entry that does
/// not decode is the verdict, the first one in the log if several do not.
pub fn decode_and_verify_log(
    author: &IdentityKey,
    feed: &FeedName,
    raw: Vec<Vec<u8>>,
    trusted: Option<&Checkpoint>,
) -> Result<VerifiedLog> {
    decode_and_verify_log_with(author, feed, raw, trusted, &ListBook::default())
}

/// [`decode_and_verify_log`] with the lists that entries granted through a list rely on.
pub fn decode_and_verify_log_with(
    author: &IdentityKey,
    feed: &FeedName,
    raw: Vec<Vec<u8>>,
    trusted: Option<&Checkpoint>,
    lists: &ListBook,
) -> Result<VerifiedLog> {
    let total = raw.len();
    // Once an entry fails to decode the log is refused: later batches skip their signatures.
    let failed = AtomicBool::new(false);
    let batches: Vec<Result<Batch>> = raw
        .into_par_iter()
        .enumerate()
        .chunks(signatures::BATCH_SIZE)
        .map(|batch| {
            let start = batch.first().map_or(0, |(index, _)| *index);
            let mut entries = Vec::with_capacity(batch.len());
            for (index, bytes) in batch {
                match SignedEntry::decode_by(bytes, Some(author)) {
                    Ok(entry) => entries.push(entry),
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(Error::InvalidEntry {
                            index,
                            source: Box::new(e),
                        });
                    }
                }
            }
            Ok(match failed.load(Ordering::Relaxed) {
                true => Batch {
                    start,
                    entries,
                    ok: Vec::new(),
                    local: None,
                },
                false => Batch::check(author, feed, start, entries),
            })
        })
        .collect();
    let batches = batches.into_iter().collect::<Result<Vec<_>>>()?;
    check_batches(author, feed, batches, total, trusted, lists)
}

/// Verifies decoded entries as the log of `feed` by `author`, in order, optionally against a
/// trusted checkpoint: the log either starts at seq 1 or right after the checkpoint.
pub fn verify_log(
    author: &IdentityKey,
    feed: &FeedName,
    entries: Vec<SignedEntry>,
    trusted: Option<&Checkpoint>,
) -> Result<VerifiedLog> {
    verify_log_with(author, feed, entries, trusted, &ListBook::default())
}

/// [`verify_log`] with the lists that entries granted through a list rely on.
pub fn verify_log_with(
    author: &IdentityKey,
    feed: &FeedName,
    entries: Vec<SignedEntry>,
    trusted: Option<&Checkpoint>,
    lists: &ListBook,
) -> Result<VerifiedLog> {
    let total = entries.len();
    let mut chunks = Vec::with_capacity(total.div_ceil(signatures::BATCH_SIZE));
    let mut entries = entries.into_iter();
    while entries.len() > 0 {
        chunks.push(
            entries
                .by_ref()
                .take(signatures::BATCH_SIZE)
                .collect::<Vec<_>>(),
        );
    }
    let batches: Vec<Batch> = chunks
        .into_par_iter()
        .enumerate()
        .map(|(i, entries)| Batch::check(author, feed, i * signatures::BATCH_SIZE, entries))
        .collect();
    check_batches(author, feed, batches, total, trusted, lists)
}

impl Signed for SignedEntry {
    fn signature_check(&self) -> SignatureCheck<'_> {
        SignatureCheck {
            key: self.signer(),
            message: self.signed_message(),
            signature: self.signature(),
        }
    }
}

impl Signed for SignedCert {
    fn signature_check(&self) -> SignatureCheck<'_> {
        SignatureCheck {
            key: self.cert().grantor,
            message: self.signed_message(),
            signature: self.signature(),
        }
    }
}

/// One batch of consecutive entries of a log, checked on its own.
struct Batch {
    /// Index of its first entry in the log.
    start: usize,
    entries: Vec<SignedEntry>,
    /// Whether each entry's own signature holds.
    ok: Vec<bool>,
    /// The outcome of [`Batch::check_local`]; `None` when not checked.
    local: Option<LocalCheck>,
}

/// What the checks that need no other batch found.
struct LocalCheck {
    /// Every entry passed them.
    passed: bool,
    /// Log indices of the entries that carry state to later ones (delegated entries, and
    /// kinds other than `post`): the ordered pass must look at them.
    stateful: Vec<usize>,
}

impl Batch {
    /// Checks the batch's signatures and then [`Batch::check_local`].
    fn check(
        author: &IdentityKey,
        feed: &FeedName,
        start: usize,
        entries: Vec<SignedEntry>,
    ) -> Batch {
        let ok = signatures::verify_chunk(&entries);
        let mut batch = Batch {
            start,
            entries,
            ok,
            local: None,
        };
        batch.local = Some(batch.check_local(author, feed));
        batch
    }

    /// The checks of [`check_log`] that need nothing outside the batch: author, feed, own
    /// signature, the delegation chain's structure, and seq and hash links between the
    /// batch's own entries. Only says whether they all pass: on any failure the whole log
    /// goes through [`check_log`], which finds the exact first verdict.
    fn check_local(&self, author: &IdentityKey, feed: &FeedName) -> LocalCheck {
        let mut stateful = Vec::new();
        let mut previous: Option<&SignedEntry> = None;
        for (i, (signed, ok)) in self.entries.iter().zip(&self.ok).enumerate() {
            let entry = signed.entry();
            let linked =
                previous.is_none_or(|p| entry.seq == p.seq() + 1 && entry.prev == Some(p.hash()));
            if entry.author != *author
                || entry.feed != *feed
                || !ok
                || !linked
                || signed.check_delegation().is_err()
            {
                return LocalCheck {
                    passed: false,
                    stateful,
                };
            }
            if !entry.delegation.is_empty() || entry.kind != Kind::Post {
                stateful.push(self.start + i);
            }
            previous = Some(signed);
        }
        LocalCheck {
            passed: self.ok.len() == self.entries.len(),
            stateful,
        }
    }
}

/// Joins checked batches into a verified log, or finds the verdict.
///
/// When every batch passed its local checks, the verdict of [`check_log`] can only come from
/// the checks that need other entries, and only at the entries where those can fail: the
/// first entry (the start and the checkpoint), each batch's first entry (the link to the
/// previous batch), the entry with the checkpoint's seq, and the stateful entries. Those are
/// checked in log order, exactly as [`check_log`] checks them. Otherwise [`check_log`] runs
/// over the whole log.
fn check_batches(
    author: &IdentityKey,
    feed: &FeedName,
    batches: Vec<Batch>,
    total: usize,
    trusted: Option<&Checkpoint>,
    lists: &ListBook,
) -> Result<VerifiedLog> {
    let passed = batches
        .iter()
        .all(|b| b.local.as_ref().is_some_and(|l| l.passed));
    let mut entries = Vec::with_capacity(total);
    if !passed {
        let mut entry_ok = Vec::with_capacity(total);
        for batch in batches {
            entries.extend(batch.entries);
            entry_ok.extend(batch.ok);
        }
        return check_log(author, feed, entries, &entry_ok, trusted, lists);
    }
    let mut visit = Vec::new();
    for batch in batches {
        visit.push(batch.start);
        visit.extend(batch.local.into_iter().flat_map(|l| l.stateful));
        entries.extend(batch.entries);
    }
    let first_seq = entries.first().map_or(0, SignedEntry::seq);
    if let Some(t) = trusted {
        // Up to the first failure seqs run on by one, so only this entry can carry the
        // checkpoint's seq.
        if let Some(at) = t.seq.checked_sub(first_seq) {
            visit.push(usize::try_from(at).unwrap_or(usize::MAX));
        }
    }
    visit.retain(|&i| i < entries.len());
    visit.sort_unstable();
    visit.dedup();
    let bad_certs = check_cert_signatures(visit.iter().map(|&i| &entries[i]));
    let mut state = OrderedState::new(trusted, lists);
    for &index in &visit {
        state.check(&entries, index, &bad_certs, trusted)?;
    }
    finish(entries, state, trusted)
}

/// The ordered checks of [`verify_log`], given whether each entry's own signature holds.
fn check_log(
    author: &IdentityKey,
    feed: &FeedName,
    entries: Vec<SignedEntry>,
    entry_ok: &[bool],
    trusted: Option<&Checkpoint>,
    lists: &ListBook,
) -> Result<VerifiedLog> {
    let bad_certs = check_cert_signatures(&entries);
    let mut state = OrderedState::new(trusted, lists);
    // Entries are checked in place and then move into the verified log as a whole.
    for (index, signed) in entries.iter().enumerate() {
        let entry = signed.entry();
        let seq = entry.seq;
        if entry.author != *author {
            return Err(Error::WrongAuthor {
                seq,
                expected: author.to_string(),
                found: entry.author.to_string(),
            });
        }
        if entry.feed != *feed {
            return Err(Error::WrongFeed {
                seq,
                expected: feed.to_string(),
                found: entry.feed.to_string(),
            });
        }
        if !entry_ok.get(index).copied().unwrap_or(false) {
            return Err(Error::BadSignature { seq });
        }
        signed.check_delegation()?;
        state.check(&entries, index, &bad_certs, trusted)?;
    }
    finish(entries, state, trusted)
}

/// Checks the signature of every distinct certificate the entries carry, in parallel
/// batches; returns the hashes of those that do not verify.
fn check_cert_signatures<'a>(
    entries: impl IntoIterator<Item = &'a SignedEntry>,
) -> BTreeSet<CertHash> {
    let mut certs = HashMap::new();
    for entry in entries {
        for cert in &entry.entry().delegation {
            certs.entry(cert.hash()).or_insert(cert);
        }
    }
    if certs.is_empty() {
        return BTreeSet::new();
    }
    let (hashes, certs): (Vec<CertHash>, Vec<&SignedCert>) = certs.into_iter().unzip();
    let ok = signatures::verify_all(&certs);
    hashes
        .into_iter()
        .zip(ok)
        .filter(|(_, ok)| !ok)
        .map(|(hash, _)| hash)
        .collect()
}

/// Encodes entries as a bencoded list (`l<entry>…e`), the body of a log segment.
pub fn encode_entries<'a>(entries: impl IntoIterator<Item = &'a SignedEntry>) -> Vec<u8> {
    let mut out = vec![b'l'];
    for entry in entries {
        out.extend_from_slice(entry.bytes());
    }
    out.push(b'e');
    out
}

/// Splits a bencoded list of entries into each entry's exact bytes.
pub fn split_entries(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(bencode::split_list(bytes)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests;
