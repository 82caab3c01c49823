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

/// Whether each check holds, in input order.
pub fn verify_all(checks: &[SignatureCheck<'_>]) -> Vec<bool> {
    checks
        .par_chunks(BATCH_SIZE)
        .flat_map_iter(|chunk| {
            if verify_batch(chunk) {
                vec![true; chunk.len()]
            } else {
                chunk
                    .iter()
                    .map(|c| c.key.verify(c.message, c.signature))
                    .collect()
            }
        })
        .collect()
}

/// True when every signature of the batch holds (ed25519-dalek's deterministic batch).
pub fn verify_batch(chunk: &[SignatureCheck<'_>]) -> bool {
    let messages: Vec<&[u8]> = chunk.iter().map(|c| c.message).collect();
    let signatures: Vec<Signature> = chunk.iter().map(|c| *c.signature).collect();
    let keys: Vec<VerifyingKey> = chunk.iter().map(|c| *c.key.verifying_key()).collect();
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
