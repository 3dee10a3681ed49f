//! Which closures a handle can name, so a `CallClosure` whose handle can
//! only be one closure becomes a direct call LLVM can inline.
//!
//! The front end lowers a `where` helper to a closure, and a helper that
//! calls another helper captures that helper's handle: `MakeClosure`
//! stores the handle of a let into the new closure's captures, and the
//! callee's body loads it back (`LocalGet(0)`, `LoadI32AtAbsolute`) into a
//! let that it then `CallClosure`s. Two helpers with the same signature
//! (`vx(s, i)` and `vy(s, i)`) would otherwise meet at every such call
//! in a switch over the closure table, with no inlining through it.
//!
//! The analysis is flow-insensitive over the whole module: a closure-typed
//! let holds the union of what each of its `LetSet`s stores, a capture
//! slot (closure-table slot, byte offset) the union of what each
//! `MakeClosure` for that slot stores there, solved to a fixpoint. A value
//! whose source is not one of the recognised shapes (a closure handle
//! from a parameter, an `If`, a list, ...) is [`Targets::Unknown`], and so
//! is everything it flows into: an answer is a superset of what can
//! happen at run time, never a guess.

use std::collections::{BTreeSet, HashMap, HashSet};

use relon_ir::ir::{IrType, Module, Op, TaggedOp};

/// The closure-table slots a handle can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// One of these slots (empty: nothing reached it yet).
    Known(BTreeSet<u32>),
    /// Anything.
    Unknown,
}

impl Targets {
    fn empty() -> Self {
        Targets::Known(BTreeSet::new())
    }

    /// Join `other` into `self`; whether `self` grew.
    fn join(&mut self, other: &Targets) -> bool {
        match (&mut *self, other) {
            (Targets::Unknown, _) => false,
            (_, Targets::Unknown) => {
                *self = Targets::Unknown;
                true
            }
            (Targets::Known(mine), Targets::Known(theirs)) => {
                let before = mine.len();
                mine.extend(theirs.iter().copied());
                mine.len() != before
            }
        }
    }
}

/// Where a stored handle comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// `MakeClosure { fn_table_idx }`.
    Made(u32),
    /// A let of a module function (by index).
    Let { func: u32, idx: u32 },
    /// The capture at `offset` of the running closure, module function `func`.
    OwnCapture { func: u32, offset: u32 },
    /// Anything else.
    Unknown,
}

/// The solved analysis.
#[derive(Debug, Default)]
pub struct ClosureTargets {
    /// Module function -> its lets whose closures are known (and not
    /// none), with the closure-table slots each can hold.
    known_lets: HashMap<u32, HashMap<u32, BTreeSet<u32>>>,
    /// Module functions that are closure bodies and nothing else: their
    /// first parameter is always a captures block.
    closure_bodies: HashSet<u32>,
}

impl ClosureTargets {
    /// Analyse every function of `module`.
    pub fn analyze(module: &Module) -> Self {
        let mut let_defs: Vec<((u32, u32), Source)> = Vec::new();
        let mut capture_defs: Vec<((u32, u32), Source)> = Vec::new();
        for (func, f) in module.funcs.iter().enumerate() {
            let mut bound = HashSet::new();
            collect(
                func as u32,
                &f.body,
                &mut bound,
                &mut let_defs,
                &mut capture_defs,
            );
        }
        // A closure function that is also `Call`ed directly gets a first
        // parameter that is not its captures: nothing is known of them.
        let mut called_directly = HashSet::new();
        for f in &module.funcs {
            crate::ir_walk::for_each_body(&f.body, &mut |ops| {
                for tagged in ops {
                    if let Op::Call { fn_index, .. } = tagged.op {
                        called_directly.extend(crate::ir_walk::module_function_of(fn_index));
                    }
                }
            });
        }
        let mut slots_of: HashMap<u32, Vec<u32>> = HashMap::new();
        for (slot, func) in module.closure_table.iter().enumerate() {
            slots_of.entry(*func).or_default().push(slot as u32);
        }

        let mut lets: HashMap<(u32, u32), Targets> = HashMap::new();
        let mut captures: HashMap<(u32, u32), Targets> = HashMap::new();
        let eval = |source: Source,
                    lets: &HashMap<(u32, u32), Targets>,
                    captures: &HashMap<(u32, u32), Targets>|
         -> Targets {
            match source {
                Source::Made(slot) => Targets::Known(BTreeSet::from([slot])),
                Source::Let { func, idx } => lets
                    .get(&(func, idx))
                    .cloned()
                    .unwrap_or_else(Targets::empty),
                Source::OwnCapture { func, offset } => {
                    let Some(slots) = slots_of.get(&func) else {
                        return Targets::Unknown;
                    };
                    if called_directly.contains(&func) {
                        return Targets::Unknown;
                    }
                    let mut out = Targets::empty();
                    for slot in slots {
                        if let Some(t) = captures.get(&(*slot, offset)) {
                            out.join(t);
                        }
                    }
                    out
                }
                Source::Unknown => Targets::Unknown,
            }
        };
        loop {
            let mut changed = false;
            for (key, source) in &let_defs {
                let value = eval(*source, &lets, &captures);
                changed |= lets.entry(*key).or_insert_with(Targets::empty).join(&value);
            }
            for (key, source) in &capture_defs {
                let value = eval(*source, &lets, &captures);
                changed |= captures
                    .entry(*key)
                    .or_insert_with(Targets::empty)
                    .join(&value);
            }
            if !changed {
                break;
            }
        }
        let closure_bodies = slots_of
            .keys()
            .copied()
            .filter(|func| !called_directly.contains(func))
            .collect();
        let mut known_lets: HashMap<u32, HashMap<u32, BTreeSet<u32>>> = HashMap::new();
        for ((func, idx), targets) in lets {
            if let Targets::Known(slots) = targets
                && !slots.is_empty()
            {
                known_lets.entry(func).or_default().insert(idx, slots);
            }
        }
        ClosureTargets {
            known_lets,
            closure_bodies,
        }
    }

    /// Whether module function `func` only ever runs as a closure, so its
    /// first parameter is its captures block.
    pub fn is_closure_body(&self, func: u32) -> bool {
        self.closure_bodies.contains(&func)
    }

    /// Every let of module function `func` with known targets.
    pub fn lets_of(&self, func: u32) -> HashMap<u32, BTreeSet<u32>> {
        self.known_lets.get(&func).cloned().unwrap_or_default()
    }
}

/// Walk `body` in emission order (tracking bound lets as the code
/// generator does) and record where each closure-typed `LetSet` and each
/// closure capture gets its handle.
fn collect(
    func: u32,
    body: &[TaggedOp],
    bound: &mut HashSet<u32>,
    let_defs: &mut Vec<((u32, u32), Source)>,
    capture_defs: &mut Vec<((u32, u32), Source)>,
) {
    for (at, tagged) in body.iter().enumerate() {
        match &tagged.op {
            Op::LetSet { idx, ty } => {
                if *ty == IrType::Closure {
                    let source = source_of_top(func, &body[..at]);
                    let_defs.push(((func, *idx), source));
                }
                bound.insert(*idx);
            }
            Op::MakeClosure {
                fn_table_idx,
                captures,
                ..
            } => {
                for capture in captures.iter().filter(|c| c.ty == IrType::Closure) {
                    // A capture of a let not bound yet is the closure
                    // capturing its own handle (see `emit_make_closure`).
                    let source = if bound.contains(&capture.let_idx) {
                        Source::Let {
                            func,
                            idx: capture.let_idx,
                        }
                    } else {
                        Source::Made(*fn_table_idx)
                    };
                    capture_defs.push(((*fn_table_idx, capture.offset), source));
                }
            }
            Op::If {
                then_body,
                else_body,
                ..
            } => {
                collect(func, then_body, bound, let_defs, capture_defs);
                collect(func, else_body, bound, let_defs, capture_defs);
            }
            Op::Block { body, .. } | Op::Loop { body, .. } => {
                collect(func, body, bound, let_defs, capture_defs)
            }
            _ => {}
        }
    }
}

/// Where the value on top of the stack after `before` comes from, judged
/// by the ops that pushed it.
fn source_of_top(func: u32, before: &[TaggedOp]) -> Source {
    let mut pushed = before.iter().rev().map(|tagged| &tagged.op);
    match (pushed.next(), pushed.next()) {
        (Some(Op::MakeClosure { fn_table_idx, .. }), _) => Source::Made(*fn_table_idx),
        (
            Some(Op::LetGet {
                idx,
                ty: IrType::Closure,
            }),
            _,
        ) => Source::Let { func, idx: *idx },
        (Some(Op::LoadI32AtAbsolute { offset }), Some(Op::LocalGet(0))) => Source::OwnCapture {
            func,
            offset: *offset,
        },
        _ => Source::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lower `source` with the upstream front end alone (our front end's
    /// extra checks refuse some programs the IR can express).
    fn targets_of(source: &str) -> (Module, ClosureTargets) {
        let ast = relon_parser::parse_document(source).expect("parses");
        let options = crate::frontend::analyze_options(&[]).expect("options");
        let analyzed = relon_analyzer::analyze_with_options(&ast, &options);
        let module = relon_ir::lower_workspace_single(&analyzed, &ast)
            .expect("lowers")
            .module;
        let targets = ClosureTargets::analyze(&module);
        (module, targets)
    }

    /// The closure-typed lets of the function named `name`, with their
    /// targets as function names.
    fn named_targets(module: &Module, targets: &ClosureTargets, name: &str) -> Vec<Vec<String>> {
        let func = module
            .funcs
            .iter()
            .position(|f| f.name == name)
            .expect("function exists") as u32;
        let mut lets: Vec<_> = targets.lets_of(func).into_iter().collect();
        lets.sort();
        lets.into_iter()
            .map(|(_, slots)| {
                slots
                    .iter()
                    .map(|s| {
                        module.funcs[module.closure_table[*s as usize] as usize]
                            .name
                            .clone()
                    })
                    .collect()
            })
            .collect()
    }

    /// `a` and `b` share a signature; `both` captures each of them.
    const BOTH: &str = "#unstrict\n#main(Int n) -> Int\nboth(n)\nwhere {\n  a(x): x + 1,\n  b(x): x * 2,\n  both(x): a(x) + b(x)\n}\n";

    /// The module function of `both`: the closure that calls closures.
    fn both_index(module: &Module) -> u32 {
        module
            .closure_table
            .iter()
            .copied()
            .find(|f| {
                module.funcs[*f as usize]
                    .body
                    .iter()
                    .any(|t| matches!(t.op, Op::CallClosure { .. }))
            })
            .expect("the closure of `both`")
    }

    #[test]
    fn a_captured_helper_is_known_inside_the_closure_that_captures_it() {
        let (module, targets) = targets_of(BOTH);
        let both = &module.funcs[both_index(&module) as usize];
        let lets = named_targets(&module, &targets, &both.name);
        assert_eq!(lets.len(), 2, "{lets:?}");
        assert!(lets.iter().all(|names| names.len() == 1), "{lets:?}");
        assert_ne!(lets[0], lets[1], "a and b are told apart: {lets:?}");
    }

    #[test]
    fn an_unknown_handle_stays_unknown_through_the_captures_it_reaches() {
        let (mut module, _) = targets_of(BOTH);
        // Make the entry bind `a` to a value of no recognised shape (as a
        // handle from a parameter or an `If` would be).
        let entry = module.entry_func_index.expect("an entry");
        let first_make = module.funcs[entry]
            .body
            .iter()
            .position(|t| matches!(t.op, Op::MakeClosure { .. }))
            .expect("the entry makes closures");
        module.funcs[entry].body[first_make].op = Op::LocalGet(0);
        let targets = ClosureTargets::analyze(&module);
        let both = both_index(&module);
        let lets = targets.lets_of(both);
        assert_eq!(lets.len(), 1, "only `b` is still known: {lets:?}");
    }
}
