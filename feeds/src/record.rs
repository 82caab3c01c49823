//! Signed records: the envelope `{body, sig}` around exact body bytes, and a strict reader
//! for the fields of a bencoded dictionary.
//!
//! Every signed swarmfeed record (entries, delegation certificates) travels as
//! `d4:body<n>:<body>3:sig64:<signature>e`, where `<body>` is itself a canonical bencoded
//! dictionary with a `type` field, and the signature is over exactly those body bytes.

use ed25519_dalek::Signature;

use crate::bencode::{self, Raw, RawDictItems, RawList};
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
    let mut unknown = None;
    bencode::visit_dict(bytes, |key, raw| match key {
        b"body" => body = Some(raw.as_slice()),
        b"sig" => sig = Some(raw.as_slice()),
        _ => {
            unknown.get_or_insert(key);
        }
    })?;
    if let Some(key) = unknown {
        return Err(Error::UnknownCriticalField {
            record,
            field: String::from_utf8_lossy(key).into_owned(),
        });
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
///
/// Zero-copy: the dictionary is validated once (strictly canonical, nesting limit and all)
/// when the reader is made, then each field is parsed straight from its exact bytes, and
/// only what the caller keeps is allocated.
pub struct Fields<'a> {
    record: &'static str,
    /// Fields not taken yet, in canonical (sorted, unique) key order.
    items: RawDictItems<'a>,
}

impl<'a> Fields<'a> {
    /// Decodes `bytes` as a canonical dictionary of the given record type.
    pub fn decode(record: &'static str, bytes: &'a [u8]) -> Result<Fields<'a>> {
        if bytes.first() != Some(&b'd') {
            // Canonical bencode that is not a dictionary is a field error; anything else is
            // the bencode error that says where it goes wrong.
            bencode::validate(bytes)?;
            return Err(not_a_dict(record));
        }
        Ok(Fields {
            record,
            items: bencode::split_dict_raw(bytes)?,
        })
    }

    /// Reads a value that was validated with its enclosing record, such as a nested
    /// dictionary field.
    pub fn new(record: &'static str, value: Raw<'a>) -> Result<Fields<'a>> {
        let items = value.as_dict().ok_or_else(|| not_a_dict(record))?.collect();
        Ok(Fields { record, items })
    }

    /// Takes the `type` field and checks it names this record type.
    pub fn expect_type(&mut self, expected: &'static str) -> Result<()> {
        let found = self.str("type")?;
        if found != expected {
            return Err(Error::WrongRecordType {
                expected,
                found: found.to_owned(),
            });
        }
        Ok(())
    }

    /// Takes a field's exact bytes, if present.
    pub fn take(&mut self, field: &'static str) -> Option<Raw<'a>> {
        let at = self.find(field)?;
        Some(self.items.remove(at).1)
    }

    pub fn required(&mut self, field: &'static str) -> Result<Raw<'a>> {
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

    /// A byte string field, borrowed from the input.
    pub fn slice(&mut self, field: &'static str) -> Result<&'a [u8]> {
        self.required(field)?
            .as_bytes()
            .ok_or_else(|| self.bad(field, "is not a byte string"))
    }

    pub fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>> {
        self.slice(field).map(<[u8]>::to_vec)
    }

    pub fn fixed<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let bytes = self.slice(field)?;
        bytes
            .try_into()
            .map_err(|_| self.bad(field, "has the wrong length"))
    }

    /// A UTF-8 string field, borrowed from the input.
    pub fn str(&mut self, field: &'static str) -> Result<&'a str> {
        let bytes = self.slice(field)?;
        std::str::from_utf8(bytes).map_err(|_| self.bad(field, "is not UTF-8"))
    }

    pub fn string(&mut self, field: &'static str) -> Result<String> {
        self.str(field).map(str::to_owned)
    }

    pub fn uint(&mut self, field: &'static str) -> Result<u64> {
        let n = self
            .required(field)?
            .as_int()
            .ok_or_else(|| self.bad(field, "is not an integer"))?;
        u64::try_from(n).map_err(|_| self.bad(field, "is negative"))
    }

    /// A list field: its items' exact bytes, in order.
    pub fn list(&mut self, field: &'static str) -> Result<RawList<'a>> {
        self.required(field)?
            .as_list()
            .ok_or_else(|| self.bad(field, "is not a list"))
    }

    pub fn has(&self, field: &'static str) -> bool {
        self.find(field).is_some()
    }

    /// Fails on any field left that is not an `x-` extension.
    pub fn finish(self) -> Result<()> {
        match self
            .items
            .iter()
            .find(|(k, _)| !k.starts_with(EXTENSION_PREFIX))
        {
            Some((key, _)) => Err(Error::UnknownCriticalField {
                record: self.record,
                field: String::from_utf8_lossy(key).into_owned(),
            }),
            None => Ok(()),
        }
    }

    fn find(&self, field: &str) -> Option<usize> {
        let field = field.as_bytes();
        let items = &self.items;
        // Few fields, sorted: a scan beats a binary search until there are many.
        if items.len() <= 16 {
            items.iter().position(|(k, _)| *k == field)
        } else {
            items.binary_search_by(|(k, _)| (*k).cmp(field)).ok()
        }
    }
}

/// The fields of one dictionary sorted into slots, one per field name a record knows, in a
/// single pass over its keys: [`Fields`] without a list to search and shrink, for the hot
/// decoders. Reads fail with exactly the errors [`Fields`] gives.
///
/// `names` must be sorted as bencode sorts keys (by bytes); keys arrive sorted and unique,
/// so each key is matched by walking both in step.
pub struct Slots<'a, const N: usize> {
    record: &'static str,
    names: &'static [&'static str; N],
    values: [Option<Raw<'a>>; N],
    /// How far the walk through `names` has come.
    next: usize,
    /// The first key that is neither a known name nor an `x-` extension.
    unknown: Option<&'a [u8]>,
}

impl<'a, const N: usize> Slots<'a, N> {
    pub fn new(record: &'static str, names: &'static [&'static str; N]) -> Slots<'a, N> {
        Slots {
            record,
            names,
            values: [None; N],
            next: 0,
            unknown: None,
        }
    }

    /// Validates `bytes` as a canonical dictionary of the given record type and sorts its
    /// fields in; the same errors as [`Fields::decode`].
    pub fn decode(
        record: &'static str,
        names: &'static [&'static str; N],
        bytes: &'a [u8],
    ) -> Result<Slots<'a, N>> {
        if bytes.first() != Some(&b'd') {
            bencode::validate(bytes)?;
            return Err(not_a_dict(record));
        }
        let mut slots = Slots::new(record, names);
        bencode::visit_dict(bytes, |key, value| slots.put(key, value))?;
        Ok(slots)
    }

    /// Slots for a value that was validated with its enclosing record, such as a nested
    /// dictionary field; the same error as [`Fields::new`] when it is not a dictionary.
    pub fn of(
        record: &'static str,
        names: &'static [&'static str; N],
        value: Raw<'a>,
    ) -> Result<Slots<'a, N>> {
        let dict = value.as_dict().ok_or_else(|| not_a_dict(record))?;
        let mut slots = Slots::new(record, names);
        for (key, value) in dict {
            slots.put(key, value);
        }
        Ok(slots)
    }

    /// Sorts in the next key of the dictionary.
    pub fn put(&mut self, key: &'a [u8], value: Raw<'a>) {
        while self.next < N && self.names[self.next].as_bytes() < key {
            self.next += 1;
        }
        if self.next < N && self.names[self.next].as_bytes() == key {
            self.values[self.next] = Some(value);
            self.next += 1;
        } else if self.unknown.is_none() && !key.starts_with(EXTENSION_PREFIX) {
            self.unknown = Some(key);
        }
    }

    /// The value of field `at` (an index into `names`), if present.
    pub fn take(&mut self, at: usize) -> Option<Raw<'a>> {
        self.values.get_mut(at).and_then(Option::take)
    }

    /// Whether field `at` is present and not taken.
    pub fn has(&self, at: usize) -> bool {
        self.values.get(at).is_some_and(Option::is_some)
    }

    pub fn name(&self, at: usize) -> &'static str {
        self.names.get(at).copied().unwrap_or("")
    }

    pub fn required(&mut self, at: usize) -> Result<Raw<'a>> {
        self.take(at).ok_or(Error::MissingField {
            record: self.record,
            field: self.name(at),
        })
    }

    pub fn bad(&self, at: usize, reason: &'static str) -> Error {
        Error::BadField {
            record: self.record,
            field: self.name(at),
            reason,
        }
    }

    pub fn slice(&mut self, at: usize) -> Result<&'a [u8]> {
        self.required(at)?
            .as_bytes()
            .ok_or_else(|| self.bad(at, "is not a byte string"))
    }

    pub fn fixed<const L: usize>(&mut self, at: usize) -> Result<[u8; L]> {
        let bytes = self.slice(at)?;
        bytes
            .try_into()
            .map_err(|_| self.bad(at, "has the wrong length"))
    }

    pub fn str(&mut self, at: usize) -> Result<&'a str> {
        let bytes = self.slice(at)?;
        std::str::from_utf8(bytes).map_err(|_| self.bad(at, "is not UTF-8"))
    }

    pub fn uint(&mut self, at: usize) -> Result<u64> {
        let n = self
            .required(at)?
            .as_int()
            .ok_or_else(|| self.bad(at, "is not an integer"))?;
        u64::try_from(n).map_err(|_| self.bad(at, "is negative"))
    }

    pub fn list(&mut self, at: usize) -> Result<RawList<'a>> {
        self.required(at)?
            .as_list()
            .ok_or_else(|| self.bad(at, "is not a list"))
    }

    /// Fails on the first field, in key order, that is neither taken nor an `x-` extension:
    /// the first unknown key or a known field left untaken.
    pub fn finish(self) -> Result<()> {
        let left = (0..N)
            .filter(|&at| self.values[at].is_some())
            .map(|at| self.names[at].as_bytes())
            .chain(self.unknown)
            .min();
        match left {
            Some(key) => Err(Error::UnknownCriticalField {
                record: self.record,
                field: String::from_utf8_lossy(key).into_owned(),
            }),
            None => Ok(()),
        }
    }
}

fn not_a_dict(record: &'static str) -> Error {
    Error::BadField {
        record,
        field: "",
        reason: "is not a dictionary",
    }
}

/// Reads a list of UTF-8 strings.
pub fn strings<'a>(
    record: &'static str,
    field: &'static str,
    items: impl IntoIterator<Item = Raw<'a>>,
) -> Result<Vec<String>> {
    items
        .into_iter()
        .map(|item| item.as_str().map(str::to_owned))
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

    #[test]
    fn many_fields_spill_and_are_read_alike() {
        let mut body = b"d".to_vec();
        for i in 0..20u8 {
            bencode::encode_bytes(format!("f{i:02}").as_bytes(), &mut body);
            body.extend_from_slice(format!("i{i}e").as_bytes());
        }
        body.push(b'e');
        let mut fields = Fields::decode("entry", &body).unwrap();
        for i in (0..20u8).rev().step_by(2) {
            let name: &'static str = Box::leak(format!("f{i:02}").into_boxed_str());
            assert_eq!(fields.uint(name), Ok(u64::from(i)));
        }
        assert!(fields.has("f00") && !fields.has("f01"));
        assert_eq!(
            fields.finish(),
            Err(Error::UnknownCriticalField {
                record: "entry",
                field: "f00".into()
            })
        );
        assert_eq!(
            Fields::decode("entry", b"i1e").err(),
            Some(Error::BadField {
                record: "entry",
                field: "",
                reason: "is not a dictionary"
            })
        );
        assert_eq!(
            Fields::decode("entry", b"i01e").err(),
            Some(Error::Bencode(bencode::DecodeError::LeadingZero(1)))
        );
    }
}
