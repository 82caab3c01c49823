//! CSRF tokens for the gateway's forms, without state: HMAC-SHA256, under a key derived from
//! the secrets key, of the hash of the token the form is bound to — the session token for a
//! signed-in user, or a random pre-session cookie for sign-in and sign-up forms (so a
//! stranger's page cannot sign a visitor in to the stranger's account either). A token
//! changes when its session rotates; it is compared in constant time.

use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Accounts;
use crate::error::{Error, Result};
use crate::token::{Secret, ct_eq, token_hash};

impl Accounts {
    /// The CSRF token for forms shown with `bound_to` (a session token or a pre-session
    /// cookie value).
    pub fn csrf_token(&self, bound_to: &Secret) -> Result<String> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.inner.keys.csrf.as_slice())
            .map_err(|_| Error::Internal("hmac key".into()))?;
        mac.update(b"csrf\0");
        mac.update(&token_hash(bound_to.expose()));
        Ok(BASE64URL_NOPAD.encode(&mac.finalize().into_bytes()))
    }

    /// Whether a submitted CSRF token belongs to `bound_to`.
    pub fn check_csrf(&self, bound_to: &Secret, submitted: &str) -> bool {
        match self.csrf_token(bound_to) {
            Ok(expected) => ct_eq(expected.as_bytes(), submitted.as_bytes()),
            Err(_) => false,
        }
    }
}
