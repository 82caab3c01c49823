//! Access log: one INFO event per answered request on the target `swarmfeed::access`
//! (filter it with `SWARMFEED_LOG=info,swarmfeed::access=off`), written when the answer's
//! body ends or the client goes away: peer, method, path, status, body bytes sent, duration.
//! A transfer cut short shows fewer bytes than the file.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// The log target.
pub const TARGET: &str = "swarmfeed::access";

/// `app` with every request logged.
pub fn layer(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(log_request))
}

async fn log_request(request: Request, next: Next) -> Response {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return next.run(request).await;
    }
    let start = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let method = request.method().clone();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let response = next.run(request).await;
    let status = response.status();
    response.map(|inner| {
        Body::new(LoggedBody {
            inner,
            record: Record {
                start,
                peer,
                method,
                path,
                status,
                bytes: 0,
            },
        })
    })
}

struct Record {
    start: Instant,
    peer: Option<SocketAddr>,
    method: Method,
    path: String,
    status: StatusCode,
    bytes: u64,
}

impl Drop for Record {
    fn drop(&mut self) {
        let micros = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let peer = self
            .peer
            .map_or_else(|| "-".to_owned(), |p| p.ip().to_string());
        tracing::info!(
            target: TARGET,
            peer = %peer,
            method = %self.method,
            path = %self.path,
            status = self.status.as_u16(),
            bytes = self.bytes,
            micros,
        );
    }
}

/// The answer's body, counting what it hands to hyper; logs when dropped.
struct LoggedBody {
    inner: Body,
    record: Record,
}

impl HttpBody for LoggedBody {
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
            this.record.bytes += data.len() as u64;
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
