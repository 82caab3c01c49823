//! Server-rendered pages (maud, no JavaScript, readable in w3m): home, identity, feed and
//! entry, and search. Titles and metadata are untrusted: maud escapes everything interpolated.

pub(crate) mod layout;
mod names;
mod operator;
mod search;
mod status;
mod traffic_chart;

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use feeds::{FeedName, IdentityKey};
use http_server::ApiError;
use maud::{Markup, html};
use seeder::node::api::read::{FeedStatus, OwnIdentity};
use seeder::node::{parse_feed, parse_identity};
use tokio::io::AsyncReadExt;

use crate::api::parse_seq;
use crate::view::{EntryView, FILES_LISTED, PATH_CHARS, clipped};
use crate::{Gateway, links};

pub use layout::PageError;
use layout::{Alternate, page, shown_name, size, time};
use names::identity_label;
use publisher::torrent::portable_name::visible;
pub use search::{api as search_api, opensearch, search};
pub use status::status;

type PageResult = Result<Response, PageError>;

/// Entries of followed feeds on the home page.
const HOME_ENTRIES: u32 = 30;
/// Largest text file shown inline on an entry page.
const TEXT_PREVIEW_BYTES: u64 = 64 * 1024;
/// Most files previewed on one entry page.
const MAX_PREVIEWS: usize = 20;

/// `GET /`: recent posts of followed feeds, and this node's own identities (the keystore's
/// and those the gateway holds for its users), each by the name it signed.
pub async fn home(State(gateway): State<Gateway>) -> PageResult {
    let recent = gateway
        .node
        .recent_followed_posts(None, HOME_ENTRIES)
        .await?;
    let recent = gateway.clipped_views(&recent.entries).await?;
    let own = gateway.node.own_identities().await;
    let own_ids = own.iter().map(|o| o.key.to_string()).collect();
    let own_names = gateway.display_names(own_ids).await;
    let ids = recent.iter().map(|e| e.identity.clone()).collect();
    let names = gateway.display_names(ids).await;
    let body = html! {
        h1 { "This node" }
        h2 { "Identities" }
        @if own.is_empty() {
            p { "No identity publishes from this node yet (" code { "swarmfeed identity new" } ")." }
        }
        ul {
            @for OwnIdentity { name, key, feeds, held } in &own {
                li {
                    // The name it signed, else this keystore's name for it, else its id.
                    @match own_names.get(&key.to_string()).or(name.as_ref()) {
                        Some(name) => {
                            a href=(links::identity(key)) { bdi { (shown_name(name)) } } " "
                            span.id { (key.to_string()) }
                        },
                        None => a href=(links::identity(key)) { span.id { (key.to_string()) } },
                    }
                    @if *held { " (held for its members by this gateway)" }
                    @if !feeds.is_empty() {
                        " — feeds: "
                        @for (i, feed) in feeds.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href=(links::feed(key, feed)) { (feed.as_str()) }
                        }
                    }
                }
            }
        }
        h2 { "Recent from followed feeds" }
        @if recent.is_empty() { p { "Nothing followed yet (" code { "swarmfeed follow ID" } ")." } }
        (entry_list(&recent, Some(&names)))
    };
    Ok(page("Home", &[], body))
}

/// `GET /{identity}`: the identity's feeds known here.
pub async fn identity(State(gateway): State<Gateway>, Path(identity): Path<String>) -> PageResult {
    let key = parse_identity(&identity)?;
    let info = gateway.node.identity(&key).await?;
    let own = gateway
        .node
        .own_identities()
        .await
        .into_iter()
        .find(|own| own.key == key);
    let record = info.as_ref().and_then(|i| i.record.as_ref());
    let mut feeds: Vec<FeedName> = record.map(|r| r.record().feeds.clone()).unwrap_or_default();
    for feed in own.iter().flat_map(|own| &own.feeds) {
        if !feeds.contains(feed) {
            feeds.push(feed.clone());
        }
    }
    if info.is_none() && own.is_none() {
        return Err(ApiError::not_found(format!("this node knows no identity {key}")).into());
    }
    let mut rows = Vec::new();
    for feed in feeds {
        let state = gateway.node.known_feed_state(&key, &feed).await?;
        rows.push((feed, state));
    }
    let profile = gateway.node.profile(&key).await?.unwrap_or_default();
    let signed_name = gateway.node.display_name(&key).await?;
    let name = signed_name
        .clone()
        .or_else(|| own.as_ref().and_then(|own| own.name.clone()));
    let avatar = gateway.avatar_href(&profile).await;
    let body = html! {
        h1 { @match &name { Some(name) => bdi { (shown_name(name)) }, None => "Identity" } }
        @if let Some(avatar) = &avatar {
            p { img.avatar src=(avatar) alt="Avatar" width="128"; }
        }
        p { "Identity " span.id { (key.to_string()) } }
        @if signed_name.is_some() {
            p.meta { "The name is what this identity calls itself: another identity may claim it too. The id above is what its signatures prove." }
        }
        @if let Some(text) = &profile.bio { (names::bio(text)) }
        @if own.is_some() { p { "Publishes from this node." } }
        h2 { "Feeds" }
        @if rows.is_empty() { p { "No feed of this identity is known here." } }
        ul {
            @for (feed, state) in &rows {
                li {
                    a href=(links::feed(&key, feed)) { (feed.as_str()) }
                    @if let Some(state) = state {
                        " — " (verified_count(state.verified_seq))
                        (status_badge(&state.status))
                    }
                }
            }
        }
        @if let Some(record) = record {
            @if !record.record().nodes.is_empty() {
                h2 { "Nodes serving it" }
                ul { @for node in &record.record().nodes { li { (node) } } }
            }
        }
    };
    let title = name.map_or_else(|| "Identity".to_owned(), |n| visible(&n).into_owned());
    Ok(page(&title, &[], body))
}

/// `GET /{identity}/{feed}?before=SEQ`: a page of the feed, newest first.
pub async fn feed(
    State(gateway): State<Gateway>,
    Path((identity, feed)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let (key, feed) = (parse_identity(&identity)?, parse_feed(&feed)?);
    let before = query.get("before").map(|v| parse_seq(v)).transpose()?;
    let limit = gateway.config.page_size;
    let listing = gateway.entries_page(&key, &feed, before, limit).await?;
    let state = gateway.feed_state(&key, &feed).await?;
    let older = listing
        .entries
        .last()
        .filter(|_| listing.next.is_some())
        .map(|e| format!("{}?before={}", links::feed(&key, &feed), e.seq));
    let entries: Vec<EntryView> = listing
        .entries
        .into_iter()
        .map(EntryView::clipped)
        .collect();
    let title = format!("{feed}");
    let name = gateway.node.display_name(&key).await?;
    let body = html! {
        h1 { (feed.as_str()) }
        p {
            "A feed of " (identity_label(&key, name.as_deref())) ". "
            (verified_note(state.verified_seq, listing.head_seq))
            (status_badge(&state.status))
        }
        p {
            "Subscribe: "
            a href=(links::export(&key, &feed, "rss")) { "RSS" } " · "
            a href=(links::export(&key, &feed, "atom")) { "Atom" } " · "
            a href=(links::export(&key, &feed, "json")) { "JSON Feed" }
        }
        @if entries.is_empty() { p { "No entries here." } }
        (entry_list(&entries, None))
        @if let Some(older) = older { p { a href=(older) rel="next" { "Older entries →" } } }
    };
    Ok(page(&title, &alternates(&key, &feed), body))
}

/// `GET /{identity}/{feed}/{seq}`: one entry with its files and previews.
pub async fn entry(
    State(gateway): State<Gateway>,
    Path((identity, feed, seq)): Path<(String, String, String)>,
) -> PageResult {
    let (key, feed, seq) = (
        parse_identity(&identity)?,
        parse_feed(&feed)?,
        parse_seq(&seq)?,
    );
    let view = gateway.entry(&key, &feed, seq).await?.clipped();
    let state = gateway.feed_state(&key, &feed).await?;
    let previews = gateway.previews(&view).await;
    let title = view.display_title();
    let name = gateway.node.display_name(&key).await?;
    let body = html! {
        h1 { (title) }
        @if view.retracted {
            p.retracted { strong { "Retracted: " } "a later entry of this feed by its publisher withdraws it." }
        }
        (status_badge(&state.status))
        p.verified { "✓ Signature and hash chain verified by this node (entry "
            (view.seq) " of " (state.verified_seq) " verified)." }
        table {
            tr { th { "Feed" } td { a href=(links::feed(&key, &feed)) { (feed.as_str()) } " #" (view.seq) } }
            tr { th { "Identity" } td { (identity_label(&key, name.as_deref())) } }
            @if view.signed_by != view.identity {
                tr { th { "Signed by" } td.id { (view.signed_by) " (a delegated key)" } }
            } @else {
                tr { th { "Signed by" } td { "the identity's own key" } }
            }
            tr { th { "Time" } td { (time(view.time)) } }
            tr { th { "Kind" } td { (view.kind)
                @if let Some(target) = view.retracts {
                    " of " a href=(links::entry(&key, &feed, target)) { "#" (target) }
                } } }
            @for (name, value) in &view.meta {
                tr { th { (name) } td { (value) } }
            }
            tr { th { "Entry hash" } td.id { (view.hash) } }
        }
        @if let Some(content) = &view.content {
            h2 { "Files" }
            p { (shown_name(&content.name)) " — " (size(content.size)) ", infohash " span.id { (content.infohash) } }
            @if !content.held { p { "This node does not hold these files." } }
            ul.links {
                @if let Some(magnet) = &view.magnet { li { a href=(magnet) { "Magnet link" } } }
                @if let Some(url) = &view.webseed_torrent_href { li { a href=(url) { ".torrent" } " (with this gateway as web seed)" } }
                @if let Some(url) = &view.torrent_href { li { a href=(url) { ".torrent as published" } } }
            }
            table {
                tr { th { "File" } th { "Size" } th { "Type" } }
                @for file in content.files.iter().take(FILES_LISTED) {
                    @let path = clipped(&file.path, PATH_CHARS);
                    tr {
                        td { @if content.held { a href=(file.href) { (shown_name(&path)) } } @else { (shown_name(&path)) } }
                        td { (size(file.length)) }
                        td { (file.content_type) }
                    }
                }
            }
            @if content.files.len() > FILES_LISTED {
                p { "… and " (content.files.len() - FILES_LISTED) " more files: the .torrent lists them all." }
            }
            @for preview in &previews { (preview) }
        }
        p { a href=(format!("/api/v1/entries/{key}/{feed}/{seq}")) { "This entry as JSON" } }
    };
    Ok(page(&title, &alternates(&key, &feed), body))
}

impl Gateway {
    /// Inline previews of an entry's files: images, audio, video, and small text files.
    async fn previews(&self, view: &EntryView) -> Vec<Markup> {
        let Some(content) = view.content.as_ref().filter(|c| c.held) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for file in content.files.iter().take(MAX_PREVIEWS) {
            let kind = file.content_type.split('/').next().unwrap_or("");
            let markup = match kind {
                "image" => Some(
                    html! { figure { img src=(file.href) alt=(visible(&file.path).as_ref()); figcaption { (shown_name(&file.path)) } } },
                ),
                "video" => Some(
                    html! { figure { video controls preload="metadata" src=(file.href) {
                    a href=(file.href) { (shown_name(&file.path)) } } figcaption { (shown_name(&file.path)) } } },
                ),
                "audio" => Some(
                    html! { figure { audio controls preload="metadata" src=(file.href) {
                    a href=(file.href) { (shown_name(&file.path)) } } figcaption { (shown_name(&file.path)) } } },
                ),
                _ if file.content_type == "text/plain" && file.length <= TEXT_PREVIEW_BYTES => self
                    .text_preview(&content.infohash, &file.path)
                    .await
                    .map(|text| html! { figure { pre { (text) } figcaption { (shown_name(&file.path)) } } }),
                _ => None,
            };
            out.extend(markup);
        }
        out
    }

    /// A small text file, when complete on disk and passing every check `/files` makes
    /// ([`HeldFile::open`](seeder::node::api::files::HeldFile::open)): a published file replaced or
    /// edited since it was verified is not shown.
    async fn text_preview(&self, infohash: &str, path: &str) -> Option<String> {
        let infohash = infohash.parse().ok()?;
        let held = self.node.held_torrent(&infohash).await.ok()?;
        let file = held.locate(&self.node, held.file(path).ok()?).ok()?;
        let opened = file.open(&self.node).await.ok()??;
        let mut bytes = Vec::new();
        opened
            .file
            .take(TEXT_PREVIEW_BYTES)
            .read_to_end(&mut bytes)
            .await
            .ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// A list of entries linking to their pages; with `names` (entries of several feeds), each
/// says which feed and identity it comes from.
fn entry_list(entries: &[EntryView], names: Option<&HashMap<String, String>>) -> Markup {
    html! {
        ul.entries {
            @for entry in entries {
                li {
                    a href=(entry.page_path()) { (entry.display_title()) }
                    " — #" (entry.seq) ", " (time(entry.time))
                    @if let Some(content) = &entry.content { ", " (size(content.size)) }
                    @if let Some(target) = entry.retracts { ", retracts #" (target) }
                    @if entry.retracted { " " span.badge.retracted { "retracted" } }
                    @if let Some(names) = names {
                        " in " a href=(entry.feed_path()) { (entry.feed) }
                        @if let Ok(key) = entry.identity.parse::<IdentityKey>() {
                            " by " (identity_label(&key, names.get(&entry.identity).map(String::as_str)))
                        }
                    }
                }
            }
        }
    }
}

fn verified_note(verified_seq: u64, head_seq: Option<u64>) -> Markup {
    html! {
        span.verified {
            "✓ " (verified_count(verified_seq))
            @if let Some(head) = head_seq { " (signed head: entry " (head) ")" }
            ". "
        }
    }
}

/// "1 entry verified", "2 entries verified".
fn verified_count(verified_seq: u64) -> String {
    let noun = if verified_seq == 1 {
        "entry"
    } else {
        "entries"
    };
    format!("{verified_seq} {noun} verified")
}

fn status_badge(status: &FeedStatus) -> Markup {
    html! {
        @match status {
            FeedStatus::Ok => {},
            FeedStatus::Frozen(_) => {
                " " span.badge.frozen { "frozen" }
                " Two different entries were signed for one seq (a fork): the feed stays at its last agreed entry."
            },
            FeedStatus::Error(message) => { " " span.badge { "update failing: " (message) } },
        }
    }
}

fn alternates(key: &IdentityKey, feed: &FeedName) -> Vec<Alternate> {
    vec![
        (
            "application/rss+xml",
            "RSS",
            links::export(key, feed, "rss"),
        ),
        (
            "application/atom+xml",
            "Atom",
            links::export(key, feed, "atom"),
        ),
        (
            "application/feed+json",
            "JSON Feed",
            links::export(key, feed, "json"),
        ),
    ]
}
