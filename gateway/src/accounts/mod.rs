//! Account pages of a group-hosted gateway (issue 15): sign-up, sign-in with a second
//! factor, sessions, and the signed-in user's `/account` pages, over the `accounts` crate.
//! Mounted only when `[accounts] mode` is not `off`; with `off`, every `/account/...` path
//! answers `404`.
//!
//! The parts other pages build on (stable names):
//! - [`session::SignedIn`] (`{ user, token, csrf }`; without a valid session cookie a page
//!   that takes it redirects to `/account/sign-in?next=…`) and [`session::MaybeSignedIn`];
//!   [`session::PreSession`] for the CSRF token of anonymous forms;
//! - [`csrf::CsrfForm`]`<T>`: a urlencoded form posted from this site with a valid CSRF
//!   token (`403 cross_origin` / `403 csrf_refused` otherwise); [`csrf::check_origin`] and
//!   [`csrf::check_token`] for forms read otherwise (multipart);
//! - [`client::ClientInfo`]: the `accounts::Client` of a request (the peer, or what a
//!   trusted proxy says: `[gateway] trusted_proxies`);
//! - [`page::account_page`], [`page::csrf_field`], [`page::problem`]: the frame, the hidden
//!   field, and an accounts error as a message with its status;
//! - [`cookies::Cookies`]: the session and pre-session cookies.
//!
//! Signed-in answers never touch the page cache: requests carrying a session cookie and
//! every `/account` path bypass it and are answered `Cache-Control: private, no-store`
//! (crate::cache). Paths ending in a mailed token are redacted in the access log
//! (`accounts::TOKEN_PATH_PREFIXES`, passed to the HTTP server by the node).

pub mod client;
pub mod cookies;
pub mod csrf;
mod identities;
pub mod page;
mod recovery;
pub mod session;
mod settings;
mod signin;
mod signup;
mod twofactor;
mod upload;

use axum::Router;
use axum::routing::{any, get, post};
use http_server::ApiError;

use crate::Gateway;
pub use page::problem;

/// The accounts service and how its cookies are set. Cheap to clone.
#[derive(Clone)]
pub struct Web {
    pub accounts: ::accounts::Accounts,
    pub cookies: cookies::Cookies,
}

impl Web {
    pub fn new(accounts: ::accounts::Accounts) -> Web {
        let cookies = cookies::Cookies::for_public_url(accounts.public_url());
        Web { accounts, cookies }
    }
}

/// The gateway's accounts, or `404` when the mode is `off`.
pub fn web(gateway: &Gateway) -> Result<&Web, ApiError> {
    gateway.accounts.as_ref().ok_or_else(off)
}

fn off() -> ApiError {
    ApiError::not_found("this gateway has no accounts")
}

/// The account routes: the pages when accounts are on, else `404` for every `/account`
/// path (which would otherwise be read as an identity).
pub fn routes(on: bool) -> Router<Gateway> {
    if !on {
        return Router::new()
            .route("/account", any(async || off()))
            .route("/account/{*rest}", any(async || off()));
    }
    let token = |prefix: &str| format!("{prefix}{{token}}");
    Router::new()
        .route("/account", get(settings::overview))
        .route(
            "/account/sign-in",
            get(signin::sign_in_page).post(signin::sign_in),
        )
        .route("/account/sign-in/code", post(signin::second_factor))
        .route("/account/sign-out", post(signin::sign_out))
        .route(
            "/account/sign-up",
            get(signup::sign_up_page).post(signup::sign_up),
        )
        .route("/account/sign-up/resend", post(signup::resend))
        .route(
            &token(::accounts::CONFIRM_PATH),
            get(signup::confirm_page).post(signup::confirm),
        )
        .route(
            "/account/sign-in-link",
            get(recovery::link_page).post(recovery::request_link),
        )
        .route(
            &token(::accounts::SIGN_IN_LINK_PATH),
            get(recovery::link_landing).post(recovery::use_link),
        )
        .route(
            "/account/reset",
            get(recovery::reset_request_page).post(recovery::request_reset),
        )
        .route(
            &token(::accounts::RESET_PATH),
            get(recovery::reset_page).post(recovery::reset),
        )
        .route("/account/email", post(settings::change_email))
        .route(
            &token(::accounts::EMAIL_CHANGE_PATH),
            get(settings::email_landing).post(settings::confirm_email),
        )
        .route("/account/password", post(settings::change_password))
        .route("/account/sessions/end", post(settings::end_session))
        .route("/account/sessions/end-all", post(settings::end_all))
        .route(
            "/account/identities/{identity}",
            get(identities::identity_page),
        )
        .route("/account/two-factor", get(twofactor::page))
        .route("/account/two-factor/begin", post(twofactor::begin))
        .route("/account/two-factor/confirm", post(twofactor::confirm))
        .route("/account/two-factor/disable", post(twofactor::disable))
        .route("/account/recovery-codes", post(twofactor::regenerate))
        .merge(state_changing())
        .route(
            "/account/{*rest}",
            any(async || ApiError::not_found("no such account page")),
        )
}

/// The forms that change the node's state are those of the API's table, and only those
/// (tests/tests/node_api.rs sends each with a signed-in user).
fn state_changing() -> Router<Gateway> {
    use seeder::node::api::{Operation, STATE_CHANGING, Surface};
    let mut router = Router::new();
    for route in STATE_CHANGING
        .iter()
        .filter(|r| r.surface == Surface::Account)
    {
        let handler = match route.operation {
            // Where a form posts to its own page's path, that page is the GET.
            Operation::CreateIdentity => get(identities::list_page).post(identities::create),
            Operation::PublishFiles => get(upload::upload_page).post(upload::upload),
            Operation::InviteMember => post(identities::invite),
            Operation::SetProfile => post(identities::profile),
            Operation::SetRole => post(identities::set_role),
            Operation::RemoveMember => post(identities::remove),
            Operation::LeaveIdentity => post(identities::leave),
            Operation::JoinIdentity => get(identities::join_page).post(identities::join),
            Operation::DeleteAccount => get(settings::delete_page).post(settings::delete),
            Operation::PushHead
            | Operation::RegisterFollower
            | Operation::Publish
            | Operation::Follow
            | Operation::Unfollow
            | Operation::Retract
            | Operation::Restore => continue,
        };
        router = router.route(route.path, handler);
    }
    router
}

/// The `404` page of a gateway without accounts.
pub fn off_page() -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::pages::PageError(off()).into_response()
}

/// The session behind `user` gets a new token (after a password or second-factor change):
/// `303` to `target` with the new cookie.
async fn rotated(web: &Web, user: &session::SignedIn, target: &str) -> axum::response::Response {
    match web.accounts.rotate_session(&user.token).await {
        Ok(new) => {
            let mut response = session::see_other(target);
            web.cookies
                .set_session(&mut response, &new.token, new.expires_at - unix_now());
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot give the session a new token");
            session::see_other(target)
        }
    }
}

/// Unix seconds now (cookie lifetimes).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
