//! The fixture of tests about one node on its own: identity "alice" in a temporary data
//! directory, a node on a DHT of its own, and ways to talk to its HTTP server.

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::commands::{new_identity, publish};
use crate::http::http_request;
use crate::node::{NodeOptions, NodeProcess};
use crate::raw_http::{self, RawAnswer};

/// A node with identity "alice", alone on a DHT of its own; its files live in `root`.
pub struct SoloNode {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub data: PathBuf,
    pub node: NodeProcess,
}

impl SoloNode {
    /// Creates alice in `root/data` and starts a node on it with extra `serve` arguments.
    pub fn start(args: &[&str]) -> SoloNode {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().to_owned();
        let data = root.join("data");
        new_identity(&data, "alice");
        let options = NodeOptions {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..NodeOptions::default()
        };
        let node = NodeProcess::start(&data, &options);
        SoloNode {
            _tmp: tmp,
            root,
            data,
            node,
        }
    }

    /// The node's public URL.
    pub fn url(&self) -> &str {
        &self.node.info.public_url
    }

    /// A raw connection to the node's HTTP server (reads give up after 30 s).
    pub fn connect(&self) -> TcpStream {
        raw_http::connect(self.node.info.http, Duration::from_secs(30))
    }

    /// One request on a new raw connection, without a body; the answer as it came.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> RawAnswer {
        let mut stream = self.connect();
        raw_http::send(&mut stream, method, path, headers, None).expect("send a request");
        raw_http::read_answer(&mut stream)
            .unwrap_or_else(|| panic!("no HTTP answer to {method} {path}"))
    }

    /// GET `path`: status and body as text.
    pub fn get(&self, path: &str) -> (u16, String) {
        let url = format!("{}{path}", self.url());
        let (status, body) =
            http_request("GET", &url, &[], b"").unwrap_or_else(|| panic!("no answer to {path}"));
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Writes `root/content/NAME` and publishes it offline with `title`: `publish --json`.
    pub fn publish_file(&self, name: &str, body: &[u8], title: &str) -> serde_json::Value {
        let path = self.root.join("content").join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create content dir");
        }
        std::fs::write(&path, body).expect("write content");
        publish(&self.data, &path, title, &[])
    }

    /// The node's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.node.child.id()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}
