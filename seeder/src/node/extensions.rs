//! Identity record extensions the node carries (docs/feed-format.md): today `profile`, the
//! display name, bio and avatar every gateway shows for an identity.
//!
//! For its own identities the node takes in the signed items the data directory holds
//! (`publisher::profile`); for followed ones it looks, on every poll, for the identity's
//! record and then for each extension the record names that it carries: in the DHT under
//! the salt `@<name>` and at the nodes serving the identity (`GET
//! /api/v1/identities/ID/extensions/NAME`), keeping the highest seq. Items heard in its DHT
//! storage are taken in at once. Each item is checked before it is stored (signature, salt,
//! value, the extension's own rules); a bad one is refused with its reason and changes
//! nothing. Stored items are republished with the record and served to other nodes.
//!
//! Only extensions this node can check are carried: a node does not relay what it cannot
//! tell from junk. Others wait for a reader that knows them.

use feeds::extension;
use feeds::{IdentityKey, MutableItem, SignedIdentityRecord};

use super::replicate::with_timeout;
use super::{NodeHandle, fetch};
use store::HeadChange;

/// The extensions this node checks, stores, republishes and serves.
pub const CARRIED: [&str; 1] = [publisher::profile::PROFILE];
/// The largest extension item taken over HTTP: its value is at most 1000 bytes.
const MAX_ITEM_BYTES: usize = 4096;

/// Why an extension item was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("not an extension this node carries ({0})")]
    NotCarried(String),
    #[error("signed by another identity")]
    OtherIdentity,
    #[error(transparent)]
    Format(#[from] feeds::Error),
}

/// The extension an item is, if its salt names one this node carries.
pub fn carried_name(item: &MutableItem) -> Result<&'static str, Refused> {
    let salt = item.salt();
    CARRIED
        .into_iter()
        .find(|name| salt == extension::salt(name).as_slice())
        .ok_or_else(|| Refused::NotCarried(String::from_utf8_lossy(salt).into_owned()))
}

/// Checks `item` as extension `name` of `identity`: its signature (checked when it was
/// built), its salt, its value under the version rule, and the extension's own fields.
pub fn check(identity: &IdentityKey, item: &MutableItem) -> Result<&'static str, Refused> {
    if item.key() != *identity {
        return Err(Refused::OtherIdentity);
    }
    let name = carried_name(item)?;
    // A critical field this reader does not know makes it skip the extension (`None`), not
    // refuse it: another reader may know the field, so the item is still carried.
    extension::read_profile(item)?;
    Ok(name)
}

/// Checks and stores `item`; `Newer` when it replaced what was stored.
pub async fn take_in(
    node: &NodeHandle,
    identity: &IdentityKey,
    item: &MutableItem,
    from: &str,
) -> Option<HeadChange> {
    let name = match check(identity, item) {
        Ok(name) => name,
        Err(e) => {
            tracing::warn!(%identity, from, seq = item.seq(), "refused an extension item: {e}");
            return None;
        }
    };
    match node.store.put_extension(name, item).await {
        Ok(change) => {
            if change == HeadChange::Newer {
                tracing::debug!(%identity, name, seq = item.seq(), from, "new extension item");
            }
            Some(change)
        }
        Err(e) => {
            tracing::warn!(%identity, name, "cannot store an extension item: {e}");
            None
        }
    }
}

/// Takes in the extension items the data directory holds for an own identity, and puts
/// them into the DHT.
pub async fn sync_own(node: &NodeHandle, identity: &IdentityKey) {
    let (data, id) = (node.data.clone(), *identity);
    let item = tokio::task::spawn_blocking(move || publisher::profile::current_item(&data, &id))
        .await
        .ok();
    match item {
        Some(Ok(Some(item))) => {
            take_in(node, identity, &item, "the data directory").await;
            let node = node.clone();
            tokio::spawn(async move {
                super::republish::put_with_retries(&node, &item).await;
            });
        }
        Some(Ok(None)) => {}
        Some(Err(e)) => tracing::warn!(%identity, "cannot read the own profile: {e}"),
        None => {}
    }
}

/// Looks for a newer record and newer extension items of every followed identity.
pub async fn refresh_followed(node: &NodeHandle) {
    let Ok(follows) = node.store.follows().await else {
        return;
    };
    let mut identities: Vec<IdentityKey> = follows.iter().map(|f| f.identity).collect();
    identities.sort();
    identities.dedup();
    for identity in identities {
        if node.cancel.is_cancelled() {
            return;
        }
        refresh(node, &identity).await;
    }
}

/// Looks for `identity`'s newest record (a record that starts naming `profile` is how a
/// follower learns there is one), then for each extension it names that this node carries.
pub async fn refresh(node: &NodeHandle, identity: &IdentityKey) {
    let fetcher = node.fetcher();
    let nodes = fetch::candidate_nodes(&fetcher, identity, None).await;
    let mut records: Vec<SignedIdentityRecord> = Vec::new();
    records.extend(
        with_timeout(node.dht.get_identity_record(identity))
            .await
            .flatten(),
    );
    for url in &nodes {
        let path = format!("/api/v1/identities/{identity}");
        if let Ok(bytes) = fetch::get(&fetcher, url, &path, MAX_ITEM_BYTES).await
            && let Ok(record) = SignedIdentityRecord::decode(&bytes)
            && record.identity() == *identity
        {
            records.push(record);
        }
    }
    for record in &records {
        if let Err(e) = node.store.put_identity_record(record).await {
            tracing::warn!(%identity, "cannot store the identity record: {e}");
        }
    }
    let Ok(Some(record)) = node.store.identity_record(identity).await else {
        return;
    };
    for name in extension::names(&record) {
        let Some(name) = CARRIED.into_iter().find(|c| *c == name) else {
            continue;
        };
        let salt = extension::salt(name);
        if let Some(item) = with_timeout(node.dht.get_item(identity, &salt))
            .await
            .flatten()
        {
            take_in(node, identity, &item, "the DHT").await;
        }
        for url in &nodes {
            let path = format!("/api/v1/identities/{identity}/extensions/{name}");
            match fetch::get(&fetcher, url, &path, MAX_ITEM_BYTES).await {
                Ok(bytes) => match MutableItem::decode(&bytes) {
                    Ok(item) => {
                        take_in(node, identity, &item, url).await;
                    }
                    Err(e) => tracing::warn!(%identity, url, "refused an extension item: {e}"),
                },
                Err(e) => tracing::debug!(%identity, url, name, "no extension item: {e}"),
            }
        }
    }
}

/// Puts every stored extension item of `identity` back into the DHT.
pub async fn republish(node: &NodeHandle, identity: &IdentityKey) {
    for (_, item) in node.store.extensions(identity).await.unwrap_or_default() {
        super::republish::put_with_retries(node, &item).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use feeds::Keypair;
    use feeds::bencode::Value;

    #[test]
    fn only_checked_profiles_of_their_own_identity_are_carried() {
        let keypair = Keypair::from_seed(&[3; 32]);
        let id = keypair.public();
        let good =
            extension::sign(&keypair, "profile", 1, vec![("name", Value::bytes("A"))]).unwrap();
        assert_eq!(check(&id, &good).unwrap(), "profile");
        let other = Keypair::from_seed(&[4; 32]).public();
        assert!(matches!(check(&other, &good), Err(Refused::OtherIdentity)));
        let long = extension::sign(
            &keypair,
            "profile",
            2,
            vec![("name", Value::bytes("A".repeat(65)))],
        )
        .unwrap();
        assert!(matches!(check(&id, &long), Err(Refused::Format(_))));
        let keys = extension::sign(&keypair, "keys", 1, vec![]).unwrap();
        assert!(matches!(check(&id, &keys), Err(Refused::NotCarried(_))));
        // A critical field this node does not know: carried, but read as no profile.
        let crit = extension::sign(
            &keypair,
            "profile",
            3,
            vec![
                ("crit", Value::List(vec![Value::bytes("quorum")])),
                ("quorum", Value::Int(2)),
            ],
        )
        .unwrap();
        assert_eq!(check(&id, &crit).unwrap(), "profile");
        assert_eq!(extension::read_profile(&crit).unwrap(), None);
    }
}
