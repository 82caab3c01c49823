//! The frame every page shares, and small formatting helpers. maud escapes every
//! interpolated string, so titles and metadata (untrusted) can never become markup.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_server::ApiError;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Pages run no script at all; media and images come from this gateway only.
const PAGE_POLICY: &str = "default-src 'none'; img-src 'self'; media-src 'self'; \
    style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;\
padding:0 1rem;line-height:1.5}header{border-bottom:1px solid #ccc;padding:.5rem 0}\
table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;vertical-align:top}\
.badge{font-size:.85em;padding:0 .3rem;border:1px solid;border-radius:3px}\
.retracted{color:#a00}.frozen{color:#a60}.verified{color:#070}.id{font-family:monospace;\
word-break:break-all}img,video{max-width:100%}pre{white-space:pre-wrap;background:#f6f6f6;\
padding:.5rem}form.inline{display:inline}label{display:block;margin:.4rem 0}\
.problem{color:#a00;border-left:3px solid #a00;padding-left:.5rem}ul.entries li,ol.entries li{margin:.3rem 0}.meta,.health{font-size:.9em;\
color:#555}";

/// An alternate representation advertised in `<head>`: (MIME type, title, href).
pub type Alternate = (&'static str, &'static str, String);

/// A file or torrent name from a signed entry: bidirectional and control characters (which
/// could show `photo\u{202E}gpj.exe` as `photoexe.jpg`) are written out as `\u{202E}`,
/// never passed through raw (see `publisher::torrent::portable_name`).
pub fn shown_name(text: &str) -> Markup {
    let shown = publisher::torrent::portable_name::visible(text);
    match shown {
        std::borrow::Cow::Borrowed(plain) => html! { (plain) },
        std::borrow::Cow::Owned(escaped) => html! {
            span.hidden-chars title="This name holds invisible characters, written out as \\u{…}" { (escaped) }
        },
    }
}

/// A full HTML page.
pub fn page(title: &str, alternates: &[Alternate], body: Markup) -> Response {
    framed_page(StatusCode::OK, title, alternates, None, body)
}

/// A full HTML page with `status`, and `header_end` (e.g. the signed-in user and a sign-out
/// button on account pages) at the end of the header.
pub fn framed_page(
    status: StatusCode,
    title: &str,
    alternates: &[Alternate],
    header_end: Option<Markup>,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · swarmfeed" }
                link rel="search" type="application/opensearchdescription+xml" title="swarmfeed" href="/opensearch.xml";
                @for (kind, name, href) in alternates {
                    link rel="alternate" type=(kind) title=(name) href=(href);
                }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    a href="/" { "swarmfeed" } " · signed feeds on BitTorrent · "
                    a href="/search" { "Search" }
                    @if let Some(end) = header_end { (end) }
                }
                main { (body) }
            }
        }
    };
    html_response(status, markup)
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    response
}

/// An error shown as a page, with its status and stable name.
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError(error)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { (status.as_u16()) " · swarmfeed" } }
                body {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p { (self.0.message()) }
                    p { "Error: " code { (self.0.name()) } }
                    p { a href="/" { "Home" } }
                }
            }
        };
        html_response(status, markup)
    }
}

/// Bytes in binary units, e.g. `1.5 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Unix seconds as `2025-01-31 12:00 UTC`.
pub fn time(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || secs.to_string(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::{size, time};

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
    }
}
