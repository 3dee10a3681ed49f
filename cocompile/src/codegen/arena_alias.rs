//! Type-based alias classes for arena memory, so LLVM can keep closure
//! words in registers across the stores that build lists and records.
//!
//! The arena holds two kinds of memory that never overlap within a call:
//! closure memory (a handle's `[fn_table_idx, captures_ptr]` words and the
//! captures block, written only by `MakeClosure` and read only by
//! `CallClosure` and a closure's capture prologue) and data (lists,
//! records, strings, the `#main` input and output records). Scratch is a
//! bump allocator that is never rewound during a call, so no byte of the
//! arena is closure memory at one time and data at another.
//!
//! Every access the code generator tags is tagged with one of the two
//! classes below, under a root of our own; an access it does not tag (a
//! runtime helper's, a host function's) may alias anything, as LLVM
//! assumes of untagged memory. An access to closure memory tagged as data
//! would let LLVM reorder it past a store it depends on, so the closure
//! class is given by construction: [`FuncEmitter::in_closure_memory`]
//! around `MakeClosure` and `CallClosure`, and the capture prologue's
//! loads are recognised by their base, the captures parameter itself.

use inkwell::context::Context;
use inkwell::values::{BasicValueEnum, InstructionValue, MetadataValue};

use super::CodegenError;
use super::func::FuncEmitter;

/// Which memory an arena access touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArenaClass {
    /// Lists, records, strings, the input and output records.
    Data,
    /// Closure handles and captures.
    Closure,
}

/// The `!tbaa` access tags of the two classes.
#[derive(Debug, Clone, Copy)]
pub struct ArenaTbaa<'ctx> {
    kind: u32,
    data: MetadataValue<'ctx>,
    closure: MetadataValue<'ctx>,
}

impl<'ctx> ArenaTbaa<'ctx> {
    /// Build the type tree: one root, two scalar types under it.
    pub fn new(ctx: &'ctx Context) -> Self {
        let i64t = ctx.i64_type();
        let root = ctx.metadata_node(&[ctx.metadata_string("relon arena").into()]);
        let access_tag = |name: &str| {
            let ty = ctx.metadata_node(&[
                ctx.metadata_string(name).into(),
                root.into(),
                i64t.const_zero().into(),
            ]);
            ctx.metadata_node(&[ty.into(), ty.into(), i64t.const_zero().into()])
        };
        ArenaTbaa {
            kind: ctx.get_kind_id("tbaa"),
            data: access_tag("relon data"),
            closure: access_tag("relon closure"),
        }
    }

    /// Tag `access` (a load or a store) with `class`.
    pub fn tag(
        &self,
        access: InstructionValue<'ctx>,
        class: ArenaClass,
    ) -> Result<(), CodegenError> {
        let tag = match class {
            ArenaClass::Data => self.data,
            ArenaClass::Closure => self.closure,
        };
        access
            .set_metadata(tag, self.kind)
            .map_err(|e| CodegenError::Llvm(e.to_string()))
    }
}

impl<'ctx> FuncEmitter<'_, 'ctx, '_> {
    /// Run `emit` with its arena accesses tagged as closure memory.
    pub(crate) fn in_closure_memory<T>(
        &mut self,
        emit: impl FnOnce(&mut Self) -> Result<T, CodegenError>,
    ) -> Result<T, CodegenError> {
        let outer = std::mem::replace(&mut self.arena_class, ArenaClass::Closure);
        let result = emit(self);
        self.arena_class = outer;
        result
    }

    /// The class of an arena access relative to `base` (the arena offset
    /// it is computed from): closure memory inside
    /// [`Self::in_closure_memory`] or when `base` is the captures
    /// parameter, data otherwise.
    pub(crate) fn class_of(&self, base: Option<BasicValueEnum<'ctx>>) -> ArenaClass {
        if self.captures_param.is_some() && base == self.captures_param {
            ArenaClass::Closure
        } else {
            self.arena_class
        }
    }

    /// Tag the load or store that produced or is `access` with the class
    /// of an access relative to `base` (see [`Self::class_of`]).
    pub(crate) fn tag_arena_access(
        &self,
        access: Option<InstructionValue<'ctx>>,
        base: Option<BasicValueEnum<'ctx>>,
    ) -> Result<(), CodegenError> {
        let Some(access) = access else {
            return Ok(());
        };
        self.m.arena_tbaa.tag(access, self.class_of(base))
    }
}
