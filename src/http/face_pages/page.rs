//! The HTML of the face verification pages: pure functions from what the query table says to markup,
//! with the caller's `uiConfig` applied and every value escaped.

use aggregates::values::ThemeColor;
use serde_json::Value;

/// The theme colour when the caller sets none.
const DEFAULT_THEME: &str = "#1677ff";
const DEFAULT_TITLE: &str = "人脸核验";

/// The caller's customisation, re-checked here: the domain validated it at initiation, but markup and
/// the security policy must never depend on that alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Look {
    pub title: String,
    pub logo_url: Option<String>,
    /// The logo's origin (`https://cdn.example.com`), the one outside source the policy allows.
    pub logo_origin: Option<String>,
    pub theme: String,
}

impl Look {
    /// From `ui_config_json`; anything unusable falls back to the default.
    pub fn from_ui_config(config: Option<&Value>) -> Self {
        let field = |name: &str| {
            config
                .and_then(|config| config.get(name))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|text| !text.is_empty())
        };
        let logo = field("logoUrl")
            .and_then(|text| url::Url::parse(text).ok())
            .filter(|url| matches!(url.scheme(), "https" | "http") && url.host().is_some());
        Self {
            title: field("title").unwrap_or(DEFAULT_TITLE).to_owned(),
            logo_origin: logo.as_ref().map(|url| url.origin().ascii_serialization()),
            logo_url: logo.map(String::from),
            theme: field("themeColor")
                .and_then(|text| ThemeColor::parse(text).ok())
                .map_or_else(
                    || DEFAULT_THEME.to_owned(),
                    |colour| colour.as_str().to_owned(),
                ),
        }
    }

    /// The content security policy: own resources only, scripts and styles by nonce, the logo's
    /// origin for images, no frames, forms only to esign.
    pub fn content_security_policy(&self, nonce: &str) -> String {
        let images = match &self.logo_origin {
            Some(origin) => format!("'self' {origin}"),
            None => "'self'".to_owned(),
        };
        format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
             img-src {images}; connect-src 'self'; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'"
        )
    }
}

/// What the page shows about one verification.
#[derive(Debug, Clone)]
pub(super) struct Verification {
    pub status: String,
    pub degraded: bool,
    pub fail_reason: Option<String>,
    pub provider_url: Option<String>,
    pub masked_name: String,
    pub masked_id_card_no: String,
    /// The deadline, as shown (Beijing time).
    pub expires_at: String,
    /// The page token, for the degraded form's requests.
    pub token: String,
}

/// Which page to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum View {
    /// The page `verificationUrl` opens: the hand-over to the provider, unless there is a result.
    Start,
    /// Back from the provider: the result.
    Result,
}

pub(super) use crate::documents::html::escape;

/// A name for display: its first character, the rest starred (`张*`, `欧阳**`).
pub(super) fn mask_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| if i == 0 { c } else { '*' })
        .collect()
}

/// Why a verification failed, in the person's words.
fn reason_text(reason: Option<&str>) -> &'static str {
    match reason {
        Some("FACE_MISMATCH") => "人脸比对不一致",
        Some("ID_CARD_MISMATCH") => "身份信息不一致",
        Some("POOR_QUALITY") => "图像质量不佳",
        Some("LIVENESS_FAILED") => "活体检测未通过",
        Some("USER_CANCELLED") => "核验已取消",
        Some("PROVIDER_ERROR") => "核验服务异常",
        Some("SMS_CODE_LOCKED") => "验证码错误次数过多",
        _ => "核验未通过",
    }
}

const STYLE: &str = "*{box-sizing:border-box}\
body{margin:0;font-family:-apple-system,'PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif;\
background:#f5f6f8;color:#1f2329;font-size:15px;line-height:1.5}\
header{background:var(--theme);color:#fff;padding:14px 16px;display:flex;align-items:center;gap:10px}\
header img{height:32px;max-width:96px;object-fit:contain;background:#fff;border-radius:6px;padding:2px}\
header h1{font-size:18px;margin:0;font-weight:600}\
main{max-width:480px;margin:0 auto;padding:16px}\
.card{background:#fff;border-radius:12px;padding:16px;margin-bottom:16px}\
.card h2{font-size:17px;margin:0 0 8px}\
.row{display:flex;justify-content:space-between;padding:8px 0;border-bottom:1px solid #f0f1f2}\
.row:last-child{border-bottom:0}.label{color:#646a73}\
.face{width:132px;height:132px;border-radius:50%;margin:8px auto 16px;border:3px solid var(--theme);\
display:flex;align-items:center;justify-content:center;color:var(--theme);font-size:14px}\
ul{padding-left:20px;margin:8px 0 16px;color:#646a73}\
.button{display:block;width:100%;padding:13px;font-size:17px;text-align:center;color:#fff;\
background:var(--theme);border:0;border-radius:8px;text-decoration:none;margin-top:12px}\
.button.secondary{background:#fff;color:var(--theme);border:1px solid var(--theme)}\
.button:disabled{opacity:.5}\
input{width:100%;font-size:18px;padding:11px;border:1px solid #d0d3d6;border-radius:8px;margin-top:12px;\
letter-spacing:4px}\
.result{text-align:center;padding:24px 16px}\
.icon{width:64px;height:64px;border-radius:50%;margin:0 auto 12px;display:flex;align-items:center;\
justify-content:center;font-size:34px;color:#fff;background:#86909c}\
.passed .icon{background:#00b42a}.failed .icon{background:#f53f3f}\
.status{font-size:20px;margin:0 0 6px}.muted{color:#86909c;font-size:13px}\
#degraded-status{min-height:20px;margin:10px 0 0}";

/// The degraded form's behaviour: send a code, check it, and reload to show the result.
const DEGRADED_SCRIPT: &str = "(function(){\
var form=document.getElementById('degraded');var token=form.getAttribute('data-token');\
var status=document.getElementById('degraded-status');\
function call(step,body){return fetch('/h5/face-verify/degraded/'+step+'?token='+encodeURIComponent(token),\
{method:'POST',headers:{'Content-Type':'application/json'},body:JSON.stringify(body||{})})\
.then(function(r){return r.json().then(function(j){return {ok:r.ok,body:j};});});}\
function show(text){status.textContent=text;}\
document.getElementById('degraded-send').addEventListener('click',function(){\
var button=this;button.disabled=true;\
call('code').then(function(r){if(r.ok){show('验证码已发送至 '+r.body.mobile+'，5 分钟内有效');\
var left=60;var t=setInterval(function(){left-=1;button.textContent=left+' 秒后可重新获取';\
if(left<=0){clearInterval(t);button.disabled=false;button.textContent='重新获取验证码';}},1000);}\
else{button.disabled=false;show(r.body.message||'发送失败，请稍后再试');}})\
.catch(function(){button.disabled=false;show('网络异常，请稍后再试');});});\
document.getElementById('degraded-verify').addEventListener('click',function(){\
var code=document.getElementById('degraded-code').value.trim();\
if(!/^[0-9]{6}$/.test(code)){show('请输入 6 位数字验证码');return;}\
call('verify',{code:code}).then(function(r){if(r.ok){location.reload();}\
else if(r.body.code===40006){show('验证码错误，请重新输入');}\
else{show(r.body.message||'验证失败');}}).catch(function(){show('网络异常，请稍后再试');});});\
})();";

/// A whole page in the caller's look.
pub(super) fn document(look: &Look, nonce: &str, body: &str, script: Option<&str>) -> String {
    let logo = look.logo_url.as_deref().map_or_else(String::new, |url| {
        format!(
            "<img id=\"logo\" src=\"{}\" alt=\"logo\" referrerpolicy=\"no-referrer\">",
            escape(url)
        )
    });
    let script = script.map_or_else(String::new, |code| {
        format!("<script nonce=\"{nonce}\">{code}</script>")
    });
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style nonce=\"{nonce}\">:root{{--theme:{theme}}}{STYLE}</style></head>\
         <body><header>{logo}<h1 id=\"page-title\">{title}</h1></header><main>{body}</main>{script}\
         </body></html>",
        title = escape(&look.title),
        theme = look.theme,
    )
}

/// The page for a verification; returns the markup and whether it needs the degraded script.
pub(super) fn verification(view: View, v: &Verification) -> (String, Option<&'static str>) {
    let person = format!(
        "<div class=\"card\"><h2>核验信息</h2>\
         <div class=\"row\"><span class=\"label\">姓名</span><span id=\"person-name\">{}</span></div>\
         <div class=\"row\"><span class=\"label\">身份证号</span><span id=\"person-id\">{}</span></div>\
         <div class=\"row\"><span class=\"label\">有效期至</span><span>{}</span></div></div>",
        escape(&v.masked_name),
        escape(&v.masked_id_card_no),
        escape(&v.expires_at),
    );
    let waiting = matches!(v.status.as_str(), "PENDING" | "PROCESSING");
    if waiting && v.degraded {
        let body = format!("{}{person}{}", result_card(v), degraded_form(&v.token));
        return (body, Some(DEGRADED_SCRIPT));
    }
    if view == View::Start && waiting {
        let body = match &v.provider_url {
            Some(url) => format!(
                "{person}<div class=\"card\"><div class=\"face\">人脸核验</div>\
                 <ul><li>请本人操作，正对屏幕，保持面部完整清晰</li>\
                 <li>请在光线充足的环境中进行</li>\
                 <li>将跳转至人脸核验服务页面，完成后自动返回</li></ul>\
                 <a id=\"face-verify-start\" class=\"button\" href=\"{}\" rel=\"noreferrer\">开始人脸核验</a></div>\
                 <p class=\"muted\">人脸信息由核验服务商采集比对，本页面仅接收核验结果。</p>",
                escape(url)
            ),
            // No provider could take the task yet; a background round will (docs/face-providers.md).
            None => format!(
                "{person}<div class=\"card result\" id=\"face-unavailable\">\
                 <p class=\"status\">核验服务暂时繁忙</p>\
                 <p class=\"muted\">系统正在重新连接人脸核验服务，请稍后刷新本页。</p>\
                 <a class=\"button secondary\" href=\"?token={}\">刷新</a></div>",
                escape(&url_component(&v.token))
            ),
        };
        return (body, None);
    }
    let mut body = format!("{}{person}", result_card(v));
    if waiting && let Some(url) = &v.provider_url {
        // Back without a result (the provider has not decided, or the person left early).
        body.push_str(&format!(
            "<div class=\"card\"><a id=\"face-verify-start\" class=\"button secondary\" href=\"{}\" \
             rel=\"noreferrer\">重新进入人脸核验</a>\
             <a class=\"button secondary\" href=\"/h5/face-verify/return?token={}\">刷新结果</a></div>",
            escape(url),
            escape(&url_component(&v.token))
        ));
    }
    (body, None)
}

/// `#face-result`: the status in words, with `data-status` for programs.
fn result_card(v: &Verification) -> String {
    let (class, icon, status, detail) = match v.status.as_str() {
        "SUCCESS" if v.degraded => (
            "passed",
            "✓",
            "核验通过".to_owned(),
            "已通过短信验证码与身份信息核验，请返回业务页面继续。".to_owned(),
        ),
        "SUCCESS" => (
            "passed",
            "✓",
            "核验通过".to_owned(),
            "身份核验已通过，请返回业务页面继续。".to_owned(),
        ),
        "FAILED" => (
            "failed",
            "✕",
            "核验未通过".to_owned(),
            format!(
                "原因：{}。请返回业务页面重新发起核验。",
                reason_text(v.fail_reason.as_deref())
            ),
        ),
        "EXPIRED" => (
            "expired",
            "!",
            "核验已过期".to_owned(),
            "核验链接已过期，请返回业务页面重新获取。".to_owned(),
        ),
        _ if v.degraded => (
            "pending",
            "…",
            "请完成短信验证".to_owned(),
            "人脸核验服务暂不可用，请通过短信验证码完成身份核验。".to_owned(),
        ),
        _ => (
            "pending",
            "…",
            "核验结果确认中".to_owned(),
            "核验结果确认中，请稍后刷新本页。".to_owned(),
        ),
    };
    format!(
        "<div id=\"face-result\" class=\"card result {class}\" data-status=\"{status_code}\">\
         <div class=\"icon\">{icon}</div><p class=\"status\">{status}</p>\
         <p class=\"muted\">{detail}</p></div>",
        status_code = escape(&v.status),
        detail = escape(&detail),
    )
}

fn degraded_form(token: &str) -> String {
    format!(
        "<div class=\"card\" id=\"degraded\" data-token=\"{}\"><h2>短信验证</h2>\
         <p class=\"muted\">验证码将发送至发起核验时登记的手机号。</p>\
         <button id=\"degraded-send\" class=\"button secondary\" type=\"button\">获取验证码</button>\
         <input id=\"degraded-code\" inputmode=\"numeric\" maxlength=\"6\" autocomplete=\"one-time-code\" \
         placeholder=\"6 位验证码\">\
         <button id=\"degraded-verify\" class=\"button\" type=\"button\">验证</button>\
         <p id=\"degraded-status\" class=\"muted\" role=\"status\"></p></div>",
        escape(token)
    )
}

/// The error page: the spec's code and message.
pub(super) fn error(code: u32, message: &str) -> String {
    // The API's messages speak of sign links; these two say it for this page.
    let (message, hint) = match code {
        40004 => ("核验链接已过期", "请返回业务页面重新获取核验链接。"),
        40400 => ("核验链接无效", "请确认链接完整，或返回业务页面重新获取。"),
        _ => (message, "请稍后再试，或返回业务页面重新发起。"),
    };
    format!(
        "<div class=\"card result failed\"><div class=\"icon\">!</div>\
         <p class=\"status\" id=\"error-message\">{}</p><p class=\"muted\">{hint}</p>\
         <p class=\"muted\">错误码 <span id=\"error-code\">{code}</span></p></div>",
        escape(message)
    )
}

/// Percent-encodes a query value (the token holds only `[A-Za-z0-9_.]`, but a link must not depend
/// on that).
fn url_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ui_config_is_applied_and_unusable_values_fall_back() {
        let look = Look::from_ui_config(Some(&json!({
            "title": "天财<商户>认证",
            "logoUrl": "https://cdn.example.com/logo.png",
            "themeColor": "#FF6600"
        })));
        assert_eq!(look.theme, "#ff6600");
        assert_eq!(look.logo_origin.as_deref(), Some("https://cdn.example.com"));
        let html = document(&look, "n0nce", "", None);
        assert!(html.contains("<h1 id=\"page-title\">天财&lt;商户&gt;认证</h1>"));
        assert!(html.contains("--theme:#ff6600"));
        assert!(html.contains("src=\"https://cdn.example.com/logo.png\""));
        let csp = look.content_security_policy("n0nce");
        assert!(
            csp.contains("img-src 'self' https://cdn.example.com;"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'nonce-n0nce'"));

        let fallback = Look::from_ui_config(Some(&json!({
            "themeColor": "red;}body{display:none",
            "logoUrl": "javascript:alert(1)"
        })));
        assert_eq!(fallback.theme, DEFAULT_THEME);
        assert_eq!(fallback.title, DEFAULT_TITLE);
        assert_eq!(fallback.logo_url, None);
        assert!(
            fallback
                .content_security_policy("x")
                .contains("img-src 'self';")
        );
    }

    #[test]
    fn names_are_masked_after_the_first_character() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
    }

    fn verification_with(status: &str, degraded: bool) -> Verification {
        Verification {
            status: status.to_owned(),
            degraded,
            fail_reason: Some("FACE_MISMATCH".into()),
            provider_url: Some("https://provider.example.com/capture/T1?a=1&b=2".into()),
            masked_name: "张*".into(),
            masked_id_card_no: "110105********002X".into(),
            expires_at: "2026-01-01 12:00".into(),
            token: "FACE_VERIFY_1.1700000000.abc".into(),
        }
    }

    #[test]
    fn the_start_page_hands_over_and_the_result_page_shows_the_status() {
        let (start, script) = verification(View::Start, &verification_with("PROCESSING", false));
        assert!(script.is_none());
        assert!(start.contains(
            "id=\"face-verify-start\" class=\"button\" \
             href=\"https://provider.example.com/capture/T1?a=1&amp;b=2\""
        ));
        assert!(!start.contains("face-result"));

        let (failed, _) = verification(View::Result, &verification_with("FAILED", false));
        assert!(failed.contains("data-status=\"FAILED\""));
        assert!(failed.contains("核验未通过") && failed.contains("人脸比对不一致"));
        assert!(!failed.contains("face-verify-start"));

        let (passed, _) = verification(View::Start, &verification_with("SUCCESS", false));
        assert!(passed.contains("data-status=\"SUCCESS\"") && passed.contains("核验通过"));

        let (expired, _) = verification(View::Result, &verification_with("EXPIRED", false));
        assert!(expired.contains("data-status=\"EXPIRED\"") && expired.contains("核验已过期"));
        assert!(!expired.contains("face-verify-start"));

        // Back before the provider decided: the result is pending, and the provider's page is offered
        // again.
        let (pending, _) = verification(View::Result, &verification_with("PROCESSING", false));
        assert!(pending.contains("data-status=\"PROCESSING\"") && pending.contains("确认中"));
        assert!(pending.contains("id=\"face-verify-start\""));

        let (degraded, script) = verification(View::Start, &verification_with("PENDING", true));
        assert!(script.is_some());
        for id in [
            "degraded-send",
            "degraded-code",
            "degraded-verify",
            "face-result",
        ] {
            assert!(degraded.contains(&format!("id=\"{id}\"")), "{id}");
        }
    }

    #[test]
    fn the_error_page_names_the_code() {
        let html = error(40004, "签署链接已过期，请重新获取");
        assert!(html.contains("<span id=\"error-code\">40004</span>"));
    }
}
