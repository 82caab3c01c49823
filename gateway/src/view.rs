//! Entries and feeds as the gateway shows them: one view used by the JSON API, the pages
//! and the feed exports, so they all say the same thing.

use std::collections::BTreeMap;

/// Longest title pages and exports show, in characters; a longer one is cut and ends in "…".
pub const TITLE_CHARS: usize = 256;
/// Longest `description` pages and exports show, in characters.
pub const DESCRIPTION_CHARS: usize = 4096;
/// Longest value of any other metadata field an entry page shows, in characters.
pub const META_VALUE_CHARS: usize = 1024;
/// Most files an entry page lists (the .torrent lists them all).
pub const FILES_LISTED: usize = 500;
/// Most files an export item lists as enclosures or attachments.
pub const FILES_PER_ITEM: usize = 100;
/// Longest file path an entry page shows as text, in characters (its link is whole).
pub const PATH_CHARS: usize = 512;

use feeds::{ContentRef, FeedName, IdentityKey, Kind, Magnet};
use http_server::ApiError;
use seeder::node::api::read::{FeedState, FeedStatus, StoredEntry};
use serde::Serialize;

use crate::{Gateway, links};

/// One entry, with absolute URLs on this gateway.
#[derive(Clone, Debug, Serialize)]
pub struct EntryView {
    pub identity: String,
    pub feed: String,
    pub seq: u64,
    /// Unix seconds, as the signer claims.
    pub time: u64,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retracts: Option<u64>,
    pub title: Option<String>,
    pub meta: BTreeMap<String, String>,
    /// The key that signed the entry: the identity itself, or a key it delegated to.
    pub signed_by: String,
    /// BLAKE3 of the entry's exact signed bytes.
    pub hash: String,
    /// A later `delete` entry of the feed retracted this one.
    pub retracted: bool,
    /// The entry's page.
    pub url: String,
    pub content: Option<ContentView>,
    pub magnet: Option<String>,
    /// The publisher's exact .torrent, when this node holds it.
    pub torrent_url: Option<String>,
    /// The .torrent with this gateway as web seed, when this node holds it.
    pub webseed_torrent_url: Option<String>,
    /// The same two as paths, for pages (links that keep working on another host).
    #[serde(skip)]
    pub torrent_href: Option<String>,
    #[serde(skip)]
    pub webseed_torrent_href: Option<String>,
}

/// The torrent a post names.
#[derive(Clone, Debug, Serialize)]
pub struct ContentView {
    pub infohash: String,
    pub name: String,
    pub size: u64,
    /// Whether this node holds the torrent (and so serves its files).
    pub held: bool,
    pub files: Vec<FileView>,
}

/// One file of a post's torrent.
#[derive(Clone, Debug, Serialize)]
pub struct FileView {
    pub path: String,
    pub length: u64,
    pub blake3: String,
    pub content_type: String,
    /// The file on this gateway (`/files/…`).
    pub url: String,
    /// The file's path on any gateway, for pages.
    #[serde(skip)]
    pub href: String,
}

impl EntryView {
    /// The title, or a stand-in naming the entry.
    pub fn display_title(&self) -> String {
        match (&self.title, &self.content) {
            (Some(title), _) if !title.trim().is_empty() => title.clone(),
            // A name may hold bidirectional controls (see `portable_name`): written out.
            (_, Some(content)) => {
                publisher::torrent::portable_name::visible(&content.name).into_owned()
            }
            _ => format!("{} #{}", self.kind, self.seq),
        }
    }

    /// The entry page's path on any gateway (identity ids and feed names need no escaping).
    pub fn page_path(&self) -> String {
        format!("/{}/{}/{}", self.identity, self.feed, self.seq)
    }

    /// The feed page's path on any gateway.
    pub fn feed_path(&self) -> String {
        format!("/{}/{}", self.identity, self.feed)
    }

    /// The `description` metadata, if any.
    pub fn description(&self) -> Option<&str> {
        self.meta.get("description").map(String::as_str)
    }

    /// The view as pages and exports show it: the title, the description and every other
    /// metadata value cut to [`TITLE_CHARS`], [`DESCRIPTION_CHARS`] and
    /// [`META_VALUE_CHARS`], so an entry signed with megabytes of title cannot make a page
    /// too large to answer (the JSON API gives them whole).
    pub fn clipped(mut self) -> EntryView {
        if let Some(title) = &mut self.title {
            clip(title, TITLE_CHARS);
        }
        for (name, value) in &mut self.meta {
            let limit = if name == "description" {
                DESCRIPTION_CHARS
            } else {
                META_VALUE_CHARS
            };
            clip(value, limit);
        }
        self
    }
}

/// Cuts `text` to at most `max_chars` characters, the last one "…" when cut.
pub fn clip(text: &mut String, max_chars: usize) {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        let keep = text
            .char_indices()
            .nth(max_chars.saturating_sub(1))
            .map_or(cut, |(i, _)| i);
        text.truncate(keep);
        text.push('…');
    }
}

/// `text` cut as by [`clip`].
pub fn clipped(text: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => std::borrow::Cow::Borrowed(text),
        Some(_) => {
            let mut owned = text.to_owned();
            clip(&mut owned, max_chars);
            std::borrow::Cow::Owned(owned)
        }
    }
}

impl Gateway {
    /// The view of a stored entry (one store lookup for its torrent, if it names one).
    pub async fn entry_view(&self, stored: &StoredEntry) -> Result<EntryView, ApiError> {
        let signed = &stored.entry;
        let entry = signed.entry();
        let base = self.node.public_url();
        let retracts = match entry.kind {
            Kind::Delete { retracts } => Some(retracts),
            _ => None,
        };
        let (mut content, mut magnet, mut torrent_href, mut webseed_torrent_href) =
            (None, None, None, None);
        if let Some(reference) = &entry.content {
            let torrent = self.node.torrent(&reference.infohash).await?;
            let held = torrent.as_ref().is_some_and(|t| t.state.error.is_none());
            if torrent.as_ref().is_some_and(|t| t.has_metainfo) {
                torrent_href = Some(links::torrent(&reference.infohash));
                webseed_torrent_href = Some(links::webseed_torrent(&reference.infohash));
            }
            magnet = Some(self.magnet(reference, held));
            content = Some(content_view(base, reference, held));
        }
        let mut meta = entry.meta.clone();
        let title = meta.remove("title");
        Ok(EntryView {
            identity: entry.author.to_string(),
            feed: entry.feed.to_string(),
            seq: entry.seq,
            time: entry.time,
            kind: entry.kind.name(),
            retracts,
            title,
            meta,
            signed_by: signed.signer().to_string(),
            hash: signed.hash().to_string(),
            retracted: stored.retracted,
            url: format!(
                "{base}{}",
                links::entry(&entry.author, &entry.feed, entry.seq)
            ),
            content,
            magnet,
            torrent_url: torrent_href.as_ref().map(|p| format!("{base}{p}")),
            webseed_torrent_url: webseed_torrent_href.as_ref().map(|p| format!("{base}{p}")),
            torrent_href,
            webseed_torrent_href,
        })
    }

    /// Views of several entries as pages and exports show them ([`EntryView::clipped`]).
    pub async fn clipped_views(&self, stored: &[StoredEntry]) -> Result<Vec<EntryView>, ApiError> {
        let mut views = Vec::with_capacity(stored.len());
        for entry in stored {
            views.push(self.entry_view(entry).await?.clipped());
        }
        Ok(views)
    }

    /// Views of several entries, in order.
    pub async fn entry_views(&self, stored: &[StoredEntry]) -> Result<Vec<EntryView>, ApiError> {
        let mut views = Vec::with_capacity(stored.len());
        for entry in stored {
            views.push(self.entry_view(entry).await?);
        }
        Ok(views)
    }

    /// A magnet link with name and size, and this gateway as web seed when it holds the files.
    fn magnet(&self, content: &ContentRef, held: bool) -> String {
        let mut magnet = Magnet::new(content.infohash);
        magnet.name = Some(content.name.clone());
        magnet.size = Some(content.size);
        if held {
            magnet.webseeds = vec![links::webseed(self.node.public_url(), &content.infohash)];
        }
        magnet.to_string()
    }

    /// The feed's stored state, or `404 not_found`.
    pub async fn feed_state(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<FeedState, ApiError> {
        self.node.feed_state(identity, feed).await
    }
}

fn content_view(base: &str, content: &ContentRef, held: bool) -> ContentView {
    ContentView {
        infohash: content.infohash.to_string(),
        name: content.name.clone(),
        size: content.size,
        held,
        files: content
            .files
            .iter()
            .map(|f| {
                let path = f.path.join("/");
                let href = links::file(&content.infohash, &path);
                FileView {
                    content_type: mime_guess::from_path(&path)
                        .first_or_octet_stream()
                        .essence_str()
                        .to_owned(),
                    url: format!("{base}{href}"),
                    href,
                    blake3: hex::encode(f.blake3),
                    length: f.length,
                    path,
                }
            })
            .collect(),
    }
}

/// `ok`, `frozen` or `error`: a stable name for a feed's status.
pub fn status_name(status: &FeedStatus) -> &'static str {
    match status {
        FeedStatus::Ok => "ok",
        FeedStatus::Frozen(_) => "frozen",
        FeedStatus::Error(_) => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::{clip, clipped};

    #[test]
    fn long_text_is_cut_to_its_limit_on_a_character_boundary() {
        let mut short = "short".to_owned();
        clip(&mut short, 5);
        assert_eq!(short, "short");
        let mut long = "é".repeat(10);
        clip(&mut long, 4);
        assert_eq!(long, "ééé…");
        assert_eq!(long.chars().count(), 4);
        assert_eq!(clipped("abcdef", 3), "ab…");
        assert_eq!(clipped("abc", 3), "abc");
    }
}
