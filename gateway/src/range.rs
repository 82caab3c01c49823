//! The `Range` header (RFC 9110 §14): which bytes of a representation of `len` bytes to send.
//!
//! Single byte ranges only. A request for several ranges gets the whole file with 200, which
//! RFC 9110 allows and which spares us multipart bodies nobody streams from; a header that is
//! not a valid `bytes` range is ignored (200), as the RFC asks.

/// Longest `Range` header looked at; longer ones are ignored (answered with the whole file).
const MAX_HEADER: usize = 1024;

/// What to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole representation (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial { start: u64, end: u64 },
    /// No byte of the range exists (416 with `Content-Range: bytes */len`).
    Unsatisfiable,
}

/// Evaluates a `Range` header value against a representation of `len` bytes.
pub fn evaluate(header: &str, len: u64) -> RangeAnswer {
    if header.len() > MAX_HEADER {
        return RangeAnswer::Full;
    }
    let Some((unit, set)) = header.trim().split_once('=') else {
        return RangeAnswer::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Full;
    }
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeAnswer::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => {
            if !is_digits(last) {
                return RangeAnswer::Full;
            }
            match number(last).unwrap_or(u64::MAX) {
                0 => RangeAnswer::Unsatisfiable,
                _ if len == 0 => RangeAnswer::Unsatisfiable,
                n => RangeAnswer::Partial {
                    start: len.saturating_sub(n),
                    end: len - 1,
                },
            }
        }
        // `A-`: from A to the end.
        (false, true) => match number(first) {
            Some(start) if start < len => RangeAnswer::Partial {
                start,
                end: len - 1,
            },
            _ if is_digits(first) => RangeAnswer::Unsatisfiable,
            _ => RangeAnswer::Full,
        },
        // `A-B`.
        (false, false) => {
            if !is_digits(first) || !is_digits(last) {
                return RangeAnswer::Full;
            }
            // Digits that overflow a u64 are past any end.
            let start = number(first).unwrap_or(u64::MAX);
            let end = number(last).unwrap_or(u64::MAX);
            if end < start {
                RangeAnswer::Full
            } else if start >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial {
                    start,
                    end: end.min(len - 1),
                }
            }
        }
        (true, true) => RangeAnswer::Full,
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A decimal number of digits only; `None` when not digits or too large for a u64.
fn number(text: &str) -> Option<u64> {
    if !is_digits(text) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::{Full, Partial, Unsatisfiable};
    use super::evaluate;

    #[test]
    fn single_ranges_are_clamped_to_the_file() {
        assert_eq!(evaluate("bytes=0-1", 100), Partial { start: 0, end: 1 });
        assert_eq!(evaluate("bytes=10-19", 100), Partial { start: 10, end: 19 });
        assert_eq!(
            evaluate("bytes=90-500", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(evaluate("bytes=99-", 100), Partial { start: 99, end: 99 });
        assert_eq!(evaluate("bytes=-10", 100), Partial { start: 90, end: 99 });
        assert_eq!(evaluate("bytes=-1000", 100), Partial { start: 0, end: 99 });
        assert_eq!(
            evaluate("bytes=-99999999999999999999999", 100),
            Partial { start: 0, end: 99 }
        );
        assert_eq!(
            evaluate(" Bytes = 5 - 6 ", 100),
            Partial { start: 5, end: 6 }
        );
        assert_eq!(
            evaluate("bytes=0-99999999999999999999999", 100),
            Partial { start: 0, end: 99 }
        );
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(evaluate("bytes=100-", 100), Unsatisfiable);
        assert_eq!(evaluate("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(evaluate("bytes=-0", 100), Unsatisfiable);
        assert_eq!(evaluate("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(evaluate("bytes=-5", 0), Unsatisfiable);
        assert_eq!(
            evaluate("bytes=99999999999999999999999-", 100),
            Unsatisfiable
        );
    }

    #[test]
    fn invalid_or_multiple_ranges_get_the_whole_file() {
        for header in [
            "bytes=5-2",
            "bytes=a-b",
            "bytes=-",
            "bytes=1-2,3-4",
            "items=0-1",
            "bytes",
            "bytes=0x1-2",
            "bytes=+1-2",
        ] {
            assert_eq!(evaluate(header, 100), Full, "{header}");
        }
        let huge = format!("bytes={}", "0-1,".repeat(10_000));
        assert_eq!(evaluate(&huge, 100), Full);
    }
}
