//! Runtime helpers the emitted code calls for work that is not worth
//! open-coding: number formatting, string concatenation, `substring`
//! (whose bundled IR body traps where tree-walk clamps), the locale case
//! mappings (whose bundled bodies fold `İ` twice in Turkish), dict lookups
//! and tail copies.
//!
//! Each helper takes the run's [`EntryState`], reads its arguments from the
//! arena with every offset checked against `arena_len`, bump-allocates its
//! result record (`[len: u32][utf8]`) in scratch, and returns the record's
//! arena offset. On failure it records a trap in the state and returns 0;
//! the emitted code checks `trap_code` after the call. The symbols are
//! `extern "C"` and unmangled: the static executable links them from this
//! crate, the JIT maps them to these same functions.

use relon_runtime_contract::{EntryState, TrapCode};

use crate::case_map::{CaseMode, map_case};

/// Symbol of [`relon_rt_int_to_str`].
pub const INT_TO_STR_SYMBOL: &str = "relon_rt_int_to_str";
/// Symbol of [`relon_rt_float_to_str`].
pub const FLOAT_TO_STR_SYMBOL: &str = "relon_rt_float_to_str";
/// Symbol of [`relon_rt_concat`].
pub const CONCAT_SYMBOL: &str = "relon_rt_concat";
/// Symbol of [`relon_rt_substring`].
pub const SUBSTRING_SYMBOL: &str = "relon_rt_substring";
/// Symbol of [`relon_rt_upper_locale`].
pub const UPPER_LOCALE_SYMBOL: &str = "relon_rt_upper_locale";
/// Symbol of [`relon_rt_lower_locale`].
pub const LOWER_LOCALE_SYMBOL: &str = "relon_rt_lower_locale";
/// Symbol of [`relon_rt_title_locale`].
pub const TITLE_LOCALE_SYMBOL: &str = "relon_rt_title_locale";
/// Symbol of [`relon_rt_dict_get`].
pub const DICT_GET_SYMBOL: &str = "relon_rt_dict_get";
/// Symbol of [`relon_rt_copy_to_tail`].
pub const COPY_TO_TAIL_SYMBOL: &str = "relon_rt_copy_to_tail";

/// What [`relon_rt_copy_to_tail`] copies.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailRecord {
    /// `String` or `List<Bool>`: `[len: u32][len bytes]`.
    Bytes = 0,
    /// `List<Int>` or `List<Float>`: `[len: u32]`, payload of `8 * len`
    /// bytes at the next 8-aligned arena offset.
    Words = 1,
    /// `List<String>`: `[len: u32][offset: u32 ...]` and each string.
    Strings = 2,
}

/// The arena of `state` as a byte slice.
///
/// # Safety
/// `state` must be the live state of a running call: `arena` points at
/// `arena_len` writable bytes that nothing else accesses during the call.
unsafe fn arena<'a>(state: &EntryState) -> &'a mut [u8] {
    // SAFETY: guaranteed by the caller (see above).
    unsafe { std::slice::from_raw_parts_mut(state.arena, state.arena_len as usize) }
}

fn trap(state: &mut EntryState, code: TrapCode) -> u32 {
    if state.trap_code == 0 {
        state.trap_code = code.as_u32();
    }
    0
}

/// Bump-allocate `size` bytes of scratch, 8-aligned.
fn alloc(state: &mut EntryState, size: usize) -> Option<usize> {
    let at = (state.scratch_cursor as usize).next_multiple_of(8);
    let end = at.checked_add(size)?;
    if end > state.arena_len as usize {
        return None;
    }
    state.scratch_cursor = end as u32;
    Some(at)
}

/// The bytes of the string record at arena offset `ptr`, as a range.
fn string_at(arena: &[u8], ptr: u32) -> Option<std::ops::Range<usize>> {
    let start = ptr as usize;
    let len = read_u32(arena, start)? as usize;
    let body = start + 4..start.checked_add(4)?.checked_add(len)?;
    (body.end <= arena.len()).then_some(body)
}

/// Write `text` as a new string record; its offset, or a trap.
fn new_string(state: &mut EntryState, text: &[u8]) -> u32 {
    let Some(at) = alloc(state, 4 + text.len()) else {
        return trap(state, TrapCode::ScratchExhausted);
    };
    // SAFETY: `state` is the live state of the running call (the caller's contract).
    let arena = unsafe { arena(state) };
    arena[at..at + 4].copy_from_slice(&(text.len() as u32).to_le_bytes());
    arena[at + 4..at + 4 + text.len()].copy_from_slice(text);
    at as u32
}

/// `Op::IntToStr`: the decimal text of `value`, as Rust's `Display` (and tree-walk) writes it.
///
/// # Safety
/// `state` must be the live state of the running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_int_to_str(state: *mut EntryState, value: i64) -> u32 {
    // SAFETY: the emitted code passes the live state of its call.
    let state = unsafe { &mut *state };
    let text = value.to_string();
    new_string(state, text.as_bytes())
}

/// `Op::FloatToStr`: `value` as Rust's `f64` `Display` writes it (shortest
/// round-trip, positional, `NaN`, `inf`, `-inf`, `-0`), which is how
/// tree-walk renders a Float in a string.
///
/// # Safety
/// `state` must be the live state of the running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_float_to_str(state: *mut EntryState, value: f64) -> u32 {
    // SAFETY: the emitted code passes the live state of its call.
    let state = unsafe { &mut *state };
    let text = value.to_string();
    new_string(state, text.as_bytes())
}

/// `Op::StrConcatN`: one string record holding the `count` string records
/// whose offsets are in `parts`, in order.
///
/// # Safety
/// `state` must be the live state of the running call and `parts` must
/// point at `count` readable `u32`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_concat(
    state: *mut EntryState,
    parts: *const u32,
    count: u32,
) -> u32 {
    // SAFETY: the emitted code passes the live state and an array of `count` offsets.
    let (state, parts) = unsafe {
        (
            &mut *state,
            std::slice::from_raw_parts(parts, count as usize),
        )
    };
    // SAFETY: as above.
    let bytes = unsafe { arena(state) };
    let mut ranges = Vec::with_capacity(parts.len());
    let mut total = 0usize;
    for &ptr in parts {
        let Some(range) = string_at(bytes, ptr) else {
            return trap(state, TrapCode::IndexOutOfBounds);
        };
        total += range.len();
        ranges.push(range);
    }
    if total > u32::MAX as usize - 8 {
        return trap(state, TrapCode::ScratchExhausted);
    }
    let Some(at) = alloc(state, 4 + total) else {
        return trap(state, TrapCode::ScratchExhausted);
    };
    // SAFETY: as above; the earlier view is no longer used.
    let bytes = unsafe { arena(state) };
    bytes[at..at + 4].copy_from_slice(&(total as u32).to_le_bytes());
    let mut to = at + 4;
    for range in ranges {
        let len = range.len();
        bytes.copy_within(range, to);
        to += len;
    }
    at as u32
}

/// `s.substring(start, len)` with tree-walk's semantics: byte offsets,
/// `start` clamped to `0..=len(s)`, a negative `len` taken as 0, the end
/// clamped to the string, and both ends moved forward to the next char
/// boundary so the result stays UTF-8. Never traps on the numbers.
///
/// # Safety
/// `state` must be the live state of the running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_substring(
    state: *mut EntryState,
    s: u32,
    start: i64,
    len: i64,
) -> u32 {
    // SAFETY: the emitted code passes the live state of its call.
    let state = unsafe { &mut *state };
    // SAFETY: as above.
    let bytes = unsafe { arena(state) };
    let Some(range) = string_at(bytes, s) else {
        return trap(state, TrapCode::IndexOutOfBounds);
    };
    let Ok(text) = std::str::from_utf8(&bytes[range]) else {
        return trap(state, TrapCode::InvalidUtf8);
    };
    let start = start.clamp(0, text.len() as i64) as usize;
    let end = start.saturating_add(len.max(0) as usize).min(text.len());
    if end <= start {
        return new_string(state, b"");
    }
    let boundary_from = |at: usize| {
        (at..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len())
    };
    let piece = text.as_bytes()[boundary_from(start)..boundary_from(end)].to_vec();
    new_string(state, &piece)
}

/// `s.upper_locale(locale)`: see [`crate::case_map`].
///
/// # Safety
/// `state` must be the live state of the running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_upper_locale(state: *mut EntryState, s: u32, locale: u32) -> u32 {
    // SAFETY: the emitted code passes the live state of its call.
    unsafe { case_locale(state, s, locale, CaseMode::Upper) }
}

/// `s.lower_locale(locale)`: see [`crate::case_map`].
///
/// # Safety
/// `state` must be the live state of the running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_lower_locale(state: *mut EntryState, s: u32, locale: u32) -> u32 {
    // SAFETY: the emitted code passes the live state of its call.
    unsafe { case_locale(state, s, locale, CaseMode::Lower) }
}

/// `s.title_locale(locale)`: see [`crate::case_map`].
///
/// # Safety
/// `state` must be the live state of the running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_title_locale(state: *mut EntryState, s: u32, locale: u32) -> u32 {
    // SAFETY: the emitted code passes the live state of its call.
    unsafe { case_locale(state, s, locale, CaseMode::Title) }
}

/// The string record at `s` mapped to `mode` in the locale named by the
/// string record at `locale`, as a new string record.
///
/// # Safety
/// `state` must be the live state of the running call.
unsafe fn case_locale(state: *mut EntryState, s: u32, locale: u32, mode: CaseMode) -> u32 {
    // SAFETY: the caller passes the live state of its call.
    let state = unsafe { &mut *state };
    // SAFETY: as above.
    let bytes = unsafe { arena(state) };
    let (Some(text), Some(tag)) = (string_at(bytes, s), string_at(bytes, locale)) else {
        return trap(state, TrapCode::IndexOutOfBounds);
    };
    let (Ok(text), Ok(tag)) = (
        std::str::from_utf8(&bytes[text]),
        std::str::from_utf8(&bytes[tag]),
    ) else {
        return trap(state, TrapCode::InvalidUtf8);
    };
    let mapped = map_case(text, mode, tag);
    new_string(state, mapped.as_bytes())
}

/// `Op::DictGetByStringKey`: the Int value of the string record at `key`
/// in the `{String: Int}` dict record at `dict` (`[count: u32][pad: u32]
/// [shape hash: u64]`, then `count` entries `[key_off: u32][key_len: u32]
/// [value: i64]` with record-relative key offsets, then the key bytes).
/// A missing key traps with [`TrapCode::IndexPastEnd`], tree-walk's
/// `VariableNotFound`; every read is checked against the arena.
///
/// # Safety
/// `state` must be the live state of the running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_dict_get(state: *mut EntryState, dict: u32, key: u32) -> i64 {
    // SAFETY: the emitted code passes the live state of its call.
    let state = unsafe { &mut *state };
    // SAFETY: as above.
    let bytes = unsafe { arena(state) };
    match dict_lookup(bytes, dict as usize, key) {
        Ok(value) => value,
        Err(code) => trap(state, code) as i64,
    }
}

fn dict_lookup(bytes: &[u8], dict: usize, key: u32) -> Result<i64, TrapCode> {
    let key = &bytes[string_at(bytes, key).ok_or(TrapCode::IndexOutOfBounds)?];
    let count = read_u32(bytes, dict).ok_or(TrapCode::IndexOutOfBounds)? as usize;
    for entry in 0..count {
        let at = dict
            .checked_add(16 + 16 * entry)
            .ok_or(TrapCode::IndexOutOfBounds)?;
        let key_at = dict
            .checked_add(read_u32(bytes, at).ok_or(TrapCode::IndexOutOfBounds)? as usize)
            .ok_or(TrapCode::IndexOutOfBounds)?;
        let key_len = read_u32(bytes, at + 4).ok_or(TrapCode::IndexOutOfBounds)? as usize;
        let entry_key = bytes
            .get(
                key_at
                    ..key_at
                        .checked_add(key_len)
                        .ok_or(TrapCode::IndexOutOfBounds)?,
            )
            .ok_or(TrapCode::IndexOutOfBounds)?;
        if entry_key == key {
            let value = bytes
                .get(at + 8..at + 16)
                .ok_or(TrapCode::IndexOutOfBounds)?;
            return Ok(i64::from_le_bytes(
                value.try_into().map_err(|_| TrapCode::IndexOutOfBounds)?,
            ));
        }
    }
    Err(TrapCode::IndexPastEnd)
}

/// Reserve `size` bytes of the output tail aligned to `align`; the arena offset.
fn tail_alloc(state: &mut EntryState, size: usize, align: usize) -> Option<usize> {
    let at = (state.tail_cursor as usize).next_multiple_of(align);
    let end = at.checked_add(size)?;
    if end > state.out_cap as usize {
        return None;
    }
    state.tail_cursor = end as u32;
    Some(state.out_offset as usize + at)
}

fn read_u32(arena: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        arena.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Copy one `[len][bytes]` or `[len][words]` record into the tail.
fn copy_record(state: &mut EntryState, src: usize, words: bool) -> Result<usize, TrapCode> {
    // SAFETY: `state` is the live state of the running call (the caller's contract).
    let arena = unsafe { arena(state) };
    let len = read_u32(arena, src).ok_or(TrapCode::IndexOutOfBounds)? as usize;
    let (payload_at, payload, align) = if words {
        ((src + 4).next_multiple_of(8), 8 * len, 8)
    } else {
        (src + 4, len, 4)
    };
    if payload_at
        .checked_add(payload)
        .is_none_or(|end| end > arena.len())
    {
        return Err(TrapCode::IndexOutOfBounds);
    }
    let dst = tail_alloc(state, if words { 8 + payload } else { 4 + payload }, align)
        .ok_or(TrapCode::ScratchExhausted)?;
    // SAFETY: as above; the earlier view is no longer used.
    let arena = unsafe { self::arena(state) };
    arena[dst..dst + 4].copy_from_slice(&(len as u32).to_le_bytes());
    let dst_payload = (dst + 4).next_multiple_of(align);
    arena.copy_within(payload_at..payload_at + payload, dst_payload);
    Ok(dst)
}

/// Copy the record at arena offset `src` (of the shape `kind`, a
/// [`TailRecord`]) into the output buffer's tail, so the result refers
/// only to the output buffer; returns the copy's arena offset. Reads are
/// checked against the arena, the copy against the output capacity.
///
/// # Safety
/// `state` must be the live state of the running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn relon_rt_copy_to_tail(state: *mut EntryState, src: u32, kind: u32) -> u32 {
    // SAFETY: the emitted code passes the live state of its call.
    let state = unsafe { &mut *state };
    let copied = match kind {
        0 => copy_record(state, src as usize, false),
        1 => copy_record(state, src as usize, true),
        _ => copy_strings(state, src as usize),
    };
    match copied {
        Ok(at) => at as u32,
        Err(code) => trap(state, code),
    }
}

fn copy_strings(state: &mut EntryState, src: usize) -> Result<usize, TrapCode> {
    // SAFETY: `state` is the live state of the running call.
    let arena = unsafe { arena(state) };
    let len = read_u32(arena, src).ok_or(TrapCode::IndexOutOfBounds)? as usize;
    let entries: Vec<u32> = (0..len)
        .map(|i| read_u32(arena, src + 4 + 4 * i).ok_or(TrapCode::IndexOutOfBounds))
        .collect::<Result<_, _>>()?;
    let header = tail_alloc(state, 4 + 4 * len, 4).ok_or(TrapCode::ScratchExhausted)?;
    let mut copies = Vec::with_capacity(len);
    for entry in entries {
        copies.push(copy_record(state, entry as usize, false)?);
    }
    // SAFETY: as above.
    let arena = unsafe { self::arena(state) };
    arena[header..header + 4].copy_from_slice(&(len as u32).to_le_bytes());
    for (i, at) in copies.into_iter().enumerate() {
        arena[header + 4 + 4 * i..header + 8 + 4 * i].copy_from_slice(&(at as u32).to_le_bytes());
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(arena: &mut [u64]) -> EntryState {
        EntryState {
            arena: arena.as_mut_ptr().cast(),
            arena_len: (arena.len() * 8) as u32,
            scratch_cursor: 64,
            in_offset: 0,
            in_len: 0,
            out_offset: 0,
            out_cap: 0,
            trap_code: 0,
            trap_site: 0,
            fuel: 0,
            depth_remaining: 0,
            caps: 0,
            host_context: std::ptr::null_mut(),
            host_failure: std::ptr::null_mut(),
            tail_cursor: 0,
            entry_result: 0,
        }
    }

    fn read(arena: &[u64], at: u32) -> String {
        // SAFETY: a u64 slice viewed as bytes.
        let bytes =
            unsafe { std::slice::from_raw_parts(arena.as_ptr().cast::<u8>(), arena.len() * 8) };
        String::from_utf8(bytes[string_at(bytes, at).unwrap()].to_vec()).unwrap()
    }

    #[test]
    fn formats_and_concatenates() {
        let mut words = vec![0u64; 64];
        let mut st = state(&mut words);
        // SAFETY: `st` describes `words`, alive for the test.
        let (a, b) = unsafe {
            (
                relon_rt_int_to_str(&mut st, i64::MIN),
                relon_rt_float_to_str(&mut st, 1e20),
            )
        };
        let parts = [a, b, a];
        // SAFETY: as above; `parts` holds three offsets.
        let c = unsafe { relon_rt_concat(&mut st, parts.as_ptr(), 3) };
        assert_eq!(st.trap_code, 0);
        assert_eq!(read(&words, a), "-9223372036854775808");
        assert_eq!(read(&words, b), "100000000000000000000");
        assert_eq!(
            read(&words, c),
            "-9223372036854775808100000000000000000000-9223372036854775808"
        );
    }

    #[test]
    fn substring_clamps_like_tree_walk_and_keeps_utf8_whole() {
        let mut words = vec![0u64; 64];
        let mut st = state(&mut words);
        // "hé!": `é` is two bytes, so byte 2 is inside it.
        let text = "hé!";
        // SAFETY: `st` describes `words`, alive for the test.
        let s = new_string(&mut st, text.as_bytes());
        let cases = [
            (0, 2, "hé"),
            (0, 1, "h"),
            (1, 1, "é"),
            (2, 10, "!"),
            (3, 100, "!"),
            (-5, 1, "h"),
            (9, 1, ""),
            (0, -1, ""),
        ];
        for (start, len, expected) in cases {
            // SAFETY: as above.
            let piece = unsafe { relon_rt_substring(&mut st, s, start, len) };
            assert_eq!(read(&words, piece), expected, "substring({start}, {len})");
        }
        assert_eq!(st.trap_code, 0);
    }

    #[test]
    fn dict_lookup_finds_each_key_and_reports_a_missing_one() {
        // {"a": 7, "bc": -1}: header, two entries, then the key bytes at 48.
        let mut record = vec![0u8; 16];
        record[0] = 2;
        for (key_off, key_len, value) in [(48u32, 1u32, 7i64), (49, 2, -1)] {
            record.extend_from_slice(&key_off.to_le_bytes());
            record.extend_from_slice(&key_len.to_le_bytes());
            record.extend_from_slice(&value.to_le_bytes());
        }
        record.extend_from_slice(b"abc");
        let mut bytes = vec![0u8; 8];
        bytes.extend_from_slice(&record);
        let mut key = |text: &str| {
            let at = bytes.len() as u32;
            bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
            bytes.extend_from_slice(text.as_bytes());
            at
        };
        let (a, bc, b) = (key("a"), key("bc"), key("b"));
        assert_eq!(dict_lookup(&bytes, 8, a), Ok(7));
        assert_eq!(dict_lookup(&bytes, 8, bc), Ok(-1));
        assert_eq!(dict_lookup(&bytes, 8, b), Err(TrapCode::IndexPastEnd));
        assert_eq!(
            dict_lookup(&bytes, 1000, a),
            Err(TrapCode::IndexOutOfBounds)
        );
    }

    #[test]
    fn traps_instead_of_reading_outside_the_arena() {
        let mut words = vec![0u64; 16];
        let mut st = state(&mut words);
        let parts = [1000u32];
        // SAFETY: `st` describes `words`; `parts` holds one offset.
        let r = unsafe { relon_rt_concat(&mut st, parts.as_ptr(), 1) };
        assert_eq!((r, st.trap_code), (0, TrapCode::IndexOutOfBounds.as_u32()));
        let mut st = state(&mut words);
        // SAFETY: as above.
        unsafe { relon_rt_float_to_str(&mut st, -5e-324) };
        assert_eq!(st.trap_code, TrapCode::ScratchExhausted.as_u32());
    }
}
