//! The API's error: an HTTP status, a stable error name and a message, answered as
//! `{"error": "not_found", "message": "…"}`. The names are part of the protocol
//! (docs/protocol.md, the tests, scripts): a variant's name never changes.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The stable name of an error, written in snake_case on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadBody,
    BadCap,
    BadFeedName,
    BadIdentity,
    BadInfohash,
    BadLimit,
    BadPath,
    /// A profile field the publisher refuses to sign (too long, hidden characters, an
    /// avatar that is not one of the identity's own image files).
    BadProfile,
    BadQuery,
    BadRequest,
    BadSeq,
    BadUrl,
    BodyTimeout,
    ContentUnavailable,
    CrossOrigin,
    CsrfRefused,
    FileChanged,
    FollowFailed,
    FollowersFull,
    Forbidden,
    Internal,
    NotFollowed,
    NotFound,
    NotLocal,
    NotSynced,
    NotTakenIn,
    PublishFailed,
    QuotaExceeded,
    RateLimited,
    StaleHead,
    StatusForbidden,
    StatusUnauthorized,
    Store,
    SyncFailed,
    TooLarge,
    UnfollowFailed,
    UnknownIdentity,
    VerifyFailed,
    /// A signed record that failed the feed format's checks, named as the format names
    /// the failure (`feeds::Error::code`: `bad_head_signature`, `non_canonical`, …).
    Format(&'static str),
    /// An accounts error (sign-in, sign-up, sessions), named as the accounts crate names it
    /// (`accounts::Error::name`: `invalid_credentials`, `invalid_token`, `busy`, …).
    Account(&'static str),
}

impl ErrorCode {
    /// Every name the node itself gives (not the feed format's).
    pub const ALL: [ErrorCode; 38] = [
        ErrorCode::BadBody,
        ErrorCode::BadCap,
        ErrorCode::BadFeedName,
        ErrorCode::BadIdentity,
        ErrorCode::BadInfohash,
        ErrorCode::BadLimit,
        ErrorCode::BadPath,
        ErrorCode::BadProfile,
        ErrorCode::BadQuery,
        ErrorCode::BadRequest,
        ErrorCode::BadSeq,
        ErrorCode::BadUrl,
        ErrorCode::BodyTimeout,
        ErrorCode::ContentUnavailable,
        ErrorCode::CrossOrigin,
        ErrorCode::CsrfRefused,
        ErrorCode::FileChanged,
        ErrorCode::FollowFailed,
        ErrorCode::FollowersFull,
        ErrorCode::Forbidden,
        ErrorCode::Internal,
        ErrorCode::NotFollowed,
        ErrorCode::NotFound,
        ErrorCode::NotLocal,
        ErrorCode::NotSynced,
        ErrorCode::NotTakenIn,
        ErrorCode::PublishFailed,
        ErrorCode::QuotaExceeded,
        ErrorCode::RateLimited,
        ErrorCode::StaleHead,
        ErrorCode::StatusForbidden,
        ErrorCode::StatusUnauthorized,
        ErrorCode::Store,
        ErrorCode::SyncFailed,
        ErrorCode::TooLarge,
        ErrorCode::UnfollowFailed,
        ErrorCode::UnknownIdentity,
        ErrorCode::VerifyFailed,
    ];

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::BadBody => "bad_body",
            ErrorCode::BadCap => "bad_cap",
            ErrorCode::BadFeedName => "bad_feed_name",
            ErrorCode::BadIdentity => "bad_identity",
            ErrorCode::BadInfohash => "bad_infohash",
            ErrorCode::BadLimit => "bad_limit",
            ErrorCode::BadPath => "bad_path",
            ErrorCode::BadProfile => "bad_profile",
            ErrorCode::BadQuery => "bad_query",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadSeq => "bad_seq",
            ErrorCode::BadUrl => "bad_url",
            ErrorCode::BodyTimeout => "body_timeout",
            ErrorCode::ContentUnavailable => "content_unavailable",
            ErrorCode::CrossOrigin => "cross_origin",
            ErrorCode::CsrfRefused => "csrf_refused",
            ErrorCode::FileChanged => "file_changed",
            ErrorCode::FollowFailed => "follow_failed",
            ErrorCode::FollowersFull => "followers_full",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Internal => "internal",
            ErrorCode::NotFollowed => "not_followed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotLocal => "not_local",
            ErrorCode::NotSynced => "not_synced",
            ErrorCode::NotTakenIn => "not_taken_in",
            ErrorCode::PublishFailed => "publish_failed",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::StaleHead => "stale_head",
            ErrorCode::StatusForbidden => "status_forbidden",
            ErrorCode::StatusUnauthorized => "status_unauthorized",
            ErrorCode::Store => "store",
            ErrorCode::SyncFailed => "sync_failed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnfollowFailed => "unfollow_failed",
            ErrorCode::UnknownIdentity => "unknown_identity",
            ErrorCode::VerifyFailed => "verify_failed",
            ErrorCode::Format(code) | ErrorCode::Account(code) => code,
        }
    }

    /// The node's own code of that name (`None` for the feed format's and the accounts'
    /// names and unknown ones).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.name() == name)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An error answer as it travels: what a client of the node reads back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// An error with a stable name: `{"error": "not_found", "message": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    /// Seconds a refused client should wait (`Retry-After`).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// The same error, telling the client to come back after `seconds` (at least 1).
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The stable name, e.g. `not_found`.
    pub fn name(&self) -> &'static str {
        self.code.name()
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Seconds the client is told to wait (`Retry-After`), if any.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// A 500 whose details go to the log, not to the client.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {error}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; see the node's log",
        )
    }

    /// The answer's body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.name().to_owned(),
            message: self.message.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self.body()).unwrap_or_default();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.name()), Some(code));
            assert!(
                code.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn the_wire_format_is_unchanged() {
        let error = ApiError::not_found("no such thing");
        assert_eq!(
            serde_json::to_value(error.body()).unwrap(),
            serde_json::json!({"error": "not_found", "message": "no such thing"})
        );
    }
}
