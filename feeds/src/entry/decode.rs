//! Decoding entry bodies: the single pass for the common shape ([`super::fast`]), and the
//! full decoder for everything else, which names the exact error.

use std::collections::BTreeMap;

use super::{ContentRef, Entry, EntryHash, FileRef, Kind, MAX_META_FIELDS, Membership, fast};
use crate::bencode::Raw;
use crate::delegation::{CertHash, SignedCert};
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::identity::IdentityKey;
use crate::list;
use crate::metainfo::InfoHash;
use crate::record::{self, Slots};
use crate::torrent_path;

/// The fields of an entry body, sorted by bytes as bencode sorts keys.
const ENTRY_FIELDS: [&str; 14] = [
    "author", "cert", "content", "feed", "kind", "member", "meta", "ops", "prev", "retracts",
    "revokes", "seq", "time", "type",
];
const AUTHOR: usize = 0;
const CERT: usize = 1;
const CONTENT: usize = 2;
const FEED: usize = 3;
const KIND: usize = 4;
const MEMBER: usize = 5;
const META: usize = 6;
const OPS: usize = 7;
const PREV: usize = 8;
const RETRACTS: usize = 9;
const REVOKES: usize = 10;
const SEQ: usize = 11;
const TIME: usize = 12;
const TYPE: usize = 13;

/// The fields of a content reference and of one of its files, sorted likewise.
const CONTENT_FIELDS: [&str; 4] = ["files", "infohash", "name", "size"];
const FILES: usize = 0;
const INFOHASH: usize = 1;
const NAME: usize = 2;
const SIZE: usize = 3;
const FILE_FIELDS: [&str; 3] = ["blake3", "length", "path"];
const BLAKE3: usize = 0;
const LENGTH: usize = 1;
const PATH: usize = 2;

/// Decodes an entry body: in one pass when it has the common shape ([`fast`]), otherwise
/// fully. Either way the entry or the exact error of the reference decoder in the tests.
pub(super) fn decode_body(body: &[u8], known_author: Option<&IdentityKey>) -> Result<Entry> {
    match fast::decode_body(body, known_author) {
        Some(entry) => Ok(entry),
        None => decode_body_fully(body, known_author),
    }
}

/// [`decode_body`] for any body: one validating pass over its bytes, then each field read
/// from its slot, so bencode errors come first and field errors in the order of the checks
/// below.
pub(super) fn decode_body_fully(body: &[u8], known_author: Option<&IdentityKey>) -> Result<Entry> {
    let mut fields = Slots::decode("entry", &ENTRY_FIELDS, body)?;
    let found = fields.str(TYPE)?;
    if found != "entry" {
        return Err(Error::WrongRecordType {
            expected: "entry",
            found: found.to_owned(),
        });
    }
    let author = fields.slice(AUTHOR)?;
    let author = match known_author {
        // Same bytes, same key: `from_slice` is a pure function of them.
        Some(known) if known.as_bytes()[..] == author[..] => *known,
        _ => IdentityKey::from_slice(author)?,
    };
    let feed = FeedName::from_bytes(fields.slice(FEED)?)?;
    let seq = fields.uint(SEQ)?;
    if seq == 0 || i64::try_from(seq).is_err() {
        return Err(fields.bad(SEQ, "must be at least 1"));
    }
    let prev = match fields.take(PREV) {
        Some(raw) => match raw.as_bytes() {
            Some(b) => Some(EntryHash(
                b.try_into()
                    .map_err(|_| fields.bad(PREV, "is not 32 bytes"))?,
            )),
            None => return Err(fields.bad(PREV, "is not a byte string")),
        },
        None => None,
    };
    if prev.is_some() != (seq > 1) {
        return Err(fields.bad(PREV, "must be present exactly when seq > 1"));
    }
    let time = fields.uint(TIME)?;
    let kind = match fields.str(KIND)? {
        "post" => Kind::Post,
        "delete" => {
            let retracts = fields.uint(RETRACTS)?;
            if retracts == 0 || retracts >= seq {
                return Err(fields.bad(RETRACTS, "must name an earlier seq"));
            }
            Kind::Delete { retracts }
        }
        "revoke" => Kind::Revoke {
            cert: CertHash(fields.fixed(REVOKES)?),
        },
        "list" => Kind::List {
            ops: list::decode_ops(fields.list(OPS)?)?,
        },
        other => return Err(Error::UnknownKind(other.to_owned())),
    };
    let content = match fields.take(CONTENT) {
        Some(value) => Some(decode_content(value)?),
        None => None,
    };
    if content.is_some() && kind != Kind::Post {
        return Err(fields.bad(CONTENT, "is only allowed in a post"));
    }
    let meta = match fields.take(META) {
        Some(value) => decode_meta(value)?,
        None => BTreeMap::new(),
    };
    let delegation = match fields.take(CERT).map(Raw::as_list) {
        Some(Some(items)) if items.clone().next().is_some() => items
            .map(|item| SignedCert::decode(item.as_slice()))
            .collect::<Result<Vec<_>>>()?,
        Some(_) => return Err(fields.bad(CERT, "is not a non-empty list of certificates")),
        None => Vec::new(),
    };
    let member = match fields.take(MEMBER) {
        Some(raw) => Some(decode_member(raw)?),
        None => None,
    };
    fields.finish()?;
    Ok(Entry {
        author,
        feed,
        seq,
        prev,
        time,
        kind,
        content,
        meta,
        delegation,
        member,
    })
}

fn decode_member(raw: Raw<'_>) -> Result<Membership> {
    let mut fields = record::Fields::new("member", raw)?;
    let list_hash = EntryHash(fields.fixed("hash")?);
    let list_seq = fields.uint("seq")?;
    let signer = IdentityKey::from_slice(fields.slice("signer")?)?;
    fields.finish()?;
    if list_seq == 0 {
        return Err(fields_bad("seq"));
    }
    Ok(Membership {
        signer,
        list_seq,
        list_hash,
    })
}

fn fields_bad(field: &'static str) -> Error {
    Error::BadField {
        record: "member",
        field,
        reason: "must be at least 1",
    }
}

fn decode_content(value: Raw<'_>) -> Result<ContentRef> {
    let mut fields = Slots::of("content", &CONTENT_FIELDS, value)?;
    let infohash = InfoHash(fields.fixed(INFOHASH)?);
    let name = fields.str(NAME)?.to_owned();
    // The torrent's own rules (revision 1.1): no valid torrent has other names or paths.
    torrent_path::check_component(&name)?;
    let size = fields.uint(SIZE)?;
    let items = fields.list(FILES)?;
    let mut files = Vec::new();
    let mut total = Some(0u64);
    for item in items {
        let mut file = Slots::of("file", &FILE_FIELDS, item)?;
        let path = record::strings("file", "path", file.list(PATH)?)?;
        torrent_path::check_path(&path)?;
        let length = file.uint(LENGTH)?;
        let blake3 = file.fixed(BLAKE3)?;
        file.finish()?;
        total = total.and_then(|sum| sum.checked_add(length));
        files.push(FileRef {
            path,
            length,
            blake3,
        });
    }
    fields.finish()?;
    if files.is_empty() {
        return Err(Error::BadField {
            record: "content",
            field: "files",
            reason: "is empty",
        });
    }
    if total != Some(size) {
        return Err(Error::BadField {
            record: "content",
            field: "size",
            reason: "is not the sum of the file lengths",
        });
    }
    Ok(ContentRef {
        infohash,
        name,
        size,
        files,
    })
}

fn decode_meta(value: Raw<'_>) -> Result<BTreeMap<String, String>> {
    let bad = |reason| Error::BadField {
        record: "entry",
        field: "meta",
        reason,
    };
    let Some(map) = value.as_dict() else {
        return Err(bad("is not a dictionary"));
    };
    // One pass: the field count is checked before any key or value, as it always was.
    let mut meta = BTreeMap::new();
    let mut first_error = None;
    let mut count = 0usize;
    for (key, value) in map {
        count += 1;
        if first_error.is_some() || count > MAX_META_FIELDS {
            continue;
        }
        match meta_field(key, value) {
            Ok((key, value)) => {
                meta.insert(key, value);
            }
            Err(reason) => first_error = Some(reason),
        }
    }
    if count > MAX_META_FIELDS {
        return Err(bad("has more than 256 fields"));
    }
    match first_error {
        Some(reason) => Err(bad(reason)),
        None => Ok(meta),
    }
}

fn meta_field(key: &[u8], value: Raw<'_>) -> std::result::Result<(String, String), &'static str> {
    let key = std::str::from_utf8(key).map_err(|_| "has a key that is not UTF-8")?;
    if key.is_empty() || key.len() > 64 {
        return Err("has a key that is empty or longer than 64 bytes");
    }
    match value.as_bytes() {
        Some(v) => std::str::from_utf8(v)
            .map(|v| (key.to_owned(), v.to_owned()))
            .map_err(|_| "has a value that is not UTF-8"),
        None => Err("has a value that is not a string"),
    }
}
