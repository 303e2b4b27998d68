//! The local HTTP server behind `serve`: the router on hyper's HTTP/1 connection builder,
//! with the limits `axum::serve` does not set (it has no timer, so a client could hold a
//! connection open forever by never finishing its headers, trickling its body or idling).
//!
//! In Lambda none of this runs: API Gateway reads the whole request before invoking the
//! function, and applies its own timeouts and limits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::config::ConfigError;

/// How long and how many: each bounds what one slow or idle client can hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// A connection must deliver a complete request head this soon after it opens (hyper's
    /// header timer; it also runs while a keep-alive connection waits for its next request).
    pub header_read_timeout: Duration,
    /// A request body must have arrived in full this soon after its head: a total deadline,
    /// not a per-read one, so trickling a byte at a time does not extend it. Over it: 408.
    pub body_read_timeout: Duration,
    /// A connection with no request in progress is closed this long after its last answer.
    pub idle_timeout: Duration,
    /// Connections served at once. More wait in the listen backlog, untouched, until one
    /// closes; the timeouts above guarantee that one does. Kept well below the usual file
    /// limit (1024) so the accept loop never fails for want of descriptors.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_connections: 256,
        }
    }
}

impl ServerLimits {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        // An hour bounds every timeout: a larger one is no protection.
        let num = |name: &'static str, default: u64, max: u64| match lookup(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|v| (1..=max).contains(v))
                .ok_or(ConfigError {
                    name,
                    value: raw,
                    expected: "a positive whole number (timeouts: at most 3600)",
                }),
        };
        let secs =
            |name, default: Duration| num(name, default.as_secs(), 3600).map(Duration::from_secs);
        Ok(Self {
            header_read_timeout: secs("HTTP_HEADER_READ_TIMEOUT_SECONDS", d.header_read_timeout)?,
            body_read_timeout: secs("HTTP_BODY_READ_TIMEOUT_SECONDS", d.body_read_timeout)?,
            idle_timeout: secs("HTTP_IDLE_TIMEOUT_SECONDS", d.idle_timeout)?,
            max_connections: num("HTTP_MAX_CONNECTIONS", d.max_connections as u64, 1_000_000)?
                as usize,
        })
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in progress
/// finish (idle connections close at once) and returns.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        // A slot first, then accept: at the cap the next client waits in the backlog rather
        // than being accepted and left hanging, and no descriptor is spent on it yet.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed; leaving is the only sane answer if it were
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors or a connection reset before accept: the loop must
                    // survive it. A short pause keeps EMFILE from spinning the CPU.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let activity = Activity::default();
        let service = {
            let activity = activity.clone();
            let router = router.clone();
            let body_timeout = limits.body_read_timeout;
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let busy = activity.begin();
                let mut request: Request =
                    request.map(|body| Body::new(DeadlineBody::new(body, body_timeout)));
                request.extensions_mut().insert(PeerAddr(peer.ip()));
                let router = router.clone();
                async move {
                    let response = router.oneshot(request).await;
                    drop(busy);
                    response
                }
            })
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let idle_timeout = limits.idle_timeout;
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let _slot = permit;
            tokio::pin!(connection);
            let mut closing = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                        break;
                    }
                    () = activity.idle_for(idle_timeout), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    _ = stopping.changed(), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: having them all back means all ended.
    let _ = slots.acquire_many(limits.max_connections as u32).await;
}

/// The address a request's connection came from, for the samples of refused requests (on
/// Lambda, API Gateway's `sourceIp` says it instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::IpAddr);

/// Requests in progress on one connection, and whether it has answered one yet.
#[derive(Clone)]
struct Activity {
    state: Arc<watch::Sender<(usize, bool)>>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            state: Arc::new(watch::Sender::new((0, false))),
        }
    }
}

struct Busy(Arc<watch::Sender<(usize, bool)>>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.send_modify(|(in_flight, answered)| {
            *in_flight -= 1;
            *answered = true;
        });
    }
}

impl Activity {
    fn begin(&self) -> Busy {
        self.state.send_modify(|(in_flight, _)| *in_flight += 1);
        Busy(self.state.clone())
    }

    /// Resolves once the connection has answered at least one request and then stayed without
    /// one for `timeout`. Before the first answer, hyper's header timer is what bounds a
    /// connection, so a slow first request head gets the header timeout, not this one.
    async fn idle_for(&self, timeout: Duration) {
        let mut state = self.state.subscribe();
        loop {
            let (in_flight, answered) = *state.borrow_and_update();
            if in_flight == 0 && answered {
                tokio::select! {
                    () = tokio::time::sleep(timeout) => return,
                    _ = state.changed() => {}
                }
            } else if state.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The body did not arrive in full within the allowed time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {allowed:?}")]
pub struct BodyDeadlineElapsed {
    pub allowed: Duration,
}

pin_project_lite::pin_project! {
    /// A request body with one deadline for the whole of it. tower-http's `TimeoutBody`
    /// times each read separately, which a client sending a byte a second never trips.
    pub struct DeadlineBody<B> {
        #[pin]
        inner: B,
        #[pin]
        deadline: tokio::time::Sleep,
        allowed: Duration,
    }
}

impl<B> DeadlineBody<B> {
    pub fn new(inner: B, allowed: Duration) -> Self {
        Self {
            inner,
            deadline: tokio::time::sleep(allowed),
            allowed,
        }
    }
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        // Data already here is taken even at the deadline: only waiting is cut short.
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.poll(cx).is_ready() {
            let elapsed = BodyDeadlineElapsed {
                allowed: *this.allowed,
            };
            return Poll::Ready(Some(Err(Box::new(elapsed))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::convert::Infallible;

    #[test]
    fn defaults_and_overrides() {
        let d = ServerLimits::from_lookup(|_| None).expect("defaults");
        assert_eq!(d, ServerLimits::default());
        assert!(d.header_read_timeout <= Duration::from_secs(10));
        let c = ServerLimits::from_lookup(|n| match n {
            "HTTP_HEADER_READ_TIMEOUT_SECONDS" => Some("3".into()),
            "HTTP_BODY_READ_TIMEOUT_SECONDS" => Some("4".into()),
            "HTTP_IDLE_TIMEOUT_SECONDS" => Some("2".into()),
            "HTTP_MAX_CONNECTIONS" => Some("7".into()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(
            c,
            ServerLimits {
                header_read_timeout: Duration::from_secs(3),
                body_read_timeout: Duration::from_secs(4),
                idle_timeout: Duration::from_secs(2),
                max_connections: 7,
            }
        );
    }

    #[test]
    fn zero_or_absurd_limits_are_refused_at_start_up() {
        for (name, value) in [
            ("HTTP_HEADER_READ_TIMEOUT_SECONDS", "0"),
            ("HTTP_BODY_READ_TIMEOUT_SECONDS", "99999"),
            ("HTTP_IDLE_TIMEOUT_SECONDS", "soon"),
            ("HTTP_MAX_CONNECTIONS", "0"),
        ] {
            let err = ServerLimits::from_lookup(|n| (n == name).then(|| value.to_owned()))
                .expect_err(name);
            assert_eq!(err.name, name);
        }
    }

    /// Paused time: the deadline is checked without waiting for it.
    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_finishes_fails_at_the_deadline() {
        let (_tx, body) = pending_body();
        let body = DeadlineBody::new(body, Duration::from_secs(3));
        let err = body.collect().await.expect_err("must not finish");
        assert!(err.downcast_ref::<BodyDeadlineElapsed>().is_some(), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_is_all_there_is_read_whole() {
        let body = DeadlineBody::new(Body::from("{}"), Duration::from_secs(3));
        let bytes = body.collect().await.expect("read").to_bytes();
        assert_eq!(&bytes[..], b"{}");
    }

    /// A body that stays pending until its sender is dropped: a client that went quiet.
    fn pending_body() -> (tokio::sync::oneshot::Sender<()>, Body) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        struct Pending(tokio::sync::oneshot::Receiver<()>);
        impl http_body::Body for Pending {
            type Data = axum::body::Bytes;
            type Error = Infallible;
            fn poll_frame(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
                match Pin::new(&mut self.0).poll(cx) {
                    Poll::Ready(_) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
        (tx, Body::new(Pending(rx)))
    }
}
