//! Signing certificates: fetched once per URL, parsed to the RSA key we verify with.
//!
//! SNS names a new URL whenever it rotates its key, so a URL's certificate never changes
//! and can be kept for the life of the process. Validity dates are checked against each
//! message's `now`, not at fetch time, because a cached certificate can expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;
use url::Url;
use x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;

use super::error::SnsError;
use super::fetcher::{FetchError, HttpFetcher};
use super::signing::RsaVerifyingKey;
use super::topic_arn::TopicArn;

/// Most `SigningCertURL`s remembered as validated; SNS uses one per region and key
/// rotation, so a process sees a handful. Past this, URLs are simply validated every time.
pub const MAX_KNOWN_URLS: usize = 256;

/// Largest PEM we read. SNS's are about 2 KiB; the cap keeps a misbehaving endpoint from
/// filling memory.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// What we keep of a signing certificate: the RSA key, parsed and ready to verify with, and
/// the validity window.
#[derive(Debug, Clone)]
pub struct SigningCertificate {
    rsa_public_key: RsaVerifyingKey,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

impl SigningCertificate {
    /// Reads the first certificate of a PEM document; it must carry an RSA key that parses.
    pub fn from_pem(pem: &[u8]) -> Result<SigningCertificate, String> {
        let (_, block) =
            x509_parser::pem::parse_x509_pem(pem).map_err(|_| "it is not PEM".to_owned())?;
        if block.label != "CERTIFICATE" {
            return Err("the PEM block is not a CERTIFICATE".to_owned());
        }
        let cert = block
            .parse_x509()
            .map_err(|_| "it is not an X.509 certificate".to_owned())?;
        let spki = cert.public_key();
        if spki.algorithm.algorithm != OID_PKCS1_RSAENCRYPTION {
            return Err("its key is not RSA".to_owned());
        }
        let validity = cert.validity();
        let time = |t: i64| {
            DateTime::from_timestamp(t, 0).ok_or_else(|| "its validity is out of range".to_owned())
        };
        Ok(SigningCertificate {
            rsa_public_key: RsaVerifyingKey::from_der(&spki.subject_public_key.data)?,
            not_before: time(validity.not_before.timestamp())?,
            not_after: time(validity.not_after.timestamp())?,
        })
    }

    /// Start of the validity window.
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// End of the validity window.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// Refuses a certificate that is not yet or no longer valid at `now`.
    pub fn check_validity(&self, now: DateTime<Utc>) -> Result<(), SnsError> {
        if now < self.not_before {
            return Err(SnsError::rejected(format!(
                "the signing certificate is not valid before {}",
                self.not_before.to_rfc3339()
            )));
        }
        if now > self.not_after {
            return Err(SnsError::rejected(format!(
                "the signing certificate expired at {}",
                self.not_after.to_rfc3339()
            )));
        }
        Ok(())
    }

    /// The key the verifier takes.
    pub(super) fn rsa_public_key(&self) -> &RsaVerifyingKey {
        &self.rsa_public_key
    }
}

type Slot = Arc<OnceCell<Arc<SigningCertificate>>>;

/// Process-wide cache of signing certificates, one fetch per URL.
///
/// Each URL gets a `OnceCell`: concurrent requests for a URL wait on the one fetch in
/// flight instead of starting their own. A failed fetch leaves nothing behind, so the next
/// request tries again and forged URLs (which AWS answers 404) cannot grow the map.
pub struct CertificateCache {
    fetcher: Arc<dyn HttpFetcher>,
    slots: Mutex<HashMap<Url, Slot>>,
    /// Certificates by the exact `SigningCertURL` text that passed the rules, with the host
    /// the rules held it to: the next message naming the same text, from a topic of that
    /// host, needs no URL parsing (a tenth of a verification). Only canonical texts (as the
    /// URL parser writes them back, which is how SNS sends them) are kept, after a fetch
    /// succeeded, and at most [`MAX_KNOWN_URLS`]: spelling one URL in other letter cases
    /// cannot grow it.
    known: Mutex<HashMap<Box<str>, Known>>,
}

struct Known {
    host: Box<str>,
    certificate: Arc<SigningCertificate>,
}

impl CertificateCache {
    /// A cache fetching through `fetcher`.
    pub fn new(fetcher: Arc<dyn HttpFetcher>) -> CertificateCache {
        CertificateCache {
            fetcher,
            slots: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The certificate of a `SigningCertURL` that passed the rules before, for a topic
    /// whose SNS host is the one the URL names; `None` means: validate it first.
    pub fn known(&self, raw_url: &str, topic: &TopicArn) -> Option<Arc<SigningCertificate>> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = known.get(raw_url)?;
        topic
            .is_sns_host(&entry.host)
            .then(|| entry.certificate.clone())
    }

    /// [`Self::get`] for `url`, which passed the rules as the text `raw_url`; remembers the
    /// certificate under that text for [`Self::known`].
    pub async fn get_validated(
        &self,
        raw_url: &str,
        url: &Url,
    ) -> Result<Arc<SigningCertificate>, SnsError> {
        let certificate = self.get(url).await?;
        if let Some(host) = url.host_str().filter(|_| raw_url == url.as_str()) {
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            if known.len() < MAX_KNOWN_URLS {
                let entry = Known {
                    host: host.into(),
                    certificate: certificate.clone(),
                };
                known.insert(raw_url.into(), entry);
            }
        }
        Ok(certificate)
    }

    /// The certificate at `url`, which must already have passed the SigningCertURL rules.
    pub async fn get(&self, url: &Url) -> Result<Arc<SigningCertificate>, SnsError> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(url.clone())
            .or_default()
            .clone();
        let result = slot.get_or_try_init(|| self.fetch(url)).await.cloned();
        if result.is_err() {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if slots
                .get(url)
                .is_some_and(|s| Arc::ptr_eq(s, &slot) && !s.initialized())
            {
                slots.remove(url);
            }
        }
        result
    }

    /// How many certificates are held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|s| s.initialized())
            .count()
    }

    /// Whether no certificate is held yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// URL texts remembered as validated.
    #[cfg(test)]
    pub(super) fn known_count(&self) -> usize {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Slots including those still being fetched, to prove failures leave none behind.
    #[cfg(test)]
    pub(super) fn slot_count(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    async fn fetch(&self, url: &Url) -> Result<Arc<SigningCertificate>, SnsError> {
        let answer = self
            .fetcher
            .get(url, MAX_CERTIFICATE_BYTES)
            .await
            .map_err(|e| fetch_failed(url, &e))?;
        match answer.status {
            200..=299 => {}
            300..=399 => {
                return Err(SnsError::upstream(format!(
                    "signing certificate {url} answered a redirect (HTTP {}), which is not followed",
                    answer.status
                )));
            }
            400..=499 => {
                return Err(SnsError::rejected(format!(
                    "no signing certificate at {url} (HTTP {})",
                    answer.status
                )));
            }
            status => {
                return Err(SnsError::upstream(format!(
                    "signing certificate {url} could not be fetched (HTTP {status})"
                )));
            }
        }
        let cert = SigningCertificate::from_pem(&answer.body).map_err(|why| {
            SnsError::upstream(format!("signing certificate {url} is unusable: {why}"))
        })?;
        tracing::info!(cert_url = %url, not_after = %cert.not_after, "cached SNS signing certificate");
        Ok(Arc::new(cert))
    }
}

fn fetch_failed(url: &Url, error: &FetchError) -> SnsError {
    SnsError::upstream(format!(
        "signing certificate {url} could not be fetched: {error}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(SigningCertificate::from_pem(b"").is_err());
        assert!(SigningCertificate::from_pem(b"hello").is_err());
        assert!(
            SigningCertificate::from_pem(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            )
            .is_err()
        );
        assert!(
            SigningCertificate::from_pem(
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            )
            .is_err()
        );
    }

    const KAT_PEM: &[u8] = include_bytes!("../../tests/fixtures/sns/kat-signing-cert.pem");

    /// `KAT_PEM` with the INTEGER tag of the RSA key's modulus turned into an OCTET STRING:
    /// still a well-formed certificate, whose subject public key is no RSA key.
    fn pem_with_unparsable_key() -> Vec<u8> {
        use base64::Engine as _;
        let (_, block) = x509_parser::pem::parse_x509_pem(KAT_PEM).unwrap();
        let mut der = block.contents.clone();
        // RSAPublicKey ::= SEQUENCE (30 82 01 0a) { modulus INTEGER (02 82 01 01) ... }
        let at = der
            .windows(8)
            .position(|w| w == [0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01])
            .expect("a 2048-bit RSAPublicKey");
        der[at + 4] = 0x04;
        let body = base64::engine::general_purpose::STANDARD.encode(&der);
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n").into_bytes()
    }

    #[test]
    fn a_certificate_whose_rsa_key_does_not_parse_is_refused() {
        let pem = pem_with_unparsable_key();
        let (_, block) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        assert!(block.parse_x509().is_ok(), "the certificate itself parses");
        let err = SigningCertificate::from_pem(&pem).unwrap_err();
        assert!(err.contains("RSA key does not parse"), "{err}");
    }

    #[test]
    fn validity_window_is_inclusive() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let cert = SigningCertificate {
            not_before: t("2026-01-01T00:00:00Z"),
            not_after: t("2026-12-31T23:59:59Z"),
            ..SigningCertificate::from_pem(KAT_PEM).unwrap()
        };
        assert!(cert.check_validity(t("2026-01-01T00:00:00Z")).is_ok());
        assert!(cert.check_validity(t("2026-12-31T23:59:59Z")).is_ok());
        assert!(
            matches!(cert.check_validity(t("2025-12-31T23:59:59Z")), Err(SnsError::Rejected(m)) if m.contains("not valid before"))
        );
        assert!(
            matches!(cert.check_validity(t("2027-01-01T00:00:00Z")), Err(SnsError::Rejected(m)) if m.contains("expired"))
        );
    }
}
