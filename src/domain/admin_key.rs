//! Admin keys: the operator's credential for the console and the `/admin` routes. A kind of
//! its own, stored apart from API keys, so no workflow can name one and no workflow key opens
//! the console. Hashed and shown once exactly like API keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::api_key::{ApiKey, ApiKeyName, KeySecret};

/// The prefix of every admin key value (API keys start with `whk_`).
pub const ADMIN_SECRET_PREFIX: &str = "wha_";

/// Stored as the same fields as an API key (name, hash, display prefix, times); rotation is
/// not offered: create a second admin key, then revoke the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AdminKey(pub ApiKey);

impl AdminKey {
    pub fn generate(name: ApiKeyName, now: DateTime<Utc>) -> (Self, KeySecret) {
        let (key, secret) = ApiKey::generate_with_prefix(name, now, ADMIN_SECRET_PREFIX);
        (Self(key), secret)
    }

    pub fn name(&self) -> &ApiKeyName {
        &self.0.name
    }

    /// Constant-time, and false once revoked.
    pub fn accepts(&self, presented: &str) -> bool {
        self.0.accepts(presented)
    }

    pub fn revoke(&mut self, now: DateTime<Utc>) {
        self.0.revoke(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_key_accepts_its_value_only_and_stores_no_plaintext() {
        let (mut key, secret) = AdminKey::generate(ApiKeyName::parse("ops").unwrap(), Utc::now());
        assert!(secret.expose().starts_with(ADMIN_SECRET_PREFIX));
        assert!(key.accepts(secret.expose()));
        assert!(!key.accepts("wha_wrong"));
        assert!(
            !serde_json::to_string(&key)
                .unwrap()
                .contains(secret.expose())
        );
        key.revoke(Utc::now());
        assert!(!key.accepts(secret.expose()));
    }

    #[test]
    fn an_api_key_value_is_never_an_admin_key_value() {
        let (api, api_secret) = ApiKey::generate(ApiKeyName::parse("ops").unwrap(), Utc::now());
        let (admin, _) = AdminKey::generate(ApiKeyName::parse("ops").unwrap(), Utc::now());
        assert!(!admin.accepts(api_secret.expose()));
        assert!(api.accepts(api_secret.expose()));
    }
}
