//! One IR function's stack-machine body to SSA: the value stack, the let
//! slots, the label stack of structured control flow, and the trap exits.
//! The op families are methods on [`FuncEmitter`] defined in the sibling
//! files; this file owns the shared state and the dispatch.

use std::collections::{BTreeSet, HashMap, HashSet};

use inkwell::basic_block::BasicBlock;
use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValueEnum, FunctionValue, IntValue, PhiValue, PointerValue};
use relon_ir::ir::{IrType, Op, TaggedOp};
use relon_runtime_contract::TrapCode;

use super::{CodegenError, ModuleEmitter, op_name};

/// Whether control can reach the op after the one just emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The next op in the body is reachable.
    Continues,
    /// The op ended control (branch, return, trap): the rest of the body is dead.
    Terminated,
}

/// What a branch label jumps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// Forward to the end of a `Block` or an `If`.
    Exit,
    /// Back to the head of a `Loop`.
    LoopHead,
}

/// One enclosing `Block`, `Loop` or `If`.
pub struct Label<'ctx> {
    pub kind: LabelKind,
    pub target: BasicBlock<'ctx>,
    /// Type carried to the target by branches (exits with a result only).
    pub result: Option<BasicTypeEnum<'ctx>>,
    /// Values branched to the target, with their source blocks.
    pub incoming: Vec<(BasicValueEnum<'ctx>, BasicBlock<'ctx>)>,
    /// Value stack height when the construct was entered.
    pub stack_base: usize,
}

/// What makes a `CallClosure` a direct self-call.
pub struct SelfCall<'ctx> {
    /// The function being emitted.
    pub function: FunctionValue<'ctx>,
    /// Capture offset holding the function's own handle.
    pub offset: u32,
    /// SSA values known to be the running closure's handle.
    pub handles: Vec<BasicValueEnum<'ctx>>,
    /// Let slots known to hold it (each set exactly once, to a handle).
    pub lets: HashSet<u32>,
    /// Let slots with exactly one `LetSet` in the function.
    pub single_set_lets: HashSet<u32>,
}

/// A block every path of one kind branches to, with a phi for each of the
/// two values those paths bring: the trap exit (code and site, see
/// [`FuncEmitter::trap_now`]) and, for a function that returns its trap
/// word, the return block (value and trap word). The one return block
/// matters: a function with one `ret` is inlined without a phi of pairs,
/// which LLVM neither splits nor looks through, so the caller's trap check
/// reads the word's phi of constants and jump threading sends each trap
/// path straight to the caller's own exit, clear of the path that did not
/// trap.
#[derive(Clone, Copy)]
pub struct MergeExit<'ctx> {
    block: BasicBlock<'ctx>,
    first: PhiValue<'ctx>,
    second: PhiValue<'ctx>,
}

/// Emits one function.
pub struct FuncEmitter<'m, 'ctx, 'ir> {
    pub(crate) m: &'m mut ModuleEmitter<'ctx, 'ir>,
    pub(crate) function: FunctionValue<'ctx>,
    pub(crate) name: String,
    pub(crate) ret: IrType,
    pub(crate) is_entry: bool,
    pub(crate) state: PointerValue<'ctx>,
    pub(crate) arena: PointerValue<'ctx>,
    /// Arena length in bytes (an `i64`), for bounds checks.
    pub(crate) arena_len: IntValue<'ctx>,
    /// Calls still allowed below this frame (an `i64`), for the depth limit.
    pub(crate) depth: IntValue<'ctx>,
    pub(crate) params: Vec<BasicValueEnum<'ctx>>,
    pub(crate) stack: Vec<BasicValueEnum<'ctx>>,
    pub(crate) labels: Vec<Label<'ctx>>,
    /// Let slots: one alloca per (index, LLVM type).
    pub(crate) lets: HashMap<(u32, u8), PointerValue<'ctx>>,
    /// Let indices a `LetSet` has been emitted for, in program order.
    pub(crate) bound_lets: HashSet<u32>,
    /// Record locals (`record_local_idx` -> an `i32` alloca): the base of a
    /// record being built (output-relative for root and sub-records,
    /// arena offset for scratch records).
    pub(crate) record_locals: HashMap<u32, PointerValue<'ctx>>,
    /// The entry's in-place result sentinel, once a `StoreField { inplace }` set it.
    pub(crate) inplace_result: Option<PointerValue<'ctx>>,
    /// The handle type (`ListFloat`, `String`, ...) the IR gave each value a
    /// `LetGet` produced, so a call that passes it as another handle type
    /// is caught (see [`FuncEmitter::check_handle_args`]).
    pub(crate) handle_types: HashMap<BasicValueEnum<'ctx>, IrType>,
    pub(crate) alloca_block: BasicBlock<'ctx>,
    /// Self-recursion (see `self_recursion`): this function, the capture
    /// offset of its own handle, the values and lets known to hold it.
    pub(crate) self_call: Option<SelfCall<'ctx>>,
    /// Closure-typed lets whose possible closures are known (closure-table
    /// slots; see `closure_targets`).
    pub(crate) known_let_closures: HashMap<u32, BTreeSet<u32>>,
    /// Handle values read from those lets, with the slots they can name.
    pub(crate) known_handles: HashMap<BasicValueEnum<'ctx>, BTreeSet<u32>>,
    /// Results of pure calls already made (see `call_memo`).
    pub(crate) call_memo: super::call_memo::CallMemo<'ctx>,
    /// Stores into fresh allocations held back (see `fresh_stores`).
    pub(crate) fresh: super::fresh_stores::FreshStores<'ctx>,
    /// The shared trap exit, once a check needed it.
    pub(crate) trap_exit: Option<MergeExit<'ctx>>,
    /// The return block of a function that returns its trap word, once a
    /// path returned (see [`MergeExit`]).
    pub(crate) return_exit: Option<MergeExit<'ctx>>,
    /// Whether this function returns its trap word rather than recording
    /// the trap in the state (see the `codegen` module doc).
    pub(crate) returns_word: bool,
    /// The alias class of the arena accesses being emitted (see
    /// `arena_alias`).
    pub(crate) arena_class: super::arena_alias::ArenaClass,
    /// This function's captures parameter, when it is a closure's body
    /// (the base of its capture loads, which read closure memory).
    pub(crate) captures_param: Option<BasicValueEnum<'ctx>>,
    /// Whether the body being emitted is in tail position (its last value
    /// is the function's return value).
    pub(crate) tail_context: bool,
    /// Whether the op being emitted is in tail position: a call there
    /// returns the callee's value as it is, trapped or not, so it needs no
    /// trap check of its own (the caller checks), and stays a tail call.
    pub(crate) op_in_tail: bool,
    /// The function's counted loops (see `counted_loops`).
    pub(crate) counted: super::counted_loops::CountedLoops,
    /// Addresses `payload + i * stride` of a counted loop's turn, whose
    /// span the loop checked before its head, with their site.
    pub(crate) swept: HashMap<IntValue<'ctx>, super::counted_loops::Site>,
    /// Swept addresses of elements of a list the function fills (see
    /// `own_lists`): an access through one is tagged as such.
    pub(crate) own_elements: HashSet<PointerValue<'ctx>>,
    /// Source position of the op being emitted.
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl<'m, 'ctx, 'ir> FuncEmitter<'m, 'ctx, 'ir> {
    pub fn new(
        m: &'m mut ModuleEmitter<'ctx, 'ir>,
        function: FunctionValue<'ctx>,
        name: String,
        params: Vec<IrType>,
        ret: IrType,
        is_entry: bool,
    ) -> Result<Self, CodegenError> {
        let alloca_block = m.ctx.append_basic_block(function, "allocas");
        let missing = || CodegenError::Llvm("function is missing an implicit parameter".into());
        let state = function
            .get_nth_param(0)
            .ok_or_else(missing)?
            .into_pointer_value();
        let arena = function
            .get_nth_param(1)
            .ok_or_else(missing)?
            .into_pointer_value();
        let arena_len = function
            .get_nth_param(2)
            .ok_or_else(missing)?
            .into_int_value();
        let depth = function
            .get_nth_param(3)
            .ok_or_else(missing)?
            .into_int_value();
        let params = (0..params.len() as u32)
            .map(|i| function.get_nth_param(i + 4).ok_or_else(missing))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FuncEmitter {
            m,
            function,
            name,
            ret,
            is_entry,
            state,
            arena,
            arena_len,
            depth,
            params,
            stack: Vec::new(),
            labels: Vec::new(),
            lets: HashMap::new(),
            bound_lets: HashSet::new(),
            record_locals: HashMap::new(),
            inplace_result: None,
            handle_types: HashMap::new(),
            alloca_block,
            self_call: None,
            known_let_closures: HashMap::new(),
            known_handles: HashMap::new(),
            call_memo: Default::default(),
            fresh: Default::default(),
            trap_exit: None,
            return_exit: None,
            returns_word: function
                .get_type()
                .get_return_type()
                .is_some_and(|t| t.is_struct_type()),
            arena_class: super::arena_alias::ArenaClass::Data,
            captures_param: None,
            tail_context: !is_entry,
            op_in_tail: false,
            counted: Default::default(),
            swept: HashMap::new(),
            own_elements: HashSet::new(),
            line: 0,
            column: 0,
        })
    }

    /// Turn `CallClosure`s of this function's own handle into direct calls.
    pub fn enable_self_calls(
        &mut self,
        function: FunctionValue<'ctx>,
        offset: u32,
        body: &[TaggedOp],
    ) {
        let mut counts = HashMap::new();
        super::self_recursion::let_set_counts(body, &mut counts);
        let single_set_lets = counts
            .into_iter()
            .filter(|(_, n)| *n == 1)
            .map(|(idx, _)| idx)
            .collect();
        self.self_call = Some(SelfCall {
            function,
            offset,
            handles: Vec::new(),
            lets: HashSet::new(),
            single_set_lets,
        });
    }

    /// Emit the prologue (depth and fuel checks) and the body.
    pub fn emit_function_body(&mut self, body: &[TaggedOp]) -> Result<(), CodegenError> {
        let start = self.m.ctx.append_basic_block(self.function, "start");
        self.m.builder.position_at_end(start);
        if let Some(first) = body.first() {
            self.set_position(first);
        }
        self.counted = super::counted_loops::find(body);
        if !self.returns_word {
            self.assume_no_trap_pending()?;
        }
        if self.m.options.depth_limit && !self.is_entry {
            self.enter_call_depth()?;
        }
        if self.m.metered {
            self.consume_fuel()?;
        }
        let flow = self.emit_body(body)?;
        if flow == Flow::Continues {
            self.fresh_escape()?;
            // A body that falls off its end returns its top value.
            self.emit_return()?;
        }
        self.finish_return_exit()?;
        // The alloca block falls through to the first real block.
        self.m.builder.position_at_end(self.alloca_block);
        self.m.builder.build_unconditional_branch(start)?;
        Ok(())
    }

    /// Emit ops until the body ends or control leaves it.
    pub fn emit_body(&mut self, body: &[TaggedOp]) -> Result<Flow, CodegenError> {
        for (i, tagged) in body.iter().enumerate() {
            self.set_position(tagged);
            // An op is in tail position when its value is what the function
            // returns: last in a tail body, or just before its `Return`.
            self.op_in_tail = self.tail_context
                && (i + 1 == body.len()
                    || (i + 2 == body.len() && matches!(body[i + 1].op, Op::Return)));
            if self.emit_op(&tagged.op)? == Flow::Terminated {
                return Ok(Flow::Terminated);
            }
            if let Some(site) = self.counted.site(tagged) {
                self.tag_swept_address(site);
            }
        }
        Ok(Flow::Continues)
    }

    /// Emit a nested body that is (or is not) in tail position.
    pub(crate) fn emit_nested_body(
        &mut self,
        body: &[TaggedOp],
        tail: bool,
    ) -> Result<Flow, CodegenError> {
        let outer = std::mem::replace(&mut self.tail_context, tail);
        self.call_memo.enter_body(body);
        let flow = self.emit_body(body);
        // Held stores of the body's last stretch go before its exit.
        let flow = match flow {
            Ok(Flow::Continues) => self.fresh_escape().map(|()| Flow::Continues),
            other => other,
        };
        self.call_memo.leave_body();
        self.tail_context = outer;
        flow
    }

    fn set_position(&mut self, tagged: &TaggedOp) {
        let start = tagged.range.start;
        if start.line != 0 || self.line == 0 {
            self.line = start.line;
            self.column = start.column as u32;
        }
    }

    fn emit_op(&mut self, op: &Op) -> Result<Flow, CodegenError> {
        match self.fresh_before_op(op)? {
            super::fresh_stores::FreshStep::Held => Ok(Flow::Continues),
            super::fresh_stores::FreshStep::Emit => self.emit_op_now(op),
            super::fresh_stores::FreshStep::EmitTracked => {
                let flow = self.emit_op_now(op)?;
                self.fresh_after_op();
                Ok(flow)
            }
        }
    }

    fn emit_op_now(&mut self, op: &Op) -> Result<Flow, CodegenError> {
        if let Some((offset, ty)) = super::memory::absolute_store(op) {
            self.store_absolute(offset, ty)?;
            return Ok(Flow::Continues);
        }
        match op {
            Op::ConstBool(b) => {
                self.push(self.m.ctx.bool_type().const_int(*b as u64, false).into())
            }
            Op::ConstI32(v) => self.push(
                self.m
                    .ctx
                    .i32_type()
                    .const_int(*v as u32 as u64, false)
                    .into(),
            ),
            Op::ConstI64(v) => self.push(self.m.ctx.i64_type().const_int(*v as u64, false).into()),
            Op::ConstF64(v) => self.push(self.m.ctx.f64_type().const_float(v.0).into()),
            Op::LocalGet(i) => {
                let value = *self
                    .params
                    .get(*i as usize)
                    .ok_or_else(|| self.malformed(format!("LocalGet({i}) past the parameters")))?;
                self.push(value);
            }
            Op::LetGet { idx, ty } => self.let_get(*idx, *ty)?,
            Op::LetSet { idx, ty } => self.let_set(*idx, *ty)?,
            Op::LoadField { offset, ty } => self.load_field(*offset, *ty)?,
            Op::StoreField {
                offset,
                ty,
                inplace,
            } => self.store_field(*offset, *ty, *inplace)?,
            Op::LoadI32AtAbsolute { offset } => self.load_absolute(*offset, IrType::I32)?,
            Op::LoadI64AtAbsolute { offset } => self.load_absolute(*offset, IrType::I64)?,
            Op::LoadF64AtAbsolute { offset } => self.load_absolute(*offset, IrType::F64)?,
            Op::LoadI8UAtAbsolute { offset } => self.load_absolute(*offset, IrType::Bool)?,
            Op::AllocScratch { size_bytes } => {
                let size = self.m.ctx.i32_type().const_int(*size_bytes as u64, false);
                let base = self.alloc_scratch(size)?;
                self.push(base.into());
            }
            Op::AllocScratchDyn => {
                let size = self.pop_int()?;
                let size = self.to_i32(size)?;
                let base = self.alloc_scratch(size)?;
                self.push(base.into());
            }
            Op::Add(IrType::String) => self.concat(2)?,
            Op::Add(t) | Op::Sub(t) | Op::Mul(t) | Op::Div(t) | Op::Mod(t) | Op::BitAnd(t) => {
                self.binary(op, *t)?
            }
            Op::Eq(t) | Op::Ne(t) | Op::Lt(t) | Op::Le(t) | Op::Gt(t) | Op::Ge(t) => {
                self.compare(op, *t)?
            }
            Op::ConvertI64ToF64 => self.convert_i64_to_f64()?,
            Op::F64ToI64Sat => self.f64_to_i64_sat()?,
            Op::F64Unary(u) => self.f64_unary(*u)?,
            Op::F64Pow => self.f64_pow()?,
            Op::Select { ty } => self.select(*ty)?,
            Op::If {
                result_ty,
                then_body,
                else_body,
            } => return self.emit_if(*result_ty, then_body, else_body),
            Op::Block { result_ty, body } => return self.emit_block(*result_ty, body),
            Op::Loop { result_ty, body } => return self.emit_loop(*result_ty, body),
            Op::Br { label_depth } => return self.emit_br(*label_depth),
            Op::BrIf { label_depth } => self.emit_br_if(*label_depth)?,
            Op::BrTable { default, targets } => return self.emit_br_table(*default, targets),
            Op::Return => {
                self.emit_return()?;
                return Ok(Flow::Terminated);
            }
            Op::Trap { kind } => {
                self.trap_now(trap_code_of(*kind))?;
                return Ok(Flow::Terminated);
            }
            Op::Call {
                fn_index,
                param_tys,
                ret_ty,
                ..
            } => self.emit_call(*fn_index, param_tys, *ret_ty)?,
            Op::CallNative {
                import_idx,
                param_tys,
                ret_ty,
                cap_bit,
            } => {
                self.emit_check_cap(*cap_bit, Some(*import_idx))?;
                self.emit_call_native(*import_idx, param_tys, *ret_ty)?;
            }
            Op::CheckCap { cap_bit } => self.emit_check_cap(*cap_bit, None)?,
            Op::MakeClosure {
                fn_table_idx,
                captures,
                captures_size,
            } => self.emit_make_closure(*fn_table_idx, captures, *captures_size)?,
            Op::CallClosure { param_tys, ret_ty } => self.emit_call_closure(param_tys, *ret_ty)?,
            Op::ListGetByIntIdx { element_ty } => self.emit_list_get(*element_ty)?,
            Op::DictGetByStringKey { value_ty, .. } => self.emit_dict_get(*value_ty)?,
            other => {
                if self.emit_value_op(other)?.is_none() && self.emit_record_op(other)?.is_none() {
                    return Err(self.unsupported(other));
                }
            }
        }
        Ok(Flow::Continues)
    }

    // ---- the value stack -------------------------------------------------

    pub(crate) fn push(&mut self, value: BasicValueEnum<'ctx>) {
        self.stack.push(value);
    }

    pub(crate) fn pop(&mut self) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        let floor = self.labels.last().map_or(0, |l| l.stack_base);
        if self.stack.len() <= floor {
            return Err(self.malformed("value stack underflow".into()));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("value stack underflow".into()))
    }

    pub(crate) fn pop_int(&mut self) -> Result<IntValue<'ctx>, CodegenError> {
        match self.pop()? {
            BasicValueEnum::IntValue(v) => Ok(v),
            other => Err(self.malformed(format!("expected an integer operand, found {other:?}"))),
        }
    }

    /// Pop `n` values, returned in push order.
    pub(crate) fn pop_n(&mut self, n: usize) -> Result<Vec<BasicValueEnum<'ctx>>, CodegenError> {
        let mut values = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
        values.reverse();
        Ok(values)
    }

    /// Pop a condition (a Bool, or an i32 where non-zero is true) as an `i1`.
    pub(crate) fn pop_condition(&mut self) -> Result<IntValue<'ctx>, CodegenError> {
        let v = self.pop_int()?;
        self.truthy(v)
    }

    pub(crate) fn truthy(&self, v: IntValue<'ctx>) -> Result<IntValue<'ctx>, CodegenError> {
        if v.get_type().get_bit_width() == 1 {
            return Ok(v);
        }
        Ok(self.m.builder.build_int_compare(
            inkwell::IntPredicate::NE,
            v,
            v.get_type().const_zero(),
            "truthy",
        )?)
    }

    /// Convert `value` to the LLVM representation of `ty` (integer widths
    /// differ between `Bool` slots, `i32` captures and `i64` values).
    pub(crate) fn coerce(
        &self,
        value: BasicValueEnum<'ctx>,
        ty: IrType,
    ) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        let target = self.m.llvm_type(ty);
        if value.get_type() == target {
            return Ok(value);
        }
        let b = &self.m.builder;
        match (value, target) {
            // A Bool is never a handle: the lowering typed a value wrongly
            // (a `Bool`-returning closure mapped as a `String` one), and
            // using it would read whatever lies at arena offset 0 or 1.
            (BasicValueEnum::IntValue(v), _)
                if v.get_type().get_bit_width() == 1 && is_handle(ty) =>
            {
                Err(self.malformed(format!("a Bool value is used as a {ty:?} handle")))
            }
            (BasicValueEnum::IntValue(v), BasicTypeEnum::IntType(t)) => {
                let from = v.get_type().get_bit_width();
                let to = t.get_bit_width();
                Ok(if to == 1 {
                    self.truthy(v)?.into()
                } else if from < to {
                    b.build_int_z_extend(v, t, "zext")?.into()
                } else {
                    b.build_int_truncate(v, t, "trunc")?.into()
                })
            }
            (v, t) => Err(self.malformed(format!("cannot use {v:?} as {t:?} ({ty:?})"))),
        }
    }

    /// Record that the value on top of the stack has IR type `ty`, when
    /// `ty` is a handle type (see [`FuncEmitter::check_handle_args`]).
    pub(crate) fn tag_top_handle(&mut self, ty: IrType) {
        if is_handle(ty)
            && let Some(value) = self.stack.last()
        {
            self.handle_types.insert(*value, ty);
        }
    }

    /// Refuse a call that passes a value the IR typed as one handle type
    /// (`LetGet { ty: ListFloat }`) for a parameter of another
    /// (`ListInt`). The lowering types an untyped helper's list parameter
    /// from its body alone, so a `List<Float>` can reach a body that reads
    /// its elements as Ints: running it would give the float bits as an Int.
    ///
    /// A parameter the callee only reads the length of (`len(l)`) takes
    /// any list: every list record starts with its length.
    /// `length_only(i)` says whether argument `i` is such a parameter.
    pub(crate) fn check_handle_args(
        &self,
        args: &[BasicValueEnum<'ctx>],
        param_tys: &[IrType],
        callee: &str,
        length_only: &dyn Fn(usize) -> bool,
    ) -> Result<(), CodegenError> {
        for (i, (arg, &param)) in args.iter().zip(param_tys).enumerate() {
            match self.handle_types.get(arg) {
                Some(&given) if is_handle(param) && given != param && !length_only(i) => {
                    return Err(self.malformed(format!(
                        "argument {} of {callee} is a {given:?} but the callee reads it as a \
                         {param:?} (the lowering typed an untyped helper parameter from its body \
                         alone; index the list at the call site and pass the element to a \
                         typed helper such as `(Float v) -> Float => ...`)",
                        i + 1
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub(crate) fn to_i32(&self, v: IntValue<'ctx>) -> Result<IntValue<'ctx>, CodegenError> {
        Ok(self.coerce(v.into(), IrType::I32)?.into_int_value())
    }

    pub(crate) fn zero_of(&self, ty: BasicTypeEnum<'ctx>) -> BasicValueEnum<'ctx> {
        match ty {
            BasicTypeEnum::IntType(t) => t.const_zero().into(),
            BasicTypeEnum::FloatType(t) => t.const_zero().into(),
            BasicTypeEnum::PointerType(t) => t.const_null().into(),
            other => other.const_zero(),
        }
    }

    // ---- state fields ------------------------------------------------------

    pub(crate) fn state_field(&self, offset: usize) -> Result<PointerValue<'ctx>, CodegenError> {
        self.m.state_field_addr(self.state, offset)
    }

    pub(crate) fn load_state_u32(
        &self,
        offset: usize,
        name: &str,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        Ok(self
            .m
            .load_state_field(self.state, offset, self.m.ctx.i32_type().into(), name)?
            .into_int_value())
    }

    pub(crate) fn load_state_u64(
        &self,
        offset: usize,
        name: &str,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        Ok(self
            .m
            .load_state_field(self.state, offset, self.m.ctx.i64_type().into(), name)?
            .into_int_value())
    }

    pub(crate) fn store_state(
        &self,
        offset: usize,
        value: IntValue<'ctx>,
    ) -> Result<(), CodegenError> {
        let ptr = self.state_field(offset)?;
        self.m.builder.build_store(ptr, value)?;
        Ok(())
    }

    // ---- traps ---------------------------------------------------------------

    /// Record `code` at the current source position and leave the function.
    pub(crate) fn trap_now(&mut self, code: TrapCode) -> Result<(), CodegenError> {
        let site = self.m.trap_site(self.line, self.column);
        let i32t = self.m.ctx.i32_type();
        let trap = self.trap_exit()?;
        self.branch_to_merge(
            trap,
            i32t.const_int(code.as_u32() as u64, false).into(),
            i32t.const_int(site as u64, false).into(),
        )
    }

    /// A new [`MergeExit`] named `name` with phis of `types`; the builder
    /// stays where it was.
    fn merge_exit(
        &mut self,
        name: &str,
        types: [(BasicTypeEnum<'ctx>, &str); 2],
    ) -> Result<MergeExit<'ctx>, CodegenError> {
        let resume = self.current_block()?;
        let block = self.m.ctx.append_basic_block(self.function, name);
        self.m.builder.position_at_end(block);
        let [(first_ty, first_name), (second_ty, second_name)] = types;
        let first = self.m.builder.build_phi(first_ty, first_name)?;
        let second = self.m.builder.build_phi(second_ty, second_name)?;
        self.m.builder.position_at_end(resume);
        Ok(MergeExit {
            block,
            first,
            second,
        })
    }

    /// Branch from here to `exit`, bringing `first` and `second`.
    fn branch_to_merge(
        &mut self,
        exit: MergeExit<'ctx>,
        first: BasicValueEnum<'ctx>,
        second: BasicValueEnum<'ctx>,
    ) -> Result<(), CodegenError> {
        let from = self.current_block()?;
        exit.first.add_incoming(&[(&first, from)]);
        exit.second.add_incoming(&[(&second, from)]);
        self.m.builder.build_unconditional_branch(exit.block)?;
        Ok(())
    }

    /// The function's one trap exit, made on first use: it returns the
    /// trap word of the code and site it is branched to with (two phis),
    /// or records them in the state where traps travel that way.
    /// Every check branching to one shared block, rather than to a block of
    /// its own, keeps a checked function small enough for LLVM's inliner.
    fn trap_exit(&mut self) -> Result<MergeExit<'ctx>, CodegenError> {
        if let Some(exit) = self.trap_exit {
            return Ok(exit);
        }
        let i32t = self.m.ctx.i32_type().into();
        let exit = self.merge_exit("trap", [(i32t, "trap_code"), (i32t, "trap_site")])?;
        let resume = self.current_block()?;
        self.m.builder.position_at_end(exit.block);
        let code = exit.first.as_basic_value().into_int_value();
        let site = exit.second.as_basic_value().into_int_value();
        let word = if self.returns_word {
            self.trap_word_of(code, site)?
        } else {
            self.store_state(self.m.options.state.trap_code, code)?;
            self.store_state(self.m.options.state.trap_site, site)?;
            self.m.ctx.i64_type().const_zero()
        };
        self.return_abruptly(word)?;
        self.m.builder.position_at_end(resume);
        self.trap_exit = Some(exit);
        Ok(exit)
    }

    /// The trap word `code | site << 32` (see the `codegen` module doc).
    fn trap_word_of(
        &self,
        code: IntValue<'ctx>,
        site: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let b = &self.m.builder;
        let i64t = self.m.ctx.i64_type();
        let code = b.build_int_z_extend(code, i64t, "code64")?;
        let site = b.build_int_z_extend(site, i64t, "site64")?;
        let high = b.build_left_shift(site, i64t.const_int(32, false), "site_high")?;
        Ok(b.build_or(code, high, "trap_word")?)
    }

    /// Leave the function with trap word `word` (no depth bookkeeping: the
    /// run is over); the value beside it is a zero nobody reads.
    pub(crate) fn return_abruptly(&mut self, word: IntValue<'ctx>) -> Result<(), CodegenError> {
        let ret_ty = self.m.llvm_type(self.ret);
        let zero = self.zero_of(ret_ty);
        self.return_pair(zero, word)
    }

    /// Return `{ value, word }`: branch to the function's one return block
    /// (see [`MergeExit`]). Where traps are recorded in the state,
    /// `ret value` (the state says whether it trapped).
    fn return_pair(
        &mut self,
        value: BasicValueEnum<'ctx>,
        word: IntValue<'ctx>,
    ) -> Result<(), CodegenError> {
        if !self.returns_word {
            self.m.builder.build_return(Some(&value))?;
            return Ok(());
        }
        let exit = match self.return_exit {
            Some(exit) => exit,
            None => {
                let types = [
                    (self.m.llvm_type(self.ret), "ret_value"),
                    (self.m.ctx.i64_type().into(), "ret_trap_word"),
                ];
                let exit = self.merge_exit("return", types)?;
                self.return_exit = Some(exit);
                exit
            }
        };
        self.branch_to_merge(exit, value, word.into())
    }

    /// `ret { value, word }` of the two phis of the return block, once
    /// every path is in.
    fn finish_return_exit(&mut self) -> Result<(), CodegenError> {
        let Some(exit) = self.return_exit else {
            return Ok(());
        };
        let b = &self.m.builder;
        b.position_at_end(exit.block);
        let pair = self
            .m
            .returned_type(self.ret, true)
            .into_struct_type()
            .get_poison();
        let pair = b.build_insert_value(pair, exit.first.as_basic_value(), 0, "ret_value")?;
        let pair = b.build_insert_value(pair, exit.second.as_basic_value(), 1, "ret_pair")?;
        b.build_return(Some(&pair))?;
        Ok(())
    }

    /// Branch to a fresh cold block when `cond` holds (marked unlikely),
    /// leave the builder there, and return the block where control goes on.
    pub(crate) fn branch_cold(
        &mut self,
        cond: IntValue<'ctx>,
    ) -> Result<BasicBlock<'ctx>, CodegenError> {
        let ctx = self.m.ctx;
        let expect = inkwell::intrinsics::Intrinsic::find("llvm.expect")
            .and_then(|i| i.get_declaration(&self.m.module, &[ctx.bool_type().into()]))
            .ok_or_else(|| CodegenError::Llvm("llvm.expect is missing".into()))?;
        let cond = self
            .m
            .builder
            .build_call(
                expect,
                &[cond.into(), ctx.bool_type().const_zero().into()],
                "unlikely",
            )?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CodegenError::Llvm("llvm.expect returned nothing".into()))?
            .into_int_value();
        let cold_bb = ctx.append_basic_block(self.function, "cold");
        let cont_bb = ctx.append_basic_block(self.function, "ok");
        self.m
            .builder
            .build_conditional_branch(cond, cold_bb, cont_bb)?;
        self.m.builder.position_at_end(cold_bb);
        Ok(cont_bb)
    }

    /// Trap with `code` when `cond` holds; continue otherwise.
    pub(crate) fn trap_if(
        &mut self,
        cond: IntValue<'ctx>,
        code: TrapCode,
    ) -> Result<(), CodegenError> {
        let cont_bb = self.branch_cold(cond)?;
        self.trap_now(code)?;
        self.m.builder.position_at_end(cont_bb);
        Ok(())
    }

    /// After a call into emitted code that returned trap word `word`:
    /// leave with it if the callee trapped (recording it in the state
    /// first, when this function reports traps there).
    pub(crate) fn propagate_callee_trap(
        &mut self,
        word: IntValue<'ctx>,
    ) -> Result<(), CodegenError> {
        let i64t = self.m.ctx.i64_type();
        let trapped = self.m.builder.build_int_compare(
            inkwell::IntPredicate::NE,
            word,
            i64t.const_zero(),
            "trapped",
        )?;
        let cont_bb = self.branch_cold(trapped)?;
        if !self.returns_word {
            self.m.record_trap_word(self.state, word)?;
        }
        self.return_abruptly(word)?;
        self.m.builder.position_at_end(cont_bb);
        Ok(())
    }

    /// A call of this function itself in tail position: return its pair
    /// as it is, trapped or not (the caller checks), so LLVM sees
    /// `ret (call)` and turns the recursion into a loop. Emission goes on
    /// in a block nothing reaches (the ops left are the merges up to the
    /// return).
    pub(crate) fn return_from_tail_call(
        &mut self,
        pair: BasicValueEnum<'ctx>,
    ) -> Result<(), CodegenError> {
        self.fresh_flush()?;
        self.m.builder.build_return(Some(&pair))?;
        let after = self
            .m
            .ctx
            .append_basic_block(self.function, "after_tail_return");
        self.m.builder.position_at_end(after);
        Ok(())
    }

    /// After a call of a runtime or host-call helper, or of an emitted
    /// function, that records its trap in the state: leave too if it did
    /// (with its trap word, when this function returns one).
    pub(crate) fn propagate_recorded_trap(&mut self) -> Result<(), CodegenError> {
        let code = self.load_state_u32(self.m.options.state.trap_code, "trap_code")?;
        let zero = self.m.ctx.i32_type().const_zero();
        let trapped =
            self.m
                .builder
                .build_int_compare(inkwell::IntPredicate::NE, code, zero, "trapped")?;
        let cont_bb = self.branch_cold(trapped)?;
        let word = if self.returns_word {
            let site = self.load_state_u32(self.m.options.state.trap_site, "trap_site")?;
            self.trap_word_of(code, site)?
        } else {
            self.m.ctx.i64_type().const_zero()
        };
        self.return_abruptly(word)?;
        self.m.builder.position_at_end(cont_bb);
        Ok(())
    }

    /// Where traps are recorded in the state: tell LLVM that none is
    /// pending when this function starts. The entry wrappers clear
    /// `state.trap_code` before the run, and a trap returns straight up the
    /// call chain, so no emitted function is ever called with one pending;
    /// once a callee is inlined, its caller's check of the state after the
    /// call then folds away on every path where the callee recorded none.
    /// (The load only feeds the assumption, so no instruction is left of it.)
    fn assume_no_trap_pending(&mut self) -> Result<(), CodegenError> {
        let code = self.load_state_u32(self.m.options.state.trap_code, "pending_trap")?;
        let none = self.m.builder.build_int_compare(
            inkwell::IntPredicate::EQ,
            code,
            self.m.ctx.i32_type().const_zero(),
            "no_trap_pending",
        )?;
        let assume = inkwell::intrinsics::Intrinsic::find("llvm.assume")
            .and_then(|i| i.get_declaration(&self.m.module, &[]))
            .ok_or_else(|| CodegenError::Llvm("llvm.assume is missing".into()))?;
        self.m.builder.build_call(assume, &[none.into()], "")?;
        Ok(())
    }

    /// One step of the budget: trap when it is spent.
    pub(crate) fn consume_fuel(&mut self) -> Result<(), CodegenError> {
        let fuel = self.load_state_u64(self.m.options.state.fuel, "fuel")?;
        let i64t = self.m.ctx.i64_type();
        let empty = self.m.builder.build_int_compare(
            inkwell::IntPredicate::EQ,
            fuel,
            i64t.const_zero(),
            "fuel_out",
        )?;
        self.trap_if(empty, TrapCode::StepLimitExceeded)?;
        let left = self
            .m
            .builder
            .build_int_sub(fuel, i64t.const_int(1, false), "fuel_left")?;
        self.store_state(self.m.options.state.fuel, left)
    }

    /// A called function uses one unit of depth: trap when none is left;
    /// its callees get one unit less. (The entry itself is not counted.)
    fn enter_call_depth(&mut self) -> Result<(), CodegenError> {
        let i64t = self.m.ctx.i64_type();
        let exhausted = self.m.builder.build_int_compare(
            inkwell::IntPredicate::EQ,
            self.depth,
            i64t.const_zero(),
            "too_deep",
        )?;
        self.trap_if(exhausted, TrapCode::RecursionLimitExceeded)?;
        self.depth =
            self.m
                .builder
                .build_int_sub(self.depth, i64t.const_int(1, false), "depth_left")?;
        Ok(())
    }

    /// `Op::Return`: the function's top value (for the entry, the bytes it
    /// wrote or the in-place sentinel, which the wrapper hands the runtime).
    pub(crate) fn emit_return(&mut self) -> Result<(), CodegenError> {
        let ret_ty = self.m.llvm_type(self.ret);
        let value = if self.is_entry {
            self.entry_result()?.into()
        } else if self.ret == IrType::Unit {
            self.zero_of(ret_ty)
        } else {
            let v = self.pop()?;
            self.coerce(v, self.ret)?
        };
        self.return_pair(value, self.m.ctx.i64_type().const_zero())
    }

    // ---- errors --------------------------------------------------------------

    pub(crate) fn malformed(&self, detail: String) -> CodegenError {
        CodegenError::MalformedIr {
            function: self.name.clone(),
            line: self.line,
            detail,
        }
    }

    pub(crate) fn unsupported(&self, op: &Op) -> CodegenError {
        CodegenError::UnsupportedOp {
            op: op_name(op),
            line: self.line,
            column: self.column,
            function: self.name.clone(),
        }
    }
}

/// Whether values of `ty` are arena handles (offsets of records).
pub(crate) fn is_handle(ty: IrType) -> bool {
    matches!(
        ty,
        IrType::String
            | IrType::ListInt
            | IrType::ListFloat
            | IrType::ListBool
            | IrType::ListString
            | IrType::ListSchema
            | IrType::ListList
            | IrType::Dict
    )
}

/// The runtime trap code for an IR `Op::Trap`.
pub fn trap_code_of(kind: relon_ir::ir::TrapKind) -> TrapCode {
    use relon_ir::ir::TrapKind as K;
    match kind {
        K::IndexOutOfBounds => TrapCode::IndexOutOfBounds,
        K::EmptyList => TrapCode::EmptyList,
        K::InvalidUtf8 => TrapCode::InvalidUtf8,
        K::NoMatch => TrapCode::NoMatch,
        K::NumericOverflow => TrapCode::NumericOverflow,
    }
}

#[cfg(test)]
mod tests {
    use inkwell::context::Context;
    use inkwell::passes::PassBuilderOptions;

    use super::super::{CodegenOptions, CodegenTarget, emit_module, function_ir, target_machine};

    const FIB: &str = "#main(Int n) -> Int\nfib(n) where {\n  fib: (Int k) -> Int => k < 2 ? k : fib(k - 1) + fib(k - 2)\n}\n";

    /// The signature line of the unmetered recursive helper of `FIB`,
    /// emitted for `target` and optimized at O3.
    fn optimized_helper_signature(target: CodegenTarget) -> String {
        let lowered = crate::frontend::lower_source("fib.relon", FIB, &[]).expect("lowers");
        let ctx = Context::create();
        let options = if target == CodegenTarget::Wasm32 {
            CodegenOptions::wasm32()
        } else {
            CodegenOptions::open_world()
        };
        let emitted = emit_module(&ctx, "fib", &lowered.lowered.module, &options).expect("emits");
        let machine = target_machine(&options).expect("a target machine");
        emitted
            .module
            .run_passes("default<O3>", &machine, PassBuilderOptions::create())
            .expect("O3 runs");
        let ir = emitted.module.print_to_string().to_string();
        function_ir(&ir, "__closure_0")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn a_recursive_helper_returns_its_trap_word_and_loses_the_state_parameter() {
        // `(state, arena, arena_len, depth, k)`: only the depth and `k` are
        // left once the trap travels back in the returned pair.
        let native = optimized_helper_signature(CodegenTarget::Native);
        assert!(native.contains("{ i64, i64 }"), "{native}");
        assert!(!native.contains("ptr"), "{native}");
        assert!(native.contains("(i64 %0, i64 %1)"), "{native}");
        // A function that is not recursive records its traps in the state
        // (and is inlined, where that costs nothing).
        let ir = super::super::module_ir(FIB);
        let main = function_ir(&ir, "run_main(");
        assert!(main.starts_with("internal i32 "), "{main}");
        // On wasm32 the helper records its trap in the state it keeps.
        let wasm = optimized_helper_signature(CodegenTarget::Wasm32);
        assert!(!wasm.contains("{ i64, i64 }"), "{wasm}");
        assert!(wasm.contains("ptr"), "{wasm}");
    }
}
