//! Delegation certificates: an identity grants another key scoped rights until an expiry.
//!
//! A certificate is a signed record (see [`crate::record`]) of type `cert`. An entry signed by
//! a delegated key carries the chain from the feed's identity down to the signing key; any
//! node checks it without asking anyone. Revocation is a `revoke` entry in the identity's feed.

use std::fmt;

use ed25519_dalek::Signature;

use crate::bencode::{self, Value};
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::identity::{IdentityKey, Keypair};
use crate::record::{self, Fields};

/// Longest chain of certificates from an identity to a signing key.
pub const MAX_CHAIN: usize = 3;
/// Largest encoded certificate.
pub const MAX_CERT_BYTES: usize = 4096;
/// Most scopes in one certificate.
pub const MAX_SCOPES: usize = 64;

/// A right granted by a certificate. On the wire: `post:NAME`, `post:*`, `delegate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Post (and retract) entries in one feed.
    Post(FeedName),
    /// Post (and retract) entries in every feed of the identity.
    PostAny,
    /// Grant the rights this certificate holds to further keys.
    Delegate,
}

impl Scope {
    fn parse(text: &str) -> Option<Scope> {
        match text {
            "post:*" => Some(Scope::PostAny),
            "delegate" => Some(Scope::Delegate),
            _ => FeedName::new(text.strip_prefix("post:")?)
                .ok()
                .map(Scope::Post),
        }
    }

    fn allows_post(&self, feed: &FeedName) -> bool {
        match self {
            Scope::Post(name) => name == feed,
            Scope::PostAny => true,
            Scope::Delegate => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Post(name) => write!(f, "post:{name}"),
            Scope::PostAny => f.write_str("post:*"),
            Scope::Delegate => f.write_str("delegate"),
        }
    }
}

/// Who receives a certificate's rights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grantee {
    /// One key: `grantee` = 32 bytes.
    Key(IdentityKey),
    /// Every identity that is a member of a list (revision 1.1): `list` =
    /// `d6:author32:<key>4:feed<name>e`. Only the last certificate of a chain may grant to a
    /// list; the entry names its signer and the list entry it relied on (`member`).
    List(ListRef),
}

/// A list: a feed of its owner made of `list` entries (see [`crate::list`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListRef {
    pub author: IdentityKey,
    pub feed: FeedName,
}

/// The unsigned content of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The key that signs this certificate.
    pub grantor: IdentityKey,
    /// The key, or the members of the list, that receive the rights.
    pub grantee: Grantee,
    pub scopes: Vec<Scope>,
    /// Unix seconds from which the grant holds.
    pub issued: u64,
    /// Unix seconds from which the grant no longer holds.
    pub expires: u64,
}

/// BLAKE3 of a signed certificate's exact bytes: what a `revoke` entry names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CertHash(pub [u8; 32]);

/// A certificate with its exact signed bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCert {
    bytes: Vec<u8>,
    body: std::ops::Range<usize>,
    signature: Signature,
    cert: Certificate,
}

impl Certificate {
    fn encode_body(&self) -> Vec<u8> {
        let scopes = self
            .scopes
            .iter()
            .map(|s| Value::bytes(s.to_string()))
            .collect();
        let grantee = match &self.grantee {
            Grantee::Key(key) => ("grantee", Value::bytes(key.as_bytes().to_vec())),
            Grantee::List(list) => (
                "list",
                Value::dict([
                    ("author", Value::bytes(list.author.as_bytes().to_vec())),
                    ("feed", Value::bytes(list.feed.as_str())),
                ]),
            ),
        };
        bencode::encode(&Value::dict([
            ("expires", Value::uint(self.expires)),
            grantee,
            ("grantor", Value::bytes(self.grantor.as_bytes().to_vec())),
            ("issued", Value::uint(self.issued)),
            ("scopes", Value::List(scopes)),
            ("type", Value::bytes("cert")),
        ]))
    }

    /// Signs with the grantor's keypair.
    pub fn sign(&self, grantor: &Keypair) -> Result<SignedCert> {
        if grantor.public() != self.grantor {
            return Err(Error::BadField {
                record: "cert",
                field: "grantor",
                reason: "is not the signing key",
            });
        }
        let body = self.encode_body();
        SignedCert::decode(&record::seal(&body, &grantor.sign(&body)))
    }
}

impl SignedCert {
    /// Decodes a signed certificate strictly. The signature is not checked here.
    pub fn decode(bytes: &[u8]) -> Result<SignedCert> {
        let (body, signature) = record::open(bytes, "cert", MAX_CERT_BYTES)?;
        let start = body.as_ptr() as usize - bytes.as_ptr() as usize;
        let mut fields = Fields::decode("cert", body)?;
        fields.expect_type("cert")?;
        let grantor = IdentityKey::from_slice(&fields.bytes("grantor")?)?;
        let grantee = match fields.take("list") {
            // A grant to a list names no key (revision 1.1; 1.0 refuses the field).
            Some(raw) if !fields.has("grantee") => {
                let mut list = Fields::new("list", raw)?;
                let author = IdentityKey::from_slice(list.slice("author")?)?;
                let feed = FeedName::from_bytes(list.slice("feed")?)?;
                list.finish()?;
                Grantee::List(ListRef { author, feed })
            }
            Some(_) => return Err(fields.bad("list", "is not allowed beside grantee")),
            None => Grantee::Key(IdentityKey::from_slice(&fields.bytes("grantee")?)?),
        };
        let issued = fields.uint("issued")?;
        let expires = fields.uint("expires")?;
        let raw_scopes = record::strings("cert", "scopes", fields.list("scopes")?)?;
        fields.finish()?;
        if raw_scopes.is_empty() || raw_scopes.len() > MAX_SCOPES {
            return Err(Error::BadField {
                record: "cert",
                field: "scopes",
                reason: "must hold 1 to 64 scopes",
            });
        }
        let scopes = raw_scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::BadField {
                record: "cert",
                field: "scopes",
                reason: "holds an unknown scope",
            })?;
        if expires <= issued {
            return Err(Error::BadField {
                record: "cert",
                field: "expires",
                reason: "is not after issued",
            });
        }
        Ok(SignedCert {
            bytes: bytes.to_vec(),
            body: start..start + body.len(),
            signature,
            cert: Certificate {
                grantor,
                grantee,
                scopes,
                issued,
                expires,
            },
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn cert(&self) -> &Certificate {
        &self.cert
    }

    pub fn hash(&self) -> CertHash {
        CertHash(*blake3::hash(&self.bytes).as_bytes())
    }

    /// The exact bytes the grantor signed.
    pub fn signed_message(&self) -> &[u8] {
        &self.bytes[self.body.clone()]
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Checks this certificate's own signature.
    pub fn verify_signature(&self) -> bool {
        self.cert
            .grantor
            .verify(self.signed_message(), &self.signature)
    }
}

/// Checks the links, scopes, depth and validity window of a chain that lets a delegated key
/// post at `time` to `feed` of `author`, and returns that key. Signatures are checked apart
/// (in a batch with the entries'); revocations by the log verifier.
///
/// `signer` is the key an entry names as its signer when its chain ends at a grant to a
/// list (whose membership the log verifier checks); it must be given exactly then.
pub fn check_chain(
    author: &IdentityKey,
    chain: &[SignedCert],
    feed: &FeedName,
    time: u64,
    signer: Option<&IdentityKey>,
) -> std::result::Result<IdentityKey, &'static str> {
    if chain.len() > MAX_CHAIN {
        return Err("chain is longer than 3 certificates");
    }
    let mut holder = *author;
    for (i, signed) in chain.iter().enumerate() {
        let cert = &signed.cert;
        if cert.grantor != holder {
            return Err("chain is broken: a certificate is not granted by the previous holder");
        }
        if time < cert.issued {
            return Err("certificate is not yet valid at the entry's time");
        }
        if time >= cert.expires {
            return Err("certificate has expired at the entry's time");
        }
        if !cert.scopes.iter().any(|s| s.allows_post(feed)) {
            return Err("certificate does not grant posting to this feed");
        }
        if i + 1 < chain.len() && !cert.scopes.contains(&Scope::Delegate) {
            return Err("certificate does not allow further delegation");
        }
        holder = match (&cert.grantee, signer) {
            (Grantee::Key(key), None) => *key,
            (Grantee::Key(key), Some(_)) if i + 1 < chain.len() => *key,
            (Grantee::Key(_), Some(_)) => {
                return Err("names a signer, but its chain does not end at a list");
            }
            (Grantee::List(_), _) if i + 1 < chain.len() => {
                return Err("chain goes on after a grant to a list");
            }
            (Grantee::List(_), Some(signer)) => *signer,
            (Grantee::List(_), None) => {
                return Err("ends at a list but does not name its signer and list entry");
            }
        };
    }
    Ok(holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Keypair {
        Keypair::from_seed(&[n; 32])
    }

    fn grant(from: &Keypair, to: &Keypair, scopes: Vec<Scope>, window: (u64, u64)) -> SignedCert {
        Certificate {
            grantor: from.public(),
            grantee: Grantee::Key(to.public()),
            scopes,
            issued: window.0,
            expires: window.1,
        }
        .sign(from)
        .unwrap()
    }

    #[test]
    fn a_chain_grants_within_scope_and_time_only() {
        let (root, app, sub) = (key(1), key(2), key(3));
        let feed = FeedName::new("main").unwrap();
        let other = FeedName::new("other").unwrap();
        let first = grant(
            &root,
            &app,
            vec![Scope::Post(feed.clone()), Scope::Delegate],
            (100, 200),
        );
        let second = grant(&app, &sub, vec![Scope::PostAny], (100, 150));
        let chain = [first.clone(), second.clone()];
        assert_eq!(
            check_chain(&root.public(), &chain, &feed, 120, None),
            Ok(sub.public())
        );
        assert!(check_chain(&root.public(), &chain, &other, 120, None).is_err());
        assert!(check_chain(&root.public(), &chain, &feed, 150, None).is_err());
        assert!(check_chain(&root.public(), &chain, &feed, 99, None).is_err());
        assert!(check_chain(&app.public(), &chain, &feed, 120, None).is_err());
        let no_delegate = grant(&root, &app, vec![Scope::Post(feed.clone())], (100, 200));
        assert!(check_chain(&root.public(), &[no_delegate, second], &feed, 120, None).is_err());
        assert!(first.verify_signature() && chain[1].verify_signature());
    }

    #[test]
    fn chains_are_bounded() {
        let keys: Vec<Keypair> = (1..=5).map(key).collect();
        let feed = FeedName::new("main").unwrap();
        let chain: Vec<SignedCert> = keys
            .windows(2)
            .map(|w| grant(&w[0], &w[1], vec![Scope::PostAny, Scope::Delegate], (0, 10)))
            .collect();
        assert_eq!(chain.len(), 4);
        assert!(check_chain(&keys[0].public(), &chain[..3], &feed, 5, None).is_ok());
        assert!(check_chain(&keys[0].public(), &chain, &feed, 5, None).is_err());
    }

    #[test]
    fn certificates_decode_strictly() {
        let cert = grant(&key(1), &key(2), vec![Scope::PostAny], (0, 10));
        assert_eq!(SignedCert::decode(cert.bytes()).unwrap(), cert);
        let mut forged = cert.bytes().to_vec();
        let at = cert.body.start + 20;
        forged[at] ^= 1;
        // Either the body no longer decodes, or its signature no longer holds.
        if let Ok(decoded) = SignedCert::decode(&forged) {
            assert!(!decoded.verify_signature());
        }
        assert!(
            Certificate {
                expires: 5,
                issued: 5,
                ..cert.cert().clone()
            }
            .sign(&key(1))
            .is_err()
        );
    }
}
