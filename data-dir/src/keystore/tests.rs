//! The keystore as a user meets it: files, modes, defaults, backups.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use age::secrecy::SecretString;

use super::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_identity_is_a_0600_key_file_in_a_0700_directory_and_the_first_is_the_default() {
    let data = tempfile::tempdir().unwrap();
    let store = Keystore::new(&data.path().join("swarmfeed-data"));
    let alice = store.generate("alice", false).unwrap();
    assert_eq!(mode(&alice.path), 0o600);
    assert_eq!(mode(store.dir()), 0o700);
    assert!(alice.is_default);
    let bob = store.generate("bob", false).unwrap();
    assert!(!bob.is_default);
    assert_ne!(alice.public, bob.public);
    assert_eq!(store.resolve(None).unwrap().1.public(), alice.public);
    store.set_default("bob").unwrap();
    assert_eq!(store.resolve(None).unwrap().0, "bob");
    let names: Vec<_> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|i| (i.name, i.is_default))
        .collect();
    assert_eq!(
        names,
        [("alice".to_owned(), false), ("bob".to_owned(), true)]
    );
    // No temporary files are left behind.
    let files = fs::read_dir(store.dir()).unwrap().count();
    assert_eq!(files, 3);
}

#[test]
fn a_taken_name_is_refused_and_the_old_key_survives() {
    let data = tempfile::tempdir().unwrap();
    let store = Keystore::new(data.path());
    let first = store.generate("main", false).unwrap();
    assert!(matches!(
        store.generate("main", true),
        Err(Error::IdentityExists(_))
    ));
    assert_eq!(store.get("main").unwrap().public, first.public);
}

#[test]
fn names_with_slashes_dots_first_or_control_characters_are_refused() {
    let store = Keystore::new(Path::new("/nonexistent"));
    for bad in [
        "",
        "a/b",
        "../x",
        ".hidden",
        "tab\there",
        "new\nline",
        &"x".repeat(65),
    ] {
        assert!(
            matches!(
                store.generate(bad, false),
                Err(Error::BadIdentityName { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn an_empty_keystore_lists_nothing_and_has_no_default() {
    let data = tempfile::tempdir().unwrap();
    let store = Keystore::new(&data.path().join("absent"));
    assert!(store.list().unwrap().is_empty());
    assert!(matches!(store.resolve(None), Err(Error::NoDefaultIdentity)));
    assert!(matches!(
        store.keypair("who"),
        Err(Error::UnknownIdentity(_))
    ));
    assert!(
        !data.path().join("absent").exists(),
        "reading must not create the data dir"
    );
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let store = Keystore::new(data.path());
    let id = store.generate("open", false).unwrap();
    fs::set_permissions(&id.path, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        store.keypair("open"),
        Err(Error::KeyFileExposed { .. })
    ));
}

#[test]
fn a_key_file_whose_public_key_does_not_match_its_seed_is_refused() {
    let a = Keypair::from_seed(&[1; 32]);
    let b = Keypair::from_seed(&[2; 32]);
    let text = format!("public: {}\nseed: {}\n", a.public(), hex::encode(b.seed()));
    let err = KeyFile::decode(text.as_bytes(), Path::new("k"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn export_writes_an_armored_age_file_the_keystore_reads_back() {
    let data = tempfile::tempdir().unwrap();
    let store = Keystore::new(data.path());
    let id = store.generate("me", false).unwrap();
    let passphrase = "twelve chars";
    let backup = store.export("me", SecretString::from(passphrase)).unwrap();
    let key = backup::decrypt_backup(backup.as_bytes(), SecretString::from(passphrase)).unwrap();
    assert_eq!(
        (key.name.as_deref(), key.keypair.public()),
        (Some("me"), id.public)
    );
}

#[test]
fn an_exported_backup_imports_elsewhere_with_the_passphrase_and_not_without() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let source = Keystore::new(one.path());
    let original = source.generate("alice", false).unwrap();
    let keypair = source.keypair("alice").unwrap();
    let passphrase = SecretString::from("correct horse");
    let backup = backup::encrypt_backup_at("alice", &keypair, passphrase, Some(10)).unwrap();
    assert!(backup.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!backup.contains(&hex::encode(keypair.seed())));

    let target = Keystore::new(two.path());
    let wrong = target.import(backup.as_bytes(), SecretString::from("wrong"), None, false);
    assert!(matches!(wrong, Err(Error::BackupDecrypt(_))));
    let imported = target
        .import(
            backup.as_bytes(),
            SecretString::from("correct horse"),
            None,
            false,
        )
        .unwrap();
    assert_eq!(
        (imported.name.as_str(), imported.public),
        ("alice", original.public)
    );
    let renamed = target
        .import(
            backup.as_bytes(),
            SecretString::from("correct horse"),
            Some("copy"),
            false,
        )
        .unwrap();
    assert_eq!(renamed.public, original.public);
    assert_eq!(mode(&renamed.path), 0o600);
}

#[test]
fn export_refuses_a_passphrase_under_twelve_characters() {
    let data = tempfile::tempdir().unwrap();
    let store = Keystore::new(data.path());
    store.generate("me", false).unwrap();
    for short in ["x", "elevenchars", "ééééééééééé"] {
        let err = store.export("me", SecretString::from(short)).err();
        assert!(
            matches!(err, Some(Error::WeakPassphrase { min: 12, .. })),
            "{short:?}: {err:?}"
        );
    }
    // Characters are counted, not bytes: twelve of them pass whatever their encoding.
    assert!(
        store
            .export("me", SecretString::from("éééééééééééé"))
            .is_ok()
    );
}

#[test]
fn a_backup_made_with_a_short_passphrase_before_the_floor_still_imports() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let source = Keystore::new(one.path());
    let original = source.generate("old", false).unwrap();
    let keypair = source.keypair("old").unwrap();
    // What an older swarmfeed wrote with a one-character passphrase.
    let backup =
        backup::encrypt_backup_at("old", &keypair, SecretString::from("x"), Some(10)).unwrap();
    let imported = Keystore::new(two.path())
        .import(backup.as_bytes(), SecretString::from("x"), None, false)
        .unwrap();
    assert_eq!(imported.public, original.public);
}
