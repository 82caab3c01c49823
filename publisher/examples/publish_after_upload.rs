//! The publish that follows a web upload, timed with and without the BLAKE3 the upload
//! computed while the bytes arrived (run by `scripts/bench-upload-publish`, release build).
//!
//!     publish_after_upload DIR SIZE_MIB REPS
//!
//! Writes `DIR/upload/file.bin` (SIZE_MIB MiB) as the node's upload path does: 1 MiB
//! chunks, each fed to BLAKE3 on the way, synced, stamped. Then REPS times, interleaved, the
//! publisher's whole publish of that file into data directories under DIR (list, hash, write
//! the torrent and content record, sign and commit the entry): `rehash` computes BLAKE3
//! again with the SHA-1 pieces (what followed an upload before), `known` takes the upload's
//! digest and reads the file for its pieces only. Prints one line per run, `LABEL SECONDS`,
//! and the piece length chosen, `piece BYTES`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use data_dir::DataDir;
use feeds::Keypair;
use publisher::TorrentOptions;
use publisher::publish::{ContentRecord, PublishRequest, prepare_signed};
use publisher::torrent::{FileStamp, KnownDigest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, size_mib, reps] = args.as_slice() else {
        return Err("usage: publish_after_upload DIR SIZE_MIB REPS".into());
    };
    let dir = Path::new(dir);
    let size_mib: usize = size_mib.parse()?;
    let reps: usize = reps.parse()?;

    let upload = dir.join("upload");
    std::fs::create_dir_all(&upload)?;
    let path = upload.join("file.bin");
    let known = write_as_uploaded(&path, size_mib)?;

    let keypair = Keypair::from_seed(&[7u8; 32]);
    let request = PublishRequest {
        path: path.clone(),
        feed: None,
        identity: None,
        title: Some("upload".into()),
        description: None,
        meta: Vec::new(),
        torrent: TorrentOptions::default(),
        gateway: None,
    };
    for rep in 0..reps {
        for trusted in [false, true] {
            let label = if trusted { "known" } else { "rehash" };
            let data = DataDir::new(dir.join(format!("data-{label}-{rep}")));
            let start = Instant::now();
            let mut prepared = prepare_signed(&request, keypair.clone())?;
            if trusted {
                prepared.trust_digests(&[(vec!["file.bin".into()], known)])?;
            }
            let published = prepared.publish(&data, 1_700_000_000 + rep as u64, &|_| {})?;
            println!("{label} {:.3}", start.elapsed().as_secs_f64());
            let infohash = published.content.ok_or("no content published")?.infohash;
            let record: ContentRecord =
                serde_json::from_slice(&std::fs::read(data.content_path(&infohash))?)?;
            let blake3 = record
                .files
                .first()
                .map(|f| f.blake3.clone())
                .unwrap_or_default();
            // Both ways must publish the same digest, or the comparison means nothing.
            if rep == 0 && !trusted {
                println!("piece {}", record.piece_length);
            }
            if blake3 != hex::encode(known.blake3) {
                return Err(
                    format!("{label}: published BLAKE3 {blake3} is not the upload's").into(),
                );
            }
            std::fs::remove_dir_all(data.root())?;
        }
    }
    Ok(())
}

/// Writes SIZE_MIB MiB of varied bytes, hashing each chunk as it goes out, as the upload
/// path does with the chunks it receives; its digest and stamp after the sync.
fn write_as_uploaded(path: &Path, size_mib: usize) -> std::io::Result<KnownDigest> {
    let mut out = std::fs::File::create(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..size_mib {
        for word in chunk.chunks_mut(8) {
            // xorshift: bytes no filesystem or hash can shortcut.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        hasher.update(&chunk);
        out.write_all(&chunk)?;
    }
    out.sync_all()?;
    Ok(KnownDigest {
        blake3: *hasher.finalize().as_bytes(),
        stamp: FileStamp::of(&out.metadata()?),
    })
}
