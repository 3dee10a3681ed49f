//! Typed Rust bindings for a Relon program compiled to a native object.
//!
//! `relon_cocompile::emit_object` compiles a `.relon` file (and its host
//! crate, closed world) into a static archive and describes it with an
//! [`EmitObjectInfo`]: the entry symbols, the entry shape, and one
//! [`EmittedField`] per `#main` parameter and result field. This crate
//! turns that description into Rust source ([`generate`]): a struct for the
//! parameters, a type per named record and `#enum`, and a function
//! `fn NAME(req: &Request) -> Result<Ret, RuntimeError>` that calls the
//! object through `relon_host_shims::embed`, with no JSON in between.
//!
//! A `build.rs` calls `emit_object`, then [`write_bindings`], then prints
//! [`cargo_directives`]; the crate `include!`s the generated file. The
//! metadata carries [`GENERATOR_VERSION`]; bindings are only generated for
//! metadata of the same version.

mod generate;

use std::path::{Path, PathBuf};

use relon_abi::schema_canonical::Schema;
use serde::{Deserialize, Serialize};

pub use generate::{GenerateOptions, generate, generate_with, is_program_name};

/// Version of the object-and-metadata format: the emitter stamps it, the
/// generator refuses any other. Bumped whenever the entry ABI, the
/// metadata or the runtime calls generated code makes change.
pub const GENERATOR_VERSION: &str = concat!(
    "relon-embed/1 (relon-bindings ",
    env!("CARGO_PKG_VERSION"),
    ", relon-ir 0.1.0-rc3)"
);

/// How the entry takes its arguments and returns its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryShape {
    /// Every parameter and the result are Int, Float or Bool, at fixed
    /// offsets of an input record of `in_len` bytes and an output record of
    /// `out_len` bytes.
    Scalars {
        /// Input record size.
        in_len: u32,
        /// Output record size.
        out_len: u32,
    },
    /// Some parameter or the result is a string, list, record or variant:
    /// arguments and result travel as `relon-abi` buffers laid out by the
    /// canonical schemas.
    Values,
}

/// One `#main` parameter, or one field of the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmittedField {
    /// Name as written in the source (`value` for a result that is one value).
    pub name: String,
    /// Canonical Relon type (`Int`, `List<String>`, `Quote`, `Option<Int>`).
    pub ty: String,
    /// Byte offset in the input record (parameters) or the output record
    /// (result fields).
    pub offset: u32,
}

/// Source position of a trap site, 1-based (index = the trap-site number
/// the entry reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmittedTrapSite {
    /// Line.
    pub line: u32,
    /// Column.
    pub column: u32,
}

/// What `emit_object` wrote, and everything bindings need to call it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmitObjectInfo {
    /// [`GENERATOR_VERSION`] of the emitter.
    pub generator_version: String,
    /// The program's name: a Rust identifier, the bindings function's name
    /// and the suffix of its symbols.
    pub name: String,
    /// File name of the `.relon` source, for messages.
    pub source_name: String,
    /// The `.relon` source.
    pub source: PathBuf,
    /// The host crate co-compiled into the object, if any.
    pub host_crate: Option<PathBuf>,
    /// Host functions the program calls (inlined into the object).
    pub host_functions: Vec<String>,
    /// The static archive holding the object (`lib{link_name}.a`).
    pub archive: PathBuf,
    /// Name to link it by (`cargo:rustc-link-lib=static={link_name}`).
    pub link_name: String,
    /// The entry without a step budget: `extern "C" fn(*mut EntryState) -> u32`.
    pub entry_symbol: String,
    /// The entry that counts steps (same signature).
    pub metered_entry_symbol: String,
    /// How arguments and result travel.
    pub shape: EntryShape,
    /// `#main` parameters in declaration order.
    pub params: Vec<EmittedField>,
    /// The result's fields: one field `value` when `#main` returns one
    /// value, the record's fields when it returns a `#schema` record.
    pub result: Vec<EmittedField>,
    /// Canonical type of the whole result.
    pub result_type: String,
    /// Canonical `#main` schema (the parameters as one record).
    pub main_schema: Schema,
    /// Canonical return schema.
    pub return_schema: Schema,
    /// Constant data the entry expects at arena offset 0.
    pub const_data: PathBuf,
    /// Source positions of the trap sites.
    pub trap_sites: Vec<EmittedTrapSite>,
    /// Target triple of the object.
    pub target_triple: String,
    /// `target-cpu` the object (and the host crate) was compiled for.
    pub target_cpu: String,
}

/// Why bindings could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum BindingsError {
    /// The metadata comes from another version of the emitter.
    #[error(
        "the object metadata was written by `{found}`, these bindings are `{expected}`; rebuild the object with the relon-cocompile of this checkout"
    )]
    VersionMismatch {
        /// The metadata's version.
        found: String,
        /// Ours.
        expected: String,
    },
    /// A type of the program has no Rust form.
    #[error("{0}")]
    Unsupported(String),
    /// Two different types of the program share one Rust name.
    #[error("two types named `{0}` with different fields reach #main; rename one in the source")]
    NameClash(String),
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl EmitObjectInfo {
    /// The metadata as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read metadata written by [`Self::to_json`].
    pub fn from_json(text: &str) -> Result<EmitObjectInfo, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// Generate the bindings for `info` into `path` (written only if changed,
/// so cargo does not rebuild for nothing).
pub fn write_bindings(info: &EmitObjectInfo, path: &Path) -> Result<(), BindingsError> {
    let source = generate(info)?;
    if std::fs::read_to_string(path).is_ok_and(|old| old == source) {
        return Ok(());
    }
    // Through a temporary file and a rename: never a half-written file.
    let mut staged = path.as_os_str().to_owned();
    staged.push(".tmp");
    let staged = PathBuf::from(staged);
    let io = |action: &'static str, at: &Path| {
        let path = at.to_path_buf();
        move |source| BindingsError::Io {
            action,
            path,
            source,
        }
    };
    std::fs::write(&staged, source).map_err(io("could not write", &staged))?;
    std::fs::rename(&staged, path).map_err(io("could not write", path))
}

/// The lines a `build.rs` prints so cargo links the archive and reruns
/// when the source or the host crate changes.
pub fn cargo_directives(info: &EmitObjectInfo) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(dir) = info.archive.parent() {
        lines.push(format!("cargo:rustc-link-search=native={}", dir.display()));
    }
    lines.push(format!("cargo:rustc-link-lib=static={}", info.link_name));
    lines.push(format!("cargo:rerun-if-changed={}", info.source.display()));
    if let Some(host) = &info.host_crate {
        for part in ["Cargo.toml", "src"] {
            lines.push(format!(
                "cargo:rerun-if-changed={}",
                host.join(part).display()
            ));
        }
    }
    lines
}
