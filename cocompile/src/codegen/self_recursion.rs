//! Recursive helpers call themselves directly.
//!
//! A Relon helper that calls itself is lowered as a closure that captures
//! its own handle: `MakeClosure` stores the handle being built into the
//! captures, and the body loads it back (`LocalGet(0)`, `LoadI32AtAbsolute`)
//! to `CallClosure` it. When every `MakeClosure` of a function stores the
//! self handle at the same capture offset, that load in the function's own
//! body is known to yield the running closure, whose captures are the
//! function's own first parameter: the call becomes a direct call passing
//! that parameter, with no handle loads and no bounds checks.

use std::collections::{HashMap, HashSet};

use relon_ir::ir::{Module, Op, TaggedOp};

/// For each module function (by index), the capture offset that always
/// holds its own handle.
pub fn self_capture_offsets(module: &Module) -> HashMap<u32, u32> {
    let mut sites: HashMap<u32, Vec<Option<u32>>> = HashMap::new();
    for func in &module.funcs {
        let mut bound = HashSet::new();
        scan(&func.body, module, &mut bound, &mut sites);
    }
    sites
        .into_iter()
        .filter_map(|(func, offsets)| match offsets.as_slice() {
            [Some(first), rest @ ..] if rest.iter().all(|o| *o == Some(*first)) => {
                Some((func, *first))
            }
            _ => None,
        })
        .collect()
}

/// Walk a body in emission order, tracking bound lets like the code
/// generator does, and record each `MakeClosure`'s self-capture offset.
fn scan(
    body: &[TaggedOp],
    module: &Module,
    bound: &mut HashSet<u32>,
    sites: &mut HashMap<u32, Vec<Option<u32>>>,
) {
    for tagged in body {
        match &tagged.op {
            Op::LetSet { idx, .. } => {
                bound.insert(*idx);
            }
            Op::MakeClosure {
                fn_table_idx,
                captures,
                ..
            } => {
                let self_offset = captures
                    .iter()
                    .find(|c| !bound.contains(&c.let_idx) && c.ty == relon_ir::ir::IrType::Closure)
                    .map(|c| c.offset);
                if let Some(func) = module.closure_table.get(*fn_table_idx as usize) {
                    sites.entry(*func).or_default().push(self_offset);
                }
            }
            Op::If {
                then_body,
                else_body,
                ..
            } => {
                scan(then_body, module, bound, sites);
                scan(else_body, module, bound, sites);
            }
            Op::Block { body, .. } | Op::Loop { body, .. } => scan(body, module, bound, sites),
            _ => {}
        }
    }
}

/// How many `LetSet`s each let index has in `body` (nested bodies included).
pub fn let_set_counts(body: &[TaggedOp], counts: &mut HashMap<u32, u32>) {
    crate::ir_walk::for_each_body(body, &mut |ops| {
        for tagged in ops {
            if let Op::LetSet { idx, .. } = tagged.op {
                *counts.entry(idx).or_default() += 1;
            }
        }
    });
}
