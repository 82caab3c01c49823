//! `swarmfeed verify`: fetch a feed from wherever it can be found (DHT, other nodes, the
//! swarm) and print the verdict. It starts a fetcher of its own (`seeder::node::FetchNode`),
//! not a node: no listener, no control socket, nothing kept.

use anyhow::Context;
use clap::Args;
use data_dir::DataDir;
use seeder::node::{FetchNode, Verdict, verify_feed};

use super::InputError;
use super::fetch::FetchArgs;
use super::node::{init_logging, parse_target};

/// Fetch a feed from wherever it can be found (DHT, other nodes) and print the verdict.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// `KEY/FEED`.
    target: String,
    #[command(flatten)]
    fetch: FetchArgs,
}

pub fn verify(args: VerifyArgs, data: &std::path::Path) -> anyhow::Result<()> {
    let (key, feed) = parse_target(&args.target)?;
    let feed = feed.ok_or_else(|| InputError("verify needs KEY/FEED".into()))?;
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let bootstrap = args.fetch.bootstrap(&DataDir::new(data));
    let config = args.fetch.fetch_config(bootstrap, scratch.path())?;
    init_logging();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let fetcher = FetchNode::start(config).await?;
        let limit = std::time::Duration::from_secs(180);
        let result = tokio::time::timeout(
            limit,
            verify_feed(&fetcher.fetcher(), &key, &feed, &args.fetch.nodes),
        )
        .await;
        fetcher.shutdown().await;
        match result {
            Err(_) => Err(anyhow::anyhow!(
                "no verdict within {limit:?}: the feed was not found"
            )),
            Ok(Err(e)) => Err(InputError(format!("invalid: {key}/{feed}: {e}")).into()),
            Ok(Ok(Verdict::Forked { seq })) => Err(InputError(format!(
                "invalid: {key}/{feed} forked at seq {seq} (two different signed entries); it is frozen at entry {}, the last agreed one",
                seq.saturating_sub(1)
            ))
            .into()),
            Ok(Ok(Verdict::Valid {
                verified_seq,
                head_seq,
            })) => {
                println!(
                    "valid: {key}/{feed}: {verified_seq} entries verified (signatures, chain, head at seq {head_seq})"
                );
                Ok(())
            }
        }
    })
}
