//! The common shape of an entry body, decoded in a single strict pass.
//!
//! Posts, deletes and revokes signed by the author, with content and metadata, and no
//! certificates or extension fields, are nearly every entry of every feed. This reader takes
//! exactly those, checking canonical form and every rule of the full decoder as it goes, and
//! gives up (`None`) on anything else; the full decoder then decides, and says what is wrong.
//! So an entry it returns is the one the full decoder returns, which the tests check.

use std::collections::BTreeMap;

use super::{ContentRef, Entry, EntryHash, FileRef, Kind, MAX_META_FIELDS};
use crate::bencode::Cursor;
use crate::delegation::CertHash;
use crate::feed_name::FeedName;
use crate::identity::IdentityKey;
use crate::metainfo::InfoHash;
use crate::torrent_path;

/// The entry in `body`, if it has the common shape and is valid.
pub(super) fn decode_body(body: &[u8], known_author: Option<&IdentityKey>) -> Option<Entry> {
    let mut r = Cursor::new(body);
    r.dict()?;
    let mut last = None;
    let mut author = None;
    let mut content = None;
    let mut feed = None;
    let mut kind = None;
    let mut meta = BTreeMap::new();
    let mut prev = None;
    let mut retracts = None;
    let mut revokes = None;
    let mut seq = None;
    let mut time = None;
    let mut entry_type = None;
    while let Some(key) = r.key(&mut last)? {
        match key {
            b"author" => author = Some(r.fixed::<32>()?),
            b"content" => content = Some(read_content(&mut r)?),
            b"feed" => feed = Some(r.bytes()?),
            b"kind" => kind = Some(r.bytes()?),
            b"meta" => meta = read_meta(&mut r)?,
            b"prev" => prev = Some(EntryHash(r.fixed()?)),
            b"retracts" => retracts = Some(r.uint()?),
            b"revokes" => revokes = Some(CertHash(r.fixed()?)),
            b"seq" => seq = Some(r.uint()?),
            b"time" => time = Some(r.uint()?),
            b"type" => entry_type = Some(r.bytes()?),
            // Certificates, extensions, unknown fields: the full decoder's business.
            _ => return None,
        }
    }
    if !r.at_end() || entry_type? != b"entry" {
        return None;
    }
    let author = author?;
    let author = match known_author {
        Some(known) if *known.as_bytes() == author => *known,
        _ => IdentityKey::from_bytes(&author).ok()?,
    };
    let feed = FeedName::from_bytes(feed?).ok()?;
    let seq = seq.filter(|&s| s >= 1)?;
    if prev.is_some() != (seq > 1) {
        return None;
    }
    let time = time?;
    let kind = match (kind?, retracts, revokes) {
        (b"post", None, None) => Kind::Post,
        (b"delete", Some(retracts), None) if retracts >= 1 && retracts < seq => {
            Kind::Delete { retracts }
        }
        (b"revoke", None, Some(cert)) => Kind::Revoke { cert },
        _ => return None,
    };
    if content.is_some() && kind != Kind::Post {
        return None;
    }
    Some(Entry {
        author,
        feed,
        seq,
        prev,
        time,
        kind,
        content,
        meta,
        delegation: Vec::new(),
        member: None,
    })
}

/// `d5:files l…e 8:infohash 20:… 4:name … 4:size i…e e`
fn read_content(r: &mut Cursor<'_>) -> Option<ContentRef> {
    r.dict()?;
    let mut last = None;
    if r.key(&mut last)? != Some(b"files") {
        return None;
    }
    r.list()?;
    let mut files = Vec::new();
    let mut total = 0u64;
    while r.more()? {
        let file = read_file(r)?;
        total = total.checked_add(file.length)?;
        files.push(file);
    }
    if files.is_empty() || r.key(&mut last)? != Some(b"infohash") {
        return None;
    }
    let infohash = InfoHash(r.fixed()?);
    if r.key(&mut last)? != Some(b"name") {
        return None;
    }
    let name = r.str()?.to_owned();
    torrent_path::check_component(&name).ok()?;
    if r.key(&mut last)? != Some(b"size") {
        return None;
    }
    let size = r.uint().filter(|&size| size == total)?;
    if r.key(&mut last)?.is_some() {
        return None;
    }
    Some(ContentRef {
        infohash,
        name,
        size,
        files,
    })
}

/// `d6:blake3 32:… 6:length i…e 4:path l…e e`
fn read_file(r: &mut Cursor<'_>) -> Option<FileRef> {
    r.dict()?;
    let mut last = None;
    if r.key(&mut last)? != Some(b"blake3") {
        return None;
    }
    let blake3 = r.fixed()?;
    if r.key(&mut last)? != Some(b"length") {
        return None;
    }
    let length = r.uint()?;
    if r.key(&mut last)? != Some(b"path") {
        return None;
    }
    r.list()?;
    let mut path = Vec::new();
    while r.more()? {
        path.push(r.str()?.to_owned());
    }
    if r.key(&mut last)?.is_some() {
        return None;
    }
    torrent_path::check_path(&path).ok()?;
    Some(FileRef {
        path,
        length,
        blake3,
    })
}

/// A dictionary of at most [`MAX_META_FIELDS`] UTF-8 strings under keys of 1 to 64 bytes.
fn read_meta(r: &mut Cursor<'_>) -> Option<BTreeMap<String, String>> {
    r.dict()?;
    let mut last = None;
    let mut meta = BTreeMap::new();
    while let Some(key) = r.key(&mut last)? {
        let key = std::str::from_utf8(key).ok()?;
        if key.is_empty() || key.len() > 64 || meta.len() == MAX_META_FIELDS {
            return None;
        }
        meta.insert(key.to_owned(), r.str()?.to_owned());
    }
    Some(meta)
}
