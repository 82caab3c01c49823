//! The info dictionary of a v1 torrent (BEP 3): strict decoding, canonical encoding, the
//! infohash.

use std::collections::{BTreeMap, HashSet};

use super::{
    InfoHash, MAX_FILES, MAX_PIECE_LENGTH, MAX_PIECES, MIN_PIECE_LENGTH, bad, check_size,
    into_list, into_string, into_uint,
};
use crate::bencode::{self, Value};
use crate::error::{Error, Result};
use crate::torrent_path::{check_component, check_path, join};

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

fn encode_uint(n: u64, out: &mut Vec<u8>) {
    out.push(b'i');
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b'e');
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
