//! The host rules that keep us from fetching anything but SNS itself.
//!
//! The signing PEM carries only a leaf certificate, so there is no chain to validate:
//! pinning the URL to the SNS endpoint of the topic's own region is the whole defence.
//! The raw text is checked before `url::Url` gets to normalise it (the WHATWG parser
//! drops default ports, strips tabs and newlines and turns `\` into `/`), and the parsed
//! URL is then checked again, so both readings have to agree.

use url::Url;

use super::error::SnsError;
use super::message::truncate;
use super::topic_arn::TopicArn;

const CERT_PREFIX: &str = "/SimpleNotificationService-";
const CERT_SUFFIX: &str = ".pem";

/// Validates `SigningCertURL`: `https://<sns host of the topic's region>/SimpleNotificationService-<hex>.pem`,
/// nothing else (no user info, port, query or fragment).
pub fn validate_signing_cert_url(raw: &str, topic: &TopicArn) -> Result<Url, SnsError> {
    let reject = |why: &str| {
        SnsError::rejected(format!(
            "SigningCertURL {:?} refused: {why}",
            truncate(raw, 120)
        ))
    };
    let expected_host = topic.sns_host();
    let rest = split_authority(raw, &expected_host).map_err(|why| reject(&why))?;
    if rest.contains('#') {
        return Err(reject("it has a fragment"));
    }
    if rest.contains('?') {
        return Err(reject("it has a query"));
    }
    let hex = rest
        .strip_prefix(CERT_PREFIX)
        .and_then(|r| r.strip_suffix(CERT_SUFFIX))
        .ok_or_else(|| reject("the path is not /SimpleNotificationService-<hex>.pem"))?;
    if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(reject(
            "the path is not /SimpleNotificationService-<hex>.pem",
        ));
    }
    let url = Url::parse(raw).map_err(|_| reject("it does not parse as a URL"))?;
    let agrees = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.host_str() == Some(expected_host.as_str())
        && url.port().is_none()
        && url.path() == rest
        && url.query().is_none()
        && url.fragment().is_none();
    if !agrees {
        return Err(reject("it is not in canonical form"));
    }
    Ok(url)
}

/// Validates `SubscribeURL`: `https://<sns host of the topic's region>/?Action=ConfirmSubscription&TopicArn=<this topic>&Token=<this token>`.
///
/// Errors name only the host and path: the query carries the confirmation token.
pub fn validate_subscribe_url(raw: &str, topic: &TopicArn, token: &str) -> Result<Url, SnsError> {
    let expected_host = topic.sns_host();
    let reject = |why: &str| {
        SnsError::rejected(format!(
            "SubscribeURL {} refused: {why}",
            host_and_path(raw)
        ))
    };
    let rest = split_authority(raw, &expected_host).map_err(|why| reject(&why))?;
    if rest.contains('#') {
        return Err(reject("it has a fragment"));
    }
    if !rest.starts_with("/?") {
        return Err(reject("the path is not / followed by a query"));
    }
    let url = Url::parse(raw).map_err(|_| reject("it does not parse as a URL"))?;
    let agrees = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.host_str() == Some(expected_host.as_str())
        && url.port().is_none()
        && url.path() == "/"
        && url.fragment().is_none();
    if !agrees {
        return Err(reject("it is not in canonical form"));
    }
    let (mut action, mut topic_arn, mut url_token) = (Vec::new(), Vec::new(), Vec::new());
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "Action" => action.push(value),
            "TopicArn" => topic_arn.push(value),
            "Token" => url_token.push(value),
            _ => {}
        }
    }
    let only = |values: &[std::borrow::Cow<'_, str>], expected: &str| matches!(values, [v] if v == expected);
    if !only(&action, "ConfirmSubscription") {
        return Err(reject(
            "the query does not say Action=ConfirmSubscription exactly once",
        ));
    }
    if !only(&topic_arn, topic.as_str()) {
        return Err(reject("the query's TopicArn is not the message's TopicArn"));
    }
    if !only(&url_token, token) {
        return Err(reject("the query's Token is not the message's Token"));
    }
    Ok(url)
}

/// `https://host/path` of a URL we may log, without query or fragment (they may hold the
/// confirmation token) and without user info.
pub fn host_and_path(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(url) => format!(
            "{}://{}{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default(),
            truncate(url.path(), 80)
        ),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Holds `https://<authority><rest>` to an authority of exactly `expected_host`; returns `rest`.
fn split_authority<'a>(raw: &'a str, expected_host: &str) -> Result<&'a str, String> {
    if !raw.is_ascii() || raw.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\') {
        return Err("it contains whitespace, control, backslash or non-ASCII characters".into());
    }
    let after_scheme = match raw.get(..8) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https://") => &raw[8..],
        _ => return Err("it is not an https:// URL".into()),
    };
    let end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(end);
    if authority.contains('@') {
        return Err("it carries user info".into());
    }
    if authority.contains(':') {
        return Err("it names a port".into());
    }
    if !authority.eq_ignore_ascii_case(expected_host) {
        return Err(format!(
            "the host is not {expected_host}, the SNS endpoint of the topic's region"
        ));
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem";
    const TOKEN: &str = "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92";

    fn topic(region: &str) -> TopicArn {
        TopicArn::parse(&format!("arn:aws:sns:{region}:123456789012:MyTopic")).unwrap()
    }

    fn confirm_url(host: &str) -> String {
        format!(
            "https://{host}/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:MyTopic&Token={TOKEN}"
        )
    }

    fn cert_refusal(raw: &str, region: &str) -> String {
        match validate_signing_cert_url(raw, &topic(region)) {
            Err(SnsError::Rejected(why)) => why,
            other => panic!("{raw} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn genuine_cert_urls_pass() {
        let url = validate_signing_cert_url(CERT, &topic("us-east-1")).unwrap();
        assert_eq!(url.as_str(), CERT);
        let upper_hex =
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-F3ECFB7224C7.pem";
        assert!(
            validate_signing_cert_url(upper_hex, &topic("us-east-1")).is_ok(),
            "hex case is lenient"
        );
        let cn = TopicArn::parse("arn:aws-cn:sns:cn-northwest-1:123456789012:t").unwrap();
        assert!(
            validate_signing_cert_url(
                "https://sns.cn-northwest-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
                &cn
            )
            .is_ok()
        );
        let gov = TopicArn::parse("arn:aws-us-gov:sns:us-gov-west-1:123456789012:t").unwrap();
        assert!(
            validate_signing_cert_url(
                "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
                &gov
            )
            .is_ok()
        );
    }

    #[test]
    fn lookalike_hosts_are_refused() {
        for host in [
            "sns.us-east-1.amazonaws.com.evil.com",
            "sns.us-east-1.amazonaws.com.",
            "evil.com",
            "s3.amazonaws.com",
            "sns.s3-ap-southeast-2.amazonaws.com",
            "s3-ap-southeast-2.amazonaws.com",
            "sns.amazonaws.com",
            "snsxus-east-1.amazonaws.com",
            "sns.us-east-1.amazonaws.com.cn",
            "evilsns.us-east-1.amazonaws.com",
            "sns.us-east-1.amazonaws%2ecom",
            "127.0.0.1",
            "",
        ] {
            let raw = format!("https://{host}/SimpleNotificationService-abc.pem");
            let why = cert_refusal(&raw, "us-east-1");
            assert!(why.contains("host"), "{raw}: {why}");
        }
    }

    #[test]
    fn region_must_be_the_topics() {
        let why = cert_refusal(CERT, "eu-west-1");
        assert!(why.contains("sns.eu-west-1.amazonaws.com"), "{why}");
        let cn = TopicArn::parse("arn:aws-cn:sns:cn-north-1:123456789012:t").unwrap();
        assert!(
            validate_signing_cert_url(
                "https://sns.cn-north-1.amazonaws.com/SimpleNotificationService-abc.pem",
                &cn
            )
            .is_err()
        );
    }

    #[test]
    fn scheme_userinfo_port_query_fragment_are_refused() {
        let base = "sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem";
        for (raw, reason) in [
            (format!("http://{base}"), "https"),
            (format!("ftp://{base}"), "https"),
            (format!("//{base}"), "https"),
            (base.to_owned(), "https"),
            (format!("https://user@{base}"), "user info"),
            (format!("https://user:pw@{base}"), "user info"),
            (
                "https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-abc.pem"
                    .to_owned(),
                "user info",
            ),
            (
                "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem"
                    .to_owned(),
                "port",
            ),
            (
                "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem"
                    .to_owned(),
                "port",
            ),
            (format!("https://{base}?x=1"), "query"),
            (format!("https://{base}#frag"), "fragment"),
            (
                "https://sns.us-east-1.amazonaws.com\\@evil.com/SimpleNotificationService-abc.pem"
                    .to_owned(),
                "backslash",
            ),
            (
                "https://sns.us-east-1.amazon\naws.com/SimpleNotificationService-abc.pem"
                    .to_owned(),
                "whitespace",
            ),
            (format!(" https://{base}"), "whitespace"),
        ] {
            let why = cert_refusal(&raw, "us-east-1");
            assert!(why.contains(reason), "{raw}: expected {reason:?} in {why}");
        }
    }

    #[test]
    fn cert_path_must_be_a_signing_pem() {
        for path in [
            "/",
            "/SimpleNotificationService-.pem",
            "/SimpleNotificationService-xyz.pem",
            "/SimpleNotificationService-abc.pem.exe",
            "/SimpleNotificationService-abc.PEM",
            "/simplenotificationservice-abc.pem",
            "/a/../SimpleNotificationService-abc.pem",
            "/SimpleNotificationService-abc/../../x.pem",
            "/SimpleNotificationService-ab%63.pem",
            "/x/SimpleNotificationService-abc.pem",
        ] {
            let raw = format!("https://sns.us-east-1.amazonaws.com{path}");
            let why = cert_refusal(&raw, "us-east-1");
            assert!(why.contains("path"), "{raw}: {why}");
        }
        let long = format!(
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{}.pem",
            "a".repeat(65)
        );
        assert!(validate_signing_cert_url(&long, &topic("us-east-1")).is_err());
    }

    #[test]
    fn genuine_subscribe_url_passes() {
        let url = validate_subscribe_url(
            &confirm_url("sns.us-east-1.amazonaws.com"),
            &topic("us-east-1"),
            TOKEN,
        )
        .unwrap();
        assert_eq!(url.host_str(), Some("sns.us-east-1.amazonaws.com"));
        // Percent-encoded ARN colons mean the same thing.
        let encoded = confirm_url("sns.us-east-1.amazonaws.com")
            .replace("arn:aws:sns:us-east-1:", "arn%3Aaws%3Asns%3Aus-east-1%3A");
        assert!(validate_subscribe_url(&encoded, &topic("us-east-1"), TOKEN).is_ok());
    }

    #[test]
    fn forged_subscribe_urls_are_refused() {
        let t = topic("us-east-1");
        let good = confirm_url("sns.us-east-1.amazonaws.com");
        let cases = [
            (confirm_url("evil.com"), "host"),
            (confirm_url("sns.us-east-1.amazonaws.com.evil.com"), "host"),
            (confirm_url("sns.eu-west-1.amazonaws.com"), "host"),
            (confirm_url("s3.amazonaws.com"), "host"),
            (good.replace("https://", "http://"), "https"),
            (good.replace("https://", "https://user@"), "user info"),
            (good.replace(".com/", ".com:443/"), "port"),
            (good.replace(".com/", ".com:8443/"), "port"),
            (format!("{good}#x"), "fragment"),
            (good.replace(".com/?", ".com/path?"), "path"),
            (good.replace(".com/?", ".com?"), "path"),
            (
                good.replace("Action=ConfirmSubscription", "Action=Unsubscribe"),
                "Action",
            ),
            (
                good.replace(
                    "Action=ConfirmSubscription",
                    "Action=ConfirmSubscription&Action=Unsubscribe",
                ),
                "Action",
            ),
            (good.replace("Action=ConfirmSubscription&", ""), "Action"),
            (good.replace("MyTopic", "OtherTopic"), "TopicArn"),
            (good.replace(&format!("&Token={TOKEN}"), ""), "Token"),
            (format!("{good}&Token=other"), "Token"),
        ];
        for (raw, reason) in cases {
            match validate_subscribe_url(&raw, &t, TOKEN) {
                Err(SnsError::Rejected(why)) => {
                    assert!(why.contains(reason), "{raw}: expected {reason:?} in {why}");
                    assert!(!why.contains(TOKEN), "the token leaked into {why}");
                }
                other => panic!("{raw} should be rejected, got {other:?}"),
            }
        }
        assert!(validate_subscribe_url(&good, &t, "another-token").is_err());
    }

    #[test]
    fn loggable_form_drops_the_query() {
        let shown = host_and_path(&confirm_url("sns.us-east-1.amazonaws.com"));
        assert_eq!(shown, "https://sns.us-east-1.amazonaws.com/");
        assert_eq!(
            host_and_path("https://u:p@h.example:8443/a?b#c"),
            "https://h.example:8443/a"
        );
    }
}
