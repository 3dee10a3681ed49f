//! The arena one call runs in and the [`EntryState`] that describes it.
//!
//! Layout: `[const data | input buffer | output buffer | scratch]`, each
//! part starting on an 8-byte boundary, backed by `u64`s so the base is
//! 8-aligned. The const data (string and list literals, Unicode tables) is
//! copied in once, when the arena is made; the program never writes to it.
//! The input buffer holds the `#main` record and its tail (strings,
//! lists, sub-records); the output buffer holds the result record's fixed
//! area followed by its tail.

use relon_runtime_contract::{ENTRY_OK, EntryState, FieldDesc, HostFailure, ScalarType};

use crate::EntryFn;
use crate::args::Limits;
use crate::json::ScalarValue;

/// Scratch space for closures, temporary lists and records: 64 MiB of
/// address space, reserved zeroed and touched only as the program bumps
/// through it (a run that builds a few small lists costs a few pages).
/// Scratch is not reclaimed during a run; past it a run stops with
/// `ValueTooLarge`.
pub const SCRATCH_BYTES: usize = 64 << 20;

/// Where the regions of an [`Arena`] lie, in bytes from its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaLayout {
    /// Length of the const data at offset 0.
    pub const_len: u32,
    /// Input buffer.
    pub in_offset: u32,
    /// Its length.
    pub in_len: u32,
    /// Output buffer.
    pub out_offset: u32,
    /// Its capacity.
    pub out_cap: u32,
    /// Scratch, up to `arena_len`.
    pub scratch_offset: u32,
    /// Bytes the program may touch.
    pub arena_len: u32,
}

/// One call's memory.
pub struct Arena {
    words: Vec<u64>,
    const_len: u32,
    in_offset: u32,
    in_len: u32,
    out_offset: u32,
    /// Size of the output record's fixed area; its tail starts there.
    out_root: u32,
    /// Capacity of the output buffer, fixed area and tail.
    out_cap: u32,
    scratch_offset: u32,
    entry_result: i32,
    trap: (u32, u32),
    failure: Box<HostFailure>,
}

const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

impl Arena {
    /// An arena holding `const_data`, an input buffer of `in_len` bytes and
    /// an output record of `out_len` bytes (no tail), plus scratch.
    pub fn new(const_data: &[u8], in_len: u32, out_len: u32) -> Arena {
        let mut arena = Arena {
            words: Vec::new(),
            const_len: const_data.len() as u32,
            in_offset: align8(const_data.len()) as u32,
            in_len: 0,
            out_offset: 0,
            out_root: 0,
            out_cap: 0,
            scratch_offset: 0,
            entry_result: 0,
            trap: (0, 0),
            failure: Box::default(),
        };
        arena.reshape(in_len, out_len, out_len);
        arena.bytes_mut()[..const_data.len()].copy_from_slice(const_data);
        arena
    }

    /// Lay the regions out again for an input buffer of `in_len` bytes and
    /// an output buffer of `out_cap` bytes whose first `out_root` bytes are
    /// the result record. The const data stays; the output record is
    /// zeroed; the input buffer is left for the caller to fill.
    pub fn reshape(&mut self, in_len: u32, out_root: u32, out_cap: u32) {
        let out_offset = align8(self.in_offset as usize + in_len as usize);
        let scratch_offset = align8(out_offset + out_cap as usize);
        let total = scratch_offset + SCRATCH_BYTES;
        if self.words.is_empty() {
            // `vec![0; n]` asks the allocator for zeroed memory, which for
            // a large arena is fresh pages the kernel zeroes on first touch.
            self.words = vec![0; total / 8];
        } else if self.words.len() * 8 < total {
            self.words.resize(total / 8, 0);
        }
        self.in_len = in_len;
        self.out_offset = out_offset as u32;
        self.out_root = out_root;
        self.out_cap = out_cap;
        self.scratch_offset = scratch_offset as u32;
        self.bytes_mut()[out_offset..out_offset + out_root as usize].fill(0);
    }

    /// Arena offset of the input buffer (fixed for a given const data
    /// length, so input pointers can be written arena-absolute before the
    /// call).
    pub fn in_offset(&self) -> u32 {
        self.in_offset
    }

    /// The input buffer, to be filled before the call.
    pub fn input_mut(&mut self) -> &mut [u8] {
        let (start, len) = (self.in_offset as usize, self.in_len as usize);
        &mut self.bytes_mut()[start..start + len]
    }

    /// The whole arena, for decoding a result that may point anywhere in it.
    pub fn arena_bytes(&self) -> &[u8] {
        &self.bytes()[..self.scratch_offset as usize + SCRATCH_BYTES]
    }

    /// Where each region lies: `(const_len, in_offset, in_len, out_offset,
    /// out_cap, scratch_offset, arena_len)`.
    pub fn regions(&self) -> ArenaLayout {
        ArenaLayout {
            const_len: self.const_len,
            in_offset: self.in_offset,
            in_len: self.in_len,
            out_offset: self.out_offset,
            out_cap: self.out_cap,
            scratch_offset: self.scratch_offset,
            arena_len: self.scratch_offset + SCRATCH_BYTES as u32,
        }
    }

    /// What `#main` returned in the last call: bytes written, or the
    /// in-place sentinel (see `EntryState::entry_result`).
    pub fn entry_result(&self) -> i32 {
        self.entry_result
    }

    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: a `u64` slice viewed as bytes: same memory, alignment 1 <= 8,
        // length times 8, and every byte pattern is a valid `u8`.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.words.as_mut_ptr().cast::<u8>(),
                self.words.len() * 8,
            )
        }
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        // SAFETY: as in `bytes_mut`, read-only.
        unsafe {
            std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.words.len() * 8)
        }
    }

    /// Write the `#main` arguments, in parameter order, into the input record.
    #[inline]
    pub fn write_arguments(&mut self, params: &[FieldDesc], values: &[ScalarValue]) {
        for (field, value) in params.iter().zip(values) {
            self.write_input(field.offset, *value);
        }
    }

    /// Write one argument at `offset` of the input record.
    #[inline]
    pub fn write_input(&mut self, offset: u32, value: ScalarValue) {
        let at = self.in_offset as usize + offset as usize;
        let bytes = self.bytes_mut();
        match value {
            ScalarValue::Int(i) => bytes[at..at + 8].copy_from_slice(&i.to_le_bytes()),
            ScalarValue::Float(f) => bytes[at..at + 8].copy_from_slice(&f.to_le_bytes()),
            ScalarValue::Bool(b) => bytes[at] = b as u8,
        }
    }

    /// Call the entry once with `limits` (closed world: no capabilities
    /// checked at run time, no host context); returns the entry's status.
    #[inline]
    pub fn call(&mut self, entry: EntryFn, limits: Limits) -> u32 {
        self.call_with(entry, limits, 0, std::ptr::null_mut())
    }

    /// Call the entry with granted capability bits and an open-world host
    /// context (see `relon_runtime_contract::HOST_CALL_SYMBOL`).
    #[inline]
    pub fn call_with(
        &mut self,
        entry: EntryFn,
        limits: Limits,
        caps: u64,
        host_context: *mut std::ffi::c_void,
    ) -> u32 {
        // SAFETY: `entry` is the compiled program's entry, which takes a
        // pointer to a live `EntryState` whose `arena` points at
        // `arena_len` writable bytes; `run_with` keeps both alive for the
        // call. The emitted code checks every computed address against
        // `arena_len`; it only hands `host_context` back to the host-call
        // helper, whose owner keeps it alive for the call.
        self.run_with(limits, caps, host_context, |state| unsafe { entry(state) })
    }

    /// Build the call's `EntryState` over this arena, hand it to `call`,
    /// and keep the trap it reports. `call` returns the entry's status.
    ///
    /// The state is built on this frame's stack for each call, right above
    /// the entry's frames, on purpose. Kept in the `Arena` instead, it
    /// saved ~2 ns a call on a trivial `#main` but made fib(30) 11 %
    /// slower: every call's trap-code check loads from the state, and at a
    /// distance its address can share its low 12 bits with the stack slots
    /// the recursion writes (4K aliasing, the likely cause). Just above the
    /// entry's frames it cannot, for any recursion under 4 KiB of stack.
    #[inline]
    pub fn run_with(
        &mut self,
        limits: Limits,
        caps: u64,
        host_context: *mut std::ffi::c_void,
        call: impl FnOnce(*mut EntryState) -> u32,
    ) -> u32 {
        let arena_len = self.scratch_offset + SCRATCH_BYTES as u32;
        self.failure.failed = 0;
        let mut state = EntryState {
            arena: self.words.as_mut_ptr().cast::<u8>(),
            arena_len,
            scratch_cursor: self.scratch_offset,
            in_offset: self.in_offset,
            in_len: self.in_len,
            out_offset: self.out_offset,
            out_cap: self.out_cap,
            trap_code: 0,
            trap_site: 0,
            fuel: limits.fuel,
            depth_remaining: limits.max_depth,
            caps,
            host_context,
            host_failure: &mut *self.failure,
            tail_cursor: self.out_root,
            entry_result: 0,
        };
        let status = call(&mut state);
        // The trap fields say something only when the entry reports a
        // trap. Reading them on the OK path would also load them as one
        // 8-byte word right after the entry's 4-byte store to `trap_code`,
        // which store forwarding cannot serve (a stall of ~15 cycles).
        self.trap = if status == ENTRY_OK {
            (0, 0)
        } else {
            (state.trap_code, state.trap_site)
        };
        self.entry_result = state.entry_result;
        status
    }

    /// Where the output record's tail starts (the tail cursor's first value).
    pub fn out_root(&self) -> u32 {
        self.out_root
    }

    /// The whole arena, writable: for a host that runs the program in
    /// another address space (a wasm32 module's memory) and copies the
    /// arena back after the call.
    pub fn arena_bytes_mut(&mut self) -> &mut [u8] {
        self.bytes_mut()
    }

    /// Record the outcome of a call made elsewhere (see [`Self::arena_bytes_mut`]):
    /// the trap code and site, and what `#main` returned.
    pub fn record_outcome(&mut self, trap: (u32, u32), entry_result: i32) {
        self.trap = trap;
        self.entry_result = entry_result;
    }

    /// Write one Int at `offset` of the output record.
    pub fn write_output_int(&mut self, offset: u32, value: i64) {
        let at = self.out_offset as usize + offset as usize;
        self.bytes_mut()[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// The message of a host function that failed in the last call.
    pub fn host_failure(&self) -> Option<&str> {
        (self.failure.failed != 0).then(|| self.failure.message())
    }

    /// The trap code and site of the last call.
    pub fn trap(&self) -> (u32, u32) {
        self.trap
    }

    /// Read the value of type `ty` at `offset` of the output record.
    #[inline]
    pub fn read_output(&self, offset: u32, ty: ScalarType) -> ScalarValue {
        let at = self.out_offset as usize + offset as usize;
        let bytes = self.bytes();
        let word = || {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            w
        };
        match ty {
            ScalarType::Int => ScalarValue::Int(i64::from_le_bytes(word())),
            ScalarType::Float => ScalarValue::Float(f64::from_le_bytes(word())),
            ScalarType::Bool => ScalarValue::Bool(bytes[at] != 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use relon_runtime_contract::{ENTRY_TRAPPED, TrapCode};

    use super::*;

    /// The fields of a state as a call sees it, pointers aside.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Seen {
        layout: (u32, u32, u32, u32, u32, u32),
        trap: (u32, u32),
        limits: (u64, u64),
        caps: u64,
        tail_cursor: u32,
        entry_result: i32,
    }

    /// Run one call that records the state it is handed, then leaves it as
    /// a trapping run would: cursors bumped, fuel spent, trap recorded.
    fn run_dirtying(arena: &mut Arena, limits: Limits, caps: u64) -> (Seen, bool) {
        let base = arena.words.as_ptr() as usize;
        let failure = &*arena.failure as *const HostFailure as usize;
        let mut seen = None;
        let status = arena.run_with(limits, caps, std::ptr::null_mut(), |state| {
            // SAFETY: `run_with` hands its live state to this closure.
            let s = unsafe { &mut *state };
            let pointers = s.arena as usize == base
                && s.host_failure as usize == failure
                && s.host_context.is_null();
            seen = Some((
                Seen {
                    layout: (
                        s.arena_len,
                        s.scratch_cursor,
                        s.in_offset,
                        s.in_len,
                        s.out_offset,
                        s.out_cap,
                    ),
                    trap: (s.trap_code, s.trap_site),
                    limits: (s.fuel, s.depth_remaining),
                    caps: s.caps,
                    tail_cursor: s.tail_cursor,
                    entry_result: s.entry_result,
                },
                pointers,
            ));
            s.scratch_cursor += 64;
            s.tail_cursor += 16;
            s.fuel = 0;
            s.trap_code = TrapCode::StepLimitExceeded.as_u32();
            s.trap_site = 7;
            s.entry_result = -3;
            ENTRY_TRAPPED
        });
        assert_eq!(status, ENTRY_TRAPPED);
        seen.expect("the call ran")
    }

    #[test]
    fn each_call_starts_from_a_fresh_state_over_the_current_layout() {
        let mut arena = Arena::new(&[1, 2, 3], 8, 8);
        let limits = Limits {
            fuel: 100,
            max_depth: 10,
        };
        let expected = |arena: &Arena, limits: Limits, caps: u64| {
            let r = arena.regions();
            Seen {
                layout: (
                    r.arena_len,
                    r.scratch_offset,
                    r.in_offset,
                    r.in_len,
                    r.out_offset,
                    r.out_cap,
                ),
                trap: (0, 0),
                limits: (limits.fuel, limits.max_depth),
                caps,
                tail_cursor: arena.out_root(),
                entry_result: 0,
            }
        };
        let first = run_dirtying(&mut arena, limits, 0b101);
        assert_eq!(first, (expected(&arena, limits, 0b101), true));
        assert_eq!(arena.trap(), (TrapCode::StepLimitExceeded.as_u32(), 7));
        // What the trapping call left in the state does not reach the next one.
        let second = run_dirtying(&mut arena, limits, 0b101);
        assert_eq!(second, first);
        // Nor do the old layout, limits or capabilities once they change.
        arena.reshape(40, 8, 1 << 12);
        let limits = Limits {
            fuel: u64::MAX,
            max_depth: 3,
        };
        let third = run_dirtying(&mut arena, limits, 0);
        assert_eq!(third, (expected(&arena, limits, 0), true));
        assert_ne!(third.0, first.0);
    }
}
