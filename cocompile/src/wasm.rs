//! wasm32: a `.relon` program to an instantiable WebAssembly module, and
//! the dispatch plan a host needs to run it ([`WasmPlan`]).
//!
//! The same code generator emits the program for `wasm32-unknown-unknown`
//! ([`CodegenOptions::wasm32`]: 4-byte pointers, the state laid out as
//! `EntryStateWasm32`). `opt` internalizes all but the two entries and runs
//! O3, `llc` writes a wasm object, and `wasm-ld` links it with compiler-rt's
//! wasm32 builtins into a module that exports `relon_entry`,
//! `relon_entry_metered`, `memory` and `__heap_base`, and imports only the
//! effectful host functions.
//!
//! A host runs it by the plan: grow `memory`, write the state at
//! `__heap_base` (rounded up to 8) and the arena right after it (constant
//! data at arena offset 0, then the input buffer, output buffer and
//! scratch, exactly as on the native path), call the entry with the
//! state's address, read the trap code or the result back.
//!
//! The runtime helpers (strings and their formatting, locale case maps,
//! dict lookup, tail copies) are `relon-host-shims`' own Rust code, built
//! for wasm32 as a static library (`wasm-rt/`, cached in the build
//! directory) and linked in, with the `pow`/`fmod` and 64-bit multiply
//! builtins of Rust's wasm32 `compiler_builtins`; that needs Rust's
//! `wasm32-unknown-unknown` target (`rustup target add
//! wasm32-unknown-unknown`). Without it, a program that needs a helper is
//! refused with that fix.
//!
//! Host functions: a pure one (no capability) is inlined from the host
//! crate built for wasm32 (its bitcode, as on the native path); an
//! effectful one (a capability) is an import `relon_host.<name>`, listed in
//! the plan, for the embedding host to provide. Without Rust's wasm32
//! target every host function is an import.
//!
//! Refused, with the reason: programs that use `pow` (wasm32's libm can
//! round it one bit differently from the glibc the reference runs on;
//! `fmod` is exact everywhere).

use std::path::Path;
use std::process::Command;

use inkwell::context::Context;
use relon_abi::schema_canonical::Schema;
use relon_bitcode::tools::WasmTools;
use relon_bitcode::{HostBuildOptions, HostCrate, HostFnDecl, LlvmTools};
use relon_runtime_contract::{ENTRY_SYMBOL, METERED_SUFFIX, StateOffsets, TrapSite};

use crate::codegen::{self, CodegenOptions};
use crate::frontend::{self, MainLayout};
use crate::pipeline::{
    PipelineError, fold_zero_tests_and_reoptimize, internalizing_opt, read_and_lower,
    used_host_functions,
};

/// Everything a host needs to call the module.
#[derive(Debug, Clone)]
pub struct WasmPlan {
    /// Exported entry without a step budget: `(state: i32) -> i32`.
    pub entry: String,
    /// Exported entry that counts steps.
    pub metered_entry: String,
    /// Exported memory.
    pub memory: &'static str,
    /// Exported global: the first free byte of memory; the state goes there.
    pub heap_base: &'static str,
    /// Where the state's fields are.
    pub state: StateOffsets,
    /// Constant data for arena offset 0.
    pub const_data: Vec<u8>,
    /// Source positions of the trap sites.
    pub trap_sites: Vec<TrapSite>,
    /// Fixed slots when every parameter and the result are Int, Float or Bool.
    pub layout: Option<MainLayout>,
    /// The canonical `#main` schema (buffers through `relon-abi` otherwise).
    pub main_schema: Schema,
    /// The canonical return schema.
    pub return_schema: Schema,
    /// Host functions the module imports, as `relon_host.<name>` (Int as
    /// i64, Float as f64, Bool as i32; a fallible one takes one more i32,
    /// the address of its `HostFailure`).
    pub imports: Vec<HostFnDecl>,
}

/// A linked module and its plan.
#[derive(Debug, Clone)]
pub struct WasmModule {
    /// The `.wasm` bytes.
    pub bytes: Vec<u8>,
    /// How to call it.
    pub plan: WasmPlan,
}

/// Why a program has no wasm32 module.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WasmError {
    /// The program uses what the wasm32 target does not have yet.
    #[error("not on wasm32 yet: {0}")]
    #[diagnostic(code(relon::wasm32_unsupported))]
    Unsupported(String),
    /// The program does not compile at all, or a tool failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Pipeline(#[from] PipelineError),
}

impl WasmPlan {
    /// The plan as JSON, for a host in any language: the exports, the
    /// state's field offsets, the `#main` layout (scalar slots) or the
    /// canonical schemas, the trap sites and the imports. The constant data
    /// is a file of its own (`const_data_file`).
    pub fn to_json(&self, const_data_file: &str) -> serde_json::Value {
        let s = &self.state;
        let slot = |slot: &frontend::SlotLayout| serde_json::json!({"name": slot.name, "type": slot.ty.relon_name(), "offset": slot.offset});
        let layout = self.layout.as_ref().map(|l| {
            serde_json::json!({
                "params": l.params.iter().map(slot).collect::<Vec<_>>(),
                "in_len": l.in_len,
                "result": slot(&l.result),
                "out_len": l.out_len,
            })
        });
        serde_json::json!({
            "format": "relon-wasm32-plan/1",
            "entry": self.entry,
            "metered_entry": self.metered_entry,
            "memory": self.memory,
            "heap_base": self.heap_base,
            "state": {
                "size": s.size, "arena": s.arena, "arena_len": s.arena_len,
                "scratch_cursor": s.scratch_cursor, "in_offset": s.in_offset, "in_len": s.in_len,
                "out_offset": s.out_offset, "out_cap": s.out_cap, "trap_code": s.trap_code,
                "trap_site": s.trap_site, "fuel": s.fuel, "depth_remaining": s.depth_remaining,
                "caps": s.caps, "host_context": s.host_context, "host_failure": s.host_failure,
                "tail_cursor": s.tail_cursor, "entry_result": s.entry_result,
            },
            "const_data_file": const_data_file,
            "const_data_len": self.const_data.len(),
            "scratch_bytes": relon_host_shims::arena::SCRATCH_BYTES,
            "layout": layout,
            "main_schema": self.main_schema,
            "return_schema": self.return_schema,
            "trap_sites": self.trap_sites.iter().map(|t| [t.line, t.column]).collect::<Vec<_>>(),
            "trap_codes": relon_runtime_contract::TrapCode::ALL
                .iter()
                .map(|c| serde_json::json!({"code": c.as_u32(), "error": c.error_kind(), "message": c.message()}))
                .collect::<Vec<_>>(),
            "imports": self.imports.iter().map(|d| serde_json::json!({
                "module": HOST_IMPORT_MODULE,
                "name": d.name,
                "params": d.params.iter().map(|t| t.relon_name()).collect::<Vec<_>>(),
                "returns": d.returns.relon_name(),
                "fallible": d.fallible,
                "capability": d.capability,
            })).collect::<Vec<_>>(),
        })
    }
}

impl WasmModule {
    /// Write the module to `output`, its plan to `<output>.plan.json` and
    /// its constant data to `<output>.const.bin`, each by an atomic rename,
    /// none if one fails. Returns the three paths.
    pub fn write(&self, output: &Path) -> Result<Vec<std::path::PathBuf>, PipelineError> {
        let with = |suffix: &str| {
            let mut name = output.as_os_str().to_owned();
            name.push(suffix);
            std::path::PathBuf::from(name)
        };
        let (plan_path, const_path) = (with(".plan.json"), with(".const.bin"));
        let const_name = const_path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let plan =
            serde_json::to_string_pretty(&self.plan.to_json(&const_name)).unwrap_or_default();
        let staged = tempfile::tempdir().map_err(|source| PipelineError::Io {
            action: "could not create a work directory in",
            path: std::env::temp_dir(),
            source,
        })?;
        let files = [
            ("module.wasm", self.bytes.as_slice(), output.to_path_buf()),
            ("plan.json", plan.as_bytes(), plan_path),
            ("const.bin", self.plan.const_data.as_slice(), const_path),
        ];
        let mut pairs = Vec::new();
        for (name, bytes, to) in &files {
            let from = staged.path().join(name);
            std::fs::write(&from, bytes).map_err(|source| PipelineError::Io {
                action: "could not write",
                path: from.clone(),
                source,
            })?;
            pairs.push((from, to.clone()));
        }
        let refs: Vec<(&Path, &Path)> = pairs
            .iter()
            .map(|(a, b)| (a.as_path(), b.as_path()))
            .collect();
        crate::pipeline::place_all(&refs)?;
        Ok(files.into_iter().map(|(_, _, to)| to).collect())
    }
}

/// Compile `source` (named `file` in messages) to a wasm32 module, with
/// the host functions of `host`. A capability-gated host function is an
/// import, so the embedding host grants the capability by providing it
/// (and denies it by trapping in it); its gate is open in the module.
pub fn compile_wasm(
    file: &str,
    source: &str,
    host: Option<&HostCrate>,
    build_dir: &Path,
) -> Result<WasmModule, WasmError> {
    let decls: &[HostFnDecl] = host.map_or(&[], |h| h.functions.as_slice());
    let program = frontend::lower_source(file, source, decls).map_err(PipelineError::from)?;
    compile_lowered(file, &program, host, build_dir)
}

/// [`compile_wasm`] from files: the `.relon` source and the host crate's directory.
pub fn compile_wasm_file(
    source: &Path,
    host: Option<&Path>,
    build_dir: &Path,
) -> Result<WasmModule, WasmError> {
    let front = read_and_lower(source, host)?;
    compile_lowered(
        &front.source_name,
        &front.program,
        front.host.as_ref(),
        build_dir,
    )
}

fn compile_lowered(
    file: &str,
    program: &frontend::LoweredProgram,
    host: Option<&HostCrate>,
    build_dir: &Path,
) -> Result<WasmModule, WasmError> {
    let decls: &[HostFnDecl] = host.map_or(&[], |h| h.functions.as_slice());
    let module = &program.lowered.module;
    let used = used_host_functions(module, decls)?;
    // Pure host functions are inlined from the host crate's wasm32
    // bitcode when Rust's wasm32 target is installed; effectful ones (a
    // capability) and, without the target, all of them are imports.
    let target = rust_wasm32_target();
    let rust_wasm32 = target.is_ok();
    let is_import = |d: &HostFnDecl| d.capability.is_some() || !rust_wasm32;
    let ctx = Context::create();
    let mut options = CodegenOptions::wasm32();
    options.world = codegen::WorldMode::ClosedWorld {
        symbols: used
            .iter()
            .map(|d| codegen::HostSymbol {
                symbol: if is_import(d) {
                    import_symbol(&d.name)
                } else {
                    d.symbol.clone()
                },
                fallible: d.fallible,
            })
            .collect(),
    };
    options.granted_caps = used
        .iter()
        .filter_map(|d| d.capability.as_deref())
        .filter_map(frontend::capability_from_name)
        .map(|c| c.bit_index())
        .collect();
    let emitted = codegen::emit_module(&ctx, file, module, &options)
        .map_err(|e| WasmError::Unsupported(e.to_string()))?;
    let mut imports = Vec::new();
    for decl in used.iter().filter(|d| is_import(d)) {
        if let Some(function) = emitted.module.get_function(&import_symbol(&decl.name)) {
            for (key, value) in [
                ("wasm-import-module", HOST_IMPORT_MODULE),
                ("wasm-import-name", decl.name.as_str()),
            ] {
                function.add_attribute(
                    inkwell::attributes::AttributeLoc::Function,
                    ctx.create_string_attribute(key, value),
                );
            }
            imports.push((*decl).clone());
        }
    }
    if emitted.module.get_function("llvm.pow.f64").is_some() {
        return Err(WasmError::Unsupported(
            "it raises a Float to a power (`pow`), and wasm32's libm (Rust's compiler_builtins) can round that one bit differently from the reference's glibc"
                .into(),
        ));
    }
    let helpers: Vec<String> = emitted
        .module
        .get_functions()
        .filter(|f| f.count_basic_blocks() == 0)
        .map(|f| f.get_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("relon_rt_"))
        .collect();
    let runtime = match target.and_then(|()| wasm_runtime(build_dir)) {
        Ok(archive) => Some(archive),
        // pow/fmod may still be missing: the link says so below.
        Err(_) if helpers.is_empty() => None,
        Err(why) => {
            return Err(WasmError::Unsupported(format!(
                "it needs the runtime helpers {}, and {why}",
                helpers.join(", ")
            )));
        }
    };

    let tools = LlvmTools::discover().map_err(PipelineError::from)?;
    let wasm_tools = WasmTools::discover().map_err(PipelineError::from)?;
    let work = tempfile::Builder::new()
        .prefix("relon-wasm-")
        .tempdir()
        .map_err(|source| PipelineError::Io {
            action: "could not create a work directory in",
            path: std::env::temp_dir(),
            source,
        })?;
    let dir = work.path();
    let app_bc = dir.join("app.bc");
    if !emitted.module.write_bitcode_to_path(&app_bc) {
        return Err(PipelineError::Io {
            action: "could not write",
            path: app_bc,
            source: std::io::Error::other("LLVM refused"),
        }
        .into());
    }
    let entry = ENTRY_SYMBOL.to_string();
    let metered_entry = format!("{ENTRY_SYMBOL}{METERED_SUFFIX}");
    let mut link_inputs = vec![app_bc];
    let inlines_host_code = used.iter().any(|d| !is_import(d));
    if let (Some(host), true) = (host, inlines_host_code) {
        let bitcode = relon_bitcode::build_host_crate(
            host,
            &HostBuildOptions {
                target_dir: build_dir.join("host-target-wasm32"),
                bitcode_dir: dir.join("host-bc"),
                target_cpu: "generic".into(),
                target_triple: codegen::WASM32_TRIPLE.into(),
            },
        )
        .map_err(PipelineError::from)?;
        let host_bc = dir.join("host.bc");
        tools
            .link(&bitcode.modules, &host_bc)
            .map_err(PipelineError::from)?;
        link_inputs.push(host_bc);
    }
    let linked = dir.join("linked.bc");
    tools
        .link(&link_inputs, &linked)
        .map_err(PipelineError::from)?;
    let optimized = dir.join("optimized.bc");
    let mut opt = internalizing_opt(&tools, &[&entry, &metered_entry]);
    opt.arg(&linked).arg("-o").arg(&optimized);
    run(opt)?;
    fold_zero_tests_and_reoptimize(&optimized, Command::new(&tools.opt))?;
    let object = dir.join("app.o");
    let mut llc = Command::new(&tools.llc);
    llc.arg("-O3")
        .arg("-filetype=obj")
        .arg(format!("-mattr={}", codegen::WASM32_FEATURES))
        .arg(&optimized)
        .arg("-o")
        .arg(&object);
    run(llc)?;
    let wasm = dir.join("app.wasm");
    let mut link = Command::new(&wasm_tools.wasm_ld);
    link.arg("--no-entry")
        .arg(format!("--export={entry}"))
        .arg(format!("--export={metered_entry}"))
        .arg("--export=__heap_base")
        // The shadow stack (spilled locals); recursion depth lives on the
        // engine's stack, bounded by the depth limit.
        .args(["-z", "stack-size=1048576"])
        .arg(&object)
        .args(&runtime)
        .arg(&wasm_tools.builtins)
        .arg("-o")
        .arg(&wasm);
    let out = link.output().map_err(|source| PipelineError::Io {
        action: "could not run",
        path: wasm_tools.wasm_ld.clone(),
        source,
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let missing: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.split("undefined symbol: ").nth(1))
            .collect();
        return Err(if missing.is_empty() {
            PipelineError::Io {
                action: "wasm-ld failed on",
                path: object,
                source: std::io::Error::other(stderr.into_owned()),
            }
            .into()
        } else {
            WasmError::Unsupported(format!(
                "it needs {} from a runtime library, which needs Rust's wasm32 target (rustup target add wasm32-unknown-unknown)",
                missing.join(", ")
            ))
        });
    }
    let bytes = read(&wasm)?;
    Ok(WasmModule {
        bytes,
        plan: WasmPlan {
            entry,
            metered_entry,
            memory: "memory",
            heap_base: "__heap_base",
            state: options.state,
            const_data: emitted.const_data,
            trap_sites: emitted.trap_sites,
            layout: program.layout.clone(),
            main_schema: program.lowered.main_schema.clone(),
            return_schema: program.lowered.return_schema.clone(),
            imports,
        },
    })
}

/// Import module of the host functions a wasm32 module imports.
pub const HOST_IMPORT_MODULE: &str = "relon_host";

/// The symbol emitted code calls for an imported host function (the import
/// itself is named `relon_host.<name>`).
fn import_symbol(name: &str) -> String {
    format!("__relon_host_import_{name}")
}

/// Whether Rust's wasm32 target is installed, or why it cannot be used.
fn rust_wasm32_target() -> Result<(), String> {
    let sysroot = crate::pipeline::rust_sysroot().ok_or("rustc --print sysroot failed")?;
    if crate::pipeline::rust_target_installed_in(sysroot, codegen::WASM32_TRIPLE) {
        Ok(())
    } else {
        Err(
            "Rust's wasm32 target is not installed (rustup target add wasm32-unknown-unknown)"
                .into(),
        )
    }
}

/// Where `wasm-rt/` lives (this repository).
fn wasm_rt_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wasm-rt")
}

/// The runtime helpers built for wasm32 (cached under `build_dir`), or
/// why they cannot be. Built (or found fresh) once per build directory and
/// process: a conformance run compiles hundreds of modules.
fn wasm_runtime(build_dir: &Path) -> Result<std::path::PathBuf, String> {
    static BUILT: std::sync::Mutex<Vec<(std::path::PathBuf, std::path::PathBuf)>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().map_err(|e| e.to_string())?;
    if let Some((_, archive)) = built.iter().find(|(dir, _)| dir == build_dir) {
        return Ok(archive.clone());
    }
    let archive = build_wasm_runtime(build_dir)?;
    built.push((build_dir.to_path_buf(), archive.clone()));
    Ok(archive)
}

fn build_wasm_runtime(build_dir: &Path) -> Result<std::path::PathBuf, String> {
    let target_dir = build_dir.join("wasm-rt-target");
    std::fs::create_dir_all(&target_dir).map_err(|e| e.to_string())?;
    let lock_path = build_dir.join("wasm-rt-target.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--manifest-path")
        .arg(wasm_rt_dir().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building them for wasm32 failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join("wasm32-unknown-unknown/release/librelon_wasm_rt.a"))
}

fn run(cmd: Command) -> Result<(), WasmError> {
    relon_bitcode::tools::run(cmd).map_err(|e| WasmError::Pipeline(e.into()))
}

fn read(path: &Path) -> Result<Vec<u8>, WasmError> {
    std::fs::read(path).map_err(|source| {
        PipelineError::Io {
            action: "could not read",
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}
