//! Identity keys in the data directory.
//!
//! Layout under `DATA/keys/` (created with mode 0700):
//! - `NAME.key`: one identity (see [`key_file`]), created with mode 0600 — never chmod-ed
//!   after the secret is written — via a temporary file, fsync, and an atomic no-clobber link.
//! - `default`: the name of the default identity. The first identity created becomes the
//!   default; `make_default` moves it.
//!
//! Secrets come from the operating system's CSPRNG. Key files readable by group or others
//! are refused, as ssh does. Backups ([`backup`]) are age files encrypted with a passphrase.

pub mod backup;
pub mod key_file;

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use feeds::{IdentityKey, Keypair};

pub use age::secrecy::SecretString;
pub use key_file::{KeyFile, check_identity_name};

use crate::error::{Error, Result};

/// What the keystore says about one identity (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIdentity {
    pub name: String,
    pub public: IdentityKey,
    pub is_default: bool,
    /// The key file.
    pub path: PathBuf,
}

/// The keys of one data directory.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
}

impl Keystore {
    /// The keystore of `data_dir`; nothing is created on disk until a key is written.
    pub fn new(data_dir: &Path) -> Keystore {
        Keystore {
            dir: data_dir.join("keys"),
        }
    }

    /// The `keys/` directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }

    /// Creates a fresh identity from the OS CSPRNG.
    pub fn generate(&self, name: &str, make_default: bool) -> Result<StoredIdentity> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
        let keypair = Keypair::from_seed(&seed);
        seed.fill(0);
        self.insert(name, &keypair, make_default)
    }

    /// Stores `keypair` as `name`; fails if the name is taken.
    pub fn insert(
        &self,
        name: &str,
        keypair: &Keypair,
        make_default: bool,
    ) -> Result<StoredIdentity> {
        check_identity_name(name)?;
        self.ensure_dir()?;
        let text = KeyFile {
            name: Some(name.to_owned()),
            keypair: keypair.clone(),
        }
        .encode();
        let path = self.key_path(name);
        let temp = self
            .dir
            .join(format!(".{name}.key.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&temp); // left by a crashed run that had our pid
        write_new_private(&temp, text.as_bytes())?;
        // A hard link never replaces an existing file: two `identity new` racing for one
        // name cannot overwrite each other's secret.
        let linked = fs::hard_link(&temp, &path);
        let _ = fs::remove_file(&temp);
        match linked {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::IdentityExists(name.to_owned()));
            }
            Err(e) => return Err(Error::io("write", &path, e)),
            Ok(()) => {}
        }
        sync_dir(&self.dir)?;
        if make_default || self.default_name()?.is_none() {
            self.set_default(name)?;
        }
        self.get(name)
    }

    /// Every identity, sorted by name.
    pub fn list(&self) -> Result<Vec<StoredIdentity>> {
        self.names()?.iter().map(|name| self.get(name)).collect()
    }

    /// Every identity's name and public key, sorted by name, read from the key files'
    /// `public:` lines: no secret is decoded or checked. A node lists identities this way
    /// and loads a key only when it has to sign with it.
    pub fn list_public(&self) -> Result<Vec<(String, IdentityKey)>> {
        let mut list = Vec::new();
        for name in self.names()? {
            let path = self.key_path(&name);
            let text = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            list.push((name, KeyFile::public_of(&text, &path)?));
        }
        Ok(list)
    }

    /// The keypair of the identity whose public key is `public`; only that key is decoded.
    pub fn keypair_of(&self, public: &IdentityKey) -> Result<(String, Keypair)> {
        let name = self
            .list_public()?
            .into_iter()
            .find_map(|(name, key)| (key == *public).then_some(name))
            .ok_or_else(|| Error::UnknownIdentity(public.to_string()))?;
        let keypair = self.keypair(&name)?;
        Ok((name, keypair))
    }

    /// The names of the key files, sorted.
    fn names(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(|e| Error::io("list", &self.dir, e))?,
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &self.dir, e))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".key")) else {
                continue;
            };
            if check_identity_name(name).is_ok() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// One identity's public facts.
    pub fn get(&self, name: &str) -> Result<StoredIdentity> {
        let keypair = self.keypair(name)?;
        Ok(StoredIdentity {
            name: name.to_owned(),
            public: keypair.public(),
            is_default: self.default_name()?.as_deref() == Some(name),
            path: self.key_path(name),
        })
    }

    /// One identity's keypair.
    pub fn keypair(&self, name: &str) -> Result<Keypair> {
        check_identity_name(name)?;
        let path = self.key_path(name);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::UnknownIdentity(name.to_owned()),
            _ => Error::io("open", &path, e),
        })?;
        let meta = file.metadata().map_err(|e| Error::io("read", &path, e))?;
        if meta.mode() & 0o077 != 0 {
            return Err(Error::KeyFileExposed {
                path,
                mode: meta.mode() & 0o777,
            });
        }
        let text = io::read_to_string(file).map_err(|e| Error::io("read", &path, e))?;
        Ok(KeyFile::decode(text.as_bytes(), &path)?.keypair)
    }

    /// The default identity's name, if one is set.
    pub fn default_name(&self) -> Result<Option<String>> {
        let path = self.dir.join("default");
        match fs::read_to_string(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", &path, e)),
            Ok(text) => {
                let name = text.trim();
                check_identity_name(name)?;
                Ok(Some(name.to_owned()))
            }
        }
    }

    /// Makes `name` the default identity.
    pub fn set_default(&self, name: &str) -> Result<()> {
        self.keypair(name)?;
        let path = self.dir.join("default");
        let temp = self
            .dir
            .join(format!(".default.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&temp);
        write_new_private(&temp, format!("{name}\n").as_bytes())?;
        fs::rename(&temp, &path).map_err(|e| Error::io("write", &path, e))?;
        sync_dir(&self.dir)
    }

    /// The named identity, or the default one when `name` is `None`.
    pub fn resolve(&self, name: Option<&str>) -> Result<(String, Keypair)> {
        let name = match name {
            Some(name) => name.to_owned(),
            None => self.default_name()?.ok_or(Error::NoDefaultIdentity)?,
        };
        let keypair = self.keypair(&name)?;
        Ok((name, keypair))
    }

    /// Creates the data directory (default mode) and `keys/` in it (mode 0700).
    fn ensure_dir(&self) -> Result<()> {
        if let Some(data_dir) = self.dir.parent() {
            fs::create_dir_all(data_dir).map_err(|e| Error::io("create", data_dir, e))?;
        }
        match DirBuilder::new().mode(0o700).create(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                Err(Error::io("create", &self.dir, e))
            }
            _ => Ok(()),
        }
    }
}

/// Writes a new file readable only by its owner, and syncs it to disk.
fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(path);
        return Err(Error::io("write", path, e));
    }
    Ok(())
}

/// Makes a rename or link inside `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync", dir, e))
}

#[cfg(test)]
mod tests;
