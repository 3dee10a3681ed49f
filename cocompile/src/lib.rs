//! The Relon LLVM co-compiler.
//!
//! - [`frontend`]: `.relon` source to `relon_ir::ir::Module` with the host
//!   functions declared to the analyzer; source diagnostics with spans.
//! - [`codegen`]: the IR to an LLVM module (one file per op family).
//! - [`pipeline`]: closed world, from source and a host crate to one
//!   statically linked executable ([`host_check`], [`inline_report`] and
//!   [`runner`] are its steps).
//! - [`emit_object`]: the same pipeline to a static archive and the
//!   metadata of its typed bindings, for a Rust crate's `build.rs`.
//! - [`float_bounds`]: after O3, folds the divide-by-zero tests of Floats
//!   proven positive (or NaN), in every artifact.
//! - [`wasm`]: the code generator for wasm32, linked into a module with
//!   its dispatch plan.
//!
//! This crate links LLVM 22 through inkwell; the `xtask` CLI does not.

// Errors carry their source text and spans for miette; they are built once,
// on the failure path, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod codegen;
pub mod emit_object;
pub mod float_bounds;
pub mod free_calls;
pub mod frontend;
pub mod host_check;
pub mod inline_report;
pub mod ir_walk;
pub mod jit;
pub mod pipeline;
pub mod raise;
pub mod range_fusion;
pub mod runner;
pub mod wasm;
