//! A stand-in for Amazon SNS on loopback, for integration tests.
//!
//! It holds an RSA-2048 key and a self-signed certificate made inside the test, signs
//! `Notification`, `SubscriptionConfirmation` and `UnsubscribeConfirmation` messages with
//! SignatureVersion 1 or 2, and serves on `127.0.0.1:<random port>`:
//! - `/SimpleNotificationService-<hex>.pem`: its certificate;
//! - `/SimpleNotificationService-<other hex>.pem` variants that redirect (302), are too
//!   large, or answer slowly;
//! - `/?Action=ConfirmSubscription&TopicArn=..&Token=..`: the real ConfirmSubscription XML.
//!
//! Messages name `https://sns.us-east-1.amazonaws.com/...` URLs, exactly as SNS would; the
//! fetcher under test is pointed here with its endpoint override
//! (`HttpsFetcher::with_endpoint(Some(peer.endpoint()))` or `AWS_ENDPOINT_URL_SNS`), so
//! the URL rules are exercised for real. Every request is recorded.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, RsaKeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use num_bigint::BigUint;
use serde_json::{Map, Value};

/// The topic every peer message claims unless told otherwise.
pub const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:peer-topic";
/// The SNS host of us-east-1, the region every peer message claims, as it appears in message URLs.
pub const SNS_HOST: &str = "sns.us-east-1.amazonaws.com";

/// SignatureVersion to sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigV {
    /// SHA1withRSA.
    V1,
    /// SHA256withRSA.
    V2,
}

impl SigV {
    pub fn as_str(self) -> &'static str {
        match self {
            SigV::V1 => "1",
            SigV::V2 => "2",
        }
    }
}

/// An RSA key and a self-signed certificate for it.
pub struct TestSigner {
    key: Arc<RsaKeyPair>,
    private: Arc<RsaPrivate>,
    cert_pem: String,
    cert_hex: String,
}

/// The private numbers, for the SHA-1 signatures aws-lc-rs will not make (it only verifies
/// SHA-1 PKCS#1 v1.5). Textbook RSA with CRT over the EMSA-PKCS1-v1_5 block: fine for a test
/// double, never for production.
struct RsaPrivate {
    n: BigUint,
    p: BigUint,
    q: BigUint,
    dp: BigUint,
    dq: BigUint,
    qinv: BigUint,
}

/// One key per test binary: generating RSA-2048 takes a while.
fn shared_key() -> (Arc<RsaKeyPair>, Arc<RsaPrivate>) {
    static KEY: OnceLock<(Arc<RsaKeyPair>, Arc<RsaPrivate>)> = OnceLock::new();
    KEY.get_or_init(generate_key).clone()
}

fn generate_key() -> (Arc<RsaKeyPair>, Arc<RsaPrivate>) {
    let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key).expect("PKCS#8 export");
    let private = RsaPrivate::from_pkcs8(pkcs8.as_ref());
    (Arc::new(key), Arc::new(private))
}

impl TestSigner {
    /// The shared key with a certificate valid from 2000 to 2100.
    pub fn new() -> TestSigner {
        TestSigner::with_validity((2000, 1, 1), (2100, 1, 1))
    }

    /// The shared key with a certificate valid between two dates (year, month, day).
    pub fn with_validity(not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> TestSigner {
        let (key, private) = shared_key();
        TestSigner::from_key(key, private, not_before, not_after)
    }

    /// A fresh key (a forger's), with a long-valid certificate.
    pub fn fresh() -> TestSigner {
        let (key, private) = generate_key();
        TestSigner::from_key(key, private, (2000, 1, 1), (2100, 1, 1))
    }

    fn from_key(
        key: Arc<RsaKeyPair>,
        private: Arc<RsaPrivate>,
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
    ) -> TestSigner {
        let pkcs8 =
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(key.as_ref()).expect("PKCS#8 export");
        let rc_key = rcgen::KeyPair::try_from(pkcs8.as_ref()).expect("rcgen accepts the key");
        let mut params =
            rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sns.amazonaws.com");
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let cert = params
            .self_signed(&rc_key)
            .expect("self-signed certificate");
        let fingerprint = digest::digest(&digest::SHA256, cert.der());
        TestSigner {
            key,
            private,
            cert_pem: cert.pem(),
            cert_hex: hex::encode(&fingerprint.as_ref()[..16]),
        }
    }

    /// The hex that names the certificate in its URL.
    pub fn cert_hex(&self) -> &str {
        &self.cert_hex
    }

    /// `https://sns.us-east-1.amazonaws.com/SimpleNotificationService-<hex>.pem`.
    pub fn cert_url(&self) -> String {
        cert_url_for(&self.cert_hex)
    }

    /// Base64 PKCS#1 v1.5 signature of `data`.
    pub fn sign(&self, version: SigV, data: &[u8]) -> String {
        let raw = match version {
            SigV::V1 => {
                self.private
                    .sign_pkcs1(&digest::SHA1_FOR_LEGACY_USE_ONLY, SHA1_PREFIX, data)
            }
            SigV::V2 => self.sign_sha256_aws_lc(data),
        };
        STANDARD.encode(raw)
    }

    /// SHA-256 signature by aws-lc-rs.
    pub fn sign_sha256_aws_lc(&self, data: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                data,
                &mut sig,
            )
            .expect("signing");
        sig
    }

    /// SHA-256 signature by the textbook path that makes the SHA-1 ones (to cross-check it).
    pub fn sign_sha256_textbook(&self, data: &[u8]) -> Vec<u8> {
        self.private
            .sign_pkcs1(&digest::SHA256, SHA256_PREFIX, data)
    }
}

impl Default for TestSigner {
    fn default() -> Self {
        TestSigner::new()
    }
}

/// DER `DigestInfo` prefixes from RFC 8017, section 9.2, note 1.
const SHA1_PREFIX: &[u8] = &[
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];
const SHA256_PREFIX: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

impl RsaPrivate {
    /// Reads `PrivateKeyInfo { version, algorithm, OCTET STRING { RSAPrivateKey } }`.
    fn from_pkcs8(der: &[u8]) -> RsaPrivate {
        let (_, info, _) = der_next(der);
        let (_, _version, rest) = der_next(info);
        let (_, _algorithm, rest) = der_next(rest);
        let (tag, rsa_key, _) = der_next(rest);
        assert_eq!(tag, 0x04, "PKCS#8 private key is an OCTET STRING");
        let (_, mut fields, _) = der_next(rsa_key);
        let mut ints = Vec::new();
        while !fields.is_empty() {
            let (tag, value, rest) = der_next(fields);
            assert_eq!(tag, 0x02, "RSAPrivateKey holds INTEGERs");
            ints.push(BigUint::from_bytes_be(value));
            fields = rest;
        }
        // version, n, e, d, p, q, dp, dq, qinv
        assert_eq!(ints.len(), 9, "two-prime RSAPrivateKey");
        RsaPrivate {
            n: ints[1].clone(),
            p: ints[4].clone(),
            q: ints[5].clone(),
            dp: ints[6].clone(),
            dq: ints[7].clone(),
            qinv: ints[8].clone(),
        }
    }

    /// RSASSA-PKCS1-v1_5 (RFC 8017, 8.2.1) with the CRT private operation.
    fn sign_pkcs1(&self, alg: &'static digest::Algorithm, prefix: &[u8], data: &[u8]) -> Vec<u8> {
        let k = self.n.to_bytes_be().len();
        let hash = digest::digest(alg, data);
        let t_len = prefix.len() + hash.as_ref().len();
        let mut em = vec![0xff; k];
        em[0] = 0x00;
        em[1] = 0x01;
        em[k - t_len - 1] = 0x00;
        em[k - t_len..k - hash.as_ref().len()].copy_from_slice(prefix);
        em[k - hash.as_ref().len()..].copy_from_slice(hash.as_ref());
        let m = BigUint::from_bytes_be(&em);
        let m1 = m.modpow(&self.dp, &self.p);
        let m2 = m.modpow(&self.dq, &self.q);
        let diff = (&m1 + &self.p - (&m2 % &self.p)) % &self.p;
        let h = (&self.qinv * diff) % &self.p;
        let s = m2 + h * &self.q;
        let bytes = s.to_bytes_be();
        let mut out = vec![0; k - bytes.len()];
        out.extend_from_slice(&bytes);
        out
    }
}

/// One DER TLV: (tag, value, rest).
fn der_next(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        short if short < 0x80 => (short as usize, 2),
        long => {
            let count = (long & 0x7f) as usize;
            let len = input[2..2 + count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + count)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

fn cert_url_for(hex: &str) -> String {
    format!("https://{SNS_HOST}/SimpleNotificationService-{hex}.pem")
}

/// The canonical string, written from the SNS documentation independently of the crate.
pub fn string_to_sign(fields: &Map<String, Value>) -> String {
    let names: &[&str] = match fields.get("Type").and_then(Value::as_str) {
        Some("Notification") => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        _ => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
    };
    let mut out = String::new();
    for name in names {
        if let Some(value) = fields.get(*name).and_then(Value::as_str) {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

/// A request the peer received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub path: String,
    pub query: Option<String>,
}

struct PeerState {
    signer: Arc<TestSigner>,
    token: String,
    subscription_id: String,
    requests: Mutex<Vec<Recorded>>,
    fail_confirmations: AtomicBool,
    confirmation_status: AtomicU16,
}

/// The running peer. Dropping it stops the server.
pub struct SnsPeer {
    state: Arc<PeerState>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SnsPeer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Hex names of the misbehaving certificate URLs.
const REDIRECT_HEX: &str = "0000000000000000000000000000302a";
const OVERSIZED_HEX: &str = "000000000000000000000000000b16b0";
const SLOW_HEX: &str = "0000000000000000000000000000510e";
const MISSING_HEX: &str = "00000000000000000000000000000404";

impl SnsPeer {
    /// Starts a peer with the shared test key.
    pub async fn start() -> SnsPeer {
        SnsPeer::start_with(TestSigner::new()).await
    }

    /// Starts a peer that serves `signer`'s certificate.
    pub async fn start_with(signer: TestSigner) -> SnsPeer {
        let state = Arc::new(PeerState {
            signer: Arc::new(signer),
            token: hex::encode(rand::random::<[u8; 32]>()),
            subscription_id: "2bcfbf39-05c3-41de-beaa-fcfcc21c8f55".to_owned(),
            requests: Mutex::new(Vec::new()),
            fail_confirmations: AtomicBool::new(false),
            confirmation_status: AtomicU16::new(500),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let app = Router::new().fallback(handle).with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SnsPeer {
            state,
            addr,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`: give it to the fetcher as its endpoint override.
    pub fn endpoint(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.addr)).expect("loopback URL")
    }

    /// The URL of the peer's certificate, as SNS would name it.
    pub fn cert_url(&self) -> String {
        self.state.signer.cert_url()
    }

    /// `/SimpleNotificationService-<hex>.pem`, the path of [`Self::cert_url`].
    pub fn cert_path(&self) -> String {
        format!(
            "/SimpleNotificationService-{}.pem",
            self.state.signer.cert_hex()
        )
    }

    /// A certificate URL the peer answers with a 302 to the real certificate.
    pub fn redirecting_cert_url(&self) -> String {
        cert_url_for(REDIRECT_HEX)
    }

    /// A certificate URL the peer answers with 64 KiB.
    pub fn oversized_cert_url(&self) -> String {
        cert_url_for(OVERSIZED_HEX)
    }

    /// A certificate URL the peer answers after 5 s.
    pub fn slow_cert_url(&self) -> String {
        cert_url_for(SLOW_HEX)
    }

    /// A certificate URL the peer answers 404.
    pub fn missing_cert_url(&self) -> String {
        cert_url_for(MISSING_HEX)
    }

    /// The confirmation token the peer hands out and accepts.
    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// The ARN the peer answers a successful confirmation with.
    pub fn subscription_arn(&self) -> String {
        format!("{TOPIC_ARN}:{}", self.state.subscription_id)
    }

    /// Makes confirmations answer `status` (e.g. 500) instead of the XML, or go back to normal.
    pub fn fail_confirmations_with(&self, status: Option<u16>) {
        self.state
            .fail_confirmations
            .store(status.is_some(), Ordering::SeqCst);
        if let Some(status) = status {
            self.state
                .confirmation_status
                .store(status, Ordering::SeqCst);
        }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// How many requests had this path.
    pub fn requests_to(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }

    /// How many ConfirmSubscription requests arrived.
    pub fn confirmations(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| {
                r.path == "/"
                    && r.query
                        .as_deref()
                        .is_some_and(|q| q.contains("Action=ConfirmSubscription"))
            })
            .count()
    }

    /// A signed Notification with a subject, signed with `version`.
    pub fn notification(&self, version: SigV) -> MessageBuilder {
        MessageBuilder::new(self.state.signer.clone(), "Notification", version)
            .set("Message", "Hello from the test peer")
            .set("Subject", "Peer subject")
            .set(
                "UnsubscribeURL",
                &format!(
                    "https://{SNS_HOST}/?Action=Unsubscribe&SubscriptionArn={}",
                    self.subscription_arn()
                ),
            )
    }

    /// A signed SubscriptionConfirmation carrying the peer's token.
    pub fn subscription_confirmation(&self, version: SigV) -> MessageBuilder {
        self.confirmation("SubscriptionConfirmation", version).set(
            "Message",
            &format!(
                "You have chosen to subscribe to the topic {TOPIC_ARN}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
            ),
        )
    }

    /// A signed UnsubscribeConfirmation carrying the peer's token.
    pub fn unsubscribe_confirmation(&self, version: SigV) -> MessageBuilder {
        self.confirmation("UnsubscribeConfirmation", version).set(
            "Message",
            &format!(
                "You have chosen to deactivate subscription {}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
                self.subscription_arn()
            ),
        )
    }

    fn confirmation(&self, kind: &str, version: SigV) -> MessageBuilder {
        MessageBuilder::new(self.state.signer.clone(), kind, version)
            .set("Token", &self.state.token)
            .set(
                "SubscribeURL",
                &format!(
                    "https://{SNS_HOST}/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token={}",
                    self.state.token
                ),
            )
    }
}

/// Builds one signed message; fields set after [`Self::sign`] are not covered by the
/// signature (use that to tamper).
pub struct MessageBuilder {
    signer: Arc<TestSigner>,
    version: SigV,
    fields: Map<String, Value>,
}

impl MessageBuilder {
    fn new(signer: Arc<TestSigner>, kind: &str, version: SigV) -> MessageBuilder {
        let mut fields = Map::new();
        fields.insert("Type".into(), kind.into());
        fields.insert("MessageId".into(), uuid_like().into());
        fields.insert("TopicArn".into(), TOPIC_ARN.into());
        fields.insert(
            "Timestamp".into(),
            chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
                .into(),
        );
        fields.insert("SignatureVersion".into(), version.as_str().into());
        fields.insert("SigningCertURL".into(), signer.cert_url().into());
        MessageBuilder {
            signer,
            version,
            fields,
        }
    }

    /// Sets a string field.
    pub fn set(mut self, name: &str, value: &str) -> MessageBuilder {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    /// Sets any JSON field (e.g. `MessageAttributes`).
    pub fn set_json(mut self, name: &str, value: Value) -> MessageBuilder {
        self.fields.insert(name.to_owned(), value);
        self
    }

    /// Removes a field.
    pub fn remove(mut self, name: &str) -> MessageBuilder {
        self.fields.remove(name);
        self
    }

    /// Signs with another key (a forger) but keeps the URL of the peer's certificate.
    pub fn signed_by(mut self, signer: &Arc<TestSigner>) -> MessageBuilder {
        self.signer = signer.clone();
        self
    }

    /// Signs what is set so far and returns the fields, `Signature` included.
    pub fn sign(mut self) -> Signed {
        let sts = string_to_sign(&self.fields);
        let signature = self.signer.sign(self.version, sts.as_bytes());
        self.fields.insert("Signature".into(), signature.into());
        Signed {
            fields: self.fields,
        }
    }

    /// Signs and renders the JSON body.
    pub fn body(self) -> String {
        self.sign().body()
    }
}

/// A signed message, still editable (edits are not re-signed).
pub struct Signed {
    pub fields: Map<String, Value>,
}

impl Signed {
    /// Changes a field after signing.
    pub fn tamper(mut self, name: &str, value: &str) -> Signed {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    /// The JSON body, pretty-printed like SNS does.
    pub fn body(&self) -> String {
        serde_json::to_string_pretty(&self.fields).expect("JSON")
    }
}

fn uuid_like() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

async fn handle(State(state): State<Arc<PeerState>>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    state.requests.lock().expect("lock").push(Recorded {
        path: path.clone(),
        query: query.clone(),
    });

    let own = format!("/SimpleNotificationService-{}.pem", state.signer.cert_hex());
    if path == own {
        return (
            [(header::CONTENT_TYPE, "application/x-x509-ca-cert")],
            state.signer.cert_pem.clone(),
        )
            .into_response();
    }
    match path.as_str() {
        p if p == format!("/SimpleNotificationService-{REDIRECT_HEX}.pem") => {
            (StatusCode::FOUND, [(header::LOCATION, own)], "").into_response()
        }
        p if p == format!("/SimpleNotificationService-{OVERSIZED_HEX}.pem") => {
            "A".repeat(64 * 1024).into_response()
        }
        p if p == format!("/SimpleNotificationService-{SLOW_HEX}.pem") => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            state.signer.cert_pem.clone().into_response()
        }
        "/" => confirm(&state, query.as_deref().unwrap_or_default()),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn confirm(state: &PeerState, query: &str) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("Action") != Some("ConfirmSubscription") {
        return (StatusCode::BAD_REQUEST, "unknown action").into_response();
    }
    if state.fail_confirmations.load(Ordering::SeqCst) {
        let status = StatusCode::from_u16(state.confirmation_status.load(Ordering::SeqCst))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            status,
            "<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>",
        )
            .into_response();
    }
    if get("TopicArn") != Some(TOPIC_ARN) || get("Token") != Some(state.token.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>Invalid token</Message></Error></ErrorResponse>",
        )
            .into_response();
    }
    let body = format!(
        r#"<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ConfirmSubscriptionResult>
    <SubscriptionArn>{TOPIC_ARN}:{}</SubscriptionArn>
  </ConfirmSubscriptionResult>
  <ResponseMetadata>
    <RequestId>075ecce8-8dac-11e1-bf80-f781d96e5820</RequestId>
  </ResponseMetadata>
</ConfirmSubscriptionResponse>
"#,
        state.subscription_id
    );
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}
