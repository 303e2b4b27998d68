//! The guard inside the connection: a DNS resolver that hands the connector only addresses
//! the policy allows. Checking here, rather than resolving once to check and letting the
//! connector resolve again, leaves no window for a name to change its answer (DNS rebinding).

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::AddressPolicy;

/// Every address of a name was refused. A distinct type so the client can find it in
/// reqwest's error chain and report a refusal rather than a connection failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<AddressPolicy>) -> Self {
        Self { policy }
    }

    /// Resolves `host` and keeps the allowed addresses; errs with [`Refusal`] when the name
    /// has addresses but none is allowed.
    pub async fn lookup(
        &self,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        // Port 0: reqwest puts the URL's (or the scheme's) port in place.
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let mut refusals = Vec::new();
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|addr| match self.policy.check(addr.ip()) {
                Ok(()) => true,
                Err(reason) => {
                    refusals.push(reason);
                    false
                }
            })
            .collect();
        if allowed.is_empty() {
            if refusals.is_empty() {
                return Err(format!("{host} has no addresses").into());
            }
            return Err(Box::new(Refusal(format!(
                "{host} resolves only to refused addresses: {}",
                refusals.join("; ")
            ))));
        }
        Ok(allowed)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `localhost` comes from /etc/hosts (nsswitch `files` first), so these make no DNS query.

    #[tokio::test]
    async fn drops_refused_addresses_and_keeps_allowed_ones() {
        let policy = AddressPolicy::from_env_value(Some("127.0.0.1/32")).expect("policy");
        let resolver = GuardedResolver::new(Arc::new(policy));
        let addrs = resolver.lookup("localhost").await.expect("allowed");
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip() == std::net::Ipv4Addr::LOCALHOST),
            "{addrs:?}"
        );
    }

    #[tokio::test]
    async fn refuses_a_name_with_only_refused_addresses() {
        let resolver = GuardedResolver::new(Arc::new(AddressPolicy::new()));
        let err = resolver.lookup("localhost").await.expect_err("refused");
        let refusal = err.downcast_ref::<Refusal>().expect("a Refusal");
        assert!(refusal.0.contains("loopback"), "{refusal}");
    }
}
