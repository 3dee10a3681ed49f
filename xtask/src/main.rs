//! `cargo xtask`: the project's command line.
//!
//! - `cargo xtask setup`: make sure LLVM 22 (the LLVM the code generator
//!   links and the tools it runs) is installed; installs it with apt when
//!   running as root, otherwise prints the exact command.
//! - `cargo xtask cocompile ARGS...`: setup, then the compiler
//!   (`relon-cocompile ARGS...`, built in release mode).
//! - `cargo xtask test [ARGS...]`: setup, then `cargo test --workspace ARGS...`.
//! - `cargo xtask conformance [--corpus DIR] [--json FILE] [--ops]`: setup, then the
//!   conformance harness (tree-walk vs JIT vs static binary) on a corpus.
//! - `cargo xtask fuzz [--programs N] [--seed S] ...`: setup, then the
//!   differential fuzzer (release build).
//! - `cargo xtask bench [--quick] ...`: setup, then the benchmark suite.
//!
//! This binary depends on nothing but std, so it builds on a machine
//! without LLVM; everything that needs LLVM runs after `setup`.

use std::path::Path;
use std::process::{Command, ExitCode};

/// Debian packages of the LLVM the toolchain is built for.
const LLVM_PACKAGES: &[&str] = &[
    "llvm-22",
    "llvm-22-dev",
    "clang-22",
    "lld-22",
    "libclang-rt-22-dev-wasm32",
    "libpolly-22-dev",
    "libzstd-dev",
    "libffi-dev",
    "zlib1g-dev",
    "libxml2-dev",
];
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match command.as_str() {
        "setup" => setup(),
        "cocompile" => setup().and_then(|_| {
            cargo(
                &[
                    "run",
                    "--quiet",
                    "--release",
                    "--package",
                    "relon-cocompile",
                    "--",
                ],
                &rest,
            )
        }),
        "test" => setup().and_then(|_| cargo(&["test", "--workspace"], &rest)),
        "fuzz" => setup().and_then(|_| {
            let mut args = vec!["--".to_string()];
            args.extend(absolute_paths(&rest));
            cargo(
                &[
                    "test",
                    "--release",
                    "--package",
                    "relon-cocompile",
                    "--test",
                    "fuzz",
                ],
                &args,
            )
        }),
        "bench" => setup().and_then(|_| build_lua_runners()).and_then(|_| {
            let mut args = vec!["--".to_string()];
            args.extend(absolute_paths(&rest));
            cargo(
                &["bench", "--package", "relon-bench", "--bench", "suite"],
                &args,
            )
        }),
        "conformance" => setup().and_then(|_| {
            let mut args = vec!["--".to_string()];
            args.extend(absolute_paths(&rest));
            cargo(
                &[
                    "test",
                    "--package",
                    "relon-cocompile",
                    "--test",
                    "conformance",
                ],
                &args,
            )
        }),
        "" | "help" | "--help" | "-h" => {
            print!("{}", HELP);
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const HELP: &str = "usage: cargo xtask <command>\n\n\
  setup                 install LLVM 22 if it is missing (apt, as root)\n\
  cocompile ARGS...     co-compile a Relon program (see `cargo xtask cocompile --help`)\n\
  test [ARGS...]        run every test (`cargo test --workspace ARGS...`)\n\
  conformance [--corpus DIR] [--json FILE] [--ops]\n\
                        run a corpus folder through tree-walk, the JIT and the static binary\n\
  fuzz [--programs N] [--seed S] [--binary-every K] [--out DIR]\n\
                        differential fuzzing: random programs through tree-walk, the JIT, the binary\n\
  bench [--quick] [--filter NAME] [--target-cpu CPU] [--out DIR]\n\
                        the benchmark suite: every workload on every system, side by side\n";

/// Build the Lua 5.4 and LuaJIT runners of the suite (vendored sources;
/// one Lua per build, so two builds).
fn build_lua_runners() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for flavor in ["lua54", "luajit"] {
        run(Command::new(&cargo)
            .args([
                "build",
                "--quiet",
                "--release",
                "--features",
                flavor,
                "--manifest-path",
            ])
            .arg(root.join("benches/lua/Cargo.toml"))
            .arg("--target-dir")
            .arg(root.join("target").join(flavor)))?;
    }
    Ok(())
}

/// The values of `--corpus`/`--json` made absolute (the harness runs in
/// another directory).
fn absolute_paths(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut path_next = false;
    for arg in args {
        if path_next {
            out.push(
                std::path::absolute(arg).map_or_else(|_| arg.clone(), |p| p.display().to_string()),
            );
        } else {
            out.push(arg.clone());
        }
        path_next = matches!(arg.as_str(), "--corpus" | "--json" | "--out");
    }
    out
}

/// Make sure LLVM 22 and its tools, and the Rust targets the builds use,
/// are installed.
fn setup() -> Result<(), String> {
    setup_llvm()?;
    // wasm32: the runtime helpers of wasm32 modules are built with it.
    setup_rust_target("wasm32-unknown-unknown")?;
    // musl: the static executables link it (`--libc musl`, the default).
    setup_rust_target("x86_64-unknown-linux-musl")
}

/// Rust's standard library for `target`, installed with rustup if missing.
fn setup_rust_target(target: &str) -> Result<(), String> {
    let sysroot = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("could not run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    if Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
    {
        return Ok(());
    }
    eprintln!(
        "xtask: Rust's {target} target is missing; installing it: rustup target add {target}"
    );
    run(Command::new("rustup").args(["target", "add", target]))
}

fn setup_llvm() -> Result<(), String> {
    if llvm_present() {
        return Ok(());
    }
    let install = format!(
        "apt-get update && apt-get install -y {}",
        LLVM_PACKAGES.join(" ")
    );
    if !is_root() {
        return Err(format!(
            "LLVM 22 is not installed ({LLVM_PREFIX} is missing). Install it with:\n  sudo sh -c '{install}'"
        ));
    }
    eprintln!("xtask: LLVM 22 is missing; installing it: {install}");
    run(Command::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(LLVM_PACKAGES)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    if llvm_present() {
        Ok(())
    } else {
        Err(format!(
            "apt-get finished but {LLVM_PREFIX} is still incomplete; run `{install}` by hand"
        ))
    }
}

fn llvm_present() -> bool {
    [
        "bin/llvm-config",
        "bin/llvm-link",
        "bin/opt",
        "bin/llc",
        "bin/llvm-dis",
        "bin/llvm-ar",
        "bin/wasm-ld",
        "lib/clang/22/lib/wasi/libclang_rt.builtins-wasm32.a",
    ]
    .iter()
    .all(|tool| Path::new(LLVM_PREFIX).join(tool).is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `cargo <base> --manifest-path <workspace> <rest>`, run from the caller's
/// directory so relative paths in `rest` mean what the user meant.
fn cargo(base: &[&str], rest: &[String]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let (subcommand, options) = base.split_first().ok_or("no cargo subcommand")?;
    run(Command::new(cargo)
        .arg(subcommand)
        .arg("--manifest-path")
        .arg(&manifest)
        .args(options)
        .args(rest)
        .env("LLVM_SYS_221_PREFIX", LLVM_PREFIX))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("could not run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed ({status})", cmd.get_program()))
    }
}
