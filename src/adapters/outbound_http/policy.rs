//! Which IP addresses an outbound HTTP step may connect to.
//!
//! Refused by default: everything that is not a publicly routed unicast address (loopback,
//! private, shared, link-local, cloud metadata, multicast, documentation, reserved), in IPv4
//! and in the IPv6 forms that reach an IPv4 host. An allow-list opens ranges on purpose, e.g.
//! a VPC subnet of internal services.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The environment variable holding the allow-list: comma-separated CIDRs or single addresses.
pub const ALLOW_CIDRS_ENV: &str = "HTTP_STEP_ALLOW_CIDRS";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{variable}: `{entry}` is not a CIDR (like 10.1.0.0/16) or an IP address: {reason}")]
    InvalidEntry {
        variable: &'static str,
        entry: String,
        reason: String,
    },
}

/// The guard's decision rule. Cheap to clone; pure (no I/O).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
}

/// Cloud instance metadata services. They hand out credentials, so a broad allow-list entry
/// (a whole /16, or 0.0.0.0/0) must not open them by accident: only an entry naming the
/// address itself does.
const METADATA: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)),
];

/// IPv4 ranges that are not publicly routed unicast, most specific first so the reason names
/// the narrowest range.
const REFUSED_V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\" (0.0.0.0/8)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private (10.0.0.0/8)"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared CGNAT (100.64.0.0/10)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link-local (169.254.0.0/16)",
    ),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private (172.16.0.0/12)"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "IETF protocol assignments (192.0.0.0/24)",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "documentation (192.0.2.0/24)",
    ),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "deprecated 6to4 relay anycast (192.88.99.0/24)",
    ),
    (
        Ipv4Addr::new(192, 168, 0, 0),
        16,
        "private (192.168.0.0/16)",
    ),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        "benchmarking (198.18.0.0/15)",
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "documentation (198.51.100.0/24)",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "documentation (203.0.113.0/24)",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"),
    (
        Ipv4Addr::new(255, 255, 255, 255),
        32,
        "broadcast (255.255.255.255)",
    ),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved (240.0.0.0/4)"),
];

/// IPv6 ranges refused with a specific reason. Anything else outside global unicast
/// (2000::/3) is refused too, as unassigned or reserved.
const REFUSED_V6: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified (::)"),
    (Ipv6Addr::LOCALHOST, 128, "loopback (::1)"),
    (
        Ipv6Addr::UNSPECIFIED,
        96,
        "deprecated IPv4-compatible IPv6 (::/96)",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local-use NAT64 (64:ff9b:1::/48)",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only (100::/64)",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF protocol assignments incl. Teredo (2001::/23)",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation (2001:db8::/32)",
    ),
    (
        Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),
        16,
        "deprecated 6to4 (2002::/16)",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation (3fff::/20)",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique local (fc00::/7)",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "link-local (fe80::/10)",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "deprecated site-local (fec0::/10)",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "multicast (ff00::/8)",
    ),
];

impl AddressPolicy {
    /// The default policy: no allow-list, every non-public address refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// A policy that also allows the given ranges.
    pub fn with_allowed(allow: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            allow: allow.into_iter().map(|net| net.trunc()).collect(),
        }
    }

    /// Reads [`ALLOW_CIDRS_ENV`] from the process environment.
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::from_env_value(std::env::var(ALLOW_CIDRS_ENV).ok().as_deref())
    }

    /// Parses the value of [`ALLOW_CIDRS_ENV`]: comma-separated CIDRs or bare addresses
    /// (a bare address is a /32 or /128). Unset or blank means no allow-list; blank entries
    /// (a trailing comma) are ignored.
    pub fn from_env_value(value: Option<&str>) -> Result<Self, PolicyError> {
        let mut allow = Vec::new();
        for entry in value.unwrap_or("").split(',').map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            allow.push(parse_entry(entry)?);
        }
        Ok(Self::with_allowed(allow))
    }

    pub fn allowed(&self) -> &[IpNet] {
        &self.allow
    }

    /// `Ok` when a connection to `ip` is allowed; otherwise why not.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        if self.is_allow_listed(ip) {
            return Ok(());
        }
        // These IPv6 forms reach an IPv4 host (the kernel's mapped socket, a NAT64 gateway),
        // so they get that host's verdict, allow-list included.
        if let IpAddr::V6(v6) = ip
            && let Some(v4) = embedded_v4(v6)
        {
            return self
                .check(IpAddr::V4(v4))
                .map_err(|reason| format!("{ip} reaches {v4}: {reason}"));
        }
        match refused_reason(ip) {
            Some(reason) => Err(format!("{ip} is {reason}")),
            None => Ok(()),
        }
    }

    fn is_allow_listed(&self, ip: IpAddr) -> bool {
        let metadata = METADATA.contains(&ip);
        self.allow
            .iter()
            .any(|net| net.contains(&ip) && (!metadata || net.prefix_len() == net.max_prefix_len()))
    }
}

fn parse_entry(entry: &str) -> Result<IpNet, PolicyError> {
    let invalid = |reason: String| PolicyError::InvalidEntry {
        variable: ALLOW_CIDRS_ENV,
        entry: entry.to_owned(),
        reason,
    };
    if entry.contains('/') {
        entry.parse::<IpNet>().map_err(|e| invalid(e.to_string()))
    } else {
        entry
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|e| invalid(e.to_string()))
    }
}

/// The IPv4 address inside an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let nat64 = Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if nat64.contains(&ip) {
        let [.., a, b, c, d] = ip.octets();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    None
}

fn refused_reason(ip: IpAddr) -> Option<&'static str> {
    if METADATA.contains(&ip) {
        return Some("a cloud metadata service");
    }
    match ip {
        IpAddr::V4(v4) => REFUSED_V4
            .iter()
            .find(|(net, len, _)| Ipv4Net::new_assert(*net, *len).contains(&v4))
            .map(|(_, _, reason)| *reason),
        IpAddr::V6(v6) => REFUSED_V6
            .iter()
            .find(|(net, len, _)| Ipv6Net::new_assert(*net, *len).contains(&v6))
            .map(|(_, _, reason)| *reason)
            .or_else(|| {
                let global_unicast =
                    Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
                (!global_unicast.contains(&v6)).then_some("outside global unicast (2000::/3)")
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn allowing(value: &str) -> AddressPolicy {
        AddressPolicy::from_env_value(Some(value)).expect("valid allow-list")
    }

    #[test]
    fn default_policy_refuses_every_non_public_ipv4_range() {
        let policy = AddressPolicy::new();
        for refused in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "100.100.100.200",
            "127.0.0.1",
            "127.0.0.2",
            "127.255.255.255",
            "169.254.0.1",
            "169.254.169.254",
            "169.254.170.2",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(policy.check(ip(refused)).is_err(), "{refused} was allowed");
        }
    }

    #[test]
    fn default_policy_allows_public_ipv4_next_to_refused_ranges() {
        let policy = AddressPolicy::new();
        for allowed in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(policy.check(ip(allowed)), Ok(()), "{allowed}");
        }
    }

    #[test]
    fn default_policy_refuses_non_public_ipv6() {
        let policy = AddressPolicy::new();
        for refused in [
            "::",
            "::1",
            "::7f00:1",
            "::a00:1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b:1::1",
            "4000::1",
            "5f00::1",
        ] {
            assert!(policy.check(ip(refused)).is_err(), "{refused} was allowed");
        }
    }

    #[test]
    fn default_policy_allows_public_ipv6() {
        let policy = AddressPolicy::new();
        for allowed in ["2606:4700:4700::1111", "2a00:1450:4001::1", "2001:200::1"] {
            assert_eq!(policy.check(ip(allowed)), Ok(()), "{allowed}");
        }
    }

    #[test]
    fn ipv4_mapped_and_nat64_forms_get_the_ipv4_verdict() {
        let policy = AddressPolicy::new();
        for refused in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::192.168.0.1",
        ] {
            assert!(policy.check(ip(refused)).is_err(), "{refused} was allowed");
        }
        assert_eq!(policy.check(ip("::ffff:8.8.8.8")), Ok(()));
        assert_eq!(policy.check(ip("64:ff9b::8.8.8.8")), Ok(()));
    }

    #[test]
    fn refusal_names_the_range() {
        let reason = AddressPolicy::new()
            .check(ip("169.254.169.254"))
            .expect_err("metadata refused");
        assert!(reason.contains("metadata"), "{reason}");
        let reason = AddressPolicy::new()
            .check(ip("::ffff:10.1.2.3"))
            .expect_err("mapped private refused");
        assert!(
            reason.contains("10.1.2.3") && reason.contains("private"),
            "{reason}"
        );
    }

    #[test]
    fn allow_list_opens_exactly_its_ranges() {
        let policy = allowing("127.0.0.1/32, 10.1.0.0/16");
        assert_eq!(policy.check(ip("127.0.0.1")), Ok(()));
        assert!(policy.check(ip("127.0.0.2")).is_err());
        assert_eq!(policy.check(ip("10.1.200.3")), Ok(()));
        assert!(policy.check(ip("10.2.0.1")).is_err());
        assert!(policy.check(ip("::1")).is_err());
    }

    #[test]
    fn allow_listed_ipv4_is_also_allowed_in_its_mapped_form() {
        let policy = allowing("127.0.0.1/32");
        assert_eq!(policy.check(ip("::ffff:127.0.0.1")), Ok(()));
        assert!(policy.check(ip("::ffff:127.0.0.2")).is_err());
    }

    #[test]
    fn broad_allow_list_entries_do_not_open_metadata_services() {
        let policy = allowing("169.254.0.0/16, 0.0.0.0/0, fd00::/8");
        assert_eq!(policy.check(ip("169.254.1.1")), Ok(()));
        assert!(policy.check(ip("169.254.169.254")).is_err());
        assert!(policy.check(ip("fd00:ec2::254")).is_err());
        let explicit = allowing("169.254.169.254, fd00:ec2::254/128");
        assert_eq!(explicit.check(ip("169.254.169.254")), Ok(()));
        assert_eq!(explicit.check(ip("fd00:ec2::254")), Ok(()));
    }

    #[test]
    fn env_value_accepts_bare_addresses_blanks_and_host_bits() {
        let policy = allowing(" 192.168.1.5 ,, fd12::/16 ,10.1.2.3/16,");
        assert_eq!(
            policy.allowed(),
            &[
                "192.168.1.5/32".parse::<IpNet>().expect("net"),
                "fd12::/16".parse().expect("net"),
                "10.1.0.0/16".parse().expect("net"),
            ]
        );
        assert_eq!(
            AddressPolicy::from_env_value(None),
            Ok(AddressPolicy::new())
        );
        assert_eq!(
            AddressPolicy::from_env_value(Some("  ")),
            Ok(AddressPolicy::new())
        );
    }

    #[test]
    fn env_value_errors_name_the_variable_and_the_entry() {
        for bad in ["10.0.0.0/33", "10.0.0", "example.com", "10.0.0.0/8;1.1.1.1"] {
            let err = AddressPolicy::from_env_value(Some(&format!("127.0.0.1/32,{bad}")))
                .expect_err("invalid entry");
            let text = err.to_string();
            assert!(text.contains(ALLOW_CIDRS_ENV), "{text}");
            assert!(text.contains(bad), "{text}");
        }
    }
}
