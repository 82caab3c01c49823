//! Identity record extensions: more signed data about an identity than its record holds,
//! readable by nodes that predate it.
//!
//! The identity record (a BEP 44 item without salt, at most 1000 bytes, already shared by
//! feed names and node URLs) only names its extensions, in the field `x-ext`: every
//! deployed decoder ignores `x-` fields, so a record that names extensions is still a valid
//! record everywhere. Each extension is a BEP 44 item of its own under the identity key,
//! with the salt `@<name>` (no feed name starts with `@`, so it can never be taken for a
//! head), signed and republished like heads, its seq growing with each version.
//!
//! An extension's value is a canonical dictionary. Its fields follow a version rule that
//! lets old readers skip what they do not know instead of refusing it: a reader ignores
//! fields it does not know, unless the value lists them in `crit` (a list of field names);
//! then the reader skips the whole extension (as if absent) and keeps the identity.

use std::collections::BTreeMap;

use crate::bencode::{self, Raw, Value};
use crate::error::{Error, Result};
use crate::head::{IdentityRecord, MutableItem, SignedIdentityRecord};
use crate::identity::Keypair;
use crate::record::Fields;

/// The identity record field that names the extensions.
pub const EXTENSIONS_FIELD: &str = "x-ext";
/// Longest extension name.
pub const MAX_NAME_BYTES: usize = 32;
/// Extensions one record may name.
pub const MAX_EXTENSIONS: usize = 16;

/// The extension names an identity record lists in `x-ext` (sorted, unique, each 1 to 32
/// bytes of `a-z 0-9 -`); empty when it lists none. A record whose `x-ext` is malformed
/// names no extension: like any `x-` field, it cannot make the record invalid.
pub fn names(record: &SignedIdentityRecord) -> Vec<String> {
    let value = record.item().value();
    let Ok(items) = bencode::split_dict(value) else {
        return Vec::new();
    };
    let Some((_, raw)) = items
        .iter()
        .find(|(k, _)| *k == EXTENSIONS_FIELD.as_bytes())
    else {
        return Vec::new();
    };
    let Ok(Value::List(list)) = bencode::decode(raw) else {
        return Vec::new();
    };
    let names: Option<Vec<String>> = list
        .iter()
        .map(|v| v.as_str().filter(|n| valid_name(n)).map(str::to_owned))
        .collect();
    match names {
        Some(names) if names.len() <= MAX_EXTENSIONS && names.windows(2).all(|w| w[0] < w[1]) => {
            names
        }
        _ => Vec::new(),
    }
}

/// Whether `name` can name an extension.
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_BYTES).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The BEP 44 salt of extension `name`: `@<name>`.
pub fn salt(name: &str) -> Vec<u8> {
    format!("@{name}").into_bytes()
}

/// What a reader makes of an extension item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// The fields it knows, by name, as their exact bencoded bytes.
    Known(BTreeMap<String, Vec<u8>>),
    /// It lists in `crit` a field the reader does not know: skip the extension.
    Skipped { field: String },
}

/// Reads extension item `item` as a reader that knows the fields `known`: checks its salt
/// and value, drops unknown fields, or skips it when one of them is critical.
pub fn read(item: &MutableItem, known: &[&str]) -> Result<Read> {
    item.salt()
        .strip_prefix(b"@")
        .and_then(|n| std::str::from_utf8(n).ok())
        .filter(|n| valid_name(n))
        .ok_or(Error::HeadMismatch(
            "an extension's salt is @ and a name of a-z 0-9 -",
        ))?;
    let mut fields = Fields::decode("extension", item.value())?;
    let crit = match fields.take("crit") {
        Some(raw) => critical(raw)?,
        None => Vec::new(),
    };
    if let Some(field) = crit.iter().find(|f| !known.contains(&f.as_str())) {
        return Ok(Read::Skipped {
            field: field.clone(),
        });
    }
    // Unknown fields are ignored: that is the version rule.
    let mut out = BTreeMap::new();
    for (key, raw) in bencode::split_dict(item.value())? {
        let key = String::from_utf8_lossy(key);
        if known.contains(&key.as_ref()) {
            out.insert(key.into_owned(), raw.to_vec());
        }
    }
    Ok(Read::Known(out))
}

fn critical(raw: Raw<'_>) -> Result<Vec<String>> {
    let bad = Error::BadField {
        record: "extension",
        field: "crit",
        reason: "is not a sorted list of field names",
    };
    let list = raw.as_list().ok_or(bad.clone())?;
    let names = list
        .map(|item| item.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or(bad.clone())?;
    if names.is_empty() || !names.windows(2).all(|w| w[0] < w[1]) {
        return Err(bad);
    }
    Ok(names)
}

/// Signs version `seq` of extension `name` with the given fields (canonical order).
pub fn sign(
    keypair: &Keypair,
    name: &str,
    seq: i64,
    fields: Vec<(&str, Value)>,
) -> Result<MutableItem> {
    if !valid_name(name) {
        return Err(Error::HeadMismatch(
            "an extension name is 1 to 32 bytes of a-z 0-9 -",
        ));
    }
    MutableItem::sign(
        keypair,
        &salt(name),
        seq,
        bencode::encode(&Value::dict(fields)),
    )
}

/// Signs version `seq` of `record` naming the extensions `names` in `x-ext`.
pub fn sign_record(
    record: &IdentityRecord,
    names: &[&str],
    keypair: &Keypair,
    seq: i64,
) -> Result<SignedIdentityRecord> {
    let mut sorted: Vec<&str> = names.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() > MAX_EXTENSIONS || !sorted.iter().all(|n| valid_name(n)) {
        return Err(Error::HeadMismatch(
            "at most 16 extension names of 1 to 32 bytes of a-z 0-9 -",
        ));
    }
    let mut value = bencode::decode(&record.encode_value())?;
    if let Value::Dict(fields) = &mut value {
        let list = sorted.iter().map(|n| Value::bytes(*n)).collect();
        fields.insert(EXTENSIONS_FIELD.as_bytes().to_vec(), Value::List(list));
    }
    let item = MutableItem::sign(keypair, b"", seq, bencode::encode(&value))?;
    SignedIdentityRecord::from_item(item)
}

/// Longest profile `name`, in bytes.
pub const MAX_PROFILE_NAME_BYTES: usize = 64;
/// Longest profile `bio`, in bytes.
pub const MAX_PROFILE_BIO_BYTES: usize = 500;

/// The `profile` extension: `{avatar: 20-byte infohash, avatar-path: list of path
/// components, bio: UTF-8 ≤ 500 bytes, name: UTF-8 ≤ 64 bytes}`, every field optional,
/// `avatar-path` only with `avatar`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<String>,
    pub bio: Option<String>,
    pub avatar: Option<(crate::metainfo::InfoHash, Vec<String>)>,
}

/// Reads a `profile` item as today's reader: `None` when it must be skipped (a critical
/// field this reader does not know).
pub fn read_profile(item: &MutableItem) -> Result<Option<Profile>> {
    if item.salt() != salt("profile").as_slice() {
        return Err(Error::HeadMismatch("not the profile extension"));
    }
    let known = match read(item, &["avatar", "avatar-path", "bio", "name"])? {
        Read::Known(known) => known,
        Read::Skipped { .. } => return Ok(None),
    };
    let bad = |field, reason| Error::BadField {
        record: "profile",
        field,
        reason,
    };
    let text = |field: &'static str, max: usize| -> Result<Option<String>> {
        let Some(raw) = known.get(field) else {
            return Ok(None);
        };
        let value = bencode::decode(raw)?;
        match value.as_str() {
            Some(s) if s.len() <= max => Ok(Some(s.to_owned())),
            _ => Err(bad(field, "is not UTF-8 within its limit")),
        }
    };
    let name = text("name", MAX_PROFILE_NAME_BYTES)?;
    let bio = text("bio", MAX_PROFILE_BIO_BYTES)?;
    let avatar = match (known.get("avatar"), known.get("avatar-path")) {
        (None, None) => None,
        (None, Some(_)) => return Err(bad("avatar-path", "is only allowed with avatar")),
        (Some(hash), path) => {
            let hash = bencode::decode(hash)?;
            let hash = hash
                .as_bytes()
                .and_then(|b| <[u8; 20]>::try_from(b).ok())
                .ok_or(bad("avatar", "is not a 20-byte infohash"))?;
            let path = match path {
                None => Vec::new(),
                Some(raw) => {
                    let list = bencode::decode(raw)?;
                    let path = list
                        .as_list()
                        .and_then(|l| {
                            l.iter()
                                .map(|c| c.as_str().map(str::to_owned))
                                .collect::<Option<Vec<_>>>()
                        })
                        .ok_or(bad("avatar-path", "is not a list of UTF-8 components"))?;
                    crate::torrent_path::check_path(&path)?;
                    path
                }
            };
            Some((crate::metainfo::InfoHash(hash), path))
        }
    };
    Ok(Some(Profile { name, bio, avatar }))
}
