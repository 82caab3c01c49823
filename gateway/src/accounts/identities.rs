//! `/account/identities`: the identities the gateway holds for the signed-in user (list,
//! create), one identity's members with their roles (invite by email, change a role,
//! remove, leave; the last owner cannot leave), and the invitation page
//! `/identities/join/{token}`. Every change is a node API call with the user as actor
//! (`NodeApi::create_identity`, `invite_member`, …), decided where every state change is.
//! Owners also set the identity's public profile there (`NodeApi::set_profile`): display
//! name, bio, and an avatar chosen among the image files of its own entries.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use feeds::IdentityKey;
use http_server::ApiError;
use maud::{Markup, html};
use publisher::profile::ProfileChange;
use seeder::node::api::{Actor, ProfileAnswer, ProfileRequest};
use serde::Deserialize;

use ::accounts::{Role, Secret, UserId};

use super::csrf::CsrfForm;
use super::page::{Problem, account_page, csrf_field};
use super::session::{SignedIn, see_other};
use super::web;
use crate::Gateway;

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct Empty {}

#[derive(Deserialize)]
pub struct Invite {
    email: String,
    role: String,
}

#[derive(Deserialize)]
pub struct SetRole {
    member: i64,
    role: String,
}

#[derive(Deserialize)]
pub struct Remove {
    member: i64,
}

/// The profile form: every field as it should be signed (an empty one is cleared).
#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    bio: String,
    /// One of the identity's avatar choices, or empty for none.
    #[serde(default)]
    avatar: String,
}

impl ProfileForm {
    fn change(self) -> ProfileChange {
        // Browsers send a textarea's line breaks as CRLF; a bio holds LF only.
        let bio = self.bio.replace("\r\n", "\n");
        ProfileChange {
            clear_name: self.name.trim().is_empty(),
            name: Some(self.name).filter(|n| !n.trim().is_empty()),
            clear_bio: bio.is_empty(),
            bio: Some(bio).filter(|b| !b.is_empty()),
            clear_avatar: self.avatar.is_empty(),
            avatar: Some(self.avatar).filter(|a| !a.is_empty()),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// The signed-in user as the node API's actor.
pub(super) fn actor(user: &SignedIn) -> Actor {
    Actor::User {
        user: user.user.user,
    }
}

fn role_of(name: &str) -> Role {
    if name == "owner" {
        Role::Owner
    } else {
        Role::Publisher
    }
}

/// `GET /account/identities`.
pub async fn list_page(State(gateway): State<Gateway>, user: SignedIn) -> Response {
    list(&gateway, &user, None).await
}

async fn list(gateway: &Gateway, user: &SignedIn, problem: Option<&Problem>) -> Response {
    let Ok(web) = web(gateway) else {
        return super::off_page();
    };
    let held = web
        .accounts
        .identities_of(user.user.user)
        .await
        .unwrap_or_default();
    let body = html! {
        h1 { "Your identities" }
        p { "An identity signs what is published. The gateway keeps the key of these identities for their members, so it can sign as them." }
        @if held.is_empty() {
            p { "You are a member of no identity yet." }
        } @else {
            ul {
                @for (id, role) in &held {
                    li { a href={ "/account/identities/" (id) } { (id) } " (" (role.as_str()) ")" }
                }
            }
            p { a href="/account/upload" { "Publish files" } }
        }
        form method="post" action="/account/identities" {
            (csrf_field(&user.csrf))
            button type="submit" { "Create an identity" }
        }
    };
    account_page("Your identities", Some(user), problem, body)
}

/// `POST /account/identities`: a new identity, the user its owner.
pub async fn create(
    State(gateway): State<Gateway>,
    user: SignedIn,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    match gateway.node.create_identity(&actor(&user)).await {
        Ok(identity) => see_other(&format!("/account/identities/{identity}")),
        Err(e) => list(&gateway, &user, Some(&Problem::of_api(&e))).await,
    }
}

/// `GET /account/identities/{identity}`.
pub async fn identity_page(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Path(identity): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let notice = match done.done.as_str() {
        "invited" => Some("The invitation is on its way."),
        "changed" => Some("Done."),
        "profile" => Some("The profile is signed and on its way to the network."),
        _ => None,
    };
    detail(&gateway, &user, &identity, notice, None).await
}

async fn detail(
    gateway: &Gateway,
    user: &SignedIn,
    identity: &str,
    notice: Option<&str>,
    problem: Option<&Problem>,
) -> Response {
    let Ok(web) = web(gateway) else {
        return super::off_page();
    };
    let members = match web.accounts.members(user.user.user, identity).await {
        Ok(members) => members,
        Err(e) => {
            // A refused change by a non-member says why it was refused, not why the page
            // it came from cannot be shown.
            let own = super::page::problem(&e);
            return account_page("Identity", Some(user), problem.or(Some(&own)), html! {});
        }
    };
    let owner = members
        .iter()
        .any(|m| m.user == user.user.user && m.role == Role::Owner);
    let base = format!("/account/identities/{identity}");
    let body = html! {
        h1 { "Identity " code { (identity) } }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        p { a href={ "/" (identity) } { "Its public page" } " · " a href="/account/upload" { "Publish files" } }
        h2 { "Members" }
        table {
            thead { tr { th { "Address" } th { "Role" } @if owner { th { "Change" } } } }
            tbody {
                @for m in &members {
                    tr {
                        td { (m.email) }
                        td { (m.role.as_str()) }
                        @if owner {
                            td {
                                form.inline method="post" action={ (base) "/role" } {
                                    (csrf_field(&user.csrf))
                                    input type="hidden" name="member" value=(m.user.0);
                                    input type="hidden" name="role" value=(if m.role == Role::Owner { "publisher" } else { "owner" });
                                    button type="submit" { @if m.role == Role::Owner { "Make publisher" } @else { "Make owner" } }
                                }
                                " "
                                @if m.user != user.user.user {
                                    form.inline method="post" action={ (base) "/remove" } {
                                        (csrf_field(&user.csrf))
                                        input type="hidden" name="member" value=(m.user.0);
                                        button type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if owner {
            h2 { "Invite someone" }
            form method="post" action={ (base) "/invite" } {
                (csrf_field(&user.csrf))
                p { label for="email" { "Email address" } " " input id="email" type="email" name="email" required; }
                p {
                    label for="role" { "Role" } " "
                    select id="role" name="role" {
                        option value="publisher" { "publisher (publishes)" }
                        option value="owner" { "owner (publishes, manages members)" }
                    }
                }
                p { button type="submit" { "Send the invitation" } }
            }
        }
        (profile_section(gateway, user, identity, owner).await)
        h2 { "Leave" }
        form method="post" action={ (base) "/leave" } {
            (csrf_field(&user.csrf))
            button type="submit" { "Leave this identity" }
        }
    };
    account_page("Identity", Some(user), problem, body)
}

/// The public profile: the form for owners, what is signed now for the other members.
async fn profile_section(
    gateway: &Gateway,
    user: &SignedIn,
    identity: &str,
    owner: bool,
) -> Markup {
    let Ok(key) = identity.parse::<IdentityKey>() else {
        return html! {};
    };
    let current = match gateway.node.profile(&key).await {
        Ok(profile) => ProfileAnswer::new(&key, 0, &profile.unwrap_or_default()),
        Err(e) => {
            tracing::warn!(%key, "cannot read the profile: {}", e.message());
            ProfileAnswer::default()
        }
    };
    let choices = match owner {
        true => gateway.node.avatar_choices(&key).await.unwrap_or_default(),
        false => Vec::new(),
    };
    let avatar = current.avatar.clone().unwrap_or_default();
    html! {
        h2 { "Public profile" }
        p { "Signed by the identity, so every gateway shows the same name beside its id. Anyone may claim the same name: the id is what the signatures prove." }
        @if owner {
            form method="post" action={ "/account/identities/" (identity) "/profile" } {
                (csrf_field(&user.csrf))
                p {
                    label for="profile-name" { "Display name" } " "
                    input id="profile-name" type="text" name="name" value=(current.name.as_deref().unwrap_or_default());
                    " (at most 64 bytes; empty: none)"
                }
                p {
                    label for="profile-bio" { "Bio" } br;
                    textarea id="profile-bio" name="bio" rows="4" cols="60" { (current.bio.as_deref().unwrap_or_default()) }
                }
                p {
                    label for="profile-avatar" { "Avatar" } " "
                    select id="profile-avatar" name="avatar" {
                        option value="" selected[avatar.is_empty()] { "none" }
                        @for choice in &choices {
                            option value=(choice.avatar) selected[choice.avatar == avatar] {
                                (choice.path)
                                @if let Some(title) = &choice.title { " — " (title) }
                            }
                        }
                    }
                }
                @if choices.is_empty() {
                    p { "An avatar is an image file of one of this identity's entries: publish one first." }
                }
                p { button type="submit" { "Sign and publish the profile" } }
            }
        } @else {
            p {
                "Display name: "
                @match &current.name { Some(name) => bdi { (name) }, None => "none" }
                ". Only owners change the profile."
            }
        }
    }
}

/// The identity page again after a change: `303` with a notice, or the page with the error.
async fn after(
    gateway: &Gateway,
    user: &SignedIn,
    identity: &str,
    result: Result<(), ApiError>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => see_other(&format!("/account/identities/{identity}?done={done}")),
        Err(e) => detail(gateway, user, identity, None, Some(&Problem::of_api(&e))).await,
    }
}

/// `POST /account/identities/{identity}/invite`.
pub async fn invite(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Path(identity): Path<String>,
    CsrfForm(form): CsrfForm<Invite>,
) -> Response {
    let result = gateway
        .node
        .invite_member(&actor(&user), &identity, &form.email, role_of(&form.role))
        .await;
    after(&gateway, &user, &identity, result, "invited").await
}

/// `POST /account/identities/{identity}/role`.
pub async fn set_role(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Path(identity): Path<String>,
    CsrfForm(form): CsrfForm<SetRole>,
) -> Response {
    let result = gateway
        .node
        .set_member_role(
            &actor(&user),
            &identity,
            UserId(form.member),
            role_of(&form.role),
        )
        .await;
    after(&gateway, &user, &identity, result, "changed").await
}

/// `POST /account/identities/{identity}/remove`.
pub async fn remove(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Path(identity): Path<String>,
    CsrfForm(form): CsrfForm<Remove>,
) -> Response {
    let result = gateway
        .node
        .remove_member(&actor(&user), &identity, UserId(form.member))
        .await;
    after(&gateway, &user, &identity, result, "changed").await
}

/// `POST /account/identities/{identity}/profile`: signs the next version of the profile.
pub async fn profile(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Path(identity): Path<String>,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> Response {
    let request = ProfileRequest {
        identity: Some(identity.clone()),
        change: form.change(),
    };
    let result = gateway
        .node
        .set_profile(&actor(&user), request)
        .await
        .map(|_| ());
    after(&gateway, &user, &identity, result, "profile").await
}

/// `POST /account/identities/{identity}/leave`.
pub async fn leave(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Path(identity): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    match gateway.node.leave_identity(&actor(&user), &identity).await {
        Ok(()) => see_other("/account/identities"),
        Err(e) => detail(&gateway, &user, &identity, None, Some(&Problem::of_api(&e))).await,
    }
}

/// `GET /identities/join/{token}`: a button, so a link scanner spends nothing.
pub async fn join_page(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Path(token): Path<String>,
) -> Response {
    if web(&gateway).is_err() {
        return super::off_page();
    }
    let action = format!("{}{token}", ::accounts::MEMBER_INVITE_PATH);
    let body = html! {
        h1 { "Join an identity" }
        p { "You were invited to publish as an identity this gateway holds." }
        form method="post" action=(action) {
            (csrf_field(&user.csrf))
            button type="submit" { "Accept the invitation" }
        }
    };
    account_page("Join an identity", Some(&user), None, body)
}

/// `POST /identities/join/{token}`.
pub async fn join(
    State(gateway): State<Gateway>,
    user: SignedIn,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    match gateway
        .node
        .join_identity(&actor(&user), &Secret::new(token))
        .await
    {
        Ok((identity, _)) => see_other(&format!("/account/identities/{identity}")),
        Err(e) => account_page(
            "Join an identity",
            Some(&user),
            Some(&Problem::of_api(&e)),
            html! { p { a href="/account/identities" { "Your identities" } } },
        ),
    }
}
