//! Which let slots are set on every path before they are read.
//!
//! relon-ir 0.1.0-rc3 can name a `#main` parameter by a let it sets only
//! in one branch (where a closure captures the parameter) and read that
//! let in the other branch too, where it still holds its zeroed initial
//! value: the program would answer with 0 for the parameter. The code
//! generator refuses a program function (not a bundled stdlib body) that
//! reads a let on a path that does not set it first.
//!
//! The analysis is structural: ops run in order, a `Block` or `Loop` body
//! counts as straight-line code, and after an `If` a let is set when both
//! branches that fall through set it (a branch ending in `Return`, `Br`,
//! `BrTable` or `Trap` does not fall through).

use std::collections::HashSet;

use relon_ir::ir::{Op, TaggedOp};

/// The first let read, in program order, on a path that does not set it.
pub fn first_unassigned_read(body: &[TaggedOp]) -> Option<u32> {
    let mut set = HashSet::new();
    walk(body, &mut set).err()
}

/// Walk `ops` from `set`, leaving in `set` what is set after them.
fn walk(ops: &[TaggedOp], set: &mut HashSet<u32>) -> Result<(), u32> {
    for tagged in ops {
        match &tagged.op {
            Op::LetSet { idx, .. } => {
                set.insert(*idx);
            }
            Op::LetGet { idx, .. } if !set.contains(idx) => return Err(*idx),
            Op::Block { body, .. } | Op::Loop { body, .. } => walk(body, set)?,
            Op::If {
                then_body,
                else_body,
                ..
            } => {
                let mut then_set = set.clone();
                walk(then_body, &mut then_set)?;
                let mut else_set = set.clone();
                walk(else_body, &mut else_set)?;
                *set = match (falls_through(then_body), falls_through(else_body)) {
                    (true, true) => then_set.intersection(&else_set).copied().collect(),
                    (true, false) => then_set,
                    (false, true) => else_set,
                    (false, false) => then_set.union(&else_set).copied().collect(),
                };
            }
            _ => {}
        }
    }
    Ok(())
}

fn falls_through(body: &[TaggedOp]) -> bool {
    !matches!(
        body.last().map(|t| &t.op),
        Some(Op::Return | Op::Br { .. } | Op::BrTable { .. } | Op::Trap { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir_walk::tagged as op;
    use relon_ir::ir::IrType;

    fn set(idx: u32) -> TaggedOp {
        op(Op::LetSet {
            idx,
            ty: IrType::I64,
        })
    }
    fn get(idx: u32) -> TaggedOp {
        op(Op::LetGet {
            idx,
            ty: IrType::I64,
        })
    }
    fn branch(then_body: Vec<TaggedOp>, else_body: Vec<TaggedOp>) -> TaggedOp {
        op(Op::If {
            result_ty: IrType::I64,
            then_body,
            else_body,
        })
    }

    #[test]
    fn a_let_set_in_one_branch_is_not_set_after_the_if() {
        let one_branch = vec![
            op(Op::ConstBool(true)),
            branch(vec![op(Op::ConstI64(1)), set(4), get(4)], vec![get(4)]),
        ];
        assert_eq!(first_unassigned_read(&one_branch), Some(4));
        let both = vec![
            op(Op::ConstBool(true)),
            branch(
                vec![op(Op::ConstI64(1)), set(4)],
                vec![op(Op::ConstI64(2)), set(4)],
            ),
            get(4),
        ];
        assert_eq!(first_unassigned_read(&both), None);
        let trapping_else = vec![
            op(Op::ConstBool(true)),
            branch(
                vec![op(Op::ConstI64(1)), set(4)],
                vec![op(Op::Trap {
                    kind: relon_ir::ir::TrapKind::NoMatch,
                })],
            ),
            get(4),
        ];
        assert_eq!(first_unassigned_read(&trapping_else), None);
    }
}
