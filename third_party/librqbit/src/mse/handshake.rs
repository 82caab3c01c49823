//! The MSE/PE handshake as a state machine without I/O: each side is fed everything received
//! from the peer so far and appends what it has to send. Nothing here reads a socket, so a
//! fuzzer can drive it with arbitrary bytes, and a bad peer can only make it return an
//! error.
//!
//! The exchange, A the initiator and B the responder (S the DH secret, SKEY the infohash):
//! 1. A→B: Ya, PadA
//! 2. B→A: Yb, PadB
//! 3. A→B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
//!    ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//! 4. B→A: ENCRYPT(VC, crypto_select, len(PadD), PadD), then the payload stream
//! 5. A→B: the payload stream
//!
//! ENCRYPT is RC4 keyed with HASH('keyA', S, SKEY) from A and HASH('keyB', S, SKEY) from B.
//! The payload stream stays in that RC4 stream if crypto_select is RC4, and is plain
//! otherwise (IA is encrypted either way).

use super::crypto::{self, BadPublicKey, Cipher, DH_LEN, KeyPair};

/// Longest PadA, PadB, PadC and PadD.
pub const PAD_MAX: usize = 512;
/// crypto_provide / crypto_select bits.
pub const CRYPTO_PLAINTEXT: u32 = 0x01;
pub const CRYPTO_RC4: u32 = 0x02;

/// The verification constant: 8 zero bytes, encrypted.
const VC_LEN: usize = 8;
/// Bytes into the initiator's stream within which HASH('req1', S) must end:
/// Ya (96) + PadA (at most 512) + the hash (20).
pub const RESPONDER_SYNC_LIMIT: usize = DH_LEN + PAD_MAX + 20;
/// Bytes into the responder's stream within which ENCRYPT(VC) must end:
/// Yb (96) + PadB (at most 512) + VC (8).
pub const INITIATOR_SYNC_LIMIT: usize = DH_LEN + PAD_MAX + VC_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MseError {
    #[error(transparent)]
    BadPublicKey(#[from] BadPublicKey),
    #[error("no HASH('req1', S) within the first {RESPONDER_SYNC_LIMIT} bytes")]
    NoReq1,
    #[error("no encrypted verification constant within the first {INITIATOR_SYNC_LIMIT} bytes")]
    NoVc,
    #[error("the peer asked for a torrent we do not have")]
    UnknownInfoHash,
    #[error("the verification constant did not decrypt to zeros")]
    BadVc,
    #[error("padding of {0} bytes (at most {PAD_MAX})")]
    BadPadLength(usize),
    #[error("no crypto method in common (peer offers {provided:#x}, we allow {allowed:#x})")]
    NoCommonMethod { provided: u32, allowed: u32 },
    #[error("the peer selected crypto {selected:#x}, but we offered {provided:#x}")]
    BadSelect { selected: u32, provided: u32 },
    #[error("the handshake is already finished")]
    Finished,
}

/// What one side accepts for the payload stream, and which it picks when offered both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods {
    pub plaintext: bool,
    pub rc4: bool,
    /// As responder, pick RC4 when the initiator offers both.
    pub prefer_rc4: bool,
}

impl Methods {
    fn bits(&self) -> u32 {
        (if self.plaintext { CRYPTO_PLAINTEXT } else { 0 })
            | (if self.rc4 { CRYPTO_RC4 } else { 0 })
    }
}

/// A finished handshake.
pub struct Established {
    /// The infohash (SKEY) the connection is for.
    pub info_hash: [u8; 20],
    /// `(decrypt, encrypt)` if the payload stream is RC4, `None` if it is plain.
    pub rc4: Option<(Cipher, Cipher)>,
    /// Payload the peer already sent, decrypted: the initial payload (IA) and whatever
    /// followed the handshake in the bytes fed so far.
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for Established {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Established")
            .field("rc4", &self.rc4.is_some())
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

#[derive(Debug)]
pub enum Step {
    /// Feed more bytes from the peer.
    NeedMore,
    Done(Established),
}

fn random_pad(out: &mut Vec<u8>) -> usize {
    use rand::RngExt;
    let mut rng = rand::rng();
    let len = rng.random_range(0..=PAD_MAX);
    let start = out.len();
    out.resize(start + len, 0);
    rng.fill(&mut out[start..]);
    len
}

fn be16(b: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([b[0], b[1]]))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The bytes `buf[at..at + len]` decrypted, if they have all arrived.
fn take(buf: &[u8], at: usize, len: usize, cipher: &mut Cipher) -> Option<Vec<u8>> {
    let mut field = buf.get(at..at.checked_add(len)?)?.to_vec();
    cipher.apply(&mut field);
    Some(field)
}

/// Where `needle` starts in `buf[from..]`, if it ends before `limit`.
fn find(buf: &[u8], from: usize, limit: usize, needle: &[u8]) -> Option<usize> {
    let end = buf.len().min(limit);
    let hay = buf.get(from..end)?;
    hay.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The rest of `buf` after the handshake, decrypted if the stream is RC4.
fn finish(
    info_hash: [u8; 20],
    mut payload: Vec<u8>,
    buf: &[u8],
    end: usize,
    rc4: Option<(Cipher, Cipher)>,
) -> Step {
    let mut rc4 = rc4;
    let start = payload.len();
    payload.extend_from_slice(buf.get(end..).unwrap_or_default());
    if let Some((dec, _)) = rc4.as_mut() {
        dec.apply(&mut payload[start..]);
    }
    Step::Done(Established {
        info_hash,
        rc4,
        payload,
    })
}

enum ResponderState {
    Ya,
    Req1 {
        s: Box<[u8; DH_LEN]>,
        req1: [u8; 20],
    },
    Req2 {
        s: Box<[u8; DH_LEN]>,
        at: usize,
    },
    Head {
        skey: [u8; 20],
        dec: Cipher,
        enc: Cipher,
        at: usize,
    },
    Pad {
        skey: [u8; 20],
        dec: Cipher,
        enc: Cipher,
        provide: u32,
        at: usize,
        len: usize,
    },
    Ia {
        skey: [u8; 20],
        dec: Cipher,
        enc: Cipher,
        provide: u32,
        at: usize,
        len: usize,
    },
    Done,
}

/// The side that accepted the connection.
pub struct Responder {
    keys: KeyPair,
    methods: Methods,
    state: ResponderState,
}

impl Responder {
    pub fn new(methods: Methods) -> Self {
        Responder {
            keys: KeyPair::generate(),
            methods,
            state: ResponderState::Ya,
        }
    }

    /// `buf` is everything the initiator sent so far (always from its first byte); what
    /// to send back is appended to `out`. `lookup` maps HASH('req2', infohash) to the
    /// infohash of a torrent we hold.
    pub fn advance(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
        lookup: &dyn Fn(&[u8; 20]) -> Option<[u8; 20]>,
    ) -> Result<Step, MseError> {
        loop {
            let state = std::mem::replace(&mut self.state, ResponderState::Done);
            let (next, progressed) = self.step(state, buf, out, lookup)?;
            match next {
                Ok(state) => {
                    self.state = state;
                    if !progressed {
                        return Ok(Step::NeedMore);
                    }
                }
                Err(done) => return Ok(done),
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn step(
        &mut self,
        state: ResponderState,
        buf: &[u8],
        out: &mut Vec<u8>,
        lookup: &dyn Fn(&[u8; 20]) -> Option<[u8; 20]>,
    ) -> Result<(Result<ResponderState, Step>, bool), MseError> {
        use ResponderState::*;
        Ok(match state {
            Ya => {
                let Some(ya) = buf.get(..DH_LEN) else {
                    return Ok((Ok(Ya), false));
                };
                let s = Box::new(self.keys.shared_secret(ya)?);
                out.extend_from_slice(self.keys.public());
                random_pad(out);
                let req1 = crypto::req1(&s);
                (Ok(Req1 { s, req1 }), true)
            }
            Req1 { s, req1 } => match find(buf, DH_LEN, RESPONDER_SYNC_LIMIT, &req1) {
                Some(p) => (Ok(Req2 { s, at: p + 20 }), true),
                None if buf.len() >= RESPONDER_SYNC_LIMIT => return Err(MseError::NoReq1),
                None => (Ok(Req1 { s, req1 }), false),
            },
            Req2 { s, at } => {
                let Some(field) = buf.get(at..at + 20) else {
                    return Ok((Ok(Req2 { s, at }), false));
                };
                let mut hidden = [0u8; 20];
                hidden.copy_from_slice(field);
                let req2 = crypto::xor20(&hidden, &crypto::req3(&s));
                let skey = lookup(&req2).ok_or(MseError::UnknownInfoHash)?;
                let dec = Cipher::new(b"keyA", &s, &skey);
                let enc = Cipher::new(b"keyB", &s, &skey);
                (
                    Ok(Head {
                        skey,
                        dec,
                        enc,
                        at: at + 20,
                    }),
                    true,
                )
            }
            Head {
                skey,
                mut dec,
                enc,
                at,
            } => {
                let Some(head) = take(buf, at, VC_LEN + 4 + 2, &mut dec) else {
                    return Ok((Ok(Head { skey, dec, enc, at }), false));
                };
                if head[..VC_LEN] != [0u8; VC_LEN] {
                    return Err(MseError::BadVc);
                }
                let provide = be32(&head[VC_LEN..]);
                let len = be16(&head[VC_LEN + 4..]);
                if len > PAD_MAX {
                    return Err(MseError::BadPadLength(len));
                }
                let at = at + head.len();
                let next = Pad {
                    skey,
                    dec,
                    enc,
                    provide,
                    at,
                    len,
                };
                (Ok(next), true)
            }
            Pad {
                skey,
                mut dec,
                enc,
                provide,
                at,
                len,
            } => {
                // PadC is ignored, but it is part of the RC4 stream.
                let Some(field) = take(buf, at, len + 2, &mut dec) else {
                    let same = Pad {
                        skey,
                        dec,
                        enc,
                        provide,
                        at,
                        len,
                    };
                    return Ok((Ok(same), false));
                };
                let ia_len = be16(&field[len..]);
                let next = Ia {
                    skey,
                    dec,
                    enc,
                    provide,
                    at: at + len + 2,
                    len: ia_len,
                };
                (Ok(next), true)
            }
            Ia {
                skey,
                mut dec,
                mut enc,
                provide,
                at,
                len,
            } => {
                let Some(ia) = take(buf, at, len, &mut dec) else {
                    let same = Ia {
                        skey,
                        dec,
                        enc,
                        provide,
                        at,
                        len,
                    };
                    return Ok((Ok(same), false));
                };
                let select = self.select(provide)?;
                let start = out.len();
                out.extend_from_slice(&[0u8; VC_LEN]);
                out.extend_from_slice(&select.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                let pad = random_pad(out);
                let pad_len = (start + VC_LEN + 4)..(start + VC_LEN + 6);
                #[allow(clippy::cast_possible_truncation)]
                out[pad_len].copy_from_slice(&(pad as u16).to_be_bytes());
                enc.apply(&mut out[start..]);
                let rc4 = (select == CRYPTO_RC4).then_some((dec, enc));
                (Err(finish(skey, ia, buf, at + len, rc4)), true)
            }
            Done => return Err(MseError::Finished),
        })
    }

    fn select(&self, provide: u32) -> Result<u32, MseError> {
        let common = provide & self.methods.bits();
        let rc4 = common & CRYPTO_RC4 != 0;
        let plain = common & CRYPTO_PLAINTEXT != 0;
        match (rc4, plain) {
            (true, false) => Ok(CRYPTO_RC4),
            (true, true) if self.methods.prefer_rc4 => Ok(CRYPTO_RC4),
            (_, true) => Ok(CRYPTO_PLAINTEXT),
            (false, false) => Err(MseError::NoCommonMethod {
                provided: provide,
                allowed: self.methods.bits(),
            }),
        }
    }
}

enum InitiatorState {
    Yb,
    Vc {
        dec: Cipher,
        enc: Cipher,
        pattern: [u8; VC_LEN],
    },
    Select {
        dec: Cipher,
        enc: Cipher,
        at: usize,
    },
    Pad {
        dec: Cipher,
        enc: Cipher,
        select: u32,
        at: usize,
        len: usize,
    },
    Done,
}

/// The side that made the connection.
pub struct Initiator {
    keys: KeyPair,
    skey: [u8; 20],
    provide: u32,
    initial_payload: Vec<u8>,
    state: InitiatorState,
}

impl Initiator {
    /// Starts a handshake for the torrent `skey`, offering `methods`; `initial_payload`
    /// (IA, at most 65535 bytes: typically the BitTorrent handshake) goes with step 3.
    /// Ya and PadA, to be sent first, are appended to `out`.
    pub fn new(
        skey: [u8; 20],
        methods: Methods,
        initial_payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Self {
        let keys = KeyPair::generate();
        out.extend_from_slice(keys.public());
        random_pad(out);
        let ia_len = initial_payload.len().min(usize::from(u16::MAX));
        Initiator {
            keys,
            skey,
            provide: methods.bits(),
            initial_payload: initial_payload[..ia_len].to_vec(),
            state: InitiatorState::Yb,
        }
    }

    /// `buf` is everything the responder sent so far; what to send is appended to `out`.
    pub fn advance(&mut self, buf: &[u8], out: &mut Vec<u8>) -> Result<Step, MseError> {
        loop {
            let state = std::mem::replace(&mut self.state, InitiatorState::Done);
            let (next, progressed) = self.step(state, buf, out)?;
            match next {
                Ok(state) => {
                    self.state = state;
                    if !progressed {
                        return Ok(Step::NeedMore);
                    }
                }
                Err(done) => return Ok(done),
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn step(
        &mut self,
        state: InitiatorState,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(Result<InitiatorState, Step>, bool), MseError> {
        use InitiatorState::*;
        Ok(match state {
            Yb => {
                let Some(yb) = buf.get(..DH_LEN) else {
                    return Ok((Ok(Yb), false));
                };
                let s = self.keys.shared_secret(yb)?;
                let mut enc = Cipher::new(b"keyA", &s, &self.skey);
                let dec = Cipher::new(b"keyB", &s, &self.skey);
                let mut pattern = [0u8; VC_LEN];
                Cipher::new(b"keyB", &s, &self.skey).apply(&mut pattern);

                out.extend_from_slice(&crypto::req1(&s));
                out.extend_from_slice(&crypto::xor20(&crypto::req2(&self.skey), &crypto::req3(&s)));
                let start = out.len();
                out.extend_from_slice(&[0u8; VC_LEN]);
                out.extend_from_slice(&self.provide.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                let pad = random_pad(out);
                let pad_len = (start + VC_LEN + 4)..(start + VC_LEN + 6);
                #[allow(clippy::cast_possible_truncation)]
                out[pad_len].copy_from_slice(&(pad as u16).to_be_bytes());
                #[allow(clippy::cast_possible_truncation)]
                let ia_len = self.initial_payload.len() as u16;
                out.extend_from_slice(&ia_len.to_be_bytes());
                out.extend_from_slice(&self.initial_payload);
                enc.apply(&mut out[start..]);
                (Ok(Vc { dec, enc, pattern }), true)
            }
            Vc {
                mut dec,
                enc,
                pattern,
            } => match find(buf, DH_LEN, INITIATOR_SYNC_LIMIT, &pattern) {
                Some(p) => {
                    let mut vc = [0u8; VC_LEN];
                    dec.apply(&mut vc);
                    (
                        Ok(Select {
                            dec,
                            enc,
                            at: p + VC_LEN,
                        }),
                        true,
                    )
                }
                None if buf.len() >= INITIATOR_SYNC_LIMIT => return Err(MseError::NoVc),
                None => (Ok(Vc { dec, enc, pattern }), false),
            },
            Select { mut dec, enc, at } => {
                let Some(field) = take(buf, at, 4 + 2, &mut dec) else {
                    return Ok((Ok(Select { dec, enc, at }), false));
                };
                let select = be32(&field);
                let len = be16(&field[4..]);
                let one_offered = (select == CRYPTO_RC4 || select == CRYPTO_PLAINTEXT)
                    && select & self.provide != 0;
                if !one_offered {
                    return Err(MseError::BadSelect {
                        selected: select,
                        provided: self.provide,
                    });
                }
                if len > PAD_MAX {
                    return Err(MseError::BadPadLength(len));
                }
                let next = Pad {
                    dec,
                    enc,
                    select,
                    at: at + 6,
                    len,
                };
                (Ok(next), true)
            }
            Pad {
                mut dec,
                enc,
                select,
                at,
                len,
            } => {
                if take(buf, at, len, &mut dec).is_none() {
                    let same = Pad {
                        dec,
                        enc,
                        select,
                        at,
                        len,
                    };
                    return Ok((Ok(same), false));
                }
                let rc4 = (select == CRYPTO_RC4).then_some((dec, enc));
                (Err(finish(self.skey, Vec::new(), buf, at + len, rc4)), true)
            }
            Done => return Err(MseError::Finished),
        })
    }
}

/// What the first bytes of an incoming connection are: `Some(true)` a plaintext
/// BitTorrent handshake, `Some(false)` anything else (an MSE initiator's Ya), `None`
/// undecided until more bytes arrive.
pub fn is_plaintext_handshake(first: &[u8]) -> Option<bool> {
    const PSTR: &[u8; 20] = b"\x13BitTorrent protocol";
    let n = first.len().min(PSTR.len());
    if first[..n] != PSTR[..n] {
        Some(false)
    } else if n == PSTR.len() {
        Some(true)
    } else {
        None
    }
}
