//! Strict, canonical bencode (BEP 3).
//!
//! Decoding accepts exactly one encoding per value: dictionary keys sorted by raw bytes and
//! unique, integers without leading zeros or `-0`, string lengths that fit the input, no
//! trailing bytes, nesting at most [`MAX_DEPTH`]. Anything else is an error that says what
//! and where. Because of that, `encode(decode(b)) == b` for every accepted `b`, which is what
//! lets swarmfeed sign and hash exact bytes and never re-serialise.

use std::collections::BTreeMap;

/// Deepest nesting of lists and dictionaries a decoder accepts.
pub const MAX_DEPTH: usize = 32;

/// A bencode value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why some bytes are not canonical bencode. Offsets are byte positions in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("bencode: input ends early at byte {0}")]
    UnexpectedEnd(usize),
    #[error("bencode: unexpected byte {byte:#04x} at byte {at}")]
    UnexpectedByte { at: usize, byte: u8 },
    #[error("bencode: number with a leading zero at byte {0}")]
    LeadingZero(usize),
    #[error("bencode: negative zero at byte {0}")]
    NegativeZero(usize),
    #[error("bencode: number without digits at byte {0}")]
    NoDigits(usize),
    #[error("bencode: number out of range at byte {0}")]
    NumberOutOfRange(usize),
    #[error("bencode: string of {len} bytes at byte {at} runs past the end of the input")]
    LengthPastEnd { at: usize, len: u64 },
    #[error("bencode: dictionary keys out of order at byte {0}")]
    UnsortedKeys(usize),
    #[error("bencode: duplicate dictionary key at byte {0}")]
    DuplicateKey(usize),
    #[error("bencode: nesting deeper than {MAX_DEPTH} at byte {0}")]
    TooDeep(usize),
    #[error("bencode: {0} trailing bytes after the value")]
    TrailingBytes(usize),
}

/// Decodes exactly one canonical value that spans all of `input`.
pub fn decode(input: &[u8]) -> Result<Value, DecodeError> {
    let mut parser = Parser { input, pos: 0 };
    let value = parser.value(0)?;
    parser.finish()?;
    Ok(value)
}

/// Splits a canonical list into the exact bytes of each element, validating every element.
pub fn split_list(input: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut parser = Parser { input, pos: 0 };
    parser.expect(b'l')?;
    let mut items = Vec::new();
    while parser.peek()? != b'e' {
        let start = parser.pos;
        parser.skip(1)?;
        items.push(&input[start..parser.pos]);
    }
    parser.pos += 1;
    parser.finish()?;
    Ok(items)
}

/// Keys of a dictionary with the exact bytes of their values, in order.
pub type DictItems<'a> = Vec<(&'a [u8], &'a [u8])>;

/// Splits a canonical dictionary into its keys and the exact bytes of each value.
pub fn split_dict(input: &[u8]) -> Result<DictItems<'_>, DecodeError> {
    let mut parser = Parser { input, pos: 0 };
    parser.expect(b'd')?;
    let mut items: Vec<(&[u8], &[u8])> = Vec::new();
    while parser.peek()? != b'e' {
        let key_at = parser.pos;
        let key = parser.bytes()?;
        if let Some((last, _)) = items.last() {
            check_key_order(last, key, key_at)?;
        }
        let start = parser.pos;
        parser.skip(1)?;
        items.push((key, &input[start..parser.pos]));
    }
    parser.pos += 1;
    parser.finish()?;
    Ok(items)
}

/// Checks that `input` is exactly one canonical value, without building it.
pub fn validate(input: &[u8]) -> Result<(), DecodeError> {
    let mut parser = Parser { input, pos: 0 };
    parser.skip(0)?;
    parser.finish()
}

/// The exact bytes of one canonical value, validated once, read without building a tree.
///
/// A `Raw` only comes from input that passed validation ([`Raw::parse`], [`split_dict_raw`],
/// or the items of another `Raw`), so its accessors parse straight from the bytes and never
/// meet malformed input; they still never panic, whatever the bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Raw<'a>(&'a [u8]);

impl<'a> Raw<'a> {
    /// The empty byte string `0:`.
    pub const EMPTY: Raw<'static> = Raw(b"0:");

    /// Validates `input` as exactly one canonical value.
    pub fn parse(input: &'a [u8]) -> Result<Raw<'a>, DecodeError> {
        validate(input)?;
        Ok(Raw(input))
    }

    /// The exact encoded bytes of the value.
    pub fn as_slice(self) -> &'a [u8] {
        self.0
    }

    /// The integer, if the value is one.
    pub fn as_int(self) -> Option<i64> {
        if self.0.first() != Some(&b'i') {
            return None;
        }
        Parser::at(self.0, 0).int().ok()
    }

    /// The byte string's payload, if the value is one.
    pub fn as_bytes(self) -> Option<&'a [u8]> {
        if !self.0.first()?.is_ascii_digit() {
            return None;
        }
        Parser::at(self.0, 0).string_trusted()
    }

    /// The byte string as UTF-8, if the value is one and it is.
    pub fn as_str(self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The items of the list, if the value is one.
    pub fn as_list(self) -> Option<RawList<'a>> {
        (self.0.first() == Some(&b'l')).then(|| RawList(Parser::at(self.0, 1)))
    }

    /// The keys and values of the dictionary, in (canonical) key order, if the value is one.
    pub fn as_dict(self) -> Option<RawDict<'a>> {
        (self.0.first() == Some(&b'd')).then(|| RawDict(Parser::at(self.0, 1)))
    }

    /// Whether the value is a dictionary.
    pub fn is_dict(self) -> bool {
        self.0.first() == Some(&b'd')
    }

    /// Builds the value as a tree.
    pub fn to_value(self) -> Result<Value, DecodeError> {
        decode(self.0)
    }
}

/// The items of a [`Raw`] list, each as its exact bytes.
#[derive(Clone, Debug)]
pub struct RawList<'a>(Parser<'a>);

impl<'a> Iterator for RawList<'a> {
    type Item = Raw<'a>;

    fn next(&mut self) -> Option<Raw<'a>> {
        let parser = &mut self.0;
        let start = parser.pos;
        if parser.peek().ok()? == b'e' {
            return None;
        }
        match parser.skip_trusted() {
            Some(()) => Some(Raw(&parser.input[start..parser.pos])),
            None => {
                // Unreachable for validated input; stop for good instead of looping.
                parser.pos = parser.input.len();
                None
            }
        }
    }
}

/// The entries of a [`Raw`] dictionary: each key and the exact bytes of its value.
#[derive(Clone, Debug)]
pub struct RawDict<'a>(Parser<'a>);

impl<'a> Iterator for RawDict<'a> {
    type Item = (&'a [u8], Raw<'a>);

    fn next(&mut self) -> Option<(&'a [u8], Raw<'a>)> {
        let parser = &mut self.0;
        if parser.peek().ok()? == b'e' {
            return None;
        }
        let item = parser.string_trusted().and_then(|key| {
            let start = parser.pos;
            parser.skip_trusted()?;
            Some((key, Raw(&parser.input[start..parser.pos])))
        });
        if item.is_none() {
            // Unreachable for validated input; stop for good instead of looping.
            parser.pos = parser.input.len();
        }
        item
    }
}

/// Keys of a dictionary with their values as [`Raw`], in order.
pub type RawDictItems<'a> = Vec<(&'a [u8], Raw<'a>)>;

/// [`split_dict`] with each value as a [`Raw`] for typed, zero-copy reading.
pub fn split_dict_raw(input: &[u8]) -> Result<RawDictItems<'_>, DecodeError> {
    let mut items: RawDictItems<'_> = Vec::with_capacity(16);
    visit_dict(input, |key, value| items.push((key, value)))?;
    Ok(items)
}

/// Validates a canonical dictionary exactly as [`split_dict`] does (same errors), handing
/// each key and value to `visit` in order, without collecting them.
pub fn visit_dict<'a>(
    input: &'a [u8],
    mut visit: impl FnMut(&'a [u8], Raw<'a>),
) -> Result<(), DecodeError> {
    let mut parser = Parser { input, pos: 0 };
    parser.expect(b'd')?;
    let mut last: Option<&[u8]> = None;
    while parser.peek()? != b'e' {
        let key_at = parser.pos;
        let key = parser.bytes()?;
        if let Some(last) = last {
            check_key_order(last, key, key_at)?;
        }
        last = Some(key);
        let start = parser.pos;
        parser.skip(1)?;
        visit(key, Raw(&input[start..parser.pos]));
    }
    parser.pos += 1;
    parser.finish()
}

/// A strict one-pass reader for decoders that expect one known shape: each read checks
/// canonical form exactly as [`decode`] does (digits, lengths, key order), and anything
/// unexpected is `None`; the caller then falls back to a decoder that says what is wrong.
/// Nesting is the caller's (a fixed shape stays far below [`MAX_DEPTH`]).
#[derive(Clone, Debug)]
pub struct Cursor<'a>(Parser<'a>);

impl<'a> Cursor<'a> {
    pub fn new(input: &'a [u8]) -> Cursor<'a> {
        Cursor(Parser { input, pos: 0 })
    }

    pub fn int(&mut self) -> Option<i64> {
        match self.0.peek().ok()? {
            b'i' => self.0.int().ok(),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub fn uint(&mut self) -> Option<u64> {
        self.int().and_then(|n| u64::try_from(n).ok())
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        match self.0.peek().ok()? {
            b'0'..=b'9' => self.0.bytes().ok(),
            _ => None,
        }
    }

    pub fn fixed<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes()?.try_into().ok()
    }

    pub fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    /// Enters a list.
    pub fn list(&mut self) -> Option<()> {
        self.0.expect(b'l').ok()
    }

    /// Enters a dictionary.
    pub fn dict(&mut self) -> Option<()> {
        self.0.expect(b'd').ok()
    }

    /// Whether the open list has another item; steps out of it at its end.
    pub fn more(&mut self) -> Option<bool> {
        if self.0.peek().ok()? == b'e' {
            self.0.pos += 1;
            return Some(false);
        }
        Some(true)
    }

    /// The next key of the open dictionary, which must sort after `last` (the key before it,
    /// kept by the caller); `Some(None)` and out of the dictionary at its end.
    pub fn key(&mut self, last: &mut Option<&'a [u8]>) -> Option<Option<&'a [u8]>> {
        if !self.more()? {
            return Some(None);
        }
        let key = self.bytes()?;
        if last.is_some_and(|last| last >= key) {
            return None;
        }
        *last = Some(key);
        Some(Some(key))
    }

    /// Whether all of the input was read.
    pub fn at_end(&self) -> bool {
        self.0.pos == self.0.input.len()
    }
}

/// Encodes a value canonically.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the canonical encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Int(n) => {
            out.push(b'i');
            out.extend_from_slice(n.to_string().as_bytes());
            out.push(b'e');
        }
        Value::Bytes(b) => encode_bytes(b, out),
        Value::List(items) => {
            out.push(b'l');
            for item in items {
                encode_into(item, out);
            }
            out.push(b'e');
        }
        Value::Dict(map) => {
            out.push(b'd');
            for (key, item) in map {
                encode_bytes(key, out);
                encode_into(item, out);
            }
            out.push(b'e');
        }
    }
}

/// Appends a byte string (`<len>:<bytes>`) to `out`.
pub fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

fn check_key_order(previous: &[u8], key: &[u8], at: usize) -> Result<(), DecodeError> {
    match previous.cmp(key) {
        std::cmp::Ordering::Less => Ok(()),
        std::cmp::Ordering::Equal => Err(DecodeError::DuplicateKey(at)),
        std::cmp::Ordering::Greater => Err(DecodeError::UnsortedKeys(at)),
    }
}

#[derive(Clone, Debug)]
struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn at(input: &'a [u8], pos: usize) -> Parser<'a> {
        Parser { input, pos }
    }

    /// Reads a byte string of input already validated as canonical, without re-checking its
    /// digits. `None` on malformed input (which validated input never is), never a panic.
    fn string_trusted(&mut self) -> Option<&'a [u8]> {
        let mut len = 0usize;
        let mut pos = self.pos;
        loop {
            let byte = *self.input.get(pos)?;
            pos += 1;
            if byte == b':' {
                break;
            }
            len = len
                .checked_mul(10)?
                .checked_add(usize::from(byte.wrapping_sub(b'0')))?;
        }
        let end = pos.checked_add(len)?;
        let bytes = self.input.get(pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    /// Steps over one value of input already validated as canonical: finds where it ends
    /// without re-checking key order, digits or depth. `None` on malformed input (which
    /// validated input never is), never a panic.
    fn skip_trusted(&mut self) -> Option<()> {
        let mut open = 0usize;
        loop {
            match *self.input.get(self.pos)? {
                b'i' => {
                    let end = self
                        .input
                        .get(self.pos..)?
                        .iter()
                        .position(|&b| b == b'e')?;
                    self.pos += end + 1;
                }
                b'l' | b'd' => {
                    open += 1;
                    self.pos += 1;
                    continue;
                }
                b'e' => {
                    open = open.checked_sub(1)?;
                    self.pos += 1;
                }
                _ => {
                    self.string_trusted()?;
                }
            }
            if open == 0 {
                return Some(());
            }
        }
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::UnexpectedEnd(self.pos))
    }

    fn expect(&mut self, byte: u8) -> Result<(), DecodeError> {
        let found = self.peek()?;
        if found != byte {
            return Err(DecodeError::UnexpectedByte {
                at: self.pos,
                byte: found,
            });
        }
        self.pos += 1;
        Ok(())
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.input.len() - self.pos {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    /// Reads digits up to `end`; returns the magnitude. Rejects leading zeros and no digits.
    fn digits(&mut self, end: u8) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut n: u64 = 0;
        loop {
            let byte = self.peek()?;
            if byte == end {
                break;
            }
            if !byte.is_ascii_digit() {
                return Err(DecodeError::UnexpectedByte { at: self.pos, byte });
            }
            if self.pos > start && self.input[start] == b'0' {
                return Err(DecodeError::LeadingZero(start));
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(byte - b'0')))
                .ok_or(DecodeError::NumberOutOfRange(start))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(DecodeError::NoDigits(start));
        }
        self.pos += 1;
        Ok(n)
    }

    fn int(&mut self) -> Result<i64, DecodeError> {
        let at = self.pos;
        self.expect(b'i')?;
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let magnitude = self.digits(b'e')?;
        if negative {
            if magnitude == 0 {
                return Err(DecodeError::NegativeZero(at));
            }
            0i64.checked_sub_unsigned(magnitude)
                .ok_or(DecodeError::NumberOutOfRange(at))
        } else {
            i64::try_from(magnitude).map_err(|_| DecodeError::NumberOutOfRange(at))
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let at = self.pos;
        let len = self.digits(b':')?;
        let remaining = (self.input.len() - self.pos) as u64;
        if len > remaining {
            return Err(DecodeError::LengthPastEnd { at, len });
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.input[start..self.pos])
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        match self.peek()? {
            b'i' => self.int().map(Value::Int),
            b'0'..=b'9' => self.bytes().map(|b| Value::Bytes(b.to_vec())),
            b'l' => {
                self.enter(depth)?;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.enter(depth)?;
                let mut map = BTreeMap::new();
                let mut last: Option<&[u8]> = None;
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    let key = self.bytes()?;
                    if let Some(last) = last {
                        check_key_order(last, key, key_at)?;
                    }
                    last = Some(key);
                    let item = self.value(depth + 1)?;
                    map.insert(key.to_vec(), item);
                }
                self.pos += 1;
                Ok(Value::Dict(map))
            }
            byte => Err(DecodeError::UnexpectedByte { at: self.pos, byte }),
        }
    }

    /// Validates one value without building it.
    fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        match self.peek()? {
            b'i' => self.int().map(drop),
            b'0'..=b'9' => self.bytes().map(drop),
            b'l' => {
                self.enter(depth)?;
                while self.peek()? != b'e' {
                    self.skip(depth + 1)?;
                }
                self.pos += 1;
                Ok(())
            }
            b'd' => {
                self.enter(depth)?;
                let mut last: Option<&[u8]> = None;
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    let key = self.bytes()?;
                    if let Some(last) = last {
                        check_key_order(last, key, key_at)?;
                    }
                    last = Some(key);
                    self.skip(depth + 1)?;
                }
                self.pos += 1;
                Ok(())
            }
            byte => Err(DecodeError::UnexpectedByte { at: self.pos, byte }),
        }
    }

    fn enter(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep(self.pos));
        }
        self.pos += 1;
        Ok(())
    }
}

impl Value {
    /// A byte string value.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(bytes.into())
    }

    /// A dictionary from `(key, value)` pairs; later duplicates replace earlier ones.
    pub fn dict<K: Into<Vec<u8>>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Dict(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// An integer value from any unsigned size that fits `i64` (bencode's range here).
    pub fn uint(n: u64) -> Value {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Value::Dict(map) => Some(map),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
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
}
