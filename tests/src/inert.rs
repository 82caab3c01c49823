//! Whether hostile input stays text on a page, checked in headless Chromium (`Inspector`).
//!
//! The gateway's CSP forbids inline script, so a payload that the templates failed to escape
//! would still not run in a browser that honours it, and a test looking for its effects would
//! pass. The inspector therefore turns the CSP off in Chromium (`Page.setBypassCSP`): what
//! keeps a payload inert there is escaping alone. The CSP is checked separately, on each
//! page's response headers. On every page it asserts: no payload ran (each sets
//! `window.__xss` when it does), no dialog opened, no active markup is in the DOM (script,
//! event-handler attributes, svg, iframe, a `javascript:` URL, a second style sheet), and
//! the payload texts the caller expects are visible, written literally. The HTML each page
//! was served as is kept for the Nu checker.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::Browser;

/// Every element or attribute that would make a page active, counted by the check; the
/// gateway's pages have none (its one style sheet is inline in `head`).
const ACTIVE_MARKUP: &str = r#"(() => {
  const found = [];
  for (const e of document.querySelectorAll('script, iframe, frame, object, embed, svg, math, base, meta[http-equiv], link[rel~="import"], img:not(.avatar)')) {
    found.push(e.outerHTML.slice(0, 200));
  }
  const styles = document.querySelectorAll('style');
  if (styles.length !== 1 || styles[0].parentElement !== document.head) {
    found.push(`${styles.length} style elements`);
  }
  for (const e of document.querySelectorAll('*')) {
    for (const a of e.attributes) {
      if (/^on/i.test(a.name)) found.push(`${e.tagName} ${a.name}=${a.value}`);
      if (['href', 'src', 'action', 'formaction', 'data', 'poster'].includes(a.name.toLowerCase())) {
        const scheme = new URL(a.value, location.href).protocol;
        if (!['http:', 'https:', 'magnet:'].includes(scheme)) found.push(`${e.tagName} ${a.name}=${a.value}`);
      }
    }
  }
  return found;
})()"#;

/// A headless Chromium with the page CSP bypassed, recording every document it loads.
pub struct Inspector {
    pub browser: Browser,
    /// `http://127.0.0.1:PORT` of the gateway.
    pub base: String,
    /// Each document as served (label, HTML), for the Nu checker.
    pub pages: Vec<(String, String)>,
    /// Dialogs that opened (and were dismissed so the page could go on): their messages.
    pub dialogs: Vec<String>,
    handled_events: usize,
}

impl Inspector {
    /// Starts Chromium sending `user_agent`, with script allowed whatever the CSP says.
    pub fn start(base: &str, user_agent: &str) -> Inspector {
        let mut browser = Browser::start();
        browser.call("Page.setBypassCSP", json!({"enabled": true}));
        browser.call("Network.enable", json!({}));
        browser.call(
            "Network.setUserAgentOverride",
            json!({"userAgent": user_agent}),
        );
        Inspector {
            browser,
            base: base.to_owned(),
            pages: Vec::new(),
            dialogs: Vec::new(),
            handled_events: 0,
        }
    }

    /// Shows that the checks would see a payload run: markup added to the page's DOM by
    /// the test runs its handler (the CSP is bypassed), and the marker is then cleared.
    pub fn prove_markers_fire(&mut self) {
        self.browser.evaluate(
            "document.body.insertAdjacentHTML('beforeend', '<img id=canary src=x onerror=\"window.__xss=\\'canary\\'\">')",
        );
        self.browser.wait_for_value(
            Duration::from_secs(10),
            "an injected onerror handler to run with the CSP bypassed",
            "window.__xss === 'canary'",
        );
        self.browser
            .evaluate("delete window.__xss; document.getElementById('canary').remove()");
    }

    /// Opens `path` on the gateway.
    pub fn visit(&mut self, path: &str) {
        let url = format!("{}{path}", self.base);
        let before = loads(&self.browser.events);
        let result = self.browser.call("Page.navigate", json!({"url": url}));
        assert!(result.get("errorText").is_none(), "{url}: {result}");
        self.wait_for_load(before, &url);
    }

    /// Fills the form posting to `action` (text `fields`, then `files` into its file input)
    /// and submits it without the browser's own validation (a hostile user does not use
    /// the form's `type=email` check either); waits for the next page.
    pub fn submit(&mut self, action: &str, fields: &[(&str, &str)], files: &[&Path]) {
        let form = format!("document.querySelector('form[action=\"{action}\"]')");
        assert_eq!(
            self.browser.evaluate(&format!("{form} !== null")),
            json!(true),
            "no form to {action} on {}",
            self.location()
        );
        for (name, value) in fields {
            self.browser.evaluate(&format!(
                "{form}.elements[{}].value = {}",
                json!(name),
                json!(value)
            ));
        }
        if !files.is_empty() {
            let input = self.browser.call(
                "Runtime.evaluate",
                json!({"expression": format!("{form}.querySelector('input[type=file]')")}),
            );
            let object = input["result"]["objectId"]
                .as_str()
                .unwrap_or_else(|| panic!("no file input in the form to {action}: {input}"))
                .to_owned();
            let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            self.browser.call(
                "DOM.setFileInputFiles",
                json!({"files": paths, "objectId": object}),
            );
        }
        let before = loads(&self.browser.events);
        self.browser.evaluate(&format!("{form}.submit()"));
        self.wait_for_load(before, action);
    }

    /// The path of the page shown.
    pub fn location(&mut self) -> String {
        let value = self.browser.evaluate("location.pathname + location.search");
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The page's visible text.
    pub fn text(&mut self) -> String {
        let value = self.browser.evaluate("document.body.innerText");
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Asserts the page shown (named `what`) is inert and shows each of `literal` as text.
    pub fn check(&mut self, what: &str, literal: &[&str]) {
        self.browser.drain_events(Duration::from_millis(300));
        self.dismiss_dialogs();
        let marker = self.browser.evaluate("window.__xss ?? null");
        assert_eq!(marker, Value::Null, "{what}: a payload ran");
        assert!(
            self.dialogs.is_empty(),
            "{what}: dialogs opened: {:?}",
            self.dialogs
        );
        let active = self.browser.evaluate(ACTIVE_MARKUP);
        assert_eq!(active, json!([]), "{what}: active markup in the DOM");
        let text = self.text();
        for expected in literal {
            assert!(
                text.contains(expected),
                "{what}: {expected:?} is not shown as text in:\n{text}"
            );
        }
    }

    fn wait_for_load(&mut self, before: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while loads(&self.browser.events) == before {
            assert!(
                Instant::now() < deadline,
                "{what}: no page loaded within 30 s"
            );
            self.browser.drain_events(Duration::from_millis(100));
            self.dismiss_dialogs();
        }
        self.keep_document(what);
    }

    /// A dialog blocks the page until answered: each is recorded and dismissed.
    fn dismiss_dialogs(&mut self) {
        let opened: Vec<String> = self.browser.events[self.handled_events..]
            .iter()
            .filter(|e| e["method"] == "Page.javascriptDialogOpening")
            .map(|e| e["params"]["message"].as_str().unwrap_or("").to_owned())
            .collect();
        self.handled_events = self.browser.events.len();
        for message in opened {
            self.dialogs.push(message);
            let _ = self
                .browser
                .try_call("Page.handleJavaScriptDialog", json!({"accept": false}));
        }
    }

    /// The document just loaded, as served: its CSP must forbid script; its HTML is kept.
    fn keep_document(&mut self, what: &str) {
        let Some(response) = self
            .browser
            .events
            .iter()
            .rev()
            .find(|e| {
                e["method"] == "Network.responseReceived" && e["params"]["type"] == "Document"
            })
            .map(|e| e["params"].clone())
        else {
            panic!("{what}: no document response recorded");
        };
        let url = response["response"]["url"].as_str().unwrap_or_default();
        let headers = response["response"]["headers"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let policy = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-security-policy"))
            .and_then(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("{url}: no Content-Security-Policy"));
        assert_forbids_script(url, policy);
        let body = self.browser.call(
            "Network.getResponseBody",
            json!({"requestId": response["requestId"]}),
        );
        let html = body["body"].as_str().unwrap_or_default().to_owned();
        self.pages.push((url.to_owned(), html));
    }
}

/// Asserts `policy` lets no script run: `default-src 'none'` and no `script-src` (or
/// `script-src-*`) of its own.
pub fn assert_forbids_script(url: &str, policy: &str) {
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    assert!(
        directives.contains(&"default-src 'none'"),
        "{url}: the CSP {policy:?} does not default to 'none'"
    );
    assert!(
        !directives.iter().any(|d| d.starts_with("script-src")),
        "{url}: the CSP {policy:?} allows some script"
    );
}

/// How many documents have loaded so far.
fn loads(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["method"] == "Page.loadEventFired")
        .count()
}
