//! BEP 44 items: `MutableItem`, `SignedHead` and `SignedIdentityRecord` decoding never
//! panics, and whatever decodes re-encodes to something that decodes to the same item.
//! The input is also signed as an item's value with the fixed key, so the head and identity
//! record parsers see arbitrary values past the signature check.

#![no_main]

use feeds::head::MAX_VALUE_BYTES;
use feeds::{Keypair, MutableItem, SignedHead, SignedIdentityRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(item) = MutableItem::decode(data) {
        assert_eq!(MutableItem::decode(&item.encode()).as_ref(), Ok(&item));
    }
    if let Ok(head) = SignedHead::decode(data) {
        assert_eq!(SignedHead::decode(&head.encode()).as_ref(), Ok(&head));
        assert_eq!(head.head().seq, head.item().seq() as u64);
    }
    if let Ok(record) = SignedIdentityRecord::decode(data) {
        assert_eq!(
            SignedIdentityRecord::decode(&record.encode()).as_ref(),
            Ok(&record)
        );
    }
    if data.len() <= MAX_VALUE_BYTES {
        let key = Keypair::from_seed(&[1; 32]);
        if let Ok(item) = MutableItem::sign(&key, b"main", 1, data.to_vec()) {
            let _ = SignedHead::from_item(item);
        }
        if let Ok(item) = MutableItem::sign(&key, b"", 1, data.to_vec()) {
            let _ = SignedIdentityRecord::from_item(item);
        }
    }
});
