//! Web publishing over HTTP against the real binary: users sign up through the pages (mail
//! from a real SMTP server on loopback), a publisher member of an identity the gateway
//! holds uploads two files through the multipart form, the entry is in the feed, signed,
//! and another node that follows the identity verifies and holds it. A non-member's upload
//! and a form without its CSRF token are refused with nothing published. The owner creates
//! the identity and invites the member through the identity pages; the member accepts from
//! the mailed link; the last owner cannot leave.

use std::path::Path;
use std::time::Duration;

use accounts::{Accounts, AccountsConfig};
use tests::accounts::{create_identity, invite_and_join, open_accounts_config, sign_up_and_in};
use tests::html_check::html_problems;
use tests::network::{Network, follow_until_held};
use tests::smtp::SmtpServer;
use tests::web::WebClient;

/// The accounts service on the node's own files (SQLite WAL: the node keeps running).
fn accounts_of(config: &Path, data: &Path) -> Accounts {
    let text = std::fs::read_to_string(config).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let mut accounts: AccountsConfig = table["accounts"].clone().try_into().unwrap();
    // The node mails links on its own URL; this copy sends none.
    accounts.public_url = Some("http://127.0.0.1".into());
    Accounts::open(accounts, data).unwrap()
}

fn csrf_of(page: &str) -> String {
    tests::web::hidden_fields(page, "/account/upload")
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no upload form with a CSRF token:\n{page}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_creates_an_identity_invites_a_publisher_whose_upload_a_following_node_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&tmp.path().join("spool"));
    let config = open_accounts_config(tmp.path(), &smtp);
    let network = Network::new(4);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let node_a = network.start_node(&a, &["--config", config.to_str().unwrap()]);

    let (mut owner, mut member, mut stranger) = (
        WebClient::new(node_a.info.http),
        WebClient::new(node_a.info.http),
        WebClient::new(node_a.info.http),
    );
    sign_up_and_in(&mut owner, &smtp, "owner@example.org");
    sign_up_and_in(&mut member, &smtp, "member@example.org");
    sign_up_and_in(&mut stranger, &smtp, "stranger@example.org");

    // The owner creates an identity (its key kept by the gateway) and invites the member as
    // publisher; the member accepts through the mailed link.
    let identity = create_identity(&mut owner);
    let page_path = format!("/account/identities/{identity}");
    invite_and_join(
        &mut owner,
        &mut member,
        &smtp,
        &identity,
        "member@example.org",
        "publisher",
    );
    let members = owner.get(&page_path).text();
    assert!(members.contains("member@example.org"), "{members}");
    assert!(members.contains("publisher"), "{members}");
    // The last owner cannot leave.
    let leave = owner.submit(&members, &format!("{page_path}/leave"), &[]);
    assert_eq!(leave.status, 400, "{}", leave.text());
    assert!(leave.text().contains("last owner"), "{}", leave.text());
    let accounts = accounts_of(&config, &a);
    let member_id = accounts
        .user_by_email(accounts::Actor::Operator, "member@example.org")
        .await
        .unwrap()
        .id;

    // A stranger sees no identity to publish to, and a post naming it is refused.
    let page = stranger.get("/account/upload");
    assert_eq!(page.status, 200);
    assert!(!page.text().contains(&identity));
    let refused = stranger.post_multipart(
        "/account/upload",
        &[
            ("csrf", &csrf_of(&member.get("/account/upload").text())),
            ("identity", &identity),
            ("feed", "main"),
        ],
        "files",
        &[("x.txt", b"not yours")],
    );
    assert_eq!(refused.status, 403, "{}", refused.text());

    // The member's form: the identity offered; a post without the token is refused.
    let form = member.get("/account/upload");
    assert_eq!(form.status, 200);
    assert!(form.text().contains(&identity), "{}", form.text());
    assert!(form.text().contains("enctype=\"multipart/form-data\""));
    let csrf = csrf_of(&form.text());
    let no_token = member.post_multipart(
        "/account/upload",
        &[("identity", &identity), ("feed", "main")],
        "files",
        &[("x.txt", b"no token")],
    );
    assert_eq!(no_token.status, 403, "{}", no_token.text());
    assert!(
        !a.join("uploads").exists() || std::fs::read_dir(a.join("uploads")).unwrap().count() == 0
    );

    let song: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let published = member.post_multipart(
        "/account/upload",
        &[
            ("csrf", &csrf),
            ("identity", &identity),
            ("feed", "main"),
            ("title", "Dawn chorus"),
            ("description", "Recorded at five"),
        ],
        "files",
        &[("chorus.flac", &song), ("notes.txt", b"three blackbirds")],
    );
    assert_eq!(published.status, 303, "{}", published.text());
    let entry_path = format!("/{identity}/main/1");
    assert_eq!(
        published.header("location").as_deref(),
        Some(entry_path.as_str())
    );
    let entry = member.get(&entry_path);
    assert_eq!(entry.status, 200);
    assert!(entry.text().contains("Dawn chorus"));
    let usage = accounts.upload_usage(member_id).await.unwrap();
    assert_eq!(
        usage.used,
        song.len() as u64 + 16,
        "charged what was written"
    );

    // Another node that follows the identity verifies the entry and holds its files.
    let _node_b = network.start_node(&b, &[]);
    let status = follow_until_held(&b, &identity, 1, Duration::from_secs(120));
    assert_eq!(status["entries"], 1, "{status}");
    let out = network.verify(&tmp.path().join("verifier"), &format!("{identity}/main"));
    assert!(
        out.starts_with(&format!("valid: {identity}/main: 1 entries verified"))
            || out.starts_with(&format!("valid: {identity}/main: 1 entry verified")),
        "{out}"
    );

    let pages: Vec<(&str, &str)> = member
        .pages
        .iter()
        .chain(owner.pages.iter())
        .filter(|(p, _)| p.contains("/account/upload") || p.contains("identities"))
        .map(|(p, h)| (p.as_str(), h.as_str()))
        .collect();
    assert!(!pages.is_empty());
    let problems = html_problems(&pages);
    assert!(problems.is_empty(), "{problems:#?}");
}
