//! The client against real servers on 127.0.0.1 started by each test. Refusals of other
//! addresses are proved with addresses the guard refuses before any connection is attempted
//! (127.0.0.2 when only 127.0.0.1/32 is allowed); nothing here sends traffic anywhere else.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};

use super::*;

#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Server {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

async fn record(
    State(server): State<Server>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    server.received.lock().expect("lock").push(Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
    });
    (
        StatusCode::CREATED,
        [("X-Reply", "Yes"), ("content-type", "text/plain")],
        "hello",
    )
}

fn redirect_to(location: String) -> impl IntoResponse {
    (StatusCode::FOUND, [(header::LOCATION, location)])
}

/// An axum server on 127.0.0.1:0 that records what reaches `/echo`.
async fn start_server() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let server = Server {
        port,
        received: Arc::default(),
    };
    let app = Router::new()
        .route("/echo", any(record))
        .route(
            "/to-other-loopback",
            get(|State(s): State<Server>| async move {
                redirect_to(format!("http://127.0.0.2:{}/echo", s.port))
            }),
        )
        .route(
            "/to-echo",
            get(|| async { redirect_to("/echo".to_owned()) }),
        )
        .route(
            "/to-ftp",
            get(|| async { redirect_to("ftp://127.0.0.1/x".to_owned()) }),
        )
        .route("/loop", get(|| async { redirect_to("/loop".to_owned()) }))
        .route("/big", get(|| async { vec![b'x'; 100_000] }))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    server
}

/// A server on 127.0.0.1 that accepts connections and never answers.
async fn start_silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

fn allowing_loopback_one() -> GuardedHttpClient {
    GuardedHttpClient::new(
        AddressPolicy::from_env_value(Some("127.0.0.1/32")).expect("policy"),
        DEFAULT_BODY_CAP,
    )
}

fn get_request(url: String) -> OutboundRequest {
    OutboundRequest {
        method: "GET".to_owned(),
        url,
        headers: Vec::new(),
        body: None,
        timeout: Duration::from_secs(10),
        follow_redirects: false,
    }
}

fn refused(result: Result<OutboundResponse, OutboundError>) -> String {
    match result {
        Err(OutboundError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn allow_listed_destination_receives_method_headers_and_body() {
    let server = start_server().await;
    let client = allowing_loopback_one();
    let response = client
        .send(OutboundRequest {
            method: "PUT".to_owned(),
            url: format!("http://127.0.0.1:{}/echo?x=1", server.port),
            headers: vec![
                ("X-Token".to_owned(), "abc".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ],
            body: Some(br#"{"a":1}"#.to_vec()),
            timeout: Duration::from_secs(10),
            follow_redirects: false,
        })
        .await
        .expect("sent");

    assert_eq!(response.status, 201);
    assert_eq!(response.header("x-reply"), Some("Yes"));
    assert!(
        response
            .headers
            .iter()
            .all(|(n, _)| *n == n.to_ascii_lowercase())
    );
    assert_eq!(response.body, b"hello");
    assert!(!response.body_truncated);

    let received = server.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method, "PUT");
    assert_eq!(got.path, "/echo");
    assert!(
        got.headers
            .contains(&("x-token".to_owned(), "abc".to_owned()))
    );
    assert!(
        got.headers
            .contains(&("content-type".to_owned(), "application/json".to_owned()))
    );
    assert_eq!(got.body, br#"{"a":1}"#);
}

#[tokio::test]
async fn default_policy_refuses_loopback_before_connecting() {
    let server = start_server().await;
    let client = GuardedHttpClient::new(AddressPolicy::new(), DEFAULT_BODY_CAP);
    let reason = refused(
        client
            .send(get_request(format!(
                "http://127.0.0.1:{}/echo",
                server.port
            )))
            .await,
    );
    assert!(reason.contains("loopback"), "{reason}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn address_outside_the_allow_list_is_refused() {
    // Nothing listens on 127.0.0.2: were the guard to let it through, this would be a
    // `Connect` error, not a refusal.
    let server = start_server().await;
    let client = allowing_loopback_one();
    refused(
        client
            .send(get_request(format!(
                "http://127.0.0.2:{}/echo",
                server.port
            )))
            .await,
    );
}

#[tokio::test]
async fn other_spellings_of_a_refused_address_are_refused() {
    let server = start_server().await;
    let client = GuardedHttpClient::new(AddressPolicy::new(), DEFAULT_BODY_CAP);
    for host in ["[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "[::1]", "0"] {
        refused(
            client
                .send(get_request(format!("http://{host}:{}/echo", server.port)))
                .await,
        );
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn host_name_is_checked_by_the_resolver() {
    // `localhost` comes from /etc/hosts: no DNS query leaves the machine.
    let server = start_server().await;
    let url = format!("http://localhost:{}/echo", server.port);

    let default = GuardedHttpClient::new(AddressPolicy::new(), DEFAULT_BODY_CAP);
    let reason = refused(default.send(get_request(url.clone())).await);
    assert!(reason.contains("loopback"), "{reason}");
    assert!(server.received().is_empty());

    let response = allowing_loopback_one()
        .send(get_request(url))
        .await
        .expect("allowed");
    assert_eq!(response.status, 201);
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn non_http_schemes_are_refused() {
    let client = allowing_loopback_one();
    for url in [
        "ftp://127.0.0.1/file",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
    ] {
        let reason = refused(client.send(get_request(url.to_owned())).await);
        assert!(reason.contains("scheme"), "{reason}");
    }
}

#[tokio::test]
async fn redirect_is_returned_as_is_when_not_following() {
    let server = start_server().await;
    let response = allowing_loopback_one()
        .send(get_request(format!(
            "http://127.0.0.1:{}/to-other-loopback",
            server.port
        )))
        .await
        .expect("3xx returned");
    assert_eq!(response.status, 302);
    assert_eq!(
        response.header("location"),
        Some(format!("http://127.0.0.2:{}/echo", server.port).as_str())
    );
}

#[tokio::test]
async fn redirect_to_a_refused_address_is_refused_when_following() {
    let server = start_server().await;
    let mut request = get_request(format!(
        "http://127.0.0.1:{}/to-other-loopback",
        server.port
    ));
    request.follow_redirects = true;
    let reason = refused(allowing_loopback_one().send(request).await);
    assert!(reason.contains("127.0.0.2"), "{reason}");
}

#[tokio::test]
async fn redirect_to_a_non_http_scheme_is_refused_when_following() {
    let server = start_server().await;
    let mut request = get_request(format!("http://127.0.0.1:{}/to-ftp", server.port));
    request.follow_redirects = true;
    let reason = refused(allowing_loopback_one().send(request).await);
    assert!(reason.contains("scheme"), "{reason}");
}

#[tokio::test]
async fn allowed_redirect_is_followed() {
    let server = start_server().await;
    let mut request = get_request(format!("http://127.0.0.1:{}/to-echo", server.port));
    request.follow_redirects = true;
    let response = allowing_loopback_one()
        .send(request)
        .await
        .expect("followed");
    assert_eq!(response.status, 201);
    let received = server.received();
    assert_eq!(received.len(), 1);
    // The first URL may carry a token in its query; the next hop must not learn it.
    assert!(
        !received[0].headers.iter().any(|(n, _)| n == "referer"),
        "{:?}",
        received[0].headers
    );
}

#[tokio::test]
async fn redirect_loop_stops() {
    let server = start_server().await;
    let mut request = get_request(format!("http://127.0.0.1:{}/loop", server.port));
    request.follow_redirects = true;
    let reason = refused(allowing_loopback_one().send(request).await);
    assert!(reason.contains("redirects"), "{reason}");
}

#[tokio::test]
async fn silent_server_times_out() {
    let addr = start_silent_server().await;
    let mut request = get_request(format!("http://{addr}/"));
    request.timeout = Duration::from_millis(200);
    let result = allowing_loopback_one().send(request).await;
    assert!(
        matches!(result, Err(OutboundError::Timeout(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_deadline_covers_the_body() {
    // Headers and part of the body, then silence: the request must still end.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
                .await;
            held.push(socket);
        }
    });
    let mut request = get_request(format!("http://{addr}/"));
    request.timeout = Duration::from_millis(300);
    let result = allowing_loopback_one().send(request).await;
    assert!(
        matches!(result, Err(OutboundError::Timeout(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn closed_port_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let result = allowing_loopback_one()
        .send(get_request(format!("http://{addr}/")))
        .await;
    assert!(
        matches!(result, Err(OutboundError::Connect(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn body_is_cut_at_the_cap() {
    let server = start_server().await;
    let client = GuardedHttpClient::new(
        AddressPolicy::from_env_value(Some("127.0.0.1")).expect("policy"),
        1000,
    );
    let url = format!("http://127.0.0.1:{}/big", server.port);
    let response = client.send(get_request(url.clone())).await.expect("sent");
    assert_eq!(response.body.len(), 1000);
    assert!(response.body_truncated);

    let exact = GuardedHttpClient::new(
        AddressPolicy::from_env_value(Some("127.0.0.1")).expect("policy"),
        100_000,
    );
    let response = exact.send(get_request(url)).await.expect("sent");
    assert_eq!(response.body.len(), 100_000);
    assert!(!response.body_truncated);
}

#[tokio::test]
async fn the_clients_are_built_on_the_first_request() {
    let server = start_server().await;
    let client = allowing_loopback_one();
    assert!(
        !client.is_built(),
        "building loads the trust store: not at start"
    );
    let url = format!("http://127.0.0.1:{}/echo", server.port);
    client.send(get_request(url)).await.expect("sent");
    assert!(client.is_built());
}

#[tokio::test]
async fn malformed_requests_are_invalid() {
    let client = allowing_loopback_one();
    let mut bad_method = get_request("http://127.0.0.1:9/".to_owned());
    bad_method.method = "GE T".to_owned();
    let mut bad_header = get_request("http://127.0.0.1:9/".to_owned());
    bad_header.headers = vec![("x-a".to_owned(), "line\nbreak".to_owned())];
    for request in [get_request("not a url".to_owned()), bad_method, bad_header] {
        let result = client.send(request).await;
        assert!(
            matches!(result, Err(OutboundError::Invalid(_))),
            "{result:?}"
        );
    }
}
