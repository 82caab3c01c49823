//! Tests of the bencode codec: round trips, precise rejections, nesting, splitting.

use super::*;
use proptest::prelude::*;

fn err(input: &[u8]) -> DecodeError {
    decode(input).expect_err("input must be rejected")
}

#[test]
fn canonical_values_round_trip() {
    for input in [
        &b"i0e"[..],
        b"i-42e",
        b"i9223372036854775807e",
        b"i-9223372036854775808e",
        b"0:",
        b"4:spam",
        b"le",
        b"de",
        b"l4:spami42ee",
        b"d3:cow3:moo4:spaml1:a1:bee",
    ] {
        let value = decode(input).expect("canonical input decodes");
        assert_eq!(encode(&value), input);
    }
}

#[test]
fn non_canonical_input_is_rejected_with_a_precise_reason() {
    assert_eq!(err(b"i03e"), DecodeError::LeadingZero(1));
    assert_eq!(err(b"i-0e"), DecodeError::NegativeZero(0));
    assert_eq!(err(b"i-03e"), DecodeError::LeadingZero(2));
    assert_eq!(err(b"ie"), DecodeError::NoDigits(1));
    assert_eq!(err(b"i-e"), DecodeError::NoDigits(2));
    assert_eq!(
        err(b"i9223372036854775808e"),
        DecodeError::NumberOutOfRange(0)
    );
    assert_eq!(
        err(b"i99999999999999999999e"),
        DecodeError::NumberOutOfRange(1)
    );
    assert_eq!(err(b"03:abc"), DecodeError::LeadingZero(0));
    assert_eq!(err(b"5:abc"), DecodeError::LengthPastEnd { at: 0, len: 5 });
    assert_eq!(err(b"d1:b0:1:a0:e"), DecodeError::UnsortedKeys(6));
    assert_eq!(err(b"d1:a0:1:a0:e"), DecodeError::DuplicateKey(6));
    assert_eq!(err(b"i1ei2e"), DecodeError::TrailingBytes(3));
    assert_eq!(err(b"l"), DecodeError::UnexpectedEnd(1));
    assert_eq!(err(b""), DecodeError::UnexpectedEnd(0));
    assert_eq!(err(b"x"), DecodeError::UnexpectedByte { at: 0, byte: b'x' });
    assert_eq!(
        err(b"di1e0:e"),
        DecodeError::UnexpectedByte { at: 1, byte: b'i' }
    );
    assert_eq!(
        err(b"i+1e"),
        DecodeError::UnexpectedByte { at: 1, byte: b'+' }
    );
}

#[test]
fn nesting_is_limited() {
    let ok = [vec![b'l'; MAX_DEPTH], vec![b'e'; MAX_DEPTH]].concat();
    assert!(decode(&ok).is_ok());
    let deep = [vec![b'l'; MAX_DEPTH + 1], vec![b'e'; MAX_DEPTH + 1]].concat();
    assert_eq!(decode(&deep), Err(DecodeError::TooDeep(MAX_DEPTH)));
    let very_deep = vec![b'l'; 1_000_000];
    assert!(matches!(decode(&very_deep), Err(DecodeError::TooDeep(_))));
}

#[test]
fn split_gives_the_exact_bytes_of_each_element() {
    let list = b"li1e3:abcd1:xi2eee";
    assert_eq!(
        split_list(list).unwrap(),
        vec![&b"i1e"[..], b"3:abc", b"d1:xi2ee"]
    );
    let dict = b"d1:ai1e1:bl1:xee";
    assert_eq!(
        split_dict(dict).unwrap(),
        vec![(&b"a"[..], &b"i1e"[..]), (b"b", b"l1:xe")]
    );
    assert_eq!(
        split_dict(b"d1:bi1e1:ai1ee"),
        Err(DecodeError::UnsortedKeys(7))
    );
    assert_eq!(split_list(b"li1e"), Err(DecodeError::UnexpectedEnd(4)));
    assert_eq!(split_list(b"lei1e"), Err(DecodeError::TrailingBytes(3)));
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..8),
                inner,
                0..8
            )
            .prop_map(Value::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn any_value_round_trips(value in arb_value()) {
        let bytes = encode(&value);
        prop_assert_eq!(decode(&bytes), Ok(value));
    }

    #[test]
    fn any_accepted_input_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(value) = decode(&bytes) {
            prop_assert_eq!(encode(&value), bytes);
        }
    }

    #[test]
    fn mutated_encodings_either_fail_or_reencode_exactly(
        value in arb_value(), at in any::<prop::sample::Index>(), byte in any::<u8>()
    ) {
        let mut bytes = encode(&value);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(decoded) = decode(&bytes) {
            prop_assert_eq!(encode(&decoded), bytes);
        }
    }
}
