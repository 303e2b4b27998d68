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
    /// The value before the last rotation, still accepted until it is retired, so callers can
    /// move to the new value without a gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousKey {
    pub hash: String,
    pub prefix: String,
    pub rotated_at: DateTime<Utc>,
    /// When it stops working by itself; `None` keeps it until `api-keys retire`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<DateTime<Utc>>,
}

impl PreviousKey {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.retire_at.is_none_or(|at| now < at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRotationError {
    #[error("the key is revoked")]
    Revoked,
    #[error(
        "the previous value is still accepted; retire it first (`api-keys retire {0}`) so no more than two values are live"
    )]
    PreviousStillLive(ApiKeyName),
    #[error("the key has no previous value to retire")]
    NothingToRetire,
}

/// When a key was last used to open a workflow: a record of its own, so that writing it
/// (at most once a minute per key and process) can never overwrite a rotation or a revocation
/// made meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsage {
    pub name: ApiKeyName,
    pub last_used_at: DateTime<Utc>,
}

impl ApiKey {
    pub fn generate(name: ApiKeyName, now: DateTime<Utc>) -> (Self, KeySecret) {
        Self::generate_with_prefix(name, now, SECRET_PREFIX)
    }

    /// As [`generate`](Self::generate), with another value prefix (admin keys use `wha_`, so
    /// a value tells at a glance which kind of credential it is).
    pub(crate) fn generate_with_prefix(
        name: ApiKeyName,
        now: DateTime<Utc>,
        secret_prefix: &str,
    ) -> (Self, KeySecret) {
        let value = new_value(secret_prefix);
        let key = Self {
            name,
            hash: hash_value(&value),
            prefix: value[..DISPLAY_PREFIX_LEN].to_owned(),
            created_at: now,
            revoked_at: None,
            previous: None,
        };
        (key, KeySecret(value))
    }

    /// A new value; the current one becomes the previous and keeps working until
    /// `retire_after` has passed (or until [`retire_previous`](Self::retire_previous)).
    pub fn rotate(
        &mut self,
        now: DateTime<Utc>,
        retire_after: Option<chrono::Duration>,
    ) -> Result<KeySecret, KeyRotationError> {
        if self.is_revoked() {
            return Err(KeyRotationError::Revoked);
        }
        if self.previous.as_ref().is_some_and(|p| p.is_live(now)) {
            return Err(KeyRotationError::PreviousStillLive(self.name.clone()));
        }
        let value = new_value(SECRET_PREFIX);
        self.previous = Some(PreviousKey {
            hash: std::mem::replace(&mut self.hash, hash_value(&value)),
            prefix: std::mem::replace(&mut self.prefix, value[..DISPLAY_PREFIX_LEN].to_owned()),
            rotated_at: now,
            retire_at: retire_after.map(|d| now + d),
        });
        Ok(KeySecret(value))
    }

    /// Ends the overlap: only the current value works from now on.
    pub fn retire_previous(&mut self) -> Result<PreviousKey, KeyRotationError> {
        self.previous
            .take()
            .ok_or(KeyRotationError::NothingToRetire)
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// True when `presented` is this key's value and the key is not revoked. The comparison of
    /// the hashes runs in constant time.
    pub fn accepts(&self, presented: &str) -> bool {
        self.accepts_at(presented, Utc::now())
    }

    /// As [`accepts`](Self::accepts), at `now`: the previous value of a rotation is accepted
    /// until its retirement time. Both hashes are compared every time, in constant time.
    pub fn accepts_at(&self, presented: &str, now: DateTime<Utc>) -> bool {
        if self.is_revoked() {
            return false;
        }
        let presented = hash_value(presented);
        let current = presented.as_bytes().ct_eq(self.hash.as_bytes());
        let previous = match &self.previous {
            Some(p) => {
                presented.as_bytes().ct_eq(p.hash.as_bytes())
                    & subtle::Choice::from(u8::from(p.is_live(now)))
            }
            None => subtle::Choice::from(0),
        };
        (current | previous).into()
    }

    pub fn revoke(&mut self, now: DateTime<Utc>) {
        if self.revoked_at.is_none() {
            self.revoked_at = Some(now);
        }
    }
}

fn new_value(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
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
    fn rotation_keeps_the_old_value_until_it_is_retired() {
        let (mut key, old) = key();
        let now = Utc::now();
        let new = key.rotate(now, None).unwrap();
        assert!(key.accepts_at(old.expose(), now));
        assert!(key.accepts_at(new.expose(), now));
        assert!(matches!(
            key.rotate(now, None),
            Err(KeyRotationError::PreviousStillLive(_))
        ));
        assert_eq!(key.previous.as_ref().unwrap().prefix, &old.expose()[..8]);
        key.retire_previous().unwrap();
        assert!(!key.accepts_at(old.expose(), now));
        assert!(key.accepts_at(new.expose(), now));
        assert_eq!(
            key.retire_previous(),
            Err(KeyRotationError::NothingToRetire)
        );
        let stored = serde_json::to_string(&key).unwrap();
        assert!(!stored.contains(new.expose()) && !stored.contains(old.expose()));
    }

    #[test]
    fn a_rotated_value_retires_by_itself_after_its_time() {
        let (mut key, old) = key();
        let now = Utc::now();
        let new = key.rotate(now, Some(chrono::Duration::hours(1))).unwrap();
        let later = now + chrono::Duration::minutes(59);
        assert!(key.accepts_at(old.expose(), later));
        let after = now + chrono::Duration::hours(1);
        assert!(!key.accepts_at(old.expose(), after));
        assert!(key.accepts_at(new.expose(), after));
        // Once it has retired itself, the next rotation needs no explicit retire.
        assert!(key.rotate(after, None).is_ok());
        key.revoke(after);
        assert_eq!(
            key.rotate(after, None).unwrap_err(),
            KeyRotationError::Revoked
        );
    }

    #[test]
    fn key_name_rules() {
        assert!(ApiKeyName::parse("prod key").is_err());
        assert!(ApiKeyName::parse("prod-key_1").is_ok());
    }
}
