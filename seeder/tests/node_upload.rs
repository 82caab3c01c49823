//! Uploads through the node API with a signed-in user as actor (the gateway's upload form
//! calls exactly this): on a real node in this process with accounts on, real SQLite
//! files, the outbox as mail. Only an owner or publisher of an identity the gateway holds
//! may publish to it; nothing is written or charged otherwise; the quota and the size limit
//! hold; a publisher's entry is in the feed, signed by the identity, and seeded from
//! `uploads/`; an upload cut mid-file leaves nothing behind; the BLAKE3 computed while the
//! bytes arrived is taken only for the very file written (replaced before the publish: 409).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use accounts::{Accounts, Client, Role, Secret, SignUp, UserId};
use feeds::{FeedName, IdentityKey, Keypair};
use http_server::ApiError;
use hyper::body::Bytes;
use seeder::config::NodeConfig;
use seeder::node::Node;
use seeder::node::api::{Actor, RetractRequest, UploadParts, UploadRequest};

const PUBLIC_URL: &str = "http://gw.example.test";

/// Files in memory, handed out in small chunks as a multipart parser would.
struct Parts {
    files: VecDeque<(String, Vec<u8>)>,
    current: VecDeque<Bytes>,
}

impl Parts {
    fn new(files: &[(&str, &[u8])]) -> Parts {
        Parts {
            files: files
                .iter()
                .map(|(n, b)| (n.to_string(), b.to_vec()))
                .collect(),
            current: VecDeque::new(),
        }
    }

    /// The declared length: the files plus some multipart overhead.
    fn declared(&self) -> u64 {
        self.files.iter().map(|(_, b)| b.len() as u64).sum::<u64>() + 400
    }
}

impl UploadParts for Parts {
    async fn next_file(&mut self) -> Result<Option<String>, ApiError> {
        Ok(self.files.pop_front().map(|(name, bytes)| {
            self.current = bytes.chunks(1000).map(Bytes::copy_from_slice).collect();
            name
        }))
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        Ok(self.current.pop_front())
    }
}

/// A node on loopback (any free ports, no bootstrap) with accounts open.
async fn start(dir: &Path) -> Node {
    let mut config = NodeConfig {
        data_dir: dir.to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        bind_ip: Ipv4Addr::LOCALHOST,
        bt_port: 0,
        dht_port: 0,
        dht_bootstrap: Vec::new(),
        allow_private_fetch: true,
        ..NodeConfig::default()
    };
    config.accounts.mode = accounts::Mode::Open;
    config.accounts.public_url = Some(PUBLIC_URL.into());
    config.accounts.max_upload_bytes = 1 << 20;
    Node::start(config, |_| axum::Router::new())
        .await
        .expect("node starts")
}

/// The token of the newest mail to `to` with a link under `path`, from the outbox.
async fn token(accounts: &Accounts, to: &str, path: &str) -> Secret {
    accounts.flush_mail().await;
    let prefix = format!("{PUBLIC_URL}{path}");
    let mut mails: Vec<_> = std::fs::read_dir(accounts.outbox_path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    mails.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    mails
        .iter()
        .rev()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|m| m.replace("=\r\n", "").replace("=\n", ""))
        .filter(|m| m.contains(&format!("To: {to}")))
        .find_map(|m| {
            let at = m.find(&prefix)? + prefix.len();
            let token: String = m[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            Some(Secret::new(token))
        })
        .unwrap_or_else(|| panic!("no {path} link to {to}"))
}

async fn user(accounts: &Accounts, email: &str) -> UserId {
    let client = Client {
        ip: "192.0.2.9".parse().unwrap(),
        user_agent: "test".into(),
    };
    let form = SignUp {
        email: email.into(),
        password: "a long enough passphrase".into(),
        invitation: None,
    };
    accounts.sign_up(form, &client).await.unwrap();
    let t = token(accounts, email, accounts::CONFIRM_PATH).await;
    accounts.confirm_sign_up(&t, &client).await.unwrap().user
}

/// An identity the gateway holds (its key sealed in the accounts database, from `seed`
/// bytes), owned by `owner`.
async fn held_identity(accounts: &Accounts, owner: UserId, seed: u8) -> IdentityKey {
    let seed = zeroize::Zeroizing::new([seed; 32]);
    let identity = Keypair::from_seed(&seed).public();
    accounts
        .add_identity(owner, &identity.to_string(), Some(seed))
        .await
        .unwrap();
    identity
}

fn uploads_in(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("uploads")).map_or(0, |d| d.count())
}

fn request(identity: &IdentityKey, parts: &Parts) -> UploadRequest {
    UploadRequest {
        identity: identity.to_string(),
        feed: "main".into(),
        title: Some("Field recordings".into()),
        description: None,
        declared_bytes: parts.declared(),
    }
}

async fn used(accounts: &Accounts, user: UserId) -> u64 {
    accounts.upload_usage(user).await.unwrap().used
}

/// Decisions to publish files counted for users with `outcome`, read from `/metrics`.
async fn decisions(node: &Node, outcome: &str) -> u64 {
    let url = format!("http://{}/metrics", node.handle().http_addr);
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let name = format!(
        "swarmfeed_authorizations_total{{operation=\"publish_files\",actor=\"user\",outcome=\"{outcome}\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&name)?.trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_and_publishers_upload_to_a_held_identity_within_quota_and_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let node = start(&dir).await;
    let api = node.handle().api();
    let accounts = api.accounts().unwrap().clone();

    let owner = user(&accounts, "owner@example.org").await;
    let member = user(&accounts, "member@example.org").await;
    let stranger = user(&accounts, "stranger@example.org").await;
    let identity = held_identity(&accounts, owner, 42).await;
    accounts
        .invite_member(
            owner,
            &identity.to_string(),
            "member@example.org",
            Role::Publisher,
        )
        .await
        .unwrap();
    let invite = token(
        &accounts,
        "member@example.org",
        accounts::MEMBER_INVITE_PATH,
    )
    .await;
    accounts
        .accept_member_invitation(member, &invite)
        .await
        .unwrap();

    // A non-member: 403, counted as denied, nothing written, nothing charged.
    let mut parts = Parts::new(&[("a.txt", b"not yours")]);
    let e = api
        .upload(
            &Actor::User { user: stranger },
            request(&identity, &parts),
            &mut parts,
        )
        .await
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.name()), (403, "forbidden"));
    assert_eq!(decisions(&node, "denied").await, 1);
    assert_eq!(uploads_in(&dir), 0);
    assert_eq!(used(&accounts, stranger).await, 0);
    assert_eq!(parts.files.len(), 1, "not a byte read");

    // The publisher member: two files, streamed, published, charged what was written.
    let song: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let mut parts = Parts::new(&[("song.flac", &song), ("notes.txt", b"recorded at dawn")]);
    let as_member = Actor::User { user: member };
    let answer = api
        .upload(&as_member, request(&identity, &parts), &mut parts)
        .await
        .unwrap();
    assert_eq!(decisions(&node, "allowed").await, 1);
    assert_eq!(answer.files.len(), 2);
    assert_eq!(
        answer.files[0].blake3,
        blake3::hash(&song).to_hex().to_string()
    );
    assert_eq!(answer.published.identity, identity.to_string());
    assert_eq!(answer.published.seq, 1);
    assert!(
        answer.published.not_taken_in.is_none(),
        "{:?}",
        answer.published
    );
    assert_eq!(
        used(&accounts, member).await,
        song.len() as u64 + 16,
        "the unused part of the declared length is given back"
    );
    let main = FeedName::new("main").unwrap();
    let entry = api.entry(&identity, &main, 1).await.unwrap().entry;
    entry.verify().unwrap();
    assert_eq!(entry.entry().author, identity);
    assert_eq!(
        entry.entry().meta.get("title").map(String::as_str),
        Some("Field recordings")
    );
    let head = api.head(&identity, &main).await.unwrap();
    assert_eq!(head.head().seq, 1);
    let stored = dir.join("uploads");
    let kept: Vec<_> = std::fs::read_dir(&stored).unwrap().collect();
    assert_eq!(
        kept.len(),
        1,
        "the published upload stays, seeded from there"
    );

    // Over the member's quota: refused before a byte is written; usage unchanged.
    accounts
        .set_upload_quota(accounts::Actor::Operator, member, Some(200_000))
        .await
        .unwrap();
    let before = used(&accounts, member).await;
    let big = vec![7u8; 60_000];
    let mut parts = Parts::new(&[("more.bin", &big)]);
    let e = api
        .upload(&as_member, request(&identity, &parts), &mut parts)
        .await
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.name()), (413, "quota_exceeded"));
    assert_eq!(used(&accounts, member).await, before);
    assert_eq!(uploads_in(&dir), 1);

    // Over the gateway's limit (1 MiB here), whatever the quota.
    accounts
        .set_upload_quota(accounts::Actor::Operator, member, None)
        .await
        .unwrap();
    let huge = vec![0u8; 1 << 20];
    let mut parts = Parts::new(&[("huge.bin", &huge)]);
    let e = api
        .upload(&as_member, request(&identity, &parts), &mut parts)
        .await
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.name()), (413, "too_large"));

    // A name leaving the folder: refused, the staging folder removed, everything refunded.
    let mut parts = Parts::new(&[("ok.txt", b"fine"), ("../escape.txt", b"no")]);
    let e = api
        .upload(&as_member, request(&identity, &parts), &mut parts)
        .await
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.name()), (400, "bad_path"));
    assert_eq!(uploads_in(&dir), 1);
    assert!(!dir.join("escape.txt").exists());
    assert_eq!(used(&accounts, member).await, before);

    // A publisher retracts; a non-member may not (403, counted as denied).
    let retract = |seq| RetractRequest {
        identity: Some(identity.to_string()),
        feed: "main".into(),
        seq,
    };
    let e = api
        .retract(&Actor::User { user: stranger }, retract(1))
        .await
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.name()), (403, "forbidden"));
    let retracted = api.retract(&as_member, retract(1)).await.unwrap();
    assert_eq!((retracted.seq, retracted.kind.as_str()), (2, "delete"));
    assert!(api.entry(&identity, &main, 1).await.unwrap().retracted);

    // The owner publishes too.
    let mut parts = Parts::new(&[("cover.txt", b"by the owner")]);
    let answer = api
        .upload(
            &Actor::User { user: owner },
            request(&identity, &parts),
            &mut parts,
        )
        .await
        .unwrap();
    assert_eq!(answer.published.seq, 3);
    node.shutdown().await;
}

/// One file whose first chunks come, then nothing ever again: a client that stalled.
struct Stalls {
    sent: usize,
}

impl UploadParts for Stalls {
    async fn next_file(&mut self) -> Result<Option<String>, ApiError> {
        if self.sent > 0 {
            std::future::pending::<()>().await;
        }
        Ok(Some("big.bin".into()))
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        if self.sent == 5 {
            std::future::pending::<()>().await;
        }
        self.sent += 1;
        Ok(Some(Bytes::from(vec![1u8; 1000])))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_midway_leaves_no_file_and_no_charge() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let node = start(&dir).await;
    let api = node.handle().api();
    let accounts = api.accounts().unwrap().clone();
    let owner = user(&accounts, "owner@example.org").await;
    let identity = held_identity(&accounts, owner, 9).await;

    // The request goes away mid-file (its future dropped, as when a client disconnects or
    // the server cuts a stalled body).
    let mut parts = Stalls { sent: 0 };
    let request = UploadRequest {
        identity: identity.to_string(),
        feed: "main".into(),
        title: None,
        description: None,
        declared_bytes: 500_000,
    };
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        api.upload(&Actor::User { user: owner }, request, &mut parts),
    )
    .await;
    assert!(cut.is_err(), "the upload was still waiting for bytes");
    assert_eq!(parts.sent, 5, "part of the file was written");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while (uploads_in(&dir) > 0 || used(&accounts, owner).await > 0)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let left: Vec<_> = std::fs::read_dir(dir.join("uploads"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in uploads/: {left:?}");
    assert_eq!(used(&accounts, owner).await, 0, "the charge is given back");
    node.shutdown().await;
}

/// Files as `Parts` hands them out; once the last one is written, and before the upload
/// goes on to publish, it is replaced by a file of the same name and bytes (another inode),
/// as anything else on the machine could.
struct ReplacedAfterWriting {
    parts: Parts,
    uploads: std::path::PathBuf,
}

impl UploadParts for ReplacedAfterWriting {
    async fn next_file(&mut self) -> Result<Option<String>, ApiError> {
        let next = self.parts.next_file().await?;
        if next.is_none() {
            for file in walk(&self.uploads) {
                let bytes = std::fs::read(&file).unwrap();
                let other = file.with_extension("swap");
                std::fs::write(&other, &bytes).unwrap();
                std::fs::rename(&other, &file).unwrap();
            }
        }
        Ok(next)
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.parts.next_chunk().await
    }
}

/// Every regular file under `dir` but upload markers.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_none_or(|x| x != "pending") {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_file_is_replaced_before_the_publish_is_refused_not_published_on_a_stale_digest()
 {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let node = start(&dir).await;
    let api = node.handle().api();
    let accounts = api.accounts().unwrap().clone();
    let owner = user(&accounts, "owner@example.org").await;
    let identity = held_identity(&accounts, owner, 11).await;

    // The publish takes the BLAKE3 computed while the bytes arrived only for the file it
    // wrote: the same bytes in another file are refused as changed.
    let song: Vec<u8> = (0..30_000u32).map(|i| (i % 241) as u8).collect();
    let mut parts = ReplacedAfterWriting {
        parts: Parts::new(&[("song.flac", &song)]),
        uploads: dir.join("uploads"),
    };
    let replaced = request(&identity, &parts.parts);
    let e = api
        .upload(&Actor::User { user: owner }, replaced, &mut parts)
        .await
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.name()), (409, "file_changed"));
    assert_eq!(uploads_in(&dir), 0, "nothing left in uploads/");
    assert_eq!(used(&accounts, owner).await, 0, "the charge is given back");
    // Untouched, the same upload is published, as the feed's first entry: nothing was
    // published before.
    let mut parts = Parts::new(&[("song.flac", &song)]);
    let answer = api
        .upload(
            &Actor::User { user: owner },
            request(&identity, &parts),
            &mut parts,
        )
        .await
        .unwrap();
    assert_eq!(answer.published.seq, 1);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_committed_just_before_a_crash_stays_published_and_charged_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    // The data directory is reached through a symbolic link, as /var/lib often is.
    std::fs::create_dir(tmp.path().join("real")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("real"), tmp.path().join("link")).unwrap();
    let dir = tmp.path().join("link").join("node");
    let node = start(&dir).await;
    let api = node.handle().api();
    let accounts = api.accounts().unwrap().clone();
    let owner = user(&accounts, "owner@example.org").await;
    let identity = held_identity(&accounts, owner, 12).await;
    let song: Vec<u8> = (0..30_000u32).map(|i| (i % 239) as u8).collect();
    let mut parts = Parts::new(&[("song.flac", &song)]);
    let answer = api
        .upload(
            &Actor::User { user: owner },
            request(&identity, &parts),
            &mut parts,
        )
        .await
        .unwrap();
    assert_eq!(answer.published.seq, 1);
    let charged = used(&accounts, owner).await;
    assert_eq!(charged, song.len() as u64);
    node.shutdown().await;

    // The entry was committed, then the node died before the upload's marker went.
    let folders: Vec<_> = std::fs::read_dir(dir.join("uploads"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let [folder] = folders.as_slice() else {
        panic!("one upload: {folders:?}")
    };
    let marker = format!("{}.pending", folder.display());
    std::fs::write(
        &marker,
        format!("{{\"user\":{},\"charged\":{charged}}}", owner.0),
    )
    .unwrap();

    let node = start(&dir).await;
    let accounts = node.handle().api().accounts().unwrap().clone();
    assert!(!Path::new(&marker).exists(), "the marker goes");
    assert!(
        folder.join("Field recordings").join("song.flac").exists(),
        "the published file stays"
    );
    assert_eq!(used(&accounts, owner).await, charged, "still charged");
    node.shutdown().await;
}
