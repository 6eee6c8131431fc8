//! The signing page's defences (spec 4.2.3): link tokens looked up by hash and compared in constant
//! time, CSRF tokens bound to the link, in-process rate limits, the optional Referer allow-list and the
//! security headers every H5 response carries.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::response::Response;

use crate::app::signing::same;
use crate::pii::PiiCipher;

/// How many keys the limiter keeps before it drops finished windows.
const PRUNE_AT: usize = 10_000;

/// The client's address as the connection reports it (a proxy in front must be trusted to pass the
/// real one through its own means; see docs/h5.md).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| {
                    peer.ip()
                }),
        ))
    }
}

// ---------------------------------------------------------------------------------------------------
// CSRF: a double-submit cookie whose value is bound by HMAC to the link

/// The cookie's name: one per link, so two links open in one browser do not overwrite each other.
pub(super) fn csrf_cookie_name(link_hash: &str) -> String {
    format!("esign_csrf_{}", &link_hash[..16.min(link_hash.len())])
}

/// A fresh CSRF token for the link: `<random nonce>.<HMAC of link and nonce>`.
pub(super) fn new_csrf_token(pii: &PiiCipher, link_hash: &str) -> Result<String, String> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| format!("random source: {e}"))?;
    let nonce = hex::encode(nonce);
    let mac = csrf_mac(pii, link_hash, &nonce);
    Ok(format!("{nonce}.{mac}"))
}

fn csrf_mac(pii: &PiiCipher, link_hash: &str, nonce: &str) -> String {
    pii.blind_index(&format!("h5-csrf:{link_hash}:{nonce}"))
}

/// Whether a token was issued by this service for this link.
pub(super) fn csrf_token_valid(pii: &PiiCipher, link_hash: &str, token: &str) -> bool {
    let Some((nonce, mac)) = token.split_once('.') else {
        return false;
    };
    nonce.len() == 32 && same(mac, &csrf_mac(pii, link_hash, nonce))
}

/// The link's CSRF cookie from the request, if present and valid.
pub(super) fn csrf_cookie(headers: &HeaderMap, pii: &PiiCipher, link_hash: &str) -> Option<String> {
    let name = csrf_cookie_name(link_hash);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| csrf_token_valid(pii, link_hash, value))
}

/// A post passes when its form field equals its cookie and both were issued for this link.
pub(super) fn csrf_passes(
    headers: &HeaderMap,
    pii: &PiiCipher,
    link_hash: &str,
    field: Option<&str>,
) -> bool {
    match (csrf_cookie(headers, pii, link_hash), field) {
        (Some(cookie), Some(field)) => same(&cookie, field),
        _ => false,
    }
}

/// `Set-Cookie` for the link's CSRF token: strict same-site, not readable by scripts, limited to the
/// signing routes, `Secure` when the service is served over HTTPS.
pub(super) fn csrf_set_cookie(link_hash: &str, token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{}={token}; Path=/h5/sign; HttpOnly; SameSite=Strict{secure}",
        csrf_cookie_name(link_hash)
    )
}

// ---------------------------------------------------------------------------------------------------
// Rate limits

/// Fixed-window counters in this process. With several instances each counts on its own, so the
/// effective limit is the configured one times the number of instances (docs/h5.md).
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one hit on `key`; `false` once the window already holds `limit` hits. A limit of 0
    /// turns the check off.
    pub fn allow(&self, key: &str, limit: u32, window: Duration) -> bool {
        if limit == 0 {
            return true;
        }
        let now = Instant::now();
        let mut windows = match self.windows.lock() {
            Ok(windows) => windows,
            // A panic while holding the lock cannot leave the counters inconsistent in a way that
            // matters more than refusing every page would.
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, (started, _)| now.duration_since(*started) < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return false;
        }
        entry.1 += 1;
        true
    }
}

// ---------------------------------------------------------------------------------------------------
// Referer allow-list and headers

/// `scheme://host[:port]` of a URL, lower-cased, default ports dropped.
fn origin_of(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{}:{port}", url.scheme(), host).to_ascii_lowercase(),
        None => format!("{}://{}", url.scheme(), host).to_ascii_lowercase(),
    })
}

/// `Err(referer origin)` when an allow-list is configured and the request's `Referer` names another
/// origin. No `Referer` passes; so does the service's own origin.
pub(super) fn referer_check(
    headers: &HeaderMap,
    allowlist: &[String],
    own_base_url: &str,
) -> Result<(), String> {
    if allowlist.is_empty() {
        return Ok(());
    }
    let Some(referer) = headers.get(header::REFERER) else {
        return Ok(());
    };
    let origin = referer
        .to_str()
        .ok()
        .and_then(origin_of)
        .unwrap_or_else(|| "(unreadable)".to_owned());
    let allowed = origin_of(own_base_url).as_deref() == Some(origin.as_str())
        || allowlist
            .iter()
            .filter_map(|entry| origin_of(entry))
            .any(|entry| entry == origin);
    if allowed { Ok(()) } else { Err(origin) }
}

/// Scripts and styles from this origin only (template markup may carry inline styles, never
/// scripts); no framing; no Referer, so the token in the URL never leaves; nothing cached.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub(super) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_then_refuses() {
        let limiter = RateLimiter::new();
        let window = Duration::from_secs(60);
        assert!(limiter.allow("k", 2, window));
        assert!(limiter.allow("k", 2, window));
        assert!(!limiter.allow("k", 2, window));
        assert!(limiter.allow("other", 2, window));
        assert!(limiter.allow("k", 0, window), "0 turns the limit off");
    }

    #[test]
    fn the_referer_allow_list_passes_listed_own_and_absent_origins_only() {
        let list = vec!["https://app.example.com".to_owned()];
        let own = "https://sign.example.com";
        let with = |referer: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::REFERER, HeaderValue::from_str(referer).unwrap());
            headers
        };
        assert!(referer_check(&HeaderMap::new(), &list, own).is_ok());
        assert!(referer_check(&with("https://app.example.com/x?y"), &list, own).is_ok());
        assert!(referer_check(&with("https://sign.example.com/h5"), &list, own).is_ok());
        assert_eq!(
            referer_check(&with("https://evil.example.net/"), &list, own),
            Err("https://evil.example.net".to_owned())
        );
        assert!(referer_check(&with("https://evil.example.net/"), &[], own).is_ok());
    }
}
