//! The data directory's one error type: its files, the keystore, a bounded read.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing the data directory or its keys.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed on a named path.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file read whole (a .torrent, a backup) that is larger than such a file may be.
    #[error("{} is larger than {what} may be ({}): refusing to read it", path.display(), cap_text(*cap))]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        cap: u64,
    },
    /// A device, directory or socket where a file to read whole was expected.
    #[error("{} is not a regular file, so it cannot be {what}", path.display())]
    NotAFile { path: PathBuf, what: &'static str },
    /// An identity name outside `[A-Za-z0-9._-]{1,64}` starting with a letter or digit.
    #[error("identity name {name:?} {reason}")]
    BadIdentityName { name: String, reason: &'static str },
    /// `identity new` or `import` with a name already in the keystore.
    #[error("an identity named {0:?} already exists")]
    IdentityExists(String),
    /// No key file of that name.
    #[error("no identity named {0:?} in the keystore (see `swarmfeed identity list`)")]
    UnknownIdentity(String),
    /// No name given and no default set.
    #[error("no default identity; create one with `swarmfeed identity new`")]
    NoDefaultIdentity,
    /// A key file or decrypted backup that does not parse.
    #[error("{} is not a valid key file: {reason}", path.display())]
    BadKeyFile { path: PathBuf, reason: &'static str },
    /// A key file readable by others than its owner.
    #[error("{} is readable by other users (mode {mode:o}); run `chmod 600` on it", path.display())]
    KeyFileExposed { path: PathBuf, mode: u32 },
    /// A backup that cannot be decrypted with the passphrase.
    #[error("cannot decrypt the backup: {0}")]
    BackupDecrypt(String),
    /// A passphrase too short for a new backup (backups travel and can be attacked offline).
    #[error(
        "the passphrase has {chars} characters; a backup needs at least {min} \
         (a few words make a good one)"
    )]
    WeakPassphrase { chars: usize, min: usize },
    /// Encrypting a backup failed.
    #[error("cannot encrypt the backup: {0}")]
    BackupEncrypt(String),
    /// The OS random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// `Result` with the data directory's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A size bound for messages: `64 MiB`, `1 MiB`, or bytes.
fn cap_text(cap: u64) -> String {
    if cap >= 1 << 20 && cap.is_multiple_of(1 << 20) {
        format!("{} MiB", cap >> 20)
    } else {
        format!("{cap} bytes")
    }
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
