//! Tests of torrent metainfo: a real mktorrent file, strict decoding, limits, round trips.

use super::*;
use proptest::prelude::*;

/// Made once by hand with Debian's mktorrent 1.1 (infohash confirmed by `transmission-show`
/// and python3-libtorrent 2.0.8):
/// `mktorrent -d -l 15 -a http://tracker.example/announce -a udp://tracker2.example:6969/announce
///  -w https://gw.example/ws/ -c "made by mktorrent" -o album.torrent album` over
/// `album/cover.txt` (40000 × 'x'), `album/disc 1/01 intro.txt` ("hello swarmfeed\n") and
/// an empty `album/empty`. Note the `comment`, `created by` and string-valued `url-list`.
const ALBUM_TORRENT: &str = concat!(
    "64383a616e6e6f756e636533313a687474703a2f2f747261636b65722e6578616d706c652f616e6e6f756e636531333a",
    "616e6e6f756e63652d6c6973746c6c33313a687474703a2f2f747261636b65722e6578616d706c652f616e6e6f756e63",
    "65656c33363a7564703a2f2f747261636b6572322e6578616d706c653a363936392f616e6e6f756e63656565373a636f",
    "6d6d656e7431373a6d616465206279206d6b746f7272656e7431303a6372656174656420627931333a6d6b746f727265",
    "6e7420312e31343a696e666f64353a66696c65736c64363a6c656e67746869343030303065343a706174686c393a636f",
    "7665722e747874656564363a6c656e67746869313665343a706174686c363a64697363203131323a303120696e74726f",
    "2e747874656564363a6c656e677468693065343a706174686c353a656d707479656565343a6e616d65353a616c62756d",
    "31323a7069656365206c656e67746869333237363865363a70696563657334303a84767bd58aee2fe4d40e8d2acdc326",
    "8641d5e176675162eb2cea69f5284fbd7cf03a006c21ba816c65383a75726c2d6c69737432323a68747470733a2f2f67",
    "772e6578616d706c652f77732f65",
);
const ALBUM_INFOHASH: &str = "2b20b0da6bb954469e64d987d22a7d3cedebf47a";

/// `mktorrent -d -l 15 -o note.torrent note.txt` with note.txt = "single file\n".
const NOTE_TORRENT: &str = concat!(
    "6431303a6372656174656420627931333a6d6b746f7272656e7420312e31343a696e666f64363a6c656e677468693132",
    "65343a6e616d65383a6e6f74652e74787431323a7069656365206c656e67746869333237363865363a70696563657332",
    "303aa965f74657752e0cc08a8180ec2fb182c2d7599a6565",
);
const NOTE_INFOHASH: &str = "f566b3d0b66c4b87fa3da3aa5b2122905bdb7562";

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

/// A single-file info; no piece hashes at all when there would be too many.
fn single(length: u64) -> Info {
    let count = length.div_ceil(MIN_PIECE_LENGTH);
    let pieces = vec![
        [7; 20];
        if count > MAX_PIECES as u64 {
            0
        } else {
            count as usize
        }
    ];
    Info {
        name: "a.txt".into(),
        piece_length: MIN_PIECE_LENGTH,
        pieces,
        files: FileLayout::Single { length },
    }
}

fn multi(files: &[(&[&str], u64)]) -> Info {
    let files: Vec<_> = files
        .iter()
        .map(|(p, l)| TorrentFile {
            path: strings(p),
            length: *l,
        })
        .collect();
    let mut info = single(1);
    info.name = "dir".into();
    info.files = FileLayout::Multi { files };
    let count = info
        .total_length()
        .div_ceil(MIN_PIECE_LENGTH)
        .min(MAX_PIECES as u64 + 1);
    info.pieces = vec![[9; 20]; count as usize];
    info
}

#[test]
fn a_mktorrent_torrent_decodes_with_its_known_infohash() {
    let bytes = hex::decode(ALBUM_TORRENT).unwrap();
    let torrent = Metainfo::decode(&bytes).unwrap();
    assert_eq!(torrent.infohash().to_hex(), ALBUM_INFOHASH);
    assert_eq!(torrent.info.infohash().to_hex(), ALBUM_INFOHASH);
    assert_eq!(torrent.info.name, "album");
    assert_eq!(torrent.info.piece_length, 32768);
    assert_eq!(torrent.info.pieces.len(), 2);
    assert_eq!(
        torrent.info.file_list(),
        vec![
            (strings(&["cover.txt"]), 40000),
            (strings(&["disc 1", "01 intro.txt"]), 16),
            (strings(&["empty"]), 0)
        ]
    );
    assert_eq!(torrent.info.total_length(), 40016);
    assert_eq!(
        torrent.trackers,
        strings(&[
            "http://tracker.example/announce",
            "udp://tracker2.example:6969/announce"
        ])
    );
    assert_eq!(torrent.webseeds, strings(&["https://gw.example/ws/"]));

    // Our own encoding drops the comment and "created by" but keeps the infohash.
    let ours = torrent.encode();
    assert_eq!(Metainfo::decode(&ours).unwrap(), torrent);
    assert!(ours.starts_with(b"d8:announce31:http://tracker.example/announce13:announce-listl"));
    assert!(ours.ends_with(b"8:url-listl22:https://gw.example/ws/ee"));

    let note = Metainfo::decode(&hex::decode(NOTE_TORRENT).unwrap()).unwrap();
    assert_eq!(note.infohash().to_hex(), NOTE_INFOHASH);
    assert_eq!(note.info.file_list(), vec![(strings(&["note.txt"]), 12)]);
    assert!(note.trackers.is_empty() && note.webseeds.is_empty());
}

#[test]
fn encoding_is_canonical_and_byte_exact() {
    let info = single(5);
    let mut expected = b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:".to_vec();
    expected.extend_from_slice(&[7; 20]);
    expected.push(b'e');
    assert_eq!(info.encode(), expected);
    assert_eq!(info.infohash(), InfoHash::of_info_bytes(&expected));
    let bare = Metainfo {
        info: info.clone(),
        trackers: vec![],
        webseeds: vec![],
    };
    assert_eq!(bare.encode(), [&b"d4:info"[..], &expected, b"e"].concat());
}

#[test]
fn info_and_metainfo_round_trip() {
    let info = multi(&[(&["b", "x"], 3), (&["a"], 0), (&["été 日本"], 20000)]);
    assert_eq!(Info::decode(&info.encode()).unwrap(), info);
    let torrent = Metainfo {
        info,
        trackers: strings(&["udp://t1:1/announce", "http://t2/announce"]),
        webseeds: strings(&["https://a/ws/", "https://b/ws/"]),
    };
    assert_eq!(Metainfo::decode(&torrent.encode()).unwrap(), torrent);
}

#[test]
fn trackers_come_from_announce_and_every_tier() {
    let info = single(1).encode();
    let torrent = |head: &str, tail: &str| {
        let bytes = [head.as_bytes(), b"4:info", &info, tail.as_bytes(), b"e"].concat();
        Metainfo::decode(&bytes).unwrap()
    };
    let t = torrent("d8:announce3:t:013:announce-listll3:t:13:t:2el3:t:3ee", "");
    assert_eq!(t.trackers, strings(&["t:0", "t:1", "t:2", "t:3"]));
    let t = torrent(
        "d8:announce0:7:comment2:hi13:creation datei5e",
        "8:url-listl0:3:w:1e",
    );
    assert!(t.trackers.is_empty());
    assert_eq!(t.webseeds, strings(&["w:1"]));
}

fn decode_err(info: &str) -> Error {
    Info::decode(info.as_bytes()).unwrap_err()
}

fn field(field: &str, reason: &'static str) -> Error {
    Error::BadTorrentField {
        field: field.into(),
        reason,
    }
}

#[test]
fn malformed_info_dictionaries_are_rejected_naming_the_field() {
    let p = "6:pieces20:aaaaaaaaaaaaaaaaaaaa";
    let cases: Vec<(String, Error)> = vec![
        (
            format!("d6:lengthi1e4:name1:a12:piece lengthi16384e{p}7:privatei1ee"),
            field(
                "info.private",
                "is not allowed (only files/length, name, piece length, pieces)",
            ),
        ),
        (
            format!("d6:lengthi1e4:name1:a12:piece lengthi16385e{p}e"),
            field(
                "info.piece length",
                "is not a power of two from 16 KiB to 256 MiB",
            ),
        ),
        (
            format!("d6:lengthi1e4:name1:a12:piece lengthi8192e{p}e"),
            field(
                "info.piece length",
                "is not a power of two from 16 KiB to 256 MiB",
            ),
        ),
        (
            format!("d6:lengthi1e4:name1:a12:piece lengthi536870912e{p}e"),
            field(
                "info.piece length",
                "is not a power of two from 16 KiB to 256 MiB",
            ),
        ),
        (
            format!("d6:lengthi16385e4:name1:a12:piece lengthi16384e{p}e"),
            field(
                "info.pieces",
                "does not hold exactly one hash per piece of the content",
            ),
        ),
        (
            "d6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces3:abce".into(),
            field("info.pieces", "is not a whole number of 20-byte hashes"),
        ),
        (
            format!("d6:lengthi-1e4:name1:a12:piece lengthi16384e{p}e"),
            field("info.length", "is negative"),
        ),
        (
            "d6:lengthi0e4:name1:a12:piece lengthi16384e6:pieces0:e".into(),
            field(
                "info",
                "holds no data (total length 0), which clients refuse",
            ),
        ),
        (
            format!("d4:name1:a12:piece lengthi16384e{p}e"),
            field("info", "has neither length (one file) nor files"),
        ),
        (
            format!("d5:filesle6:lengthi1e4:name1:a12:piece lengthi16384e{p}e"),
            field("info", "has both length (one file) and files"),
        ),
        (
            format!("d5:filesle4:name1:a12:piece lengthi16384e{p}e"),
            field(
                "info.files",
                "is empty (a multi-file torrent needs at least one file)",
            ),
        ),
        (
            format!("d6:lengthi1e12:piece lengthi16384e{p}e"),
            field("info.name", "is missing"),
        ),
        (
            format!(
                "d5:filesld6:lengthi1e4:pathl1:ae10:path.utf-8l1:aeee4:name1:a12:piece lengthi16384e{p}e"
            ),
            field(
                "info.files[0].path.utf-8",
                "is not allowed (only length and path)",
            ),
        ),
        (
            format!("d5:filesld6:lengthi1eee4:name1:a12:piece lengthi16384e{p}e"),
            field("info.files[0].path", "is missing"),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(decode_err(&input), expected, "{input}");
    }
    let raw = [
        &b"d6:lengthi1e4:name1:\xff12:piece lengthi16384e"[..],
        p.as_bytes(),
        b"e",
    ]
    .concat();
    assert_eq!(
        Info::decode(&raw).unwrap_err(),
        field("info.name", "is not UTF-8")
    );
    assert!(matches!(
        Info::decode(b"d4:name1:a1:ai1ee"),
        Err(Error::Bencode(_))
    ));
    assert_eq!(
        Metainfo::decode(b"d3:fooi1ee"),
        Err(field("info", "is missing"))
    );
}

#[test]
fn unsafe_paths_and_names_are_rejected() {
    let bad_path = |files: &[(&[&str], u64)]| match multi(files).validate() {
        Err(Error::BadPath { path, reason }) => (path, reason),
        other => panic!("expected BadPath, got {other:?}"),
    };
    assert_eq!(bad_path(&[(&["a", ".."], 1)]).0, "a/..");
    assert_eq!(bad_path(&[(&["/etc/passwd"], 1)]).0, "/etc/passwd");
    assert_eq!(bad_path(&[(&["C:", "x"], 1)]).0, "C:/x");
    assert_eq!(
        bad_path(&[(&[], 1)]).1,
        "is empty (a file needs at least one path component)"
    );
    assert_eq!(
        bad_path(&[(&["a", "b"], 1), (&["c"], 1), (&["a", "b"], 2)]),
        ("a/b".into(), "appears more than once in the torrent")
    );
    assert_eq!(
        bad_path(&[(&["a", "b", "c"], 1), (&["a", "b"], 2)]),
        (
            "a/b".into(),
            "is both a file and a directory in the torrent"
        )
    );
    for name in ["..", "a/b", "", "nul\0", "C:"] {
        let mut info = single(1);
        info.name = name.into();
        assert!(
            matches!(info.validate(), Err(Error::BadPath { .. })),
            "{name:?}"
        );
        assert!(
            matches!(Info::decode(&info.encode()), Err(Error::BadPath { .. })),
            "{name:?}"
        );
    }
    // Decoding reports traversal in a .torrent the same way.
    let evil = multi(&[(&["ok"], 1), (&["..", "..", "etc", "passwd"], 1)]).encode();
    assert_eq!(
        Info::decode(&evil),
        Err(Error::BadPath {
            path: "../../etc/passwd".into(),
            reason: "has a \".\" or \"..\" component"
        })
    );
}

#[test]
fn limits_are_enforced() {
    let mut huge = single(MIN_PIECE_LENGTH * (MAX_PIECES as u64 + 1));
    huge.pieces.clear();
    assert!(matches!(
        huge.validate(),
        Err(Error::TooLarge {
            what: "torrent piece count",
            ..
        })
    ));
    let most = single(MIN_PIECE_LENGTH * MAX_PIECES as u64);
    assert_eq!(most.validate(), Ok(()));

    let too_big = single(i64::MAX as u64 + 1);
    assert_eq!(
        too_big.validate(),
        Err(field("info.length", "is larger than 2^63 - 1"))
    );
    let overflow = multi(&[
        (&["a"], i64::MAX as u64),
        (&["b"], i64::MAX as u64),
        (&["c"], 2),
    ]);
    assert_eq!(
        overflow.validate(),
        Err(field(
            "info.files",
            "lengths add up to more than 2^64 - 1 bytes"
        ))
    );

    let files = vec![
        TorrentFile {
            path: vec![],
            length: 1
        };
        MAX_FILES + 1
    ];
    let many = Info {
        files: FileLayout::Multi { files },
        ..single(1)
    };
    assert!(matches!(
        many.validate(),
        Err(Error::TooLarge {
            what: "torrent file list",
            ..
        })
    ));

    let oversized = vec![b'd'; MAX_METAINFO_BYTES + 1];
    assert!(matches!(
        Metainfo::decode(&oversized),
        Err(Error::TooLarge {
            what: "torrent file",
            ..
        })
    ));
}

#[test]
fn auto_piece_length_aims_at_one_to_two_thousand_pieces() {
    assert_eq!(auto_piece_length(0), 16 << 10);
    assert_eq!(auto_piece_length(1), 16 << 10);
    assert_eq!(auto_piece_length(2000 * (16 << 10)), 16 << 10);
    assert_eq!(auto_piece_length(2000 * (16 << 10) + 1), 32 << 10);
    assert_eq!(auto_piece_length(1 << 30), 1 << 20);
    assert_eq!(auto_piece_length(u64::MAX), 16 << 20);
    for shift in 25..34 {
        for total in [
            (1u64 << shift) + 1,
            3 << (shift - 1),
            (1 << (shift + 1)) - 1,
        ] {
            let pieces = total.div_ceil(auto_piece_length(total));
            assert!(
                (1001..=2000).contains(&pieces),
                "{total} bytes → {pieces} pieces"
            );
        }
    }
}

/// Valid infos: leaf names contain a '.', directory names do not, so no file path can
/// be a directory of another.
fn arb_info() -> impl Strategy<Value = Info> {
    let dir = "[a-zA-Z0-9 é日_-]{1,6}";
    let leaf = "[a-zA-Z0-9 é日_-]{1,6}\\.[a-z]{0,3}";
    let path = (proptest::collection::vec(dir, 0..3), leaf).prop_map(|(mut dirs, leaf)| {
        dirs.push(leaf);
        dirs
    });
    let layout = prop_oneof![
        (1u64..200_000).prop_map(|length| FileLayout::Single { length }),
        proptest::collection::btree_map(path, 0u64..100_000, 1..6).prop_map(|m| {
            FileLayout::Multi {
                files: m
                    .into_iter()
                    .map(|(path, length)| TorrentFile { path, length })
                    .collect(),
            }
        }),
    ];
    (dir, 14u32..22, layout, any::<u8>())
        .prop_filter(
            "content must not be empty",
            |(_, _, files, _)| match files {
                FileLayout::Single { length } => *length > 0,
                FileLayout::Multi { files } => files.iter().any(|f| f.length > 0),
            },
        )
        .prop_map(|(name, shift, files, seed)| {
            let mut info = Info {
                name,
                piece_length: 1 << shift,
                pieces: vec![],
                files,
            };
            let count = info.total_length().div_ceil(info.piece_length);
            info.pieces = (0..count)
                .map(|i| [seed.wrapping_add(i as u8); 20])
                .collect();
            info
        })
}

proptest! {
    #[test]
    fn any_valid_info_round_trips_with_a_stable_infohash(info in arb_info()) {
        let bytes = info.encode();
        let decoded = Info::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &info);
        prop_assert_eq!(decoded.infohash(), InfoHash::of_info_bytes(&bytes));
    }

    #[test]
    fn any_metainfo_round_trips(
        info in arb_info(),
        trackers in proptest::collection::vec("[a-z]{1,5}://[a-z]{1,8}(:[0-9]{1,4})?/[a-z]{0,6}", 0..4),
        webseeds in proptest::collection::vec("https://[a-z]{1,8}/ws/[a-f0-9]{0,8}", 0..3),
    ) {
        let torrent = Metainfo { info, trackers, webseeds };
        let decoded = Metainfo::decode(&torrent.encode()).unwrap();
        prop_assert_eq!(decoded.infohash(), torrent.infohash());
        prop_assert_eq!(decoded, torrent);
    }
}
