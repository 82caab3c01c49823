//! Bencode values as trees: decoding into a [`Value`] and canonical encoding.

use std::collections::BTreeMap;

use super::{DecodeError, Parser, check_key_order};

/// A bencode value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Decodes exactly one canonical value that spans all of `input`.
pub fn decode(input: &[u8]) -> Result<Value, DecodeError> {
    let mut parser = Parser { input, pos: 0 };
    let value = parser.value(0)?;
    parser.finish()?;
    Ok(value)
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

impl Parser<'_> {
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
}
