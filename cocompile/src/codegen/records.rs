//! Records built by the program: the `#main` result record and its
//! sub-records in the output buffer, scratch records (closure bodies),
//! `Option`/`Result`/`#enum` variant records, pointer lists, and the
//! copies of strings and lists into the output tail.
//!
//! Conventions (those of the other compiled back ends, see `relon_abi`):
//! every pointer stored in a record is an arena offset; the output tail
//! cursor (`EntryState::tail_cursor`) and the bases of root and
//! sub-records are relative to the output buffer (the lowering adds
//! `out_ptr` after `PushRecordBase`); scratch record bases are arena
//! offsets. The tail may not grow past the output capacity.

use inkwell::values::{BasicValueEnum, IntValue, PointerValue};
use relon_host_shims::rt::{COPY_TO_TAIL_SYMBOL, TailRecord};
use relon_ir::ir::{IrType, Op};
use relon_runtime_contract::TrapCode;

use super::CodegenError;
use super::func::FuncEmitter;
use super::memory::record_slot;

impl<'m, 'ctx, 'ir> FuncEmitter<'m, 'ctx, 'ir> {
    /// The ops of this family; `None` when `op` belongs elsewhere.
    pub(crate) fn emit_record_op(&mut self, op: &Op) -> Result<Option<()>, CodegenError> {
        let i32t = self.m.ctx.i32_type();
        match op {
            Op::AllocRootRecord { record_local_idx } => {
                let slot = self.record_local(*record_local_idx)?;
                self.m.builder.build_store(slot, i32t.const_zero())?;
            }
            Op::AllocSubRecord {
                record_local_idx,
                root_size,
                root_align,
            } => {
                let (relative, _) = self.tail_alloc(*root_size, *root_align)?;
                let slot = self.record_local(*record_local_idx)?;
                self.m.builder.build_store(slot, relative)?;
            }
            Op::AllocScratchRecord {
                record_local_idx,
                root_size,
                root_align,
            } => {
                let base = self.alloc_scratch_aligned(*root_size, *root_align)?;
                let slot = self.record_local(*record_local_idx)?;
                self.m.builder.build_store(slot, base)?;
            }
            Op::StoreFieldAtRecord {
                record_local_idx,
                offset,
                ty,
            } => {
                let value = self.pop()?;
                let base = self.record_base(*record_local_idx)?;
                let out = self.load_state_u32(self.m.options.state.out_offset, "out")?;
                let base = self.m.builder.build_int_add(base, out, "record_abs")?;
                self.store_record_field(base, *offset, *ty, value)?;
            }
            Op::StoreFieldAtRecordAbsolute {
                record_local_idx,
                offset,
                ty,
            } => {
                let value = self.pop()?;
                let base = self.record_base(*record_local_idx)?;
                self.store_record_field(base, *offset, *ty, value)?;
            }
            Op::PushRecordBase { record_local_idx }
            | Op::PushRecordBaseAbsolute { record_local_idx } => {
                let base = self.record_base(*record_local_idx)?;
                self.push(base.into());
            }
            Op::EmitTailRecordFromAbsoluteAddr { ty } => {
                let src = self.pop_int()?;
                let copy = self.copy_to_tail(src, *ty)?;
                self.push(copy.into());
            }
            Op::BuildVariantRecord {
                tag,
                record_size,
                record_align,
                payload_offset,
                payload_ty,
            }
            | Op::BuildVariantRecordScratch {
                tag,
                record_size,
                record_align,
                payload_offset,
                payload_ty,
            } => {
                let payload =
                    match (payload_ty, payload_offset) {
                        (Some(ty), Some(offset)) => Some((self.pop()?, *ty, *offset)),
                        (None, None) => None,
                        _ => return Err(self.malformed(
                            "a variant record with a payload type but no offset, or the reverse"
                                .into(),
                        )),
                    };
                let record = if matches!(op, Op::BuildVariantRecord { .. }) {
                    self.tail_alloc(*record_size, *record_align)?.1
                } else {
                    self.alloc_scratch_aligned(*record_size, *record_align)?
                };
                self.store_at(
                    record,
                    0,
                    IrType::Bool,
                    i32t.const_int(*tag as u64, false).into(),
                )?;
                if let Some((value, ty, offset)) = payload {
                    self.store_record_field(record, offset, ty, value)?;
                }
                self.push(record.into());
            }
            Op::BuildPointerList { len } => {
                let items = self.pop_n(*len as usize)?;
                let (_, header) = self.tail_alloc(4 + 4 * len, 4)?;
                self.store_record_field(
                    header,
                    0,
                    IrType::I32,
                    i32t.const_int(*len as u64, false).into(),
                )?;
                for (i, item) in items.into_iter().enumerate() {
                    self.store_record_field(header, 4 + 4 * i as u32, IrType::I32, item)?;
                }
                self.push(header.into());
            }
            Op::LoadFieldAtAbsolute { offset, ty } => {
                self.load_absolute(*offset, record_slot(*ty))?
            }
            Op::MemcpyAtAbsolute => {
                let len = self.pop_int()?;
                let src = self.pop_int()?;
                let dst = self.pop_int()?;
                let len64 = self.m.builder.build_int_z_extend(
                    self.to_i32(len)?,
                    self.m.ctx.i64_type(),
                    "len64",
                )?;
                let dst_ptr = self.arena_span(dst, 0, len64)?;
                let src_ptr = self.arena_span(src, 0, len64)?;
                self.m
                    .builder
                    .build_memmove(dst_ptr, 1, src_ptr, 1, len64)
                    .map_err(|e| CodegenError::Llvm(e.to_string()))?;
            }
            _ => return Ok(None),
        }
        Ok(Some(()))
    }

    /// `StoreField` of a string or list: copy it into the output tail and
    /// store the copy's offset; `inplace`: the result is the value where it
    /// lies, reported through the entry's return value.
    pub(crate) fn store_pointer_field(
        &mut self,
        offset: u32,
        ty: IrType,
        inplace: bool,
    ) -> Result<(), CodegenError> {
        let value = self.pop_int()?;
        let value = self.to_i32(value)?;
        if inplace {
            if !matches!(
                ty,
                IrType::ListList | IrType::ListString | IrType::ListSchema
            ) {
                return Err(self.malformed(format!("an in-place result of type {ty:?}")));
            }
            let slot = match self.inplace_result {
                Some(slot) => slot,
                None => {
                    let slot = self.zeroed_i32_slot("inplace_result")?;
                    self.inplace_result = Some(slot);
                    slot
                }
            };
            // -(root + 1)
            let b = &self.m.builder;
            let sentinel = b.build_not(value, "inplace_sentinel")?;
            b.build_store(slot, sentinel)?;
            return Ok(());
        }
        let copy = match ty {
            IrType::String
            | IrType::ListInt
            | IrType::ListFloat
            | IrType::ListBool
            | IrType::ListString => self.copy_to_tail(value, ty)?,
            // Records and closures are stored as they are.
            _ => value,
        };
        let out = self.load_state_u32(self.m.options.state.out_offset, "out")?;
        self.store_record_field(out, offset, IrType::I32, copy.into())
    }

    /// What the entry returns: the in-place sentinel if one was set, else
    /// the end of the output tail.
    pub(crate) fn entry_result(&mut self) -> Result<IntValue<'ctx>, CodegenError> {
        let tail = self.load_state_u32(self.m.options.state.tail_cursor, "tail")?;
        let Some(slot) = self.inplace_result else {
            return Ok(tail);
        };
        let i32t = self.m.ctx.i32_type();
        let b = &self.m.builder;
        let sentinel = b.build_load(i32t, slot, "inplace")?.into_int_value();
        let set = b.build_int_compare(
            inkwell::IntPredicate::NE,
            sentinel,
            i32t.const_zero(),
            "is_inplace",
        )?;
        Ok(b.build_select(set, sentinel, tail, "entry_result")?
            .into_int_value())
    }

    fn record_local(&mut self, idx: u32) -> Result<PointerValue<'ctx>, CodegenError> {
        if let Some(slot) = self.record_locals.get(&idx) {
            return Ok(*slot);
        }
        let slot = self.zeroed_i32_slot(&format!("record{idx}"))?;
        self.record_locals.insert(idx, slot);
        Ok(slot)
    }

    /// An `i32` stack slot holding 0, made in the alloca block.
    fn zeroed_i32_slot(&mut self, name: &str) -> Result<PointerValue<'ctx>, CodegenError> {
        let i32t = self.m.ctx.i32_type();
        self.in_alloca_block(|b| {
            let slot = b.build_alloca(i32t, name)?;
            b.build_store(slot, i32t.const_zero())?;
            Ok(slot)
        })
    }

    fn record_base(&mut self, idx: u32) -> Result<IntValue<'ctx>, CodegenError> {
        let slot = *self.record_locals.get(&idx).ok_or_else(|| {
            self.malformed(format!("record local {idx} used before it is allocated"))
        })?;
        Ok(self
            .m
            .builder
            .build_load(self.m.ctx.i32_type(), slot, "record_base")?
            .into_int_value())
    }

    /// Store `value` as a record field of type `ty` at arena offset `base + offset`.
    fn store_record_field(
        &mut self,
        base: IntValue<'ctx>,
        offset: u32,
        ty: IrType,
        value: BasicValueEnum<'ctx>,
    ) -> Result<(), CodegenError> {
        self.store_at(base, offset, record_slot(ty), value)
    }

    /// Reserve `size` bytes of the output tail aligned to `align`:
    /// `(output-relative offset, arena offset)`. Traps when the output
    /// buffer is full.
    fn tail_alloc(
        &mut self,
        size: u32,
        align: u32,
    ) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CodegenError> {
        let i64t = self.m.ctx.i64_type();
        let cursor = self.load_state_u32(self.m.options.state.tail_cursor, "tail")?;
        let cap = self.load_state_u32(self.m.options.state.out_cap, "out_cap")?;
        let out = self.load_state_u32(self.m.options.state.out_offset, "out")?;
        let b = &self.m.builder;
        let align = align.max(1) as u64;
        let cursor64 = b.build_int_z_extend(cursor, i64t, "tail64")?;
        let bumped = b.build_int_add(cursor64, i64t.const_int(align - 1, false), "tail_up")?;
        let aligned = b.build_and(bumped, i64t.const_int(!(align - 1), false), "tail_aligned")?;
        let end = b.build_int_add(aligned, i64t.const_int(size as u64, false), "tail_end")?;
        let cap64 = b.build_int_z_extend(cap, i64t, "cap64")?;
        let full = b.build_int_compare(inkwell::IntPredicate::UGT, end, cap64, "out_full")?;
        self.trap_if(full, TrapCode::ScratchExhausted)?;
        let b = &self.m.builder;
        let end32 = b.build_int_truncate(end, self.m.ctx.i32_type(), "tail_end32")?;
        self.store_state(self.m.options.state.tail_cursor, end32)?;
        let b = &self.m.builder;
        let relative = b.build_int_truncate(aligned, self.m.ctx.i32_type(), "tail_rel")?;
        let absolute = b.build_int_add(relative, out, "tail_abs")?;
        Ok((relative, absolute))
    }

    /// Scratch space for a record of `size` bytes aligned to `align`.
    fn alloc_scratch_aligned(
        &mut self,
        size: u32,
        align: u32,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let pad = align.saturating_sub(8);
        let raw =
            self.alloc_scratch(self.m.ctx.i32_type().const_int((size + pad) as u64, false))?;
        if pad == 0 {
            return Ok(raw);
        }
        let i32t = self.m.ctx.i32_type();
        let b = &self.m.builder;
        let up = b.build_int_add(raw, i32t.const_int((align - 1) as u64, false), "scratch_up")?;
        Ok(b.build_and(
            up,
            i32t.const_int(!(align - 1) as u64, false),
            "scratch_aligned",
        )?)
    }

    /// Copy the string or list record at `src` into the output tail.
    fn copy_to_tail(
        &mut self,
        src: IntValue<'ctx>,
        ty: IrType,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let kind = match ty {
            IrType::String | IrType::ListBool => TailRecord::Bytes,
            IrType::ListInt | IrType::ListFloat => TailRecord::Words,
            IrType::ListString => TailRecord::Strings,
            other => return Err(self.malformed(format!("a tail copy of a {other:?}"))),
        };
        let i32t = self.m.ctx.i32_type();
        let src = self.to_i32(src)?;
        let helper = self.runtime_helper(COPY_TO_TAIL_SYMBOL, &[i32t.into(), i32t.into()])?;
        self.call_runtime_helper(
            helper,
            &[src.into(), i32t.const_int(kind as u64, false).into()],
        )
    }
}
