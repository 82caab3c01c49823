//! Running `swarmfeed serve` as a real process on loopback, with any free ports.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use data_dir::NodeInfo;

use crate::binary::swarmfeed_bin;

// The harness's other helpers lived in this module once; test files still name them here.
pub use crate::commands::{first_follow, follows, publish};
pub use crate::dht::Testnet;
pub use crate::fake_node::{FakeAnswer, FakeNode};
pub use crate::files::{same_tree, test_root, write_pattern_file};
pub use crate::http::{http_get, http_request};
pub use crate::poll::wait_for;
pub use crate::process::{run_python, run_with_limit};
pub use crate::tracker::{Opentracker, free_port};

/// A node process with its own data directory; stopped (SIGTERM, then SIGKILL) on drop.
pub struct NodeProcess {
    pub child: Child,
    pub data: PathBuf,
    pub info: NodeInfo,
}

/// How a test node starts. Like a public node, it sends no request to a loopback or other
/// private address (the nodes of a test all live on 127.0.0.1): a test whose nodes must
/// talk HTTP to each other allows loopback itself in `args` (`--fetch-allow 127.0.0.0/8`)
/// and says why; the harness never does. It runs on the default poll (300 s) and republish (1800 s)
/// intervals, as users run nodes: new heads reach followers by push, by the DHT puts that
/// land on them, and by retries within seconds while a follow cannot resolve; a test that
/// needs shorter intervals passes them in `args` and says why.
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
                // The bound address: a test may give the node a public URL that is not.
                && http_get(&format!("http://{}/healthz", info.http)).is_some()
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

    /// POSTs a head (its bencoded bytes) to the node's `/api/v1/heads` as the node at `from`
    /// would push it: the status code and body of the answer.
    pub fn push_head(&self, head: &[u8], from: &str) -> (u16, Vec<u8>) {
        crate::http::http_request(
            "POST",
            &format!("{}/api/v1/heads", self.info.public_url),
            &[
                ("Content-Type", "application/x-bencode"),
                ("X-Swarmfeed-Node", from),
            ],
            head,
        )
        .expect("the node answers")
    }

    /// Stops the node with SIGKILL: no clean shutdown.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the node with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        // Already gone (killed and reaped): its pid may belong to another process by now.
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
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

/// One value of a node's `/metrics`.
pub fn metric(node: &NodeProcess, name: &str) -> Option<f64> {
    let text = String::from_utf8(http_get(&format!("{}/metrics", node.info.public_url))?).ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits until the counter `name` on the node's `/metrics` has grown by at least `more`
/// from its value now (at most `limit`): proof that the node did that many more rounds of
/// something (feed updates, scrub re-hashes), where a test would otherwise sleep and hope.
pub fn wait_for_more(node: &NodeProcess, name: &str, more: f64, limit: Duration) {
    let start = metric(node, name).unwrap_or_else(|| panic!("/metrics has no {name}"));
    crate::poll::wait_for(limit, &format!("{more} more {name}"), || {
        (metric(node, name)? >= start + more).then_some(())
    });
}
