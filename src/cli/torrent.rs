//! `swarmfeed torrent create|show`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use feeds::metainfo::{FileLayout, Metainfo};
use publisher::TorrentOptions;

use super::InputError;
use super::progress::HashingBar;
use super::size::{format_size, parse_size};

#[derive(Debug, Subcommand)]
pub enum TorrentCommand {
    /// Hash a file or directory into a .torrent (BEP 3 v1, deterministic).
    Create {
        /// The file or directory to share.
        path: PathBuf,
        /// Where to write the .torrent [default: NAME.torrent in the current directory].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Piece size, a power of two from 16KiB to 64MiB [default: by total size].
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        piece_size: Option<u64>,
        /// A BEP 19 web seed URL (repeatable).
        #[arg(long = "webseed", value_name = "URL")]
        webseeds: Vec<String>,
        /// A tracker announce URL (repeatable; the first is the primary).
        #[arg(long = "tracker", value_name = "URL")]
        trackers: Vec<String>,
        /// Replace the output file if it exists.
        #[arg(short, long)]
        force: bool,
        /// Also print each file's BLAKE3, computed in the same read pass (as `publish` does).
        #[arg(long)]
        blake3: bool,
    },
    /// Print what a .torrent holds: name, infohash, piece size, files, web seeds, magnet.
    Show {
        /// The .torrent file.
        file: PathBuf,
    },
}

pub fn run(command: TorrentCommand) -> anyhow::Result<()> {
    match command {
        TorrentCommand::Create {
            path,
            output,
            piece_size,
            webseeds,
            trackers,
            force,
            blake3,
        } => {
            let options = TorrentOptions {
                piece_length: piece_size,
                webseeds,
                trackers,
                blake3,
            };
            create(&path, output, &options, force)
        }
        TorrentCommand::Show { file } => show(&file),
    }
}

fn create(
    path: &Path,
    output: Option<PathBuf>,
    options: &TorrentOptions,
    force: bool,
) -> anyhow::Result<()> {
    if let Some(piece) = options.piece_length {
        publisher::torrent::check_piece_length(piece)?;
    }
    let tree = publisher::torrent::SourceTree::scan(path)?;
    let output = output.unwrap_or_else(|| PathBuf::from(format!("{}.torrent", tree.name())));
    if !force && output.exists() {
        return Err(InputError(format!(
            "{} exists; use --force to replace it",
            output.display()
        ))
        .into());
    }
    for link in tree.skipped_symlinks() {
        eprintln!(
            "note: skipped symlink {} (symlinks are not followed)",
            link.display()
        );
    }
    let bar = HashingBar::new(tree.total_length());
    let built = publisher::torrent::build_torrent(&tree, options, &|n| bar.advance(n))?;
    bar.finish();
    write_atomically(&output, &built.metainfo.encode())?;
    let info = &built.metainfo.info;
    println!("name: {}", info.name);
    println!("infohash: {}", built.metainfo.infohash());
    println!("piece size: {}", format_size(info.piece_length));
    println!(
        "total: {} in {} file(s)",
        format_size(info.total_length()),
        built.files.len()
    );
    println!("torrent: {}", output.display());
    println!("magnet: {}", built.metainfo.magnet());
    for file in &built.files {
        if let Some(hash) = file.blake3 {
            println!("blake3: {}  {}", hex::encode(hash), file.path.join("/"));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename: never a half-written file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = fs::File::create(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(&temp, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&temp);
    }
    renamed.with_context(|| format!("cannot write {}", path.display()))
}

fn show(file: &Path) -> anyhow::Result<()> {
    let bytes = data_dir::bounded_read::read_torrent_file(file)?;
    let metainfo = Metainfo::decode(&bytes)
        .with_context(|| format!("{} is not a valid .torrent", file.display()))?;
    let info = &metainfo.info;
    let mut out = String::new();
    out.push_str(&format!("name: {}\n", info.name));
    out.push_str(&format!("infohash: {}\n", metainfo.infohash()));
    out.push_str(&format!(
        "piece size: {} ({} bytes)\n",
        format_size(info.piece_length),
        info.piece_length
    ));
    out.push_str(&format!("pieces: {}\n", info.pieces.len()));
    out.push_str(&format!(
        "total: {} ({} bytes)\n",
        format_size(info.total_length()),
        info.total_length()
    ));
    let kind = match info.files {
        FileLayout::Single { .. } => "single file",
        FileLayout::Multi { .. } => "directory",
    };
    let files = info.file_list();
    out.push_str(&format!("files: {} ({kind})\n", files.len()));
    for (path, length) in &files {
        out.push_str(&format!("  {length:>14}  {}\n", path.join("/")));
    }
    out.push_str(&format!("webseeds: {}\n", metainfo.webseeds.len()));
    for url in &metainfo.webseeds {
        out.push_str(&format!("  {url}\n"));
    }
    out.push_str(&format!("trackers: {}\n", metainfo.trackers.len()));
    for url in &metainfo.trackers {
        out.push_str(&format!("  {url}\n"));
    }
    out.push_str(&format!("magnet: {}\n", metainfo.magnet()));
    std::io::stdout()
        .write_all(out.as_bytes())
        .context("cannot write to stdout")
}
