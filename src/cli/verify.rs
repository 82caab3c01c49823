//! `swarmfeed verify`: fetch a feed from wherever it can be found (DHT, other nodes, the
//! swarm) and print the verdict. Through the running node when there is one (it lends its
//! DHT); else the command starts a fetcher of its own (no listener, no control socket,
//! nothing kept). Either way the node API's verify (`seeder::node::api`) does it.

use anyhow::Context;
use clap::Args;
use data_dir::DataDir;
use seeder::node::api::{Verdict, VerifyRequest, verify_without_node};

use super::InputError;
use super::fetch::FetchArgs;
use super::node::{api_error, control, init_logging, parse_target};

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
    let request = |bootstrap| -> Result<VerifyRequest, InputError> {
        Ok(VerifyRequest {
            identity: key.to_string(),
            feed: feed.to_string(),
            fetch: args.fetch.options(bootstrap)?,
        })
    };
    let verdict = match control(data) {
        Some(client) => client.verify(&request(args.fetch.given_bootstrap())?)?,
        None => {
            let request = request(Some(args.fetch.bootstrap(&DataDir::new(data))))?;
            init_logging();
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime
                .block_on(verify_without_node(request))
                .map_err(api_error)?
        }
    };
    match verdict {
        Verdict::Forked { seq } => Err(InputError(format!(
            "invalid: {key}/{feed} forked at seq {seq} (two different signed entries); it is frozen at entry {}, the last agreed one",
            seq.saturating_sub(1)
        ))
        .into()),
        Verdict::Valid {
            verified_seq,
            head_seq,
        } => {
            println!(
                "valid: {key}/{feed}: {verified_seq} entries verified (signatures, chain, head at seq {head_seq})"
            );
            Ok(())
        }
    }
}
