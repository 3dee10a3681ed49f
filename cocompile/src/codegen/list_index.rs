//! Checked element reads: `ListGetByIntIdx` (which `crate::raise` also
//! makes of the lowering's inline `xs[i]` arithmetic) and
//! `DictGetByStringKey`.
//!
//! The index is checked against the list's length before any address is
//! formed: a negative index is tree-walk's `TypeMismatch`, an index at or
//! past the end its `VariableNotFound`. Then the list's whole payload is
//! checked to lie in the arena (the same check for every read of a list,
//! so LLVM keeps one), which puts every in-range element in it.
//!
//! Element layouts: `Int`/`Float` (and the rows of nested lists) are
//! 8-byte words at the first 8-aligned offset after the `u32` length;
//! `String` elements are `u32` handles right after it; `Bool` elements are
//! bytes.

use inkwell::IntPredicate;
use inkwell::values::BasicValue;
use relon_host_shims::rt::DICT_GET_SYMBOL;
use relon_ir::ir::IrType;
use relon_runtime_contract::TrapCode;

use super::CodegenError;
use super::arena_alias::ArenaClass;
use super::func::FuncEmitter;
use super::memory::byte_offset;

impl<'ctx> FuncEmitter<'_, 'ctx, '_> {
    /// `ListGetByIntIdx { element_ty }`: `[list, index] -> [element]`.
    pub(crate) fn emit_list_get(&mut self, element_ty: IrType) -> Result<(), CodegenError> {
        let ctx = self.m.ctx;
        let i64t = ctx.i64_type();
        let i32t = ctx.i32_type();
        let position = self.pop_int()?;
        let position = match position.get_type().get_bit_width() {
            64 => position,
            _ => self.m.builder.build_int_s_extend(position, i64t, "index")?,
        };
        let base = self.pop_int()?;
        let base = self.to_i32(base)?;
        let len_addr = self.arena_addr(base, 0, 4)?;
        let len = self.m.builder.build_load(i32t, len_addr, "list_len")?;
        if let Some(load) = len.as_instruction_value() {
            self.m.arena_tbaa.tag(load, ArenaClass::ListLength)?;
        }
        let len = len.into_int_value();
        let len = self.m.builder.build_int_z_extend(len, i64t, "list_len64")?;
        let b = &self.m.builder;
        let (start, stride, load_as) = match element_ty {
            IrType::I64 | IrType::F64 | IrType::ListInt | IrType::ListFloat => {
                let start = b.build_int_add(base, i32t.const_int(11, false), "payload_up")?;
                let start = b.build_and(
                    start,
                    i32t.const_int((-8i32) as u32 as u64, false),
                    "payload",
                )?;
                let load_as = if element_ty == IrType::F64 {
                    IrType::F64
                } else {
                    IrType::I64
                };
                (start, 8, load_as)
            }
            IrType::Bool => (
                b.build_int_add(base, i32t.const_int(4, false), "bytes")?,
                1,
                IrType::Bool,
            ),
            IrType::String
            | IrType::ListString
            | IrType::ListBool
            | IrType::ListSchema
            | IrType::ListList
            | IrType::I32 => (
                b.build_int_add(base, i32t.const_int(4, false), "handles")?,
                4,
                IrType::I32,
            ),
            other => return Err(self.malformed(format!("ListGetByIntIdx of {other:?} elements"))),
        };
        let negative = self.m.builder.build_int_compare(
            IntPredicate::SLT,
            position,
            i64t.const_zero(),
            "index_negative",
        )?;
        self.trap_if(negative, TrapCode::NegativeIndex)?;
        let past_end =
            self.m
                .builder
                .build_int_compare(IntPredicate::SGE, position, len, "index_past_end")?;
        self.trap_if(past_end, TrapCode::IndexPastEnd)?;
        // The whole payload lies in the arena. The check is the same for
        // every read of this list, so LLVM keeps the first and drops the
        // repeats it dominates; an in-range index then needs no check of
        // its own.
        let extent =
            self.m
                .builder
                .build_int_mul(len, i64t.const_int(stride, false), "payload_len")?;
        self.arena_span(start, 0, extent)?;
        // 0 <= position < len: the element lies inside the payload checked above.
        let b = &self.m.builder;
        let start = b.build_int_z_extend(start, i64t, "payload64")?;
        let offset = b.build_int_mul(position, i64t.const_int(stride, false), "element_off")?;
        let at = b.build_int_add(start, offset, "element")?;
        let addr = byte_offset(b, ctx, self.arena, at)?;
        let value = self.load_typed(addr, load_as, Some(base))?;
        self.push(value);
        Ok(())
    }

    /// `DictGetByStringKey { value_ty }`: `[dict, key] -> [value]`; a key
    /// the dict does not hold is tree-walk's `VariableNotFound`.
    pub(crate) fn emit_dict_get(&mut self, value_ty: IrType) -> Result<(), CodegenError> {
        if value_ty != IrType::I64 {
            return Err(self.malformed(format!(
                "DictGetByStringKey of {value_ty:?} values (dict records hold Ints)"
            )));
        }
        let key = self.pop_int()?;
        let key = self.to_i32(key)?;
        let dict = self.pop_int()?;
        let dict = self.to_i32(dict)?;
        let i32t = self.m.ctx.i32_type();
        let helper = self.runtime_helper_returning(
            DICT_GET_SYMBOL,
            &[i32t.into(), i32t.into()],
            self.m.ctx.i64_type(),
        )?;
        let value = self.call_runtime_helper(helper, &[dict.into(), key.into()])?;
        self.push(value.into());
        Ok(())
    }
}
