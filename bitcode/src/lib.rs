//! From a user's Rust host-function crate to linked LLVM bitcode.
//!
//! Owns three jobs and nothing else:
//! - [`host_manifest`]: read the host functions a crate declares in its
//!   `[package.metadata.relon.functions]` table.
//! - [`host_build`]: build the crate with embedded bitcode and pull the
//!   `.llvmbc` section out of every object of every rlib it produced.
//! - [`tools`]: find the LLVM command-line tools once, check their version,
//!   and run `llvm-link`.
//!
//! It never generates code and never links LLVM into the process.

pub mod host_build;
pub mod host_manifest;
pub mod tools;

pub use host_build::{HostBuildError, HostBuildOptions, HostCrateBitcode, build_host_crate};
pub use host_manifest::{HostCrate, HostFnDecl, HostManifestError, read_host_crate};
pub use tools::{LlvmTools, ToolError};
