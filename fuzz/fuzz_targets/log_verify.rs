//! Log verification against a fixed author and feed never panics, and a verified log holds
//! exactly the entries it was given.
//!
//! Input: one flag byte, then a bencoded list of entries (`l<entry>…e`). Flag bit 0 re-signs
//! every entry body with the fixed author key first, so that mutated entries still get past
//! the signature check into the sequence, chain, fork and retraction logic. Flag bits 1–7,
//! when not zero, name a 1-based position in the list: that entry becomes the trusted
//! checkpoint and only the entries after it are verified.

#![no_main]

use feeds::log::split_entries;
use feeds::{Checkpoint, FeedName, Keypair, SignedEntry, decode_and_verify_log, record};
use libfuzzer_sys::fuzz_target;

/// The author every seed feed is signed by (see `examples/seed_corpus.rs`).
const AUTHOR_SEED: [u8; 32] = [1; 32];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, list)) = data.split_first() else {
        return;
    };
    let Ok(mut raw) = split_entries(list) else {
        return;
    };
    if raw.len() > 64 {
        return;
    }
    let author = Keypair::from_seed(&AUTHOR_SEED);
    let Ok(feed) = FeedName::new("main") else {
        return;
    };
    if flags & 1 == 1 {
        for bytes in &mut raw {
            if let Ok((body, _)) = record::open(bytes, "entry", usize::MAX) {
                *bytes = record::seal(body, &author.sign(body));
            }
        }
    }
    let trusted_at = usize::from(flags >> 1);
    let trusted = match trusted_at {
        0 => None,
        n => match raw.get(n - 1).map(|b| SignedEntry::decode(b.clone())) {
            Some(Ok(entry)) => Some(Checkpoint::of_entry(&entry)),
            _ => return,
        },
    };
    let rest = raw.split_off(trusted_at.min(raw.len()));
    if let Ok(log) = decode_and_verify_log(&author.public(), &feed, rest.clone(), trusted.as_ref())
    {
        assert_eq!(log.entries.len(), rest.len());
        for (entry, bytes) in log.entries.iter().zip(&rest) {
            assert_eq!(entry.bytes(), bytes.as_slice());
            assert_eq!(entry.entry().author, author.public());
        }
        for pair in log.entries.windows(2) {
            assert_eq!(pair[1].seq(), pair[0].seq() + 1);
            assert_eq!(pair[1].entry().prev, Some(pair[0].hash()));
        }
        if let (Some(t), Some((seq, _))) = (&trusted, log.head()) {
            assert!(seq >= t.seq);
        }
    }
});
