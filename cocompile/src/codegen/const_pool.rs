//! The program's constant data: string, list and dict literals and the
//! Unicode tables the stdlib bodies search, laid out as one byte blob the
//! runtime copies to arena offset 0 before the first call.
//!
//! Records are placed the first time an emitted op refers to them, so only
//! the data of reachable code is kept, and identical records are placed
//! once (literal indices are per function body, so they are not used as
//! keys). Every offset handed to the code is an arena offset, the same
//! number an IR pointer holds.
//!
//! Layouts (all little-endian), as documented on `relon_ir::ir::Op`:
//! - `String`: `[len: u32][utf8]`, 4-aligned.
//! - `List<Int>` / `List<Float>`: `[len: u32][pad: u32][8-byte elements]`, 8-aligned.
//! - `List<Bool>`: `[len: u32][u8 elements]`, 4-aligned.
//! - `List<String>`: the strings' records, then `[len: u32][offset: u32 ...]`.
//! - `{String: Int}` dict: `[count: u32][pad: u32][shape_hash: u64]`, then `count`
//!   entries `[key_off: u32][key_len: u32][value: i64]` sorted by key bytes
//!   (`key_off` relative to the record), then the key bytes; 8-aligned.
//! - Unicode tables: the bytes `relon_unicode` encodes for each table.

use std::collections::HashMap;

/// Which Unicode table an op names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum UnicodeTable {
    SimpleCaseFold { upper: bool },
    CombiningMarks,
    Whitespace,
    Decomposition { compatibility: bool },
    CanonicalCombiningClass,
    Composition,
    FullCaseFold { upper: bool },
    Cased,
    CaseIgnorable,
    TurkishCaseFold { upper: bool },
}

impl UnicodeTable {
    fn encode(self) -> Vec<u8> {
        use relon_ir::{
            case_folding, combining_marks, full_case_folding, normalization,
            normalization_data as data, whitespace,
        };
        match self {
            UnicodeTable::SimpleCaseFold { upper: true } => {
                case_folding::encode_table_bytes(case_folding::simple_upper_folding())
            }
            UnicodeTable::SimpleCaseFold { upper: false } => {
                case_folding::encode_table_bytes(case_folding::simple_lower_folding())
            }
            UnicodeTable::CombiningMarks => {
                combining_marks::encode_ranges_bytes(combining_marks::combining_mark_ranges())
            }
            UnicodeTable::Whitespace => {
                whitespace::encode_ranges_bytes(whitespace::non_ascii_whitespace_ranges())
            }
            UnicodeTable::Decomposition {
                compatibility: false,
            } => normalization::encode_decomp_table_bytes(data::NFD_INDEX, data::NFD_POOL),
            UnicodeTable::Decomposition {
                compatibility: true,
            } => normalization::encode_decomp_table_bytes(data::NFKD_INDEX, data::NFKD_POOL),
            UnicodeTable::CanonicalCombiningClass => {
                normalization::encode_ccc_table_bytes(data::CCC_TABLE)
            }
            UnicodeTable::Composition => {
                normalization::encode_composition_table_bytes(data::COMPOSITION_PAIRS)
            }
            UnicodeTable::FullCaseFold { upper: true } => {
                full_case_folding::encode_full_table_bytes(full_case_folding::full_upper_folding())
            }
            UnicodeTable::FullCaseFold { upper: false } => {
                full_case_folding::encode_full_table_bytes(full_case_folding::full_lower_folding())
            }
            UnicodeTable::Cased => {
                full_case_folding::encode_ranges_bytes(full_case_folding::cased_ranges())
            }
            UnicodeTable::CaseIgnorable => {
                full_case_folding::encode_ranges_bytes(full_case_folding::case_ignorable_ranges())
            }
            // Searched with the simple fold's 8-byte stride.
            UnicodeTable::TurkishCaseFold { upper: true } => {
                full_case_folding::encode_simple_view_bytes(
                    full_case_folding::turkish_upper_folding(),
                )
            }
            UnicodeTable::TurkishCaseFold { upper: false } => {
                full_case_folding::encode_simple_view_bytes(
                    full_case_folding::turkish_lower_folding(),
                )
            }
        }
    }
}

/// The constant data of one module and where each record was placed.
#[derive(Debug, Default)]
pub struct ConstPool {
    bytes: Vec<u8>,
    placed: HashMap<(u8, Vec<u8>), u32>,
    tables: HashMap<UnicodeTable, u32>,
}

impl ConstPool {
    /// The blob, to copy to arena offset 0.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Take the blob.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Append `record` aligned to `align`, once per distinct `(kind, record)`.
    fn place(&mut self, kind: u8, align: usize, record: Vec<u8>) -> u32 {
        if let Some(at) = self.placed.get(&(kind, record.clone())) {
            return *at;
        }
        let at = self.append(align, &record);
        self.placed.insert((kind, record), at);
        at
    }

    fn append(&mut self, align: usize, record: &[u8]) -> u32 {
        let at = self.bytes.len().next_multiple_of(align);
        self.bytes.resize(at, 0);
        self.bytes.extend_from_slice(record);
        at as u32
    }

    /// A `String` record.
    pub(crate) fn string(&mut self, value: &str) -> u32 {
        let mut record = Vec::with_capacity(4 + value.len());
        record.extend_from_slice(&(value.len() as u32).to_le_bytes());
        record.extend_from_slice(value.as_bytes());
        self.place(0, 4, record)
    }

    /// A `List<Int>` or `List<Float>` record of 8-byte elements.
    pub(crate) fn list_words(&mut self, words: impl ExactSizeIterator<Item = u64>) -> u32 {
        let mut record = Vec::with_capacity(8 + 8 * words.len());
        record.extend_from_slice(&(words.len() as u32).to_le_bytes());
        record.extend_from_slice(&[0; 4]);
        for w in words {
            record.extend_from_slice(&w.to_le_bytes());
        }
        self.place(1, 8, record)
    }

    /// A `List<Bool>` record.
    pub(crate) fn list_bool(&mut self, elements: &[bool]) -> u32 {
        let mut record = Vec::with_capacity(4 + elements.len());
        record.extend_from_slice(&(elements.len() as u32).to_le_bytes());
        record.extend(elements.iter().map(|b| *b as u8));
        self.place(2, 4, record)
    }

    /// A `List<String>` record: the strings, then the pointer array.
    pub(crate) fn list_string(&mut self, elements: &[String]) -> u32 {
        let offsets: Vec<u32> = elements.iter().map(|s| self.string(s)).collect();
        let mut record = Vec::with_capacity(4 + 4 * offsets.len());
        record.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
        for off in offsets {
            record.extend_from_slice(&off.to_le_bytes());
        }
        self.place(3, 4, record)
    }

    /// A `{String: Int}` dict record.
    pub(crate) fn dict(&mut self, entries: &[(String, i64)]) -> u32 {
        let mut sorted: Vec<&(String, i64)> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let shape =
            relon_ir::shape_hash::shape_hash_for_keys(sorted.iter().map(|(k, _)| k.as_str()));
        let header = 16;
        let table = 16 * sorted.len();
        let mut record = Vec::with_capacity(header + table);
        record.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
        record.extend_from_slice(&[0; 4]);
        record.extend_from_slice(&shape.to_le_bytes());
        let mut key_off = (header + table) as u32;
        for (key, value) in &sorted {
            record.extend_from_slice(&key_off.to_le_bytes());
            record.extend_from_slice(&(key.len() as u32).to_le_bytes());
            record.extend_from_slice(&value.to_le_bytes());
            key_off += key.len() as u32;
        }
        for (key, _) in &sorted {
            record.extend_from_slice(key.as_bytes());
        }
        self.place(4, 8, record)
    }

    /// A Unicode table.
    pub(crate) fn table(&mut self, table: UnicodeTable) -> u32 {
        if let Some(at) = self.tables.get(&table) {
            return *at;
        }
        let at = self.append(8, &table.encode());
        self.tables.insert(table, at);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_aligned_and_shared() {
        let mut pool = ConstPool::default();
        let a = pool.string("abc");
        let list = pool.list_words([1u64, 2].into_iter());
        let again = pool.string("abc");
        assert_eq!(a, again);
        assert_eq!(list % 8, 0);
        assert_eq!(
            &pool.bytes()[a as usize..a as usize + 7],
            &[3, 0, 0, 0, b'a', b'b', b'c']
        );
        let strings = pool.list_string(&["abc".into(), "d".into()]);
        let header = &pool.bytes()[strings as usize..strings as usize + 12];
        assert_eq!(u32::from_le_bytes(header[0..4].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(header[4..8].try_into().unwrap()), a);
    }
}
