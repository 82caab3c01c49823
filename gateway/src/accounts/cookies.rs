//! The two cookies of the account pages, both `HttpOnly; SameSite=Lax; Path=/`, and
//! `Secure` with the `__Host-` prefix when the public URL is https (the prefix makes a
//! browser refuse the cookie from a sibling domain or without `Secure`):
//!
//! - the session cookie, `__Host-swarmfeed-session` / `swarmfeed-session`: the session
//!   token, set at sign-in and after the second factor (always a new token), cleared at
//!   sign-out;
//! - the pre-session cookie, `__Host-swarmfeed-form` / `swarmfeed-form`: a random value the
//!   CSRF tokens of anonymous forms (sign-in, sign-up, reset) are bound to, so a stranger's
//!   page cannot post them either.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use ::accounts::Secret;

/// The session cookie's name over plain HTTP.
pub const SESSION: &str = "swarmfeed-session";
/// The session cookie's name when the public URL is https.
pub const SESSION_SECURE: &str = "__Host-swarmfeed-session";
/// The pre-session cookie's name over plain HTTP.
pub const PRE_SESSION: &str = "swarmfeed-form";
/// The pre-session cookie's name when the public URL is https.
pub const PRE_SESSION_SECURE: &str = "__Host-swarmfeed-form";
/// How long a pre-session cookie lives (a form left open overnight still posts).
const PRE_SESSION_SECS: i64 = 24 * 3600;

/// The cookie names and attributes of one gateway.
#[derive(Clone, Copy, Debug)]
pub struct Cookies {
    /// The public URL is https: `Secure` and `__Host-`.
    pub secure: bool,
}

impl Cookies {
    /// For a gateway whose links start with `public_url`.
    pub fn for_public_url(public_url: &str) -> Cookies {
        Cookies {
            secure: public_url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://")),
        }
    }

    pub fn session_name(self) -> &'static str {
        if self.secure { SESSION_SECURE } else { SESSION }
    }

    pub fn pre_session_name(self) -> &'static str {
        if self.secure {
            PRE_SESSION_SECURE
        } else {
            PRE_SESSION
        }
    }

    /// The session token the request carries.
    pub fn session(self, headers: &HeaderMap) -> Option<Secret> {
        read(headers, self.session_name())
    }

    /// The pre-session value the request carries.
    pub fn pre_session(self, headers: &HeaderMap) -> Option<Secret> {
        read(headers, self.pre_session_name())
    }

    /// Sets the session cookie to `token` for `max_age` seconds.
    pub fn set_session(self, response: &mut Response, token: &Secret, max_age: i64) {
        self.set(response, self.session_name(), token.expose(), max_age);
    }

    /// Clears the session cookie.
    pub fn clear_session(self, response: &mut Response) {
        self.set(response, self.session_name(), "", 0);
    }

    /// Sets the pre-session cookie.
    pub fn set_pre_session(self, response: &mut Response, value: &Secret) {
        self.set(
            response,
            self.pre_session_name(),
            value.expose(),
            PRE_SESSION_SECS,
        );
    }

    fn set(self, response: &mut Response, name: &str, value: &str, max_age: i64) {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            max_age.max(0)
        );
        // Tokens are base64url: always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

/// Whether a request carries a session cookie (of either name): such a request is never
/// answered from, or stored in, the page cache.
pub fn has_session_cookie(headers: &HeaderMap) -> bool {
    read(headers, SESSION).is_some() || read(headers, SESSION_SECURE).is_some()
}

/// The value of cookie `name` (the first one, over every `Cookie` header); empty values
/// count as absent.
fn read(headers: &HeaderMap, name: &str) -> Option<Secret> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| Secret::new(v.trim_matches('"')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for c in cookies {
            h.append(header::COOKIE, HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn cookies_are_found_by_their_exact_name_in_any_cookie_header() {
        let plain = Cookies::for_public_url("http://127.0.0.1:8080");
        let h = headers(&["a=1; swarmfeed-session=tok", "swarmfeed-form=pre"]);
        assert_eq!(plain.session(&h).unwrap().expose(), "tok");
        assert_eq!(plain.pre_session(&h).unwrap().expose(), "pre");
        let secure = Cookies::for_public_url("HTTPS://gw.example.org");
        assert!(
            secure.session(&h).is_none(),
            "only the __Host- cookie counts"
        );
        assert!(has_session_cookie(&h));
        assert!(!has_session_cookie(&headers(&[
            "xswarmfeed-session=1",
            "swarmfeed-session="
        ])));
    }

    #[test]
    fn set_cookies_are_http_only_lax_and_secure_under_https() {
        let mut r = Response::new(axum::body::Body::empty());
        Cookies::for_public_url("https://gw.example.org").set_session(
            &mut r,
            &Secret::new("tok"),
            60,
        );
        Cookies::for_public_url("http://gw").clear_session(&mut r);
        let set: Vec<_> = r.headers().get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(
            set[0],
            "__Host-swarmfeed-session=tok; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert_eq!(
            set[1],
            "swarmfeed-session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
