//! The signer's H5 signing page (spec 4.1.2 step 3, 4.2.3): server-rendered, mobile-first, Chinese,
//! no external resources; a small script drives the signature pad and dialogs.
//!
//! Routes (every one keyed by the link token `?token=`; `docs/h5.md` has the flow):
//!
//! - `GET  /h5/sign`: the page. Records `SignLinkOpened` (IP, user agent) on every allowed view.
//! - `POST /h5/sign/sms/send`, `POST /h5/sign/sms/verify`: the SMS step.
//! - `POST /h5/sign/face/start`: creates the signer's face verification and sends the browser to the
//!   provider's page; `GET /h5/sign/face-return`: where the provider sends it back.
//! - `POST /h5/sign/submit`: the handwritten signature (PNG) -> `Sign`; answers the done page.
//! - `POST /h5/sign/certificate/prepare`, `POST /h5/sign/certificate/complete`: signing with the
//!   signer's own certificate (CA_CERT), JSON in and out; the key stays in the browser.
//! - `POST /h5/sign/reject`: a reason -> `Reject`; answers the rejected page.
//! - `GET  /h5/assets/sign.css`, `GET /h5/assets/sign.js`, `GET /h5/assets/verify.js`,
//!   `GET /h5/assets/pkcs12.js` (the vendored PKCS#12 reader, on CA_CERT pages only).
//! - `GET  /verify/{contractId}`: the public verify page; `POST /verify/{contractId}`: the same page
//!   for the PDF in the body (a visitor's copy), checked on the server.
//!
//! Posts are forms carrying the CSRF token in the field `csrf`.
//!
//! Stable DOM ids (browser tests rely on them; do not rename):
//!
//! | id | what |
//! | --- | --- |
//! | `#contract-title` | the contract's title |
//! | `#contract-body` | sandboxed iframe holding the rendered contract |
//! | `#signer-name` | the signer's own name |
//! | `#waiting` | "等待前序签署方完成签署" (order rule; no steps shown) |
//! | `#step-sms`, `#sms-send`, `#sms-code`, `#sms-verify`, `#sms-status` | the SMS step |
//! | `#step-face`, `#face-start`, `#face-status` | the face step |
//! | `#step-certificate`, `#certificate-file`, `#certificate-password`, `#certificate-open`, `#certificate-status`, `#certificate-info`, `#certificate-error` | the CA_CERT step |
//! | `#step-sign`, `canvas#signature-pad`, `#signature-clear`, `#signature-submit` | the signature |
//! | `#confirm-dialog`, `#confirm-yes`, `#confirm-no` | the confirmation before signing |
//! | `#reject-open`, `#reject-reason`, `#reject-submit` | rejecting with a reason |
//! | `#done`, `#rejected` | the page after signing / after rejecting |
//! | `#error-code`, `#error-message` | error pages: the spec code (e.g. `40004`) and its message |
//!
//! A finished step carries the class `done`, the step to do now the class `current`.

mod assets;
mod certificate;
mod face;
mod pages;
pub mod security;
mod short_link;
mod sign;
mod signature;
mod verify;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use super::AppState;
use crate::app::error::AppError;
use crate::app::signing::certificate::CertificateFailure;
use crate::app::signing::{LinkRefusal, SigningError};
use crate::trust::personal::CertificateRefusal;

pub use security::RateLimiter;

/// HTTP 429 in the API's code scheme (the spec has no code for it).
const TOO_MANY_REQUESTS: u32 = 42900;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/h5/sign", get(sign::page))
        .route("/s/{code}", get(short_link::follow))
        .route("/h5/sign/document", get(sign::document))
        .route("/h5/sign/sms/send", post(sign::send_code))
        .route("/h5/sign/sms/verify", post(sign::verify_code))
        .route("/h5/sign/face/start", post(face::start))
        .route("/h5/sign/face-return", get(face::returned))
        .route("/h5/sign/submit", post(sign::submit))
        .route("/h5/sign/certificate/prepare", post(certificate::prepare))
        .route("/h5/sign/certificate/complete", post(certificate::complete))
        .route("/h5/sign/reject", post(sign::reject))
        .route("/h5/assets/sign.css", get(assets::css))
        .route("/h5/assets/sign.js", get(assets::js))
        .route("/h5/assets/verify.js", get(assets::verify_js))
        .route("/h5/assets/pkcs12.js", get(assets::pkcs12_js))
        .route(
            "/verify/{contract_id}",
            get(verify::page)
                .post(verify::check_file)
                .layer(axum::extract::DefaultBodyLimit::max(verify::MAX_FILE_BYTES)),
        )
        .layer(axum::middleware::map_response(security::security_headers))
}

/// Why a signing page cannot go on, as the signer is told. Every one is logged where it becomes a
/// response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    #[error("unknown or malformed sign link")]
    NotFound,
    /// 40004: replaced, expired by the scheduler, or past its deadline.
    #[error("sign link expired or replaced")]
    LinkExpired,
    /// 40005: the signer signed (or rejected) already.
    #[error("sign link used")]
    LinkUsed { rejected: bool },
    #[error("the contract was revoked")]
    Revoked,
    #[error("the contract expired")]
    ContractExpired,
    #[error("the contract was rejected by another signer")]
    RejectedByOther,
    #[error("CSRF check failed")]
    Csrf,
    #[error("referer {0} not in the allow-list")]
    Referer(String),
    #[error("rate limit: {0}")]
    TooManyRequests(&'static str),
    /// 40001 naming the field.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The step cannot be done now (order rule, cool-down, locked check...).
    #[error("not allowed now: {0}")]
    Conflict(String),
    #[error("identity check failed: {0}")]
    IdentityFailed(String),
    /// The signer's own certificate, or a signature made with it, is refused (CA_CERT).
    #[error("certificate signing refused: {0}")]
    Certificate(CertificateFailure),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl PageError {
    fn parts(&self) -> (StatusCode, u32, &'static str, &'static str) {
        use super::error::codes::*;
        match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                NOT_FOUND,
                "签署链接无效",
                "请检查链接是否完整，或联系协议发起方获取新的签署链接。",
            ),
            Self::LinkExpired => (
                StatusCode::GONE,
                LINK_EXPIRED,
                "签署链接已过期，请重新获取",
                "请联系协议发起方为您重新发送签署链接；新的链接发出后，旧链接即失效。",
            ),
            Self::LinkUsed { rejected: false } => (
                StatusCode::CONFLICT,
                LINK_USED,
                "您已签署过该协议",
                "签署链接仅可使用一次。如需查看协议，请联系协议发起方。",
            ),
            Self::LinkUsed { rejected: true } => (
                StatusCode::CONFLICT,
                LINK_USED,
                "您已拒绝签署该协议",
                "签署链接仅可使用一次。如有疑问，请联系协议发起方。",
            ),
            Self::Revoked => (
                StatusCode::CONFLICT,
                CONFLICT,
                "该协议已被发起方撤销",
                "协议已撤销，无需继续签署。如有疑问，请联系协议发起方。",
            ),
            Self::ContractExpired => (
                StatusCode::GONE,
                LINK_EXPIRED,
                "该协议已过签署期限",
                "协议已过期，签署链接随之失效。如需继续，请联系协议发起方重新发起。",
            ),
            Self::RejectedByOther => (
                StatusCode::CONFLICT,
                CONFLICT,
                "该协议已被其他签署方拒签",
                "协议已终止，无需继续签署。如有疑问，请联系协议发起方。",
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                FORBIDDEN,
                "页面已失效，请刷新后重试",
                "为保护您的账户安全，本次提交未被处理。请重新打开签署链接后再操作。",
            ),
            Self::Referer(_) => (
                StatusCode::FORBIDDEN,
                FORBIDDEN,
                "访问来源不被允许",
                "请通过业务方提供的入口打开签署链接。",
            ),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                TOO_MANY_REQUESTS,
                "访问过于频繁，请稍后再试",
                "请等待一分钟后刷新页面。",
            ),
            Self::Invalid { .. } => (
                StatusCode::BAD_REQUEST,
                VALIDATION,
                "参数校验失败",
                "请返回上一页修改后重新提交。",
            ),
            Self::Conflict(_) => (
                StatusCode::CONFLICT,
                CONFLICT,
                "当前状态不允许该操作",
                "请返回签署页面刷新后查看当前步骤。",
            ),
            Self::IdentityFailed(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                IDENTITY_FAILED,
                "人脸核验未通过",
                "请返回签署页面重新进行人脸核验。",
            ),
            Self::Certificate(failure) => certificate_parts(failure),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                "系统繁忙，请稍后重试",
                "请稍后返回签署页面重试。",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                INTERNAL,
                "系统内部错误",
                "请稍后返回签署页面重试。",
            ),
        }
    }
}

/// What a certificate refusal answers: the identity-failure code (40006) when the certificate or
/// its signature is not the signer's to use, 50001 when the CA's revocation status cannot be had
/// (spec 6: a CA call failed), 40900 when the step cannot happen here at all.
fn certificate_parts(
    failure: &CertificateFailure,
) -> (StatusCode, u32, &'static str, &'static str) {
    use super::error::codes::*;
    let refused = |message| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            IDENTITY_FAILED,
            message,
            "请选择您本人有效的数字证书后重试；签署链接仍可继续使用。",
        )
    };
    match failure {
        CertificateFailure::NoTrustedRoots => (
            StatusCode::CONFLICT,
            CONFLICT,
            "本平台未配置信任的个人证书颁发机构（CA），暂不能使用数字证书签署",
            "请联系协议发起方更换签署方式。",
        ),
        CertificateFailure::NotCaCert => (
            StatusCode::CONFLICT,
            CONFLICT,
            "您的签署方式不是数字证书签署",
            "请返回签署页面刷新后查看当前步骤。",
        ),
        CertificateFailure::Refused(refusal) => match refusal {
            CertificateRefusal::Malformed(_) => refused("无法识别该数字证书"),
            CertificateRefusal::NotValidAt => refused("数字证书已过期或尚未生效"),
            CertificateRefusal::Untrusted(_) => {
                refused("该数字证书不是由本平台信任的证书颁发机构签发")
            }
            CertificateRefusal::KeyUsage(_) => refused("该数字证书不能用于签名（密钥用法不符）"),
            CertificateRefusal::UnsupportedKey(_) => {
                refused("不支持该数字证书的密钥算法（支持 RSA 与 ECDSA P-256）")
            }
            CertificateRefusal::Revoked { .. } => refused("该数字证书已被吊销"),
            CertificateRefusal::RevocationUnknown(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                PROVIDER_TIMEOUT,
                "暂时无法确认数字证书的吊销状态，请稍后重试",
                "证书颁发机构的服务暂不可用；签署链接仍可继续使用。",
            ),
        },
        CertificateFailure::NotTheSigner { .. } => refused("数字证书持有人与签署人身份信息不一致"),
        CertificateFailure::BadSignature => refused("签名校验未通过，请重新选择证书后再试"),
        CertificateFailure::Preparation(_) => (
            StatusCode::CONFLICT,
            CONFLICT,
            "签署准备已失效，请重新确认签署",
            "请刷新签署页面后重试。",
        ),
        CertificateFailure::Stale => (
            StatusCode::CONFLICT,
            CONFLICT,
            "协议文件已更新，请重新确认签署",
            "其他签署方刚刚完成签署，请重试。",
        ),
    }
}

impl PageError {
    /// A stable machine-readable reason beside the code, for the page's script and API clients.
    pub(crate) fn reason(&self) -> Option<&'static str> {
        let Self::Certificate(failure) = self else {
            return None;
        };
        Some(match failure {
            CertificateFailure::NoTrustedRoots => "NO_TRUSTED_CA",
            CertificateFailure::NotCaCert => "NOT_CA_CERT",
            CertificateFailure::Refused(refusal) => match refusal {
                CertificateRefusal::Malformed(_) => "CERTIFICATE_MALFORMED",
                CertificateRefusal::NotValidAt => "CERTIFICATE_NOT_VALID",
                CertificateRefusal::Untrusted(_) => "CERTIFICATE_UNTRUSTED",
                CertificateRefusal::KeyUsage(_) => "CERTIFICATE_KEY_USAGE",
                CertificateRefusal::UnsupportedKey(_) => "CERTIFICATE_KEY_UNSUPPORTED",
                CertificateRefusal::Revoked { .. } => "CERTIFICATE_REVOKED",
                CertificateRefusal::RevocationUnknown(_) => "CERTIFICATE_STATUS_UNAVAILABLE",
            },
            CertificateFailure::NotTheSigner { .. } => "CERTIFICATE_MISMATCH",
            CertificateFailure::BadSignature => "SIGNATURE_INVALID",
            CertificateFailure::Preparation(_) => "PREPARATION_INVALID",
            CertificateFailure::Stale => "DOCUMENT_CHANGED",
        })
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, code, message, hint) = self.parts();
        match &self {
            Self::Internal(_) => tracing::error!(code, error = %self, "signing page failed"),
            Self::Unavailable(_) => tracing::warn!(code, error = %self, "signing page failed"),
            _ => tracing::warn!(code, error = %self, "signing page request refused"),
        }
        let detail = match &self {
            Self::Invalid { field, reason } => Some(format!("参数校验失败: {field} {reason}")),
            _ => None,
        };
        (
            status,
            Html(pages::error_page(code, message, hint, detail.as_deref())),
        )
            .into_response()
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => Self::NotFound,
            AppError::LinkExpired => Self::LinkExpired,
            AppError::LinkUsed => Self::LinkUsed { rejected: false },
            AppError::Conflict(cause) => Self::Conflict(cause),
            AppError::IdentityFailed => Self::IdentityFailed("refused".into()),
            AppError::Validation(errors) => Self::Invalid {
                field: "body",
                reason: errors.to_string(),
            },
            AppError::Unavailable(cause) => Self::Unavailable(cause),
            AppError::ProviderUnavailable { verification_id } => {
                Self::Unavailable(format!("no face provider for {verification_id}"))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<LinkRefusal> for PageError {
    fn from(refusal: LinkRefusal) -> Self {
        match refusal {
            LinkRefusal::NotFound => Self::NotFound,
            LinkRefusal::Expired => Self::LinkExpired,
            LinkRefusal::Used { rejected } => Self::LinkUsed { rejected },
            LinkRefusal::Revoked => Self::Revoked,
            LinkRefusal::ContractExpired => Self::ContractExpired,
            LinkRefusal::RejectedByOther => Self::RejectedByOther,
        }
    }
}

impl From<SigningError> for PageError {
    fn from(error: SigningError) -> Self {
        match error {
            SigningError::Link(refusal) => refusal.into(),
            SigningError::Certificate(failure) => Self::Certificate(failure),
            SigningError::App(error) => error.into(),
        }
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::from(AppError::from(error))
    }
}
