//! The outbound client security events go through (plan §5.7; ADR 0022):
//! apps name their own receivers, so every URL is untrusted. A request is
//! refused unless it is `https` (or `allow_plain_http`), and the host's
//! addresses are resolved by a guarding resolver that drops loopback,
//! private, link-local, unique-local, multicast and unspecified addresses
//! (unless `allow_private_targets`) — the connection goes to an address the
//! guard checked, so a DNS answer cannot switch to an internal one after the
//! check. Redirects are never followed (a 3xx is retried by the schedule),
//! the answer's body is read up to 64 KiB, and each request has a deadline.

use async_trait::async_trait;
use idlink_core::ports::events::{Answer, EventSender, Outgoing, SendError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The most of an answer's body read (for an RFC 8935 error code).
pub const BODY_CAP: usize = 64 * 1024;

/// Whether an address is one an app's receiver must not be on (unless
/// private targets are allowed). An IPv6 address that carries an IPv4 one
/// (mapped, compatible, 6to4, NAT64, Teredo) is judged by what it carries.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if embedded_v4(v6).iter().any(|v4| is_internal_v4(*v4)) {
                return true;
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique-local, fe80::/10 link-local, fec0::/10 site-local (deprecated, still routed inside sites).
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                // 2001:db8::/32 and 3fff::/20 documentation (RFC 3849, RFC 9637), 100::/64 discard-only (RFC 6666).
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x3fff && (s[1] & 0xf000) == 0)
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
                // 64:ff9b::/32 outside the well-known /96, and the whole local-use
                // 64:ff9b:1::/48 (RFC 8215): an operator's translator may use any
                // layout there, so what it reaches cannot be read off the address.
                || (s[0] == 0x64 && s[1] == 0xff9b && !s[2..6].iter().all(|&x| x == 0))
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        // 100.64.0.0/10 carrier-grade NAT, 0.0.0.0/8, 192.0.0.0/24, 198.18.0.0/15 benchmarking, 240.0.0.0/4.
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || o[0] == 0
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || o[0] >= 240
}

/// The IPv4 addresses an IPv6 address carries, by the forms that reach IPv4 space.
fn embedded_v4(v6: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let mut out = Vec::new();
    // ::ffff:a.b.c.d mapped; ::a.b.c.d compatible (RFC 4291 §2.5.5; not :: nor ::1, judged as IPv6).
    if let Some(m) = v6.to_ipv4_mapped() {
        out.push(m);
    }
    if s[..6].iter().all(|&x| x == 0) && !v6.is_unspecified() && !v6.is_loopback() {
        out.push(v4(s[6], s[7]));
    }
    // 2002:aabb:ccdd::/48 6to4 (RFC 3056).
    if s[0] == 0x2002 {
        out.push(v4(s[1], s[2]));
    }
    // 64:ff9b::/96 well-known NAT64 prefix (RFC 6052): the last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) {
        out.push(v4(s[6], s[7]));
    }
    // 2001:0::/32 Teredo (RFC 4380): the server at bits 32–63, the client's
    // address inverted in the last 32 bits.
    if s[0] == 0x2001 && s[1] == 0 {
        out.push(v4(s[2], s[3]));
        out.push(v4(!s[6], !s[7]));
    }
    out
}

/// Resolves with the system resolver and keeps only the addresses allowed.
struct Guard {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| allow_private || !is_internal(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no address receivers may use").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The event sender (the [`EventSender`] port).
pub struct EventClient {
    client: reqwest::Client,
    allow_private: bool,
    allow_plain_http: bool,
}

impl EventClient {
    pub fn new(timeout: Duration, allow_private: bool, allow_plain_http: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent("idlink-events/1")
            .dns_resolver(Arc::new(Guard { allow_private }))
            .build()
            .map_err(|e| format!("the event client cannot be built: {e}"))?;
        Ok(Self { client, allow_private, allow_plain_http })
    }

    /// Why `url` may not be sent to, if it may not (a literal address is checked here: no resolver sees it).
    pub fn refusal(&self, url: &reqwest::Url) -> Option<String> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_plain_http => {}
            other => return Some(format!("scheme `{other}` is not allowed")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Some("credentials in the URL are not allowed".into());
        }
        let Some(host) = url.host_str() else { return Some("the URL has no host".into()) };
        let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        match ip {
            Some(ip) if !self.allow_private && is_internal(ip) => Some("the address is loopback, private or link-local".into()),
            _ => None,
        }
    }
}

#[async_trait]
impl EventSender for EventClient {
    async fn send(&self, request: &Outgoing) -> Result<Answer, SendError> {
        let url = reqwest::Url::parse(&request.url).map_err(|_| SendError::Refused("the URL does not parse".into()))?;
        if let Some(why) = self.refusal(&url) {
            return Err(SendError::Refused(why));
        }
        let mut req = self.client.post(url).header(reqwest::header::CONTENT_TYPE, request.content_type).body(request.body.clone());
        for (name, value) in &request.headers {
            req = req.header(*name, value);
        }
        let mut res = req.send().await.map_err(|e| SendError::Failed(detail(&e)))?;
        let status = res.status().as_u16();
        let retry_after =
            res.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let mut body = Vec::new();
        // Read up to the cap; the rest is dropped with the connection.
        while body.len() < BODY_CAP {
            match res.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(BODY_CAP - body.len())]),
                Ok(None) => break,
                // The status is what counts; a body cut off mid-way still has one.
                Err(_) => break,
            }
        }
        Ok(Answer { status, retry_after, body })
    }
}

/// A transport error without the URL (it may carry a token in its query).
fn detail(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut root = String::new();
    while let Some(s) = source {
        root = s.to_string();
        source = s.source();
    }
    if root.is_empty() { what.to_owned() } else { format!("{what}: {root}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]))), "{ip}");
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_are_judged_by_the_ipv4() {
        // Each form, with an internal and a public IPv4 inside.
        let forms = [
            ("mapped", "::ffff:10.0.0.1", "::ffff:8.8.8.8"),
            ("compatible", "::127.0.0.1", "::8.8.8.8"),
            ("6to4", "2002:c0a8:0101::1", "2002:0808:0808::1"),
            ("NAT64", "64:ff9b::169.254.169.254", "64:ff9b::8.8.8.8"),
            // Teredo server 8.8.8.8 (public), client 192.168.0.1 inverted = 3f57:fffe.
            ("Teredo client", "2001:0:808:808::3f57:fffe", "2001:0:808:808::f7f7:f7f7"),
            ("Teredo server", "2001:0:7f00:1::f7f7:f7f7", "2001:0:808:808::f7f7:f7f7"),
        ];
        for (form, internal, public) in forms {
            assert!(is_internal(ip(internal)), "{form}: {internal} carries an internal address");
            assert!(!is_internal(ip(public)), "{form}: {public} carries a public address");
        }
    }

    #[test]
    fn ipv6_ranges_of_their_own_are_internal() {
        for (range, addr) in [
            ("unique-local fc00::/7", "fc00::1"),
            ("unique-local fd00::/8", "fd12:3456::1"),
            ("link-local fe80::/10", "fe80::1"),
            ("link-local fe80::/10 (upper)", "febf::1"),
            ("site-local fec0::/10", "fec0::1"),
            ("multicast", "ff02::1"),
            ("unspecified", "::"),
            ("loopback", "::1"),
            ("documentation 2001:db8::/32", "2001:db8::1"),
            ("documentation 3fff::/20", "3fff:fff::1"),
            ("discard-only 100::/64", "100::1"),
        ] {
            assert!(is_internal(ip(addr)), "{range}: {addr}");
        }
        for addr in ["2606:4700::1111", "2a00:1450:4001::1", "2400:cb00::1"] {
            assert!(!is_internal(ip(addr)), "{addr} is public");
        }
    }

    #[test]
    fn nat64_outside_the_well_known_prefix_is_internal_whatever_it_carries() {
        // RFC 8215 lets the local-use /48 hold a /96 of the operator's layout:
        // 169.254.169.254 behind such a translator must not read as public.
        for addr in ["64:ff9b:1:abcd::a9fe:a9fe", "64:ff9b:1::808:808", "64:ff9b:0:1::808:808", "64:ff9b:ffff::1"] {
            assert!(is_internal(ip(addr)), "{addr}");
        }
        // The well-known /96 stays judged by the IPv4 it carries.
        assert!(!is_internal(ip("64:ff9b::808:808")), "8.8.8.8 through the well-known prefix");
        assert!(is_internal(ip("64:ff9b::a9fe:a9fe")), "169.254.169.254 through the well-known prefix");
    }

    /// Every embedding of `v4` this guard knows.
    fn embeddings(v4: Ipv4Addr) -> Vec<Ipv6Addr> {
        let [a, b, c, d] = v4.octets();
        let hi = u16::from_be_bytes([a, b]);
        let lo = u16::from_be_bytes([c, d]);
        vec![
            v4.to_ipv6_mapped(),
            Ipv6Addr::new(0, 0, 0, 0, 0, 0, hi, lo),
            Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
            Ipv6Addr::new(0x64, 0xff9b, 1, hi, u16::from(c), u16::from(d) << 8, 0, 0),
            // Teredo: as the client (inverted), with a public server.
            Ipv6Addr::new(0x2001, 0, 0x0808, 0x0808, 0, 0, !hi, !lo),
            // Teredo: as the server, with a public client.
            Ipv6Addr::new(0x2001, 0, hi, lo, 0, 0, !0x0808, !0x0808),
        ]
    }

    proptest::proptest! {
        #[test]
        fn private_ipv4_is_refused_in_every_embedding(
            (base, bits) in proptest::sample::select(vec![
                (0x0a00_0000u32, 8u32), (0xac10_0000, 12), (0xc0a8_0000, 16), (0x7f00_0000, 8),
                (0xa9fe_0000, 16), (0x6440_0000, 10), (0x0000_0000, 8),
            ]),
            host in proptest::prelude::any::<u32>(),
        ) {
            let v4 = Ipv4Addr::from(base | (host >> bits));
            proptest::prop_assert!(is_internal(IpAddr::V4(v4)), "{v4}");
            for v6 in embeddings(v4) {
                proptest::prop_assert!(is_internal(IpAddr::V6(v6)), "{v4} as {v6}");
            }
        }
    }

    #[test]
    fn urls_are_refused_before_any_connection() -> Result<(), String> {
        let strict = EventClient::new(Duration::from_secs(1), false, false)?;
        let url = |s: &str| reqwest::Url::parse(s).map_err(|e| e.to_string());
        assert!(strict.refusal(&url("http://example.com/hook")?).is_some());
        assert!(strict.refusal(&url("https://127.0.0.1/hook")?).is_some());
        assert!(strict.refusal(&url("https://[::1]/hook")?).is_some());
        assert!(strict.refusal(&url("https://user:pw@example.com/hook")?).is_some());
        assert!(strict.refusal(&url("https://example.com/hook")?).is_none());
        let dev = EventClient::new(Duration::from_secs(1), true, true)?;
        assert!(dev.refusal(&url("http://127.0.0.1:9/hook")?).is_none());
        Ok(())
    }
}
