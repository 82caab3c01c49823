//! Byte sizes on the command line: `262144`, `256KiB`, `256K`, `4MiB`, `1GiB`.

/// Parses a size in bytes; suffixes are binary (K = KiB = 1024) and case-insensitive. The
/// node's TOML config takes the same sizes.
pub use feeds::size::parse_size;

/// A size for people: `256 KiB`, `1.5 GiB`, `12 bytes`.
pub use feeds::size::format_size;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_plain_bytes_and_binary_suffixes() {
        assert_eq!(parse_size("262144"), Ok(262_144));
        assert_eq!(parse_size("256KiB"), Ok(262_144));
        assert_eq!(parse_size("256k"), Ok(262_144));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("4 M"), Ok(4 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
    }

    #[test]
    fn sizes_reject_junk_and_unknown_units() {
        for bad in [
            "",
            "KiB",
            "12 parsecs",
            "-4",
            "1.5MiB",
            "99999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_print_in_the_largest_whole_unit() {
        assert_eq!(format_size(12), "12 bytes");
        assert_eq!(format_size(262_144), "256 KiB");
        assert_eq!(format_size(20 << 20), "20 MiB");
        assert_eq!(format_size(1536 << 20), "1.5 GiB");
    }
}
