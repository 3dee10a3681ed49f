//! The small Rust crate that turns the optimized object into an
//! executable: a generated `main` that hands the program's description and
//! `relon_entry` to `relon-host-shims`, linked with `+crt-static`.
//!
//! Runner crates live in the build directory, one per output path, and
//! share one cargo target directory guarded by a file lock. Each runner
//! package has its own name (derived from the output path): cargo keys
//! artifacts and freshness by package name, not by path, so two runners
//! with one name would be taken for each other.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use relon_runtime_contract::{ENTRY_SYMBOL, METERED_SUFFIX, ScalarType, TrapSite};

use crate::frontend::{MainLayout, SlotLayout};

/// Where the runtime crate lives (this repository's `host-shims/`).
pub fn host_shims_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("host-shims")
}

/// Everything the runner needs.
pub struct RunnerInput<'a> {
    /// Build directory (runner crates and their target dir live under it).
    pub build_dir: &'a Path,
    /// The final output path (keys the runner crate).
    pub output: &'a Path,
    /// The optimized object holding `relon_entry`.
    pub object: &'a Path,
    /// File name of the source, for messages.
    pub source_name: &'a str,
    /// The `#main` layout, when every parameter and the result are scalars.
    pub layout: Option<&'a MainLayout>,
    /// The canonical `#main` and return schemas as JSON (used when `layout` is `None`).
    pub schemas: (&'a str, &'a str),
    /// The program's constant data.
    pub const_data: &'a [u8],
    /// Trap sites, by index.
    pub trap_sites: &'a [TrapSite],
    /// Rust target triple.
    pub target_triple: &'a str,
    /// `-C target-cpu` for the runtime.
    pub target_cpu: &'a str,
}

/// Why the runner could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// A file could not be written.
    #[error("could not write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Cargo failed.
    #[error("linking the executable failed (cargo build of {manifest}):\n{stderr}")]
    Build {
        /// The runner manifest.
        manifest: PathBuf,
        /// Cargo's output.
        stderr: String,
    },
}

/// Build the runner; returns the path of the linked executable (inside the
/// build directory; the caller moves it into place).
pub fn build_runner(input: &RunnerInput<'_>) -> Result<PathBuf, RunnerError> {
    let key = runner_key(input.output);
    let package = format!("relon-app-{key}");
    let dir = input.build_dir.join("runners").join(&key);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunnerError::Io { path, source }
    };
    std::fs::create_dir_all(dir.join("src")).map_err(io(&dir))?;
    let object = dir.join("app.o");
    std::fs::copy(input.object, &object).map_err(io(&object))?;
    write_if_changed(
        &dir.join("Cargo.toml"),
        &manifest(&package, input.layout.is_none()),
    )?;
    let const_path = dir.join("const.bin");
    if std::fs::read(&const_path).ok().as_deref() != Some(input.const_data) {
        std::fs::write(&const_path, input.const_data).map_err(io(&const_path))?;
    }
    write_if_changed(&dir.join("build.rs"), &build_rs(input.target_triple))?;
    write_if_changed(&dir.join("src/main.rs"), &main_rs(input))?;
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        if ours.exists() {
            std::fs::copy(&ours, &lock).map_err(io(&lock))?;
        }
    }

    let target_dir = input.build_dir.join("runner-target");
    std::fs::create_dir_all(&target_dir).map_err(io(&target_dir))?;
    let lock_path = input.build_dir.join("runner-target.lock");
    let lock_file = std::fs::File::create(&lock_path).map_err(io(&lock_path))?;
    lock_file.lock().map_err(io(&lock_path))?;

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest_path = dir.join("Cargo.toml");
    let rustflags = [
        "-C",
        "target-feature=+crt-static",
        "-C",
        &format!("target-cpu={}", input.target_cpu),
    ]
    .join("\u{1f}");
    let out = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest_path)
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--target", input.target_triple])
        .env_remove("RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .output()
        .map_err(io(&manifest_path))?;
    if !out.status.success() {
        return Err(RunnerError::Build {
            manifest: manifest_path,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let built = target_dir
        .join(input.target_triple)
        .join("release")
        .join(&package);
    // Copy out while the lock is held: the next build overwrites it.
    let staged = dir.join("relon-app");
    std::fs::copy(&built, &staged).map_err(io(&built))?;
    drop(lock_file);
    Ok(staged)
}

fn runner_key(output: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let absolute = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    let mut hasher = std::hash::DefaultHasher::new();
    absolute.hash(&mut hasher);
    let stem: String = output
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .take(32)
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    format!("{stem}-{:016x}", hasher.finish())
}

fn write_if_changed(path: &Path, contents: &str) -> Result<(), RunnerError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    std::fs::write(path, contents).map_err(|source| RunnerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn manifest(package: &str, values: bool) -> String {
    let shims = std::path::absolute(host_shims_dir()).unwrap_or_else(|_| host_shims_dir());
    let features = if values {
        ", features = [\"values\"]"
    } else {
        ""
    };
    format!(
        r#"# Generated by relon-cocompile: links the compiled Relon program into an executable.
[package]
name = "{package}"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
relon-host-shims = {{ path = {shims:?}{features} }}

[profile.release]
opt-level = 3
codegen-units = 1
debug = false
strip = true
incremental = false

[workspace]
"#
    )
}

/// The runner's `build.rs`: link the object, and for musl its `libc.a`
/// again after it. The linker takes from a static archive only what the
/// objects before it use, and the `-lc` Rust passes comes before the
/// object: the `ceil`/`floor`/`fmod`/`pow` the program calls (musl's math
/// is in `libc.a`) would be left undefined. (glibc's static link resolves
/// them already; naming `libm.a` again there breaks its IFUNC setup.)
fn build_rs(target_triple: &str) -> String {
    let libc_again = if target_triple.ends_with("-musl") {
        "\n    println!(\"cargo:rustc-link-arg=-lc\");"
    } else {
        ""
    };
    format!(
        r#"// Generated by relon-cocompile: link the compiled program's object.
fn main() {{
    let object = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("app.o");
    println!("cargo:rerun-if-changed={{}}", object.display());
    println!("cargo:rustc-link-arg={{}}", object.display());{libc_again}
}}
"#
    )
}

fn scalar(ty: ScalarType) -> &'static str {
    match ty {
        ScalarType::Int => "ScalarType::Int",
        ScalarType::Float => "ScalarType::Float",
        ScalarType::Bool => "ScalarType::Bool",
    }
}

fn field(slot: &SlotLayout) -> String {
    format!(
        "FieldDesc {{ name: {:?}, ty: {}, offset: {} }}",
        slot.name,
        scalar(slot.ty),
        slot.offset
    )
}

fn main_rs(input: &RunnerInput<'_>) -> String {
    let none = MainLayout {
        params: Vec::new(),
        in_len: 0,
        result: SlotLayout {
            name: "value".into(),
            ty: ScalarType::Int,
            offset: 0,
        },
        out_len: 0,
    };
    let layout = input.layout.unwrap_or(&none);
    let value_schemas = match input.layout {
        Some(_) => "None".to_string(),
        None => format!(
            "Some(ValueSchemas {{ main: {:?}, ret: {:?} }})",
            input.schemas.0, input.schemas.1
        ),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Generated by relon-cocompile from {}.",
        input.source_name
    );
    s.push_str("use relon_host_shims::contract::{EntryState, FieldDesc, ProgramDesc, ScalarType, TrapSite, ValueSchemas};\n\n");
    let _ = writeln!(
        s,
        "unsafe extern \"C\" {{\n    fn {ENTRY_SYMBOL}(state: *mut EntryState) -> u32;\n    fn {ENTRY_SYMBOL}{METERED_SUFFIX}(state: *mut EntryState) -> u32;\n}}\n"
    );
    let _ = writeln!(s, "static PARAMS: [FieldDesc; {}] = [", layout.params.len());
    for p in &layout.params {
        let _ = writeln!(s, "    {},", field(p));
    }
    s.push_str("];\n\n");
    let _ = writeln!(
        s,
        "static TRAP_SITES: [TrapSite; {}] = [",
        input.trap_sites.len()
    );
    for t in input.trap_sites {
        let _ = writeln!(
            s,
            "    TrapSite {{ line: {}, column: {} }},",
            t.line, t.column
        );
    }
    s.push_str("];\n\n");
    let _ = writeln!(
        s,
        "static PROGRAM: ProgramDesc = ProgramDesc {{\n    source_name: {:?},\n    params: &PARAMS,\n    in_len: {},\n    result: {},\n    out_len: {},\n    trap_sites: &TRAP_SITES,\n    const_data: include_bytes!(\"../const.bin\"),\n    value_schemas: {value_schemas},\n}};\n",
        input.source_name,
        layout.in_len,
        field(&layout.result),
        layout.out_len
    );
    let _ = writeln!(
        s,
        "/// This program, for the runtime: per-row code is compiled with\n/// `PROGRAM` as a constant.\nstruct App;\n\nimpl relon_host_shims::Program for App {{\n    const DESC: &'static ProgramDesc = &PROGRAM;\n}}\n\nfn main() -> std::process::ExitCode {{\n    relon_host_shims::run::<App>({ENTRY_SYMBOL}, {ENTRY_SYMBOL}{METERED_SUFFIX})\n}}"
    );
    s
}
