//! A loopback SMTP sink for the `send_email` tests: `smtp_sink.py` (aiosmtpd from the venv)
//! on 127.0.0.1, writing each message it receives to a file the test reads.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use webhook_trigger::adapters::email::SmtpEmailSender;
use webhook_trigger::config::{Config, EmailTransport};

/// The sink process; it exits when its stdin closes, and is killed on drop.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    pub fn start() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        let probe = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .output();
        assert!(
            probe.as_ref().is_ok_and(|o| o.status.success()),
            "{} cannot import aiosmtpd: run `make venv` (it installs the pinned aiosmtpd) \
             ({probe:?})",
            python.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("messages.jsonl");
        let mut child = Command::new(&python)
            .arg(root.join("tests/it/support/smtp_sink.py"))
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the sink starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the sink prints its port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the sink printed {line:?}, not a port")
        });
        Self {
            child,
            port,
            out,
            _dir: dir,
        }
    }

    pub fn sender(&self) -> SmtpEmailSender {
        let transport =
            EmailTransport::parse(&format!("smtp://127.0.0.1:{}", self.port)).expect("a transport");
        SmtpEmailSender::new(&transport).expect("an SMTP sender")
    }

    /// Every message received so far (the sink writes a message before answering 250).
    pub fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

/// One sink for the whole test binary (flows run concurrently: each finds its own messages by
/// a unique subject). It exits when the test process does (its stdin closes).
pub fn shared_sink() -> &'static SmtpSink {
    static SINK: OnceLock<SmtpSink> = OnceLock::new();
    SINK.get_or_init(SmtpSink::start)
}

impl SmtpSink {
    /// `config` with `EMAIL_TRANSPORT` on this sink and `EMAIL_FROM` set.
    pub fn config(&self, config: Config) -> Config {
        Config {
            email_transport: Some(
                EmailTransport::parse(&format!("smtp://127.0.0.1:{}", self.port))
                    .expect("a transport"),
            ),
            email_from: Some("Alerts <alerts@example.com>".into()),
            ..config
        }
    }
}

/// The header lines of a raw message (before the first empty line), unfolded, names
/// lower-cased.
pub fn headers(data: &str) -> Vec<(String, String)> {
    let head = data.split("\r\n\r\n").next().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push_str(line.trim_start());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    out
}

/// Every value of header `name` (lower-case).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}
