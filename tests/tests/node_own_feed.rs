//! A node taking in what `publish` commits to its data directory: when its store cannot
//! (a full disk), `publish` says so and fails, and the node takes the entry in at its next
//! start; replaced tails leave the engine instead of piling up across publishes and
//! restarts.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::binary::{swarmfeed, swarmfeed_ok};
use tests::commands::new_identity;
use tests::http::http_request;
use tests::node::{NodeOptions, NodeProcess};

fn status(url: &str) -> u16 {
    http_request("GET", url, &[], b"").map_or(0, |(status, _)| status)
}

fn identity_of(data: &Path) -> String {
    let shown = swarmfeed_ok(&["--data", data.to_str().unwrap(), "identity", "show"]);
    tests::binary::field(&shown, "id").unwrap().to_owned()
}

/// A tmpfs of `size` mounted at `dir` (root only), unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !is_root {
            return None;
        }
        fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(mounted.success(), "cannot mount a tmpfs as root");
        Some(SmallDisk(dir.to_owned()))
    }

    /// Writes a file until the disk is full; returns it.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let mut file = fs::File::create(&filler).unwrap();
        for chunk in [64 << 10, 4 << 10, 512, 1] {
            while file.write_all(&vec![0u8; chunk]).is_ok() && file.flush().is_ok() {}
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn publish_fails_when_the_running_node_cannot_take_the_entry_in_and_a_restart_takes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&tmp.path().join("small"), "8m") else {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (CI runs as root)");
        return;
    };
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    new_identity(&data, "alice");
    // The node's store lies on the small disk; everything else (what `publish` writes) does
    // not, so only the node's store runs out of room.
    std::os::unix::fs::symlink(disk.0.join("node.sqlite"), data.join("node.sqlite")).unwrap();
    let first = tmp.path().join("first.txt");
    fs::write(&first, b"first").unwrap();
    let mut node = NodeProcess::start(&data, &NodeOptions::default());
    swarmfeed_ok(&["--data", d, "publish", first.to_str().unwrap()]);
    let id = identity_of(&data);
    let url = node.info.public_url.clone();
    assert_eq!(status(&format!("{url}/{id}/main/1")), 200);

    let filler = disk.fill();
    let second = tmp.path().join("second.txt");
    fs::write(&second, b"second").unwrap();
    let out = swarmfeed(&["--data", d, "publish", second.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for words in [
        "error: ",
        &format!("{id}/main #2 is signed and saved"),
        "could not take it in",
        "full",
        "not seeded or announced",
        "restart the node",
    ] {
        assert!(stderr.contains(words), "{words:?} missing: {stderr}");
    }
    // What was committed is still printed.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{id}/main #2")), "{stdout}");
    assert_eq!(status(&format!("{url}/{id}/main/2")), 404);

    // Room again; at its next start the node takes in the saved entry.
    fs::remove_file(filler).unwrap();
    node.stop();
    let node = NodeProcess::start(&data, &NodeOptions::default());
    let url = &node.info.public_url;
    assert_eq!(status(&format!("{url}/{id}/main/2")), 200, "{}", node.log());
    let file = tests::http::http_get(&format!("{url}/api/v1/entries/{id}/main/2"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    assert!(file.contains("second.txt"), "{file}");
}

/// The folders of the log torrents the engine's saved session holds for `data`'s own
/// feeds (`…/tails/INFOHASH`), from its read-only markers.
fn saved_tails(data: &Path) -> Vec<String> {
    let mut tails: Vec<String> = fs::read_dir(data.join("engine"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "read-only"))
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .filter(|folder| folder.contains("/tails/"))
        .collect();
    tails.sort();
    tails
}

#[test]
fn replaced_tails_leave_the_engine_and_a_restart_reopens_no_stale_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    new_identity(&data, "alice");
    let mut node = NodeProcess::start(&data, &NodeOptions::default());
    for i in 0..4 {
        let file = tmp.path().join(format!("f{i}.txt"));
        fs::write(&file, format!("entry {i}")).unwrap();
        swarmfeed_ok(&["--data", d, "publish", file.to_str().unwrap()]);
    }
    // While it runs: the current tail and the one before (peers may still fetch it).
    let running = saved_tails(&data);
    assert!(running.len() <= 2, "{running:#?}");
    node.stop();
    let log = node.log();
    drop(node);

    let mut node = NodeProcess::start(&data, &NodeOptions::default());
    let restarted = saved_tails(&data);
    assert_eq!(restarted.len(), 1, "{restarted:#?}");
    let id = identity_of(&data);
    let state: serde_json::Value = serde_json::from_slice(
        &fs::read(data.join("feeds").join(&id).join("main/state.json")).unwrap(),
    )
    .unwrap();
    let current = state["tail"].as_str().unwrap();
    assert!(
        restarted[0].ends_with(current),
        "{restarted:?} vs {current}"
    );
    // One more publish and restart: still one, and nothing stale reopened.
    let file = tmp.path().join("f4.txt");
    fs::write(&file, "entry 4").unwrap();
    swarmfeed_ok(&["--data", d, "publish", file.to_str().unwrap()]);
    node.stop();
    let mut logs = vec![log, node.log()];
    drop(node);
    let node = NodeProcess::start(&data, &NodeOptions::default());
    assert_eq!(saved_tails(&data).len(), 1);
    let url = &node.info.public_url;
    assert_eq!(status(&format!("{url}/{id}/main/5")), 200);
    logs.push(node.log());
    let all = logs.join("\n");
    assert!(
        !all.contains("cannot open published file"),
        "stale tails reopened:\n{all}"
    );
}

/// A follower's copies of `identity`'s `main` tails: (folders on disk, torrents in its
/// engine's saved session).
fn follower_tails(data: &Path, identity: &str) -> (usize, usize) {
    let dir = data.join("logs").join(identity).join("main");
    let on_disk = fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("main.sftail").exists())
                .count()
        })
        .unwrap_or(0);
    let in_engine = fs::read_dir(data.join("engine"))
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .filter(|folder| folder.starts_with(dir.to_str().unwrap()))
        .filter(|folder| {
            Path::new(folder).join("main.sftail").exists() || !Path::new(folder).exists()
        })
        .count();
    (on_disk, in_engine)
}

#[test]
fn a_follower_keeps_two_tails_while_running_and_one_after_a_restart() {
    use std::time::Duration;
    use tests::network::{Network, holds};
    use tests::poll::wait_for;
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let network = Network::new(3);
    let _publisher = network.start_publisher(&a, "alice", &[]);
    let publish = |i: u64| {
        let file = tmp.path().join(format!("f{i}.txt"));
        fs::write(&file, format!("entry {i}")).unwrap();
        swarmfeed_ok(&[
            "--data",
            a.to_str().unwrap(),
            "publish",
            file.to_str().unwrap(),
        ]);
    };
    publish(1);
    let id = identity_of(&a);
    let mut follower = network.start_node(&b, &[]);
    tests::network::follow_until_held(&b, &id, 1, Duration::from_secs(60));
    for i in 2..=5 {
        publish(i);
        wait_for(
            Duration::from_secs(60),
            "the follower to hold the entry",
            || holds(&b, i),
        );
    }
    let (on_disk, in_engine) = follower_tails(&b, &id);
    assert!(
        on_disk <= 2 && in_engine <= 2,
        "{on_disk} on disk, {in_engine} in the engine"
    );
    follower.stop();
    drop(follower);
    let follower = network.start_node(&b, &[]);
    assert_eq!(follower_tails(&b, &id), (1, 1));
    assert!(!follower.log().contains("cannot open published file"));
}
