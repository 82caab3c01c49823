//! Passphrase-protected backups of identities: the key file's text (see [`super::key_file`]),
//! encrypted in the age format with a scrypt passphrase and ASCII-armored.
//!
//! A backup outlives swarmfeed: `age -d backup.age` (Debian's `age`) prints the key file.

use age::secrecy::SecretString;
use feeds::Keypair;

use super::{KeyFile, Keystore, StoredIdentity};
use crate::error::{Error, Result};

impl Keystore {
    /// The named identity as an armored age file encrypted with `passphrase`.
    pub fn export(&self, name: &str, passphrase: SecretString) -> Result<String> {
        let keypair = self.keypair(name)?;
        encrypt_backup(name, &keypair, passphrase)
    }

    /// Stores the identity in a backup, under `name` or else the name the backup carries.
    pub fn import(
        &self,
        backup: &[u8],
        passphrase: SecretString,
        name: Option<&str>,
        make_default: bool,
    ) -> Result<StoredIdentity> {
        let key = decrypt_backup(backup, passphrase)?;
        let name = match (name, key.name.as_deref()) {
            (Some(name), _) | (None, Some(name)) => name.to_owned(),
            (None, None) => {
                return Err(Error::BadIdentityName {
                    name: String::new(),
                    reason: "is missing: the backup names no identity, give one with --name",
                });
            }
        };
        self.insert(&name, &key.keypair, make_default)
    }
}

/// The fewest characters a new backup's passphrase may have. A backup is a file that
/// travels (mail, cloud storage, a USB stick) and anyone holding it can try passphrases
/// offline; scrypt makes each try cost about a second of one core, which does not save a
/// handful of characters. Backups made before this floor still import, whatever their
/// passphrase: it applies to `export` only.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Refuses a passphrase too short for a new backup ([`MIN_PASSPHRASE_CHARS`]).
pub fn check_new_passphrase(passphrase: &SecretString) -> Result<()> {
    use age::secrecy::ExposeSecret;
    let chars = passphrase.expose_secret().chars().count();
    if chars < MIN_PASSPHRASE_CHARS {
        return Err(Error::WeakPassphrase {
            chars,
            min: MIN_PASSPHRASE_CHARS,
        });
    }
    Ok(())
}

/// Encrypts one identity's key file with a passphrase (age, scrypt, armored); the
/// passphrase must have at least [`MIN_PASSPHRASE_CHARS`] characters.
pub fn encrypt_backup(name: &str, keypair: &Keypair, passphrase: SecretString) -> Result<String> {
    check_new_passphrase(&passphrase)?;
    encrypt_backup_at(name, keypair, passphrase, None)
}

/// [`encrypt_backup`] with scrypt's `log_n` forced (tests use a cheap one); `None` lets age
/// pick one that takes about a second on this machine.
pub(crate) fn encrypt_backup_at(
    name: &str,
    keypair: &Keypair,
    passphrase: SecretString,
    log_n: Option<u8>,
) -> Result<String> {
    let text = KeyFile {
        name: Some(name.to_owned()),
        keypair: keypair.clone(),
    }
    .encode();
    let mut recipient = age::scrypt::Recipient::new(passphrase);
    if let Some(log_n) = log_n {
        recipient.set_work_factor(log_n);
    }
    age::encrypt_and_armor(&recipient, text.as_bytes())
        .map_err(|e| Error::BackupEncrypt(e.to_string()))
}

/// Decrypts a backup (armored or binary age) and parses the key file inside.
pub fn decrypt_backup(backup: &[u8], passphrase: SecretString) -> Result<KeyFile> {
    let identity = age::scrypt::Identity::new(passphrase);
    let text = age::decrypt(&identity, backup).map_err(|e| Error::BackupDecrypt(e.to_string()))?;
    KeyFile::decode(&text, std::path::Path::new("the decrypted backup"))
}
