//! Which address is the client's. `X-Forwarded-For` is believed only when the
//! TCP peer is a configured trusted proxy, and then only as far back as the
//! chain stays inside trusted proxies: a client cannot forge its address by
//! sending the header itself.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client address for a request from `peer` carrying `forwarded_for`
/// (every `X-Forwarded-For` header value, in order).
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let chain: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .collect();
    // Walk from the nearest hop outwards; the first address not ours is the client.
    let mut client = peer;
    for hop in chain.iter().rev() {
        match parse_hop(hop) {
            Some(address) => {
                client = address;
                if !is_trusted(address, trusted) {
                    break;
                }
            }
            // A hop we cannot read ends what we can believe.
            None => break,
        }
    }
    client
}

fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&address))
}

/// Reads one hop: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`, `203.0.113.7:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let inner = rest.split(']').next()?;
        return inner.parse::<IpAddr>().ok().map(canonical);
    }
    let (host, port) = hop.rsplit_once(':')?;
    if port.chars().all(|c| c.is_ascii_digit()) {
        return host.parse::<IpAddr>().ok().map(canonical);
    }
    None
}

/// `::ffff:192.0.2.1` is the IPv4 client 192.0.2.1 on a dual-stack socket.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn resolution_table() {
        let proxies = nets(&["127.0.0.0/8", "10.0.0.0/8", "::1/128"]);
        let cases: &[(&str, &[&str], &[IpNet], &str)] = &[
            // untrusted peer: the header is ignored
            ("198.51.100.9", &["203.0.113.7"], &proxies, "198.51.100.9"),
            // no proxies configured: the header is ignored even from loopback
            ("127.0.0.1", &["203.0.113.7"], &[], "127.0.0.1"),
            // trusted peer: the nearest untrusted hop
            ("127.0.0.1", &["203.0.113.7"], &proxies, "203.0.113.7"),
            (
                "127.0.0.1",
                &["6.6.6.6, 203.0.113.7, 10.1.1.1"],
                &proxies,
                "203.0.113.7",
            ),
            (
                "127.0.0.1",
                &["6.6.6.6", "203.0.113.7"],
                &proxies,
                "203.0.113.7",
            ),
            // IPv6 forms and ports
            ("::1", &["2001:db8::5"], &proxies, "2001:db8::5"),
            ("127.0.0.1", &["[2001:db8::5]:443"], &proxies, "2001:db8::5"),
            ("127.0.0.1", &["203.0.113.7:5000"], &proxies, "203.0.113.7"),
            // mapped IPv4 peer is IPv4
            (
                "::ffff:127.0.0.1",
                &["203.0.113.7"],
                &proxies,
                "203.0.113.7",
            ),
            ("::ffff:198.51.100.9", &[], &proxies, "198.51.100.9"),
            // garbage stops the walk at the last address we could read
            (
                "127.0.0.1",
                &["203.0.113.7, garbage"],
                &proxies,
                "127.0.0.1",
            ),
            ("127.0.0.1", &["unknown"], &proxies, "127.0.0.1"),
            ("127.0.0.1", &[""], &proxies, "127.0.0.1"),
            // every hop trusted: the farthest one
            ("127.0.0.1", &["10.0.0.2, 10.0.0.3"], &proxies, "10.0.0.2"),
        ];
        for (peer, header, trusted, expected) in cases {
            assert_eq!(
                resolve(ip(peer), header.iter().copied(), trusted),
                ip(expected),
                "peer {peer} header {header:?}"
            );
        }
    }
}
