//! `GET /verify/{contractId}`: the public page behind the QR code on every sealed document.
//!
//! Anyone holding the document can check it without an account: the page runs the same checks as
//! `POST /api/v1/contract/verify` on the stored document and shows the result, the sealed SHA-256,
//! the archive records, and a file picker that hashes a local copy in the browser (nothing is
//! uploaded) and compares it with the sealed hash. It shows no personal data: signers appear by
//! their masked names only. Requests are rate-limited per IP like every page here.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::pages::{document, error_page, escape};
use super::security::ClientIp;
use crate::http::AppState;

const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) async fn page(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(contract_id): Path<String>,
) -> Response {
    if !state.h5_limiter.allow(
        &format!("verify-ip:{}", ip.0),
        state.config.h5.requests_per_minute_per_ip,
        MINUTE,
    ) {
        tracing::warn!(ip = %ip.0, "verify page: per-IP rate limit reached");
        return failure(
            StatusCode::TOO_MANY_REQUESTS,
            42900,
            "访问过于频繁，请稍后再试",
        );
    }
    let well_formed = !contract_id.is_empty()
        && contract_id.len() <= 64
        && contract_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let row = if well_formed {
        state.store.contracts().by_id(&contract_id).await
    } else {
        Ok(None)
    };
    let row = match row {
        Ok(Some(row)) => row,
        Ok(None) => {
            tracing::info!(ip = %ip.0, "verify page: unknown contract id");
            return failure(StatusCode::NOT_FOUND, 40400, "未找到该协议");
        }
        Err(error) => {
            tracing::warn!(%error, "verify page: cannot read the contract");
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                50300,
                "系统繁忙，请稍后重试",
            );
        }
    };
    match crate::app::document_verification::by_contract(&state, &row).await {
        Ok(answer) => Html(render(&contract_id, &answer)).into_response(),
        Err(error) => {
            tracing::error!(%contract_id, %error, "verify page: the check failed");
            failure(
                StatusCode::SERVICE_UNAVAILABLE,
                50300,
                "系统繁忙，请稍后重试",
            )
        }
    }
}

fn failure(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Html(error_page(
            code,
            message,
            "请核对二维码或链接是否完整。",
            None,
        )),
    )
        .into_response()
}

/// A name as the page may show it: the first character, the rest masked.
fn masked_name(name: &str) -> String {
    let mut characters = name.chars();
    match characters.next() {
        Some(first) => {
            let rest = characters.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

fn render(contract_id: &str, answer: &crate::app::document_verification::Verification) -> String {
    let (class, verdict) = if answer.valid {
        ("ok", "文件真实有效")
    } else {
        ("error", "验证未通过")
    };
    let mut body = format!(
        "<section class=\"result {class}\"><h1 id=\"verdict\">{verdict}</h1>\
         <p>协议编号 <span id=\"contract-id\">{}</span></p>",
        escape(contract_id)
    );
    if let Some(reason) = &answer.reason {
        let _ = write!(
            body,
            "<p class=\"detail\" id=\"reason\">{}</p>",
            escape(reason)
        );
    }
    body.push_str("</section>");
    if let Some(hash) = &answer.document_hash {
        let hash = hash.trim_start_matches("sha256:");
        let sealed_at = answer
            .sealed_at
            .map(|time| time.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let _ = write!(
            body,
            "<section><h2>封存文件</h2><p class=\"hint\">SHA-256</p>\
             <p id=\"sealed-hash\" style=\"word-break:break-all\">{}</p><p class=\"hint\">封存时间 {}</p>\
             <p><label>选择本地文件核对（文件不会上传）<input type=\"file\" id=\"file\" accept=\"application/pdf\"></label></p>\
             <p id=\"file-result\" class=\"detail\"></p></section>",
            escape(hash),
            escape(&sealed_at)
        );
    }
    body.push_str("<section><h2>签名</h2><ul class=\"parties\">");
    for signature in &answer.signature_info {
        let signer = signature["signer"].as_str().unwrap_or_default();
        let time = signature["timestampTime"]
            .as_str()
            .or_else(|| signature["signTime"].as_str())
            .unwrap_or_default();
        let state = if signature["valid"] == Value::Bool(true) {
            "有效"
        } else {
            "无效"
        };
        let _ = write!(
            body,
            "<li><span>{}</span><span>{}</span><span>{state}</span></li>",
            escape(&masked_name(signer)),
            escape(time)
        );
    }
    body.push_str("</ul></section><section><h2>存证</h2><ul class=\"parties\">");
    if let Some(records) = answer.archive_info["records"].as_array() {
        for record in records {
            let verified = match record["verified"].as_bool() {
                Some(true) => "已核验",
                Some(false) => "核验失败",
                None => record["status"].as_str().unwrap_or_default(),
            };
            let _ = write!(
                body,
                "<li><span>{}</span><span>{}</span><span>{}</span></li>",
                escape(record["provider"].as_str().unwrap_or_default()),
                escape(record["archiveTime"].as_str().unwrap_or_default()),
                escape(verified)
            );
        }
    }
    body.push_str("</ul></section>");
    document("协议验真", &body, Some("/h5/assets/verify.js"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_keep_only_their_first_character() {
        assert_eq!(super::masked_name("张三"), "张*");
        assert_eq!(super::masked_name("欧阳娜娜"), "欧***");
        assert_eq!(super::masked_name("李"), "李*");
    }
}
