//! `relon-cocompile`: the compiler binary. Parses arguments, runs the
//! closed-world pipeline, prints diagnostics (miette) and reports.

// Errors carry their source text and spans for miette; built once, on the
// failure path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use relon_cocompile::pipeline::{CocompileRequest, EmitKind, Libc, cocompile};

/// Compile a Relon program and its Rust host functions into one statically
/// linked executable (closed world: host calls are direct and inlined).
#[derive(Debug, Parser)]
#[command(name = "relon-cocompile", version)]
struct Cli {
    /// The `.relon` program.
    source: PathBuf,
    /// The host-function crate (a directory with a Cargo.toml).
    #[arg(long)]
    host: Option<PathBuf>,
    /// Output executable (default: target/relon/<source stem>).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// CPU to generate code for, for the program and the host crate alike
    /// (`native` for this machine's).
    #[arg(long, default_value = "x86-64")]
    target_cpu: String,
    /// Also write the optimized module as `ll`, `bc`, `obj` and/or `asm`
    /// (comma-separated), next to the output.
    #[arg(long, value_delimiter = ',', value_parser = parse_emit)]
    emit: Vec<EmitKind>,
    /// List every host call site as inlined or not, with LLVM's reason.
    #[arg(long)]
    report: bool,
    /// Grant a capability to the program (repeatable).
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Print the time of each pipeline stage.
    #[arg(long)]
    timings: bool,
    /// Directory for cached host and runner builds.
    #[arg(long, env = "RELON_BUILD_DIR")]
    build_dir: Option<PathBuf>,
    /// `native` (a static executable) or `wasm32` (a WebAssembly module,
    /// with `OUT.plan.json` and `OUT.const.bin` for the host that runs it).
    #[arg(long, default_value = "native", value_parser = ["native", "wasm32"])]
    target: String,
    /// The C library the static executable links: `musl` (the small
    /// executable) or `gnu` (glibc, for a host crate that needs it).
    #[arg(long, default_value = "musl", value_parser = ["musl", "gnu"])]
    libc: String,
}

/// `--target wasm32`: the module, its plan and its constant data.
fn wasm32(cli: &Cli, output: &std::path::Path, build_dir: &std::path::Path) -> ExitCode {
    if !cli.emit.is_empty() || cli.report || !cli.grants.is_empty() || cli.target_cpu != "x86-64" {
        eprintln!(
            "error: --emit, --report, --grant and --target-cpu apply to native builds; a wasm32 module imports its effectful host functions, and its host grants them by providing them"
        );
        return ExitCode::from(2);
    }
    let written =
        relon_cocompile::wasm::compile_wasm_file(&cli.source, cli.host.as_deref(), build_dir)
            .and_then(|module| Ok(module.write(output)?));
    match written {
        Ok(paths) => {
            for path in paths {
                eprintln!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            ExitCode::FAILURE
        }
    }
}

fn parse_emit(s: &str) -> Result<EmitKind, String> {
    EmitKind::parse(s)
        .ok_or_else(|| format!("unknown --emit kind `{s}` (expected ll, bc, obj, asm)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Paths and commands in messages stay on one line.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let wasm32_target = cli.target == "wasm32";
    let output = cli.output.clone().unwrap_or_else(|| {
        let stem = cli
            .source
            .file_stem()
            .map_or_else(|| "app".into(), |s| s.to_string_lossy().into_owned());
        let name = if wasm32_target {
            format!("{stem}.wasm")
        } else {
            stem
        };
        PathBuf::from("target/relon").join(name)
    });
    let build_dir = cli.build_dir.clone().unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/relon-build")
    });
    if wasm32_target {
        return wasm32(&cli, &output, &build_dir);
    }
    let target_cpu = if cli.target_cpu == "native" {
        inkwell::targets::TargetMachine::get_host_cpu_name().to_string()
    } else {
        cli.target_cpu.clone()
    };
    let request = CocompileRequest {
        source: cli.source.clone(),
        host: cli.host.clone(),
        output,
        target_cpu,
        emit: cli.emit.iter().copied().collect::<BTreeSet<_>>(),
        grants: cli.grants.clone(),
        build_dir,
        libc: if cli.libc == "gnu" {
            Libc::Gnu
        } else {
            Libc::Musl
        },
    };
    match cocompile(&request) {
        Ok(outcome) => {
            if cli.report {
                println!("host call sites:");
                if outcome.inlining.is_empty() {
                    println!("  (none)");
                }
                for d in &outcome.inlining {
                    let verdict = if d.inlined { "inlined" } else { "NOT inlined" };
                    println!(
                        "  {}:{}:{} `{}` in {}: {verdict} — {}",
                        request.source.display(),
                        d.site.line,
                        d.site.column,
                        d.site.symbol,
                        d.site.caller,
                        d.reason
                    );
                }
            }
            if cli.timings {
                println!("pipeline timings:");
                let mut total = std::time::Duration::ZERO;
                for (stage, t) in &outcome.timings {
                    println!("  {stage:<24} {:>9.1} ms", t.as_secs_f64() * 1e3);
                    total += *t;
                }
                println!("  {:<24} {:>9.1} ms", "total", total.as_secs_f64() * 1e3);
            }
            for path in &outcome.emitted {
                eprintln!("wrote {}", path.display());
            }
            eprintln!("wrote {}", outcome.output.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            ExitCode::FAILURE
        }
    }
}
