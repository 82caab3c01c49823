//! Password policy and hashing.
//!
//! Policy (NIST SP 800-63B rev 4): the password is normalised to Unicode NFKC, so the same
//! passphrase typed on another keyboard matches; it needs at least 8 characters, or 15 when
//! the account has no second factor; up to 1,024 are accepted (at least 64 must be); no
//! composition rules; the most common passwords (`common-passwords.txt`, shipped with the
//! crate) and one character repeated are refused.
//!
//! Hashing: bcrypt reads at most 72 bytes, and a long passphrase in a non-Latin script
//! passes 72 bytes in about 24 characters: everything after would be ignored. So the
//! normalised password is first keyed with HMAC-SHA256 under the server's pepper (derived
//! from the secrets key, outside the database), base64-encoded (44 bytes, no NUL byte, which
//! bcrypt would also stop at), then given to bcrypt. The pepper also means a stolen database
//! alone cannot be attacked offline. Stored as `v1$` followed by the bcrypt string.

use std::collections::HashSet;
use std::sync::OnceLock;

use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The shortest password accepted with a second factor.
pub const MIN_LEN_WITH_SECOND_FACTOR: usize = 8;
/// The shortest password accepted without one.
pub const MIN_LEN_WITHOUT_SECOND_FACTOR: usize = 15;
/// The longest password accepted (a bound on the work, far above the 64 required).
pub const MAX_LEN: usize = 1024;

const HASH_PREFIX: &str = "v1$";

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    /// Fewer characters than the policy needs.
    #[error("it needs at least {min} characters")]
    TooShort {
        /// The minimum that applied.
        min: usize,
    },
    /// More than [`MAX_LEN`] characters.
    #[error("it may have at most {MAX_LEN} characters")]
    TooLong,
    /// On the list of common passwords, or one character repeated.
    #[error("it is one of the most common passwords")]
    Common,
}

/// The password in NFKC form, wiped from memory when dropped.
pub(crate) fn normalise(password: &str) -> Zeroizing<String> {
    Zeroizing::new(password.nfkc().collect())
}

/// Checks a new password against the policy. `second_factor` says whether the account has
/// TOTP on (8 characters suffice then, 15 otherwise).
pub fn check_policy(password: &str, second_factor: bool) -> Result<(), PasswordProblem> {
    let normal = normalise(password);
    let chars = normal.chars().count();
    let min = if second_factor {
        MIN_LEN_WITH_SECOND_FACTOR
    } else {
        MIN_LEN_WITHOUT_SECOND_FACTOR
    };
    if chars < min {
        return Err(PasswordProblem::TooShort { min });
    }
    if chars > MAX_LEN {
        return Err(PasswordProblem::TooLong);
    }
    let lower = Zeroizing::new(normal.to_lowercase());
    let mut it = lower.chars();
    let first = it.next();
    if it.all(|c| Some(c) == first) || common_passwords().contains(lower.as_str()) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("common-passwords.txt")
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// HMAC-SHA256(pepper, NFKC(password)), base64: what bcrypt sees (44 bytes < 72).
pub(crate) fn prehash(pepper: &[u8; 32], password: &str) -> Result<Zeroizing<String>> {
    let normal = normalise(password);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(pepper)
        .map_err(|_| Error::Internal("hmac key".into()))?;
    mac.update(normal.as_bytes());
    Ok(Zeroizing::new(BASE64.encode(&mac.finalize().into_bytes())))
}

/// Hashes a prehashed password with bcrypt at `cost` (blocking: ~0.3 s at cost 12).
pub(crate) fn hash_blocking(prehashed: &str, cost: u32) -> Result<String> {
    let h = bcrypt::hash(prehashed, cost).map_err(|e| Error::Internal(format!("bcrypt: {e}")))?;
    Ok(format!("{HASH_PREFIX}{h}"))
}

/// Checks a prehashed password against a stored hash (blocking; bcrypt compares in
/// constant time). A malformed stored hash is a mismatch, after the same work.
pub(crate) fn verify_blocking(prehashed: &str, stored: &str) -> bool {
    match stored.strip_prefix(HASH_PREFIX) {
        Some(h) => bcrypt::verify(prehashed, h).unwrap_or(false),
        None => false,
    }
}

/// The bcrypt cost of a stored hash, if it parses.
pub(crate) fn cost_of(stored: &str) -> Option<u32> {
    let h = stored.strip_prefix(HASH_PREFIX)?;
    h.get(4..6)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_lengths_depend_on_the_second_factor() {
        assert_eq!(
            check_policy("tulip-42-x", false),
            Err(PasswordProblem::TooShort { min: 15 })
        );
        assert_eq!(check_policy("tulip-42-x", true), Ok(()));
        assert_eq!(
            check_policy("tulip-4", true),
            Err(PasswordProblem::TooShort { min: 8 })
        );
        assert_eq!(check_policy(&("é".repeat(7) + "x"), true), Ok(()));
        assert_eq!(check_policy(&"long passphrase ".repeat(4), false), Ok(()));
        assert_eq!(
            check_policy(&"x".repeat(MAX_LEN + 1), false),
            Err(PasswordProblem::TooLong)
        );
    }

    #[test]
    fn common_and_repeated_passwords_are_refused_whatever_their_case() {
        assert_eq!(
            check_policy("PassWord1", true),
            Err(PasswordProblem::Common)
        );
        assert_eq!(
            check_policy("passwordpassword", false),
            Err(PasswordProblem::Common)
        );
        assert_eq!(
            check_policy("aaaaaaaaaaaaaaaaaa", false),
            Err(PasswordProblem::Common)
        );
        // No composition rules: lowercase letters and spaces only is fine.
        assert_eq!(check_policy("quiet river under stone", false), Ok(()));
    }

    #[test]
    fn nfkc_makes_compatibility_forms_equal_and_long_passphrases_count_in_full() {
        let pepper = [7u8; 32];
        // U+FB01 LATIN SMALL LIGATURE FI and the two letters; full-width digits.
        assert_eq!(
            *prehash(&pepper, "\u{fb01}ve").unwrap(),
            *prehash(&pepper, "five").unwrap()
        );
        assert_eq!(
            *prehash(&pepper, "１２３").unwrap(),
            *prehash(&pepper, "123").unwrap()
        );
        // Two 100-byte passphrases equal for their first 72 bytes differ after prehashing,
        // where bcrypt alone would see them as one.
        let a = format!("{}{}", "я".repeat(40), "a");
        let b = format!("{}{}", "я".repeat(40), "b");
        assert!(a.len() > 72);
        assert_ne!(
            *prehash(&pepper, &a).unwrap(),
            *prehash(&pepper, &b).unwrap()
        );
        assert_eq!(prehash(&pepper, &a).unwrap().len(), 44);
    }

    #[test]
    fn hashes_verify_and_carry_their_cost() {
        let p = prehash(&[1u8; 32], "correct horse").unwrap();
        let h = hash_blocking(&p, 4).unwrap();
        assert!(h.starts_with("v1$$2b$04$"));
        assert_eq!(cost_of(&h), Some(4));
        assert!(verify_blocking(&p, &h));
        let q = prehash(&[1u8; 32], "correct horsf").unwrap();
        assert!(!verify_blocking(&q, &h));
        assert!(!verify_blocking(&p, "garbage"));
        // Another pepper (another secrets key): the same password no longer matches.
        let r = prehash(&[2u8; 32], "correct horse").unwrap();
        assert!(!verify_blocking(&r, &h));
    }
}
