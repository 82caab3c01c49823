//! What the publisher publishes: ten items from 1 KiB to 50 MiB, one of them a directory.

use std::path::Path;

use tests::node::{publish, write_pattern_file};

/// The 10 publications: name under the content dir, and a size (0: the directory).
pub const ITEMS: [(&str, u64); 10] = [
    ("note.txt", 1 << 10),
    ("letter.txt", 64 << 10),
    ("photo.jpg", 256 << 10),
    ("song.mp3", 1 << 20),
    ("album", 0),
    ("talk.ogg", 3 << 20),
    ("clip.mp4", 5 << 20),
    ("lecture.webm", 10 << 20),
    ("archive.bin", 50 << 20),
    ("last-words.txt", 4 << 10),
];
/// The file streamed from a fresh node's gateway.
pub const STREAMED: usize = 6;

pub fn make_content(dir: &Path) {
    for (i, (name, size)) in ITEMS.iter().enumerate() {
        let seed = i as u64 + 1;
        if *size == 0 {
            write_pattern_file(&dir.join(name).join("cover.png"), 2 << 20, seed);
            write_pattern_file(
                &dir.join(name).join("tracks/01.flac"),
                512 << 10,
                seed + 100,
            );
            write_pattern_file(&dir.join(name).join("tracks/notes.txt"), 10, seed + 200);
        } else {
            write_pattern_file(&dir.join(name), *size, seed);
        }
    }
}

#[derive(Clone, Default)]
pub struct Publications {
    pub identity: String,
    pub titles: Vec<String>,
    pub infohashes: Vec<String>,
    pub magnets: Vec<String>,
}

impl Publications {
    /// Publishes `ITEMS[i]` as entry `i + 1`.
    pub fn publish(&mut self, p: &Path, content: &Path, i: usize) {
        let (name, _) = ITEMS[i];
        let title = format!("Survivor {} ({name})", i + 1);
        let out = publish(p, &content.join(name), &title, &[]);
        assert_eq!(out["seq"], i as u64 + 1, "{out}");
        self.identity = out["identity"].as_str().unwrap().to_owned();
        self.titles.push(title);
        self.infohashes
            .push(out["infohash"].as_str().unwrap().to_owned());
        self.magnets
            .push(bare_magnet(out["magnet"].as_str().unwrap()));
    }
}

/// Strips web seeds (`ws=`) and trackers (`tr=`) from a magnet link.
fn bare_magnet(magnet: &str) -> String {
    let (base, query) = magnet.split_once('?').unwrap();
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("ws=") && !p.starts_with("tr="))
        .collect();
    format!("{base}?{}", kept.join("&"))
}
