//! A whole .torrent file: the info dictionary plus trackers and web seeds, read leniently
//! around a strictly read info dictionary.

use super::{Info, InfoHash, bad, check_size, into_list, into_string};
use crate::bencode::{self, Value};
use crate::error::{Error, Result};
use crate::magnet::Magnet;

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
