//! Request bodies: they must arrive within the body timeout (or, on the few routes that take
//! long uploads, keep coming: [`BodyDeadline::Streaming`]), a wait for bytes that have not
//! come lets the connection make way at the cap like an idle one, and routes read them with
//! a limit of their own ([`read_body`]).
//!
//! A connection waiting for a request body waits on its client exactly as one waiting for a
//! head does, so it counts as *idle* while the route waits on the body ([`TimedBody`] marks
//! it) and *busy* again as soon as bytes come. Without that, clients that send a head with
//! `Content-Length: 1000` and no body were busy for ever and locked everyone out at the cap.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{StatusCode, header};
use futures_lite::StreamExt;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::slots::Slot;
use crate::{ApiError, ErrorCode};

/// How long a request body may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyDeadline {
    /// The whole body within this of the head: every route but uploads, so a client
    /// trickling a body cannot hold a connection for longer.
    Whole(Duration),
    /// An upload: it fails once no byte came for `idle`, or `total` after the head, so a
    /// large file on a slow but steady link arrives while a stalled one is cut.
    Streaming { idle: Duration, total: Duration },
}

impl BodyDeadline {
    /// What a client is told when its body missed the deadline.
    fn explain(&self) -> String {
        match self {
            BodyDeadline::Whole(timeout) => format!(
                "the request body did not arrive within {} s",
                timeout.as_secs()
            ),
            BodyDeadline::Streaming { idle, total } => format!(
                "the upload stalled (no byte for {} s) or took longer than {} s",
                idle.as_secs(),
                total.as_secs()
            ),
        }
    }
}

/// The error a [`TimedBody`] ends with when its deadline passed before its end arrived.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.explain())]
pub struct BodyTimedOut(pub BodyDeadline);

/// A request body that fails once its deadline has passed, and marks its connection idle
/// while the route waits on it.
pub struct TimedBody {
    inner: Incoming,
    slot: Arc<Slot>,
    /// Set when the deadline passed first: the connection answers 408 and closes.
    timed_out: Arc<AtomicBool>,
    timeout: BodyDeadline,
    /// For a streaming body: the latest its end may come.
    last: Instant,
    deadline: Pin<Box<Sleep>>,
    /// The route waits for bytes that have not come (the connection is idle meanwhile).
    waiting: bool,
    /// Read to its end, or timed out.
    done: bool,
}

impl TimedBody {
    /// Wraps `inner`, which must arrive within `timeout` from now; the flag tells whether
    /// it timed out.
    pub fn new(
        inner: Incoming,
        slot: Arc<Slot>,
        timeout: BodyDeadline,
    ) -> (TimedBody, Arc<AtomicBool>) {
        let timed_out = Arc::new(AtomicBool::new(false));
        let now = Instant::now();
        let (first, last) = match timeout {
            BodyDeadline::Whole(whole) => (now + whole, now + whole),
            BodyDeadline::Streaming { idle, total } => ((now + idle).min(now + total), now + total),
        };
        let body = TimedBody {
            inner,
            slot,
            timed_out: timed_out.clone(),
            timeout,
            last,
            deadline: Box::pin(tokio::time::sleep_until(first)),
            waiting: false,
            done: false,
        };
        (body, timed_out)
    }

    /// Bytes came: a streaming body has `idle` again (never past its total).
    fn progressed(&mut self) {
        if let BodyDeadline::Streaming { idle, .. } = self.timeout {
            let next = (Instant::now() + idle).min(self.last);
            self.deadline.as_mut().reset(next);
        }
    }

    fn set_waiting(&mut self, waiting: bool) {
        if self.waiting == waiting {
            return;
        }
        self.waiting = waiting;
        if waiting {
            self.slot.idle();
        } else {
            self.slot.busy();
        }
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.set_waiting(false);
                this.progressed();
                this.done = frame.is_none() || this.inner.is_end_stream();
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.set_waiting(false);
                    this.done = true;
                    this.timed_out.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.timeout)))));
                }
                this.set_waiting(true);
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TimedBody {
    fn drop(&mut self) {
        // The route goes on without the rest of the body: the connection is its again.
        self.set_waiting(false);
    }
}

/// The answer to a request whose body did not arrive in time; the connection closes after
/// it (what is left of the body cannot be told from a next request).
pub fn timed_out_answer(timeout: BodyDeadline) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = body_timeout_error(timeout).into_response();
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

fn body_timeout_error(timeout: BodyDeadline) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::BodyTimeout,
        timeout.explain(),
    )
}

/// A route's whole request body, at most `limit` bytes: `413 too_large` when its
/// `Content-Length` or its bytes say it is larger (refused before reading anything when
/// the length is declared), `408 body_timeout` when it did not arrive in time, `400
/// bad_body` when the client broke it off.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!("this route takes a body of at most {limit} bytes"),
        )
    };
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit));
    let mut bytes = Vec::with_capacity(capacity.min(limit));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| match timed_out(&e) {
            Some(timeout) => body_timeout_error(timeout),
            None => ApiError::bad_request(ErrorCode::BadBody, format!("cannot read the body: {e}")),
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(bytes))
}

/// The timeout, if `error` (or an error it wraps) is a [`BodyTimedOut`].
fn timed_out(error: &axum::Error) -> Option<BodyDeadline> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(BodyTimedOut(timeout)) = e.downcast_ref::<BodyTimedOut>() {
            return Some(*timeout);
        }
        source = e.source();
    }
    None
}
