//! Hostile input typed by the users of a group-hosted gateway stays text (issue 15: "XSS
//! payloads in names, titles, file names and profile fields inert"). Against the real
//! binary, a real SMTP server on loopback and headless Chromium with the pages' CSP turned
//! off (so escaping alone must hold; the CSP header is checked on every page as well):
//! a user signs up with an address whose quoted local part is markup, signs in from a
//! browser whose User-Agent is markup, creates an identity, invites a member whose address
//! is markup, uploads files named as markup with a hostile title and description, changes
//! the address to another hostile one, searches with a hostile query; the operator signs a
//! hostile profile name and bio. Each payload sets `window.__xss` if it ever runs. Every
//! page (account, sessions, security log, identities, members, join, upload and its
//! refusals, entry, feed, identity, home, search) shows the payloads literally, runs none,
//! opens no dialog and passes the Nu checker; the RSS, Atom and JSON exports carry them as
//! text (feedparser, without its sanitizer).

use std::path::Path;
use std::time::{Duration, Instant};

use tests::accounts::{AccountsGateway, CONFIRM_PATH, PASSWORD};
use tests::binary::{swarmfeed_ok, workspace_root};
use tests::commands::new_identity;
use tests::html_check::html_problems;
use tests::inert::{Inspector, assert_forbids_script};
use tests::web::{WebClient, urlencode};

/// Addresses are valid (RFC 5322 quoted local parts, accepted by the sign-up) and markup.
const OWNER: &str = "\"<svg/onload=window.__xss='owner'>\"@example.org";
const MEMBER: &str = "\"<img/src=x/onerror=window.__xss='member'>\"@example.org";
const NEW_ADDRESS: &str = "\"</textarea></style><script>window.__xss='new'</script>\"@example.org";
const USER_AGENT: &str =
    "<script>window.__xss='ua'</script>\"><img src=x onerror=window.__xss='ua2'>";
const TITLE: &str = "Blackbird <script>window.__xss='title';alert('title')</script>\"><svg onload=window.__xss='title2'>";
const DESCRIPTION: &str =
    "javascript:window.__xss='desc' </textarea></style><img src=x onerror=window.__xss='desc2'>";
/// File names a browser sends as they are (it writes `"` as `%22`, so none holds one).
const FILE_NAMES: [&str; 3] = [
    "<img src=x onerror=window.__xss='file'>.txt",
    "'><svg onload=window.__xss='file2'>.txt",
    "javascript:window.__xss='file3'.txt",
];
const FILE_TEXT: &str = "<script>window.__xss='content'</script>";
const FEED: &str = "\"><svg onload=window.__xss='feed'>";
const QUERY: &str = "\"><svg onload=window.__xss='query'></textarea>";
const NEXT: &str = "javascript:window.__xss='next'//\"><svg onload=window.__xss='next2'>";
/// 64 bytes at most, no bidirectional control (both refused by the profile command).
const PROFILE_NAME: &str = "<script>window.__xss='name'</script>";
const PROFILE_BIO: &str =
    "\"><svg onload=window.__xss='bio'>\n</style><img src=x onerror=window.__xss='bio2'>";

/// Signs `email` up over HTTP and confirms it from the mail; then signs in.
fn web_user(gateway: &AccountsGateway, email: &str) -> WebClient {
    let mut web = gateway.client();
    let seen = gateway.smtp.mails().len();
    let page = web.get("/account/sign-up");
    let done = web.submit(
        &page.text(),
        "/account/sign-up",
        &[("email", email), ("password", PASSWORD)],
    );
    assert_eq!(done.status, 200, "{}", done.text());
    let token = gateway
        .smtp
        .wait_for_link(seen, "example.org", CONFIRM_PATH);
    let path = format!("{CONFIRM_PATH}{token}");
    let landing = web.get(&path);
    let created = web.submit(&landing.text(), &path, &[]);
    assert_eq!(created.status, 200, "{}", created.text());
    let page = web.get("/account/sign-in");
    let answer = web.submit(
        &page.text(),
        "/account/sign-in",
        &[("email", email), ("password", PASSWORD)],
    );
    assert_eq!(answer.status, 303, "{}", answer.text());
    web
}

/// Asserts an HTML page fetched outside the browser holds no payload unescaped.
fn assert_escaped(what: &str, html: &str) {
    for raw in ["<script", "<svg", "<img"] {
        assert!(!html.contains(raw), "{what}: {raw:?} unescaped in:\n{html}");
    }
}

#[test]
fn payloads_typed_into_every_form_and_header_stay_text_on_every_page_and_export() {
    let started = Instant::now();
    let gateway = AccountsGateway::start();
    let data = gateway.tmp.path().join("data");
    let base = format!("http://{}", gateway.addr());
    let mut inspector = Inspector::start(&base, USER_AGENT);

    // Sign-up with a hostile address, typed into the form.
    inspector.visit("/account/sign-up");
    inspector.prove_markers_fire();
    inspector.submit(
        "/account/sign-up",
        &[("email", OWNER), ("password", PASSWORD)],
        &[],
    );
    inspector.check("the check-your-mail page", &["Check your mail", OWNER]);
    let token = gateway.smtp.wait_for_link(0, "example.org", CONFIRM_PATH);
    let confirm = format!("{CONFIRM_PATH}{token}");
    inspector.visit(&confirm);
    inspector.submit(&confirm, &[], &[]);
    inspector.check("the confirmation", &["Your account is ready"]);

    // Sign-in: a wrong password echoes the address into the form; `next` is not followed
    // anywhere but a path here.
    inspector.visit(&format!(
        "/account/sign-in?{}",
        urlencode(&[("next", NEXT)])
    ));
    inspector.submit(
        "/account/sign-in",
        &[("email", OWNER), ("password", "not the password at all")],
        &[],
    );
    inspector.check("the refused sign-in", &[]);
    for (field, value) in [("email", OWNER), ("next", NEXT)] {
        let shown = inspector.browser.evaluate(&format!(
            "document.querySelector('form[action=\"/account/sign-in\"] [name={field}]').value"
        ));
        assert_eq!(shown, value, "the {field} field keeps what was typed");
    }
    inspector.submit("/account/sign-in", &[("password", PASSWORD)], &[]);
    assert_eq!(
        inspector.location(),
        "/account",
        "a javascript: next is not followed"
    );
    inspector.check("the account page", &[OWNER, USER_AGENT]);

    // An identity, and a member with a hostile address invited by mail.
    inspector.visit("/account/identities");
    inspector.submit("/account/identities", &[], &[]);
    let identity = inspector
        .location()
        .strip_prefix("/account/identities/")
        .expect("the new identity's page")
        .to_owned();
    let identity_page = format!("/account/identities/{identity}");
    let mut member = web_user(&gateway, MEMBER);
    let seen = gateway.smtp.mails().len();
    inspector.submit(
        &format!("{identity_page}/invite"),
        &[("email", MEMBER), ("role", "publisher")],
        &[],
    );
    let token = gateway
        .smtp
        .wait_for_link(seen, "example.org", accounts::MEMBER_INVITE_PATH);
    let join = format!("{}{token}", accounts::MEMBER_INVITE_PATH);
    let landing = member.get(&join);
    assert_eq!(landing.status, 200, "{}", landing.text());
    let joined = member.submit(&landing.text(), &join, &[]);
    assert_eq!(joined.status, 303, "{}", joined.text());
    for path in ["/account", "/account/identities", identity_page.as_str()] {
        let page = member.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert_escaped(path, &page.text());
    }
    inspector.visit(&identity_page);
    inspector.check("the members list", &[OWNER, MEMBER, "publisher"]);
    inspector.visit("/account/identities");
    inspector.check("the identities list", &[&identity]);

    // Uploads: hostile title, description and file names (and file contents, previewed).
    let files_dir = gateway.tmp.path().join("files");
    std::fs::create_dir_all(&files_dir).unwrap();
    let files: Vec<_> = FILE_NAMES.iter().map(|n| files_dir.join(n)).collect();
    for file in &files {
        std::fs::write(file, FILE_TEXT).unwrap();
    }
    let plain = files_dir.join("plain.txt");
    std::fs::write(&plain, "plain").unwrap();
    let bidi = files_dir.join("clip\u{202E}gpj.exe");
    std::fs::write(&bidi, "not a picture").unwrap();
    inspector.visit("/account/upload");
    inspector.check("the upload form", &[]);
    // Refused: a hostile feed name, then a file name with a right-to-left override.
    inspector.submit(
        "/account/upload",
        &[("identity", &identity), ("feed", FEED)],
        &[&plain],
    );
    inspector.check(
        "the refused feed name",
        &["must start with a letter or digit", FEED],
    );
    inspector.submit(
        "/account/upload",
        &[("identity", &identity), ("feed", "main")],
        &[&bidi],
    );
    inspector.check("the refused file name", &["\\u{202E}gpj.exe"]);
    assert!(
        !inspector.text().contains('\u{202E}'),
        "a raw U+202E is shown"
    );
    // A name a browser never sends (a path separator): refused, and echoed escaped.
    let form = member.get("/account/upload").text();
    let csrf = tests::web::hidden_fields(&form, "/account/upload")
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v)
        .expect("the upload form's CSRF token");
    let refused = member.post_multipart(
        "/account/upload",
        &[("csrf", &csrf), ("identity", &identity), ("feed", "main")],
        "files",
        &[("</textarea><script>window.__xss='path'</script>.txt", b"x")],
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_escaped("the refused path", &refused.text());
    assert!(refused.text().contains("&lt;/textarea&gt;&lt;script&gt;"));

    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    inspector.submit(
        "/account/upload",
        &[
            ("identity", &identity),
            ("feed", "main"),
            ("title", TITLE),
            ("description", DESCRIPTION),
        ],
        &paths,
    );
    let entry = format!("/{identity}/main/1");
    assert_eq!(inspector.location(), entry, "{}", inspector.text());
    let mut literal = vec![TITLE, DESCRIPTION, FILE_TEXT];
    literal.extend(FILE_NAMES);
    inspector.check("the entry page", &literal);
    inspector.visit(&format!("/{identity}/main"));
    inspector.check("the feed page", &[TITLE]);
    inspector.visit(&format!("/{identity}"));
    inspector.check("the identity's public page", &[]);
    inspector.visit("/");
    inspector.check("the home page", &[]);

    // Search: a hostile query echoed into the form, then a hit with the hostile title.
    inspector.visit("/search");
    inspector.submit("/search", &[("q", QUERY)], &[]);
    inspector.check("the search for markup", &[]);
    let echoed = inspector
        .browser
        .evaluate("document.querySelector('form[action=\"/search\"] [name=q]').value");
    assert_eq!(echoed, QUERY, "the query is echoed as typed");
    inspector.submit("/search", &[("q", "blackbird")], &[]);
    inspector.check("the search hit", &[TITLE]);

    // A new hostile address: the security log records the old one.
    inspector.visit("/account");
    let seen = gateway.smtp.mails().len();
    inspector.submit(
        "/account/email",
        &[("email", NEW_ADDRESS), ("password", PASSWORD)],
        &[],
    );
    inspector.check("the address change", &[]);
    let token = gateway
        .smtp
        .wait_for_link(seen, "example.org", accounts::EMAIL_CHANGE_PATH);
    let change = format!("{}{token}", accounts::EMAIL_CHANGE_PATH);
    inspector.visit(&change);
    inspector.check("the new address's landing", &[]);
    inspector.submit(&change, &[], &[]);
    inspector.visit("/account");
    inspector.check(
        "the security log",
        &[NEW_ADDRESS, &format!("from {OWNER}"), USER_AGENT],
    );

    // A profile the operator signs (names with bidirectional controls are refused).
    new_identity(&data, "ops");
    let signed: serde_json::Value = serde_json::from_str(&swarmfeed_ok(&[
        "--data",
        data.to_str().unwrap(),
        "identity",
        "profile",
        "--identity",
        "ops",
        "--name",
        PROFILE_NAME,
        "--bio",
        PROFILE_BIO,
        "--json",
    ]))
    .unwrap();
    let ops = signed["identity"].as_str().unwrap().to_owned();
    inspector.visit(&format!("/{ops}"));
    let bio: Vec<&str> = PROFILE_BIO.lines().collect();
    inspector.check("the profile", &[PROFILE_NAME, bio[0], bio[1]]);

    // The exports: feedparser, its sanitizer off, reads the payloads back as text.
    let script = workspace_root().join("tests/python/hostile_feeds.py");
    let (ok, stdout, stderr) = tests::process::run_with_limit(
        std::process::Command::new("python3").arg(&script).args([
            &base,
            &identity,
            "main",
            TITLE,
            DESCRIPTION,
            FILE_NAMES[0],
        ]),
        Duration::from_secs(60),
    );
    assert!(ok, "hostile_feeds.py: {stdout}{stderr}");
    eprintln!("{stdout}");

    // Every page as served: the Nu checker finds nothing, the CSP forbids script.
    let mut pages: Vec<(&str, &str)> = inspector
        .pages
        .iter()
        .map(|(p, h)| (p.as_str(), h.as_str()))
        .collect();
    pages.extend(member.pages.iter().map(|(p, h)| (p.as_str(), h.as_str())));
    let problems = html_problems(&pages);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_forbids_script(
        "the refused path",
        &refused
            .header("content-security-policy")
            .expect("a CSP on the refusal"),
    );
    eprintln!(
        "{} pages in Chromium, {} over HTTP, in {:.1} s",
        inspector.pages.len(),
        member.pages.len(),
        started.elapsed().as_secs_f64()
    );
}
