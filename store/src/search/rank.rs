//! Relevance: what an entry's publisher named it. A candidate scores one point per query word
//! found in its title; ties go to the shorter title (the words are more of it), then to the
//! newest-indexed. An exact title outranks a longer title holding the words, which outranks
//! a match only in the description, metadata or file names.
//!
//! Not bm25: FTS5's bm25 computes each phrase's IDF by counting every row the phrase matches
//! (`xQueryPhrase` over the whole index) before it ranks a single row. For a trigram
//! substring of four or more characters that is a positional AND of several long doclists,
//! 0.1–0.4 s at a million entries however few rows are then ranked. The title score needs no
//! more of the index: the candidates' titles are read with the rows the filters read anyway,
//! and matched here as the index matches them (folded, see [`fold`]).

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// A character as the index compares it: lower case, diacritics dropped (`É` is `e`), as the
/// FTS5 tokenizers' `remove_diacritics` fold them. A character whose canonical decomposition
/// is not one base character and marks (a Hangul syllable is three letters) stays itself;
/// one whose lower case is longer is taken by its first. Snippets mark matches with it too.
pub fn fold(c: char) -> char {
    let lower = c.to_lowercase().next().unwrap_or(c);
    let (mut base, mut bases) = (lower, 0);
    decompose_canonical(lower, |d| {
        if !is_combining_mark(d) {
            base = d;
            bases += 1;
        }
    });
    if bases == 1 { base } else { lower }
}

/// A query word as the title score looks for it, matching as its FTS5 table does.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TitleWord {
    /// Three characters or more (the trigram table): a substring anywhere.
    Substring(Vec<char>),
    /// A short word or a prefix (the word table): these whole words in a row, the last one
    /// only a word's start when `prefix`.
    Words { words: Vec<Vec<char>>, prefix: bool },
}

impl TitleWord {
    pub(super) fn substring(word: &str) -> TitleWord {
        TitleWord::Substring(word.chars().map(fold).collect())
    }

    pub(super) fn words(word: &str, prefix: bool) -> TitleWord {
        let folded: Vec<char> = word.chars().map(fold).collect();
        let words = split_words(&folded).map(<[char]>::to_vec).collect();
        TitleWord::Words { words, prefix }
    }

    fn found_in(&self, title: &[char], title_words: &[&[char]]) -> bool {
        match self {
            TitleWord::Substring(word) => {
                !word.is_empty() && title.windows(word.len()).any(|w| w == word.as_slice())
            }
            TitleWord::Words { words, prefix } => {
                let Some((last, whole)) = words.split_last() else {
                    return false;
                };
                title_words.windows(words.len()).any(|run| {
                    let (run_last, run_whole) = (run[run.len() - 1], &run[..run.len() - 1]);
                    let last_found = if *prefix {
                        run_last.starts_with(last)
                    } else {
                        run_last == last.as_slice()
                    };
                    last_found && run_whole.iter().zip(whole).all(|(a, b)| *a == b.as_slice())
                })
            }
        }
    }
}

/// The words of folded text as unicode61 cuts them: runs of letters and digits.
fn split_words(text: &[char]) -> impl Iterator<Item = &[char]> {
    text.split(|c| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// How many of `words` the title holds.
pub(super) fn title_score(title: &str, words: &[TitleWord]) -> u32 {
    let folded: Vec<char> = title.chars().map(fold).collect();
    let title_words: Vec<&[char]> = split_words(&folded).collect();
    let found = words.iter().filter(|w| w.found_in(&folded, &title_words));
    u32::try_from(found.count()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_words_match_as_their_index_does_folded() {
        let score = |title: &str, words: &[TitleWord]| title_score(title, words);
        let cafe = TitleWord::substring("cafe");
        assert_eq!(score("Le Café de Flore", &[cafe]), 1);
        assert_eq!(score("AMÉLIE", &[TitleWord::substring("amelie")]), 1);
        // Substrings anywhere; short words whole; prefixes at a word's start.
        assert_eq!(score("Kubuntu 24.04", &[TitleWord::substring("ubunt")]), 1);
        assert_eq!(score("Kubuntu 24.04", &[TitleWord::words("24", false)]), 1);
        assert_eq!(score("Kubuntu 24.04", &[TitleWord::words("4", false)]), 0);
        assert_eq!(score("Kubuntu 24.04", &[TitleWord::words("kub", true)]), 1);
        assert_eq!(score("Kubuntu 24.04", &[TitleWord::words("ubu", true)]), 0);
        assert_eq!(score("Kubuntu 24.04", &[TitleWord::words("24.0", true)]), 1);
        let both = [
            TitleWord::substring("kubuntu"),
            TitleWord::words("hd", false),
        ];
        assert_eq!(score("Kubuntu HD", &both), 2);
        assert_eq!(score("", &both), 0);
        assert_eq!(fold('한'), '한');
    }
}
