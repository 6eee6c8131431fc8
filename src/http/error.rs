//! The one error body of the API (spec section 6), and the single place errors become responses.
//!
//! `{"code": 40001, "message": "...", "details": [{"field": "signers[0].idCardNo", "reason": "..."}]}`.
//! Internal causes are logged with the request's span and never sent to the client.

use aggregates::FieldError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::app::error::{AppError, DomainFailure};
use crate::app::pipeline::CommandError;
use crate::pii::PiiError;
use crate::store::StoreError;

/// Spec section 6 codes, plus HTTP-derived codes for the cases the spec leaves open.
pub mod codes {
    pub const VALIDATION: u32 = 40001;
    pub const DUPLICATE: u32 = 40002;
    pub const TEMPLATE_UNAVAILABLE: u32 = 40003;
    pub const LINK_EXPIRED: u32 = 40004;
    pub const LINK_USED: u32 = 40005;
    pub const IDENTITY_FAILED: u32 = 40006;
    pub const UNAUTHORIZED: u32 = 40101;
    pub const FORBIDDEN: u32 = 40300;
    pub const NOT_FOUND: u32 = 40400;
    pub const CONFLICT: u32 = 40900;
    pub const PAYLOAD_TOO_LARGE: u32 = 41300;
    pub const UNSUPPORTED_MEDIA_TYPE: u32 = 41500;
    pub const PROVIDER_TIMEOUT: u32 = 50001;
    pub const INTERNAL: u32 = 50000;
    pub const UNAVAILABLE: u32 = 50300;
}

/// Why a request failed, as the client is told: what the use case said, or a body that is not
/// JSON at all (the one refusal only the edge can make).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("unsupported media type")]
    UnsupportedMediaType,
}

/// The spec code of an error response, for the request metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub u32);

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u32,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    details: &'a [FieldError],
    #[serde(skip_serializing_if = "Option::is_none")]
    existing: Option<&'a Value>,
    #[serde(rename = "verificationId", skip_serializing_if = "Option::is_none")]
    verification_id: Option<&'a str>,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, u32, &'static str) {
        use codes::*;
        let app = match self {
            Self::UnsupportedMediaType => {
                return (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    UNSUPPORTED_MEDIA_TYPE,
                    "请求体必须是 application/json",
                );
            }
            Self::App(app) => app,
        };
        match app {
            AppError::Validation(_) => (StatusCode::BAD_REQUEST, VALIDATION, "参数校验失败"),
            AppError::Duplicate { .. } => {
                (StatusCode::CONFLICT, DUPLICATE, "已存在相同业务ID的流程")
            }
            AppError::TemplateUnavailable => (
                StatusCode::UNPROCESSABLE_ENTITY,
                TEMPLATE_UNAVAILABLE,
                "协议模板不可用",
            ),
            AppError::LinkExpired => (StatusCode::GONE, LINK_EXPIRED, "签署链接已过期，请重新获取"),
            AppError::LinkUsed => (StatusCode::CONFLICT, LINK_USED, "您已签署过该协议"),
            AppError::IdentityFailed => (
                StatusCode::UNPROCESSABLE_ENTITY,
                IDENTITY_FAILED,
                "人脸核验未通过",
            ),
            AppError::NotFound => (StatusCode::NOT_FOUND, NOT_FOUND, "资源不存在"),
            AppError::Forbidden => (StatusCode::FORBIDDEN, FORBIDDEN, "无权限执行该操作"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, CONFLICT, "当前状态不允许该操作"),
            AppError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                "系统繁忙，请稍后重试",
            ),
            AppError::ProviderUnavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                PROVIDER_TIMEOUT,
                "系统繁忙，请稍后重试",
            ),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL, "系统内部错误"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.status_and_code();
        match &self {
            Self::App(AppError::Internal(cause)) => tracing::error!(code, %cause, "request failed"),
            Self::App(AppError::Unavailable(cause)) => {
                tracing::warn!(code, %cause, "request failed: database unavailable")
            }
            Self::App(AppError::Conflict(cause)) => tracing::info!(code, %cause, "request refused"),
            Self::App(AppError::ProviderUnavailable { verification_id }) => {
                tracing::warn!(
                    code,
                    verification_id,
                    "request answered 50001: no face provider available"
                )
            }
            other => tracing::info!(code, error = %other, "request refused"),
        }
        let details: &[FieldError] = match &self {
            Self::App(AppError::Validation(errors)) => errors.fields(),
            _ => &[],
        };
        let existing = match &self {
            Self::App(AppError::Duplicate { existing }) => Some(existing),
            _ => None,
        };
        let verification_id = match &self {
            Self::App(AppError::ProviderUnavailable { verification_id }) => {
                Some(verification_id.as_str())
            }
            _ => None,
        };
        let mut response = (
            status,
            Json(ErrorBody {
                code,
                message,
                details,
                existing,
                verification_id,
            }),
        )
            .into_response();
        response.extensions_mut().insert(ErrorCode(code));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        ApiError::App(self).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::App(error.into())
    }
}

impl From<PiiError> for ApiError {
    fn from(error: PiiError) -> Self {
        Self::App(error.into())
    }
}

impl<E: DomainFailure + 'static> From<CommandError<E>> for ApiError {
    fn from(error: CommandError<E>) -> Self {
        Self::App(error.into())
    }
}

#[cfg(test)]
mod tests {
    use aggregates::ValidationErrors;

    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_validation_error_names_every_bad_field() {
        let mut errors = ValidationErrors::new();
        errors.push("signers[0].idCardNo", "check digit does not match");
        errors.push("variables.payerName", "is required");
        let (status, body) = body_of(ApiError::App(AppError::Validation(errors))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], 40001);
        assert_eq!(body["details"][0]["field"], "signers[0].idCardNo");
        assert_eq!(body["details"][1]["field"], "variables.payerName");
    }

    #[tokio::test]
    async fn every_error_answers_its_documented_status_and_code() {
        let app = |error: AppError| ApiError::App(error);
        let cases = [
            (
                app(AppError::Duplicate {
                    existing: Value::Null,
                }),
                409,
                40002,
            ),
            (app(AppError::TemplateUnavailable), 422, 40003),
            (app(AppError::LinkExpired), 410, 40004),
            (app(AppError::LinkUsed), 409, 40005),
            (app(AppError::IdentityFailed), 422, 40006),
            (app(AppError::Forbidden), 403, 40300),
            (app(AppError::NotFound), 404, 40400),
            (app(AppError::Conflict("state".into())), 409, 40900),
            (ApiError::UnsupportedMediaType, 415, 41500),
            (app(AppError::Unavailable("down".into())), 503, 50300),
            (
                app(AppError::ProviderUnavailable {
                    verification_id: "FACE_VERIFY_1".into(),
                }),
                503,
                50001,
            ),
            (app(AppError::Internal("bug".into())), 500, 50000),
        ];
        for (error, status, code) in cases {
            let label = error.to_string();
            let (actual_status, body) = body_of(error).await;
            assert_eq!(actual_status.as_u16(), status, "{label}");
            assert_eq!(body["code"], code, "{label}");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{label}"
            );
        }
    }

    #[tokio::test]
    async fn an_internal_cause_never_reaches_the_client() {
        let (status, body) = body_of(ApiError::App(AppError::Internal(
            "password=hunter2 at db".into(),
        )))
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn an_unavailable_database_answers_503_with_a_retry_hint() {
        let response =
            ApiError::App(AppError::Unavailable("connection refused".into())).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }
}
