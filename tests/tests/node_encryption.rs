//! Stock clients set to require protocol encryption (MSE/PE) download what a node publishes:
//! libtorrent as qBittorrent's "require encryption" sets it, and `transmission-cli -er`.
//! Without MSE in the engine neither can connect at all. Everything on 127.0.0.1, or (for
//! Transmission, which ignores loopback peers) in a network namespace the test creates.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::binary::swarmfeed_bin;
use tests::commands::new_identity;
use tests::netns::NetNs;
use tests::node::{
    NodeOptions, NodeProcess, Opentracker, free_port, publish, run_python, test_root, wait_for,
    write_pattern_file,
};
use tests::poll::poll_for;

/// How long a stock client gets for one download.
const CLIENT_LIMIT: Duration = Duration::from_secs(40);

#[test]
fn libtorrent_requiring_encryption_downloads_a_published_entry() {
    let (_guard, root) = test_root();
    let (a, content, save) = (root.join("a"), root.join("content"), root.join("lt"));
    std::fs::create_dir_all(&save).unwrap();
    write_pattern_file(&content.join("talk.bin"), 3 << 20, 41);
    new_identity(&a, "alice");
    // The node on its defaults: encryption enabled.
    let node = NodeProcess::start(&a, &NodeOptions::default());
    let published = publish(&a, &content.join("talk.bin"), "A talk", &[]);
    let infohash = published["infohash"].as_str().unwrap().to_owned();
    let torrent = a.join("torrents").join(format!("{infohash}.torrent"));

    let started = Instant::now();
    let (ok, stdout, stderr) = run_python(
        "lt_download_from_peer.py",
        &[
            torrent.display().to_string(),
            save.display().to_string(),
            format!("127.0.0.1:{}", node.info.bt_port),
            CLIENT_LIMIT.as_secs().to_string(),
            "forced".into(),
        ],
        CLIENT_LIMIT + Duration::from_secs(15),
    );
    println!(
        "libtorrent (encryption forced): {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        stdout.trim()
    );
    assert!(
        ok,
        "libtorrent requiring encryption did not download from the node.\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n--- node log (tail) ---\n{}",
        tail(&node.log(), 30)
    );
    assert!(
        std::fs::read(save.join("talk.bin")).unwrap()
            == std::fs::read(content.join("talk.bin")).unwrap(),
        "downloaded bytes differ"
    );
}

/// A process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(command: &mut Command, log: &Path) -> Killed {
    let log = std::fs::File::create(log).unwrap();
    Killed(
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}")),
    )
}

#[test]
fn transmission_requiring_encryption_downloads_a_published_entry() {
    // Transmission ignores peers on 127.0.0.0/8 and cannot be told of a peer but through a
    // tracker: the node, opentracker and Transmission run in a network namespace of the
    // test's own, on private addresses of its `lo`: Transmission keeps one peer per address,
    // so it takes an address of its own.
    let ns = NetNs::new("10.93.0.1");
    let ip = ns.ip().to_owned();
    let transmission_ip = "10.93.0.2";
    ns.add_ip(transmission_ip);
    let (_guard, root) = test_root();
    let (a, content, save) = (root.join("a"), root.join("content"), root.join("tr"));
    std::fs::create_dir_all(&save).unwrap();
    write_pattern_file(&content.join("album.bin"), 3 << 20, 42);
    new_identity(&a, "alice");
    // Published before the node runs, the torrent names the tracker and no web seed (the
    // node's gateway), so the node's BitTorrent port is Transmission's only source.
    let tracker_port = free_port();
    let announce = format!("http://{ip}:{tracker_port}/announce");
    let published = publish(
        &a,
        &content.join("album.bin"),
        "An album",
        &["--tracker", &announce],
    );
    let infohash = published["infohash"].as_str().unwrap().to_owned();
    let tracker_dir = root.join("tracker");
    std::fs::create_dir_all(&tracker_dir).unwrap();
    // Run as root, opentracker chroots into `-d` and drops to `nobody`, who must read it.
    std::fs::set_permissions(
        &tracker_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(tracker_dir.join("whitelist.txt"), format!("{infohash}\n")).unwrap();
    let port = tracker_port.to_string();
    let _tracker = spawn(
        ns.command(Opentracker::BINARY)
            .args(["-i", &ip, "-p", &port, "-P", &port, "-d"])
            .arg(&tracker_dir)
            .args(["-w", "/whitelist.txt"]),
        &root.join("tracker.log"),
    );

    // This node requires encryption, set in its TOML config.
    let config = root.join("node.toml");
    std::fs::write(&config, "encryption = \"forced\"\n").unwrap();
    let node_log = root.join("node.log");
    let _node = spawn(
        ns.command(swarmfeed_bin())
            .arg("--data")
            .arg(&a)
            .args(["serve", "--listen", &format!("{ip}:0"), "--bind-ip", &ip])
            .args([
                "--bt-port",
                "0",
                "--dht-port",
                "0",
                "--dht-bootstrap",
                "none",
            ])
            .arg("--config")
            .arg(&config)
            .env("SWARMFEED_LOG", "info,librqbit=debug"),
        &node_log,
    );
    wait_for(Duration::from_secs(30), "the node to start", || {
        std::fs::read(a.join("node.json")).ok()
    });

    // Transmission's own settings: no DHT, LSD, PEX or port mapping.
    let config_dir = root.join("transmission");
    std::fs::create_dir_all(&config_dir).unwrap();
    let settings = serde_json::json!({
        "dht-enabled": false,
        "lpd-enabled": false,
        "pex-enabled": false,
        "port-forwarding-enabled": false,
        "bind-address-ipv4": transmission_ip,
        "rpc-enabled": false,
        "message-level": 2,
    });
    std::fs::write(config_dir.join("settings.json"), settings.to_string()).unwrap();
    let torrent = a.join("torrents").join(format!("{infohash}.torrent"));
    let started = Instant::now();
    let _transmission = spawn(
        ns.command("transmission-cli")
            .arg("-er")
            .args(["-g", config_dir.to_str().unwrap()])
            .args(["-w", save.to_str().unwrap()])
            .args(["-p", &free_port().to_string()])
            .arg("-M")
            .arg(&torrent),
        &root.join("transmission.log"),
    );
    let want = std::fs::read(content.join("album.bin")).unwrap();
    let done = poll_for(CLIENT_LIMIT, || {
        std::fs::read(save.join("album.bin"))
            .is_ok_and(|got| got == want)
            .then_some(())
    })
    .is_some();
    println!(
        "transmission-cli -er: {} after {:.1} s",
        if done { "complete" } else { "NOT complete" },
        started.elapsed().as_secs_f64()
    );
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        done,
        "transmission-cli requiring encryption did not download from the node.\n--- transmission (tail) ---\n{}\n--- tracker ---\n{}\n--- node log (tail) ---\n{}",
        tail(
            &transmission_messages(&read(&root.join("transmission.log"))),
            30
        ),
        read(&root.join("tracker.log")),
        tail(&read(&node_log), 80)
    );
    let log = read(&node_log);
    assert!(
        !log.contains("plaintext handshake refused"),
        "Transmission -er made a plain handshake?\n{}",
        tail(&log, 30)
    );
}

/// Transmission's log lines without its progress lines.
fn transmission_messages(log: &str) -> String {
    let lines = log.split(['\r', '\n']);
    let kept: Vec<&str> = lines
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Progress:"))
        .collect();
    kept.join("\n")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
