//! The frame of account pages (the site's layout with the signed-in user's address and a
//! sign-out button in the header), form parts, and how an accounts error is shown: a clear
//! message on the form, with its status (`429` with `Retry-After` when rate-limited, `503`
//! when the password hasher is busy). Messages come from `accounts::Error`, which never
//! holds a password, token or code, and never tells whether an address has an account.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use http_server::{ApiError, ErrorCode};
use maud::{Markup, html};

use ::accounts::Error;

use super::Web;
use super::session::{PreSession, SignedIn};
use crate::pages::layout::framed_page;

/// An accounts error as a page shows it.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// The stable name (`accounts::Error::name`).
    pub name: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Problem {
    /// The same as an [`ApiError`] (for error pages and JSON).
    pub fn api_error(&self) -> ApiError {
        let error = ApiError::new(self.status, ErrorCode::Account(self.name), &self.message);
        match self.retry_after {
            Some(secs) => error.retry_after(secs),
            None => error,
        }
    }
}

/// How an accounts error is answered (the node API's mapping: the same status, name and
/// wait as its JSON answers).
pub fn problem(error: &Error) -> Problem {
    let status = seeder::node::api::accounts_status(error);
    let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %error, "accounts");
        INTERNAL_MESSAGE.to_owned()
    } else {
        error.to_string()
    };
    Problem {
        status,
        name: error.name(),
        message,
        retry_after: seeder::node::api::accounts_retry_after(error),
    }
}

/// What a page says of a 500 (its details are in the log).
const INTERNAL_MESSAGE: &str = "something went wrong on the gateway; try again later";

impl Problem {
    /// How a node API error is shown on a form.
    pub fn of_api(error: &ApiError) -> Problem {
        let status = error.status();
        Problem {
            status,
            name: error.name(),
            message: match status {
                StatusCode::INTERNAL_SERVER_ERROR => INTERNAL_MESSAGE.to_owned(),
                _ => error.message().to_owned(),
            },
            retry_after: error.retry_after_secs(),
        }
    }
}

/// An account page: `200`, or the problem's status (with `Retry-After`) when `problem` is
/// set. Never cached (the gateway's front marks every `/account` answer `private,
/// no-store`); no `Referer` leaves for another site (some of its URLs hold tokens). Not
/// `no-referrer`: under it a browser posts the page's forms with `Origin: null`, which the
/// cross-origin check must refuse.
pub fn account_page(
    title: &str,
    user: Option<&SignedIn>,
    problem: Option<&Problem>,
    body: Markup,
) -> Response {
    let status = problem.map_or(StatusCode::OK, |p| p.status);
    let header_end = user.map(|user| {
        html! {
            " · " a href="/account" { (user.user.email) } " "
            form.inline method="post" action="/account/sign-out" {
                (csrf_field(&user.csrf))
                button type="submit" { "Sign out" }
            }
        }
    });
    let body = html! {
        @if let Some(problem) = problem {
            p.problem role="alert" { (problem.message) }
        }
        (body)
    };
    let mut response = framed_page(status, title, &[], header_end, body);
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Some(secs) = problem.and_then(|p| p.retry_after)
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        headers.insert(header::RETRY_AFTER, value);
    }
    response
}

/// The hidden field every form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// The page a mailed link opens: one button posting the token back, so that a mail scanner
/// fetching the link spends nothing.
pub fn token_button_page(
    web: &Web,
    pre: &PreSession,
    title: &str,
    prefix: &str,
    token: &str,
    button: &str,
) -> Response {
    let body = html! {
        h1 { (title) }
        form method="post" action={ (prefix) (token) } {
            (csrf_field(&pre.csrf))
            button type="submit" { (button) }
        }
    };
    pre.finish(web, account_page(title, None, None, body))
}
