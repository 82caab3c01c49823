//! Safe file paths inside torrents: what a torrent may name so that saving it can never
//! escape the download directory or produce a name some platform cannot hold.
//!
//! A path is a list of components (BEP 3's `path` list); the torrent's `name` is one more
//! component in front of it. Rules, each with its own error reason:
//! - a component is non-empty, not `.` or `..`, at most [`MAX_COMPONENT_BYTES`] bytes;
//! - it holds no `/` or `\` (separators), no control character (U+0000–U+001F, U+007F);
//! - it does not start with a Windows drive prefix (`C:`, `c:foo`);
//! - a path has 1 to [`MAX_PATH_COMPONENTS`] components and at most [`MAX_PATH_BYTES`]
//!   bytes when joined with `/`.

use crate::error::{Error, Result};

/// Longest component, in bytes (the common file-system limit).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Most components in one file path.
pub const MAX_PATH_COMPONENTS: usize = 64;
/// Longest file path, in bytes, with components joined by `/`.
pub const MAX_PATH_BYTES: usize = 4096;

/// Checks one path component (a file or directory name, or a torrent's `name`).
pub fn check_component(c: &str) -> Result<()> {
    component_problem(c).map_or(Ok(()), |reason| {
        Err(Error::BadPath {
            path: c.to_owned(),
            reason,
        })
    })
}

/// Checks a file path inside a torrent; errors name the whole path, joined with `/`.
pub fn check_path(path: &[String]) -> Result<()> {
    let bad = |reason| {
        Err(Error::BadPath {
            path: join(path),
            reason,
        })
    };
    if path.is_empty() {
        return bad("is empty (a file needs at least one path component)");
    }
    if path.len() > MAX_PATH_COMPONENTS {
        return bad("has more than 64 components");
    }
    if joined_len(path) > MAX_PATH_BYTES {
        return bad("is longer than 4096 bytes");
    }
    match path.iter().find_map(|c| component_problem(c)) {
        Some(reason) => bad(reason),
        None => Ok(()),
    }
}

/// A path's components joined with `/`, for messages and display.
pub fn join(path: &[String]) -> String {
    path.join("/")
}

fn joined_len(path: &[String]) -> usize {
    path.iter().map(String::len).sum::<usize>() + path.len().saturating_sub(1)
}

/// Why `c` is not a safe component, if it is not.
fn component_problem(c: &str) -> Option<&'static str> {
    let bytes = c.as_bytes();
    if c.is_empty() {
        Some("has an empty component")
    } else if c == "." || c == ".." {
        Some("has a \".\" or \"..\" component")
    } else if bytes.len() > MAX_COMPONENT_BYTES {
        Some("has a component longer than 255 bytes")
    } else if bytes.iter().any(|&b| b == b'/' || b == b'\\') {
        Some("has a component containing a path separator ('/' or '\\')")
    } else if bytes.iter().any(|&b| b < 0x20 || b == 0x7f) {
        Some("has a component containing a control character")
    } else if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        Some("has a component starting with a Windows drive prefix like \"C:\"")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| p.to_string()).collect()
    }

    fn reason(result: Result<()>) -> &'static str {
        match result {
            Err(Error::BadPath { reason, .. }) => reason,
            other => panic!("expected a BadPath error, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_names_are_accepted() {
        for c in [
            "a",
            "01 intro.flac",
            "été",
            "日本語.txt",
            ".hidden",
            "...",
            "ab:c",
            "C",
            "1:",
        ] {
            assert_eq!(check_component(c), Ok(()), "{c:?}");
        }
        assert_eq!(check_path(&path(&["disc 1", "01 intro.flac"])), Ok(()));
        assert_eq!(check_component(&"x".repeat(255)), Ok(()));
    }

    #[test]
    fn traversal_and_unsafe_components_are_rejected_each_for_its_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "has an empty component"),
            (".", "has a \".\" or \"..\" component"),
            ("..", "has a \".\" or \"..\" component"),
            (
                "/etc/passwd",
                "has a component containing a path separator ('/' or '\\')",
            ),
            (
                "a/b",
                "has a component containing a path separator ('/' or '\\')",
            ),
            (
                "..\\windows",
                "has a component containing a path separator ('/' or '\\')",
            ),
            (
                "\\",
                "has a component containing a path separator ('/' or '\\')",
            ),
            (
                "C:",
                "has a component starting with a Windows drive prefix like \"C:\"",
            ),
            (
                "c:evil",
                "has a component starting with a Windows drive prefix like \"C:\"",
            ),
            (
                "nul\0byte",
                "has a component containing a control character",
            ),
            (
                "line\nbreak",
                "has a component containing a control character",
            ),
            ("tab\t", "has a component containing a control character"),
            ("del\x7f", "has a component containing a control character"),
            (
                "\x1b[31mred",
                "has a component containing a control character",
            ),
        ];
        for (c, expected) in cases {
            assert_eq!(reason(check_component(c)), *expected, "{c:?}");
            assert_eq!(reason(check_path(&path(&["ok", c]))), *expected, "{c:?}");
        }
        assert_eq!(
            reason(check_component(&"x".repeat(256))),
            "has a component longer than 255 bytes"
        );
    }

    #[test]
    fn errors_name_the_whole_path() {
        assert_eq!(
            check_path(&path(&["music", "..", "secret"])),
            Err(Error::BadPath {
                path: "music/../secret".into(),
                reason: "has a \".\" or \"..\" component"
            })
        );
    }

    #[test]
    fn path_limits_are_enforced() {
        assert_eq!(
            reason(check_path(&[])),
            "is empty (a file needs at least one path component)"
        );
        assert_eq!(check_path(&vec!["d".to_string(); 64]), Ok(()));
        assert_eq!(
            reason(check_path(&vec!["d".to_string(); 65])),
            "has more than 64 components"
        );
        // 16 components of 255 bytes plus 15 separators = 4095 bytes: just fits.
        let long = vec!["x".repeat(255); 16];
        assert_eq!(check_path(&long), Ok(()));
        let mut too_long = long.clone();
        too_long.push("y".into());
        assert_eq!(reason(check_path(&too_long)), "is longer than 4096 bytes");
    }
}
