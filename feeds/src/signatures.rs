//! Checking many ed25519 signatures fast: deterministic batch verification on every core,
//! falling back to strict one-by-one checks inside a failing batch to find the culprits.

use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;

use crate::identity::IdentityKey;

/// Signatures per batch: large enough to amortise, small enough to spread over the cores.
pub const BATCH_SIZE: usize = 256;

/// One signature to check.
pub struct SignatureCheck<'a> {
    pub key: IdentityKey,
    pub message: &'a [u8],
    pub signature: &'a Signature,
}

/// Something that carries one signature to check.
pub trait Signed {
    fn signature_check(&self) -> SignatureCheck<'_>;
}

impl<T: Signed + ?Sized> Signed for &T {
    fn signature_check(&self) -> SignatureCheck<'_> {
        (**self).signature_check()
    }
}

impl Signed for SignatureCheck<'_> {
    fn signature_check(&self) -> SignatureCheck<'_> {
        SignatureCheck {
            key: self.key,
            message: self.message,
            signature: self.signature,
        }
    }
}

/// Whether each check holds, in input order.
pub fn verify_all<T: Signed + Sync>(checks: &[T]) -> Vec<bool> {
    let mut ok = Vec::with_capacity(checks.len());
    ok.par_extend(checks.par_chunks(BATCH_SIZE).flat_map_iter(verify_chunk));
    ok
}

/// Whether each check of one batch holds: one batch verification, and one by one only when
/// the batch fails, to find the culprits.
pub fn verify_chunk<T: Signed>(chunk: &[T]) -> Vec<bool> {
    if verify_batch(chunk) {
        vec![true; chunk.len()]
    } else {
        chunk
            .iter()
            .map(|c| {
                let c = c.signature_check();
                c.key.verify(c.message, c.signature)
            })
            .collect()
    }
}

/// True when every signature of the batch holds (ed25519-dalek's deterministic batch).
pub fn verify_batch<T: Signed>(chunk: &[T]) -> bool {
    let mut messages: Vec<&[u8]> = Vec::with_capacity(chunk.len());
    let mut signatures: Vec<Signature> = Vec::with_capacity(chunk.len());
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(chunk.len());
    for check in chunk {
        let check = check.signature_check();
        messages.push(check.message);
        signatures.push(*check.signature);
        keys.push(*check.key.verifying_key());
    }
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Keypair;

    #[test]
    fn a_single_bad_signature_is_found_among_many() {
        let pair = Keypair::from_seed(&[5; 32]);
        let messages: Vec<Vec<u8>> = (0..600u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut sigs: Vec<Signature> = messages.iter().map(|m| pair.sign(m)).collect();
        sigs[300] = pair.sign(b"something else");
        let checks: Vec<SignatureCheck<'_>> = messages
            .iter()
            .zip(&sigs)
            .map(|(m, s)| SignatureCheck {
                key: pair.public(),
                message: m,
                signature: s,
            })
            .collect();
        let ok = verify_all(&checks);
        assert_eq!(ok.iter().filter(|ok| !**ok).count(), 1);
        assert!(!ok[300]);
    }
}
