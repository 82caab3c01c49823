//! The node's HTTP server (node-to-node routes and the gateway), hardened against bad
//! clients, with an access log.
//!
//! `axum::serve` has no header timeout, so connections are served here with hyper's HTTP/1.1
//! server directly:
//! - a request's head must arrive within `header_timeout` of the connection's start or of the
//!   end of the previous answer (hyper's `header_read_timeout`, which also closes idle
//!   keep-alive connections), so a slowloris client sending a byte at a time, or nothing, is
//!   cut;
//! - an answer that makes no progress for `write_timeout` (a client that stopped reading) is
//!   abandoned ([`StallGuard`]);
//! - at most `max_connections` connections are served at once: the listener accepts the next
//!   only when one ends, so more wait in the kernel's accept queue and memory stays bounded;
//! - a request head larger than `max_header_bytes`, or with more than 100 header fields, gets
//!   `431` from hyper (malformed heads get `400`).
//!
//! HTTP/2 is not offered: browsers only speak it over TLS, which a reverse proxy in front of
//! the node terminates. Shutdown is graceful: the listener closes, connections finish their
//! answer in flight (for a few seconds at most) and close.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::config::GatewayConfig;

/// hyper refuses a read buffer smaller than this; smaller head limits are raised to it.
const MIN_HEAD_BYTES: usize = 8192;
/// How long shutdown waits for answers in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// What the server holds back against bad clients.
#[derive(Clone, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub max_header_bytes: usize,
}

impl Limits {
    pub fn from_config(config: &GatewayConfig) -> Limits {
        Limits {
            header_timeout: config.header_timeout(),
            write_timeout: config.write_timeout(),
            max_connections: usize::try_from(config.max_connections.max(1)).unwrap_or(1),
            max_header_bytes: usize::try_from(config.max_header_bytes)
                .unwrap_or(usize::MAX)
                .max(MIN_HEAD_BYTES),
        }
    }
}

/// Serves `app` on `listener` until `cancel`, then shuts down gracefully.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, cancel: CancellationToken) {
    let app = crate::node::access_log::layer(app);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = cancel.cancelled() => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = cancel.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(StallGuard::new(stream, limits.write_timeout));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move { app.call(request).await }
        });
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "HTTP connection ended: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("HTTP connections still open after {SHUTDOWN_GRACE:?}; dropped");
    }
}

/// Errors of one connection (reset before accept) are skipped; running out of file
/// descriptors or memory pauses accepting for a moment instead of spinning.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!("cannot accept HTTP connections: {e}; pausing 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A TCP stream whose writes fail once they have made no progress for `timeout`: a client
/// that stops reading an answer cannot hold its connection (and its slot) forever. Reads are
/// left alone (hyper's header timeout covers them; a body upload may pause).
pub struct StallGuard {
    stream: TcpStream,
    timeout: Duration,
    /// Armed while a write is pending.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl StallGuard {
    pub fn new(stream: TcpStream, timeout: Duration) -> StallGuard {
        StallGuard {
            stream,
            timeout,
            deadline: None,
        }
    }

    /// Polls a write-side operation, arming the deadline while it is pending.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match op(Pin::new(&mut self.stream), cx) {
            Poll::Ready(out) => {
                self.deadline = None;
                Poll::Ready(out)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let deadline = self.deadline.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep_until(Instant::now() + timeout))
                });
                ready!(deadline.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client read nothing for {timeout:?}"),
                )))
            }
        }
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().guard(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .guard(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, |s, cx| s.poll_shutdown(cx))
    }
}
