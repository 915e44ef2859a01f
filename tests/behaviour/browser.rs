//! A real browser for the console tests: Debian's Chromium, headless, driven over W3C WebDriver
//! by its chromedriver (one process per test run, on a free port; a fresh profile per session).
//! The client is a few JSON calls over the reqwest the tests already use.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the page lasts before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);
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
pub struct Element(String);

/// One browser (a fresh profile), closed when dropped.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    profile: PathBuf,
    size: (u32, u32),
}

impl Browser {
    pub async fn start() -> Self {
        let port = driver_port();
        let profile = std::env::temp_dir().join(format!("console-chromium-{}", uuid::Uuid::new_v4().simple()));
        let args = [
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
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": binary("CHROMIUM", "/usr/bin/chromium"), "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).to_owned();
        let browser = Self { http, base: format!("http://127.0.0.1:{port}/session/{id}"), profile, size: DESKTOP };
        browser.command("POST", "/timeouts", json!({ "script": 10_000, "pageLoad": 20_000 })).await;
        browser
    }

    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_command(method, path, body).await.unwrap_or_else(|error| panic!("WebDriver {method} {path}: {error}"))
    }

    /// A WebDriver command's value, or its error object (`{"error": …, "message": …}`).
    async fn try_command(&self, method: &str, path: &str, body: Value) -> Result<Value, Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if answer["value"]["error"].is_string() {
            return Err(answer["value"].clone());
        }
        Ok(answer["value"].clone())
    }

    /// Runs `command` (a method and a path under `/element/{id}`) on the displayed element at
    /// `css`. The page re-renders parts of itself (`replaceChildren`), so an element found a moment
    /// ago can be gone: a stale element is looked up again, until PATIENCE runs out.
    async fn on_element(&self, css: &str, method: &str, action: &str, body: Value) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let element = self.find(css).await;
            match self.try_command(method, &format!("/element/{}{action}", element.0), body.clone()).await {
                Ok(value) => return value,
                Err(error) if is_stale(&error) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("WebDriver {method} {action} on {css}: {error}"),
            }
        }
    }

    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url })).await;
    }

    pub async fn reload(&self) {
        self.command("POST", "/refresh", json!({})).await;
    }

    pub async fn url(&self) -> String {
        self.command("GET", "/url", Value::Null).await.as_str().unwrap().to_owned()
    }

    pub async fn source(&self) -> String {
        self.command("GET", "/source", Value::Null).await.as_str().unwrap().to_owned()
    }

    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.command("POST", "/execute/sync", json!({ "script": script, "args": args })).await
    }

    async fn find_now(&self, css: &str) -> Vec<Element> {
        let found = self.command("POST", "/elements", json!({ "using": "css selector", "value": css })).await;
        found.as_array().unwrap().iter().map(|e| Element(e[ELEMENT_KEY].as_str().unwrap().to_owned())).collect()
    }

    /// Waits until `css` matches a displayed element.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            for element in self.find_now(css).await {
                // A stale element was replaced while we looked: the next round finds its successor.
                match self.try_command("GET", &format!("/element/{}/displayed", element.0), Value::Null).await {
                    Ok(Value::Bool(true)) => return element,
                    Ok(_) => {}
                    Err(error) if is_stale(&error) => {}
                    Err(error) => panic!("WebDriver displayed of {css}: {error}"),
                }
            }
            assert!(Instant::now() < deadline, "no visible {css}");
            tokio::time::sleep(Duration::from_millis(100)).await;
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
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` (an expression) is true.
    pub async fn wait_until(&self, what: &str, expression: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.script(&format!("return Boolean({expression});"), json!([])).await != json!(true) {
            assert!(Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.on_element(css, "GET", "/text", Value::Null).await.as_str().unwrap().to_owned()
    }

    /// A DOM property of the element at `css`, shown or not.
    pub async fn property(&self, css: &str, name: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let element = self.find_now(css).await.into_iter().next().unwrap_or_else(|| panic!("no {css}"));
            match self.try_command("GET", &format!("/element/{}/property/{name}", element.0), Value::Null).await {
                Ok(value) => return value,
                Err(error) if is_stale(&error) && Instant::now() < deadline => {}
                Err(error) => panic!("WebDriver property {name} of {css}: {error}"),
            }
        }
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, "POST", "/click", json!({})).await;
    }

    /// Picks `value` in the `<select>` at `css`, as a click on its option does.
    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css).await;
        self.on_element(&format!("{css} option[value='{value}']"), "POST", "/click", json!({})).await;
    }

    /// Clears a field and types `text` into it, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "POST", "/clear", json!({})).await;
        self.on_element(css, "POST", "/value", json!({ "text": text })).await;
    }

    /// Presses keys on whatever has the focus (`\u{E004}` Tab, `\u{E007}` Enter, `\u{E00D}` Space,
    /// `\u{E00C}` Escape).
    pub async fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({ "type": "keyDown", "value": key.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": key.to_string() }));
        }
        let body = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] });
        self.command("POST", "/actions", body).await;
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> String {
        self.script("return document.activeElement ? document.activeElement.id : '';", json!([]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn resize(&mut self, (width, height): (u32, u32)) {
        self.command("POST", "/window/rect", json!({ "width": width, "height": height })).await;
        self.size = (width, height);
    }

    /// Screenshots of the page as it is, at desktop then phone width (the whole page's height),
    /// to `target/console-screenshots/<name>-desktop.png` and `…-phone.png`.
    pub async fn screens(&mut self, name: &str) {
        for (label, size) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.resize(size).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
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
            tokio::time::sleep(Duration::from_millis(150)).await;
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
            let png = self.command("GET", "/screenshot", Value::Null).await;
            let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
            std::fs::write(screenshot_dir().join(format!("{name}-{label}.png")), bytes).unwrap();
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
        let entries = self.command("POST", "/se/log", json!({ "type": "browser" })).await;
        let mut errors: Vec<String> = entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .filter(|m| !m.contains("Failed to load resource:"))
            .collect();
        let counted = self.script("return document.documentElement.dataset.jsErrors || '0';", json!([])).await;
        if counted != json!("0") {
            errors.push(format!("the page counted {counted} errors"));
        }
        errors
    }
}

/// WebDriver's answer for an element that is no longer in the page.
fn is_stale(error: &Value) -> bool {
    error["error"] == "stale element reference"
}

impl Drop for Browser {
    /// Ends the WebDriver session (Chromium exits), even when the test failed.
    fn drop(&mut self) {
        if let Some(rest) = self.base.strip_prefix("http://") {
            if let Some((host, path)) = rest.split_once('/') {
                if let Ok(mut stream) = TcpStream::connect(host) {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let request = format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
                    if stream.write_all(request.as_bytes()).is_ok() {
                        let mut sink = Vec::new();
                        let _ = stream.read_to_end(&mut sink);
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
