//! `GET /verify/{contractId}`: the public page behind the QR code on every sealed document, and
//! `POST /verify/{contractId}`: the same page for a file the visitor chose.
//!
//! Anyone holding the document can check it without an account. The `GET` runs the same checks as
//! `POST /api/v1/contract/verify` on the stored document and shows the verdict, the sealed
//! SHA-256, every signature and the archive records. The `POST` takes the PDF itself as the body
//! (`application/pdf`, at most [`MAX_FILE_BYTES`]), hashes and validates those bytes on the server
//! against the contract of the URL, and answers the page with the verdict on that file: the green
//! headline only when the file is the sealed document and every check passed. The file is not
//! kept. The page's script posts the chosen file and swaps in the answer; the decision is made
//! here ([`headline`]), never in the browser.
//!
//! The page shows no personal data: signers appear by their masked names only; the platform seal
//! and timestamp authorities by their names. Times are Beijing time with the offset, as the PDF
//! prints them. Requests are rate-limited per IP like every page here.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::pages::{document, error_page, escape};
use super::security::ClientIp;
use crate::app::document_verification::{
    SignatureFacts, SignatureRole, Verdict, Verification, by_contract, file_against_contract,
};
use crate::documents::contract::beijing_time;
use crate::http::AppState;
use crate::store::query_tables::RowView;

const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

/// The largest file the page checks.
pub(super) const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

pub(super) async fn page(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(contract_id): Path<String>,
) -> Response {
    let row = match contract(&state, ip, &contract_id).await {
        Ok(row) => row,
        Err(response) => return response,
    };
    answer(&contract_id, by_contract(&state, &row).await, false)
}

/// The page for the file in the body, checked against the contract of the URL.
pub(super) async fn check_file(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(contract_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let row = match contract(&state, ip, &contract_id).await {
        Ok(row) => row,
        Err(response) => return response,
    };
    let bytes = match body {
        Ok(bytes) if !bytes.is_empty() => bytes,
        Ok(_) => return failure(StatusCode::BAD_REQUEST, 40001, "请选择要核对的文件"),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                41300,
                "文件过大，无法在线核对",
            );
        }
        Err(rejection) => {
            tracing::info!(%rejection, "verify page: the file could not be read");
            return failure(StatusCode::BAD_REQUEST, 40001, "文件读取失败，请重新选择");
        }
    };
    // Without a sealed document there is nothing to compare with: the page says so.
    if row.text("document_hash").is_none() {
        return answer(&contract_id, by_contract(&state, &row).await, false);
    }
    let checked = file_against_contract(&state, &bytes, &row).await;
    if let Ok(verification) = &checked {
        tracing::info!(
            %contract_id,
            verdict = verification.verdict.as_str(),
            bytes = bytes.len(),
            "verify page: a visitor's file was checked"
        );
    }
    answer(&contract_id, checked, true)
}

/// The contract row of a page request, after the rate limit; or the error page to answer.
async fn contract(state: &AppState, ip: ClientIp, contract_id: &str) -> Result<RowView, Response> {
    if !state.h5_limiter.allow(
        &format!("verify-ip:{}", ip.0),
        state.config.h5.requests_per_minute_per_ip,
        MINUTE,
    ) {
        tracing::warn!(ip = %ip.0, "verify page: per-IP rate limit reached");
        return Err(failure(
            StatusCode::TOO_MANY_REQUESTS,
            42900,
            "访问过于频繁，请稍后再试",
        ));
    }
    let well_formed = !contract_id.is_empty()
        && contract_id.len() <= 64
        && contract_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let row = if well_formed {
        state.store.contracts().by_id(contract_id).await
    } else {
        Ok(None)
    };
    match row {
        Ok(Some(row)) => Ok(row),
        Ok(None) => {
            tracing::info!(ip = %ip.0, "verify page: unknown contract id");
            Err(failure(StatusCode::NOT_FOUND, 40400, "未找到该协议"))
        }
        Err(error) => {
            tracing::warn!(%error, "verify page: cannot read the contract");
            Err(failure(
                StatusCode::SERVICE_UNAVAILABLE,
                50300,
                "系统繁忙，请稍后重试",
            ))
        }
    }
}

fn answer<E: std::fmt::Display>(
    contract_id: &str,
    checked: Result<Verification, E>,
    file_checked: bool,
) -> Response {
    match checked {
        Ok(verification) => Html(render(contract_id, &verification, file_checked)).into_response(),
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

/// The page's headline: its class (`ok` green, `error` red, `pending` grey), title and one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Headline {
    pub class: &'static str,
    pub title: &'static str,
    pub detail: &'static str,
}

/// What the page says for `verdict`, about the stored document (`file_checked` false) or about the
/// file the visitor chose. Green is said for [`Verdict::Valid`] alone.
pub(super) fn headline(verdict: Verdict, file_checked: bool) -> Headline {
    let (class, title, detail) = match (verdict, file_checked) {
        (Verdict::Valid, false) => (
            "ok",
            "文件真实有效",
            "平台封存的协议文件完整，全部签名与时间戳有效，协议记录核验通过。",
        ),
        (Verdict::Valid, true) => (
            "ok",
            "文件真实有效",
            "您选择的文件就是平台封存的协议文件，全部签名与时间戳有效，协议记录核验通过。",
        ),
        (Verdict::NotSealed, _) => (
            "pending",
            "协议尚未封存",
            "该协议尚无封存文件（签署未完成或正在封存），暂时无法验真。",
        ),
        (Verdict::FileMismatch, _) => (
            "error",
            "文件与协议记录不符",
            "您选择的文件不是该协议封存的文件（SHA-256 不一致），请勿以此文件作为该协议的凭据。",
        ),
        (Verdict::Tampered, true) => (
            "error",
            "文件已被篡改或签名无效",
            "您选择的文件中有签名校验未通过，或签名后文件被改动。",
        ),
        (Verdict::Tampered, false) => (
            "error",
            "文件已被篡改或签名无效",
            "平台保存的协议文件签名校验未通过，请联系协议发起方。",
        ),
        (Verdict::RecordBroken, _) => (
            "error",
            "协议记录校验未通过",
            "协议的事件记录、内容或存证校验未通过，请联系协议发起方。",
        ),
        (Verdict::Invalid, _) => ("error", "验证未通过", "请查看下方的未通过原因。"),
    };
    Headline {
        class,
        title,
        detail,
    }
}

/// A time as the page shows it: Beijing time with its offset, as the document prints it.
fn shown_time(time: Option<DateTime<Utc>>) -> String {
    time.map(beijing_time).unwrap_or_else(|| "—".to_owned())
}

fn kind_label(kind: SignatureRole) -> &'static str {
    match kind {
        SignatureRole::SignerSignature => "签署人签名",
        SignatureRole::PlatformSeal => "平台签章",
        SignatureRole::DocumentTimestamp => "文档时间戳",
    }
}

/// Who signed, as the public page may name them: a person masked, the platform and a timestamp
/// authority by name.
fn shown_signer(signature: &SignatureFacts) -> String {
    match signature.kind {
        SignatureRole::SignerSignature => signature
            .signer
            .as_deref()
            .map(masked_name)
            .unwrap_or_else(|| "未知签署人".to_owned()),
        SignatureRole::PlatformSeal | SignatureRole::DocumentTimestamp => signature
            .signed_by
            .clone()
            .unwrap_or_else(|| kind_label(signature.kind).to_owned()),
    }
}

fn row(body: &mut String, label: &str, value: &str, class: &str) {
    let _ = write!(
        body,
        "<dt>{}</dt><dd class=\"{class}\">{}</dd>",
        escape(label),
        escape(value)
    );
}

fn signature_item(body: &mut String, signature: &SignatureFacts) {
    let (state_class, state) = if signature.valid {
        ("ok", "有效")
    } else {
        ("error", "无效")
    };
    let _ = write!(
        body,
        "<li class=\"signature\" data-kind=\"{}\"><p class=\"who\"><span class=\"name\">{}</span>\
         <span class=\"badge\">{}</span><span class=\"state {state_class}\">{state}</span></p><dl>",
        escape(&format!("{:?}", signature.kind)),
        escape(&shown_signer(signature)),
        kind_label(signature.kind),
    );
    match signature.proven_time {
        Some(time) => row(body, "时间戳证明的时间", &beijing_time(time), "time proven"),
        None => row(
            body,
            "时间戳证明的时间",
            "无（该签名未附可信时间戳）",
            "time",
        ),
    }
    if signature.claimed_time.is_some() {
        row(
            body,
            "签名声称的时间（未经证明）",
            &shown_time(signature.claimed_time),
            "time claimed",
        );
    }
    if let Some(authority) = &signature.timestamp_authority {
        row(body, "时间戳机构", authority, "wrap");
    }
    // A person's certificate subject carries their name and ID number: not on a public page.
    if signature.kind != SignatureRole::SignerSignature
        && let Some(subject) = &signature.certificate_subject
    {
        row(body, "证书主体", subject, "wrap");
    }
    if let Some(issuer) = signature
        .certificate_issuer_name
        .as_ref()
        .or(signature.certificate_issuer.as_ref())
    {
        row(body, "证书颁发者", issuer, "wrap");
    }
    if let Some(serial) = &signature.certificate_serial {
        row(body, "证书序列号", serial, "wrap hash");
    }
    row(
        body,
        "长期验证数据",
        if signature.ltv_data_present {
            "已内嵌（证书与吊销信息）"
        } else {
            "未内嵌"
        },
        "",
    );
    if let Some(reason) = &signature.invalid_reason {
        row(body, "无效原因", reason, "wrap error");
    }
    body.push_str("</dl></li>");
}

fn render(contract_id: &str, answer: &Verification, file_checked: bool) -> String {
    let headline = headline(answer.verdict, file_checked);
    let mut body = format!(
        "<section class=\"result {}\" id=\"verdict-box\"><h1 id=\"verdict\" data-verdict=\"{}\">{}</h1>\
         <p id=\"verdict-detail\">{}</p>\
         <p>协议编号 <span id=\"contract-id\" class=\"wrap\">{}</span></p>",
        headline.class,
        answer.verdict.as_str(),
        headline.title,
        headline.detail,
        escape(contract_id)
    );
    if let Some(reason) = &answer.reason {
        let _ = write!(
            body,
            "<p class=\"detail wrap\" id=\"reason\">{}</p>",
            escape(reason)
        );
    }
    body.push_str("</section>");
    if file_checked {
        let file_hash = answer
            .document_hash
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches("sha256:");
        let same = if answer.hash_matches_sealed == Some(true) {
            "与封存文件一致"
        } else {
            "与封存文件不一致"
        };
        let _ = write!(
            body,
            "<section id=\"checked-file\"><h2>您选择的文件</h2><p class=\"hint\">SHA-256</p>\
             <p id=\"file-hash\" class=\"hash\">{}</p><p id=\"file-result\" class=\"detail\">{same}</p></section>",
            escape(file_hash)
        );
    }
    let sealed_hash = answer
        .sealed_document_hash
        .as_deref()
        .or(if file_checked {
            None
        } else {
            answer.document_hash.as_deref()
        })
        .map(|hash| hash.trim_start_matches("sha256:"));
    if let Some(hash) = sealed_hash {
        let _ = write!(
            body,
            "<section id=\"sealed\"><h2>封存文件</h2><p class=\"hint\">SHA-256</p>\
             <p id=\"sealed-hash\" class=\"hash\">{}</p><p class=\"hint\">封存时间 <span id=\"sealed-at\">{}</span></p>\
             <p class=\"pick\"><label for=\"file\">选择本地文件核对（文件上传至本平台核验，不会保存）</label>\
             <input type=\"file\" id=\"file\" accept=\"application/pdf\" data-action=\"/verify/{}\"></p>\
             <p id=\"file-status\" class=\"detail\"></p></section>",
            escape(hash),
            escape(&shown_time(answer.sealed_at)),
            escape(contract_id)
        );
    }
    let heading = if file_checked {
        "您选择的文件中的签名"
    } else {
        "签名"
    };
    let _ = write!(
        body,
        "<section id=\"signatures\"><h2>{heading}</h2><ol class=\"signatures\">"
    );
    for signature in &answer.signature_info {
        signature_item(&mut body, signature);
    }
    if answer.signature_info.is_empty() {
        body.push_str("<li class=\"hint\">无签名</li>");
    }
    body.push_str("</ol></section><section id=\"archives\"><h2>存证</h2><ul class=\"parties\">");
    if let Some(records) = answer.archive_info["records"].as_array() {
        for record in records {
            let verified = match record["verified"].as_bool() {
                Some(true) => "已核验",
                Some(false) => "核验失败",
                None => record["status"].as_str().unwrap_or_default(),
            };
            let time = record["archiveTime"]
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(|time| time.with_timezone(&Utc));
            let _ = write!(
                body,
                "<li><span>{}</span><span class=\"time\">{}</span><span>{}</span></li>",
                escape(record["provider"].as_str().unwrap_or_default()),
                escape(&shown_time(time)),
                escape(verified)
            );
        }
    }
    body.push_str("</ul></section>");
    document("协议验真", &body, Some("/h5/assets/verify.js"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_their_first_character() {
        assert_eq!(masked_name("张三"), "张*");
        assert_eq!(masked_name("欧阳娜娜"), "欧***");
        assert_eq!(masked_name("李"), "李*");
    }

    #[test]
    fn green_is_said_for_a_valid_verdict_only() {
        for verdict in [
            Verdict::Valid,
            Verdict::NotSealed,
            Verdict::Tampered,
            Verdict::FileMismatch,
            Verdict::RecordBroken,
            Verdict::Invalid,
        ] {
            for file_checked in [false, true] {
                let shown = headline(verdict, file_checked);
                assert_eq!(
                    shown.class == "ok",
                    verdict == Verdict::Valid,
                    "{verdict:?} {file_checked}"
                );
                assert_eq!(
                    shown.title == "文件真实有效",
                    verdict == Verdict::Valid,
                    "{verdict:?} {file_checked}"
                );
            }
        }
        assert_eq!(
            headline(Verdict::FileMismatch, true),
            Headline {
                class: "error",
                title: "文件与协议记录不符",
                detail: headline(Verdict::FileMismatch, true).detail
            }
        );
        assert_eq!(
            headline(Verdict::Tampered, true).title,
            "文件已被篡改或签名无效"
        );
        assert_eq!(headline(Verdict::NotSealed, false).class, "pending");
    }

    fn facts(kind: SignatureRole, signer: &str, signed_by: &str) -> SignatureFacts {
        SignatureFacts {
            signer: Some(signer.into()),
            sign_time: Some(Utc::now()),
            certificate_issuer: Some("esign Signing CA".into()),
            certificate_serial: Some("0a1b".into()),
            valid_from: None,
            valid_to: None,
            field: None,
            valid: true,
            covers_whole_document: false,
            timestamp_authority: None,
            timestamp_time: None,
            problems: Vec::new(),
            index: 1,
            kind,
            signed_by: Some(signed_by.into()),
            proven_time: None,
            claimed_time: DateTime::from_timestamp(1_796_648_703, 0),
            certificate_subject: Some(format!("CN={signer}, SERIALNUMBER=110101********1234")),
            certificate_issuer_name: Some("CN=esign Signing CA, O=esign".into()),
            invalid_reason: None,
            ltv_data_present: false,
        }
    }

    #[test]
    fn a_person_is_masked_and_the_seal_is_named() {
        let person = facts(SignatureRole::SignerSignature, "张三", "张三");
        let seal = facts(
            SignatureRole::PlatformSeal,
            "esign Platform Seal",
            "平台签章 (esign Platform Seal)",
        );
        assert_eq!(shown_signer(&person), "张*");
        assert_eq!(shown_signer(&seal), "平台签章 (esign Platform Seal)");
        let mut html = String::new();
        signature_item(&mut html, &person);
        assert!(!html.contains("张三") && !html.contains("110101"), "{html}");
        assert!(
            html.contains("无（该签名未附可信时间戳）"),
            "no proven time without a timestamp: {html}"
        );
        assert!(
            html.contains("2026-12-07 21:05:03 (北京时间 UTC+8)"),
            "the claimed time in Beijing time, labelled as claimed: {html}"
        );
        let mut html = String::new();
        signature_item(&mut html, &seal);
        assert!(html.contains("平台签章 (esign Platform Seal)"), "{html}");
        assert!(!html.contains("e******"), "{html}");
    }
}
