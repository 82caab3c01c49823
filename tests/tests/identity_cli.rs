//! `swarmfeed identity …` as a user runs it: key files, the default, secrets kept quiet,
//! and passphrase-protected backups that move an identity to another data directory.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tests::binary::{field, swarmfeed, swarmfeed_ok, swarmfeed_with_env};

fn data_arg(dir: &Path) -> String {
    dir.to_str().unwrap().to_owned()
}

#[test]
fn a_new_identity_is_listed_as_the_default_and_its_key_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(&dir.path().join("data"));
    let created = swarmfeed_ok(&["--data", &data, "identity", "new"]);
    let id = field(&created, "id").unwrap().to_owned();
    assert_eq!(id.len(), 52, "a z-base-32 ed25519 key");
    assert_eq!(field(&created, "default"), Some("yes"));
    let key_file = field(&created, "key file").unwrap();
    let mode = std::fs::metadata(key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    swarmfeed_ok(&["--data", &data, "identity", "new", "--name", "work"]);
    let list = swarmfeed_ok(&["--data", &data, "identity", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("* main") && lines[0].ends_with(&id),
        "{list}"
    );
    assert!(lines[1].starts_with("  work"), "{list}");
}

#[test]
fn show_never_prints_the_secret_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    swarmfeed_ok(&["--data", &data, "identity", "new"]);
    let shown = swarmfeed_ok(&["--data", &data, "identity", "show"]);
    assert!(!shown.contains("secret"), "{shown}");
    let secret = swarmfeed_ok(&["--data", &data, "identity", "show", "main", "--show-secret"]);
    let seed = field(&secret, "secret seed").unwrap();
    assert_eq!(seed.len(), 64);
    assert!(!shown.contains(seed));
}

#[test]
fn an_exported_backup_restores_the_same_identity_in_another_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (
        data_arg(&dir.path().join("one")),
        data_arg(&dir.path().join("two")),
    );
    let created = swarmfeed_ok(&["--data", &one, "identity", "new", "--name", "alice"]);
    let backup = dir.path().join("alice.age");
    let backup = backup.to_str().unwrap();
    let pass = [("SWARMFEED_PASSPHRASE", "correct horse battery staple")];
    let out = swarmfeed_with_env(
        &["--data", &one, "identity", "export", "alice", "-o", backup],
        &pass,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(backup).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));

    let wrong = [("SWARMFEED_PASSPHRASE", "wrong")];
    let out = swarmfeed_with_env(&["--data", &two, "identity", "import", backup], &wrong);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: cannot decrypt the backup"));

    let out = swarmfeed_with_env(
        &["--data", &two, "identity", "import", backup, "--no-sync"],
        &pass,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported = String::from_utf8(out.stdout).unwrap();
    assert_eq!(field(&imported, "name"), Some("alice"));
    assert_eq!(field(&imported, "id"), field(&created, "id"));
}

#[test]
fn export_without_a_passphrase_or_terminal_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    swarmfeed_ok(&["--data", &data, "identity", "new"]);
    let out_file = dir.path().join("backup.age");
    let out = swarmfeed(&[
        "--data",
        &data,
        "identity",
        "export",
        "main",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SWARMFEED_PASSPHRASE"), "{stderr}");
    assert!(!out_file.exists());
}

#[test]
fn a_bad_identity_name_or_a_taken_one_is_refused_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    for bad in ["a/b", "../up", "tab\there"] {
        let out = swarmfeed(&["--data", &data, "identity", "new", "--name", bad]);
        assert_eq!(out.status.code(), Some(3), "{bad:?}");
    }
    swarmfeed_ok(&["--data", &data, "identity", "new"]);
    let out = swarmfeed(&["--data", &data, "identity", "new"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

/// Runs Debian's `age -d` on `backup` under `script` (a pseudo-terminal: age reads the
/// passphrase from the terminal only), typing `passphrase` once it asks. Returns whether it
/// succeeded, and what it wrote to `out`.
fn age_decrypt(backup: &Path, out: &Path, passphrase: &str) -> (bool, Option<Vec<u8>>) {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let command = format!("age -d -o {} {}", quote(out), quote(backup));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run script (util-linux) with age");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&seen).into_owned());
        }
    });
    // Type only once age prompts, as a user would.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        if shown.contains("Enter passphrase") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "age never asked for the passphrase: {shown:?}"
        );
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{passphrase}\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let status = tests::poll::wait_child(
        &mut child,
        (deadline + Duration::from_secs(30)).saturating_duration_since(Instant::now()),
    )
    .expect("age did not finish");
    drop(stdin);
    (status.success(), std::fs::read(out).ok())
}

#[test]
fn debians_age_cli_decrypts_an_exported_backup_to_the_same_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(&dir.path().join("data"));
    let created = swarmfeed_ok(&["--data", &data, "identity", "new", "--name", "alice"]);
    let secret = swarmfeed_ok(&[
        "--data",
        &data,
        "identity",
        "show",
        "alice",
        "--show-secret",
    ]);
    let seed = field(&secret, "secret seed").unwrap().to_owned();
    let backup = dir.path().join("alice.age");
    let pass = [("SWARMFEED_PASSPHRASE", "correct horse battery staple")];
    let out = swarmfeed_with_env(
        &[
            "--data",
            &data,
            "identity",
            "export",
            "alice",
            "-o",
            backup.to_str().unwrap(),
        ],
        &pass,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let plain = dir.path().join("alice.key");
    let (ok, wrote) = age_decrypt(&backup, &dir.path().join("wrong.key"), "not the passphrase");
    assert!(!ok, "a wrong passphrase must fail");
    assert!(
        wrote.is_none_or(|w| w.is_empty()),
        "nothing decrypted with a wrong passphrase"
    );

    let (ok, wrote) = age_decrypt(&backup, &plain, "correct horse battery staple");
    assert!(ok, "age -d failed");
    let text = String::from_utf8(wrote.unwrap()).unwrap();
    // The same key file the keystore holds: name, public id, secret seed.
    let on_disk = std::fs::read_to_string(dir.path().join("data/keys/alice.key")).unwrap();
    assert_eq!(text, on_disk);
    let line = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .map(str::to_owned)
    };
    assert_eq!(line("seed").as_deref(), Some(seed.as_str()));
    assert_eq!(line("public").as_deref(), field(&created, "id"));
    assert_eq!(line("name").as_deref(), Some("alice"));
}

#[test]
fn export_refuses_a_passphrase_under_twelve_characters_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    swarmfeed_ok(&["--data", &data, "identity", "new"]);
    let out_file = dir.path().join("backup.age");
    let out_arg = out_file.to_str().unwrap();
    for short in ["x", "elevenchars"] {
        let out = swarmfeed_with_env(
            &["--data", &data, "identity", "export", "main", "-o", out_arg],
            &[("SWARMFEED_PASSPHRASE", short)],
        );
        assert_eq!(out.status.code(), Some(3), "{short:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("at least 12"), "{stderr}");
        assert!(!out_file.exists(), "a backup was written with {short:?}");
    }
    let out = swarmfeed_with_env(
        &["--data", &data, "identity", "export", "main", "-o", out_arg],
        &[("SWARMFEED_PASSPHRASE", "twelve chars")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out_file.exists());
}
