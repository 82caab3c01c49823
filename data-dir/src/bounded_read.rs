//! Reading a file whole, with a bound: a .torrent (or a backup) named by a user or found on
//! disk may be a device (`/dev/zero`), a pipe that never ends, or a sparse file of
//! terabytes, and reading it unbounded takes all memory.
//!
//! Devices are refused before a byte is read; a regular file longer than the bound is
//! refused from its length; a pipe is read up to the bound and refused past it. So at most
//! `cap` bytes are ever held.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::error::{Error, Result};

/// The most a .torrent file may hold: the bound `feeds` decodes metainfo within.
pub const MAX_TORRENT_FILE_BYTES: u64 = feeds::metainfo::MAX_METAINFO_BYTES as u64;

/// Reads a .torrent file, refusing one larger than [`MAX_TORRENT_FILE_BYTES`].
pub fn read_torrent_file(path: &Path) -> Result<Vec<u8>> {
    read_capped(path, MAX_TORRENT_FILE_BYTES, "a .torrent file")
}

/// Reads `path` whole if it holds at most `cap` bytes; `what` names the kind of file in
/// errors ("a .torrent file").
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| Error::io("read", path, e))?;
    let meta = file.metadata().map_err(|e| Error::io("read", path, e))?;
    let kind = meta.file_type();
    if kind.is_char_device() || kind.is_block_device() || kind.is_dir() || kind.is_socket() {
        return Err(Error::NotAFile {
            path: path.to_owned(),
            what,
        });
    }
    let too_large = || Error::TooLarge {
        path: path.to_owned(),
        what,
        cap,
    };
    if meta.len() > cap {
        return Err(too_large());
    }
    let bytes = read_up_to(file, cap, path)?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads at most `cap + 1` bytes of `reader` (one more than allowed, to tell "exactly the
/// bound" from "past it"); `name` is for errors.
pub fn read_up_to(reader: impl Read, cap: u64, name: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", name, e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_refused_before_anything_is_read() {
        let err = read_torrent_file(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, Error::NotAFile { .. }), "{err}");
        assert!(err.to_string().contains("/dev/zero"), "{err}");
    }

    #[test]
    fn a_file_past_the_bound_is_refused_from_its_length_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let sparse = dir.path().join("huge.torrent");
        File::create(&sparse).unwrap().set_len(1 << 40).unwrap();
        let err = read_torrent_file(&sparse).unwrap_err();
        assert!(err.to_string().contains("64 MiB"), "{err}");
        let at = dir.path().join("at.bin");
        std::fs::write(&at, [7u8; 10]).unwrap();
        assert_eq!(read_capped(&at, 10, "a test file").unwrap().len(), 10);
        assert!(matches!(
            read_capped(&at, 9, "a test file"),
            Err(Error::TooLarge { cap: 9, .. })
        ));
    }

    #[test]
    fn a_pipe_is_read_up_to_the_bound_and_refused_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut pipe = std::fs::OpenOptions::new()
                .write(true)
                .open(&writer_path)
                .unwrap();
            // Stops with a broken pipe once the reader has had enough.
            let chunk = [0u8; 4096];
            while pipe.write_all(&chunk).is_ok() {}
        });
        let err = read_capped(&fifo, 1 << 20, "a test file").unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        writer.join().unwrap();
    }
}
