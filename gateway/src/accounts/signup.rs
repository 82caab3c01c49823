//! Sign-up (email, password, and the invitation code in mode `invite`), the "check your
//! mail" page with its resend form, and the confirmation link. A mailed link opens a page
//! with a button, and only the button's post uses the token: a mail scanner that fetches
//! links does not spend it.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use ::accounts::{Mode, Secret, SignUp, UserStatus};

use super::client::ClientInfo;
use super::csrf::CsrfForm;
use super::page::{Problem, account_page, csrf_field, problem, token_button_page};
use super::session::PreSession;
use super::{Web, web};
use crate::Gateway;

/// `GET /account/sign-up`.
pub async fn sign_up_page(State(gateway): State<Gateway>, pre: PreSession) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    pre.finish(web, sign_up_form(web, &pre.csrf, "", "", None))
}

fn sign_up_form(
    web: &Web,
    csrf: &str,
    email: &str,
    invitation: &str,
    problem: Option<&Problem>,
) -> Response {
    let invite = web.accounts.mode() == Mode::Invite;
    let body = html! {
        h1 { "Create an account" }
        @if web.accounts.mode() == Mode::Approval {
            p { "An administrator approves each new account before it can sign in." }
        }
        form method="post" action="/account/sign-up" {
            (csrf_field(csrf))
            label { "Email " input type="email" name="email" value=(email) required autocomplete="email"; }
            label {
                "Password (at least " (::accounts::MIN_LEN_WITHOUT_SECOND_FACTOR) " characters) "
                input type="password" name="password" required minlength=(::accounts::MIN_LEN_WITHOUT_SECOND_FACTOR) autocomplete="new-password";
            }
            @if invite {
                label { "Invitation code " input type="text" name="invitation" value=(invitation) required autocomplete="off"; }
            }
            button type="submit" { "Sign up" }
        }
        p { "Already have an account? " a href="/account/sign-in" { "Sign in" } }
    };
    account_page("Sign up", None, problem, body)
}

#[derive(Deserialize)]
pub struct SignUpForm {
    email: String,
    password: String,
    #[serde(default)]
    invitation: String,
}

/// `POST /account/sign-up`: mails the confirmation link (or, for an address with an
/// account, a notice to its owner); the same page either way.
pub async fn sign_up(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    pre: PreSession,
    CsrfForm(form): CsrfForm<SignUpForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let invitation = (!form.invitation.trim().is_empty())
        .then(|| Secret::new(form.invitation.trim().to_owned()));
    let request = SignUp {
        email: form.email.clone(),
        password: Secret::new(form.password),
        invitation,
    };
    match web.accounts.sign_up(request, &client).await {
        Ok(()) => check_your_mail(&pre.csrf, &form.email, None),
        Err(e) => sign_up_form(
            web,
            &pre.csrf,
            &form.email,
            &form.invitation,
            Some(&problem(&e)),
        ),
    }
}

fn check_your_mail(csrf: &str, email: &str, problem: Option<&Problem>) -> Response {
    let body = html! {
        h1 { "Check your mail" }
        p {
            "If " strong { (email) } " can be signed up here, a message with a confirmation \
             link is on its way to it. Open the link within 24 hours to create your account."
        }
        p { "Nothing after a few minutes? Look in the spam folder too, then ask for another link:" }
        form method="post" action="/account/sign-up/resend" {
            (csrf_field(csrf))
            input type="hidden" name="email" value=(email);
            button type="submit" { "Send the link again" }
        }
    };
    account_page("Check your mail", None, problem, body)
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
}

/// `POST /account/sign-up/resend`: a new confirmation link (5 mails per 30 minutes).
pub async fn resend(
    State(gateway): State<Gateway>,
    pre: PreSession,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let result = web.accounts.resend_confirmation(&form.email).await;
    check_your_mail(
        &pre.csrf,
        &form.email,
        result.err().map(|e| problem(&e)).as_ref(),
    )
}

/// `GET /account/confirm/{token}`: a button that confirms.
pub async fn confirm_page(
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
        "Confirm your address",
        ::accounts::CONFIRM_PATH,
        &token,
        "Confirm and create my account",
    )
}

/// `POST /account/confirm/{token}`: creates the account.
pub async fn confirm(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    match web
        .accounts
        .confirm_sign_up(&Secret::new(token), &client)
        .await
    {
        Ok(confirmed) => {
            let body = html! {
                h1 { "Your account is ready" }
                @if confirmed.status == UserStatus::PendingApproval {
                    p { "An administrator approves new accounts here; you can sign in once yours is approved." }
                } @else {
                    p { a href="/account/sign-in" { "Sign in" } }
                }
            };
            account_page("Account created", None, None, body)
        }
        Err(e) => {
            let body = html! {
                h1 { "Confirm your address" }
                p { a href="/account/sign-up" { "Sign up again" } " to get a new link." }
            };
            account_page("Confirm your address", None, Some(&problem(&e)), body)
        }
    }
}
