//! Upload time limits and leftovers, against the real binary on a gateway whose
//! `[gateway] body_timeout_secs` is 1 s and whose `[accounts] upload_idle_secs` is 2 s: a
//! slow but steady upload taking longer than the body timeout is published; meanwhile a
//! stalled body on another route is still cut by the body timeout and pages answer at once;
//! a stalled upload is cut after its idle time, its partial file removed and its quota
//! charge given back; an upload cut by the node being killed is cleaned up (files and
//! charge) when the node starts again, and the published upload stays served.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use accounts::{Accounts, AccountsConfig};
use tests::accounts::{AccountsGateway, create_identity, sign_up_and_in};
use tests::raw_http::{connect, read_answer};
use tests::web::WebClient;

const EMAIL: &str = "uploader@example.org";

/// Bytes charged to the uploader's quota, read from the node's accounts database.
fn used(gateway: &AccountsGateway) -> u64 {
    let text = std::fs::read_to_string(gateway.tmp.path().join("config.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let mut config: AccountsConfig = table["accounts"].clone().try_into().unwrap();
    config.public_url = Some("http://127.0.0.1".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let accounts = Accounts::open(config, &gateway.tmp.path().join("data")).unwrap();
        let user = accounts
            .user_by_email(accounts::Actor::Operator, EMAIL)
            .await
            .unwrap();
        accounts.upload_usage(user.id).await.unwrap().used
    })
}

/// The names in `uploads/`, sorted.
fn uploads(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("uploads"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits until `uploads/` is `expected` (a cut upload is cleaned up in a task of its own).
fn wait_for_uploads(data: &Path, expected: &[String]) {
    let start = Instant::now();
    while uploads(data) != expected && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(uploads(data), expected, "what uploads/ holds");
}

/// The upload form's post of one file, head and body, for sending at a chosen pace.
fn upload_bytes(
    web: &mut WebClient,
    identity: &str,
    name: &str,
    file: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let form = web.get("/account/upload").text();
    let csrf = tests::web::hidden_fields(&form, "/account/upload")
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no upload form:\n{form}"));
    web.multipart_request(
        "/account/upload",
        &[("csrf", &csrf), ("identity", identity), ("feed", "main")],
        "files",
        &[(name, file)],
    )
}

/// Sends `head` and the first `sent` bytes of `body`.
fn start_upload(addr: std::net::SocketAddr, head: &[u8], body: &[u8], sent: usize) -> TcpStream {
    let mut stream = connect(addr, Duration::from_secs(20));
    stream.write_all(head).unwrap();
    stream.write_all(&body[..sent]).unwrap();
    stream
}

#[test]
fn slow_uploads_arrive_stalled_or_killed_ones_leave_nothing_and_other_routes_keep_their_timeout() {
    let mut gateway = AccountsGateway::start_configured(
        "open",
        "upload_idle_secs = 2\n",
        "\n[gateway]\nbody_timeout_secs = 1\n",
    );
    let data = gateway.tmp.path().join("data");
    let mut web = gateway.client();
    sign_up_and_in(&mut web, &gateway.smtp, EMAIL);
    let identity = create_identity(&mut web);

    // A slow but steady upload: 10 parts 350 ms apart, 3.5 s in all (the body timeout is
    // 1 s). Meanwhile another route's stalled body is cut by the body timeout, and a page
    // answers at once.
    let song: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (head, body) = upload_bytes(&mut web, &identity, "slow.flac", &song);
    let addr = gateway.addr();
    let others = std::thread::spawn(move || {
        let mut stalled = connect(addr, Duration::from_secs(10));
        let start = Instant::now();
        stalled
            .write_all(
                b"POST /account/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: \
                  application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a",
            )
            .unwrap();
        let cut = read_answer(&mut stalled).map(|a| (a.status, a.text()));
        let cut_after = start.elapsed();
        let start = Instant::now();
        let page = WebClient::new(addr).get("/");
        (cut, cut_after, page.status, start.elapsed())
    });
    let mut stream = start_upload(addr, &head, &body, 0);
    let started = Instant::now();
    for part in body.chunks(body.len().div_ceil(10)) {
        // A server that cut the upload has answered and closed: its answer tells.
        if stream.write_all(part).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(350));
    }
    let answer = read_answer(&mut stream).expect("an answer to the slow upload");
    assert_eq!(answer.status, 303, "{}", answer.text());
    assert!(started.elapsed() > Duration::from_secs(3));
    let entry = format!("/{identity}/main/1");
    assert_eq!(answer.header("location"), Some(entry.clone()));
    let (cut, cut_after, page, page_took) = others.join().unwrap();
    let (status, text) = cut.expect("an answer to the stalled sign-in");
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("body_timeout"), "{text}");
    assert!(
        cut_after < Duration::from_secs(5),
        "cut after {cut_after:?}"
    );
    assert_eq!(page, 200);
    assert!(
        page_took < Duration::from_secs(2),
        "a page took {page_took:?}"
    );
    let published = uploads(&data);
    assert_eq!(published.len(), 1, "{published:?}");
    let charged = used(&gateway);
    assert_eq!(charged, song.len() as u64, "charged what was written");

    // A stalled upload: half the file, then nothing. Cut after the idle time (408), the
    // partial file removed, the charge given back.
    let (head, body) = upload_bytes(&mut web, &identity, "stalled.flac", &song);
    let mut stream = start_upload(addr, &head, &body, body.len() / 2);
    let start = Instant::now();
    while uploads(&data).len() < 3 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(uploads(&data).len(), 3, "its folder and marker appear");
    let answer = read_answer(&mut stream).expect("an answer to the stalled upload");
    let took = start.elapsed();
    assert_eq!(answer.status, 408, "{}", answer.text());
    assert!(answer.text().contains("stalled"), "{}", answer.text());
    assert!(
        took > Duration::from_millis(1500) && took < Duration::from_secs(8),
        "cut after {took:?}"
    );
    wait_for_uploads(&data, &published);
    assert_eq!(used(&gateway), charged, "the charge is given back");

    // Killed mid-upload: the next start removes the partial upload and gives back its charge.
    let (head, body) = upload_bytes(&mut web, &identity, "killed.flac", &song);
    let stream = start_upload(addr, &head, &body, body.len() / 2);
    let start = Instant::now();
    while uploads(&data).len() < 3 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    gateway.node.kill();
    drop(stream);
    assert_eq!(uploads(&data).len(), 3, "left behind by the kill");
    assert!(
        used(&gateway) > charged,
        "still charged while the node is down"
    );
    gateway.restart();
    // The node came back on another port: the held identity's record names the old URL, and
    // the node, which does not unseal a held key alone, takes it in as signed.
    let log = tests::poll::wait_for(Duration::from_secs(20), "the record taken in", || {
        let log = gateway.node.log();
        log.contains("identity record taken in as signed")
            .then_some(log)
    });
    assert!(!log.contains("cannot update the identity record"), "{log}");
    assert_eq!(uploads(&data), published, "cleaned at start");
    assert_eq!(used(&gateway), charged, "the charge is given back at start");
    let page = gateway.client().get(&entry);
    assert_eq!(page.status, 200, "the published upload is still served");
}
