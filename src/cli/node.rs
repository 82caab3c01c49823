//! `swarmfeed serve`, and `follow`, `unfollow`, `follows`, which talk to the running node
//! through its control socket, or edit the store directly when no node runs.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use data_dir::DataDir;
use feeds::{FeedName, IdentityKey};
use http_server::ApiError;
use seeder::config::NodeConfig;
use seeder::node::api::{Actor, OfflineApi};
use seeder::node::{
    CapValue, ControlClient, ControlError, FollowRequest, FollowView, Node, PublishedRequest,
};
use store::Store;

use super::InputError;

/// Run a node: seed what this data directory published, follow feeds, serve HTTP.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML config file (every field optional; see README).
    #[arg(long, value_name = "FILE", env = "SWARMFEED_CONFIG")]
    config: Option<PathBuf>,
    /// HTTP listen address [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR", env = "SWARMFEED_LISTEN")]
    listen: Option<SocketAddr>,
    /// The URL others reach this node at [default: http://LISTEN].
    #[arg(long, value_name = "URL", env = "SWARMFEED_PUBLIC_URL")]
    public_url: Option<String>,
    /// The address BitTorrent and the DHT bind to [default: 0.0.0.0].
    #[arg(long, value_name = "IP", env = "SWARMFEED_BIND_IP")]
    bind_ip: Option<Ipv4Addr>,
    /// BitTorrent TCP port; 0 picks any free port [default: 6881].
    #[arg(long, value_name = "N", env = "SWARMFEED_BT_PORT")]
    bt_port: Option<u16>,
    /// DHT UDP port; 0 picks any free port [default: 6882; the BitTorrent port also takes UDP, for uTP].
    #[arg(long, value_name = "N", env = "SWARMFEED_DHT_PORT")]
    dht_port: Option<u16>,
    /// DHT bootstrap nodes, HOST:PORT,…; `none` starts a network of its own
    /// [default: the public BitTorrent DHT routers].
    #[arg(long, value_name = "LIST", env = "SWARMFEED_DHT_BOOTSTRAP")]
    dht_bootstrap: Option<String>,
    /// Keep seeding and serving content its publisher retracted.
    #[arg(long)]
    archive: bool,
    /// Seconds between DHT polls of followed feeds [default: 300].
    #[arg(long, value_name = "SECS", env = "SWARMFEED_POLL_INTERVAL")]
    poll_interval: Option<u64>,
    /// Seconds between republishing heads to the DHT [default: 1800].
    #[arg(long, value_name = "SECS", env = "SWARMFEED_REPUBLISH_INTERVAL")]
    republish_interval: Option<u64>,
    /// Do not push new heads to followers (they still poll the DHT).
    #[arg(long)]
    no_push: bool,
    /// Allow fetching from private and loopback addresses (tests, LANs).
    #[arg(long, env = "SWARMFEED_ALLOW_PRIVATE_FETCH")]
    allow_private_fetch: bool,
    /// Networks the node may fetch from although not public, CIDR,… (a LAN, e.g.
    /// 10.0.0.0/8,fd00::/8); `none` for none [default: none].
    #[arg(long, value_name = "LIST", env = "SWARMFEED_FETCH_ALLOW")]
    fetch_allow: Option<String>,
    /// Where followed content is downloaded [default: DATA/downloads].
    #[arg(long, value_name = "DIR", env = "SWARMFEED_DOWNLOAD_DIR")]
    download_dir: Option<PathBuf>,
    /// Most bytes of followed content held over every follow (e.g. 500GiB) [default: no cap].
    #[arg(long, value_name = "SIZE", env = "SWARMFEED_MAX_BYTES", value_parser = super::size::parse_size)]
    max_bytes: Option<u64>,
    /// Most files of followed content held over every follow [default: no cap].
    #[arg(long, value_name = "N", env = "SWARMFEED_MAX_FILES")]
    max_files: Option<u64>,
    /// Most torrent files the engine keeps open at once [default: 512, or a quarter of the
    /// open-file limit if lower].
    #[arg(long, value_name = "N", env = "SWARMFEED_MAX_OPEN_FILES")]
    max_open_files: Option<u64>,
    /// BitTorrent protocol encryption (MSE/PE): disabled, enabled (accept both) or forced
    /// (encrypted only) [default: enabled].
    #[arg(long, value_name = "MODE", env = "SWARMFEED_ENCRYPTION")]
    encryption: Option<engine::Encryption>,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// The `[gateway]` table's overrides.
#[derive(Debug, Args)]
struct GatewayArgs {
    /// Items in each feed export (RSS, Atom, JSON Feed) [default: 50].
    #[arg(long, value_name = "N", env = "SWARMFEED_EXPORT_ITEMS")]
    export_items: Option<u32>,
    /// Bytes of rendered pages kept in memory; 0 turns the cache off [default: 67108864].
    #[arg(long, value_name = "BYTES", env = "SWARMFEED_CACHE_BYTES")]
    cache_bytes: Option<u64>,
    /// Seconds a client has to send a request's headers (also closes idle keep-alive
    /// connections) [default: 10].
    #[arg(long, value_name = "SECS", env = "SWARMFEED_HEADER_TIMEOUT")]
    header_timeout: Option<u64>,
    /// Seconds a client has to send a request's body after its head; later gets 408
    /// [default: the header timeout].
    #[arg(long, value_name = "SECS", env = "SWARMFEED_BODY_TIMEOUT")]
    body_timeout: Option<u64>,
    /// Seconds an answer waits for a client that reads nothing [default: 60].
    #[arg(long, value_name = "SECS", env = "SWARMFEED_WRITE_TIMEOUT")]
    write_timeout: Option<u64>,
    /// HTTP connections served at once; more wait in the accept queue [default: 2048].
    #[arg(long, value_name = "N", env = "SWARMFEED_MAX_CONNECTIONS")]
    max_connections: Option<u32>,
    /// Largest request head in bytes, at least 8192; larger gets 431 [default: 32768].
    #[arg(long, value_name = "BYTES", env = "SWARMFEED_MAX_HEADER_BYTES")]
    max_header_bytes: Option<u32>,
    /// Who may read /metrics: public, loopback, token (Authorization: Bearer, the token in
    /// SWARMFEED_METRICS_TOKEN or the config) or off [default: loopback].
    #[arg(long, value_name = "WHO", env = "SWARMFEED_METRICS")]
    metrics: Option<http_server::MetricsAccess>,
    /// The bearer token of `--metrics token` (from the environment only: flags show in `ps`).
    #[arg(skip = std::env::var("SWARMFEED_METRICS_TOKEN").ok())]
    metrics_token: Option<String>,
}

impl GatewayArgs {
    fn apply(self, config: &mut http_server::GatewayConfig) {
        let set = |field: &mut u64, value: Option<u64>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        set(&mut config.cache_bytes, self.cache_bytes);
        set(&mut config.header_timeout_secs, self.header_timeout);
        set(&mut config.write_timeout_secs, self.write_timeout);
        if self.body_timeout.is_some() {
            config.body_timeout_secs = self.body_timeout;
        }
        if let Some(n) = self.export_items {
            config.export_items = n;
        }
        if let Some(n) = self.max_connections {
            config.max_connections = n;
        }
        if let Some(n) = self.max_header_bytes {
            config.max_header_bytes = n;
        }
        if let Some(who) = self.metrics {
            config.metrics = who;
        }
        if self.metrics_token.is_some() {
            config.metrics_token = self.metrics_token;
        }
    }
}

impl ServeArgs {
    fn into_config(self, data: Option<&Path>) -> anyhow::Result<NodeConfig> {
        let mut config = match &self.config {
            Some(path) => NodeConfig::from_file(path)?,
            None => NodeConfig::default(),
        };
        if let Some(data) = data {
            config.data_dir = data.to_owned();
        }
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if self.public_url.is_some() {
            config.public_url = self.public_url;
        }
        if let Some(ip) = self.bind_ip {
            config.bind_ip = ip;
        }
        if let Some(port) = self.bt_port {
            config.bt_port = port;
        }
        if let Some(port) = self.dht_port {
            config.dht_port = port;
        }
        if let Some(list) = self.dht_bootstrap {
            config.dht_bootstrap = match list.trim() {
                "none" | "" => Vec::new(),
                list => list.split(',').map(|s| s.trim().to_owned()).collect(),
            };
        }
        config.archive |= self.archive;
        if let Some(secs) = self.poll_interval {
            config.poll_interval_secs = secs;
        }
        if let Some(secs) = self.republish_interval {
            config.republish_interval_secs = secs;
        }
        config.push &= !self.no_push;
        config.allow_private_fetch |= self.allow_private_fetch;
        if let Some(list) = self.fetch_allow {
            config.fetch_allow = super::fetch::parse_networks(&list)?;
        }
        if self.download_dir.is_some() {
            config.download_dir = self.download_dir;
        }
        if self.max_bytes.is_some() {
            config.limits.max_bytes = self.max_bytes;
        }
        if self.max_files.is_some() {
            config.limits.max_files = self.max_files;
        }
        if self.max_open_files.is_some() {
            config.limits.max_open_files = self.max_open_files;
        }
        if let Some(encryption) = self.encryption {
            config.encryption = encryption;
        }
        self.gateway.apply(&mut config.gateway);
        Ok(config)
    }
}

pub fn serve(args: ServeArgs, data: Option<&Path>) -> anyhow::Result<()> {
    let config = args.into_config(data)?;
    let data = config.data_dir.clone();
    init_logging();
    match engine::raise_open_file_limit() {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    let runtime = engine::runtime().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let node = Node::start(config, gateway::router).await?;
        println!(
            "swarmfeed node serving {} (data in {})",
            node.handle().public_url,
            data.display()
        );
        wait_for_signal().await;
        tracing::info!("shutting down");
        node.shutdown().await;
        Ok(())
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub(super) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWARMFEED_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,librqbit=warn,mainline=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(http_server::log::NodeLogWriter)
        .try_init();
}

/// Follow feeds: `KEY/FEED` one feed, a bare `KEY` every feed of the identity.
#[derive(Debug, Args)]
pub struct FollowArgs {
    /// `KEY` or `KEY/FEED` (KEY: the 52-character identity id).
    target: String,
    /// Most bytes this follow may hold (e.g. 10GiB; `none`: no cap). Following again with
    /// another value changes it.
    #[arg(long, value_name = "SIZE", value_parser = parse_cap_size)]
    max_bytes: Option<CapValue>,
    /// Most files this follow may hold (`none`: no cap).
    #[arg(long, value_name = "N", value_parser = parse_cap_count)]
    max_files: Option<CapValue>,
}

fn parse_cap_size(text: &str) -> Result<CapValue, String> {
    match text.trim() {
        "none" => Ok(CapValue::Word("none".into())),
        size => super::size::parse_size(size).map(CapValue::Limit),
    }
}

fn parse_cap_count(text: &str) -> Result<CapValue, String> {
    match text.trim() {
        "none" => Ok(CapValue::Word("none".into())),
        count => count
            .parse()
            .map(CapValue::Limit)
            .map_err(|_| format!("{count:?} is not a number of files (or none)")),
    }
}

/// Stop following.
#[derive(Debug, Args)]
pub struct UnfollowArgs {
    /// `KEY` or `KEY/FEED`, as followed.
    target: String,
    /// Also delete downloaded content that no other follow names.
    #[arg(long)]
    delete: bool,
}

/// List follows with their status.
#[derive(Debug, Args)]
pub struct FollowsArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn parse_target(text: &str) -> anyhow::Result<(IdentityKey, Option<FeedName>)> {
    let (key, feed) = match text.split_once('/') {
        Some((key, feed)) => (key, Some(feed)),
        None => (text, None),
    };
    let key: IdentityKey = key
        .parse()
        .map_err(|e| InputError(format!("{key:?}: {e}")))?;
    let feed = feed
        .map(FeedName::new)
        .transpose()
        .map_err(|e| InputError(e.to_string()))?;
    Ok((key, feed))
}

pub fn control(data: &Path) -> Option<ControlClient> {
    ControlClient::connect(&DataDir::new(data).control_socket()).ok()
}

/// The node's API over the data directory's store, for edits while no node runs. What it
/// refuses as a bad request is a problem with what the user typed (exit code 3).
pub(super) fn offline_api<T>(
    data: &Path,
    f: impl AsyncFnOnce(OfflineApi) -> Result<T, ApiError>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        data_dir::create_dir(data)?;
        let store = Store::open(DataDir::new(data).store_path()).await?;
        f(OfflineApi::new(store)).await.map_err(|e| {
            if e.status().is_client_error() {
                InputError(e.message().to_owned()).into()
            } else {
                anyhow::Error::new(e)
            }
        })
    })
}

/// An error of the API run without a node, as the command reports it: what it refuses as
/// a bad request is a problem with what the user typed (exit code 3), anything else a
/// failure (exit code 1); the message as the node would answer it.
pub(super) fn api_error(e: ApiError) -> anyhow::Error {
    if e.status().is_client_error() {
        InputError(e.message().to_owned()).into()
    } else {
        anyhow::anyhow!("{}", e.message())
    }
}

pub fn follow(args: FollowArgs, data: &Path) -> anyhow::Result<()> {
    let (key, feed) = parse_target(&args.target)?;
    let request = FollowRequest {
        identity: key.to_string(),
        feed: feed.as_ref().map(|f| f.to_string()),
        max_bytes: args.max_bytes.clone(),
        max_files: args.max_files.clone(),
        ..FollowRequest::default()
    };
    let new = match control(data) {
        Some(client) => client.follow(&request)?.new,
        None => offline_api(data, async |api| {
            Ok(api.follow(&Actor::Operator, request).await?.new)
        })?,
    };
    let what = feed.map_or_else(|| format!("{key} (every feed)"), |f| format!("{key}/{f}"));
    println!(
        "{} {what}",
        if new {
            "following"
        } else {
            "already following"
        }
    );
    Ok(())
}

pub fn unfollow(args: UnfollowArgs, data: &Path) -> anyhow::Result<()> {
    let (key, feed) = parse_target(&args.target)?;
    let request = FollowRequest {
        identity: key.to_string(),
        feed: feed.as_ref().map(|f| f.to_string()),
        delete: args.delete,
        ..FollowRequest::default()
    };
    let removed = match control(data) {
        Some(client) => client.unfollow(&request)?.removed,
        None => {
            if args.delete {
                return Err(InputError(
                    "--delete needs the node running (it removes the files it seeds)".into(),
                )
                .into());
            }
            offline_api(data, async |api| {
                Ok(api.unfollow(&Actor::Operator, request).await?.removed)
            })?
        }
    };
    if !removed {
        return Err(InputError(format!("not following {}", args.target)).into());
    }
    println!("unfollowed {}", args.target);
    Ok(())
}

pub fn follows(args: FollowsArgs, data: &Path) -> anyhow::Result<()> {
    let list: Vec<FollowView> = match control(data) {
        Some(client) => client.follows()?,
        None => offline_api(data, async |api| Ok(api.follows().await?))?,
    };
    if args.json {
        println!("{}", serde_json::to_string(&list)?);
        return Ok(());
    }
    if list.is_empty() {
        println!("no follows (swarmfeed follow KEY[/FEED])");
    }
    for f in &list {
        let target = match &f.feed {
            Some(feed) => format!("{}/{feed}", f.identity),
            None => format!("{} (every feed)", f.identity),
        };
        println!(
            "{target}\n  entries {}  torrents {}/{} complete  {}/{} bytes  last update {}{}",
            f.entries,
            f.complete,
            f.torrents,
            f.have_bytes,
            f.total_bytes,
            f.last_update.map_or("never".to_owned(), |t| t.to_string()),
            f.last_error
                .as_ref()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default(),
        );
        if let Some(line) = caps_line(f) {
            println!("  {line}");
        }
    }
    Ok(())
}

/// `caps 10 MiB, 4 files: 8 MiB, 3 files held  over_limit: 2 torrents (5 MiB) wait: …`
fn caps_line(f: &FollowView) -> Option<String> {
    use super::size::format_size;
    if f.max_bytes.is_none() && f.max_files.is_none() && f.over_limit.is_none() {
        return None;
    }
    let caps: Vec<String> = [
        f.max_bytes.map(format_size),
        f.max_files.map(|n| format!("{n} files")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut line = format!(
        "caps {}: {}, {} files held or downloading",
        if caps.is_empty() {
            "none (node caps only)".to_owned()
        } else {
            caps.join(", ")
        },
        format_size(f.reserved_bytes),
        f.reserved_files,
    );
    if let Some(over) = &f.over_limit {
        line.push_str(&format!(
            "\n  over_limit: {} torrents ({}) wait: {}",
            over.torrents,
            format_size(over.bytes),
            over.reason.as_deref().unwrap_or("over a cap"),
        ));
    }
    Some(line)
}

/// Tells the node running on `data` (if any) to take in what was just committed to
/// `identity`/`feed`; an error when the node could not.
pub fn hand_over_to_node(
    data: &Path,
    identity: &feeds::IdentityKey,
    feed: &feeds::FeedName,
) -> Result<bool, ControlError> {
    let request = PublishedRequest {
        identity: identity.to_string(),
        feed: feed.to_string(),
    };
    match control(data) {
        Some(client) => client.published(&request).map(|()| true),
        None => Ok(false),
    }
}
