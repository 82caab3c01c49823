//! Items other nodes put to this node's DHT storage, passed on to the node.
//!
//! A BEP 44 put lands on the nodes closest to its target. In a small network that is every
//! node, so a follower's DHT node receives each new head of the feeds it follows the moment
//! its publisher puts it: a push that needs no HTTP route between them. On a large DHT it
//! happens only when this node is among the closest, and polling does the rest. Nothing is
//! trusted: the node checks the signature (and that it follows the feed) before using one.

use mainline::{PutMutableRequestArguments, PutRequest, PutRequestSpecific, RequestTypeSpecific};
use tokio::sync::mpsc;

/// Items waiting for the node; more are dropped (the node polls anyway).
pub const QUEUE: usize = 256;

/// A mutable item as another node put it here: not checked yet.
#[derive(Debug, Clone)]
pub struct HeardItem {
    pub key: [u8; 32],
    pub salt: Vec<u8>,
    pub seq: i64,
    pub value: Vec<u8>,
    pub signature: [u8; 64],
}

impl HeardItem {
    /// The item, if its signature (and sizes) check out.
    pub fn verify(self) -> Option<feeds::MutableItem> {
        let key = feeds::IdentityKey::from_bytes(&self.key).ok()?;
        feeds::MutableItem::from_parts(key, self.salt, self.seq, self.value, self.signature).ok()
    }
}

/// A mainline request filter that lets every request through and copies each mutable put
/// into a queue. It runs on the DHT's thread, so it never waits: a full queue drops.
#[derive(Debug, Clone)]
pub struct PutObserver {
    queue: mpsc::Sender<HeardItem>,
}

impl PutObserver {
    pub fn new() -> (Self, mpsc::Receiver<HeardItem>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        (PutObserver { queue }, receiver)
    }
}

impl mainline::RequestFilter for PutObserver {
    fn allow_request(
        &self,
        request: &mainline::RequestSpecific,
        _from: std::net::SocketAddrV4,
    ) -> bool {
        if let RequestTypeSpecific::Put(PutRequest {
            put_request_type:
                PutRequestSpecific::PutMutable(PutMutableRequestArguments {
                    v,
                    k,
                    seq,
                    sig,
                    salt,
                    ..
                }),
            ..
        }) = &request.request_type
        {
            let _ = self.queue.try_send(HeardItem {
                key: *k,
                salt: salt.as_deref().unwrap_or_default().to_vec(),
                seq: *seq,
                value: v.to_vec(),
                signature: *sig,
            });
        }
        true
    }
}
