//! The arena one call runs in and the [`EntryState`] that describes it.
//!
//! Layout: `[input record | output record | scratch]`, each part starting
//! on an 8-byte boundary, backed by `u64`s so the base is 8-aligned.

use relon_runtime_contract::{EntryState, FieldDesc, ProgramDesc, ScalarType};

use crate::EntryFn;
use crate::args::Limits;
use crate::json::ScalarValue;

/// Scratch space for closures and temporary records.
pub const SCRATCH_BYTES: usize = 1 << 20;

/// One call's memory.
pub struct Arena {
    words: Vec<u64>,
    in_offset: u32,
    in_len: u32,
    out_offset: u32,
    out_len: u32,
    scratch_offset: u32,
    trap: (u32, u32),
}

const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

impl Arena {
    /// An arena sized for `program`.
    pub fn new(program: &ProgramDesc) -> Arena {
        let in_offset = 0usize;
        let out_offset = align8(in_offset + program.in_len as usize);
        let scratch_offset = align8(out_offset + program.out_len as usize);
        let total = scratch_offset + SCRATCH_BYTES;
        Arena {
            words: vec![0; total / 8],
            in_offset: in_offset as u32,
            in_len: program.in_len,
            out_offset: out_offset as u32,
            out_len: program.out_len,
            scratch_offset: scratch_offset as u32,
            trap: (0, 0),
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: a `u64` slice viewed as bytes: same memory, alignment 1 <= 8,
        // length times 8, and every byte pattern is a valid `u8`.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.words.len() * 8) }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: as in `bytes_mut`, read-only.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.words.len() * 8) }
    }

    /// Write the `#main` arguments into the input record.
    pub fn write_params(&mut self, program: &ProgramDesc, arguments: &[ScalarValue]) -> Result<(), String> {
        let base = self.in_offset as usize;
        for (field, value) in program.params.iter().zip(arguments) {
            let at = base + field.offset as usize;
            let bytes = self.bytes_mut();
            match (field.ty, value) {
                (ScalarType::Int, ScalarValue::Int(i)) => bytes[at..at + 8].copy_from_slice(&i.to_le_bytes()),
                (ScalarType::Float, ScalarValue::Float(f)) => bytes[at..at + 8].copy_from_slice(&f.to_le_bytes()),
                (ScalarType::Bool, ScalarValue::Bool(b)) => bytes[at] = *b as u8,
                (ty, v) => return Err(format!("argument `{}`: expected {}, found {v:?}", field.name, ty.relon_name())),
            }
        }
        Ok(())
    }

    /// Call the entry once with `limits`; returns the entry's status.
    pub fn call(&mut self, entry: EntryFn, limits: Limits) -> u32 {
        let arena_len = (self.words.len() * 8) as u32;
        let mut state = EntryState {
            arena: self.words.as_mut_ptr().cast::<u8>(),
            arena_len,
            scratch_cursor: self.scratch_offset,
            in_offset: self.in_offset,
            in_len: self.in_len,
            out_offset: self.out_offset,
            out_cap: self.out_len,
            trap_code: 0,
            trap_site: 0,
            fuel: limits.fuel,
            depth_remaining: limits.max_depth,
            caps: 0,
        };
        // SAFETY: `entry` is the compiled program's entry, which takes a
        // pointer to a live `EntryState` whose `arena` points at
        // `arena_len` writable bytes; both outlive the call. The emitted
        // code checks every computed address against `arena_len`.
        let status = unsafe { entry(&mut state) };
        self.trap = (state.trap_code, state.trap_site);
        status
    }

    /// The trap code and site of the last call.
    pub fn trap(&self) -> (u32, u32) {
        self.trap
    }

    /// Read the result slot.
    pub fn read_result(&self, program: &ProgramDesc) -> ScalarValue {
        read_slot(self.bytes(), self.out_offset as usize, &program.result)
    }
}

fn read_slot(bytes: &[u8], base: usize, field: &FieldDesc) -> ScalarValue {
    let at = base + field.offset as usize;
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        w
    };
    match field.ty {
        ScalarType::Int => ScalarValue::Int(i64::from_le_bytes(word(bytes))),
        ScalarType::Float => ScalarValue::Float(f64::from_le_bytes(word(bytes))),
        ScalarType::Bool => ScalarValue::Bool(bytes[at] != 0),
    }
}
