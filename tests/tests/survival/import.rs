//! A key imported from a backup publishes nothing until its feeds are synced.

use std::path::Path;

use data_dir::DataDir;
use tests::binary::{swarmfeed, swarmfeed_ok, swarmfeed_with_env};
use tests::node::{publish, test_root, write_pattern_file};

use crate::PASSPHRASE;

/// An identity imported from a backup signs nothing until its feeds are synced from the
/// network: offline, the sync fails clearly and `publish` refuses (exit 3) rather than fork;
/// `--force-new-feed` is the escape for an identity that never published.
#[test]
fn an_imported_identity_refuses_to_publish_until_its_feeds_are_synced() {
    let (_guard, root) = test_root();
    let (one, two) = (root.join("one"), root.join("two"));
    let (one, two) = (one.to_str().unwrap(), two.to_str().unwrap());
    swarmfeed_ok(&["--data", one, "identity", "new", "--name", "alice"]);
    let backup = root.join("alice.age");
    let backup = backup.to_str().unwrap();
    let out = swarmfeed_with_env(
        &["--data", one, "identity", "export", "alice", "-o", backup],
        &[PASSPHRASE],
    );
    assert!(out.status.success());
    let file = root.join("post.txt");
    write_pattern_file(&file, 100, 1);

    // Offline: no bootstrap, no node. The key is imported; the sync fails and says why.
    let out = swarmfeed_with_env(
        &[
            "--data",
            two,
            "identity",
            "import",
            backup,
            "--dht-bootstrap",
            "none",
        ],
        &[PASSPHRASE],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: cannot sync the feeds"),
        "{stderr}"
    );
    assert!(stderr.contains("offline"), "{stderr}");

    let refused = swarmfeed(&["--data", two, "publish", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not synced from the network"), "{stderr}");
    assert!(stderr.contains("identity sync"), "{stderr}");
    assert!(
        !Path::new(two)
            .join("feeds")
            .join(
                DataDir::new(two)
                    .keystore()
                    .resolve(None)
                    .unwrap()
                    .1
                    .public()
                    .to_string()
            )
            .join("main")
            .exists()
    );
    let refused = swarmfeed(&["--data", two, "retract", "1"]);
    assert_eq!(refused.status.code(), Some(3));

    let out = swarmfeed(&["--data", two, "identity", "sync", "--dht-bootstrap", "none"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);

    // The escape: this identity never published anything.
    let out = swarmfeed_ok(&[
        "--data",
        two,
        "publish",
        file.to_str().unwrap(),
        "--force-new-feed",
        "--json",
    ]);
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["seq"], 1);
    // The mark is gone: the next publish needs no flag.
    let out = publish(Path::new(two), &file, "again", &[]);
    assert_eq!(out["seq"], 2);
}
