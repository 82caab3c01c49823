//! Torrent metainfo (BEP 3): the info dictionary, v1 infohashes, .torrent files.
//!
//! Decoding is strict so that an infohash always names exactly what a decoded [`Info`]
//! holds: the info dictionary must be canonical bencode with only the keys BEP 3 defines
//! (`files` or `length`, `name`, `piece length`, `pieces`), so re-encoding it yields the
//! exact bytes that were hashed. The rest of a .torrent (trackers, webseeds, comments) is
//! read leniently. Encoding is deterministic: same files and piece length, same bytes.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

use crate::bencode::{self, Value};
use crate::error::{Error, Result};
use crate::magnet::Magnet;
use crate::torrent_path::{check_component, check_path, join};

/// Smallest piece length accepted (and chosen by [`auto_piece_length`]): 16 KiB.
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;
/// Largest piece length accepted when decoding: 256 MiB.
pub const MAX_PIECE_LENGTH: u64 = 256 << 20;
/// Largest piece length [`auto_piece_length`] chooses: 16 MiB.
pub const MAX_AUTO_PIECE_LENGTH: u64 = 16 << 20;
/// Most pieces in one torrent (20 MiB of piece hashes).
pub const MAX_PIECES: usize = 1 << 20;
/// Most files in one torrent.
pub const MAX_FILES: usize = 1_000_000;
/// Largest .torrent file (or info dictionary) decoded: 64 MiB.
pub const MAX_METAINFO_BYTES: usize = 64 << 20;
/// [`auto_piece_length`] aims at no more than this many pieces.
const TARGET_PIECES: u64 = 2000;

/// The piece length swarmfeed uses for `total` bytes of content.
///
/// Rule: the smallest power of two from 16 KiB up to 16 MiB that cuts `total` into at most
/// 2000 pieces. Between 32 MiB and 32 GiB of content that gives 1001 to 2000 pieces; below,
/// 16 KiB pieces (fewer of them); above, 16 MiB pieces (more of them).
pub fn auto_piece_length(total: u64) -> u64 {
    let mut piece_length = MIN_PIECE_LENGTH;
    while piece_length < MAX_AUTO_PIECE_LENGTH && total.div_ceil(piece_length) > TARGET_PIECES {
        piece_length *= 2;
    }
    piece_length
}

/// A BitTorrent v1 infohash: SHA-1 of the bencoded info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

impl InfoHash {
    /// The infohash of exact info-dictionary bytes.
    pub fn of_info_bytes(info: &[u8]) -> InfoHash {
        use sha1::Digest;
        InfoHash(sha1::Sha1::digest(info).into())
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// 40 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({self})")
    }
}

impl FromStr for InfoHash {
    type Err = Error;

    /// Parses 40 hex digits (either case).
    fn from_str(s: &str) -> Result<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 40 {
            return Err(Error::BadMetainfo("an infohash is 40 hex digits"));
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0]);
            let lo = hex_digit(pair[1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out[i] = hi << 4 | lo,
                _ => return Err(Error::BadMetainfo("an infohash is 40 hex digits")),
            }
        }
        Ok(InfoHash(out))
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The info dictionary of a v1 torrent: what the infohash names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// The file name (single file) or top directory name (several files).
    pub name: String,
    pub piece_length: u64,
    /// SHA-1 of each piece of the concatenated files.
    pub pieces: Vec<[u8; 20]>,
    pub files: FileLayout,
}

/// One file (BEP 3 `length`) or several (`files`), in torrent order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileLayout {
    Single { length: u64 },
    Multi { files: Vec<TorrentFile> },
}

/// One file of a multi-file torrent; `path` is relative to the torrent's `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentFile {
    pub path: Vec<String>,
    pub length: u64,
}

impl Info {
    /// The canonical BEP 3 info dictionary (keys `files`|`length`, `name`, `piece length`,
    /// `pieces`, in that order).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.name.len() + 20 * self.pieces.len());
        out.push(b'd');
        match &self.files {
            FileLayout::Single { length } => {
                bencode::encode_bytes(b"length", &mut out);
                encode_uint(*length, &mut out);
            }
            FileLayout::Multi { files } => {
                bencode::encode_bytes(b"files", &mut out);
                out.push(b'l');
                for file in files {
                    out.push(b'd');
                    bencode::encode_bytes(b"length", &mut out);
                    encode_uint(file.length, &mut out);
                    bencode::encode_bytes(b"path", &mut out);
                    out.push(b'l');
                    for component in &file.path {
                        bencode::encode_bytes(component.as_bytes(), &mut out);
                    }
                    out.extend_from_slice(b"ee");
                }
                out.push(b'e');
            }
        }
        bencode::encode_bytes(b"name", &mut out);
        bencode::encode_bytes(self.name.as_bytes(), &mut out);
        bencode::encode_bytes(b"piece length", &mut out);
        encode_uint(self.piece_length, &mut out);
        bencode::encode_bytes(b"pieces", &mut out);
        out.extend_from_slice((20 * self.pieces.len()).to_string().as_bytes());
        out.push(b':');
        for piece in &self.pieces {
            out.extend_from_slice(piece);
        }
        out.push(b'e');
        out
    }

    /// SHA-1 of [`Info::encode`].
    pub fn infohash(&self) -> InfoHash {
        InfoHash::of_info_bytes(&self.encode())
    }

    /// Total bytes of all files (saturating; [`Info::validate`] rejects overflow).
    pub fn total_length(&self) -> u64 {
        match &self.files {
            FileLayout::Single { length } => *length,
            FileLayout::Multi { files } => {
                files.iter().fold(0u64, |t, f| t.saturating_add(f.length))
            }
        }
    }

    /// Every file as (path, length); a single-file torrent gives `[([name], length)]`.
    pub fn file_list(&self) -> Vec<(Vec<String>, u64)> {
        match &self.files {
            FileLayout::Single { length } => vec![(vec![self.name.clone()], *length)],
            FileLayout::Multi { files } => {
                files.iter().map(|f| (f.path.clone(), f.length)).collect()
            }
        }
    }

    /// Checks everything [`Info::decode`] checks beyond syntax: safe name and paths, no
    /// duplicate paths, piece length, one hash per piece, limits.
    pub fn validate(&self) -> Result<()> {
        check_component(&self.name)?;
        let piece_length = self.piece_length;
        if !piece_length.is_power_of_two()
            || !(MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&piece_length)
        {
            return Err(bad(
                "info.piece length",
                "is not a power of two from 16 KiB to 256 MiB",
            ));
        }
        let total = match &self.files {
            FileLayout::Single { length } => check_length(*length, "info.length")?,
            FileLayout::Multi { files } => check_files(files)?,
        };
        if total == 0 {
            return Err(bad(
                "info",
                "holds no data (total length 0), which clients refuse",
            ));
        }
        let expected = total.div_ceil(piece_length);
        if expected > MAX_PIECES as u64 {
            let size = usize::try_from(expected).unwrap_or(usize::MAX);
            return Err(Error::TooLarge {
                what: "torrent piece count",
                size,
                max: MAX_PIECES,
            });
        }
        if self.pieces.len() as u64 != expected {
            return Err(bad(
                "info.pieces",
                "does not hold exactly one hash per piece of the content",
            ));
        }
        Ok(())
    }

    /// Decodes and validates a canonical info dictionary.
    pub fn decode(bytes: &[u8]) -> Result<Info> {
        check_size(bytes, "torrent info dictionary")?;
        let Value::Dict(mut map) = bencode::decode(bytes)? else {
            return Err(bad("info", "is not a dictionary"));
        };
        let name = into_string(take(&mut map, "name", "info.name")?, "info.name")?;
        let piece_length = into_uint(
            take(&mut map, "piece length", "info.piece length")?,
            "info.piece length",
        )?;
        let pieces = into_pieces(take(&mut map, "pieces", "info.pieces")?)?;
        let files = match (map.remove(&b"length"[..]), map.remove(&b"files"[..])) {
            (Some(length), None) => FileLayout::Single {
                length: into_uint(length, "info.length")?,
            },
            (None, Some(files)) => FileLayout::Multi {
                files: into_files(files)?,
            },
            (Some(_), Some(_)) => return Err(bad("info", "has both length (one file) and files")),
            (None, None) => return Err(bad("info", "has neither length (one file) nor files")),
        };
        if let Some(key) = map.keys().next() {
            let field = format!("info.{}", String::from_utf8_lossy(key));
            return Err(bad(
                field,
                "is not allowed (only files/length, name, piece length, pieces)",
            ));
        }
        let info = Info {
            name,
            piece_length,
            pieces,
            files,
        };
        info.validate()?;
        // Holds by construction (strict bencode, known keys only); checked because the
        // infohash of the original bytes must name exactly this value.
        if info.encode() != bytes {
            return Err(Error::BadMetainfo(
                "info dictionary is not in canonical form",
            ));
        }
        Ok(info)
    }
}

/// A .torrent file: the info dictionary plus where to find peers and web seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metainfo {
    pub info: Info,
    /// Tracker announce URLs, in order of preference.
    pub trackers: Vec<String>,
    /// BEP 19 web seed URLs (`url-list`).
    pub webseeds: Vec<String>,
}

impl Metainfo {
    /// A deterministic .torrent: `announce` (first tracker) and `announce-list` (one tier per
    /// tracker) when there are trackers, `info`, `url-list` when there are web seeds; no
    /// creation date, no "created by".
    pub fn encode(&self) -> Vec<u8> {
        let info = self.info.encode();
        let mut out = Vec::with_capacity(info.len() + 256);
        out.push(b'd');
        if let Some(first) = self.trackers.first() {
            bencode::encode_bytes(b"announce", &mut out);
            bencode::encode_bytes(first.as_bytes(), &mut out);
            bencode::encode_bytes(b"announce-list", &mut out);
            out.push(b'l');
            for tracker in &self.trackers {
                out.push(b'l');
                bencode::encode_bytes(tracker.as_bytes(), &mut out);
                out.push(b'e');
            }
            out.push(b'e');
        }
        bencode::encode_bytes(b"info", &mut out);
        out.extend_from_slice(&info);
        if !self.webseeds.is_empty() {
            bencode::encode_bytes(b"url-list", &mut out);
            out.push(b'l');
            for url in &self.webseeds {
                bencode::encode_bytes(url.as_bytes(), &mut out);
            }
            out.push(b'e');
        }
        out.push(b'e');
        out
    }

    /// Decodes a .torrent. The info dictionary is strict (see [`Info::decode`]); trackers
    /// come from `announce-list` (tiers flattened) and `announce`, web seeds from `url-list`
    /// (a string or a list); empty URLs and unknown top-level keys are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Metainfo> {
        check_size(bytes, "torrent file")?;
        if bytes.first() != Some(&b'd') {
            return Err(Error::BadMetainfo(
                "a .torrent file must be a bencoded dictionary",
            ));
        }
        let mut info = None;
        let mut announce = None;
        let mut trackers = Vec::new();
        let mut webseeds = Vec::new();
        for (key, raw) in bencode::split_dict(bytes)? {
            match key {
                b"info" => info = Some(Info::decode(raw)?),
                b"announce" => announce = Some(into_string(bencode::decode(raw)?, "announce")?),
                b"announce-list" => {
                    for tier in into_list(bencode::decode(raw)?, "announce-list")? {
                        for url in into_list(tier, "announce-list")? {
                            trackers.push(into_string(url, "announce-list")?);
                        }
                    }
                }
                b"url-list" => match bencode::decode(raw)? {
                    Value::List(urls) => {
                        for url in urls {
                            webseeds.push(into_string(url, "url-list")?);
                        }
                    }
                    single => webseeds.push(into_string(single, "url-list")?),
                },
                _ => {}
            }
        }
        let info = info.ok_or_else(|| bad("info", "is missing"))?;
        if let Some(announce) = announce.filter(|a| !trackers.contains(a)) {
            trackers.insert(0, announce);
        }
        trackers.retain(|t| !t.is_empty());
        webseeds.retain(|w| !w.is_empty());
        Ok(Metainfo {
            info,
            trackers,
            webseeds,
        })
    }

    /// The infohash: SHA-1 of the info dictionary (for a decoded torrent, of its exact bytes).
    pub fn infohash(&self) -> InfoHash {
        self.info.infohash()
    }

    /// A magnet link with name, size, trackers and web seeds.
    pub fn magnet(&self) -> Magnet {
        Magnet {
            infohash: self.infohash(),
            name: Some(self.info.name.clone()),
            size: Some(self.info.total_length()),
            trackers: self.trackers.clone(),
            webseeds: self.webseeds.clone(),
        }
    }
}

fn bad(field: impl Into<String>, reason: &'static str) -> Error {
    Error::BadTorrentField {
        field: field.into(),
        reason,
    }
}

fn encode_uint(n: u64, out: &mut Vec<u8>) {
    out.push(b'i');
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b'e');
}

fn check_size(bytes: &[u8], what: &'static str) -> Result<()> {
    if bytes.len() > MAX_METAINFO_BYTES {
        return Err(Error::TooLarge {
            what,
            size: bytes.len(),
            max: MAX_METAINFO_BYTES,
        });
    }
    Ok(())
}

/// Lengths must stay within bencode's signed 64-bit integers so the encoding decodes.
fn check_length(length: u64, field: &str) -> Result<u64> {
    if length > i64::MAX as u64 {
        return Err(bad(field, "is larger than 2^63 - 1"));
    }
    Ok(length)
}

/// Checks a multi-file list (count, paths, duplicates, lengths); returns the total length.
fn check_files(files: &[TorrentFile]) -> Result<u64> {
    if files.is_empty() {
        return Err(bad(
            "info.files",
            "is empty (a multi-file torrent needs at least one file)",
        ));
    }
    if files.len() > MAX_FILES {
        return Err(Error::TooLarge {
            what: "torrent file list",
            size: files.len(),
            max: MAX_FILES,
        });
    }
    let mut total = 0u64;
    let mut paths: HashSet<&[String]> = HashSet::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        check_path(&file.path)?;
        let length = check_length(file.length, &format!("info.files[{i}].length"))?;
        total = total
            .checked_add(length)
            .ok_or_else(|| bad("info.files", "lengths add up to more than 2^64 - 1 bytes"))?;
        if !paths.insert(&file.path) {
            let path = join(&file.path);
            return Err(Error::BadPath {
                path,
                reason: "appears more than once in the torrent",
            });
        }
    }
    // A file may not also be a directory holding other files ("a" and "a/b").
    for file in files {
        if let Some(prefix) = (1..file.path.len())
            .map(|n| &file.path[..n])
            .find(|p| paths.contains(p))
        {
            let path = join(prefix);
            return Err(Error::BadPath {
                path,
                reason: "is both a file and a directory in the torrent",
            });
        }
    }
    Ok(total)
}

fn take(
    map: &mut BTreeMap<Vec<u8>, Value>,
    key: &'static str,
    field: &'static str,
) -> Result<Value> {
    map.remove(key.as_bytes())
        .ok_or_else(|| bad(field, "is missing"))
}

fn into_uint(value: Value, field: &str) -> Result<u64> {
    match value {
        Value::Int(n) => u64::try_from(n).map_err(|_| bad(field, "is negative")),
        _ => Err(bad(field, "is not an integer")),
    }
}

fn into_string(value: Value, field: &str) -> Result<String> {
    match value {
        Value::Bytes(b) => String::from_utf8(b).map_err(|_| bad(field, "is not UTF-8")),
        _ => Err(bad(field, "is not a string")),
    }
}

fn into_list(value: Value, field: &str) -> Result<Vec<Value>> {
    match value {
        Value::List(items) => Ok(items),
        _ => Err(bad(field, "is not a list")),
    }
}

fn into_pieces(value: Value) -> Result<Vec<[u8; 20]>> {
    let Value::Bytes(bytes) = value else {
        return Err(bad("info.pieces", "is not a string"));
    };
    if bytes.len() % 20 != 0 {
        return Err(bad(
            "info.pieces",
            "is not a whole number of 20-byte hashes",
        ));
    }
    if bytes.len() / 20 > MAX_PIECES {
        return Err(Error::TooLarge {
            what: "torrent piece count",
            size: bytes.len() / 20,
            max: MAX_PIECES,
        });
    }
    Ok(bytes
        .chunks_exact(20)
        .map(|c| {
            let mut piece = [0u8; 20];
            piece.copy_from_slice(c);
            piece
        })
        .collect())
}

fn into_files(value: Value) -> Result<Vec<TorrentFile>> {
    let items = into_list(value, "info.files")?;
    if items.len() > MAX_FILES {
        return Err(Error::TooLarge {
            what: "torrent file list",
            size: items.len(),
            max: MAX_FILES,
        });
    }
    let mut files = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Dict(mut map) = item else {
            return Err(bad(format!("info.files[{i}]"), "is not a dictionary"));
        };
        let field = |name: &str| format!("info.files[{i}].{name}");
        let length = map
            .remove(&b"length"[..])
            .ok_or_else(|| bad(field("length"), "is missing"))?;
        let length = into_uint(length, &field("length"))?;
        let path = map
            .remove(&b"path"[..])
            .ok_or_else(|| bad(field("path"), "is missing"))?;
        let path = into_list(path, &field("path"))?
            .into_iter()
            .map(|c| into_string(c, &field("path")))
            .collect::<Result<Vec<_>>>()?;
        if let Some(key) = map.keys().next() {
            let key = String::from_utf8_lossy(key).into_owned();
            return Err(bad(field(&key), "is not allowed (only length and path)"));
        }
        files.push(TorrentFile { path, length });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Made once by hand with Debian's mktorrent 1.1 (infohash confirmed by `transmission-show`
    /// and python3-libtorrent 2.0.8):
    /// `mktorrent -d -l 15 -a http://tracker.example/announce -a udp://tracker2.example:6969/announce
    ///  -w https://gw.example/ws/ -c "made by mktorrent" -o album.torrent album` over
    /// `album/cover.txt` (40000 × 'x'), `album/disc 1/01 intro.txt` ("hello swarmfeed\n") and
    /// an empty `album/empty`. Note the `comment`, `created by` and string-valued `url-list`.
    const ALBUM_TORRENT: &str = concat!(
        "64383a616e6e6f756e636533313a687474703a2f2f747261636b65722e6578616d706c652f616e6e6f756e636531333a",
        "616e6e6f756e63652d6c6973746c6c33313a687474703a2f2f747261636b65722e6578616d706c652f616e6e6f756e63",
        "65656c33363a7564703a2f2f747261636b6572322e6578616d706c653a363936392f616e6e6f756e63656565373a636f",
        "6d6d656e7431373a6d616465206279206d6b746f7272656e7431303a6372656174656420627931333a6d6b746f727265",
        "6e7420312e31343a696e666f64353a66696c65736c64363a6c656e67746869343030303065343a706174686c393a636f",
        "7665722e747874656564363a6c656e67746869313665343a706174686c363a64697363203131323a303120696e74726f",
        "2e747874656564363a6c656e677468693065343a706174686c353a656d707479656565343a6e616d65353a616c62756d",
        "31323a7069656365206c656e67746869333237363865363a70696563657334303a84767bd58aee2fe4d40e8d2acdc326",
        "8641d5e176675162eb2cea69f5284fbd7cf03a006c21ba816c65383a75726c2d6c69737432323a68747470733a2f2f67",
        "772e6578616d706c652f77732f65",
    );
    const ALBUM_INFOHASH: &str = "2b20b0da6bb954469e64d987d22a7d3cedebf47a";

    /// `mktorrent -d -l 15 -o note.torrent note.txt` with note.txt = "single file\n".
    const NOTE_TORRENT: &str = concat!(
        "6431303a6372656174656420627931333a6d6b746f7272656e7420312e31343a696e666f64363a6c656e677468693132",
        "65343a6e616d65383a6e6f74652e74787431323a7069656365206c656e67746869333237363865363a70696563657332",
        "303aa965f74657752e0cc08a8180ec2fb182c2d7599a6565",
    );
    const NOTE_INFOHASH: &str = "f566b3d0b66c4b87fa3da3aa5b2122905bdb7562";

    fn strings(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| p.to_string()).collect()
    }

    /// A single-file info; no piece hashes at all when there would be too many.
    fn single(length: u64) -> Info {
        let count = length.div_ceil(MIN_PIECE_LENGTH);
        let pieces = vec![
            [7; 20];
            if count > MAX_PIECES as u64 {
                0
            } else {
                count as usize
            }
        ];
        Info {
            name: "a.txt".into(),
            piece_length: MIN_PIECE_LENGTH,
            pieces,
            files: FileLayout::Single { length },
        }
    }

    fn multi(files: &[(&[&str], u64)]) -> Info {
        let files: Vec<_> = files
            .iter()
            .map(|(p, l)| TorrentFile {
                path: strings(p),
                length: *l,
            })
            .collect();
        let mut info = single(1);
        info.name = "dir".into();
        info.files = FileLayout::Multi { files };
        let count = info
            .total_length()
            .div_ceil(MIN_PIECE_LENGTH)
            .min(MAX_PIECES as u64 + 1);
        info.pieces = vec![[9; 20]; count as usize];
        info
    }

    #[test]
    fn a_mktorrent_torrent_decodes_with_its_known_infohash() {
        let bytes = hex::decode(ALBUM_TORRENT).unwrap();
        let torrent = Metainfo::decode(&bytes).unwrap();
        assert_eq!(torrent.infohash().to_hex(), ALBUM_INFOHASH);
        assert_eq!(torrent.info.infohash().to_hex(), ALBUM_INFOHASH);
        assert_eq!(torrent.info.name, "album");
        assert_eq!(torrent.info.piece_length, 32768);
        assert_eq!(torrent.info.pieces.len(), 2);
        assert_eq!(
            torrent.info.file_list(),
            vec![
                (strings(&["cover.txt"]), 40000),
                (strings(&["disc 1", "01 intro.txt"]), 16),
                (strings(&["empty"]), 0)
            ]
        );
        assert_eq!(torrent.info.total_length(), 40016);
        assert_eq!(
            torrent.trackers,
            strings(&[
                "http://tracker.example/announce",
                "udp://tracker2.example:6969/announce"
            ])
        );
        assert_eq!(torrent.webseeds, strings(&["https://gw.example/ws/"]));

        // Our own encoding drops the comment and "created by" but keeps the infohash.
        let ours = torrent.encode();
        assert_eq!(Metainfo::decode(&ours).unwrap(), torrent);
        assert!(
            ours.starts_with(b"d8:announce31:http://tracker.example/announce13:announce-listl")
        );
        assert!(ours.ends_with(b"8:url-listl22:https://gw.example/ws/ee"));

        let note = Metainfo::decode(&hex::decode(NOTE_TORRENT).unwrap()).unwrap();
        assert_eq!(note.infohash().to_hex(), NOTE_INFOHASH);
        assert_eq!(note.info.file_list(), vec![(strings(&["note.txt"]), 12)]);
        assert!(note.trackers.is_empty() && note.webseeds.is_empty());
    }

    #[test]
    fn encoding_is_canonical_and_byte_exact() {
        let info = single(5);
        let mut expected = b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:".to_vec();
        expected.extend_from_slice(&[7; 20]);
        expected.push(b'e');
        assert_eq!(info.encode(), expected);
        assert_eq!(info.infohash(), InfoHash::of_info_bytes(&expected));
        let bare = Metainfo {
            info: info.clone(),
            trackers: vec![],
            webseeds: vec![],
        };
        assert_eq!(bare.encode(), [&b"d4:info"[..], &expected, b"e"].concat());
    }

    #[test]
    fn info_and_metainfo_round_trip() {
        let info = multi(&[(&["b", "x"], 3), (&["a"], 0), (&["été 日本"], 20000)]);
        assert_eq!(Info::decode(&info.encode()).unwrap(), info);
        let torrent = Metainfo {
            info,
            trackers: strings(&["udp://t1:1/announce", "http://t2/announce"]),
            webseeds: strings(&["https://a/ws/", "https://b/ws/"]),
        };
        assert_eq!(Metainfo::decode(&torrent.encode()).unwrap(), torrent);
    }

    #[test]
    fn trackers_come_from_announce_and_every_tier() {
        let info = single(1).encode();
        let torrent = |head: &str, tail: &str| {
            let bytes = [head.as_bytes(), b"4:info", &info, tail.as_bytes(), b"e"].concat();
            Metainfo::decode(&bytes).unwrap()
        };
        let t = torrent("d8:announce3:t:013:announce-listll3:t:13:t:2el3:t:3ee", "");
        assert_eq!(t.trackers, strings(&["t:0", "t:1", "t:2", "t:3"]));
        let t = torrent(
            "d8:announce0:7:comment2:hi13:creation datei5e",
            "8:url-listl0:3:w:1e",
        );
        assert!(t.trackers.is_empty());
        assert_eq!(t.webseeds, strings(&["w:1"]));
    }

    fn decode_err(info: &str) -> Error {
        Info::decode(info.as_bytes()).unwrap_err()
    }

    fn field(field: &str, reason: &'static str) -> Error {
        Error::BadTorrentField {
            field: field.into(),
            reason,
        }
    }

    #[test]
    fn malformed_info_dictionaries_are_rejected_naming_the_field() {
        let p = "6:pieces20:aaaaaaaaaaaaaaaaaaaa";
        let cases: Vec<(String, Error)> = vec![
            (
                format!("d6:lengthi1e4:name1:a12:piece lengthi16384e{p}7:privatei1ee"),
                field(
                    "info.private",
                    "is not allowed (only files/length, name, piece length, pieces)",
                ),
            ),
            (
                format!("d6:lengthi1e4:name1:a12:piece lengthi16385e{p}e"),
                field(
                    "info.piece length",
                    "is not a power of two from 16 KiB to 256 MiB",
                ),
            ),
            (
                format!("d6:lengthi1e4:name1:a12:piece lengthi8192e{p}e"),
                field(
                    "info.piece length",
                    "is not a power of two from 16 KiB to 256 MiB",
                ),
            ),
            (
                format!("d6:lengthi1e4:name1:a12:piece lengthi536870912e{p}e"),
                field(
                    "info.piece length",
                    "is not a power of two from 16 KiB to 256 MiB",
                ),
            ),
            (
                format!("d6:lengthi16385e4:name1:a12:piece lengthi16384e{p}e"),
                field(
                    "info.pieces",
                    "does not hold exactly one hash per piece of the content",
                ),
            ),
            (
                "d6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces3:abce".into(),
                field("info.pieces", "is not a whole number of 20-byte hashes"),
            ),
            (
                format!("d6:lengthi-1e4:name1:a12:piece lengthi16384e{p}e"),
                field("info.length", "is negative"),
            ),
            (
                "d6:lengthi0e4:name1:a12:piece lengthi16384e6:pieces0:e".into(),
                field(
                    "info",
                    "holds no data (total length 0), which clients refuse",
                ),
            ),
            (
                format!("d4:name1:a12:piece lengthi16384e{p}e"),
                field("info", "has neither length (one file) nor files"),
            ),
            (
                format!("d5:filesle6:lengthi1e4:name1:a12:piece lengthi16384e{p}e"),
                field("info", "has both length (one file) and files"),
            ),
            (
                format!("d5:filesle4:name1:a12:piece lengthi16384e{p}e"),
                field(
                    "info.files",
                    "is empty (a multi-file torrent needs at least one file)",
                ),
            ),
            (
                format!("d6:lengthi1e12:piece lengthi16384e{p}e"),
                field("info.name", "is missing"),
            ),
            (
                format!(
                    "d5:filesld6:lengthi1e4:pathl1:ae10:path.utf-8l1:aeee4:name1:a12:piece lengthi16384e{p}e"
                ),
                field(
                    "info.files[0].path.utf-8",
                    "is not allowed (only length and path)",
                ),
            ),
            (
                format!("d5:filesld6:lengthi1eee4:name1:a12:piece lengthi16384e{p}e"),
                field("info.files[0].path", "is missing"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(decode_err(&input), expected, "{input}");
        }
        let raw = [
            &b"d6:lengthi1e4:name1:\xff12:piece lengthi16384e"[..],
            p.as_bytes(),
            b"e",
        ]
        .concat();
        assert_eq!(
            Info::decode(&raw).unwrap_err(),
            field("info.name", "is not UTF-8")
        );
        assert!(matches!(
            Info::decode(b"d4:name1:a1:ai1ee"),
            Err(Error::Bencode(_))
        ));
        assert_eq!(
            Metainfo::decode(b"d3:fooi1ee"),
            Err(field("info", "is missing"))
        );
    }

    #[test]
    fn unsafe_paths_and_names_are_rejected() {
        let bad_path = |files: &[(&[&str], u64)]| match multi(files).validate() {
            Err(Error::BadPath { path, reason }) => (path, reason),
            other => panic!("expected BadPath, got {other:?}"),
        };
        assert_eq!(bad_path(&[(&["a", ".."], 1)]).0, "a/..");
        assert_eq!(bad_path(&[(&["/etc/passwd"], 1)]).0, "/etc/passwd");
        assert_eq!(bad_path(&[(&["C:", "x"], 1)]).0, "C:/x");
        assert_eq!(
            bad_path(&[(&[], 1)]).1,
            "is empty (a file needs at least one path component)"
        );
        assert_eq!(
            bad_path(&[(&["a", "b"], 1), (&["c"], 1), (&["a", "b"], 2)]),
            ("a/b".into(), "appears more than once in the torrent")
        );
        assert_eq!(
            bad_path(&[(&["a", "b", "c"], 1), (&["a", "b"], 2)]),
            (
                "a/b".into(),
                "is both a file and a directory in the torrent"
            )
        );
        for name in ["..", "a/b", "", "nul\0", "C:"] {
            let mut info = single(1);
            info.name = name.into();
            assert!(
                matches!(info.validate(), Err(Error::BadPath { .. })),
                "{name:?}"
            );
            assert!(
                matches!(Info::decode(&info.encode()), Err(Error::BadPath { .. })),
                "{name:?}"
            );
        }
        // Decoding reports traversal in a .torrent the same way.
        let evil = multi(&[(&["ok"], 1), (&["..", "..", "etc", "passwd"], 1)]).encode();
        assert_eq!(
            Info::decode(&evil),
            Err(Error::BadPath {
                path: "../../etc/passwd".into(),
                reason: "has a \".\" or \"..\" component"
            })
        );
    }

    #[test]
    fn limits_are_enforced() {
        let mut huge = single(MIN_PIECE_LENGTH * (MAX_PIECES as u64 + 1));
        huge.pieces.clear();
        assert!(matches!(
            huge.validate(),
            Err(Error::TooLarge {
                what: "torrent piece count",
                ..
            })
        ));
        let most = single(MIN_PIECE_LENGTH * MAX_PIECES as u64);
        assert_eq!(most.validate(), Ok(()));

        let too_big = single(i64::MAX as u64 + 1);
        assert_eq!(
            too_big.validate(),
            Err(field("info.length", "is larger than 2^63 - 1"))
        );
        let overflow = multi(&[
            (&["a"], i64::MAX as u64),
            (&["b"], i64::MAX as u64),
            (&["c"], 2),
        ]);
        assert_eq!(
            overflow.validate(),
            Err(field(
                "info.files",
                "lengths add up to more than 2^64 - 1 bytes"
            ))
        );

        let files = vec![
            TorrentFile {
                path: vec![],
                length: 1
            };
            MAX_FILES + 1
        ];
        let many = Info {
            files: FileLayout::Multi { files },
            ..single(1)
        };
        assert!(matches!(
            many.validate(),
            Err(Error::TooLarge {
                what: "torrent file list",
                ..
            })
        ));

        let oversized = vec![b'd'; MAX_METAINFO_BYTES + 1];
        assert!(matches!(
            Metainfo::decode(&oversized),
            Err(Error::TooLarge {
                what: "torrent file",
                ..
            })
        ));
    }

    #[test]
    fn auto_piece_length_aims_at_one_to_two_thousand_pieces() {
        assert_eq!(auto_piece_length(0), 16 << 10);
        assert_eq!(auto_piece_length(1), 16 << 10);
        assert_eq!(auto_piece_length(2000 * (16 << 10)), 16 << 10);
        assert_eq!(auto_piece_length(2000 * (16 << 10) + 1), 32 << 10);
        assert_eq!(auto_piece_length(1 << 30), 1 << 20);
        assert_eq!(auto_piece_length(u64::MAX), 16 << 20);
        for shift in 25..34 {
            for total in [
                (1u64 << shift) + 1,
                3 << (shift - 1),
                (1 << (shift + 1)) - 1,
            ] {
                let pieces = total.div_ceil(auto_piece_length(total));
                assert!(
                    (1001..=2000).contains(&pieces),
                    "{total} bytes → {pieces} pieces"
                );
            }
        }
    }

    /// Valid infos: leaf names contain a '.', directory names do not, so no file path can
    /// be a directory of another.
    fn arb_info() -> impl Strategy<Value = Info> {
        let dir = "[a-zA-Z0-9 é日_-]{1,6}";
        let leaf = "[a-zA-Z0-9 é日_-]{1,6}\\.[a-z]{0,3}";
        let path = (proptest::collection::vec(dir, 0..3), leaf).prop_map(|(mut dirs, leaf)| {
            dirs.push(leaf);
            dirs
        });
        let layout = prop_oneof![
            (1u64..200_000).prop_map(|length| FileLayout::Single { length }),
            proptest::collection::btree_map(path, 0u64..100_000, 1..6).prop_map(|m| {
                FileLayout::Multi {
                    files: m
                        .into_iter()
                        .map(|(path, length)| TorrentFile { path, length })
                        .collect(),
                }
            }),
        ];
        (dir, 14u32..22, layout, any::<u8>())
            .prop_filter(
                "content must not be empty",
                |(_, _, files, _)| match files {
                    FileLayout::Single { length } => *length > 0,
                    FileLayout::Multi { files } => files.iter().any(|f| f.length > 0),
                },
            )
            .prop_map(|(name, shift, files, seed)| {
                let mut info = Info {
                    name,
                    piece_length: 1 << shift,
                    pieces: vec![],
                    files,
                };
                let count = info.total_length().div_ceil(info.piece_length);
                info.pieces = (0..count)
                    .map(|i| [seed.wrapping_add(i as u8); 20])
                    .collect();
                info
            })
    }

    proptest! {
        #[test]
        fn any_valid_info_round_trips_with_a_stable_infohash(info in arb_info()) {
            let bytes = info.encode();
            let decoded = Info::decode(&bytes).unwrap();
            prop_assert_eq!(&decoded, &info);
            prop_assert_eq!(decoded.infohash(), InfoHash::of_info_bytes(&bytes));
        }

        #[test]
        fn any_metainfo_round_trips(
            info in arb_info(),
            trackers in proptest::collection::vec("[a-z]{1,5}://[a-z]{1,8}(:[0-9]{1,4})?/[a-z]{0,6}", 0..4),
            webseeds in proptest::collection::vec("https://[a-z]{1,8}/ws/[a-f0-9]{0,8}", 0..3),
        ) {
            let torrent = Metainfo { info, trackers, webseeds };
            let decoded = Metainfo::decode(&torrent.encode()).unwrap();
            prop_assert_eq!(decoded.infohash(), torrent.infohash());
            prop_assert_eq!(decoded, torrent);
        }
    }
}
