//! Relon's case mapping of strings (`upper_locale`, `lower_locale`,
//! `title_locale`), with the semantics tree-walk gives them, over the
//! Unicode tables of `relon-unicode` (the crate tree-walk reads too).
//!
//! Per code point, in order: a combining mark passes through (and does not
//! end a word's first letter); in title mode whitespace passes through and
//! starts a word (ASCII whitespace only, for an all-ASCII string of at
//! most 22 bytes outside Turkish), the first other code point of a word is upper-cased and
//! the rest lower-cased; lowering `Σ` picks `ς` at the end of a word and
//! `σ` elsewhere; in a Turkish or Azeri locale the Turkish table wins
//! (`I`→`ı`, `İ`→`i`, `i`→`İ`); then the full multi-code-point table
//! (`ß`→`SS`); then the simple one-to-one mapping.

use relon_unicode::full_case_folding as folding;

/// Strings up to this many bytes are inline in tree-walk's values
/// (`relon_eval_api::SMOL_STR_INLINE_CAP`), and case-mapped by its byte path
/// when all ASCII.
const TREE_WALK_INLINE_STRING_BYTES: usize = 22;

/// Which case a string is mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseMode {
    /// Every letter upper-cased.
    Upper,
    /// Every letter lower-cased.
    Lower,
    /// The first letter of each whitespace-separated word upper-cased,
    /// the others lower-cased.
    Title,
}

/// `text` mapped to `mode` in `locale` (a BCP 47 tag; only `tr` and `az`,
/// with or without a region, change the result).
pub fn map_case(text: &str, mode: CaseMode, locale: &str) -> String {
    let turkish = folding::is_turkish_locale(locale);
    // Tree-walk maps a short all-ASCII string outside Turkish by bytes,
    // where a word ends at ASCII whitespace (not at U+000B, which `char`
    // and its path for longer strings count).
    let ascii_words = !turkish && text.is_ascii() && text.len() <= TREE_WALK_INLINE_STRING_BYTES;
    let code_points: Vec<u32> = text.chars().map(u32::from).collect();
    let mut out = String::with_capacity(text.len());
    let mut at_word_start = true;
    for (at, &cp) in code_points.iter().enumerate() {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        if relon_unicode::combining_marks::is_combining_mark(cp) {
            out.push(c);
            continue;
        }
        let upper = match mode {
            CaseMode::Upper => true,
            CaseMode::Lower => false,
            CaseMode::Title if is_word_break(c, ascii_words) => {
                out.push(c);
                at_word_start = true;
                continue;
            }
            CaseMode::Title => at_word_start,
        };
        at_word_start = false;
        if !upper && cp == 0x03A3 {
            let final_sigma = folding::is_final_sigma_context(&code_points, at);
            out.push(if final_sigma { 'ς' } else { 'σ' });
            continue;
        }
        let turkish_entry = match (turkish, upper) {
            (false, _) => None,
            (true, true) => folding::turkish_upper_entry(cp),
            (true, false) => folding::turkish_lower_entry(cp),
        };
        let entry = turkish_entry.or_else(|| {
            if upper {
                folding::full_upper_entry(cp)
            } else {
                folding::full_lower_entry(cp)
            }
        });
        match entry {
            Some((len, mapped)) => out.extend(
                mapped[..usize::from(len).min(mapped.len())]
                    .iter()
                    .filter_map(|&m| char::from_u32(m)),
            ),
            None if upper => out.extend(c.to_uppercase()),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

fn is_word_break(c: char, ascii_words: bool) -> bool {
    if ascii_words {
        c.is_ascii_whitespace()
    } else {
        c.is_whitespace()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turkish_dotted_and_dotless_i() {
        assert_eq!(map_case("İstanbul", CaseMode::Lower, "tr"), "istanbul");
        assert_eq!(
            map_case("DİYARBAKIR", CaseMode::Lower, "tr-TR"),
            "diyarbakır"
        );
        assert_eq!(map_case("istanbul", CaseMode::Upper, "az"), "İSTANBUL");
        assert_eq!(
            map_case("İstanbul", CaseMode::Lower, "en"),
            "i\u{307}stanbul"
        );
    }

    #[cfg(feature = "values")]
    #[test]
    fn the_inline_string_size_is_tree_walks() {
        assert_eq!(
            TREE_WALK_INLINE_STRING_BYTES,
            relon_eval_api::SMOL_STR_INLINE_CAP
        );
    }

    #[test]
    fn a_vertical_tab_breaks_words_only_in_long_strings() {
        assert_eq!(map_case("a\u{b}b", CaseMode::Title, "en"), "A\u{b}b");
        assert_eq!(
            map_case("abcdefghij\u{b}bcdefghijklm", CaseMode::Title, "en"),
            "Abcdefghij\u{b}Bcdefghijklm"
        );
    }

    #[test]
    fn title_words_sigma_and_full_mappings() {
        assert_eq!(
            map_case("hello  wORLD", CaseMode::Title, "en"),
            "Hello  World"
        );
        assert_eq!(map_case("ΟΔΟΣ ΟΔΟΣ", CaseMode::Lower, "el"), "οδος οδος");
        assert_eq!(map_case("straße", CaseMode::Upper, "de"), "STRASSE");
    }
}
