//! File names that mean the same thing to every reader: the publisher's rules for what it
//! puts in a torrent, and the safe ways to show and save names that others put there.
//!
//! `feeds` accepts any name that cannot escape a download directory (`feeds::torrent_path`);
//! signed formats are forever, so what others publish is never refused for these rules.
//! This publisher is stricter about its own names, and refuses:
//! - bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C): they
//!   reorder what a reader sees, so `photo\u{202E}gpj.exe` shows as `photoexe.jpg`;
//! - control characters (U+0000–U+001F, U+007F–U+009F);
//! - names Windows reserves for devices — `CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`,
//!   `LPT0`–`LPT9` (also with superscript ¹²³), in any case, with or without an extension
//!   (`nul.txt`, `Com1.tar.gz`) — and names ending in a dot or a space, which Windows cannot
//!   create or strips: such a torrent cannot be saved there whole.
//!
//! Names that arrive from others are shown through [`visible`] (each hidden character
//! written out as `\u{202E}`) and offered for download under [`download_name`].

use std::borrow::Cow;

/// Device names Windows reserves in every directory, whatever the extension.
const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];

/// Whether `c` changes how text around it is shown without being seen itself: a
/// bidirectional control or a control character.
pub fn is_hidden_control(c: char) -> bool {
    is_bidi_control(c) || c.is_control()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Why the publisher refuses `name` as a file or directory name, if it does.
pub fn name_problem(name: &str) -> Option<String> {
    if let Some(c) = name.chars().find(|&c| is_bidi_control(c)) {
        return Some(format!(
            "it holds the bidirectional control U+{:04X}, which can disguise a name (and its extension) as another",
            c as u32
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!("it holds the control character U+{:04X}", c as u32));
    }
    if is_windows_reserved(name) {
        return Some(
            "it is a device name Windows reserves (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any extension): it cannot be saved there"
                .into(),
        );
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some(
            "it ends with a dot or a space, which Windows strips: it cannot be saved there as named"
                .into(),
        );
    }
    None
}

/// Whether Windows reserves `name` for a device: the part before the first dot, trailing
/// spaces dropped, compared without regard to case.
pub fn is_windows_reserved(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if RESERVED.contains(&upper.as_str()) {
        return true;
    }
    let mut chars = upper.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    let rest: Vec<char> = chars.collect();
    (prefix == "COM" || prefix == "LPT")
        && matches!(rest.as_slice(), [c] if c.is_ascii_digit() || matches!(c, '¹' | '²' | '³'))
}

/// `name` with every hidden character written out as `\u{202E}`, so a page shows what the
/// name really holds, in the order it is stored.
pub fn visible(name: &str) -> Cow<'_, str> {
    if !name.chars().any(is_hidden_control) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 16);
    for c in name.chars() {
        if is_hidden_control(c) {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A name safe to save a file under on any system: hidden characters become `_`, a
/// reserved device name gets a leading `_`, a trailing dot or space becomes `_`.
pub fn download_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if is_hidden_control(c) { '_' } else { c })
        .collect();
    if is_windows_reserved(&out) {
        out.insert(0, '_');
    }
    if out.ends_with('.') || out.ends_with(' ') {
        out.pop();
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "a.txt",
            "été.flac",
            "日本語",
            "عربي.txt",
            ".hidden",
            "CONSOLE.txt",
            "com10",
            "nul-points",
            "LPT",
            "a.b.c",
            "con_",
        ] {
            assert_eq!(name_problem(name), None, "{name:?}");
            assert_eq!(download_name(name), name);
            assert!(matches!(visible(name), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn bidi_controls_and_control_characters_are_refused_naming_the_code_point() {
        for (name, code) in [
            ("photo\u{202E}gpj.exe", "U+202E"),
            ("a\u{202A}b", "U+202A"),
            ("a\u{2066}b", "U+2066"),
            ("a\u{2069}", "U+2069"),
            ("\u{200E}x", "U+200E"),
            ("x\u{200F}", "U+200F"),
            ("x\u{061C}", "U+061C"),
            ("bell\u{7}", "U+0007"),
            ("c1\u{85}", "U+0085"),
            ("del\u{7F}", "U+007F"),
        ] {
            let problem = name_problem(name).unwrap_or_default();
            assert!(problem.contains(code), "{name:?}: {problem}");
        }
    }

    #[test]
    fn windows_device_names_in_any_case_and_with_any_extension_are_refused() {
        for name in [
            "CON",
            "con",
            "Con.txt",
            "NUL",
            "nul.tar.gz",
            "AUX",
            "PRN.md",
            "COM1",
            "com9.log",
            "LPT1",
            "lpt3.txt",
            "COM0",
            "COM¹",
            "CON .txt",
            "aux.",
        ] {
            assert!(
                name_problem(name).is_some_and(|p| p.contains("device name")),
                "{name:?}"
            );
            assert!(download_name(name).starts_with('_'), "{name:?}");
        }
    }

    #[test]
    fn a_trailing_dot_or_space_is_refused() {
        for name in ["notes.", "notes ", "dir. ", "..."] {
            assert!(
                name_problem(name).is_some_and(|p| p.contains("ends with")),
                "{name:?}"
            );
            let saved = download_name(name);
            assert!(!saved.ends_with('.') && !saved.ends_with(' '), "{saved:?}");
        }
    }

    #[test]
    fn hidden_characters_are_written_out_and_replaced_for_downloads() {
        assert_eq!(visible("photo\u{202E}gpj.exe"), "photo\\u{202E}gpj.exe");
        assert_eq!(visible("a\u{7}b\u{200F}"), "a\\u{0007}b\\u{200F}");
        assert_eq!(download_name("photo\u{202E}gpj.exe"), "photo_gpj.exe");
        assert_eq!(download_name("con.txt"), "_con.txt");
    }
}
