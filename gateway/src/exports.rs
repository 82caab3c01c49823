//! Feed exports of any feed the node holds, the latest N posts (retracted ones left out):
//! RSS 2.0 (`rss`), Atom (`atom_syndication`), JSON Feed 1.1 (serde_json). Each item links
//! its entry page, its files as enclosures, its .torrent and its magnet link.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use feeds::{FeedName, IdentityKey};
use http_server::ApiError;
use maud::html;
use publisher::torrent::portable_name::visible;
use seeder::node::api::read::EntryPage;
use seeder::node::{parse_feed, parse_identity};

use crate::view::{EntryView, FILES_PER_ITEM};
use crate::{Gateway, links};

/// The torrent RSS namespace that torrent clients' feed readers understand.
const TORRENT_NS: &str = "http://xmlns.ezrss.it/0.1/";
/// Dublin Core, for each item's `dc:creator`.
const DUBLIN_CORE_NS: &str = "http://purl.org/dc/elements/1.1/";

/// What every export needs.
struct Export {
    title: String,
    /// The feed page (absolute).
    home: String,
    /// This export (absolute).
    own_url: String,
    /// The author as exports name it: the identity's display name, else its id.
    author: String,
    /// The identity's page (absolute).
    identity_url: String,
    items: Vec<EntryView>,
}

/// `GET /{identity}/{feed}/feed.rss`.
pub async fn rss(
    State(gateway): State<Gateway>,
    Path((identity, feed)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let export = gateway.export(&identity, &feed, "rss").await?;
    let mut namespaces = BTreeMap::new();
    namespaces.insert("torrent".to_owned(), TORRENT_NS.to_owned());
    namespaces.insert("dc".to_owned(), DUBLIN_CORE_NS.to_owned());
    let items = export
        .items
        .iter()
        .map(|view| rss_item(view, &export.author))
        .collect();
    let channel = rss::Channel {
        title: export.title.clone(),
        link: export.home.clone(),
        description: format!("Signed feed {} on swarmfeed", export.title),
        generator: Some("swarmfeed".into()),
        last_build_date: export.items.first().map(|i| rfc2822(i.time)),
        namespaces,
        items,
        ..Default::default()
    };
    let body = channel.write_to(Vec::new()).map_err(ApiError::internal)?;
    Ok(xml("application/rss+xml", body))
}

fn rss_item(view: &EntryView, author: &str) -> rss::Item {
    let mut extensions = BTreeMap::new();
    // RSS's own `author` is an email address: the name goes in `dc:creator`.
    let creator = rss::extension::Extension {
        name: "dc:creator".into(),
        value: Some(author.to_owned()),
        ..Default::default()
    };
    extensions.insert(
        "dc".to_owned(),
        BTreeMap::from([("creator".to_owned(), vec![creator])]),
    );
    if let Some(content) = &view.content {
        let mut fields = BTreeMap::new();
        let mut put = |name: &str, value: String| {
            fields.insert(
                name.to_owned(),
                vec![rss::extension::Extension {
                    name: format!("torrent:{name}"),
                    value: Some(value),
                    ..Default::default()
                }],
            );
        };
        put("infoHash", content.infohash.clone());
        put("contentLength", content.size.to_string());
        put("fileName", format!("{}.torrent", content.infohash));
        if let Some(magnet) = &view.magnet {
            put("magnetURI", magnet.clone());
        }
        extensions.insert("torrent".to_owned(), fields);
    }
    rss::Item {
        title: Some(view.display_title()),
        link: Some(view.url.clone()),
        description: Some(summary_html(view)),
        guid: Some(rss::Guid {
            value: view.url.clone(),
            permalink: true,
        }),
        pub_date: Some(rfc2822(view.time)),
        enclosure: enclosure(view).map(|(url, length, mime_type)| rss::Enclosure {
            url,
            length: length.to_string(),
            mime_type,
        }),
        extensions,
        ..Default::default()
    }
}

/// An RSS item holds one enclosure: the file of a single-file post, else the .torrent.
fn enclosure(view: &EntryView) -> Option<(String, u64, String)> {
    let content = view.content.as_ref()?;
    match content.files.as_slice() {
        [file] if content.held => Some((file.url.clone(), file.length, file.content_type.clone())),
        _ => view
            .webseed_torrent_url
            .clone()
            .map(|url| (url, 0, "application/x-bittorrent".to_owned())),
    }
}

/// `GET /{identity}/{feed}/feed.atom`.
pub async fn atom(
    State(gateway): State<Gateway>,
    Path((identity, feed)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let export = gateway.export(&identity, &feed, "atom").await?;
    let author = atom_syndication::Person {
        name: export.author.clone(),
        uri: Some(export.identity_url.clone()),
        ..Default::default()
    };
    let entries = export
        .items
        .iter()
        .map(|view| atom_entry(view, &author))
        .collect();
    let feed = atom_syndication::Feed {
        title: atom_syndication::Text::plain(export.title.clone()),
        id: export.home.clone(),
        updated: export
            .items
            .first()
            .map_or_else(|| datetime(0), |i| datetime(i.time)),
        authors: vec![author.clone()],
        links: vec![
            link(&export.own_url, "self", Some("application/atom+xml")),
            link(&export.home, "alternate", Some("text/html")),
        ],
        entries,
        ..Default::default()
    };
    let body = feed.write_to(Vec::new()).map_err(ApiError::internal)?;
    Ok(xml("application/atom+xml", body))
}

fn atom_entry(view: &EntryView, author: &atom_syndication::Person) -> atom_syndication::Entry {
    let mut links = vec![link(&view.url, "alternate", Some("text/html"))];
    if let Some(content) = view.content.as_ref().filter(|c| c.held) {
        for file in content.files.iter().take(FILES_PER_ITEM) {
            let mut enclosure = link(&file.url, "enclosure", Some(&file.content_type));
            enclosure.length = Some(file.length.to_string());
            enclosure.title = Some(visible(&file.path).into_owned());
            links.push(enclosure);
        }
    }
    if let Some(url) = &view.webseed_torrent_url {
        links.push(link(url, "related", Some("application/x-bittorrent")));
    }
    atom_syndication::Entry {
        title: atom_syndication::Text::plain(view.display_title()),
        id: view.url.clone(),
        updated: datetime(view.time),
        published: Some(datetime(view.time)),
        authors: vec![author.clone()],
        links,
        summary: Some(atom_syndication::Text::html(summary_html(view))),
        ..Default::default()
    }
}

fn link(href: &str, rel: &str, mime_type: Option<&str>) -> atom_syndication::Link {
    atom_syndication::Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        ..Default::default()
    }
}

/// `GET /{identity}/{feed}/feed.json`: JSON Feed 1.1.
pub async fn json_feed(
    State(gateway): State<Gateway>,
    Path((identity, feed)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let export = gateway.export(&identity, &feed, "json").await?;
    let items: Vec<serde_json::Value> = export
        .items
        .iter()
        .map(|view| {
            let attachments: Vec<serde_json::Value> = view
                .content
                .iter()
                .filter(|c| c.held)
                .flat_map(|c| c.files.iter().take(FILES_PER_ITEM))
                .map(|f| {
                    serde_json::json!({
                        "url": f.url, "mime_type": f.content_type,
                        "size_in_bytes": f.length, "title": visible(&f.path),
                    })
                })
                .collect();
            let mut item = serde_json::json!({
                "id": view.url,
                "url": view.url,
                "title": view.display_title(),
                "content_html": summary_html(view),
                "date_published": datetime(view.time).to_rfc3339(),
                "authors": [{"name": export.author, "url": export.identity_url}],
            });
            if let Some(description) = view.description() {
                item["summary"] = description.into();
            }
            if !attachments.is_empty() {
                item["attachments"] = attachments.into();
            }
            if let Some(content) = &view.content {
                item["_swarmfeed"] = serde_json::json!({
                    "about": "https://jsonfeed.org/version/1.1",
                    "infohash": content.infohash,
                    "magnet": view.magnet,
                    "torrent_url": view.webseed_torrent_url,
                    "seq": view.seq,
                    "signed_by": view.signed_by,
                });
            }
            item
        })
        .collect();
    let body = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": export.title,
        "home_page_url": export.home,
        "feed_url": export.own_url,
        "authors": [{"name": export.author, "url": export.identity_url}],
        "items": items,
    });
    Ok((
        [(header::CONTENT_TYPE, "application/feed+json")],
        body.to_string(),
    )
        .into_response())
}

impl Gateway {
    async fn export(
        &self,
        identity: &str,
        feed: &str,
        extension: &str,
    ) -> Result<Export, ApiError> {
        let (key, feed): (IdentityKey, FeedName) = (parse_identity(identity)?, parse_feed(feed)?);
        self.feed_state(&key, &feed).await?;
        let stored = self
            .node
            .entries(&key, &feed, EntryPage::newest(self.config.export_items))
            .await?;
        let posts: Vec<_> = stored
            .into_iter()
            .filter(|e| !e.retracted && e.entry.entry().kind == feeds::Kind::Post)
            .collect();
        let base = self.node.public_url();
        let author = self.node.display_name(&key).await?;
        Ok(Export {
            author: author.unwrap_or_else(|| key.to_string()),
            title: format!("{feed} · {}", short(&key.to_string())),
            home: format!("{base}{}", links::feed(&key, &feed)),
            own_url: format!("{base}{}", links::export(&key, &feed, extension)),
            identity_url: format!("{base}{}", links::identity(&key)),
            items: self.clipped_views(&posts).await?,
        })
    }
}

/// An HTML summary of an entry (escaped by maud): description, files, links.
fn summary_html(view: &EntryView) -> String {
    html! {
        @if let Some(description) = view.description() { p { (description) } }
        @if let Some(content) = &view.content {
            p { (visible(&content.name).as_ref()) " (" (content.files.len()) " files, " (content.size) " bytes)" }
            p {
                @if let Some(url) = &view.webseed_torrent_url { a href=(url) { ".torrent" } " · " }
                @if let Some(magnet) = &view.magnet { a href=(magnet) { "magnet" } }
            }
        }
    }
    .into_string()
}

fn xml(content_type: &'static str, body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            format!("{content_type}; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn datetime(secs: u64) -> DateTime<FixedOffset> {
    let utc = i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .unwrap_or_default();
    utc.fixed_offset()
}

fn rfc2822(secs: u64) -> String {
    datetime(secs).to_rfc2822()
}

/// The first characters of an identity id, for titles.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
