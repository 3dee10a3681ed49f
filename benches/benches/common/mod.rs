//! The suite's machinery, shared by the driver (`benches/suite.rs`) and the
//! CI agreement test (`tests/agree.rs`): every system's answer for a
//! workload, and per-call timings.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use relon_bench::{Answer, Workload};
use relon_eval_api::{Evaluator, NativeArgs, RelonFunction, RuntimeError, Value};
use relon_host_shims::bench::{Stats, measure};

/// Repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example host crate (its `mix` is the host-call workload's).
pub fn host_dir() -> PathBuf {
    repo_root().join("examples/mix/hostfns")
}

struct Mix;

impl RelonFunction for Mix {
    fn call(
        &self,
        args: NativeArgs,
        range: relon_parser::TokenRange,
    ) -> Result<Value, RuntimeError> {
        match (args.get(0), args.get(1)) {
            (Some(Value::Int(a)), Some(Value::Int(b))) => Ok(Value::Int(mix_hostfns::mix(*a, *b))),
            other => Err(RuntimeError::TypeMismatch {
                expected: "(Int, Int)".into(),
                found: format!("{other:?}"),
                range,
            }),
        }
    }
}

fn natives() -> HashMap<String, Arc<dyn RelonFunction>> {
    HashMap::from([("mix".to_string(), Arc::new(Mix) as Arc<dyn RelonFunction>)])
}

fn host_decls() -> Vec<relon_bitcode::HostFnDecl> {
    relon_bitcode::read_host_crate(&host_dir())
        .expect("example host crate")
        .functions
}

fn args(n: i64) -> HashMap<String, Value> {
    HashMap::from([("n".to_string(), Value::Int(n))])
}

/// A system's answer: the value, or the error kind.
pub type Outcome = Result<Answer, String>;

fn from_value(v: Result<Value, RuntimeError>) -> Outcome {
    match v {
        Ok(Value::Int(i)) => Ok(Answer::Int(i)),
        Ok(Value::Float(f)) => Ok(Answer::Float(f.0)),
        Ok(other) => Err(format!("unexpected {other:?}")),
        Err(e) => Err(format!("{e:?}")
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("?")
            .to_string()),
    }
}

/// The control's outcome (overflow is tree-walk's `NumericOverflow`).
pub fn control(w: &Workload, n: i64) -> Outcome {
    (w.control)(n).ok_or_else(|| "NumericOverflow".to_string())
}

/// Tree-walk, the reference.
pub fn tree_walk(w: &Workload) -> relon_evaluator::TreeWalkEvaluator {
    let ast = relon_parser::parse_document(w.source).expect("parses");
    let options = relon_cocompile::frontend::analyze_options(&host_decls()).expect("options");
    let analyzed = Arc::new(relon_analyzer::analyze_with_options(&ast, &options));
    let mut ctx = relon_eval_api::Context::new()
        .with_root(ast)
        .with_analyzed(analyzed);
    for (name, f) in natives() {
        ctx.register_pure_fn(name, f);
    }
    relon_evaluator::TreeWalkEvaluator::prepare_in_place(&mut ctx);
    relon_evaluator::TreeWalkEvaluator::new(Arc::new(ctx))
}

/// Relon's Cranelift back end.
pub fn cranelift(w: &Workload) -> Result<relon_codegen_cranelift::AotEvaluator, String> {
    let options =
        relon_cocompile::frontend::analyze_options(&host_decls()).map_err(|e| e.to_string())?;
    relon_codegen_cranelift::AotEvaluator::from_source_with_options(w.source, &options)
        .map(|e| e.with_host_fns(&natives()))
        .map_err(|e| e.to_string())
}

/// Our JIT.
pub fn jit(w: &Workload) -> Result<relon_cocompile::jit::LlvmAotEvaluator, String> {
    let mut registry = relon_cocompile::jit::HostFnRegistry::new();
    for decl in host_decls() {
        if let Some(f) = natives().remove(&decl.name) {
            registry.register(&decl.name, &decl.params, decl.returns, None, f);
        }
    }
    relon_cocompile::jit::LlvmAotEvaluator::from_source(w.source, &registry, Default::default())
        .map_err(|e| e.to_string())
}

/// The co-compiled static binary, built into `dir`.
pub fn binary(w: &Workload, dir: &Path, target_cpu: &str) -> Result<PathBuf, String> {
    let source = dir.join(format!("{}.relon", w.name));
    std::fs::write(&source, w.source).map_err(|e| e.to_string())?;
    let output = dir.join(w.name);
    let request = relon_cocompile::pipeline::CocompileRequest {
        source,
        host: Some(host_dir()),
        output: output.clone(),
        target_cpu: target_cpu.to_string(),
        emit: Default::default(),
        grants: Vec::new(),
        build_dir: repo_root().join("target/relon-build-bench"),
        libc: Default::default(),
    };
    relon_cocompile::pipeline::cocompile(&request)
        .map_err(|e| format!("{:?}", miette::Report::new(e)))?;
    Ok(output)
}

/// The Lua runners (`benches/lua`, built by `cargo xtask bench`), when built.
pub fn lua_runners() -> Vec<(&'static str, PathBuf)> {
    [("lua 5.4", "lua54"), ("luajit", "luajit")]
        .into_iter()
        .map(|(name, dir)| {
            (
                name,
                repo_root()
                    .join("target")
                    .join(dir)
                    .join("release/relon-lua-bench"),
            )
        })
        .filter(|(_, path)| path.is_file())
        .collect()
}

/// The Lua script of `w` for a runner (LuaJIT may have its own).
fn lua_script(w: &Workload, system: &str) -> Option<PathBuf> {
    let dir = repo_root().join("benches/lua/workloads");
    let special = dir.join(format!("{}.luajit.lua", w.file));
    if system == "luajit" && special.is_file() {
        return Some(special);
    }
    Some(dir.join(format!("{}.lua", w.file))).filter(|p| p.is_file())
}

/// Run a Lua runner: its result and timings.
fn run_lua(runner: &Path, script: &Path, n: i64, calls: u64) -> Result<(Outcome, Stats), String> {
    let out = std::process::Command::new(runner)
        .arg(script)
        .arg(n.to_string())
        .arg(calls.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let result = report["result"].as_str().unwrap_or_default();
    let outcome = match result.parse::<i64>() {
        Ok(i) => Ok(Answer::Int(i)),
        Err(_) => result
            .parse::<f64>()
            .map(Answer::Float)
            .map_err(|e| format!("{result}: {e}")),
    };
    let stat = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
    Ok((
        outcome,
        Stats {
            median_ns: stat("median_ns"),
            min_ns: stat("min_ns"),
            max_ns: stat("max_ns"),
        },
    ))
}

/// Every system's outcome for `w` at `n`.
pub fn outcomes(w: &Workload, n: i64, binary_path: &Path) -> Vec<(&'static str, Outcome)> {
    let tw = tree_walk(w);
    let reference = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || from_value(Evaluator::run_main(&tw, args(n))))
        .expect("thread")
        .join()
        .unwrap_or_else(|_| Err("reference crashed".into()));
    let mut out = vec![("rust", control(w, n)), ("tree-walk", reference)];
    out.push(("jit", jit(w).and_then(|j| from_value(j.run_main(args(n))))));
    out.push((
        "cranelift",
        cranelift(w).and_then(|c| from_value(Evaluator::run_main(&c, args(n)))),
    ));
    out.push(("binary", run_binary(binary_path, n)));
    for (system, runner) in lua_runners() {
        if let Some(script) = lua_script(w, system) {
            out.push((system, run_lua(&runner, &script, n, 1).and_then(|(o, _)| o)));
        }
    }
    out
}

fn run_binary(path: &Path, n: i64) -> Outcome {
    let out = std::process::Command::new(path)
        .arg(format!("{{\"n\": {n}}}"))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        match text.parse::<i64>() {
            Ok(i) => Ok(Answer::Int(i)),
            Err(_) => text
                .parse::<f64>()
                .map(Answer::Float)
                .map_err(|e| e.to_string()),
        }
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(stderr
            .trim()
            .strip_prefix("error: ")
            .and_then(|r| r.split(':').next())
            .unwrap_or("?")
            .to_string())
    }
}

/// Outcomes agree: equal values (Floats by bits) or equal error kinds.
pub fn agree(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(Answer::Float(x)), Ok(Answer::Float(y))) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => a == b,
    }
}

/// One measured row: system, caliber, statistics.
pub type Timing = (String, &'static str, Stats);

fn calls_for(single: std::time::Duration, budget_ms: u64) -> u64 {
    (std::time::Duration::from_millis(budget_ms).as_nanos() / single.as_nanos().max(1))
        .clamp(5, 200_000) as u64
}

fn time_it(budget_ms: u64, mut f: impl FnMut()) -> Stats {
    let start = std::time::Instant::now();
    f();
    measure(calls_for(start.elapsed(), budget_ms), f)
}

/// The systems that are not ours and may fail a workload at its full
/// size without stopping the suite.
pub const PEERS: [&str; 3] = ["cranelift", "lua 5.4", "luajit"];

/// Time every system on `w` at `n`, except the systems in `skip`.
pub fn timings(
    w: &Workload,
    n: i64,
    binary_path: &Path,
    budget_ms: u64,
    skip: &[&str],
) -> Vec<Timing> {
    let mut rows = Vec::new();
    let control = w.control;
    rows.push((
        "rust".to_string(),
        "kernel",
        time_it(budget_ms, || {
            std::hint::black_box(control(std::hint::black_box(n)));
        }),
    ));
    if let Some(noinline) = w.control_noinline {
        rows.push((
            "rust (host call not inlined)".to_string(),
            "kernel",
            time_it(budget_ms, || {
                std::hint::black_box(noinline(std::hint::black_box(n)));
            }),
        ));
    }
    // The binary measures itself (`--bench`): kernel and row. A short
    // first run sizes the real one (a process's start-up is no estimate).
    // The row's argument is what serde_json and `JSON.stringify` write.
    let binary_bench = |calls: u64| -> Option<serde_json::Value> {
        let out = std::process::Command::new(binary_path)
            .args(["--bench", &calls.to_string(), &format!("{{\"n\":{n}}}")])
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    let per_call = binary_bench(5)
        .and_then(|r| r["kernel"]["median_ns"].as_f64())
        .unwrap_or(1e6);
    let calls = calls_for(
        std::time::Duration::from_nanos(per_call.max(1.0) as u64),
        budget_ms,
    );
    let bench = binary_bench(calls).ok_or(());
    if let Ok(report) = bench {
        for caliber in ["kernel", "row"] {
            let s = &report[caliber];
            if let (Some(median_ns), Some(min_ns), Some(max_ns)) = (
                s["median_ns"].as_f64(),
                s["min_ns"].as_f64(),
                s["max_ns"].as_f64(),
            ) {
                rows.push((
                    "binary".to_string(),
                    caliber,
                    Stats {
                        median_ns,
                        min_ns,
                        max_ns,
                    },
                ));
            }
        }
    }
    if let Ok(j) = jit(w) {
        if let Ok(mut prepared) = j.prepare(args(n)) {
            rows.push((
                "jit".to_string(),
                "kernel",
                time_it(budget_ms, || {
                    std::hint::black_box(prepared.call()).ok();
                }),
            ));
        }
        rows.push((
            "jit".to_string(),
            "row",
            time_it(budget_ms, || {
                std::hint::black_box(j.run_main(args(n))).ok();
            }),
        ));
    }
    if let Some(c) = cranelift(w).ok().filter(|_| !skip.contains(&"cranelift")) {
        rows.push((
            "cranelift".to_string(),
            "row",
            time_it(budget_ms, || {
                std::hint::black_box(Evaluator::run_main(&c, args(n))).ok();
            }),
        ));
    }
    for (system, runner) in lua_runners() {
        if skip.contains(&system) {
            continue;
        }
        if let Some(script) = lua_script(w, system) {
            let single = std::time::Instant::now();
            let _ = run_lua(&runner, &script, n, 1);
            // The runner's own start-up is in `single`: a generous estimate.
            let calls = calls_for(single.elapsed(), budget_ms);
            if let Ok((_, stats)) = run_lua(&runner, &script, n, calls) {
                rows.push((system.to_string(), "kernel", stats));
            }
        }
    }
    let tw = tree_walk(w);
    rows.push((
        "tree-walk".to_string(),
        "row",
        time_it(budget_ms, || {
            std::hint::black_box(Evaluator::run_main(&tw, args(n))).ok();
        }),
    ));
    rows
}
