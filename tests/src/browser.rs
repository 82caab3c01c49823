//! Headless Chromium driven over the DevTools protocol, for tests of what a person sees in a
//! browser. Debian's `/usr/bin/chromium` runs with a fresh profile, no network of its own
//! (no component updates, sync or background traffic, no hostname resolves) and a DevTools port chosen by itself
//! (`--remote-debugging-port=0`, read back from `DevToolsActivePort`). Pages carry no script
//! and their CSP forbids it, so tests look at the DOM through `Runtime.evaluate`, which the
//! page's CSP does not govern.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// Where Debian installs Chromium (`apt-get install chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The longest a single DevTools command may take before the test fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// A running headless Chromium with one page (tab) attached.
pub struct Browser {
    child: Child,
    profile: tempfile::TempDir,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// DevTools events received so far (`{"method": …, "params": …}`), oldest first.
    pub events: Vec<Value>,
}

impl Browser {
    /// Starts Chromium with a fresh profile in a temp dir and opens one blank page.
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let log = std::fs::File::create(profile.path().join("chromium.log")).expect("log file");
        let user_data = profile.path().join("profile");
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--mute-audio",
                // Hostnames never resolve (Chromium otherwise looks up Google hosts even with
                // background networking off): tests use IP literals on 127.0.0.1 only.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--window-size=1200,1400",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", user_data.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {CHROMIUM} (apt-get install chromium): {e}"));
        let mut browser_child = ChildGuard(Some(child));
        let active_port = user_data.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let (port, path) = loop {
            let text = std::fs::read_to_string(&active_port).unwrap_or_default();
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                break (port.trim().to_owned(), path.trim().to_owned());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(profile.path().join("chromium.log"));
                panic!("Chromium wrote no DevToolsActivePort within 30 s: {log:?}");
            }
            if let Some(status) = browser_child.0.as_mut().and_then(|c| c.try_wait().ok()?) {
                let log = std::fs::read_to_string(profile.path().join("chromium.log"));
                panic!("Chromium exited at start ({status}): {log:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let address = format!("127.0.0.1:{port}");
        let stream = TcpStream::connect(&address).expect("connect to the DevTools port");
        stream
            .set_read_timeout(Some(COMMAND_LIMIT))
            .expect("read timeout");
        let (socket, _) = tungstenite::client(format!("ws://{address}{path}"), stream)
            .expect("DevTools WebSocket handshake");
        // Short reads from now on, so that waits can give up on time.
        socket
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("read timeout");
        let mut browser = Browser {
            child: browser_child.0.take().expect("the child"),
            profile,
            socket,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        browser
    }

    /// The profile's temp dir (Chromium's own log is `chromium.log` in it).
    pub fn profile_dir(&self) -> &Path {
        self.profile.path()
    }

    /// Sends a command to the page and returns its result; panics on a protocol error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Sends a command to the page; a protocol error comes back as `Err`.
    pub fn try_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(None, method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn send(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .map_err(|e| format!("send: {e}"))?;
        let deadline = Instant::now() + COMMAND_LIMIT;
        loop {
            if Instant::now() > deadline {
                return Err(format!("no answer within {COMMAND_LIMIT:?}"));
            }
            let Some(message) = self.receive()? else {
                continue;
            };
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    return Err(error.to_string());
                }
                return Ok(message["result"].clone());
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }

    /// One message, or `None` when nothing arrived within the socket's read timeout.
    fn receive(&mut self) -> Result<Option<Value>, String> {
        match self.socket.read() {
            Ok(Message::Text(text)) => serde_json::from_str(text.as_str())
                .map(Some)
                .map_err(|e| format!("not JSON: {e}")),
            Ok(_) => Ok(None),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(format!("DevTools socket: {e}")),
        }
    }

    /// Reads the events that arrived while nothing was asked, for up to `wait`.
    pub fn drain_events(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            match self.receive() {
                Ok(Some(message)) if message.get("method").is_some() => self.events.push(message),
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Navigates to `url` and waits for the new document's load event.
    pub fn navigate(&mut self, url: &str) {
        let before = load_count(&self.events);
        let result = self.call("Page.navigate", json!({"url": url}));
        if let Some(error) = result.get("errorText") {
            panic!("navigation to {url} failed: {error}");
        }
        self.wait_for_load(before, url);
    }

    /// Evaluates `expression`, which leaves the page (submits a form, follows a link), and
    /// waits for the next document's load event.
    pub fn leave_with(&mut self, expression: &str) {
        let before = load_count(&self.events);
        self.evaluate(expression);
        self.wait_for_load(before, expression);
    }

    fn wait_for_load(&mut self, before: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while load_count(&self.events) == before {
            assert!(
                Instant::now() < deadline,
                "{what}: no page loaded within 30 s"
            );
            self.drain_events(Duration::from_millis(100));
        }
    }

    /// Evaluates a JavaScript expression in the page (promises awaited) and returns its value;
    /// panics if it throws.
    pub fn evaluate(&mut self, expression: &str) -> Value {
        self.try_evaluate(expression)
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// Evaluates a JavaScript expression in the page; an exception comes back as `Err`.
    pub fn try_evaluate(&mut self, expression: &str) -> Result<Value, String> {
        let result = self.try_call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(exception.to_string());
        }
        Ok(result["result"]["value"].clone())
    }

    /// Evaluates `expression` until it yields something other than `null`/`false`, or panics
    /// after `limit` naming `what`.
    pub fn wait_for_value(&mut self, limit: Duration, what: &str, expression: &str) -> Value {
        crate::node::wait_for(limit, what, || {
            let value = self.try_evaluate(expression).ok()?;
            (!value.is_null() && value != Value::Bool(false)).then_some(value)
        })
    }

    /// Fills the fields of the form posting to `action` (by field name; a `select` takes
    /// an option's value) and submits it as its button would: `requestSubmit` runs the
    /// browser's own validation and encoding (multipart included) and sends its own
    /// `Origin`, `Sec-Fetch-Site` and cookies. Waits for the next page.
    pub fn submit(&mut self, action: &str, fields: &[(&str, &str)]) {
        let mut script = format!(
            "(() => {{ const f = document.querySelector({}); if (!f) throw new Error('no form to ' + {});",
            json!(format!("form[action=\"{action}\"]")),
            json!(action),
        );
        for (name, value) in fields {
            script.push_str(&format!(
                " f.elements[{}].value = {};",
                json!(name),
                json!(value)
            ));
        }
        script.push_str(" f.requestSubmit(); })()");
        self.leave_with(&script);
    }

    /// The text of the first element matching `selector`; empty when none does.
    pub fn text(&mut self, selector: &str) -> String {
        let value = self.evaluate(&format!(
            "document.querySelector({})?.textContent ?? null",
            json!(selector)
        ));
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The texts of every element matching `selector`, in document order.
    pub fn texts(&mut self, selector: &str) -> Vec<String> {
        let value = self.evaluate(&format!(
            "Array.from(document.querySelectorAll({})).map(e => e.textContent)",
            json!(selector)
        ));
        value
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The path of the page shown (`location.pathname`).
    pub fn path(&mut self) -> String {
        self.evaluate("location.pathname")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The HTTP status of the page shown (the last answer of its navigation, after
    /// redirects), from Navigation Timing.
    pub fn status(&mut self) -> u64 {
        self.evaluate("performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0")
            .as_u64()
            .unwrap_or_default()
    }

    /// Chooses `files` in the file input matching `selector`, as a person picking them in
    /// the file dialog would (DevTools `DOM.setFileInputFiles`: the page itself runs no
    /// script, and no script may set a file input).
    pub fn choose_files(&mut self, selector: &str, files: &[&Path]) {
        let document = self.call("DOM.getDocument", json!({"depth": 0}));
        let root = document["root"]["nodeId"].clone();
        let found = self.call(
            "DOM.querySelector",
            json!({"nodeId": root, "selector": selector}),
        );
        let node = found["nodeId"].as_u64().unwrap_or_default();
        assert_ne!(node, 0, "no element matches {selector}");
        let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.call(
            "DOM.setFileInputFiles",
            json!({"files": paths, "nodeId": node}),
        );
    }

    /// Sets a cookie in the browser for `url`'s origin.
    pub fn set_cookie(&mut self, url: &str, name: &str, value: &str) {
        let result = self.call(
            "Network.setCookie",
            json!({"url": url, "name": name, "value": value}),
        );
        assert_ne!(result["success"], json!(false), "cookie not set: {result}");
    }

    /// A PNG of the whole page, written to `path` (its parent is created).
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("artifact dir");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.socket.send(Message::text(
            json!({"id": 0, "method": "Browser.close", "params": {}}).to_string(),
        ));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many documents have loaded so far.
fn load_count(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["method"] == "Page.loadEventFired")
        .count()
}

/// Kills Chromium if the start fails half-way.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `target/test-artifacts/NAME` (under `CARGO_TARGET_DIR` when set): files tests keep for
/// people to look at, such as screenshots.
pub fn artifact_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::binary::workspace_root().join("target"));
    target.join("test-artifacts").join(name)
}
