//! The public profile of an identity the gateway holds for its users (issue 15 item 6), set
//! through the identity page's form against the real binary: the owner signs a display
//! name, a bio and an avatar chosen among the image files of the identity's own entries;
//! this gateway's pages (the home page's list of the node's identities too, which holds the
//! identities the gateway holds) and those of a second node following the identity show them. A
//! publisher member and a stranger are refused (403, nothing signed); hostile, bidi and
//! over-long names and an avatar that is not the identity's are refused with a readable
//! message and nothing signed.

use std::path::Path;
use std::time::Duration;

use seeder::node::api::Operation;
use tests::accounts::{
    between, create_identity, invite_and_join, location, open_accounts_config, sign_up_and_in,
    web_csrf,
};
use tests::html_check::html_problems;
use tests::http::http_get;
use tests::network::{Network, follow_until_held};
use tests::node::{NodeProcess, metric};
use tests::poll::wait_for;
use tests::smtp::SmtpServer;
use tests::web::WebClient;

fn set_profile_decisions(node: &NodeProcess, outcome: &str) -> f64 {
    let name = format!(
        "swarmfeed_authorizations_total{{operation=\"{}\",actor=\"user\",outcome=\"{outcome}\"}}",
        Operation::SetProfile.name()
    );
    metric(node, &name).unwrap_or_else(|| panic!("/metrics has no {name}"))
}

fn page(base: &str, path: &str) -> String {
    http_get(&format!("{base}{path}"))
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or_default()
}

/// The signed profile as the node serves it, and as its data directory keeps it.
fn signed_profile(node: &NodeProcess, data: &Path, identity: &str) -> (Vec<u8>, Vec<u8>) {
    let served = http_get(&format!(
        "{}/api/v1/identities/{identity}/extensions/profile",
        node.info.public_url
    ))
    .unwrap_or_default();
    let kept =
        std::fs::read(data.join("feeds").join(identity).join("@profile")).unwrap_or_default();
    (served, kept)
}

#[test]
fn an_owner_signs_the_profile_of_a_held_identity_through_the_form_and_a_follower_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&tmp.path().join("spool"));
    let config = open_accounts_config(tmp.path(), &smtp);
    let network = Network::new(4);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let node_a = network.start_node(&a, &["--config", config.to_str().unwrap()]);
    let url = node_a.info.public_url.clone();

    let (mut owner, mut member, mut stranger) = (
        WebClient::new(node_a.info.http),
        WebClient::new(node_a.info.http),
        WebClient::new(node_a.info.http),
    );
    sign_up_and_in(&mut owner, &smtp, "owner@example.org");
    sign_up_and_in(&mut member, &smtp, "member@example.org");
    sign_up_and_in(&mut stranger, &smtp, "stranger@example.org");

    // The owner creates an identity, invites the member as publisher (accepted from the
    // mail), and publishes a picture through the upload form.
    let identity = create_identity(&mut owner);
    let page_path = format!("/account/identities/{identity}");
    // The home page lists it among the identities publishing from this node, by its id
    // while it has no name.
    let home = page(&url, "/");
    let listed = format!(
        "<a href=\"/{identity}\"><span class=\"id\">{identity}</span></a> (held for its members by this gateway)"
    );
    assert!(home.contains(&listed), "{home}");
    invite_and_join(
        &mut owner,
        &mut member,
        &smtp,
        &identity,
        "member@example.org",
        "publisher",
    );
    let picture = [0x89, b'P', b'N', b'G', 13, 10, 26, 10, 1, 2, 3];
    let csrf = web_csrf(&mut owner, "/account/upload");
    let uploaded = owner.post_multipart(
        "/account/upload",
        &[
            ("csrf", &csrf),
            ("identity", &identity),
            ("feed", "main"),
            ("title", "Us at dawn"),
        ],
        "files",
        &[("wren.png", &picture)],
    );
    assert_eq!(uploaded.status, 303, "{}", uploaded.text());

    // The owner's form offers the picture as avatar (by its torrent: a one-file torrent).
    let form = owner.get(&page_path).text();
    let select = between(
        &form,
        "<select id=\"profile-avatar\" name=\"avatar\">",
        "</select>",
    );
    let avatar = between(select, "<option value=\"", "\"");
    assert!(avatar.is_empty(), "'none' comes first: {select}");
    let avatar = between(
        &select[select.find("</option>").unwrap()..],
        "value=\"",
        "\"",
    );
    assert_eq!(avatar.len(), 40, "{select}");
    assert!(select.contains("wren.png — Us at dawn"), "{select}");

    // Refused before anything is signed: a publisher member and a stranger (403), then
    // the owner's hostile, bidi and over-long names and an avatar not the identity's (400,
    // with the reason in words on the page).
    let nothing = signed_profile(&node_a, &a, &identity);
    assert_eq!(nothing, (Vec::new(), Vec::new()), "no profile yet");
    let profile_path = format!("{page_path}/profile");
    for (who, web) in [("member", &mut member), ("stranger", &mut stranger)] {
        let denied = set_profile_decisions(&node_a, "denied");
        let csrf = web_csrf(web, "/account/identities");
        let refused = web.post(
            &profile_path,
            &[
                ("csrf", &csrf),
                ("name", "Taken over"),
                ("bio", ""),
                ("avatar", ""),
            ],
        );
        assert_eq!(refused.status, 403, "{who}: {}", refused.text());
        assert!(
            refused.text().contains("may not set profile"),
            "{who}: {}",
            refused.text()
        );
        assert_eq!(
            set_profile_decisions(&node_a, "denied"),
            denied + 1.0,
            "{who}"
        );
        assert_eq!(signed_profile(&node_a, &a, &identity), nothing, "{who}");
    }
    let member_page = member.get(&page_path).text();
    assert!(
        member_page.contains("Only owners change the profile."),
        "{member_page}"
    );
    assert!(!member_page.contains("profile-name"), "{member_page}");
    let csrf = web_csrf(&mut owner, "/account/identities");
    let too_long = "W".repeat(65);
    let not_its_own = "00".repeat(20);
    for (name, avatar, reason) in [
        (
            "<script>alert(1)</script>\u{202E}gpj.exe",
            "",
            "holds U+202E, a bidirectional control",
        ),
        ("Wren\u{2067}s", "", "holds U+2067"),
        ("Wren\u{7}", "", "holds U+0007"),
        (
            too_long.as_str(),
            "",
            "is 65 bytes of UTF-8; a profile name holds at most 64",
        ),
        (
            "Wren",
            not_its_own.as_str(),
            "must be an image file of one of this",
        ),
    ] {
        let refused = owner.post(
            &profile_path,
            &[
                ("csrf", &csrf),
                ("name", name),
                ("bio", ""),
                ("avatar", avatar),
            ],
        );
        assert_eq!(refused.status, 400, "{name:?}: {}", refused.text());
        let shown = between(
            &refused.text(),
            "<p class=\"problem\" role=\"alert\">",
            "</p>",
        )
        .to_owned();
        assert!(shown.contains(reason), "{name:?}: {shown}");
        assert!(!refused.text().contains("<script>alert"), "{name:?}");
        assert_eq!(signed_profile(&node_a, &a, &identity), nothing, "{name:?}");
    }

    // The owner signs it (the browser's CRLF line breaks in the bio).
    let allowed = set_profile_decisions(&node_a, "allowed");
    let signed = owner.post(
        &profile_path,
        &[
            ("csrf", &csrf),
            ("name", "Wren Collective"),
            ("bio", "Field recordings.\r\nBirds, mostly."),
            ("avatar", avatar),
        ],
    );
    assert_eq!(signed.status, 303, "{}", signed.text());
    assert_eq!(location(&signed), format!("{page_path}?done=profile"));
    assert_eq!(set_profile_decisions(&node_a, "allowed"), allowed + 1.0);
    let (served, kept) = signed_profile(&node_a, &a, &identity);
    assert!(!served.is_empty() && served == kept, "stored and served");
    let form = owner.get(&format!("{page_path}?done=profile")).text();
    assert!(form.contains("The profile is signed"), "{form}");
    assert!(form.contains("value=\"Wren Collective\""), "{form}");
    assert!(
        form.contains(&format!("<option value=\"{avatar}\" selected>")),
        "{form}"
    );

    // This gateway's public pages show it, the home page too.
    let home = page(&url, "/");
    let listed = format!(
        "<a href=\"/{identity}\"><bdi>Wren Collective</bdi></a> <span class=\"id\">{identity}</span> (held for its members by this gateway) — feeds: <a href=\"/{identity}/main\">main</a>"
    );
    assert!(home.contains(&listed), "{home}");
    let label =
        format!("<bdi class=\"name\">Wren Collective</bdi> <a class=\"id\" href=\"/{identity}\"");
    let feed_page = page(&url, &format!("/{identity}/main"));
    assert!(feed_page.contains(&label), "{feed_page}");
    let identity_page = page(&url, &format!("/{identity}"));
    assert!(identity_page.contains("Publishes from this node."));
    assert!(
        identity_page.contains("<h1><bdi>Wren Collective</bdi></h1>"),
        "{identity_page}"
    );
    assert!(
        identity_page.contains("<bdi>Field recordings.</bdi><br><bdi>Birds, mostly.</bdi>"),
        "{identity_page}"
    );
    assert!(
        identity_page.contains(&format!(
            "<img class=\"avatar\" src=\"/files/{avatar}/wren.png\""
        )),
        "{identity_page}"
    );

    // A second node following the identity shows the same name (the record names the
    // profile: re-signed at once with the held key).
    let node_b = network.start_node(&b, &["--poll-interval", "2"]);
    follow_until_held(&b, &identity, 1, Duration::from_secs(120));
    let url_b = node_b.info.public_url.clone();
    wait_for(
        Duration::from_secs(60),
        "B's feed page to show the name",
        || {
            page(&url_b, &format!("/{identity}/main"))
                .contains(&label)
                .then_some(())
        },
    );

    let pages: Vec<(&str, &str)> = owner
        .pages
        .iter()
        .chain(member.pages.iter())
        .filter(|(p, _)| p.contains("/account/identities/"))
        .map(|(p, h)| (p.as_str(), h.as_str()))
        .collect();
    assert!(pages.len() >= 3);
    let problems = html_problems(&pages);
    assert!(problems.is_empty(), "{problems:#?}");
}
