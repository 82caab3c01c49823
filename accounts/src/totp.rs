//! TOTP (RFC 6238 over RFC 4226 HOTP), as authenticator apps do it: HMAC-SHA1, 30-second
//! steps, 6 digits, a 20-byte secret shown in base32. Checked against the RFC's test
//! vectors below. The enrolment QR code is rendered here as SVG (no JavaScript needed).

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use qrcode::QrCode;
use qrcode::render::svg;
use sha1::Sha1;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

/// The HOTP value of `secret` at `counter` with `digits` digits (RFC 4226 §5.3).
fn hotp(secret: &[u8], counter: u64, digits: u32) -> Option<u32> {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).ok()?;
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    Some(bin % 10u32.pow(digits))
}

/// The time step of a Unix time.
pub fn step_of(unix_time: i64) -> u64 {
    (unix_time.max(0) / STEP_SECS) as u64
}

/// The 6-digit code of `secret` at `step`, zero-padded.
pub(crate) fn code_at_step(secret: &[u8], step: u64) -> Option<String> {
    hotp(secret, step, DIGITS).map(|c| format!("{c:0width$}", width = DIGITS as usize))
}

/// The code an authenticator shows for a base32 secret at a Unix time (what a test or a
/// user's app computes).
pub fn code(secret_base32: &str, unix_time: i64) -> Option<String> {
    let secret = BASE32_NOPAD
        .decode(secret_base32.trim_end_matches('=').as_bytes())
        .ok()?;
    code_at_step(&secret, step_of(unix_time))
}

/// The step whose code `code` is, among the current one and one either side (clock drift),
/// and only if it is later than `last_step`: a code is never accepted twice.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: i64, last_step: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_of(now);
    let mut found = None;
    // Every candidate is computed and compared in constant time, whichever matches.
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = code_at_step(secret, step)?;
        if crate::token::ct_eq(expected.as_bytes(), code.as_bytes()) && step > last_step {
            found = Some(step);
        }
    }
    found
}

/// The secret as the base32 an app accepts when typed in.
pub(crate) fn base32(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` URI the QR code holds.
pub(crate) fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// The URI as an SVG QR code.
pub(crate) fn qr_svg(uri: &str) -> Option<String> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows: the ASCII secret "12345678901234567890", 8 digits.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, step_of(time), 8), Some(expected), "T = {time}");
        }
        // The same secret through the base32 path and 6 digits: the last six of 94287082.
        assert_eq!(code(&base32(secret), 59).as_deref(), Some("287082"));
    }

    /// RFC 4226 Appendix D: HOTP values for counters 0..9.
    #[test]
    fn rfc_4226_test_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(
                hotp(b"12345678901234567890", counter as u64, 6),
                Some(*want)
            );
        }
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_once_each() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let current = step_of(now);
        let code_now = code_at_step(secret, current).unwrap();
        assert_eq!(matching_step(secret, &code_now, now, 0), Some(current));
        assert_eq!(
            matching_step(secret, &code_now, now, current),
            None,
            "replayed"
        );
        let code_prev = code_at_step(secret, current - 1).unwrap();
        assert_eq!(matching_step(secret, &code_prev, now, 0), Some(current - 1));
        let code_old = code_at_step(secret, current - 2).unwrap();
        assert_eq!(
            matching_step(secret, &code_old, now, 0),
            None,
            "outside the window"
        );
        assert_eq!(matching_step(secret, "12345", now, 0), None);
        assert_eq!(matching_step(secret, "abcdef", now, 0), None);
    }

    #[test]
    fn the_qr_code_is_an_svg_holding_the_uri() {
        let uri = otpauth_uri(
            b"12345678901234567890",
            "swarmfeed example",
            "a@example.org",
        );
        assert!(uri.starts_with("otpauth://totp/swarmfeed%20example:a%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&"));
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("<path"));
        assert!(!svg.contains("script"));
    }
}
