//! Every route and control command that changes a node's state passes through the API's one
//! authorization point with an actor, and nothing else changes state.
//!
//! The routers are built from `seeder::node::api::STATE_CHANGING`; this test sends each
//! entry of that table to a real `swarmfeed serve` (node-to-node routes over loopback HTTP,
//! commands over the control socket) and checks on `/metrics` that a decision was counted
//! for that operation with the expected actor (a peer over HTTP, the operator on the control
//! socket). Then every other method on every route of both surfaces must be refused
//! (`404`/`405`) without any decision counted, and every `GET` (every read route of the node
//! and the gateway, every read command of the control socket) must count no decision and
//! leave the node's SQLite databases unchanged (their `data_version`). The gateway's account
//! forms that change state (identities, members, uploads) are sent by a user signed in
//! through the pages, on a node with accounts on, and must count a decision for the user.

use std::path::Path;
use std::time::Duration;

use feeds::{EntryHash, FeedHead, FeedName, InfoHash, Keypair};
use seeder::node::api::{Operation, STATE_CHANGING, StateChanging, Surface};
use tests::accounts::PASSWORD;
use tests::commands::new_identity;
use tests::node::{NodeOptions, NodeProcess, http_request, metric, publish, test_root};
use tests::web::{WebClient, hidden_fields};

/// The counter of decisions for `operation` by `actor` (`peer`, `operator`) with `outcome`.
fn decisions(node: &NodeProcess, operation: Operation, actor: &str, outcome: &str) -> f64 {
    let name = format!(
        "swarmfeed_authorizations_total{{operation=\"{}\",actor=\"{actor}\",outcome=\"{outcome}\"}}",
        operation.name()
    );
    metric(node, &name).unwrap_or_else(|| panic!("/metrics has no {name}"))
}

/// Every decision counted so far.
fn all_decisions(node: &NodeProcess) -> f64 {
    let mut sum = 0.0;
    for operation in Operation::ALL {
        for actor in ["peer", "operator", "user"] {
            for outcome in ["allowed", "denied"] {
                sum += decisions(node, operation, actor, outcome);
            }
        }
    }
    sum
}

/// One request over the control socket: the answer's status code.
fn control_request(socket: &Path, method: &str, path: &str, body: &[u8]) -> u16 {
    tests::http::control_request(socket, method, path, body).0
}

/// A request for each operation that reaches its authorization (a well-formed one: the
/// adapters refuse what they cannot parse before they call the API). The match is
/// exhaustive: a new operation does not compile here until the test can send it.
fn request_for(operation: Operation, keypair: &Keypair) -> (Vec<u8>, Vec<(&'static str, String)>) {
    let identity = keypair.public().to_string();
    match operation {
        Operation::PushHead => {
            let head = FeedHead {
                feed: FeedName::new("main").unwrap(),
                seq: 1,
                entry_hash: EntryHash([1; 32]),
                log: InfoHash([2; 20]),
                time: 1_700_000_000,
            }
            .sign(keypair)
            .unwrap();
            let headers = vec![("X-Swarmfeed-Node", "http://127.0.0.1:9".to_owned())];
            (head.encode(), headers)
        }
        Operation::RegisterFollower => (
            serde_json::json!({"identity": identity, "feed": "main", "url": "http://127.0.0.1:9"})
                .to_string()
                .into_bytes(),
            Vec::new(),
        ),
        Operation::Publish => (Vec::new(), Vec::new()),
        // Well-formed; the node has no identity to sign with, so it refuses after deciding.
        Operation::PublishFiles => (
            serde_json::json!({"feed": "main", "path": "/nonexistent"})
                .to_string()
                .into_bytes(),
            Vec::new(),
        ),
        // Well-formed; nothing to retract on a node with no identity: refused after deciding.
        Operation::Retract => (
            serde_json::json!({"feed": "main", "seq": 1})
                .to_string()
                .into_bytes(),
            Vec::new(),
        ),
        // Well-formed; the node has no identity to sign with, so it refuses after deciding.
        Operation::SetProfile => (br#"{"name": "A name"}"#.to_vec(), Vec::new()),
        // Well-formed; the node has no identity to restore, so it refuses after deciding.
        Operation::Restore => (
            serde_json::json!({"timeout_secs": 1, "dht_bootstrap": []})
                .to_string()
                .into_bytes(),
            Vec::new(),
        ),
        Operation::Follow | Operation::Unfollow => (
            serde_json::json!({"identity": identity, "feed": "main"})
                .to_string()
                .into_bytes(),
            Vec::new(),
        ),
        // Account forms: sent by account_form below, as a signed-in user.
        Operation::CreateIdentity
        | Operation::InviteMember
        | Operation::RemoveMember
        | Operation::LeaveIdentity
        | Operation::SetRole
        | Operation::JoinIdentity
        | Operation::DeleteAccount => (Vec::new(), Vec::new()),
    }
}

/// Every route that only reads, on either surface (node-to-node and gateway routes over
/// HTTP, the control socket's commands), for identity `id` and infohash `ih`, and one
/// route that exists nowhere.
fn read_paths(id: &str, ih: &str) -> Vec<String> {
    [
        "/".to_owned(),
        "/healthz".to_owned(),
        "/metrics".to_owned(),
        "/status".to_owned(),
        "/favicon.ico".to_owned(),
        "/follows".to_owned(),
        "/search?q=x".to_owned(),
        "/api/v1/search?q=x".to_owned(),
        "/opensearch.xml".to_owned(),
        format!("/api/v1/heads/{id}/main"),
        format!("/api/v1/identities/{id}"),
        format!("/api/v1/logs/{id}/main/{ih}"),
        format!("/api/v1/feeds/{id}/main/entries"),
        format!("/api/v1/entries/{id}/main/1"),
        format!("/torrents/{ih}.torrent"),
        format!("/webseed-torrents/{ih}.torrent"),
        format!("/files/{ih}/a"),
        format!("/ws/{ih}/a"),
        format!("/{id}"),
        format!("/{id}/main"),
        format!("/{id}/main/1"),
        format!("/{id}/main/feed.rss"),
        format!("/{id}/main/feed.atom"),
        format!("/{id}/main/feed.json"),
        format!("/api/v1/identities/{id}/extensions/profile"),
        // The control socket's reads (a verify without an identity is refused at once).
        "/verify?feed=main".to_owned(),
        "/no/such/route".to_owned(),
    ]
    .into()
}

fn send(node: &NodeProcess, route: &StateChanging, keypair: &Keypair) -> u16 {
    let (body, headers) = request_for(route.operation, keypair);
    match route.surface {
        Surface::Http => {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let url = format!("{}{}", node.info.public_url, route.path);
            http_request(route.method, &url, &headers, &body)
                .expect("the node answers")
                .0
        }
        Surface::Control => control_request(&node.info.control, route.method, route.path, &body),
        Surface::Account => unreachable!("account forms need a signed-in user: account_form"),
    }
}

#[test]
fn every_state_changing_route_and_command_passes_the_authorization_point() {
    let (_tmp, root) = test_root();
    let node = NodeProcess::start(&root.join("node"), &NodeOptions::default());
    let keypair = Keypair::from_seed(&[7; 32]);
    assert!(!STATE_CHANGING.is_empty());
    for operation in Operation::ALL {
        assert!(
            STATE_CHANGING.iter().any(|r| r.operation == operation),
            "{operation:?} is reached by no route or command"
        );
    }
    for route in STATE_CHANGING
        .iter()
        .filter(|r| r.surface != Surface::Account)
    {
        let actor = match route.surface {
            Surface::Http => "peer",
            Surface::Control => "operator",
            Surface::Account => "user",
        };
        let before = decisions(&node, route.operation, actor, "allowed");
        let total = all_decisions(&node);
        let status = send(&node, route, &keypair);
        assert_eq!(
            decisions(&node, route.operation, actor, "allowed"),
            before + 1.0,
            "{} {} ({:?}) answered {status} without a decision for the {actor}",
            route.method,
            route.path,
            route.surface
        );
        assert_eq!(
            all_decisions(&node),
            total + 1.0,
            "one decision per request"
        );
    }

    // Nothing else changes state: every other method on every route of either surface is
    // refused before any decision.
    let id = keypair.public().to_string();
    let paths = read_paths(&id, &"00".repeat(20))
        .into_iter()
        .chain(STATE_CHANGING.iter().map(|r| r.path.to_owned()))
        .collect::<Vec<_>>();
    let total = all_decisions(&node);
    for surface in [Surface::Http, Surface::Control] {
        for path in &paths {
            for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                let listed = STATE_CHANGING
                    .iter()
                    .any(|r| r.surface == surface && r.method == method && r.path == path);
                if listed || method == "GET" {
                    continue;
                }
                let status = match surface {
                    Surface::Http => {
                        let url = format!("{}{path}", node.info.public_url);
                        http_request(method, &url, &[], b"{}")
                            .expect("the node answers")
                            .0
                    }
                    Surface::Control => control_request(&node.info.control, method, path, b"{}"),
                    Surface::Account => unreachable!(),
                };
                assert!(
                    status == 404 || status == 405,
                    "{method} {path} ({surface:?}) answered {status}: only the API's table may change state"
                );
            }
        }
    }
    assert_eq!(
        all_decisions(&node),
        total,
        "a refused method made a decision"
    );
}

/// The SQLite `data_version` of the database at `path`, as a connection of its own sees it:
/// it changes when any other connection (the node's) commits a write.
fn data_version(connection: &rusqlite::Connection) -> i64 {
    connection
        .query_row("PRAGMA data_version", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn no_get_route_or_read_command_decides_or_writes() {
    let (_tmp, root) = test_root();
    let data = root.join("node");
    // Something to read: an identity with an entry, so the routes find what they name.
    new_identity(&data, "alice");
    let file = root.join("song.txt");
    std::fs::write(&file, b"sung by alice").unwrap();
    let published = publish(&data, &file, "Song", &[]);
    let node = NodeProcess::start(&data, &NodeOptions::default());
    let id = published["identity"].as_str().unwrap().to_owned();
    let ih = published["infohash"].as_str().unwrap().to_owned();
    let stores: Vec<(&str, rusqlite::Connection)> = [
        ("node.sqlite", data.join("node.sqlite")),
        ("engine/session.db", data.join("engine").join("session.db")),
    ]
    .into_iter()
    .map(|(name, path)| (name, rusqlite::Connection::open(path).unwrap()))
    .collect();
    let versions = || -> Vec<i64> { stores.iter().map(|(_, c)| data_version(c)).collect() };
    let mut paths = read_paths(&id, &ih);
    paths.push(format!("/files/{ih}/song.txt"));
    paths.push(format!("/{id}/main/1/song.txt"));
    for surface in [Surface::Http, Surface::Control] {
        for path in &paths {
            let get = || match surface {
                Surface::Http => {
                    let url = format!("{}{path}", node.info.public_url);
                    http_request("GET", &url, &[], b"")
                        .expect("the node answers")
                        .0
                }
                Surface::Control => control_request(&node.info.control, "GET", path, b""),
                Surface::Account => unreachable!(),
            };
            // The node's own loops write now and then: a GET is to blame only if a write
            // comes with it every time.
            let mut wrote = Vec::new();
            for _ in 0..3 {
                let (total, before) = (all_decisions(&node), versions());
                let status = get();
                assert_eq!(
                    all_decisions(&node),
                    total,
                    "GET {path} ({surface:?}, {status}) made an authorization decision"
                );
                let after = versions();
                wrote = stores
                    .iter()
                    .zip(before.iter().zip(&after))
                    .filter(|(_, (b, a))| b != a)
                    .map(|((name, _), _)| *name)
                    .collect();
                if wrote.is_empty() {
                    break;
                }
            }
            assert!(
                wrote.is_empty(),
                "GET {path} ({surface:?}) wrote to {wrote:?}: reads must leave the store unchanged"
            );
        }
    }
}

/// A well-formed post of an account form as the signed-in `web` user, reaching its
/// decision: `(status, Location)`. `identity` is the one the user created (owner).
fn account_form(
    web: &mut WebClient,
    route: &StateChanging,
    identity: &str,
    csrf: &str,
) -> (u16, String) {
    let path = route
        .path
        .replace("{identity}", identity)
        .replace("{token}", "an-invitation-that-was-never-sent");
    let answer = match route.operation {
        // Publishes: the user owns the identity.
        Operation::PublishFiles => web.post_multipart(
            &path,
            &[("csrf", csrf), ("identity", identity), ("feed", "main")],
            "files",
            &[("note.txt", b"hello")],
        ),
        Operation::InviteMember => web.post(
            &path,
            &[
                ("csrf", csrf),
                ("email", "friend@example.org"),
                ("role", "publisher"),
            ],
        ),
        // Decided (owner), then refused by the accounts rules: no such member, last owner,
        // unknown invitation.
        Operation::SetRole => web.post(
            &path,
            &[("csrf", csrf), ("member", "999999"), ("role", "owner")],
        ),
        Operation::RemoveMember => web.post(&path, &[("csrf", csrf), ("member", "999999")]),
        // Signed: the user owns the identity.
        Operation::SetProfile => web.post(&path, &[("csrf", csrf), ("name", "Table test")]),
        Operation::CreateIdentity | Operation::LeaveIdentity | Operation::JoinIdentity => {
            web.post(&path, &[("csrf", csrf)])
        }
        // Deleted, with the identity it alone owns (the table's last row).
        Operation::DeleteAccount => web.post(
            &path,
            &[("csrf", csrf), ("password", PASSWORD), ("drop", identity)],
        ),
        other => panic!("{other:?} has no account form"),
    };
    let location = answer.header("location").unwrap_or_default();
    (answer.status, location)
}

#[test]
fn every_account_form_that_changes_state_passes_the_authorization_point_as_the_user() {
    let (_tmp, root) = test_root();
    let config = root.join("config.toml");
    std::fs::write(&config, "[accounts]\nmode = \"open\"\n").unwrap();
    let data = root.join("node");
    let options = NodeOptions {
        args: vec!["--config".into(), config.to_str().unwrap().into()],
        ..NodeOptions::default()
    };
    let node = NodeProcess::start(&data, &options);
    let mut web = WebClient::new(node.info.http);
    sign_up_and_in(&mut web, &data, "user@example.org");

    let mut identity = String::new();
    for route in STATE_CHANGING
        .iter()
        .filter(|r| r.surface == Surface::Account)
    {
        let csrf = hidden_fields(
            &web.get("/account/identities").text(),
            "/account/identities",
        )
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v)
        .expect("a CSRF token on the identities page");
        let before = decisions(&node, route.operation, "user", "allowed");
        let total = all_decisions(&node);
        let (status, location) = account_form(&mut web, route, &identity, &csrf);
        assert_eq!(
            decisions(&node, route.operation, "user", "allowed"),
            before + 1.0,
            "{} {} answered {status} without a decision for the user",
            route.method,
            route.path
        );
        assert_eq!(
            all_decisions(&node),
            total + 1.0,
            "one decision per request"
        );
        if route.operation == Operation::DeleteAccount {
            assert_eq!(status, 200, "the account is deleted");
        }
        if route.operation == Operation::CreateIdentity {
            assert_eq!(status, 303);
            identity = location
                .strip_prefix("/account/identities/")
                .expect("to the new identity's page")
                .to_owned();
        }
    }
    assert_eq!(identity.len(), 52, "an identity was created");
}

/// Signs up through the pages (the confirmation link read from the outbox) and signs in.
fn sign_up_and_in(web: &mut WebClient, data: &Path, email: &str) {
    let page = web.get("/account/sign-up");
    let done = web.submit(
        &page.text(),
        "/account/sign-up",
        &[("email", email), ("password", PASSWORD)],
    );
    assert_eq!(done.status, 200, "{}", done.text());
    let token = tests::poll::wait_for(Duration::from_secs(20), "the confirmation mail", || {
        std::fs::read_dir(data.join("outbox"))
            .ok()?
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .map(|m| m.replace("=\r\n", "").replace("=\n", ""))
            .find_map(|m| {
                let at = m.find(accounts::CONFIRM_PATH)? + accounts::CONFIRM_PATH.len();
                Some(
                    m[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect::<String>(),
                )
            })
    });
    let path = format!("{}{token}", accounts::CONFIRM_PATH);
    let landing = web.get(&path);
    let created = web.submit(&landing.text(), &path, &[]);
    assert_eq!(created.status, 200, "{}", created.text());
    let page = web.get("/account/sign-in");
    let signed_in = web.submit(
        &page.text(),
        "/account/sign-in",
        &[("email", email), ("password", PASSWORD)],
    );
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
}
