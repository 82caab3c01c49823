//! HTML pages that escape untrusted text, and RSS/Atom exports that validate.

use std::process::Command;

use tests::binary::swarmfeed_ok;
use tests::commands::publish;
use tests::html_check::html_problems;

use crate::client::get;
use crate::{Fixture, pattern, write};

#[test]
fn pages_escape_untrusted_titles_and_exports_validate() {
    let fx = Fixture::start(&[]);
    let url = fx.url();
    let hostile = "<script>alert(1)</script> & \"quotes\"";
    let album = fx.root.join("in/show");
    write(&album.join("poster.png"), &pattern(2048, 5));
    write(&album.join("clip.mp4"), &pattern(4096, 6));
    write(&album.join("readme.txt"), b"Plain <b>text</b> preview\n");
    let first = publish(
        &fx.data,
        &album,
        hostile,
        &[
            "--meta",
            "note=<img src=x onerror=alert(2)>",
            "--description",
            "A <i>show</i>",
        ],
    );
    let song = fx.root.join("in/song.mp3");
    write(&song, &pattern(3000, 7));
    publish(&fx.data, &song, "A song", &[]);
    let retracted = fx.root.join("in/gone.txt");
    write(&retracted, b"gone\n");
    publish(&fx.data, &retracted, "Gone", &[]);
    swarmfeed_ok(&["--data", fx.data.to_str().unwrap(), "retract", "3"]);
    let identity = first["identity"].as_str().unwrap().to_owned();
    let ih = first["infohash"].as_str().unwrap().to_owned();

    let entry = get(url, &format!("/{identity}/main/1"));
    assert_eq!(entry.status, 200, "{}", entry.text());
    assert!(
        entry
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        entry
            .header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = entry.text();
    assert!(!html.contains("<script>alert"), "unescaped title");
    assert!(!html.contains("<img src=x"), "unescaped metadata");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(!html.contains("<script"), "pages carry no script at all");
    for needle in [
        format!("href=\"/files/{ih}/poster.png\""),
        format!("<img src=\"/files/{ih}/poster.png\""),
        format!("<video controls preload=\"metadata\" src=\"/files/{ih}/clip.mp4\""),
        "Plain &lt;b&gt;text&lt;/b&gt; preview".to_owned(),
        format!("href=\"magnet:?xt=urn:btih:{ih}"),
        format!("/webseed-torrents/{ih}.torrent"),
        format!("/torrents/{ih}.torrent"),
        format!(
            "rel=\"alternate\" type=\"application/rss+xml\" title=\"RSS\" href=\"/{identity}/main/feed.rss\""
        ),
        "Signature and hash chain verified".to_owned(),
    ] {
        assert!(html.contains(&needle), "entry page lacks {needle}:\n{html}");
    }

    let feed = get(url, &format!("/{identity}/main"));
    assert_eq!(feed.status, 200);
    let html = feed.text();
    assert!(html.contains("&lt;script&gt;alert(1)"));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("retracted"), "{html}");
    assert!(html.contains(&format!("href=\"/{identity}/main/2\"")));
    assert!(html.contains("application/atom+xml"));

    let gone = get(url, &format!("/{identity}/main/3"));
    assert!(gone.text().contains("Retracted"));
    let ident = get(url, &format!("/{identity}"));
    assert_eq!(ident.status, 200);
    assert!(ident.text().contains(&format!("href=\"/{identity}/main\"")));
    let home = get(url, "/");
    assert_eq!(home.status, 200);
    assert!(home.text().contains(&format!("href=\"/{identity}\"")));
    let missing = get(url, &format!("/{identity}/main/99"));
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let bad_identity = get(url, "/not-an-identity");
    assert_eq!(bad_identity.status, 400);

    // Every kind of page is valid HTML to the W3C's Nu Html Checker, warnings included:
    // hostile text, a retracted entry, the error pages.
    let pages = [
        ("home", home.text()),
        ("identity", ident.text()),
        ("feed", feed.text()),
        ("entry", entry.text()),
        ("retracted entry", gone.text()),
        ("404", missing.text()),
        ("400", bad_identity.text()),
    ];
    let named: Vec<(&str, &str)> = pages.iter().map(|(n, h)| (*n, h.as_str())).collect();
    let problems = html_problems(&named);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The checker does find faults (else the check above proves nothing).
    let broken = html_problems(&[(
        "broken",
        "<!doctype html><html lang=en><title>x</title><p><div>x</p></span>",
    )]);
    assert!(broken.len() >= 2, "{broken:?}");

    let script = tests::binary::workspace_root().join("tests/python/gateway_feeds.py");
    let output = Command::new("python3")
        .arg(&script)
        .args([url, identity.as_str(), "main", "A song", hostile])
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // scripts/test installs feedparser; without it this fails rather than passing unchecked.
    assert!(output.status.success(), "feed exports: {report}");
    let rss = get(url, &format!("/{identity}/main/feed.rss")).text();
    assert!(rss.contains("&lt;script&gt;"), "{rss}");
    assert!(
        rss.contains(&format!("<torrent:infoHash>{ih}</torrent:infoHash>")),
        "{rss}"
    );
    assert!(!rss.contains("Gone"), "retracted posts stay out of exports");
}
