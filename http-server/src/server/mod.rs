//! The node's HTTP server (node-to-node routes and the gateway), hardened against bad
//! clients, with an access log.
//!
//! `axum::serve` has no header timeout, so connections are served here with hyper's HTTP/1.1
//! server directly:
//! - a request's head must arrive within `header_timeout` of the connection's start or of the
//!   end of the previous answer (hyper's `header_read_timeout`, which also closes idle
//!   keep-alive connections), so a slowloris client sending a byte at a time, or nothing, is
//!   cut;
//! - a request's body must arrive within `body_timeout` of its head, or the request is
//!   answered `408` and its connection closed (the routes named in `long_bodies`, uploads,
//!   instead fail when no byte came for their idle time, or after their total time); while
//!   a route waits for body bytes that have
//!   not come, its connection counts as idle (it waits on its client, as one waiting for a
//!   head does) and makes way at the cap like one ([`body`]). Routes read bodies with a
//!   limit of their own ([`read_body`]), after their rate limits;
//! - an answer that makes no progress for `write_timeout` (a client that stopped reading) is
//!   abandoned ([`StallGuard`]);
//! - at most `max_connections` connections are open at once; at the cap a new connection
//!   takes the place of the one idle longest (waiting for a request head) once that one has
//!   been idle for a second (a quarter of the header timeout if shorter), so a crowd of
//!   silent clients cannot keep out real ones; while none can make way, more wait in the
//!   kernel's accept queue ([`slots`]); memory stays bounded either way;
//! - the listener's accept queue holds [`LISTEN_BACKLOG`] connections (the kernel caps it at
//!   `net.core.somaxconn`; tokio's default is 1,024), so a burst of connections is accepted
//!   and dealt with by the rules above instead of stalling in SYN retries;
//! - a request head larger than `max_header_bytes`, or with more than 100 header fields, gets
//!   `431` from hyper (malformed heads get `400`).
//!
//! Every answer carries `X-Content-Type-Options: nosniff` (node routes and gateway alike):
//! no browser guesses a type the node did not say.
//!
//! Each answer is logged ([`access_log`](super::access_log)) when its body ends, without
//! a router middleware: the server wraps the body itself.
//!
//! HTTP/2 is not offered: browsers only speak it over TLS, which a reverse proxy in front of
//! the node terminates. Shutdown is graceful: the listener closes, connections finish their
//! answer in flight (for a few seconds at most) and close.

mod body;
mod slots;
mod stall;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, header};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::access_log;
use crate::config::GatewayConfig;
use body::TimedBody;
pub use body::{BodyDeadline, read_body};
use slots::{Slot, Slots};
pub use stall::StallGuard;

/// hyper refuses a read buffer smaller than this; smaller head limits are raised to it.
const MIN_HEAD_BYTES: usize = 8192;
/// The listen backlog asked for; Linux caps it at `net.core.somaxconn` (4,096 by default
/// since 5.4).
pub const LISTEN_BACKLOG: u32 = 4096;
/// How long shutdown waits for answers in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// What the server holds back against bad clients.
#[derive(Clone, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub max_header_bytes: usize,
    /// Path prefixes whose rest holds a secret (a mailed token): the access log writes
    /// `[redacted]` instead. The node passes `accounts::TOKEN_PATH_PREFIXES`.
    pub redacted_paths: &'static [&'static str],
    /// Routes whose bodies are uploads, timed as a stream instead of by `body_timeout`.
    pub long_bodies: Vec<LongBody>,
}

/// A route taking uploads: `POST` bodies to exactly this path may take long as long as
/// bytes keep coming ([`BodyDeadline::Streaming`]).
#[derive(Clone, Debug)]
pub struct LongBody {
    pub path: &'static str,
    /// No byte for this long fails the body.
    pub idle: Duration,
    /// The whole body within this of its head, however steady.
    pub total: Duration,
}

impl Limits {
    pub fn from_config(config: &GatewayConfig) -> Limits {
        Limits {
            header_timeout: config.header_timeout(),
            body_timeout: config.body_timeout(),
            write_timeout: config.write_timeout(),
            max_connections: usize::try_from(config.max_connections.max(1)).unwrap_or(1),
            max_header_bytes: usize::try_from(config.max_header_bytes)
                .unwrap_or(usize::MAX)
                .max(MIN_HEAD_BYTES),
            redacted_paths: &[],
            long_bodies: Vec::new(),
        }
    }

    /// How long the body of `method path` may take.
    fn body_deadline(&self, method: &axum::http::Method, path: &str) -> BodyDeadline {
        match self.long_bodies.iter().find(|l| l.path == path) {
            Some(long) if method == axum::http::Method::POST => BodyDeadline::Streaming {
                idle: long.idle,
                total: long.total,
            },
            _ => BodyDeadline::Whole(self.body_timeout),
        }
    }
}

/// The HTTP listener on `address`, with an accept queue of [`LISTEN_BACKLOG`].
pub fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` on `listener` until `cancel`, then shuts down gracefully.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, cancel: CancellationToken) {
    let limits = Arc::new(limits);
    let slots = Slots::new(limits.max_connections, min_idle(limits.header_timeout));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);
    loop {
        tokio::select! {
            () = slots.ready() => {}
            () = cancel.cancelled() => break,
        }
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
        let (slot, evicted) = slots.open();
        let slot = Arc::new(slot);
        let io = TokioIo::new(StallGuard::new(stream, limits.write_timeout));
        let service = Connection {
            app: app.clone(),
            peer,
            slot: slot.clone(),
            limits: limits.clone(),
        };
        let connection = graceful.watch(http.serve_connection(io, service));
        drop(slot);
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => if let Err(e) = ended {
                    tracing::debug!(%peer, "HTTP connection ended: {e}");
                },
                Ok(()) = evicted => {
                    tracing::debug!(%peer, "idle HTTP connection closed to make way for a new one");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("HTTP connections still open after {SHUTDOWN_GRACE:?}; dropped");
    }
    crate::log::flush();
}

/// One connection's service: marks the connection busy for each request, hands the request
/// (its body timed) to the router and wraps its answer's body in an [`Answer`].
struct Connection {
    app: Router,
    peer: SocketAddr,
    slot: Arc<Slot>,
    limits: Arc<Limits>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Connection {
    type Response = hyper::Response<Answer>;
    type Error = Infallible;
    type Future = ConnectionFuture;

    fn call(&self, mut request: hyper::Request<Incoming>) -> ConnectionFuture {
        self.slot.busy();
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let log = access_log::enabled()
            .then(|| access_log::Start::new(&request, self.peer, self.limits.redacted_paths));
        let (parts, incoming) = request.into_parts();
        let deadline = self.limits.body_deadline(&parts.method, parts.uri.path());
        let (body, timed_out) = if incoming.is_end_stream() {
            (Body::new(incoming), None)
        } else {
            let (body, timed_out) = TimedBody::new(incoming, self.slot.clone(), deadline);
            (Body::new(body), Some(timed_out))
        };
        // `Router::call` needs `&mut`; its clone is one reference count.
        let routed = self
            .app
            .clone()
            .call(axum::http::Request::from_parts(parts, body));
        ConnectionFuture {
            routed,
            timed_out,
            body_timeout: deadline,
            done: Some((log, self.slot.clone())),
        }
    }
}

struct ConnectionFuture {
    routed: axum::routing::future::RouteFuture<Infallible>,
    /// Set when the request's body did not arrive in time.
    timed_out: Option<Arc<AtomicBool>>,
    body_timeout: BodyDeadline,
    done: Option<(Option<access_log::Start>, Arc<Slot>)>,
}

impl std::future::Future for ConnectionFuture {
    type Output = Result<hyper::Response<Answer>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Ok(mut response) = std::task::ready!(Pin::new(&mut this.routed).poll(cx));
        if this
            .timed_out
            .as_ref()
            .is_some_and(|t| t.load(Ordering::Acquire))
        {
            // Whatever the route made of the failed body: 408, and the connection closes.
            response = body::timed_out_answer(this.body_timeout);
        }
        response.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        let (log, slot) = this.done.take().unzip();
        let log = log.flatten();
        let status = response.status();
        Poll::Ready(Ok(response.map(|inner| Answer {
            inner,
            bytes: 0,
            log: log.map(|start| (start, status)),
            slot,
        })))
    }
}

/// An answer's body as hyper sends it: counts the bytes handed over and, when dropped (the
/// body ended, or the client went away), logs the request and marks the connection idle.
pub struct Answer {
    inner: Body,
    bytes: u64,
    log: Option<(access_log::Start, axum::http::StatusCode)>,
    slot: Option<Arc<Slot>>,
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some((start, status)) = self.log.take() {
            start.finish(status, self.bytes);
        }
        if let Some(slot) = self.slot.take() {
            slot.idle();
        }
    }
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How long a connection must have been idle before it makes way for a new one at the cap:
/// long enough for any real client to send its head after connecting, short beside the
/// header timeout.
fn min_idle(header_timeout: Duration) -> Duration {
    (header_timeout / 4).min(Duration::from_secs(1))
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
