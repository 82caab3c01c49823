//! Request paths of files inside torrents: checked before any lookup.

use http_server::{ApiError, ErrorCode};

/// Refuses request paths that try to leave the torrent: `..`, `.`, empty components,
/// backslashes, NUL, absolute paths. (Only the torrent's own file list is ever matched, so
/// this is a clear `400` rather than the only defence.)
pub fn check_request_path(path: &str) -> Result<(), ApiError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains(['\\', '\0'])
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(ApiError::bad_request(
            ErrorCode::BadPath,
            format!("{path:?} is not a file path inside a torrent"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_request_path;

    #[test]
    fn traversal_attempts_are_bad_paths() {
        for path in [
            "../etc/passwd",
            "a/../../b",
            "/etc/passwd",
            "a//b",
            "./a",
            "a\\..\\b",
            "a\0",
            "",
        ] {
            assert!(check_request_path(path).is_err(), "{path:?}");
        }
        assert!(check_request_path("album/01 intro.mp3").is_ok());
    }
}
