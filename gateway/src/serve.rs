//! Answering a request for one file: validators (ETag from the file's BLAKE3,
//! Last-Modified), conditional requests, single byte ranges, `HEAD`, and the body streamed
//! from disk or from the swarm.

use std::io::SeekFrom;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_server::{ApiError, ErrorCode};
use seeder::node::api::NodeApi;
use seeder::node::api::files::HeldFile;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::range::{self, RangeAnswer};

/// Bytes read per chunk of a body.
const CHUNK: usize = 256 * 1024;

/// Whether a request may read a file that is still downloading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swarm {
    /// Stream it from the swarm (browsers, players).
    Allow,
    /// Answer 503: web seed clients fetch pieces from peers meanwhile.
    Refuse,
}

/// Answers `method` for `file` with `request`'s conditional and `Range` headers.
pub async fn serve_file(
    node: &NodeApi,
    file: &HeldFile,
    method: &Method,
    request: &HeaderMap,
    swarm: Swarm,
) -> Result<Response, ApiError> {
    let (disk, last_modified) = match file.open(node).await? {
        Some(opened) => (Some(opened.file), opened.modified.map(whole_seconds)),
        None if swarm == Swarm::Refuse => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::NotLocal,
                format!("torrent {} is still downloading", file.infohash),
            ));
        }
        None => (None, None),
    };
    let validators = Validators {
        etag: file.blake3.map(|h| format!("\"{}\"", hex::encode(h))),
        last_modified,
    };
    let mut headers = HeaderMap::new();
    validators.write(&mut headers);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    let mime = mime_guess::from_path(&file.path).first_or_octet_stream();
    if let Ok(value) = HeaderValue::from_str(mime.essence_str()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if !is_passive(&mime) {
        // Published files are untrusted: HTML, SVG and the like must not run script with
        // the gateway's authority (a sandboxed document has a unique opaque origin).
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        );
    }
    if let Some(value) = safe_disposition(&file.path) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }

    if let Some(status) = validators.precondition(method, request) {
        return Ok((status, headers).into_response());
    }
    let len = file.length;
    let answer = match request.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(range) if validators.if_range_holds(request) => range::evaluate(range, len),
        _ => RangeAnswer::Full,
    };
    let (status, start, count) = match answer {
        RangeAnswer::Full => (StatusCode::OK, 0, len),
        RangeAnswer::Partial { start, end } => {
            let value = format!("bytes {start}-{end}/{len}");
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAnswer::Unsatisfiable => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            headers.remove(header::CONTENT_TYPE);
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response());
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if method == Method::HEAD {
        return Ok((status, headers).into_response());
    }
    let body = match disk {
        Some(file) => Ok(disk_body(file.into_std().await, start, count)),
        None => {
            let stream = node.open_stream(file).await?;
            body(stream, start, count).await
        }
    }
    .map_err(ApiError::internal)?;
    Ok((status, headers, body).into_response())
}

/// For a file whose name holds bidirectional or control characters, or a name Windows
/// reserves (from others: our publisher refuses them), the name a browser saves it under:
/// made safe by `portable_name::download_name`, inline as before. `None`: the URL's own
/// name is safe.
fn safe_disposition(path: &str) -> Option<HeaderValue> {
    use publisher::torrent::portable_name::download_name;
    let name = path.rsplit('/').next().unwrap_or(path);
    let safe = download_name(name);
    if safe == name {
        return None;
    }
    let ascii: String = safe
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    // RFC 8187 attr-char stays as it is; everything else is percent-encoded.
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(&safe, ATTR);
    HeaderValue::from_str(&format!(
        "inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .ok()
}

async fn body<R>(mut reader: R, start: u64, count: u64) -> std::io::Result<Body>
where
    R: AsyncRead + AsyncSeek + Unpin + Send + 'static,
{
    if start > 0 {
        reader.seek(SeekFrom::Start(start)).await?;
    }
    let capacity = usize::try_from(count).unwrap_or(CHUNK).clamp(1, CHUNK);
    Ok(Body::from_stream(ReaderStream::with_capacity(
        reader.take(count),
        capacity,
    )))
}

/// Bytes read per chunk of a complete file on disk: large reads, one chunk read ahead
/// while the previous one is written, no copy between the read and the socket.
const DISK_CHUNK: u64 = 1 << 20;

/// `count` bytes of a complete file from `start`: each chunk is one positioned read on
/// tokio's blocking pool (no seek, no intermediate buffer as with `tokio::fs::File`), and
/// the next chunk's read starts as soon as a chunk is handed to hyper.
fn disk_body(file: std::fs::File, start: u64, count: u64) -> Body {
    struct Reads {
        file: std::sync::Arc<std::fs::File>,
        next: u64,
        end: u64,
        ahead: Option<tokio::task::JoinHandle<std::io::Result<Bytes>>>,
    }
    impl Reads {
        fn read_ahead(&mut self) {
            if self.next >= self.end {
                self.ahead = None;
                return;
            }
            let len = (self.end - self.next).min(DISK_CHUNK);
            let (file, offset) = (self.file.clone(), self.next);
            self.next += len;
            self.ahead = Some(tokio::task::spawn_blocking(move || {
                use std::io::{Read, Seek};
                // `read_to_end` fills spare capacity without zeroing it first.
                let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                let mut reader = &*file;
                reader.seek(SeekFrom::Start(offset))?;
                reader.take(len).read_to_end(&mut buf)?;
                if buf.len() as u64 != len {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file is shorter than when it was opened",
                    ));
                }
                Ok(Bytes::from(buf))
            }));
        }
    }
    let mut reads = Reads {
        file: std::sync::Arc::new(file),
        next: start,
        end: start.saturating_add(count),
        ahead: None,
    };
    reads.read_ahead();
    Body::from_stream(futures_lite::stream::unfold(
        reads,
        |mut reads| async move {
            let chunk = match reads.ahead.take()?.await {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(e)) => return Some((Err(e), reads)),
                Err(e) => return Some((Err(std::io::Error::other(e)), reads)),
            };
            reads.read_ahead();
            Some((Ok(chunk), reads))
        },
    ))
}

/// Types a browser shows without running anything: served without a sandbox.
fn is_passive(mime: &mime_guess::Mime) -> bool {
    match (mime.type_().as_str(), mime.subtype().as_str()) {
        ("audio" | "video", _) => true,
        ("image", subtype) => subtype != "svg",
        ("text", "plain") => true,
        _ => false,
    }
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// What conditional requests are checked against.
pub struct Validators {
    /// A strong entity tag, quoted.
    pub etag: Option<String>,
    pub last_modified: Option<SystemTime>,
}

impl Validators {
    /// Adds `ETag` and `Last-Modified`.
    pub fn write(&self, headers: &mut HeaderMap) {
        if let Some(value) = self
            .etag
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            headers.insert(header::ETAG, value);
        }
        if let Some(value) = self
            .last_modified
            .and_then(|t| HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok())
        {
            headers.insert(header::LAST_MODIFIED, value);
        }
    }

    /// RFC 9110 §13.2.2: `412` or `304` when a precondition says so, else `None`.
    pub fn precondition(&self, method: &Method, request: &HeaderMap) -> Option<StatusCode> {
        let text = |name| {
            request
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        if let Some(list) = text(header::IF_MATCH) {
            if !self.etag_in(list, false) {
                return Some(StatusCode::PRECONDITION_FAILED);
            }
        } else if let Some(date) = text(header::IF_UNMODIFIED_SINCE)
            && let (Ok(date), Some(modified)) =
                (httpdate::parse_http_date(date), self.last_modified)
            && modified > date
        {
            return Some(StatusCode::PRECONDITION_FAILED);
        }
        let safe = method == Method::GET || method == Method::HEAD;
        if let Some(list) = text(header::IF_NONE_MATCH) {
            if self.etag_in(list, true) {
                return Some(if safe {
                    StatusCode::NOT_MODIFIED
                } else {
                    StatusCode::PRECONDITION_FAILED
                });
            }
        } else if safe
            && let Some(date) = text(header::IF_MODIFIED_SINCE)
            && let (Ok(date), Some(modified)) =
                (httpdate::parse_http_date(date), self.last_modified)
            && modified <= date
        {
            return Some(StatusCode::NOT_MODIFIED);
        }
        None
    }

    /// `If-Range`: the range applies only if the validator still matches (strongly).
    pub fn if_range_holds(&self, request: &HeaderMap) -> bool {
        let Some(value) = request
            .get(header::IF_RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
        else {
            return true;
        };
        if value.starts_with('"') || value.starts_with("W/") {
            return !value.starts_with("W/") && self.etag.as_deref() == Some(value);
        }
        match (httpdate::parse_http_date(value), self.last_modified) {
            (Ok(date), Some(modified)) => date == modified,
            _ => false,
        }
    }

    /// Whether `list` (an `If-Match`/`If-None-Match` value) names our tag; `weak` compares
    /// ignoring `W/`.
    fn etag_in(&self, list: &str, weak: bool) -> bool {
        let Some(ours) = self.etag.as_deref() else {
            return false;
        };
        list.split(',').map(str::trim).any(|tag| {
            tag == "*" || tag == ours || (weak && tag.strip_prefix("W/").is_some_and(|t| t == ours))
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};

    use super::Validators;

    fn validators() -> Validators {
        Validators {
            etag: Some("\"abc\"".into()),
            last_modified: httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").ok(),
        }
    }

    fn with(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn if_none_match_answers_not_modified() {
        let v = validators();
        for list in ["\"abc\"", "\"x\", W/\"abc\"", "*"] {
            let headers = with(header::IF_NONE_MATCH, list);
            assert_eq!(
                v.precondition(&Method::GET, &headers),
                Some(StatusCode::NOT_MODIFIED)
            );
        }
        let headers = with(header::IF_NONE_MATCH, "\"other\"");
        assert_eq!(v.precondition(&Method::GET, &headers), None);
    }

    #[test]
    fn if_match_and_dates() {
        let v = validators();
        let headers = with(header::IF_MATCH, "\"other\"");
        assert_eq!(
            v.precondition(&Method::GET, &headers),
            Some(StatusCode::PRECONDITION_FAILED)
        );
        let headers = with(header::IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            v.precondition(&Method::GET, &headers),
            Some(StatusCode::NOT_MODIFIED)
        );
        let headers = with(header::IF_MODIFIED_SINCE, "Sat, 05 Nov 1994 08:49:37 GMT");
        assert_eq!(v.precondition(&Method::GET, &headers), None);
    }

    #[test]
    fn if_range_needs_a_strong_match() {
        let v = validators();
        assert!(v.if_range_holds(&HeaderMap::new()));
        assert!(v.if_range_holds(&with(header::IF_RANGE, "\"abc\"")));
        assert!(!v.if_range_holds(&with(header::IF_RANGE, "W/\"abc\"")));
        assert!(!v.if_range_holds(&with(header::IF_RANGE, "\"old\"")));
        assert!(v.if_range_holds(&with(header::IF_RANGE, "Sun, 06 Nov 1994 08:49:37 GMT")));
    }
}
