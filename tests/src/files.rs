//! Test directories and the files in them: deterministic content and byte-for-byte comparison.

use std::path::{Path, PathBuf};

/// A temporary directory for one test, kept (and its path printed) when
/// `SWARMFEED_KEEP_TEST_DIRS` is set. Hold the guard for as long as the path is used.
pub fn test_root() -> (Option<tempfile::TempDir>, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    if std::env::var_os("SWARMFEED_KEEP_TEST_DIRS").is_some() {
        let root = tmp.keep();
        eprintln!("test files kept in {}", root.display());
        return (None, root);
    }
    let root = tmp.path().to_owned();
    (Some(tmp), root)
}

/// The names in directory `dir`, sorted; none when it does not exist (yet).
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Writes `len` bytes of a deterministic, incompressible-looking pattern (xorshift).
pub fn write_pattern_file(path: &Path, len: u64, seed: u64) {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent dir");
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create file"));
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut buffer = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in buffer.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buffer.len() as u64) as usize;
        file.write_all(&buffer[..n]).expect("write file");
        left -= n as u64;
    }
    file.flush().expect("flush file");
}

/// Whether two files, or two directory trees, hold the same names and the same bytes;
/// `Err` says where they differ.
pub fn same_tree(a: &Path, b: &Path) -> Result<(), String> {
    use std::io::Read;
    let (meta_a, meta_b) = (
        std::fs::metadata(a).map_err(|e| format!("{}: {e}", a.display()))?,
        std::fs::metadata(b).map_err(|e| format!("{}: {e}", b.display()))?,
    );
    if meta_a.is_dir() != meta_b.is_dir() {
        return Err(format!(
            "{} and {} differ in kind",
            a.display(),
            b.display()
        ));
    }
    if meta_a.is_dir() {
        let names = |dir: &Path| -> Result<Vec<std::ffi::OsString>, String> {
            let mut names = std::fs::read_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            names.sort();
            Ok(names)
        };
        let (names_a, names_b) = (names(a)?, names(b)?);
        if names_a != names_b {
            return Err(format!(
                "{} holds {names_a:?}, {} holds {names_b:?}",
                a.display(),
                b.display()
            ));
        }
        for name in names_a {
            same_tree(&a.join(&name), &b.join(&name))?;
        }
        return Ok(());
    }
    if meta_a.len() != meta_b.len() {
        return Err(format!(
            "{} has {} bytes, {} has {}",
            a.display(),
            meta_a.len(),
            b.display(),
            meta_b.len()
        ));
    }
    let open = |p: &Path| std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()));
    let (mut file_a, mut file_b) = (open(a)?, open(b)?);
    let (mut buf_a, mut buf_b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut offset = 0u64;
    loop {
        let n = file_a
            .read(&mut buf_a)
            .map_err(|e| format!("{}: {e}", a.display()))?;
        if n == 0 {
            return Ok(());
        }
        file_b
            .read_exact(&mut buf_b[..n])
            .map_err(|e| format!("{}: {e}", b.display()))?;
        if buf_a[..n] != buf_b[..n] {
            let at = buf_a[..n]
                .iter()
                .zip(&buf_b[..n])
                .position(|(x, y)| x != y)
                .unwrap_or(0) as u64;
            return Err(format!(
                "{} and {} differ at byte {}",
                a.display(),
                b.display(),
                offset + at
            ));
        }
        offset += n as u64;
    }
}
