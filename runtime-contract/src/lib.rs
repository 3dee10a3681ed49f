//! The contract between code emitted by `relon-cocompile` and the runtime in
//! `relon-host-shims`.
//!
//! The two sides meet only through what this crate defines: the entry
//! symbol and its signature, the [`EntryState`] struct the entry reads and
//! writes (field order and offsets), the [`TrapCode`] numbering, and the
//! description of a program's `#main` fields ([`ProgramDesc`]). The code
//! generator takes every offset from here (`core::mem::offset_of!`), the
//! runtime takes every type from here, so the two cannot drift.
//!
//! This crate has no dependencies and does no I/O.

#![forbid(unsafe_code)]

/// Symbol of the one exported function of every compiled program.
///
/// Signature: `extern "C" fn(state: *mut EntryState) -> u32`. It returns
/// [`ENTRY_OK`] when the program finished and wrote its result into the
/// output buffer, or [`ENTRY_TRAPPED`] when it stopped on a trap, in which
/// case [`EntryState::trap_code`] and [`EntryState::trap_site`] say why and
/// where.
pub const ENTRY_SYMBOL: &str = "relon_entry";

/// Suffix of the metered entry: `relon_entry_metered` has the same
/// signature as [`ENTRY_SYMBOL`] and counts steps in [`EntryState::fuel`];
/// `relon_entry` does not count (it behaves as with an unlimited budget),
/// so a run without a budget pays nothing for metering.
pub const METERED_SUFFIX: &str = "_metered";

/// Symbol of the open-world host-call helper the embedding process defines.
///
/// Signature: `extern "C" fn(state: *mut EntryState, import: u32,
/// args: *const u64, nargs: u32) -> u64`. Arguments and the result travel
/// as 64-bit patterns: an Int as itself, a Float as its IEEE bits, a Bool
/// as 0 or 1. On failure the helper sets [`EntryState::trap_code`] (to
/// [`TrapCode::HostError`]) and the emitted code leaves at once.
/// Closed-world code never calls it: host functions are direct calls.
pub const HOST_CALL_SYMBOL: &str = "relon_host_call";

/// Entry return value: the result is in the output buffer.
pub const ENTRY_OK: u32 = 0;
/// Entry return value: the program trapped; see [`EntryState::trap_code`].
pub const ENTRY_TRAPPED: u32 = 1;

/// Per-call state shared by the runtime and the emitted code.
///
/// The runtime fills every field before calling the entry; the emitted
/// code reads `arena` and the buffer bounds, decrements `fuel`, tracks
/// `depth_remaining`, and on a trap writes `trap_code`/`trap_site`.
/// IR addresses (the `i32` slots of the Relon IR) are byte offsets from
/// `arena`.
#[repr(C)]
#[derive(Debug)]
pub struct EntryState {
    /// Base of the arena: input buffer, output buffer and scratch space.
    pub arena: *mut u8,
    /// Length of the arena in bytes; every computed address is checked
    /// against it before a pointer is formed.
    pub arena_len: u32,
    /// Next free byte of scratch space (arena offset), bumped by scratch
    /// allocations; scratch runs up to `arena_len`.
    pub scratch_cursor: u32,
    /// Offset of the input record (the `#main` parameters) in the arena.
    pub in_offset: u32,
    /// Length of the input record in bytes.
    pub in_len: u32,
    /// Offset of the output record (the `#main` result) in the arena.
    pub out_offset: u32,
    /// Capacity of the output buffer in bytes.
    pub out_cap: u32,
    /// [`TrapCode`] as `u32`; `0` while no trap happened.
    pub trap_code: u32,
    /// Index into [`ProgramDesc::trap_sites`] of the op that trapped.
    pub trap_site: u32,
    /// Steps left before [`TrapCode::StepLimitExceeded`]. One step is one
    /// function entry or one loop iteration.
    pub fuel: u64,
    /// Calls left before [`TrapCode::RecursionLimitExceeded`].
    pub depth_remaining: u64,
    /// Granted capability bits (bit `n` set: capability `n` granted),
    /// checked by open-world code before a gated host call.
    pub caps: u64,
    /// Opaque pointer for the embedding's open-world host-call helper;
    /// null in closed world.
    pub host_context: *mut core::ffi::c_void,
    /// Where a fallible host function reports a failure (closed world);
    /// the runtime owns it and clears `failed` before each call.
    pub host_failure: *mut HostFailure,
    /// Next free byte of the output buffer's tail area (arena offset),
    /// where strings, lists and sub-records of the result are written;
    /// starts right after the output record's fixed area and may not pass
    /// `out_offset + out_cap`.
    pub tail_cursor: u32,
    /// What `#main` returned: the bytes it wrote to the output buffer, or
    /// the in-place sentinel `-(root + 1)` when the result is a value that
    /// already lies in the arena at offset `root` (see
    /// `relon_abi::inplace_return`).
    pub entry_result: i32,
}

/// [`EntryState`] as a wasm32 module sees it: the same fields in the same
/// order, pointers 4 bytes wide (arena addresses in linear memory). Only
/// its layout is used: the host writes these bytes into the module's
/// memory, the code generator takes the offsets ([`StateOffsets::WASM32`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryStateWasm32 {
    /// [`EntryState::arena`].
    pub arena: u32,
    /// [`EntryState::arena_len`].
    pub arena_len: u32,
    /// [`EntryState::scratch_cursor`].
    pub scratch_cursor: u32,
    /// [`EntryState::in_offset`].
    pub in_offset: u32,
    /// [`EntryState::in_len`].
    pub in_len: u32,
    /// [`EntryState::out_offset`].
    pub out_offset: u32,
    /// [`EntryState::out_cap`].
    pub out_cap: u32,
    /// [`EntryState::trap_code`].
    pub trap_code: u32,
    /// [`EntryState::trap_site`].
    pub trap_site: u32,
    /// [`EntryState::fuel`].
    pub fuel: u64,
    /// [`EntryState::depth_remaining`].
    pub depth_remaining: u64,
    /// [`EntryState::caps`].
    pub caps: u64,
    /// [`EntryState::host_context`].
    pub host_context: u32,
    /// [`EntryState::host_failure`].
    pub host_failure: u32,
    /// [`EntryState::tail_cursor`].
    pub tail_cursor: u32,
    /// [`EntryState::entry_result`].
    pub entry_result: i32,
}

/// Byte offsets of the state's fields for one target: what emitted code
/// loads and stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct StateOffsets {
    pub arena: usize,
    pub arena_len: usize,
    pub scratch_cursor: usize,
    pub in_offset: usize,
    pub in_len: usize,
    pub out_offset: usize,
    pub out_cap: usize,
    pub trap_code: usize,
    pub trap_site: usize,
    pub fuel: usize,
    pub depth_remaining: usize,
    pub caps: usize,
    pub host_context: usize,
    pub host_failure: usize,
    pub tail_cursor: usize,
    pub entry_result: usize,
    /// Size of the struct.
    pub size: usize,
}

macro_rules! state_offsets {
    ($ty:ty) => {
        StateOffsets {
            arena: core::mem::offset_of!($ty, arena),
            arena_len: core::mem::offset_of!($ty, arena_len),
            scratch_cursor: core::mem::offset_of!($ty, scratch_cursor),
            in_offset: core::mem::offset_of!($ty, in_offset),
            in_len: core::mem::offset_of!($ty, in_len),
            out_offset: core::mem::offset_of!($ty, out_offset),
            out_cap: core::mem::offset_of!($ty, out_cap),
            trap_code: core::mem::offset_of!($ty, trap_code),
            trap_site: core::mem::offset_of!($ty, trap_site),
            fuel: core::mem::offset_of!($ty, fuel),
            depth_remaining: core::mem::offset_of!($ty, depth_remaining),
            caps: core::mem::offset_of!($ty, caps),
            host_context: core::mem::offset_of!($ty, host_context),
            host_failure: core::mem::offset_of!($ty, host_failure),
            tail_cursor: core::mem::offset_of!($ty, tail_cursor),
            entry_result: core::mem::offset_of!($ty, entry_result),
            size: core::mem::size_of::<$ty>(),
        }
    };
}

impl StateOffsets {
    /// This machine's [`EntryState`].
    pub const NATIVE: StateOffsets = state_offsets!(EntryState);
    /// [`EntryStateWasm32`].
    pub const WASM32: StateOffsets = state_offsets!(EntryStateWasm32);
}

/// Capacity of [`HostFailure::message`] in bytes.
pub const HOST_FAILURE_MESSAGE_BYTES: usize = 240;

/// The failure report of a fallible host function.
///
/// A host function declared `fallible = true` in its crate's
/// `[package.metadata.relon.functions.NAME]` takes one more, last
/// parameter, `failure: &mut HostFailure`. To fail, it calls
/// [`HostFailure::fail`] and returns any value: the program stops with a
/// `ValidationError` carrying the message, and the value is never used.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostFailure {
    /// Non-zero once the host function has failed.
    pub failed: u32,
    /// Length of the message in bytes.
    pub message_len: u32,
    /// The message, UTF-8, truncated to the capacity on a character boundary.
    pub message: [u8; HOST_FAILURE_MESSAGE_BYTES],
}

impl Default for HostFailure {
    fn default() -> Self {
        HostFailure {
            failed: 0,
            message_len: 0,
            message: [0; HOST_FAILURE_MESSAGE_BYTES],
        }
    }
}

impl HostFailure {
    /// Record a failure with `message`.
    pub fn fail(&mut self, message: &str) {
        let mut len = message.len().min(HOST_FAILURE_MESSAGE_BYTES);
        while !message.is_char_boundary(len) {
            len -= 1;
        }
        self.message[..len].copy_from_slice(&message.as_bytes()[..len]);
        self.message_len = len as u32;
        self.failed = 1;
    }

    /// The recorded message.
    pub fn message(&self) -> &str {
        let len = (self.message_len as usize).min(HOST_FAILURE_MESSAGE_BYTES);
        core::str::from_utf8(&self.message[..len])
            .unwrap_or("(the host function's message is not UTF-8)")
    }
}

impl EntryState {
    /// Byte offsets of the fields, in the order the code generator needs.
    pub const OFFSET_ARENA: usize = core::mem::offset_of!(EntryState, arena);
    pub const OFFSET_ARENA_LEN: usize = core::mem::offset_of!(EntryState, arena_len);
    pub const OFFSET_SCRATCH_CURSOR: usize = core::mem::offset_of!(EntryState, scratch_cursor);
    pub const OFFSET_CAPS: usize = core::mem::offset_of!(EntryState, caps);
    pub const OFFSET_HOST_CONTEXT: usize = core::mem::offset_of!(EntryState, host_context);
    pub const OFFSET_HOST_FAILURE: usize = core::mem::offset_of!(EntryState, host_failure);
    pub const OFFSET_IN_OFFSET: usize = core::mem::offset_of!(EntryState, in_offset);
    pub const OFFSET_IN_LEN: usize = core::mem::offset_of!(EntryState, in_len);
    pub const OFFSET_OUT_OFFSET: usize = core::mem::offset_of!(EntryState, out_offset);
    pub const OFFSET_OUT_CAP: usize = core::mem::offset_of!(EntryState, out_cap);
    pub const OFFSET_TRAP_CODE: usize = core::mem::offset_of!(EntryState, trap_code);
    pub const OFFSET_TRAP_SITE: usize = core::mem::offset_of!(EntryState, trap_site);
    pub const OFFSET_FUEL: usize = core::mem::offset_of!(EntryState, fuel);
    pub const OFFSET_DEPTH_REMAINING: usize = core::mem::offset_of!(EntryState, depth_remaining);
    pub const OFFSET_TAIL_CURSOR: usize = core::mem::offset_of!(EntryState, tail_cursor);
    pub const OFFSET_ENTRY_RESULT: usize = core::mem::offset_of!(EntryState, entry_result);
    /// Size of the struct in bytes.
    pub const SIZE: usize = core::mem::size_of::<EntryState>();
}

/// Why a compiled program stopped early. The numbering is part of the
/// contract: never reorder, only append.
///
/// Each code names the `relon_eval_api::RuntimeError` kind the tree-walk
/// evaluator reports for the same input ([`TrapCode::error_kind`]).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapCode {
    /// Signed Int arithmetic overflowed (`+ - * / %`, `i64::MIN / -1`).
    NumericOverflow = 1,
    /// Int division or remainder by zero.
    DivisionByZero = 2,
    /// An index walked past the end of a list or string.
    IndexOutOfBounds = 3,
    /// A reducer that needs one element met an empty list.
    EmptyList = 4,
    /// Bytes that are not UTF-8 reached a string operation.
    InvalidUtf8 = 5,
    /// A `match` had no arm for the value.
    NoMatch = 6,
    /// The step budget ran out.
    StepLimitExceeded = 7,
    /// A host function needs a capability the run was not granted.
    CapabilityDenied = 8,
    /// Calls nested deeper than the configured limit.
    RecursionLimitExceeded = 9,
    /// Scratch space (closures, temporary records) ran out.
    ScratchExhausted = 10,
    /// A host function failed: open world, the embedding keeps its error;
    /// closed world, [`EntryState::host_failure`] holds the message.
    HostError = 11,
    /// A list index at or past the list's length (`xs[i]`, `i >= len`).
    IndexPastEnd = 12,
    /// A negative list index (`xs[i]`, `i < 0`).
    NegativeIndex = 13,
}

impl TrapCode {
    /// Every code, in numbering order.
    pub const ALL: [TrapCode; 13] = [
        TrapCode::NumericOverflow,
        TrapCode::DivisionByZero,
        TrapCode::IndexOutOfBounds,
        TrapCode::EmptyList,
        TrapCode::InvalidUtf8,
        TrapCode::NoMatch,
        TrapCode::StepLimitExceeded,
        TrapCode::CapabilityDenied,
        TrapCode::RecursionLimitExceeded,
        TrapCode::ScratchExhausted,
        TrapCode::HostError,
        TrapCode::IndexPastEnd,
        TrapCode::NegativeIndex,
    ];

    /// The code as stored in [`EntryState::trap_code`].
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// Decode a stored code; `None` for `0` (no trap) or an unknown value.
    pub fn from_u32(code: u32) -> Option<TrapCode> {
        TrapCode::ALL.into_iter().find(|c| c.as_u32() == code)
    }

    /// Name of the `relon_eval_api::RuntimeError` variant the tree-walk
    /// evaluator raises for the same failure. (A `match` without an arm,
    /// `min`/`max` of an empty list and a negative list index are each a
    /// `TypeMismatch` there; an index past the end is `VariableNotFound`.)
    pub const fn error_kind(self) -> &'static str {
        match self {
            TrapCode::NumericOverflow => "NumericOverflow",
            TrapCode::DivisionByZero => "DivisionByZero",
            TrapCode::IndexOutOfBounds => "IndexOutOfBounds",
            TrapCode::EmptyList => "TypeMismatch",
            TrapCode::InvalidUtf8 => "ValidationError",
            TrapCode::NoMatch => "TypeMismatch",
            TrapCode::StepLimitExceeded => "StepLimitExceeded",
            TrapCode::CapabilityDenied => "CapabilityDenied",
            TrapCode::RecursionLimitExceeded => "RecursionLimitExceeded",
            TrapCode::ScratchExhausted => "ValueTooLarge",
            TrapCode::HostError => "ValidationError",
            TrapCode::IndexPastEnd => "VariableNotFound",
            TrapCode::NegativeIndex => "TypeMismatch",
        }
    }

    /// A short human description.
    pub const fn message(self) -> &'static str {
        match self {
            TrapCode::NumericOverflow => "integer overflow",
            TrapCode::DivisionByZero => "division by zero",
            TrapCode::IndexOutOfBounds => "index out of bounds",
            TrapCode::EmptyList => "operation needs a non-empty list",
            TrapCode::InvalidUtf8 => "invalid UTF-8",
            TrapCode::NoMatch => "no match arm for the value",
            TrapCode::StepLimitExceeded => "step budget exhausted",
            TrapCode::CapabilityDenied => "capability not granted",
            TrapCode::RecursionLimitExceeded => "recursion limit exceeded",
            TrapCode::ScratchExhausted => "scratch space exhausted",
            TrapCode::HostError => "a host function failed",
            TrapCode::IndexPastEnd => "list index past the end of the list",
            TrapCode::NegativeIndex => "negative list index",
        }
    }
}

/// Scalar type of one `#main` parameter or of the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// Relon `Int`: `i64`, 8 bytes little-endian.
    Int,
    /// Relon `Float`: `f64`, 8 bytes little-endian.
    Float,
    /// Relon `Bool`: one byte, `0` or `1`.
    Bool,
}

impl ScalarType {
    /// Relon spelling of the type.
    pub const fn relon_name(self) -> &'static str {
        match self {
            ScalarType::Int => "Int",
            ScalarType::Float => "Float",
            ScalarType::Bool => "Bool",
        }
    }
}

/// One `#main` parameter or result slot: its name, type and byte offset
/// inside the input (or output) record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDesc {
    /// Parameter name as written in `#main(...)` (`"value"` for the result).
    pub name: &'static str,
    /// Its type.
    pub ty: ScalarType,
    /// Byte offset inside the record.
    pub offset: u32,
}

/// Source position of an op that can trap, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrapSite {
    /// Line of the op's first character.
    pub line: u32,
    /// Column of the op's first character.
    pub column: u32,
}

/// Everything the runtime needs to know about one compiled program.
#[derive(Debug, Clone, Copy)]
pub struct ProgramDesc {
    /// File name of the `.relon` source, for messages.
    pub source_name: &'static str,
    /// `#main` parameters in declaration order.
    pub params: &'static [FieldDesc],
    /// Size of the input record in bytes.
    pub in_len: u32,
    /// The result slot.
    pub result: FieldDesc,
    /// Size of the output record in bytes.
    pub out_len: u32,
    /// Source positions, indexed by [`EntryState::trap_site`].
    pub trap_sites: &'static [TrapSite],
    /// Constant data the code expects at arena offset 0.
    pub const_data: &'static [u8],
    /// For a `#main` that takes or returns more than Int, Float and Bool:
    /// its canonical schemas; `params` and `result` are then unused.
    pub value_schemas: Option<ValueSchemas>,
}

/// The canonical `#main` and return schemas (`relon_abi::schema_canonical::Schema`)
/// as JSON text.
#[derive(Debug, Clone, Copy)]
pub struct ValueSchemas {
    /// The parameters.
    pub main: &'static str,
    /// The result.
    pub ret: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_codes_round_trip_and_are_dense() {
        for (i, code) in TrapCode::ALL.into_iter().enumerate() {
            assert_eq!(code.as_u32(), i as u32 + 1);
            assert_eq!(TrapCode::from_u32(code.as_u32()), Some(code));
        }
        assert_eq!(TrapCode::from_u32(0), None);
        assert_eq!(TrapCode::from_u32(TrapCode::ALL.len() as u32 + 1), None);
    }

    #[test]
    fn state_layout_is_the_documented_one() {
        assert_eq!(EntryState::OFFSET_ARENA, 0);
        assert_eq!(EntryState::OFFSET_ARENA_LEN, 8);
        assert_eq!(EntryState::OFFSET_IN_OFFSET, 16);
        assert_eq!(EntryState::OFFSET_TRAP_CODE, 32);
        assert_eq!(EntryState::OFFSET_FUEL, 40);
        assert_eq!(EntryState::OFFSET_CAPS, 56);
        assert_eq!(EntryState::OFFSET_HOST_CONTEXT, 64);
        assert_eq!(EntryState::OFFSET_HOST_FAILURE, 72);
        assert_eq!(EntryState::OFFSET_TAIL_CURSOR, 80);
        assert_eq!(EntryState::OFFSET_ENTRY_RESULT, 84);
        assert_eq!(EntryState::SIZE, 88);
    }

    #[test]
    fn the_wasm32_state_has_4_byte_pointers_and_8_byte_aligned_counters() {
        let w = StateOffsets::WASM32;
        assert_eq!(
            (w.arena, w.arena_len, w.trap_code, w.trap_site),
            (0, 4, 28, 32)
        );
        assert_eq!((w.fuel, w.depth_remaining, w.caps), (40, 48, 56));
        assert_eq!(
            (w.host_context, w.host_failure, w.tail_cursor),
            (64, 68, 72)
        );
        assert_eq!((w.entry_result, w.size), (76, 80));
        assert_eq!(
            StateOffsets::NATIVE.tail_cursor,
            EntryState::OFFSET_TAIL_CURSOR
        );
    }

    #[test]
    fn a_host_failure_keeps_a_truncated_utf8_message() {
        let mut failure = HostFailure::default();
        assert_eq!(failure.failed, 0);
        failure.fail("negative input");
        assert_eq!((failure.failed, failure.message()), (1, "negative input"));
        let long = "é".repeat(200);
        failure.fail(&long);
        assert!(failure.message().len() <= HOST_FAILURE_MESSAGE_BYTES);
        assert!(long.starts_with(failure.message()));
    }
}
