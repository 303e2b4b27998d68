//! The `http_request` step's transport: reqwest with a guard that refuses private, loopback,
//! link-local and metadata destinations unless allow-listed.
//!
//! Where the guard acts, so that no path reaches a refused address:
//! - host names: inside the connection's own DNS resolution ([`resolver::GuardedResolver`]);
//! - IP-literal hosts (reqwest never resolves them) and the scheme: before sending, and again
//!   for every redirect hop in the redirect policy;
//! - proxies: none, whatever the environment says, so a proxy cannot carry the request past
//!   the guard.

mod policy;
mod resolver;
#[cfg(test)]
mod tests;

use std::error::Error as StdError;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, redirect};
use url::{Host, Url};

use crate::error_chain::describe;
use crate::ports::{HttpSender, OutboundError, OutboundRequest, OutboundResponse};

pub use policy::{ALLOW_CIDRS_ENV, AddressPolicy, PolicyError};
pub use resolver::{GuardedResolver, Refusal};

/// Response bytes kept when the caller does not choose: step outputs are stored on the
/// execution record, which must stay small.
pub const DEFAULT_BODY_CAP: usize = 64 * 1024;
/// Redirect hops followed before giving up (when the request asks to follow them).
pub const MAX_REDIRECTS: usize = 5;

/// The guarded [`HttpSender`]. Build it once per process: it holds the connection pools.
///
/// The two reqwest clients are built on the first request that passes the checks, not with
/// this value: each loads the trust store, which was most of what the worker's cold start
/// spent beyond the API's, and many workflows never make an `http_request` step. A build
/// that fails (no root certificate on the machine) is kept and logged once: it is the
/// deployment's problem, and every request answers it as [`OutboundError::Setup`].
#[derive(Debug)]
pub struct GuardedHttpClient {
    clients: std::sync::OnceLock<Result<Clients, String>>,
    policy: Arc<AddressPolicy>,
    body_cap: usize,
}

/// reqwest fixes the redirect policy per client, and `follow_redirects` is per request: one
/// client returns 3xx as they are, the other follows them through the guard.
#[derive(Debug)]
struct Clients {
    direct: reqwest::Client,
    following: reqwest::Client,
}

impl Clients {
    fn build(policy: &Arc<AddressPolicy>) -> Result<Clients, String> {
        let hop_policy = Arc::clone(policy);
        let follow = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(Refusal(format!("more than {MAX_REDIRECTS} redirects")));
            }
            match check_destination(&hop_policy, attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        });
        Ok(Clients {
            direct: build_client(policy, redirect::Policy::none())?,
            following: build_client(policy, follow)?,
        })
    }
}

impl GuardedHttpClient {
    /// A client guarded by `policy`, keeping at most `body_cap` bytes of each response body.
    pub fn new(policy: AddressPolicy, body_cap: usize) -> Self {
        Self {
            clients: std::sync::OnceLock::new(),
            policy: Arc::new(policy),
            body_cap,
        }
    }

    /// The allow-list from [`ALLOW_CIDRS_ENV`] and the default body cap.
    pub fn from_env() -> Result<Self, PolicyError> {
        Ok(Self::new(AddressPolicy::from_env()?, DEFAULT_BODY_CAP))
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    pub fn body_cap(&self) -> usize {
        self.body_cap
    }

    /// Whether the reqwest clients have been built yet (not until the first request).
    pub fn is_built(&self) -> bool {
        self.clients.get().is_some()
    }

    fn clients(&self) -> Result<&Clients, OutboundError> {
        self.clients
            .get_or_init(|| {
                let built = Clients::build(&self.policy);
                if let Err(error) = &built {
                    tracing::error!(%error, "http_request steps cannot run: the HTTP client cannot be built");
                }
                built
            })
            .as_ref()
            .map_err(|error| OutboundError::Setup(error.clone()))
    }

    async fn exchange(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<OutboundResponse, reqwest::Error> {
        let mut response = client.execute(request).await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut body_truncated = false;
        while let Some(chunk) = response.chunk().await? {
            let room = self.body_cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                body_truncated = true;
                // Dropping the response closes the connection instead of reading the rest.
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
            body_truncated,
        })
    }
}

fn build_client(
    policy: &Arc<AddressPolicy>,
    redirects: redirect::Policy,
) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(policy))))
        .no_proxy()
        .redirect(redirects)
        // A URL may carry a token in its query; a redirect target need not learn it.
        .referer(false)
        .user_agent(concat!("webhook-trigger/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", describe(&e)))
}

/// The checks that need no DNS: an http(s) scheme, and an allowed address when the host is an
/// IP literal (host names are checked by the resolver when connecting).
fn check_destination(policy: &AddressPolicy, url: &Url) -> Result<(), Refusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => ip.into(),
        Some(Host::Ipv6(ip)) => ip.into(),
        Some(Host::Domain(_)) => return Ok(()),
        None => return Err(Refusal("the URL has no host".to_owned())),
    };
    policy.check(ip).map_err(Refusal)
}

/// Turns the rendered request into a reqwest one, refusing what the guard refuses. Needs no
/// client: a request refused here never builds one.
fn prepare(
    policy: &AddressPolicy,
    request: OutboundRequest,
) -> Result<reqwest::Request, OutboundError> {
    let url = Url::parse(&request.url)
        .map_err(|e| OutboundError::Invalid(format!("URL is not valid: {e}")))?;
    check_destination(policy, &url).map_err(|r| OutboundError::Refused(r.0))?;
    let method = Method::from_bytes(request.method.as_bytes())
        .map_err(|_| OutboundError::Invalid(format!("method `{}` is not valid", request.method)))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| OutboundError::Invalid(format!("header name `{name}` is not valid")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| OutboundError::Invalid(format!("header `{name}` has an invalid value")))?;
        headers.append(header, value);
    }
    let mut prepared = reqwest::Request::new(method, url);
    *prepared.headers_mut() = headers;
    if let Some(body) = request.body {
        *prepared.body_mut() = Some(body.into());
    }
    Ok(prepared)
}

#[async_trait]
impl HttpSender for GuardedHttpClient {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let (timeout, follow_redirects) = (request.timeout, request.follow_redirects);
        let prepared = prepare(&self.policy, request)?;
        let clients = self.clients()?;
        let client = if follow_redirects {
            &clients.following
        } else {
            &clients.direct
        };
        // One deadline for the whole exchange, connect to last body byte.
        match tokio::time::timeout(timeout, self.exchange(client, prepared)).await {
            Err(_elapsed) => Err(OutboundError::Timeout(timeout)),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(classify(e, timeout)),
        }
    }
}

fn classify(error: reqwest::Error, timeout: std::time::Duration) -> OutboundError {
    if let Some(refusal) = find_cause::<Refusal>(&error) {
        return OutboundError::Refused(refusal.0.clone());
    }
    // The URL may carry secrets (tokens in the query); errors end up in step records.
    let error = error.without_url();
    let text = describe(&error);
    if error.is_timeout() {
        OutboundError::Timeout(timeout)
    } else if error.is_builder() {
        OutboundError::Invalid(text)
    } else if error.is_connect() {
        OutboundError::Connect(text)
    } else {
        OutboundError::Transport(text)
    }
}

fn find_cause<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}
