//! The OpenAPI 3.1 document (`GET /openapi.json`) and its reference page (`GET /docs`), both
//! unauthenticated and outside the signed `/api/v1` nest.
//!
//! The document is generated from the code: [`ApiDoc`] lists the handlers, whose `#[utoipa::path]`
//! annotations give paths, parameters, bodies and responses; [`schemas`] holds the JSON shapes;
//! [`SignedApi`] adds what the signing middleware does to every `/api/v1` operation (the four signing
//! headers as security schemes, 401, 413, 500 and 503). `docs/openapi.json` is the committed copy:
//! `tests/integration/openapi.rs` fails when it drifts from the code, and
//! `ESIGN_WRITE_OPENAPI=1 cargo test --test integration openapi` rewrites it. The same tests check that
//! every route registered under `/api/v1` is documented.
//!
//! The reference page is one self-contained HTML file (no CDN, no external URL): it fetches
//! `/openapi.json` and renders operations, schemas and error codes.

pub mod schemas;

use std::sync::LazyLock;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Value, json};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

use super::AppState;
use super::api;
use super::error::codes;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/openapi.json";
/// Where the reference page is served.
pub const REFERENCE_PATH: &str = "/docs";
/// Every operation under this prefix is signed.
pub const API_PREFIX: &str = "/api/v1";

/// The security schemes of request signing: one per header, all four required together.
pub const SIGNING_HEADERS: [(&str, &str); 4] = [
    (
        "X-Client-Id",
        "The client id, as configured or created with `esign clients add`.",
    ),
    (
        "X-Timestamp",
        "Unix time in seconds, digits only; within ±300 s of the server's clock.",
    ),
    (
        "X-Nonce",
        "16-64 characters of `[A-Za-z0-9_-]`, fresh for every request (single use per client).",
    ),
    (
        "X-Signature",
        "Lowercase hex of HMAC-SHA256(secret, canonical request), 64 characters. The canonical request \
         is `METHOD \\n PATH \\n CANONICAL_QUERY \\n X-Timestamp \\n X-Nonce \\n hex(SHA-256(body))`; \
         see docs/request-signing.md for the exact rules and a test vector.",
    ),
];

const DESCRIPTION: &str = "\
The signed REST API of the esign platform: face verification, contracts and their templates, and \
the audit trail of each (spec section 2.1).

**Request signing.** Every `/api/v1` request carries four headers: `X-Client-Id`, `X-Timestamp` \
(Unix seconds, within ±300 s), `X-Nonce` (single use) and `X-Signature`, the lowercase hex \
HMAC-SHA256 with the client's secret of the canonical request \
`METHOD\\nPATH\\nCANONICAL_QUERY\\nX-Timestamp\\nX-Nonce\\nhex(SHA-256(body))`. Any failure answers \
401 with code 40101 and the same body whatever the reason; bodies over 1 MiB answer 413 / 41300. \
docs/request-signing.md has the exact rules and a test vector.

**Ownership.** A verification or contract belongs to the client that created it; every other client \
gets 404 / 40400 for it. Templates are shared; only administrator clients publish them.

**Errors.** One body everywhere: `{\"code\": 40001, \"message\": \"...\", \"details\": [{\"field\": \
\"signers[0].idCardNo\", \"reason\": \"...\"}]}`; `details` comes with 40001 (every invalid field at \
once), `existing` with 40002. The error responses below list each code.

**Conventions.** JSON bodies need `Content-Type: application/json` (else 415 / 41500). Field names \
are camelCase; times are RFC 3339 in UTC. Every response carries `X-Request-Id` (the caller's, or a \
new UUID); it is logged with the request and stored as the events' correlation id.";

/// The whole document: every routed operation, in the order of the routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "esign API", description = DESCRIPTION),
    paths(
        api::verifications::initiate,
        api::verifications::show,
        api::verifications::events,
        api::verifications::reissue_verification_url,
        api::contracts::initiate,
        api::contracts::show,
        api::contracts::revoke,
        api::contracts::verify,
        api::contracts::reissue_sign_url,
        api::contracts::events,
        api::templates::publish,
        api::templates::current,
        api::templates::version,
        api::templates::activate,
        api::templates::deactivate,
        api::admin::list,
        api::admin::show,
        api::admin::redeliver,
        api::admin::force_contract,
        api::archives::list,
        api::archives::retry,
        api::seals::register_organization,
        api::seals::organization,
        api::seals::create_seal,
        api::seals::seal,
        api::seals::image,
        api::seals::add_version,
        api::seals::activate,
        api::seals::deactivate,
        api::seals::events,
        api::notifications::publish_template,
        api::notifications::current_template,
        api::notifications::template_version,
        api::notifications::activate_template,
        api::notifications::deactivate_template,
        api::notifications::send_notice,
        api::notifications::show_notice,
        api::notifications::notice_events,
        super::provider_callbacks::face_result,
        super::face_pages::start_page,
        super::face_pages::returned,
        super::face_pages::send_code,
        super::face_pages::verify_code,
        healthz,
        readyz,
    ),
    components(
        schemas(schemas::ErrorBody),
        responses(
        ValidationFailed,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        DuplicateOrConflict,
        SignedOrConflict,
        LinkExpired,
        PayloadTooLarge,
        UnsupportedMediaType,
        TemplateUnavailable,
        IdentityFailed,
        InternalError,
        Unavailable,
        ProviderUnavailable,
    )),
    modifiers(&SignedApi),
    tags(
        (name = TAG_VERIFICATION, description = "Face verification (spec 2.1.1): start one, read its result and its audit trail."),
        (name = TAG_CONTRACT, description = "Contracts (spec 2.1.2): initiate, read, revoke, verify, re-issue a sign link, and the audit trail."),
        (name = TAG_TEMPLATE, description = "Contract templates (spec 2.1.3): publish versions (administrators), read them."),
        (name = TAG_ADMIN, description = "Operators (administrator clients): the callback outbox, its attempts and redelivery of dead letters; contracts' archive records and the retry of failed ones; organisations and their company seals (docs/seals.md)."),
        (name = TAG_NOTIFICATION, description = "Payment-verification notices (spec 1.2 item 3): SMS templates (administrators publish and activate versions) and notices sent to a person's phone, with their delivery state and audit trail."),
        (name = TAG_PROVIDER, description = "Face providers' signed results (protocol v1, docs/face-providers.md); signed with the provider's shared secret, not a client's."),
        (name = TAG_PERSON, description = "The person's side of a face verification, keyed by the page token of `verificationUrl`: the verification page, the return from the provider's page and the degraded SMS check."),
        (name = TAG_HEALTH, description = "Liveness and readiness for load balancers; not signed."),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

pub const TAG_VERIFICATION: &str = "Face verification";
pub const TAG_CONTRACT: &str = "Contracts";
pub const TAG_TEMPLATE: &str = "Templates";
pub const TAG_HEALTH: &str = "Health";
pub const TAG_ADMIN: &str = "Administration";
pub const TAG_NOTIFICATION: &str = "Notifications";
pub const TAG_PROVIDER: &str = "Face providers";
pub const TAG_PERSON: &str = "Face verification pages";

/// The document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as the committed `docs/openapi.json` holds it: pretty JSON and a final newline.
pub fn document_json() -> Result<String, serde_json::Error> {
    let mut json = serde_json::to_string_pretty(&document())?;
    json.push('\n');
    Ok(json)
}

// ---------------------------------------------------------------------------------------------------
// What request signing adds to every /api/v1 operation

/// Adds the signing security schemes and the middleware's responses to every `/api/v1` operation.
#[derive(Debug)]
pub struct SignedApi;

impl Modify for SignedApi {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut requirement = SecurityRequirement::default();
        for (header, description) in SIGNING_HEADERS {
            components.add_security_scheme(
                header,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    header,
                    description,
                ))),
            );
            requirement = requirement.add(header, Vec::<String>::new());
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with(API_PREFIX) {
                continue;
            }
            for (method, operation) in operations_mut(item) {
                operation.security = Some(vec![requirement.clone()]);
                add_response::<Unauthorized>(operation, StatusCode::UNAUTHORIZED);
                if method == HttpMethod::Post {
                    add_response::<PayloadTooLarge>(operation, StatusCode::PAYLOAD_TOO_LARGE);
                }
                add_response::<InternalError>(operation, StatusCode::INTERNAL_SERVER_ERROR);
                add_response::<Unavailable>(operation, StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    }
}

fn operations_mut(item: &mut PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|operation| (method, operation)))
    .collect()
}

fn add_response<'r, R: ToResponse<'r>>(operation: &mut Operation, status: StatusCode) {
    operation
        .responses
        .responses
        .entry(status.as_u16().to_string())
        .or_insert_with(|| Ref::from_response_name(R::response().0).into());
}

// ---------------------------------------------------------------------------------------------------
// Error responses: one component per status and set of codes, each with an example per code

/// One code an error response may carry, with the body the service sends for it.
#[derive(Debug, Clone, Copy)]
pub struct ErrorExample {
    pub code: u32,
    pub message: &'static str,
    /// When the code is used.
    pub summary: &'static str,
}

impl ErrorExample {
    /// The body the service answers with for this code.
    pub fn body(&self) -> Value {
        let mut body = json!({"code": self.code, "message": self.message});
        if self.code == codes::VALIDATION {
            body["details"] = json!([
                {"field": "signers[0].idCardNo", "reason": "check digit does not match"},
                {"field": "variables.payerName", "reason": "is required"}
            ]);
        }
        if self.code == codes::PROVIDER_TIMEOUT {
            body["verificationId"] = json!("FACE_VERIFY_20231027A1B2C3D4E5F60718");
        }
        if self.code == codes::DUPLICATE {
            body["existing"] = json!({
                "contractId": "CONTRACT_202310273F2A9C01B7D4E865",
                "bizId": "REL_202310270001",
                "bizType": "RELATIONSHIP_AGREEMENT",
                "templateId": "TEMPLATE_COLLECTION_V1",
                "templateVersion": "1.0",
                "documents": null,
                "title": "天财分账资金归集授权协议",
                "status": "CREATED",
                "signers": [],
                "documentUrl": null,
                "documentHash": null,
                "archiveInfo": null,
                "archives": [],
                "createdAt": "2023-10-27T10:00:00Z",
                "expiresAt": "2023-11-03T10:00:00Z",
                "signedAt": null,
                "revokedAt": null,
                "revokeReason": null
            });
        }
        body
    }
}

const E_VALIDATION: ErrorExample = ErrorExample {
    code: codes::VALIDATION,
    message: "参数校验失败",
    summary: "A field is missing or invalid, or the body is not JSON of the right shape; `details` names every bad field. Nothing was written.",
};
const E_DUPLICATE: ErrorExample = ErrorExample {
    code: codes::DUPLICATE,
    message: "已存在相同业务ID的流程",
    summary: "This client already used this `bizId` + `bizType`; `existing` is that resource.",
};
const E_TEMPLATE_UNAVAILABLE: ErrorExample = ErrorExample {
    code: codes::TEMPLATE_UNAVAILABLE,
    message: "协议模板不可用",
    summary: "The template (or the pinned version) does not exist or is not active.",
};
const E_LINK_EXPIRED: ErrorExample = ErrorExample {
    code: codes::LINK_EXPIRED,
    message: "签署链接已过期，请重新获取",
    summary: "A sign link has expired; get a new one with `POST /api/v1/contract/{contractId}/signers/{partyId}/sign-url`.",
};
const E_LINK_USED: ErrorExample = ErrorExample {
    code: codes::LINK_USED,
    message: "您已签署过该协议",
    summary: "The signer has already signed (or rejected).",
};
const E_IDENTITY_FAILED: ErrorExample = ErrorExample {
    code: codes::IDENTITY_FAILED,
    message: "人脸核验未通过",
    summary: "The signer's identity check did not pass.",
};
const E_UNAUTHORIZED: ErrorExample = ErrorExample {
    code: codes::UNAUTHORIZED,
    message: "请求签名错误",
    summary: "The request signature is missing or wrong: a missing or repeated header, a timestamp outside ±300 s, an unknown client, an address outside the client's allow-list, a bad signature or a reused nonce. The body is the same whatever the reason.",
};
const E_FORBIDDEN: ErrorExample = ErrorExample {
    code: codes::FORBIDDEN,
    message: "无权限执行该操作",
    summary: "The client may not do this (templates are published by administrator clients only).",
};
const E_NOT_FOUND: ErrorExample = ErrorExample {
    code: codes::NOT_FOUND,
    message: "资源不存在",
    summary: "No such resource for this client (another client's resource does not exist for you).",
};
const E_CONFLICT: ErrorExample = ErrorExample {
    code: codes::CONFLICT,
    message: "当前状态不允许该操作",
    summary: "The resource's state does not allow this (e.g. revoking a SIGNED contract, publishing an existing version with other content), or a concurrent write won; re-read and retry if still wanted.",
};
const E_PAYLOAD_TOO_LARGE: ErrorExample = ErrorExample {
    code: codes::PAYLOAD_TOO_LARGE,
    message: "请求体过大",
    summary: "The body is over 1 MiB (checked before the signature).",
};
const E_UNSUPPORTED_MEDIA_TYPE: ErrorExample = ErrorExample {
    code: codes::UNSUPPORTED_MEDIA_TYPE,
    message: "请求体必须是 application/json",
    summary: "The body is not sent as `Content-Type: application/json`.",
};
const E_INTERNAL: ErrorExample = ErrorExample {
    code: codes::INTERNAL,
    message: "系统内部错误",
    summary: "An unexpected failure; the cause is logged with the request id, never sent.",
};
const E_UNAVAILABLE: ErrorExample = ErrorExample {
    code: codes::UNAVAILABLE,
    message: "系统繁忙，请稍后重试",
    summary: "The database is unavailable; retry after `Retry-After` seconds.",
};

const E_PROVIDER_TIMEOUT: ErrorExample = ErrorExample {
    code: codes::PROVIDER_TIMEOUT,
    message: "系统繁忙，请稍后重试",
    summary: "No face provider answered (timeout, connection failure or 5xx from each). The verification was created (`verificationId`) and its provider task is retried in the background, at most 3 times with backoff; poll it with GET.",
};

/// Every error example the document shows, for tests that compare them with the service's answers.
pub const ERROR_EXAMPLES: &[ErrorExample] = &[
    E_VALIDATION,
    E_DUPLICATE,
    E_TEMPLATE_UNAVAILABLE,
    E_LINK_EXPIRED,
    E_LINK_USED,
    E_IDENTITY_FAILED,
    E_UNAUTHORIZED,
    E_FORBIDDEN,
    E_NOT_FOUND,
    E_CONFLICT,
    E_PAYLOAD_TOO_LARGE,
    E_UNSUPPORTED_MEDIA_TYPE,
    E_INTERNAL,
    E_UNAVAILABLE,
    E_PROVIDER_TIMEOUT,
];

fn error_response(
    status: StatusCode,
    description: &str,
    examples: &[ErrorExample],
) -> ResponseBuilder {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schemas::ErrorBody::name())))
        .examples_from_iter(examples.iter().map(|example| {
            (
                example.code.to_string(),
                ExampleBuilder::new()
                    .summary(example.summary)
                    .value(Some(example.body())),
            )
        }))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .extensions(Some(
            ExtensionsBuilder::new()
                .add("x-status", status.as_u16())
                .build(),
        ));
    if examples
        .iter()
        .any(|example| example.code == codes::UNAVAILABLE)
    {
        response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .description(Some("Seconds to wait before retrying."))
                .example(Some(json!(5)))
                .build(),
        )
    } else {
        response
    }
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident: $status:ident, $description:literal, [$($example:expr),+ $(,)?];)+) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl $name {
            /// The status this response is sent with (also in the document, as `x-status`).
            pub const STATUS: StatusCode = StatusCode::$status;
            /// The codes this response carries.
            pub const EXAMPLES: &'static [ErrorExample] = &[$($example),+];
        }

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                let response = error_response(Self::STATUS, $description, Self::EXAMPLES).build();
                (stringify!($name), response.into())
            }
        }
    )+};
}

error_responses! {
    ValidationFailed: BAD_REQUEST,
        "40001: invalid request; `details` names every bad field.", [E_VALIDATION];
    Unauthorized: UNAUTHORIZED,
        "40101: the request signature is missing or wrong.", [E_UNAUTHORIZED];
    Forbidden: FORBIDDEN, "40300: not allowed for this client.", [E_FORBIDDEN];
    NotFound: NOT_FOUND, "40400: no such resource for this client.", [E_NOT_FOUND];
    Conflict: CONFLICT, "40900: the resource's state does not allow this.", [E_CONFLICT];
    /// The 409 of an initiation.
    DuplicateOrConflict: CONFLICT,
        "40002: the `bizId` + `bizType` exists (the body includes it as `existing`); 40900: a \
         concurrent write won.",
        [E_DUPLICATE, E_CONFLICT];
    /// The 409 of a sign-link re-issue.
    SignedOrConflict: CONFLICT,
        "40005: the signer has already signed or rejected; 40900: the contract no longer collects \
         signatures (signed, rejected, revoked, expired, or past its deadline).",
        [E_LINK_USED, E_CONFLICT];
    /// Answered by the signing pages (not yet routed) when a link has expired.
    LinkExpired: GONE, "40004: the sign link has expired; get a new one.", [E_LINK_EXPIRED];
    PayloadTooLarge: PAYLOAD_TOO_LARGE, "41300: the body is over 1 MiB.", [E_PAYLOAD_TOO_LARGE];
    UnsupportedMediaType: UNSUPPORTED_MEDIA_TYPE,
        "41500: the body must be sent as `application/json`.", [E_UNSUPPORTED_MEDIA_TYPE];
    TemplateUnavailable: UNPROCESSABLE_ENTITY,
        "40003: the template does not exist or is not active.", [E_TEMPLATE_UNAVAILABLE];
    /// Answered by the signing flow (not yet routed) when an identity check fails.
    IdentityFailed: UNPROCESSABLE_ENTITY,
        "40006: the identity check did not pass.", [E_IDENTITY_FAILED];
    InternalError: INTERNAL_SERVER_ERROR,
        "50000: an unexpected failure (logged with the request id).", [E_INTERNAL];
    Unavailable: SERVICE_UNAVAILABLE,
        "50300: the database is unavailable; retry after `Retry-After` seconds. A request still \
         running after 30 s is also answered 503, with an empty body.",
        [E_UNAVAILABLE];
    /// The 503 of a face verification initiation.
    ProviderUnavailable: SERVICE_UNAVAILABLE,
        "50001: no face provider answered; the verification exists (`verificationId`) and its task \
         is retried in the background. 50300: the database is unavailable.",
        [E_PROVIDER_TIMEOUT, E_UNAVAILABLE];
}

// ---------------------------------------------------------------------------------------------------
// Health (served by `super::health`; described here)

/// Liveness
///
/// Answers while the process runs.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = TAG_HEALTH,
    operation_id = "healthz",
    responses((status = 200, description = "The process runs.", body = schemas::Health,
        example = json!({"status": "ok"})))
)]
#[allow(
    dead_code,
    reason = "describes `health::healthz`, which the health router serves"
)]
fn healthz() {}

/// Readiness
///
/// Answers 200 while the database answers too, 503 otherwise (load balancers stop sending traffic).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = TAG_HEALTH,
    operation_id = "readyz",
    responses(
        (status = 200, description = "The database answers.", body = schemas::Readiness,
            example = json!({"status": "ready", "database": "postgres"})),
        (status = 503, description = "The database does not answer.", body = schemas::Readiness,
            example = json!({"status": "unavailable", "database": "postgres"})),
    )
)]
#[allow(
    dead_code,
    reason = "describes `health::readyz`, which the health router serves"
)]
fn readyz() {}

// ---------------------------------------------------------------------------------------------------
// Serving

/// `/openapi.json` and `/docs`, where the configuration serves them (`server.api_docs`; by default
/// in development only).
pub(super) fn router(state: &AppState) -> Router<AppState> {
    if !state.config.server.serves_api_docs() {
        return Router::new();
    }
    Router::new()
        .route(DOCUMENT_PATH, get(serve_document))
        .route(REFERENCE_PATH, get(serve_reference))
}

static DOCUMENT: LazyLock<Result<Bytes, String>> = LazyLock::new(|| {
    document_json()
        .map(Bytes::from)
        .map_err(|error| error.to_string())
});

async fn serve_document() -> Response {
    match &*DOCUMENT {
        Ok(json) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            json.clone(),
        )
            .into_response(),
        Err(error) => crate::app::error::AppError::Internal(format!("OpenAPI document: {error}"))
            .into_response(),
    }
}

/// The reference page: one file, no external resources (the policy forbids loading any).
pub const REFERENCE_PAGE: &str = include_str!("openapi/reference.html");

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

async fn serve_reference() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        REFERENCE_PAGE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::marker::PhantomData;

    use aggregates::ValidationErrors;
    use aggregates::values::{self, Text};

    use super::*;
    use crate::app::error::AppError;
    use crate::http::auth::AuthRejection;
    use crate::http::error::ApiError;

    fn document_value() -> Value {
        serde_json::to_value(document()).unwrap()
    }

    /// Every variant, so that a new one fails to compile here until it is documented.
    fn every_api_error() -> Vec<ApiError> {
        let all = vec![
            AppError::Validation(ValidationErrors::single("bizId", "is required")),
            AppError::Duplicate {
                existing: json!({}),
            },
            AppError::TemplateUnavailable,
            AppError::LinkExpired,
            AppError::LinkUsed,
            AppError::IdentityFailed,
            AppError::NotFound,
            AppError::Forbidden,
            AppError::Conflict("state".into()),
            AppError::Unavailable("down".into()),
            AppError::Internal("bug".into()),
            AppError::ProviderUnavailable {
                verification_id: "FACE_VERIFY_20231027A1B2C3D4E5F60718".into(),
            },
        ];
        for error in &all {
            match error {
                AppError::Validation(_)
                | AppError::Duplicate { .. }
                | AppError::TemplateUnavailable
                | AppError::LinkExpired
                | AppError::LinkUsed
                | AppError::IdentityFailed
                | AppError::NotFound
                | AppError::Forbidden
                | AppError::Conflict(_)
                | AppError::Unavailable(_)
                | AppError::ProviderUnavailable { .. }
                | AppError::Internal(_) => {}
            }
        }
        let mut all: Vec<ApiError> = all.into_iter().map(ApiError::App).collect();
        all.push(ApiError::UnsupportedMediaType);
        for error in &all {
            match error {
                ApiError::App(_) | ApiError::UnsupportedMediaType => {}
            }
        }
        all
    }

    async fn answer(response: Response) -> (StatusCode, Value) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// The documented examples are what the service answers: same message, and every response
    /// component that carries a code has the status the service sends it with.
    #[tokio::test]
    async fn error_examples_are_the_service_answers() {
        let document = document_value();
        let components = document["components"]["responses"].as_object().unwrap();
        let mut responses: Vec<Response> = every_api_error()
            .into_iter()
            .map(IntoResponse::into_response)
            .collect();
        responses.push(AuthRejection::MissingHeader("X-Nonce").into_response());
        let mut seen = BTreeSet::new();
        for response in responses {
            let (status, body) = answer(response).await;
            let code = u32::try_from(body["code"].as_u64().unwrap()).unwrap();
            seen.insert(code);
            let example = ERROR_EXAMPLES
                .iter()
                .find(|example| example.code == code)
                .unwrap_or_else(|| panic!("code {code} has no documented example"));
            assert_eq!(body["message"], example.message, "{code}");
            let carriers: Vec<_> = components
                .iter()
                .filter(|(_, response)| {
                    response["content"]["application/json"]["examples"]
                        .get(code.to_string())
                        .is_some()
                })
                .collect();
            assert!(!carriers.is_empty(), "no response documents {code}");
            for (name, response) in carriers {
                assert_eq!(
                    response["x-status"],
                    status.as_u16(),
                    "{name} carries {code}"
                );
            }
        }
        // 41300 comes from the signing middleware (checked against the service in the
        // integration tests); every other documented code is one the service answers.
        for example in ERROR_EXAMPLES {
            assert!(
                seen.contains(&example.code) || example.code == codes::PAYLOAD_TOO_LARGE,
                "{} is documented but never answered",
                example.code
            );
        }
    }

    /// An operation's reference to an error response sits under that response's status.
    #[test]
    fn error_responses_sit_under_their_status() {
        let document = document_value();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let Some(reference) = response["$ref"].as_str() else {
                        continue;
                    };
                    let target = document
                        .pointer(reference.trim_start_matches('#'))
                        .unwrap_or_else(|| panic!("{reference}"));
                    assert_eq!(
                        target["x-status"].to_string(),
                        *status,
                        "{method} {path}: {reference}"
                    );
                }
            }
        }
    }

    fn properties(document: &Value, schema: &str) -> BTreeSet<String> {
        document["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .keys()
            .cloned()
            .collect()
    }

    fn fields(value: impl serde::Serialize) -> BTreeSet<String> {
        serde_json::to_value(value)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// The request schemas name exactly the fields the domain's request structs read.
    #[test]
    fn request_schemas_name_the_domain_fields() {
        use aggregates::contract::{
            ArchiveConfigRequest, ContractRequest, DocumentRequest, OrganizationRequest,
            PlaceRequest, SignerRequest,
        };
        use aggregates::face_verification::{
            UiConfigRequest, UserInfoRequest, VerificationRequest,
        };
        use aggregates::template::{
            SignerConfigRequest, TemplateRequest, VariableDefinitionRequest,
        };

        let document = document_value();
        let cases = [
            (
                "FaceVerificationRequest",
                fields(VerificationRequest::default()),
            ),
            (
                "FaceVerificationUserRequest",
                fields(UserInfoRequest::default()),
            ),
            ("UiConfigRequest", fields(UiConfigRequest::default())),
            (
                "WebhookConfig",
                fields(values::WebhookConfigRequest::default()),
            ),
            ("ContractRequest", fields(ContractRequest::default())),
            ("SignerRequest", fields(SignerRequest::default())),
            (
                "SignerOrganizationRequest",
                fields(OrganizationRequest::default()),
            ),
            ("DocumentRequest", fields(DocumentRequest::default())),
            ("PlaceRequest", fields(PlaceRequest::default())),
            (
                "ArchiveConfigRequest",
                fields(ArchiveConfigRequest::default()),
            ),
            ("TemplateRequest", fields(TemplateRequest::default())),
            (
                "VariableDefinitionRequest",
                fields(VariableDefinitionRequest::default()),
            ),
            (
                "SignerConfigRequest",
                fields(SignerConfigRequest::default()),
            ),
        ];
        for (schema, fields) in cases {
            assert_eq!(properties(&document, schema), fields, "{schema}");
        }
        let notices = [
            (
                "SmsTemplateRequest",
                fields(aggregates::sms_template::SmsTemplateRequest::default()),
            ),
            (
                "SmsVariableRequest",
                fields(aggregates::sms_template::SmsVariableRequest::default()),
            ),
            (
                "SmsNoticeRequest",
                fields(aggregates::sms_notice::NoticeRequest::default()),
            ),
        ];
        for (schema, fields) in notices {
            assert_eq!(properties(&document, schema), fields, "{schema}");
        }
    }

    fn max_chars<const N: usize>(_: PhantomData<Text<N>>) -> usize {
        N
    }

    /// Limits written as literals in `schemas` are the domain's.
    #[test]
    fn documented_limits_are_the_domain_limits() {
        use aggregates::values::{
            BizId, Category, ExpireDays, ExpireMinutes, PartyId, TemplateId, TemplateVersion,
        };
        let document = document_value();
        let property = |schema: &str, field: &str| {
            document["components"]["schemas"][schema]["properties"][field].clone()
        };
        let cases: Vec<(&str, &str, &str, u64)> = vec![
            (
                "FaceVerificationRequest",
                "expireMinutes",
                "minimum",
                ExpireMinutes::MIN.into(),
            ),
            (
                "FaceVerificationRequest",
                "expireMinutes",
                "maximum",
                ExpireMinutes::MAX.into(),
            ),
            (
                "FaceVerificationRequest",
                "expireMinutes",
                "default",
                ExpireMinutes::DEFAULT.into(),
            ),
            (
                "ContractRequest",
                "expireDays",
                "minimum",
                ExpireDays::MIN.into(),
            ),
            (
                "ContractRequest",
                "expireDays",
                "maximum",
                ExpireDays::MAX.into(),
            ),
            (
                "ContractRequest",
                "expireDays",
                "default",
                ExpireDays::DEFAULT.into(),
            ),
            (
                "SignerRequest",
                "sequence",
                "maximum",
                aggregates::contract::MAX_SEQUENCE.into(),
            ),
            (
                "SignerConfigRequest",
                "maxSigners",
                "maximum",
                aggregates::template::SignerConfig::MAX_SIGNERS.into(),
            ),
            (
                "SignerConfigRequest",
                "maxSigners",
                "default",
                aggregates::template::SignerConfig::MAX_SIGNERS.into(),
            ),
            (
                "SignerConfigRequest",
                "minSigners",
                "maximum",
                aggregates::template::SignerConfig::MAX_SIGNERS.into(),
            ),
            (
                "TemplateRequest",
                "variableDefinitions",
                "maxItems",
                aggregates::template::MAX_VARIABLES as u64,
            ),
            (
                "VariableDefinitionRequest",
                "key",
                "maxLength",
                aggregates::template::MAX_KEY_LEN as u64,
            ),
            (
                "FaceVerificationRequest",
                "bizId",
                "maxLength",
                BizId::MAX_LEN as u64,
            ),
            (
                "ContractRequest",
                "bizId",
                "maxLength",
                BizId::MAX_LEN as u64,
            ),
            (
                "ContractRequest",
                "templateId",
                "maxLength",
                TemplateId::MAX_LEN as u64,
            ),
            (
                "ContractRequest",
                "templateVersion",
                "maxLength",
                TemplateVersion::MAX_LEN as u64,
            ),
            (
                "TemplateRequest",
                "templateId",
                "maxLength",
                TemplateId::MAX_LEN as u64,
            ),
            (
                "TemplateRequest",
                "version",
                "maxLength",
                TemplateVersion::MAX_LEN as u64,
            ),
            (
                "TemplateRequest",
                "category",
                "maxLength",
                Category::MAX_LEN as u64,
            ),
            (
                "SignerRequest",
                "partyId",
                "maxLength",
                PartyId::MAX_LEN as u64,
            ),
            (
                "FaceVerificationRequest",
                "callbackUrl",
                "maxLength",
                values::MAX_URL_LEN as u64,
            ),
            (
                "ContractRequest",
                "callbackUrl",
                "maxLength",
                values::MAX_URL_LEN as u64,
            ),
            (
                "UiConfigRequest",
                "logoUrl",
                "maxLength",
                values::MAX_URL_LEN as u64,
            ),
            (
                "ContractRequest",
                "title",
                "maxLength",
                max_chars(PhantomData::<values::Title>) as u64,
            ),
            (
                "SignerRequest",
                "name",
                "maxLength",
                values::PersonName::MAX_CHARS as u64,
            ),
            (
                "FaceVerificationUserRequest",
                "name",
                "maxLength",
                values::PersonName::MAX_CHARS as u64,
            ),
            (
                "UiConfigRequest",
                "title",
                "maxLength",
                max_chars(PhantomData::<values::PageTitle>) as u64,
            ),
            (
                "TemplateRequest",
                "name",
                "maxLength",
                max_chars(PhantomData::<values::DisplayName>) as u64,
            ),
            (
                "VariableDefinitionRequest",
                "name",
                "maxLength",
                max_chars(PhantomData::<values::DisplayName>) as u64,
            ),
            (
                "VariableDefinitionRequest",
                "sample",
                "maxLength",
                max_chars(PhantomData::<values::LongText>) as u64,
            ),
            (
                "RevokeRequest",
                "reason",
                "maxLength",
                max_chars(PhantomData::<values::Reason>) as u64,
            ),
            (
                "RevokeRequest",
                "operator",
                "maxLength",
                max_chars(PhantomData::<values::Operator>) as u64,
            ),
        ];
        for (schema, field, keyword, expected) in cases {
            assert_eq!(
                property(schema, field)[keyword],
                expected,
                "{schema}.{field} {keyword}"
            );
        }
    }
}
