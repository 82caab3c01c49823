//! BLAKE3 digests known before the hashing pass: computed by whoever wrote the file, as it
//! wrote it (the node's upload path hashes the bytes while they arrive). The pass then reads
//! such a file for its SHA-1 pieces only, and takes the digest as it was given, while the file
//! still has the [`FileStamp`] it had right after it was written: same length, modification
//! and status-change times, inode and device. Any write, truncation, `touch`, `chmod` or
//! replacement since moves one of them (the status-change time cannot be set back by hand),
//! and the file is then refused as changed, never published with a stale digest.
//!
//! A known digest is a claim of trust: only code that wrote the file itself may make one. The
//! node never takes one from a request (the control socket, the CLI): see
//! `seeder::node::api::upload`.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// What tells that a file was written, touched or replaced since: one `stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub length: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: i128,
    /// Status change time (ctime), nanoseconds since the Unix epoch.
    pub changed_ns: i128,
    pub inode: u64,
    pub device: u64,
}

impl FileStamp {
    /// The stamp of a file as `meta` describes it (take it from the open file).
    pub fn of(meta: &Metadata) -> FileStamp {
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        FileStamp {
            length: meta.len(),
            modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
            changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }
}

/// A file's BLAKE3, computed by its writer, and the file's stamp right after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownDigest {
    pub blake3: [u8; 32],
    pub stamp: FileStamp,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use sha1::{Digest, Sha1};

    use super::*;
    use crate::Error;
    use crate::torrent::{SourceTree, TorrentOptions, build_torrent};

    const PIECE: u64 = 16 << 10;

    /// Written, synced, and stamped as the upload path does it.
    fn written(path: &Path, bytes: &[u8]) -> KnownDigest {
        std::fs::write(path, bytes).unwrap();
        let file = std::fs::File::open(path).unwrap();
        KnownDigest {
            blake3: *blake3::hash(bytes).as_bytes(),
            stamp: FileStamp::of(&file.metadata().unwrap()),
        }
    }

    fn options() -> TorrentOptions {
        TorrentOptions {
            piece_length: Some(PIECE),
            blake3: true,
            ..TorrentOptions::default()
        }
    }

    #[test]
    fn a_known_digest_is_taken_as_given_and_the_pieces_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("up");
        std::fs::create_dir(&root).unwrap();
        let a: Vec<u8> = (0..100_000u32).map(|i| (i % 249) as u8).collect();
        let b: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
        let mut known_a = written(&root.join("a.bin"), &a);
        std::fs::write(root.join("b.bin"), &b).unwrap();
        // A digest that is not the file's: taken as given, so the pass did not compute it.
        known_a.blake3 = [7; 32];
        let mut tree = SourceTree::scan(&root).unwrap();
        tree.trust_digests(&[(vec!["a.bin".into()], known_a)])
            .unwrap();
        let built = build_torrent(&tree, &options(), &|_| {}).unwrap();
        assert_eq!(built.files[0].blake3, Some([7; 32]));
        assert_eq!(built.files[1].blake3, Some(*blake3::hash(&b).as_bytes()));
        let stream = [a, b].concat();
        let pieces: Vec<[u8; 20]> = stream
            .chunks(PIECE as usize)
            .map(|p| Sha1::digest(p).into())
            .collect();
        assert_eq!(built.metainfo.info.pieces, pieces);
    }

    #[test]
    fn a_file_written_touched_or_replaced_after_its_digest_was_computed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("song.flac");
        let bytes = vec![5u8; 40_000];
        let changes: [&dyn Fn(&Path); 3] = [
            // The same bytes written again, the modification time set back.
            &|p| {
                let mtime = std::fs::metadata(p).unwrap().modified().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(20));
                let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
                std::os::unix::fs::FileExt::write_all_at(&f, &[5], 0).unwrap();
                f.set_modified(mtime).unwrap();
            },
            // Replaced by another file with the same bytes.
            &|p| {
                let other = p.with_extension("new");
                std::fs::write(&other, vec![5u8; 40_000]).unwrap();
                std::fs::rename(&other, p).unwrap();
            },
            // Only its mode changed.
            &|p| {
                use std::os::unix::fs::PermissionsExt;
                std::thread::sleep(std::time::Duration::from_millis(20));
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o444)).unwrap();
            },
        ];
        for change in changes {
            let _ = std::fs::remove_file(&path);
            let known = written(&path, &bytes);
            change(&path);
            let mut tree = SourceTree::scan(&path).unwrap();
            tree.trust_digests(&[(vec!["song.flac".into()], known)])
                .unwrap();
            let e = build_torrent(&tree, &options(), &|_| {}).unwrap_err();
            assert!(matches!(e, Error::FileChanged { .. }), "{e}");
        }
        // Untouched, it is taken.
        let _ = std::fs::remove_file(&path);
        let known = written(&path, &bytes);
        let mut tree = SourceTree::scan(&path).unwrap();
        tree.trust_digests(&[(vec!["song.flac".into()], known)])
            .unwrap();
        assert!(build_torrent(&tree, &options(), &|_| {}).is_ok());
        // A digest for a file the tree does not hold, or of another length: nothing taken.
        let mut tree = SourceTree::scan(&path).unwrap();
        assert!(
            tree.trust_digests(&[(vec!["other".into()], known)])
                .is_err()
        );
        let mut short = known;
        short.stamp.length -= 1;
        assert!(
            tree.trust_digests(&[(vec!["song.flac".into()], short)])
                .is_err()
        );
        assert!(tree.files()[0].known.is_none());
    }
}
