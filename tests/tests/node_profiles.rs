//! Profiles (issue 15 item 6): an identity's display name, signed as the `profile`
//! extension of its record, shows on another node's pages, exports and search, and a new
//! version replaces it there. Two nodes on a private loopback DHT, no HTTP between them
//! (the profile travels through the DHT alone, as between strangers' nodes). A name signed
//! by someone else's tooling (markup, bidirectional controls, the 64-byte limit) renders
//! inert in Chromium and valid in the Nu checker.

use std::path::Path;
use std::time::Duration;

use feeds::bencode::Value;
use futures_lite::future::block_on;
use tests::binary::{swarmfeed, swarmfeed_ok, swarmfeed_with_env};
use tests::browser::Browser;
use tests::commands::{new_identity, publish};
use tests::files::test_root;
use tests::html_check::html_problems;
use tests::http::http_get;
use tests::network::{Network, follow_until_held};
use tests::poll::wait_for;

/// 64 bytes: markup, a right-to-left override, and padding to the limit.
const HOSTILE_NAME: &str = "<script>document.title='pwned'</script>\u{202E}gpj.exe xxxxxxxxxxxxxx";

fn profile(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--data", data.to_str().unwrap(), "identity", "profile"];
    all.extend_from_slice(args);
    all.push("--json");
    serde_json::from_str(&swarmfeed_ok(&all)).expect("profile --json prints JSON")
}

fn page(base: &str, path: &str) -> String {
    http_get(&format!("{base}{path}"))
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or_default()
}

#[test]
fn a_followers_gateway_shows_the_name_an_identity_signed_and_its_next_version() {
    assert_eq!(HOSTILE_NAME.len(), 64);
    let (_guard, root) = test_root();
    let (a, b) = (root.join("a"), root.join("b"));
    let network = Network::new(4);

    // Refused before anything is signed: exit 3, one line naming the problem.
    new_identity(&a, "alice");
    for (name, problem) in [
        ("A".repeat(65), "at most 64"),
        ("Alice\u{202E}gpj.exe".to_owned(), "U+202E"),
        ("Alice\u{7}".to_owned(), "U+0007"),
    ] {
        let args = ["--data", a.to_str().unwrap(), "identity", "profile"];
        let output = swarmfeed(&[&args[..], &["--name", name.as_str()][..]].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{name:?}: {stderr}");
        assert!(stderr.contains(problem), "{name:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }

    // Signed offline; the node takes it in when it starts.
    let signed = profile(
        &a,
        &["--name", "Alice Field", "--bio", "Birds.\nMostly wrens."],
    );
    assert_eq!(signed["seq"], 1);
    let identity = signed["identity"].as_str().unwrap().to_owned();
    let node_a = network.start_node(&a, &[]);
    let content = root.join("wren.txt");
    std::fs::write(&content, "A wren sang at dawn.\n").unwrap();
    publish(&a, &content, "Dawn chorus", &[]);
    // Not a real PNG: the gateway goes by the name, as `/files` does.
    let picture = root.join("me.png");
    std::fs::write(&picture, [0x89, b'P', b'N', b'G', 1, 2, 3]).unwrap();
    let avatar = publish(&a, &picture, "Me", &[]);
    let avatar = avatar["infohash"].as_str().unwrap().to_owned();

    // B polls every 2 s: the test waits for the poll that finds a changed profile.
    let node_b = network.start_node(&b, &["--poll-interval", "2"]);
    follow_until_held(&b, &identity, 2, Duration::from_secs(90));
    let url = node_b.info.public_url.clone();
    // Each page shows `needle` (the end of the name as rendered, isolated in `<bdi>`).
    let pages = |needle: &str| {
        [
            format!("/{identity}"),
            format!("/{identity}/main"),
            format!("/{identity}/main/1"),
            "/".to_owned(),
        ]
        .iter()
        .all(|p| page(&url, p).contains(needle))
        .then_some(())
    };
    wait_for(
        Duration::from_secs(60),
        "B's pages to show A's name",
        || pages("Alice Field</bdi>"),
    );
    for path in [
        format!("/{identity}/main"),
        format!("/{identity}/main/1"),
        "/".into(),
    ] {
        let shown = page(&url, &path);
        let label = format!(
            "<bdi class=\"name\">Alice Field</bdi> <a class=\"id\" href=\"/{identity}\" title=\"{identity}\">({}…)</a>",
            &identity[..12]
        );
        assert!(shown.contains(&label), "{path}: {shown}");
    }
    let identity_page = page(&url, &format!("/{identity}"));
    assert!(
        identity_page.contains("<h1><bdi>Alice Field</bdi></h1>"),
        "{identity_page}"
    );
    assert!(identity_page.contains("<bdi>Birds.</bdi><br><bdi>Mostly wrens.</bdi>"));
    for (export, needle) in [
        ("feed.rss", "<dc:creator>Alice Field</dc:creator>"),
        ("feed.atom", "<name>Alice Field</name>"),
        ("feed.json", "\"name\":\"Alice Field\""),
    ] {
        let body = page(&url, &format!("/{identity}/main/{export}"));
        assert!(body.contains(needle), "{export}: {body}");
    }
    let hits: serde_json::Value =
        serde_json::from_str(&page(&url, "/api/v1/search?q=dawn")).unwrap();
    assert_eq!(hits["hits"][0]["display_name"], "Alice Field", "{hits}");
    assert!(page(&url, "/search?q=dawn").contains("<bdi class=\"name\">Alice Field</bdi>"));

    // A new version through A's node (the API, the operator as actor): B shows it.
    let changed = profile(&a, &["--name", "Alice Wren", "--avatar", &avatar]);
    assert_eq!(changed["seq"], 2);
    assert_eq!(changed["bio"], "Birds.\nMostly wrens.");
    wait_for(
        Duration::from_secs(60),
        "B's pages to show A's new name",
        || pages("Alice Wren</bdi>"),
    );
    // The avatar: a file of a torrent B holds, through B's own file route.
    let identity_page = page(&url, &format!("/{identity}"));
    let img = format!("<img class=\"avatar\" src=\"/files/{avatar}/me.png\"");
    assert!(identity_page.contains(&img), "{identity_page}");
    assert_eq!(
        http_get(&format!("{url}/files/{avatar}/me.png")).unwrap(),
        std::fs::read(&picture).unwrap()
    );

    // A name signed by other tooling: any signer may put anything within the format.
    let keypair = data_dir::Keystore::new(&a).keypair("alice").unwrap();
    let hostile = feeds::extension::sign(
        &keypair,
        "profile",
        1000,
        vec![
            (
                "bio",
                Value::bytes("<img src=x onerror=\"document.title='pwned'\">"),
            ),
            ("name", Value::bytes(HOSTILE_NAME)),
        ],
    )
    .unwrap();
    block_on(network.dht.nodes[1].put_item(&hostile)).unwrap();
    wait_for(
        Duration::from_secs(60),
        "B's pages to show the hostile name, written out",
        || pages("gpj.exe xxxxxxxxxxxxxx</span></bdi>"),
    );
    let shown = [
        ("identity", page(&url, &format!("/{identity}"))),
        ("feed", page(&url, &format!("/{identity}/main"))),
        ("entry", page(&url, &format!("/{identity}/main/1"))),
        ("home", page(&url, "/")),
        ("search", page(&url, "/search?q=dawn")),
    ];
    let checked: Vec<(&str, &str)> = shown.iter().map(|(n, p)| (*n, p.as_str())).collect();
    let problems = html_problems(&checked);
    assert!(problems.is_empty(), "{problems:#?}");

    let mut browser = Browser::start();
    for path in [
        format!("/{identity}"),
        format!("/{identity}/main/1"),
        "/".into(),
    ] {
        browser.navigate(&format!("{url}{path}"));
        assert_ne!(browser.evaluate("document.title"), "pwned", "{path}");
        let active = browser.evaluate("document.querySelectorAll('script, [onerror]').length");
        assert_eq!(active, 0, "{path}");
        // The override is written out, so nothing after it is reversed.
        let name = browser.evaluate("document.querySelector('bdi').textContent");
        assert!(
            name.as_str().unwrap().contains("\\u{202E}gpj.exe"),
            "{path}: {name}"
        );
    }

    // A publisher restored from its key backup gets the network's newest profile, so its
    // next change signs above it (a lower seq would never replace it on followers).
    let (c, backup) = (root.join("c"), root.join("alice.age"));
    let passphrase = ("SWARMFEED_PASSPHRASE", "correct horse battery");
    let exported = swarmfeed_with_env(
        &[
            "--data",
            a.to_str().unwrap(),
            "identity",
            "export",
            "alice",
            "-o",
            backup.to_str().unwrap(),
        ],
        &[passphrase],
    );
    assert!(exported.status.success(), "{exported:?}");
    let imported = swarmfeed_with_env(
        &[
            "--data",
            c.to_str().unwrap(),
            "identity",
            "import",
            backup.to_str().unwrap(),
            "--no-sync",
        ],
        &[passphrase],
    );
    assert!(imported.status.success(), "{imported:?}");
    swarmfeed_ok(&[
        "--data",
        c.to_str().unwrap(),
        "identity",
        "sync",
        "--dht-bootstrap",
        &network.bootstrap(),
        "--bind-ip",
        "127.0.0.1",
        "--sync-timeout",
        "60",
    ]);
    assert_eq!(profile(&c, &[])["seq"], 1000);
    let next = profile(&c, &["--name", "Alice again"]);
    assert_eq!(next["seq"], 1001);
    drop(node_a);
}
