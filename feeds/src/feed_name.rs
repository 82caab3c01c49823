//! Feed names: short, safe in URLs, file names and BEP 44 salts.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Longest feed name, in bytes: a BEP 44 salt holds at most 64.
pub const MAX_FEED_NAME: usize = 64;

/// A feed name: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedName(String);

impl FeedName {
    pub fn new(name: &str) -> Result<FeedName> {
        let bad = |reason| Error::BadFeedName {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("is empty"));
        }
        if name.len() > MAX_FEED_NAME {
            return Err(bad("is longer than 64 bytes"));
        }
        if !name.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(bad("must start with a letter or digit"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad("may hold only letters, digits, '.', '_' and '-'"));
        }
        Ok(FeedName(name.to_owned()))
    }

    /// Like [`FeedName::new`] for bytes off the wire.
    pub fn from_bytes(bytes: &[u8]) -> Result<FeedName> {
        match std::str::from_utf8(bytes) {
            Ok(name) => FeedName::new(name),
            Err(_) => Err(Error::BadFeedName {
                name: String::from_utf8_lossy(bytes).into_owned(),
                reason: "is not UTF-8",
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FeedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FeedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedName({:?})", self.0)
    }
}

impl FromStr for FeedName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        FeedName::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass_and_bad_names_say_why() {
        for good in ["main", "a", "Photos-2026", "v1.2_x", &"x".repeat(64)] {
            assert!(FeedName::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "..",
            ".hidden",
            "-x",
            "tab\there",
            "new\nline",
            "ü",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(FeedName::new(bad), Err(Error::BadFeedName { .. })),
                "{bad:?}"
            );
        }
    }
}
