//! The one door to the network: certificate and SubscribeURL fetches go through
//! [`HttpFetcher`], so tests and local play can swap the transport while the URL rules stay.

use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use crate::error_chain::describe;

/// What came back from a GET; the status is judged by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedBody {
    /// The HTTP status. A 3xx is returned as is: redirects are never followed.
    pub status: u16,
    /// The body, at most `max_bytes` long.
    pub body: Vec<u8>,
}

/// Why a GET produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The whole exchange took longer than allowed.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The body was longer than the caller accepts.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// The cap that was exceeded.
        limit: usize,
    },
    /// Connection, TLS or protocol failure. Never contains the URL.
    #[error("transport failure: {0}")]
    Transport(String),
    /// The fetcher could not be set up (e.g. a malformed endpoint override).
    #[error("fetcher misconfigured: {0}")]
    Config(String),
}

/// A GET that never follows redirects and never reads more than `max_bytes`.
///
/// Callers hand it only URLs that passed the SNS host rules.
#[async_trait]
pub trait HttpFetcher: Send + Sync {
    /// Fetches `url`, returning whatever status the server answered.
    async fn get(&self, url: &Url, max_bytes: usize) -> Result<FetchedBody, FetchError>;
}

/// Settings for [`HttpsFetcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetcherConfig {
    /// Where to send requests instead of the URL's own host (scheme, host and port are
    /// taken from it; path and query stay those of the validated URL).
    pub endpoint: Option<Url>,
    /// Budget for one whole request, connect to last byte. SNS waits 15 s for our answer,
    /// so this must stay well below that.
    pub timeout: Duration,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            endpoint: None,
            timeout: Duration::from_secs(3),
        }
    }
}

/// The production fetcher: reqwest with rustls, no redirects, no proxy, a timeout.
///
/// Built once per process; the client's connection pool is then shared by every request.
#[derive(Debug, Clone)]
pub struct HttpsFetcher {
    client: reqwest::Client,
    endpoint: Option<Url>,
    timeout: Duration,
}

impl HttpsFetcher {
    /// A fetcher with an explicit transport override (tests, local play) and the default
    /// timeout.
    pub fn with_endpoint(endpoint: Option<Url>) -> Result<HttpsFetcher, FetchError> {
        HttpsFetcher::new(FetcherConfig {
            endpoint,
            ..FetcherConfig::default()
        })
    }

    /// A fetcher from explicit settings.
    pub fn new(config: FetcherConfig) -> Result<HttpsFetcher, FetchError> {
        if let Some(endpoint) = &config.endpoint {
            check_endpoint(endpoint)?;
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Without an override every URL is a validated https SNS URL; refuse anything
            // else even if a caller slipped.
            .https_only(config.endpoint.is_none())
            .user_agent(concat!("webhook-trigger/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Config(describe(&e.without_url())))?;
        Ok(HttpsFetcher {
            client,
            endpoint: config.endpoint,
            timeout: config.timeout,
        })
    }

    /// The transport override in force, if any.
    pub fn endpoint(&self) -> Option<&Url> {
        self.endpoint.as_ref()
    }

    /// Where a request for `url` actually goes.
    pub fn target(&self, url: &Url) -> Result<Url, FetchError> {
        match &self.endpoint {
            None => Ok(url.clone()),
            Some(endpoint) => redirect_transport(url, endpoint),
        }
    }
}

#[async_trait]
impl HttpFetcher for HttpsFetcher {
    async fn get(&self, url: &Url, max_bytes: usize) -> Result<FetchedBody, FetchError> {
        let target = self.target(url)?;
        let fail = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout(self.timeout)
            } else {
                FetchError::Transport(describe(&e.without_url()))
            }
        };
        let mut response = self.client.get(target).send().await.map_err(fail)?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|len| len > max_bytes as u64)
        {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge { limit: max_bytes });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchedBody { status, body })
    }
}

/// An [`HttpsFetcher`] built on the first fetch and kept for the life of the process: its
/// HTTPS client would add to every cold start, and most workflows never receive SNS. A client
/// that cannot be built fails each fetch with [`FetchError::Config`] (HTTP 502 for SNS).
pub struct LazyHttpsFetcher {
    config: FetcherConfig,
    built: std::sync::OnceLock<Result<HttpsFetcher, FetchError>>,
}

impl LazyHttpsFetcher {
    pub fn new(config: FetcherConfig) -> Self {
        Self {
            config,
            built: std::sync::OnceLock::new(),
        }
    }

    /// The default timeout, with `endpoint` as the transport override (unset in production).
    pub fn with_endpoint(endpoint: Option<Url>) -> Self {
        Self::new(FetcherConfig {
            endpoint,
            ..FetcherConfig::default()
        })
    }

    /// Whether the client has been built yet (it is not until the first SNS delivery).
    pub fn is_built(&self) -> bool {
        self.built.get().is_some()
    }
}

#[async_trait]
impl HttpFetcher for LazyHttpsFetcher {
    async fn get(&self, url: &Url, max_bytes: usize) -> Result<FetchedBody, FetchError> {
        let fetcher = self
            .built
            .get_or_init(|| HttpsFetcher::new(self.config.clone()))
            .as_ref()
            .map_err(Clone::clone)?;
        fetcher.get(url, max_bytes).await
    }
}

fn check_endpoint(endpoint: &Url) -> Result<(), FetchError> {
    if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host().is_none() {
        return Err(FetchError::Config(format!(
            "endpoint override {endpoint} must be an http(s) URL with a host"
        )));
    }
    Ok(())
}

/// `url` with scheme, host and port taken from `endpoint`; path and query untouched.
fn redirect_transport(url: &Url, endpoint: &Url) -> Result<Url, FetchError> {
    let mut target = url.clone();
    let bad = || {
        FetchError::Config(format!(
            "cannot send requests to endpoint override {endpoint}"
        ))
    };
    target.set_scheme(endpoint.scheme()).map_err(|()| bad())?;
    target.set_host(endpoint.host_str()).map_err(|_| bad())?;
    target.set_port(endpoint.port()).map_err(|()| bad())?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_lazy_fetcher_builds_nothing_until_the_first_fetch() {
        let bad = Url::parse("mailto:ops@example.com").ok();
        let lazy = LazyHttpsFetcher::with_endpoint(bad);
        assert!(!lazy.is_built());
        let url = Url::parse("https://sns.us-east-1.amazonaws.com/x.pem").unwrap();
        assert!(matches!(
            lazy.get(&url, 10).await,
            Err(FetchError::Config(_))
        ));
        assert!(lazy.is_built());
    }

    #[test]
    fn a_malformed_override_is_a_config_error() {
        for raw in ["file:///tmp", "mailto:ops@example.com"] {
            let endpoint = Url::parse(raw).ok();
            assert!(
                matches!(
                    HttpsFetcher::with_endpoint(endpoint),
                    Err(FetchError::Config(_))
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn override_replaces_only_scheme_host_and_port() {
        let url = Url::parse("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:1:t&Token=abc").unwrap();
        let target = redirect_transport(
            &url,
            &Url::parse("http://127.0.0.1:4566/ignored?x#y").unwrap(),
        )
        .unwrap();
        assert_eq!(
            target.as_str(),
            "http://127.0.0.1:4566/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:1:t&Token=abc"
        );
        let pem =
            Url::parse("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem")
                .unwrap();
        let target = redirect_transport(&pem, &Url::parse("http://[::1]:9/").unwrap()).unwrap();
        assert_eq!(
            target.as_str(),
            "http://[::1]:9/SimpleNotificationService-abc.pem"
        );
        let target = redirect_transport(&pem, &Url::parse("https://localhost").unwrap()).unwrap();
        assert_eq!(
            target.as_str(),
            "https://localhost/SimpleNotificationService-abc.pem"
        );
    }

    #[test]
    fn without_override_the_url_is_used_as_is() {
        let fetcher = HttpsFetcher::with_endpoint(None).unwrap();
        let url =
            Url::parse("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem")
                .unwrap();
        assert_eq!(fetcher.target(&url).unwrap(), url);
    }
}
