//! One signer's phone in the journey: a client without script that opens the sign link, keeps the
//! service's cookies, follows redirects as a browser does, and posts what the H5 page's forms and
//! script post.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE, USER_AGENT};
use serde_json::Value;

use super::JourneyError;

/// What the signers' phones say they are (recorded as the signature's device).
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";

/// One signer's phone: a client without script that keeps the service's cookies and follows
/// redirects, as the page's forms are followed by a browser.
pub(super) struct Phone<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    cookies: HashMap<String, String>,
}

/// A page the phone ended on.
struct Page {
    url: String,
    html: String,
}

impl Page {
    fn has(&self, id: &str) -> bool {
        self.html.contains(&format!("id=\"{id}\""))
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self, step: &'static str) -> Result<String, JourneyError> {
        const FIELD: &str = "name=\"csrf\" value=\"";
        let start = self
            .html
            .find(FIELD)
            .map(|at| at + FIELD.len())
            .ok_or_else(|| self.unexpected(step, "no CSRF field"))?;
        let length = self.html[start..]
            .find('"')
            .ok_or_else(|| self.unexpected(step, "an unterminated CSRF field"))?;
        Ok(self.html[start..start + length].to_owned())
    }

    fn expect(&self, step: &'static str, id: &str) -> Result<(), JourneyError> {
        if self.has(id) {
            Ok(())
        } else {
            Err(self.unexpected(step, &format!("no #{id}")))
        }
    }

    fn unexpected(&self, step: &'static str, what: &str) -> JourneyError {
        // The status line or error message says why a step did not move on.
        let hint = ["sms-status", "face-status", "error-message"]
            .iter()
            .find_map(|id| text_of(&self.html, id))
            .unwrap_or_default();
        JourneyError::Unexpected {
            step,
            what: format!("{what} on {} ({hint})", self.url),
        }
    }
}

/// The text right inside the element with `id`, up to its first child tag.
fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(rest[start..start + end].to_owned())
}

impl<'a> Phone<'a> {
    pub(super) fn new(http: &'a reqwest::Client, base: &'a str) -> Self {
        Self {
            http,
            base,
            cookies: HashMap::new(),
        }
    }

    /// The whole signer's part on the link `sign_url`: SMS, face, signature.
    pub(super) async fn sign(
        &mut self,
        sign_url: &str,
        mobile: &str,
        signature: &str,
    ) -> Result<(), JourneyError> {
        let token = sign_url
            .split_once("token=")
            .map(|(_, token)| token.to_owned())
            .ok_or_else(|| JourneyError::Unexpected {
                step: "initiate",
                what: format!("no token in {sign_url}"),
            })?;
        let base = self.base;
        let action = |path: &str| format!("{base}{path}?token={token}");

        let page = self.open("open link", sign_url).await?;
        page.expect("open link", "sms-send")?;
        let csrf = page.csrf("open link")?;

        let page = self
            .submit(
                "send SMS code",
                &action("/h5/sign/sms/send"),
                &[("csrf", &csrf)],
            )
            .await?;
        page.expect("send SMS code", "sms-verify")?;
        let code = self.latest_code(mobile).await?;
        let page = self
            .submit(
                "verify SMS code",
                &action("/h5/sign/sms/verify"),
                &[("csrf", &csrf), ("code", &code)],
            )
            .await?;
        page.expect("verify SMS code", "face-start")?;

        // Over to the provider's capture page, which answers PASS and sends the phone back.
        let started = self
            .send(
                "start face check",
                &action("/h5/sign/face/start"),
                Some(&[("csrf", &csrf)]),
            )
            .await?;
        let capture = self.redirect_of("start face check", started).await?;
        let shown = self.send("face capture page", &capture, None).await?;
        expect_status("face capture page", shown, StatusCode::OK).await?;
        let captured = self
            .send(
                "face capture",
                &capture,
                Some(&[("outcome", "PASS"), ("score", "0.95")]),
            )
            .await?;
        let back = self.redirect_of("face capture", captured).await?;
        let page = self.open("face return", &back).await?;
        page.expect("face return", "signature-pad")?;

        let page = self
            .submit(
                "sign",
                &action("/h5/sign/submit"),
                &[("csrf", &csrf), ("signature", signature)],
            )
            .await?;
        page.expect("sign", "done")?;
        Ok(())
    }

    /// The newest signing code texted to `mobile`, from the development sender's viewer.
    async fn latest_code(&self, mobile: &str) -> Result<String, JourneyError> {
        const STEP: &str = "read SMS code";
        let response = self
            .send(
                STEP,
                &format!("{}/dev/sms?mobile={mobile}", self.base),
                None,
            )
            .await?;
        let text = expect_status(STEP, response, StatusCode::OK).await?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = body["messages"]
            .as_array()
            .and_then(|messages| {
                messages
                    .iter()
                    .rev()
                    .find(|message| message["purpose"] == "SIGNING_CODE")
            })
            .and_then(|message| message["text"].as_str())
            .ok_or_else(|| JourneyError::Unexpected {
                step: STEP,
                what: format!("no signing code for {mobile}"),
            })?;
        let digits: Vec<char> = message.chars().collect();
        digits
            .windows(6)
            .find(|window| window.iter().all(char::is_ascii_digit))
            .map(|window| window.iter().collect())
            .ok_or_else(|| JourneyError::Unexpected {
                step: STEP,
                what: format!("no code in {message:?}"),
            })
    }

    async fn open(&mut self, step: &'static str, url: &str) -> Result<Page, JourneyError> {
        self.follow(step, url.to_owned(), None).await
    }

    async fn submit(
        &mut self,
        step: &'static str,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<Page, JourneyError> {
        self.follow(step, url.to_owned(), Some(form)).await
    }

    /// Sends `form` (or a GET) and follows redirects, a 303 turning the POST into a GET.
    async fn follow(
        &mut self,
        step: &'static str,
        mut url: String,
        mut form: Option<&[(&str, &str)]>,
    ) -> Result<Page, JourneyError> {
        for _ in 0..5 {
            let response = self.send(step, &url, form).await?;
            if response.status().is_redirection() {
                url = self.redirect_of(step, response).await?;
                form = None;
                continue;
            }
            self.keep_cookies(&response);
            let html = expect_status(step, response, StatusCode::OK).await?;
            return Ok(Page { url, html });
        }
        Err(JourneyError::Unexpected {
            step,
            what: format!("too many redirects, last to {url}"),
        })
    }

    /// One request; keeps the cookies the service sets.
    async fn send(
        &self,
        step: &'static str,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<reqwest::Response, JourneyError> {
        let mut request = match form {
            Some(fields) => self.http.post(url).form(fields),
            None => self.http.get(url),
        };
        request = request.header(USER_AGENT, PHONE);
        let ours = url.starts_with(self.base);
        if ours && !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request = request.header(COOKIE, cookies.join("; "));
        }
        request
            .send()
            .await
            .map_err(|source| JourneyError::Transport { step, source })
    }

    /// The absolute target of a redirect, after keeping its cookies.
    async fn redirect_of(
        &mut self,
        step: &'static str,
        response: reqwest::Response,
    ) -> Result<String, JourneyError> {
        if !response.status().is_redirection() {
            let status = response.status();
            let excerpt = excerpt(response).await;
            return Err(JourneyError::Status {
                step,
                status,
                excerpt,
            });
        }
        self.keep_cookies(&response);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| JourneyError::Unexpected {
                step,
                what: "a redirect without Location".to_owned(),
            })?;
        Ok(if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{}{location}", self.base)
        })
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        if !response.url().as_str().starts_with(self.base) {
            return;
        }
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value
                .to_str()
                .ok()
                .and_then(|text| text.split(';').next())
                .and_then(|pair| pair.split_once('='));
            if let Some((name, value)) = pair {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
}

/// The body when the status is `wanted`, else an error with the start of the body.
async fn expect_status(
    step: &'static str,
    response: reqwest::Response,
    wanted: StatusCode,
) -> Result<String, JourneyError> {
    let status = response.status();
    if status != wanted {
        let excerpt = excerpt(response).await;
        return Err(JourneyError::Status {
            step,
            status,
            excerpt,
        });
    }
    response
        .text()
        .await
        .map_err(|source| JourneyError::Transport { step, source })
}

async fn excerpt(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    text_of(&text, "error-message")
        .map(|message| {
            let code = text_of(&text, "error-code").unwrap_or_default();
            format!("{code} {message}")
        })
        .unwrap_or_else(|| text.chars().take(300).collect())
}

/// A 300 x 120 RGBA PNG with two strokes, as a `data:` URL: what the pad's `toDataURL` posts.
pub(super) fn signature_data_url() -> String {
    use base64::Engine;
    let (width, height) = (300u32, 120u32);
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let ink = (x / 2..x / 2 + 3).contains(&(y * 2)) || (x + 2 * y) % 89 < 2;
            pixels.extend_from_slice(if ink {
                &[20, 20, 20, 255]
            } else {
                &[0, 0, 0, 0]
            });
        }
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing a well-formed image into memory cannot fail; an empty PNG would show as 40001.
    if let Ok(mut writer) = encoder.write_header() {
        let _ = writer.write_image_data(&pixels);
        let _ = writer.finish();
    }
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_a_png_data_url() {
        use base64::Engine;
        let url = signature_data_url();
        let encoded = url
            .strip_prefix("data:image/png;base64,")
            .unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{url:.40}");
    }

    #[test]
    fn text_is_read_inside_the_element() {
        let html = "<p id=\"sms-status\" class=\"x\">验证码已发送<b>x</b></p>";
        assert_eq!(text_of(html, "sms-status").as_deref(), Some("验证码已发送"));
        assert_eq!(text_of(html, "face-status"), None);
    }
}
