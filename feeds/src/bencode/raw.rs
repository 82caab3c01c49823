//! Reading canonical bencode in place: [`Raw`] values validated once and then read without
//! building a tree, and [`Cursor`], a strict single pass for decoders of one known shape.

use super::value::Value;
use super::{DecodeError, Parser, decode, validate, visit_dict};

/// The exact bytes of one canonical value, validated once, read without building a tree.
///
/// A `Raw` only comes from input that passed validation ([`Raw::parse`], [`split_dict_raw`],
/// or the items of another `Raw`), so its accessors parse straight from the bytes and never
/// meet malformed input; they still never panic, whatever the bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Raw<'a>(pub(super) &'a [u8]);

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

/// A strict one-pass reader for decoders that expect one known shape: each read checks
/// canonical form exactly as [`decode`] does (digits, lengths, key order), and anything
/// unexpected is `None`; the caller then falls back to a decoder that says what is wrong.
/// Nesting is the caller's (a fixed shape stays far below [`MAX_DEPTH`](super::MAX_DEPTH)).
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
}
