//! Callback and logo URLs: http(s) only, HTTPS required in production, no credentials, a real host.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The service's run mode (`[server] mode`), which decides how strict URL checks are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Development,
    Production,
}

/// The longest accepted URL (`callback_url` varchar(1024)).
pub const MAX_URL_LEN: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_URL_LEN} characters")]
    TooLong,
    #[error("must be ASCII without spaces or control characters (percent-encode the rest)")]
    Characters,
    #[error("must start with https:// or http://")]
    Scheme,
    #[error("must use https in production")]
    HttpsRequired,
    #[error("must not contain user credentials")]
    Credentials,
    #[error("has no valid host")]
    Host,
    #[error("has an invalid port")]
    Port,
    #[error("must not point at a local or private address in production")]
    PrivateHost,
}

/// An absolute `http`/`https` URL whose host is a DNS name or an IP literal.
///
/// This is a syntactic check without a URL crate: scheme, authority (no `user:pass@`), host and port.
/// In production it also refuses `localhost` and literal loopback, private, link-local and unspecified
/// addresses; the service must still check the *resolved* address before connecting (SSRF guard), since
/// a public name can resolve to a private address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebUrl {
    text: String,
    host: String,
    https: bool,
}

impl WebUrl {
    pub fn parse(input: &str, mode: Mode) -> Result<Self, UrlError> {
        if input.is_empty() {
            return Err(UrlError::Empty);
        }
        if input.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        if !input.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(UrlError::Characters);
        }
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::Scheme)?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(UrlError::Scheme);
        };
        if !https && mode == Mode::Production {
            return Err(UrlError::HttpsRequired);
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(UrlError::Credentials);
        }
        let host = parse_authority(authority)?;
        if mode == Mode::Production && host.is_local() {
            return Err(UrlError::PrivateHost);
        }
        Ok(Self {
            text: input.to_owned(),
            host: host.to_string(),
            https,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host as written, lower-cased (IPv6 literals without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn is_https(&self) -> bool {
        self.https
    }
}

enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Host {
    fn is_local(&self) -> bool {
        match self {
            Host::Name(name) => name == "localhost" || name.ends_with(".localhost"),
            Host::Ip(IpAddr::V4(ip)) => is_local_v4(*ip),
            Host::Ip(IpAddr::V6(ip)) => is_local_v6(*ip),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

fn parse_authority(authority: &str) -> Result<Host, UrlError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (literal, after) = rest.split_once(']').ok_or(UrlError::Host)?;
        let ip: Ipv6Addr = literal.parse().map_err(|_| UrlError::Host)?;
        if !after.is_empty() {
            check_port(after.strip_prefix(':').ok_or(UrlError::Port)?)?;
        }
        return Ok(Host::Ip(IpAddr::V6(ip)));
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) => {
            check_port(port)?;
            host
        }
        None => authority,
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    check_dns_name(host)?;
    Ok(Host::Name(host.to_ascii_lowercase()))
}

fn check_port(port: &str) -> Result<(), UrlError> {
    match port.parse::<u16>() {
        Ok(number) if number > 0 && port.bytes().all(|byte| byte.is_ascii_digit()) => Ok(()),
        _ => Err(UrlError::Port),
    }
}

/// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens; a numeric last label
/// would be a malformed IPv4 address.
fn check_dns_name(host: &str) -> Result<(), UrlError> {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return Err(UrlError::Host);
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    };
    if !name.split('.').all(label_ok) {
        return Err(UrlError::Host);
    }
    let last = name.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(UrlError::Host);
    }
    Ok(())
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [first, second, ..] = ip.octets();
    let shared_address_space = first == 100 && (second & 0xc0) == 64;
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || shared_address_space
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_local_v4(v4);
    }
    let first = ip.segments()[0];
    let unique_local = (first & 0xfe00) == 0xfc00;
    let link_local = (first & 0xffc0) == 0xfe80;
    ip.is_loopback() || ip.is_unspecified() || unique_local || link_local
}

/// Reads a stored URL back: it passed the mode's checks when it was accepted, so only the syntax
/// (development rules) is checked again.
impl FromStr for WebUrl {
    type Err = UrlError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input, Mode::Development)
    }
}

impl TryFrom<String> for WebUrl {
    type Error = UrlError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        input.parse()
    }
}

impl From<WebUrl> for String {
    fn from(url: WebUrl) -> String {
        url.text
    }
}

impl fmt::Display for WebUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: Mode = Mode::Production;
    const DEV: Mode = Mode::Development;

    #[test]
    fn an_https_url_with_host_port_and_path_is_accepted() {
        let url = WebUrl::parse(
            "https://Auth-System.example.com:8443/callback/face?x=1",
            PROD,
        )
        .unwrap();
        assert_eq!(url.host(), "auth-system.example.com");
        assert!(url.is_https());
        assert_eq!(
            url.as_str(),
            "https://Auth-System.example.com:8443/callback/face?x=1"
        );
    }

    #[test]
    fn plain_http_is_allowed_only_in_development() {
        assert!(WebUrl::parse("http://localhost:8080/cb", DEV).is_ok());
        assert_eq!(
            WebUrl::parse("http://auth.example.com/cb", PROD),
            Err(UrlError::HttpsRequired)
        );
    }

    #[test]
    fn other_schemes_and_relative_urls_are_refused() {
        assert_eq!(
            WebUrl::parse("ftp://example.com", DEV),
            Err(UrlError::Scheme)
        );
        assert_eq!(WebUrl::parse("/callback", DEV), Err(UrlError::Scheme));
        assert_eq!(WebUrl::parse("", DEV), Err(UrlError::Empty));
    }

    #[test]
    fn credentials_spaces_and_bad_hosts_are_refused() {
        assert_eq!(
            WebUrl::parse("https://user:pw@example.com/", DEV),
            Err(UrlError::Credentials)
        );
        assert_eq!(
            WebUrl::parse("https://exa mple.com/", DEV),
            Err(UrlError::Characters)
        );
        assert_eq!(WebUrl::parse("https:///path", DEV), Err(UrlError::Host));
        assert_eq!(
            WebUrl::parse("https://-bad-.com/", DEV),
            Err(UrlError::Host)
        );
        assert_eq!(WebUrl::parse("https://1.2.3/", DEV), Err(UrlError::Host));
        assert_eq!(
            WebUrl::parse("https://example.com:0/", DEV),
            Err(UrlError::Port)
        );
        assert_eq!(
            WebUrl::parse("https://example.com:99999/", DEV),
            Err(UrlError::Port)
        );
        assert_eq!(
            WebUrl::parse("https://example.com:+80/", DEV),
            Err(UrlError::Port)
        );
    }

    #[test]
    fn local_and_private_addresses_are_refused_in_production() {
        for url in [
            "https://localhost/cb",
            "https://api.localhost/cb",
            "https://127.0.0.1/cb",
            "https://10.1.2.3/cb",
            "https://192.168.1.1/cb",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/cb",
            "https://[::1]:8443/cb",
            "https://[fd00::1]/cb",
            "https://[::ffff:10.0.0.1]/cb",
        ] {
            assert_eq!(
                WebUrl::parse(url, PROD),
                Err(UrlError::PrivateHost),
                "{url}"
            );
            assert!(WebUrl::parse(url, DEV).is_ok(), "{url}");
        }
        assert!(WebUrl::parse("https://8.8.8.8/cb", PROD).is_ok());
        assert!(WebUrl::parse("https://[2001:4860::8888]/cb", PROD).is_ok());
    }

    #[test]
    fn a_url_round_trips_through_json() {
        let url = WebUrl::parse("https://auth.example.com/cb", PROD).unwrap();
        let json = serde_json::to_value(&url).unwrap();
        assert_eq!(json, serde_json::json!("https://auth.example.com/cb"));
        assert_eq!(serde_json::from_value::<WebUrl>(json).unwrap(), url);
    }
}
