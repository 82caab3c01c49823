//! The secrets key: 32 bytes kept outside the database (a file or an environment variable).
//! Four keys are derived from it with HMAC-SHA256 over a label: one seals TOTP secrets, one
//! seals identity secret keys (XChaCha20-Poly1305, a random 24-byte nonce per seal, the
//! row's purpose and owner as associated data so a sealed blob cannot be moved to another
//! row), one is the password pepper, and one keys CSRF tokens. A stolen database without
//! the key opens nothing; a lost key loses every sealed secret and every password (see
//! docs/accounts.md).
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use data_encoding::HEXLOWER_PERMISSIVE;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::config::SecretsKeyConfig;
use crate::error::{Error, Result};
use crate::token::random_bytes;

/// The format byte in front of every sealed blob.
const SEAL_V1: u8 = 1;

/// Keys derived from the secrets key. Never printed.
pub(crate) struct Keys {
    totp: Zeroizing<[u8; 32]>,
    identity: Zeroizing<[u8; 32]>,
    pub(crate) pepper: Zeroizing<[u8; 32]>,
    pub(crate) csrf: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

/// Which derived key seals a secret.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sealed {
    Totp,
    Identity,
}

impl Keys {
    /// Loads the key from the environment variable, else the file (created when missing).
    pub(crate) fn load(config: &SecretsKeyConfig, file: &Path) -> Result<Keys> {
        let master = match &config.env {
            Some(var) => {
                let hex = std::env::var(var)
                    .map_err(|_| Error::SecretsKey(format!("${var} is not set")))?;
                parse_key(hex.trim(), &format!("${var}"))?
            }
            None => load_or_create_file(file)?,
        };
        Ok(Keys {
            totp: derive(&master, b"swarmfeed accounts v1 totp secrets")?,
            identity: derive(&master, b"swarmfeed accounts v1 identity keys")?,
            pepper: derive(&master, b"swarmfeed accounts v1 password pepper")?,
            csrf: derive(&master, b"swarmfeed accounts v1 csrf tokens")?,
        })
    }

    fn key(&self, which: Sealed) -> &[u8; 32] {
        match which {
            Sealed::Totp => &self.totp,
            Sealed::Identity => &self.identity,
        }
    }

    /// Encrypts `plain`, bound to `context` (e.g. `user:7`).
    pub(crate) fn seal(&self, which: Sealed, context: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new(self.key(which).into());
        let nonce = random_bytes::<24>()?;
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(nonce.as_slice()),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal("seal failed".into()))?;
        let mut out = Vec::with_capacity(1 + 24 + sealed.len());
        out.push(SEAL_V1);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`Keys::seal`] made with the same `which` and `context`.
    pub(crate) fn open(
        &self,
        which: Sealed,
        context: &str,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if blob.len() < 1 + 24 + 16 || blob[0] != SEAL_V1 {
            return Err(Error::Unseal);
        }
        let cipher = XChaCha20Poly1305::new(self.key(which).into());
        cipher
            .decrypt(
                XNonce::from_slice(&blob[1..25]),
                Payload {
                    msg: &blob[25..],
                    aad: context.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::Unseal)
    }
}

/// A new random key as the 64 hex digits the file and variable hold.
pub fn generate_secrets_key() -> Result<String> {
    Ok(data_encoding::HEXLOWER.encode(random_bytes::<32>()?.as_slice()))
}

fn parse_key(hex: &str, from: &str) -> Result<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(
        HEXLOWER_PERMISSIVE
            .decode(hex.as_bytes())
            .map_err(|_| Error::SecretsKey(format!("{from} is not 64 hex digits")))?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(Error::SecretsKey(format!("{from} is not 64 hex digits")));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn load_or_create_file(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(path) {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "the accounts secrets key is readable by others: chmod 600 it");
                }
            }
            parse_key(text.trim(), &path.display().to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let hex = Zeroizing::new(generate_secrets_key()?);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = match options.open(path) {
                Ok(f) => f,
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(path).map_err(io)?;
                    return parse_key(text.trim(), &path.display().to_string());
                }
                Err(e) => return Err(io(e)),
            };
            f.write_all(format!("{}\n", hex.as_str()).as_bytes())
                .map_err(io)?;
            f.sync_all().map_err(io)?;
            tracing::info!(path = %path.display(), "created a new accounts secrets key: back it up");
            parse_key(&hex, &path.display().to_string())
        }
        Err(e) => Err(io(e)),
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master)
        .map_err(|_| Error::Internal("hmac key".into()))?;
    mac.update(label);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(hex: &str) -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        std::fs::write(&file, hex).unwrap();
        Keys::load(&SecretsKeyConfig::default(), &file).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_kind_and_context() {
        let k = keys(&"ab".repeat(32));
        let blob = k.seal(Sealed::Totp, "user:1", b"secret").unwrap();
        assert_eq!(
            &k.open(Sealed::Totp, "user:1", &blob).unwrap()[..],
            b"secret"
        );
        assert!(matches!(
            k.open(Sealed::Totp, "user:2", &blob),
            Err(Error::Unseal)
        ));
        assert!(matches!(
            k.open(Sealed::Identity, "user:1", &blob),
            Err(Error::Unseal)
        ));
        let other = keys(&"cd".repeat(32));
        assert!(matches!(
            other.open(Sealed::Totp, "user:1", &blob),
            Err(Error::Unseal)
        ));
        let mut bad = blob.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(matches!(
            k.open(Sealed::Totp, "user:1", &bad),
            Err(Error::Unseal)
        ));
    }

    #[test]
    fn a_missing_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/accounts.key");
        let a = Keys::load(&SecretsKeyConfig::default(), &file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = Keys::load(&SecretsKeyConfig::default(), &file).unwrap();
        assert_eq!(*a.pepper, *b.pepper);
        std::fs::write(&file, "not hex").unwrap();
        assert!(matches!(
            Keys::load(&SecretsKeyConfig::default(), &file),
            Err(Error::SecretsKey(_))
        ));
        assert_eq!(format!("{a:?}"), "Keys(<redacted>)");
    }
}
