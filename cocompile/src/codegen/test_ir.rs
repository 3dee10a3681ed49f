//! Builders of hand-written IR for the unit tests of the code generator
//! and the IR passes, and the bundled stdlib bodies they read.

use relon_ir::ir::{IrType, Op, TaggedOp};

pub(crate) use crate::ir_walk::tagged;

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

/// The bundled stdlib function `name`.
pub(crate) fn stdlib_function(name: &str) -> &'static relon_ir::StdlibFunction {
    relon_ir::stdlib_function_index(name)
        .and_then(|i| relon_ir::builtin_stdlib().get(i as usize))
        .expect("a bundled stdlib function")
}
