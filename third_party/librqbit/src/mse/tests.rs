use super::handshake::{
    CRYPTO_PLAINTEXT, CRYPTO_RC4, Established, Initiator, Methods, MseError, RESPONDER_SYNC_LIMIT,
    Responder, Step,
};
use super::stream::MseWrite;
use super::{EncryptionPolicy, HandshakeError, MseRead, initiate, respond};

const INFO_HASH: [u8; 20] = [0x42; 20];

fn methods(policy: EncryptionPolicy) -> Methods {
    policy.methods().unwrap()
}

fn lookup(req2: &[u8; 20]) -> Option<[u8; 20]> {
    (*req2 == super::req2(&INFO_HASH)).then_some(INFO_HASH)
}

/// Runs both sides against each other in memory; `cut` truncates what the responder sees
/// of the initiator's step 3 (then the exchange stops there).
fn exchange(
    init: Methods,
    resp: Methods,
    ia: &[u8],
) -> Result<(Established, Established), MseError> {
    let mut to_resp = Vec::new();
    let mut initiator = Initiator::new(INFO_HASH, init, ia, &mut to_resp);
    let mut responder = Responder::new(resp);
    let mut to_init = Vec::new();
    let (mut a_done, mut b_done) = (None, None);
    for _ in 0..4 {
        if b_done.is_none() {
            if let Step::Done(d) = responder.advance(&to_resp, &mut to_init, &lookup)? {
                b_done = Some(d);
            }
        }
        if a_done.is_none() && !to_init.is_empty() {
            if let Step::Done(d) = initiator.advance(&to_init, &mut to_resp)? {
                a_done = Some(d);
            }
        }
    }
    Ok((a_done.unwrap(), b_done.unwrap()))
}

#[test]
fn enabled_sides_pick_a_plain_stream_and_pass_the_initial_payload() {
    let m = methods(EncryptionPolicy::Enabled);
    let (a, b) = exchange(m, m, b"initial payload").unwrap();
    assert!(a.rc4.is_none() && b.rc4.is_none());
    assert_eq!(b.payload, b"initial payload");
    assert_eq!(b.info_hash, INFO_HASH);
    assert!(a.payload.is_empty());
}

#[test]
fn forced_on_either_side_gives_rc4() {
    let (e, f) = (
        methods(EncryptionPolicy::Enabled),
        methods(EncryptionPolicy::Forced),
    );
    for (init, resp) in [(f, e), (e, f), (f, f)] {
        let (a, b) = exchange(init, resp, b"ia").unwrap();
        let (mut a_dec, mut a_enc) = a.rc4.unwrap();
        let (mut b_dec, mut b_enc) = b.rc4.unwrap();
        let mut msg = *b"from A to B";
        a_enc.apply(&mut msg);
        b_dec.apply(&mut msg);
        assert_eq!(&msg, b"from A to B");
        let mut msg = *b"from B to A";
        b_enc.apply(&mut msg);
        a_dec.apply(&mut msg);
        assert_eq!(&msg, b"from B to A");
    }
}

#[test]
fn no_common_method_is_an_error() {
    let plain_only = Methods {
        plaintext: true,
        rc4: false,
        prefer_rc4: false,
    };
    let err = exchange(methods(EncryptionPolicy::Forced), plain_only, b"")
        .err()
        .unwrap();
    assert_eq!(
        err,
        MseError::NoCommonMethod {
            provided: CRYPTO_RC4,
            allowed: CRYPTO_PLAINTEXT
        }
    );
}

#[test]
fn an_unknown_torrent_is_refused() {
    let mut to_resp = Vec::new();
    let m = methods(EncryptionPolicy::Enabled);
    let mut initiator = Initiator::new([7; 20], m, b"", &mut to_resp);
    let mut responder = Responder::new(m);
    let mut to_init = Vec::new();
    responder.advance(&to_resp, &mut to_init, &lookup).unwrap();
    initiator.advance(&to_init, &mut to_resp).unwrap();
    let err = responder.advance(&to_resp, &mut to_init, &lookup).err();
    assert_eq!(err, Some(MseError::UnknownInfoHash));
}

#[test]
fn every_truncation_of_the_initiators_stream_waits_for_more() {
    let m = methods(EncryptionPolicy::Enabled);
    let mut to_resp = Vec::new();
    let mut initiator = Initiator::new(INFO_HASH, m, b"payload", &mut to_resp);
    let mut responder = Responder::new(m);
    let mut to_init = Vec::new();
    responder.advance(&to_resp, &mut to_init, &lookup).unwrap();
    initiator.advance(&to_init, &mut to_resp).unwrap();
    // The responder is re-fed ever longer prefixes of the same stream, as a socket
    // delivering it one byte at a time would.
    for n in 0..to_resp.len() {
        let step = responder.advance(&to_resp[..n], &mut Vec::new(), &lookup);
        assert!(matches!(step, Ok(Step::NeedMore)), "at {n}: {step:?}");
    }
    let step = responder.advance(&to_resp, &mut Vec::new(), &lookup);
    assert!(matches!(step, Ok(Step::Done(_))));
    let again = responder.advance(&to_resp, &mut Vec::new(), &lookup);
    assert_eq!(again.err(), Some(MseError::Finished));
}

#[test]
fn garbage_is_an_error_or_a_wait_never_a_panic() {
    use rand::RngExt;
    let m = methods(EncryptionPolicy::Enabled);
    let mut rng = rand::rng();
    for len in [0, 1, 19, 95, 96, 97, 300, 627, 628, 629, 2000] {
        let mut garbage = vec![0u8; len];
        rng.fill(&mut garbage[..]);
        // Make sure Ya is a valid key, so the sync search is what fails.
        if len >= 96 {
            garbage[0] = 0x7f;
        }
        let step = Responder::new(m).advance(&garbage, &mut Vec::new(), &lookup);
        match step {
            Ok(Step::NeedMore) => assert!(len < RESPONDER_SYNC_LIMIT, "{len}"),
            Err(e) => assert_eq!(e, MseError::NoReq1, "{len}"),
            Ok(Step::Done(_)) => panic!("garbage completed a handshake"),
        }
        let step =
            Initiator::new(INFO_HASH, m, b"", &mut Vec::new()).advance(&garbage, &mut Vec::new());
        assert!(!matches!(step, Ok(Step::Done(_))));
    }
    // Ya of all ones is P or above: refused at once.
    let step = Responder::new(m).advance(&[0xff; 96], &mut Vec::new(), &lookup);
    assert!(matches!(step, Err(MseError::BadPublicKey(_))));
}

#[tokio::test]
async fn rc4_streams_carry_data_both_ways() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, b) = tokio::io::duplex(4096);
    let (mut ar, mut aw) = tokio::io::split(a);
    let (mut br, mut bw) = tokio::io::split(b);
    let forced = methods(EncryptionPolicy::Forced);
    let (a, b) = tokio::join!(
        initiate(&mut ar, &mut aw, INFO_HASH, forced, b"hello"),
        async {
            let mut first = [0u8; 20];
            br.read_exact(&mut first).await.unwrap();
            respond(&mut br, &mut bw, first.to_vec(), forced, &lookup).await
        }
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (a_dec, a_enc) = a.rc4.unwrap();
    let (b_dec, b_enc) = b.rc4.unwrap();
    let mut ar = MseRead::new(ar, a.payload, Some(a_dec));
    let mut aw = MseWrite::new(aw, a_enc);
    let mut br = MseRead::new(br, b.payload, Some(b_dec));
    let mut bw = MseWrite::new(bw, b_enc);

    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let send = async {
        aw.write_all(&data).await.unwrap();
        bw.write_all(&data[..1000]).await.unwrap();
    };
    let recv = async {
        let mut got = vec![0u8; 5 + data.len()];
        br.read_exact(&mut got).await.unwrap();
        let mut back = vec![0u8; 1000];
        ar.read_exact(&mut back).await.unwrap();
        (got, back)
    };
    let ((), (got, back)) = tokio::join!(send, recv);
    assert_eq!(&got[..5], b"hello");
    assert_eq!(&got[5..], &data[..]);
    assert_eq!(back, &data[..1000]);
}

#[tokio::test]
async fn a_truncated_handshake_ends_in_an_error() {
    use tokio::io::AsyncWriteExt;
    let m = methods(EncryptionPolicy::Enabled);
    let mut to_resp = Vec::new();
    let _initiator = Initiator::new(INFO_HASH, m, b"", &mut to_resp);
    let (mut a, b) = tokio::io::duplex(4096);
    let (mut br, mut bw) = tokio::io::split(b);
    a.write_all(&to_resp[..to_resp.len().min(150)])
        .await
        .unwrap();
    drop(a);
    let r = respond(&mut br, &mut bw, Vec::new(), m, &lookup).await;
    assert!(
        matches!(r, Err(HandshakeError::Closed | HandshakeError::Io(_))),
        "{r:?}"
    );
}

/// A reader that, like uTP's, advances the slices it fills.
struct Advancing(Vec<u8>);

impl tokio::io::AsyncRead for Advancing {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let k = buf.remaining().min(this.0.len());
        buf.put_slice(&this.0[..k]);
        this.0.drain(..k);
        std::task::Poll::Ready(Ok(()))
    }
}

impl crate::vectored_traits::AsyncReadVectored for Advancing {
    fn poll_read_vectored(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        mut bufs: &mut [std::io::IoSliceMut<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let mut n = 0;
        while let Some(first) = bufs.first_mut() {
            if first.is_empty() {
                bufs = &mut bufs[1..];
                continue;
            }
            if this.0.is_empty() {
                break;
            }
            let k = first.len().min(this.0.len());
            first[..k].copy_from_slice(&this.0[..k]);
            this.0.drain(..k);
            first.advance(k);
            n += k;
        }
        std::task::Poll::Ready(Ok(n))
    }
}

#[tokio::test]
async fn vectored_reads_decrypt_where_the_bytes_went_when_the_reader_advances_slices() {
    use super::crypto::Cipher;
    use crate::vectored_traits::AsyncReadVectoredExt;
    use std::io::IoSliceMut;
    let s = [3u8; 96];
    let plain: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = plain.clone();
    Cipher::new(b"keyB", &s, &INFO_HASH).apply(&mut sent);
    let cipher = Cipher::new(b"keyB", &s, &INFO_HASH);
    let mut read = MseRead::new(Advancing(sent), b"pre".to_vec(), Some(cipher));
    let mut got = Vec::new();
    loop {
        let (mut a, mut b) = ([0u8; 300], [0u8; 200]);
        let n = read
            .read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&[&a[..], &b[..]].concat()[..n]);
    }
    assert_eq!(&got[..3], b"pre");
    assert!(got[3..] == plain[..], "decrypted bytes differ");
}
