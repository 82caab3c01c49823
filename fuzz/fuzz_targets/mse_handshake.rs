//! The MSE/PE handshake parser of the carried librqbit patch (`third_party/librqbit/src/mse`,
//! compiled here from its source files: it needs none of the rest of librqbit). Whatever a
//! peer sends, each side either waits for more, fails with an error, or finishes; it never
//! panics.
//!
//! First input byte: bits 0–1 pick the mode, bits 2–3 the methods, bits 4–7 how finely the
//! bytes are fed. Mode 0 feeds the responder raw bytes, mode 1 the initiator. Modes 2 and 3
//! get past the Diffie-Hellman exchange: the target plays a genuine peer (its own key pair,
//! the right sync hashes) and the rest of the input is what that peer sends *encrypted*, so
//! the parsers see arbitrary VC, crypto fields, pad lengths and initial payloads.

#![no_main]

use libfuzzer_sys::fuzz_target;

// Files inside resolve against this directory: librqbit's `src/mse/`.
#[allow(dead_code)]
#[path = "../../third_party/librqbit/src/mse"]
mod mse {
    pub mod crypto;
    pub mod handshake;
}

use mse::crypto::{self, Cipher, KeyPair};
use mse::handshake::{Initiator, Methods, Responder, Step};

const INFO_HASH: [u8; 20] = [0x5a; 20];

fn lookup(req2: &[u8; 20]) -> Option<[u8; 20]> {
    (*req2 == crypto::req2(&INFO_HASH)).then_some(INFO_HASH)
}

/// Feeds `stream` to `advance` in growing prefixes, `step` bytes more each time.
fn feed(stream: &[u8], step: usize, mut advance: impl FnMut(&[u8]) -> Result<Step, ()>) {
    let mut n = 0;
    loop {
        n = (n + step).min(stream.len());
        match advance(&stream[..n]) {
            Ok(Step::NeedMore) if n < stream.len() => continue,
            _ => return,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let methods = Methods {
        plaintext: control & 0b0100 != 0,
        rc4: control & 0b1000 != 0 || control & 0b0100 == 0,
        prefer_rc4: control & 0b1100 == 0b1100,
    };
    let step = usize::from(control >> 4) * 37 + 1;
    match control & 0b11 {
        0 => {
            let mut responder = Responder::new(methods);
            feed(rest, step, |buf| {
                responder
                    .advance(buf, &mut Vec::new(), &lookup)
                    .map_err(|_| ())
            });
        }
        1 => {
            let mut initiator = Initiator::new(INFO_HASH, methods, b"ia", &mut Vec::new());
            feed(rest, step, |buf| {
                initiator.advance(buf, &mut Vec::new()).map_err(|_| ())
            });
        }
        2 => {
            // We are a real initiator; `rest` is our encrypted step 3 after the sync hashes.
            let mut responder = Responder::new(methods);
            let ours = KeyPair::from_private(&[3; 20]);
            let mut stream = ours.public().to_vec();
            let mut yb = Vec::new();
            if responder.advance(&stream, &mut yb, &lookup).is_err() {
                return;
            }
            let Ok(s) = ours.shared_secret(&yb[..crypto::DH_LEN]) else {
                return;
            };
            stream.extend_from_slice(&crypto::req1(&s));
            stream.extend_from_slice(&crypto::xor20(
                &crypto::req2(&INFO_HASH),
                &crypto::req3(&s),
            ));
            let mut body = rest.to_vec();
            Cipher::new(b"keyA", &s, &INFO_HASH).apply(&mut body);
            stream.extend_from_slice(&body);
            feed(&stream, step, |buf| {
                responder
                    .advance(buf, &mut Vec::new(), &lookup)
                    .map_err(|_| ())
            });
        }
        _ => {
            // We are a real responder; `rest` is our encrypted step 4 (a leading run of
            // zeros is the VC the initiator searches for).
            let mut ya = Vec::new();
            let mut initiator = Initiator::new(INFO_HASH, methods, b"ia", &mut ya);
            let ours = KeyPair::from_private(&[5; 20]);
            let Ok(s) = ours.shared_secret(&ya[..crypto::DH_LEN]) else {
                return;
            };
            let mut stream = ours.public().to_vec();
            let mut body = rest.to_vec();
            Cipher::new(b"keyB", &s, &INFO_HASH).apply(&mut body);
            stream.extend_from_slice(&body);
            feed(&stream, step, |buf| {
                initiator.advance(buf, &mut Vec::new()).map_err(|_| ())
            });
        }
    }
});
