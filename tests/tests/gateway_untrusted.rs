//! Pages of a real `swarmfeed serve` when what they show is hostile or changed: a published
//! text file replaced by a symlink to a secret is previewed nowhere (the entry page makes
//! the checks `/files` makes), and entries signed with 130 kB titles and descriptions are
//! answered on every page and export, clipped, with the node's memory flat.

use std::process::Command;
use std::time::Duration;

use tests::binary::workspace_root;
use tests::node::{publish, run_with_limit};
use tests::solo::SoloNode as Fixture;

#[test]
fn an_entry_page_does_not_preview_a_published_text_file_replaced_by_a_symlink() {
    let fixture = Fixture::start(&[]);
    let content = fixture.root.join("content");
    std::fs::create_dir_all(&content).unwrap();
    let secret = fixture.root.join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-7f3a9c: the keys\n").unwrap();

    // An untouched text file is previewed.
    let kept = content.join("kept.txt");
    std::fs::write(&kept, "Liner notes, still as published.\n").unwrap();
    let kept = publish(&fixture.data, &kept, "Kept", &[]);
    let kept_page = kept["entry_url"].as_str().unwrap();
    let kept_page = kept_page
        .strip_prefix(&fixture.node.info.public_url)
        .unwrap();
    let (status, page) = fixture.get(kept_page);
    assert_eq!(status, 200);
    assert!(page.contains("Liner notes, still as published."), "{page}");

    // A published notes.txt replaced by a symlink to a secret file of the same length.
    let notes = content.join("notes.txt");
    std::fs::write(&notes, "Liner notes: recorded live.\n").unwrap();
    assert_eq!(
        std::fs::metadata(&notes).unwrap().len(),
        std::fs::metadata(&secret).unwrap().len()
    );
    let published = publish(&fixture.data, &notes, "Notes", &[]);
    let infohash = published["infohash"].as_str().unwrap();
    let page_path = published["entry_url"]
        .as_str()
        .unwrap()
        .strip_prefix(&fixture.node.info.public_url)
        .unwrap()
        .to_owned();
    std::fs::remove_file(&notes).unwrap();
    std::os::unix::fs::symlink(&secret, &notes).unwrap();

    let (status, body) = fixture.get(&format!("/files/{infohash}/notes.txt"));
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("TOP-SECRET"));
    let (status, page) = fixture.get(&page_path);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Notes"), "{page}");
    assert!(
        !page.contains("TOP-SECRET"),
        "the entry page previews the symlinked secret"
    );
    assert!(!page.contains("Liner notes: recorded live."), "{page}");
}

#[test]
fn entries_with_130_kb_titles_and_descriptions_are_answered_clipped_and_memory_stays_flat() {
    // Every request renders (no page cache), so memory is measured over real renders.
    let fixture = Fixture::start(&["--cache-bytes", "0"]);
    let content = fixture.root.join("content");
    std::fs::create_dir_all(&content).unwrap();
    // Just under Linux's 128 KiB limit on one argument. One entry of Ts with a description
    // of Ds, then 26 of ampersands, which pages and XML escape fivefold: 17 MB of titles,
    // more than the page cache buffers (16 MiB).
    let file = content.join("song.txt");
    std::fs::write(&file, "la la la\n").unwrap();
    let title = "T".repeat(130_000);
    let description = "D".repeat(130_000);
    let published = publish(
        &fixture.data,
        &file,
        &title,
        &["--description", &description],
    );
    let amps = "&".repeat(130_000);
    for i in 0..26 {
        let file = content.join(format!("{i}.txt"));
        std::fs::write(&file, format!("{i}\n")).unwrap();
        publish(&fixture.data, &file, &amps, &[]);
    }
    let identity = published["identity"].as_str().unwrap().to_owned();
    let entry = published["entry_url"]
        .as_str()
        .unwrap()
        .strip_prefix(&fixture.node.info.public_url)
        .unwrap()
        .to_owned();
    let feed = format!("/{identity}/main");
    let paths = [
        feed.clone(),
        format!("{feed}/feed.rss"),
        format!("{feed}/feed.atom"),
        format!("{feed}/feed.json"),
        entry.clone(),
        format!("{feed}/27"),
    ];
    // Titles are cut to 256 characters, descriptions to 4,096, the last one "…".
    let clipped_title = format!("{}…", "T".repeat(255));
    let clipped_description = format!("{}…", "D".repeat(4095));
    let clipped_amps = format!("{}…", "&".repeat(255));
    let escaped_amps = format!("{}…", "&amp;".repeat(255));
    for path in &paths {
        let (status, body) = fixture.get(path);
        assert_eq!(status, 200, "{path}: {:.300}", body);
        assert!(body.len() < 512 << 10, "{path}: {} bytes", body.len());
        assert!(!body.contains(&"T".repeat(257)), "{path}: a title is whole");
        assert!(
            !body.contains(&"D".repeat(4097)),
            "{path}: a description is whole"
        );
        assert!(
            !body.contains(&"&amp;".repeat(257)),
            "{path}: a title is whole"
        );
        if path.ends_with("/27") {
            assert!(body.contains(&escaped_amps), "{path}: no clipped title");
            continue;
        }
        assert!(body.contains(&clipped_title), "{path}: no clipped title");
        if path != &feed {
            assert!(
                body.contains(&clipped_description),
                "{path}: no clipped description"
            );
        }
        if path != &entry {
            assert!(
                body.contains(&escaped_amps) || body.contains(&clipped_amps),
                "{path}: no clipped title of ampersands"
            );
        }
    }
    // The JSON API gives the signed fields whole.
    let (status, api) = fixture.get(&format!("/api/v1/entries{entry}"));
    assert_eq!(status, 200);
    assert!(api.contains(&title));

    // The exports still validate: feedparser (RSS, Atom, JSON Feed fields) and the JSON
    // Feed 1.1 schema.
    let url = fixture.node.info.public_url.clone();
    let scripts = workspace_root().join("tests/python");
    let mut titles = vec![clipped_amps.as_str(); 26];
    titles.push(&clipped_title);
    let (ok, stdout, stderr) = run_with_limit(
        Command::new("python3")
            .arg(scripts.join("gateway_feeds.py"))
            .args([url.as_str(), identity.as_str(), "main"])
            .args(&titles),
        Duration::from_secs(60),
    );
    assert!(ok, "gateway_feeds.py: {stdout:.2000}{stderr:.2000}");
    let schema = workspace_root().join("tests/fixtures/jsonfeed-1.1.schema.json");
    let (ok, stdout, stderr) = run_with_limit(
        Command::new("python3")
            .arg(scripts.join("jsonfeed_schema.py"))
            .arg(format!("{url}{feed}/feed.json"))
            .arg(&schema),
        Duration::from_secs(60),
    );
    assert!(ok, "jsonfeed_schema.py: {stdout:.2000}{stderr:.2000}");

    // Hundreds of renders leave the node's memory flat.
    for path in &paths {
        fixture.get(path);
    }
    let before = fixture.rss_kib();
    for _ in 0..50 {
        for path in &paths {
            let (status, _) = fixture.get(path);
            assert_eq!(status, 200, "{path}");
        }
    }
    let after = fixture.rss_kib();
    eprintln!("node VmRSS before {before} KiB, after 300 renders {after} KiB");
    assert!(
        after < before + 16 * 1024,
        "VmRSS grew from {before} KiB to {after} KiB over 300 renders"
    );
}
