//! The SSRF guard for callback URLs (spec 4.3.2: HTTPS in production). A caller chooses the URL esign
//! will POST to, so in production it must be HTTPS and must not lead into esign's own network:
//! loopback, private, link-local (cloud metadata at 169.254.169.254), shared, multicast and reserved
//! IPv4 addresses are refused; of IPv6 only global unicast passes, and an IPv6 address that embeds
//! an IPv4 one (NAT64, 6to4) is judged by the IPv4 address it reaches. The check runs when the URL is accepted and again on every delivery, where
//! the resolver itself refuses such addresses, so a name re-pointed after initiation (DNS rebinding)
//! gets nowhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use aggregates::values::Mode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    #[error("must be an https:// URL in production")]
    NotHttps,
    #[error("is not a valid URL")]
    Malformed,
    #[error("names an internal host ({0})")]
    InternalName(String),
    #[error("leads to a non-public address ({0})")]
    NonPublicAddress(IpAddr),
    #[error("does not resolve: {0}")]
    Unresolvable(String),
}

/// Host names that lead to cloud metadata services or this machine whatever they resolve to.
fn is_internal_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "metadata"
        || host == "metadata.google.internal"
        || host.ends_with(".internal")
}

/// Whether `ip` is an ordinary public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0                                  // "this network"
        || (a == 100 && (64..128).contains(&b))    // shared address space (carrier NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))      // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(embedded) = embedded_v4(ip) {
        return is_public_v4(embedded);
    }
    let segments = ip.segments();
    // Only global unicast (2000::/3) reaches the internet; everything else (site-local fec0::/10,
    // unique-local, link-local, IPv4-compatible ::/96, the local-use NAT64 prefix 64:ff9b:1::/48,
    // multicast, ...) is refused by being outside it.
    let global_unicast = segments[0] & 0xe000 == 0x2000;
    global_unicast
        // IETF protocol assignments: Teredo (which tunnels to an IPv4 address of its own),
        // benchmarking, ORCHID.
        && !(segments[0] == 0x2001 && segments[1] < 0x0200)
        && !(segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        && !(segments[0] == 0x3fff && segments[1] < 0x1000) // documentation (3fff::/20)
}

/// The IPv4 address an IPv6 address stands for, where one is embedded in a form that routers
/// translate: NAT64's well-known prefix (64:ff9b::/96) and 6to4 (2002::/16, the address in bits
/// 16..48). Such an address is judged by the IPv4 address it reaches.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let join = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(join(segments[6], segments[7]))
    } else if segments[0] == 0x2002 {
        Some(join(segments[1], segments[2]))
    } else {
        None
    }
}

/// Checks a callback URL as far as it can be checked without DNS: scheme and literal addresses. In
/// development anything parseable passes (receivers on 127.0.0.1 are normal there).
pub fn check_literal(url: &str, mode: Mode) -> Result<url::Url, SsrfError> {
    let parsed = url::Url::parse(url).map_err(|_| SsrfError::Malformed)?;
    if mode == Mode::Development {
        return Ok(parsed);
    }
    if parsed.scheme() != "https" {
        return Err(SsrfError::NotHttps);
    }
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => {
            Err(SsrfError::NonPublicAddress(IpAddr::V4(ip)))
        }
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => {
            Err(SsrfError::NonPublicAddress(IpAddr::V6(ip)))
        }
        Some(url::Host::Domain(name)) if is_internal_name(name) => {
            Err(SsrfError::InternalName(name.to_owned()))
        }
        Some(_) => Ok(parsed),
        None => Err(SsrfError::Malformed),
    }
}

/// The full check when a URL is accepted: [`check_literal`], then (production only) every address
/// the name resolves to must be public.
pub async fn check_callback_url(url: &str, mode: Mode) -> Result<(), SsrfError> {
    let parsed = check_literal(url, mode)?;
    if mode == Mode::Development {
        return Ok(());
    }
    if let Some(url::Host::Domain(name)) = parsed.host() {
        resolve_public(name).await?;
    }
    Ok(())
}

/// Resolves `host` and refuses the whole answer if any address is not public (a mixed answer is how
/// rebinding attacks hide an internal address).
async fn resolve_public(host: &str) -> Result<Vec<SocketAddr>, SsrfError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|error| SsrfError::Unresolvable(error.to_string()))?
        .collect();
    if addresses.is_empty() {
        return Err(SsrfError::Unresolvable("no addresses".to_owned()));
    }
    if let Some(internal) = addresses.iter().find(|address| !is_public(address.ip())) {
        return Err(SsrfError::NonPublicAddress(internal.ip()));
    }
    Ok(addresses)
}

/// The resolver production callback clients use: names resolving to non-public addresses fail to
/// connect at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if is_internal_name(&host) {
                return Err(Box::new(SsrfError::InternalName(host)) as _);
            }
            let addresses = resolve_public(&host).await.map_err(Box::new)?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            // 6to4 of 169.254.169.254 and of 10.0.0.1
            "2002:a9fe:a9fe::",
            "2002:a00:1::1",
            // local-use NAT64, site-local, IPv4-compatible 127.0.0.1 and 169.254.169.254
            "64:ff9b:1::a9fe:a9fe",
            "fec0::1",
            "::7f00:1",
            "::a9fe:a9fe",
            // Teredo, ORCHIDv2, documentation, multicast
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:20::1",
            "2001:db8::1",
            "3fff::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip(internal)), "{internal} must be refused");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2a00:1450:4001:81b::200e",
        ] {
            assert!(is_public(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn production_refuses_plain_http_literal_internal_addresses_and_internal_names() {
        let production = Mode::Production;
        assert_eq!(
            check_literal("http://example.com/cb", production).unwrap_err(),
            SsrfError::NotHttps
        );
        assert_eq!(
            check_literal("https://169.254.169.254/latest/meta-data", production).unwrap_err(),
            SsrfError::NonPublicAddress(ip("169.254.169.254"))
        );
        assert_eq!(
            check_literal("https://[::1]:8443/cb", production).unwrap_err(),
            SsrfError::NonPublicAddress(ip("::1"))
        );
        assert!(matches!(
            check_literal("https://metadata.google.internal/x", production),
            Err(SsrfError::InternalName(_))
        ));
        assert!(matches!(
            check_literal("https://LOCALHOST./x", production),
            Err(SsrfError::InternalName(_))
        ));
        assert!(check_literal("https://8.8.8.8/cb", production).is_ok());
    }

    #[test]
    fn development_allows_local_receivers() {
        assert!(check_literal("http://127.0.0.1:9000/cb", Mode::Development).is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_in_production() {
        assert_eq!(
            check_callback_url("https://localhost./cb", Mode::Production).await,
            Err(SsrfError::InternalName("localhost.".into()))
        );
        // `127.0.0.1.nip.io`-style names need DNS; a numeric host resolves locally without it.
        let resolved = resolve_public("127.0.0.1").await;
        assert_eq!(resolved, Err(SsrfError::NonPublicAddress(ip("127.0.0.1"))));
    }
}
