//! Who is signed in: [`SignedIn`] (pages that need a user: without a valid session cookie
//! they redirect to the sign-in page) and [`MaybeSignedIn`]; [`PreSession`] gives anonymous
//! forms their CSRF token, setting the pre-session cookie on first sight.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_server::ApiError;

use ::accounts::{Error, Secret, SessionUser};

use super::{Web, problem};
use crate::Gateway;
use crate::pages::layout::PageError;

/// A signed-in user: the session behind the request's session cookie.
pub struct SignedIn {
    pub user: SessionUser,
    /// The session token (to sign out, or to rotate).
    pub token: Secret,
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

/// The signed-in user, if any (a stale session cookie counts as none).
pub struct MaybeSignedIn(pub Option<SignedIn>);

/// Where to send a visitor who must sign in first.
pub const SIGN_IN: &str = "/account/sign-in";

impl FromRequestParts<Gateway> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Self, Response> {
        let web = super::web(gateway).map_err(IntoResponse::into_response)?;
        match signed_in(web, parts).await {
            Ok(Some(signed_in)) => Ok(signed_in),
            Ok(None) => Err(sign_in_first(web, parts, gateway).await),
            Err(e) => Err(PageError(problem(&e).api_error()).into_response()),
        }
    }
}

impl OptionalFromRequestParts<Gateway> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Gateway,
    ) -> Result<Option<Self>, Response> {
        let Ok(web) = super::web(gateway) else {
            return Ok(None);
        };
        signed_in(web, parts)
            .await
            .map_err(|e| PageError(problem(&e).api_error()).into_response())
    }
}

impl FromRequestParts<Gateway> for MaybeSignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Self, Response> {
        let user =
            <SignedIn as OptionalFromRequestParts<Gateway>>::from_request_parts(parts, gateway)
                .await?;
        Ok(MaybeSignedIn(user))
    }
}

async fn signed_in(web: &Web, parts: &Parts) -> Result<Option<SignedIn>, Error> {
    let Some(token) = web.cookies.session(&parts.headers) else {
        return Ok(None);
    };
    let user = match web.accounts.authenticate(&token).await {
        Ok(user) => user,
        Err(Error::NotSignedIn) => return Ok(None),
        Err(e) => return Err(e),
    };
    let csrf = web.accounts.csrf_token(&token)?;
    Ok(Some(SignedIn { user, token, csrf }))
}

/// `303` to the sign-in page, which comes back to this page (a `GET`) afterwards; a stale
/// session cookie is cleared. A page whose path ends in a mailed token (an invitation to
/// join an identity) shows the sign-in form itself instead: a redirect would carry the
/// token in the sign-in page's query (`?next=`), which the access log writes out; the form
/// carries it in its body, and the log redacts this page's path.
async fn sign_in_first(web: &Web, parts: &mut Parts, gateway: &Gateway) -> Response {
    let back = if parts.method == axum::http::Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .filter(|b| safe_next(b))
    } else {
        None
    };
    let mut response = match back {
        Some(back) if holds_token(&back) => {
            let pre = match PreSession::from_request_parts(parts, gateway).await {
                Ok(pre) => pre,
                Err(response) => return response,
            };
            let form = super::signin::sign_in_form(&pre.csrf, "", &back, None);
            pre.finish(web, form)
        }
        Some(back) => see_other(&format!(
            "{SIGN_IN}?next={}",
            percent_encoding::utf8_percent_encode(&back, percent_encoding::NON_ALPHANUMERIC)
        )),
        None => see_other(SIGN_IN),
    };
    if web.cookies.session(&parts.headers).is_some() {
        web.cookies.clear_session(&mut response);
    }
    response
}

/// Whether `path` is a mailed link's, ending in a token.
pub fn holds_token(path: &str) -> bool {
    ::accounts::TOKEN_PATH_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Whether `next` is a path on this gateway (never `//host` or a scheme: no open redirect).
pub fn safe_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
}

/// `303 See Other` to `location` (a path of this gateway).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The CSRF token of an anonymous form, bound to the pre-session cookie; a new cookie when
/// the request has none ([`PreSession::finish`] sets it on the answer).
pub struct PreSession {
    pub csrf: String,
    new_cookie: Option<Secret>,
}

impl FromRequestParts<Gateway> for PreSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Self, Response> {
        let web = super::web(gateway).map_err(IntoResponse::into_response)?;
        let internal = |e: Error| PageError(ApiError::internal(e)).into_response();
        let (value, new_cookie) = match web.cookies.pre_session(&parts.headers) {
            Some(value) => (value, None),
            None => {
                let value = ::accounts::new_token().map_err(internal)?;
                (value.clone(), Some(value))
            }
        };
        let csrf = web.accounts.csrf_token(&value).map_err(internal)?;
        Ok(PreSession { csrf, new_cookie })
    }
}

impl PreSession {
    /// `response` with the pre-session cookie set if it is new.
    pub fn finish(&self, web: &Web, mut response: Response) -> Response {
        if let Some(value) = &self.new_cookie {
            web.cookies.set_pre_session(&mut response, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_only_ever_a_path_here() {
        assert!(safe_next("/account"));
        assert!(safe_next("/upload?identity=x"));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "",
        ] {
            assert!(!safe_next(bad), "{bad}");
        }
    }
}
