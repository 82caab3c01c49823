//! The primitives of MSE/PE: Diffie-Hellman over the spec's fixed 768-bit prime, the SHA-1
//! derivations of the keys and of the handshake's markers, and RC4 with its first 1024
//! keystream bytes dropped.

use num_bigint::BigUint;
use rc4::{KeyInit, Rc4, StreamCipher};
use sha1::{Digest, Sha1};

/// Bytes of a public key or of the shared secret on the wire: 768 bits, big-endian.
pub const DH_LEN: usize = 96;

/// The prime P of the spec (the 768-bit MODP group of RFC 2409, "Oakley group 1"); G is 2.
const PRIME: [u8; DH_LEN] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
];

/// Bits of the private exponent. The spec asks for at least 128; libtorrent and Transmission
/// use 160. The secret only obfuscates, so its strength is not what matters here.
const PRIVATE_KEY_LEN: usize = 20;

/// RC4 keystream bytes thrown away before use (the spec's RC4-drop1024).
const RC4_DISCARD: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the peer's Diffie-Hellman key is degenerate (0, 1 or P-1 or above)")]
pub struct BadPublicKey;

/// One side's Diffie-Hellman key pair.
pub struct KeyPair {
    private: BigUint,
    public: [u8; DH_LEN],
}

impl KeyPair {
    pub fn generate() -> Self {
        use rand::RngExt;
        let mut x = [0u8; PRIVATE_KEY_LEN];
        rand::rng().fill(&mut x[..]);
        Self::from_private(&x)
    }

    pub fn from_private(x: &[u8]) -> Self {
        let private = BigUint::from_bytes_be(x);
        let public = BigUint::from(2u32).modpow(&private, &prime());
        KeyPair {
            public: to_wire(&public),
            private,
        }
    }

    pub fn public(&self) -> &[u8; DH_LEN] {
        &self.public
    }

    /// The shared secret S with the peer's public key, 96 bytes big-endian.
    pub fn shared_secret(&self, peer_public: &[u8]) -> Result<[u8; DH_LEN], BadPublicKey> {
        let p = prime();
        let y = BigUint::from_bytes_be(peer_public);
        // 0, 1 and P-1 make the secret predictable (0, 1 or ±1): refuse them, as
        // well as anything not reduced modulo P.
        if y <= BigUint::from(1u32) || y >= &p - 1u32 {
            return Err(BadPublicKey);
        }
        Ok(to_wire(&y.modpow(&self.private, &p)))
    }
}

fn prime() -> BigUint {
    BigUint::from_bytes_be(&PRIME)
}

fn to_wire(n: &BigUint) -> [u8; DH_LEN] {
    let bytes = n.to_bytes_be();
    let mut out = [0u8; DH_LEN];
    // Values are below P, so at most DH_LEN bytes; left-pad with zeros.
    let start = DH_LEN.saturating_sub(bytes.len());
    let take = bytes.len().min(DH_LEN);
    out[start..].copy_from_slice(&bytes[bytes.len() - take..]);
    out
}

pub fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HASH('req1', S): the marker the responder looks for after the initiator's padding.
pub fn req1(s: &[u8; DH_LEN]) -> [u8; 20] {
    sha1(&[b"req1", s])
}

/// HASH('req2', SKEY): what identifies the torrent, hidden with HASH('req3', S) on the wire.
pub fn req2(skey: &[u8; 20]) -> [u8; 20] {
    sha1(&[b"req2", skey])
}

pub fn req3(s: &[u8; DH_LEN]) -> [u8; 20] {
    sha1(&[b"req3", s])
}

pub fn xor20(a: &[u8; 20], b: &[u8; 20]) -> [u8; 20] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// RC4 with the first 1024 keystream bytes dropped, as both directions of MSE use it.
pub struct Cipher(Rc4);

impl Cipher {
    /// The cipher for the stream `name` sends: keyA is the initiator's, keyB the responder's.
    pub fn new(name: &[u8; 4], s: &[u8; DH_LEN], skey: &[u8; 20]) -> Self {
        let key = sha1(&[name, s, skey]);
        // A 20-byte key is always within RC4's 1..=256 bytes.
        let rc4 = match Rc4::new_from_slice(&key) {
            Ok(rc4) => rc4,
            Err(_) => unreachable!("RC4 takes 20-byte keys"),
        };
        let mut cipher = Cipher(rc4);
        let mut discard = [0u8; RC4_DISCARD];
        cipher.apply(&mut discard);
        cipher
    }

    pub fn apply(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_secret() {
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        let sa = a.shared_secret(b.public()).unwrap();
        let sb = b.shared_secret(a.public()).unwrap();
        assert_eq!(sa, sb);
        assert_ne!(a.public(), b.public());
    }

    #[test]
    fn small_exponents_give_powers_of_two() {
        // 2^10 = 1024, left-padded to 96 bytes.
        let k = KeyPair::from_private(&[10]);
        let mut want = [0u8; DH_LEN];
        want[DH_LEN - 2..].copy_from_slice(&[0x04, 0x00]);
        assert_eq!(k.public(), &want);
    }

    #[test]
    fn degenerate_public_keys_are_refused() {
        let k = KeyPair::generate();
        let mut one = [0u8; DH_LEN];
        one[DH_LEN - 1] = 1;
        assert_eq!(k.shared_secret(&[0u8; DH_LEN]), Err(BadPublicKey));
        assert_eq!(k.shared_secret(&one), Err(BadPublicKey));
        assert_eq!(k.shared_secret(&PRIME), Err(BadPublicKey));
        assert_eq!(k.shared_secret(&[0xFF; DH_LEN]), Err(BadPublicKey));
        let mut p_minus_1 = PRIME;
        p_minus_1[DH_LEN - 1] -= 1;
        assert_eq!(k.shared_secret(&p_minus_1), Err(BadPublicKey));
    }

    #[test]
    fn rc4_drops_the_first_1024_bytes() {
        // RC4 of key "Key" (RFC 6229 style check through the crate) against our drop:
        // the 1025th keystream byte of the raw cipher is our first.
        let s = [7u8; DH_LEN];
        let skey = [9u8; 20];
        let key = sha1(&[b"keyA", &s, &skey]);
        let mut raw = Rc4::new_from_slice(&key).unwrap();
        let mut stream = [0u8; RC4_DISCARD + 16];
        raw.apply_keystream(&mut stream);
        let mut ours = [0u8; 16];
        Cipher::new(b"keyA", &s, &skey).apply(&mut ours);
        assert_eq!(&ours, &stream[RC4_DISCARD..]);
    }
}
