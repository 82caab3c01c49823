//! `swarmfeed publish` and `swarmfeed retract`.

use std::path::{Path, PathBuf};
use store::unix_now;

use clap::Args;
use data_dir::DataDir;
use feeds::FeedName;
use publisher::publish::{Published, prepare};
use publisher::{PublishRequest, TorrentOptions};
use seeder::node::ControlClient;
use seeder::node::api::{PublishAnswer, PublishEvent, RetractRequest};

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

/// With a node running on the data directory, the node publishes (and seeds at once) while
/// this command shows its progress; without one, the command publishes on its own.
pub fn publish(args: PublishArgs, data: &Path) -> anyhow::Result<()> {
    if let Some(client) = super::node::control(data) {
        return publish_through(&client, args, data);
    }
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
        gateway: None,
    };
    let prepared = prepare(&data, &request)?;
    note_symlinks(prepared.skipped_symlinks());
    let bar = HashingBar::new(prepared.total_length());
    let published = prepared.publish(&data, unix_now(), &|n| bar.advance(n))?;
    bar.finish();
    report(&data, &published, args.json)
}

/// Publishes through the running node's control socket.
fn publish_through(client: &ControlClient, args: PublishArgs, data: &Path) -> anyhow::Result<()> {
    let path = std::path::absolute(&args.path)
        .map_err(|e| InputError(format!("{}: {e}", args.path.display())))?;
    let request = seeder::node::api::PublishRequest {
        identity: args.identity,
        feed: args.feed.to_string(),
        path,
        title: args.title,
        description: args.description,
        meta: args.meta,
        piece_size: args.piece_size,
        webseeds: args.webseeds,
        trackers: args.trackers,
        force_new_feed: args.force_new_feed,
    };
    let mut bar: Option<HashingBar> = None;
    let answer = client.publish(&request, |event| match event {
        PublishEvent::Started {
            total_bytes,
            skipped_symlinks,
        } => {
            note_symlinks(skipped_symlinks);
            bar = Some(HashingBar::new(*total_bytes));
        }
        PublishEvent::Hashed { bytes } => {
            if let Some(bar) = &bar {
                bar.set(*bytes);
            }
        }
        _ => {}
    });
    if let Some(bar) = &bar {
        bar.finish();
    }
    print(&answer?, args.json, data)
}

fn note_symlinks(links: &[PathBuf]) {
    for link in links {
        eprintln!(
            "note: skipped symlink {} (symlinks are not followed)",
            link.display()
        );
    }
}

/// With a node running on the data directory, the node signs the `delete` entry and takes
/// it in at once; without one, the command signs it on its own.
pub fn retract(args: RetractArgs, data: &Path) -> anyhow::Result<()> {
    if let Some(client) = super::node::control(data) {
        let request = RetractRequest {
            identity: args.identity,
            feed: args.feed.to_string(),
            seq: args.seq,
        };
        let answer = client.retract(&request)?;
        return print(&answer.into(), args.json, data);
    }
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

/// Hands what was committed here to a running node (seeded and announced at once), then
/// prints it. When the node could not take it in, the entry is still printed (it is
/// committed) and the command fails (exit 1) saying so.
fn report(data: &DataDir, published: &Published, json: bool) -> anyhow::Result<()> {
    let entry = published.entry.entry();
    let answer = match super::node::hand_over_to_node(data.root(), &published.identity, &entry.feed)
    {
        Ok(true) => PublishAnswer::of(
            published,
            data.node_info().as_ref().map(|n| n.public_url.as_str()),
        ),
        Ok(false) => PublishAnswer::of(published, None),
        Err(e) => PublishAnswer {
            not_taken_in: Some(e.to_string()),
            ..PublishAnswer::of(published, None)
        },
    };
    print(&answer, json, data.root())
}

/// Prints a committed entry; fails (after printing it) if the node did not take it in.
fn print(answer: &PublishAnswer, json: bool, data: &Path) -> anyhow::Result<()> {
    if json {
        let mut object = serde_json::json!({
            "identity": answer.identity,
            "feed": answer.feed,
            "seq": answer.seq,
            "kind": answer.kind,
            "entry_hash": answer.entry_hash,
        });
        if let Some(content) = &answer.content {
            object["infohash"] = content.infohash.clone().into();
            object["magnet"] = content.magnet.clone().into();
            object["torrent_path"] = content.torrent_path.display().to_string().into();
        }
        if let Some(url) = &answer.entry_url {
            object["entry_url"] = url.clone().into();
        }
        if let Some(url) = &answer.torrent_url {
            object["torrent_url"] = url.clone().into();
        }
        println!("{object}");
    } else {
        println!(
            "{} {}/{} #{}",
            answer.kind, answer.identity, answer.feed, answer.seq
        );
        if let Some(content) = &answer.content {
            println!("infohash: {}", content.infohash);
            println!("magnet: {}", content.magnet);
            println!("torrent: {}", content.torrent_path.display());
        }
        if let Some(url) = &answer.entry_url {
            println!("entry: {url}");
        }
    }
    match &answer.not_taken_in {
        None => Ok(()),
        Some(cause) => Err(NotTakenIn {
            identity: answer.identity.clone(),
            feed: answer.feed.clone(),
            seq: answer.seq,
            data: data.display().to_string(),
            cause: cause.clone(),
        }
        .into()),
    }
}

/// The running node could not take in a committed entry (its store refused it: a full disk,
/// say). The node takes in what the data directory holds at every start and every publish.
#[derive(Debug)]
pub struct NotTakenIn {
    identity: String,
    feed: String,
    seq: u64,
    data: String,
    cause: String,
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

/// An identity imported from a backup signs nothing until its feeds are synced (see
/// `publisher::restore`); `force` starts from what the data directory holds instead.
fn check_synced(data: &DataDir, identity: Option<&str>, force: bool) -> anyhow::Result<()> {
    let (_, keypair) = data.keystore().resolve(identity)?;
    Ok(publisher::restore::check_may_sign(
        data,
        &keypair.public(),
        force,
    )?)
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
