//! Listing the files to share, deterministically and without leaving the given path.
//!
//! The policy, in the words the README uses:
//!
//! - **Order.** Files are sorted by their path inside the torrent, component by component,
//!   comparing bytes. The order the filesystem lists them in never matters, so the same tree
//!   always gives the same torrent.
//! - **Symlinks are never followed.** The path you name may itself be a symlink (it is
//!   resolved once, and the torrent is named after its target). Inside it, a symlink whose
//!   target lies within the shared path is skipped (its target is shared under its own name
//!   anyway) and reported; a symlink pointing outside the shared path, or pointing nowhere,
//!   is an error, so that nothing outside the path is ever read and nothing silently goes
//!   missing.
//! - **Empty directories are dropped**: a v1 torrent lists only files. Empty files are kept.
//! - **Other file types** (FIFOs, sockets, devices) are an error: reading them could block
//!   or never end.
//! - **Names** must be UTF-8 (BEP 3 paths are UTF-8 strings) and portable: no bidirectional
//!   or other control characters, no Windows device names (`CON`, `nul.txt`, …), no trailing
//!   dot or space (see [`super::portable_name`]); another name is an error that names the
//!   file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::known::KnownDigest;
use crate::error::{Error, Result};

/// One regular file to be shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path components inside the torrent (for a single-file torrent, just its name).
    pub path: Vec<String>,
    /// Where it lies on disk.
    pub fs_path: PathBuf,
    /// Its size when listed; hashing fails if it differs later.
    pub length: u64,
    /// Its BLAKE3 as its writer computed it, if it is known ([`SourceTree::trust_digests`]).
    pub known: Option<KnownDigest>,
}

/// A file or directory listed for sharing: the input of the hasher.
#[derive(Debug, Clone)]
pub struct SourceTree {
    root: PathBuf,
    name: String,
    single_file: bool,
    files: Vec<SourceFile>,
    skipped_symlinks: Vec<PathBuf>,
}

impl SourceTree {
    /// Lists `path` (a file or a directory) following the module's policy.
    pub fn scan(path: &Path) -> Result<SourceTree> {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound(path.to_owned()));
            }
            Err(e) => return Err(Error::io("read", path, e)),
            Ok(_) => {}
        }
        let root = fs::canonicalize(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::DanglingSymlink(path.to_owned()),
            _ => Error::io("resolve", path, e),
        })?;
        let name = component_name(&root, root.file_name())?;
        let meta = fs::metadata(&root).map_err(|e| Error::io("read", &root, e))?;
        let mut tree = SourceTree {
            root: root.clone(),
            name: name.clone(),
            single_file: meta.is_file(),
            files: Vec::new(),
            skipped_symlinks: Vec::new(),
        };
        if meta.is_file() {
            tree.files.push(SourceFile {
                path: vec![name],
                fs_path: root,
                length: meta.len(),
                known: None,
            });
        } else if meta.is_dir() {
            tree.walk_directory()?;
        } else {
            return Err(Error::NotRegularFile(root));
        }
        Ok(tree)
    }

    fn walk_directory(&mut self) -> Result<()> {
        // An explicit stack, not recursion: deep trees must not overflow the thread's stack.
        let mut pending: Vec<(PathBuf, Vec<String>)> = vec![(self.root.clone(), Vec::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let entries = fs::read_dir(&dir).map_err(|e| Error::io("list", &dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
                let fs_path = entry.path();
                let file_type = entry
                    .file_type()
                    .map_err(|e| Error::io("read", &fs_path, e))?;
                let mut path = prefix.clone();
                path.push(component_name(&fs_path, Some(&entry.file_name()))?);
                if file_type.is_symlink() {
                    self.check_symlink(&fs_path)?;
                    self.skipped_symlinks.push(fs_path);
                } else if file_type.is_dir() {
                    pending.push((fs_path, path));
                } else if file_type.is_file() {
                    let meta = entry
                        .metadata()
                        .map_err(|e| Error::io("read", &fs_path, e))?;
                    feeds::torrent_path::check_path(&path).map_err(|e| Error::UnsharableName {
                        path: fs_path.clone(),
                        reason: e.to_string(),
                    })?;
                    self.files.push(SourceFile {
                        path,
                        fs_path,
                        length: meta.len(),
                        known: None,
                    });
                } else {
                    return Err(Error::NotRegularFile(fs_path));
                }
            }
        }
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        self.skipped_symlinks.sort();
        Ok(())
    }

    /// Accepts a symlink only if it resolves inside the root (it is then skipped, not followed).
    fn check_symlink(&self, link: &Path) -> Result<()> {
        match fs::canonicalize(link) {
            Ok(target) if target.starts_with(&self.root) => Ok(()),
            Ok(target) => Err(Error::SymlinkEscapesRoot {
                link: link.to_owned(),
                root: self.root.clone(),
                target,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::DanglingSymlink(link.to_owned()))
            }
            Err(e) => Err(Error::io("resolve", link, e)),
        }
    }

    /// The shared path, resolved.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The torrent's name: the file or directory name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for a single-file torrent, false for a directory (multi-file) one.
    pub fn is_single_file(&self) -> bool {
        self.single_file
    }

    /// The files in torrent order.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// Symlinks inside the root that were skipped, sorted.
    pub fn skipped_symlinks(&self) -> &[PathBuf] {
        &self.skipped_symlinks
    }

    /// Takes the BLAKE3 of the files named (by their path inside the torrent) as given,
    /// instead of computing it again: only for files the caller wrote and hashed itself
    /// (see [`super::known`]). Each file named must be in the tree with the stamp's length,
    /// or nothing is taken.
    pub fn trust_digests(&mut self, known: &[(Vec<String>, KnownDigest)]) -> Result<()> {
        let mut at = Vec::with_capacity(known.len());
        for (path, digest) in known {
            let index = self
                .files
                .iter()
                .position(|f| &f.path == path)
                .ok_or_else(|| Error::NotFound(self.root.join(path.join("/"))))?;
            let file = &self.files[index];
            if file.length != digest.stamp.length {
                return Err(Error::FileChanged {
                    path: file.fs_path.clone(),
                    what: "its size is not the one its BLAKE3 was computed for",
                });
            }
            at.push((index, *digest));
        }
        for (index, digest) in at {
            self.files[index].known = Some(digest);
        }
        Ok(())
    }

    /// Sum of the file lengths: the bytes the hasher will read.
    pub fn total_length(&self) -> u64 {
        self.files.iter().map(|f| f.length).sum()
    }
}

/// A file name as a torrent path component: UTF-8 and acceptable to BEP 3 clients.
fn component_name(path: &Path, name: Option<&std::ffi::OsStr>) -> Result<String> {
    let unsharable = |reason: &str| Error::UnsharableName {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let name = name.ok_or_else(|| unsharable("it has no file name"))?;
    let name = name
        .to_str()
        .ok_or_else(|| unsharable("the name is not UTF-8"))?;
    feeds::torrent_path::check_component(name).map_err(|e| unsharable(&e.to_string()))?;
    // Stricter than what `feeds` accepts from others: see `portable_name`.
    if let Some(problem) = super::portable_name::name_problem(name) {
        return Err(unsharable(&problem));
    }
    Ok(name.to_owned())
}
