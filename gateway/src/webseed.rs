//! Files over HTTP: `/files/{infohash}/{path}` for browsers and players, and BEP 19 web
//! seeding at `/ws/{infohash}/{name}[/{path}]`, plus the .torrent that names this gateway as
//! a web seed.
//!
//! Why a second .torrent route: a torrent's `url-list` sits outside its info dictionary, so
//! adding this gateway's web seed URL leaves the infohash unchanged; but the publisher's
//! exact .torrent (`/torrents/{infohash}.torrent`, which followers replicate byte for byte)
//! is built before the infohash (and so the per-torrent URL) is known. The gateway
//! therefore serves `/webseed-torrents/{infohash}.torrent`: the same info dictionary with
//! `{public_url}/ws/{infohash}/` added to `url-list`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use feeds::Metainfo;
use http_server::ApiError;
use seeder::node::parse_infohash;

use crate::Gateway;
use crate::files::check_request_path;
use crate::links;
use crate::serve::{Swarm, serve_file};

/// `GET`/`HEAD /files/{infohash}/{*path}`: a file by its path inside the torrent.
pub async fn file(
    State(gateway): State<Gateway>,
    Path((infohash, path)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let infohash = parse_infohash(&infohash)?;
    check_request_path(&path)?;
    let held = gateway.node.held_torrent(&infohash).await?;
    let file = held.locate(&gateway.node, held.file(&path)?)?;
    serve_file(&gateway.node, &file, &method, &headers, Swarm::Allow).await
}

/// `GET`/`HEAD /ws/{infohash}/{*name_and_path}`: BEP 19. Clients append the torrent's name
/// to the URL, and for a multi-file torrent the file's path after it.
pub async fn webseed(
    State(gateway): State<Gateway>,
    Path((infohash, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let infohash = parse_infohash(&infohash)?;
    check_request_path(&rest)?;
    let held = gateway.node.held_torrent(&infohash).await?;
    let name = held.torrent.name.as_str();
    let stored = if held.single_file() {
        if rest != name {
            return Err(ApiError::not_found(format!(
                "torrent {infohash} is the single file {name:?}"
            )));
        }
        &held.files[0]
    } else {
        let path = rest
            .strip_prefix(name)
            .and_then(|p| p.strip_prefix('/'))
            .ok_or_else(|| {
                ApiError::not_found(format!("files of torrent {infohash} are under {name:?}/"))
            })?;
        held.file(path)?
    };
    let file = held.locate(&gateway.node, stored)?;
    serve_file(&gateway.node, &file, &method, &headers, Swarm::Refuse).await
}

/// `GET /webseed-torrents/{infohash}.torrent`: the .torrent with this gateway's web seed URL
/// added to `url-list` (same info dictionary, same infohash).
pub async fn webseed_torrent(
    State(gateway): State<Gateway>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let hex = file.strip_suffix(".torrent").ok_or_else(|| {
        ApiError::not_found("torrents are served as /webseed-torrents/INFOHASH.torrent")
    })?;
    let infohash = parse_infohash(hex)?;
    let bytes = gateway.node.torrent_file(&infohash).await?.bytes;
    let bytes = with_webseed(
        &bytes,
        &links::webseed(gateway.node.public_url(), &infohash),
    )
    .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-bittorrent".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{infohash}.torrent\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The .torrent `bytes` with `url` in its `url-list`; refuses to change the infohash.
pub fn with_webseed(bytes: &[u8], url: &str) -> Result<Vec<u8>, String> {
    let mut metainfo = Metainfo::decode(bytes).map_err(|e| e.to_string())?;
    if metainfo.webseeds.iter().any(|w| w == url) {
        return Ok(bytes.to_vec());
    }
    let infohash = metainfo.infohash();
    metainfo.webseeds.insert(0, url.to_owned());
    let encoded = metainfo.encode();
    match Metainfo::decode(&encoded) {
        Ok(again) if again.infohash() == infohash => Ok(encoded),
        _ => Err(format!(
            "adding a web seed to torrent {infohash} would change its infohash"
        )),
    }
}
