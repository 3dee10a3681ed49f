//! The Relon LLVM co-compiler.
//!
//! - [`frontend`]: `.relon` source to `relon_ir::ir::Module` with the host
//!   functions declared to the analyzer; source diagnostics with spans.
//! - [`codegen`]: the IR to an LLVM module (one file per op family).
//! - [`pipeline`]: closed world, from source and a host crate to one
//!   statically linked executable ([`host_check`], [`inline_report`] and
//!   [`runner`] are its steps).
//!
//! This crate links LLVM 22 through inkwell; the `xtask` CLI does not.

pub mod codegen;
pub mod frontend;
pub mod host_check;
pub mod inline_report;
pub mod jit;
pub mod pipeline;
pub mod runner;
