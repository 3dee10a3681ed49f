//! Closed world, end to end: a `.relon` file and a Rust host crate to one
//! statically linked executable.
//!
//! 1. front end: lower the source with the host functions declared;
//! 2. code generation: every `CallNative` a direct call to its host symbol;
//! 3. host crate to bitcode (`relon-bitcode`), signatures checked;
//! 4. `llvm-link`, then `opt` (internalize all but `relon_entry`, O3, with
//!    inliner remarks), then `llc` to an object;
//! 5. the runner crate links the object with `relon-host-shims` into a
//!    `+crt-static` executable, moved into place atomically.
//!
//! Intermediate files live in a temporary directory that is removed on
//! every exit path; the output path is only ever written by a rename.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use inkwell::context::Context;
use relon_bitcode::{HostBuildOptions, HostCrate, HostFnDecl, LlvmTools};

use crate::codegen::{self, CodegenOptions};
use crate::float_bounds;
use crate::frontend;
use crate::host_check::{HostSymbolError, check_host_symbols};
use crate::inline_report::{InlineDecision, inline_decisions};
use crate::runner::{RunnerInput, build_runner};

/// Extra forms of the optimized module written next to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EmitKind {
    /// Textual LLVM IR (`.ll`).
    Ll,
    /// Bitcode (`.bc`).
    Bc,
    /// Object file (`.o`).
    Obj,
    /// Assembly (`.s`).
    Asm,
}

impl EmitKind {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            EmitKind::Ll => "ll",
            EmitKind::Bc => "bc",
            EmitKind::Obj => "o",
            EmitKind::Asm => "s",
        }
    }

    /// Parse `ll`, `bc`, `obj`, `asm`.
    pub fn parse(s: &str) -> Option<EmitKind> {
        Some(match s {
            "ll" => EmitKind::Ll,
            "bc" => EmitKind::Bc,
            "obj" => EmitKind::Obj,
            "asm" => EmitKind::Asm,
            _ => return None,
        })
    }
}

/// One co-compile.
#[derive(Debug, Clone)]
pub struct CocompileRequest {
    /// The `.relon` program.
    pub source: PathBuf,
    /// The host crate (directory or `Cargo.toml`), if the program calls host functions.
    pub host: Option<PathBuf>,
    /// Where to write the executable.
    pub output: PathBuf,
    /// `target-cpu` for the emitted code and the host crate.
    pub target_cpu: String,
    /// Extra forms of the optimized module to write next to the output.
    pub emit: BTreeSet<EmitKind>,
    /// Capabilities granted to the program.
    pub grants: Vec<String>,
    /// Directory for build products that outlive one run (host and runner builds).
    pub build_dir: PathBuf,
    /// The C library the executable links statically.
    pub libc: Libc,
}

/// The C library a static executable links, which picks the Rust target
/// of the host crate and of the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Libc {
    /// musl: the small executable (a trivial program is about 0.6 MB
    /// stripped, against 1.5 MB with glibc).
    #[default]
    Musl,
    /// glibc, for a host crate that needs it.
    Gnu,
}

impl Libc {
    /// The Rust target triple of this machine's architecture with this libc.
    pub fn rust_target(self) -> String {
        let host = host_triple();
        match self {
            Libc::Gnu => host,
            Libc::Musl => host.replace("-linux-gnu", "-linux-musl"),
        }
    }
}

/// Refuse a target whose standard library rustup has not installed: the
/// host crate and the runtime could not build for it.
fn check_rust_target(target: &str) -> Result<(), PipelineError> {
    let rustc = || PathBuf::from(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    let sysroot = rust_sysroot().ok_or_else(|| PipelineError::Io {
        action: "could not run",
        path: rustc(),
        source: std::io::Error::other("`rustc --print sysroot` failed"),
    })?;
    if rust_target_installed_in(sysroot, target) {
        Ok(())
    } else {
        Err(PipelineError::RustTargetMissing {
            target: target.to_string(),
        })
    }
}

/// Rust's sysroot (`$RUSTC --print sysroot`), asked once per process: a
/// conformance run builds hundreds of programs.
pub(crate) fn rust_sysroot() -> Option<&'static Path> {
    static SYSROOT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    SYSROOT
        .get_or_init(|| {
            let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
            Command::new(rustc)
                .args(["--print", "sysroot"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        })
        .as_deref()
}

/// Whether `sysroot` has Rust's standard library for `target` (what
/// `rustup target add` installs).
pub(crate) fn rust_target_installed_in(sysroot: &Path, target: &str) -> bool {
    sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// What a successful co-compile produced.
#[derive(Debug)]
pub struct CocompileOutcome {
    /// The executable.
    pub output: PathBuf,
    /// Files written by `--emit`.
    pub emitted: Vec<PathBuf>,
    /// The inliner's decision at every host call site.
    pub inlining: Vec<InlineDecision>,
    /// Time per pipeline stage.
    pub timings: Vec<(&'static str, Duration)>,
}

/// Why a co-compile failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PipelineError {
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
    /// The source does not compile.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(#[from] frontend::FrontendError),
    /// The host crate's declarations are unreadable.
    #[error(transparent)]
    HostManifest(#[from] relon_bitcode::HostManifestError),
    /// The host crate does not build or has no bitcode.
    #[error(transparent)]
    HostBuild(#[from] relon_bitcode::HostBuildError),
    /// An LLVM tool is missing or failed.
    #[error(transparent)]
    Tools(#[from] relon_bitcode::ToolError),
    /// Code generation refused the program.
    #[error(transparent)]
    Codegen(#[from] codegen::CodegenError),
    /// The host crate does not define what it declares.
    #[error("the host crate does not match its declarations:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    HostSymbols(Vec<HostSymbolError>),
    /// A called host function needs a capability the build does not grant.
    #[error(
        "host function `{function}` needs capability `{capability}`, which this build does not grant; pass `--grant {capability}` if the program may use it"
    )]
    CapabilityNotGranted {
        /// The host function.
        function: String,
        /// The capability.
        capability: String,
    },
    /// The Rust standard library of the executable's target is missing.
    #[error("Rust's standard library for `{target}`, which the executable links, is not installed")]
    #[diagnostic(help(
        "install it with `rustup target add {target}` (`cargo xtask setup` does), or link glibc with `--libc gnu`"
    ))]
    RustTargetMissing {
        /// The Rust target triple.
        target: String,
    },
    /// `--grant` names no capability.
    #[error(
        "unknown capability `{0}` in --grant (known: reads_fs, writes_fs, network, reads_clock, reads_env, uses_rng)"
    )]
    UnknownGrant(String),
    /// The program calls host functions but no host crate was given.
    #[error(
        "the program calls host function `{0}` but no host crate was given; pass `--host <dir>`"
    )]
    NoHostCrate(String),
    /// Linking the executable failed.
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
    /// An embedded program's name is not a Rust identifier.
    #[error(
        "`{0}` cannot name an embedded program: use a lowercase Rust identifier (letters, digits, `_`), such as `pricing`"
    )]
    BadProgramName(String),
    /// `for_build_script` ran outside a build script.
    #[error(
        "`{0}` is not set: emit_object::for_build_script runs from a build.rs; call emit_object with explicit paths elsewhere"
    )]
    NotInBuildScript(&'static str),
    /// The embedding crate is built for another target.
    #[error(
        "the crate is built for `{target}`, but relon-cocompile emits objects for this machine (`{host}`) only; build for `{host}`"
    )]
    CrossTarget {
        /// Cargo's target.
        target: String,
        /// Ours.
        host: String,
    },
    /// A `#main` schema has no binary layout.
    #[error("{0}")]
    Layout(String),
    /// The typed bindings could not be generated.
    #[error(transparent)]
    Bindings(#[from] relon_bindings::BindingsError),
}

/// The Rust target triple of this machine.
pub fn host_triple() -> String {
    inkwell::targets::TargetMachine::get_default_triple()
        .as_str()
        .to_string_lossy()
        .replace("-pc-", "-unknown-")
}

pub(crate) struct Stopwatch {
    timings: Vec<(&'static str, Duration)>,
    last: Instant,
}

impl Stopwatch {
    /// A stopwatch started now.
    pub(crate) fn start() -> Stopwatch {
        Stopwatch {
            timings: Vec::new(),
            last: Instant::now(),
        }
    }

    pub(crate) fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.timings.push((stage, now - self.last));
        self.last = now;
    }
}

/// Run the whole closed-world pipeline.
pub fn cocompile(req: &CocompileRequest) -> Result<CocompileOutcome, PipelineError> {
    let mut clock = Stopwatch::start();
    let front = read_and_lower(&req.source, req.host.as_deref())?;
    clock.lap("front end");
    cocompile_program(
        req,
        &front.source_name,
        front.host.as_ref(),
        &front.program,
        clock,
    )
}

/// A source read and lowered, with its host crate's declarations.
pub(crate) struct FrontEnd {
    /// The source's file name, for messages.
    pub source_name: String,
    /// The host crate, if one was given.
    pub host: Option<HostCrate>,
    /// The lowered program.
    pub program: frontend::LoweredProgram,
}

/// Step 1: read `source`, read the host crate's declarations, lower.
pub(crate) fn read_and_lower(
    source: &Path,
    host: Option<&Path>,
) -> Result<FrontEnd, PipelineError> {
    let text = std::fs::read_to_string(source).map_err(|e| PipelineError::Io {
        action: "could not read",
        path: source.to_path_buf(),
        source: e,
    })?;
    let source_name = source
        .file_name()
        .map_or_else(|| "main.relon".into(), |n| n.to_string_lossy().into_owned());
    let host = host.map(relon_bitcode::read_host_crate).transpose()?;
    let decls = host
        .as_ref()
        .map(|h| h.functions.clone())
        .unwrap_or_default();
    let program = frontend::lower_source(&source_name, &text, &decls)?;
    Ok(FrontEnd {
        source_name,
        host,
        program,
    })
}

/// The pipeline from an already lowered program on (the host crate, if
/// any, already read).
pub fn cocompile_lowered(
    req: &CocompileRequest,
    source_name: &str,
    host: Option<&HostCrate>,
    program: &frontend::LoweredProgram,
) -> Result<CocompileOutcome, PipelineError> {
    cocompile_program(req, source_name, host, program, Stopwatch::start())
}

fn cocompile_program(
    req: &CocompileRequest,
    source_name: &str,
    host: Option<&HostCrate>,
    program: &frontend::LoweredProgram,
    mut clock: Stopwatch,
) -> Result<CocompileOutcome, PipelineError> {
    let target_triple = req.libc.rust_target();
    check_rust_target(&target_triple)?;
    let built = build_object(
        &ObjectSettings {
            target_triple: &target_triple,
            target_cpu: &req.target_cpu,
            grants: &req.grants,
            build_dir: &req.build_dir,
            entry_symbol: relon_runtime_contract::ENTRY_SYMBOL,
        },
        source_name,
        host,
        program,
        &mut clock,
    )?;
    let schema_json = |schema: &relon_abi::schema_canonical::Schema| {
        serde_json::to_string(schema).unwrap_or_default()
    };
    let (main_schema, return_schema) = (
        schema_json(&program.lowered.main_schema),
        schema_json(&program.lowered.return_schema),
    );
    let binary = build_runner(&RunnerInput {
        build_dir: &req.build_dir,
        output: &req.output,
        object: &built.object,
        source_name,
        layout: program.layout.as_ref(),
        schemas: (&main_schema, &return_schema),
        const_data: &built.const_data,
        trap_sites: &built.trap_sites,
        target_triple: &target_triple,
        target_cpu: &req.target_cpu,
    })?;
    clock.lap("static link");

    let mut written = Vec::new();
    for kind in &req.emit {
        let from = match kind {
            EmitKind::Ll => built.optimized_ll.clone(),
            EmitKind::Bc => built.optimized.clone(),
            EmitKind::Obj => built.object.clone(),
            EmitKind::Asm => {
                let asm = built.work.path().join("app.s");
                relon_bitcode::tools::run(llc(
                    &built.tools,
                    &req.target_cpu,
                    "asm",
                    &built.optimized,
                    &asm,
                ))?;
                asm
            }
        };
        let mut name = req.output.as_os_str().to_owned();
        name.push(".");
        name.push(kind.extension());
        let to = PathBuf::from(name);
        place_atomically(&from, &to)?;
        written.push(to);
    }
    place_atomically(&binary, &req.output)?;
    clock.lap("write outputs");
    Ok(CocompileOutcome {
        output: req.output.clone(),
        emitted: written,
        inlining: built.inlining,
        timings: clock.timings,
    })
}

/// What the object build needs besides the program.
pub(crate) struct ObjectSettings<'a> {
    /// Rust target triple of the host crate and the object.
    pub target_triple: &'a str,
    /// `target-cpu` of the emitted code and the host crate.
    pub target_cpu: &'a str,
    /// Capabilities granted.
    pub grants: &'a [String],
    /// Cache for host builds; the work directory is made inside it.
    pub build_dir: &'a Path,
    /// Name of the exported entry (the metered one adds `METERED_SUFFIX`).
    pub entry_symbol: &'a str,
}

/// An optimized object and what was learned making it. The files live in
/// `work`, removed when this is dropped.
pub(crate) struct ObjectBuild {
    pub work: tempfile::TempDir,
    pub tools: LlvmTools,
    pub object: PathBuf,
    pub optimized: PathBuf,
    pub optimized_ll: PathBuf,
    pub const_data: Vec<u8>,
    pub trap_sites: Vec<relon_runtime_contract::TrapSite>,
    pub inlining: Vec<InlineDecision>,
    pub host_functions: Vec<String>,
}

/// Steps 2 to 4: code generation, the host crate to bitcode, link,
/// internalize all but the two entries, O3, and `llc` to an object.
pub(crate) fn build_object(
    settings: &ObjectSettings<'_>,
    source_name: &str,
    host: Option<&HostCrate>,
    program: &frontend::LoweredProgram,
    clock: &mut Stopwatch,
) -> Result<ObjectBuild, PipelineError> {
    let decls: &[HostFnDecl] = host.map_or(&[], |h| h.functions.as_slice());
    let granted = grant_bits(settings.grants)?;
    let used = used_host_functions(&program.lowered.module, decls)?;
    check_grants(&used, &granted)?;

    let ctx = Context::create();
    let symbols = used
        .iter()
        .map(|d| codegen::HostSymbol {
            symbol: d.symbol.clone(),
            fallible: d.fallible,
        })
        .collect();
    let mut options = CodegenOptions::closed_world(symbols, settings.target_cpu);
    options.target_triple = settings.target_triple.to_string();
    options.granted_caps = granted;
    let emitted = codegen::emit_module(&ctx, source_name, &program.lowered.module, &options)?;
    let entry = settings.entry_symbol;
    let metered_entry = format!("{entry}{}", relon_runtime_contract::METERED_SUFFIX);
    if entry != relon_runtime_contract::ENTRY_SYMBOL {
        for (from, to) in [
            (
                relon_runtime_contract::ENTRY_SYMBOL.to_string(),
                entry.to_string(),
            ),
            (
                format!(
                    "{}{}",
                    relon_runtime_contract::ENTRY_SYMBOL,
                    relon_runtime_contract::METERED_SUFFIX
                ),
                metered_entry.clone(),
            ),
        ] {
            if let Some(function) = emitted.module.get_function(&from) {
                function.as_global_value().set_name(&to);
            }
        }
    }
    clock.lap("code generation");

    let tools = LlvmTools::discover()?;
    std::fs::create_dir_all(settings.build_dir).map_err(|source| PipelineError::Io {
        action: "could not create",
        path: settings.build_dir.to_path_buf(),
        source,
    })?;
    let work = tempfile::Builder::new()
        .prefix("cocompile-")
        .tempdir_in(settings.build_dir)
        .map_err(|source| PipelineError::Io {
            action: "could not create a work directory in",
            path: settings.build_dir.to_path_buf(),
            source,
        })?;
    let app_bc = work.path().join("app.bc");
    if !emitted.module.write_bitcode_to_path(&app_bc) {
        return Err(PipelineError::Io {
            action: "could not write",
            path: app_bc,
            source: std::io::Error::other("LLVM refused"),
        });
    }

    let mut link_inputs = vec![app_bc];
    if let Some(host) = host {
        let bitcode = relon_bitcode::build_host_crate(
            host,
            &HostBuildOptions {
                target_dir: settings.build_dir.join("host-target"),
                bitcode_dir: work.path().join("host-bc"),
                target_cpu: settings.target_cpu.to_string(),
                target_triple: settings.target_triple.to_string(),
            },
        )?;
        clock.lap("host crate to bitcode");
        let host_bc = work.path().join("host.bc");
        tools.link(&bitcode.modules, &host_bc)?;
        check_host_symbols(&host_bc, decls, &host.manifest_path.display().to_string())
            .map_err(PipelineError::HostSymbols)?;
        link_inputs.push(host_bc);
        clock.lap("host link and check");
    }
    let linked = work.path().join("linked.bc");
    tools.link(&link_inputs, &linked)?;
    clock.lap("llvm-link");

    let optimized = work.path().join("optimized.bc");
    let remarks = work.path().join("remarks.yaml");
    let mut opt = internalizing_opt(&tools, &[entry, &metered_entry]);
    opt.arg(format!("-mcpu={}", settings.target_cpu))
        .arg("-pass-remarks-filter=inline")
        .arg("-pass-remarks-output")
        .arg(&remarks)
        .arg(&linked)
        .arg("-o")
        .arg(&optimized);
    relon_bitcode::tools::run(opt)?;
    clock.lap("opt (internalize, O3)");
    let mut reopt = Command::new(&tools.opt);
    reopt.arg(format!("-mcpu={}", settings.target_cpu));
    if fold_zero_tests_and_reoptimize(&optimized, reopt)? > 0 {
        clock.lap("fold decided zero tests, O3");
    }

    let object = work.path().join("app.o");
    relon_bitcode::tools::run(llc(&tools, settings.target_cpu, "obj", &optimized, &object))?;
    clock.lap("llc");

    let optimized_ll = work.path().join("optimized.ll");
    let mut dis = Command::new(&tools.llvm_dis);
    dis.arg(&optimized).arg("-o").arg(&optimized_ll);
    relon_bitcode::tools::run(dis)?;
    let optimized_text =
        std::fs::read_to_string(&optimized_ll).map_err(|source| PipelineError::Io {
            action: "could not read",
            path: optimized_ll.clone(),
            source,
        })?;
    let inlining = inline_decisions(&emitted.host_call_sites, &remarks, &optimized_text);
    Ok(ObjectBuild {
        work,
        tools,
        object,
        optimized,
        optimized_ll,
        const_data: emitted.const_data,
        trap_sites: emitted.trap_sites,
        inlining,
        host_functions: used.iter().map(|d| d.name.clone()).collect(),
    })
}

/// `opt` internalizing every symbol but `entries` (so the host crate's
/// exports and the runtime's helpers can be inlined and dropped), then O3
/// with [`codegen::INLINE_THRESHOLD`]; the caller adds its own flags, the
/// input and the output.
pub(crate) fn internalizing_opt(tools: &LlvmTools, entries: &[&str]) -> Command {
    let mut cmd = Command::new(&tools.opt);
    cmd.arg("-passes=internalize,default<O3>")
        .arg(format!(
            "-internalize-public-api-list={}",
            entries.join(",")
        ))
        .arg(format!("-inline-threshold={}", codegen::INLINE_THRESHOLD));
    cmd
}

/// Fold the zero tests [`float_bounds`] decides in the optimized bitcode
/// at `optimized`, in place; when any was folded, run `opt` (given with
/// its target flags) again with O3, so the unreachable trap paths go.
/// Returns how many tests were folded.
pub(crate) fn fold_zero_tests_and_reoptimize(
    optimized: &Path,
    mut opt: Command,
) -> Result<usize, PipelineError> {
    let context = Context::create();
    let module =
        inkwell::module::Module::parse_bitcode_from_path(optimized, &context).map_err(|e| {
            codegen::CodegenError::Llvm(format!("reading {}: {e}", optimized.display()))
        })?;
    let folded = float_bounds::fold_decided_zero_tests(&module);
    if folded > 0 {
        let staged = optimized.with_extension("folded.bc");
        if !module.write_bitcode_to_path(&staged) {
            return Err(PipelineError::Io {
                action: "could not write",
                path: staged,
                source: std::io::Error::other("LLVM could not write the bitcode"),
            });
        }
        opt.arg("-passes=default<O3>")
            .arg(format!("-inline-threshold={}", codegen::INLINE_THRESHOLD))
            .arg(&staged)
            .arg("-o")
            .arg(optimized);
        relon_bitcode::tools::run(opt)?;
    }
    Ok(folded)
}

fn llc(tools: &LlvmTools, cpu: &str, filetype: &str, input: &Path, output: &Path) -> Command {
    let mut cmd = Command::new(&tools.llc);
    cmd.arg("-O3")
        .arg(format!("-filetype={filetype}"))
        .arg("-relocation-model=pic")
        .arg(format!("-mcpu={cpu}"))
        .arg(input)
        .arg("-o")
        .arg(output);
    cmd
}

/// The declaration of every host function `module` calls.
pub(crate) fn used_host_functions<'d>(
    module: &relon_ir::ir::Module,
    decls: &'d [HostFnDecl],
) -> Result<Vec<&'d HostFnDecl>, PipelineError> {
    module
        .imports
        .iter()
        .map(|i| {
            decls
                .iter()
                .find(|d| d.name == i.name)
                .ok_or_else(|| PipelineError::NoHostCrate(i.name.clone()))
        })
        .collect()
}

pub(crate) fn grant_bits(grants: &[String]) -> Result<BTreeSet<u32>, PipelineError> {
    grants
        .iter()
        .map(|g| {
            frontend::capability_from_name(g)
                .map(|c| c.bit_index())
                .ok_or_else(|| PipelineError::UnknownGrant(g.clone()))
        })
        .collect()
}

fn check_grants(used: &[&HostFnDecl], granted: &BTreeSet<u32>) -> Result<(), PipelineError> {
    for decl in used {
        if let Some(cap) = &decl.capability {
            let bit = frontend::capability_from_name(cap).map(|c| c.bit_index());
            if !bit.is_some_and(|b| granted.contains(&b)) {
                return Err(PipelineError::CapabilityNotGranted {
                    function: decl.name.clone(),
                    capability: cap.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Copy `from` next to `to` and rename it over `to`, so `to` is either the
/// old file or the complete new one, never a partial write.
pub(crate) fn place_atomically(from: &Path, to: &Path) -> Result<(), PipelineError> {
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| PipelineError::Io {
            action,
            path,
            source,
        }
    };
    std::fs::create_dir_all(&parent)
        .map_err(io("could not create the output directory", &parent))?;
    let staged = tempfile::Builder::new()
        .prefix(".relon-out-")
        .tempfile_in(&parent)
        .map_err(io("could not write into", &parent))?;
    std::fs::copy(from, staged.path()).map_err(io("could not write", staged.path()))?;
    let permissions = std::fs::metadata(from)
        .map_err(io("could not read", from))?
        .permissions();
    std::fs::set_permissions(staged.path(), permissions)
        .map_err(io("could not set permissions on", staged.path()))?;
    staged.persist(to).map_err(|e| PipelineError::Io {
        action: "could not write",
        path: to.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Place each staged file; if one fails, remove those already placed, so
/// the outputs are all new or absent, never a mix with a failed build.
pub(crate) fn place_all(files: &[(&Path, &Path)]) -> Result<(), PipelineError> {
    for (i, (from, to)) in files.iter().enumerate() {
        if let Err(error) = place_atomically(from, to) {
            for (_, placed) in &files[..i] {
                let _ = std::fs::remove_file(placed);
            }
            return Err(error);
        }
    }
    Ok(())
}
