//! Signed entries: decoding never panics; an accepted entry keeps its exact bytes and hash,
//! and checking it on its own (signature, delegation) never panics either.

#![no_main]

use feeds::{EntryHash, SignedEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = SignedEntry::decode(data.to_vec()) else {
        return;
    };
    assert_eq!(entry.bytes(), data);
    assert_eq!(entry.hash(), EntryHash::of(data));
    assert!(entry.seq() >= 1);
    assert_eq!(entry.entry().prev.is_some(), entry.seq() > 1);
    // The signed body lies inside the entry's bytes.
    let body = entry.signed_message();
    assert!(data.windows(body.len()).any(|w| w == body));
    let _ = entry.verify();
});
