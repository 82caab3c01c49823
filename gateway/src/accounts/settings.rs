//! `/account`: the signed-in user's address, password, sessions and security log, each
//! change a form of its own; the address change confirmed from the new address.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use ::accounts::Secret;

use super::client::ClientInfo;
use super::csrf::CsrfForm;
use super::page::{Problem, account_page, csrf_field, problem, token_button_page};
use super::session::{PreSession, SignedIn, see_other};
use super::web;
use crate::Gateway;
use crate::pages::layout::time;

/// Security events listed on the account page.
const AUDIT_SHOWN: u32 = 50;

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// What a finished change says on the page it returns to (fixed texts: the query only picks
/// one).
fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "password" => "Your password was changed; your other sessions ended.",
        "email" => {
            "A confirmation link is on its way to the new address (look in the spam folder too); your current address got a notice."
        }
        "session" => "The session ended.",
        "totp-off" => "Two-factor authentication is off.",
        _ => return None,
    })
}

/// `GET /account`.
pub async fn overview(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Query(done): Query<Done>,
) -> Response {
    render(&gateway, &user, notice(&done.done), None).await
}

/// The account page, with a notice or a problem of the form just posted.
async fn render(
    gateway: &Gateway,
    user: &SignedIn,
    notice: Option<&str>,
    problem: Option<&Problem>,
) -> Response {
    let Ok(web) = web(gateway) else {
        return super::off_page();
    };
    let accounts = &web.accounts;
    let id = user.user.user;
    let (account, sessions, audit) = match (
        accounts.user(id).await,
        accounts.sessions(id).await,
        accounts.audit_log(id, AUDIT_SHOWN).await,
    ) {
        (Ok(a), Ok(s), Ok(l)) => (a, s, l),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return account_page("Account", Some(user), Some(&super::problem(&e)), html! {});
        }
    };
    let csrf = &user.csrf;
    let body = html! {
        h1 { "Your account" }
        @if let Some(notice) = notice { p role="status" { (notice) } }
        p { "Signed in as " strong { (account.email) } ". Account created " (time(account.created_at.max(0) as u64)) "." }
        h2 { "Two-factor authentication" }
        p {
            @if account.totp_enabled { "On (an authenticator app). " } @else { "Off. " }
            a href="/account/two-factor" { @if account.totp_enabled { "Recovery codes, turn off" } @else { "Set it up" } }
        }
        h2 { "Email address" }
        form method="post" action="/account/email" {
            (csrf_field(csrf))
            label { "New address " input type="email" name="email" required autocomplete="email"; }
            (password_field("Current password", "password", "current-password"))
            button type="submit" { "Change the address" }
        }
        h2 { "Password" }
        form method="post" action="/account/password" {
            (csrf_field(csrf))
            (password_field("Current password", "current", "current-password"))
            (password_field("New password", "new", "new-password"))
            button type="submit" { "Change the password" }
        }
        h2 { "Sessions" }
        table {
            thead { tr { th { "Signed in" } th { "Last used" } th { "Network" } th { "Browser" } th {} } }
            tbody {
                @for s in &sessions {
                    tr {
                        td { (time(s.created_at.max(0) as u64)) }
                        td { (time(s.last_seen_at.max(0) as u64)) }
                        td { (s.ip) }
                        td { (s.user_agent) }
                        td {
                            @if s.id == user.user.session { "this one" } @else {
                                form.inline method="post" action="/account/sessions/end" {
                                    (csrf_field(csrf))
                                    input type="hidden" name="session" value=(s.id);
                                    button type="submit" { "End" }
                                }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action="/account/sessions/end-all" {
            (csrf_field(csrf))
            button type="submit" { "Sign out everywhere" }
        }
        h2 { "Security log" }
        table {
            thead { tr { th { "When" } th { "What" } th { "Network" } th { "Detail" } } }
            tbody {
                @for e in &audit {
                    tr { td { (time(e.at.max(0) as u64)) } td { (e.event) } td { (e.ip) } td { (e.detail) } }
                }
            }
        }
        h2 { "Delete the account" }
        p { a href="/account/delete" { "Delete my account…" } }
    };
    account_page("Account", Some(user), problem, body)
}

pub fn password_field(label: &str, name: &str, autocomplete: &str) -> Markup {
    html! { label { (label) " " input type="password" name=(name) required autocomplete=(autocomplete); } }
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
    password: String,
}

/// `POST /account/email`: mails a link to the new address and a notice to the old one.
pub async fn change_email(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    user: SignedIn,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let password = Secret::new(form.password);
    match web
        .accounts
        .request_email_change(&user.user, &password, &form.email, &client)
        .await
    {
        Ok(()) => see_other("/account?done=email"),
        Err(e) => render(&gateway, &user, None, Some(&problem(&e))).await,
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

/// `POST /account/password`: every other session ends, and this one gets a new token.
pub async fn change_password(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    user: SignedIn,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let (current, new) = (Secret::new(form.current), Secret::new(form.new));
    if let Err(e) = web
        .accounts
        .change_password(&user.user, &current, &new, &client)
        .await
    {
        return render(&gateway, &user, None, Some(&problem(&e))).await;
    }
    super::rotated(web, &user, "/account?done=password").await
}

#[derive(Deserialize)]
pub struct SessionForm {
    session: i64,
}

/// `POST /account/sessions/end`: ends one of the user's sessions.
pub async fn end_session(
    State(gateway): State<Gateway>,
    user: SignedIn,
    CsrfForm(form): CsrfForm<SessionForm>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    match web.accounts.end_session(user.user.user, form.session).await {
        Ok(()) if form.session == user.user.session => {
            let mut response = see_other("/");
            web.cookies.clear_session(&mut response);
            response
        }
        Ok(()) => see_other("/account?done=session"),
        Err(e) => render(&gateway, &user, None, Some(&problem(&e))).await,
    }
}

/// `POST /account/sessions/end-all`: signs out everywhere, this browser included.
pub async fn end_all(
    State(gateway): State<Gateway>,
    ClientInfo(client): ClientInfo,
    user: SignedIn,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    match web
        .accounts
        .sign_out_everywhere(user.user.user, &client)
        .await
    {
        Ok(()) => {
            let mut response = see_other("/account/sign-in");
            web.cookies.clear_session(&mut response);
            response
        }
        Err(e) => render(&gateway, &user, None, Some(&problem(&e))).await,
    }
}

/// `GET /account/email/{token}`: a button that confirms the new address.
pub async fn email_landing(
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
        "Confirm your new address",
        ::accounts::EMAIL_CHANGE_PATH,
        &token,
        "Confirm the new address",
    )
}

/// `POST /account/email/{token}`: the address changes.
pub async fn confirm_email(
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
        .confirm_email_change(&Secret::new(token), &client)
        .await
    {
        Ok(changed) => {
            let body = html! {
                h1 { "Address changed" }
                p { "Your account's address is now " strong { (changed.email) } "." }
                p { a href="/account" { "Your account" } }
            };
            account_page("Address changed", None, None, body)
        }
        Err(e) => account_page(
            "Confirm your new address",
            None,
            Some(&problem(&e)),
            html! { h1 { "Confirm your new address" } },
        ),
    }
}

/// `GET /account/delete`: what deleting drops, and the form.
pub async fn delete_page(State(gateway): State<Gateway>, user: SignedIn) -> Response {
    delete_form(&gateway, &user, None).await
}

async fn delete_form(gateway: &Gateway, user: &SignedIn, problem: Option<&Problem>) -> Response {
    let Ok(web) = web(gateway) else {
        return super::off_page();
    };
    let sole = match web.accounts.solely_owned_identities(user.user.user).await {
        Ok(sole) => sole,
        Err(e) => return account_page("Delete", Some(user), Some(&super::problem(&e)), html! {}),
    };
    let body = html! {
        h1 { "Delete your account" }
        p { "Your sessions, codes and memberships go with it. This cannot be undone." }
        @if !sole.is_empty() {
            p { "You alone own these identities. Tick each one to confirm what deleting your account does to it:" }
            ul {
                li { "The key this gateway keeps for it is destroyed: nobody can sign as this identity again (no new entry, no retraction, no profile change), and it cannot be recovered or moved, since the gateway never hands keys out. Its other members lose it too." }
                li { "What it already signed cannot be unsaid: this gateway keeps serving and seeding its feeds as they stand, like any feed it holds, and so do the nodes that follow them." }
            }
            p { "To keep publishing as it, make another member an owner first." }
        }
        form method="post" action="/account/delete" {
            (csrf_field(&user.csrf))
            @for id in &sole {
                label { input type="checkbox" name="drop" value=(id); " " span.id { (id) } }
            }
            (password_field("Password", "password", "current-password"))
            button type="submit" { "Delete my account" }
        }
    };
    account_page("Delete your account", Some(user), problem, body)
}

/// `POST /account/delete` (fields `password`, and `drop` once per identity to drop).
pub async fn delete(
    State(gateway): State<Gateway>,
    user: SignedIn,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let Ok(web) = web(&gateway) else {
        return super::off_page();
    };
    let mut password = Secret::new("");
    let mut drop = Vec::new();
    for (name, value) in fields {
        match name.as_str() {
            "password" => password = Secret::new(value),
            "drop" => drop.push(value),
            _ => {}
        }
    }
    let actor = super::identities::actor(&user);
    match gateway
        .node
        .delete_account(&actor, &user.user, &password, &drop)
        .await
    {
        Ok(()) => {
            let mut response = account_page(
                "Account deleted",
                None,
                None,
                html! {
                    h1 { "Your account is deleted" }
                    @if !drop.is_empty() {
                        p { "The keys of the identities you alone owned are destroyed; their feeds stay as they were signed." }
                    }
                    p { a href="/" { "Home" } }
                },
            );
            web.cookies.clear_session(&mut response);
            response
        }
        Err(e) => delete_form(&gateway, &user, Some(&Problem::of_api(&e))).await,
    }
}
