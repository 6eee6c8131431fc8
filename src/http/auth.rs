//! Request signing for `/api/v1/**` (spec 4.3; the wire format is fixed by ARCHITECTURE.md).
//!
//! ```text
//! canonical   = METHOD "\n" PATH "\n" CANONICAL_QUERY "\n" X-Timestamp "\n" X-Nonce "\n" hex(SHA-256(body))
//! X-Signature = lowercase hex(HMAC-SHA256(client secret, canonical))
//! ```
//!
//! [`require_signature`] is the axum middleware: it buffers the body (at most
//! [`MAX_SIGNED_BODY_BYTES`]), runs [`RequestAuthenticator::authenticate`], and hands the request on
//! with an [`AuthenticatedClient`] extension. Every rejection looks the same to the caller (401, code
//! 40101) and names its real reason only in a `esign::security` log line. Nothing is written for a
//! rejected request: the nonce is recorded only once the signature is proved. `docs/request-signing.md`
//! is the caller's guide, with a test vector.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::ErrorCode;
use crate::store::StoreError;
use crate::store::clients::{ClientError, ClientRegistry};
use crate::store::nonces::NonceStore;

/// How far `X-Timestamp` may be from the server's clock, either way.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;
/// The largest body a signed request may carry; larger ones get 413.
pub const MAX_SIGNED_BODY_BYTES: usize = 1024 * 1024;
/// The one route whose body may be larger: a contract's uploaded documents come in it.
const INITIATE_PATH: &str = "/api/v1/contract/initiate";

pub const HEADER_CLIENT_ID: &str = "x-client-id";
pub const HEADER_TIMESTAMP: &str = "x-timestamp";
pub const HEADER_NONCE: &str = "x-nonce";
pub const HEADER_SIGNATURE: &str = "x-signature";

/// The one answer to every rejected signature (spec section 6).
pub const REJECTION_CODE: u32 = 40101;
const REJECTION_MESSAGE: &str = "请求签名错误";
const MAX_CLIENT_ID_LEN: usize = 128;

/// RFC 3986 unreserved characters stay as they are; everything else is `%XX` (uppercase hex).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The client a request was signed by; in the request's extensions once [`require_signature`] let it
/// through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient {
    pub id: String,
    pub admin: bool,
}

/// Why a request was not let through. All but the last two are the caller's fault and answer the
/// same 401; the last two are our storage failing and answer 503.
#[derive(Debug, thiserror::Error)]
pub enum AuthRejection {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {0} is malformed or repeated")]
    MalformedHeader(&'static str),
    #[error("the timestamp is {skew_secs} s off the server's clock")]
    StaleTimestamp { skew_secs: i64 },
    #[error("no such client")]
    UnknownClient,
    #[error("the client may not call from this address")]
    IpNotAllowed,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the nonce was already used")]
    ReplayedNonce,
    #[error("cannot look up the client: {0}")]
    Registry(#[source] ClientError),
    #[error("cannot record the nonce: {0}")]
    Nonces(#[source] StoreError),
}

impl AuthRejection {
    /// A stable token for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader(_) => "malformed_header",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::UnknownClient => "unknown_client",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::BadSignature => "bad_signature",
            Self::ReplayedNonce => "replayed_nonce",
            Self::Registry(_) => "client_lookup_failed",
            Self::Nonces(_) => "nonce_store_failed",
        }
    }

    /// Whether the service, not the caller, failed.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Registry(_) | Self::Nonces(_))
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if self.is_internal() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                Extension(ErrorCode(50300)),
                Json(json!({"code": 50300, "message": "系统繁忙，请稍后重试"})),
            )
                .into_response();
        }
        (
            StatusCode::UNAUTHORIZED,
            Extension(ErrorCode(REJECTION_CODE)),
            Json(json!({"code": REJECTION_CODE, "message": REJECTION_MESSAGE})),
        )
            .into_response()
    }
}

/// The query string in canonical form: parameters decoded (`+` is a space, as in the form encoding
/// that handlers decode with), each name and value re-encoded with only RFC 3986 unreserved
/// characters left bare, sorted by encoded name then encoded value (byte order), joined `name=value`
/// with `&`. A parameter without `=` has an empty value; empty segments (`a=1&&b=2`) are dropped.
pub fn canonical_query(raw_query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            (reencode(name), reencode(value))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The first query parameter name that appears more than once, decoded as the canonical form
/// decodes it. The canonical query sorts pairs, so `?a=1&a=2` and `?a=2&a=1` share one signature
/// while a handler that keeps the last value reads them differently: such a query is refused.
pub fn repeated_query_parameter(raw_query: Option<&str>) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    raw_query
        .unwrap_or("")
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| reencode(segment.split_once('=').map_or(segment, |(name, _)| name)))
        .find(|name| !seen.insert(name.clone()))
}

/// Decodes one query component to bytes and encodes it again in the canonical alphabet.
fn reencode(component: &str) -> String {
    let spaced = component.replace('+', " ");
    let bytes: Vec<u8> = percent_decode(spaced.as_bytes()).collect();
    percent_encoding::percent_encode(&bytes, NOT_UNRESERVED).to_string()
}

/// Percent-encodes text the canonical way (for callers building a query).
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// The string a request's signature covers. `path` is the path as sent (not decoded), `raw_query`
/// the query as sent, without `?`.
pub fn canonical_request(
    method: &str,
    path: &str,
    raw_query: Option<&str>,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{method}\n{path}\n{query}\n{timestamp}\n{nonce}\n{body_hash}",
        query = canonical_query(raw_query),
        body_hash = hex::encode(Sha256::digest(body)),
    )
}

/// `X-Signature` for a canonical request: lowercase hex HMAC-SHA256.
pub fn sign(secret: &[u8], canonical: &str) -> String {
    hex::encode(mac(secret, canonical).finalize().into_bytes())
}

fn mac(secret: &[u8], canonical: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length (longer ones are hashed first), so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(canonical.as_bytes());
    mac
}

/// Checks signed requests against the client registry and records their nonces.
#[derive(Debug, Clone)]
pub struct RequestAuthenticator {
    clients: ClientRegistry,
    nonces: NonceStore,
}

/// The four signing headers, checked for shape.
struct SigningHeaders<'a> {
    client_id: &'a str,
    timestamp: &'a str,
    timestamp_secs: i64,
    nonce: &'a str,
    signature: [u8; 32],
}

impl RequestAuthenticator {
    pub fn new(clients: ClientRegistry, nonces: NonceStore) -> Self {
        Self { clients, nonces }
    }

    pub fn clients(&self) -> &ClientRegistry {
        &self.clients
    }

    pub fn nonces(&self) -> &NonceStore {
        &self.nonces
    }

    /// Authenticates one request. `uri` is the URI as the client sent it (its path and raw query are
    /// signed), `peer_ip` the TCP peer, `now` the server's clock. On success the nonce is recorded, so
    /// the same request cannot pass twice.
    pub async fn authenticate(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        peer_ip: IpAddr,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<AuthenticatedClient, AuthRejection> {
        let signed = SigningHeaders::parse(headers)?;
        let skew_secs = signed.timestamp_secs.saturating_sub(now.timestamp());
        if skew_secs.abs() > TIMESTAMP_WINDOW_SECS {
            return Err(AuthRejection::StaleTimestamp { skew_secs });
        }
        let client = self
            .clients
            .find(signed.client_id)
            .await
            .map_err(AuthRejection::Registry)?
            .ok_or(AuthRejection::UnknownClient)?;
        if !client.allows(peer_ip) {
            return Err(AuthRejection::IpNotAllowed);
        }
        let canonical = canonical_request(
            method.as_str(),
            uri.path(),
            uri.query(),
            signed.timestamp,
            signed.nonce,
            body,
        );
        mac(client.secret(), &canonical)
            .verify_slice(&signed.signature)
            .map_err(|_| AuthRejection::BadSignature)?;
        // The nonce matters only while the timestamp passes the window check; after that the window
        // check alone refuses a replay.
        let expires_at = DateTime::from_timestamp(signed.timestamp_secs + TIMESTAMP_WINDOW_SECS, 0)
            .ok_or(AuthRejection::MalformedHeader("X-Timestamp"))?;
        let fresh = self
            .nonces
            .use_once(&client.id, signed.nonce, expires_at)
            .await
            .map_err(AuthRejection::Nonces)?;
        if !fresh {
            return Err(AuthRejection::ReplayedNonce);
        }
        Ok(AuthenticatedClient {
            id: client.id,
            admin: client.admin,
        })
    }
}

impl<'a> SigningHeaders<'a> {
    fn parse(headers: &'a HeaderMap) -> Result<Self, AuthRejection> {
        let client_id = single(headers, HEADER_CLIENT_ID, "X-Client-Id")?;
        let timestamp = single(headers, HEADER_TIMESTAMP, "X-Timestamp")?;
        let nonce = single(headers, HEADER_NONCE, "X-Nonce")?;
        let signature = single(headers, HEADER_SIGNATURE, "X-Signature")?;

        if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
            return Err(AuthRejection::MalformedHeader("X-Client-Id"));
        }
        // Digits only (no sign, no spaces), and few enough to be a plausible Unix time.
        let timestamp_secs = Some(timestamp)
            .filter(|t| !t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or(AuthRejection::MalformedHeader("X-Timestamp"))?;
        let nonce_ok = (16..=64).contains(&nonce.len())
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !nonce_ok {
            return Err(AuthRejection::MalformedHeader("X-Nonce"));
        }
        let mut decoded = [0u8; 32];
        hex::decode_to_slice(signature, &mut decoded)
            .map_err(|_| AuthRejection::MalformedHeader("X-Signature"))?;
        Ok(Self {
            client_id,
            timestamp,
            timestamp_secs,
            nonce,
            signature: decoded,
        })
    }
}

/// The one value of a header: missing, repeated or non-ASCII are refused.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
    display: &'static str,
) -> Result<&'a str, AuthRejection> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(AuthRejection::MissingHeader(display))?;
    if values.next().is_some() {
        return Err(AuthRejection::MalformedHeader(display));
    }
    value
        .to_str()
        .map_err(|_| AuthRejection::MalformedHeader(display))
}

/// Middleware for every `/api/v1/**` route: 413 for a body over [`MAX_SIGNED_BODY_BYTES`]
/// (initiation has its own limit, for uploaded documents), 401 for a bad signature, otherwise the request goes on with an [`AuthenticatedClient`] extension.
///
/// Wire it as `route_layer(axum::middleware::from_fn_with_state(authenticator, require_signature))`
/// on a router served with `into_make_service_with_connect_info::<SocketAddr>()`.
pub async fn require_signature(
    State(auth): State<Arc<RequestAuthenticator>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    // A nested router strips its prefix from `parts.uri`; the client signed the full path.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map(|original| original.0.clone())
        .unwrap_or_else(|| parts.uri.clone());
    if let Some(name) = repeated_query_parameter(uri.query()) {
        tracing::warn!(
            target: "esign::security",
            ip = %peer.ip(),
            path = uri.path(),
            parameter = %name,
            "request refused: a query parameter is repeated"
        );
        return crate::app::AppError::invalid(
            format!("query.{name}"),
            "repeated query parameter: give each parameter once",
        )
        .into_response();
    }
    let limit = if uri.path() == INITIATE_PATH {
        crate::app::uploaded_documents::MAX_INITIATE_BODY_BYTES
    } else {
        MAX_SIGNED_BODY_BYTES
    };
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Extension(ErrorCode(41300)),
                Json(json!({"code": 41300, "message": "请求体过大"})),
            )
                .into_response();
        }
        Err(error) => {
            tracing::debug!(%error, path = uri.path(), "cannot read a request body");
            return (
                StatusCode::BAD_REQUEST,
                Extension(ErrorCode(40001)),
                Json(json!({"code": 40001, "message": "请求体无法读取"})),
            )
                .into_response();
        }
    };
    let outcome = auth
        .authenticate(
            &parts.method,
            &uri,
            &parts.headers,
            peer.ip(),
            &bytes,
            Utc::now(),
        )
        .await;
    match outcome {
        Ok(client) => {
            parts.extensions.insert(client);
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(rejection) => {
            log_rejection(&rejection, &parts.headers, peer.ip(), uri.path());
            rejection.into_response()
        }
    }
}

/// The security log line for a refused request. The claimed client id is the caller's text, so it is
/// logged only when it is short printable ASCII.
fn log_rejection(rejection: &AuthRejection, headers: &HeaderMap, ip: IpAddr, path: &str) {
    let client_id = headers
        .get(HEADER_CLIENT_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_CLIENT_ID_LEN
                && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .unwrap_or("-");
    if rejection.is_internal() {
        tracing::error!(
            target: "esign::security",
            reason = rejection.reason(),
            detail = %rejection,
            client_id,
            ip = %ip,
            path,
            "cannot check a request signature"
        );
    } else {
        tracing::warn!(
            target: "esign::security",
            reason = rejection.reason(),
            detail = %rejection,
            client_id,
            ip = %ip,
            path,
            "request signature rejected"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published in docs/request-signing.md.
    const VECTOR_SECRET: &str = "k3x9QvP0sLw7Zb2Yt6Nf4Rh8Jd1Mc5Ga";
    const VECTOR_BODY: &str = r#"{"bizId":"ORDER-1001","bizType":"LOAN"}"#;
    const VECTOR_QUERY: &str = "name=%E5%BC%A0%E4%B8%89&b=2&a=hello+world&a=1";
    const VECTOR_CANONICAL: &str = "POST\n/api/v1/contract/initiate\na=1&a=hello%20world&b=2&name=%E5%BC%A0%E4%B8%89\n1700000000\nb1a8e3f0c2d94e7a\n07d68639fa0b65eaa5bfcf2ac69a6e0f7d3d4b3edb2b5bc51a2c8cece83b525b";

    #[test]
    fn a_repeated_query_parameter_is_found_however_it_is_encoded() {
        assert_eq!(repeated_query_parameter(None), None);
        assert_eq!(repeated_query_parameter(Some("a=1&b=2&c")), None);
        assert_eq!(
            repeated_query_parameter(Some("status=PENDING&status=DELIVERED")),
            Some("status".to_owned())
        );
        assert_eq!(
            repeated_query_parameter(Some("%73tatus=A&status")),
            Some("status".to_owned())
        );
    }

    #[test]
    fn the_canonical_query_sorts_by_name_then_value() {
        assert_eq!(canonical_query(Some("b=2&a=2&a=10&c")), "a=10&a=2&b=2&c=");
        assert_eq!(canonical_query(None), "");
        assert_eq!(canonical_query(Some("")), "");
        assert_eq!(canonical_query(Some("a=1&&b=2&")), "a=1&b=2");
    }

    #[test]
    fn the_canonical_query_encodes_spaces_unicode_and_reserved_characters() {
        // A space, however it was sent, becomes %20; a literal plus must be sent as %2B.
        assert_eq!(
            canonical_query(Some("q=a+b&r=a%20b&s=a%2Bb")),
            "q=a%20b&r=a%20b&s=a%2Bb"
        );
        assert_eq!(
            canonical_query(Some("name=%e5%bc%a0%e4%b8%89")),
            "name=%E5%BC%A0%E4%B8%89"
        );
        // Raw UTF-8 in the query (already past the HTTP layer as bytes) encodes the same way.
        assert_eq!(
            canonical_query(Some("name=张三")),
            "name=%E5%BC%A0%E4%B8%89"
        );
        assert_eq!(
            canonical_query(Some("u=http%3A%2F%2Fx.cn%2Fa%3Fb%3D1%26c&k=a-b._~c")),
            "k=a-b._~c&u=http%3A%2F%2Fx.cn%2Fa%3Fb%3D1%26c"
        );
        // Unreserved characters sent encoded are decoded; reserved ones sent bare are encoded.
        assert_eq!(
            canonical_query(Some("%61=%7E&b=:/@!*")),
            "a=~&b=%3A%2F%40%21%2A"
        );
        // A stray percent sign stays a literal percent.
        assert_eq!(canonical_query(Some("p=100%&q=%zz")), "p=100%25&q=%25zz");
    }

    #[test]
    fn sorting_compares_encoded_text() {
        // ':' (0x3A) sorts after '0' raw but "%3A" sorts before "0": the encoded form decides.
        assert_eq!(canonical_query(Some("k=0&k=%3A")), "k=%3A&k=0");
    }

    #[test]
    fn the_published_test_vector_holds() {
        let canonical = canonical_request(
            "POST",
            "/api/v1/contract/initiate",
            Some(VECTOR_QUERY),
            "1700000000",
            "b1a8e3f0c2d94e7a",
            VECTOR_BODY.as_bytes(),
        );
        assert_eq!(canonical, VECTOR_CANONICAL);
        assert_eq!(
            sign(VECTOR_SECRET.as_bytes(), &canonical),
            "1e509ca053396b81afc9fab9892cd9c2eb78d5d2ef577e76b76cbfec4c4003f8"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            sign(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn header_shapes_are_checked_before_anything_else() {
        let good = [
            (HEADER_CLIENT_ID, "erp"),
            (HEADER_TIMESTAMP, "1700000000"),
            (HEADER_NONCE, "abcdefgh_ABCD-12"),
            (HEADER_SIGNATURE, &"ab".repeat(32)),
        ];
        assert!(SigningHeaders::parse(&headers(&good)).is_ok());
        let cases: &[(usize, &str, &str)] = &[
            (1, "-1700000000", "X-Timestamp"),
            (1, "17e8", "X-Timestamp"),
            (1, " 1700000000", "X-Timestamp"),
            (2, "short", "X-Nonce"),
            (2, "abcdefgh.ABCD-12", "X-Nonce"),
            (2, &"n".repeat(65), "X-Nonce"),
            (3, &"ab".repeat(31), "X-Signature"),
            (3, &"zz".repeat(32), "X-Signature"),
        ];
        for (index, value, header) in cases {
            let mut pairs = good.to_vec();
            pairs[*index].1 = value;
            match SigningHeaders::parse(&headers(&pairs)) {
                Err(AuthRejection::MalformedHeader(name)) => assert_eq!(name, *header),
                other => panic!("{value:?}: {:?}", other.err()),
            }
        }
        let mut repeated = good.to_vec();
        repeated.push((HEADER_NONCE, "abcdefgh_ABCD-13"));
        assert!(matches!(
            SigningHeaders::parse(&headers(&repeated)),
            Err(AuthRejection::MalformedHeader("X-Nonce"))
        ));
        assert!(matches!(
            SigningHeaders::parse(&headers(&good[..3])),
            Err(AuthRejection::MissingHeader("X-Signature"))
        ));
    }

    #[tokio::test]
    async fn every_rejection_answers_the_same_body_and_storage_failures_answer_503() {
        let rejections = [
            AuthRejection::MissingHeader("X-Nonce"),
            AuthRejection::MalformedHeader("X-Timestamp"),
            AuthRejection::StaleTimestamp { skew_secs: 301 },
            AuthRejection::UnknownClient,
            AuthRejection::IpNotAllowed,
            AuthRejection::BadSignature,
            AuthRejection::ReplayedNonce,
        ];
        for rejection in rejections {
            assert!(!rejection.is_internal());
            let response = rejection.into_response();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body, json!({"code": 40101, "message": "请求签名错误"}));
        }
        let unavailable = AuthRejection::Nonces(StoreError::Unavailable("down".into()));
        assert!(unavailable.is_internal());
        let response = unavailable.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn a_rejection_is_logged_as_a_security_event_with_its_real_reason() {
        use std::io::Write;
        use std::sync::Mutex;

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            log_rejection(
                &AuthRejection::ReplayedNonce,
                &headers(&[(HEADER_CLIENT_ID, "erp")]),
                "192.0.2.1".parse().unwrap(),
                "/api/v1/contract/initiate",
            );
            log_rejection(
                &AuthRejection::UnknownClient,
                &headers(&[(HEADER_CLIENT_ID, "bad\tid")]),
                "192.0.2.1".parse().unwrap(),
                "/api/v1/x",
            );
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("WARN"), "{text}");
        assert!(lines[0].contains("esign::security"), "{text}");
        assert!(lines[0].contains("reason=\"replayed_nonce\""), "{text}");
        assert!(lines[0].contains("client_id=\"erp\""), "{text}");
        assert!(lines[0].contains("ip=192.0.2.1"), "{text}");
        assert!(
            lines[0].contains("path=\"/api/v1/contract/initiate\""),
            "{text}"
        );
        assert!(lines[1].contains("client_id=\"-\""), "{text}");
    }
}
