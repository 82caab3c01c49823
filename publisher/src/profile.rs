//! An identity's public profile: display name, short bio and avatar, signed as the
//! `profile` extension of its identity record (docs/feed-format.md, "Identity record
//! extensions"), so every node and gateway shows the same name.
//!
//! The signed item lives beside the identity record as `feeds/ID/@profile` (no feed name
//! starts with `@`), and the record names it in `x-ext` (see
//! [`crate::feed_writer::update_identity_record`]). A change is signed under the identity's
//! lock, like an append, so two writers never sign two versions at one seq.
//!
//! `feeds` accepts any UTF-8 name of at most 64 bytes (formats are forever); this publisher
//! is stricter about its own, as it is about file names ([`crate::torrent::portable_name`]):
//! it refuses bidirectional controls and control characters, which could make a name show
//! as another.

use std::fs;
use std::path::PathBuf;

use feeds::bencode::Value;
use feeds::extension::{self, MAX_PROFILE_BIO_BYTES, MAX_PROFILE_NAME_BYTES, Profile};
use feeds::{IdentityKey, InfoHash, Keypair, MutableItem, SignedIdentityRecord};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::feed_writer::update_identity_record;
use crate::torrent::portable_name::is_hidden_control;
use data_dir::{DataDir, io, write_atomic};

/// The extension's name.
pub const PROFILE: &str = "profile";

/// A change to a profile: each field set, cleared, or (neither) kept as it is.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProfileChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    /// `INFOHASH` or `INFOHASH/path/in/torrent` (a file of one of the identity's torrents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default)]
    pub clear_name: bool,
    #[serde(default)]
    pub clear_bio: bool,
    #[serde(default)]
    pub clear_avatar: bool,
}

/// A profile as signed now.
#[derive(Clone, Debug)]
pub struct SignedProfile {
    pub item: MutableItem,
    pub profile: Profile,
    /// The identity record naming it.
    pub record: SignedIdentityRecord,
}

/// Where the data directory keeps `identity`'s signed extension `name`.
pub fn extension_path(data: &DataDir, identity: &IdentityKey, name: &str) -> PathBuf {
    data.identity_dir(identity).join(format!("@{name}"))
}

/// The extensions this data directory holds signed items of for `identity`, by name.
pub fn extensions_held(data: &DataDir, identity: &IdentityKey) -> Vec<String> {
    let held = extension_path(data, identity, PROFILE).exists();
    held.then(|| PROFILE.to_owned()).into_iter().collect()
}

/// The signed profile item the data directory holds for `identity`, if any.
pub fn current_item(data: &DataDir, identity: &IdentityKey) -> Result<Option<MutableItem>> {
    let path = extension_path(data, identity, PROFILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", &path, e).into()),
    };
    let item = MutableItem::decode(&bytes).map_err(|e| Error::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if item.key() != *identity {
        return Err(Error::Corrupt {
            path,
            reason: "signed by another identity".into(),
        });
    }
    Ok(Some(item))
}

/// Keeps `item`, a profile of `identity` found in the network (restoring a publisher), in
/// the data directory when it is newer than the one held: the next change then signs above
/// the network's version, which followers would otherwise keep. Returns whether it was
/// written. The item must read as a profile (a bad one is refused).
pub fn install_item(data: &DataDir, identity: &IdentityKey, item: &MutableItem) -> Result<bool> {
    let path = extension_path(data, identity, PROFILE);
    if item.key() != *identity {
        return Err(Error::Corrupt {
            path,
            reason: "the fetched profile is another identity's".into(),
        });
    }
    extension::read_profile(item)?;
    let identity_dir = data.identity_dir(identity);
    data_dir::create_dir(&identity_dir)?;
    let lock_path = identity_dir.join(".lock");
    let lock = data_dir::open_append(&lock_path)?;
    lock.lock().map_err(|e| io("lock", &lock_path, e))?;
    let held = current_item(data, identity).ok().flatten();
    if held.is_some_and(|h| h.seq() >= item.seq()) {
        return Ok(false);
    }
    write_atomic(&path, &item.encode())?;
    Ok(true)
}

/// Why this publisher refuses `name` as a display name, if it does.
pub fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("is empty (use --clear-name to remove it)".into());
    }
    if name.len() > MAX_PROFILE_NAME_BYTES {
        return Some(format!(
            "is {} bytes of UTF-8; a profile name holds at most {MAX_PROFILE_NAME_BYTES}",
            name.len()
        ));
    }
    hidden(name, false)
}

/// Why this publisher refuses `bio`, if it does (line breaks are allowed there).
pub fn bio_problem(bio: &str) -> Option<String> {
    if bio.len() > MAX_PROFILE_BIO_BYTES {
        return Some(format!(
            "is {} bytes of UTF-8; a profile bio holds at most {MAX_PROFILE_BIO_BYTES}",
            bio.len()
        ));
    }
    hidden(bio, true)
}

fn hidden(text: &str, newlines: bool) -> Option<String> {
    let c = text
        .chars()
        .find(|&c| is_hidden_control(c) && !(newlines && c == '\n'))?;
    Some(format!(
        "holds U+{:04X}, a bidirectional control or control character, which can make it show as another text",
        c as u32
    ))
}

/// Parses `INFOHASH[/path/in/torrent]`.
pub fn parse_avatar(text: &str) -> Result<(InfoHash, Vec<String>)> {
    let bad = |reason: String| Error::BadProfile {
        field: "avatar",
        reason,
    };
    let (hash, path) = text.split_once('/').unwrap_or((text, ""));
    let infohash: InfoHash = hash
        .parse()
        .map_err(|_| bad(format!("{hash:?} is not a 40-digit hex infohash")))?;
    let path: Vec<String> = match path {
        "" => Vec::new(),
        path => path.split('/').map(str::to_owned).collect(),
    };
    if !path.is_empty() {
        feeds::torrent_path::check_path(&path).map_err(|e| bad(e.to_string()))?;
    }
    Ok((infohash, path))
}

/// `current` with `change` applied, checked.
pub fn apply(current: Profile, change: &ProfileChange) -> Result<Profile> {
    let mut profile = current;
    let bad = |field, reason| Error::BadProfile { field, reason };
    if change.clear_name {
        profile.name = None;
    }
    if change.clear_bio {
        profile.bio = None;
    }
    if change.clear_avatar {
        profile.avatar = None;
    }
    if let Some(name) = &change.name {
        if let Some(problem) = name_problem(name) {
            return Err(bad("name", problem));
        }
        profile.name = Some(name.clone());
    }
    if let Some(bio) = &change.bio {
        if let Some(problem) = bio_problem(bio) {
            return Err(bad("bio", problem));
        }
        profile.bio = Some(bio.clone()).filter(|b| !b.is_empty());
    }
    if let Some(avatar) = &change.avatar {
        profile.avatar = Some(parse_avatar(avatar)?);
    }
    Ok(profile)
}

/// Signs version `seq` of `profile`.
pub fn sign(keypair: &Keypair, profile: &Profile, seq: i64) -> Result<MutableItem> {
    let mut fields = Vec::new();
    if let Some((infohash, path)) = &profile.avatar {
        fields.push(("avatar", Value::bytes(infohash.0.as_slice())));
        if !path.is_empty() {
            let path = path.iter().map(|c| Value::bytes(c.as_str())).collect();
            fields.push(("avatar-path", Value::List(path)));
        }
    }
    if let Some(bio) = &profile.bio {
        fields.push(("bio", Value::bytes(bio.as_str())));
    }
    if let Some(name) = &profile.name {
        fields.push(("name", Value::bytes(name.as_str())));
    }
    Ok(extension::sign(keypair, PROFILE, seq, fields)?)
}

/// Applies `change` to the identity's profile and signs the next version, under the
/// identity's lock; then re-signs the identity record if it does not name the profile yet
/// (naming `node` first, as [`update_identity_record`] does).
pub fn set_profile(
    data: &DataDir,
    keypair: &Keypair,
    change: &ProfileChange,
    node: Option<&str>,
) -> Result<SignedProfile> {
    let identity = keypair.public();
    let identity_dir = data.identity_dir(&identity);
    data_dir::create_dir(&identity_dir)?;
    let lock_path = identity_dir.join(".lock");
    let lock = data_dir::open_append(&lock_path)?;
    lock.lock().map_err(|e| io("lock", &lock_path, e))?;

    let current = current_item(data, &identity)?;
    let (seq, profile) = match &current {
        Some(item) => (
            item.seq() + 1,
            // A stored profile this reader must skip (a critical field it does not know)
            // is replaced whole rather than edited blind.
            extension::read_profile(item)?.unwrap_or_default(),
        ),
        None => (1, Profile::default()),
    };
    let profile = apply(profile, change)?;
    let item = sign(keypair, &profile, seq)?;
    write_atomic(&extension_path(data, &identity, PROFILE), &item.encode())?;
    let record = update_identity_record(data, keypair, node)?;
    Ok(SignedProfile {
        item,
        profile,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair() -> Keypair {
        Keypair::from_seed(&[7; 32])
    }

    #[test]
    fn a_profile_is_signed_and_named_by_the_record_and_each_change_raises_its_seq() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let keypair = keypair();
        let change = ProfileChange {
            name: Some("Alice".into()),
            bio: Some("Field recordings.\nMostly birds.".into()),
            ..ProfileChange::default()
        };
        let first = set_profile(&data, &keypair, &change, None).unwrap();
        assert_eq!(first.item.seq(), 1);
        assert_eq!(extension::names(&first.record), vec!["profile"]);
        let read = extension::read_profile(&first.item).unwrap().unwrap();
        assert_eq!(read.name.as_deref(), Some("Alice"));

        let second = set_profile(
            &data,
            &keypair,
            &ProfileChange {
                clear_bio: true,
                avatar: Some(format!("{}/img/me.png", "ab".repeat(20))),
                ..ProfileChange::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(second.item.seq(), 2);
        let read = extension::read_profile(&second.item).unwrap().unwrap();
        assert_eq!(read.name.as_deref(), Some("Alice"));
        assert_eq!(read.bio, None);
        assert_eq!(read.avatar.unwrap().1, vec!["img", "me.png"]);
        // The record already named the profile: not re-signed.
        assert_eq!(second.record, first.record);
        assert_eq!(
            current_item(&data, &keypair.public()).unwrap().unwrap(),
            second.item
        );
    }

    #[test]
    fn a_restored_profile_is_kept_only_when_newer_and_the_next_change_signs_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let keypair = keypair();
        let id = keypair.public();
        let network = |seq, name: &str| {
            let profile = Profile {
                name: Some(name.into()),
                ..Profile::default()
            };
            sign(&keypair, &profile, seq).unwrap()
        };
        assert!(install_item(&data, &id, &network(5, "Alice")).unwrap());
        assert!(!install_item(&data, &id, &network(4, "Old")).unwrap());
        let other = Keypair::from_seed(&[8; 32]);
        let foreign = sign(&other, &Profile::default(), 9).unwrap();
        assert!(install_item(&data, &id, &foreign).is_err());
        let change = ProfileChange {
            bio: Some("Back.".into()),
            ..ProfileChange::default()
        };
        let next = set_profile(&data, &keypair, &change, None).unwrap();
        assert_eq!(next.item.seq(), 6);
        assert_eq!(next.profile.name.as_deref(), Some("Alice"));
    }

    #[test]
    fn hidden_characters_and_long_names_are_refused_and_nothing_is_signed() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        for name in [
            "A".repeat(65),
            "evil\u{202E}gnp".into(),
            "tab\there".into(),
            " ".into(),
        ] {
            let change = ProfileChange {
                name: Some(name.clone()),
                ..ProfileChange::default()
            };
            let err = set_profile(&data, &keypair(), &change, None).unwrap_err();
            assert!(
                matches!(err, Error::BadProfile { field: "name", .. }),
                "{name:?}: {err}"
            );
        }
        assert!(current_item(&data, &keypair().public()).unwrap().is_none());
        assert!("A".repeat(64).len() == 64 && name_problem(&"A".repeat(64)).is_none());
        assert!(bio_problem("two\nlines").is_none());
        assert!(parse_avatar("xyz").is_err());
        assert!(parse_avatar(&format!("{}/../x", "ab".repeat(20))).is_err());
    }
}
