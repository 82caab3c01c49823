//! The JSON API: entries paged by seq, and errors with stable names.

use tests::binary::swarmfeed_ok;
use tests::commands::publish;

use crate::client::get;
use crate::{Fixture, write};

#[test]
fn the_json_api_pages_entries_by_seq_and_names_its_errors() {
    let fx = Fixture::start(&[]);
    let url = fx.url();
    let mut published = Vec::new();
    for i in 1..=5u64 {
        let path = fx.root.join(format!("in/note-{i}.txt"));
        write(&path, format!("note {i}\n").as_bytes());
        published.push(publish(
            &fx.data,
            &path,
            &format!("Note {i}"),
            &["--meta", "lang=en"],
        ));
    }
    let identity = published[0]["identity"].as_str().unwrap().to_owned();
    swarmfeed_ok(&["--data", fx.data.to_str().unwrap(), "retract", "2"]);

    let page = get(
        url,
        &format!("/api/v1/feeds/{identity}/main/entries?limit=3"),
    );
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    let seqs: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [6, 5, 4]);
    assert_eq!(page["verified_seq"], 6);
    assert_eq!(page["status"], "ok");
    assert_eq!(page["entries"][0]["kind"], "delete");
    assert_eq!(page["entries"][0]["retracts"], 2);
    let next = page["next"].as_str().unwrap();
    let path = next.strip_prefix(url).unwrap();
    let older = get(url, path).json();
    let seqs: Vec<u64> = older["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 2, 1]);
    assert_eq!(older["entries"][1]["retracted"], true);
    assert_eq!(older["entries"][0]["retracted"], false);

    let one = get(url, &format!("/api/v1/entries/{identity}/main/4"));
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(one["title"], "Note 4");
    assert_eq!(one["meta"]["lang"], "en");
    assert_eq!(one["signed_by"], identity.as_str());
    assert!(one["time"].as_u64().unwrap() > 1_600_000_000);
    let ih = published[3]["infohash"].as_str().unwrap();
    assert_eq!(one["content"]["infohash"], ih);
    assert_eq!(one["content"]["files"][0]["path"], "note-4.txt");
    assert_eq!(one["content"]["files"][0]["length"], 7);
    let file_url = one["content"]["files"][0]["url"].as_str().unwrap();
    assert_eq!(
        get(url, file_url.strip_prefix(url).unwrap()).body,
        b"note 4\n"
    );
    let magnet = one["magnet"].as_str().unwrap();
    assert!(
        magnet.starts_with(&format!("magnet:?xt=urn:btih:{ih}")),
        "{magnet}"
    );
    assert!(magnet.contains("&ws="), "{magnet}");
    let torrent_url = one["torrent_url"].as_str().unwrap();
    assert_eq!(torrent_url, published[3]["torrent_url"].as_str().unwrap());
    let torrent = get(url, torrent_url.strip_prefix(url).unwrap());
    assert_eq!(
        feeds::Metainfo::decode(&torrent.body)
            .unwrap()
            .infohash()
            .to_string(),
        ih
    );
    assert_eq!(one["url"], published[3]["entry_url"]);

    for (path, status, name) in [
        (
            format!("/api/v1/entries/{identity}/main/99"),
            404,
            "not_found",
        ),
        (
            format!("/api/v1/entries/{identity}/main/zero"),
            400,
            "bad_seq",
        ),
        (
            format!("/api/v1/entries/{identity}/-bad/1"),
            400,
            "bad_feed_name",
        ),
        (
            "/api/v1/entries/nobody/main/1".to_owned(),
            400,
            "bad_identity",
        ),
        (
            format!("/api/v1/feeds/{identity}/other/entries"),
            404,
            "not_found",
        ),
        ("/favicon.ico".to_owned(), 404, "not_found"),
        (
            format!("/api/v1/feeds/{identity}/main/entries?limit=0"),
            400,
            "bad_limit",
        ),
        (
            format!("/api/v1/feeds/{identity}/main/entries?before=x"),
            400,
            "bad_seq",
        ),
    ] {
        let reply = get(url, &path);
        assert_eq!(reply.status, status, "{path}: {}", reply.text());
        assert_eq!(reply.json()["error"], name, "{path}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
}
