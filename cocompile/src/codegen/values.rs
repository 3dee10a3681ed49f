//! Strings, lists and literals: constant data references, `#main` pointer
//! slots, string lengths, number formatting and concatenation.
//!
//! A string or list value is an `i32` arena offset of its record
//! (`[len: u32][payload]`). Constants live in the const pool
//! ([`super::const_pool`]); the pointer slots of the input record hold
//! arena-absolute offsets written by the runtime. Formatting and
//! concatenation call the runtime helpers of `relon_host_shims::rt`, which
//! check their reads against the arena and allocate in scratch.

use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, IntType};
use inkwell::values::{BasicMetadataValueEnum, BasicValue, FunctionValue, IntValue};
use relon_host_shims::rt::{CONCAT_SYMBOL, FLOAT_TO_STR_SYMBOL, INT_TO_STR_SYMBOL};
use relon_ir::ir::{IrType, Op};

use super::CodegenError;
use super::const_pool::UnicodeTable;
use super::func::FuncEmitter;

/// The runtime helpers emitted code may call, `(symbol, address)`, for the JIT.
pub fn runtime_helpers() -> [(&'static str, usize); 9] {
    use relon_host_shims::rt;
    [
        (
            rt::COPY_TO_TAIL_SYMBOL,
            rt::relon_rt_copy_to_tail as *const () as usize,
        ),
        (
            INT_TO_STR_SYMBOL,
            rt::relon_rt_int_to_str as *const () as usize,
        ),
        (
            FLOAT_TO_STR_SYMBOL,
            rt::relon_rt_float_to_str as *const () as usize,
        ),
        (CONCAT_SYMBOL, rt::relon_rt_concat as *const () as usize),
        (
            rt::SUBSTRING_SYMBOL,
            rt::relon_rt_substring as *const () as usize,
        ),
        (
            rt::DICT_GET_SYMBOL,
            rt::relon_rt_dict_get as *const () as usize,
        ),
        (
            rt::UPPER_LOCALE_SYMBOL,
            rt::relon_rt_upper_locale as *const () as usize,
        ),
        (
            rt::LOWER_LOCALE_SYMBOL,
            rt::relon_rt_lower_locale as *const () as usize,
        ),
        (
            rt::TITLE_LOCALE_SYMBOL,
            rt::relon_rt_title_locale as *const () as usize,
        ),
    ]
}

impl<'m, 'ctx, 'ir> FuncEmitter<'m, 'ctx, 'ir> {
    /// The ops of this family; `None` when `op` belongs elsewhere.
    pub(crate) fn emit_value_op(&mut self, op: &Op) -> Result<Option<()>, CodegenError> {
        let pool = &mut self.m.const_pool;
        let constant = match op {
            Op::ConstString { value, .. } => Some(pool.string(value)),
            Op::ConstListInt { elements, .. } => {
                Some(pool.list_words(elements.iter().map(|e| *e as u64)))
            }
            Op::ConstListFloat { elements, .. } => Some(pool.list_words(elements.iter().copied())),
            Op::ConstListBool { elements, .. } => Some(pool.list_bool(elements)),
            Op::ConstListString { elements, .. } => Some(pool.list_string(elements)),
            Op::ConstDict { entries, .. } => Some(pool.dict(entries)),
            Op::CaseFoldTableAddr { upper } => {
                Some(pool.table(UnicodeTable::SimpleCaseFold { upper: *upper }))
            }
            Op::CombiningMarkRangesAddr => Some(pool.table(UnicodeTable::CombiningMarks)),
            Op::WhitespaceRangesAddr => Some(pool.table(UnicodeTable::Whitespace)),
            Op::DecompTableAddr { compatibility } => {
                Some(pool.table(UnicodeTable::Decomposition {
                    compatibility: *compatibility,
                }))
            }
            Op::CccTableAddr => Some(pool.table(UnicodeTable::CanonicalCombiningClass)),
            Op::CompositionTableAddr => Some(pool.table(UnicodeTable::Composition)),
            Op::FullCaseFoldTableAddr { upper } => {
                Some(pool.table(UnicodeTable::FullCaseFold { upper: *upper }))
            }
            Op::CasedRangesAddr => Some(pool.table(UnicodeTable::Cased)),
            Op::CaseIgnorableRangesAddr => Some(pool.table(UnicodeTable::CaseIgnorable)),
            Op::TurkishCaseFoldTableAddr { upper } => {
                Some(pool.table(UnicodeTable::TurkishCaseFold { upper: *upper }))
            }
            _ => None,
        };
        if let Some(offset) = constant {
            self.push(self.m.ctx.i32_type().const_int(offset as u64, false).into());
            return Ok(Some(()));
        }
        match op {
            Op::LoadStringPtr { offset }
            | Op::LoadListIntPtr { offset }
            | Op::LoadListFloatPtr { offset }
            | Op::LoadListBoolPtr { offset }
            | Op::LoadListStringPtr { offset }
            | Op::LoadListSchemaPtr { offset }
            | Op::LoadListListPtr { offset }
            | Op::LoadSchemaPtr { offset } => {
                // The slot holds an arena-absolute offset; the record it
                // names is checked by whatever reads it.
                self.load_field(*offset, IrType::I32)?;
                let handle_ty = match op {
                    Op::LoadStringPtr { .. } => Some(IrType::String),
                    Op::LoadListIntPtr { .. } => Some(IrType::ListInt),
                    Op::LoadListFloatPtr { .. } => Some(IrType::ListFloat),
                    Op::LoadListBoolPtr { .. } => Some(IrType::ListBool),
                    Op::LoadListStringPtr { .. } => Some(IrType::ListString),
                    Op::LoadListSchemaPtr { .. } => Some(IrType::ListSchema),
                    Op::LoadListListPtr { .. } => Some(IrType::ListList),
                    _ => None,
                };
                if let Some(ty) = handle_ty {
                    self.tag_top_handle(ty);
                }
            }
            Op::ReadStringLen => {
                // `[record] -> [len]`, the length widened to an Int.
                let ptr = self.pop_int()?;
                let addr = self.arena_addr(ptr, 0, 4)?;
                let len = self
                    .m
                    .builder
                    .build_load(self.m.ctx.i32_type(), addr, "len")?;
                if let Some(inst) = len.as_instruction_value() {
                    inst.set_alignment(1)
                        .map_err(|e| CodegenError::Llvm(e.to_string()))?;
                }
                let len = self.m.builder.build_int_z_extend(
                    len.into_int_value(),
                    self.m.ctx.i64_type(),
                    "len64",
                )?;
                self.push(len.into());
            }
            Op::IntToStr => {
                let value = self.pop()?;
                let value = self.coerce(value, IrType::I64)?;
                let helper =
                    self.runtime_helper(INT_TO_STR_SYMBOL, &[self.m.ctx.i64_type().into()])?;
                let record = self.call_runtime_helper(helper, &[value.into()])?;
                self.push(record.into());
            }
            Op::FloatToStr => {
                let value = self.pop()?;
                let value = self.coerce(value, IrType::F64)?;
                let helper =
                    self.runtime_helper(FLOAT_TO_STR_SYMBOL, &[self.m.ctx.f64_type().into()])?;
                let record = self.call_runtime_helper(helper, &[value.into()])?;
                self.push(record.into());
            }
            Op::StrConcatN { operand_count } => self.concat(*operand_count)?,
            _ => return Ok(None),
        }
        Ok(Some(()))
    }

    /// `StrConcatN` (and `Add(String)`): `[s_1 .. s_n] -> [s_1 ++ .. ++ s_n]`.
    pub(crate) fn concat(&mut self, count: u32) -> Result<(), CodegenError> {
        let parts = self.pop_n(count as usize)?;
        let ctx = self.m.ctx;
        let slots = self.in_alloca_block(|b| {
            Ok(b.build_alloca(ctx.i32_type().array_type(count.max(1)), "concat_parts")?)
        })?;
        for (i, part) in parts.into_iter().enumerate() {
            let part = self.coerce(part, IrType::I32)?;
            let at = super::memory::byte_offset(
                &self.m.builder,
                ctx,
                slots,
                ctx.i64_type().const_int(4 * i as u64, false),
            )?;
            self.m.builder.build_store(at, part)?;
        }
        let ptr = ctx.ptr_type(Default::default());
        let helper = self.runtime_helper(CONCAT_SYMBOL, &[ptr.into(), ctx.i32_type().into()])?;
        let record = self.call_runtime_helper(
            helper,
            &[
                slots.into(),
                ctx.i32_type().const_int(count as u64, false).into(),
            ],
        )?;
        self.push(record.into());
        Ok(())
    }

    /// The declaration of runtime helper `symbol`: `(state, params...) -> u32`.
    pub(crate) fn runtime_helper(
        &self,
        symbol: &str,
        params: &[BasicMetadataTypeEnum<'ctx>],
    ) -> Result<FunctionValue<'ctx>, CodegenError> {
        self.runtime_helper_returning(symbol, params, self.m.ctx.i32_type())
    }

    /// The declaration of runtime helper `symbol`: `(state, params...) -> ret`.
    pub(crate) fn runtime_helper_returning(
        &self,
        symbol: &str,
        params: &[BasicMetadataTypeEnum<'ctx>],
        ret: IntType<'ctx>,
    ) -> Result<FunctionValue<'ctx>, CodegenError> {
        if let Some(f) = self.m.module.get_function(symbol) {
            return Ok(f);
        }
        let mut all: Vec<BasicMetadataTypeEnum> =
            vec![self.m.ctx.ptr_type(Default::default()).into()];
        all.extend_from_slice(params);
        Ok(self
            .m
            .module
            .add_function(symbol, ret.fn_type(&all, false), Some(Linkage::External)))
    }

    /// Call a runtime helper with the state first, leave if it trapped;
    /// the value it returned (for most helpers, a record's arena offset).
    pub(crate) fn call_runtime_helper(
        &mut self,
        helper: FunctionValue<'ctx>,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let mut all: Vec<BasicMetadataValueEnum> = vec![self.state.into()];
        all.extend_from_slice(args);
        let result = self
            .m
            .builder
            .build_call(helper, &all, "record")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CodegenError::Llvm("runtime helper returned nothing".into()))?
            .into_int_value();
        self.propagate_recorded_trap()?;
        Ok(result)
    }
}
