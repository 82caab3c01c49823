//! `swarmfeed publish` and `swarmfeed retract`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use feeds::FeedName;
use publisher::publish::{Published, prepare};
use publisher::{DataDir, PublishRequest, TorrentOptions};

use super::InputError;
use super::progress::HashingBar;
use super::size::parse_size;

/// Hash a file or directory into a torrent, sign an entry naming it, append it to a feed.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The file or directory to publish (a directory becomes a multi-file torrent).
    path: PathBuf,
    /// The feed to append to.
    #[arg(long, default_value = "main", value_parser = parse_feed)]
    feed: FeedName,
    /// A title for the entry.
    #[arg(long)]
    title: Option<String>,
    /// A description for the entry.
    #[arg(long)]
    description: Option<String>,
    /// Free metadata, `key=value` (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    meta: Vec<(String, String)>,
    /// The identity to sign with [default: the default identity].
    #[arg(long, value_name = "NAME")]
    identity: Option<String>,
    /// Piece size, a power of two from 16KiB to 64MiB [default: by total size].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    piece_size: Option<u64>,
    /// A BEP 19 web seed URL for the torrent (repeatable).
    #[arg(long = "webseed", value_name = "URL")]
    webseeds: Vec<String>,
    /// A tracker announce URL for the torrent (repeatable).
    #[arg(long = "tracker", value_name = "URL")]
    trackers: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Publish even though the identity was imported from a backup and its feeds were not
    /// synced from the network (`identity sync`): only for an identity that never published.
    #[arg(long)]
    force_new_feed: bool,
}

/// Publish a signed `delete` entry that retracts an earlier entry.
#[derive(Debug, Args)]
pub struct RetractArgs {
    /// The seq of the entry to retract.
    seq: u64,
    /// The feed it belongs to.
    #[arg(long, default_value = "main", value_parser = parse_feed)]
    feed: FeedName,
    /// The identity to sign with [default: the default identity].
    #[arg(long, value_name = "NAME")]
    identity: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn publish(args: PublishArgs, data: &Path) -> anyhow::Result<()> {
    let data = DataDir::new(data);
    check_synced(&data, args.identity.as_deref(), args.force_new_feed)?;
    let request = PublishRequest {
        path: args.path,
        feed: Some(args.feed),
        identity: args.identity,
        title: args.title,
        description: args.description,
        meta: args.meta,
        torrent: TorrentOptions {
            piece_length: args.piece_size,
            webseeds: args.webseeds,
            trackers: args.trackers,
            blake3: true,
        },
        // With a node running on the data directory, its gateway web-seeds the content.
        gateway: seeder::node::ControlClient::connect(&data.control_socket())
            .ok()
            .and(data.node_info())
            .map(|node| node.public_url),
    };
    let prepared = prepare(&data, &request)?;
    for link in prepared.skipped_symlinks() {
        eprintln!(
            "note: skipped symlink {} (symlinks are not followed)",
            link.display()
        );
    }
    let bar = HashingBar::new(prepared.total_length());
    let published = prepared.publish(&data, unix_now(), &|n| bar.advance(n))?;
    bar.finish();
    report(&data, &published, args.json)
}

pub fn retract(args: RetractArgs, data: &Path) -> anyhow::Result<()> {
    let data = DataDir::new(data);
    check_synced(&data, args.identity.as_deref(), false)?;
    let published = publisher::retract(
        &data,
        args.identity.as_deref(),
        &args.feed,
        args.seq,
        unix_now(),
    )?;
    report(&data, &published, args.json)
}

/// Hands the entry to a running node (seeded and announced at once), then prints it. When
/// the node could not take it in, the entry is still printed (it is committed) and the
/// command fails (exit 1) saying so.
fn report(data: &DataDir, published: &Published, json: bool) -> anyhow::Result<()> {
    let entry = published.entry.entry();
    let (node, refused) =
        match super::node::hand_over_to_node(data.root(), &published.identity, &entry.feed) {
            Ok(true) => (data.node_info(), None),
            Ok(false) => (None, None),
            Err(e) => (None, Some(e)),
        };
    let entry_url = node.as_ref().map(|n| {
        format!(
            "{}/{}/{}/{}",
            n.public_url, published.identity, entry.feed, entry.seq
        )
    });
    let torrent_url = node
        .as_ref()
        .zip(published.content.as_ref())
        .map(|(n, c)| format!("{}/torrents/{}.torrent", n.public_url, c.infohash));
    if json {
        let mut object = serde_json::json!({
            "identity": published.identity.to_string(),
            "feed": entry.feed.as_str(),
            "seq": entry.seq,
            "kind": entry.kind.name(),
            "entry_hash": published.entry.hash().to_string(),
        });
        if let Some(content) = &published.content {
            object["infohash"] = content.infohash.to_string().into();
            object["magnet"] = content.magnet.clone().into();
            object["torrent_path"] = content.torrent_path.display().to_string().into();
        }
        if let Some(url) = &entry_url {
            object["entry_url"] = url.clone().into();
        }
        if let Some(url) = &torrent_url {
            object["torrent_url"] = url.clone().into();
        }
        println!("{object}");
        return refused.map_or(Ok(()), |e| Err(not_taken_in(data, published, e)));
    }
    println!(
        "{} {}/{} #{}",
        entry.kind.name(),
        published.identity,
        entry.feed,
        entry.seq
    );
    if let Some(content) = &published.content {
        println!("infohash: {}", content.infohash);
        println!("magnet: {}", content.magnet);
        println!("torrent: {}", content.torrent_path.display());
    }
    if let Some(url) = entry_url {
        println!("entry: {url}");
    }
    refused.map_or(Ok(()), |e| Err(not_taken_in(data, published, e)))
}

/// The running node could not take in a committed entry (its store refused it: a full disk,
/// say). The node takes in what the data directory holds at every start and every publish.
#[derive(Debug)]
pub struct NotTakenIn {
    identity: String,
    feed: String,
    seq: u64,
    data: String,
    cause: seeder::node::ControlError,
}

impl std::fmt::Display for NotTakenIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} #{} is signed and saved in {}, but the running node could not take it in \
             ({}); it is not seeded or announced yet. Fix the cause, then restart the node (or \
             publish again): it takes in every saved entry",
            self.identity, self.feed, self.seq, self.data, self.cause
        )
    }
}

impl std::error::Error for NotTakenIn {}

fn not_taken_in(
    data: &DataDir,
    published: &Published,
    source: seeder::node::ControlError,
) -> anyhow::Error {
    let entry = published.entry.entry();
    NotTakenIn {
        identity: published.identity.to_string(),
        feed: entry.feed.to_string(),
        seq: entry.seq,
        data: data.root().display().to_string(),
        cause: source,
    }
    .into()
}

/// An identity imported from a backup signs nothing until its feeds are synced (see
/// `publisher::restore`); `force` starts from what the data directory holds instead.
fn check_synced(data: &DataDir, identity: Option<&str>, force: bool) -> anyhow::Result<()> {
    let (_, keypair) = data.keystore().resolve(identity)?;
    if force {
        publisher::restore::clear_pending(data, &keypair.public())?;
        return Ok(());
    }
    Ok(publisher::restore::check_synced(data, &keypair.public())?)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn parse_feed(text: &str) -> Result<FeedName, String> {
    FeedName::new(text).map_err(|e| e.to_string())
}

fn parse_meta(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(InputError(format!("{text:?} is not key=value")).0),
    }
}
