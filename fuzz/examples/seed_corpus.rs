//! Writes seed corpora of valid encodings into `corpus/<target>/` (run from `fuzz/`):
//! a feed by the fixed author key that the `log_verify` target checks against, with posts,
//! a retraction, a revocation and delegated entries; certificates; heads and identity
//! records; well-formed MSE handshake bodies. `cargo run --example seed_corpus`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use feeds::delegation::{Certificate, Scope, SignedCert};
use feeds::log::encode_entries;
use feeds::{
    ContentRef, Entry, FeedHead, FeedName, FileRef, IdentityRecord, InfoHash, Keypair, Kind,
    SignedEntry, decode_and_verify_log,
};

const T0: u64 = 1_780_000_000;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let author = Keypair::from_seed(&[1; 32]);
    let app = Keypair::from_seed(&[2; 32]);
    let bot = Keypair::from_seed(&[3; 32]);
    let main_feed = FeedName::new("main")?;

    let to_app = grant(&author, &app, vec![Scope::Post(main_feed.clone())])?;
    let to_app_delegating = grant(&author, &app, vec![Scope::Delegate, Scope::PostAny])?;
    let to_bot = grant(&app, &bot, vec![Scope::PostAny])?;

    let mut feed: Vec<SignedEntry> = Vec::new();
    for _ in 1..=4 {
        push(&mut feed, &author, &author, &main_feed, Kind::Post, vec![])?;
    }
    push(
        &mut feed,
        &author,
        &author,
        &main_feed,
        Kind::Delete { retracts: 2 },
        vec![],
    )?;
    push(
        &mut feed,
        &author,
        &app,
        &main_feed,
        Kind::Post,
        vec![to_app.clone()],
    )?;
    push(
        &mut feed,
        &author,
        &bot,
        &main_feed,
        Kind::Post,
        vec![to_app_delegating.clone(), to_bot.clone()],
    )?;
    push(
        &mut feed,
        &author,
        &author,
        &main_feed,
        Kind::Revoke {
            cert: to_app.hash(),
        },
        vec![],
    )?;
    push(&mut feed, &author, &author, &main_feed, Kind::Post, vec![])?;

    // The seeds must be a feed `log_verify` accepts, or the fuzzer starts from nothing.
    let raw = feed.iter().map(|e| e.bytes().to_vec()).collect();
    decode_and_verify_log(&author.public(), &main_feed, raw, None)?;

    // A fork: another entry 3 after entry 2.
    let mut fork = feed[..2].to_vec();
    push(
        &mut fork,
        &author,
        &author,
        &main_feed,
        Kind::Delete { retracts: 1 },
        vec![],
    )?;

    let entries: Vec<Vec<u8>> = feed
        .iter()
        .chain(&fork[2..])
        .map(|e| e.bytes().to_vec())
        .collect();
    let certs: Vec<Vec<u8>> = [&to_app, &to_app_delegating, &to_bot]
        .iter()
        .map(|c| c.bytes().to_vec())
        .collect();

    let mut logs: Vec<Vec<u8>> = Vec::new();
    for flags in [0u8, 1, 2 << 1, 5 << 1] {
        logs.push(framed(flags, encode_entries(&feed)));
    }
    logs.push(framed(0, encode_entries(&feed[..3])));
    logs.push(framed(0, encode_entries(fork.iter().chain(&feed[2..4]))));
    logs.push(framed(
        0,
        encode_entries(feed[..3].iter().chain(&fork[2..])),
    ));

    let head = FeedHead {
        feed: main_feed.clone(),
        seq: feed.len() as u64,
        entry_hash: feed[feed.len() - 1].hash(),
        log: InfoHash([9; 20]),
        time: T0 + 100,
    }
    .sign(&author)?;
    let identity = IdentityRecord {
        feeds: vec![main_feed.clone(), FeedName::new("photos")?],
        name: Some("Alice".into()),
        nodes: Vec::new(),
    }
    .sign(&author, 3)?;
    let heads = vec![head.encode(), identity.encode()];

    let values: Vec<Vec<u8>> = [
        &b"i0e"[..],
        b"i-42e",
        b"4:spam",
        b"le",
        b"de",
        b"l4:spami42ee",
        b"d3:cow3:moo4:spaml1:a1:bee",
    ]
    .iter()
    .map(|v| v.to_vec())
    .collect();

    write(
        "bencode_decode",
        values
            .iter()
            .chain(&entries)
            .chain(&certs)
            .chain(&heads)
            .cloned()
            .chain([encode_entries(&feed)]),
    )?;
    write("entry_decode", entries.iter().cloned())?;
    write("log_verify", logs)?;
    write("head_decode", heads)?;
    write("mse_handshake", mse_seeds())?;
    Ok(())
}

fn grant(from: &Keypair, to: &Keypair, scopes: Vec<Scope>) -> Result<SignedCert, Failure> {
    Ok(Certificate {
        grantor: from.public(),
        grantee: feeds::delegation::Grantee::Key(to.public()),
        scopes,
        issued: T0,
        expires: T0 + 1_000_000,
    }
    .sign(from)?)
}

/// Appends the next entry of `feed`: posts carry a content reference and a title.
fn push(
    feed: &mut Vec<SignedEntry>,
    author: &Keypair,
    signer: &Keypair,
    name: &FeedName,
    kind: Kind,
    delegation: Vec<SignedCert>,
) -> Result<(), Failure> {
    let seq = feed.last().map_or(1, |e| e.seq() + 1);
    let content = matches!(kind, Kind::Post).then(|| {
        let files: Vec<FileRef> = (0..1 + seq % 3)
            .map(|i| FileRef {
                path: vec!["media".into(), format!("part-{i}.ogg")],
                length: 100 * (i + 1),
                blake3: [seq as u8; 32],
            })
            .collect();
        ContentRef {
            infohash: InfoHash([seq as u8; 20]),
            name: format!("episode-{seq}"),
            size: files.iter().map(|f| f.length).sum(),
            files,
        }
    });
    let entry = Entry {
        author: author.public(),
        feed: name.clone(),
        seq,
        prev: feed.last().map(SignedEntry::hash),
        time: T0 + seq,
        kind,
        content,
        meta: BTreeMap::from([("title".to_string(), format!("Episode {seq}"))]),
        delegation,
        member: None,
    };
    feed.push(entry.sign(signer)?);
    Ok(())
}

fn framed(flags: u8, list: Vec<u8>) -> Vec<u8> {
    [vec![flags], list].concat()
}

/// mse_handshake: well-formed step 3 bodies (mode 2) and step 4 bodies (mode 3), before
/// the target encrypts them: VC, crypto_provide/select, a pad and an initial payload.
fn mse_seeds() -> Vec<Vec<u8>> {
    let mut handshake = b"\x13BitTorrent protocol".to_vec();
    handshake.extend_from_slice(&[0; 8]);
    handshake.extend_from_slice(&[0x5a; 20]);
    handshake.extend_from_slice(b"-SF0001-000000000000");
    let mut seeds = Vec::new();
    for (control, provide) in [(0b1110, 3u32), (0b1010, 2), (0b0110, 1)] {
        let mut seed = vec![control];
        seed.extend_from_slice(&[0; 8]);
        seed.extend_from_slice(&provide.to_be_bytes());
        seed.extend_from_slice(&4u16.to_be_bytes());
        seed.extend_from_slice(&[9; 4]);
        seed.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
        seed.extend_from_slice(&handshake);
        seeds.push(seed);
    }
    for (control, select) in [(0b1111, 2u32), (0b0111, 1)] {
        let mut seed = vec![control];
        seed.extend_from_slice(&[0; 8]);
        seed.extend_from_slice(&select.to_be_bytes());
        seed.extend_from_slice(&2u16.to_be_bytes());
        seed.extend_from_slice(&[7; 2]);
        seed.extend_from_slice(&handshake);
        seeds.push(seed);
    }
    seeds
}

fn write(target: &str, seeds: impl IntoIterator<Item = Vec<u8>>) -> Result<(), Failure> {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir)?;
    let mut count = 0;
    for (i, seed) in seeds.into_iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:03}")), seed)?;
        count += 1;
    }
    println!("{}: {count} seeds", dir.display());
    Ok(())
}
