//! Which address a request comes from, behind reverse proxies the operator
//! trusts (`server.trusted_proxies`). The address feeds rate limits, risk
//! signals and audit records, so a client must not be able to choose it:
//! `X-Forwarded-For` is read only when the peer is a trusted proxy, and then
//! from the right, skipping trusted hops, so the first untrusted address is
//! the client (the leftmost entries are whatever the client sent).

use std::net::IpAddr;

/// One trusted address or network (`10.0.0.0/8`, `::1`, `192.168.1.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(s: &str) -> Result<Network, String> {
        let (addr, prefix) = s.trim().split_once('/').map_or((s.trim(), None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr.parse().map_err(|_| format!("`{s}` is not an IP address or network (such as 10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("`{s}`: the prefix length is 0 to {max}"))?,
        };
        Ok(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32u32),
            IpAddr::V6(v6) => (u128::from(v6), 128u32),
        };
        let (ip, ip_len) = bits(ip.to_canonical());
        let (net, net_len) = bits(self.addr.to_canonical());
        if ip_len != net_len {
            return false;
        }
        let host_bits = net_len - u32::from(self.prefix);
        host_bits >= 128 || (ip >> host_bits) == (net >> host_bits)
    }
}

/// The proxies whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        list.iter().map(|s| Network::parse(s)).collect::<Result<Vec<_>, _>>().map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the peer, or, when the peer is a trusted
    /// proxy, the rightmost address in `X-Forwarded-For` that is not one.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for.iter().rev().flat_map(|h| h.rsplit(','));
        let mut client = peer;
        for hop in hops {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies_and_from_the_right() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.2"), &["1.2.3.4"]), ip("10.0.0.2"), "no proxy trusted: the header is ignored");
        let p = TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).unwrap_or_default();
        assert_eq!(p.client(ip("203.0.113.9"), &["1.2.3.4"]), ip("203.0.113.9"), "an untrusted peer cannot name another address");
        assert_eq!(p.client(ip("10.0.0.2"), &["1.2.3.4"]), ip("1.2.3.4"));
        assert_eq!(p.client(ip("10.0.0.2"), &["6.6.6.6, 1.2.3.4, 10.1.1.1"]), ip("1.2.3.4"), "a client-sent left part is skipped");
        assert_eq!(p.client(ip("10.0.0.2"), &["6.6.6.6", "1.2.3.4"]), ip("1.2.3.4"), "several headers read as one list");
        assert_eq!(p.client(ip("::1"), &["garbage"]), ip("::1"), "an unreadable hop stops the walk");
        assert_eq!(p.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"));
        assert_eq!(p.client(ip("::ffff:10.0.0.2"), &["1.2.3.4"]), ip("1.2.3.4"), "IPv4-mapped peers match IPv4 networks");
    }

    #[test]
    fn networks_parse_and_refuse_nonsense() {
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("example.com").is_err());
        assert!(Network::parse("0.0.0.0/0").is_ok_and(|n| n.contains(ip("8.8.8.8"))));
        assert!(Network::parse("fd00::/8").is_ok_and(|n| n.contains(ip("fd12::1")) && !n.contains(ip("fe80::1"))));
    }

    proptest! {
        /// Whatever the header says, an untrusted peer is its own client address.
        #[test]
        fn untrusted_peers_are_never_overridden(a: [u8; 4], header in ".{0,80}") {
            let peer = IpAddr::from(a);
            let p = TrustedProxies::parse(&["127.0.0.1".into()]).unwrap_or_default();
            prop_assume!(peer != ip("127.0.0.1"));
            prop_assert_eq!(p.client(peer, &[header.as_str()]), peer);
        }

        /// A /n network holds exactly the addresses that share its first n bits.
        #[test]
        fn prefix_membership_matches_bits(a: u32, b: u32, n in 0u8..=32) {
            let net = Network::parse(&format!("{}/{n}", std::net::Ipv4Addr::from(a))).map_err(TestCaseError::fail)?;
            let same = n == 0 || (a >> (32 - u32::from(n))) == (b >> (32 - u32::from(n)));
            prop_assert_eq!(net.contains(IpAddr::from(std::net::Ipv4Addr::from(b))), same);
        }
    }
}
