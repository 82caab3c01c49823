//! Identity profiles: reading the display name, bio and avatar an identity signed (its
//! `profile` extension, see `node::extensions`), and setting an own identity's profile.
//!
//! A name is a claim: two identities may sign the same one. Whoever shows it shows the
//! identity id beside it (the gateway does).

use axum::http::StatusCode;
use feeds::extension::{Profile, read_profile};
use feeds::{IdentityKey, MutableItem};
use publisher::profile::{PROFILE, ProfileChange, set_profile};
use serde::{Deserialize, Serialize};

use super::authorize::{Authorized, Operation};
use super::{Actor, NodeApi};
use crate::node::{extensions, own};
use http_server::{ApiError, ErrorCode};

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
    /// names it from the identity record (re-signed if it did not), and hands both to the
    /// store and the DHT. `400 bad_request` for a field the publisher refuses,
    /// `404 unknown_identity`.
    pub async fn set_profile(
        &self,
        actor: &Actor,
        request: ProfileRequest,
    ) -> Result<ProfileAnswer, ApiError> {
        let authorized = self.authorize(actor, Operation::SetProfile)?;
        sign_and_take_in(self, &authorized, request).await
    }
}

async fn sign_and_take_in(
    api: &NodeApi,
    _: &Authorized,
    request: ProfileRequest,
) -> Result<ProfileAnswer, ApiError> {
    let node = &api.node;
    let (data, url) = (node.data.clone(), node.public_url.clone());
    let signed = tokio::task::spawn_blocking(move || -> publisher::Result<_> {
        let (_, keypair) = data.keystore().resolve(request.identity.as_deref())?;
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
        E::BadProfile { .. } | E::Feeds(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
    };
    ApiError::new(status, name, e.to_string())
}
