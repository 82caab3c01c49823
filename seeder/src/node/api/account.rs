//! A user's own account, as far as the node is concerned: deleting it drops the identities
//! it alone owns (their sealed keys destroyed, their other members losing them), so the
//! decision is the node's, with the user as actor, like every other change to identities
//! held for users. And how an accounts error is answered, by the API and the gateway's
//! pages alike.

use accounts::{Role, Secret, SessionUser};
use axum::http::StatusCode;
use http_server::{ApiError, ErrorCode};

use super::authorize::Operation;
use super::parse::parse_identity;
use super::{Actor, NodeApi};

/// Seconds a client told the password hasher is busy is asked to wait.
const BUSY_RETRY_SECS: u64 = 2;

impl NodeApi {
    /// Deletes the account of the signed-in `who` (its password checked by the accounts
    /// crate), with the identities named in `drop`, which must be every identity it alone
    /// owns (else `400 sole_owner` names them). Decided as [`Operation::DeleteAccount`]: the
    /// user must own every identity it asks to drop.
    pub async fn delete_account(
        &self,
        actor: &Actor,
        who: &SessionUser,
        password: &Secret,
        drop: &[String],
    ) -> Result<(), ApiError> {
        let mut weakest = Some(Role::Owner);
        for identity in drop {
            let role = match parse_identity(identity) {
                Ok(identity) => self.role_in(actor, &identity).await,
                Err(_) => None,
            };
            weakest = weakest.min(role);
        }
        self.authorize_as(actor, Operation::DeleteAccount, weakest)?;
        let accounts = match (actor, self.accounts()) {
            (Actor::User { user }, Some(accounts)) if *user == who.user => accounts,
            _ => {
                return Err(ApiError::bad_request(
                    ErrorCode::BadRequest,
                    "only a signed-in user deletes their own account",
                ));
            }
        };
        accounts
            .delete_account(who, password, drop)
            .await
            .map_err(accounts_error)
    }
}

/// The status an accounts error is answered with.
pub fn accounts_status(e: &accounts::Error) -> StatusCode {
    use accounts::Error as E;
    match e {
        E::InvalidCredentials | E::NotSignedIn => StatusCode::UNAUTHORIZED,
        E::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        E::Busy => StatusCode::SERVICE_UNAVAILABLE,
        E::SignUpClosed
        | E::AwaitingApproval
        | E::Forbidden(_)
        | E::InvitationForAnotherAddress => StatusCode::FORBIDDEN,
        E::UnknownUser(_) | E::UnknownIdentity(_) => StatusCode::NOT_FOUND,
        E::QuotaExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        E::InvitationInvalid
        | E::InvalidEmail
        | E::Password(_)
        | E::InvalidCode
        | E::InvalidToken
        | E::InvalidIdentity(_)
        | E::IdentityKeyMismatch(_)
        | E::IdentityExists(_)
        | E::LastOwner
        | E::SoleOwner(_)
        | E::SecondFactorState(_) => StatusCode::BAD_REQUEST,
        E::Config(_)
        | E::SecretsKey(_)
        | E::Unseal
        | E::Database { .. }
        | E::DatabaseGone
        | E::Io { .. }
        | E::Mail(_)
        | E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Seconds the client should wait before trying again, for the errors that say so.
pub fn accounts_retry_after(e: &accounts::Error) -> Option<u64> {
    match e {
        accounts::Error::RateLimited { retry_after_secs } => Some((*retry_after_secs).max(1)),
        accounts::Error::Busy => Some(BUSY_RETRY_SECS),
        _ => None,
    }
}

/// An accounts error as the API answers it, with the accounts crate's stable name (a 500's
/// details go to the log only).
pub fn accounts_error(e: accounts::Error) -> ApiError {
    let status = accounts_status(&e);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return ApiError::internal(e);
    }
    let error = ApiError::new(status, ErrorCode::Account(e.name()), e.to_string());
    match accounts_retry_after(&e) {
        Some(secs) => error.retry_after(secs),
        None => error,
    }
}
