//! `90s`, `30m`, `24h`, `7d`: how an operator writes a span of time (the CLI's
//! `--retire-after`, the admin API's `retireAfter`), parsed in one place so both read the same.

/// A span an operator wrote that is not one of ours; the message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDuration {
    #[error("{0:?} needs a unit: s, m, h or d")]
    NoUnit(String),
    #[error("{0:?} does not start with a number")]
    NoNumber(String),
    #[error("unknown unit {0:?}: use s, m, h or d")]
    UnknownUnit(String),
    #[error("must be between 1s and 366d")]
    OutOfRange,
}

/// A whole number and a unit, at most a year.
pub fn parse_duration(raw: &str) -> Result<chrono::Duration, InvalidDuration> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| InvalidDuration::NoUnit(raw.to_owned()))?;
    let (number, unit) = raw.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| InvalidDuration::NoNumber(raw.to_owned()))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(InvalidDuration::UnknownUnit(unit.to_owned())),
    };
    if !(1..=366 * 86_400).contains(&seconds) {
        return Err(InvalidDuration::OutOfRange);
    }
    Ok(chrono::Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(chrono::Duration::seconds(90)));
        assert_eq!(parse_duration("24h"), Ok(chrono::Duration::hours(24)));
        assert_eq!(parse_duration("7d"), Ok(chrono::Duration::days(7)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("999999999999d").is_err());
        assert!(parse_duration("").is_err());
    }
}
