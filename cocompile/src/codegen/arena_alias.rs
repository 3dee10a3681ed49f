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
//! Every access the code generator tags is tagged with one of the
//! classes below, under a root of our own; an access it does not tag (a
//! runtime helper's, a host function's) may alias anything, as LLVM
//! assumes of untagged memory. An access to closure memory tagged as data
//! would let LLVM reorder it past a store it depends on, so the closure
//! class is given by construction: [`FuncEmitter::in_closure_memory`]
//! around `MakeClosure` and `CallClosure`, and the capture prologue's
//! loads are recognised by their base, the captures parameter itself.
//!
//! Data has two narrower classes, for the one pair of accesses worth
//! telling apart: a list's length word read by `ListGetByIntIdx`, and the
//! stores of a counted loop that fills a list the function has just
//! allocated (`own_lists` proves they stay inside its elements). Without
//! them, each such store may have changed every list's length as far as
//! LLVM knows, and a loop that maps one list into another reloads and
//! rechecks the source's length for every element. Both are tagged as
//! what they are by construction, and an access tagged as plain data
//! (the length word's store at allocation, any other access) still
//! aliases both, so only a length read and an element store are ever
//! taken to be apart: no byte is a list's length word and an element of
//! another list within one call, as scratch is never rewound.

use inkwell::context::Context;
use inkwell::values::{BasicValueEnum, InstructionOpcode, InstructionValue, MetadataValue};

use super::CodegenError;
use super::func::FuncEmitter;

/// Which memory an arena access touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArenaClass {
    /// Lists, records, strings, the input and output records.
    Data,
    /// Closure handles and captures.
    Closure,
    /// A list's length word, as `ListGetByIntIdx` reads it (a kind of data).
    ListLength,
    /// An element of a list the function fills in a counted loop (a kind
    /// of data).
    OwnListElement,
}

/// The `!tbaa` access tags of the two classes.
#[derive(Debug, Clone, Copy)]
pub struct ArenaTbaa<'ctx> {
    kind: u32,
    data: MetadataValue<'ctx>,
    closure: MetadataValue<'ctx>,
    list_length: MetadataValue<'ctx>,
    own_list_element: MetadataValue<'ctx>,
}

impl<'ctx> ArenaTbaa<'ctx> {
    /// Build the type tree: one root, data and closure under it, the
    /// length word and the own list element under data.
    pub fn new(ctx: &'ctx Context) -> Self {
        let i64t = ctx.i64_type();
        let root = ctx.metadata_node(&[ctx.metadata_string("relon arena").into()]);
        let scalar = |name: &str, parent: MetadataValue<'ctx>| {
            ctx.metadata_node(&[
                ctx.metadata_string(name).into(),
                parent.into(),
                i64t.const_zero().into(),
            ])
        };
        let access_tag = |ty: MetadataValue<'ctx>| {
            ctx.metadata_node(&[ty.into(), ty.into(), i64t.const_zero().into()])
        };
        let data = scalar("relon data", root);
        ArenaTbaa {
            kind: ctx.get_kind_id("tbaa"),
            data: access_tag(data),
            closure: access_tag(scalar("relon closure", root)),
            list_length: access_tag(scalar("relon list length", data)),
            own_list_element: access_tag(scalar("relon own list element", data)),
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
            ArenaClass::ListLength => self.list_length,
            ArenaClass::OwnListElement => self.own_list_element,
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
        let class = match self.class_of(base) {
            ArenaClass::Data if self.through_own_element(access) => ArenaClass::OwnListElement,
            class => class,
        };
        self.m.arena_tbaa.tag(access, class)
    }

    /// Whether the load or store `access` goes through the address of an
    /// own list's element (see `FuncEmitter::swept_addr`).
    fn through_own_element(&self, access: InstructionValue<'ctx>) -> bool {
        let pointer = match access.get_opcode() {
            InstructionOpcode::Load => access.get_operand(0),
            InstructionOpcode::Store => access.get_operand(1),
            _ => None,
        };
        matches!(
            pointer.and_then(|p| p.value()),
            Some(BasicValueEnum::PointerValue(p)) if self.own_elements.contains(&p)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{function_ir, module_ir};

    /// The `!tbaa` type names of the accesses in `function` (a function's
    /// text from `module`) whose line contains `part`, in order.
    fn tbaa_names(module: &str, function: &str, part: &str) -> Vec<String> {
        let node = |id: &str| {
            module
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{id} = !{{")))
                .unwrap_or_else(|| panic!("no node {id}"))
                .to_string()
        };
        function
            .lines()
            .filter(|l| l.contains(part))
            .filter_map(|l| l.split("!tbaa ").nth(1))
            .map(|tag| {
                let tag = tag.split([',', ' ']).next().unwrap_or_default();
                let ty = node(tag);
                let ty = ty.split(',').next().unwrap_or_default().trim();
                let name = node(ty);
                name.split('"').nth(1).unwrap_or_default().to_string()
            })
            .collect()
    }

    #[test]
    fn a_map_fills_its_own_list_and_an_index_reads_a_length_word() {
        let source = "#unstrict\n#main(Int n) -> Int\nys[1]\nwhere {\n  xs: range(n).map((i) => i * 3),\n  ys: _list_map(xs, (i) => xs[i / 3])\n}\n";
        let module = module_ir(source);
        let map = function_ir(&module, "@relon.std.list_int_map(");
        // The result's element store is an own list element; the source's
        // element load and both length words stay plain data.
        assert_eq!(
            tbaa_names(&module, &map, " store i64"),
            ["relon own list element"],
            "{map}"
        );
        assert_eq!(
            tbaa_names(&module, &map, "= load i64"),
            ["relon data"],
            "{map}"
        );
        assert!(
            tbaa_names(&module, &map, " store i32")
                .iter()
                .all(|n| n == "relon data"),
            "{map}"
        );
        // `#main` fills a list of its own, `xs`, then writes its result
        // into the output record (data).
        let main = function_ir(&module, "run_main(");
        assert_eq!(
            tbaa_names(&module, &main, " store i64"),
            ["relon own list element", "relon data"],
            "{main}"
        );
        // The closure's `xs[i]` reads the length word as such.
        let closure = function_ir(&module, "__closure_");
        assert_eq!(
            tbaa_names(&module, &closure, "%list_len ="),
            ["relon list length"],
            "{closure}"
        );
    }
}
