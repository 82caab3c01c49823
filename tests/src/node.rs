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
            .args(test_defaults(&options.args))
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

/// Short intervals for tests, unless `args` sets them itself (clap refuses a repeated flag).
fn test_defaults(args: &[String]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (flag, value) in [("--poll-interval", "2"), ("--republish-interval", "5")] {
        if !args
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        {
            out.extend([flag, value]);
        }
    }
    out.push("--allow-private-fetch");
    out
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

    /// Stops every node and starts a new one on each one's port: mainline keeps items and
    /// peers only in memory, so they come back empty (nodes bootstrapped from them can
    /// still reach them at the same addresses).
    pub fn restart(&mut self) {
        let ports: Vec<u16> = self.nodes.iter().map(|n| n.local_addr().port()).collect();
        for node in self.nodes.drain(..) {
            node.shutdown();
        }
        let first = ports[0];
        for (i, port) in ports.into_iter().enumerate() {
            let config = seeder::dht::DhtConfig {
                bind_address: std::net::Ipv4Addr::LOCALHOST,
                port,
                bootstrap: if i == 0 {
                    Vec::new()
                } else {
                    vec![format!("127.0.0.1:{first}")]
                },
                server_mode: true,
            };
            // The old node's thread releases its socket a moment after it is dropped.
            let node = wait_for(
                Duration::from_secs(10),
                "a DHT port to be free again",
                || seeder::dht::DhtNode::start(&config).ok(),
            );
            self.nodes.push(node);
        }
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

/// A plain HTTP/1.1 request on loopback: the status code and body of whatever answer comes
/// back (errors included), or `None` when nothing answers.
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Some((status, dechunk(&body)));
    }
    Some((status, body))
}

/// A temporary directory for one test, kept (and its path printed) when
/// `SWARMFEED_KEEP_TEST_DIRS` is set. Hold the guard for as long as the path is used.
pub fn test_root() -> (Option<tempfile::TempDir>, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    if std::env::var_os("SWARMFEED_KEEP_TEST_DIRS").is_some() {
        let root = tmp.keep();
        eprintln!("test files kept in {}", root.display());
        return (None, root);
    }
    let root = tmp.path().to_owned();
    (Some(tmp), root)
}

/// Writes `len` bytes of a deterministic, incompressible-looking pattern (xorshift).
pub fn write_pattern_file(path: &Path, len: u64, seed: u64) {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent dir");
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create file"));
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut buffer = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in buffer.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buffer.len() as u64) as usize;
        file.write_all(&buffer[..n]).expect("write file");
        left -= n as u64;
    }
    file.flush().expect("flush file");
}

/// `swarmfeed --data DATA publish PATH --title TITLE --json EXTRA…`: the printed object.
pub fn publish(data: &Path, path: &Path, title: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "--data",
        data.to_str().expect("UTF-8 path"),
        "publish",
        path.to_str().expect("UTF-8 path"),
        "--title",
        title,
        "--json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&crate::binary::swarmfeed_ok(&args)).expect("publish --json prints JSON")
}

/// `swarmfeed --data DATA follows --json`.
pub fn follows(data: &Path) -> serde_json::Value {
    serde_json::from_str(&crate::binary::swarmfeed_ok(&[
        "--data",
        data.to_str().expect("UTF-8 path"),
        "follows",
        "--json",
    ]))
    .expect("follows --json prints JSON")
}

/// The first follow of `follows --json`, if any.
pub fn first_follow(data: &Path) -> Option<serde_json::Value> {
    follows(data).as_array()?.first().cloned()
}

/// Whether two files, or two directory trees, hold the same names and the same bytes;
/// `Err` says where they differ.
pub fn same_tree(a: &Path, b: &Path) -> Result<(), String> {
    use std::io::Read;
    let (meta_a, meta_b) = (
        std::fs::metadata(a).map_err(|e| format!("{}: {e}", a.display()))?,
        std::fs::metadata(b).map_err(|e| format!("{}: {e}", b.display()))?,
    );
    if meta_a.is_dir() != meta_b.is_dir() {
        return Err(format!(
            "{} and {} differ in kind",
            a.display(),
            b.display()
        ));
    }
    if meta_a.is_dir() {
        let names = |dir: &Path| -> Result<Vec<std::ffi::OsString>, String> {
            let mut names = std::fs::read_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            names.sort();
            Ok(names)
        };
        let (names_a, names_b) = (names(a)?, names(b)?);
        if names_a != names_b {
            return Err(format!(
                "{} holds {names_a:?}, {} holds {names_b:?}",
                a.display(),
                b.display()
            ));
        }
        for name in names_a {
            same_tree(&a.join(&name), &b.join(&name))?;
        }
        return Ok(());
    }
    if meta_a.len() != meta_b.len() {
        return Err(format!(
            "{} has {} bytes, {} has {}",
            a.display(),
            meta_a.len(),
            b.display(),
            meta_b.len()
        ));
    }
    let open = |p: &Path| std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()));
    let (mut file_a, mut file_b) = (open(a)?, open(b)?);
    let (mut buf_a, mut buf_b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut offset = 0u64;
    loop {
        let n = file_a
            .read(&mut buf_a)
            .map_err(|e| format!("{}: {e}", a.display()))?;
        if n == 0 {
            return Ok(());
        }
        file_b
            .read_exact(&mut buf_b[..n])
            .map_err(|e| format!("{}: {e}", b.display()))?;
        if buf_a[..n] != buf_b[..n] {
            let at = buf_a[..n]
                .iter()
                .zip(&buf_b[..n])
                .position(|(x, y)| x != y)
                .unwrap_or(0) as u64;
            return Err(format!(
                "{} and {} differ at byte {}",
                a.display(),
                b.display(),
                offset + at
            ));
        }
        offset += n as u64;
    }
}

/// A port that was free a moment ago on 127.0.0.1 for both TCP and UDP (for programs that
/// cannot be told port 0, or whose port must be known beforehand, such as a tracker's).
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .expect("bind a TCP port");
        let port = tcp.local_addr().expect("local address").port();
        if std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// Runs `tests/python/NAME` with Debian's python3 (where python3-libtorrent lives), killing
/// it after `limit`. Returns whether it exited 0, and its stdout and stderr.
pub fn run_python(name: &str, args: &[String], limit: Duration) -> (bool, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name);
    run_with_limit(
        Command::new("/usr/bin/python3").arg(&script).args(args),
        limit,
    )
}

/// Runs a command with no standard input, killing it after `limit`. Returns whether it
/// exited 0, and its stdout and stderr.
pub fn run_with_limit(command: &mut Command, limit: Duration) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (stdout_path, stderr_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |path: &Path| {
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    };
    let (stdout, mut stderr) = (read(&stdout_path), read(&stderr_path));
    if status.is_none() {
        stderr.push_str(&format!("\nkilled after {limit:?}"));
    }
    (status.is_some_and(|s| s.success()), stdout, stderr)
}

/// One value of a node's `/metrics`.
pub fn metric(node: &NodeProcess, name: &str) -> Option<f64> {
    let text = String::from_utf8(http_get(&format!("{}/metrics", node.info.public_url))?).ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Debian's `opentracker` on 127.0.0.1 only (TCP and UDP), in whitelist mode (as Debian
/// builds it), serving the infohashes it was started with; stopped on drop.
pub struct Opentracker {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Opentracker {
    /// The binary, when installed (`apt-get install opentracker`).
    pub const BINARY: &'static str = "/usr/bin/opentracker";

    /// Starts it on `port` (see [`free_port`]) for `infohashes` (hex) and waits until it
    /// answers.
    pub fn start(port: u16, infohashes: &[&str]) -> Opentracker {
        let dir = tempfile::tempdir().expect("temp dir");
        // Run as root, opentracker chroots into `-d` and drops to `nobody`, who must read it.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod tracker dir");
        let mut list = infohashes.join("\n");
        list.push('\n');
        std::fs::write(dir.path().join("whitelist.txt"), list).expect("write whitelist");
        let log = std::fs::File::create(dir.path().join("log")).expect("tracker log");
        let port_text = port.to_string();
        let child = Command::new(Self::BINARY)
            .args(["-i", "127.0.0.1", "-p", &port_text, "-P", &port_text, "-d"])
            .arg(dir.path())
            // The path inside the chroot.
            .args(["-w", "/whitelist.txt"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("tracker log"))
            .stderr(log)
            .spawn()
            .expect("start /usr/bin/opentracker (apt-get install opentracker)");
        let mut tracker = Opentracker {
            child,
            port,
            _dir: dir,
        };
        wait_for(Duration::from_secs(10), "opentracker to answer", || {
            if let Ok(Some(status)) = tracker.child.try_wait() {
                panic!("opentracker exited early ({status}): {}", tracker.log());
            }
            http_request("GET", &format!("http://127.0.0.1:{port}/stats"), &[], b"").map(|_| ())
        });
        tracker
    }

    /// The announce URL for .torrent files.
    pub fn announce_url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("log")).unwrap_or_default()
    }

    /// How many seeders the tracker knows for `infohash` (a scrape: it adds no peer).
    pub fn seeders(&self, infohash: &str) -> Option<u64> {
        let bytes = hex::decode(infohash).expect("hex infohash");
        let escaped: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        let url = format!("http://127.0.0.1:{}/scrape?info_hash={escaped}", self.port);
        let (status, body) = http_request("GET", &url, &[], b"")?;
        if status != 200 {
            return None;
        }
        let at = body.windows(11).position(|w| w == b"8:completei")?;
        let rest = &body[at + 11..];
        let end = rest.iter().position(|b| *b == b'e')?;
        std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
    }
}

impl Drop for Opentracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer of a [`FakeNode`]: status, content type, body.
pub type FakeAnswer = (u16, &'static str, Vec<u8>);

/// A tiny HTTP/1.1 server on 127.0.0.1 standing in for a hostile node: `answer(method, path)`
/// decides every response (`None`: 404). It records every request line it is sent. Stops
/// when dropped.
pub struct FakeNode {
    pub url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeNode {
    pub fn start(
        answer: impl Fn(&str, &str) -> Option<FakeAnswer> + Send + Sync + 'static,
    ) -> FakeNode {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::atomic::Ordering;
        let listener =
            std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut length = 0usize;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length.min(1 << 20)];
                let _ = reader.read_exact(&mut body);
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                if let Ok(mut seen) = seen.lock() {
                    seen.push(format!("{method} {path}"));
                }
                let (status, content_type, body) = answer(method, path).unwrap_or((
                    404,
                    "application/json",
                    br#"{"error":"not_found","message":"nothing here"}"#.to_vec(),
                ));
                let mut stream = reader.into_inner();
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        FakeNode {
            url,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Every request line received so far (`GET /path`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
