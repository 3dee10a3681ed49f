//! A `.relon` file to a native object for a Rust crate to link, with the
//! metadata its typed bindings are generated from: the library entry a
//! `build.rs` calls.
//!
//! [`emit_object`] runs the closed-world pipeline up to the optimized
//! object (host crate co-compiled and inlined, everything internal but the
//! two entries), renames the entries to `relon_entry_<name>_<tag>` and
//! `relon_entry_<name>_<tag>_metered` (the tag tells apart programs of one
//! name in different crates), checks that its bindings can be generated,
//! and writes three files into the output directory, each by an atomic
//! rename, none if anything fails:
//!
//! - `librelon_<name>_<tag>.a`: the object;
//! - `<name>.const.bin`: the constant data the entry expects in its arena;
//! - `<name>.relon.json`: the [`EmitObjectInfo`].
//!
//! [`for_build_script`] does that from a `build.rs`, writes the bindings
//! (`relon-bindings`) to `$OUT_DIR/<name>.rs` and prints the cargo
//! directives that link the archive.

use std::path::{Path, PathBuf};
use std::process::Command;

use relon_abi::layout::SchemaLayout;
use relon_abi::schema_canonical::Schema;
pub use relon_bindings::{
    EmitObjectInfo, EmittedField, EmittedTrapSite, EntryShape, GENERATOR_VERSION,
};
use relon_host_shims::values::type_name;

use crate::frontend;
use crate::pipeline::{
    FrontEnd, ObjectSettings, PipelineError, Stopwatch, build_object, host_triple, place_all,
    read_and_lower,
};

/// One program to compile for linking into a Rust crate.
#[derive(Debug, Clone)]
pub struct EmitObjectRequest {
    /// A Rust identifier: the bindings function's name and the symbols' suffix.
    pub name: String,
    /// The `.relon` program.
    pub source: PathBuf,
    /// Its host crate, if it calls host functions.
    pub host: Option<PathBuf>,
    /// Where the archive, the constant data and the metadata go.
    pub out_dir: PathBuf,
    /// `target-cpu` of the emitted code and the host crate; match the
    /// embedding crate's (`x86-64` unless it sets one).
    pub target_cpu: String,
    /// Capabilities granted to the program.
    pub grants: Vec<String>,
    /// Cache for the host crate's build.
    pub build_dir: PathBuf,
    /// Makes the symbols unique beyond the name: two crates in one binary
    /// may each embed a program called `pricing`. Defaults to a hash of the
    /// name and the source's absolute path; `for_build_script` uses the
    /// package's name and version.
    pub symbol_tag: Option<String>,
}

impl EmitObjectRequest {
    /// `name` from `source` into `out_dir`, no host crate, `target-cpu`
    /// x86-64, the build cache in `out_dir/relon-build`.
    pub fn new(
        name: impl Into<String>,
        source: impl Into<PathBuf>,
        out_dir: impl Into<PathBuf>,
    ) -> EmitObjectRequest {
        let out_dir = out_dir.into();
        EmitObjectRequest {
            name: name.into(),
            source: source.into(),
            host: None,
            build_dir: out_dir.join("relon-build"),
            out_dir,
            target_cpu: "x86-64".into(),
            grants: Vec::new(),
            symbol_tag: None,
        }
    }

    /// Co-compile the host crate at `dir`.
    pub fn host(mut self, dir: impl Into<PathBuf>) -> EmitObjectRequest {
        self.host = Some(dir.into());
        self
    }
}

/// Compile `req.source` to an archive and its metadata; see the module docs.
pub fn emit_object(req: &EmitObjectRequest) -> Result<EmitObjectInfo, PipelineError> {
    if !relon_bindings::is_program_name(&req.name) {
        return Err(PipelineError::BadProgramName(req.name.clone()));
    }
    let mut clock = Stopwatch::start();
    let FrontEnd {
        source_name,
        host,
        program,
    } = read_and_lower(&req.source, req.host.as_deref())?;
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let tag = req
        .symbol_tag
        .clone()
        .unwrap_or_else(|| short_hash(&[&req.name, &absolute(&req.source).to_string_lossy()]));
    let entry_symbol = format!(
        "{}_{}_{tag}",
        relon_runtime_contract::ENTRY_SYMBOL,
        req.name
    );
    let built = build_object(
        &ObjectSettings {
            target_triple: &host_triple(),
            target_cpu: &req.target_cpu,
            grants: &req.grants,
            build_dir: &req.build_dir,
            entry_symbol: &entry_symbol,
        },
        &source_name,
        host.as_ref(),
        &program,
        &mut clock,
    )?;

    let link_name = format!("relon_{}_{tag}", req.name);
    let staged_archive = built.work.path().join(format!("lib{link_name}.a"));
    let mut ar = Command::new(&built.tools.llvm_ar);
    ar.arg("rcs").arg(&staged_archive).arg(&built.object);
    relon_bitcode::tools::run(ar)?;
    let staged_const = built.work.path().join("const.bin");
    std::fs::write(&staged_const, &built.const_data).map_err(|source| PipelineError::Io {
        action: "could not write",
        path: staged_const.clone(),
        source,
    })?;

    let out_dir = absolute(&req.out_dir);
    let archive = out_dir.join(format!("lib{link_name}.a"));
    let const_data = out_dir.join(format!("{}.const.bin", req.name));
    let (shape, params, result) = entry_fields(&program)?;
    let info = EmitObjectInfo {
        generator_version: GENERATOR_VERSION.into(),
        name: req.name.clone(),
        source_name,
        source: absolute(&req.source),
        host_crate: req.host.as_deref().map(absolute),
        host_functions: built.host_functions.clone(),
        archive: archive.clone(),
        link_name,
        metered_entry_symbol: format!("{entry_symbol}{}", relon_runtime_contract::METERED_SUFFIX),
        entry_symbol,
        shape,
        params,
        result,
        result_type: result_type(&program.lowered.return_schema),
        main_schema: program.lowered.main_schema.clone(),
        return_schema: program.lowered.return_schema.clone(),
        const_data: const_data.clone(),
        trap_sites: built
            .trap_sites
            .iter()
            .map(|s| EmittedTrapSite {
                line: s.line,
                column: s.column,
            })
            .collect(),
        target_triple: host_triple(),
        target_cpu: req.target_cpu.clone(),
    };
    let staged_meta = built.work.path().join("meta.json");
    std::fs::write(&staged_meta, info.to_json()).map_err(|source| PipelineError::Io {
        action: "could not write",
        path: staged_meta.clone(),
        source,
    })?;
    // Bindings that cannot be generated fail the build before anything is placed.
    relon_bindings::generate(&info)?;
    place_all(&[
        (&staged_archive, &archive),
        (&staged_const, &const_data),
        (
            &staged_meta,
            &out_dir.join(format!("{}.relon.json", req.name)),
        ),
    ])?;
    Ok(info)
}

/// 16 hex digits of a stable hash of `parts` (FNV-1a: the same on every
/// machine and toolchain, so rebuilds are byte-identical).
fn short_hash(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// From a `build.rs`: compile `source` (relative to the crate's manifest
/// directory, as is `host`) into `$OUT_DIR`, write the bindings to
/// `$OUT_DIR/<name>.rs`, and print the cargo directives that link it.
/// Include the bindings with
/// `mod NAME { include!(concat!(env!("OUT_DIR"), "/NAME.rs")); }`.
pub fn for_build_script(
    name: &str,
    source: &str,
    host: Option<&str>,
) -> Result<EmitObjectInfo, PipelineError> {
    let env = |key: &'static str| {
        std::env::var_os(key)
            .map(PathBuf::from)
            .ok_or(PipelineError::NotInBuildScript(key))
    };
    let out_dir = env("OUT_DIR")?;
    let manifest_dir = env("CARGO_MANIFEST_DIR")?;
    if let Some(target) = std::env::var_os("TARGET") {
        let ours = host_triple();
        if target.to_string_lossy() != ours {
            return Err(PipelineError::CrossTarget {
                target: target.to_string_lossy().into_owned(),
                host: ours,
            });
        }
    }
    let mut req = EmitObjectRequest::new(name, manifest_dir.join(source), &out_dir);
    let package = |key| std::env::var(key).unwrap_or_default();
    req.symbol_tag = Some(short_hash(&[
        &package("CARGO_PKG_NAME"),
        &package("CARGO_PKG_VERSION"),
        name,
    ]));
    if let Some(host) = host {
        req = req.host(manifest_dir.join(host));
    }
    if let Some(cpu) = std::env::var_os("RELON_TARGET_CPU") {
        req.target_cpu = cpu.to_string_lossy().into_owned();
    }
    println!("cargo:rerun-if-env-changed=RELON_TARGET_CPU");
    // Directives first: a failed build still reruns when the source changes.
    println!("cargo:rerun-if-changed={}", req.source.display());
    let info = emit_object(&req)?;
    relon_bindings::write_bindings(&info, &out_dir.join(format!("{name}.rs")))?;
    for line in relon_bindings::cargo_directives(&info) {
        println!("{line}");
    }
    Ok(info)
}

/// The entry shape and one field per parameter and result field, with
/// their byte offsets.
fn entry_fields(
    program: &frontend::LoweredProgram,
) -> Result<(EntryShape, Vec<EmittedField>, Vec<EmittedField>), PipelineError> {
    let main = &program.lowered.main_schema;
    let ret = &program.lowered.return_schema;
    if let Some(layout) = &program.layout {
        let field = |slot: &frontend::SlotLayout| EmittedField {
            name: slot.name.clone(),
            ty: slot.ty.relon_name().into(),
            offset: slot.offset,
        };
        return Ok((
            EntryShape::Scalars {
                in_len: layout.in_len,
                out_len: layout.out_len,
            },
            layout.params.iter().map(field).collect(),
            vec![field(&layout.result)],
        ));
    }
    let fields = |schema: &Schema| -> Result<Vec<EmittedField>, PipelineError> {
        let table = SchemaLayout::offsets_for(schema).map_err(|e| {
            PipelineError::Layout(format!("the schema `{}` has no layout: {e}", schema.name))
        })?;
        Ok(schema
            .fields
            .iter()
            .zip(&table.fields)
            .map(|(f, o)| EmittedField {
                name: f.name.clone(),
                ty: type_name(&f.ty),
                offset: o.offset as u32,
            })
            .collect())
    };
    Ok((EntryShape::Values, fields(main)?, fields(ret)?))
}

fn result_type(ret: &Schema) -> String {
    match ret.fields.as_slice() {
        [only] if ret.name == "Ret" && only.name == "value" => type_name(&only.ty),
        _ => ret.name.clone(),
    }
}
