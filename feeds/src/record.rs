//! Signed records: the envelope `{body, sig}` around exact body bytes, and a strict reader
//! for the fields of a bencoded dictionary.
//!
//! Every signed swarmfeed record (entries, delegation certificates) travels as
//! `d4:body<n>:<body>3:sig64:<signature>e`, where `<body>` is itself a canonical bencoded
//! dictionary with a `type` field, and the signature is over exactly those body bytes.

use std::collections::BTreeMap;

use ed25519_dalek::Signature;

use crate::bencode::{self, Value};
use crate::error::{Error, Result};

/// Fields whose name starts with this prefix are extensions a verifier may ignore.
pub const EXTENSION_PREFIX: &[u8] = b"x-";

/// Splits a signed envelope into its exact body bytes and signature.
pub fn open<'a>(
    bytes: &'a [u8],
    record: &'static str,
    max: usize,
) -> Result<(&'a [u8], Signature)> {
    if bytes.len() > max {
        return Err(Error::TooLarge {
            what: record,
            size: bytes.len(),
            max,
        });
    }
    let mut body = None;
    let mut sig = None;
    for (key, raw) in bencode::split_dict(bytes)? {
        match key {
            b"body" => body = Some(raw),
            b"sig" => sig = Some(raw),
            _ => {
                return Err(Error::UnknownCriticalField {
                    record,
                    field: String::from_utf8_lossy(key).into_owned(),
                });
            }
        }
    }
    let body = body.ok_or(Error::MissingField {
        record,
        field: "body",
    })?;
    let sig = sig.ok_or(Error::MissingField {
        record,
        field: "sig",
    })?;
    let body = string_payload(body).ok_or(Error::BadField {
        record,
        field: "body",
        reason: "is not a byte string",
    })?;
    let sig: &[u8; 64] =
        string_payload(sig)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::BadField {
                record,
                field: "sig",
                reason: "is not 64 bytes",
            })?;
    Ok((body, Signature::from_bytes(sig)))
}

/// Wraps body bytes and their signature into an envelope.
pub fn seal(body: &[u8], signature: &Signature) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 90);
    out.push(b'd');
    bencode::encode_bytes(b"body", &mut out);
    bencode::encode_bytes(body, &mut out);
    bencode::encode_bytes(b"sig", &mut out);
    bencode::encode_bytes(&signature.to_bytes(), &mut out);
    out.push(b'e');
    out
}

/// The payload of an already-validated encoded byte string (`<len>:<bytes>`).
fn string_payload(raw: &[u8]) -> Option<&[u8]> {
    let colon = raw.iter().position(|&b| b == b':')?;
    raw[0].is_ascii_digit().then(|| &raw[colon + 1..])
}

/// A strict reader over the fields of one dictionary: every field must be taken, or be an
/// `x-` extension, before [`Fields::finish`].
pub struct Fields {
    record: &'static str,
    map: BTreeMap<Vec<u8>, Value>,
}

impl Fields {
    /// Decodes `bytes` as a canonical dictionary of the given record type.
    pub fn decode(record: &'static str, bytes: &[u8]) -> Result<Fields> {
        Fields::new(record, bencode::decode(bytes)?)
    }

    pub fn new(record: &'static str, value: Value) -> Result<Fields> {
        match value {
            Value::Dict(map) => Ok(Fields { record, map }),
            _ => Err(Error::BadField {
                record,
                field: "",
                reason: "is not a dictionary",
            }),
        }
    }

    /// Takes the `type` field and checks it names this record type.
    pub fn expect_type(&mut self, expected: &'static str) -> Result<()> {
        let found = self.string("type")?;
        if found != expected {
            return Err(Error::WrongRecordType { expected, found });
        }
        Ok(())
    }

    pub fn take(&mut self, field: &'static str) -> Option<Value> {
        self.map.remove(field.as_bytes())
    }

    pub fn required(&mut self, field: &'static str) -> Result<Value> {
        self.take(field).ok_or(Error::MissingField {
            record: self.record,
            field,
        })
    }

    pub fn bad(&self, field: &'static str, reason: &'static str) -> Error {
        Error::BadField {
            record: self.record,
            field,
            reason,
        }
    }

    pub fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>> {
        match self.required(field)? {
            Value::Bytes(b) => Ok(b),
            _ => Err(self.bad(field, "is not a byte string")),
        }
    }

    pub fn fixed<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let bytes = self.bytes(field)?;
        bytes
            .try_into()
            .map_err(|_| self.bad(field, "has the wrong length"))
    }

    pub fn string(&mut self, field: &'static str) -> Result<String> {
        String::from_utf8(self.bytes(field)?).map_err(|_| self.bad(field, "is not UTF-8"))
    }

    pub fn uint(&mut self, field: &'static str) -> Result<u64> {
        match self.required(field)? {
            Value::Int(n) => u64::try_from(n).map_err(|_| self.bad(field, "is negative")),
            _ => Err(self.bad(field, "is not an integer")),
        }
    }

    pub fn list(&mut self, field: &'static str) -> Result<Vec<Value>> {
        match self.required(field)? {
            Value::List(items) => Ok(items),
            _ => Err(self.bad(field, "is not a list")),
        }
    }

    pub fn has(&self, field: &'static str) -> bool {
        self.map.contains_key(field.as_bytes())
    }

    /// Fails on any field left that is not an `x-` extension.
    pub fn finish(self) -> Result<()> {
        match self.map.keys().find(|k| !k.starts_with(EXTENSION_PREFIX)) {
            Some(key) => Err(Error::UnknownCriticalField {
                record: self.record,
                field: String::from_utf8_lossy(key).into_owned(),
            }),
            None => Ok(()),
        }
    }
}

/// Reads a list of UTF-8 strings.
pub fn strings(
    record: &'static str,
    field: &'static str,
    items: Vec<Value>,
) -> Result<Vec<String>> {
    items
        .into_iter()
        .map(|item| match item {
            Value::Bytes(b) => String::from_utf8(b).ok(),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(Error::BadField {
            record,
            field,
            reason: "is not a list of UTF-8 strings",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_refuse_extra_fields() {
        let sig = Signature::from_bytes(&[3; 64]);
        let sealed = seal(b"de", &sig);
        let (body, got) = open(&sealed, "entry", 1000).unwrap();
        assert_eq!(body, b"de");
        assert_eq!(got, sig);
        let mut extra = sealed.clone();
        extra.pop();
        extra.extend_from_slice(b"1:zi1ee");
        assert!(matches!(
            open(&extra, "entry", 1000),
            Err(Error::UnknownCriticalField { .. })
        ));
        assert!(matches!(
            open(&sealed, "entry", 10),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn unknown_fields_are_critical_unless_prefixed() {
        let fields = Fields::decode("entry", b"d4:x-ab1:1e").unwrap();
        assert!(fields.finish().is_ok());
        let fields = Fields::decode("entry", b"d3:newi1ee").unwrap();
        assert_eq!(
            fields.finish(),
            Err(Error::UnknownCriticalField {
                record: "entry",
                field: "new".into()
            })
        );
    }
}
