//! Reading a torrent's file while it downloads (for the gateway).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};

trait ReadSeek: AsyncRead + AsyncSeek + Send + Unpin {}
impl<T: AsyncRead + AsyncSeek + Send + Unpin> ReadSeek for T {}

/// One file of a torrent as `AsyncRead + AsyncSeek`: reads wait for missing pieces, and the
/// pieces around the read position are fetched first.
///
/// Meant for data not yet local: each open stream holds one of the engine's blocking-I/O
/// permits (shared with data checks and adds), so serve complete files straight from disk.
pub struct TorrentFileStream {
    inner: Box<dyn ReadSeek>,
    len: u64,
}

impl TorrentFileStream {
    pub(crate) fn new(
        inner: impl AsyncRead + AsyncSeek + Send + Unpin + 'static,
        len: u64,
    ) -> Self {
        TorrentFileStream {
            inner: Box::new(inner),
            len,
        }
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for TorrentFileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentFileStream")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for TorrentFileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_read(cx, buf)
    }
}

impl AsyncSeek for TorrentFileStream {
    fn start_seek(mut self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        Pin::new(&mut *self.inner).start_seek(position)
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut *self.inner).poll_complete(cx)
    }
}
