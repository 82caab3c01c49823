//! Brute force against the account pages, over HTTP against the real binary with a real
//! SMTP server on loopback (aiosmtpd): sign-ins are limited per client network (an IPv4
//! address, an IPv6 /64) and per account, answered `429` with `Retry-After` on a page that
//! says what to do, before any password is hashed; a full hash pool answers `503` at once;
//! and the owner, while a stranger's flood goes on, still gets in with a mailed sign-in link
//! (then the second factor). Mailed links (resets, sign-in links) are limited per address
//! alike for known and unknown addresses, and a link a stranger asked for still lets the
//! owner in.
//!
//! Flooding clients leave from their own loopback addresses (127.0.0.x, bound before
//! connecting); IPv6 clients come through a trusted proxy (`X-Forwarded-For`), as loopback
//! has one IPv6 address only. bcrypt runs at the node's cost (12, ~0.3 s a hash) on one
//! thread with no queue (`password_hash_queue = 0`): the tries of a burst arrive together,
//! one is hashed and the others answer busy at once, each counted by the limits all the
//! same. The hashes are counted in each test.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tests::accounts::{
    AccountsGateway as Gateway, PASSWORD, between, enter_code, location, previous_totp_step,
    sign_in, sign_out, signed_in, unix_now,
};
use tests::html_check::html_problems;
use tests::raw_http::RawAnswer;
use tests::web::WebClient;

const WRONG: &str = "a wrong but long guess";
/// One hash at a time and none waiting: a burst costs about one hash.
const NO_QUEUE: &str = "password_hash_queue = 0";
/// The test's own address (the owner's "home") relays for the IPv6 clients.
const PROXY: &str = "\n[gateway]\ntrusted_proxies = [\"127.0.0.1\"]\n";

fn loopback(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, a, b))
}

/// Where a flooding client comes from: its own loopback address, or an address the trusted
/// proxy (127.0.0.1) forwards for.
#[derive(Clone, Copy)]
enum From {
    Address(IpAddr),
    Forwarded(IpAddr),
}

fn visitor(gateway: &Gateway, from: From) -> WebClient {
    match from {
        From::Address(ip) => WebClient::from_address(gateway.addr(), ip),
        From::Forwarded(ip) => {
            let mut web = gateway.client();
            web.headers.push(("X-Forwarded-For".into(), ip.to_string()));
            web
        }
    }
}

/// Password sign-ins (email, password) from `tries`' clients, posted together: each client
/// loads the form first, then all post at once.
fn burst(gateway: &Gateway, tries: &[(From, String, &str)]) -> Vec<RawAnswer> {
    let forms: Vec<(WebClient, String)> = tries
        .iter()
        .map(|(from, _, _)| {
            let mut web = visitor(gateway, *from);
            let form = web.get("/account/sign-in");
            assert_eq!(form.status, 200);
            (web, form.text())
        })
        .collect();
    let start = Barrier::new(forms.len());
    std::thread::scope(|scope| {
        let posts: Vec<_> = forms
            .into_iter()
            .zip(tries)
            .map(|((mut web, form), (_, email, password))| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    web.submit(
                        &form,
                        "/account/sign-in",
                        &[("email", email), ("password", password)],
                    )
                })
            })
            .collect();
        posts.into_iter().map(|p| p.join().unwrap()).collect()
    })
}

/// Each try of a burst was refused (`401`, hashed) or answered busy (`503`, counted but not
/// hashed): at least one of each, none limited.
fn refused_or_busy(answers: &[RawAnswer]) -> Vec<&RawAnswer> {
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&401), "one try is hashed: {statuses:?}");
    let busy: Vec<&RawAnswer> = answers.iter().filter(|a| a.status == 503).collect();
    assert!(
        !busy.is_empty(),
        "the others find the pool full: {statuses:?}"
    );
    busy
}

fn retry_after(answer: &RawAnswer) -> u64 {
    answer
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After on a {}:\n{}", answer.status, answer.head))
}

/// The one alert a page shows (the error, in words).
fn alert(answer: &RawAnswer) -> String {
    between(&answer.text(), "role=\"alert\">", "</p>").to_owned()
}

#[test]
fn a_sign_in_flood_gets_429_before_any_hash_and_the_owner_still_gets_in_with_a_mailed_link() {
    // Hashes: sign-up 1, sign-in 1, four bursts ~1 each (more if the machine stalls one),
    // two tries from other networks 2 (~2.5 s).
    let gateway = Gateway::start_configured("open", NO_QUEUE, PROXY);
    let owner = "owner@example.org";
    let mut home = gateway.client();
    gateway.sign_up(&mut home, owner);
    assert_eq!(sign_in(&mut home, owner, PASSWORD).status, 303);
    let two_factor = home.get("/account/two-factor");
    let enrol = home.submit(&two_factor.text(), "/account/two-factor/begin", &[]);
    let secret = between(&enrol.text(), "Secret: <code>", "</code>").to_owned();
    let code = accounts::totp::code(&secret, previous_totp_step()).unwrap();
    let on = home.submit(
        &enrol.text(),
        "/account/two-factor/confirm",
        &[("code", &code)],
    );
    assert_eq!(on.status, 200, "{}", on.text());
    sign_out(&mut home);
    let mut pages: Vec<(String, String)> = Vec::new();

    // One network, 25 tries at 25 addresses nobody signed up with: each counted.
    let from_one = From::Address(loopback(0, 2));
    let tries: Vec<(From, String, &str)> = (0..25)
        .map(|i| (from_one, format!("x{i}@example.org"), WRONG))
        .collect();
    let started = Instant::now();
    let answers = burst(&gateway, &tries);
    eprintln!(
        "a burst of 25 tries from one network: {:?}",
        started.elapsed()
    );
    let busy = refused_or_busy(&answers)[0];
    assert_eq!(retry_after(busy), 2);
    assert!(alert(busy).contains("busy"), "{}", busy.text());
    assert!(busy.text().contains("action=\"/account/sign-in\""));
    pages.push(("503 busy".into(), busy.text()));

    // The 26th is limited, whatever the address it tries, before any hash.
    let mut again = visitor(&gateway, from_one);
    let asked = Instant::now();
    let limited = sign_in(&mut again, "y@example.org", WRONG);
    let took = asked.elapsed();
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!((1..=300).contains(&retry_after(&limited)));
    assert!(
        alert(&limited).contains("too many attempts"),
        "{}",
        limited.text()
    );
    assert!(
        limited.text().contains("action=\"/account/sign-in-link\""),
        "the page offers the way in that needs no password:\n{}",
        limited.text()
    );
    pages.push(("429 network".into(), limited.text()));
    eprintln!("the 26th try of a network answered 429 in {took:?}");
    // Another address is served.
    let mut other = visitor(&gateway, From::Address(loopback(0, 3)));
    assert_eq!(sign_in(&mut other, "y@example.org", WRONG).status, 401);

    // IPv6 counts per /64: 25 tries from 25 addresses of one /64, then another address of
    // it is limited, and an address of the next /64 is served.
    let tries: Vec<(From, String, &str)> = (0..25)
        .map(|i| {
            let ip = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            (From::Forwarded(ip), format!("v6-{i}@example.org"), WRONG)
        })
        .collect();
    refused_or_busy(&burst(&gateway, &tries));
    let same_64 = From::Forwarded("2001:db8:1:2:ffff::1".parse().unwrap());
    let limited = sign_in(&mut visitor(&gateway, same_64), "z@example.org", WRONG);
    assert_eq!(limited.status, 429, "{}", limited.text());
    let next_64 = From::Forwarded("2001:db8:1:3::1".parse().unwrap());
    let served = sign_in(&mut visitor(&gateway, next_64), "z@example.org", WRONG);
    assert_eq!(served.status, 401, "{}", served.text());

    // One account, 24 tries from 24 networks (its owner's sign-in above was the first of
    // its 25 an hour): then even the right password waits.
    let tries: Vec<(From, String, &str)> = (0..24)
        .map(|i| (From::Address(loopback(1, i + 1)), owner.to_owned(), WRONG))
        .collect();
    refused_or_busy(&burst(&gateway, &tries));
    let limited = sign_in(&mut home, owner, PASSWORD);
    assert_eq!(limited.status, 429, "{}", limited.text());
    let wait = retry_after(&limited);
    assert!(
        (301..=3600).contains(&wait),
        "the account's hour, not a network's 5 minutes: {wait}"
    );
    assert!(!signed_in(&mut home));
    pages.push(("429 account".into(), limited.text()));

    // The flood goes on from ever new networks while the owner asks for a sign-in link,
    // reads it from the mail, opens it and enters a code.
    let stop = AtomicBool::new(false);
    let sent = AtomicUsize::new(0);
    let flood_statuses = std::thread::scope(|scope| {
        let flood = scope.spawn(|| {
            let mut statuses = Vec::new();
            for i in 0..=u8::MAX {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let mut stranger = visitor(&gateway, From::Address(loopback(2, i)));
                statuses.push(sign_in(&mut stranger, owner, WRONG).status);
                sent.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
            }
            statuses
        });
        while sent.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let seen = gateway.smtp.mails().len();
        let ask = home.get("/account/sign-in-link");
        let asked = home.submit(&ask.text(), "/account/sign-in-link", &[("email", owner)]);
        assert_eq!(asked.status, 200, "{}", asked.text());
        assert!(asked.text().contains("Check your mail"));
        let token = gateway
            .smtp
            .wait_for_link(seen, owner, accounts::SIGN_IN_LINK_PATH);
        let path = format!("{}{token}", accounts::SIGN_IN_LINK_PATH);
        let landing = home.get(&path);
        assert_eq!(
            landing.status, 200,
            "a scanner fetching the link spends nothing"
        );
        let step = home.submit(&landing.text(), &path, &[]);
        assert_eq!(step.status, 200, "{}", step.text());
        assert!(
            !home.cookies.contains_key("swarmfeed-session"),
            "the link replaces the password, not the second factor"
        );
        let code = accounts::totp::code(&secret, unix_now()).unwrap();
        let done = enter_code(&mut home, &step, &code);
        assert_eq!(
            (done.status, location(&done)),
            (303, "/account".to_owned()),
            "{}",
            done.text()
        );
        assert!(signed_in(&mut home));
        stop.store(true, Ordering::SeqCst);
        flood.join().unwrap()
    });
    eprintln!(
        "{} tries of the flood while the owner came in",
        flood_statuses.len()
    );
    assert!(
        flood_statuses.len() >= 2 && flood_statuses.iter().all(|s| *s == 429),
        "every try of the flood meanwhile was limited, none hashed: {flood_statuses:?}"
    );
    let account = home.get("/account").text();
    let log = between(&account, "<h2>Security log</h2>", "</table>");
    assert!(log.contains("sign_in_link_used"), "{log}");
    assert!(log.contains("sign_in_failed"), "{log}");

    let problems = html_problems(&pages);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn mailed_links_are_limited_per_address_alike_for_unknown_ones_and_a_link_a_stranger_asked_for_lets_the_owner_in()
 {
    // Hashes: sign-up 1 (~0.3 s).
    let gateway = Gateway::start();
    let owner = "owner@example.org";
    let nobody = "nobody@example.org";
    let mut home = gateway.client();
    gateway.sign_up(&mut home, owner);
    let mails_to = |to: &str, path: &str| {
        gateway
            .smtp
            .mails()
            .iter()
            .filter(|m| m.to_lowercase().contains(&format!("to: {to}")) && m.contains(path))
            .count()
    };

    // Resets: five for each address answer "check your mail"; the sixth answers alike for
    // both, and mails nothing.
    let mut stranger = WebClient::from_address(gateway.addr(), loopback(0, 2));
    let ask = stranger.get("/account/reset").text();
    let mut reset = |email: &str| stranger.submit(&ask, "/account/reset", &[("email", email)]);
    for _ in 0..5 {
        for email in [owner, nobody] {
            let sent = reset(email);
            assert_eq!(sent.status, 200, "{}", sent.text());
            assert!(sent.text().contains("Check your mail"));
        }
    }
    tests::poll::wait_for(Duration::from_secs(20), "five reset mails", || {
        (mails_to(owner, accounts::RESET_PATH) == 5).then_some(())
    });
    let sixth = [reset(owner), reset(nobody)];
    assert_eq!(
        sixth.iter().map(|a| a.status).collect::<Vec<_>>(),
        [429, 429]
    );
    let waits: Vec<u64> = sixth.iter().map(retry_after).collect();
    assert!(
        waits.iter().all(|w| (1..=1800).contains(w)) && waits[0].abs_diff(waits[1]) <= 2,
        "{waits:?}"
    );
    let page = |answer: &RawAnswer, email: &str| answer.text().replace(email, "EMAIL");
    assert_eq!(
        page(&sixth[0], owner),
        page(&sixth[1], nobody),
        "the same page for a known and an unknown address"
    );
    assert!(
        alert(&sixth[0]).contains("too many attempts"),
        "{}",
        sixth[0].text()
    );
    assert!(
        sixth[0].text().contains("still valid"),
        "the page says the links already mailed still work:\n{}",
        sixth[0].text()
    );
    // A mail asked for after the sixth arrives; by then five reset mails came, not six.
    let seen = gateway.smtp.mails().len();
    let ask_link = home.get("/account/sign-in-link").text();
    let asked = home.submit(&ask_link, "/account/sign-in-link", &[("email", owner)]);
    assert_eq!(asked.status, 200);
    gateway
        .smtp
        .wait_for_link(seen, owner, accounts::SIGN_IN_LINK_PATH);
    assert_eq!(mails_to(owner, accounts::RESET_PATH), 5);
    assert_eq!(
        mails_to(nobody, ""),
        0,
        "no mail to an address without an account"
    );

    // Sign-in links: a stranger asks until the address's five mails of the half hour are
    // used (the confirmation and the owner's link above were two), then the owner is
    // limited too, and told the links already mailed still work: the stranger's do.
    let seen = gateway.smtp.mails().len();
    let ask_link = stranger.get("/account/sign-in-link").text();
    let statuses: Vec<u16> = (0..4)
        .map(|_| {
            stranger
                .submit(&ask_link, "/account/sign-in-link", &[("email", owner)])
                .status
        })
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    let first = gateway
        .smtp
        .wait_for_link(seen, owner, accounts::SIGN_IN_LINK_PATH);
    let ask_link = home.get("/account/sign-in-link").text();
    let limited = home.submit(&ask_link, "/account/sign-in-link", &[("email", owner)]);
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.text().contains("still valid"), "{}", limited.text());
    let path = format!("{}{first}", accounts::SIGN_IN_LINK_PATH);
    let landing = home.get(&path);
    let done = home.submit(&landing.text(), &path, &[]);
    assert_eq!(
        (done.status, location(&done)),
        (303, "/account".to_owned()),
        "{}",
        done.text()
    );
    assert!(signed_in(&mut home));

    let named = [
        ("429 reset", sixth[0].text()),
        ("429 sign-in link", limited.text()),
    ];
    let named: Vec<(&str, &str)> = named.iter().map(|(n, h)| (*n, h.as_str())).collect();
    let problems = html_problems(&named);
    assert!(problems.is_empty(), "{problems:#?}");
}
