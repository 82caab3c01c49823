//! The text format of `keys/NAME.key` and of decrypted backups.
//!
//! ```text
//! # swarmfeed identity key: whoever holds this file can sign as this identity
//! name: alice
//! public: <52 characters of z-base-32>
//! seed: <64 hex digits: the ed25519 secret seed>
//! ```
//!
//! Lines starting with `#` and blank lines are ignored; `name` is optional (the file name is
//! authoritative inside a keystore; in a backup it is the name suggested on import); `public`
//! must match the key derived from `seed`.

use std::path::Path;

use feeds::{IdentityKey, Keypair};

use crate::error::{Error, Result};

/// Longest identity name, in bytes.
pub const MAX_IDENTITY_NAME: usize = 64;

/// Checks an identity name: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_identity_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::BadIdentityName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > MAX_IDENTITY_NAME {
        return bad("is longer than 64 bytes");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("must start with a letter or digit");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("may hold only letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// A parsed key file.
pub struct KeyFile {
    pub name: Option<String>,
    pub keypair: Keypair,
}

impl KeyFile {
    /// The file's text.
    pub fn encode(&self) -> String {
        let mut text = String::from(
            "# swarmfeed identity key: whoever holds this file can sign as this identity\n",
        );
        if let Some(name) = &self.name {
            text.push_str(&format!("name: {name}\n"));
        }
        text.push_str(&format!("public: {}\n", self.keypair.public()));
        text.push_str(&format!("seed: {}\n", hex::encode(self.keypair.seed())));
        text
    }

    /// The public key of a key file's text, from its `public:` line alone (the seed is
    /// neither decoded nor checked against it); `path` only names it in errors.
    pub fn public_of(text: &[u8], path: &Path) -> Result<IdentityKey> {
        let bad = |reason| Error::BadKeyFile {
            path: path.to_owned(),
            reason,
        };
        let text = std::str::from_utf8(text).map_err(|_| bad("it is not UTF-8 text"))?;
        text.lines()
            .filter_map(|line| line.trim().split_once(':'))
            .find_map(|(key, value)| (key.trim() == "public").then_some(value.trim()))
            .ok_or(bad("it has no public key"))?
            .parse()
            .map_err(|_| bad("the public key is not a z-base-32 identity"))
    }

    /// Parses a key file's text; `path` only names it in errors.
    pub fn decode(text: &[u8], path: &Path) -> Result<KeyFile> {
        let bad = |reason| Error::BadKeyFile {
            path: path.to_owned(),
            reason,
        };
        let text = std::str::from_utf8(text).map_err(|_| bad("it is not UTF-8 text"))?;
        let (mut name, mut public, mut seed) = (None, None, None);
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once(':')
                .ok_or(bad("a line is not `key: value`"))?;
            let slot = match key.trim() {
                "name" => &mut name,
                "public" => &mut public,
                "seed" => &mut seed,
                _ => return Err(bad("it has an unknown field")),
            };
            if slot.replace(value.trim()).is_some() {
                return Err(bad("a field appears twice"));
            }
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(seed.ok_or(bad("it has no seed"))?, &mut bytes)
            .map_err(|_| bad("the seed is not 64 hex digits"))?;
        let keypair = Keypair::from_seed(&bytes);
        let public: IdentityKey = public
            .ok_or(bad("it has no public key"))?
            .parse()
            .map_err(|_| bad("the public key is not a z-base-32 identity"))?;
        if public != keypair.public() {
            return Err(bad("the public key does not match the seed"));
        }
        let name = match name {
            Some(n) => {
                check_identity_name(n)?;
                Some(n.to_owned())
            }
            None => None,
        };
        Ok(KeyFile { name, keypair })
    }
}
