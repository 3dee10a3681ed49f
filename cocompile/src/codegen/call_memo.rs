//! Repeated pure calls are made once: `vx(s, 0)` written twice in one
//! expression, as Relon's let-less style invites, calls `vx` once.
//!
//! A Relon function is a function of its arguments: the same arguments give
//! the same result, or the same trap. So a second call with the same
//! callee and the same argument values, at a point the first call
//! dominates, can reuse the first call's result. Three things would make
//! the second call observable, and each rules the rewrite out:
//! - a host call or capability check anywhere below the callee (a host
//!   function may read a clock or a file): such a callee is not pure;
//! - writing the `#main` output record: not pure either;
//! - the step budget (each call spends fuel): the metered copy of the
//!   code never reuses a call.
//!
//! Only calls returning an `Int`, `Float` or `Bool` are reused.
//!
//! The emitter keeps one memo table per nested body it is inside (an
//! `If` arm's calls do not dominate the code after the `If`) and names a
//! let's value by the let and a generation that changes at every
//! `LetSet` and around every nested body that sets it (a loop's value of
//! a let is not the value before the loop).

use std::collections::{HashMap, HashSet};

use inkwell::values::BasicValueEnum;
use relon_ir::ir::{IrType, Module, Op, TaggedOp};

/// Module functions (by index) a repeated call to may be made once: no
/// effect anywhere below them, and a scalar result.
pub fn pure_module_functions(module: &Module) -> HashSet<u32> {
    let closure_bodies: HashSet<u32> = module.closure_table.iter().copied().collect();
    let mut effectful: HashSet<u32> = HashSet::new();
    // What each function calls: module functions, and whether it calls
    // through a closure handle (then any closure body may run).
    let mut callees: Vec<(HashSet<u32>, bool)> = Vec::with_capacity(module.funcs.len());
    for (index, func) in module.funcs.iter().enumerate() {
        let mut calls = HashSet::new();
        let mut calls_closures = false;
        let mut effects = false;
        crate::ir_walk::for_each_body(&func.body, &mut |ops| {
            for tagged in ops {
                match &tagged.op {
                    Op::Call { fn_index, .. } => {
                        calls.extend(crate::ir_walk::module_function_of(*fn_index));
                    }
                    Op::CallClosure { .. } => calls_closures = true,
                    op if has_effect(op) => effects = true,
                    _ => {}
                }
            }
        });
        if effects {
            effectful.insert(index as u32);
        }
        callees.push((calls, calls_closures));
    }
    loop {
        let a_closure_has_effects = closure_bodies.iter().any(|f| effectful.contains(f));
        let mut changed = false;
        for (index, (calls, calls_closures)) in callees.iter().enumerate() {
            let index = index as u32;
            if !effectful.contains(&index)
                && (calls.iter().any(|c| effectful.contains(c))
                    || (*calls_closures && a_closure_has_effects))
            {
                effectful.insert(index);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    module
        .funcs
        .iter()
        .enumerate()
        .filter(|(index, func)| {
            !effectful.contains(&(*index as u32))
                && matches!(func.ret, IrType::I64 | IrType::F64 | IrType::Bool)
        })
        .map(|(index, _)| index as u32)
        .collect()
}

/// Ops with an effect a repeated call would repeat.
fn has_effect(op: &Op) -> bool {
    matches!(
        op,
        Op::CallNative { .. }
            | Op::CheckCap { .. }
            | Op::StoreField { .. }
            | Op::AllocRootRecord { .. }
            | Op::AllocSubRecord { .. }
            | Op::StoreFieldAtRecord { .. }
            | Op::PushRecordBase { .. }
            | Op::EmitTailRecordFromAbsoluteAddr { .. }
            | Op::BuildVariantRecord { .. }
    )
}

/// How the memo names a value: a let's value by the let and the
/// generation of its value, a `#main` parameter by its offset, any other
/// value by itself (LLVM constants are
/// unique, so equal constants are the same value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKey<'ctx> {
    /// The value let `idx` held in generation `generation`.
    Let { idx: u32, generation: u64 },
    /// The `#main` parameter at `offset` of the input record (which
    /// nothing writes during a run).
    Param { offset: u32 },
    /// An SSA value.
    Value(BasicValueEnum<'ctx>),
}

/// A call, for the memo: the module function and its arguments (for a
/// closure call, the handle first).
pub type CallKey<'ctx> = (u32, Vec<ValueKey<'ctx>>);

/// The memo of one function being emitted.
#[derive(Debug)]
pub struct CallMemo<'ctx> {
    let_generation: HashMap<u32, u64>,
    next_generation: u64,
    let_values: HashMap<BasicValueEnum<'ctx>, ValueKey<'ctx>>,
    /// One scope per body being emitted, the function's own body first.
    scopes: Vec<Scope<'ctx>>,
}

/// The memo of a body being emitted.
#[derive(Debug, Default)]
struct Scope<'ctx> {
    /// Its calls.
    calls: HashMap<CallKey<'ctx>, BasicValueEnum<'ctx>>,
    /// The lets it (or a body nested in it) sets, renewed when it ends.
    lets_set: Vec<u32>,
}

impl Default for CallMemo<'_> {
    fn default() -> Self {
        CallMemo {
            let_generation: HashMap::new(),
            next_generation: 1,
            let_values: HashMap::new(),
            scopes: vec![Scope::default()],
        }
    }
}

impl<'ctx> CallMemo<'ctx> {
    /// The key of `value`.
    pub fn key_of(&self, value: BasicValueEnum<'ctx>) -> ValueKey<'ctx> {
        self.let_values
            .get(&value)
            .copied()
            .unwrap_or(ValueKey::Value(value))
    }

    /// `value` was just read from let `idx`.
    pub fn on_let_get(&mut self, idx: u32, value: BasicValueEnum<'ctx>) {
        let generation = self.let_generation.get(&idx).copied().unwrap_or(0);
        self.let_values
            .insert(value, ValueKey::Let { idx, generation });
    }

    /// `value` was just read from the `#main` parameter at `offset`.
    pub fn on_param_load(&mut self, offset: u32, value: BasicValueEnum<'ctx>) {
        self.let_values.insert(value, ValueKey::Param { offset });
    }

    /// Let `idx` was just given a new value.
    pub fn on_let_set(&mut self, idx: u32) {
        self.let_generation.insert(idx, self.next_generation);
        self.next_generation += 1;
    }

    /// A nested body starts: the lets it sets hold new values in it (a
    /// loop's next iteration), and its calls get a table of their own.
    pub fn enter_body(&mut self, body: &[TaggedOp]) {
        let set = crate::ir_walk::lets_set_in(body);
        self.renew(&set);
        self.scopes.push(Scope {
            calls: HashMap::new(),
            lets_set: set,
        });
    }

    /// The nested body entered last ends: its calls do not dominate what
    /// follows, and the lets it set hold merged values after it.
    pub fn leave_body(&mut self) {
        if self.scopes.len() > 1
            && let Some(scope) = self.scopes.pop()
        {
            self.renew(&scope.lets_set);
        }
    }

    fn renew(&mut self, lets: &[u32]) {
        for idx in lets {
            self.on_let_set(*idx);
        }
    }

    /// The result of an earlier identical call that dominates this point.
    pub fn lookup(&self, key: &CallKey<'ctx>) -> Option<BasicValueEnum<'ctx>> {
        self.scopes
            .iter()
            .rev()
            .find_map(|scope| scope.calls.get(key).copied())
    }

    /// Remember the result of a call emitted at this point.
    pub fn record(&mut self, key: CallKey<'ctx>, result: BasicValueEnum<'ctx>) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.calls.insert(key, result);
        }
    }
}

#[cfg(test)]
mod tests {
    use inkwell::context::Context;

    use super::super::{CodegenOptions, emit_module};

    /// Calls of the helper `name`'s function in the unmetered code of the
    /// entry, before any LLVM optimization.
    fn calls_in_entry(source: &str) -> usize {
        let lowered = crate::frontend::lower_source("t.relon", source, &[]).expect("lowers");
        let ctx = Context::create();
        let options = CodegenOptions::open_world();
        let emitted = emit_module(&ctx, "t", &lowered.lowered.module, &options).expect("emits");
        let ir = emitted.module.print_to_string().to_string();
        let entry = ir
            .split("\ndefine ")
            .find(|f| f.contains("run_main(") && !f.contains("_metered("))
            .expect("the unmetered #main function");
        entry
            .lines()
            .filter(|line| line.contains(" call ") && line.contains(" @relon.fn"))
            .count()
    }

    const HELPER: &str = "#unstrict\n#main(Int n) -> Int\nBODY\nwhere {\n  sq(x): x * x + 1\n}\n";

    #[test]
    fn a_repeated_call_with_the_same_arguments_is_made_once() {
        let twice = calls_in_entry(&HELPER.replace("BODY", "sq(n) + sq(n)"));
        let different = calls_in_entry(&HELPER.replace("BODY", "sq(n) + sq(n + 1)"));
        assert_eq!(twice, 1, "sq(n) + sq(n)");
        assert_eq!(different, 2, "sq(n) + sq(n + 1)");
    }

    #[test]
    fn a_let_set_in_a_loop_body_names_a_new_value_inside_it() {
        use relon_ir::ir::{IrType, Op, TaggedOp};

        let ctx = Context::create();
        let i64t = ctx.i64_type();
        let (before, inside, result) = (
            i64t.const_int(1, false).into(),
            i64t.const_int(2, false).into(),
            i64t.const_int(3, false).into(),
        );
        let mut memo = super::CallMemo::default();
        // `f(x)` before a loop whose body sets `x`.
        memo.on_let_get(4, before);
        let key_before = (9, vec![memo.key_of(before)]);
        memo.record(key_before.clone(), result);
        let body = [TaggedOp {
            op: Op::LetSet {
                idx: 4,
                ty: IrType::I64,
            },
            range: Default::default(),
        }];
        memo.enter_body(&body);
        // `f(x)` at the top of the body, before its `LetSet`: on a later
        // iteration `x` is no longer the value before the loop.
        memo.on_let_get(4, inside);
        assert_eq!(memo.lookup(&(9, vec![memo.key_of(inside)])), None);
        // The value read before the loop is still that value.
        assert_eq!(memo.lookup(&key_before), Some(result));
        memo.leave_body();
        assert_eq!(memo.lookup(&key_before), Some(result));
    }

    #[test]
    fn a_call_in_one_arm_is_not_reused_after_the_if() {
        // The first `sq(n)` runs only when n > 0: the one after the `If`
        // must be a call of its own.
        let calls = calls_in_entry(&HELPER.replace("BODY", "(n > 0 ? sq(n) : 0) + sq(n)"));
        assert_eq!(calls, 2);
    }
}
