//! Strict bencode: decoding never panics, accepted input re-encodes to the same bytes, and
//! `split_list`/`split_dict` accept exactly the lists/dictionaries `decode` accepts, with
//! the exact bytes of each element.

#![no_main]

use feeds::bencode::{self, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = bencode::decode(data);
    if let Ok(value) = &decoded {
        assert_eq!(bencode::encode(value), data, "accepted input is canonical");
    }

    match (bencode::split_list(data), &decoded) {
        (Ok(items), Ok(Value::List(values))) => {
            assert_eq!(items.len(), values.len());
            for (item, value) in items.iter().zip(values) {
                assert_eq!(bencode::decode(item).as_ref(), Ok(value));
            }
        }
        (Ok(_), _) => panic!("split_list accepted what decode does not take as a list"),
        (Err(_), Ok(Value::List(_))) => panic!("split_list refused a list decode accepted"),
        (Err(_), _) => {}
    }

    match (bencode::split_dict(data), &decoded) {
        (Ok(items), Ok(Value::Dict(map))) => {
            assert_eq!(items.len(), map.len());
            for ((key, item), (map_key, value)) in items.iter().zip(map) {
                assert_eq!(*key, map_key.as_slice());
                assert_eq!(bencode::decode(item).as_ref(), Ok(value));
            }
        }
        (Ok(_), _) => panic!("split_dict accepted what decode does not take as a dictionary"),
        (Err(_), Ok(Value::Dict(_))) => panic!("split_dict refused a dictionary decode accepted"),
        (Err(_), _) => {}
    }
});
