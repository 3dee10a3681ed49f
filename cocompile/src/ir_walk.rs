//! Walking an IR body together with the bodies nested in its `If`,
//! `Block` and `Loop` ops, for the passes that look at every op sequence
//! of a function without caring about control flow (the lets a body sets),
//! naming the module function an `Op::Call` calls, and making an op that
//! a pass writes (it has no source range).

use relon_ir::ir::{Op, TaggedOp};

/// `op` with no source range, as a pass writes it.
pub fn tagged(op: Op) -> TaggedOp {
    TaggedOp {
        op,
        range: Default::default(),
    }
}

/// Call `visit` on `body` and then, depth-first in op order, on every
/// body nested in it.
pub fn for_each_body(body: &[TaggedOp], visit: &mut impl FnMut(&[TaggedOp])) {
    visit(body);
    for tagged in body {
        match &tagged.op {
            Op::If {
                then_body,
                else_body,
                ..
            } => {
                for_each_body(then_body, visit);
                for_each_body(else_body, visit);
            }
            Op::Block { body, .. } | Op::Loop { body, .. } => for_each_body(body, visit),
            _ => {}
        }
    }
}

/// [`for_each_body`] for a pass that rewrites op sequences: `visit` may
/// change `body` as it likes, and then the bodies nested in what it left
/// are visited the same way, depth-first in op order.
pub fn for_each_body_mut(body: &mut Vec<TaggedOp>, visit: &mut impl FnMut(&mut Vec<TaggedOp>)) {
    visit(body);
    for tagged in body.iter_mut() {
        match &mut tagged.op {
            Op::If {
                then_body,
                else_body,
                ..
            } => {
                for_each_body_mut(then_body, visit);
                for_each_body_mut(else_body, visit);
            }
            Op::Block { body, .. } | Op::Loop { body, .. } => for_each_body_mut(body, visit),
            _ => {}
        }
    }
}

/// The lets `body` or a body nested in it sets (under any type), in op
/// order, once per `LetSet`.
pub fn lets_set_in(body: &[TaggedOp]) -> Vec<u32> {
    let mut set = Vec::new();
    for_each_body(body, &mut |ops| {
        for tagged in ops {
            if let Op::LetSet { idx, .. } = tagged.op {
                set.push(idx);
            }
        }
    });
    set
}

/// The module function (by index into `Module::funcs`) a combined
/// `Op::Call` index names; `None` for a function of the builtin stdlib,
/// whose indices come first.
pub fn module_function_of(fn_index: u32) -> Option<u32> {
    fn_index.checked_sub(relon_ir::stdlib_function_count())
}
