//! Running the handshake over a connection, and the connection's halves afterwards:
//! [`MseRead`] hands out what arrived with the handshake first and decrypts the rest,
//! [`MseWrite`] encrypts.

use std::{
    io::IoSliceMut,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::crypto::Cipher;
use super::handshake::{Established, Initiator, Methods, MseError, Responder, Step};
use crate::type_aliases::{BoxAsyncReadVectored, BoxAsyncWrite};
use crate::vectored_traits::AsyncReadVectored;

/// Longest handshake we read: the responder's sync window, the hidden infohash, VC,
/// crypto_provide, PadC's length, PadC, IA's length and the largest IA.
const MAX_HANDSHAKE: usize = super::handshake::RESPONDER_SYNC_LIMIT
    + 20
    + 8
    + 4
    + 2
    + super::handshake::PAD_MAX
    + 2
    + u16::MAX as usize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Protocol(#[from] MseError),
    #[error("I/O error in the MSE handshake: {0}")]
    Io(#[from] std::io::Error),
    #[error("the peer closed the connection during the MSE handshake")]
    Closed,
}

/// Reads a little more of the peer's handshake into `buf`.
async fn read_more<R: AsyncRead + Unpin>(read: &mut R, buf: &mut Vec<u8>) -> Result<(), Error> {
    let start = buf.len();
    let want = 4096.min(MAX_HANDSHAKE.saturating_sub(start)).max(1);
    buf.resize(start + want, 0);
    let n = read.read(&mut buf[start..]).await;
    buf.truncate(start + *n.as_ref().unwrap_or(&0));
    match n? {
        0 => Err(Error::Closed),
        _ => Ok(()),
    }
}

async fn send<W: AsyncWrite + Unpin>(write: &mut W, out: &mut Vec<u8>) -> Result<(), Error> {
    if !out.is_empty() {
        write.write_all(out).await?;
        out.clear();
    }
    Ok(())
}

/// Makes an encrypted handshake for `info_hash` over a new connection; `initial_payload`
/// (the BitTorrent handshake) goes with it.
pub(crate) async fn initiate<R, W>(
    read: &mut R,
    write: &mut W,
    info_hash: [u8; 20],
    methods: Methods,
    initial_payload: &[u8],
) -> Result<Established, Error>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut out = Vec::new();
    let mut initiator = Initiator::new(info_hash, methods, initial_payload, &mut out);
    let mut buf = Vec::new();
    loop {
        send(write, &mut out).await?;
        read_more(read, &mut buf).await?;
        if let Step::Done(done) = initiator.advance(&buf, &mut out)? {
            send(write, &mut out).await?;
            return Ok(done);
        }
    }
}

/// Answers an encrypted handshake whose first bytes are `received`; `lookup` maps
/// HASH('req2', infohash) to the infohash of a torrent held.
pub(crate) async fn respond<R, W>(
    read: &mut R,
    write: &mut W,
    received: Vec<u8>,
    methods: Methods,
    lookup: &(dyn Fn(&[u8; 20]) -> Option<[u8; 20]> + Sync),
) -> Result<Established, Error>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut responder = Responder::new(methods);
    let mut out = Vec::new();
    let mut buf = received;
    loop {
        let step = responder.advance(&buf, &mut out, lookup)?;
        send(write, &mut out).await?;
        match step {
            Step::Done(done) => return Ok(done),
            Step::NeedMore => read_more(read, &mut buf).await?,
        }
    }
}

/// The connection's halves for the payload stream after `done`.
pub(crate) fn wrap(
    read: BoxAsyncReadVectored,
    write: BoxAsyncWrite,
    done: Established,
) -> (BoxAsyncReadVectored, BoxAsyncWrite) {
    match done.rc4 {
        Some((dec, enc)) => (
            Box::new(MseRead::new(read, done.payload, Some(dec))),
            Box::new(MseWrite::new(write, enc)),
        ),
        None => (Box::new(MseRead::new(read, done.payload, None)), write),
    }
}

/// The read half after the handshake: first the payload that came with it, then the
/// connection, decrypted if the stream is RC4.
pub(crate) struct MseRead<R> {
    inner: R,
    prefix: Vec<u8>,
    prefix_pos: usize,
    cipher: Option<Cipher>,
}

impl<R> MseRead<R> {
    pub fn new(inner: R, prefix: Vec<u8>, cipher: Option<Cipher>) -> Self {
        MseRead {
            inner,
            prefix,
            prefix_pos: 0,
            cipher,
        }
    }

    /// Copies from the prefix; `None` once it is used up.
    fn from_prefix(&mut self, dst: &mut [u8]) -> Option<usize> {
        let rest = self.prefix.get(self.prefix_pos..).unwrap_or_default();
        if rest.is_empty() {
            if !self.prefix.is_empty() {
                self.prefix = Vec::new();
                self.prefix_pos = 0;
            }
            return None;
        }
        let n = rest.len().min(dst.len());
        dst[..n].copy_from_slice(&rest[..n]);
        self.prefix_pos += n;
        Some(n)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for MseRead<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some(n) = this.from_prefix(buf.initialize_unfilled()) {
            buf.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Some(cipher) = this.cipher.as_mut() {
            cipher.apply(&mut buf.filled_mut()[before..]);
        }
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncReadVectored + Unpin> AsyncReadVectored for MseRead<R> {
    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        vec: &mut [IoSliceMut<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if let Some(first) = vec.iter_mut().find(|s| !s.is_empty()) {
            if let Some(n) = this.from_prefix(first) {
                return Poll::Ready(Ok(n));
            }
        }
        let Some(cipher) = this.cipher.as_mut() else {
            return Pin::new(&mut this.inner).poll_read_vectored(cx, vec);
        };
        // Readers may advance the slices they are given (uTP's does), so the inner read
        // gets fresh slices over the first two of ours, and ours say where the bytes went.
        let n = match vec {
            [] => 0,
            [a] => {
                let mut fresh = [IoSliceMut::new(a)];
                std::task::ready!(Pin::new(&mut this.inner).poll_read_vectored(cx, &mut fresh))?
            }
            [a, b, ..] => {
                let mut fresh = [IoSliceMut::new(a), IoSliceMut::new(b)];
                std::task::ready!(Pin::new(&mut this.inner).poll_read_vectored(cx, &mut fresh))?
            }
        };
        {
            let mut left = n;
            for slice in vec.iter_mut() {
                if left == 0 {
                    break;
                }
                let k = left.min(slice.len());
                cipher.apply(&mut slice[..k]);
                left -= k;
            }
        }
        Poll::Ready(Ok(n))
    }
}

/// Most bytes encrypted per write.
const WRITE_CHUNK: usize = 64 * 1024;

/// The write half of an RC4 payload stream.
///
/// A write encrypts (part of) the caller's bytes into a buffer and reports them written
/// once the buffer has reached the connection. Encrypting moves the RC4 stream on, so a
/// write that returned `Pending` must be retried with the same bytes, as `write_all` and
/// every writer of this crate do (like a TLS stream, the bytes were taken).
pub(crate) struct MseWrite<W> {
    inner: W,
    cipher: Cipher,
    pending: Vec<u8>,
    sent: usize,
}

impl<W> MseWrite<W> {
    pub fn new(inner: W, cipher: Cipher) -> Self {
        MseWrite {
            inner,
            cipher,
            pending: Vec::new(),
            sent: 0,
        }
    }
}

impl<W: AsyncWrite + Unpin> MseWrite<W> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = std::task::ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for MseWrite<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_empty() {
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let n = buf.len().min(WRITE_CHUNK);
            this.pending.extend_from_slice(&buf[..n]);
            this.cipher.apply(&mut this.pending);
            this.sent = 0;
        }
        std::task::ready!(this.poll_pending(cx))?;
        let n = this.pending.len();
        this.pending.clear();
        this.sent = 0;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
