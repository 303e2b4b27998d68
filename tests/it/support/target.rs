//! An HTTP server the workflow steps call: it listens on 127.0.0.1 (port 0), keeps every
//! request it receives, and answers from a script the test writes.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

/// One answer of the script.
#[derive(Debug, Clone)]
pub enum Answer {
    /// This status, these headers, this body.
    Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Reads the request, then never answers (the connection stays open).
    Hang,
    /// Waits this long, then gives the answer (a slow receiver, to see requests overlap).
    After(Duration, Box<Answer>),
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self::Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self::Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn with_header(self, name: &str, value: &str) -> Self {
        match self {
            Self::Reply {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.to_owned(), value.to_owned()));
                Self::Reply {
                    status,
                    headers,
                    body,
                }
            }
            Self::Hang => Self::Hang,
            Self::After(wait, answer) => {
                Self::After(wait, Box::new(answer.with_header(name, value)))
            }
        }
    }

    /// This answer, given only after `wait`.
    pub fn after(self, wait: Duration) -> Self {
        Self::After(wait, Box::new(self))
    }
}

/// A request as the target received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; fails the test when it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

#[derive(Default)]
struct Shared {
    /// Answers still to give, in order; the last one repeats once the others are used.
    script: VecDeque<Answer>,
    last: Option<Answer>,
    /// Answers by request path, given every time that path is asked for, before the script.
    routes: BTreeMap<String, Answer>,
    received: Vec<Received>,
    /// Requests received and not yet answered (or given up by the client), and the most
    /// there ever were at once.
    in_flight: usize,
    max_in_flight: usize,
}

/// Counts a request out of `in_flight` however its handler ends (answered, or dropped when
/// the client goes away).
struct InFlight(Arc<Mutex<Shared>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut shared) = self.0.lock() {
            shared.in_flight = shared.in_flight.saturating_sub(1);
        }
    }
}

#[derive(Clone)]
pub struct Target {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl Target {
    /// Answers `script` in order, then repeats its last answer.
    pub async fn start(script: Vec<Answer>) -> Self {
        Self::start_routed(script, Vec::new()).await
    }

    /// Answers a request for one of `routes`' paths with that path's answer (every time),
    /// and any other request from `script`, as [`Target::start`] does.
    pub async fn start_routed(script: Vec<Answer>, routes: Vec<(&str, Answer)>) -> Self {
        assert!(!script.is_empty(), "a target needs at least one answer");
        let shared = Arc::new(Mutex::new(Shared {
            script: script.into(),
            routes: routes
                .into_iter()
                .map(|(path, answer)| (path.to_owned(), answer))
                .collect(),
            ..Default::default()
        }));
        let router = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("target serves");
        });
        Self { addr, shared }
    }

    /// Always `200 {"ok": true}`.
    pub async fn ok() -> Self {
        Self::start(vec![Answer::json(200, serde_json::json!({"ok": true}))]).await
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().expect("lock").received.clone()
    }

    pub fn count(&self) -> usize {
        self.shared.lock().expect("lock").received.len()
    }

    /// The most requests this target held at once (received, not yet answered).
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().expect("lock").max_in_flight
    }

    /// The `Idempotency-Key` of each request received, in order (`<none>` without one).
    pub fn idempotency_keys(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.header("idempotency-key").unwrap_or("<none>").to_owned())
            .collect()
    }

    /// The one request received; fails the test, listing them, when there is not exactly one.
    #[track_caller]
    pub fn only_request(&self) -> Received {
        let received = self.received();
        assert_eq!(received.len(), 1, "expected one request, got {received:?}");
        received.into_iter().next().expect("one")
    }

    /// Waits until at least `n` requests arrived (for a step running in another task).
    pub async fn wait_for(&self, n: usize) {
        for _ in 0..1000 {
            if self.count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the target received {} requests, never {n}", self.count());
    }
}

async fn answer(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let in_flight = InFlight(Arc::clone(&shared));
    let next = {
        let mut shared = shared.lock().expect("lock");
        shared.in_flight += 1;
        shared.max_in_flight = shared.max_in_flight.max(shared.in_flight);
        let routed = shared.routes.get(uri.path()).cloned();
        shared.received.push(Received {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query,
            headers,
            body,
        });
        match routed {
            Some(answer) => answer,
            None => {
                let next = match shared.script.pop_front() {
                    Some(next) => next,
                    None => shared.last.clone().expect("a last answer"),
                };
                shared.last = Some(next.clone());
                next
            }
        }
    };
    let response = reply(next).await;
    drop(in_flight);
    response
}

async fn reply(mut next: Answer) -> Response {
    loop {
        match next {
            Answer::After(wait, answer) => {
                tokio::time::sleep(wait).await;
                next = *answer;
            }
            other => {
                next = other;
                break;
            }
        }
    }
    match next {
        Answer::Hang | Answer::After(..) => std::future::pending().await,
        Answer::Reply {
            status,
            headers,
            body,
        } => {
            let mut response =
                Response::builder().status(StatusCode::from_u16(status).expect("status"));
            for (name, value) in headers {
                response = response.header(name, value);
            }
            response.body(Body::from(body)).expect("response")
        }
    }
}
