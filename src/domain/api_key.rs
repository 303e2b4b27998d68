//! API keys: named secrets whose value is shown once and stored only as a hash.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ids::{InvalidId, parse_token};

const SECRET_PREFIX: &str = "whk_";
/// Characters of the value kept for display ("whk_3f9a…"), enough to tell keys apart.
const DISPLAY_PREFIX_LEN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKeyName(String);

impl ApiKeyName {
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        parse_token(raw, "API key name", 64).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApiKeyName {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ApiKeyName> for String {
    fn from(name: ApiKeyName) -> Self {
        name.0
    }
}

impl fmt::Display for ApiKeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one-time plaintext of a new key. Its `Debug` is redacted so it cannot leak through a
/// stray `{:?}` in a log line.
pub struct KeySecret(String);

impl KeySecret {
    /// Only for handing the value to the person who created the key.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySecret(<redacted>)")
    }
}

/// What is stored about a key. The hash is SHA-256 of the value: the values are 256 random
/// bits, so a slow password hash would add latency to every webhook and no security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub name: ApiKeyName,
    pub hash: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn generate(name: ApiKeyName, now: DateTime<Utc>) -> (Self, KeySecret) {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let value = format!("{SECRET_PREFIX}{}", hex::encode(bytes));
        let key = Self {
            name,
            hash: hash_value(&value),
            prefix: value[..DISPLAY_PREFIX_LEN].to_owned(),
            created_at: now,
            revoked_at: None,
        };
        (key, KeySecret(value))
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// True when `presented` is this key's value and the key is not revoked. The comparison of
    /// the hashes runs in constant time.
    pub fn accepts(&self, presented: &str) -> bool {
        if self.is_revoked() {
            return false;
        }
        let presented = hash_value(presented);
        presented.as_bytes().ct_eq(self.hash.as_bytes()).into()
    }

    pub fn revoke(&mut self, now: DateTime<Utc>) {
        if self.revoked_at.is_none() {
            self.revoked_at = Some(now);
        }
    }
}

fn hash_value(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (ApiKey, KeySecret) {
        ApiKey::generate(ApiKeyName::parse("ci").unwrap(), Utc::now())
    }

    #[test]
    fn generated_key_accepts_its_value_only() {
        let (key, secret) = key();
        assert!(key.accepts(secret.expose()));
        assert!(!key.accepts("whk_wrong"));
        assert!(!key.accepts(""));
    }

    #[test]
    fn stored_record_holds_no_plaintext() {
        let (key, secret) = key();
        let stored = serde_json::to_string(&key).unwrap();
        assert!(!stored.contains(secret.expose()));
        assert_eq!(key.prefix, &secret.expose()[..8]);
        assert!(secret.expose().starts_with("whk_"));
    }

    #[test]
    fn revoked_key_accepts_nothing() {
        let (mut key, secret) = key();
        key.revoke(Utc::now());
        assert!(!key.accepts(secret.expose()));
    }

    #[test]
    fn revoking_twice_keeps_the_first_time() {
        let (mut key, _) = key();
        let first = Utc::now();
        key.revoke(first);
        key.revoke(first + chrono::Duration::seconds(10));
        assert_eq!(key.revoked_at, Some(first));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let (_, secret) = key();
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }

    #[test]
    fn two_keys_differ() {
        let (_, a) = key();
        let (_, b) = key();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn key_name_rules() {
        assert!(ApiKeyName::parse("prod key").is_err());
        assert!(ApiKeyName::parse("prod-key_1").is_ok());
    }
}
