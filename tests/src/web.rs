//! A client for the gateway's account pages that behaves like a browser where it matters:
//! it keeps the cookies the gateway sets (and drops those it clears), sends `Origin` and
//! `Sec-Fetch-Site` on posts as a browser would on a same-site form, and reads hidden form
//! fields back from pages.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::raw_http::RawAnswer;

/// One visitor of a gateway, with its own cookie jar.
pub struct WebClient {
    addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
    /// Headers sent with every request (e.g. `X-Forwarded-For`).
    pub headers: Vec<(String, String)>,
    /// The address requests leave from (e.g. 127.0.0.2, to be another client); `None`:
    /// the system's choice.
    pub source: Option<IpAddr>,
    /// Every page answered `200` with HTML, for the Nu checker: (path, HTML).
    pub pages: Vec<(String, String)>,
}

impl WebClient {
    pub fn new(addr: SocketAddr) -> WebClient {
        WebClient {
            addr,
            cookies: BTreeMap::new(),
            headers: Vec::new(),
            source: None,
            pages: Vec::new(),
        }
    }

    /// A visitor whose requests leave from `source`.
    pub fn from_address(addr: SocketAddr, source: IpAddr) -> WebClient {
        WebClient {
            source: Some(source),
            ..WebClient::new(addr)
        }
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> RawAnswer {
        self.request("GET", path, &[], None)
    }

    /// `POST path` as a same-site form would, fields urlencoded.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> RawAnswer {
        let origin = format!("http://{}", self.addr);
        self.post_with(
            path,
            fields,
            &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
        )
    }

    /// `POST path` with exactly these extra headers (no `Origin` unless given).
    pub fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> RawAnswer {
        let body = urlencode(fields);
        let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.request("POST", path, &all, Some(body.as_bytes()))
    }

    /// Posts the form found on `page` whose action is `action`, its hidden fields (the CSRF
    /// token among them) plus `fields`.
    pub fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> RawAnswer {
        let mut all: Vec<(String, String)> = hidden_fields(page, action);
        assert!(
            all.iter().any(|(n, _)| n == "csrf"),
            "no form to {action} with a CSRF token on the page:\n{page}"
        );
        all.extend(fields.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let pairs: Vec<(&str, &str)> = all.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        self.post(action, &pairs)
    }

    /// Posts `multipart/form-data` as a same-site browser form would: the text `fields`
    /// first (in order), then the `files` as parts of the field `file_field`.
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        files: &[(&str, &[u8])],
    ) -> RawAnswer {
        let (content_type, body) = multipart(fields, file_field, files);
        let origin = format!("http://{}", self.addr);
        self.request(
            "POST",
            path,
            &[
                ("Content-Type", &content_type),
                ("Origin", &origin),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            Some(&body),
        )
    }

    /// The bytes of the same post (head, then body), for a test to send at its own pace.
    pub fn multipart_request(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        files: &[(&str, &[u8])],
    ) -> (Vec<u8>, Vec<u8>) {
        let (content_type, body) = multipart(fields, file_field, files);
        let origin = format!("http://{}", self.addr);
        let head = self.head(
            "POST",
            path,
            &[
                ("Content-Type", &content_type),
                ("Origin", &origin),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            Some(body.len()),
        );
        (head.into_bytes(), body)
    }

    fn head(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body_len: Option<usize>,
    ) -> String {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: swarmfeed-tests\r\n",
            self.addr
        );
        if let Some(len) = body_len {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(headers.iter().copied())
        {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> RawAnswer {
        let mut stream = match self.source {
            Some(source) => crate::raw_http::connect_from(self.addr, source),
            None => TcpStream::connect(self.addr),
        }
        .expect("connect to the gateway");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        let head = self.head(method, path, headers, body.map(<[u8]>::len));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        stream.write_all(&bytes).expect("send a request");
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP answer to {method} {path}"));
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let answer = RawAnswer {
            status,
            head,
            body: raw[split + 4..].to_vec(),
        };
        self.keep_cookies(&answer);
        if answer.status != 303
            && answer
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/html"))
        {
            self.pages.push((format!("{method} {path}"), answer.text()));
        }
        answer
    }

    fn keep_cookies(&mut self, answer: &RawAnswer) {
        for line in answer.head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let mut parts = value.trim().split(';');
            let Some((cookie, content)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let cleared = parts.any(|p| p.trim().eq_ignore_ascii_case("max-age=0"));
            if cleared || content.is_empty() {
                self.cookies.remove(cookie);
            } else {
                self.cookies.insert(cookie.to_owned(), content.to_owned());
            }
        }
    }
}

/// A `multipart/form-data` body: the text `fields` first (in order), then the `files` as
/// parts of the field `file_field`; with its `Content-Type`.
fn multipart(
    fields: &[(&str, &str)],
    file_field: &str,
    files: &[(&str, &[u8])],
) -> (String, Vec<u8>) {
    let boundary = "----swarmfeedTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The hidden inputs of the form whose `action` is `action` on `page`: (name, value).
pub fn hidden_fields(page: &str, action: &str) -> Vec<(String, String)> {
    let Some(start) = page.find(&format!("action=\"{action}\"")) else {
        return Vec::new();
    };
    let form = &page[start..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    form.split("<input")
        .skip(1)
        .filter(|input| input.contains("type=\"hidden\""))
        .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value")?)))
        .collect()
}

/// The value of `name="…"` in a tag's text (maud escapes `&`, `<`, `>`, `"`).
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `application/x-www-form-urlencoded`.
pub fn urlencode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(n, v)| format!("{}={}", enc(n), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}
