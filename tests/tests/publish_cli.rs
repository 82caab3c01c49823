//! `swarmfeed publish` with bad input: each a clear one-line error and a non-zero exit, and
//! the data directory still valid afterwards (its feed log re-read and verified).

use std::fs;
use std::path::Path;
use std::process::Command;

use data_dir::DataDir;
use feeds::FeedName;
use tests::binary::{swarmfeed, swarmfeed_ok};

/// Re-reads the default identity's `main` feed from disk and verifies it from scratch.
fn verified_seqs(data: &Path) -> Vec<u64> {
    let data = DataDir::new(data);
    let identity = data.keystore().resolve(None).unwrap().1.public();
    let feed = FeedName::new("main").unwrap();
    let (_, entries) = publisher::feed_writer::read_committed(&data, &identity, &feed).unwrap();
    let log = feeds::verify_log(&identity, &feed, entries, None).unwrap();
    log.entries.iter().map(|e| e.seq()).collect()
}

fn one_line_error(output: &std::process::Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

#[test]
fn bad_paths_and_names_fail_with_one_line_and_leave_the_feed_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    swarmfeed_ok(&["--data", d, "identity", "new", "--name", "alice"]);
    let good = tmp.path().join("good.txt");
    fs::write(&good, b"good").unwrap();
    swarmfeed_ok(&["--data", d, "publish", good.to_str().unwrap()]);

    let missing = swarmfeed(&[
        "--data",
        d,
        "publish",
        tmp.path().join("nope").to_str().unwrap(),
    ]);
    assert!(one_line_error(&missing).contains("does not exist"));
    assert_eq!(missing.status.code(), Some(3));

    let shared = tmp.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::write(shared.join("a.txt"), b"a").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", shared.join("escape")).unwrap();
    let escape = swarmfeed(&["--data", d, "publish", shared.to_str().unwrap()]);
    assert!(
        one_line_error(&escape).contains("outside"),
        "{}",
        String::from_utf8_lossy(&escape.stderr)
    );
    assert_eq!(escape.status.code(), Some(3));

    for feed in ["a/b", "tab\there", "new\nline", ""] {
        let bad = swarmfeed(&[
            "--data",
            d,
            "publish",
            good.to_str().unwrap(),
            "--feed",
            feed,
        ]);
        assert!(one_line_error(&bad).contains("feed"), "{feed:?}");
        assert_eq!(bad.status.code(), Some(2));
    }
    let meta = swarmfeed(&[
        "--data",
        d,
        "publish",
        good.to_str().unwrap(),
        "--meta",
        "novalue",
    ]);
    assert_eq!(meta.status.code(), Some(2));
    let unknown = swarmfeed(&[
        "--data",
        d,
        "publish",
        good.to_str().unwrap(),
        "--identity",
        "bob",
    ]);
    assert!(one_line_error(&unknown).contains("bob"));

    assert_eq!(verified_seqs(&data), vec![1]);
}

#[test]
fn a_full_disk_during_publish_fails_cleanly_and_the_feed_stays_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("small");
    fs::create_dir(&mount).unwrap();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !is_root {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=160k", "tmpfs"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(mounted.success(), "cannot mount a tmpfs as root");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mount);

    let data = mount.join("data");
    let d = data.to_str().unwrap();
    swarmfeed_ok(&["--data", d, "identity", "new", "--name", "alice"]);
    let small = tmp.path().join("small.txt");
    fs::write(&small, b"fits").unwrap();
    swarmfeed_ok(&["--data", d, "publish", small.to_str().unwrap()]);

    // 160 MiB of zeros in 16 KiB pieces: a .torrent of 200 KB, more than the disk has left.
    let big = tmp.path().join("big.bin");
    fs::File::create(&big).unwrap().set_len(160 << 20).unwrap();
    let full = swarmfeed(&[
        "--data",
        d,
        "publish",
        big.to_str().unwrap(),
        "--piece-size",
        "16KiB",
    ]);
    let error = one_line_error(&full);
    assert!(
        error.contains("No space left") || error.contains("space"),
        "{error}"
    );
    assert_eq!(full.status.code(), Some(1));
    assert_eq!(error.lines().count(), 1);

    assert_eq!(verified_seqs(&data), vec![1]);
    // Once there is room again, publishing continues the same feed.
    swarmfeed_ok(&["--data", d, "publish", small.to_str().unwrap()]);
    assert_eq!(verified_seqs(&data), vec![1, 2]);
}

/// Runs the binary as an unprivileged user when the tests run as root (root reads any file
/// whatever its mode): a copy of it in `tmp`, which that user owns.
fn unprivileged(tmp: &Path) -> impl Fn(&[&str]) -> std::process::Output {
    use std::os::unix::fs::MetadataExt;
    let as_root = fs::metadata("/proc/self").unwrap().uid() == 0;
    let bin = tmp.join("swarmfeed");
    fs::copy(tests::binary::swarmfeed_bin(), &bin).unwrap();
    if as_root {
        const NOBODY: u32 = 65534;
        let mut stack = vec![tmp.to_path_buf()];
        while let Some(path) = stack.pop() {
            std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
            if path.is_dir() {
                stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
        }
    }
    move |args: &[&str]| {
        let mut command = if as_root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        command
            .args(args)
            .env_remove("SWARMFEED_DATA")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
}

#[test]
fn an_unreadable_file_fails_with_one_line_and_leaves_the_feed_valid() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let good = tmp.path().join("good.txt");
    fs::write(&good, b"good").unwrap();
    let secret = tmp.path().join("secret.txt");
    fs::write(&secret, b"secret").unwrap();
    let album = tmp.path().join("album");
    fs::create_dir(&album).unwrap();
    fs::write(album.join("a.txt"), b"a").unwrap();
    fs::write(album.join("locked.txt"), b"locked").unwrap();
    let run = unprivileged(tmp.path());
    assert!(
        run(&["--data", d, "identity", "new", "--name", "alice"])
            .status
            .success()
    );
    assert!(
        run(&["--data", d, "publish", good.to_str().unwrap()])
            .status
            .success()
    );
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(album.join("locked.txt"), fs::Permissions::from_mode(0o000)).unwrap();

    for path in [&secret, &album] {
        let failed = run(&["--data", d, "publish", path.to_str().unwrap()]);
        let stderr = one_line_error(&failed);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("ermission denied"), "{stderr}");
    }
    assert_eq!(verified_seqs(&data), vec![1]);
    assert!(
        run(&["--data", d, "publish", good.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(verified_seqs(&data), vec![1, 2]);
}

#[test]
fn names_with_bidi_controls_or_windows_device_names_are_refused_with_exit_code_3() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    swarmfeed_ok(&["--data", d, "identity", "new", "--name", "alice"]);
    let good = tmp.path().join("good.txt");
    fs::write(&good, b"good").unwrap();
    swarmfeed_ok(&["--data", d, "publish", good.to_str().unwrap()]);

    // (name, words the error must hold): a single file, then the same name inside a folder.
    let cases = [
        ("photo\u{202E}gpj.exe", "U+202E"),
        ("left\u{2066}to", "U+2066"),
        ("mark\u{200F}", "U+200F"),
        ("c1\u{85}control", "U+0085"),
        ("CON", "device name"),
        ("nul.txt", "device name"),
        ("Com1.tar.gz", "device name"),
        ("lpt9", "device name"),
        ("aux", "device name"),
        ("PRN.md", "device name"),
        ("notes.", "ends with a dot or a space"),
        ("notes ", "ends with a dot or a space"),
    ];
    for (i, (name, rule)) in cases.iter().enumerate() {
        let single = tmp.path().join(format!("single{i}"));
        fs::create_dir(&single).unwrap();
        fs::write(single.join(name), b"x").unwrap();
        let nested = tmp.path().join(format!("nested{i}"));
        fs::create_dir_all(nested.join("sub")).unwrap();
        fs::write(nested.join("ok.txt"), b"ok").unwrap();
        fs::write(nested.join("sub").join(name), b"x").unwrap();
        let torrent = tmp.path().join(format!("t{i}.torrent"));
        for args in [
            vec!["--data", d, "publish", single.join(name).to_str().unwrap()],
            vec!["--data", d, "publish", nested.to_str().unwrap()],
            vec![
                "torrent",
                "create",
                nested.to_str().unwrap(),
                "-o",
                torrent.to_str().unwrap(),
            ],
        ] {
            let out = swarmfeed(&args);
            let error = one_line_error(&out);
            assert_eq!(out.status.code(), Some(3), "{name:?}: {error}");
            assert_eq!(error.lines().count(), 1, "{error}");
            assert!(error.contains(rule), "{name:?}: {error}");
            assert!(error.contains("cannot be named in a torrent"), "{error}");
            // The file is named, with hidden characters written out, never raw.
            assert!(
                !error.contains(['\u{202E}', '\u{2066}', '\u{200F}', '\u{85}']),
                "{error:?}"
            );
            let shown = publisher::torrent::portable_name::visible(name);
            assert!(error.contains(shown.as_ref()), "{error:?} lacks {shown}");
            assert!(!torrent.exists());
        }
    }
    assert_eq!(verified_seqs(&data), vec![1]);
}

#[test]
fn torrent_show_refuses_a_device_and_an_oversized_file_without_reading_them() {
    let tmp = tempfile::tempdir().unwrap();
    let sparse = tmp.path().join("huge.torrent");
    fs::File::create(&sparse).unwrap().set_len(1 << 40).unwrap();
    for (file, words) in [
        (Path::new("/dev/zero"), "not a regular file"),
        (
            sparse.as_path(),
            "larger than a .torrent file may be (64 MiB)",
        ),
    ] {
        // Under a 1 GiB address-space limit: reading either whole cannot fit in it.
        let started = std::time::Instant::now();
        let out = Command::new("prlimit")
            .arg("--as=1073741824")
            .arg(tests::binary::swarmfeed_bin())
            .args(["torrent", "show"])
            .arg(file)
            .output()
            .unwrap();
        let error = one_line_error(&out);
        assert_eq!(out.status.code(), Some(3), "{file:?}: {error}");
        assert!(error.contains(words), "{file:?}: {error}");
        assert!(error.contains(file.to_str().unwrap()), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}
