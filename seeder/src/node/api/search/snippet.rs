//! Snippets: a hit's text cut into plain-text spans with the query's words marked. Never
//! markup: whoever shows a snippet escapes its text, so a hostile title stays text.

use serde::{Deserialize, Serialize};
use store::search::fold;

/// Characters of a description kept around its first match.
const CONTEXT_CHARS: usize = 80;

/// A piece of a snippet: plain text, `hit` when it matches a query word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hit: bool,
}

/// The query's words as they are marked in snippets: folded as the index folds them
/// ([`fold`]), without `*`.
pub(super) fn highlight_words(text: &str) -> Vec<Vec<char>> {
    text.split_whitespace()
        .map(|w| w.trim_end_matches('*'))
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| w.chars().map(fold).collect())
        .collect()
}

/// At most `max` characters of `text`, with `…` when clipped.
pub(super) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// `text` cut into spans, the occurrences of `words` marked in any case and with diacritics
/// folded, as the index matches them: `cafe` marks `Café`, `amélie` marks `AMELIE`.
pub fn marked(text: &str, words: &[Vec<char>]) -> Vec<Span> {
    // Each char's byte offset beside its folded form: the span keeps the text as written.
    let chars: Vec<(usize, char)> = text.char_indices().map(|(at, c)| (at, fold(c))).collect();
    let mut hit = vec![false; chars.len()];
    for word in words.iter().filter(|w| !w.is_empty()) {
        if word.len() > chars.len() {
            continue;
        }
        for start in 0..=chars.len() - word.len() {
            if chars[start..start + word.len()]
                .iter()
                .zip(word)
                .all(|((_, c), w)| c == w)
            {
                hit[start..start + word.len()].fill(true);
            }
        }
    }
    let mut spans: Vec<Span> = Vec::new();
    for (i, &(at, _)) in chars.iter().enumerate() {
        let end = chars.get(i + 1).map_or(text.len(), |&(next, _)| next);
        let piece = &text[at..end];
        match spans.last_mut() {
            Some(last) if last.hit == hit[i] => last.text.push_str(piece),
            _ => spans.push(Span {
                text: piece.to_owned(),
                hit: hit[i],
            }),
        }
    }
    spans
}

/// The part of `text` around its first match, marked; `None` when nothing matches.
pub(super) fn around_first_match(text: &str, words: &[Vec<char>]) -> Option<Vec<Span>> {
    let spans = marked(text, words);
    let first = spans.iter().position(|s| s.hit)?;
    let before: usize = spans[..first].iter().map(|s| s.text.chars().count()).sum();
    let skip = before.saturating_sub(CONTEXT_CHARS);
    let window: String = text.chars().skip(skip).take(CONTEXT_CHARS * 3).collect();
    let mut out = String::new();
    if skip > 0 {
        out.push('…');
    }
    out.push_str(&window);
    if skip + CONTEXT_CHARS * 3 < text.chars().count() {
        out.push('…');
    }
    Some(marked(&out, words))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<char>> {
        highlight_words(text)
    }

    #[test]
    fn matches_are_marked_in_any_case_and_the_rest_stays_plain_text() {
        let spans = marked("<b>Kubuntu</b> ISO", &words("ubunt iso*"));
        let shown: Vec<(&str, bool)> = spans.iter().map(|s| (s.text.as_str(), s.hit)).collect();
        assert_eq!(
            shown,
            [
                ("<b>K", false),
                ("ubunt", true),
                ("u</b> ", false),
                ("ISO", true)
            ]
        );
        // Diacritics fold both ways, and the marked text keeps its own.
        let spans = marked("Le Café <i>", &words("cafe"));
        let shown: Vec<(&str, bool)> = spans.iter().map(|s| (s.text.as_str(), s.hit)).collect();
        assert_eq!(shown, [("Le ", false), ("Café", true), (" <i>", false)]);
        let spans = marked("AMELIE, Ærø", &words("amélie ærø"));
        let shown: Vec<(&str, bool)> = spans.iter().map(|s| (s.text.as_str(), s.hit)).collect();
        assert_eq!(shown, [("AMELIE", true), (", ", false), ("Ærø", true)]);
        // A syllable that decomposes into several letters is compared whole.
        assert_eq!(
            marked("한글", &words("한")).first().map(|s| s.hit),
            Some(true)
        );
        assert_eq!(
            marked("abc", &words("zz")),
            [Span {
                text: "abc".into(),
                hit: false
            }]
        );
    }
}
