//! Secrets handed to users (session tokens, mailed links, codes): 32 random bytes,
//! base64url, stored only as their SHA-256. A [`Secret`] never prints itself.

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A secret string for the user (a token, a code, a TOTP secret). `Debug` shows
/// `Secret(<redacted>)`, so it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a string received from a user.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }

    /// The secret itself, to put in a cookie, a link or a page.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

/// Random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::fill(b.as_mut_slice()).map_err(|e| Error::Internal(format!("getrandom: {e}")))?;
    Ok(b)
}

/// A new token: 32 random bytes, base64url without padding (43 characters). Public for the
/// gateway's pre-session cookie (what sign-in and sign-up forms' CSRF tokens bind to).
pub fn new_token() -> Result<Secret> {
    let b = random_bytes::<32>()?;
    Ok(Secret::new(BASE64URL_NOPAD.encode(b.as_slice())))
}

/// What the database keeps of a token. Lookups are by this hash: the index's timing says
/// something about the hash, never about a token nobody has seen.
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
