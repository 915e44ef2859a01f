//! A real browser for the console tests: Debian's Chromium, headless, driven over W3C WebDriver
//! by its chromedriver (one process per test run, on a free port; a fresh profile per session).
//!
//! The WebDriver client is `thirtyfour` rather than `fantoccini`: it is the more actively released
//! of the two, it has element queries that poll (the waits below), it reads Chromium's console log
//! (`/se/log`, outside W3C), and without its default features it is plain HTTP over the reqwest
//! family the tests already build, with no driver downloader (Debian's chromedriver is the one that
//! matches Debian's Chromium). Only the end of a dropped session is ours (see `Drop`). Every wait
//! is explicit (a condition polled until [`PATIENCE`]), never a sleep, and every WebDriver call is
//! bounded ([`REQUEST_TIMEOUT`]).
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use thirtyfour::common::command::Command as WebDriverCommand;
use thirtyfour::error::{WebDriverErrorInner, WebDriverResult};
use thirtyfour::prelude::*;
use thirtyfour::{LoggingPrefsLogLevel, TimeoutConfiguration};

/// How long a wait for the page lasts before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);
/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(100);
/// The longest one WebDriver call may take (a page load is bounded at 20 s by the session).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (375, 812);

fn binary(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// The chromedriver of this test run; it exits with this process (a shell watches our pid).
fn driver_port() -> u16 {
    static DRIVER: OnceLock<(u16, std::process::Child)> = OnceLock::new();
    DRIVER
        .get_or_init(|| {
            let chromedriver = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
            assert!(
                std::path::Path::new(&chromedriver).exists(),
                "{chromedriver} is missing: `apt-get install -y chromium chromium-driver` (infra/test.sh does it)"
            );
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let watcher = Command::new("sh")
                .args([
                    "-c",
                    r#""$0" --port="$1" --log-level=SEVERE & driver=$!
                   while kill -0 "$2" 2>/dev/null && kill -0 "$driver" 2>/dev/null; do sleep 0.5; done
                   kill "$driver" 2>/dev/null; pkill -P "$driver" 2>/dev/null; exit 0"#,
                    &chromedriver,
                    &port.to_string(),
                    &std::process::id().to_string(),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "chromedriver did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            (port, watcher)
        })
        .0
}

/// Where the screenshots go: `target/console-screenshots/<screen>-<desktop|phone>.png`.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Clone, Debug)]
pub struct Element(WebElement);

/// One browser (a fresh profile). Dropped, its session ends (its Chromium exits), even when the
/// test failed, and its profile is removed.
pub struct Browser {
    /// Taken by `drop`, which ends the session before the profile goes.
    driver: Option<WebDriver>,
    /// chromedriver's port and the session's path there, for `drop`.
    session: (u16, String),
    _profile: Profile,
    size: (u32, u32),
}

/// A Chromium profile directory, removed when dropped.
struct Profile(PathBuf);

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// WebDriver's answer for an element that is no longer in the page (the page re-renders parts of
/// itself with `replaceChildren`, so an element found a moment ago can be gone).
fn is_stale<T>(result: &WebDriverResult<T>) -> bool {
    matches!(result, Err(error) if matches!(**error, WebDriverErrorInner::StaleElementReference(_)))
}

impl Browser {
    pub async fn start() -> Self {
        let port = driver_port();
        let profile = std::env::temp_dir().join(format!("console-chromium-{}", uuid::Uuid::new_v4().simple()));
        let mut capabilities = DesiredCapabilities::chrome();
        capabilities.set_binary(&binary("CHROMIUM", "/usr/bin/chromium")).unwrap();
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            &format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            &format!("--user-data-dir={}", profile.display()),
        ] {
            capabilities.add_arg(arg).unwrap();
        }
        capabilities.set_browser_log_level(LoggingPrefsLogLevel::All).unwrap();
        let driver = WebDriver::builder(format!("http://127.0.0.1:{port}"), capabilities)
            .request_timeout(REQUEST_TIMEOUT)
            .connect()
            .await
            .unwrap_or_else(|error| panic!("no WebDriver session: {error}"));
        let timeouts = TimeoutConfiguration::new(Some(Duration::from_secs(10)), Some(Duration::from_secs(20)), None);
        driver.update_timeouts(timeouts).await.unwrap();
        let session = (port, format!("/session/{}", driver.session_id()));
        Self { driver: Some(driver), session, _profile: Profile(profile), size: DESKTOP }
    }

    fn driver(&self) -> &WebDriver {
        self.driver.as_ref().unwrap()
    }

    /// Runs `action` on the displayed element at `css`; a stale element is looked up again, until
    /// PATIENCE runs out.
    async fn on_element<T, F, Fut>(&self, css: &str, what: &str, action: F) -> T
    where
        F: Fn(WebElement) -> Fut,
        Fut: std::future::Future<Output = WebDriverResult<T>>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let Element(element) = self.find(css).await;
            let result = action(element).await;
            if is_stale(&result) && Instant::now() < deadline {
                continue;
            }
            return result.unwrap_or_else(|error| panic!("WebDriver {what} on {css}: {error}"));
        }
    }

    pub async fn goto(&self, url: &str) {
        self.driver().goto(url).await.unwrap_or_else(|error| panic!("WebDriver goto {url}: {error}"));
    }

    pub async fn reload(&self) {
        self.driver().refresh().await.unwrap();
    }

    pub async fn url(&self) -> String {
        self.driver().current_url().await.unwrap().to_string()
    }

    pub async fn source(&self) -> String {
        self.driver().source().await.unwrap()
    }

    /// Runs `script` (a function body; `arguments` are `args`, a JSON array) and answers its value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        let args: Vec<Value> = match args {
            Value::Array(args) => args,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let answer = self.driver().execute(script, args).await;
        answer.unwrap_or_else(|error| panic!("WebDriver script {script}: {error}")).json().clone()
    }

    /// Waits until `css` matches a displayed element.
    pub async fn find(&self, css: &str) -> Element {
        // A stale element was replaced while we looked: the next round finds its successor.
        let displayed = |element: WebElement| async move {
            let shown = element.is_displayed().await;
            if is_stale(&shown) {
                return Ok(false);
            }
            shown
        };
        let query = self.driver().query(By::Css(css)).with_filter(displayed).wait(PATIENCE, POLL);
        match query.first_opt().await {
            Ok(Some(element)) => Element(element),
            Ok(None) => panic!("no visible {css}"),
            Err(error) => panic!("WebDriver displayed of {css}: {error}"),
        }
    }

    /// Whether `css` matches a displayed element now.
    pub async fn visible(&self, css: &str) -> bool {
        let script = "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null;";
        self.script(script, json!([css])).await == json!(true)
    }

    /// Waits until the text of `css` (a displayed element) contains `wanted`; answers the text.
    pub async fn wait_text(&self, css: &str, wanted: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self
                .script("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", json!([css]))
                .await;
            if let Some(text) = text.as_str().filter(|t| t.contains(wanted)) {
                return text.to_owned();
            }
            assert!(Instant::now() < deadline, "{css} never said {wanted:?} (it says {text})");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `script` (an expression) is true.
    pub async fn wait_until(&self, what: &str, expression: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.script(&format!("return Boolean({expression});"), json!([])).await != json!(true) {
            assert!(Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.on_element(css, "text", |element| async move { element.text().await }).await
    }

    /// A DOM property of the element at `css`, shown or not, as WebDriver answers it (a boolean
    /// stays a boolean: thirtyfour's `prop` would make it a string).
    pub async fn property(&self, css: &str, name: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found = self.driver().find_all(By::Css(css)).await.unwrap();
            let element = found.into_iter().next().unwrap_or_else(|| panic!("no {css}"));
            let command = WebDriverCommand::GetElementProperty(element.element_id(), Arc::from(name));
            let result = match self.driver().cmd(command).await {
                Ok(answer) => answer.value::<Value>(),
                Err(error) => Err(error),
            };
            if is_stale(&result) && Instant::now() < deadline {
                continue;
            }
            return result.unwrap_or_else(|error| panic!("WebDriver property {name} of {css}: {error}"));
        }
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, "click", |element| async move { element.click().await }).await;
    }

    /// Picks `value` in the `<select>` at `css`, as a click on its option does.
    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css).await;
        let option = format!("{css} option[value='{value}']");
        self.on_element(&option, "click", |element| async move { element.click().await }).await;
    }

    /// Clears a field and types `text` into it, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "clear", |element| async move { element.clear().await }).await;
        self.on_element(css, "send keys", |element| async move { element.send_keys(text).await }).await;
    }

    /// Presses keys on whatever has the focus (`\u{E004}` Tab, `\u{E007}` Enter, `\u{E00D}` Space,
    /// `\u{E00C}` Escape).
    pub async fn keys(&self, keys: &str) {
        let pressed = self.driver().action_chain().send_keys(keys).perform().await;
        pressed.unwrap_or_else(|error| panic!("WebDriver keys {keys:?}: {error}"));
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> String {
        self.script("return document.activeElement ? document.activeElement.id : '';", json!([]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Sets the window's size, and waits until the page sees it, so that what follows measures
    /// the new layout. (Chromium keeps a window at least 500 px wide, `outerWidth`, and lays a
    /// narrower page out in a viewport of the width asked for, `innerWidth`; scrollbars are
    /// hidden, so that is the whole width.)
    pub async fn resize(&mut self, (width, height): (u32, u32)) {
        let rect = self.driver().get_window_rect().await.unwrap();
        self.driver().set_window_rect(rect.x, rect.y, width, height).await.unwrap();
        self.wait_until(
            &format!("the page is in a {width}x{height} window"),
            &format!("window.innerWidth === {width} && window.outerHeight === {height}"),
        )
        .await;
        self.size = (width, height);
    }

    /// Screenshots of the page as it is, at desktop then phone width (the whole page's height),
    /// to `target/console-screenshots/<name>-desktop.png` and `…-phone.png`.
    pub async fn screens(&mut self, name: &str) {
        for (label, size) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.resize(size).await;
            let height = self
                .script(
                    "const d = document.querySelector('dialog[open]'); \
                     return d ? window.innerHeight : Math.max(document.documentElement.scrollHeight, window.innerHeight);",
                    json!([]),
                )
                .await
                .as_u64()
                .unwrap_or(u64::from(size.1));
            let full = (height as u32).clamp(size.1, 4000);
            let chrome = self.script("return window.outerHeight - window.innerHeight;", json!([])).await;
            let extra = chrome.as_u64().unwrap_or(0) as u32;
            self.resize((size.0, full + extra)).await;
            if label == "phone" {
                let overflow = self
                    .script(
                        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                        json!([]),
                    )
                    .await;
                if overflow != json!(0) {
                    let wide = self
                        .script(
                            "const w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll('body *'))\
                             .filter(e => e.getBoundingClientRect().right > w + 1)\
                             .filter(e => { for (let p = e.parentElement; p; p = p.parentElement) { if (getComputedStyle(p).overflowX !== 'visible') return false; } return true; })\
                             .slice(0, 8)\
                             .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
                            json!([]),
                        )
                        .await;
                    panic!("{name}: the page is wider than a {}px phone by {overflow}px: {wide}", size.0);
                }
            }
            let png = self.driver().screenshot_as_png().await.unwrap();
            std::fs::write(screenshot_dir().join(format!("{name}-{label}.png")), png).unwrap();
        }
        self.resize(DESKTOP).await;
    }

    /// Visible form controls without an accessible name (a label, aria-label(ledby), or a button's
    /// text), by id or tag.
    pub async fn unlabelled_controls(&self) -> Vec<String> {
        let script = "return Array.from(document.querySelectorAll('input, select, button, textarea'))\
            .filter(e => e.offsetParent !== null || e.closest('dialog[open]'))\
            .filter(e => e.type !== 'hidden')\
            .filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') \
                || (e.tagName === 'BUTTON' && e.textContent.trim())))\
            .map(e => e.id || e.outerHTML.slice(0, 80));";
        self.script(script, json!([])).await.as_array().unwrap().iter().map(|v| v.to_string()).collect()
    }

    /// The browser console's entries that are JavaScript errors, and the page's own error counter.
    /// A request that failed ("Failed to load resource: …": an HTTP error status, or a request
    /// that a navigation cancelled) is the network's log line, not a script error: the page
    /// shows those itself, and the tests check what it shows.
    pub async fn script_errors(&self) -> Vec<String> {
        let entries = self.driver().browser_log().await.unwrap();
        let mut errors: Vec<String> = entries
            .into_iter()
            .filter(|e| e.level == "SEVERE")
            .map(|e| e.message)
            .filter(|m| !m.contains("Failed to load resource:"))
            .collect();
        let counted = self.script("return document.documentElement.dataset.jsErrors || '0';", json!([])).await;
        if counted != json!("0") {
            errors.push(format!("the page counted {counted} errors"));
        }
        errors
    }
}

impl Drop for Browser {
    /// Ends the session with a DELETE sent here, synchronously, after telling thirtyfour that the
    /// session is taken care of. thirtyfour's own ending of a session dropped without `quit` (a
    /// request from a thread of its own) did not reach chromedriver from these tests: no Quit in
    /// chromedriver's log, and each browser test took ~20 s longer.
    fn drop(&mut self) {
        let Some(driver) = self.driver.take() else { return };
        let _ = driver.leak();
        let (port, path) = &self.session;
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", *port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!("DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
            }
        }
    }
}
