//! Retracting an entry as the node: a signed `delete` entry appended to an own feed
//! (`publisher::retract`), then taken in at once (seeded, announced, pushed to followers),
//! so the retracted content leaves the node and its followers. Only the key of the identity
//! that signs is loaded, as for publish_files.rs.

use super::authorize::{Authorized, Operation};
use super::parse::parse_feed;
use super::publish_files::{Signer, blocking, publisher_error, take_in_published};
use super::types::{RetractAnswer, RetractRequest};
use super::{Actor, NodeApi};
use crate::node::NodeHandle;
use http_server::ApiError;
use store::unix_now;

impl NodeApi {
    /// Retracts post `seq` of an own feed with a signed `delete` entry: checks the request
    /// (identity, feed, that the entry exists), signs with the one identity named (or the
    /// default one), and takes the new entry in. An entry committed but not taken in comes
    /// back with `not_taken_in` set, as for publish.
    pub async fn retract(
        &self,
        actor: &Actor,
        request: RetractRequest,
    ) -> Result<RetractAnswer, ApiError> {
        let (authorized, signer) = self
            .may_sign(actor, Operation::Retract, request.identity.as_deref())
            .await?;
        retract(&self.node, &authorized, signer, request).await
    }
}

async fn retract(
    node: &NodeHandle,
    _: &Authorized,
    signer: Signer,
    request: RetractRequest,
) -> Result<RetractAnswer, ApiError> {
    let feed = parse_feed(&request.feed)?;
    let data = node.data.clone();
    let (published, keypair) = blocking(move || {
        let keypair = match signer {
            // Only the one identity named (or the default) is read from the keystore.
            Signer::Keystore(name) => data.keystore().resolve(name.as_deref())?.1,
            Signer::Held(keypair) => keypair,
        };
        publisher::restore::check_may_sign(&data, &keypair.public(), false)?;
        let published =
            publisher::publish::retract_signed(&data, &keypair, &feed, request.seq, unix_now())?;
        Ok::<_, publisher::Error>((published, keypair))
    })
    .await?
    .map_err(publisher_error)?;
    let answer = take_in_published(node, published, keypair).await;
    Ok(RetractAnswer::from(answer))
}
