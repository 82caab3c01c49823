//! Search through a real `swarmfeed serve`: a small corpus found through the page, the JSON
//! API and the command line (through the running node, then offline on its store), with
//! stable error names; the page passes the W3C Nu checker; a hostile title and file name
//! stay inert text in headless Chromium.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tests::binary::swarmfeed;
use tests::browser::Browser;
use tests::html_check::html_problems;
use tests::node::publish;
use tests::solo::SoloNode as Fixture;

const HOSTILE_TITLE: &str = "<script>document.title='pwned'</script><b>zebra</b> & \"crossing\"";
const HOSTILE_FILE: &str = "<img src=x onerror=\"document.title='pwned'\">.txt";

/// Writes `files` (relative path, text) under `root/content/dir` and returns the directory.
fn content(root: &Path, dir: &str, files: &[(&str, &str)]) -> PathBuf {
    let base = root.join("content").join(dir);
    for (path, text) in files {
        let path = base.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    base
}

/// Three entries: an ISO release, a recording, and one with a hostile title and file name.
fn corpus(fixture: &Fixture) -> String {
    let root = &fixture.root;
    let iso = content(
        root,
        "release",
        &[
            ("kubuntu-24.04-desktop-amd64.iso", "not really an iso"),
            ("SHA256SUMS", "x"),
        ],
    );
    let published = publish(
        &fixture.data,
        &iso,
        "Kubuntu 24.04 desktop",
        &["--description", "The Kubuntu release for desktops"],
    );
    let recording = content(root, "dawn", &[("field-recording.flac", "not really flac")]);
    publish(
        &fixture.data,
        &recording,
        "Field recording at dawn",
        &["--description", "Birds outside the Café <Flore>"],
    );
    let hostile = content(root, "hostile", &[(HOSTILE_FILE, "hello")]);
    publish(&fixture.data, &hostile, HOSTILE_TITLE, &[]);
    published["identity"].as_str().unwrap().to_owned()
}

fn api(fixture: &Fixture, query: &str) -> (u16, Value) {
    let (status, body) = fixture.get(&format!("/api/v1/search?{query}"));
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{query}: {e}: {body}"));
    (status, value)
}

fn titles(answer: &Value) -> Vec<String> {
    answer["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn cli(data: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--data", data.to_str().unwrap(), "search"];
    all.extend_from_slice(args);
    let output = swarmfeed(&all);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_small_corpus_is_found_through_the_page_the_json_api_and_the_cli() {
    let mut fixture = Fixture::start(&[]);
    let identity = corpus(&fixture);

    // The JSON API: a file-name substring, with the identity's name, the entry and health.
    let (status, answer) = api(&fixture, "q=ubunt");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(titles(&answer), ["Kubuntu 24.04 desktop"]);
    let hit = &answer["hits"][0];
    assert_eq!(hit["identity"], identity.as_str());
    assert_eq!(hit["display_name"], "alice");
    assert_eq!(hit["feed"], "main");
    assert_eq!(hit["seq"], 1);
    assert_eq!(hit["kind"], "post");
    assert_eq!(
        hit["snippet"],
        json!([{"text": "K"}, {"text": "ubunt", "hit": true}, {"text": "u 24.04 desktop"}])
    );
    assert_eq!(
        hit["files"],
        json!([[{"text": "k"}, {"text": "ubunt", "hit": true}, {"text": "u-24.04-desktop-amd64.iso"}]])
    );
    assert_eq!(hit["description"][1], json!({"text": "ubunt", "hit": true}));
    // The node seeds what it published: its engine holds the torrent.
    assert_eq!(hit["health"]["engine"]["seeding"], true, "{hit}");
    assert_eq!(hit["health"]["nodes_serving"], 0);

    // Filters and orders.
    assert_eq!(
        titles(&api(&fixture, "q=dawn&ext=flac").1),
        ["Field recording at dawn"]
    );
    assert_eq!(
        titles(&api(&fixture, "q=recording&ext=iso").1),
        Vec::<String>::new()
    );
    assert_eq!(
        titles(&api(&fixture, "q=dawn&until=1970-01-02").1),
        Vec::<String>::new()
    );
    let feed_filter = format!("q=desk*&identity={identity}&feed=main&order=newest");
    assert_eq!(
        titles(&api(&fixture, &feed_filter).1),
        ["Kubuntu 24.04 desktop"]
    );

    // Stable error names.
    for (query, name) in [
        ("q=", "bad_query"),
        ("q=x&colour=red", "bad_query"),
        ("q=dawn&order=up", "bad_query"),
        ("q=dawn&since=yesterday", "bad_query"),
        ("q=dawn&limit=0", "bad_limit"),
        ("q=dawn&identity=nope", "bad_identity"),
    ] {
        let (status, answer) = api(&fixture, query);
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(name)),
            "{query}: {answer}"
        );
    }

    // The page: the form, the results with matches marked, and the hostile entry escaped.
    let (status, form) = fixture.get("/search");
    assert_eq!(status, 200);
    assert!(
        form.contains("<form action=\"/search\" method=\"get\""),
        "{form}"
    );
    let (status, results) = fixture.get("/search?q=ubunt");
    assert_eq!(status, 200, "{results}");
    assert!(
        results.contains("K<mark>ubunt</mark>u 24.04 desktop"),
        "{results}"
    );
    assert!(
        results.contains(&format!("href=\"/{identity}/main/1\"")),
        "{results}"
    );
    assert!(results.contains("seeded by this node"), "{results}");
    // Marked as matched: diacritics folded, the text as written and escaped.
    let (_, folded) = fixture.get("/search?q=cafe");
    assert!(
        folded.contains("Birds outside the <mark>Café</mark> &lt;Flore&gt;"),
        "{folded}"
    );
    let (_, hostile) = fixture.get("/search?q=zebra+onerror");
    assert!(
        hostile.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;b&gt;<mark>zebra</mark>&lt;/b&gt;"),
        "{hostile}"
    );
    assert!(
        !hostile.contains("<script") && !hostile.contains("<img"),
        "{hostile}"
    );
    let (status, error_page) = fixture.get("/search?q=dawn&limit=0");
    assert_eq!(status, 400);
    assert!(error_page.contains("bad_limit"), "{error_page}");
    let problems = html_problems(&[
        ("search form", &form),
        ("results", &results),
        ("hostile", &hostile),
    ]);
    assert!(problems.is_empty(), "{problems:#?}");

    // OpenSearch: linked from every page, pointing at this gateway.
    let (_, home) = fixture.get("/");
    assert!(home.contains(
        "<link rel=\"search\" type=\"application/opensearchdescription+xml\" title=\"swarmfeed\" href=\"/opensearch.xml\">"
    ), "{home}");
    let answer = fixture.raw("GET", "/opensearch.xml", &[]);
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/opensearchdescription+xml")
    );
    let description = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(
        description.contains(&format!(
            "template=\"{}/search?q={{searchTerms}}\"",
            fixture.url()
        )),
        "{description}"
    );

    // The command line, through the running node: the same answer as the gateway's.
    let (code, out, err) = cli(&fixture.data, &["ubunt", "--json"]);
    assert_eq!(code, 0, "{err}");
    let through_node: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(through_node, api(&fixture, "q=ubunt&limit=20").1);
    let (code, out, err) = cli(&fixture.data, &["daw*", "--ext", "flac"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Field recording at dawn\n"), "{out}");
    let (code, _, err) = cli(&fixture.data, &["dawn", "--since", "yesterday"]);
    assert_eq!(code, 3, "bad input: {err}");
    assert!(err.contains("bad_query"), "{err}");

    // Offline, on the store: the same hits; the engine's peers are unknown.
    fixture.node.stop();
    let (code, out, err) = cli(&fixture.data, &["ubunt", "--json"]);
    assert_eq!(code, 0, "{err}");
    let offline: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(titles(&offline), ["Kubuntu 24.04 desktop"]);
    assert_eq!(offline["hits"][0]["health"]["engine"], Value::Null);
    assert_eq!(
        offline["hits"][0]["snippet"],
        through_node["hits"][0]["snippet"]
    );
    let (code, _, err) = cli(&fixture.data, &["dawn", "--limit", "500"]);
    assert_eq!(code, 3, "{err}");
}

#[test]
fn a_hostile_title_and_file_name_stay_inert_text_in_the_result_page() {
    let fixture = Fixture::start(&[]);
    let hostile = content(&fixture.root, "hostile", &[(HOSTILE_FILE, "hello")]);
    publish(&fixture.data, &hostile, HOSTILE_TITLE, &[]);

    let mut browser = Browser::start();
    browser.navigate(&format!("{}/search?q=zebra+onerror", fixture.url()));
    assert_eq!(
        browser.evaluate("document.title"),
        "zebra onerror — search · swarmfeed"
    );
    let hit = browser.evaluate(
        "[...document.querySelectorAll('li.hit')].map(li => [li.querySelector('a').textContent, \
         [...li.querySelectorAll('ul.files li')].map(f => f.textContent)])",
    );
    assert_eq!(hit, json!([[HOSTILE_TITLE, [HOSTILE_FILE]]]));
    let marks = browser.evaluate("[...document.querySelectorAll('mark')].map(m => m.textContent)");
    assert_eq!(marks, json!(["zebra", "onerror"]));
    let active =
        browser.evaluate("document.querySelectorAll('script, iframe, img, b, [onerror]').length");
    assert_eq!(active, 0);
}
