//! Two-factor authentication: enrolment (the QR code as inline SVG rendered on the server,
//! the base32 secret for typing, confirmed by a first code), the recovery codes shown once
//! and regenerated with a valid code, and turning it off with the password and a code. The
//! session gets a new token after each change.

use axum::extract::State;
use axum::response::Response;
use maud::{PreEscaped, html};
use serde::Deserialize;

use ::accounts::Secret;

use super::client::ClientInfo;
use super::csrf::CsrfForm;
use super::page::{Problem, account_page, csrf_field, problem};
use super::session::SignedIn;
use super::settings::password_field;
use super::{Web, web};
use crate::Gateway;

/// `GET /account/two-factor`.
pub async fn page(State(gateway): State<Gateway>, user: SignedIn) -> Response {
    render(&gateway, &user, None).await
}

async fn render(gateway: &Gateway, user: &SignedIn, problem: Option<&Problem>) -> Response {
    let Ok(web) = web(gateway) else {
        return super::off_page();
    };
    let id = user.user.user;
    let (account, left) = match (
        web.accounts.user(id).await,
        web.accounts.recovery_codes_left(id).await,
    ) {
        (Ok(a), Ok(l)) => (a, l),
        (Err(e), _) | (_, Err(e)) => {
            return account_page(
                "Two-factor authentication",
                Some(user),
                Some(&super::problem(&e)),
                html! {},
            );
        }
    };
    let csrf = &user.csrf;
    let body = html! {
        h1 { "Two-factor authentication" }
        @if account.totp_enabled {
            p { "On: signing in asks for a code from your authenticator app, or a recovery code." }
            p { (left) " recovery codes left." }
            h2 { "New recovery codes" }
            form method="post" action="/account/recovery-codes" {
                (csrf_field(csrf))
                label { "A current code " input type="text" name="code" required autocomplete="one-time-code"; }
                button type="submit" { "Replace my recovery codes" }
            }
            h2 { "Turn it off" }
            form method="post" action="/account/two-factor/disable" {
                (csrf_field(csrf))
                (password_field("Password", "password", "current-password"))
                label { "A current code " input type="text" name="code" required autocomplete="one-time-code"; }
                button type="submit" { "Turn two-factor authentication off" }
            }
        } @else {
            p { "Off. With it on, signing in also asks for a 6-digit code from an authenticator app on your phone." }
            form method="post" action="/account/two-factor/begin" {
                (csrf_field(csrf))
                button type="submit" { "Set it up" }
            }
        }
        p { a href="/account" { "Back to your account" } }
    };
    account_page("Two-factor authentication", Some(user), problem, body)
}

/// `POST /account/two-factor/begin`: a new secret, shown once as a QR code and as text.
pub async fn begin(
    State(gateway): State<Gateway>,
    user: SignedIn,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let enrolment = match web.accounts.begin_totp(&user.user).await {
        Ok(enrolment) => enrolment,
        Err(e) => return render(&gateway, &user, Some(&problem(&e))).await,
    };
    // The renderer writes an XML declaration first, which HTML does not take.
    let svg = enrolment
        .qr_svg
        .find("<svg")
        .map_or("", |start| &enrolment.qr_svg[start..]);
    let body = html! {
        h1 { "Set up two-factor authentication" }
        p { "Scan this code with an authenticator app, or type the secret below into it." }
        figure { (PreEscaped(svg)) }
        p { "Secret: " code { (enrolment.secret_base32.expose()) } }
        (confirm_form(&user.csrf))
    };
    account_page("Set up two-factor authentication", Some(&user), None, body)
}

fn confirm_form(csrf: &str) -> maud::Markup {
    html! {
        form method="post" action="/account/two-factor/confirm" {
            (csrf_field(csrf))
            label { "The code the app shows " input type="text" name="code" required autocomplete="one-time-code" inputmode="numeric"; }
            button type="submit" { "Turn it on" }
        }
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

/// `POST /account/two-factor/confirm`: on with a first code; the recovery codes, once.
pub async fn confirm(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    user: SignedIn,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    match web
        .accounts
        .confirm_totp(&user.user, &Secret::new(form.code), &client)
        .await
    {
        Ok(codes) => show_codes(web, &user, &codes, "Two-factor authentication is on").await,
        Err(e) => {
            let body = html! {
                h1 { "Set up two-factor authentication" }
                (confirm_form(&user.csrf))
                p { a href="/account/two-factor" { "Start again with a new secret" } }
            };
            account_page(
                "Set up two-factor authentication",
                Some(&user),
                Some(&problem(&e)),
                body,
            )
        }
    }
}

/// `POST /account/recovery-codes`: ten new codes (the old ones stop working).
pub async fn regenerate(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    user: SignedIn,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    match web
        .accounts
        .regenerate_recovery_codes(&user.user, &Secret::new(form.code), &client)
        .await
    {
        Ok(codes) => show_codes(web, &user, &codes, "New recovery codes").await,
        Err(e) => render(&gateway, &user, Some(&problem(&e))).await,
    }
}

/// The recovery codes, shown this once, on a session with a new token.
async fn show_codes(web: &Web, user: &SignedIn, codes: &[Secret], title: &str) -> Response {
    let new = match web.accounts.rotate_session(&user.token).await {
        Ok(new) => new,
        Err(e) => return account_page(title, None, Some(&problem(&e)), html! {}),
    };
    let csrf = match web.accounts.csrf_token(&new.token) {
        Ok(csrf) => csrf,
        Err(e) => return account_page(title, None, Some(&problem(&e)), html! {}),
    };
    let shown = SignedIn {
        user: user.user.clone(),
        token: new.token.clone(),
        csrf,
    };
    let body = html! {
        h1 { (title) }
        p { "Your recovery codes. Each works once, in place of a code from the app. Keep them somewhere safe: they are shown only now." }
        ol.codes { @for code in codes { li { code { (code.expose()) } } } }
        p { a href="/account" { "Done" } }
    };
    let mut response = account_page(title, Some(&shown), None, body);
    web.cookies.set_session(
        &mut response,
        &new.token,
        new.expires_at - super::unix_now(),
    );
    response
}

#[derive(Deserialize)]
pub struct DisableForm {
    password: String,
    code: String,
}

/// `POST /account/two-factor/disable`.
pub async fn disable(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    user: SignedIn,
    CsrfForm(form): CsrfForm<DisableForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let (password, code) = (Secret::new(form.password), Secret::new(form.code));
    match web
        .accounts
        .disable_totp(&user.user, &password, &code, &client)
        .await
    {
        Ok(()) => super::rotated(web, &user, "/account?done=totp-off").await,
        Err(e) => render(&gateway, &user, Some(&problem(&e))).await,
    }
}
