//! Identities, feed names and infohashes as requests carry them (text), checked: a bad one
//! is a `400` with the format's stable name.

use feeds::{FeedName, IdentityKey, InfoHash};

use http_server::{ApiError, ErrorCode};

/// Parses an identity id.
pub fn parse_identity(text: &str) -> Result<IdentityKey, ApiError> {
    text.parse().map_err(|e: feeds::identity::IdentityError| {
        ApiError::bad_request(ErrorCode::BadIdentity, e.to_string())
    })
}

/// Parses a feed name.
pub fn parse_feed(text: &str) -> Result<FeedName, ApiError> {
    FeedName::new(text).map_err(|e| ApiError::bad_request(ErrorCode::BadFeedName, e.to_string()))
}

/// Parses a 40-hex-digit infohash.
pub fn parse_infohash(text: &str) -> Result<InfoHash, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(
            ErrorCode::BadInfohash,
            format!("{text:?} is not 40 hex digits"),
        )
    })
}
