//! A headless Chromium for the end-to-end tests, driven over the DevTools protocol: a phone-sized,
//! touch-enabled viewport, helpers that wait for what a person would see (polling with a deadline,
//! never a fixed sleep), real input events (mouse clicks, key strokes, touch strokes on a canvas), and
//! numbered screenshots of each step under `<target>/e2e-artifacts/<test>/`.
//!
//! Chromium comes from the system (`chromium` on the PATH, or `ESIGN_CHROMIUM`). When it is missing the
//! browser tests are skipped (`crate::helpers::skip`). The browser is
//! killed when its [`Browser`] is dropped, so a failing test does not leave one behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::browser::BrowserConfig;
use chromiumoxide::cdp::browser_protocol::dom::SetFileInputFilesParams;
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchTouchEventParams, DispatchTouchEventType, InsertTextParams, TouchPoint,
};
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How long a page may take to show what a step waits for, on a loaded two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// A phone: 390 x 844 CSS pixels at device scale 2, mobile, with touch.
fn phone() -> Viewport {
    Viewport {
        width: 390,
        height: 844,
        device_scale_factor: Some(2.0),
        emulating_mobile: true,
        is_landscape: false,
        has_touch: true,
    }
}

/// The Chromium executable, if there is one.
fn executable() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ESIGN_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

/// Where this run's screenshots go: `$CARGO_TARGET_DIR/e2e-artifacts`, or `target/e2e-artifacts`.
pub fn artifacts_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("e2e-artifacts")
}

/// One test's browser: its own profile directory, its own screenshot folder.
pub struct Browser {
    browser: chromiumoxide::Browser,
    handler: tokio::task::JoinHandle<()>,
    shots: Arc<Shots>,
    _profile: tempfile::TempDir,
}

/// The numbered screenshots of one test.
struct Shots {
    dir: PathBuf,
    next: AtomicUsize,
}

impl Browser {
    /// Starts Chromium for test `test` (the screenshot folder's name), or `None` when there is no
    /// Chromium.
    pub async fn launch(test: &str) -> Option<Self> {
        let Some(executable) = executable() else {
            crate::helpers::skip(
                "Chromium",
                format_args!("no `chromium` on the PATH and no ESIGN_CHROMIUM ({test})"),
            );
            return None;
        };
        let profile = tempfile::tempdir().expect("a profile directory");
        let config = BrowserConfig::builder()
            .chrome_executable(&executable)
            // Only the flags below: the library's defaults include ones we do not want (a fixed
            // English UI, automation banners).
            .disable_default_args()
            .no_sandbox()
            .args([
                "disable-gpu",
                "disable-quic",
                "no-first-run",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                "disable-default-apps",
                "disable-dev-shm-usage",
                "disable-extensions",
                "hide-scrollbars",
            ])
            .arg(("lang", "zh-CN"))
            .user_data_dir(profile.path())
            .viewport(phone())
            .launch_timeout(DEADLINE)
            .request_timeout(DEADLINE)
            .build()
            .expect("a browser configuration");
        let (browser, mut handler) = chromiumoxide::Browser::launch(config)
            .await
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", executable.display()));
        let handler = tokio::spawn(async move {
            // The handler must be polled for the connection to make progress; its errors are
            // per-message and surface as failed commands.
            while handler.next().await.is_some() {}
        });
        let dir = artifacts_root().join(test);
        // Screenshots of an earlier run of the same test would mix with this run's.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the artifacts directory");
        Some(Self {
            browser,
            handler,
            shots: Arc::new(Shots {
                dir,
                next: AtomicUsize::new(1),
            }),
            _profile: profile,
        })
    }

    /// A new tab showing `url`, loaded.
    pub async fn open(&self, url: &str) -> Tab {
        let page = self
            .browser
            .new_page(url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
        Tab {
            page,
            shots: Arc::clone(&self.shots),
        }
    }

    /// Closes the browser and waits for it to exit. Dropping it kills it too (when a test fails).
    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.handler.abort();
        // The child process was started with kill-on-drop: dropping `browser` ends it.
        if let Some(child) = self.browser.get_mut_child() {
            let _ = child.inner.start_kill();
        }
    }
}

/// A tab in the browser.
pub struct Tab {
    page: Page,
    shots: Arc<Shots>,
}

impl Tab {
    pub fn page(&self) -> &Page {
        &self.page
    }

    /// Navigates to `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.page
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("cannot navigate to {url}: {error}"));
    }

    /// Reloads the page and waits for it to load.
    pub async fn reload(&self) {
        self.page.reload().await.expect("reload");
    }

    /// The address shown in the address bar.
    pub async fn url(&self) -> String {
        self.page.url().await.ok().flatten().unwrap_or_default()
    }

    /// Evaluates a JavaScript expression; `None` while the page cannot answer (navigating).
    pub async fn try_eval<T: DeserializeOwned>(&self, expression: &str) -> Option<T> {
        let result = self.page.evaluate(expression).await.ok()?;
        result.into_value().ok()
    }

    /// Evaluates a JavaScript expression, failing the test when the page cannot.
    pub async fn eval<T: DeserializeOwned>(&self, expression: &str) -> T {
        let result = self
            .page
            .evaluate(expression)
            .await
            .unwrap_or_else(|error| panic!("evaluating {expression}: {error}"));
        result
            .into_value()
            .unwrap_or_else(|error| panic!("the result of {expression}: {error}"))
    }

    /// Polls `expression` until it gives `Some` (a non-null value), or fails the test at the deadline
    /// with a screenshot and what the page shows.
    pub async fn wait_until<T: DeserializeOwned>(&self, what: &str, expression: &str) -> T {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(Some(value)) = self.try_eval::<Option<T>>(expression).await {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                self.screenshot(&format!("timeout-{}", slug(what))).await;
                let body: Option<String> = self
                    .try_eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!(
                    "waited {DEADLINE:?} for {what} at {}; the page shows:\n{}",
                    self.url().await,
                    body.unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until an element matching `selector` is visible.
    pub async fn wait_for(&self, selector: &str) {
        let _: bool = self
            .wait_until(
                &format!("{selector} to be visible"),
                &format!(
                    "(() => {{ const e = document.querySelector({sel}); \
                     return e && e.getClientRects().length > 0 && \
                     getComputedStyle(e).visibility !== 'hidden' ? true : null; }})()",
                    sel = js_string(selector)
                ),
            )
            .await;
    }

    /// Waits until an element matching `selector` is visible and its text contains `needle`;
    /// returns the text.
    pub async fn wait_for_text(&self, selector: &str, needle: &str) -> String {
        self.wait_until(
            &format!("{selector} to show {needle:?}"),
            &format!(
                "(() => {{ const e = document.querySelector({sel}); \
                 if (!e || e.getClientRects().length === 0) return null; \
                 const t = e.innerText || e.textContent || ''; \
                 return t.includes({needle}) ? t : null; }})()",
                sel = js_string(selector),
                needle = js_string(needle)
            ),
        )
        .await
    }

    /// Whether an element matching `selector` is visible now.
    pub async fn is_visible(&self, selector: &str) -> bool {
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); \
             return !!e && e.getClientRects().length > 0; }})()",
            js_string(selector)
        ))
        .await
    }

    /// The visible text of the element matching `selector` (it must exist).
    pub async fn text(&self, selector: &str) -> String {
        self.wait_until(
            &format!("{selector} to exist"),
            &format!(
                "(() => {{ const e = document.querySelector({}); \
                 return e ? (e.innerText || e.textContent || '') : null; }})()",
                js_string(selector)
            ),
        )
        .await
    }

    /// An attribute of the element matching `selector`, if it has it.
    pub async fn attribute(&self, selector: &str, name: &str) -> Option<String> {
        self.wait_for_element(selector).await;
        self.eval(&format!(
            "document.querySelector({}).getAttribute({})",
            js_string(selector),
            js_string(name)
        ))
        .await
    }

    async fn wait_for_element(&self, selector: &str) {
        let _: bool = self
            .wait_until(
                &format!("{selector} to exist"),
                &format!(
                    "document.querySelector({}) ? true : null",
                    js_string(selector)
                ),
            )
            .await;
    }

    /// Clicks the visible element matching `selector` with real mouse events at its centre.
    pub async fn click(&self, selector: &str) {
        self.wait_for(selector).await;
        let element = self
            .page
            .find_element(selector)
            .await
            .unwrap_or_else(|error| panic!("{selector}: {error}"));
        element
            .click()
            .await
            .unwrap_or_else(|error| panic!("clicking {selector}: {error}"));
    }

    /// Focuses the input matching `selector`, clears it and types `text`: key by key when it is ASCII,
    /// as committed input-method text otherwise.
    pub async fn type_into(&self, selector: &str, text: &str) {
        self.wait_for(selector).await;
        let _: bool = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); e.value = ''; return true; }})()",
                js_string(selector)
            ))
            .await;
        let element = self
            .page
            .find_element(selector)
            .await
            .unwrap_or_else(|error| panic!("{selector}: {error}"));
        element.click().await.expect("focus the input");
        if text.is_ascii() {
            element
                .type_str(text)
                .await
                .unwrap_or_else(|error| panic!("typing into {selector}: {error}"));
        } else {
            // Chinese is entered through an input method, which commits whole text: the same call.
            self.page
                .execute(InsertTextParams::new(text))
                .await
                .unwrap_or_else(|error| panic!("entering text into {selector}: {error}"));
        }
    }

    /// Chooses `files` in the file input matching `selector`, as a person picking them would
    /// (CDP `DOM.setFileInputFiles`; the page sees a `change` event).
    pub async fn set_files(&self, selector: &str, files: &[&Path]) {
        self.wait_for_element(selector).await;
        let element = self
            .page
            .find_element(selector)
            .await
            .unwrap_or_else(|error| panic!("{selector}: {error}"));
        let params = SetFileInputFilesParams::builder()
            .files(files.iter().map(|file| file.display().to_string()))
            .backend_node_id(element.backend_node_id)
            .build()
            .expect("file input parameters");
        self.page
            .execute(params)
            .await
            .unwrap_or_else(|error| panic!("choosing files for {selector}: {error}"));
    }

    /// The visible element's box in CSS pixels of the viewport: (x, y, width, height).
    pub async fn rect(&self, selector: &str) -> (f64, f64, f64, f64) {
        self.wait_for(selector).await;
        let rect: Vec<f64> = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); e.scrollIntoView({{block: 'center'}}); \
                 const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }})()",
                js_string(selector)
            ))
            .await;
        (rect[0], rect[1], rect[2], rect[3])
    }

    /// Draws one stroke with a finger on the element matching `selector` (a canvas): touch start at
    /// the first point, a move through each of the others, touch end. Points are fractions of the
    /// element's width and height. The browser turns these into pointer and touch events exactly as
    /// it does for a real finger.
    pub async fn draw_stroke(&self, selector: &str, points: &[(f64, f64)]) {
        assert!(points.len() >= 2, "a stroke needs two points");
        let (x, y, width, height) = self.rect(selector).await;
        let at = |(fx, fy): (f64, f64)| {
            TouchPoint::builder()
                .x(x + fx * width)
                .y(y + fy * height)
                .radius_x(2.0)
                .radius_y(2.0)
                .force(0.5)
                .id(1.0)
                .build()
                .expect("a touch point")
        };
        let touch = |kind: DispatchTouchEventType, touches: Vec<TouchPoint>| {
            DispatchTouchEventParams::builder()
                .r#type(kind)
                .touch_points(touches)
                .build()
                .expect("a touch event")
        };
        self.page
            .execute(touch(
                DispatchTouchEventType::TouchStart,
                vec![at(points[0])],
            ))
            .await
            .expect("touch start");
        for point in &points[1..] {
            // Intermediate points, so the page sees a continuous line rather than jumps.
            self.page
                .execute(touch(DispatchTouchEventType::TouchMove, vec![at(*point)]))
                .await
                .expect("touch move");
        }
        self.page
            .execute(TouchEnd::default())
            .await
            .expect("touch end");
    }

    /// Scrolls the element matching `selector` to the middle of the viewport, then takes a screenshot
    /// (a phone shows only part of a long page).
    pub async fn screenshot_at(&self, selector: &str, step: &str) -> PathBuf {
        self.rect(selector).await;
        self.screenshot(step).await
    }

    /// Saves a screenshot of the viewport as `<nn>-<step>.png` in the test's folder; returns its path.
    pub async fn screenshot(&self, step: &str) -> PathBuf {
        let number = self.shots.next.fetch_add(1, Ordering::SeqCst);
        let path = self
            .shots
            .dir
            .join(format!("{number:02}-{}.png", slug(step)));
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .build();
        match self.page.screenshot(params).await {
            Ok(png) => std::fs::write(&path, png).expect("write the screenshot"),
            // A screenshot is evidence, not the assertion: a failing one is noted, not fatal.
            Err(error) => eprintln!("screenshot {} failed: {error}", path.display()),
        }
        path
    }
}

/// `Input.dispatchTouchEvent` of type `touchEnd`. The generated parameters type leaves out an empty
/// `touchPoints`, which Chromium requires (as an empty list) for the end of a touch.
#[derive(Debug, serde::Serialize)]
struct TouchEnd {
    r#type: &'static str,
    #[serde(rename = "touchPoints")]
    touch_points: Vec<TouchPoint>,
}

impl Default for TouchEnd {
    fn default() -> Self {
        Self {
            r#type: "touchEnd",
            touch_points: Vec::new(),
        }
    }
}

impl chromiumoxide::Method for TouchEnd {
    fn identifier(&self) -> chromiumoxide::types::MethodId {
        "Input.dispatchTouchEvent".into()
    }
}

impl chromiumoxide::Command for TouchEnd {
    type Response = Value;
}

/// A file-name-safe version of a step's name.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// `text` as a JavaScript string literal.
pub fn js_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// A stroke shaped like a handwritten signature across the middle of a pad, as fractions.
pub fn signature_stroke() -> Vec<(f64, f64)> {
    (0..=40)
        .map(|i| {
            let t = f64::from(i) / 40.0;
            (
                0.1 + 0.8 * t,
                0.5 + 0.25 * (t * std::f64::consts::TAU * 2.0).sin(),
            )
        })
        .collect()
}

/// Proves the harness itself: a phone-sized touch viewport, and a finger stroke on a canvas arriving
/// as pointer events of type touch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_touch_stroke_reaches_a_canvas_as_pointer_events_on_a_phone_viewport() {
    let Some(browser) = Browser::launch("browser-harness").await else {
        return;
    };
    let tab = browser.open("about:blank").await;
    tab.page()
        .set_content(
            "<!DOCTYPE html><html><head><meta name=viewport content='width=device-width'></head>\
             <body style='margin:0'><canvas id=pad width=300 height=150 style='touch-action:none'>\
             </canvas><p id=log></p><script>\
             const seen = []; const pad = document.getElementById('pad');\
             for (const kind of ['pointerdown', 'pointermove', 'pointerup']) {\
               pad.addEventListener(kind, e => { seen.push(kind + ':' + e.pointerType);\
                 document.getElementById('log').textContent = seen.join(' '); });\
             }</script></body></html>",
        )
        .await
        .expect("set the page");
    let width: f64 = tab.eval("window.innerWidth").await;
    assert_eq!(width, 390.0);
    let touch: bool = tab.eval("navigator.maxTouchPoints > 0").await;
    assert!(touch, "touch emulation is on");
    tab.draw_stroke("#pad", &signature_stroke()).await;
    let log = tab.wait_for_text("#log", "pointerup:touch").await;
    assert!(log.starts_with("pointerdown:touch"), "{log}");
    assert!(log.contains("pointermove:touch"), "{log}");
    let shot = tab.screenshot("canvas").await;
    assert!(std::fs::metadata(&shot).expect("a screenshot").len() > 0);
    browser.close().await;
}
