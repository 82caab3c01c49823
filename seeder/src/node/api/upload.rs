//! Uploads through the gateway's form: a signed-in user's files, streamed to a staging
//! folder of the data directory as they arrive (BLAKE3 computed on the way; the torrent's
//! SHA-1 pieces need the whole tree, so they follow), then published through the same call
//! as the command line's ([`NodeApi::publish`]) with the user as actor.
//!
//! Uploads are copies on the gateway's disk, unlike CLI publishing, so they are charged to
//! the user's quota: the request's declared length before anything is written (refused
//! beyond `[accounts] max_upload_bytes` or the quota), the unused part given back once the
//! files are written, everything given back (and the folder removed) when the upload or
//! the publish fails. A published upload stays in `uploads/` of the data directory: its
//! files are seeded from there, like any published file from where it lies.

use std::future::Future;
use std::path::Path;

use axum::http::StatusCode;
use hyper::body::Bytes;
use publisher::torrent::portable_name::name_problem;
use publisher::torrent::{FileStamp, KnownDigest};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::account::accounts_error;
use super::authorize::Operation;
use super::types::{PublishAnswer, PublishRequest};
use super::{Actor, NodeApi};
use crate::node::uploads::Pending;
use http_server::{ApiError, ErrorCode};

/// A multipart upload as it arrives. The gateway's form adapter implements it over its
/// multipart parser; the node never parses multipart itself.
pub trait UploadParts: Send {
    /// The next file's name as the browser sent it, or `None` after the last file.
    fn next_file(&mut self) -> impl Future<Output = Result<Option<String>, ApiError>> + Send;
    /// The next chunk of the current file, or `None` at its end.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, ApiError>> + Send;
}

/// What the form asks besides its files.
#[derive(Clone, Debug)]
pub struct UploadRequest {
    /// The identity to publish as (its 52-character id).
    pub identity: String,
    pub feed: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The request body's declared length (`Content-Length`): charged before anything is
    /// written, and no more is read.
    pub declared_bytes: u64,
}

/// A file as it arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UploadedFile {
    pub name: String,
    pub size: u64,
    /// BLAKE3 of the bytes received, hex.
    pub blake3: String,
}

/// A published upload.
#[derive(Clone, Debug, Serialize)]
pub struct UploadAnswer {
    pub files: Vec<UploadedFile>,
    pub published: PublishAnswer,
}

impl NodeApi {
    /// Takes in a user's upload and publishes it as a new entry of `request.feed` of the
    /// identity named. Refused before anything is written or charged when the user is not
    /// its owner or publisher (`403 forbidden`), the upload is too large (`413 too_large`)
    /// or over the user's quota (`413 quota_exceeded`).
    ///
    /// The BLAKE3 of each file, computed as it arrived, is handed to the publish as known
    /// (the one publish implementation, [`super::publish_files::start`]), which then reads
    /// the files for their SHA-1 pieces only; only this path makes such a claim, never a
    /// request from outside the node.
    pub async fn upload(
        &self,
        actor: &Actor,
        request: UploadRequest,
        parts: &mut impl UploadParts,
    ) -> Result<UploadAnswer, ApiError> {
        let (authorized, signer) = self
            .may_sign(actor, Operation::PublishFiles, Some(&request.identity))
            .await?;
        let (Actor::User { user }, Some(accounts)) = (actor, self.accounts()) else {
            return Err(ApiError::bad_request(
                ErrorCode::BadRequest,
                "uploads are for the gateway's users (the operator publishes files where they lie)",
            ));
        };
        let max = accounts.max_upload_bytes();
        if request.declared_bytes > max {
            return Err(too_large(request.declared_bytes, max));
        }
        // Charged, then its folder and marker made, in a task of its own: a request cut
        // in between (the client went away) cannot leave a charge with no marker.
        let begun = {
            let (node, accounts, user) = (self.node.clone(), accounts.clone(), *user);
            let declared = request.declared_bytes;
            tokio::spawn(async move {
                accounts
                    .charge_upload(user, declared)
                    .await
                    .map_err(accounts_error)?;
                // From here the upload cleans up after itself however it ends, even when
                // the request is dropped mid-way (the client went away, or stalled).
                Pending::begin(&node, &accounts, user, declared)
                    .await
                    .map_err(ApiError::internal)
            })
        };
        let mut pending = begun.await.map_err(ApiError::internal)??;
        let folder = pending.folder().join(folder_name(request.title.as_deref()));
        let received = receive(&folder, request.declared_bytes.min(max), parts).await;
        let files = match received {
            Ok(files) => files,
            Err(e) => {
                pending.abort().await;
                return Err(e);
            }
        };
        let written: u64 = files.iter().map(|f| f.file.size).sum();
        if let Err(e) = pending.received(written).await {
            pending.abort().await;
            return Err(ApiError::internal(e));
        }
        let path = match files.as_slice() {
            [one] => folder.join(&one.file.name),
            _ => folder,
        };
        let known = files
            .iter()
            .map(|f| (vec![f.file.name.clone()], f.known))
            .collect();
        let publish = PublishRequest {
            identity: Some(request.identity),
            feed: request.feed,
            path,
            title: request.title,
            description: request.description,
            meta: Vec::new(),
            piece_size: None,
            webseeds: Vec::new(),
            trackers: Vec::new(),
            force_new_feed: false,
        };
        // Publishing runs to its end (and keeps or removes the files accordingly) even if
        // the caller goes away now: an entry is committed whole or not at all.
        let node = self.node.clone();
        let published = tokio::spawn(async move {
            let published =
                match super::publish_files::start(&node, &authorized, signer, publish, known).await
                {
                    Ok(publishing) => publishing.finish().await,
                    Err(e) => Err(e),
                };
            match &published {
                Ok(_) => pending.finish().await,
                Err(_) => pending.abort().await,
            }
            published
        })
        .await
        .map_err(ApiError::internal)??;
        Ok(UploadAnswer {
            files: files.into_iter().map(|f| f.file).collect(),
            published,
        })
    }
}

fn too_large(size: u64, max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooLarge,
        format!("an upload of {size} bytes is over this gateway's limit of {max} bytes"),
    )
}

/// A file written, with its BLAKE3 as it arrived and its stamp right after.
struct Received {
    file: UploadedFile,
    known: KnownDigest,
}

/// Writes every part into `folder` (created), at most `limit` bytes in all.
async fn receive(
    folder: &Path,
    limit: u64,
    parts: &mut impl UploadParts,
) -> Result<Vec<Received>, ApiError> {
    tokio::fs::create_dir(folder)
        .await
        .map_err(ApiError::internal)?;
    let mut files: Vec<Received> = Vec::new();
    let mut total = 0u64;
    while let Some(name) = parts.next_file().await? {
        check_name(&name)?;
        if files.iter().any(|f| f.file.name == name) {
            return Err(bad_name(&name, "two files of the upload have this name"));
        }
        // create_new: nothing already there is ever overwritten or followed.
        let path = folder.join(&name);
        let mut out = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(ApiError::internal)?;
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        while let Some(chunk) = parts.next_chunk().await? {
            size += chunk.len() as u64;
            total += chunk.len() as u64;
            if total > limit {
                return Err(too_large(total, limit));
            }
            // A chunk is tens of KiB: hashing it inline costs microseconds.
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(ApiError::internal)?;
        }
        out.sync_all().await.map_err(ApiError::internal)?;
        // The stamp the publish must still find, or the digest is not taken.
        let meta = out.metadata().await.map_err(ApiError::internal)?;
        let blake3 = hasher.finalize();
        files.push(Received {
            file: UploadedFile {
                name,
                size,
                blake3: blake3.to_hex().to_string(),
            },
            known: KnownDigest {
                blake3: *blake3.as_bytes(),
                stamp: FileStamp::of(&meta),
            },
        });
    }
    if files.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::BadPath,
            "the upload holds no file",
        ));
    }
    Ok(files)
}

/// A file name the upload may use: one portable path component.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad_name(name, "it is not a file name"));
    }
    if name.contains(['/', '\\']) {
        return Err(bad_name(name, "it holds a path separator"));
    }
    if name.len() > 255 {
        return Err(bad_name(name, "it is longer than 255 bytes"));
    }
    match name_problem(name) {
        Some(problem) => Err(bad_name(name, &problem)),
        None => Ok(()),
    }
}

fn bad_name(name: &str, why: &str) -> ApiError {
    let shown = publisher::torrent::portable_name::visible(name);
    ApiError::bad_request(
        ErrorCode::BadPath,
        format!("cannot take the file {shown:?}: {why}"),
    )
}

/// The folder the files go in (and the torrent's name when there are several): the title
/// if it is a portable name, else `upload`.
fn folder_name(title: Option<&str>) -> String {
    match title.map(str::trim) {
        Some(t) if check_name(t).is_ok() && t.len() <= 100 => t.to_owned(),
        _ => "upload".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_are_single_portable_components() {
        for good in ["a.txt", "Résumé 2026.pdf", "..hidden", "x"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "photo\u{202E}gpj.exe",
            "nul.txt",
            "trailing.",
            "bell\u{7}",
        ] {
            let e = check_name(bad).unwrap_err();
            assert_eq!(e.name(), "bad_path", "{bad:?}");
        }
        assert!(check_name(&"a".repeat(256)).is_err());
        assert_eq!(folder_name(Some("Holiday 2026")), "Holiday 2026");
        assert_eq!(folder_name(Some("../x")), "upload");
        assert_eq!(folder_name(None), "upload");
    }
}
