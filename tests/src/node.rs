//! Running `swarmfeed serve` as a real process on loopback, with any free ports.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use publisher::data_dir::NodeInfo;

use crate::binary::swarmfeed_bin;

/// A node process with its own data directory; stopped (SIGTERM, then SIGKILL) on drop.
pub struct NodeProcess {
    pub child: Child,
    pub data: PathBuf,
    pub info: NodeInfo,
}

/// How a test node starts.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// DHT address to bootstrap from; `None` starts a network of its own.
    pub bootstrap: Option<String>,
    /// Extra `serve` arguments.
    pub args: Vec<String>,
}

impl NodeProcess {
    /// Starts `swarmfeed --data DATA serve` on 127.0.0.1 with port 0 everywhere and waits
    /// until it answers `/healthz`.
    pub fn start(data: &Path, options: &NodeOptions) -> NodeProcess {
        std::fs::create_dir_all(data).expect("create data dir");
        let _ = std::fs::remove_file(data.join("node.json"));
        let log = std::fs::File::create(data.join("node.log")).expect("create node log");
        let mut command = Command::new(swarmfeed_bin());
        command
            .arg("--data")
            .arg(data)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--bind-ip",
                "127.0.0.1",
                "--bt-port",
                "0",
                "--dht-port",
                "0",
            ])
            .args([
                "--poll-interval",
                "2",
                "--republish-interval",
                "5",
                "--allow-private-fetch",
            ])
            .arg("--dht-bootstrap")
            .arg(options.bootstrap.as_deref().unwrap_or("none"))
            .args(&options.args)
            .env(
                "SWARMFEED_LOG",
                std::env::var("SWARMFEED_TEST_LOG")
                    .unwrap_or_else(|_| "info,seeder=debug,librqbit=warn,mainline=warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log);
        let child = command.spawn().expect("start swarmfeed serve");
        let mut node = NodeProcess {
            child,
            data: data.to_owned(),
            info: placeholder(),
        };
        node.info = node.wait_for_info(Duration::from_secs(60));
        node
    }

    fn wait_for_info(&mut self, limit: Duration) -> NodeInfo {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("node exited early ({status}); log:\n{}", self.log());
            }
            if let Some(info) = std::fs::read(self.data.join("node.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<NodeInfo>(&b).ok())
                && http_get(&format!("{}/healthz", info.public_url)).is_some()
            {
                return info;
            }
            assert!(
                start.elapsed() < limit,
                "node did not come up within {limit:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("node.log")).unwrap_or_default()
    }

    /// The `host:port` others bootstrap their DHT from.
    pub fn dht_address(&self) -> String {
        self.info.dht.to_string()
    }

    /// Stops the node with SIGKILL: no clean shutdown.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the node with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log
                .lines()
                .filter(|l| !l.contains("rcv buf") && !l.contains("not in the engine"))
                .collect();
            let tail = &tail[tail.len().saturating_sub(60)..];
            eprintln!(
                "--- last lines of the log of the node on {} ---\n{}",
                self.data.display(),
                tail.join("\n")
            );
        }
    }
}

fn placeholder() -> NodeInfo {
    NodeInfo {
        pid: 0,
        http: ([127, 0, 0, 1], 0).into(),
        public_url: String::new(),
        bt_port: 0,
        dht: ([127, 0, 0, 1], 0).into(),
        control: PathBuf::new(),
    }
}

/// A private DHT of plain mainline nodes on 127.0.0.1 (not swarmfeed nodes): they store
/// items and peers like any DHT node. Nodes under test bootstrap from [`Testnet::bootstrap`].
pub struct Testnet {
    pub nodes: Vec<seeder::dht::DhtNode>,
}

impl Testnet {
    pub fn new(size: usize) -> Testnet {
        let config = |bootstrap: Vec<String>| seeder::dht::DhtConfig {
            bind_address: std::net::Ipv4Addr::LOCALHOST,
            port: 0,
            bootstrap,
            server_mode: true,
        };
        let first = seeder::dht::DhtNode::start(&config(Vec::new())).expect("start DHT node");
        let mut nodes = vec![first];
        for _ in 1..size {
            let bootstrap = vec![nodes[0].bootstrap_address()];
            nodes.push(seeder::dht::DhtNode::start(&config(bootstrap)).expect("start DHT node"));
        }
        Testnet { nodes }
    }

    /// The address nodes under test bootstrap from.
    pub fn bootstrap(&self) -> String {
        self.nodes[0].bootstrap_address()
    }
}

/// A plain HTTP/1.1 GET on loopback; the body of a 200 answer.
pub fn http_get(url: &str) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]);
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    let body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Some(dechunk(&body));
    }
    Some(body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|s| *s > 0) else {
            break;
        };
        let start = line_end + 2;
        if body.len() < start + size {
            break;
        }
        out.extend_from_slice(&body[start..start + size]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `limit` with `what`.
pub fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
