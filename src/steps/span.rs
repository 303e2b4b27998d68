//! How long a step waits, as workflow files write it: a whole number and a unit, `30s`, `10m`,
//! `24h`, `7d`, from one second to seven days. Kept as written, so a stored step reads back
//! unchanged.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::duration::InvalidDuration;

/// The longest any step waits: a wait, an approval's or a callback's timeout.
pub const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    written: String,
    duration: Duration,
}

impl Span {
    /// The operator's duration syntax (`crate::domain::parse_duration`), within 1s .. 7d.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let outside = || format!("{raw:?} is outside 1s .. 7d");
        let duration = match crate::domain::parse_duration(raw) {
            Ok(d) => d.to_std().map_err(|_| outside())?,
            Err(InvalidDuration::OutOfRange) => return Err(outside()),
            Err(_) => {
                return Err(format!(
                    "{raw:?} is not a duration: a whole number and s, m, h or d (30s, 10m, 24h, 7d)"
                ));
            }
        };
        if duration > MAX_WAIT {
            return Err(outside());
        }
        Ok(Self {
            written: raw.trim().to_owned(),
            duration,
        })
    }

    /// The timeout of an `approval` or `callback` that names none: 24h.
    pub fn default_timeout() -> Self {
        Self {
            written: "24h".into(),
            duration: Duration::from_secs(24 * 3600),
        }
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    pub fn chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.duration).unwrap_or(chrono::Duration::MAX)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.written)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The shape only: the range (1s .. 7d) is the loader's.
impl schemars::JsonSchema for Span {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Span".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A whole number and s, m, h or d (30s, 10m, 24h, 7d), within 1s .. 7d.",
            "pattern": r"^\s*[0-9]+[smhd]\s*$",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_units_and_refuse_what_is_out_of_range() {
        assert_eq!(
            Span::parse("10m").unwrap().duration(),
            Duration::from_secs(600)
        );
        assert_eq!(Span::parse("7d").unwrap().duration(), MAX_WAIT);
        assert_eq!(Span::parse("1s").unwrap().to_string(), "1s");
        for bad in [
            "0s",
            "8d",
            "10",
            "m",
            "1.5h",
            "10 m",
            "-1s",
            "99999999999999999999d",
        ] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }
}
