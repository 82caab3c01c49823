//! Every account form is posted with a CSRF token and from this site only:
//!
//! - a browser's `Sec-Fetch-Site` must be `same-origin` (or `none`: typed by the user), and
//!   an `Origin` header must name this gateway (its public URL, or the `Host` the request
//!   was sent to), else `403 cross_origin`;
//! - the form's `csrf` field must be the token of the session cookie or of the pre-session
//!   cookie ([`::accounts::Accounts::check_csrf`]), else `403 csrf_refused`.
//!
//! [`CsrfForm`] does both for a urlencoded form; forms read otherwise (a multipart upload)
//! call [`check_origin`] before reading the body and [`check_token`] on their `csrf` field.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_server::{ApiError, ErrorCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Web;
use crate::Gateway;
use crate::pages::layout::PageError;

/// Largest account form accepted (text fields only).
const FORM_LIMIT: usize = 16 << 10;

/// A urlencoded form whose origin and CSRF token were checked.
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<Gateway> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, gateway: &Gateway) -> Result<Self, Response> {
        let web = super::web(gateway).map_err(IntoResponse::into_response)?;
        let (parts, body) = request.into_parts();
        check_origin(web, &parts.headers).map_err(refuse)?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
            refuse(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TooLarge,
                "the form is too large",
            ))
        })?;
        let field: CsrfField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| refuse(ApiError::bad_request(ErrorCode::BadBody, "not a form")))?;
        check_token(web, &parts.headers, &field.csrf).map_err(refuse)?;
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            refuse(ApiError::bad_request(
                ErrorCode::BadBody,
                format!("the form is incomplete: {e}"),
            ))
        })?;
        Ok(CsrfForm(form))
    }
}

fn refuse(error: ApiError) -> Response {
    PageError(error).into_response()
}

/// Refuses a cross-site post: `Sec-Fetch-Site` other than `same-origin`/`none`, or an
/// `Origin` that is not this gateway's.
pub fn check_origin(web: &Web, headers: &HeaderMap) -> Result<(), ApiError> {
    let cross = |why: &str| {
        ApiError::forbidden(
            ErrorCode::CrossOrigin,
            format!("a form of this gateway posted from another site ({why})"),
        )
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.as_bytes();
        if site != b"same-origin" && site != b"none" {
            return Err(cross("Sec-Fetch-Site"));
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null");
    let ours = origin_of(web.accounts.public_url());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_host = host.is_some_and(|host| {
        origin
            .split_once("://")
            .is_some_and(|(scheme, rest)| (scheme == "http" || scheme == "https") && rest == host)
    });
    if origin.eq_ignore_ascii_case(ours) || same_host {
        Ok(())
    } else {
        Err(cross("Origin"))
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].find('/') {
        Some(end) => &url[..start + end],
        None => url,
    }
}

/// Refuses a form whose `csrf` field is not the token of the request's session cookie or
/// pre-session cookie.
pub fn check_token(web: &Web, headers: &HeaderMap, submitted: &str) -> Result<(), ApiError> {
    let bound = [
        web.cookies.session(headers),
        web.cookies.pre_session(headers),
    ];
    let valid = !submitted.is_empty()
        && bound
            .iter()
            .flatten()
            .any(|b| web.accounts.check_csrf(b, submitted));
    if valid {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            ErrorCode::CsrfRefused,
            "the form's security token is missing or stale: load the page again and resend",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn the_origin_of_a_url_is_its_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://gw.example.org/base"),
            "https://gw.example.org"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
