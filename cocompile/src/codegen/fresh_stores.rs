//! Stores into a fresh scratch allocation, sunk to the end of their
//! straight-line stretch of ops.
//!
//! A list literal is lowered as: allocate, then for each element compute
//! it and store it. When an element reads another list (n-body's
//! `step(s)` reads `s` sixteen times over, through inlined helpers), every
//! store before it may, as far as LLVM knows, have written that list: both
//! are arena data. So no read of `s` is shared across elements, and each
//! helper's work is done again.
//!
//! Nothing can read a fresh allocation before its offset is handed on, so
//! its stores may wait until then. This file tracks, within one stretch
//! of ops without IR control flow, the values that are a fresh
//! allocation's offset plus a constant (the allocation's result, the lets
//! set to it, and `+ c` / `& c` of them), and holds back the stores whose
//! base is one of them (their bounds check is emitted in place). The held
//! stores are emitted, in order, at the first of:
//! - a use of a tracked value as anything but a store's base, a let's
//!   value or an operand of `+ c` / `& c` (a call's argument, a stored
//!   value, a comparison...): the offset is handed on, so tracking stops;
//! - a read through a tracked value (the allocation is read back);
//! - any control-flow op, the end of a nested body, the function's end,
//!   and any op not known to be harmless here (tracking stops).
//!
//! So a held store is emitted before anything that could observe it,
//! where every value it needs still dominates (no IR control flow came in
//! between). A trap in between ends the run, and scratch is never read
//! after one. The one thing taken from the lowering: a constant added to
//! an allocation's offset addresses that allocation (a literal's length
//! and elements), never another value's bytes.

use std::collections::HashSet;

use inkwell::values::{BasicValueEnum, IntValue, PointerValue};
use relon_ir::ir::{IrType, Op};

use super::CodegenError;
use super::func::FuncEmitter;
use super::memory::absolute_store;

/// One held store: its checked address, the value, its type and base.
#[derive(Clone, Copy)]
struct HeldStore<'ctx> {
    addr: PointerValue<'ctx>,
    value: BasicValueEnum<'ctx>,
    ty: IrType,
    base: IntValue<'ctx>,
}

/// The tracked offsets and the held stores of the current stretch.
#[derive(Default)]
pub(crate) struct FreshStores<'ctx> {
    /// SSA values that are a fresh allocation's offset plus a constant.
    offsets: HashSet<BasicValueEnum<'ctx>>,
    /// Let slots holding such a value.
    lets: HashSet<u32>,
    /// Stores not emitted yet, in program order.
    held: Vec<HeldStore<'ctx>>,
}

/// What [`FuncEmitter::fresh_before_op`] decided about the op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FreshStep {
    /// The op was a store into a fresh allocation, now held: do not emit it.
    Held,
    /// Emit the op; then its result is a tracked offset.
    EmitTracked,
    /// Emit the op as usual.
    Emit,
}

impl<'m, 'ctx, 'ir> FuncEmitter<'m, 'ctx, 'ir> {
    fn is_fresh(&self, value: &BasicValueEnum<'ctx>) -> bool {
        self.fresh.offsets.contains(value)
    }

    /// Whether one of the top `n` values of the stack is a tracked offset.
    fn fresh_in_top(&self, n: usize) -> bool {
        let len = self.stack.len();
        self.stack[len.saturating_sub(n)..]
            .iter()
            .any(|v| self.is_fresh(v))
    }

    /// The stack value `depth` below the top (0: the top).
    fn stack_at(&self, depth: usize) -> Option<BasicValueEnum<'ctx>> {
        self.stack
            .len()
            .checked_sub(depth + 1)
            .map(|i| self.stack[i])
    }

    /// Decide what `op` means for the held stores before it is emitted:
    /// hold it, emit the held stores first, or let it pass.
    pub(crate) fn fresh_before_op(&mut self, op: &Op) -> Result<FreshStep, CodegenError> {
        if let Some((offset, ty)) = absolute_store(op) {
            let value_fresh = self.stack_at(0).is_some_and(|v| self.is_fresh(&v));
            let base_fresh = self.stack_at(1).is_some_and(|v| self.is_fresh(&v));
            return if value_fresh {
                self.fresh_escape()?;
                Ok(FreshStep::Emit)
            } else if base_fresh {
                self.hold_store(offset, ty)?;
                Ok(FreshStep::Held)
            } else {
                Ok(FreshStep::Emit)
            };
        }
        let step = match op {
            Op::ConstBool(_)
            | Op::ConstI32(_)
            | Op::ConstI64(_)
            | Op::ConstF64(_)
            | Op::LocalGet(_) => FreshStep::Emit,
            Op::LetGet { idx, .. } if self.fresh.lets.contains(idx) => FreshStep::EmitTracked,
            Op::LetGet { .. } => FreshStep::Emit,
            Op::LetSet { idx, .. } => {
                if self.stack_at(0).is_some_and(|v| self.is_fresh(&v)) {
                    self.fresh.lets.insert(*idx);
                } else {
                    self.fresh.lets.remove(idx);
                }
                FreshStep::Emit
            }
            Op::Add(IrType::I32) | Op::BitAnd(IrType::I32) => {
                match (self.stack_at(1), self.stack_at(0)) {
                    (Some(a), Some(b)) if self.is_fresh(&a) || self.is_fresh(&b) => {
                        let other = if self.is_fresh(&a) { b } else { a };
                        if is_int_constant(other) {
                            FreshStep::EmitTracked
                        } else {
                            self.fresh_escape()?;
                            FreshStep::Emit
                        }
                    }
                    _ => FreshStep::Emit,
                }
            }
            Op::LoadI32AtAbsolute { .. }
            | Op::LoadI64AtAbsolute { .. }
            | Op::LoadF64AtAbsolute { .. }
            | Op::LoadI8UAtAbsolute { .. } => {
                if self.fresh_in_top(1) {
                    self.fresh_flush()?;
                }
                FreshStep::Emit
            }
            Op::ListGetByIntIdx { .. } => {
                if self.stack_at(0).is_some_and(|v| self.is_fresh(&v)) {
                    self.fresh_escape()?;
                } else if self.fresh_in_top(2) {
                    self.fresh_flush()?;
                }
                FreshStep::Emit
            }
            // The `#main` arguments: never scratch.
            Op::LoadField { .. } => FreshStep::Emit,
            // A closure capturing a tracked let is handed its offset.
            Op::MakeClosure { captures, .. } => {
                if captures
                    .iter()
                    .any(|c| self.fresh.lets.contains(&c.let_idx))
                {
                    self.fresh_escape()?;
                }
                FreshStep::Emit
            }
            Op::AllocScratch { .. } => FreshStep::EmitTracked,
            Op::AllocScratchDyn => {
                if self.fresh_in_top(1) {
                    self.fresh_escape()?;
                }
                FreshStep::EmitTracked
            }
            // Calls: the callee cannot reach an allocation whose offset it
            // is not given (arena memory is reachable only through offsets,
            // and a tracked one was never stored anywhere).
            Op::Call { param_tys, .. } => self.fresh_operands(param_tys.len())?,
            Op::CallClosure { param_tys, .. } => self.fresh_operands(param_tys.len() + 1)?,
            Op::Add(_) | Op::Sub(_) | Op::Mul(_) | Op::Div(_) | Op::Mod(_) | Op::BitAnd(_) => {
                self.fresh_operands(2)?
            }
            Op::Eq(_) | Op::Ne(_) | Op::Lt(_) | Op::Le(_) | Op::Gt(_) | Op::Ge(_) => {
                self.fresh_operands(2)?
            }
            Op::F64Pow => self.fresh_operands(2)?,
            Op::ConvertI64ToF64 | Op::F64ToI64Sat | Op::F64Unary(_) => self.fresh_operands(1)?,
            Op::Select { .. } => self.fresh_operands(3)?,
            // Control flow, host calls, records, strings, closures and
            // everything else: emit the held stores and stop tracking.
            _ => {
                self.fresh_escape()?;
                FreshStep::Emit
            }
        };
        Ok(step)
    }

    /// After an op [`Self::fresh_before_op`] said `EmitTracked` for: its
    /// result is a tracked offset.
    pub(crate) fn fresh_after_op(&mut self) {
        if let Some(top) = self.stack_at(0) {
            self.fresh.offsets.insert(top);
        }
    }

    /// An op taking the top `n` values: if one is a tracked offset, it is
    /// handed on.
    fn fresh_operands(&mut self, n: usize) -> Result<FreshStep, CodegenError> {
        if self.fresh_in_top(n) {
            self.fresh_escape()?;
        }
        Ok(FreshStep::Emit)
    }

    /// `Store*AtAbsolute` into a fresh allocation: check the address now,
    /// store later.
    fn hold_store(&mut self, offset: u32, ty: IrType) -> Result<(), CodegenError> {
        let value = self.pop()?;
        let base = self.pop_int()?;
        let (addr, value) = self.store_operands(base, offset, ty, value)?;
        self.fresh.held.push(HeldStore {
            addr,
            value,
            ty,
            base,
        });
        Ok(())
    }

    /// Emit the held stores, in order; tracking goes on.
    pub(crate) fn fresh_flush(&mut self) -> Result<(), CodegenError> {
        for held in std::mem::take(&mut self.fresh.held) {
            self.store_checked_value(held.addr, held.value, held.ty, held.base)?;
        }
        Ok(())
    }

    /// Emit the held stores and stop tracking: an offset was handed on,
    /// or control flow starts or ends a stretch.
    pub(crate) fn fresh_escape(&mut self) -> Result<(), CodegenError> {
        self.fresh_flush()?;
        self.fresh.offsets.clear();
        self.fresh.lets.clear();
        Ok(())
    }
}

fn is_int_constant(value: BasicValueEnum<'_>) -> bool {
    matches!(value, BasicValueEnum::IntValue(v) if v.is_const())
}

#[cfg(test)]
mod tests {
    /// The unoptimized text of the unmetered function named `name`.
    fn function_ir(source: &str, name: &str) -> String {
        super::super::unmetered_function_ir(source, &format!(".{name}("))
    }

    /// Line numbers of the calls of emitted functions and of the arena
    /// stores (the ones with an alias tag) in `ir`.
    fn calls_and_stores(ir: &str) -> (Vec<usize>, Vec<usize>) {
        let lines: Vec<&str> = ir.lines().collect();
        let calls = (0..lines.len())
            .filter(|&i| lines[i].contains(" call ") && lines[i].contains("@relon.fn"))
            .collect();
        let stores = (0..lines.len())
            .filter(|&i| lines[i].trim_start().starts_with("store") && lines[i].contains("!tbaa"))
            .collect();
        (calls, stores)
    }

    /// n-body's shape: `step` builds a list from helpers that read `s`.
    const STEP: &str = "#unstrict\n#main(Int n) -> Int\nr[1]\nwhere {\n  xs(k): [k, 2, 3],\n  h(s, i): s[i] * s[2 - i],\n  step(s): [s[0] + h(s, 0), s[1] + h(s, 1), LAST],\n  r: step(xs(n))\n}\n";

    #[test]
    fn a_literal_s_stores_wait_until_its_elements_are_computed() {
        let ir = function_ir(&STEP.replace("LAST", "s[2] + h(s, 2)"), "__closure_2");
        let (calls, stores) = calls_and_stores(&ir);
        assert_eq!(calls.len(), 3, "three calls of h in step:\n{ir}");
        assert_eq!(stores.len(), 4, "the length and three elements:\n{ir}");
        assert!(
            stores.iter().all(|s| calls.iter().all(|c| s > c)),
            "every store after every call:\n{ir}"
        );
    }

    #[test]
    fn a_fresh_list_handed_to_a_call_is_complete_before_it() {
        let ir = function_ir(&STEP.replace("LAST", "h([s[2], 1, 2], 0)"), "__closure_2");
        let (calls, stores) = calls_and_stores(&ir);
        assert_eq!(calls.len(), 3, "{ir}");
        assert_eq!(stores.len(), 8, "two lengths and six elements:\n{ir}");
        // The call taking the inner literal hands on a fresh offset, so
        // every store held so far (the outer list's length and first two
        // elements, the whole inner list) is emitted before it.
        let before = stores.iter().filter(|&&s| s < calls[2]).count();
        assert_eq!(
            before, 7,
            "all but the outer list's last element first:\n{ir}"
        );
    }
}
