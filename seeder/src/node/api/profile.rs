//! Identity profiles: reading the display name, bio and avatar an identity signed (its
//! `profile` extension, see `node::extensions`), and setting an own identity's profile:
//! the operator's (keystore) identities, or, for a signed-in user who owns it, one the
//! gateway holds (its key unsealed for that one signature, as for a publish).
//!
//! A name is a claim: two identities may sign the same one. Whoever shows it shows the
//! identity id beside it (the gateway does).

use axum::http::StatusCode;
use feeds::extension::{Profile, read_profile};
use feeds::{IdentityKey, MutableItem};
use publisher::profile::{PROFILE, ProfileChange, set_profile};
use serde::{Deserialize, Serialize};

use super::authorize::{Authorized, Operation};
use super::publish_files::Signer;
use super::{Actor, NodeApi};
use crate::node::{extensions, own};
use http_server::{ApiError, ErrorCode};
use store::EntryPage;

/// How many of each feed's newest entries are searched for avatar images.
const AVATAR_ENTRIES_PER_FEED: u32 = 200;
/// Most avatar choices offered.
const MAX_AVATAR_CHOICES: usize = 200;

/// An image file of one of an identity's own entries, which its profile may name as its
/// avatar (`docs/feed-format.md`, "profile": a file of a torrent, by infohash and path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvatarChoice {
    /// As the profile names it: `INFOHASH` for a one-file torrent, else
    /// `INFOHASH/path/in/torrent`.
    pub avatar: String,
    /// The file's path inside its torrent (a one-file torrent: its name).
    pub path: String,
    /// The entry's title, if it has one.
    pub title: Option<String>,
}

/// Whether a file of this name is shown as an avatar: an image, SVG excepted (it can carry
/// script when opened on its own).
pub fn is_avatar_image(path: &str) -> bool {
    mime_guess::from_path(path)
        .first()
        .is_some_and(|kind| kind.type_() == mime_guess::mime::IMAGE && kind.subtype() != "svg")
}

/// `POST /profile` on the control socket: the identity (a keystore name; the default
/// identity when absent) and the change.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProfileRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(flatten)]
    pub change: ProfileChange,
}

/// A profile as signed, with the identity and the version.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProfileAnswer {
    pub identity: String,
    /// The signed item's seq (each change raises it).
    pub seq: i64,
    pub name: Option<String>,
    pub bio: Option<String>,
    /// `INFOHASH` or `INFOHASH/path/in/torrent`.
    pub avatar: Option<String>,
}

impl ProfileAnswer {
    pub fn new(identity: &IdentityKey, seq: i64, profile: &Profile) -> ProfileAnswer {
        ProfileAnswer {
            identity: identity.to_string(),
            seq,
            name: profile.name.clone(),
            bio: profile.bio.clone(),
            avatar: profile.avatar.as_ref().map(|(infohash, path)| {
                std::iter::once(infohash.to_string())
                    .chain(path.iter().cloned())
                    .collect::<Vec<_>>()
                    .join("/")
            }),
        }
    }
}

impl NodeApi {
    /// The newest stored item of `identity`'s extension `name`, or `not_found`.
    pub async fn identity_extension(
        &self,
        identity: &IdentityKey,
        name: &str,
    ) -> Result<MutableItem, ApiError> {
        self.node
            .store
            .extension(identity, name)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no extension {name:?} of {identity} here")))
    }

    /// The profile `identity` signed, as this node holds it (`None`: none held, or one
    /// this reader must skip).
    pub async fn profile(&self, identity: &IdentityKey) -> Result<Option<Profile>, ApiError> {
        let item = self
            .node
            .store
            .extension(identity, PROFILE)
            .await
            .map_err(ApiError::internal)?;
        // Checked when it was stored; a profile that no longer reads is shown as none.
        Ok(item.and_then(|item| read_profile(&item).ok().flatten()))
    }

    /// The name `identity` gives itself: its profile's, else its identity record's.
    pub async fn display_name(&self, identity: &IdentityKey) -> Result<Option<String>, ApiError> {
        if let Some(name) = self.profile(identity).await?.and_then(|p| p.name) {
            return Ok(Some(name));
        }
        Ok(self
            .node
            .store
            .identity_record(identity)
            .await
            .map_err(ApiError::internal)?
            .and_then(|record| record.record().name.clone()))
    }

    /// Signs a new version of an own identity's profile with that identity's key alone,
    /// names it from the identity record (re-signed at once if it did not), and hands both
    /// to the store and the DHT. A user names the identity by its id and must be its owner;
    /// the key is the one the gateway holds, and the avatar must be one of
    /// [`NodeApi::avatar_choices`]. `400 bad_profile` for a field the publisher refuses,
    /// `403 forbidden`, `404 unknown_identity`.
    pub async fn set_profile(
        &self,
        actor: &Actor,
        request: ProfileRequest,
    ) -> Result<ProfileAnswer, ApiError> {
        let (authorized, signer) = self
            .may_sign(actor, Operation::SetProfile, request.identity.as_deref())
            .await?;
        if let (Signer::Held(keypair), Some(avatar)) = (&signer, &request.change.avatar) {
            let own = self.avatar_choices(&keypair.public()).await?;
            if !own.iter().any(|choice| &choice.avatar == avatar) {
                return Err(ApiError::bad_request(
                    ErrorCode::BadProfile,
                    "profile avatar must be an image file of one of this identity's entries held here",
                ));
            }
        }
        sign_and_take_in(self, &authorized, signer, request).await
    }

    /// The image files of `identity`'s own entries held here (the newest entries of each
    /// feed, retracted ones left out), newest first: what its profile may name as avatar.
    pub async fn avatar_choices(
        &self,
        identity: &IdentityKey,
    ) -> Result<Vec<AvatarChoice>, ApiError> {
        let (data, id) = (self.node.data.clone(), *identity);
        let feeds = tokio::task::spawn_blocking(move || data.feeds_of(&id))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        let mut choices = Vec::new();
        for feed in feeds {
            let page = EntryPage::newest(AVATAR_ENTRIES_PER_FEED);
            for stored in self.entries(identity, &feed, page).await? {
                let entry = stored.entry.entry();
                let Some(content) = entry.content.as_ref().filter(|_| !stored.retracted) else {
                    continue;
                };
                let one_file =
                    matches!(content.files.as_slice(), [f] if f.path == [content.name.clone()]);
                for file in &content.files {
                    let path = file.path.join("/");
                    if !is_avatar_image(&path) {
                        continue;
                    }
                    let avatar = match one_file {
                        true => content.infohash.to_string(),
                        false => format!("{}/{path}", content.infohash),
                    };
                    if choices.len() == MAX_AVATAR_CHOICES {
                        return Ok(choices);
                    }
                    choices.push(AvatarChoice {
                        avatar,
                        path,
                        title: entry.meta.get("title").cloned(),
                    });
                }
            }
        }
        Ok(choices)
    }
}

async fn sign_and_take_in(
    api: &NodeApi,
    _: &Authorized,
    signer: Signer,
    request: ProfileRequest,
) -> Result<ProfileAnswer, ApiError> {
    let node = &api.node;
    let (data, url) = (node.data.clone(), node.public_url.clone());
    let signed = tokio::task::spawn_blocking(move || -> publisher::Result<_> {
        let keypair = match signer {
            Signer::Keystore(name) => data.keystore().resolve(name.as_deref())?.1,
            // Unsealed for this signature only: dropped with this task.
            Signer::Held(keypair) => keypair,
        };
        let signed = set_profile(&data, &keypair, &request.change, Some(&url))?;
        Ok((keypair, signed))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(profile_error)?;
    let (keypair, signed) = signed;
    let identity = keypair.public();
    own::sync_identity_record(node, &identity, Some(keypair))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::SyncFailed,
                e.to_string(),
            )
        })?;
    extensions::sync_own(node, &identity).await;
    Ok(ProfileAnswer::new(
        &identity,
        signed.item.seq(),
        &signed.profile,
    ))
}

fn profile_error(e: publisher::Error) -> ApiError {
    use data_dir::Error as D;
    use publisher::Error as E;
    let (status, name) = match &e {
        E::DataDir(D::UnknownIdentity(_) | D::NoDefaultIdentity) => {
            (StatusCode::NOT_FOUND, ErrorCode::UnknownIdentity)
        }
        // A field refused, or a profile the format cannot hold (over 1000 bytes signed).
        E::BadProfile { .. } | E::Feeds(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadProfile),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
    };
    ApiError::new(status, name, e.to_string())
}
