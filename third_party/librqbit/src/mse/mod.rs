//! Message Stream Encryption / Protocol Encryption (MSE/PE), the "encryption" of Vuze,
//! libtorrent, Transmission and qBittorrent: a Diffie-Hellman exchange over a fixed 768-bit
//! prime, keys derived with SHA-1, RC4 (first 1024 bytes dropped) for the handshake and,
//! if both sides pick it, for the whole stream.
//!
//! This is obfuscation against traffic shaping, not confidentiality: the key exchange is
//! unauthenticated (anyone in the middle can take part in it) and RC4 is broken. Its use is
//! that peers set to "require encryption" can connect, and that a plain BitTorrent
//! handshake is not visible on the wire.
//!
//! [`handshake`] is the protocol without I/O; [`stream`] runs it over a connection and
//! wraps the connection's halves for the payload stream.

mod crypto;
pub mod handshake;
mod stream;

pub use handshake::{Established, Initiator, Methods, MseError, Responder, Step};
pub use stream::Error as HandshakeError;
pub(crate) use stream::{MseRead, initiate, respond, wrap};

/// Whether an outgoing connection with MSE enabled tries the encrypted handshake first.
/// Plaintext first: against stock clients on their defaults (which accept both) it is the
/// fastest (no Diffie-Hellman round trip before the BitTorrent handshake), and plaintext-
/// only peers (older librqbit) connect at once; only peers that require encryption cost a
/// refused first try (one more connection). Measured in swarmfeed's
/// `engine/tests/engine_encryption.rs` (`outgoing_handshake_order_measurement`).
pub(crate) const OUTGOING_ENCRYPTED_FIRST: bool = false;

/// HASH('req2', infohash): how an incoming encrypted handshake names its torrent.
pub(crate) fn req2(info_hash: &[u8; 20]) -> [u8; 20] {
    crypto::req2(info_hash)
}

/// How a session uses MSE/PE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncryptionPolicy {
    /// Plain BitTorrent only: encrypted handshakes are refused, none are made.
    #[default]
    Disabled,
    /// Accept plain and encrypted handshakes; outgoing connections try plain first, then
    /// encrypted if the peer refuses it.
    /// As responder, pick a plain payload stream when the peer offers both (as libtorrent
    /// does by default): the handshake is still hidden, and the stream costs no RC4.
    Enabled,
    /// Encrypted handshakes with an RC4 payload stream only, both ways.
    Forced,
}

impl EncryptionPolicy {
    /// Methods offered as initiator and accepted as responder, `None` when MSE is off.
    pub(crate) fn methods(self) -> Option<Methods> {
        match self {
            EncryptionPolicy::Disabled => None,
            EncryptionPolicy::Enabled => Some(Methods {
                plaintext: true,
                rc4: true,
                prefer_rc4: false,
            }),
            EncryptionPolicy::Forced => Some(Methods {
                plaintext: false,
                rc4: true,
                prefer_rc4: true,
            }),
        }
    }

    /// Whether a plain BitTorrent handshake is accepted or made.
    pub(crate) fn allows_plaintext(self) -> bool {
        self != EncryptionPolicy::Forced
    }
}

#[cfg(test)]
mod tests;
