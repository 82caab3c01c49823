//! `swarmfeed search QUERY`: asks the running node through its control socket (`GET
//! /search`, the node API's search), or, when no node runs, the offline API over the store
//! (the same search; peers seen by an engine are then unknown).

use std::path::Path;

use clap::Args;
use data_dir::DataDir;
use seeder::node::ControlError;
use seeder::node::api::search::{Span, own_names};
use seeder::node::api::{SearchAnswer, SearchRequest};

use super::InputError;
use super::node::{control, offline_api};
use super::size::{format_size, parse_size};

/// Search every entry this node holds: titles, descriptions, metadata and file names.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The words (three letters or more match anywhere; `word*` a word's start; shorter
    /// words whole words).
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Only entries of this identity (its id).
    #[arg(long, value_name = "ID")]
    identity: Option<String>,
    /// Only this feed of --identity.
    #[arg(long, value_name = "NAME", requires = "identity")]
    feed: Option<String>,
    /// Only entries of this kind (post, list, …).
    #[arg(long)]
    kind: Option<String>,
    /// Only entries holding a file with this extension (mkv, flac, …).
    #[arg(long, value_name = "EXT")]
    ext: Option<String>,
    /// Content of at least this size (bytes, or 700MiB, 1GiB, …).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    min_size: Option<u64>,
    /// Content of at most this size.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_size: Option<u64>,
    /// Entries from this day (YYYY-MM-DD, UTC) or Unix second on.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Entries up to this day (inclusive) or Unix second.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Newest first instead of by relevance.
    #[arg(long)]
    newest: bool,
    /// At most this many results (1 to 200).
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: u32,
    /// Print the answer as JSON (the same as the gateway's /api/v1/search).
    #[arg(long)]
    json: bool,
}

pub fn search_command(args: SearchArgs, data: &Path) -> anyhow::Result<()> {
    let request = SearchRequest {
        q: args.query.join(" "),
        identity: args.identity,
        feed: args.feed,
        kind: args.kind,
        ext: args.ext,
        min_size: args.min_size.map(|n| n.to_string()),
        max_size: args.max_size.map(|n| n.to_string()),
        since: args.since,
        until: args.until,
        order: args.newest.then(|| "newest".to_owned()),
        limit: Some(args.limit.to_string()),
    };
    let answer: SearchAnswer = match control(data) {
        Some(client) => match client.search(&request) {
            Ok(answer) => answer,
            // The node's 400s (bad_query, bad_limit, …) are the user's input.
            Err(ControlError::Node {
                status: 400,
                error,
                message,
            }) => return Err(InputError(format!("{message} ({error})")).into()),
            Err(e) => return Err(e.into()),
        },
        None => {
            let own = own_names(&DataDir::new(data));
            offline_api(data, async |api| api.search(&own, &request).await)?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&answer)?);
        return Ok(());
    }
    if answer.hits.is_empty() {
        println!("no entry matches");
    }
    for hit in &answer.hits {
        let by = hit.display_name.as_deref().unwrap_or(&hit.identity);
        println!("{}", plain(&hit.snippet));
        println!(
            "  {}/{}/{}  {} by {by}{}",
            hit.identity,
            hit.feed,
            hit.seq,
            hit.kind,
            hit.size
                .map(|s| format!(", {}", format_size(s)))
                .unwrap_or_default()
        );
        for file in &hit.files {
            println!("  file: {}", plain(file));
        }
        if let Some(peers) = &hit.health.engine {
            println!(
                "  swarm: {} connected, {} known (this node's engine){}",
                peers.connected,
                peers.known,
                if peers.seeding { ", seeded here" } else { "" }
            );
        }
    }
    if answer.truncated {
        println!("(many entries match: the best of the most recently indexed are shown)");
    }
    Ok(())
}

/// A snippet as terminal text: control and bidirectional characters written out, so a
/// hostile title cannot move the cursor or reorder what follows.
fn plain(spans: &[Span]) -> String {
    let text: String = spans.iter().map(|s| s.text.as_str()).collect();
    publisher::torrent::portable_name::visible(&text).into_owned()
}
