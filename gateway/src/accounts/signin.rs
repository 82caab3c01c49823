//! Sign-in (password, then the second factor when the account has one), sign-out, and the
//! account overview.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use ::accounts::{NewSession, Secret, SignIn};

use super::client::ClientInfo;
use super::csrf::CsrfForm;
use super::page::{Problem, account_page, csrf_field, problem};
use super::session::{MaybeSignedIn, PreSession, SignedIn, safe_next, see_other};
use super::{Web, web};
use crate::Gateway;

#[derive(Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: String,
}

impl Next {
    /// Where to go after signing in: `next` if it is a path here, else `/account`.
    fn target(&self) -> &str {
        if safe_next(&self.next) {
            &self.next
        } else {
            "/account"
        }
    }
}

/// `GET /account/sign-in`.
pub async fn sign_in_page(
    State(gateway): State<Gateway>,
    pre: PreSession,
    Query(next): Query<Next>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    pre.finish(web, sign_in_form(&pre.csrf, "", &next.next, None))
}

/// The sign-in form; `next` is where a completed sign-in goes (a path here).
pub fn sign_in_form(csrf: &str, email: &str, next: &str, problem: Option<&Problem>) -> Response {
    // A stranger can keep the password limits full for an address or a network; the mailed
    // link is the way in they cannot hold shut, so a limited page offers it at once.
    let limited = problem.is_some_and(|p| p.status == StatusCode::TOO_MANY_REQUESTS);
    let body = html! {
        h1 { "Sign in" }
        @if limited {
            p { "A sign-in link by mail needs no password, and this limit does not hold it up:" }
            form method="post" action="/account/sign-in-link" {
                (csrf_field(csrf))
                input type="hidden" name="email" value=(email);
                button type="submit" { "Email me a sign-in link" }
            }
        }
        form method="post" action="/account/sign-in" {
            (csrf_field(csrf))
            input type="hidden" name="next" value=(next);
            label { "Email " input type="email" name="email" value=(email) required autocomplete="username"; }
            label { "Password " input type="password" name="password" required autocomplete="current-password"; }
            button type="submit" { "Sign in" }
        }
        ul {
            li { a href="/account/sign-in-link" { "Email me a sign-in link" } " (no password needed)" }
            li { a href="/account/reset" { "Forgot your password?" } }
            li { a href="/account/sign-up" { "Create an account" } }
        }
    };
    account_page("Sign in", None, problem, body)
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /account/sign-in`: a session, or the second-factor step.
pub async fn sign_in(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    pre: PreSession,
    MaybeSignedIn(previous): MaybeSignedIn,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let password = Secret::new(form.password);
    let next = Next { next: form.next };
    match web.accounts.sign_in(&form.email, &password, &client).await {
        Ok(SignIn::Session(session)) => signed_in(web, previous, session, next.target()).await,
        Ok(SignIn::SecondFactor { challenge }) => {
            code_form(&pre.csrf, &challenge, &next.next, None)
        }
        Err(e) => sign_in_form(&pre.csrf, &form.email, &next.next, Some(&problem(&e))),
    }
}

pub fn code_form(
    csrf: &str,
    challenge: &Secret,
    next: &str,
    problem: Option<&Problem>,
) -> Response {
    let body = html! {
        h1 { "Second factor" }
        p { "Enter the 6-digit code from your authenticator app, or one of your recovery codes." }
        form method="post" action="/account/sign-in/code" {
            (csrf_field(csrf))
            input type="hidden" name="challenge" value=(challenge.expose());
            input type="hidden" name="next" value=(next);
            label { "Code " input type="text" name="code" required autocomplete="one-time-code" inputmode="text" autofocus; }
            button type="submit" { "Sign in" }
        }
        p { a href="/account/sign-in" { "Start again" } }
    };
    account_page("Second factor", None, problem, body)
}

#[derive(Deserialize)]
pub struct CodeForm {
    challenge: String,
    code: String,
    #[serde(default)]
    next: String,
}

/// `POST /account/sign-in/code`: the second factor, then a new session.
pub async fn second_factor(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    pre: PreSession,
    MaybeSignedIn(previous): MaybeSignedIn,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let challenge = Secret::new(form.challenge);
    let next = Next { next: form.next };
    let code = Secret::new(form.code);
    match web
        .accounts
        .complete_second_factor(&challenge, &code, &client)
        .await
    {
        Ok(session) => signed_in(web, previous, session, next.target()).await,
        Err(e) => code_form(&pre.csrf, &challenge, &next.next, Some(&problem(&e))),
    }
}

/// The answer to a completed sign-in: the new session's cookie (a session the browser
/// held before ends: one browser, one session), then on to `target`.
pub async fn signed_in(
    web: &Web,
    previous: Option<SignedIn>,
    session: NewSession,
    target: &str,
) -> Response {
    if let Some(previous) = previous
        && let Err(e) = web.accounts.sign_out(&previous.token).await
    {
        tracing::warn!(error = %e, "cannot end the session a browser held before signing in");
    }
    let mut response = see_other(target);
    web.cookies.set_session(
        &mut response,
        &session.token,
        session.expires_at - unix_now(),
    );
    response
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `POST /account/sign-out`: ends this session and clears the cookie.
pub async fn sign_out(
    State(gateway): State<Gateway>,
    user: SignedIn,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    if let Err(e) = web.accounts.sign_out(&user.token).await {
        return account_page("Sign out", Some(&user), Some(&problem(&e)), html! {});
    }
    let mut response = see_other("/");
    web.cookies.clear_session(&mut response);
    response
}
