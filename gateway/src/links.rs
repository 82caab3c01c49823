//! The gateway's stable paths: built only from identity id, feed name, seq, infohash and
//! file path, so a link keeps working when its host is swapped for another gateway.

use feeds::{FeedName, IdentityKey, InfoHash};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a path segment may hold unescaped (RFC 3986 unreserved characters).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `/{identity}`.
pub fn identity(key: &IdentityKey) -> String {
    format!("/{key}")
}

/// `/{identity}/{feed}`.
pub fn feed(key: &IdentityKey, feed: &FeedName) -> String {
    format!("/{key}/{feed}")
}

/// `/{identity}/{feed}/{seq}`.
pub fn entry(key: &IdentityKey, feed: &FeedName, seq: u64) -> String {
    format!("/{key}/{feed}/{seq}")
}

/// `/{identity}/{feed}/feed.{rss,atom,json}`.
pub fn export(key: &IdentityKey, feed: &FeedName, extension: &str) -> String {
    format!("/{key}/{feed}/feed.{extension}")
}

/// `/files/{infohash}/{path}`, each path component percent-encoded.
pub fn file(infohash: &InfoHash, path: &str) -> String {
    format!("/files/{infohash}/{}", encode_path(path))
}

/// The exact .torrent the publisher made (the node's route).
pub fn torrent(infohash: &InfoHash) -> String {
    format!("/torrents/{infohash}.torrent")
}

/// The .torrent with this gateway added as a BEP 19 web seed.
pub fn webseed_torrent(infohash: &InfoHash) -> String {
    format!("/webseed-torrents/{infohash}.torrent")
}

/// The BEP 19 web seed base URL of a torrent on the gateway at `public_url`; clients append
/// the torrent's name (and for a multi-file torrent the file's path).
pub fn webseed(public_url: &str, infohash: &InfoHash) -> String {
    format!("{public_url}/ws/{infohash}/")
}

/// Percent-encodes each `/`-separated component of `path`.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|c| utf8_percent_encode(c, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::encode_path;

    #[test]
    fn file_paths_escape_each_component() {
        assert_eq!(encode_path("a b/c#d?.mp4"), "a%20b/c%23d%3F.mp4");
        assert_eq!(encode_path("été/x"), "%C3%A9t%C3%A9/x");
    }
}
