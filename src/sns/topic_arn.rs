//! The topic ARN is the one signed field that tells us where the message claims to come
//! from, so its region is what pins the certificate and SubscribeURL hosts.

use std::fmt;

use super::error::SnsError;

/// The AWS partitions whose SNS endpoints live under `amazonaws.com[.cn]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// `aws`: the commercial regions.
    Aws,
    /// `aws-cn`: Beijing and Ningxia, served from `amazonaws.com.cn`.
    AwsCn,
    /// `aws-us-gov`: GovCloud.
    AwsUsGov,
}

fn partition_text_len(partition: Partition) -> usize {
    match partition {
        Partition::Aws => "aws".len(),
        Partition::AwsCn => "aws-cn".len(),
        Partition::AwsUsGov => "aws-us-gov".len(),
    }
}

/// A parsed `arn:<partition>:sns:<region>:<account>:<topic>`, kept with its raw text.
///
/// Parsing is strict because the region ends up in a host name we connect to: anything
/// looser would let a message steer our fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    raw: String,
    partition: Partition,
    /// Where the region is in `raw`: one allocation per ARN, as every SNS message has one.
    region: std::ops::Range<usize>,
}

impl TopicArn {
    /// Parses a topic ARN, refusing subscription ARNs, unknown partitions, malformed
    /// regions, and regions that do not belong to the partition.
    pub fn parse(raw: &str) -> Result<TopicArn, SnsError> {
        let bad =
            |why: &str| SnsError::malformed(format!("TopicArn is not an SNS topic ARN: {why}"));
        let mut parts = raw.split(':');
        let (
            Some("arn"),
            Some(partition),
            Some("sns"),
            Some(region),
            Some(account),
            Some(topic),
            None,
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(bad(
                "expected arn:<partition>:sns:<region>:<account>:<topic>",
            ));
        };
        let partition = match partition {
            "aws" => Partition::Aws,
            "aws-cn" => Partition::AwsCn,
            "aws-us-gov" => Partition::AwsUsGov,
            _ => return Err(bad("unknown partition")),
        };
        if !is_region(region) {
            return Err(bad("malformed region"));
        }
        let region_partition = if region.starts_with("cn-") {
            Some(Partition::AwsCn)
        } else if region.starts_with("us-gov-") {
            Some(Partition::AwsUsGov)
        } else if region.contains("-iso") {
            // ISO regions live in partitions whose SNS hosts are not under amazonaws.com.
            None
        } else {
            Some(Partition::Aws)
        };
        if region_partition != Some(partition) {
            return Err(bad("region does not belong to the partition"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("account is not 12 digits"));
        }
        if !is_topic_name(topic) {
            return Err(bad("malformed topic name"));
        }
        // `arn:` + partition + `:sns:`, all ASCII as matched above.
        let region_start = "arn:".len() + partition_text_len(partition) + ":sns:".len();
        Ok(TopicArn {
            raw: raw.to_owned(),
            partition,
            region: region_start..region_start + region.len(),
        })
    }

    /// The ARN exactly as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The partition the ARN names.
    pub fn partition(&self) -> Partition {
        self.partition
    }

    /// The region, e.g. `us-east-1`.
    pub fn region(&self) -> &str {
        &self.raw[self.region.clone()]
    }

    /// Whether `host` is [`Self::sns_host`], without building it.
    pub fn is_sns_host(&self, host: &str) -> bool {
        let domain = match self.partition {
            Partition::AwsCn => ".amazonaws.com.cn",
            Partition::Aws | Partition::AwsUsGov => ".amazonaws.com",
        };
        host.strip_prefix("sns.")
            .and_then(|rest| rest.strip_suffix(domain))
            == Some(self.region())
    }

    /// The only host SNS of this topic's region signs from and confirms on.
    pub fn sns_host(&self) -> String {
        match self.partition {
            Partition::AwsCn => format!("sns.{}.amazonaws.com.cn", self.region()),
            Partition::Aws | Partition::AwsUsGov => format!("sns.{}.amazonaws.com", self.region()),
        }
    }
}

impl fmt::Display for TopicArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}`, written out so no regex engine is needed.
pub fn is_region(region: &str) -> bool {
    // At most four parts, in a fixed array: a region is checked for every SNS message.
    let mut parts = [""; 4];
    let mut count = 0;
    for part in region.split('-') {
        let Some(slot) = parts.get_mut(count) else {
            return false;
        };
        *slot = part;
        count += 1;
    }
    let parts = &parts[..count];
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let number = |s: &str| (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let qualifier =
        |s: &str| s == "gov" || (s.starts_with("iso") && s.bytes().all(|b| b.is_ascii_lowercase()));
    match parts {
        [country, area, n] => country.len() == 2 && lower(country) && lower(area) && number(n),
        [country, q, area, n] => {
            country.len() == 2 && lower(country) && qualifier(q) && lower(area) && number(n)
        }
        _ => false,
    }
}

/// AWS's own rule: 1–256 of `[A-Za-z0-9_-]`, plus `.fifo` for FIFO topics.
fn is_topic_name(topic: &str) -> bool {
    let base = topic.strip_suffix(".fifo").unwrap_or(topic);
    let total = topic.len();
    (1..=256).contains(&total)
        && !base.is_empty()
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commercial_topic_arn_yields_region_and_host() {
        let arn = TopicArn::parse("arn:aws:sns:us-east-1:123456789012:MyTopic").unwrap();
        assert_eq!(arn.region(), "us-east-1");
        assert_eq!(arn.partition(), Partition::Aws);
        assert_eq!(arn.sns_host(), "sns.us-east-1.amazonaws.com");
    }

    #[test]
    fn china_topic_arn_uses_the_cn_domain() {
        let arn = TopicArn::parse("arn:aws-cn:sns:cn-north-1:123456789012:t").unwrap();
        assert_eq!(arn.sns_host(), "sns.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn govcloud_topic_arn_is_accepted() {
        let arn = TopicArn::parse("arn:aws-us-gov:sns:us-gov-west-1:123456789012:t.fifo").unwrap();
        assert_eq!(arn.sns_host(), "sns.us-gov-west-1.amazonaws.com");
    }

    #[test]
    fn malformed_topic_arns_are_refused() {
        for raw in [
            "",
            "arn:aws:sns:us-east-1:123456789012",
            "arn:aws:sns:us-east-1:123456789012:t:sub-id",
            "arn:aws:sqs:us-east-1:123456789012:t",
            "arn:aws-iso:sns:us-iso-east-1:123456789012:t",
            "arn:aws:sns:us-iso-east-1:123456789012:t",
            "arn:aws:sns:cn-north-1:123456789012:t",
            "arn:aws-cn:sns:us-east-1:123456789012:t",
            "arn:aws:sns:us-gov-west-1:123456789012:t",
            "arn:aws:sns:US-EAST-1:123456789012:t",
            "arn:aws:sns:us-east-1.evil.com:123456789012:t",
            "arn:aws:sns:s3-ap-southeast-2:123456789012:t",
            "arn:aws:sns:us-east-1:12345678901:t",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:aws:sns:us-east-1:123456789012:a/b",
            "arn:aws:sns:us-east-1:123456789012:.fifo",
        ] {
            assert!(TopicArn::parse(raw).is_err(), "{raw} should be refused");
        }
    }

    #[test]
    fn is_sns_host_agrees_with_sns_host() {
        for raw in [
            "arn:aws:sns:us-west-2:123456789012:T",
            "arn:aws-cn:sns:cn-north-1:123456789012:T",
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:T",
        ] {
            let topic = TopicArn::parse(raw).expect(raw);
            assert!(topic.is_sns_host(&topic.sns_host()), "{raw}");
            for other in [
                "sns.us-east-1.amazonaws.com",
                "sns.cn-northwest-1.amazonaws.com.cn",
                "sns.us-west-2.amazonaws.com.cn",
                "sns.cn-north-1.amazonaws.com",
                "sns.us-gov-west-1.amazonaws.com.evil.com",
                "sqs.us-west-2.amazonaws.com",
                "",
            ] {
                assert_eq!(
                    topic.is_sns_host(other),
                    topic.sns_host() == other,
                    "{raw} {other}"
                );
            }
        }
    }

    #[test]
    fn region_grammar() {
        for ok in [
            "us-east-1",
            "ap-southeast-7",
            "eu-central-2",
            "us-gov-east-1",
            "us-isob-east-1",
            "il-central-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "useast-1",
            "u-east-1",
            "us-east-123",
            "us--1",
            "us-east-1-",
            "us-evil-east-1",
            "us-east-1a",
            "us-east-x",
            "us-gov-east-1-2",
            "us-gov-east-west-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
