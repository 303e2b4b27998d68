//! Settings read once at start-up from the environment, so no request pays for them.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// Largest webhook body accepted (`BODY_LIMIT_BYTES`, default 256 KiB, SNS's own limit).
    pub body_limit_bytes: usize,
    /// How long executions and their dedup records are kept (`RETENTION_DAYS`, default 30).
    pub retention: chrono::Duration,
    /// How long workflow and key lookups are reused in one process (`CACHE_TTL_SECONDS`,
    /// default 5). A revoked key or disabled workflow stops working within this time.
    pub cache_ttl: Duration,
    /// After this long a running execution whose worker went silent may be claimed again
    /// (`WORKER_LEASE_SECONDS`, default 300; keep it above the worker's timeout).
    pub worker_lease: chrono::Duration,
    /// Oldest SNS message accepted (`SNS_MAX_AGE_SECONDS`, default 3600).
    pub sns_max_age: Duration,
    /// Clock difference tolerated on SNS timestamps (`SNS_CLOCK_SKEW_SECONDS`, default 300).
    pub sns_clock_skew: Duration,
    /// Where SNS certificate and SubscribeURL fetches are sent instead of AWS
    /// (`AWS_ENDPOINT_URL_SNS`, else `AWS_ENDPOINT_URL`, as the SDKs read them). The URL rules
    /// still apply first; only the transport moves. Unset in production.
    pub sns_endpoint: Option<url::Url>,
    /// A duplicate of an execution still waiting for its first worker sends it to the queue
    /// again only when it was written at least this long ago (`RESEND_AFTER_SECONDS`, default
    /// 5): only then may the first send have been lost. Sooner, the first message is most
    /// likely still on its way, and a burst of redeliveries (SNS retries, a client retrying
    /// in a loop) would otherwise put one message on the queue per duplicate. Backends whose
    /// queue is in the store (SQLite) never re-send.
    pub resend_after: Duration,
    /// Refused requests are counted per workflow in memory and written at most this often
    /// (`REJECTION_FLUSH_SECONDS`, default 10): one write per workflow and hour with all the
    /// increments, so a flood of refused requests never becomes a flood of writes. Up to this
    /// much counting is lost when a process dies.
    pub rejection_flush: Duration,
    /// Whether the per-workflow metrics carry the workflow id as a label / dimension
    /// (`METRICS_WORKFLOW_DIMENSION`, `on` or `off`, default on). Off, they are not recorded;
    /// the aggregates always are.
    pub metrics_workflow_dimension: bool,
    /// Distinct workflow ids one process labels metrics with (`METRICS_WORKFLOW_LIMIT`,
    /// default 100); later ones are labelled `other`, which bounds the number of series (and,
    /// on CloudWatch, of billed custom metrics).
    pub metrics_workflow_limit: usize,
    /// The sender of a `send_email` step that names none (`EMAIL_FROM`, an address such as
    /// `alerts@example.com` or `Alerts <alerts@example.com>`). Unset: such a step fails.
    pub email_from: Option<String>,
    /// How `send_email` steps send (`EMAIL_TRANSPORT`: `ses`, `smtp://...` or `smtps://...`).
    /// Unset: they fail with a setup error.
    pub email_transport: Option<EmailTransport>,
    /// Where this service is reached from outside (`WEBHOOK_BASE_URL`, e.g. the API stage's
    /// URL): resume URLs of `approval` and `callback` steps start with it. `serve` defaults it
    /// to its own address; unset on AWS, such steps fail with a setup error.
    pub base_url: Option<String>,
}

/// Where `send_email` steps send their messages.
#[derive(Clone, PartialEq, Eq)]
pub enum EmailTransport {
    /// Amazon SES v2, on the AWS SDK's configuration (region, credentials, endpoint).
    Ses,
    /// An SMTP server: `smtp://` upgrades with STARTTLS when the server offers it, `smtps://`
    /// speaks TLS from the start.
    Smtp {
        implicit_tls: bool,
        host: String,
        port: u16,
        credentials: Option<SmtpCredentials>,
    },
}

/// A user name and password for SMTP AUTH. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl std::fmt::Debug for EmailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ses => f.write_str("Ses"),
            Self::Smtp {
                implicit_tls,
                host,
                port,
                credentials,
            } => f
                .debug_struct("Smtp")
                .field("implicit_tls", implicit_tls)
                .field("host", host)
                .field("port", port)
                .field("credentials", credentials)
                .finish(),
        }
    }
}

impl EmailTransport {
    /// `ses`, or `smtp://[user:password@]host:port` / `smtps://...` (user and password
    /// percent-encoded). An error never holds the password.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let bad = |value: String| ConfigError {
            name: "EMAIL_TRANSPORT",
            value,
            expected: "ses, smtp://[user:password@]host:port or smtps://[user:password@]host:port",
        };
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("ses") {
            return Ok(Self::Ses);
        }
        let Ok(url) = url::Url::parse(raw) else {
            return Err(bad(redact_userinfo(raw)));
        };
        let shown = || redact_userinfo(raw);
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(bad(shown())),
        };
        let (Some(host), Some(port)) = (url.host_str(), url.port()) else {
            return Err(bad(shown()));
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(bad(shown()));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => Some(SmtpCredentials {
                user: decode(user).map_err(|_| bad(shown()))?,
                password: decode(password).map_err(|_| bad(shown()))?,
            }),
            _ => return Err(bad(shown())),
        };
        Ok(Self::Smtp {
            implicit_tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            credentials,
        })
    }
}

/// `scheme://user:secret@host` → `scheme://[redacted]@host`, for text that is not a URL.
fn redact_userinfo(raw: &str) -> String {
    match raw.rfind('@') {
        Some(at) => match raw.find("://") {
            Some(start) if start + 3 <= at => {
                format!("{}[redacted]{}", &raw[..start + 3], &raw[at..])
            }
            _ => format!("[redacted]{}", &raw[at..]),
        },
        None => raw.to_owned(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            body_limit_bytes: 256 * 1024,
            retention: chrono::Duration::days(30),
            cache_ttl: Duration::from_secs(5),
            worker_lease: chrono::Duration::seconds(300),
            sns_max_age: Duration::from_secs(3600),
            sns_clock_skew: Duration::from_secs(300),
            sns_endpoint: None,
            resend_after: Duration::from_secs(5),
            rejection_flush: Duration::from_secs(10),
            metrics_workflow_dimension: true,
            metrics_workflow_limit: 100,
            email_from: None,
            email_transport: None,
            base_url: None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration {name}={value:?} is invalid: expected {expected}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        // Durations are capped at a century: larger ones overflow date arithmetic (a panic on
        // every webhook for RETENTION_DAYS, in every claim for WORKER_LEASE_SECONDS).
        const MAX: u64 = 100 * 365 * 24 * 3600;
        let num = |name: &'static str, default: u64, min: u64| -> Result<u64, ConfigError> {
            match lookup(name) {
                None => Ok(default),
                Some(raw) => {
                    let max = if name == "RETENTION_DAYS" {
                        MAX / 86_400
                    } else {
                        MAX
                    };
                    let max = if name == "BODY_LIMIT_BYTES" {
                        u64::MAX
                    } else {
                        max
                    };
                    raw.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|v| (min..=max).contains(v))
                        .ok_or(ConfigError {
                            name,
                            value: raw,
                            expected: if min > 0 {
                                "a positive whole number"
                            } else {
                                "a whole number"
                            },
                        })
                }
            }
        };
        let secs = |d: chrono::Duration| d.num_seconds().max(0) as u64;
        Ok(Self {
            body_limit_bytes: num("BODY_LIMIT_BYTES", d.body_limit_bytes as u64, 1)? as usize,
            retention: chrono::Duration::days(num(
                "RETENTION_DAYS",
                d.retention.num_days() as u64,
                1,
            )? as i64),
            cache_ttl: Duration::from_secs(num("CACHE_TTL_SECONDS", d.cache_ttl.as_secs(), 0)?),
            worker_lease: chrono::Duration::seconds(num(
                "WORKER_LEASE_SECONDS",
                secs(d.worker_lease),
                1,
            )? as i64),
            sns_max_age: Duration::from_secs(num(
                "SNS_MAX_AGE_SECONDS",
                d.sns_max_age.as_secs(),
                1,
            )?),
            sns_clock_skew: Duration::from_secs(num(
                "SNS_CLOCK_SKEW_SECONDS",
                d.sns_clock_skew.as_secs(),
                0,
            )?),
            sns_endpoint: endpoint_override(
                &lookup,
                &["AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL"],
            )?,
            resend_after: Duration::from_secs(num(
                "RESEND_AFTER_SECONDS",
                d.resend_after.as_secs(),
                0,
            )?),
            rejection_flush: Duration::from_secs(num(
                "REJECTION_FLUSH_SECONDS",
                d.rejection_flush.as_secs(),
                1,
            )?),
            metrics_workflow_dimension: switch(
                &lookup,
                "METRICS_WORKFLOW_DIMENSION",
                d.metrics_workflow_dimension,
            )?,
            metrics_workflow_limit: num(
                "METRICS_WORKFLOW_LIMIT",
                d.metrics_workflow_limit as u64,
                1,
            )?
            .min(u64::from(u32::MAX)) as usize,
            email_from: email_from(&lookup)?,
            email_transport: lookup("EMAIL_TRANSPORT")
                .filter(|v| !v.trim().is_empty())
                .map(|raw| EmailTransport::parse(&raw))
                .transpose()?,
            base_url: base_url(&lookup)?,
        })
    }
}

/// `WEBHOOK_BASE_URL`: an http(s) URL, kept without a trailing slash.
fn base_url(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(raw) = lookup("WEBHOOK_BASE_URL").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match url::Url::parse(raw.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(Some(raw.trim().trim_end_matches('/').to_owned()))
        }
        _ => Err(ConfigError {
            name: "WEBHOOK_BASE_URL",
            value: raw,
            expected: "an http(s) URL such as https://abc.execute-api.us-east-1.amazonaws.com/Prod",
        }),
    }
}

/// `EMAIL_FROM`: one address, as a `send_email` step's `from` would be.
fn email_from(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(raw) = lookup("EMAIL_FROM").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    if raw.contains(['\r', '\n']) || raw.trim().parse::<lettre::message::Mailbox>().is_err() {
        return Err(ConfigError {
            name: "EMAIL_FROM",
            value: raw,
            expected: "an email address (a@example.com or Name <a@example.com>)",
        });
    }
    Ok(Some(raw.trim().to_owned()))
}

/// `on` or `off` (any case); unset or empty is the default.
fn switch(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    let Some(raw) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(ConfigError {
            name,
            value: raw,
            expected: "on or off",
        }),
    }
}

/// The first set (non-empty) of `names`, the service-specific one first, as the AWS SDKs read
/// their endpoint variables.
fn endpoint_override(
    lookup: &impl Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Result<Option<url::Url>, ConfigError> {
    let Some((name, raw)) = names.iter().find_map(|name| {
        lookup(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (*name, v))
    }) else {
        return Ok(None);
    };
    url::Url::parse(raw.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .map(Some)
        .ok_or(ConfigError {
            name,
            value: raw,
            expected: "an http(s) URL with a host",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_unset() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c.body_limit_bytes, 262_144);
        assert_eq!(c.retention, chrono::Duration::days(30));
    }

    #[test]
    fn values_are_read_from_the_environment() {
        let c = Config::from_lookup(|n| match n {
            "BODY_LIMIT_BYTES" => Some("1024".into()),
            "RETENTION_DAYS" => Some("7".into()),
            "CACHE_TTL_SECONDS" => Some("0".into()),
            "RESEND_AFTER_SECONDS" => Some("30".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.resend_after, Duration::from_secs(30));
        assert_eq!(c.body_limit_bytes, 1024);
        assert_eq!(c.retention, chrono::Duration::days(7));
        assert_eq!(c.cache_ttl, Duration::ZERO);
    }

    #[test]
    fn rejection_flush_and_the_workflow_dimension_are_read() {
        let d = Config::from_lookup(|_| None).unwrap();
        assert_eq!(d.rejection_flush, Duration::from_secs(10));
        assert!(d.metrics_workflow_dimension);
        assert_eq!(d.metrics_workflow_limit, 100);
        let c = Config::from_lookup(|n| match n {
            "REJECTION_FLUSH_SECONDS" => Some("60".into()),
            "METRICS_WORKFLOW_DIMENSION" => Some("Off".into()),
            "METRICS_WORKFLOW_LIMIT" => Some("20".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.rejection_flush, Duration::from_secs(60));
        assert!(!c.metrics_workflow_dimension);
        assert_eq!(c.metrics_workflow_limit, 20);
        for (name, value) in [
            ("REJECTION_FLUSH_SECONDS", "0"),
            ("METRICS_WORKFLOW_DIMENSION", "maybe"),
            ("METRICS_WORKFLOW_LIMIT", "0"),
        ] {
            let err =
                Config::from_lookup(|n| (n == name).then(|| value.to_string())).expect_err(name);
            assert_eq!(err.name, name);
        }
    }

    #[test]
    fn sns_endpoint_follows_the_sdk_variables() {
        let c = Config::from_lookup(|n| {
            (n == "AWS_ENDPOINT_URL").then(|| "http://127.0.0.1:4566".to_string())
        })
        .unwrap();
        assert_eq!(c.sns_endpoint.unwrap().as_str(), "http://127.0.0.1:4566/");
        let err =
            Config::from_lookup(|n| (n == "AWS_ENDPOINT_URL_SNS").then(|| "ftp://x".to_string()))
                .unwrap_err();
        assert!(err.name.contains("AWS_ENDPOINT_URL_SNS"));
    }

    #[test]
    fn the_service_specific_endpoint_wins_and_empty_counts_as_unset() {
        let both = Config::from_lookup(|n| match n {
            "AWS_ENDPOINT_URL" => Some("http://a:1".into()),
            "AWS_ENDPOINT_URL_SNS" => Some("http://b:2".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(both.sns_endpoint.unwrap().as_str(), "http://b:2/");
        let empty_sns = Config::from_lookup(|n| match n {
            "AWS_ENDPOINT_URL" => Some("http://a:1".into()),
            "AWS_ENDPOINT_URL_SNS" => Some(String::new()),
            _ => None,
        })
        .unwrap();
        assert_eq!(empty_sns.sns_endpoint.unwrap().as_str(), "http://a:1/");
        let err = Config::from_lookup(|n| (n == "AWS_ENDPOINT_URL").then(|| "not a url".into()))
            .unwrap_err();
        assert_eq!(err.name, "AWS_ENDPOINT_URL");
    }

    #[test]
    fn email_settings_are_read_and_checked() {
        let d = Config::from_lookup(|_| None).unwrap();
        assert_eq!(d.email_from, None);
        assert_eq!(d.base_url, None);
        let c = Config::from_lookup(|n| {
            (n == "WEBHOOK_BASE_URL").then(|| "https://h.example/Prod/".to_owned())
        })
        .unwrap();
        assert_eq!(c.base_url.as_deref(), Some("https://h.example/Prod"));
        let bad = Config::from_lookup(|n| (n == "WEBHOOK_BASE_URL").then(|| "ftp://x".to_owned()));
        assert_eq!(bad.map(|_| ()).unwrap_err().name, "WEBHOOK_BASE_URL");
        assert_eq!(d.email_transport, None);
        let c = Config::from_lookup(|n| match n {
            "EMAIL_FROM" => Some(" Alerts <alerts@example.com> ".into()),
            "EMAIL_TRANSPORT" => Some("SES".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.email_from.as_deref(), Some("Alerts <alerts@example.com>"));
        assert_eq!(c.email_transport, Some(EmailTransport::Ses));
        for (name, value) in [
            ("EMAIL_FROM", "not an address"),
            ("EMAIL_FROM", "a@example.com\nBcc: b@example.com"),
            ("EMAIL_TRANSPORT", "sendmail"),
            ("EMAIL_TRANSPORT", "http://mail.example.com:25"),
            ("EMAIL_TRANSPORT", "smtp://mail.example.com"),
            ("EMAIL_TRANSPORT", "smtp://user@mail.example.com:25"),
            ("EMAIL_TRANSPORT", "smtp://mail.example.com:25/path"),
        ] {
            let err =
                Config::from_lookup(|n| (n == name).then(|| value.to_string())).expect_err(value);
            assert_eq!(err.name, name);
        }
    }

    #[test]
    fn smtp_transports_are_parsed() {
        assert_eq!(
            EmailTransport::parse("smtp://127.0.0.1:2525").unwrap(),
            EmailTransport::Smtp {
                implicit_tls: false,
                host: "127.0.0.1".into(),
                port: 2525,
                credentials: None
            }
        );
        assert_eq!(
            EmailTransport::parse("smtps://me%40example.com:p%3Ass@mail.example.com:465").unwrap(),
            EmailTransport::Smtp {
                implicit_tls: true,
                host: "mail.example.com".into(),
                port: 465,
                credentials: Some(SmtpCredentials {
                    user: "me@example.com".into(),
                    password: "p:ss".into()
                })
            }
        );
    }

    #[test]
    fn the_smtp_password_is_never_shown() {
        let parsed = EmailTransport::parse("smtp://me:hunter2@mail.example.com:587").unwrap();
        assert!(!format!("{parsed:?}").contains("hunter2"));
        for raw in [
            "smtp://me:hunter2@mail.example.com",
            "smtp://me:hunter2@mail.example.com:587/x",
            "ftp://me:hunter2@mail.example.com:21",
            "smtp://me:hunter2@:25",
            "me:hunter2@mail.example.com:25",
        ] {
            let err = EmailTransport::parse(raw).expect_err(raw);
            assert_eq!(err.name, "EMAIL_TRANSPORT");
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Config::from_lookup(|n| (n == "BODY_LIMIT_BYTES").then(|| "lots".to_string()))
            .unwrap_err();
        assert_eq!(err.name, "BODY_LIMIT_BYTES");
        assert!(Config::from_lookup(|n| (n == "RETENTION_DAYS").then(|| "0".to_string())).is_err());
    }

    #[test]
    fn absurd_durations_are_refused_at_start_up_not_panicked_on_later() {
        for (name, value) in [
            ("RETENTION_DAYS", "1000000000"),
            ("RETENTION_DAYS", "99999999999999"),
            ("WORKER_LEASE_SECONDS", "9000000000000000000"),
            ("SNS_MAX_AGE_SECONDS", "18446744073709551615"),
        ] {
            let err =
                Config::from_lookup(|n| (n == name).then(|| value.to_string())).expect_err(name);
            assert_eq!(err.name, name);
        }
        let c = Config::from_lookup(|n| (n == "RETENTION_DAYS").then(|| "36500".to_string()))
            .expect("a century is fine");
        assert!(chrono::Utc::now().checked_add_signed(c.retention).is_some());
    }
}
