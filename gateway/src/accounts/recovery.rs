//! Ways back in without the password: a one-time sign-in link by mail (it replaces the
//! password, never the second factor, and counts against no password limit: a stranger
//! cannot lock the owner out), and a password reset by mail. Request pages answer the same
//! whether or not the address has an account. As with confirmation, a mailed link opens a
//! page with a form; only its post spends the token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use ::accounts::{Secret, SignIn};

use super::client::ClientInfo;
use super::csrf::CsrfForm;
use super::page::{Problem, account_page, csrf_field, problem, token_button_page};
use super::session::{MaybeSignedIn, PreSession, see_other};
use super::signin::{code_form, signed_in};
use super::web;
use crate::Gateway;

/// Which mail a request page asks for.
#[derive(Clone, Copy)]
enum Ask {
    SignInLink,
    Reset,
}

impl Ask {
    fn title(self) -> &'static str {
        match self {
            Ask::SignInLink => "Email me a sign-in link",
            Ask::Reset => "Reset your password",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Ask::SignInLink => "/account/sign-in-link",
            Ask::Reset => "/account/reset",
        }
    }
}

fn request_form(ask: Ask, csrf: &str, email: &str, problem: Option<&Problem>) -> Response {
    // Limited or not, the links already mailed still work (an hour each, a newer one not
    // revoking an older one): an owner whose address a stranger keeps asking for has them.
    let limited = problem.is_some_and(|p| p.status == StatusCode::TOO_MANY_REQUESTS);
    let body = html! {
        h1 { (ask.title()) }
        @if limited {
            p {
                "If this address has an account, the links already mailed to it are still \
                 valid for an hour after they were sent: look in your mailbox, and in the spam \
                 folder."
            }
        }
        form method="post" action=(ask.action()) {
            (csrf_field(csrf))
            label { "Email " input type="email" name="email" value=(email) required autocomplete="username"; }
            button type="submit" { "Send" }
        }
        p { a href="/account/sign-in" { "Back to sign-in" } }
    };
    account_page(ask.title(), None, problem, body)
}

fn sent(ask: Ask) -> Response {
    let body = html! {
        h1 { "Check your mail" }
        p {
            "If this address has an account here, a link valid for one hour is on its way to \
             it. Look in the spam folder too."
        }
        p { a href=(ask.action()) { "Ask again" } }
    };
    account_page(ask.title(), None, None, body)
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
}

/// `GET /account/sign-in-link`.
pub async fn link_page(State(gateway): State<Gateway>, pre: PreSession) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    pre.finish(web, request_form(Ask::SignInLink, &pre.csrf, "", None))
}

/// `GET /account/reset`.
pub async fn reset_request_page(State(gateway): State<Gateway>, pre: PreSession) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    pre.finish(web, request_form(Ask::Reset, &pre.csrf, "", None))
}

/// `POST /account/sign-in-link`.
pub async fn request_link(
    State(gateway): State<Gateway>,
    pre: PreSession,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    match web.accounts.request_sign_in_link(&form.email).await {
        Ok(()) => sent(Ask::SignInLink),
        Err(e) => request_form(Ask::SignInLink, &pre.csrf, &form.email, Some(&problem(&e))),
    }
}

/// `POST /account/reset`.
pub async fn request_reset(
    State(gateway): State<Gateway>,
    pre: PreSession,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    match web.accounts.request_password_reset(&form.email).await {
        Ok(()) => sent(Ask::Reset),
        Err(e) => request_form(Ask::Reset, &pre.csrf, &form.email, Some(&problem(&e))),
    }
}

/// `GET /account/sign-in-link/{token}`: a button that signs in.
pub async fn link_landing(
    State(gateway): State<Gateway>,
    pre: PreSession,
    Path(token): Path<String>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    token_button_page(
        web,
        &pre,
        "Sign in",
        ::accounts::SIGN_IN_LINK_PATH,
        &token,
        "Sign in with this link",
    )
}

/// `POST /account/sign-in-link/{token}`: a session, or the second-factor step.
pub async fn use_link(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    pre: PreSession,
    MaybeSignedIn(previous): MaybeSignedIn,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    match web
        .accounts
        .sign_in_with_link(&Secret::new(token), &client)
        .await
    {
        Ok(SignIn::Session(session)) => signed_in(web, previous, session, "/account").await,
        Ok(SignIn::SecondFactor { challenge }) => code_form(&pre.csrf, &challenge, "", None),
        Err(e) => {
            let body = html! {
                h1 { "Sign in" }
                p { a href="/account/sign-in-link" { "Ask for a new link" } }
            };
            account_page("Sign in", None, Some(&problem(&e)), body)
        }
    }
}

fn reset_form(csrf: &str, token: &str, problem: Option<&Problem>) -> Response {
    let body = html! {
        h1 { "Choose a new password" }
        form method="post" action={ (::accounts::RESET_PATH) (token) } {
            (csrf_field(csrf))
            label {
                "New password (at least " (::accounts::MIN_LEN_WITHOUT_SECOND_FACTOR)
                " characters, or " (::accounts::MIN_LEN_WITH_SECOND_FACTOR) " with two-factor authentication) "
                input type="password" name="password" required autocomplete="new-password";
            }
            button type="submit" { "Set the password" }
        }
        p { "Every session of the account ends: sign in again afterwards." }
    };
    account_page("Reset your password", None, problem, body)
}

/// `GET /account/reset/{token}`.
pub async fn reset_page(
    State(gateway): State<Gateway>,
    pre: PreSession,
    Path(token): Path<String>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    pre.finish(web, reset_form(&pre.csrf, &token, None))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

/// `POST /account/reset/{token}`: the new password; every session of the user ends.
pub async fn reset(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    pre: PreSession,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let new = Secret::new(form.password);
    match web
        .accounts
        .reset_password(&Secret::new(token.clone()), &new, &client)
        .await
    {
        Ok(_) => {
            let mut response = see_other("/account/sign-in");
            // This browser's session (if any) ended with the others.
            web.cookies.clear_session(&mut response);
            response
        }
        Err(e) => reset_form(&pre.csrf, &token, Some(&problem(&e))),
    }
}
