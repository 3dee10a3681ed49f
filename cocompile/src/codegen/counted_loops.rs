//! Counted loops that sweep a list payload: one bounds check before the
//! loop instead of one per element.
//!
//! The lowering and the bundled stdlib bodies (`map`, `filter`, `fold`,
//! `sum`...) walk a list as
//!
//! ```text
//! block { loop {
//!     i >= n ? break
//!     ... payload + i * stride  (then a load, or a value and a store) ...
//!     i = i + 1
//!     continue
//! } }
//! ```
//!
//! Each element access is an absolute arena access, checked against
//! `arena_len` where it happens. That check is a loop exit taken before
//! the rest of the turn, so LLVM may not hoist anything after it: an
//! inlined closure's capture loads, its invariant checks (`p == 0` before
//! `i % p`, another list's header) are then redone for every element.
//!
//! When the shape below holds, every turn touches `payload + i * stride`
//! with `0 <= i < n`, so the accesses stay in the span
//! `[payload, payload + stride * n)`: the loop checks that span once,
//! before its head, and the accesses through those addresses go
//! unchecked (`FuncEmitter::arena_addr`). The shape, checked on the IR
//! (anything else is emitted as before):
//! - the loop body starts `LetGet i, LetGet n, Ge(I32), BrIf` out of the
//!   loop, and ends with `Br 0`;
//! - it sets `i` once, at its top level, as `i = i + 1` after the head;
//!   every other set of `i` in the whole function is `i = 0`. So `i` is
//!   never negative, and `i + 1` cannot wrap, as `i < n` held just before;
//! - it sets neither `n` nor `payload`;
//! - it has no other way out or back (no other `Br`/`BrIf`/`BrTable`
//!   reaching the loop or beyond, no `Return`): a turn that does not trap
//!   runs to its end, so a loop that enters runs every `i` from its first
//!   value to `n - 1`, and the span checked up front is the one the
//!   per-element checks would have covered (a trap may come earlier:
//!   only when the span leaves the arena, which a list never does);
//! - the address is the top-level sequence `LetGet payload, LetGet i,
//!   ConstI32(stride), Mul(I32), Add(I32)` between the head and the
//!   increment. An access through it is unchecked only when its offset
//!   and width stay within the stride.
//!
//! A sweep of 8-byte elements that fills a list the function has just
//! allocated for `n` elements (`own_lists`) also marks its accesses as
//! that list's elements, for their alias class (`arena_alias`).

use std::collections::{HashMap, HashSet};

use inkwell::IntPredicate;
use inkwell::values::{BasicValueEnum, IntValue, PointerValue};
use relon_ir::ir::{IrType, Op, TaggedOp};
use relon_runtime_contract::TrapCode;

use super::CodegenError;
use super::own_lists::OwnLists;
use crate::ir_walk::{for_each_body, lets_set_in};

/// One loop that sweeps payloads with its counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CountedLoop {
    /// The counter's let slot.
    pub counter: u32,
    /// The bound's let slot.
    pub bound: u32,
    /// The swept `(payload let, stride)` pairs, each once.
    pub sweeps: Vec<(u32, u32)>,
}

/// A swept address: its stride, and whether its loop fills a list the
/// function allocated itself (see `own_lists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Site {
    /// Bytes per element.
    pub stride: u32,
    /// The payload is the elements of a list of the function's own.
    pub own_list: bool,
}

/// The counted loops of one function body.
#[derive(Debug, Default)]
pub(crate) struct CountedLoops {
    /// By the address of the loop body's first op.
    loops: HashMap<*const TaggedOp, CountedLoop>,
    /// The `Add(I32)` ops that end a swept address.
    sites: HashMap<*const TaggedOp, Site>,
}

impl CountedLoops {
    /// The counted loop whose body is `body`, if it is one.
    pub(crate) fn loop_of(&self, body: &[TaggedOp]) -> Option<&CountedLoop> {
        self.loops.get(&body.as_ptr())
    }

    /// The swept address `op` ends, if it ends one.
    pub(crate) fn site(&self, op: &TaggedOp) -> Option<Site> {
        self.sites.get(&std::ptr::from_ref(op)).copied()
    }
}

/// Find the counted loops of a function with `body`.
pub(crate) fn find(body: &[TaggedOp]) -> CountedLoops {
    let own = OwnLists::find(body);
    let mut found = CountedLoops::default();
    let mut seen: HashSet<*const TaggedOp> = HashSet::new();
    for_each_body(body, &mut |ops| {
        for (position, tagged) in ops.iter().enumerate() {
            // A loop is placed, for `own`, by the op that holds it in
            // `ops`: itself, or the `Block` it opens. The outer sequence
            // is visited first, so a loop a `Block` opens is examined
            // from there, and not again from its own sequence.
            let loop_body = match &tagged.op {
                Op::Loop { body, .. } => body,
                Op::Block { body: inner, .. } => match inner.first().map(|t| &t.op) {
                    Some(Op::Loop { body, .. }) => body,
                    _ => continue,
                },
                _ => continue,
            };
            if !seen.insert(loop_body.as_ptr()) {
                continue;
            }
            examine(body, loop_body, &mut found, &|payload, bound| {
                own.holds(ops, position, payload, bound)
            });
        }
    });
    found
}

/// Add `loop_body` to `found` when it is a counted loop with sweeps;
/// `own_list(payload, bound)` says whether its sweep of `payload` fills a
/// list of the function's own.
fn examine(
    function: &[TaggedOp],
    loop_body: &[TaggedOp],
    found: &mut CountedLoops,
    own_list: &dyn Fn(u32, u32) -> bool,
) {
    let [head_i, head_n, head_ge, head_exit, ..] = loop_body else {
        return;
    };
    let (
        Op::LetGet {
            idx: counter,
            ty: IrType::I32,
        },
        Op::LetGet {
            idx: bound,
            ty: IrType::I32,
        },
        Op::Ge(IrType::I32),
        Op::BrIf { label_depth },
    ) = (&head_i.op, &head_n.op, &head_ge.op, &head_exit.op)
    else {
        return;
    };
    let (counter, bound) = (*counter, *bound);
    if *label_depth == 0 || counter == bound {
        return;
    }
    if !matches!(
        loop_body.last().map(|t| &t.op),
        Some(Op::Br { label_depth: 0 })
    ) {
        return;
    }
    let Some(increment) = sole_increment(function, loop_body, counter) else {
        return;
    };
    if !only_exits_at_head_and_end(loop_body) {
        return;
    }
    let set_in_loop = lets_set_in(loop_body);
    if set_in_loop.contains(&bound) {
        return;
    }
    let mut sites = Vec::new();
    let mut sweeps = Vec::new();
    // The increment's `LetGet i` is at `increment - 3`: an address (five
    // ops) must end before it.
    for k in 4..(increment - 3).saturating_sub(4) {
        let window = &loop_body[k..k + 5];
        let (
            Op::LetGet {
                idx: payload,
                ty: IrType::I32,
            },
            Op::LetGet {
                idx: i,
                ty: IrType::I32,
            },
            Op::ConstI32(stride),
            Op::Mul(IrType::I32),
            Op::Add(IrType::I32),
        ) = (
            &window[0].op,
            &window[1].op,
            &window[2].op,
            &window[3].op,
            &window[4].op,
        )
        else {
            continue;
        };
        if *i != counter
            || *payload == counter
            || *payload == bound
            || !(1..=8).contains(stride)
            || set_in_loop.contains(payload)
        {
            continue;
        }
        let stride = *stride as u32;
        sites.push((std::ptr::from_ref(&window[4]), stride, *payload));
        if !sweeps.contains(&(*payload, stride)) {
            sweeps.push((*payload, stride));
        }
    }
    if sweeps.is_empty() {
        return;
    }
    found
        .sites
        .extend(sites.into_iter().map(|(op, stride, payload)| {
            let own_list = stride == 8 && own_list(payload, bound);
            (op, Site { stride, own_list })
        }));
    found.loops.insert(
        loop_body.as_ptr(),
        CountedLoop {
            counter,
            bound,
            sweeps,
        },
    );
}

/// The index of the loop body's one top-level `LetSet i` of the increment
/// `LetGet i, ConstI32(1), Add(I32), LetSet i`, when every other set of `i`
/// in the function is `ConstI32(0), LetSet i`.
fn sole_increment(function: &[TaggedOp], loop_body: &[TaggedOp], counter: u32) -> Option<usize> {
    let increments: Vec<usize> = (4..loop_body.len())
        .filter(|&j| is_increment(&loop_body[j - 3..=j], counter))
        .collect();
    let [increment] = increments[..] else {
        return None;
    };
    let the_increment = std::ptr::from_ref(&loop_body[increment]);
    let mut others_are_zero = true;
    for_each_body(function, &mut |ops| {
        for (j, tagged) in ops.iter().enumerate() {
            if matches!(tagged.op, Op::LetSet { idx, .. } if idx == counter)
                && std::ptr::from_ref(tagged) != the_increment
                && !(j > 0 && ops[j - 1].op == Op::ConstI32(0))
            {
                others_are_zero = false;
            }
        }
    });
    others_are_zero.then_some(increment)
}

/// Whether `ops` is `LetGet i, ConstI32(1), Add(I32), LetSet i`.
fn is_increment(ops: &[TaggedOp], counter: u32) -> bool {
    matches!(
        (&ops[0].op, &ops[1].op, &ops[2].op, &ops[3].op),
        (
            Op::LetGet { idx: a, ty: IrType::I32 },
            Op::ConstI32(1),
            Op::Add(IrType::I32),
            Op::LetSet { idx: b, ty: IrType::I32 },
        ) if *a == counter && *b == counter
    )
}

/// Whether the only branches of the loop body that reach its head or
/// leave it are the head's `BrIf` (op 3) and the final `Br 0`, and it
/// has no `Return`.
fn only_exits_at_head_and_end(loop_body: &[TaggedOp]) -> bool {
    let last = loop_body.len() - 1;
    loop_body
        .iter()
        .enumerate()
        .all(|(j, tagged)| j == 3 || j == last || stays_inside(&tagged.op, 0))
}

/// Whether `op`, at `nesting` labels inside the loop body, neither
/// branches to the loop or past it nor returns.
fn stays_inside(op: &Op, nesting: u32) -> bool {
    match op {
        Op::Br { label_depth } | Op::BrIf { label_depth } => *label_depth < nesting,
        Op::BrTable { targets, default } => {
            targets.iter().all(|d| *d < nesting) && *default < nesting
        }
        Op::Return => false,
        Op::Block { body, .. } | Op::Loop { body, .. } => {
            body.iter().all(|t| stays_inside(&t.op, nesting + 1))
        }
        Op::If {
            then_body,
            else_body,
            ..
        } => then_body
            .iter()
            .chain(else_body)
            .all(|t| stays_inside(&t.op, nesting + 1)),
        _ => true,
    }
}

impl<'m, 'ctx, 'ir> super::func::FuncEmitter<'m, 'ctx, 'ir> {
    /// Before a counted loop's head: trap with `IndexOutOfBounds` when the
    /// loop will run (`i < n`) and a swept span `[payload, payload +
    /// stride * n)` is not inside the arena.
    pub(crate) fn check_sweeps(&mut self, counted: &CountedLoop) -> Result<(), CodegenError> {
        let ctx = self.m.ctx;
        let i64t = ctx.i64_type();
        let first = self
            .let_value(counted.counter, IrType::I32)?
            .into_int_value();
        let bound = self.let_value(counted.bound, IrType::I32)?.into_int_value();
        let b = &self.m.builder;
        let runs = b.build_int_compare(IntPredicate::SLT, first, bound, "sweep_runs")?;
        // When the loop runs, `n > i >= 0`.
        let count = b.build_int_z_extend(bound, i64t, "sweep_count")?;
        for &(payload, stride) in &counted.sweeps {
            let payload = self.let_value(payload, IrType::I32)?.into_int_value();
            let b = &self.m.builder;
            let start = b.build_int_z_extend(payload, i64t, "sweep_start")?;
            let span = b.build_int_nuw_mul(
                count,
                i64t.const_int(u64::from(stride), false),
                "sweep_span",
            )?;
            let end = b.build_int_nuw_add(start, span, "sweep_end")?;
            let past =
                b.build_int_compare(IntPredicate::UGT, end, self.arena_len, "sweep_past_arena")?;
            let bad = b.build_and(runs, past, "sweep_out_of_arena")?;
            self.trap_if(bad, TrapCode::IndexOutOfBounds)?;
        }
        Ok(())
    }

    /// The value on top of the stack is the swept address of `site`.
    pub(crate) fn tag_swept_address(&mut self, site: Site) {
        if let Some(BasicValueEnum::IntValue(address)) = self.stack.last()
            && !address.is_const()
        {
            self.swept.insert(*address, site);
        }
    }

    /// The native address of `base + offset` when `base` is a swept
    /// address and `width` bytes from there stay within its stride, so
    /// inside the span its loop checked. When the loop fills a list of
    /// the function's own, the address is one of its elements, and is
    /// remembered as such (see `arena_alias`).
    pub(crate) fn swept_addr(
        &mut self,
        base: IntValue<'ctx>,
        offset: u32,
        width: u32,
    ) -> Result<Option<PointerValue<'ctx>>, CodegenError> {
        let Some(&Site { stride, own_list }) = self.swept.get(&base) else {
            return Ok(None);
        };
        if offset.saturating_add(width) > stride {
            return Ok(None);
        }
        let ctx = self.m.ctx;
        let i64t = ctx.i64_type();
        let b = &self.m.builder;
        let mut at = b.build_int_z_extend(base, i64t, "swept")?;
        if offset > 0 {
            at = b.build_int_nuw_add(at, i64t.const_int(u64::from(offset), false), "swept_at")?;
        }
        let addr = super::memory::byte_offset(b, ctx, self.arena, at)?;
        if own_list {
            self.own_elements.insert(addr);
        }
        Ok(Some(addr))
    }
}

#[cfg(test)]
mod tests {
    use relon_ir::ir::{IrType, Op, TaggedOp};

    use super::super::test_ir::{get_i32 as get, set_i32 as set, stdlib_function, tagged as tt};
    use super::{CountedLoop, find};

    const P: u32 = 0;
    const N: u32 = 1;
    const I: u32 = 2;

    /// `i = 0; block { loop { i >= n ? break; EXTRA; p[i] = 7; i += 1 } }`.
    fn sweep(extra: Vec<TaggedOp>) -> Vec<TaggedOp> {
        let mut turn = vec![
            get(I),
            get(N),
            tt(Op::Ge(IrType::I32)),
            tt(Op::BrIf { label_depth: 1 }),
        ];
        turn.extend(extra);
        turn.extend([
            get(P),
            get(I),
            tt(Op::ConstI32(8)),
            tt(Op::Mul(IrType::I32)),
            tt(Op::Add(IrType::I32)),
            tt(Op::ConstI64(7)),
            tt(Op::StoreI64AtAbsolute { offset: 0 }),
            get(I),
            tt(Op::ConstI32(1)),
            tt(Op::Add(IrType::I32)),
            set(I),
            tt(Op::Br { label_depth: 0 }),
        ]);
        vec![
            tt(Op::ConstI32(0)),
            set(I),
            tt(Op::Block {
                result_ty: None,
                body: vec![tt(Op::Loop {
                    result_ty: None,
                    body: turn,
                })],
            }),
        ]
    }

    fn loop_body(body: &[TaggedOp]) -> &[TaggedOp] {
        let Op::Block { body, .. } = &body[2].op else {
            panic!("the block")
        };
        let Op::Loop { body, .. } = &body[0].op else {
            panic!("the loop")
        };
        body
    }

    #[test]
    fn a_plain_sweep_is_a_counted_loop() {
        let body = sweep(Vec::new());
        let found = find(&body);
        let expected = CountedLoop {
            counter: I,
            bound: N,
            sweeps: vec![(P, 8)],
        };
        assert_eq!(found.loop_of(loop_body(&body)), Some(&expected));
        assert_eq!(found.site(&loop_body(&body)[8]).map(|s| s.stride), Some(8));
        assert_eq!(found.site(&loop_body(&body)[7]), None);
    }

    #[test]
    fn the_stdlib_map_sweeps_its_source_and_its_result() {
        let map = stdlib_function("list_int_map");
        let found = find(map.body());
        assert_eq!(found.loops.len(), 1, "{found:?}");
        let counted = found.loops.values().next().expect("the loop");
        assert_eq!(counted.sweeps.len(), 2, "{counted:?}");
        assert!(counted.sweeps.iter().all(|&(_, stride)| stride == 8));
    }

    /// Each shape the check up front would not cover.
    #[test]
    fn a_loop_that_may_stop_early_or_move_its_bounds_is_not_counted() {
        let cases: Vec<(&str, Vec<TaggedOp>)> = vec![
            (
                "a break in the middle",
                vec![
                    get(I),
                    tt(Op::ConstI32(5)),
                    tt(Op::Eq(IrType::I32)),
                    tt(Op::BrIf { label_depth: 1 }),
                ],
            ),
            (
                "a nested break",
                vec![
                    get(I),
                    tt(Op::If {
                        result_ty: IrType::Unit,
                        then_body: vec![tt(Op::Br { label_depth: 2 })],
                        else_body: Vec::new(),
                    }),
                ],
            ),
            (
                "a continue before the access",
                vec![get(I), tt(Op::BrIf { label_depth: 0 })],
            ),
            ("a return", vec![tt(Op::ConstI64(0)), tt(Op::Return)]),
            ("the payload moved", vec![get(N), set(P)]),
            ("the bound moved", vec![get(P), set(N)]),
            ("the counter moved", vec![tt(Op::ConstI32(3)), set(I)]),
            (
                "a second increment",
                vec![
                    get(I),
                    tt(Op::ConstI32(1)),
                    tt(Op::Add(IrType::I32)),
                    set(I),
                ],
            ),
        ];
        for (case, extra) in cases {
            let body = sweep(extra);
            let found = find(&body);
            assert!(
                found.loops.is_empty() && found.sites.is_empty(),
                "{case}: {found:?}"
            );
        }
        // A counter that starts anywhere but 0 may be negative.
        let mut body = sweep(Vec::new());
        body[0] = tt(Op::ConstI32(-1));
        assert!(find(&body).loops.is_empty(), "a counter from -1");
    }

    #[test]
    fn the_map_helper_checks_its_spans_once_and_its_elements_not_at_all() {
        let source = "#unstrict\n#main(Int n) -> Int\nys[0]\nwhere {\n  xs: range(n).map((i) => i + 1),\n  ys: _list_map(xs, (i) => i * 2)\n}\n";
        let ir = super::super::unmetered_function_ir(source, "@relon.std.list_int_map(");
        let defines = |prefix: &str| {
            ir.lines()
                .filter(|l| l.trim_start().starts_with(prefix) && l.contains(" = "))
                .count()
        };
        assert_eq!(
            defines("%sweep_out_of_arena"),
            2,
            "the source and the result span:\n{ir}"
        );
        assert_eq!(defines("%swept"), 2, "the element load and store:\n{ir}");
        // The checks left are of the length words: the source's, read,
        // and the result's, written.
        assert_eq!(defines("%out_of_arena"), 2, "two length words:\n{ir}");
    }
}
