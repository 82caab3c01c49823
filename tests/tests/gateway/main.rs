//! The gateway of a real `swarmfeed serve`: files with byte-exact ranges and validators,
//! safe paths, BEP 19 web seeding to a stock client (aria2), the JSON API, pages and feed
//! exports.

mod api;
mod client;
mod files;
mod follower;
mod names;
mod pages;

use std::fs;
use std::path::Path;

use tests::solo::SoloNode as Fixture;

/// Deterministic bytes that do not compress.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
