//! The feed log as torrents: sealed segments of [`SEGMENT_ENTRIES`] entries that never
//! change, and a small tail that holds the entries since the last sealed segment plus the
//! infohashes of every sealed segment. A head names the tail's infohash, so from a head
//! alone a fresh node reaches the whole log, and an append makes followers fetch only the
//! new tail.
//!
//! Every log torrent is a single-file v1 torrent with a fixed piece length and a name built
//! from the feed name, so anyone holding the bytes recomputes its infohash: a log fetched
//! over HTTP is checked exactly like one fetched from the swarm.

use sha1::Digest;

use crate::bencode;
use crate::entry::SignedEntry;
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::head::SignedHead;
use crate::identity::IdentityKey;
use crate::log::{self, Checkpoint, VerifiedLog};
use crate::metainfo::{FileLayout, Info, InfoHash};

/// Entries per sealed segment. Fixed by the format: changing it changes every infohash.
pub const SEGMENT_ENTRIES: u64 = 1024;
/// Piece length of every log torrent.
pub const LOG_PIECE_LENGTH: u64 = 1 << 18;

/// Torrent name of sealed segment `index` (0-based) of `feed`.
pub fn segment_name(feed: &FeedName, index: u64) -> String {
    format!("{feed}.{index:08}.sfseg")
}

/// Torrent name of the tail of `feed`.
pub fn tail_name(feed: &FeedName) -> String {
    format!("{feed}.sftail")
}

/// The info dictionary of a log torrent holding `bytes` under `name`.
pub fn log_torrent(name: String, bytes: &[u8]) -> Info {
    let pieces = bytes
        .chunks(LOG_PIECE_LENGTH as usize)
        .map(|piece| sha1::Sha1::digest(piece).into())
        .collect();
    Info {
        name,
        piece_length: LOG_PIECE_LENGTH,
        pieces,
        files: FileLayout::Single {
            length: bytes.len() as u64,
        },
    }
}

/// How many sealed segments a feed whose last seq is `seq` has.
pub fn sealed_segments(seq: u64) -> u64 {
    seq / SEGMENT_ENTRIES
}

/// A sealed segment: its bytes (`l<entry>…e`) and its torrent.
#[derive(Clone, Debug)]
pub struct Segment {
    pub index: u64,
    pub bytes: Vec<u8>,
    pub info: Info,
}

/// Seals segment `index` from exactly its [`SEGMENT_ENTRIES`] entries.
pub fn seal_segment(feed: &FeedName, index: u64, entries: &[SignedEntry]) -> Result<Segment> {
    let first = index * SEGMENT_ENTRIES + 1;
    let expected = (first..first + SEGMENT_ENTRIES).collect::<Vec<_>>();
    if entries.iter().map(SignedEntry::seq).collect::<Vec<_>>() != expected {
        return Err(Error::BadLayout(format!(
            "segment {index} must hold entries {first} to {}",
            first + SEGMENT_ENTRIES - 1
        )));
    }
    let bytes = log::encode_entries(entries);
    let info = log_torrent(segment_name(feed, index), &bytes);
    Ok(Segment { index, bytes, info })
}

/// The tail: `d7:entriesl<entry>…e8:segmentsl<20-byte infohash>…ee`.
#[derive(Clone, Debug)]
pub struct Tail {
    pub bytes: Vec<u8>,
    pub info: Info,
}

/// Builds the tail from the sealed segments' infohashes and the entries after them.
pub fn make_tail(feed: &FeedName, segments: &[InfoHash], entries: &[SignedEntry]) -> Tail {
    let mut bytes = b"d7:entries".to_vec();
    bytes.extend_from_slice(&log::encode_entries(entries));
    bytes.extend_from_slice(b"8:segmentsl");
    for segment in segments {
        bencode::encode_bytes(&segment.0, &mut bytes);
    }
    bytes.extend_from_slice(b"ee");
    let info = log_torrent(tail_name(feed), &bytes);
    Tail { bytes, info }
}

/// A tail's sealed-segment infohashes and the exact bytes of its entries.
pub fn read_tail(bytes: &[u8]) -> Result<(Vec<InfoHash>, Vec<Vec<u8>>)> {
    let parts = bencode::split_dict(bytes)?;
    let [(b"entries", entries), (b"segments", segments)] = parts.as_slice() else {
        return Err(Error::BadLayout(
            "a tail is a dictionary of exactly entries and segments".into(),
        ));
    };
    let segments = bencode::split_list(segments)?
        .into_iter()
        .map(|raw| {
            let hash = raw
                .strip_prefix(b"20:")
                .and_then(|h| <[u8; 20]>::try_from(h).ok());
            hash.map(InfoHash)
                .ok_or_else(|| Error::BadLayout("a tail segment is not a 20-byte infohash".into()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((segments, log::split_entries(entries)?))
}

/// Lays out a whole feed (entries 1..=n, in order): its sealed segments and its tail.
pub fn lay_out(feed: &FeedName, entries: &[SignedEntry]) -> Result<(Vec<Segment>, Tail)> {
    let sealed = sealed_segments(entries.len() as u64) as usize;
    let per = SEGMENT_ENTRIES as usize;
    let segments = (0..sealed)
        .map(|i| seal_segment(feed, i as u64, &entries[i * per..(i + 1) * per]))
        .collect::<Result<Vec<_>>>()?;
    let hashes: Vec<InfoHash> = segments.iter().map(|s| s.info.infohash()).collect();
    let tail = make_tail(feed, &hashes, &entries[sealed * per..]);
    Ok((segments, tail))
}

/// Verifies a whole feed log against a signed head: the tail is the torrent the head names,
/// each segment is the torrent the tail names and holds its 1024 entries, every entry
/// verifies as one log, and the last one is the entry the head names.
pub fn verify_feed_log(
    author: &IdentityKey,
    head: &SignedHead,
    tail: &[u8],
    segments: &[Vec<u8>],
    trusted: Option<&Checkpoint>,
) -> Result<VerifiedLog> {
    if head.author() != *author {
        return Err(Error::HeadMismatch("signed by another identity"));
    }
    let fields = head.head();
    if log_torrent(tail_name(&fields.feed), tail).infohash() != fields.log {
        return Err(Error::HeadMismatch(
            "the tail is not the torrent the head names",
        ));
    }
    let (hashes, tail_entries) = read_tail(tail)?;
    if hashes.len() as u64 != sealed_segments(fields.seq) || segments.len() != hashes.len() {
        return Err(Error::BadLayout(format!(
            "head at seq {} needs {} sealed segments; the tail lists {} and {} were given",
            fields.seq,
            sealed_segments(fields.seq),
            hashes.len(),
            segments.len()
        )));
    }
    let mut raw = Vec::with_capacity(fields.seq.min(1 << 20) as usize);
    for (index, (bytes, hash)) in segments.iter().zip(&hashes).enumerate() {
        if log_torrent(segment_name(&fields.feed, index as u64), bytes).infohash() != *hash {
            return Err(Error::BadLayout(format!(
                "segment {index} is not the torrent the tail names"
            )));
        }
        let entries = log::split_entries(bytes)?;
        if entries.len() as u64 != SEGMENT_ENTRIES {
            return Err(Error::BadLayout(format!(
                "segment {index} does not hold {SEGMENT_ENTRIES} entries"
            )));
        }
        raw.extend(entries);
    }
    raw.extend(tail_entries);
    let verified = log::decode_and_verify_log(author, &fields.feed, raw, trusted)?;
    match verified.head() {
        Some((seq, hash)) if seq == fields.seq && hash == fields.entry_hash => Ok(verified),
        _ => Err(Error::HeadMismatch(
            "the log does not end at the entry the head names",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Entry, Kind};
    use crate::head::FeedHead;
    use crate::identity::Keypair;

    fn feed_of(pair: &Keypair, n: u64) -> Vec<SignedEntry> {
        let feed = FeedName::new("main").unwrap();
        let mut entries: Vec<SignedEntry> = Vec::new();
        for seq in 1..=n {
            let entry = Entry {
                author: pair.public(),
                feed: feed.clone(),
                seq,
                prev: entries.last().map(SignedEntry::hash),
                time: seq,
                kind: Kind::Post,
                content: None,
                meta: Default::default(),
                delegation: Vec::new(),
                member: None,
            };
            entries.push(entry.sign(pair).unwrap());
        }
        entries
    }

    fn head_for(pair: &Keypair, entries: &[SignedEntry], tail: &Tail) -> SignedHead {
        let last = entries.last().unwrap();
        FeedHead {
            feed: last.entry().feed.clone(),
            seq: last.seq(),
            entry_hash: last.hash(),
            log: tail.info.infohash(),
            time: 0,
        }
        .sign(pair)
        .unwrap()
    }

    #[test]
    fn a_log_of_two_sealed_segments_and_a_tail_verifies_from_its_head() {
        let pair = Keypair::from_seed(&[1; 32]);
        let entries = feed_of(&pair, 2 * SEGMENT_ENTRIES + 5);
        let feed = FeedName::new("main").unwrap();
        let (segments, tail) = lay_out(&feed, &entries).unwrap();
        assert_eq!(segments.len(), 2);
        let head = head_for(&pair, &entries, &tail);
        let bytes: Vec<Vec<u8>> = segments.iter().map(|s| s.bytes.clone()).collect();
        let log = verify_feed_log(&pair.public(), &head, &tail.bytes, &bytes, None).unwrap();
        assert_eq!(log.entries.len(), entries.len());

        // Appending one entry leaves the sealed segments as they were.
        let more = feed_of(&pair, 2 * SEGMENT_ENTRIES + 6);
        let (segments2, tail2) = lay_out(&feed, &more).unwrap();
        assert_eq!(segments2[1].info.infohash(), segments[1].info.infohash());
        assert_ne!(tail2.info.infohash(), tail.info.infohash());

        // A tail that is not the head's, a swapped segment, a missing segment: refused.
        assert!(matches!(
            verify_feed_log(&pair.public(), &head, &tail2.bytes, &bytes, None),
            Err(Error::HeadMismatch(_))
        ));
        let swapped = vec![bytes[1].clone(), bytes[0].clone()];
        assert!(matches!(
            verify_feed_log(&pair.public(), &head, &tail.bytes, &swapped, None),
            Err(Error::BadLayout(_))
        ));
        assert!(matches!(
            verify_feed_log(&pair.public(), &head, &tail.bytes, &bytes[..1], None),
            Err(Error::BadLayout(_))
        ));
        let other = Keypair::from_seed(&[2; 32]).public();
        assert!(verify_feed_log(&other, &head, &tail.bytes, &bytes, None).is_err());
    }

    #[test]
    fn a_segment_seals_exactly_at_1024_entries() {
        let pair = Keypair::from_seed(&[1; 32]);
        let feed = FeedName::new("main").unwrap();
        let entries = feed_of(&pair, SEGMENT_ENTRIES);
        let (segments, tail) = lay_out(&feed, &entries).unwrap();
        assert_eq!(segments.len(), 1);
        let (hashes, tail_entries) = read_tail(&tail.bytes).unwrap();
        assert_eq!(hashes, vec![segments[0].info.infohash()]);
        assert!(tail_entries.is_empty());
        assert!(seal_segment(&feed, 1, &entries).is_err());
        let head = head_for(&pair, &entries, &tail);
        assert!(
            verify_feed_log(
                &pair.public(),
                &head,
                &tail.bytes,
                &[segments[0].bytes.clone()],
                None
            )
            .is_ok()
        );
    }
}
