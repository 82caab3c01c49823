//! Identity keys and their textual id: z-base-32 of the ed25519 public key, as pkarr and
//! mainline write it, so the same key is also a BEP 44 DHT key.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// Length of a textual identity id: 256 bits in 5-bit symbols.
pub const ID_LEN: usize = 52;

const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// Why a textual identity id or a raw key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("identity id must be {ID_LEN} characters of z-base-32, got {0}")]
    BadLength(usize),
    #[error(
        "identity id has {found:?} at position {at}, which is not z-base-32 (ybndrfg8ejkmcpqxot1uwisza345h769)"
    )]
    BadCharacter { at: usize, found: char },
    #[error("identity id has non-zero padding bits in its last character")]
    NonCanonical,
    #[error("identity key is not a valid ed25519 public key")]
    InvalidKey,
    #[error("identity key is a weak (small-order) ed25519 key")]
    WeakKey,
}

/// A public identity: an ed25519 verifying key that is a valid, non-weak curve point.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityKey(VerifyingKey);

impl IdentityKey {
    /// Accepts 32 raw bytes when they are a valid, non-weak ed25519 public key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, IdentityError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| IdentityError::InvalidKey)?;
        if key.is_weak() {
            return Err(IdentityError::WeakKey);
        }
        Ok(IdentityKey(key))
    }

    /// Like [`IdentityKey::from_bytes`] for a slice that must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, IdentityError> {
        let bytes: &[u8; 32] = bytes.try_into().map_err(|_| IdentityError::InvalidKey)?;
        Self::from_bytes(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// Strict single verification (RFC 8032 with canonical encodings, no small-order parts).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        self.0.verify_strict(message, signature).is_ok()
    }
}

impl PartialOrd for IdentityKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdentityKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&z32_encode(self.as_bytes()))
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({self})")
    }
}

impl FromStr for IdentityKey {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_bytes(&z32_decode(s)?)
    }
}

/// A secret identity key. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl Keypair {
    /// The keypair whose secret seed is `seed` (32 bytes from a CSPRNG, chosen by the caller).
    pub fn from_seed(seed: &[u8; 32]) -> Keypair {
        Keypair(SigningKey::from_bytes(seed))
    }

    /// The secret seed. Handle with care: whoever has it can sign as this identity.
    pub fn seed(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub fn public(&self) -> IdentityKey {
        IdentityKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({}, secret hidden)", self.public())
    }
}

fn z32_encode(bytes: &[u8; 32]) -> String {
    let mut out = String::with_capacity(ID_LEN);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn z32_decode(text: &str) -> Result<[u8; 32], IdentityError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() != ID_LEN {
        return Err(IdentityError::BadLength(chars.len()));
    }
    let mut out = [0u8; 32];
    let mut buffer: u32 = 0;
    let mut bits = 0;
    let mut written = 0;
    for (at, &found) in chars.iter().enumerate() {
        let symbol = ALPHABET
            .iter()
            .position(|&a| a as char == found)
            .ok_or(IdentityError::BadCharacter { at, found })?;
        buffer = (buffer << 5) | symbol as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[written] = (buffer >> bits) as u8;
            written += 1;
        }
        buffer &= (1 << bits) - 1;
    }
    // 52 symbols carry 260 bits: the last 4 must be zero or two ids would name one key.
    if buffer != 0 {
        return Err(IdentityError::NonCanonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_52_characters_and_round_trip() {
        let key = Keypair::from_seed(&[7; 32]).public();
        let id = key.to_string();
        assert_eq!(id.len(), ID_LEN);
        assert_eq!(id.parse::<IdentityKey>(), Ok(key));
    }

    #[test]
    fn z32_matches_the_pkarr_alphabet() {
        // An all-zero input is all 'y' (symbol 0); all-ones ends in '9' with zero padding.
        assert_eq!(z32_encode(&[0; 32]), "y".repeat(52));
        let ones = z32_encode(&[0xff; 32]);
        assert_eq!(&ones[..51], "9".repeat(51));
        assert_eq!(ones.as_bytes()[51], ALPHABET[0b10000]);
    }

    #[test]
    fn malformed_ids_are_refused_clearly() {
        let id = Keypair::from_seed(&[7; 32]).public().to_string();
        assert_eq!(
            "abc".parse::<IdentityKey>(),
            Err(IdentityError::BadLength(3))
        );
        let upper = id.to_uppercase();
        assert!(matches!(
            upper.parse::<IdentityKey>(),
            Err(IdentityError::BadCharacter { .. })
        ));
        let mut bad_padding = id.clone();
        let last = bad_padding.pop().unwrap();
        let symbol = ALPHABET.iter().position(|&a| a as char == last).unwrap();
        // The last symbol carries one key bit and four zero padding bits; set one of those.
        bad_padding.push(ALPHABET[symbol | 1] as char);
        assert_eq!(
            bad_padding.parse::<IdentityKey>(),
            Err(IdentityError::NonCanonical)
        );
        let with_l = format!("l{}", &id[1..]);
        assert!(matches!(
            with_l.parse::<IdentityKey>(),
            Err(IdentityError::BadCharacter { at: 0, found: 'l' })
        ));
        // The identity point (small order) is a weak key.
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert_eq!(
            IdentityKey::from_bytes(&identity_point),
            Err(IdentityError::WeakKey)
        );
    }

    #[test]
    fn keypair_debug_hides_the_secret() {
        let pair = Keypair::from_seed(&[9; 32]);
        let shown = format!("{pair:?}");
        assert!(!shown.contains(&hex::encode(pair.seed())));
        assert!(shown.contains("secret hidden"));
    }

    proptest! {
        #[test]
        fn any_key_round_trips(seed in any::<[u8; 32]>()) {
            let key = Keypair::from_seed(&seed).public();
            prop_assert_eq!(key.to_string().parse::<IdentityKey>(), Ok(key));
        }
    }
}
