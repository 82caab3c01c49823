//! The background scrub re-hashes followed content too: a follower's download that rots on
//! disk (bytes changed in place, same length) is caught, counted in `/metrics`, and
//! repaired from the swarm — the engine re-checks every piece and fetches the bad ones —
//! until the file is byte-identical and BLAKE3-verified again.

use std::fs;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use tests::commands::{first_follow, publish};
use tests::files::{same_tree, test_root, write_pattern_file};
use tests::network::{Network, follow_until_held};
use tests::node::{metric, wait_for_more};
use tests::poll::wait_for;

#[test]
fn a_followed_download_corrupted_on_disk_is_caught_by_the_scrub_and_repaired_from_the_swarm() {
    let (_guard, root) = test_root();
    let (a, b, content) = (root.join("a"), root.join("b"), root.join("content"));
    let file = content.join("film.bin");
    write_pattern_file(&file, 4 << 20, 21);

    let network = Network::new(4);
    let _node_a = network.start_publisher(&a, "alice", &[]);
    let published = publish(&a, &file, "Film", &[]);
    let infohash = published["infohash"].as_str().unwrap().to_owned();
    let identity = published["identity"].as_str().unwrap().to_owned();

    let config = root.join("b.toml");
    fs::write(
        &config,
        "[scrub]\ninterval_secs = 2\ncheck_secs = 1\nrate = 104857600\n",
    )
    .unwrap();
    let node_b = network.start_node(&b, &["--config", config.to_str().unwrap()]);
    follow_until_held(&b, &identity, 1, Duration::from_secs(60));
    let held = b.join("downloads").join(&infohash).join("film.bin");
    same_tree(&file, &held).unwrap();
    // A clean scrub pass first (the file re-hashed whole): no false alarm.
    wait_for_more(
        &node_b,
        "swarmfeed_scrub_verifications_total",
        1.0,
        Duration::from_secs(30),
    );
    assert_eq!(metric(&node_b, "swarmfeed_verify_failures"), Some(0.0));

    // Bit rot on B's disk: bytes changed in place, same length.
    let rotted = fs::OpenOptions::new().write(true).open(&held).unwrap();
    rotted.write_all_at(b"ROTTEN BYTES", 3 << 20).unwrap();
    drop(rotted);
    assert!(same_tree(&file, &held).is_err());
    let rotted_at = Instant::now();

    wait_for(Duration::from_secs(30), "the scrub to catch it", || {
        (metric(&node_b, "swarmfeed_verify_failures").unwrap_or(0.0) >= 1.0).then_some(())
    });
    println!(
        "corruption caught {:?} after it happened",
        rotted_at.elapsed()
    );
    // The count comes a moment before the line that says why.
    wait_for(Duration::from_secs(5), "the repair in B's log", || {
        node_b
            .log()
            .contains("downloaded content corrupted on disk, repairing from the swarm")
            .then_some(())
    });
    wait_for(Duration::from_secs(60), "B to repair the file", || {
        same_tree(&file, &held).ok()
    });
    wait_for(Duration::from_secs(30), "B to verify it again", || {
        first_follow(&b).filter(|f| f["complete"] == 1 && f["have_bytes"] == f["total_bytes"])
    });
    println!(
        "repaired and verified {:?} after the corruption",
        rotted_at.elapsed()
    );
}
