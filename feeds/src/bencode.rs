//! Strict, canonical bencode (BEP 3).
//!
//! Decoding accepts exactly one encoding per value: dictionary keys sorted by raw bytes and
//! unique, integers without leading zeros or `-0`, string lengths that fit the input, no
//! trailing bytes, nesting at most [`MAX_DEPTH`]. Anything else is an error that says what
//! and where. Because of that, `encode(decode(b)) == b` for every accepted `b`, which is what
//! lets swarmfeed sign and hash exact bytes and never re-serialise.
//!
//! The strict parser is here; [`Value`] trees are built and encoded in `value.rs`, and
//! canonical bytes are read in place, without building a tree, in `raw.rs` ([`Raw`],
//! [`Cursor`]).

mod raw;
#[cfg(test)]
mod tests;
mod value;

pub use raw::{Cursor, Raw, RawDict, RawDictItems, RawList, split_dict_raw};
pub use value::{Value, decode, encode, encode_bytes, encode_into};

/// Deepest nesting of lists and dictionaries a decoder accepts.
pub const MAX_DEPTH: usize = 32;

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
