//! Builders of hand-written IR for the code generator's unit tests.

use relon_ir::ir::{IrType, Op, TaggedOp};

/// `op` with no source range.
pub(crate) fn tagged(op: Op) -> TaggedOp {
    TaggedOp {
        op,
        range: Default::default(),
    }
}

/// `LetGet { idx, ty: I32 }`.
pub(crate) fn get_i32(idx: u32) -> TaggedOp {
    tagged(Op::LetGet {
        idx,
        ty: IrType::I32,
    })
}

/// `LetSet { idx, ty: I32 }`.
pub(crate) fn set_i32(idx: u32) -> TaggedOp {
    tagged(Op::LetSet {
        idx,
        ty: IrType::I32,
    })
}
