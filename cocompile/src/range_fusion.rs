//! IR-to-IR pass over a lowered module: a `range(a, b)` list whose only
//! use is to be handed to a bundled stdlib function (`_list_map`,
//! `_list_filter`, ...) is never filled. The call goes to a copy of the
//! stdlib body that counts the elements (`a`, `a + 1`, ...) where the
//! original loads them back from the list.
//!
//! `relon-ir` lowers `range(a, b)` as a value to one fixed sequence: the
//! length `max(b - a, 0)` into an `i32` let, a scratch allocation of
//! `8 + 8·len` bytes, the length word, and a loop that stores `a + i` at
//! the 8-aligned payload for `i` in `0..len`. A stdlib call then walks the
//! list again and loads each element, so every element costs a store, a
//! load and a loop of its own, and whatever the call does with an element
//! waits on that load.
//!
//! A site is fused only when all of this holds, so the program computes
//! the same values and stops with the same errors:
//!
//! - the ops from the start let's read through the fill loop are exactly
//!   the lowering's range sequence (`range_fill`), so each stored element
//!   is `a + i`, and `a + len ≤ b` (the `i32` length is at most
//!   `b - a`): counting to `a + len` cannot overflow where the fill did
//!   not;
//! - the list, the fill's index and the fill's value are read nowhere
//!   else in the function but in that sequence and as the first argument
//!   of the call, which follows the loop (its other arguments are
//!   computed in between from lets, the input record, constants and
//!   closures, none of which reads the three); the fill itself cannot
//!   trap and writes only into its own list, so dropping it cannot
//!   change what a run answers or which error it stops with;
//! - the callee's body reads its list parameter only as the length word
//!   and the element `payload + 8·i` of its one counted loop, where `i`
//!   starts at 0 and steps by one at the end of each turn, and no branch
//!   skips that step (`range_variant`).
//!
//! The allocation and the length word stay, so the arena's use and the
//! callee's length are unchanged. The fused copy is a module function,
//! appended after the program's own (no existing call index moves), one
//! per stdlib function that needs it.

use std::collections::HashMap;

use relon_ir::ir::{IrType, Module, Op, TaggedOp, body_let_watermark};
use relon_parser::TokenRange;

use crate::ir_walk::{for_each_body, for_each_body_mut, tagged};

/// Fuse every qualifying range fill in the module's own functions into
/// the stdlib call it feeds; the number of sites fused.
pub fn fuse_range_sources(module: &mut Module) -> usize {
    let stdlib_count = relon_ir::stdlib_function_count();
    let mut variants = Variants {
        next_index: stdlib_count + module.funcs.len() as u32,
        by_stdlib: HashMap::new(),
        added: Vec::new(),
    };
    let mut fused = 0;
    for func in &mut module.funcs {
        let uses = LetUses::of(&func.body);
        for_each_body_mut(&mut func.body, &mut |ops| {
            fused += fuse_in(ops, &uses, &mut variants);
        });
    }
    module.funcs.extend(variants.added);
    fused
}

/// The range variants made so far, and the combined call index of each.
struct Variants {
    next_index: u32,
    /// stdlib index → combined index of its variant (`None`: it has none).
    by_stdlib: HashMap<u32, Option<u32>>,
    added: Vec<relon_ir::ir::Func>,
}

impl Variants {
    /// The combined call index of the range variant of stdlib function
    /// `stdlib`, made on first use; `None` when its body does not qualify.
    fn index_of(&mut self, stdlib: u32, range: TokenRange) -> Option<u32> {
        if let Some(known) = self.by_stdlib.get(&stdlib) {
            return *known;
        }
        let made = relon_ir::builtin_stdlib()
            .get(stdlib as usize)
            .and_then(|f| {
                let body = range_variant(&f.params, f.body())?;
                let mut params = f.params.clone();
                params.push(IrType::I64);
                Some(relon_ir::ir::Func {
                    name: format!("{}_over_range", f.name),
                    params,
                    ret: f.ret,
                    body,
                    range,
                })
            })
            .map(|func| {
                self.added.push(func);
                self.next_index += 1;
                self.next_index - 1
            });
        self.by_stdlib.insert(stdlib, made);
        made
    }
}

/// How often each let of one function is read (`LetGet` or a closure
/// capture) and set, over all its bodies.
struct LetUses {
    reads: HashMap<u32, usize>,
    sets: HashMap<u32, usize>,
}

impl LetUses {
    fn of(body: &[TaggedOp]) -> Self {
        let mut uses = LetUses {
            reads: HashMap::new(),
            sets: HashMap::new(),
        };
        for_each_body(body, &mut |ops| {
            for tagged in ops {
                match &tagged.op {
                    Op::LetGet { idx, .. } => *uses.reads.entry(*idx).or_default() += 1,
                    Op::LetSet { idx, .. } => *uses.sets.entry(*idx).or_default() += 1,
                    Op::MakeClosure { captures, .. } => {
                        for capture in captures {
                            *uses.reads.entry(capture.let_idx).or_default() += 1;
                        }
                    }
                    _ => {}
                }
            }
        });
        uses
    }

    fn reads(&self, idx: u32) -> usize {
        self.reads.get(&idx).copied().unwrap_or(0)
    }

    fn sets(&self, idx: u32) -> usize {
        self.sets.get(&idx).copied().unwrap_or(0)
    }
}

/// Fuse the sites in `ops` (one op sequence, not the bodies nested in it).
fn fuse_in(ops: &mut Vec<TaggedOp>, uses: &LetUses, variants: &mut Variants) -> usize {
    let mut fused = 0;
    let mut at = 0;
    while at < ops.len() {
        if let Some(site) = match_site(ops, at, uses)
            && let Some(index) = variants.index_of(site.stdlib, ops[site.call].range)
            && let Op::Call {
                fn_index,
                arg_count,
                param_tys,
                ..
            } = &mut ops[site.call].op
        {
            // The variant takes the range's start after the call's arguments.
            *fn_index = index;
            *arg_count += 1;
            param_tys.push(IrType::I64);
            let range = ops[site.call].range;
            ops.insert(
                site.call,
                TaggedOp {
                    op: Op::LetGet {
                        idx: site.value,
                        ty: IrType::I64,
                    },
                    range,
                },
            );
            ops.remove(at);
            fused += 1;
            continue;
        }
        at += 1;
    }
    fused
}

/// A range fill whose list feeds one stdlib call.
#[derive(Debug, PartialEq)]
struct Site {
    /// The let the fill's loop counts its value in (`a` before the loop).
    value: u32,
    /// Position of the `Call` in the same op sequence.
    call: usize,
    /// The stdlib function it calls.
    stdlib: u32,
}

/// The fill loop of a range at `ops[block]` whose list only feeds the
/// stdlib call right after it.
fn match_site(ops: &[TaggedOp], block: usize, uses: &LetUses) -> Option<Site> {
    let fill = range_fill(ops, block)?;
    // The list: the length word, the payload base, and the call.
    if uses.reads(fill.list) != 3 || uses.sets(fill.list) != 1 {
        return None;
    }
    // The index and the value: only the loop (and its set-up) uses them.
    if uses.reads(fill.index) != 3 || uses.sets(fill.index) != 2 {
        return None;
    }
    if uses.reads(fill.value) != 2 || uses.sets(fill.value) != 2 {
        return None;
    }
    let first = ops.get(block + 1)?;
    if first.op
        != (Op::LetGet {
            idx: fill.list,
            ty: IrType::I32,
        })
    {
        return None;
    }
    let untouched = |idx: u32| idx != fill.list && idx != fill.index && idx != fill.value;
    // The other arguments: reads of lets, the input record and constants,
    // arithmetic on them, closures, and sets of other lets (the lowering
    // binds a closure's captures just before it). None of them can reach
    // the list, and none pops it: the stack never drops below it.
    let mut call = block + 2;
    let mut above = 0u32;
    while let Some(tagged) = ops.get(call) {
        let (pops, pushes) = match &tagged.op {
            Op::LetGet { idx, .. } if untouched(*idx) => (0, 1),
            Op::LetSet { idx, .. } if untouched(*idx) => (1, 0),
            Op::MakeClosure { captures, .. } if captures.iter().all(|c| untouched(c.let_idx)) => {
                (0, 1)
            }
            Op::ConstI64(_)
            | Op::ConstI32(_)
            | Op::ConstF64(_)
            | Op::ConstBool(_)
            | Op::LoadField { .. } => (0, 1),
            Op::Add(_)
            | Op::Sub(_)
            | Op::Mul(_)
            | Op::Div(_)
            | Op::Mod(_)
            | Op::Eq(_)
            | Op::Ne(_)
            | Op::Lt(_)
            | Op::Le(_)
            | Op::Gt(_)
            | Op::Ge(_) => (2, 1),
            _ => break,
        };
        above = above.checked_sub(pops)? + pushes;
        call += 1;
    }
    let Op::Call {
        fn_index,
        arg_count,
        param_tys,
        ..
    } = &ops.get(call)?.op
    else {
        return None;
    };
    let stdlib = *fn_index;
    let is_stdlib = crate::ir_walk::module_function_of(stdlib).is_none();
    (is_stdlib
        && *arg_count == above + 1
        && param_tys.len() == *arg_count as usize
        && param_tys.first() == Some(&IrType::ListInt))
    .then_some(Site {
        value: fill.value,
        call,
        stdlib,
    })
}

/// The lets of a lowered range fill.
#[derive(Debug, PartialEq)]
struct RangeFill {
    list: u32,
    index: u32,
    value: u32,
}

/// `ops[block]` is the fill loop of a value `range(a, b)`, preceded by the
/// rest of the lowering's sequence from `a`'s read for `b - a` on.
fn range_fill(ops: &[TaggedOp], block: usize) -> Option<RangeFill> {
    use IrType::{I32, I64};
    let Op::Block {
        result_ty: None,
        body,
    } = &ops.get(block)?.op
    else {
        return None;
    };
    let [
        TaggedOp {
            op:
                Op::Loop {
                    result_ty: None,
                    body: fill,
                },
            ..
        },
    ] = body.as_slice()
    else {
        return None;
    };
    let get = |idx, ty| Op::LetGet { idx, ty };
    let set = |idx, ty| Op::LetSet { idx, ty };
    let let_of = |op: &Op| match op {
        Op::LetGet { idx, .. } | Op::LetSet { idx, .. } => Some(*idx),
        _ => None,
    };
    let index = let_of(&fill.first()?.op)?;
    let len = let_of(&fill.get(1)?.op)?;
    let payload = let_of(&fill.get(4)?.op)?;
    let value = let_of(&fill.get(9)?.op)?;
    let expected_fill = [
        get(index, I32),
        get(len, I32),
        Op::Ge(I32),
        Op::BrIf { label_depth: 1 },
        get(payload, I32),
        get(index, I32),
        Op::ConstI32(8),
        Op::Mul(I32),
        Op::Add(I32),
        get(value, I64),
        Op::StoreI64AtAbsolute { offset: 0 },
    ]
    .into_iter()
    .chain(add_one(index, I32))
    .chain(add_one(value, I64))
    .chain([Op::Br { label_depth: 0 }])
    .collect::<Vec<_>>();
    if !same_ops(fill, &expected_fill) {
        return None;
    }
    let before = ops.get(block.checked_sub(28)?..block)?;
    let start = let_of(&before[26].op)?;
    let span = let_of(&before[2].op)?;
    let list = let_of(&before[14].op)?;
    let expected_before = [
        get(start, I64),
        Op::Sub(I64),
        set(span, I64),
        get(span, I64),
        Op::ConstI64(0),
        Op::Gt(I64),
        Op::If {
            result_ty: I64,
            then_body: vec![tagged(get(span, I64))],
            else_body: vec![tagged(Op::ConstI64(0))],
        },
        set(len, I32),
        Op::ConstI32(8),
        get(len, I32),
        Op::ConstI32(8),
        Op::Mul(I32),
        Op::Add(I32),
        Op::AllocScratchDyn,
        set(list, I32),
        get(list, I32),
        get(len, I32),
        Op::StoreI32AtAbsolute { offset: 0 },
        get(list, I32),
        Op::ConstI32(11),
        Op::Add(I32),
        Op::ConstI32(-8),
        Op::BitAnd(I32),
        set(payload, I32),
        Op::ConstI32(0),
        set(index, I32),
        get(start, I64),
        set(value, I64),
    ];
    same_ops(before, &expected_before).then_some(RangeFill { list, index, value })
}

/// `let idx += 1` for a let of type `ty` (`I32` or `I64`).
fn add_one(idx: u32, ty: IrType) -> [Op; 4] {
    let one = if ty == IrType::I64 {
        Op::ConstI64(1)
    } else {
        Op::ConstI32(1)
    };
    [
        Op::LetGet { idx, ty },
        one,
        Op::Add(ty),
        Op::LetSet { idx, ty },
    ]
}

/// `ops` are `expected`, whatever their source ranges.
fn same_ops(ops: &[TaggedOp], expected: &[Op]) -> bool {
    ops.len() == expected.len() && ops.iter().zip(expected).all(|(t, e)| same_op(&t.op, e))
}

/// `op` is `expected`, comparing nested bodies without their source ranges.
fn same_op(op: &Op, expected: &Op) -> bool {
    match (op, expected) {
        (
            Op::If {
                result_ty,
                then_body,
                else_body,
            },
            Op::If {
                result_ty: want_ty,
                then_body: want_then,
                else_body: want_else,
            },
        ) => {
            result_ty == want_ty
                && same_bodies(then_body, want_then)
                && same_bodies(else_body, want_else)
        }
        _ => op == expected,
    }
}

fn same_bodies(ops: &[TaggedOp], expected: &[TaggedOp]) -> bool {
    ops.len() == expected.len() && ops.iter().zip(expected).all(|(t, e)| same_op(&t.op, &e.op))
}

/// The body of a stdlib function with `params` and `body` that takes one
/// more parameter, an `I64` start, and reads element `i` of its list
/// parameter as `start + i`; `None` unless the body reads the list only
/// as described in the module doc.
pub fn range_variant(params: &[IrType], body: &[TaggedOp]) -> Option<Vec<TaggedOp>> {
    use IrType::{I32, I64};
    if params.first() != Some(&IrType::ListInt) {
        return None;
    }
    let uses = LetUses::of(body);
    // The one loop, at the top level: `Block { Loop { .. } }`.
    let mut loops = 0;
    for_each_body(body, &mut |ops| {
        loops += ops
            .iter()
            .filter(|t| matches!(t.op, Op::Loop { .. }))
            .count();
    });
    if loops != 1 {
        return None;
    }
    let block = body.iter().position(|t| match &t.op {
        Op::Block {
            result_ty: None,
            body,
        } => matches!(
            body.as_slice(),
            [TaggedOp {
                op: Op::Loop {
                    result_ty: None,
                    ..
                },
                ..
            }]
        ),
        _ => false,
    })?;
    let Op::Block { body: outer, .. } = &body[block].op else {
        return None;
    };
    let Op::Loop { body: turn, .. } = &outer.first()?.op else {
        return None;
    };
    let let_of = |op: &Op| match op {
        Op::LetGet { idx, .. } | Op::LetSet { idx, .. } => Some(*idx),
        _ => None,
    };
    let index = let_of(&turn.first()?.op)?;
    let len = let_of(&turn.get(1)?.op)?;
    let head = [
        Op::LetGet {
            idx: index,
            ty: I32,
        },
        Op::LetGet { idx: len, ty: I32 },
        Op::Ge(I32),
        Op::BrIf { label_depth: 1 },
    ];
    let [get, one, add, set] = add_one(index, I32);
    let step = [get, one, add, set, Op::Br { label_depth: 0 }];
    if turn.len() < head.len() + step.len()
        || !same_ops(&turn[..head.len()], &head)
        || !same_ops(&turn[turn.len() - step.len()..], &step)
    {
        return None;
    }
    // The index: 0 at the loop's entry, then only the step sets it.
    let zeroed = body[..block].windows(2).rev().find_map(|w| match &w[1].op {
        Op::LetSet { idx, .. } if *idx == index => Some(w[0].op == Op::ConstI32(0)),
        _ => None,
    });
    if zeroed != Some(true) || uses.sets(index) != 2 {
        return None;
    }
    // The bound: the list's length word, set once before the loop.
    let length = [
        Op::LocalGet(0),
        Op::LoadI32AtAbsolute { offset: 0 },
        Op::LetSet { idx: len, ty: I32 },
    ];
    if uses.sets(len) != 1 || !body[..block].windows(3).any(|w| same_ops(w, &length)) {
        return None;
    }
    // The list parameter: read as its length word, or once for the
    // payload base, set once before the loop.
    let mut payload = None;
    let mut list_reads_ok = true;
    for_each_body(body, &mut |ops| {
        for (at, tagged) in ops.iter().enumerate() {
            if tagged.op != Op::LocalGet(0) {
                continue;
            }
            let rest = &ops[at + 1..];
            if rest.first().map(|t| &t.op) == Some(&Op::LoadI32AtAbsolute { offset: 0 }) {
                continue;
            }
            match rest
                .get(..5)
                .map(|r| r.iter().map(|t| &t.op).collect::<Vec<_>>())
            {
                Some(r)
                    if *r[0] == Op::ConstI32(11)
                        && *r[1] == Op::Add(I32)
                        && *r[2] == Op::ConstI32(-8)
                        && *r[3] == Op::BitAnd(I32)
                        && payload.is_none() =>
                {
                    match r[4] {
                        Op::LetSet { idx, ty: I32 } => payload = Some(*idx),
                        _ => list_reads_ok = false,
                    }
                }
                _ => list_reads_ok = false,
            }
        }
    });
    let payload = payload?;
    let payload_set = [
        Op::LocalGet(0),
        Op::ConstI32(11),
        Op::Add(I32),
        Op::ConstI32(-8),
        Op::BitAnd(I32),
        Op::LetSet {
            idx: payload,
            ty: I32,
        },
    ];
    if !list_reads_ok
        || uses.sets(payload) != 1
        || !body[..block].windows(6).any(|w| same_ops(w, &payload_set))
    {
        return None;
    }
    // Every read of the payload is an element load in the loop.
    let element = [
        Op::LetGet {
            idx: payload,
            ty: I32,
        },
        Op::LetGet {
            idx: index,
            ty: I32,
        },
        Op::ConstI32(8),
        Op::Mul(I32),
        Op::Add(I32),
        Op::LoadI64AtAbsolute { offset: 0 },
    ];
    let mut element_loads = 0;
    for_each_body(turn, &mut |ops| {
        element_loads += ops
            .windows(element.len())
            .filter(|w| same_ops(w, &element))
            .count();
    });
    if element_loads == 0 || element_loads != uses.reads(payload) {
        return None;
    }
    // No branch goes back to the loop's head but the step's.
    if continues(&turn[..turn.len() - 1], 0) {
        return None;
    }

    let start = params.len() as u32;
    let value = body_let_watermark(body);
    let mut fused = body[..block].to_vec();
    fused.push(tagged(Op::LocalGet(start)));
    fused.push(tagged(Op::LetSet {
        idx: value,
        ty: I64,
    }));
    let mut turn = turn.clone();
    let br = turn.pop()?;
    turn.extend(add_one(value, I64).map(tagged));
    turn.push(br);
    replace_element_loads(&mut turn, &element, value);
    fused.push(TaggedOp {
        op: Op::Block {
            result_ty: None,
            body: vec![TaggedOp {
                op: Op::Loop {
                    result_ty: None,
                    body: turn,
                },
                range: outer[0].range,
            }],
        },
        range: body[block].range,
    });
    fused.extend_from_slice(&body[block + 1..]);
    crate::codegen::assigned::first_unassigned_read(&fused)
        .is_none()
        .then_some(fused)
}

/// Whether a branch in `ops` (nested `depth` labels inside the loop)
/// goes to the loop's head.
fn continues(ops: &[TaggedOp], depth: u32) -> bool {
    ops.iter().any(|tagged| match &tagged.op {
        Op::Br { label_depth } | Op::BrIf { label_depth } => *label_depth == depth,
        Op::BrTable { .. } => true,
        Op::If {
            then_body,
            else_body,
            ..
        } => continues(then_body, depth + 1) || continues(else_body, depth + 1),
        Op::Block { body, .. } | Op::Loop { body, .. } => continues(body, depth + 1),
        _ => false,
    })
}

/// Replace each element load (`element`) in `ops` and the bodies nested
/// in it by a read of `value`.
fn replace_element_loads(ops: &mut Vec<TaggedOp>, element: &[Op], value: u32) {
    for_each_body_mut(ops, &mut |ops| {
        let mut at = 0;
        while at < ops.len() {
            if ops
                .get(at..at + element.len())
                .is_some_and(|w| same_ops(w, element))
            {
                let range = ops[at].range;
                ops.splice(
                    at..at + element.len(),
                    [TaggedOp {
                        op: Op::LetGet {
                            idx: value,
                            ty: IrType::I64,
                        },
                        range,
                    }],
                );
            }
            at += 1;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::test_ir::stdlib_function;

    /// `source` lowered and raised, before this pass.
    fn lowered(source: &str) -> Module {
        let ast = relon_parser::parse_document(source).expect("parses");
        let options = crate::frontend::analyze_options(&[]).expect("options");
        let analyzed = relon_analyzer::analyze_with_options(&ast, &options);
        let mut lowered = relon_ir::lower_workspace_single(&analyzed, &ast).expect("lowers");
        crate::raise::raise_inline_reads(&mut lowered.module);
        lowered.module
    }

    const MAP_OVER_RANGE: &str =
        "#main(Int a, Int b) -> Int\n_len(_list_map(range(a, b), (i) => i * a))";

    /// The calls in `body` and the bodies nested in it.
    fn calls(body: &[TaggedOp]) -> Vec<(u32, u32)> {
        let mut found = Vec::new();
        for_each_body(body, &mut |ops| {
            for tagged in ops {
                if let Op::Call {
                    fn_index,
                    arg_count,
                    ..
                } = tagged.op
                {
                    found.push((fn_index, arg_count));
                }
            }
        });
        found
    }

    fn fill_lets(module: &Module) -> RangeFill {
        let mut found = None;
        for_each_body(&module.funcs[0].body, &mut |ops| {
            for at in 0..ops.len() {
                if let Some(fill) = range_fill(ops, at) {
                    found = Some(fill);
                }
            }
        });
        found.expect("a range fill")
    }

    #[test]
    fn the_stdlib_walks_that_only_read_their_elements_get_a_range_variant() {
        let with_variant: Vec<&str> = relon_ir::builtin_stdlib()
            .iter()
            .filter(|f| range_variant(&f.params, f.body()).is_some())
            .map(|f| f.name)
            .collect();
        for name in [
            "list_int_map",
            "list_int_filter",
            "list_int_fold",
            "list_int_sum",
            "list_int_every",
            "list_int_some",
        ] {
            assert!(with_variant.contains(&name), "{name}: {with_variant:?}");
        }
        // `max` and `min` read element 0 before their loop, `unique`
        // reads elements at other indices, `length` has no loop.
        for name in [
            "list_int_max",
            "list_int_min",
            "list_int_unique",
            "list_int_length",
        ] {
            assert!(!with_variant.contains(&name), "{name}");
        }
    }

    #[test]
    fn the_map_variant_counts_from_its_start_parameter_instead_of_loading() {
        let map = stdlib_function("list_int_map");
        let fused = range_variant(&map.params, map.body()).expect("a variant");
        let value = body_let_watermark(map.body());
        let mut loads = 0;
        let mut value_reads = 0;
        for_each_body(&fused, &mut |ops| {
            for tagged in ops {
                match tagged.op {
                    Op::LoadI64AtAbsolute { .. } => loads += 1,
                    Op::LetGet { idx, .. } if idx == value => value_reads += 1,
                    _ => {}
                }
            }
        });
        assert_eq!(loads, 0, "the element load is gone");
        // The element, and the step.
        assert_eq!(value_reads, 2);
        let start = fused.windows(2).any(|w| {
            w[0].op == Op::LocalGet(2)
                && w[1].op
                    == (Op::LetSet {
                        idx: value,
                        ty: IrType::I64,
                    })
        });
        assert!(start, "the value starts at the new parameter");
    }

    /// The op list of the one loop's turn in `body`.
    fn turn(body: &mut [TaggedOp]) -> &mut Vec<TaggedOp> {
        let block = body
            .iter_mut()
            .find(|t| matches!(t.op, Op::Block { .. }))
            .expect("the loop's block");
        let Op::Block { body, .. } = &mut block.op else {
            unreachable!("found as a block")
        };
        let Op::Loop { body, .. } = &mut body[0].op else {
            panic!("a loop")
        };
        body
    }

    #[test]
    fn a_walk_that_does_not_step_once_per_turn_from_zero_gets_no_variant() {
        let map = stdlib_function("list_int_map");
        let variant = |edit: &dyn Fn(&mut Vec<TaggedOp>)| {
            let mut body = map.body().clone();
            edit(&mut body);
            range_variant(&map.params, &body).is_some()
        };
        assert!(variant(&|_| {}));
        // The index steps by two.
        assert!(!variant(&|body| {
            let turn = turn(body);
            let at = turn.len() - 4;
            turn[at].op = Op::ConstI32(2);
        }));
        // A branch back to the head skips the step.
        assert!(!variant(&|body| {
            let turn = turn(body);
            turn.insert(4, tagged(Op::Br { label_depth: 0 }));
        }));
        // The index starts at 1.
        assert!(!variant(&|body| {
            for at in 0..body.len() - 1 {
                if body[at].op == Op::ConstI32(0)
                    && matches!(body[at + 1].op, Op::LetSet { idx: 1, .. })
                {
                    body[at].op = Op::ConstI32(1);
                }
            }
        }));
        // The list's payload is read after the loop.
        assert!(!variant(&|body| {
            let payload = body
                .windows(6)
                .find_map(|w| match (&w[0].op, &w[5].op) {
                    (Op::LocalGet(0), Op::LetSet { idx, .. }) => Some(*idx),
                    _ => None,
                })
                .expect("the payload let");
            let at = body.len() - 1;
            body.insert(
                at,
                tagged(Op::LetGet {
                    idx: payload,
                    ty: IrType::I32,
                }),
            );
        }));
    }

    #[test]
    fn a_range_that_only_feeds_a_stdlib_call_is_not_filled() {
        let mut module = lowered(MAP_OVER_RANGE);
        let funcs = module.funcs.len() as u32;
        let map_index = relon_ir::stdlib_function_index("list_int_map").expect("map");
        assert!(calls(&module.funcs[0].body).contains(&(map_index, 2)));

        assert_eq!(fuse_range_sources(&mut module), 1);
        let variant = relon_ir::stdlib_function_count() + funcs;
        assert_eq!(module.funcs.len() as u32, funcs + 1);
        assert_eq!(module.funcs[funcs as usize].name, "list_int_map_over_range");
        let main = &module.funcs[0].body;
        assert!(calls(main).contains(&(variant, 3)), "{:?}", calls(main));
        assert!(!calls(main).contains(&(map_index, 2)));
        let mut fills = 0;
        for_each_body(main, &mut |ops| {
            fills += (0..ops.len())
                .filter(|at| range_fill(ops, *at).is_some())
                .count();
        });
        assert_eq!(fills, 0, "the fill loop is gone");
    }

    #[test]
    fn a_range_read_anywhere_else_is_filled_as_before() {
        let fused = |edit: &dyn Fn(&mut Module, &RangeFill)| {
            let mut module = lowered(MAP_OVER_RANGE);
            let fill = fill_lets(&module);
            edit(&mut module, &fill);
            fuse_range_sources(&mut module)
        };
        assert_eq!(fused(&|_, _| {}), 1);
        for slot in [
            |f: &RangeFill| f.list,
            |f: &RangeFill| f.index,
            |f: &RangeFill| f.value,
        ] {
            // One more read of the list, the index or the value.
            assert_eq!(
                fused(&|module, fill| {
                    let body = &mut module.funcs[0].body;
                    let at = body.len() - 1;
                    body.insert(
                        at,
                        tagged(Op::LetGet {
                            idx: slot(fill),
                            ty: IrType::I32,
                        }),
                    );
                }),
                0
            );
        }
        // The closure captures the fill's value.
        assert_eq!(
            fused(&|module, fill| {
                let value = fill.value;
                for tagged in module.funcs[0].body.iter_mut() {
                    if let Op::MakeClosure { captures, .. } = &mut tagged.op {
                        captures[0].let_idx = value;
                    }
                }
            }),
            0
        );
    }
}
