//! Debian's opentracker on loopback, and free ports for programs that must be told theirs.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::http::http_request;
use crate::poll::wait_for;

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
