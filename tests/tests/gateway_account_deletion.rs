//! Deleting an account that alone owns an identity the gateway holds (issue 15 item 3),
//! against the real binary: the deletion page says what happens, the identity's sealed key
//! is destroyed (no file of the accounts database holds its bytes afterwards, and nobody,
//! the operator included, can sign as it), and what it signed stays on the network: the
//! node keeps serving and seeding its feed, also after a restart on a DHT that never heard
//! of it (DHT nodes forget), and a node that follows it afterwards finds it there, fetches
//! and verifies the entry.

use std::path::Path;
use std::time::Duration;

use tests::accounts::{
    AccountsGateway, PASSWORD, create_identity, invite_and_join, open_accounts_config,
    sign_up_and_in, signed_in, web_csrf,
};
use tests::http::{control_request, http_get};
use tests::network::{Network, follow_until_held};
use tests::smtp::SmtpServer;
use tests::web::WebClient;

/// Every file of the accounts database (the file, its write-ahead log and index) that
/// holds `needle`.
fn holding(data: &Path, needle: &[u8]) -> Vec<String> {
    std::fs::read_dir(data)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("accounts.sqlite")
        })
        .filter(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn sealed_key(data: &Path, identity: &str) -> Option<Vec<u8>> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("accounts.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row(
        "SELECT sealed_key FROM identities WHERE id = ?1",
        [identity],
        |r| r.get(0),
    )
    .ok()
}

#[test]
fn deleting_the_sole_owner_destroys_the_key_and_the_signed_feed_stays_served() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&tmp.path().join("spool"));
    let config = open_accounts_config(tmp.path(), &smtp);
    let config_arg = ["--config", config.to_str().unwrap()];
    let network = Network::new(4);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut node_a = network.start_node(&a, &config_arg);

    let mut owner = WebClient::new(node_a.info.http);
    sign_up_and_in(&mut owner, &smtp, "owner@example.org");
    let identity = create_identity(&mut owner);
    let csrf = web_csrf(&mut owner, "/account/upload");
    let published = owner.post_multipart(
        "/account/upload",
        &[
            ("csrf", &csrf),
            ("identity", &identity),
            ("feed", "main"),
            ("title", "Last words"),
        ],
        "files",
        &[("note.txt", b"signed and seeded")],
    );
    assert_eq!(published.status, 303, "{}", published.text());
    let entry_path = format!("/{identity}/main/1");

    // The sealed key, and where it lies now: the scan below can find it.
    let sealed = sealed_key(&a, &identity).expect("the gateway holds the key");
    assert!(sealed.len() >= 32, "{}", sealed.len());
    assert!(!holding(&a, &sealed).is_empty(), "the scan finds the key");

    // The page says exactly what happens.
    let page = owner.get("/account/delete");
    assert_eq!(page.status, 200);
    let text = page.text();
    for words in [
        "You alone own these identities.",
        "The key this gateway keeps for it is destroyed: nobody can sign as this identity again",
        "this gateway keeps serving and seeding its feeds as they stand",
        "To keep publishing as it, make another member an owner first.",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    assert!(
        text.contains(&format!("name=\"drop\" value=\"{identity}\"")),
        "{text}"
    );
    let csrf = web_csrf(&mut owner, "/account/delete");
    let deleted = owner.post(
        "/account/delete",
        &[
            ("csrf", &csrf),
            ("drop", &identity),
            ("password", tests::accounts::PASSWORD),
        ],
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert!(
        deleted
            .text()
            .contains("The keys of the identities you alone owned are destroyed"),
        "{}",
        deleted.text()
    );

    // The key is gone from every file of the accounts database.
    assert_eq!(sealed_key(&a, &identity), None);
    assert_eq!(
        holding(&a, &sealed),
        Vec::<String>::new(),
        "the sealed key lingers"
    );
    // Nobody signs as it: not the operator either (its key was never in the keystore).
    let (status, body) = control_request(
        &node_a.info.control,
        "POST",
        "/profile",
        format!(r#"{{"identity": "{identity}", "name": "Ghost"}}"#).as_bytes(),
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("unknown_identity"), "{body}");

    // What it signed stays: served here, also after a restart, and findable and fetched
    // from here by a node that follows it now. The restart is onto DHT nodes that never
    // held its head or record, as after DHT nodes forgot them: only this node puts them
    // back (it holds no key for them, and no other node follows them).
    let entry = http_get(&format!("{}{entry_path}", node_a.info.public_url)).unwrap();
    assert!(String::from_utf8_lossy(&entry).contains("Last words"));
    node_a.stop();
    drop(network);
    let network = Network::new(4);
    let node_a = network.start_node(&a, &config_arg);
    let entry = http_get(&format!("{}{entry_path}", node_a.info.public_url)).unwrap();
    assert!(String::from_utf8_lossy(&entry).contains("Last words"));
    let _node_b = network.start_node(&b, &[]);
    let status = follow_until_held(&b, &identity, 1, Duration::from_secs(60));
    assert_eq!(status["entries"], 1, "{status}");
    let out = network.verify(&tmp.path().join("verifier"), &format!("{identity}/main"));
    assert!(
        out.starts_with(&format!("valid: {identity}/main: 1 ")),
        "{out}"
    );
}

/// The sole owner of an identity with a publisher member deletes their account: the
/// identity goes from the member too (as the page says), and what the member published as
/// it stays served.
#[test]
fn deleting_the_sole_owner_takes_the_identity_from_its_other_members() {
    let gateway = AccountsGateway::start();
    let (mut owner, mut member) = (gateway.client(), gateway.client());
    sign_up_and_in(&mut owner, &gateway.smtp, "owner@example.org");
    sign_up_and_in(&mut member, &gateway.smtp, "member@example.org");
    let identity = create_identity(&mut owner);
    invite_and_join(
        &mut owner,
        &mut member,
        &gateway.smtp,
        &identity,
        "member@example.org",
        "publisher",
    );
    // The member's form token (their session outlives the identity; the form, offering no
    // identity then, shows none).
    let member_csrf = web_csrf(&mut member, "/account/upload");
    let upload = |member: &mut WebClient, title: &str| {
        member.post_multipart(
            "/account/upload",
            &[
                ("csrf", &member_csrf),
                ("identity", &identity),
                ("feed", "main"),
                ("title", title),
            ],
            "files",
            &[("note.txt", title.as_bytes())],
        )
    };
    let published = upload(&mut member, "From the member");
    assert_eq!(published.status, 303, "{}", published.text());
    let entry_path = format!("/{identity}/main/1");

    // A member cannot drop an identity it does not own, even along with its own account
    // (decided by the node: 403, and nothing deleted).
    let csrf = web_csrf(&mut member, "/account/delete");
    let not_theirs = member.post(
        "/account/delete",
        &[("csrf", &csrf), ("drop", &identity), ("password", PASSWORD)],
    );
    assert_eq!(not_theirs.status, 403, "{}", not_theirs.text());
    assert!(signed_in(&mut member) && member_lists(&mut member, &identity));

    // A publisher is no owner: the owner alone owns it, and must tick it to delete.
    let page = owner.get("/account/delete").text();
    assert!(page.contains("Its other members lose it too."), "{page}");
    assert!(
        page.contains(&format!("name=\"drop\" value=\"{identity}\"")),
        "{page}"
    );
    let csrf = web_csrf(&mut owner, "/account/delete");
    let unticked = owner.post(
        "/account/delete",
        &[("csrf", &csrf), ("password", PASSWORD)],
    );
    assert_eq!(unticked.status, 400, "{}", unticked.text());
    assert!(member_lists(&mut member, &identity), "nothing deleted yet");
    let csrf = web_csrf(&mut owner, "/account/delete");
    let deleted = owner.post(
        "/account/delete",
        &[("csrf", &csrf), ("drop", &identity), ("password", PASSWORD)],
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());

    // The member is still signed in, and the identity is gone from every page of theirs.
    assert!(signed_in(&mut member));
    assert!(!member_lists(&mut member, &identity));
    let form = member.get("/account/upload").text();
    assert!(!form.contains(&identity), "{form}");
    let refused = upload(&mut member, "After the owner left");
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(
        gateway.client().get(&format!("/{identity}/main/2")).status,
        404,
        "nothing published after"
    );
    // What the member published stays served.
    let entry = gateway.client().get(&entry_path);
    assert_eq!(entry.status, 200);
    assert!(entry.text().contains("From the member"), "{}", entry.text());
}

/// Whether the member's identity list shows `identity`, and its page answers.
fn member_lists(member: &mut WebClient, identity: &str) -> bool {
    let list = member.get("/account/identities").text();
    let page = member
        .get(&format!("/account/identities/{identity}"))
        .status;
    assert_eq!(list.contains(identity), page == 200, "list and page agree");
    page == 200
}
