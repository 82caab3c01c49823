//! `/account/upload`: a signed-in user publishes files to an identity the gateway holds for
//! it. A plain `multipart/form-data` form (several files, no JavaScript: the browser shows
//! its own progress). The text fields come before the files in the form, so the CSRF token
//! and the identity are checked before a byte of a file is read; then the files stream
//! through `NodeApi::upload` (the node decides, charges the quota, writes and publishes).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use http_server::{ApiError, ErrorCode};
use maud::html;
use seeder::node::api::{Actor, UploadParts, UploadRequest};

use ::accounts::Role;

use super::csrf::{check_origin, check_token};
use super::page::{Problem, account_page, csrf_field};
use super::session::{SignedIn, see_other};
use super::web;
use crate::Gateway;

/// Largest text field of the form (title, description, …).
const FIELD_LIMIT: usize = 8 << 10;

/// `GET /account/upload`: the form.
pub async fn upload_page(State(gateway): State<Gateway>, user: SignedIn) -> Response {
    form(&gateway, &user, None).await
}

async fn form(gateway: &Gateway, user: &SignedIn, problem: Option<&Problem>) -> Response {
    let Ok(web) = web(gateway) else {
        return super::off_page();
    };
    let identities: Vec<String> = web
        .accounts
        .identities_of(user.user.user)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, role)| *role >= Role::Publisher)
        .map(|(id, _)| id)
        .collect();
    let limit = feeds::size::format_size(web.accounts.max_upload_bytes());
    let body = html! {
        h1 { "Publish files" }
        @if identities.is_empty() {
            p { "You are not a publisher of any identity this gateway holds. An owner can invite you." }
        } @else {
            form method="post" action="/account/upload" enctype="multipart/form-data" {
                (csrf_field(&user.csrf))
                p {
                    label for="identity" { "Identity" } " "
                    select id="identity" name="identity" {
                        @for id in &identities { option value=(id) { (id) } }
                    }
                }
                p { label for="feed" { "Feed" } " " input id="feed" name="feed" value="main" required; }
                p { label for="title" { "Title" } " " input id="title" name="title" maxlength="300"; }
                p { label for="description" { "Description" } br; textarea id="description" name="description" rows="4" cols="60" {} }
                p { label for="files" { "Files" } " " input id="files" type="file" name="files" multiple required; }
                p { "At most " (limit) " in all, within your upload quota." }
                p { button type="submit" { "Publish" } }
            }
        }
    };
    account_page("Publish files", Some(user), problem, body)
}

/// `POST /account/upload`.
pub async fn upload(
    State(gateway): State<Gateway>,
    user: SignedIn,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive(&gateway, &user, &headers, body).await {
        Ok(location) => see_other(&location),
        Err(error) => {
            let problem = Problem {
                status: error.status(),
                name: "upload",
                message: error.message().to_owned(),
                retry_after: None,
            };
            form(&gateway, &user, Some(&problem)).await
        }
    }
}

/// Reads the form and publishes; the entry's page on success.
async fn receive(
    gateway: &Gateway,
    user: &SignedIn,
    headers: &HeaderMap,
    body: Body,
) -> Result<String, ApiError> {
    let web = web(gateway)?;
    check_origin(web, headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::LENGTH_REQUIRED,
                ErrorCode::BadBody,
                "an upload needs a Content-Length",
            )
        })?;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| ApiError::bad_request(ErrorCode::BadBody, "not a multipart form"))?;
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut text = Text::default();
    let first_file = loop {
        let Some(field) = multipart.next_field().await.map_err(bad_form)? else {
            break None;
        };
        if field.file_name().is_some() {
            break Some(field);
        }
        let name = field.name().unwrap_or_default().to_owned();
        let value = read_text(field).await?;
        text.set(&name, value);
    };
    check_token(web, headers, &text.csrf)?;
    let request = UploadRequest {
        identity: text.identity,
        feed: text.feed,
        title: Some(text.title).filter(|t| !t.trim().is_empty()),
        description: Some(text.description).filter(|d| !d.trim().is_empty()),
        declared_bytes: declared,
    };
    let mut parts = FormFiles {
        multipart,
        next: first_file,
        current: None,
    };
    let actor = Actor::User {
        user: user.user.user,
    };
    let answer = gateway.node.upload(&actor, request, &mut parts).await?;
    let p = &answer.published;
    Ok(format!("/{}/{}/{}", p.identity, p.feed, p.seq))
}

#[derive(Default)]
struct Text {
    csrf: String,
    identity: String,
    feed: String,
    title: String,
    description: String,
}

impl Text {
    fn set(&mut self, name: &str, value: String) {
        match name {
            "csrf" => self.csrf = value,
            "identity" => self.identity = value,
            "feed" => self.feed = value,
            "title" => self.title = value,
            "description" => self.description = value,
            _ => {}
        }
    }
}

async fn read_text(mut field: multer::Field<'static>) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > FIELD_LIMIT {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TooLarge,
                "a text field of the form is too long",
            ));
        }
    }
    String::from_utf8(bytes).map_err(|_| ApiError::bad_request(ErrorCode::BadBody, "not UTF-8"))
}

fn bad_form(e: multer::Error) -> ApiError {
    ApiError::bad_request(ErrorCode::BadBody, format!("the form is malformed: {e}"))
}

/// The form's files, one after another, as the node reads them.
struct FormFiles {
    multipart: multer::Multipart<'static>,
    next: Option<multer::Field<'static>>,
    current: Option<multer::Field<'static>>,
}

impl UploadParts for FormFiles {
    async fn next_file(&mut self) -> Result<Option<String>, ApiError> {
        // The previous file is done with before multer moves on.
        self.current = None;
        loop {
            let field = match self.next.take() {
                Some(field) => field,
                None => match self.multipart.next_field().await.map_err(bad_form)? {
                    Some(field) => field,
                    None => return Ok(None),
                },
            };
            match field.file_name() {
                // A file input left empty sends a part with an empty name and no bytes.
                Some("") => continue,
                Some(name) => {
                    let name = name.to_owned();
                    self.current = Some(field);
                    return Ok(Some(name));
                }
                // Text after the files is ignored.
                None => continue,
            }
        }
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        match &mut self.current {
            Some(field) => field.chunk().await.map_err(bad_form),
            None => Ok(None),
        }
    }
}
