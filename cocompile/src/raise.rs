//! IR-to-IR pass over a lowered module: raise the lowering's inline,
//! unchecked reads to the ops the code generator emits with their checks,
//! [`Op::ListGetByIntIdx`] and [`Op::DictGetByStringKey`].
//!
//! `relon-ir`'s lowering writes `xs[i]` as address arithmetic with no
//! length check (`lowering/index.rs`): the list handle and the index go
//! to two let slots, then
//!
//! ```text
//! 8-byte elements:   (base + 11) & -8  +  idx * 8   Load{I64,F64}AtAbsolute{0}
//! string handles:     base + 4         +  idx * 4   LoadI32AtAbsolute{0}
//! ```
//!
//! An out-of-range index would read a neighbouring value. Each such
//! sequence becomes `LetGet base; LetGet idx; ListGetByIntIdx`, whose
//! emitted code reports a negative index as tree-walk's `TypeMismatch`
//! and an index at or past the length as its `VariableNotFound`. The
//! lowering truncates the index into an `i32` slot; a slot only ever read
//! by raised indexing is retyped to `I64`, so `xs[2^32]` is past the end
//! rather than `xs[0]`.
//!
//! `d[k]` on a constant `{String: Int}` dict is written as an inline
//! linear probe of the dict record that traps `IndexOutOfBounds` on a
//! miss, where tree-walk reports `VariableNotFound`. The probe becomes
//! `LetGet dict; LetGet key; DictGetByStringKey`, which looks the key up
//! in the runtime and reports a miss as tree-walk does.
//!
//! Only the program's own functions are raised: the bundled stdlib bodies
//! walk their lists within the length.

use std::collections::HashMap;

use relon_ir::ir::{IrType, Module, Op, TaggedOp};

/// One recognised `xs[i]`: which let slots hold the list and the index,
/// the element type, and how many ops the sequence spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineIndex {
    /// Let slot holding the list handle.
    pub base_slot: u32,
    /// Let slot holding the index.
    pub index_slot: u32,
    /// `I64`/`F64` for 8-byte elements, `String` for string handles.
    pub element: IrType,
    /// Ops the sequence spans.
    pub op_count: usize,
}

/// The inline list index starting at `ops[0]`, if the ops there are one.
pub fn match_inline_index(ops: &[TaggedOp]) -> Option<InlineIndex> {
    let op = |i: usize| ops.get(i).map(|t| &t.op);
    let Some(Op::LetGet {
        idx: base_slot,
        ty: IrType::I32,
    }) = op(0)
    else {
        return None;
    };
    let ops_at = |at: usize, expected: &[Op]| {
        expected
            .iter()
            .enumerate()
            .all(|(k, e)| op(at + k) == Some(e))
    };
    let index_at = |at: usize| match op(at) {
        Some(Op::LetGet {
            idx,
            ty: IrType::I32,
        }) => Some(*idx),
        _ => None,
    };
    let words_head = [
        Op::ConstI32(11),
        Op::Add(IrType::I32),
        Op::ConstI32(-8),
        Op::BitAnd(IrType::I32),
    ];
    let words_tail = [Op::ConstI32(8), Op::Mul(IrType::I32), Op::Add(IrType::I32)];
    if ops_at(1, &words_head)
        && let Some(index_slot) = index_at(5)
        && ops_at(6, &words_tail)
    {
        let element = match op(9) {
            Some(Op::LoadI64AtAbsolute { offset: 0 }) => IrType::I64,
            Some(Op::LoadF64AtAbsolute { offset: 0 }) => IrType::F64,
            _ => return None,
        };
        return Some(InlineIndex {
            base_slot: *base_slot,
            index_slot,
            element,
            op_count: 10,
        });
    }
    let strings_head = [Op::ConstI32(4), Op::Add(IrType::I32)];
    let strings_tail = [
        Op::ConstI32(4),
        Op::Mul(IrType::I32),
        Op::Add(IrType::I32),
        Op::LoadI32AtAbsolute { offset: 0 },
    ];
    if ops_at(1, &strings_head)
        && let Some(index_slot) = index_at(3)
        && ops_at(4, &strings_tail)
    {
        return Some(InlineIndex {
            base_slot: *base_slot,
            index_slot,
            element: IrType::String,
            op_count: 8,
        });
    }
    None
}

/// One recognised `d[k]` dict probe: which let slots hold the dict and
/// the key, and how many ops the probe spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineDictProbe {
    /// Let slot holding the dict handle.
    pub dict_slot: u32,
    /// Let slot the probe stores the key (a String handle) in.
    pub key_slot: u32,
    /// Ops the probe spans.
    pub op_count: usize,
}

/// The inline dict probe starting at `ops[0]`, if the ops there are one:
/// the key's `LetSet`, the probe state's set-up, the probe loop, the
/// miss trap, and the read of the found value (`lowering/index.rs`,
/// `lower_dict_string_index`).
pub fn match_inline_dict_probe(ops: &[TaggedOp]) -> Option<InlineDictProbe> {
    let op = |i: usize| ops.get(i).map(|t| &t.op);
    let Some(&Op::LetSet {
        idx: key_slot,
        ty: IrType::I32,
    }) = op(0)
    else {
        return None;
    };
    let Some(&Op::LetGet {
        idx: dict_slot,
        ty: IrType::I32,
    }) = op(4)
    else {
        return None;
    };
    // The probe's ten scratch slots follow the key's.
    let slot = |k: u32| key_slot.checked_add(k);
    let (klen, n, i, found, result) = (slot(1)?, slot(2)?, slot(3)?, slot(4)?, slot(10)?);
    let get = |idx| Op::LetGet {
        idx,
        ty: IrType::I32,
    };
    let set = |idx| Op::LetSet {
        idx,
        ty: IrType::I32,
    };
    let load_u32 = Op::LoadI32AtAbsolute { offset: 0 };
    let set_up = [
        get(key_slot),
        load_u32.clone(),
        set(klen),
        get(dict_slot),
        load_u32,
        set(n),
        Op::ConstI32(0),
        set(i),
        Op::ConstI32(0),
        set(found),
        Op::ConstI64(0),
        Op::LetSet {
            idx: result,
            ty: IrType::I64,
        },
    ];
    if !set_up.iter().enumerate().all(|(k, e)| op(1 + k) == Some(e)) {
        return None;
    }
    let Some(Op::Block {
        result_ty: None,
        body: probe,
    }) = op(13)
    else {
        return None;
    };
    if !matches!(
        probe.as_slice(),
        [TaggedOp {
            op: Op::Loop { .. },
            ..
        }]
    ) {
        return None;
    }
    let miss = [
        get(found),
        Op::ConstI32(0),
        Op::Ne(IrType::I32),
        Op::BrIf { label_depth: 0 },
        Op::Trap {
            kind: relon_ir::ir::TrapKind::IndexOutOfBounds,
        },
    ];
    let Some(Op::Block {
        result_ty: None,
        body: miss_body,
    }) = op(14)
    else {
        return None;
    };
    if !(miss_body.len() == miss.len() && miss_body.iter().zip(&miss).all(|(t, e)| &t.op == e)) {
        return None;
    }
    if op(15)
        != Some(&Op::LetGet {
            idx: result,
            ty: IrType::I64,
        })
    {
        return None;
    }
    Some(InlineDictProbe {
        dict_slot,
        key_slot,
        op_count: 16,
    })
}

/// Raise every inline list index and dict probe in the module's own
/// functions; the number raised.
pub fn raise_inline_reads(module: &mut Module) -> usize {
    let mut raised = 0;
    for func in &mut module.funcs {
        // Reads of each slot: all of them, and those inside an inline index.
        let mut reads = HashMap::new();
        count_index_reads(&func.body, &mut reads);
        let widen = |slot: u32| {
            reads
                .get(&slot)
                .is_some_and(|(all, in_index)| all == in_index)
        };
        raised += raise_body(&mut func.body, &widen);
    }
    raised
}

/// Per let slot: (`LetGet`s of it, `LetGet`s of it as an inline index's index).
fn count_index_reads(body: &[TaggedOp], reads: &mut HashMap<u32, (usize, usize)>) {
    crate::ir_walk::for_each_body(body, &mut |ops| {
        for (i, tagged) in ops.iter().enumerate() {
            if let Some(index) = match_inline_index(&ops[i..]) {
                reads.entry(index.index_slot).or_default().1 += 1;
            }
            if let Op::LetGet { idx, .. } = tagged.op {
                reads.entry(idx).or_default().0 += 1;
            }
        }
    });
}

/// Raise the reads in `body` and the bodies nested in it.
fn raise_body(body: &mut Vec<TaggedOp>, widen: &dyn Fn(u32) -> bool) -> usize {
    let mut raised = 0;
    crate::ir_walk::for_each_body_mut(body, &mut |ops| raised += raise_sequence(ops, widen));
    raised
}

/// Raise the reads in the one op sequence `body`, not in the bodies
/// nested in it.
fn raise_sequence(body: &mut Vec<TaggedOp>, widen: &dyn Fn(u32) -> bool) -> usize {
    let mut raised = 0;
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if let Some(index) = match_inline_index(&body[i..]) {
            let range = body[i].range;
            let index_ty = if widen(index.index_slot) {
                IrType::I64
            } else {
                IrType::I32
            };
            out.push(TaggedOp {
                op: Op::LetGet {
                    idx: index.base_slot,
                    ty: IrType::I32,
                },
                range,
            });
            out.push(TaggedOp {
                op: Op::LetGet {
                    idx: index.index_slot,
                    ty: index_ty,
                },
                range,
            });
            out.push(TaggedOp {
                op: Op::ListGetByIntIdx {
                    element_ty: index.element,
                },
                range,
            });
            i += index.op_count;
            raised += 1;
            continue;
        }
        if let Some(probe) = match_inline_dict_probe(&body[i..]) {
            let range = body[i].range;
            let at = |op| TaggedOp { op, range };
            out.push(at(Op::LetSet {
                idx: probe.key_slot,
                ty: IrType::I32,
            }));
            out.push(at(Op::LetGet {
                idx: probe.dict_slot,
                ty: IrType::I32,
            }));
            out.push(at(Op::LetGet {
                idx: probe.key_slot,
                ty: IrType::I32,
            }));
            // The code generator compares keys, not shapes: the shape hash
            // and the hints are advisory.
            out.push(at(Op::DictGetByStringKey {
                shape_hash: 0,
                value_ty: IrType::I64,
                entry_count_hint: None,
                record_len_hint: None,
            }));
            i += probe.op_count;
            raised += 1;
            continue;
        }
        let mut tagged = body[i].clone();
        // The index slot keeps the full Int the program computed.
        if let Op::LetSet { idx, ty } = &mut tagged.op
            && *ty == IrType::I32
            && widen(*idx)
        {
            *ty = IrType::I64;
        }
        out.push(tagged);
        i += 1;
    }
    *body = out;
    raised
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(list: &[Op]) -> Vec<TaggedOp> {
        list.iter().cloned().map(crate::ir_walk::tagged).collect()
    }

    fn float_index(base: u32, index: u32) -> Vec<Op> {
        vec![
            Op::LetGet {
                idx: base,
                ty: IrType::I32,
            },
            Op::ConstI32(11),
            Op::Add(IrType::I32),
            Op::ConstI32(-8),
            Op::BitAnd(IrType::I32),
            Op::LetGet {
                idx: index,
                ty: IrType::I32,
            },
            Op::ConstI32(8),
            Op::Mul(IrType::I32),
            Op::Add(IrType::I32),
            Op::LoadF64AtAbsolute { offset: 0 },
        ]
    }

    #[test]
    fn the_word_and_string_sequences_are_recognised_and_near_misses_are_not() {
        let words = ops(&float_index(4, 5));
        assert_eq!(
            match_inline_index(&words),
            Some(InlineIndex {
                base_slot: 4,
                index_slot: 5,
                element: IrType::F64,
                op_count: 10
            })
        );
        let strings = ops(&[
            Op::LetGet {
                idx: 1,
                ty: IrType::I32,
            },
            Op::ConstI32(4),
            Op::Add(IrType::I32),
            Op::LetGet {
                idx: 2,
                ty: IrType::I32,
            },
            Op::ConstI32(4),
            Op::Mul(IrType::I32),
            Op::Add(IrType::I32),
            Op::LoadI32AtAbsolute { offset: 0 },
        ]);
        assert_eq!(
            match_inline_index(&strings),
            Some(InlineIndex {
                base_slot: 1,
                index_slot: 2,
                element: IrType::String,
                op_count: 8
            })
        );
        // A field read at a non-zero offset is not an element load.
        let mut field = strings.clone();
        field[7].op = Op::LoadI32AtAbsolute { offset: 4 };
        assert_eq!(match_inline_index(&field), None);
        assert_eq!(match_inline_index(&words[..9]), None);
    }

    #[test]
    fn raising_widens_an_index_slot_only_when_nothing_else_reads_it() {
        let mut body = vec![
            Op::LetSet {
                idx: 5,
                ty: IrType::I32,
            },
            Op::LetSet {
                idx: 6,
                ty: IrType::I32,
            },
        ];
        body.push(Op::Block {
            result_ty: Some(IrType::F64),
            body: ops(&float_index(4, 5)),
        });
        body.extend(float_index(4, 6));
        body.push(Op::LetGet {
            idx: 6,
            ty: IrType::I32,
        });
        let mut body = ops(&body);
        let raised = raise_body(&mut body, &|slot| slot == 5);
        assert_eq!(raised, 2);
        let got: Vec<Op> = body.into_iter().map(|t| t.op).collect();
        let raised_index = |index: u32, ty: IrType| {
            vec![
                Op::LetGet {
                    idx: 4,
                    ty: IrType::I32,
                },
                Op::LetGet { idx: index, ty },
                Op::ListGetByIntIdx {
                    element_ty: IrType::F64,
                },
            ]
        };
        let mut expected = vec![
            Op::LetSet {
                idx: 5,
                ty: IrType::I64,
            },
            Op::LetSet {
                idx: 6,
                ty: IrType::I32,
            },
        ];
        expected.push(Op::Block {
            result_ty: Some(IrType::F64),
            body: ops(&raised_index(5, IrType::I64)),
        });
        expected.extend(raised_index(6, IrType::I32));
        expected.push(Op::LetGet {
            idx: 6,
            ty: IrType::I32,
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn the_lowerings_dict_probe_becomes_a_checked_lookup() {
        let source =
            "#main(String k) -> Dict\n{\n  #internal\n  d: { a: 1, b: 20 },\n  result: d[k]\n}";
        let ast = relon_parser::parse_document(source).expect("parses");
        let analyzed = relon_analyzer::analyze_with_options(
            &ast,
            &crate::frontend::analyze_options(&[]).expect("options"),
        );
        let mut lowered = relon_ir::lower_workspace_single(&analyzed, &ast).expect("lowers");
        let body = &lowered.module.funcs[0].body;
        let start = (0..body.len())
            .find(|&i| match_inline_dict_probe(&body[i..]).is_some())
            .expect("the lowering's probe is recognised");
        // A probe with its miss trap gone is not one.
        let mut cut = body[start..start + 16].to_vec();
        cut.remove(14);
        assert_eq!(match_inline_dict_probe(&cut), None);

        assert_eq!(raise_inline_reads(&mut lowered.module), 1);
        let mut names = Vec::new();
        crate::ir_walk::for_each_body(&lowered.module.funcs[0].body, &mut |ops| {
            names.extend(ops.iter().map(|t| crate::codegen::op_name(&t.op)));
        });
        let has = |name: &str| names.iter().any(|n| n == name);
        assert!(has("DictGetByStringKey"), "{names:?}");
        assert!(!has("Loop") && !has("Trap"), "{names:?}");
    }
}
