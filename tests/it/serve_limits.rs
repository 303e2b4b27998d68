//! Issue 9, item 3: slow and idle clients against the real server (`http::server::run`, what
//! `serve` runs) on 127.0.0.1, with small limits. No test measures time: each asserts what
//! happened to the connection; the `GUARD` timeouts only stop a broken server from hanging
//! the suite.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, TestApp};
use webhook_trigger::domain::Step;
use webhook_trigger::http::server::{self, ServerLimits};

const GUARD: Duration = Duration::from_secs(20);
const LONG: Duration = Duration::from_secs(600);

struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    app: TestApp,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(app: TestApp, limits: ServerLimits) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app.router.clone();
    tokio::spawn(server::run(listener, router, limits, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        app,
    }
}

fn limits(header: Duration, body: Duration, idle: Duration, max: usize) -> ServerLimits {
    ServerLimits {
        header_read_timeout: header,
        body_read_timeout: body,
        idle_timeout: idle,
        max_connections: max,
    }
}

/// Reads until the server closes the connection; returns what it sent. A reset counts as
/// closed too.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(GUARD, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server kept the connection open; it sent {:?}",
        String::from_utf8_lossy(&got)
    );
    got
}

/// Reads one response whose body has a Content-Length; returns (head, body).
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(GUARD, async {
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    return (head, got[end + 4..end + 4 + length].to_vec());
                }
            }
            let n = stream.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("a response in time")
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n";

#[tokio::test]
async fn unfinished_headers_close_the_connection() {
    let app = support::sqlite_app(support::test_config()).await;
    let running = start(app, limits(Duration::from_millis(300), LONG, LONG, 8)).await;
    let mut stream = TcpStream::connect(running.addr).await.expect("connect");
    stream
        .write_all(b"POST /webhooks/wf HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .expect("write");
    read_until_closed(&mut stream).await;
}

#[tokio::test]
async fn a_trickling_body_is_answered_408_and_stores_nothing() {
    let app = support::sqlite_app(support::test_config()).await;
    let (wf, key) = app.workflow_with_key(vec![Step::Echo]).await;
    let path = format!("/webhooks/{}", wf.id.as_str());
    let running = start(app, limits(LONG, Duration::from_millis(400), LONG, 8)).await;
    let stream = TcpStream::connect(running.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nx-api-key: {key}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
    );
    writer.write_all(head.as_bytes()).await.expect("write head");
    // One byte at a time, until the server gives up on us (writes then fail) or the guard ends.
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let answered = tokio::time::timeout(GUARD, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.windows(4).any(|w| w == b"\r\n\r\n") && got.ends_with(b"}}") {
                return;
            }
        }
    })
    .await;
    trickle.abort();
    assert!(answered.is_ok(), "the server waited for the trickle");
    let text = String::from_utf8_lossy(&got);
    // hyper writes the answer before it closes, so the client learns why.
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#""code":"request_timeout""#), "{text}");
    let app = &running.app;
    let listed = app
        .get(
            &format!("/workflows/{}/executions", wf.id.as_str()),
            Some(&key),
        )
        .await;
    assert_eq!(
        listed.body["items"],
        serde_json::json!([]),
        "{}",
        listed.body
    );
    assert_eq!(app.worker.drain().await, 0, "nothing was queued");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = support::sqlite_app(support::test_config()).await;
    let running = start(app, limits(LONG, LONG, Duration::from_millis(300), 8)).await;
    let mut stream = TcpStream::connect(running.addr).await.expect("connect");
    stream.write_all(HEALTH).await.expect("write");
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    // Keep-alive, then silence: the server must hang up.
    let after = read_until_closed(&mut stream).await;
    assert!(after.is_empty(), "{:?}", String::from_utf8_lossy(&after));
}

#[tokio::test]
async fn at_the_cap_a_new_connection_waits_until_one_frees_up() {
    let app = support::sqlite_app(support::test_config()).await;
    let running = start(app, limits(LONG, LONG, LONG, 1)).await;
    let mut first = TcpStream::connect(running.addr)
        .await
        .expect("connect first");
    first.write_all(HEALTH).await.expect("write");
    read_response(&mut first).await;

    // The kernel completes the handshake (backlog); the server must not serve it yet.
    let mut second = TcpStream::connect(running.addr)
        .await
        .expect("connect second");
    second.write_all(HEALTH).await.expect("write");
    // Round trips on the first connection prove the server is running and answering while
    // the second one waits, without a sleep.
    for _ in 0..20 {
        first.write_all(HEALTH).await.expect("write");
        let (head, _) = read_response(&mut first).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    let mut probe = [0u8; 1];
    match second.try_read(&mut probe) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the second connection was served over the cap: {other:?}"),
    }

    drop(first);
    let (head, body) = read_response(&mut second).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(&body[..], br#"{"status":"ok"}"#);
}

/// `serve` reads its limits from the environment (here, a one-second header timeout).
#[tokio::test]
async fn serve_reads_its_limits_from_the_environment() {
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_webhook-trigger"))
        .args(["serve", "--addr", &addr, "--store"])
        .arg(dir.path().join("wt.db"))
        .env("HTTP_HEADER_READ_TIMEOUT_SECONDS", "1")
        .env("HTTP_IDLE_TIMEOUT_SECONDS", "600")
        .env_remove("WEBHOOK_BASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn serve");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(child);
    let mut stream = tokio::time::timeout(GUARD, async {
        loop {
            if let Ok(s) = TcpStream::connect(&addr).await {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("serve listens");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHo")
        .await
        .expect("write");
    read_until_closed(&mut stream).await;
}
