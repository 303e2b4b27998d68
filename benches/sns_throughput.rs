//! Our side of `bench/sns-validator/compare.sh`: the SNS Notifications of tests/fixtures/sns
//! parsed and verified in a loop on one thread, the signing certificate served from memory
//! (fetched once, then from the verifier's cache), as the peer (npm sns-validator) does.
//!
//!   cargo bench --bench sns_throughput -- SECONDS     each message for SECONDS (default 2)
//!   sns_throughput --serve                             `<label> <seconds>` lines on stdin
//!
//! After a short warm-up, prints one line per measurement, `<label> <messages per wall-clock
//! second> <messages per CPU second>`, as the peer's `bench/sns-validator/verify.js` does
//! (`--serve` is how `compare.js` alternates the two sides in short slices). The CPU figure (the process's on-CPU time,
//! from `/proc/self/schedstat`; the process has one thread) does not move when other
//! processes take the machine's cores; the wall-clock one does.
//! A message that does not verify aborts the run (exit 1): a refusal is never counted. Under
//! `cargo test --all-targets` (no `--bench`) it verifies each message a few times as a smoke
//! test.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use url::Url;
use webhook_trigger::sns::{
    FetchError, FetchedBody, HttpFetcher, SnsMessage, SnsPolicy, SnsVerifier, VerifierConfig,
};

/// The clock is read once per chunk, not per message.
const CHUNK: usize = 256;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sns");

/// Label, message file, certificate file: the same list as the peer's verify.js.
const MESSAGES: [(&str, &str, &str); 3] = [
    ("kat-v1", "kat-notification-v1.json", "kat-signing-cert.pem"),
    ("kat-v2", "kat-notification-v2.json", "kat-signing-cert.pem"),
    (
        "aws-2015-v1",
        "aws-notification-2015.json",
        "SimpleNotificationService-bb750dd426d95ee9390147a5624348ee.pem",
    ),
];

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

/// Certificates by URL from memory, counting fetches: more than one per URL would mean the
/// verifier's cache was not used.
#[derive(Default)]
struct Certificates {
    by_url: HashMap<String, Vec<u8>>,
    fetches: Mutex<HashMap<String, usize>>,
}

#[async_trait]
impl HttpFetcher for Certificates {
    async fn get(&self, url: &Url, _max: usize) -> Result<FetchedBody, FetchError> {
        *self
            .fetches
            .lock()
            .expect("lock")
            .entry(url.to_string())
            .or_default() += 1;
        Ok(match self.by_url.get(url.as_str()) {
            Some(body) => FetchedBody {
                status: 200,
                body: body.clone(),
            },
            None => FetchedBody {
                status: 404,
                body: Vec::new(),
            },
        })
    }
}

/// Time this process's (only) thread has spent on a CPU.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/schedstat").expect("/proc/self/schedstat");
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("on-CPU nanoseconds");
    Duration::from_nanos(ns)
}

/// The verifier with the certificates in memory, and each message with the time it is
/// verified at.
struct Bench {
    certificates: Arc<Certificates>,
    verifier: SnsVerifier,
    policy: SnsPolicy,
    runtime: tokio::runtime::Runtime,
    messages: Vec<(&'static str, String, DateTime<Utc>)>,
}

impl Bench {
    fn new() -> Bench {
        let mut certificates = Certificates::default();
        let mut messages = Vec::new();
        for (label, file, cert) in MESSAGES {
            let body = fixture(file);
            let url =
                serde_json::from_str::<serde_json::Value>(&body).expect("JSON")["SigningCertURL"]
                    .as_str()
                    .expect("SigningCertURL")
                    .to_owned();
            certificates.by_url.insert(url, fixture(cert).into_bytes());
            // Verified at 30 s after its Timestamp: the messages are signed, so their
            // Timestamps are fixed, and the real one's certificate (2015-2016) has long expired.
            let now = SnsMessage::parse(&body, None).expect("parses").timestamp()
                + chrono::TimeDelta::seconds(30);
            messages.push((label, body, now));
        }
        let certificates = Arc::new(certificates);
        Bench {
            verifier: SnsVerifier::new(certificates.clone(), VerifierConfig::default()),
            certificates,
            policy: SnsPolicy::default(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
            messages,
        }
    }

    /// Verifies message `index` `warm_up` times, then for `duration` (whole chunks); returns
    /// messages per wall-clock second and per CPU second. The first verification of a
    /// message fetches its certificate; every later one finds it in the verifier's cache.
    fn measure(
        &self,
        index: usize,
        warm_up: usize,
        duration: Duration,
    ) -> Result<(f64, f64), String> {
        let (_, body, now) = &self.messages[index];
        let verify = || async {
            let message =
                SnsMessage::parse(std::hint::black_box(body), None).map_err(|e| e.to_string())?;
            self.verifier
                .verify(&message, &self.policy, *now)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        self.runtime.block_on(async {
            for _ in 0..warm_up {
                verify().await?;
            }
            let cpu_started = cpu_time();
            let started = Instant::now();
            let mut count = 0;
            loop {
                for _ in 0..CHUNK {
                    verify().await?;
                }
                count += CHUNK;
                let elapsed = started.elapsed();
                if elapsed >= duration {
                    let cpu = (cpu_time() - cpu_started).as_secs_f64();
                    let count = count as f64;
                    return Ok((count / elapsed.as_secs_f64(), count / cpu));
                }
            }
        })
    }

    /// Prints one line for message `index`, or says why it did not verify.
    fn report(&self, index: usize, warm_up: usize, duration: Duration) -> Result<(), ExitCode> {
        let label = self.messages[index].0;
        match self.measure(index, warm_up, duration) {
            Ok((wall, cpu)) => {
                println!("{label} {wall:.0} {cpu:.0}");
                Ok(())
            }
            Err(error) => {
                eprintln!("{label}: the message did not verify: {error}");
                Err(ExitCode::FAILURE)
            }
        }
    }

    /// More than one fetch per URL would mean the verifier's cache was not used.
    fn check_cache_used(&self) -> Result<(), ExitCode> {
        for (url, count) in self.certificates.fetches.lock().expect("lock").iter() {
            if *count != 1 {
                eprintln!("{url} was fetched {count} times: the certificate cache was not used");
                return Err(ExitCode::FAILURE);
            }
        }
        Ok(())
    }

    /// `--serve`: one measurement per line of stdin, `<label> <seconds>`, answered on
    /// stdout, so `compare.js` can alternate this side and the peer in short slices.
    fn serve(&self) -> Result<(), ExitCode> {
        for line in std::io::stdin().lines() {
            let line = line.map_err(|_| ExitCode::FAILURE)?;
            let mut words = line.split_whitespace();
            let index = words
                .next()
                .and_then(|label| self.messages.iter().position(|(l, _, _)| *l == label));
            let seconds = words.next().and_then(|s| s.parse::<f64>().ok());
            let (Some(index), Some(seconds)) = (index, seconds.filter(|s| *s > 0.0)) else {
                eprintln!("sns_throughput --serve: expected \"<label> <seconds>\", got {line:?}");
                return Err(ExitCode::from(2));
            };
            self.report(index, 0, Duration::from_secs_f64(seconds))?;
            std::io::stdout().flush().map_err(|_| ExitCode::FAILURE)?;
        }
        self.check_cache_used()
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let serve = args.iter().any(|a| a == "--serve");
    // A smoke test is one chunk per message, with no warm-up.
    let (warm_up, duration) = if full || serve {
        let seconds = args.iter().find_map(|a| a.parse().ok()).unwrap_or(2.0);
        (1000, Duration::from_secs_f64(seconds))
    } else {
        (0, Duration::ZERO)
    };

    let bench = Bench::new();
    let run = || {
        if serve {
            // Warmed up (and the certificates cached) before the first request.
            for index in 0..bench.messages.len() {
                bench
                    .measure(index, warm_up, Duration::ZERO)
                    .map_err(|error| {
                        eprintln!(
                            "{}: the message did not verify: {error}",
                            bench.messages[index].0
                        );
                        ExitCode::FAILURE
                    })?;
            }
            return bench.serve();
        }
        for index in 0..bench.messages.len() {
            bench.report(index, warm_up, duration)?;
        }
        bench.check_cache_used()
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
