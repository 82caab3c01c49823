//! `swarmfeed admin …` as an operator runs it on the server: with the node's config, on the
//! accounts database the gateway uses. Users sign up through the accounts crate on the same
//! files (the gateway's pages do the same calls), reading their confirmation links from the
//! outbox; every admin action is the real binary.

use std::path::Path;
use std::process::Output;

use accounts::{Accounts, AccountsConfig, Client, Secret, SignUp};
use tests::binary::swarmfeed;

const PUBLIC_URL: &str = "http://gw.example.test";
const PASSWORD: &str = "a long enough passphrase";

fn write_config(dir: &Path, mode: &str) -> String {
    let path = dir.join(format!("{mode}.toml"));
    let text = format!(
        "data_dir = {:?}\n[accounts]\nmode = {mode:?}\npublic_url = {PUBLIC_URL:?}\n",
        dir.join("data")
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn admin(config: &str, args: &[&str]) -> Output {
    let mut all = vec!["admin", "--config", config];
    all.extend_from_slice(args);
    swarmfeed(&all)
}

fn admin_ok(config: &str, args: &[&str]) -> String {
    let out = admin(config, args);
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

/// The line of `admin users` for `email`.
fn user_line(config: &str, email: &str) -> Option<String> {
    admin_ok(config, &["users"])
        .lines()
        .find(|l| l.split('\t').next() == Some(email))
        .map(str::to_owned)
}

/// Signs `email` up (with `invitation` in mode `invite`) and opens the mailed link, as the
/// gateway's pages do.
async fn sign_up(accounts: &Accounts, email: &str, invitation: Option<&str>) {
    let client = Client {
        ip: "192.0.2.7".parse().unwrap(),
        user_agent: "test".into(),
    };
    let form = SignUp {
        email: email.into(),
        password: PASSWORD.into(),
        invitation: invitation.map(Secret::new),
    };
    accounts.sign_up(form, &client).await.unwrap();
    accounts.flush_mail().await;
    let prefix = format!("{PUBLIC_URL}{}", accounts::CONFIRM_PATH);
    let token = std::fs::read_dir(accounts.outbox_path())
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .map(|m| m.replace("=\r\n", "").replace("=\n", ""))
        .filter(|m| m.contains(&format!("To: {email}")))
        .find_map(|m| {
            let at = m.find(&prefix)? + prefix.len();
            Some(
                m[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect::<String>(),
            )
        })
        .expect("a confirmation link in the outbox");
    accounts
        .confirm_sign_up(&Secret::new(token), &client)
        .await
        .unwrap();
}

fn open(config: &str, dir: &Path) -> Accounts {
    let text = std::fs::read_to_string(config).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let accounts: AccountsConfig = table["accounts"].clone().try_into().unwrap();
    Accounts::open(accounts, &dir.join("data")).unwrap()
}

#[test]
fn admin_refuses_with_exit_3_when_accounts_are_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = swarmfeed(&["--data", data.to_str().unwrap(), "admin", "users"]);
    let stderr = refused(&out);
    assert!(stderr.contains("accounts are off"), "{stderr}");
    assert!(
        !data.join("accounts.sqlite").exists(),
        "nothing created when off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_invites_grants_sets_quotas_and_approves_while_the_first_sign_up_is_no_admin()
{
    let dir = tempfile::tempdir().unwrap();
    let invite = write_config(dir.path(), "invite");

    // An invitation code for two sign-ups; the first user it admits is no admin.
    let code = admin_ok(&invite, &["invite", "--uses", "2", "--expires", "1h"]);
    let code = code.trim();
    assert!(code.len() >= 40, "a long random code: {code}");
    let accounts = open(&invite, dir.path());
    sign_up(&accounts, "first@example.org", Some(code)).await;
    let line = user_line(&invite, "first@example.org").expect("listed");
    assert!(line.contains("\tactive\t"), "no admin, active: {line}");
    assert!(line.ends_with("uploaded 0 bytes of 1 GiB"), "{line}");

    admin_ok(&invite, &["grant", "FIRST@example.org"]);
    let line = user_line(&invite, "first@example.org").unwrap();
    assert!(line.contains("\tactive,admin\t"), "{line}");
    admin_ok(&invite, &["revoke", "first@example.org"]);
    let line = user_line(&invite, "first@example.org").unwrap();
    assert!(line.contains("\tactive\t"), "{line}");

    admin_ok(&invite, &["quota", "first@example.org", "2GiB"]);
    assert!(
        user_line(&invite, "first@example.org")
            .unwrap()
            .ends_with("of 2 GiB")
    );
    assert_eq!(
        accounts
            .upload_usage(
                accounts
                    .user_by_email(accounts::Actor::Operator, "first@example.org")
                    .await
                    .unwrap()
                    .id
            )
            .await
            .unwrap()
            .quota,
        2 << 30
    );
    admin_ok(&invite, &["quota", "first@example.org", "default"]);
    assert!(
        user_line(&invite, "first@example.org")
            .unwrap()
            .ends_with("of 1 GiB")
    );

    // Bad input: one line, exit 3, nothing changed.
    refused(&admin(&invite, &["quota", "first@example.org", "lots"]));
    let stderr = refused(&admin(&invite, &["grant", "nobody@example.org"]));
    assert!(stderr.contains("no such user"), "{stderr}");
    refused(&admin(&invite, &["grant", "not an address"]));
    refused(&admin(&invite, &["invite", "--expires", "soon"]));
    refused(&admin(&invite, &["approve", "first@example.org"]));

    // Mode approval on the same database: sign-ups wait for the operator.
    let approval = write_config(dir.path(), "approval");
    drop(accounts);
    let accounts = open(&approval, dir.path());
    sign_up(&accounts, "second@example.org", None).await;
    sign_up(&accounts, "third@example.org", None).await;
    assert_eq!(
        admin_ok(&approval, &["pending"]),
        "second@example.org\nthird@example.org\n"
    );
    admin_ok(&approval, &["approve", "second@example.org"]);
    admin_ok(&approval, &["reject", "third@example.org"]);
    assert_eq!(admin_ok(&approval, &["pending"]), "");
    let line = user_line(&approval, "second@example.org").unwrap();
    assert!(line.contains("\tactive\t"), "{line}");
    assert!(user_line(&approval, "third@example.org").is_none());
}
