//! The signing pages' HTML. Every value from a request, an event or a template is escaped here; the
//! contract body goes into a sandboxed iframe (`srcdoc`, no `allow-scripts`), so template markup can
//! never run script or reach the page.

pub(super) use crate::app::signing::face::FaceStatus;
use std::fmt::Write as _;

use aggregates::contract::{Contract, SignLink, Signer, SignerStatus, SmsCheck};
use aggregates::values::{AgentRole, ContentType, SignMethod};
use base64::Engine as _;
use chrono::{DateTime, Utc};

pub(super) use crate::documents::html::escape;

/// The contract frame's own defaults (the frame does not see the page's stylesheet); the template's
/// markup may style itself.
const CONTRACT_STYLE: &str = "body{margin:12px;font-family:-apple-system,'PingFang SC','Microsoft YaHei',\
                              sans-serif;font-size:15px;line-height:1.7;color:#222;word-wrap:break-word}\
                              img{max-width:100%}pre{white-space:pre-wrap}\
                              .signature-place{display:inline-block;margin:4px 0;padding:2px 10px;\
                              border:1px dashed #999;border-radius:4px;color:#666;font-size:13px}";

/// The template's HTML with each signature place (`<esign-signature party-type="PAYER">`) shown as
/// a small framed placeholder, `签署处（PAYER）`; the party type is escaped, nothing else changes.
fn show_signature_places(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let consumed = if after.starts_with("<!--") {
            after.find("-->").map_or(after.len(), |end| end + 3)
        } else {
            match after.find('>') {
                Some(end) => end + 1,
                None => after.len(),
            }
        };
        let tag = after[..consumed]
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        if let Some(party_type) = aggregates::template::html_place(tag) {
            let _ = write!(
                out,
                "<span class=\"signature-place\">签署处（{}）</span>",
                escape(&party_type)
            );
        } else if !tag.strip_prefix('/').is_some_and(|name| {
            name.trim()
                .eq_ignore_ascii_case(aggregates::template::SIGNATURE_ELEMENT)
        }) {
            out.push_str(&after[..consumed]);
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// A page with the shared stylesheet and, optionally, one script of this origin.
pub(super) fn document(title: &str, body: &str, script: Option<&str>) -> String {
    let script = script
        .map(|src| format!("<script src=\"{}\"></script>", escape(src)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><link rel=\"icon\" href=\"data:,\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/h5/assets/sign.css\"></head>\
         <body><main class=\"page\">{body}</main>{script}</body></html>",
        escape(title)
    )
}

/// An error page: the spec code in `#error-code`, its message in `#error-message`.
pub(super) fn error_page(code: u32, message: &str, hint: &str, detail: Option<&str>) -> String {
    let detail = detail
        .map(|detail| format!("<p class=\"detail\">{}</p>", escape(detail)))
        .unwrap_or_default();
    document(
        message,
        &format!(
            "<section class=\"result error\"><h1 id=\"error-message\">{}</h1>\
             <p>错误码 <span id=\"error-code\">{code}</span></p><p>{}</p>{detail}</section>",
            escape(message),
            escape(hint)
        ),
        None,
    )
}

/// The page after signing.
pub(super) fn done_page(title: &str, transaction_no: &str, contract_signed: bool) -> String {
    let next = if contract_signed {
        "所有签署方均已完成签署，协议已生效。"
    } else {
        "您的签署已完成，协议将在其他签署方签署后生效。"
    };
    document(
        "签署完成",
        &format!(
            "<section id=\"done\" class=\"result ok\"><h1>签署完成</h1><p>《{}》</p><p>{next}</p>\
             <p class=\"detail\">签署流水号：{}</p></section>",
            escape(title),
            escape(transaction_no)
        ),
        None,
    )
}

/// The page after rejecting.
pub(super) fn rejected_page(title: &str, reason: &str) -> String {
    document(
        "已拒签",
        &format!(
            "<section id=\"rejected\" class=\"result\"><h1>您已拒绝签署</h1><p>《{}》</p>\
             <p>拒签原因：{}</p><p>协议发起方将收到通知。</p></section>",
            escape(title),
            escape(reason)
        ),
        None,
    )
}

/// Everything the signing page shows.
#[derive(Debug)]
pub(super) struct SignPage<'a> {
    pub token: &'a str,
    pub csrf: &'a str,
    pub contract: &'a Contract,
    pub signer: &'a Signer,
    pub link: &'a SignLink,
    /// The rendered template; `None` when it could not be rendered.
    pub body: Option<(String, ContentType)>,
    /// The seal an organisation signer applies (PNG), shown before they confirm.
    pub seal_png: Option<&'a [u8]>,
    pub waiting: bool,
    pub face: FaceStatus,
    pub resend_cooldown: chrono::TimeDelta,
    pub max_failed_attempts: u32,
    /// Whether the deployment trusts any personal CA (CA_CERT signers need one).
    pub personal_ca_trusted: bool,
    pub now: DateTime<Utc>,
}

fn action(path: &str, token: &str) -> String {
    format!("{path}?token={}", escape(token))
}

fn hidden_csrf(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    )
}

fn step_class(done: bool, current: bool) -> &'static str {
    match (done, current) {
        (true, _) => "step done",
        (false, true) => "step current",
        (false, false) => "step",
    }
}

fn party_status(signer: &Signer) -> &'static str {
    match signer.status {
        SignerStatus::Pending { .. } => "待签署",
        SignerStatus::Signed(_) => "已签署",
        SignerStatus::Rejected(_) => "已拒签",
    }
}

/// A name shows its first character only, for the other parties.
fn masked_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

fn fail_text(reason: Option<&str>) -> &'static str {
    match reason {
        Some("FACE_MISMATCH") => "人脸比对不一致",
        Some("ID_CARD_MISMATCH") => "身份信息不一致",
        Some("POOR_QUALITY") => "采集质量不佳",
        Some("LIVENESS_FAILED") => "活体检测未通过",
        Some("USER_CANCELLED") => "核验已取消",
        Some("PROVIDER_ERROR") => "核验服务异常",
        _ => "核验未通过",
    }
}

/// The caller's own documents: each one's name and pages, where this signer signs on it, and a
/// link that opens it (the unsigned document as every signer signs it).
fn uploaded_documents(page: &SignPage<'_>) -> String {
    let what = if page.signer.organization.is_some() {
        "盖章"
    } else {
        "签署"
    };
    let mut list = String::from("<ol id=\"contract-documents\" class=\"documents\">");
    for document in page.contract.content.uploaded() {
        let place = page
            .signer
            .places
            .iter()
            .find(|place| place.document == document.document);
        let place = match place {
            Some(place) => match &place.anchor {
                Some(anchor) => format!(
                    "您将在第 {} 页“{}”处{what}",
                    place.page,
                    escape(anchor.as_str())
                ),
                None => format!("您将在第 {} 页指定位置{what}", place.page),
            },
            None => "本文件无需您签署".to_owned(),
        };
        let _ = write!(
            list,
            "<li class=\"uploaded-document\" data-document=\"{number}\"><p class=\"name\">{name}</p>\
             <p>共 {pages} 页 · <span class=\"place\">{place}</span></p>\
             <p><a class=\"button secondary\" target=\"_blank\" rel=\"noopener\" href=\"{href}&amp;document={number}\">查看文件</a></p></li>",
            number = document.document,
            name = escape(document.name.as_str()),
            pages = document.page_count,
            href = action("/h5/sign/document", page.token),
        );
    }
    list.push_str("</ol>");
    list
}

pub(super) fn sign_page(page: &SignPage<'_>) -> String {
    let mut body = String::new();
    let contract = page.contract;
    let signer = page.signer;
    let _ = write!(
        body,
        "<header><h1 id=\"contract-title\">{}</h1></header>",
        escape(contract.title.as_str())
    );
    let _ = write!(body, "<section class=\"parties\"><h2>签署方</h2><ul>");
    for party in &contract.signers {
        let me = party.party_id == signer.party_id;
        // An organisation is named in full (it is no one's personal data); a person, to the
        // other parties, by the first character only.
        let name = match (&party.organization, me) {
            (Some(organization), _) => organization.name.as_str().to_owned(),
            (None, true) => party.name.as_str().to_owned(),
            (None, false) => masked_name(party.name.as_str()),
        };
        let _ = write!(
            body,
            "<li{}><span>{}</span><span class=\"seq\">第 {} 顺位</span><span class=\"state\">{}</span></li>",
            if me { " class=\"me\"" } else { "" },
            escape(&name),
            party.sequence,
            party_status(party)
        );
    }
    let _ = write!(body, "</ul></section>");
    let organization = signer.organization.as_ref().map_or_else(String::new, |organization| {
        format!(
            "<p>签署单位：<span id=\"organization-name\">{}</span></p><p>统一社会信用代码：{}</p><p>身份：{}</p>",
            escape(organization.name.as_str()),
            escape(organization.credit_code.as_str()),
            match organization.agent_role {
                AgentRole::LegalRepresentative => "法定代表人",
                AgentRole::AuthorizedAgent => "经办人",
            }
        )
    });
    let _ = write!(
        body,
        "<section class=\"identity\"><h2>您的身份</h2>{organization}<p>姓名：<span id=\"signer-name\">{}</span></p>\
         <p>身份证号：{}</p><p>手机号：{}</p></section>",
        escape(signer.name.as_str()),
        escape(&signer.id_card_no.masked()),
        escape(&signer.mobile.masked())
    );
    let contract_body = match &page.body {
        Some((html, ContentType::Html)) => format!(
            "<iframe id=\"contract-body\" class=\"contract\" sandbox=\"\" title=\"协议内容\" srcdoc=\"{}\"></iframe>",
            escape(&format!(
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>{CONTRACT_STYLE}</style></head><body>{}</body></html>",
                show_signature_places(html)
            ))
        ),
        Some((json, _)) => format!(
            "<iframe id=\"contract-body\" class=\"contract\" sandbox=\"\" title=\"协议内容\" srcdoc=\"{}\"></iframe>",
            escape(&format!(
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>{CONTRACT_STYLE}</style></head><body><pre>{}</pre></body></html>",
                escape(json)
            ))
        ),
        None if !contract.content.uploaded().is_empty() => uploaded_documents(page),
        None => "<div id=\"contract-body\" class=\"contract missing\">协议内容暂时无法显示，请稍后刷新。</div>"
            .to_owned(),
    };
    let _ = write!(
        body,
        "<section class=\"document\"><h2>协议内容</h2>{contract_body}</section>"
    );
    if page.waiting {
        let _ = write!(
            body,
            "<section id=\"waiting\" class=\"notice\"><p>等待前序签署方完成签署</p>\
             <p>轮到您签署时，刷新本页即可继续。</p><p><a class=\"button\" href=\"{}\">刷新</a></p></section>",
            action("/h5/sign", page.token)
        );
    } else {
        body.push_str(&steps(page));
    }
    body.push_str(&reject_block(page));
    document(contract.title.as_str(), &body, Some("/h5/assets/sign.js"))
}

fn steps(page: &SignPage<'_>) -> String {
    let mut out = String::new();
    let (sms_done, face_done, checks) = match page.signer.sign_method {
        SignMethod::FaceAndSms => {
            let sms_done = matches!(page.link.sms, SmsCheck::Verified { .. });
            let face_done = page.link.face.is_some();
            out.push_str(&sms_step(page, sms_done));
            out.push_str(&face_step(page, face_done, sms_done));
            (sms_done, face_done, sms_done && face_done)
        }
        SignMethod::CaCert if !page.personal_ca_trusted => {
            let _ = write!(
                out,
                "<section id=\"step-certificate\" class=\"step current\"><h2>第一步 数字证书</h2>\
                 <p id=\"certificate-status\" class=\"error\">本平台未配置信任的个人证书颁发机构（CA），\
                 暂不能使用数字证书签署。请联系协议发起方。</p></section>"
            );
            (false, false, false)
        }
        SignMethod::CaCert => {
            out.push_str(&certificate_step(page));
            // The certificate is chosen in this page and signs in it: the pad is ready at once,
            // and the script asks for the certificate before it signs.
            (true, true, true)
        }
    };
    let _ = (sms_done, face_done);
    out.push_str(&sign_step(page, checks));
    out
}

fn sms_step(page: &SignPage<'_>, done: bool) -> String {
    let mobile = page.signer.mobile.masked();
    let mut can_send = true;
    let mut can_verify = true;
    // Seconds until another code may be requested; the script re-enables the button then.
    let mut resend_wait = 0;
    let status = match &page.link.sms {
        SmsCheck::NotSent => {
            can_verify = false;
            format!("点击“获取验证码”，验证码将发送至 {mobile}。")
        }
        SmsCheck::Sent {
            expires_at,
            failed_attempts,
            sent_at,
            ..
        } => {
            let mut text = if page.now >= *expires_at {
                can_verify = false;
                "验证码已过期，请重新获取。".to_owned()
            } else {
                format!("验证码已发送至 {mobile}，请在有效期内输入。")
            };
            if *failed_attempts > 0 {
                let left = page.max_failed_attempts.saturating_sub(*failed_attempts);
                let _ = write!(text, "验证码错误，还可尝试 {left} 次。");
            }
            let wait = (*sent_at + page.resend_cooldown - page.now).num_seconds();
            if wait > 0 {
                can_send = false;
                resend_wait = wait;
                let _ = write!(text, "{wait} 秒后可重新获取。");
            }
            text
        }
        SmsCheck::Verified { .. } => "短信验证已通过。".to_owned(),
        SmsCheck::Locked { .. } => {
            can_send = false;
            can_verify = false;
            "验证码错误次数过多，短信验证已锁定。请联系协议发起方重新获取签署链接。".to_owned()
        }
    };
    let mut out = format!(
        "<section id=\"step-sms\" class=\"{}\"><h2>第一步 短信验证</h2><p id=\"sms-status\">{}</p>",
        step_class(done, !done),
        escape(&status)
    );
    if !done {
        let disabled = |allowed: bool| if allowed { "" } else { " disabled" };
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{}\">{}<button id=\"sms-send\" type=\"submit\"{}{}>获取验证码</button></form>\
             <form method=\"post\" action=\"{}\" class=\"row\">{}\
             <input id=\"sms-code\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
             maxlength=\"6\" pattern=\"[0-9]{{6}}\" placeholder=\"6 位验证码\" required{}>\
             <button id=\"sms-verify\" type=\"submit\"{}>验证</button></form>",
            action("/h5/sign/sms/send", page.token),
            hidden_csrf(page.csrf),
            disabled(can_send),
            if resend_wait > 0 {
                format!(" data-wait=\"{resend_wait}\"")
            } else {
                String::new()
            },
            action("/h5/sign/sms/verify", page.token),
            hidden_csrf(page.csrf),
            disabled(can_verify),
            disabled(can_verify),
        );
    }
    out.push_str("</section>");
    out
}

fn face_step(page: &SignPage<'_>, done: bool, sms_done: bool) -> String {
    let current = !done && sms_done;
    let (status, button) = match (&page.face, done) {
        (_, true) | (FaceStatus::Passed, _) => ("人脸核验已通过。".to_owned(), None),
        (FaceStatus::NotStarted, false) => (
            if sms_done {
                "请进行人脸核验，核验完成后将自动返回本页。".to_owned()
            } else {
                "完成短信验证后进行人脸核验。".to_owned()
            },
            Some("开始人脸核验"),
        ),
        (FaceStatus::InProgress, false) => (
            "人脸核验尚未完成。如已完成，请稍候刷新本页；也可继续核验。".to_owned(),
            Some("继续人脸核验"),
        ),
        (FaceStatus::Failed(reason), false) => (
            format!(
                "人脸核验未通过（{}），请重试。",
                fail_text(reason.as_deref())
            ),
            Some("重新核验"),
        ),
        (FaceStatus::Refused, false) => (
            "核验结果与签署人身份信息不一致，请本人重新核验。".to_owned(),
            Some("重新核验"),
        ),
    };
    let mut out = format!(
        "<section id=\"step-face\" class=\"{}\"><h2>第二步 人脸核验</h2><p id=\"face-status\">{}</p>",
        step_class(done, current),
        escape(&status)
    );
    if let (Some(label), true) = (button, current) {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{}\">{}<button id=\"face-start\" type=\"submit\">{label}</button></form>",
            action("/h5/sign/face/start", page.token),
            hidden_csrf(page.csrf)
        );
    }
    out.push_str("</section>");
    out
}

/// The CA_CERT step: the signer's PKCS#12 file and its password, opened by the script in this
/// page (the vendored PKCS#12 reader); the key is never sent, only the certificates.
fn certificate_step(page: &SignPage<'_>) -> String {
    let verified = if page.link.certificate.is_some() {
        "您的数字证书此前已核验通过；签署时仍需在本机读取证书以完成签名。"
    } else {
        "请选择您本人的数字证书文件（.p12 / .pfx）并输入证书密码。"
    };
    format!(
        "<section id=\"step-certificate\" class=\"step current\" data-mode=\"pkcs12\">\
         <h2>第一步 数字证书</h2><p id=\"certificate-status\">{verified}</p>\
         <noscript><p class=\"error\">数字证书签署需要启用浏览器脚本。</p></noscript>\
         <p class=\"hint\">证书私钥仅在您的浏览器中使用，不会上传到服务器。</p>\
         <label for=\"certificate-file\">证书文件</label>\
         <input id=\"certificate-file\" type=\"file\" accept=\".p12,.pfx,application/x-pkcs12\">\
         <div class=\"row\"><input id=\"certificate-password\" type=\"password\" autocomplete=\"off\" \
         placeholder=\"证书密码\" aria-label=\"证书密码\">\
         <button id=\"certificate-open\" type=\"button\">读取证书</button></div>\
         <p id=\"certificate-error\" class=\"error\" role=\"alert\" hidden></p>\
         <dl id=\"certificate-info\" class=\"certificate\" hidden>\
         <dt>持有人</dt><dd id=\"certificate-subject\"></dd><dt>颁发者</dt><dd id=\"certificate-issuer\"></dd>\
         <dt>有效期</dt><dd id=\"certificate-validity\"></dd></dl></section>"
    )
}

/// The seal to be applied, as a picture the page embeds (the CSP allows `data:` images).
fn seal_picture(page: &SignPage<'_>) -> String {
    page.seal_png.map_or_else(String::new, |png| {
        format!(
            "<figure class=\"seal\"><img id=\"seal-image\" alt=\"将加盖的印章\" src=\"data:image/png;base64,{}\">\
             <figcaption>将加盖的印章</figcaption></figure>",
            base64::engine::general_purpose::STANDARD.encode(png)
        )
    })
}

/// An organisation whose appearance is its seal alone confirms, and the seal is applied: there is
/// nothing to draw.
fn seal_step(page: &SignPage<'_>, checks_done: bool) -> String {
    let mut out = format!(
        "<section id=\"step-sign\" class=\"{}\"><h2>第三步 加盖印章</h2>{}",
        step_class(false, checks_done),
        seal_picture(page)
    );
    if checks_done {
        let _ = write!(
            out,
            "<p>确认后，平台将以上印章加盖在协议的签署位置，并以签署单位的名义数字签名。</p>\
             <div class=\"row\"><button id=\"seal-submit\" type=\"button\">确认盖章</button></div>\
             <form id=\"sign-form\" method=\"post\" action=\"{}\">{}</form>\
             <div id=\"confirm-dialog\" class=\"dialog\" role=\"dialog\" aria-modal=\"true\" hidden>\
             <div class=\"panel\"><p>确认以上协议内容并加盖印章？盖章后不可撤回。</p>\
             <div class=\"row\"><button id=\"confirm-no\" type=\"button\" class=\"secondary\">取消</button>\
             <button id=\"confirm-yes\" type=\"button\">确认盖章</button></div></div></div>",
            action("/h5/sign/submit", page.token),
            hidden_csrf(page.csrf)
        );
    } else {
        out.push_str("<p>完成身份验证后即可盖章。</p>");
    }
    out.push_str("</section>");
    out
}

fn sign_step(page: &SignPage<'_>, checks_done: bool) -> String {
    if !page.signer.draws_signature() {
        return seal_step(page, checks_done);
    }
    let certificate = page.signer.sign_method == SignMethod::CaCert;
    let mut out = format!(
        "<section id=\"step-sign\" class=\"{}\"><h2>{} 手写签名</h2>{}",
        step_class(false, checks_done),
        if certificate {
            "第二步"
        } else {
            "第三步"
        },
        seal_picture(page)
    );
    let form = if certificate {
        format!(
            "<form id=\"sign-form\" data-certificate=\"1\" data-prepare=\"{}\" data-complete=\"{}\">{}</form>\
             <p id=\"sign-error\" class=\"error\" role=\"alert\" hidden></p>",
            action("/h5/sign/certificate/prepare", page.token),
            action("/h5/sign/certificate/complete", page.token),
            hidden_csrf(page.csrf)
        )
    } else {
        format!(
            "<form id=\"sign-form\" method=\"post\" action=\"{}\">{}\
             <input type=\"hidden\" name=\"signature\" id=\"signature-data\"></form>",
            action("/h5/sign/submit", page.token),
            hidden_csrf(page.csrf)
        )
    };
    if checks_done {
        let _ = write!(
            out,
            "<p>请在下方区域内手写签名。</p>\
             <canvas id=\"signature-pad\" width=\"600\" height=\"240\" aria-label=\"签名区域\"></canvas>\
             <div class=\"row\"><button id=\"signature-clear\" type=\"button\" class=\"secondary\">清除重写</button>\
             <button id=\"signature-submit\" type=\"button\">确认签署</button></div>\
             <p id=\"signature-hint\" class=\"hint\" hidden>请先在签名区域内签名。</p>{form}\
             <div id=\"confirm-dialog\" class=\"dialog\" role=\"dialog\" aria-modal=\"true\" hidden>\
             <div class=\"panel\"><p>确认以上协议内容并签署？签署后不可撤回。</p>\
             <div class=\"row\"><button id=\"confirm-no\" type=\"button\" class=\"secondary\">取消</button>\
             <button id=\"confirm-yes\" type=\"button\">确认签署</button></div></div></div>"
        );
    } else {
        out.push_str("<p>完成身份验证后即可签名。</p>");
    }
    out.push_str("</section>");
    out
}

fn reject_block(page: &SignPage<'_>) -> String {
    format!(
        "<section class=\"reject\"><button id=\"reject-open\" type=\"button\" class=\"link\">拒绝签署</button>\
         <form id=\"reject-form\" method=\"post\" action=\"{}\" hidden>{}\
         <label for=\"reject-reason\">拒签原因（必填）</label>\
         <textarea id=\"reject-reason\" name=\"reason\" maxlength=\"512\" required></textarea>\
         <button id=\"reject-submit\" type=\"submit\" class=\"danger\">提交拒签</button></form></section>",
        action("/h5/sign/reject", page.token),
        hidden_csrf(page.csrf)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn error_pages_carry_the_code_and_message_ids() {
        let html = error_page(40004, "签署链接已过期，请重新获取", "联系发起方", None);
        assert!(html.contains("<span id=\"error-code\">40004</span>"));
        assert!(html.contains("id=\"error-message\">签署链接已过期，请重新获取<"));
    }

    #[test]
    fn signature_places_show_as_escaped_placeholders() {
        assert_eq!(
            show_signature_places(
                "<p>付款方：<esign-signature party-type=\"PAYER\"></esign-signature></p>\
                 <ESIGN-SIGNATURE party-type='\"&<b'/><!-- <esign-signature> --><i>a</i>"
            ),
            "<p>付款方：<span class=\"signature-place\">签署处（PAYER）</span></p>\
             <span class=\"signature-place\">签署处（&quot;&amp;&lt;b）</span><!-- <esign-signature> --><i>a</i>"
        );
        assert_eq!(show_signature_places("条款 <b"), "条款 <b");
    }

    #[test]
    fn other_parties_names_show_only_their_first_character() {
        assert_eq!(masked_name("李四"), "李*");
        assert_eq!(masked_name("欧阳娜娜"), "欧***");
    }
}
