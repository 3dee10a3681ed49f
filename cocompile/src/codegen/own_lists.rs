//! Which swept payloads are the elements of a list the function itself
//! has just allocated, so the stores that fill it may be tagged as list
//! elements (`arena_alias::ArenaClass::OwnListElement`), never as a list's
//! length word.
//!
//! The lowering and the stdlib build an Int or Float list as:
//!
//! ```text
//! len = ...                                      (LetSet len)
//! list = alloc(c + len * 8)                      (c >= 8: the length word and its padding)
//! store len at list                              (the length word)
//! payload = (list + 11) & -8                     (LetSet payload)
//! block { loop { i >= len ? break; ... store at payload + i * 8 ...; i += 1 } }
//! ```
//!
//! When the function sets `len`, `list` and `payload` nowhere else, and
//! those three sets come in that order in the op sequence that holds the
//! loop (or the `Block` around it), every run of the loop sees the values
//! of one pass through that sequence. `list` is 8-aligned (scratch is
//! handed out in 8-byte steps), so `payload = list + 8` and the loop's
//! stores, at `payload + 8 * i` for `i < len`, stay inside the
//! allocation's `c + 8 * len` bytes and after its length word. Scratch is
//! never rewound during a call, so no other list's length word lies
//! there. (An allocation size that wraps `u32` would need a span past
//! 4 GiB, which the loop's up-front span check refuses: the arena is far
//! smaller.)

use std::collections::HashMap;

use relon_ir::ir::{IrType, Op, TaggedOp};

use crate::ir_walk::for_each_body;

/// The lets set exactly once in `function`, with that set's op.
fn single_sets(function: &[TaggedOp]) -> HashMap<u32, *const TaggedOp> {
    let mut sets: HashMap<u32, Option<*const TaggedOp>> = HashMap::new();
    for_each_body(function, &mut |ops| {
        for tagged in ops {
            if let Op::LetSet { idx, .. } = tagged.op {
                sets.entry(idx)
                    .and_modify(|once| *once = None)
                    .or_insert(Some(std::ptr::from_ref(tagged)));
            }
        }
    });
    sets.into_iter()
        .filter_map(|(idx, once)| Some((idx, once?)))
        .collect()
}

/// The lets of `function` that hold the payload of an Int or Float list
/// allocated in it, as `payload -> len` (see the module docs), each with
/// the op sequence and the position in it from which a loop bounded by
/// `len` writes that list alone.
#[derive(Debug, Default)]
pub(crate) struct OwnLists {
    /// `(payload, len)` pairs, keyed by the op sequence (its first op's
    /// address) and the index in it after which the pair holds.
    after: HashMap<*const TaggedOp, Vec<(usize, u32, u32)>>,
}

impl OwnLists {
    /// Find the own lists of `function`.
    pub(crate) fn find(function: &[TaggedOp]) -> Self {
        let once = single_sets(function);
        let set_once_here =
            |tagged: &TaggedOp, idx: u32| once.get(&idx) == Some(&std::ptr::from_ref(tagged));
        let mut found = OwnLists::default();
        for_each_body(function, &mut |ops| {
            for (at, tagged) in ops.iter().enumerate() {
                let Op::LetSet {
                    idx: payload,
                    ty: IrType::I32,
                } = tagged.op
                else {
                    continue;
                };
                if !set_once_here(tagged, payload) {
                    continue;
                }
                let Some(list) = aligned_payload_of(&ops[..at]) else {
                    continue;
                };
                let Some((list_at, len)) = allocation_of(ops, at, list, &set_once_here) else {
                    continue;
                };
                let len_set_before = ops[..list_at].iter().any(
                    |t| matches!(t.op, Op::LetSet { idx, .. } if idx == len && set_once_here(t, idx)),
                );
                if len_set_before {
                    found
                        .after
                        .entry(ops.as_ptr())
                        .or_default()
                        .push((at, payload, len));
                }
            }
        });
        found
    }

    /// Whether a loop at `position` of the op sequence `ops` (the loop, or
    /// the `Block` around it), bounded by `len`, sweeping `payload`, writes
    /// only the elements of an own list.
    pub(crate) fn holds(&self, ops: &[TaggedOp], position: usize, payload: u32, len: u32) -> bool {
        self.after.get(&ops.as_ptr()).is_some_and(|pairs| {
            pairs
                .iter()
                .any(|&(at, p, l)| at < position && p == payload && l == len)
        })
    }
}

/// The list let `ops` ends with `LetGet list, ConstI32(11), Add(I32),
/// ConstI32(-8), BitAnd(I32)` of, if it does.
fn aligned_payload_of(ops: &[TaggedOp]) -> Option<u32> {
    let [.., get, eleven, add, mask, and] = ops else {
        return None;
    };
    match (&get.op, &eleven.op, &add.op, &mask.op, &and.op) {
        (
            Op::LetGet {
                idx,
                ty: IrType::I32,
            },
            Op::ConstI32(11),
            Op::Add(IrType::I32),
            Op::ConstI32(-8),
            Op::BitAnd(IrType::I32),
        ) => Some(*idx),
        _ => None,
    }
}

/// Where in `ops[..before]` the let `list` is set, once, to
/// `alloc(c + len * 8)` with `c >= 8`; that position and `len`.
fn allocation_of(
    ops: &[TaggedOp],
    before: usize,
    list: u32,
    set_once_here: &impl Fn(&TaggedOp, u32) -> bool,
) -> Option<(usize, u32)> {
    let at = ops[..before]
        .iter()
        .position(|t| matches!(t.op, Op::LetSet { idx, .. } if idx == list))?;
    if !set_once_here(&ops[at], list) || at < 6 {
        return None;
    }
    match (
        &ops[at - 6].op,
        &ops[at - 5].op,
        &ops[at - 4].op,
        &ops[at - 3].op,
        &ops[at - 2].op,
        &ops[at - 1].op,
    ) {
        (
            Op::ConstI32(c),
            Op::LetGet { idx: len, .. },
            Op::ConstI32(8),
            Op::Mul(IrType::I32),
            Op::Add(IrType::I32),
            Op::AllocScratchDyn,
        ) if (8..=64).contains(c) => Some((at, *len)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use relon_ir::ir::{IrType, Op, TaggedOp};

    use super::super::test_ir::{get_i32 as get, set_i32 as set, stdlib_function, tagged as tt};
    use super::OwnLists;

    /// `len = 5; list = alloc(c + len * 8); payload = (list + 11) & -8`.
    fn allocation(c: i32) -> Vec<TaggedOp> {
        vec![
            tt(Op::ConstI32(5)),
            set(0),
            tt(Op::ConstI32(c)),
            get(0),
            tt(Op::ConstI32(8)),
            tt(Op::Mul(IrType::I32)),
            tt(Op::Add(IrType::I32)),
            tt(Op::AllocScratchDyn),
            set(1),
            get(1),
            tt(Op::ConstI32(11)),
            tt(Op::Add(IrType::I32)),
            tt(Op::ConstI32(-8)),
            tt(Op::BitAnd(IrType::I32)),
            set(2),
        ]
    }

    #[test]
    fn the_stdlib_map_fills_a_list_of_its_own() {
        let map = stdlib_function("list_int_map");
        let body = map.body();
        let found = OwnLists::find(body);
        let block = body
            .iter()
            .position(|t| matches!(t.op, Op::Block { .. }))
            .expect("the loop's block");
        // The result's payload (let 3, length let 0) is its own; the
        // source's payload (let 2) is a parameter's.
        assert!(found.holds(body, block, 3, 0));
        assert!(!found.holds(body, block, 2, 0));
    }

    #[test]
    fn an_allocation_in_the_expected_shape_is_found() {
        let body = allocation(8);
        let found = OwnLists::find(&body);
        assert!(found.holds(&body, body.len(), 2, 0));
        // Not before the payload is set, and not for another bound.
        assert!(!found.holds(&body, 14, 2, 0));
        assert!(!found.holds(&body, body.len(), 2, 1));
    }

    #[test]
    fn shapes_that_may_write_past_the_list_are_not_own() {
        // Too little room for the padding before the payload.
        let small = allocation(4);
        assert!(!OwnLists::find(&small).holds(&small, small.len(), 2, 0));
        // The length set again after the allocation.
        let mut reset = allocation(8);
        reset.extend([tt(Op::ConstI32(9)), set(0)]);
        assert!(!OwnLists::find(&reset).holds(&reset, reset.len(), 2, 0));
        // The list let set a second time.
        let mut again = allocation(8);
        again.extend([tt(Op::ConstI32(64)), set(1)]);
        assert!(!OwnLists::find(&again).holds(&again, again.len(), 2, 0));
        // A payload that is not the list's aligned start.
        let mut shifted = allocation(8);
        shifted[12] = tt(Op::ConstI32(-4));
        assert!(!OwnLists::find(&shifted).holds(&shifted, shifted.len(), 2, 0));
    }
}
