//! The one error type of the `feeds` crate: every variant says what was wrong and where.

use crate::bencode::DecodeError;
use crate::identity::IdentityError;
use crate::log::ForkProof;

/// Everything that can make bytes or a feed invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bencode(#[from] DecodeError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("{what} is {size} bytes, more than the limit of {max}")]
    TooLarge {
        what: &'static str,
        size: usize,
        max: usize,
    },
    #[error("{record}: missing field {field:?}")]
    MissingField {
        record: &'static str,
        field: &'static str,
    },
    #[error("{record}: field {field:?} {reason}")]
    BadField {
        record: &'static str,
        field: &'static str,
        reason: &'static str,
    },
    #[error(
        "{record}: unknown critical field {field:?} (only fields starting with \"x-\" may be ignored)"
    )]
    UnknownCriticalField { record: &'static str, field: String },
    #[error("expected a record of type {expected:?}, found {found:?}")]
    WrongRecordType {
        expected: &'static str,
        found: String,
    },
    #[error("unknown entry kind {0:?}")]
    UnknownKind(String),
    #[error("feed name {name:?} {reason}")]
    BadFeedName { name: String, reason: &'static str },
    #[error("file path {path:?} {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("torrent: {0}")]
    BadMetainfo(&'static str),
    #[error("magnet link: {0}")]
    BadMagnet(&'static str),
    /// A field of a .torrent file, named by its path (`info.files[3].length`), is invalid.
    #[error("torrent: {field} {reason}")]
    BadTorrentField { field: String, reason: &'static str },
    /// A parameter of a magnet link (`xt`, `xl`, `tr`...) is invalid.
    #[error("magnet link: parameter {param:?} {reason}")]
    BadMagnetParam { param: String, reason: &'static str },

    #[error("entry {seq}: signature does not verify")]
    BadSignature { seq: u64 },
    #[error("entry {seq}: signed for identity {found}, expected {expected}")]
    WrongAuthor {
        seq: u64,
        expected: String,
        found: String,
    },
    #[error("entry {seq}: belongs to feed {found:?}, expected {expected:?}")]
    WrongFeed {
        seq: u64,
        expected: String,
        found: String,
    },
    #[error("entry {seq}: prev hash does not match the previous entry")]
    BrokenChain { seq: u64 },
    #[error("seq gap: expected entry {expected}, found {found}")]
    SeqGap { expected: u64, found: u64 },
    #[error("rollback: the log ends at entry {found}, below the trusted head at {trusted}")]
    Rollback { trusted: u64, found: u64 },
    #[error("fork: two different signed entries with seq {}", .0.seq())]
    Fork(Box<ForkProof>),
    #[error("entry {seq}: differs from the trusted head at the same seq")]
    ConflictsWithHead { seq: u64 },
    #[error("entry {seq}: retracts entry {target}, which is not an earlier post of this feed")]
    BadRetraction { seq: u64, target: u64 },
    #[error("entry {seq}: delegation {reason}")]
    Delegation { seq: u64, reason: &'static str },
    #[error("entry at position {index} of the log: {source}")]
    InvalidEntry { index: usize, source: Box<Error> },

    #[error("head: signature does not verify")]
    BadHeadSignature,
    #[error("head: {0}")]
    HeadMismatch(&'static str),
    #[error("feed log: {0}")]
    BadLayout(String),
}

impl Error {
    /// A stable, machine-readable name for the kind of failure (`bad_signature`,
    /// `feed_fork`, `non_canonical`, ...), for test vectors and HTTP error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Bencode(..) => "non_canonical",
            Error::Identity(..) => "bad_identity",
            Error::TooLarge { .. } => "too_large",
            Error::MissingField { .. } => "missing_field",
            Error::BadField { .. } => "bad_field",
            Error::UnknownCriticalField { .. } => "unknown_critical_field",
            Error::WrongRecordType { .. } => "wrong_record_type",
            Error::UnknownKind(..) => "unknown_kind",
            Error::BadFeedName { .. } => "bad_feed_name",
            Error::BadPath { .. } => "bad_path",
            Error::BadMetainfo(..) => "bad_torrent",
            Error::BadMagnet(..) => "bad_magnet",
            Error::BadTorrentField { .. } => "bad_torrent",
            Error::BadMagnetParam { .. } => "bad_magnet",
            Error::BadSignature { .. } => "bad_signature",
            Error::WrongAuthor { .. } => "wrong_author",
            Error::WrongFeed { .. } => "wrong_feed",
            Error::BrokenChain { .. } => "broken_chain",
            Error::SeqGap { .. } => "seq_gap",
            Error::Rollback { .. } => "rollback",
            Error::Fork(..) => "feed_fork",
            Error::ConflictsWithHead { .. } => "conflicts_with_head",
            Error::BadRetraction { .. } => "bad_retraction",
            Error::Delegation { .. } => "bad_delegation",
            Error::InvalidEntry { source, .. } => source.code(),
            Error::BadHeadSignature => "bad_head_signature",
            Error::HeadMismatch(..) => "head_mismatch",
            Error::BadLayout(..) => "bad_layout",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
