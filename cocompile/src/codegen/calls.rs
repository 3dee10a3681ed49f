//! Calls: `Call` (bundled stdlib bodies and schema methods, emitted as
//! internal functions LLVM may inline; the few whose IR body disagrees
//! with tree-walk go to a runtime helper instead), `CallNative` (host functions; in
//! closed world a direct call to the host symbol), `CheckCap`, and
//! closures (`MakeClosure` builds a handle in scratch, `CallClosure`
//! dispatches over the module's closure table).

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, BasicType};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FunctionValue, IntValue};
use relon_ir::ir::{ClosureCapture, IrType, NO_CAPABILITY_BIT, Op, TaggedOp};

use super::func::FuncEmitter;
use super::{CodegenError, FuncRef, HostCallSite, HostSymbol, WorldMode};
use relon_host_shims::rt;
use relon_runtime_contract::{HOST_CALL_SYMBOL, TrapCode};

impl<'m, 'ctx, 'ir> FuncEmitter<'m, 'ctx, 'ir> {
    /// `Call { fn_index }`: `[args...] -> [ret]`.
    pub(crate) fn emit_call(
        &mut self,
        fn_index: u32,
        param_tys: &[IrType],
        ret_ty: IrType,
    ) -> Result<(), CodegenError> {
        let callee_ref = self.m.resolve_call_index(fn_index).ok_or_else(|| {
            self.malformed(format!(
                "Call to function index {fn_index}, which does not exist"
            ))
        })?;
        if let Some(helper) = stdlib_replacement(callee_ref) {
            return self.emit_replaced_stdlib_call(helper, param_tys, ret_ty);
        }
        let callee = self.m.declare(callee_ref)?;
        let (_, callee_params, callee_ret, _) = self.m.signature(callee_ref);
        if callee_params.len() != param_tys.len() {
            return Err(self.malformed(format!(
                "Call passes {} arguments to a function of {}",
                param_tys.len(),
                callee_params.len()
            )));
        }
        let args = self.pop_n(param_tys.len())?;
        if let FuncRef::Module(index) = callee_ref {
            let body = self.m.ir.funcs.get(index as usize).map(|f| &f.body[..]);
            let length_only = |i: usize| body.is_some_and(|b| reads_only_length(b, i as u32));
            self.check_handle_args(&args, &callee_params, "this call", &length_only)?;
        }
        let key = self.memo_key(callee_ref, &args);
        let result = self.call_memoized(key, callee, &callee_params, args)?;
        if ret_ty != IrType::Unit || callee_ret != IrType::Unit {
            let result = self.coerce(result, ret_ty)?;
            self.push(result);
            self.tag_top_handle(ret_ty);
        }
        Ok(())
    }

    /// A call of a bundled stdlib function that runs as a runtime helper
    /// instead (see [`stdlib_replacement`]).
    fn emit_replaced_stdlib_call(
        &mut self,
        helper: ReplacedStdlib,
        param_tys: &[IrType],
        ret_ty: IrType,
    ) -> Result<(), CodegenError> {
        let locale_params = [IrType::String, IrType::String].as_slice();
        let (symbol, params) = match helper {
            ReplacedStdlib::Substring => (
                rt::SUBSTRING_SYMBOL,
                [IrType::String, IrType::I64, IrType::I64].as_slice(),
            ),
            ReplacedStdlib::UpperLocale => (rt::UPPER_LOCALE_SYMBOL, locale_params),
            ReplacedStdlib::LowerLocale => (rt::LOWER_LOCALE_SYMBOL, locale_params),
            ReplacedStdlib::TitleLocale => (rt::TITLE_LOCALE_SYMBOL, locale_params),
        };
        if param_tys != params || ret_ty != IrType::String {
            return Err(self.malformed(format!("{symbol} called with {param_tys:?} -> {ret_ty:?}")));
        }
        let args = self.pop_n(params.len())?;
        let args = args
            .into_iter()
            .zip(params)
            .map(|(a, ty)| self.coerce(a, *ty))
            .collect::<Result<Vec<_>, _>>()?;
        let types: Vec<BasicMetadataTypeEnum> = args.iter().map(|a| a.get_type().into()).collect();
        let helper = self.runtime_helper(symbol, &types)?;
        let args: Vec<BasicMetadataValueEnum> = args.into_iter().map(Into::into).collect();
        let record = self.call_runtime_helper(helper, &args)?;
        self.push(record.into());
        Ok(())
    }

    /// The memo key of a call of module function `func` with `args`
    /// (for a closure call, the handle first), when the call may reuse an
    /// earlier identical one: a pure callee, in the unmetered code (see
    /// `call_memo`).
    fn memo_key(
        &self,
        func: FuncRef,
        args: &[BasicValueEnum<'ctx>],
    ) -> Option<super::call_memo::CallKey<'ctx>> {
        let FuncRef::Module(index) = func else {
            return None;
        };
        if self.m.metered || !self.m.pure_functions.contains(&index) {
            return None;
        }
        Some((
            index,
            args.iter().map(|a| self.call_memo.key_of(*a)).collect(),
        ))
    }

    /// [`Self::call_emitted`], or the result of the identical call `key`
    /// names, made earlier at a point that dominates this one.
    fn call_memoized(
        &mut self,
        key: Option<super::call_memo::CallKey<'ctx>>,
        callee: FunctionValue<'ctx>,
        params: &[IrType],
        args: Vec<BasicValueEnum<'ctx>>,
    ) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        if let Some(result) = key.as_ref().and_then(|k| self.call_memo.lookup(k)) {
            return Ok(result);
        }
        let result = self.call_emitted(callee, params, args)?;
        // A call in tail position is not checked for a trap, so its value
        // is not one to reuse (nothing follows it anyway).
        if let Some(key) = key
            && !self.op_in_tail
        {
            self.call_memo.record(key, result);
        }
        Ok(result)
    }

    /// Call an emitted function with the implicit state and arena first,
    /// then leave too if it trapped (a self-call in tail position returns
    /// what it returned as it is).
    fn call_emitted(
        &mut self,
        callee: FunctionValue<'ctx>,
        params: &[IrType],
        args: Vec<BasicValueEnum<'ctx>>,
    ) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        let mut call_args: Vec<BasicMetadataValueEnum> = vec![
            self.state.into(),
            self.arena.into(),
            self.arena_len.into(),
            self.depth.into(),
        ];
        for (arg, ty) in args.into_iter().zip(params) {
            call_args.push(self.coerce(arg, *ty)?.into());
        }
        let returned = self
            .m
            .builder
            .build_call(callee, &call_args, "call")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CodegenError::Llvm("emitted function returned nothing".into()))?;
        let (result, word) = self.m.split_returned(returned)?;
        match (word, self.op_in_tail) {
            (Some(_), true) if callee == self.function => self.return_from_tail_call(returned)?,
            (Some(word), _) => self.propagate_callee_trap(word)?,
            // Both record traps in the state: the caller's caller checks.
            (None, true) if !self.returns_word => {}
            (None, _) => self.propagate_recorded_trap()?,
        }
        Ok(result)
    }

    /// `CheckCap`: in closed world the grant is decided at compile time; in
    /// open world the state's granted bits decide at run time.
    pub(crate) fn emit_check_cap(
        &mut self,
        cap_bit: u32,
        import: Option<u32>,
    ) -> Result<(), CodegenError> {
        if cap_bit == NO_CAPABILITY_BIT {
            return Ok(());
        }
        if self.m.options.world == WorldMode::OpenWorld {
            let i64t = self.m.ctx.i64_type();
            let caps = self.load_state_u64(self.m.options.state.caps, "caps")?;
            let bit = i64t.const_int(1u64 << (cap_bit & 63), false);
            let granted = self.m.builder.build_and(caps, bit, "granted")?;
            let denied = self.m.builder.build_int_compare(
                inkwell::IntPredicate::EQ,
                granted,
                i64t.const_zero(),
                "denied",
            )?;
            return self.trap_if(denied, TrapCode::CapabilityDenied);
        }
        if self.m.options.granted_caps.contains(&cap_bit) {
            return Ok(());
        }
        let function = match import {
            Some(i) => self
                .m
                .ir
                .imports
                .get(i as usize)
                .map_or_else(|| format!("import #{i}"), |imp| imp.name.clone()),
            None => "a host function".to_string(),
        };
        Err(CodegenError::CapabilityNotGranted {
            function,
            capability: capability_name(cap_bit).to_string(),
            line: self.line,
        })
    }

    /// `CallNative { import_idx }`: `[args...] -> [ret]`.
    pub(crate) fn emit_call_native(
        &mut self,
        import_idx: u32,
        param_tys: &[IrType],
        ret_ty: IrType,
    ) -> Result<(), CodegenError> {
        let symbols = match &self.m.options.world {
            WorldMode::ClosedWorld { symbols } => symbols,
            WorldMode::OpenWorld => {
                return self.emit_host_call_helper(import_idx, param_tys, ret_ty);
            }
        };
        let host = symbols.get(import_idx as usize).cloned().ok_or_else(|| {
            self.malformed(format!(
                "CallNative to import #{import_idx}, which has no host symbol"
            ))
        })?;
        let callee = self.host_function(&host, param_tys, ret_ty)?;
        let args = self.pop_n(param_tys.len())?;
        let mut call_args: Vec<BasicMetadataValueEnum> = Vec::with_capacity(args.len() + 1);
        for (arg, ty) in args.into_iter().zip(param_tys) {
            call_args.push(self.coerce(arg, *ty)?.into());
        }
        let failure = if host.fallible {
            let ptr = self.m.ctx.ptr_type(Default::default());
            let slot = self.state_field(self.m.options.state.host_failure)?;
            let failure = self
                .m
                .builder
                .build_load(ptr, slot, "host_failure")?
                .into_pointer_value();
            call_args.push(failure.into());
            Some(failure)
        } else {
            None
        };
        let call = self.m.builder.build_call(callee, &call_args, "host")?;
        if !self.m.metered {
            // The metered copy repeats every site; report each once.
            self.m.host_call_sites.push(HostCallSite {
                caller: self.name.clone(),
                symbol: host.symbol.clone(),
                line: self.line,
                column: self.column,
            });
        }
        if let Some(failure) = failure {
            // `HostFailure::failed` is its first field.
            let failed = self
                .m
                .builder
                .build_load(self.m.ctx.i32_type(), failure, "failed")?
                .into_int_value();
            let zero = self.m.ctx.i32_type().const_zero();
            let failed = self.m.builder.build_int_compare(
                inkwell::IntPredicate::NE,
                failed,
                zero,
                "host_failed",
            )?;
            self.trap_if(failed, TrapCode::HostError)?;
        }
        if ret_ty != IrType::Unit {
            let result = call
                .try_as_basic_value()
                .basic()
                .ok_or_else(|| CodegenError::Llvm("host function returned nothing".into()))?;
            self.push(result);
        }
        Ok(())
    }

    /// Open world: pass the arguments as 64-bit patterns to the embedding's
    /// `relon_host_call` helper, leave if it reported an error, and
    /// reinterpret the returned pattern as `ret_ty`.
    fn emit_host_call_helper(
        &mut self,
        import_idx: u32,
        param_tys: &[IrType],
        ret_ty: IrType,
    ) -> Result<(), CodegenError> {
        let ctx = self.m.ctx;
        let (i32t, i64t) = (ctx.i32_type(), ctx.i64_type());
        let ptr = ctx.ptr_type(Default::default());
        let helper = match self.m.module.get_function(HOST_CALL_SYMBOL) {
            Some(f) => f,
            None => self.m.module.add_function(
                HOST_CALL_SYMBOL,
                i64t.fn_type(&[ptr.into(), i32t.into(), ptr.into(), i32t.into()], false),
                Some(Linkage::External),
            ),
        };
        let args = self.pop_n(param_tys.len())?;
        let slots = self.array_slot(param_tys.len().max(1) as u32)?;
        for (i, (arg, ty)) in args.into_iter().zip(param_tys).enumerate() {
            let bits = match self.coerce(arg, *ty)? {
                BasicValueEnum::FloatValue(f) => self
                    .m
                    .builder
                    .build_bit_cast(f, i64t, "bits")?
                    .into_int_value(),
                BasicValueEnum::IntValue(v) if v.get_type().get_bit_width() < 64 => {
                    self.m.builder.build_int_z_extend(v, i64t, "bits")?
                }
                BasicValueEnum::IntValue(v) => v,
                other => return Err(self.malformed(format!("host argument {other:?}"))),
            };
            let at = super::memory::byte_offset(
                &self.m.builder,
                ctx,
                slots,
                i64t.const_int(8 * i as u64, false),
            )?;
            self.m.builder.build_store(at, bits)?;
        }
        let call_args = [
            self.state.into(),
            i32t.const_int(import_idx as u64, false).into(),
            slots.into(),
            i32t.const_int(param_tys.len() as u64, false).into(),
        ];
        let bits = self
            .m
            .builder
            .build_call(helper, &call_args, "host")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CodegenError::Llvm("host-call helper returned nothing".into()))?
            .into_int_value();
        self.propagate_recorded_trap()?;
        let result: BasicValueEnum = match ret_ty {
            IrType::Unit => return Ok(()),
            IrType::F64 => self
                .m
                .builder
                .build_bit_cast(bits, ctx.f64_type(), "host_f64")?,
            IrType::Bool => self.truthy(bits)?.into(),
            IrType::I64 => bits.into(),
            _ => self
                .m
                .builder
                .build_int_truncate(bits, i32t, "host_i32")?
                .into(),
        };
        self.push(result);
        Ok(())
    }

    /// The `extern "C"` declaration of a host symbol, with the C ABI's
    /// `zeroext` on Bool (`i1`) parameters and results, as rustc emits them.
    fn host_function(
        &mut self,
        host: &HostSymbol,
        param_tys: &[IrType],
        ret_ty: IrType,
    ) -> Result<FunctionValue<'ctx>, CodegenError> {
        let symbol = host.symbol.as_str();
        if let Some(f) = self.m.module.get_function(symbol) {
            return Ok(f);
        }
        let mut params: Vec<BasicMetadataTypeEnum> = param_tys
            .iter()
            .map(|t| self.m.llvm_type(*t).into())
            .collect();
        if host.fallible {
            params.push(self.m.ctx.ptr_type(Default::default()).into());
        }
        let fn_type = match ret_ty {
            IrType::Unit => self.m.ctx.void_type().fn_type(&params, false),
            t => self.m.llvm_type(t).fn_type(&params, false),
        };
        let function = self
            .m
            .module
            .add_function(symbol, fn_type, Some(Linkage::External));
        let zeroext = self
            .m
            .ctx
            .create_enum_attribute(Attribute::get_named_enum_kind_id("zeroext"), 0);
        for (i, t) in param_tys.iter().enumerate() {
            if *t == IrType::Bool {
                function.add_attribute(AttributeLoc::Param(i as u32), zeroext);
            }
        }
        if ret_ty == IrType::Bool {
            function.add_attribute(AttributeLoc::Return, zeroext);
        }
        Ok(function)
    }

    /// `MakeClosure`: `[] -> [handle]`, the handle being
    /// `[fn_table_idx: u32][captures_ptr: u32]` in scratch.
    pub(crate) fn emit_make_closure(
        &mut self,
        fn_table_idx: u32,
        captures: &[ClosureCapture],
        captures_size: u32,
    ) -> Result<(), CodegenError> {
        self.in_closure_memory(|this| {
            this.emit_make_closure_words(fn_table_idx, captures, captures_size)
        })
    }

    /// [`Self::emit_make_closure`]'s allocations and stores (closure memory).
    fn emit_make_closure_words(
        &mut self,
        fn_table_idx: u32,
        captures: &[ClosureCapture],
        captures_size: u32,
    ) -> Result<(), CodegenError> {
        let i32t = self.m.ctx.i32_type();
        let handle = self.alloc_scratch(i32t.const_int(8, false))?;
        let captures_ptr = if captures_size > 0 {
            let ptr = self.alloc_scratch(i32t.const_int(captures_size as u64, false))?;
            for capture in captures {
                // A capture of a let not bound yet is the closure capturing
                // itself (a recursive helper): its value is this handle.
                let value = if self.bound_lets.contains(&capture.let_idx) {
                    self.let_value(capture.let_idx, capture.ty)?
                } else if capture.ty == IrType::Closure {
                    handle.into()
                } else {
                    return Err(self.malformed(format!(
                        "closure captures let {} before it is bound",
                        capture.let_idx
                    )));
                };
                let slot_ty = if matches!(capture.ty, IrType::I64 | IrType::F64) {
                    capture.ty
                } else {
                    IrType::I32
                };
                let value = self.coerce(value, slot_ty)?;
                self.push(ptr.into());
                self.push(value);
                self.store_absolute(capture.offset, slot_ty)?;
            }
            ptr
        } else {
            i32t.const_zero()
        };
        self.push(handle.into());
        self.push(i32t.const_int(fn_table_idx as u64, false).into());
        self.store_absolute(0, IrType::I32)?;
        self.push(handle.into());
        self.push(captures_ptr.into());
        self.store_absolute(4, IrType::I32)?;
        self.push(handle.into());
        Ok(())
    }

    /// `CallClosure`: `[handle, args...] -> [ret]`. Dispatches over the
    /// closure-table entries whose signature matches; any other index traps.
    pub(crate) fn emit_call_closure(
        &mut self,
        param_tys: &[IrType],
        ret_ty: IrType,
    ) -> Result<(), CodegenError> {
        let args = self.pop_n(param_tys.len())?;
        let handle = self.pop_int()?;
        self.emit_checked_closure_call(handle, args, param_tys, ret_ty)?;
        self.tag_top_handle(ret_ty);
        Ok(())
    }

    fn emit_checked_closure_call(
        &mut self,
        handle: IntValue<'ctx>,
        args: Vec<BasicValueEnum<'ctx>>,
        param_tys: &[IrType],
        ret_ty: IrType,
    ) -> Result<(), CodegenError> {
        let mut call_params = vec![IrType::I32];
        call_params.extend_from_slice(param_tys);
        let by_signature: Vec<(u32, FuncRef)> = self
            .m
            .ir
            .closure_table
            .iter()
            .enumerate()
            .map(|(slot, func)| (slot as u32, FuncRef::Module(*func)))
            .filter(|(_, f)| {
                let (_, params, ret, _) = self.m.signature(*f);
                params == call_params && ret == ret_ty
            })
            .collect();
        // Narrowed to the slots this handle can name, when the let it came
        // from is known to hold only some closures (see `closure_targets`).
        let candidates = match self.known_handles.get(&BasicValueEnum::IntValue(handle)) {
            Some(slots) if by_signature.iter().any(|(slot, _)| slots.contains(slot)) => {
                by_signature
                    .into_iter()
                    .filter(|(slot, _)| slots.contains(slot))
                    .collect()
            }
            _ => by_signature,
        };
        // A closure's parameter `i` is its function's `i + 1` (the
        // captures come first).
        let funcs = &self.m.ir.funcs;
        let length_only = |i: usize| {
            !candidates.is_empty()
                && candidates.iter().all(|(_, f)| match f {
                    FuncRef::Module(index) => funcs
                        .get(*index as usize)
                        .is_some_and(|func| reads_only_length(&func.body, i as u32 + 1)),
                    FuncRef::Stdlib(_) => false,
                })
        };
        self.check_handle_args(&args, param_tys, "this closure call", &length_only)?;
        let self_call = self
            .self_call
            .as_ref()
            .filter(|sc| sc.handles.contains(&BasicValueEnum::IntValue(handle)))
            .map(|sc| sc.function);
        if let (Some(function), Some(captures)) = (self_call, self.params.first().copied()) {
            // The running closure calls itself: same function, same captures.
            let mut call_args = vec![captures];
            call_args.extend(args);
            let result = self.call_emitted(function, &call_params, call_args)?;
            let result = self.coerce(result, ret_ty)?;
            self.push(result);
            return Ok(());
        }
        self.push(handle.into());
        self.in_closure_memory(|this| this.load_absolute(4, IrType::I32))?;
        let captures_ptr = self.pop()?;

        let mut memo_args = vec![BasicValueEnum::IntValue(handle)];
        memo_args.extend(args.iter().copied());
        let mut call_args = vec![captures_ptr];
        call_args.extend(args);
        let ctx = self.m.ctx;
        let i32t = ctx.i32_type();
        let ret_llvm = self.m.llvm_type(ret_ty);
        if let [(_, func)] = candidates.as_slice() {
            // One function has this signature, or the handle can only name
            // one closure: every handle that can reach this call names it,
            // so the call is direct.
            let callee = self.m.declare(*func)?;
            let key = self.memo_key(*func, &memo_args);
            let result = self.call_memoized(key, callee, &call_params, call_args)?;
            self.push(result);
            return Ok(());
        }
        self.push(handle.into());
        self.in_closure_memory(|this| this.load_absolute(0, IrType::I32))?;
        let table_idx = self.pop_int()?;
        let bad = ctx.append_basic_block(self.function, "bad_closure");
        let done = ctx.append_basic_block(self.function, "closure_done");
        let mut cases = Vec::new();
        let mut incoming = Vec::new();
        let dispatch = self.current_block()?;
        for (slot, func) in &candidates {
            let bb = ctx.append_basic_block(self.function, "closure_case");
            cases.push((i32t.const_int(*slot as u64, false), bb));
            self.m.builder.position_at_end(bb);
            let callee = self.m.declare(*func)?;
            let result = self.call_emitted(callee, &call_params, call_args.clone())?;
            incoming.push((result, self.current_block()?));
            self.m.builder.build_unconditional_branch(done)?;
        }
        self.m.builder.position_at_end(dispatch);
        self.m.builder.build_switch(table_idx, bad, &cases)?;
        self.m.builder.position_at_end(bad);
        self.trap_now(TrapCode::IndexOutOfBounds)?;
        self.m.builder.position_at_end(done);
        if incoming.is_empty() {
            self.m.builder.build_unreachable()?;
            let after = ctx.append_basic_block(self.function, "dead");
            self.m.builder.position_at_end(after);
            self.push(self.zero_of(ret_llvm));
            return Ok(());
        }
        let phi = self.m.builder.build_phi(ret_llvm, "closure_result")?;
        for (value, block) in &incoming {
            phi.add_incoming(&[(value, *block)]);
        }
        self.push(phi.as_basic_value());
        Ok(())
    }
}

/// Whether parameter `param` of a function with `body` is only ever read
/// for its length: each `LocalGet(param)` goes straight into a let slot,
/// and each read of such a slot is straight away a length read
/// (`ReadStringLen`, or the record's first word).
pub(crate) fn reads_only_length(body: &[TaggedOp], param: u32) -> bool {
    let mut slots = std::collections::HashSet::new();
    let mut only_length = true;
    crate::ir_walk::for_each_body(body, &mut |ops| {
        for (i, tagged) in ops.iter().enumerate() {
            if tagged.op == Op::LocalGet(param) {
                match ops.get(i + 1).map(|t| &t.op) {
                    Some(Op::LetSet { idx, .. }) => {
                        slots.insert(*idx);
                    }
                    _ => only_length = false,
                }
            }
        }
    });
    crate::ir_walk::for_each_body(body, &mut |ops| {
        for (i, tagged) in ops.iter().enumerate() {
            if let Op::LetGet { idx, .. } = tagged.op
                && slots.contains(&idx)
                && !matches!(
                    ops.get(i + 1).map(|t| &t.op),
                    Some(Op::ReadStringLen | Op::LoadI32AtAbsolute { offset: 0 })
                )
            {
                only_length = false;
            }
        }
    });
    only_length
}

/// Name of a capability bit, as Relon spells it.
pub fn capability_name(bit: u32) -> &'static str {
    crate::frontend::ALL_CAPABILITIES
        .into_iter()
        .find(|c| c.bit_index() == bit)
        .map_or("unknown", |c| c.as_str())
}

/// A bundled stdlib function the code generator replaces with a runtime
/// helper, because its IR body disagrees with tree-walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplacedStdlib {
    /// `substring`: the IR body traps on a range past the end, tree-walk
    /// clamps it (and keeps UTF-8 whole).
    Substring,
    /// `upper_locale`, `lower_locale`, `title_locale`: in a Turkish or
    /// Azeri locale the IR body maps `İ` by the Turkish table and then
    /// again by the default one (`i` + U+0307), where tree-walk stops at
    /// the Turkish mapping (`i`).
    UpperLocale,
    /// See [`ReplacedStdlib::UpperLocale`].
    LowerLocale,
    /// See [`ReplacedStdlib::UpperLocale`].
    TitleLocale,
}

/// The replacement of `callee`, when it is a replaced stdlib function.
pub(crate) fn stdlib_replacement(callee: FuncRef) -> Option<ReplacedStdlib> {
    let FuncRef::Stdlib(i) = callee else {
        return None;
    };
    match relon_ir::builtin_stdlib().get(i as usize)?.name {
        "substring" => Some(ReplacedStdlib::Substring),
        "upper_locale" => Some(ReplacedStdlib::UpperLocale),
        "lower_locale" => Some(ReplacedStdlib::LowerLocale),
        "title_locale" => Some(ReplacedStdlib::TitleLocale),
        _ => None,
    }
}
