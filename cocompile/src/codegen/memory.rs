//! Memory: let slots, `#main` fields in the input and output records,
//! absolute arena loads and stores, and the scratch bump allocator.
//!
//! IR addresses are `i32` offsets into the arena. An absolute access is
//! bounds-checked against `EntryState::arena_len` before the pointer is
//! formed; the fixed input/output fields are laid out by the runtime inside
//! the arena, so their offsets are in bounds by construction.

use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::values::{BasicValue, BasicValueEnum, IntValue, PointerValue};
use relon_ir::ir::{IrType, Op};
use relon_runtime_contract::TrapCode;

use super::CodegenError;
use super::func::FuncEmitter;

/// `base + offset` bytes.
pub(crate) fn byte_offset<'ctx>(
    builder: &Builder<'ctx>,
    ctx: &'ctx Context,
    base: PointerValue<'ctx>,
    offset: IntValue<'ctx>,
) -> Result<PointerValue<'ctx>, CodegenError> {
    // SAFETY: an in-bounds GEP only computes an address. Every address this
    // code generator forms is a constant field offset inside `EntryState`,
    // a field offset inside the runtime's input/output records, or an arena
    // offset checked against `arena_len` first (`FuncEmitter::arena_addr`;
    // for a list element the list's whole payload, `emit_list_get`; for a
    // counted loop's element the whole span it sweeps, `check_sweeps`) or
    // clamped into it (closure memory, `FuncEmitter::arena_addr_clamped`).
    Ok(unsafe { builder.build_in_bounds_gep(ctx.i8_type(), base, &[offset], "addr")? })
}

/// Bytes a value of `ty` occupies in the arena.
pub(crate) fn width_of(ty: IrType) -> u32 {
    match ty {
        IrType::I64 | IrType::F64 => 8,
        IrType::Bool | IrType::Unit => 1,
        _ => 4,
    }
}

impl<'m, 'ctx, 'ir> FuncEmitter<'m, 'ctx, 'ir> {
    /// A stack array of `count` 8-byte slots in the entry block.
    pub(crate) fn array_slot(&mut self, count: u32) -> Result<PointerValue<'ctx>, CodegenError> {
        let ty = self.m.ctx.i64_type().array_type(count);
        self.in_alloca_block(|b| Ok(b.build_alloca(ty, "host_args")?))
    }

    /// Emit at the top of the function's alloca block (so mem2reg turns the
    /// allocas into SSA), then carry on where the builder was.
    pub(crate) fn in_alloca_block<R>(
        &self,
        emit: impl FnOnce(&Builder<'ctx>) -> Result<R, CodegenError>,
    ) -> Result<R, CodegenError> {
        let here = self.current_block()?;
        let b = &self.m.builder;
        match self.alloca_block.get_first_instruction() {
            Some(first) => b.position_before(&first),
            None => b.position_at_end(self.alloca_block),
        }
        let result = emit(b);
        b.position_at_end(here);
        result
    }

    fn let_slot(&mut self, idx: u32, ty: IrType) -> Result<PointerValue<'ctx>, CodegenError> {
        let llvm_ty = self.m.llvm_type(ty);
        let key = (idx, slot_class(ty));
        if let Some(slot) = self.lets.get(&key) {
            return Ok(*slot);
        }
        let zero = self.zero_of(llvm_ty);
        let slot = self.in_alloca_block(|b| {
            let slot = b.build_alloca(llvm_ty, &format!("let{idx}"))?;
            b.build_store(slot, zero)?;
            Ok(slot)
        })?;
        self.lets.insert(key, slot);
        Ok(slot)
    }

    pub(crate) fn let_get(&mut self, idx: u32, ty: IrType) -> Result<(), CodegenError> {
        let slot = self.let_slot(idx, ty)?;
        let value = self
            .m
            .builder
            .build_load(self.m.llvm_type(ty), slot, &format!("let{idx}"))?;
        if let Some(sc) = self.self_call.as_mut().filter(|sc| sc.lets.contains(&idx)) {
            sc.handles.push(value);
        }
        if ty == IrType::Closure
            && let Some(slots) = self.known_let_closures.get(&idx)
        {
            self.known_handles.insert(value, slots.clone());
        }
        self.call_memo.on_let_get(idx, value);
        self.push(value);
        self.tag_top_handle(ty);
        Ok(())
    }

    pub(crate) fn let_set(&mut self, idx: u32, ty: IrType) -> Result<(), CodegenError> {
        let value = self.pop()?;
        if let Some(sc) = self.self_call.as_mut()
            && sc.single_set_lets.contains(&idx)
            && sc.handles.contains(&value)
        {
            sc.lets.insert(idx);
        }
        let value = self.coerce(value, ty)?;
        let slot = self.let_slot(idx, ty)?;
        self.m.builder.build_store(slot, value)?;
        self.call_memo.on_let_set(idx);
        self.bound_lets.insert(idx);
        Ok(())
    }

    /// Value of a let slot as `ty`, for closure captures.
    pub(crate) fn let_value(
        &mut self,
        idx: u32,
        ty: IrType,
    ) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        self.let_get(idx, ty)?;
        self.pop()
    }

    fn record_field_addr(
        &self,
        record_offset_field: usize,
        offset: u32,
    ) -> Result<PointerValue<'ctx>, CodegenError> {
        let ctx = self.m.ctx;
        let base = self.load_state_u32(record_offset_field, "record")?;
        let base = self
            .m
            .builder
            .build_int_z_extend(base, ctx.i64_type(), "record64")?;
        let at = self.m.builder.build_int_add(
            base,
            ctx.i64_type().const_int(offset as u64, false),
            "field_off",
        )?;
        byte_offset(&self.m.builder, ctx, self.arena, at)
    }

    /// `LoadField`: a `#main` parameter from the input record.
    pub(crate) fn load_field(&mut self, offset: u32, ty: IrType) -> Result<(), CodegenError> {
        let declared = ty;
        // Pointer slots (strings, lists, records) hold arena offsets.
        let ty = if matches!(ty, IrType::I64 | IrType::F64 | IrType::Bool) {
            ty
        } else {
            IrType::I32
        };
        let addr = self.record_field_addr(self.m.options.state.in_offset, offset)?;
        let value = self.load_typed(addr, ty, None)?;
        self.call_memo.on_param_load(offset, value);
        self.push(value);
        self.tag_top_handle(declared);
        Ok(())
    }

    /// `StoreField`: the result into the output record (scalars only).
    pub(crate) fn store_field(
        &mut self,
        offset: u32,
        ty: IrType,
        inplace: bool,
    ) -> Result<(), CodegenError> {
        if inplace
            || !matches!(
                ty,
                IrType::I64 | IrType::F64 | IrType::Bool | IrType::I32 | IrType::Unit
            )
        {
            return self.store_pointer_field(offset, ty, inplace);
        }
        let value = self.pop()?;
        let value = self.coerce(value, ty)?;
        let addr = self.record_field_addr(self.m.options.state.out_offset, offset)?;
        self.store_typed(addr, value, ty, None)
    }

    /// The native address of arena offset `base + offset`, trapping with
    /// `IndexOutOfBounds` unless `width` bytes from there lie in the arena.
    pub(crate) fn arena_addr(
        &mut self,
        base: IntValue<'ctx>,
        offset: u32,
        width: u32,
    ) -> Result<PointerValue<'ctx>, CodegenError> {
        if let Some(addr) = self.swept_addr(base, offset, width)? {
            return Ok(addr);
        }
        let width = self.m.ctx.i64_type().const_int(width as u64, false);
        self.arena_span(base, offset, width)
    }

    /// The native address of arena offset `base + offset`, moved down to
    /// the last `width` bytes of the arena if it lies past them: for
    /// accesses of closure memory (see `arena_alias`), which only
    /// `MakeClosure` writes, so the address is in the arena by
    /// construction. The clamp keeps that true whatever happens, with no
    /// trap branch: a load that has no side effect is one LLVM can hoist
    /// out of a loop, or drop when nothing uses it.
    pub(crate) fn arena_addr_clamped(
        &mut self,
        base: IntValue<'ctx>,
        offset: u32,
        width: u32,
    ) -> Result<PointerValue<'ctx>, CodegenError> {
        let ctx = self.m.ctx;
        let i64t = ctx.i64_type();
        let base = self.to_i32(base)?;
        let b = &self.m.builder;
        let base = b.build_int_z_extend(base, i64t, "base64")?;
        let at = b.build_int_add(base, i64t.const_int(offset as u64, false), "abs")?;
        // A closure exists, so `MakeClosure` placed its 8-byte handle in
        // this arena: `arena_len >= 8 >= width`, and this does not wrap.
        let last = b.build_int_sub(self.arena_len, i64t.const_int(width as u64, false), "last")?;
        let past = b.build_int_compare(inkwell::IntPredicate::UGT, at, last, "past_last")?;
        let at = b.build_select(past, last, at, "clamped")?.into_int_value();
        byte_offset(&self.m.builder, ctx, self.arena, at)
    }

    /// [`Self::arena_addr`] for a run-time length `len` (an `i64`).
    pub(crate) fn arena_span(
        &mut self,
        base: IntValue<'ctx>,
        offset: u32,
        len: IntValue<'ctx>,
    ) -> Result<PointerValue<'ctx>, CodegenError> {
        let ctx = self.m.ctx;
        let i64t = ctx.i64_type();
        let base = self.to_i32(base)?;
        let base = self.m.builder.build_int_z_extend(base, i64t, "base64")?;
        let at = self
            .m
            .builder
            .build_int_add(base, i64t.const_int(offset as u64, false), "abs")?;
        let end = self.m.builder.build_int_add(at, len, "abs_end")?;
        let outside = self.m.builder.build_int_compare(
            inkwell::IntPredicate::UGT,
            end,
            self.arena_len,
            "out_of_arena",
        )?;
        self.trap_if(outside, TrapCode::IndexOutOfBounds)?;
        byte_offset(&self.m.builder, ctx, self.arena, at)
    }

    /// `Load*AtAbsolute`: `[addr] -> [value]`. `Bool` stands for the
    /// unsigned byte load, which pushes an `i32`.
    pub(crate) fn load_absolute(&mut self, offset: u32, ty: IrType) -> Result<(), CodegenError> {
        let base = self.pop_int()?;
        let own_handle = ty == IrType::I32
            && self
                .self_call
                .as_ref()
                .is_some_and(|sc| sc.offset == offset)
            && self
                .params
                .first()
                .is_some_and(|p| *p == BasicValueEnum::IntValue(base));
        let addr = self.arena_addr_of_class(base, offset, width_of(ty))?;
        let value = if ty == IrType::Bool {
            let byte = self
                .m
                .builder
                .build_load(self.m.ctx.i8_type(), addr, "byte")?;
            set_align(byte, 1)?;
            self.tag_arena_access(byte.as_instruction_value(), Some(base.into()))?;
            self.m
                .builder
                .build_int_z_extend(byte.into_int_value(), self.m.ctx.i32_type(), "byte32")?
                .into()
        } else {
            self.load_typed(addr, ty, Some(base))?
        };
        if own_handle && let Some(sc) = self.self_call.as_mut() {
            sc.handles.push(value);
        }
        self.push(value);
        Ok(())
    }

    /// `Store*AtAbsolute`: `[addr, value] -> []`.
    pub(crate) fn store_absolute(&mut self, offset: u32, ty: IrType) -> Result<(), CodegenError> {
        let value = self.pop()?;
        let base = self.pop_int()?;
        self.store_at(base, offset, ty, value)
    }

    /// Store `value` at arena offset `base + offset` as `ty` (`Bool`: one
    /// byte, from any integer), bounds-checked.
    pub(crate) fn store_at(
        &mut self,
        base: IntValue<'ctx>,
        offset: u32,
        ty: IrType,
        value: BasicValueEnum<'ctx>,
    ) -> Result<(), CodegenError> {
        let (addr, value) = self.store_operands(base, offset, ty, value)?;
        self.store_checked_value(addr, value, ty, base)
    }

    /// A store's address (see [`Self::arena_addr_of_class`]) and its value
    /// coerced for [`Self::store_checked_value`] (a `Bool` to an `i32`).
    pub(crate) fn store_operands(
        &mut self,
        base: IntValue<'ctx>,
        offset: u32,
        ty: IrType,
        value: BasicValueEnum<'ctx>,
    ) -> Result<(PointerValue<'ctx>, BasicValueEnum<'ctx>), CodegenError> {
        let addr = self.arena_addr_of_class(base, offset, width_of(ty))?;
        let value = if ty == IrType::Bool {
            self.coerce(value, IrType::I32)?
        } else {
            self.coerce(value, ty)?
        };
        Ok((addr, value))
    }

    /// The address of an access of `width` bytes at `base + offset`, by
    /// its alias class (see `arena_alias`): closure memory is clamped into
    /// the arena, data is checked. Closure memory is only written by
    /// `MakeClosure`, into memory it just allocated, so the clamp changes
    /// no address; a store and a later load of one closure word are then
    /// the same expression, and LLVM forwards a capture to an inlined
    /// closure body.
    fn arena_addr_of_class(
        &mut self,
        base: IntValue<'ctx>,
        offset: u32,
        width: u32,
    ) -> Result<PointerValue<'ctx>, CodegenError> {
        if self.class_of(Some(base.into())) == super::arena_alias::ArenaClass::Closure {
            self.arena_addr_clamped(base, offset, width)
        } else {
            self.arena_addr(base, offset, width)
        }
    }

    /// The store of [`Self::store_at`] once `addr` is checked and `value`
    /// coerced to `ty` (a `Bool` to an `i32`, stored as its low byte).
    pub(crate) fn store_checked_value(
        &mut self,
        addr: PointerValue<'ctx>,
        value: BasicValueEnum<'ctx>,
        ty: IrType,
        base: IntValue<'ctx>,
    ) -> Result<(), CodegenError> {
        if ty == IrType::Bool {
            let byte = self.m.builder.build_int_truncate(
                value.into_int_value(),
                self.m.ctx.i8_type(),
                "byte",
            )?;
            let store = self.m.builder.build_store(addr, byte)?;
            store
                .set_alignment(1)
                .map_err(|e| CodegenError::Llvm(e.to_string()))?;
            self.tag_arena_access(Some(store), Some(base.into()))?;
            return Ok(());
        }
        self.store_typed(addr, value, ty, Some(base))
    }

    /// Load `ty` from the arena address `addr`, which is relative to the
    /// arena offset `base` (for its alias class, see `arena_alias`).
    pub(crate) fn load_typed(
        &self,
        addr: PointerValue<'ctx>,
        ty: IrType,
        base: Option<IntValue<'ctx>>,
    ) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        let ctx = self.m.ctx;
        let b = &self.m.builder;
        Ok(match ty {
            IrType::Bool => {
                let byte = b.build_load(ctx.i8_type(), addr, "bool_byte")?;
                set_align(byte, 1)?;
                self.tag_arena_access(byte.as_instruction_value(), base.map(Into::into))?;
                b.build_int_compare(
                    inkwell::IntPredicate::NE,
                    byte.into_int_value(),
                    ctx.i8_type().const_zero(),
                    "bool",
                )?
                .into()
            }
            other => {
                let v = b.build_load(self.m.llvm_type(other), addr, "load")?;
                set_align(v, 1)?;
                self.tag_arena_access(v.as_instruction_value(), base.map(Into::into))?;
                v
            }
        })
    }

    /// Store `value` as `ty` at the arena address `addr`, relative to the
    /// arena offset `base` (for its alias class, see `arena_alias`).
    fn store_typed(
        &self,
        addr: PointerValue<'ctx>,
        value: BasicValueEnum<'ctx>,
        ty: IrType,
        base: Option<IntValue<'ctx>>,
    ) -> Result<(), CodegenError> {
        let b = &self.m.builder;
        let value = if ty == IrType::Bool {
            b.build_int_z_extend(value.into_int_value(), self.m.ctx.i8_type(), "bool_byte")?
                .into()
        } else {
            value
        };
        let store = b.build_store(addr, value)?;
        store
            .set_alignment(1)
            .map_err(|e| CodegenError::Llvm(e.to_string()))?;
        self.tag_arena_access(Some(store), base.map(Into::into))
    }

    /// Bump-allocate `size` bytes of scratch (8-aligned); returns the arena offset.
    pub(crate) fn alloc_scratch(
        &mut self,
        size: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let ctx = self.m.ctx;
        let i64t = ctx.i64_type();
        let cursor = self.load_state_u32(self.m.options.state.scratch_cursor, "scratch")?;
        let b = &self.m.builder;
        let cursor64 = b.build_int_z_extend(cursor, i64t, "scratch64")?;
        let aligned = b.build_int_add(cursor64, i64t.const_int(7, false), "align_up")?;
        let aligned = b.build_and(aligned, i64t.const_int(!7u64, false), "aligned")?;
        let size64 = b.build_int_z_extend(size, i64t, "size64")?;
        let end = b.build_int_add(aligned, size64, "scratch_end")?;
        let full = self.m.builder.build_int_compare(
            inkwell::IntPredicate::UGT,
            end,
            self.arena_len,
            "scratch_full",
        )?;
        self.trap_if(full, TrapCode::ScratchExhausted)?;
        let b = &self.m.builder;
        let end32 = b.build_int_truncate(end, ctx.i32_type(), "end32")?;
        self.store_state(self.m.options.state.scratch_cursor, end32)?;
        Ok(self
            .m
            .builder
            .build_int_truncate(aligned, ctx.i32_type(), "scratch_ptr")?)
    }
}

fn set_align(value: BasicValueEnum<'_>, align: u32) -> Result<(), CodegenError> {
    if let Some(inst) = value.as_instruction_value() {
        inst.set_alignment(align)
            .map_err(|e| CodegenError::Llvm(e.to_string()))?;
    }
    Ok(())
}

/// The offset and stored type of a `Store*AtAbsolute` (`Bool` for the
/// byte store); `None` for any other op.
pub(crate) fn absolute_store(op: &Op) -> Option<(u32, IrType)> {
    match *op {
        Op::StoreI32AtAbsolute { offset } => Some((offset, IrType::I32)),
        Op::StoreI64AtAbsolute { offset } => Some((offset, IrType::I64)),
        Op::StoreF64AtAbsolute { offset } => Some((offset, IrType::F64)),
        Op::StoreI8AtAbsolute { offset } => Some((offset, IrType::Bool)),
        _ => None,
    }
}

/// The `Load*AtAbsolute`/`Store*AtAbsolute` slot a record field of IR
/// type `ty` uses: 8-byte Int and Float, a byte for Bool and Unit, and a
/// 4-byte arena offset for everything else (strings, lists, records, closures).
pub(crate) fn record_slot(ty: IrType) -> IrType {
    match ty {
        IrType::I64 | IrType::F64 => ty,
        IrType::Bool | IrType::Unit => IrType::Bool,
        _ => IrType::I32,
    }
}

/// Let slots of IR types with the same LLVM representation are shared.
fn slot_class(ty: IrType) -> u8 {
    match ty {
        IrType::I64 => 0,
        IrType::F64 => 1,
        IrType::Bool => 2,
        _ => 3,
    }
}
