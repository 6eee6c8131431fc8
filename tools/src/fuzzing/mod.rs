//! Entry points for the fuzz targets in `fuzz/` and for the corpus regression test: one function per
//! parser of outside input, taking raw bytes and driving the real parser the way the service does.
//!
//! Each function panics only when an invariant the service relies on breaks (a rejected request must
//! be a typed 4xx naming its field, never a 500; nothing is written for a rejection; what is accepted
//! must hold up on a second look). Any other outcome, accepted or refused, returns normally.
//! [`seeds`] writes the seed corpus the targets start from.

#![allow(
    clippy::expect_used,
    reason = "fixture set-up and invariant checks: a failure here is a finding, reported by the panic"
)]

pub mod seeds;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aggregates::Aggregate;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractEvent, ContractRequest, ContractState,
    InitiateContract, NewSignLink,
};
use aggregates::face_verification::{
    FaceVerificationAggregate, InitiateVerification, VerificationCommand, VerificationRequest,
};
use aggregates::template::{SignerConfig, TemplateVersionFacts, VariableDefinition, VariableKey};
use aggregates::values::{
    ArchiveId, ClientId, ContractId, Digest, DisplayName, IdCardNumber, LinkId, MobileNumber, Mode,
    ProviderName, SignMethod, TemplateId, TemplateVersion, VerificationId, china_date,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use der::{Decode, Encode};
use esign::app::error::{AppError, DomainFailure};
use esign::http::api::parse_json;
use esign::http::auth::{self, RequestAuthenticator};
use esign::pii::PiiCipher;
use esign::providers::face::http_provider::HttpFaceProvider;
use esign::providers::face::protocol;
use esign::providers::face::provider::{CallbackError, FaceProvider};
use esign::store::Store;
use esign::store::clients::ClientConfig;
use esign::store::clients::ClientRegistry;
use esign::store::nonces::NonceStore;
use esign::trust::ca::{Ca, NewCa};
use esign::trust::tsa::{self, TimeStampReq, TimeStampResp, TsaSigner};
use sha2::{Digest as _, Sha256};

/// A fuzz target: raw input in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// The fuzz targets by name (each has `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("request_signature", request_signature),
    ("contract_initiate", contract_initiate),
    ("face_initiate", face_initiate),
    ("identity_numbers", identity_numbers),
    ("face_callback", face_callback),
    ("timestamp_response", timestamp_response),
    ("timestamp_request", timestamp_request),
    ("pdf_validation", pdf_validation),
    ("uploaded_pdf", uploaded_pdf),
];

/// The server clock every target uses, so seeds signed for it stay inside the timestamp windows.
pub const NOW_UNIX: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
/// The server clock of `request_signature`: far ahead of the wall clock, because the nonce store
/// purges by the wall clock and would otherwise forget the fixture's nonces (inside the service both
/// clocks are the same).
pub const SIGNING_NOW_UNIX: i64 = 4_000_000_000;
/// The client the signing fixture knows.
pub const CLIENT_ID: &str = "fuzz-client";
pub const CLIENT_SECRET: &str = "fuzz-client-secret-0123456789abcdef";
/// The face provider the callback fixture knows.
pub const PROVIDER_SECRET: &str = "fuzz-provider-secret-0123456789";
/// The template every initiation is checked against (as the service would have loaded it).
pub const TEMPLATE_ID: &str = "TEMPLATE_FUZZ";
/// What the timestamp client asked for: the imprint and nonce of `timestamp_response`.
pub const TSA_DATA: &[u8] = b"esign fuzz document";
pub const TSA_NONCE: u64 = 0x0123_4567_89ab_cdef;

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW_UNIX, 0).unwrap_or_default()
}

pub fn signing_now() -> DateTime<Utc> {
    DateTime::from_timestamp(SIGNING_NOW_UNIX, 0).unwrap_or_default()
}

/// The fields of a multi-part input: `count - 1` newline-terminated parts, then the rest.
fn split_fields(data: &[u8], count: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(count, |&b| b == b'\n').collect();
    parts.resize(count, &[]);
    parts
}

// -------------------------------------------------------------------------------------------------
// Request signing

struct SigningFixture {
    runtime: tokio::runtime::Runtime,
    authenticator: RequestAuthenticator,
    /// Nonces that passed once: a second pass is the only reason a correct signature may fail.
    used_nonces: Mutex<HashSet<String>>,
}

fn signing_fixture() -> &'static SigningFixture {
    static FIXTURE: OnceLock<SigningFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let directory = std::env::temp_dir().join(format!(
            "esign-fuzz-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let url = format!("sqlite://{}", directory.join("nonces.db").display());
        let authenticator = runtime.block_on(async {
            let store = Store::open(&url, 1).await.expect("an SQLite store");
            let cipher = Arc::new(test_cipher());
            let clients = ClientRegistry::new(
                &[ClientConfig {
                    id: CLIENT_ID.into(),
                    secret: CLIENT_SECRET.into(),
                    allowed_ips: Vec::new(),
                    admin: false,
                }],
                store.clone(),
                cipher,
            )
            .expect("the client registry");
            RequestAuthenticator::new(clients, NonceStore::new(store))
        });
        SigningFixture {
            runtime,
            authenticator,
            used_nonces: Mutex::new(HashSet::new()),
        }
    })
}

fn test_cipher() -> PiiCipher {
    let key = PiiCipher::generate_key().expect("a key");
    let keys = std::collections::BTreeMap::from([("fuzz".to_owned(), key)]);
    PiiCipher::new("fuzz", &keys, &PiiCipher::generate_key().expect("a key")).expect("a cipher")
}

/// A signed API request as seven newline-separated fields: method, URI (path and query), the four
/// signing headers (client id, timestamp, nonce, signature) and the body (the rest). Parts the HTTP
/// layer would refuse before the service sees them (a bad method or URI, a header value with control
/// characters) end the run. [`signed_request`] writes such inputs.
pub fn request_signature(data: &[u8]) {
    let [method, uri, client_id, timestamp, nonce, signature, body] =
        split_fields(data, 7)[..].try_into().unwrap_or([&[][..]; 7]);
    let (Ok(method), Ok(uri)) = (Method::from_bytes(method), Uri::try_from(uri)) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (auth::HEADER_CLIENT_ID, client_id),
        (auth::HEADER_TIMESTAMP, timestamp),
        (auth::HEADER_NONCE, nonce),
        (auth::HEADER_SIGNATURE, signature),
    ] {
        // An empty field stands for a missing header.
        if value.is_empty() {
            continue;
        }
        let Ok(value) = HeaderValue::from_bytes(value) else {
            return;
        };
        headers.insert(HeaderName::from_static(name), value);
    }
    let fixture = signing_fixture();
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let outcome = fixture.runtime.block_on(fixture.authenticator.authenticate(
        &method,
        &uri,
        &headers,
        peer,
        body,
        signing_now(),
    ));
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut used = fixture
        .used_nonces
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match outcome {
        Ok(client) => {
            assert_eq!(client.id, CLIENT_ID);
            // Accepted only with the signature computed over exactly what was received.
            let canonical = auth::canonical_request(
                method.as_str(),
                uri.path(),
                uri.query(),
                header_text(auth::HEADER_TIMESTAMP).unwrap_or_default(),
                header_text(auth::HEADER_NONCE).unwrap_or_default(),
                body,
            );
            let given = header_text(auth::HEADER_SIGNATURE).unwrap_or_default();
            assert!(
                given.eq_ignore_ascii_case(&auth::sign(CLIENT_SECRET.as_bytes(), &canonical)),
                "a request passed with a signature that does not match"
            );
            let nonce = header_text(auth::HEADER_NONCE).unwrap_or_default();
            assert!(used.insert(nonce.to_owned()), "a nonce passed twice");
        }
        Err(rejection) => {
            assert!(
                !rejection.is_internal(),
                "a caller's request caused an internal error: {rejection}"
            );
            assert_eq!(rejection.into_response().status(), StatusCode::UNAUTHORIZED);
            // Nothing was written: the same request, correctly signed by the known client, passes
            // unless its nonce already did (or its timestamp or nonce cannot pass at all).
            let (Some(timestamp), Some(nonce)) = (
                header_text(auth::HEADER_TIMESTAMP),
                header_text(auth::HEADER_NONCE),
            ) else {
                return;
            };
            let shape_ok = timestamp.len() <= 12
                && timestamp.parse::<u64>().is_ok_and(|t| {
                    i64::try_from(t)
                        .is_ok_and(|t| (t - SIGNING_NOW_UNIX).abs() <= auth::TIMESTAMP_WINDOW_SECS)
                })
                && timestamp.bytes().all(|b| b.is_ascii_digit())
                && (16..=64).contains(&nonce.len())
                && nonce
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !shape_ok || used.contains(nonce) {
                return;
            }
            let canonical = auth::canonical_request(
                method.as_str(),
                uri.path(),
                uri.query(),
                timestamp,
                nonce,
                body,
            );
            let mut resigned = headers.clone();
            resigned.insert(
                HeaderName::from_static(auth::HEADER_CLIENT_ID),
                HeaderValue::from_static(CLIENT_ID),
            );
            resigned.insert(
                HeaderName::from_static(auth::HEADER_SIGNATURE),
                HeaderValue::from_str(&auth::sign(CLIENT_SECRET.as_bytes(), &canonical))
                    .expect("hex is a header value"),
            );
            let retried = fixture.runtime.block_on(fixture.authenticator.authenticate(
                &method,
                &uri,
                &resigned,
                peer,
                body,
                signing_now(),
            ));
            assert!(
                retried.is_ok(),
                "a rejected request left its nonce used: {:?}",
                retried.err()
            );
            used.insert(nonce.to_owned());
        }
    }
}

/// Writes a `request_signature` input: the request signed by the fixture's client at [`SIGNING_NOW_UNIX`].
pub fn signed_request(method: &str, uri: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let parsed: Uri = uri.parse().expect("a URI");
    let timestamp = SIGNING_NOW_UNIX.to_string();
    let canonical = auth::canonical_request(
        method,
        parsed.path(),
        parsed.query(),
        &timestamp,
        nonce,
        body,
    );
    let signature = auth::sign(CLIENT_SECRET.as_bytes(), &canonical);
    let mut input =
        format!("{method}\n{uri}\n{CLIENT_ID}\n{timestamp}\n{nonce}\n{signature}\n").into_bytes();
    input.extend_from_slice(body);
    input
}

// -------------------------------------------------------------------------------------------------
// Request bodies

/// The template the fuzzed initiations name: two required variables, one to three signers.
pub fn template_facts() -> TemplateVersionFacts {
    let definition = |key: &str, required: bool| VariableDefinition {
        key: VariableKey::parse(key).expect("a variable key"),
        name: DisplayName::parse(key).expect("a display name"),
        required,
        sample: None,
    };
    TemplateVersionFacts {
        template_id: TemplateId::parse(TEMPLATE_ID).expect("a template id"),
        version: TemplateVersion::parse("1.0").expect("a version"),
        active: true,
        variable_definitions: vec![
            definition("payerName", true),
            definition("receiverName", true),
            definition("note", false),
        ],
        signer_config: SignerConfig::new(1, 3, vec![SignMethod::FaceAndSms])
            .expect("a signer config"),
    }
}

/// A refusal must be a 4xx, and a validation refusal must name each field it blames.
fn assert_client_error(error: AppError) {
    if let AppError::Validation(errors) = &error {
        assert!(!errors.is_empty(), "a validation error without a field");
        for field in errors.fields() {
            assert!(!field.field.is_empty(), "a validation error names no field");
            assert!(!field.reason.is_empty(), "{}: no reason given", field.field);
        }
    }
    assert!(
        !matches!(error, AppError::Internal(_) | AppError::Unavailable(_)),
        "a request body caused a server error: {error}"
    );
    let status = error.into_response().status();
    assert!(status.is_client_error(), "answered {status}");
}

/// A body the edge accepted is exactly one JSON document (nothing ignored after it) and UTF-8.
/// Checked by grammar, not as a `Value`: a number beyond f64 in an ignored field is still JSON.
fn assert_one_document(data: &[u8]) {
    assert!(
        std::str::from_utf8(data).is_ok()
            && serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok(),
        "a body with more than one JSON document was accepted"
    );
}

fn domain_error(error: &impl DomainFailure) -> AppError {
    AppError::from_domain(error.kind(), error, error.validation())
}

/// `POST /api/v1/contract/initiate`: the body as the edge parses it, then the contract's decision
/// against [`template_facts`]. Accepted: one `ContractInitiated` and a link per signer.
pub fn contract_initiate(data: &[u8]) {
    let request: ContractRequest = match parse_json(data) {
        Ok(request) => request,
        Err(error) => return assert_client_error(error),
    };
    assert_one_document(data);
    let signers = request.signers.len();
    let link = |index: usize| NewSignLink {
        link_id: LinkId::parse(&format!("{index:032x}")).expect("a link id"),
        token_hash: Digest::parse(&hex::encode(Sha256::digest(index.to_be_bytes())))
            .expect("a digest"),
    };
    let preview = request.variable_texts();
    let command = ContractCommand::Initiate(InitiateContract {
        contract_id: ContractId::parse("CONTRACT_20260101FUZZ000000000001").expect("an id"),
        client_id: ClientId::parse(CLIENT_ID).expect("a client id"),
        template: Some(template_facts()),
        preview_hash: Some(
            Digest::parse(&hex::encode(Sha256::digest(format!("{preview:?}")))).expect("a digest"),
        ),
        documents: Vec::new(),
        places: Vec::new(),
        sign_links: (0..signers).map(link).collect(),
        archive_id: ArchiveId::parse("ARCHIVE_20260101FUZZ000000000001").expect("an id"),
        link_lifetimes: aggregates::values::LinkLifetimes::default(),
        other_archive_ids: Vec::new(),
        seals: std::collections::BTreeMap::new(),
        mode: Mode::Production,
        now: now(),
        request,
    });
    match ContractAggregate::decide(&ContractState::default(), command) {
        Ok(events) => {
            let links = events
                .iter()
                .filter(|event| matches!(event, ContractEvent::SignLinkIssued { .. }))
                .count();
            assert_eq!(links, signers, "one link per signer");
            assert!(matches!(
                events.first(),
                Some(ContractEvent::ContractInitiated { .. })
            ));
            // What is stored must serialize.
            for event in &events {
                serde_json::to_vec(event).expect("an event serializes");
            }
        }
        Err(error) => assert_client_error(domain_error(&error)),
    }
}

/// `POST /api/v1/verification/face/initiate`: the body as the edge parses it, then the
/// verification's decision.
pub fn face_initiate(data: &[u8]) {
    let request: VerificationRequest = match parse_json(data) {
        Ok(request) => request,
        Err(error) => return assert_client_error(error),
    };
    assert_one_document(data);
    let command = VerificationCommand::Initiate(InitiateVerification {
        verification_id: VerificationId::parse("FACE_VERIFY_20260101FUZZ00000001").expect("an id"),
        client_id: ClientId::parse(CLIENT_ID).expect("a client id"),
        request,
        mode: Mode::Production,
        now: now(),
    });
    match FaceVerificationAggregate::decide(&Default::default(), command) {
        Ok(events) => {
            assert!(!events.is_empty());
            for event in &events {
                serde_json::to_vec(event).expect("an event serializes");
            }
        }
        Err(error) => assert_client_error(domain_error(&error)),
    }
}

// -------------------------------------------------------------------------------------------------
// Identity numbers

/// The check character of 17 digits (ISO 7064 MOD 11-2), computed independently of the parser.
pub fn id_check_character(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(index, digit)| {
            // Weight 2^(17 - index) mod 11 for the digit at position `index` (0-based, left first).
            let weight = (0..17 - index).fold(1u32, |weight, _| weight * 2 % 11);
            u32::from(digit - b'0') * weight
        })
        .sum();
    b"10X98765432"[(sum % 11) as usize]
}

/// One text as both an ID-card number and a mobile number: whatever the parsers accept must agree
/// with the rules written out independently here, and round-trip.
pub fn identity_numbers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        // Request bodies are JSON: these fields are always text.
        return;
    };
    let today = china_date(now());
    if let Ok(number) = IdCardNumber::parse(text, today) {
        let bytes = text.as_bytes();
        assert_eq!(bytes.len(), 18);
        assert!(bytes[..17].iter().all(u8::is_ascii_digit));
        assert_eq!(
            bytes[17].to_ascii_uppercase(),
            id_check_character(&bytes[..17])
        );
        assert!(number.birth_date() <= today);
        assert_eq!(number.as_str(), text.to_ascii_uppercase());
        let again = IdCardNumber::parse(number.as_str(), today).expect("a parsed number reparses");
        assert_eq!(again, number);
        let masked = number.masked();
        assert_eq!(masked.len(), 18);
        assert!(!masked.contains(&text[6..14]), "the birth date is masked");
    } else if text.len() == 18
        && text.as_bytes()[..17].iter().all(u8::is_ascii_digit)
        && text.as_bytes()[17].to_ascii_uppercase() == id_check_character(&text.as_bytes()[..17])
    {
        // Refused despite a right check character: only the birth date may be the reason.
        let date = NaiveDate::parse_from_str(&text[6..14], "%Y%m%d").ok();
        assert!(
            date.is_none_or(|date| date > today
                || date < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()),
            "{text} was refused"
        );
    }
    let expected_mobile = text.len() == 11
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.starts_with('1')
        && (b'3'..=b'9').contains(&text.as_bytes()[1]);
    match MobileNumber::parse(text) {
        Ok(number) => {
            assert!(expected_mobile, "{text:?} passed as a mobile number");
            assert_eq!(number.as_str(), text);
            assert_eq!(MobileNumber::parse(number.as_str()), Ok(number.clone()));
            assert_eq!(number.masked().len(), 11);
        }
        Err(_) => assert!(!expected_mobile, "{text} was refused as a mobile number"),
    }
}

// -------------------------------------------------------------------------------------------------
// Face provider callbacks

fn face_provider() -> &'static HttpFaceProvider {
    static PROVIDER: OnceLock<HttpFaceProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        HttpFaceProvider::new(
            ProviderName::parse("fuzz").expect("a provider name"),
            "http://127.0.0.1:9",
            "fuzz-app",
            PROVIDER_SECRET,
            Duration::from_secs(1),
        )
        .expect("a provider")
    })
}

/// A protocol v1 callback: a mode byte, then timestamp, nonce and signature lines, then the body.
/// With the mode byte's low bit set the input is signed correctly before it is checked (the fuzzer
/// cannot forge HMACs), so the timestamp window and the body parser are reached with any content.
pub fn face_callback(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let [timestamp, nonce, signature, body] =
        split_fields(rest, 4)[..].try_into().unwrap_or([&[][..]; 4]);
    let (Ok(timestamp), Ok(nonce)) = (std::str::from_utf8(timestamp), std::str::from_utf8(nonce))
    else {
        return;
    };
    let resign = mode & 1 == 1;
    let signature = match (resign, timestamp.parse::<i64>()) {
        (true, Ok(seconds)) => protocol::sign(PROVIDER_SECRET, seconds, nonce, body).into_bytes(),
        _ => signature.to_vec(),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (protocol::TIMESTAMP_HEADER, timestamp.as_bytes()),
        (protocol::NONCE_HEADER, nonce.as_bytes()),
        (protocol::SIGNATURE_HEADER, &signature[..]),
    ] {
        if value.is_empty() {
            continue;
        }
        let Ok(value) = HeaderValue::from_bytes(value) else {
            return;
        };
        headers.insert(HeaderName::from_static(name), value);
    }
    match face_provider().verify_callback(&headers, body, now()) {
        Ok(callback) => {
            let seconds: i64 = timestamp.parse().expect("an accepted timestamp parses");
            assert!(
                seconds.abs_diff(NOW_UNIX) <= protocol::TIMESTAMP_WINDOW_SECONDS.unsigned_abs(),
                "a stale callback passed"
            );
            // Hex digits of either case decode to the same MAC.
            let expected = protocol::sign(PROVIDER_SECRET, seconds, nonce, body);
            assert!(
                std::str::from_utf8(&signature)
                    .is_ok_and(|given| given.eq_ignore_ascii_case(&expected)),
                "a callback passed with a signature that does not match"
            );
            assert_eq!(callback.nonce, nonce);
        }
        Err(CallbackError::Signature(_) | CallbackError::Malformed(_)) => {}
    }
}

/// Writes a `face_callback` input: `body` signed at [`NOW_UNIX`] (mode byte 0: checked as sent).
pub fn signed_callback(nonce: &str, body: &[u8]) -> Vec<u8> {
    let signature = protocol::sign(PROVIDER_SECRET, NOW_UNIX, nonce, body);
    let mut input = format!("\u{0}{NOW_UNIX}\n{nonce}\n{signature}\n").into_bytes();
    input.extend_from_slice(body);
    input
}

// -------------------------------------------------------------------------------------------------
// RFC 3161

/// The platform CA of this process (generated once; its root is the timestamp trust anchor).
pub fn fixture_ca() -> &'static Arc<Ca> {
    static CA: OnceLock<Arc<Ca>> = OnceLock::new();
    CA.get_or_init(|| {
        // Issued before the fixed clock, so the tokens stamped at it chain to the root.
        let issued_at = now() - chrono::TimeDelta::days(1);
        let generated = NewCa::generate("esign fuzz", issued_at).expect("a CA");
        Arc::new(generated.ca)
    })
}

/// The fixture CA's TSA.
pub fn fixture_tsa() -> TsaSigner {
    let policy = esign::trust::parse_tsa_policy(esign::trust::DEFAULT_TSA_POLICY)
        .expect("the default policy");
    TsaSigner::new(fixture_ca().clone(), policy)
}

/// A DER `TimeStampResp` as the TSA client reads it, for a request over [`TSA_DATA`] with
/// [`TSA_NONCE`]. A token is accepted only if it verifies again on its own.
pub fn timestamp_response(data: &[u8]) {
    let digest: [u8; 32] = Sha256::digest(TSA_DATA).into();
    let anchors = [fixture_ca().root().clone()];
    match tsa::accept_response("fuzz", data, &digest, TSA_NONCE, &anchors, &[]) {
        Ok(timestamp) => {
            let verified =
                tsa::verify_token(&timestamp.token, &digest, Some(TSA_NONCE), &anchors, &[])
                    .expect("an accepted token verifies");
            assert_eq!(verified.gen_time, timestamp.gen_time);
        }
        Err(tsa::ClientError::Rejected { .. } | tsa::ClientError::InvalidResponse { .. }) => {}
        Err(other) => panic!("a TSA's answer caused {other}"),
    }
}

/// A DER `TimeStampReq` as `POST /tsa` receives it: the answer is always a well-formed
/// `TimeStampResp`, and a granted token verifies for the request's imprint and nonce.
pub fn timestamp_request(data: &[u8]) {
    let (response, outcome) = fixture_tsa().respond(data, now());
    let parsed = TimeStampResp::from_der(&response).expect("the TSA answers DER");
    let tsa::Outcome::Granted { .. } = outcome else {
        assert!(
            parsed.time_stamp_token.is_none(),
            "a refusal carries a token"
        );
        return;
    };
    let request = TimeStampReq::from_der(data).expect("a granted request parses");
    let digest: [u8; 32] = request
        .message_imprint
        .hashed_message
        .as_bytes()
        .try_into()
        .expect("a granted imprint has 32 bytes");
    let token = parsed
        .time_stamp_token
        .expect("a grant carries a token")
        .to_der()
        .expect("the token encodes");
    // Without certReq the token carries no certificate: the relying party brings the TSA's.
    let ca = fixture_ca();
    let known = [ca.tsa().certificate.clone(), ca.intermediate().clone()];
    let verified = tsa::verify_token(&token, &digest, None, &[ca.root().clone()], &known)
        .expect("a granted token verifies");
    assert_eq!(
        verified.tst_info.nonce, request.nonce,
        "the nonce is echoed"
    );
}

// -------------------------------------------------------------------------------------------------
// PDFs

/// An uploaded PDF as `POST /api/v1/contract/verify` (`FILE`) checks it against the platform root.
/// A document reported valid has signatures, all valid, and no problems.
pub fn pdf_validation(data: &[u8]) {
    let anchors = [fixture_ca().root().clone()];
    let validation = esign::app::document_verification::validate_signatures(data, &anchors);
    assert_eq!(
        validation.document_sha256_hex,
        hex::encode(Sha256::digest(data))
    );
    if validation.valid {
        assert!(
            !validation.signatures.is_empty(),
            "valid without signatures"
        );
        assert!(validation.problems.is_empty());
        assert!(
            validation
                .signatures
                .iter()
                .all(|signature| signature.valid)
        );
        assert!(!validation.modified_after_signing);
    }
    // The verify endpoint answers this as JSON.
    serde_json::to_vec(&validation).expect("the validation serializes");
}

/// A PDF a caller uploads for a contract, read the way initiation reads it: inspected, searched
/// for anchor text and given its signature fields. Any input is a value or a typed refusal (a
/// panic of the parser inside is caught and is a refusal too); an accepted document describes each
/// of its pages, and its first revision starts with the upload, comes out the same twice and
/// reads back as a document with as many pages.
pub fn uploaded_pdf(data: &[u8]) {
    use esign::documents::uploaded::{INVISIBLE, Placement, find_anchor, inspect, prepare};
    let limits = esign::documents::uploaded::UploadLimits::default();
    let Ok(pdf) = inspect(data, &limits) else {
        return;
    };
    assert!(pdf.page_count >= 1);
    assert_eq!(pdf.pages.len(), pdf.page_count as usize);
    let hits = find_anchor(data, &limits, "甲方").expect("an accepted upload is searched");
    assert!(
        hits.iter()
            .all(|hit| hit.page >= 1 && hit.page <= pdf.page_count)
    );
    let [x1, y1, _, _] = pdf.pages[0].rect;
    let placements = [
        Placement {
            field: "Signer_A".into(),
            page: 1,
            rect: [x1, y1, x1 + 20.0, y1 + 20.0],
        },
        Placement {
            field: "PlatformSeal".into(),
            page: 1,
            rect: INVISIBLE,
        },
    ];
    let Ok(first) = prepare(data, &placements) else {
        return;
    };
    assert!(
        first.bytes.starts_with(data),
        "the upload is kept as it was"
    );
    let again = prepare(data, &placements).expect("the same upload prepares again");
    assert_eq!(again, first, "the first revision is deterministic");
    let reread = inspect(
        &first.bytes,
        &esign::documents::uploaded::UploadLimits::UNBOUNDED,
    )
    .expect("the first revision reads back");
    assert_eq!(reread.page_count, pdf.page_count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_independent_check_character_matches_published_numbers() {
        assert_eq!(id_check_character(b"11010519491231002"), b'X');
        assert_eq!(id_check_character(b"44030419900101001"), b'1');
    }

    #[test]
    fn a_correctly_signed_request_passes_once_and_a_forged_one_never() {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        request_signature(&signed_request(
            "POST",
            "/api/v1/contract/initiate?b=2&a=1",
            &nonce,
            br#"{"bizId":"B1"}"#,
        ));
        assert!(
            signing_fixture()
                .used_nonces
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&nonce)
        );
        // The replay is refused (a 401, checked inside).
        request_signature(&signed_request(
            "POST",
            "/api/v1/contract/initiate?b=2&a=1",
            &nonce,
            br#"{"bizId":"B1"}"#,
        ));
    }

    #[test]
    fn a_grant_from_the_fixture_tsa_is_accepted_by_the_client_parser() {
        let digest: [u8; 32] = Sha256::digest(TSA_DATA).into();
        let request = tsa::request_der(&digest, TSA_NONCE).expect("a request");
        timestamp_request(&request);
        let (response, outcome) = fixture_tsa().respond(&request, now());
        assert!(matches!(outcome, tsa::Outcome::Granted { .. }));
        let anchors = [fixture_ca().root().clone()];
        tsa::accept_response("fuzz", &response, &digest, TSA_NONCE, &anchors, &[])
            .expect("accepted");
        timestamp_response(&response);
    }

    /// One change to a signed request, as an attacker or a broken proxy might make it.
    #[derive(Debug, Clone)]
    enum Mutation {
        Method,
        Path(String),
        Query(String),
        Body(Vec<u8>),
        Timestamp(i64),
        Nonce(usize),
        Signature(usize),
        ClientId(String),
        Drop(&'static str),
    }

    fn mutations() -> impl proptest::strategy::Strategy<Value = Mutation> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Mutation::Method),
            "[a-z0-9/]{1,8}".prop_map(Mutation::Path),
            "[a-z]{1,4}=[a-z0-9%+]{0,6}".prop_map(Mutation::Query),
            proptest::collection::vec(any::<u8>(), 1..8).prop_map(Mutation::Body),
            (-200i64..=200)
                .prop_filter("a change", |delta| *delta != 0)
                .prop_map(Mutation::Timestamp),
            (0usize..32).prop_map(Mutation::Nonce),
            (0usize..64).prop_map(Mutation::Signature),
            "[a-z]{1,12}".prop_map(Mutation::ClientId),
            proptest::sample::select(vec![
                auth::HEADER_CLIENT_ID,
                auth::HEADER_TIMESTAMP,
                auth::HEADER_NONCE,
                auth::HEADER_SIGNATURE,
            ])
            .prop_map(Mutation::Drop),
        ]
    }

    fn swap_character(text: &str, index: usize, alphabet: &[u8]) -> String {
        let mut bytes = text.as_bytes().to_vec();
        let index = index % bytes.len();
        let position = alphabet
            .iter()
            .position(|&b| b == bytes[index])
            .unwrap_or(0);
        bytes[index] = alphabet[(position + 1) % alphabet.len()];
        String::from_utf8(bytes).expect("ASCII")
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(96))]

        /// Any single change to a correctly signed request is refused with a 401, and the refusal
        /// writes nothing: the untouched request passes afterwards.
        #[test]
        fn any_mutation_of_a_signed_header_set_is_refused(mutation in mutations()) {
            let fixture = signing_fixture();
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let mut method = Method::POST;
            let mut uri = String::from("/api/v1/contract/initiate?a=1");
            let mut body = br#"{"bizId":"B1"}"#.to_vec();
            let parsed: Uri = uri.parse().expect("a URI");
            let timestamp = SIGNING_NOW_UNIX.to_string();
            let signature = auth::sign(
                CLIENT_SECRET.as_bytes(),
                &auth::canonical_request("POST", parsed.path(), parsed.query(), &timestamp, &nonce, &body),
            );
            let mut headers: Vec<(&'static str, String)> = vec![
                (auth::HEADER_CLIENT_ID, CLIENT_ID.to_owned()),
                (auth::HEADER_TIMESTAMP, timestamp.clone()),
                (auth::HEADER_NONCE, nonce.clone()),
                (auth::HEADER_SIGNATURE, signature.clone()),
            ];
            let original = headers.clone();
            let set = |headers: &mut Vec<(&'static str, String)>, name: &str, value: String| {
                for header in headers.iter_mut().filter(|(n, _)| *n == name) {
                    header.1 = value.clone();
                }
            };
            match &mutation {
                Mutation::Method => method = Method::PUT,
                Mutation::Path(extra) => uri = format!("/api/v1/contract/initiate{extra}?a=1"),
                Mutation::Query(pair) => uri = format!("{uri}&{pair}"),
                Mutation::Body(extra) => body.extend_from_slice(extra),
                Mutation::Timestamp(delta) => {
                    set(&mut headers, auth::HEADER_TIMESTAMP, (SIGNING_NOW_UNIX + delta).to_string())
                }
                Mutation::Nonce(index) => set(
                    &mut headers,
                    auth::HEADER_NONCE,
                    swap_character(&nonce, *index, b"0123456789abcdef"),
                ),
                Mutation::Signature(index) => set(
                    &mut headers,
                    auth::HEADER_SIGNATURE,
                    swap_character(&signature, *index, b"0123456789abcdef"),
                ),
                Mutation::ClientId(id) => {
                    proptest::prop_assume!(id != CLIENT_ID);
                    set(&mut headers, auth::HEADER_CLIENT_ID, id.clone())
                }
                Mutation::Drop(name) => headers.retain(|(n, _)| n != name),
            }
            let to_map = |pairs: &[(&'static str, String)]| {
                let mut map = HeaderMap::new();
                for (name, value) in pairs {
                    map.insert(
                        HeaderName::from_static(name),
                        HeaderValue::from_str(value).expect("a header value"),
                    );
                }
                map
            };
            let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
            let mutated_uri: Uri = uri.parse().expect("a URI");
            let refused = fixture.runtime.block_on(fixture.authenticator.authenticate(
                &method, &mutated_uri, &to_map(&headers), peer, &body, signing_now(),
            ));
            let rejection = refused.expect_err("a mutated request passed");
            proptest::prop_assert!(!rejection.is_internal(), "{rejection}");
            proptest::prop_assert_eq!(rejection.into_response().status(), StatusCode::UNAUTHORIZED);
            let passed = fixture.runtime.block_on(fixture.authenticator.authenticate(
                &Method::POST, &parsed, &to_map(&original), peer, br#"{"bizId":"B1"}"#, signing_now(),
            ));
            proptest::prop_assert!(passed.is_ok(), "{:?}", passed.err());
        }
    }
}
