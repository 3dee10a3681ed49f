//! The differential harness: load a corpus folder, run each program
//! through the tree-walk reference and through a co-compiled static
//! binary, compare answers.
//!
//! Corpus format (a folder of data): `<name>.relon`; `<name>.args.json`,
//! a JSON list of argument objects, one per run (no file: one run with no
//! arguments); optional `<name>.expected.json`, a list of expected answers
//! (a value, or `{"error": "Kind"}`), one per run.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use relon_bitcode::HostFnDecl;
use relon_eval_api::{NativeArgs, RelonFunction, RuntimeError, Value};
use serde_json::Value as Json;

pub mod wasm;

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The compiler binary under test.
pub fn compiler() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_relon-cocompile"))
}

/// The corpus shipped with the repository.
pub fn corpus_dir() -> PathBuf {
    repo_root().join("tests/corpus")
}

/// The test host crate.
pub fn test_host_dir() -> PathBuf {
    repo_root().join("tests/hostfns")
}

/// Build directory shared by the tests (host and runner builds are cached).
pub fn build_dir() -> PathBuf {
    repo_root().join("target/relon-build-tests")
}

/// One corpus program.
#[derive(Debug, Clone)]
pub struct CorpusProgram {
    pub name: String,
    pub path: PathBuf,
    pub source: String,
    pub runs: Vec<serde_json::Map<String, Json>>,
    pub expected: Option<Vec<Json>>,
}

/// Load every `*.relon` of `dir`, sorted by name.
pub fn load_corpus(dir: &Path) -> Vec<CorpusProgram> {
    let mut programs = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "relon"))
    {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        let args_path = dir.join(format!("{name}.args.json"));
        let runs = if args_path.exists() {
            let json: Json = serde_json::from_str(&std::fs::read_to_string(&args_path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", args_path.display()));
            json.as_array()
                .unwrap_or_else(|| {
                    panic!(
                        "{} must hold a list of argument objects",
                        args_path.display()
                    )
                })
                .iter()
                .map(|run| {
                    run.as_object()
                        .cloned()
                        .unwrap_or_else(|| panic!("{}: each run is an object", args_path.display()))
                })
                .collect()
        } else {
            vec![serde_json::Map::new()]
        };
        let expected_path = dir.join(format!("{name}.expected.json"));
        let expected = expected_path.exists().then(|| {
            let json: Json =
                serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
            json.as_array()
                .cloned()
                .unwrap_or_else(|| panic!("{} must hold a list", expected_path.display()))
        });
        programs.push(CorpusProgram {
            name,
            path,
            source,
            runs,
            expected,
        });
    }
    programs
}

/// An answer from any back end.
#[derive(Debug, Clone)]
pub enum Answer {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Any other value, as the JSON text the executable prints for it
    /// (`relon_host_shims::values::format_value`).
    Value(String),
    /// A runtime error, by its `RuntimeError` kind.
    Error(String),
    /// The back end could not run the program (reason).
    Refused(String),
    /// The reference itself crashed (stack overflow in tree-walk).
    ReferenceCrashed,
}

impl PartialEq for Answer {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Answer::Int(a), Answer::Int(b)) => a == b,
            (Answer::Float(a), Answer::Float(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            (Answer::Bool(a), Answer::Bool(b)) => a == b,
            (Answer::Value(a), Answer::Value(b)) => a == b,
            // `Some(6)` prints as `6`: compare a value with a scalar by its text.
            (Answer::Value(a), b) | (b, Answer::Value(a)) => b.text().is_some_and(|t| &t == a),
            (Answer::Error(a), Answer::Error(b)) => a == b,
            _ => false,
        }
    }
}

impl Answer {
    /// From an `.expected.json` entry.
    pub fn from_expected(json: &Json) -> Answer {
        match json {
            Json::Object(m) if m.contains_key("error") => {
                Answer::Error(m["error"].as_str().unwrap_or("").to_string())
            }
            Json::Bool(b) => Answer::Bool(*b),
            Json::Number(n) if n.is_i64() => Answer::Int(n.as_i64().unwrap()),
            Json::Number(n) => Answer::Float(n.as_f64().unwrap()),
            Json::String(s) if parse_special_float(s).is_some() => {
                Answer::Float(parse_special_float(s).unwrap_or_default())
            }
            Json::Object(m) if m.contains_key("value") => Answer::Value(m["value"].to_string()),
            other => panic!(
                "bad expected value {other} (a scalar, {{\"value\": ...}} or {{\"error\": \"Kind\"}})"
            ),
        }
    }

    /// The JSON text the executable prints for a scalar answer.
    fn text(&self) -> Option<String> {
        use relon_host_shims::json::{ScalarValue, format_value};
        match self {
            Answer::Int(i) => Some(format_value(ScalarValue::Int(*i))),
            Answer::Float(f) => Some(format_value(ScalarValue::Float(*f))),
            Answer::Bool(b) => Some(format_value(ScalarValue::Bool(*b))),
            _ => None,
        }
    }

    /// The answer a back end's `Value` result stands for.
    pub fn of_value(value: &Value) -> Answer {
        match value {
            Value::Int(i) => Answer::Int(*i),
            Value::Float(f) => Answer::Float(f.0),
            Value::Bool(b) => Answer::Bool(*b),
            other => Answer::Value(relon_host_shims::values::format_value(other)),
        }
    }
}

fn parse_special_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Variant name of a runtime error.
pub fn error_kind(e: &RuntimeError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("?")
        .to_string()
}

/// Host functions declared by the test host crate.
pub fn test_host_decls() -> Vec<HostFnDecl> {
    relon_bitcode::read_host_crate(&test_host_dir())
        .expect("test host crate")
        .functions
}

struct HostFn(fn(&[Value]) -> Option<Value>, &'static str);

impl RelonFunction for HostFn {
    fn call(
        &self,
        args: NativeArgs,
        range: relon_parser::TokenRange,
    ) -> Result<Value, RuntimeError> {
        let values: Vec<Value> = (0..args.len())
            .filter_map(|i| args.get(i).cloned())
            .collect();
        (self.0)(&values).ok_or_else(|| RuntimeError::TypeMismatch {
            expected: format!("{} arguments", self.1),
            found: format!("{values:?}"),
            range,
        })
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(f.0),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// A tree-walk native: name, implementation, capability it needs.
pub type Native = (
    &'static str,
    Arc<dyn RelonFunction>,
    Option<relon_cap::CapabilityBit>,
);

/// The example's host functions, as tree-walk natives calling the same Rust code.
pub fn example_natives() -> Vec<Native> {
    vec![
        (
            "mix",
            Arc::new(HostFn(
                |a| {
                    Some(Value::Int(mix_hostfns::mix(
                        int(a.first()?)?,
                        int(a.get(1)?)?,
                    )))
                },
                "mix",
            )),
            None,
        ),
        (
            "hash_pair",
            Arc::new(HostFn(
                |a| {
                    Some(Value::Int(mix_hostfns::hash_pair(
                        int(a.first()?)?,
                        int(a.get(1)?)?,
                    )))
                },
                "hash_pair",
            )),
            None,
        ),
    ]
}

/// The test host functions, as tree-walk natives calling the same Rust code.
pub fn test_host_natives() -> Vec<Native> {
    use relon_test_hostfns as h;
    vec![
        (
            "mix",
            Arc::new(HostFn(
                |a| Some(Value::Int(h::test_mix(int(a.first()?)?, int(a.get(1)?)?))),
                "mix",
            )),
            None,
        ),
        (
            "lerp",
            Arc::new(HostFn(
                |a| {
                    Some(Value::Float(
                        h::lerp(float(a.first()?)?, float(a.get(1)?)?, float(a.get(2)?)?).into(),
                    ))
                },
                "lerp",
            )),
            None,
        ),
        (
            "is_prime",
            Arc::new(HostFn(
                |a| Some(Value::Bool(h::is_prime(int(a.first()?)?))),
                "is_prime",
            )),
            None,
        ),
        (
            "clock_skew",
            Arc::new(HostFn(
                |a| Some(Value::Int(h::clock_skew(int(a.first()?)?))),
                "clock_skew",
            )),
            Some(relon_cap::CapabilityBit::ReadsClock),
        ),
    ]
}

/// The `#main` parameter schema of `source`, if the front end takes it.
pub fn main_schema(
    source: &str,
    decls: &[HostFnDecl],
) -> Option<relon_abi::schema_canonical::Schema> {
    relon_cocompile::frontend::lower_source("<args>", source, decls)
        .ok()
        .map(|p| p.lowered.main_schema)
}

/// The `#main` arguments as `Value`s, read by the declared parameter types
/// of `schema` (the executable's conventions); untyped without one.
pub fn arguments(
    schema: Option<&relon_abi::schema_canonical::Schema>,
    args: &serde_json::Map<String, Json>,
) -> HashMap<String, Value> {
    args.iter()
        .map(|(k, v)| {
            let typed = schema
                .and_then(|s| s.fields.iter().find(|f| &f.name == k))
                .and_then(|f| relon_host_shims::values::value_from_json(v, &f.ty).ok());
            (k.clone(), typed.unwrap_or_else(|| json_to_value(v)))
        })
        .collect()
}

/// Convert a JSON argument (binary conventions) to a reference `Value`, untyped.
pub fn json_to_value(json: &Json) -> Value {
    match json {
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) if n.is_i64() => Value::Int(n.as_i64().unwrap()),
        Json::Number(n) => Value::Float(n.as_f64().unwrap().into()),
        Json::String(s) => match parse_special_float(s) {
            Some(f) => Value::Float(f.into()),
            None => Value::String(s.as_str().into()),
        },
        Json::Array(items) => Value::list(items.iter().map(json_to_value).collect()),
        Json::Object(fields) => {
            Value::dict(fields.iter().map(|(k, v)| (k.clone(), json_to_value(v))))
        }
        Json::Null => Value::option_none(),
    }
}

/// Run `source` with `args` on the tree-walk reference (on a thread with a
/// large stack; a crash there is reported, not propagated).
pub fn tree_walk(source: &str, args: &serde_json::Map<String, Json>) -> Answer {
    tree_walk_with(source, args, &test_host_natives(), &test_host_decls())
}

/// [`tree_walk`] with other host functions.
pub fn tree_walk_with(
    source: &str,
    args: &serde_json::Map<String, Json>,
    natives: &[Native],
    decls: &[HostFnDecl],
) -> Answer {
    let values = arguments(main_schema(source, decls).as_ref(), args);
    tree_walk_values(source, values, natives, decls)
}

/// [`tree_walk_with`] with the arguments already read.
pub fn tree_walk_values(
    source: &str,
    values: HashMap<String, Value>,
    natives: &[Native],
    decls: &[HostFnDecl],
) -> Answer {
    let source = source.to_string();
    let natives = natives.to_vec();
    let decls = decls.to_vec();
    let handle = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || -> Answer {
            let ast = match relon_parser::parse_document(&source) {
                Ok(ast) => ast,
                Err(e) => return Answer::Refused(format!("parse: {e}")),
            };
            let options = relon_cocompile::frontend::analyze_options(&decls).expect("options");
            let analyzed = Arc::new(relon_analyzer::analyze_with_options(&ast, &options));
            let mut ctx = relon_eval_api::Context::new()
                .with_root(ast)
                .with_analyzed(analyzed)
                .with_capabilities(all_capabilities());
            for (name, f, cap) in natives {
                match cap {
                    None => ctx.register_pure_fn(name, f),
                    Some(bit) => {
                        let mut gate = relon_analyzer::NativeFnGate::default();
                        gate.require(bit);
                        ctx.register_fn(name, gate, f);
                    }
                }
            }
            relon_evaluator::TreeWalkEvaluator::prepare_in_place(&mut ctx);
            let evaluator = relon_evaluator::TreeWalkEvaluator::new(Arc::new(ctx));
            match relon_eval_api::Evaluator::run_main(&evaluator, values) {
                Ok(value) => Answer::of_value(&value),
                Err(e) => Answer::Error(error_kind(&e)),
            }
        })
        .expect("spawn");
    handle.join().unwrap_or(Answer::ReferenceCrashed)
}

fn all_capabilities() -> relon_cap::Capabilities {
    let mut caps = relon_cap::Capabilities::default();
    for bit in relon_cocompile::frontend::ALL_CAPABILITIES {
        caps.grant(bit);
    }
    caps
}

/// Co-compile `source_path` (with the test host crate, every capability
/// granted) into `output`.
pub fn cocompile(
    source_path: &Path,
    output: &Path,
) -> Result<relon_cocompile::pipeline::CocompileOutcome, String> {
    let request = relon_cocompile::pipeline::CocompileRequest {
        source: source_path.to_path_buf(),
        host: Some(test_host_dir()),
        output: output.to_path_buf(),
        target_cpu: "x86-64".into(),
        emit: Default::default(),
        grants: relon_cocompile::frontend::ALL_CAPABILITIES
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        build_dir: build_dir(),
        libc: Default::default(),
    };
    relon_cocompile::pipeline::cocompile(&request)
        .map_err(|e| format!("{:?}", miette::Report::new(e)))
}

/// A hand-built op with no source range.
pub fn op(op: relon_ir::ir::Op) -> relon_ir::ir::TaggedOp {
    relon_ir::ir::TaggedOp {
        op,
        range: Default::default(),
    }
}

/// A module of one plain `(I64 x params) -> I64` function with `body`, for
/// `LlvmAotEvaluator::from_ir_direct`.
pub fn plain_i64_module(
    name: &str,
    params: usize,
    body: Vec<relon_ir::ir::TaggedOp>,
) -> relon_ir::ir::Module {
    use relon_ir::ir::{Func, IrType, Module};
    Module {
        imports: Vec::new(),
        funcs: vec![Func {
            name: name.into(),
            params: vec![IrType::I64; params],
            ret: IrType::I64,
            body,
            range: Default::default(),
        }],
        entry_func_index: Some(0),
        closure_table: Vec::new(),
    }
}

/// `#main(Int n) -> Int` around a hand-built entry body (which reads `n`
/// with `LoadField { offset: 0 }` and stores its result the same way).
pub fn int_entry(body: Vec<relon_ir::ir::TaggedOp>) -> relon_ir::lowering::LoweredEntry {
    use relon_abi::schema_canonical::{Field, Schema, TypeRepr};
    use relon_ir::ir::{Func, IrType, Module};
    let schema = |name: &str, field: &str| Schema {
        name: name.into(),
        generics: Vec::new(),
        fields: vec![Field {
            name: field.into(),
            ty: TypeRepr::Int,
            default: None,
        }],
        is_tuple: false,
    };
    relon_ir::lowering::LoweredEntry {
        module: Module {
            imports: Vec::new(),
            funcs: vec![Func {
                name: "run_main".into(),
                params: vec![
                    IrType::I32,
                    IrType::I32,
                    IrType::I32,
                    IrType::I32,
                    IrType::I64,
                ],
                ret: IrType::I32,
                body,
                range: Default::default(),
            }],
            entry_func_index: Some(0),
            closure_table: Vec::new(),
        },
        main_schema: schema(relon_ir::MAIN_PARAMS_SCHEMA_NAME, "n"),
        return_schema: schema(
            relon_ir::MAIN_RETURN_SCHEMA_NAME,
            relon_ir::RETURN_VALUE_FIELD_NAME,
        ),
    }
}

/// A build of hand-made IR named `name` (no host crate) into `output`.
pub fn ir_request(name: &str, output: &Path) -> relon_cocompile::pipeline::CocompileRequest {
    relon_cocompile::pipeline::CocompileRequest {
        source: name.into(),
        host: None,
        output: output.to_path_buf(),
        target_cpu: "x86-64".into(),
        emit: Default::default(),
        grants: Vec::new(),
        build_dir: build_dir(),
        libc: Default::default(),
    }
}

/// Run a built binary with `args` and read its answer.
pub fn run_binary(binary: &Path, args: &serde_json::Map<String, Json>) -> Answer {
    run_binary_with(binary, &[], args)
}

/// [`run_binary`] with `flags` (`--fuel N`, ...) before the arguments.
pub fn run_binary_with(
    binary: &Path,
    flags: &[String],
    args: &serde_json::Map<String, Json>,
) -> Answer {
    let out = std::process::Command::new(binary)
        .args(flags)
        .arg(Json::Object(args.clone()).to_string())
        .output()
        .expect("run binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => match serde_json::from_str::<Json>(stdout.trim()) {
            Ok(Json::Bool(b)) => Answer::Bool(b),
            Ok(Json::Number(n)) if stdout.contains(['.', 'e']) => {
                Answer::Float(n.as_f64().unwrap())
            }
            Ok(Json::Number(n)) => Answer::Int(n.as_i64().unwrap()),
            Ok(Json::String(s)) if parse_special_float(&s).is_some() => {
                Answer::Float(parse_special_float(&s).unwrap_or_default())
            }
            Ok(_) => Answer::Value(stdout.trim().to_string()),
            Err(e) => Answer::Refused(format!("unreadable output {stdout:?}: {e}")),
        },
        Some(1) => {
            let kind = stderr
                .trim()
                .strip_prefix("error: ")
                .and_then(|r| r.split(':').next())
                .unwrap_or("?");
            Answer::Error(kind.to_string())
        }
        code => Answer::Refused(format!("exit {code:?}: {stderr}")),
    }
}

/// The test host functions as a JIT registry (the same Rust code again).
pub fn test_host_registry() -> relon_cocompile::jit::HostFnRegistry {
    let decls = test_host_decls();
    let mut registry = relon_cocompile::jit::HostFnRegistry::new();
    for (name, func, _) in test_host_natives() {
        let decl = decls.iter().find(|d| d.name == name).expect("declared");
        registry.register(
            name,
            &decl.params,
            decl.returns,
            decl.capability.as_deref(),
            func,
        );
    }
    registry
}

/// JIT-compile `source` with the test host functions and every capability.
pub fn jit(source: &str) -> Result<relon_cocompile::jit::LlvmAotEvaluator, String> {
    jit_typed(source).map_err(|e| e.to_string())
}

/// [`jit`], keeping the error's type.
#[allow(clippy::result_large_err)]
pub fn jit_typed(
    source: &str,
) -> Result<relon_cocompile::jit::LlvmAotEvaluator, relon_cocompile::jit::JitError> {
    let config = relon_cocompile::jit::SandboxConfig {
        capabilities: relon_cocompile::frontend::ALL_CAPABILITIES
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        ..Default::default()
    };
    relon_cocompile::jit::LlvmAotEvaluator::from_source(source, &test_host_registry(), config)
}

/// Run a JIT'd program with JSON arguments.
pub fn run_jit(
    evaluator: &relon_cocompile::jit::LlvmAotEvaluator,
    values: HashMap<String, Value>,
) -> Answer {
    match relon_eval_api::Evaluator::run_main(evaluator, values) {
        Ok(value) => Answer::of_value(&value),
        Err(e) => Answer::Error(error_kind(&e)),
    }
}

/// One back end's answers for one program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every run agreed with the reference (and the expected answers).
    Match,
    /// Some run differed.
    Mismatch,
    /// The back end could not compile or run the program.
    Refused,
}

/// One back end's verdict on one program, with the refusal reason.
pub type Cell = (&'static str, Verdict, Option<String>);

/// The conformance report of a corpus folder.
#[derive(Debug, Default)]
pub struct Report {
    /// Per program: name, then one cell per back end.
    pub rows: Vec<(String, Vec<Cell>)>,
    /// One line per mismatching run.
    pub mismatches: Vec<String>,
    /// Runs executed.
    pub runs: usize,
}

/// The back ends compared against tree-walk that must take every program.
pub const BACKENDS: [&str; 2] = ["jit", "binary"];

/// The back end that may refuse a program, with its reason (what wasm32
/// does not have yet); every program it takes must match.
pub const WASM32: &str = "wasm32";

impl Report {
    /// Count of (back end, verdict) cells.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.rows
            .iter()
            .flat_map(|(_, cells)| cells)
            .filter(|(_, v, _)| *v == verdict)
            .count()
    }

    /// The table as text.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<28} {:<10} {:<10} {:<10} {:<10}\n",
            "program", "tree-walk", "jit", "binary", WASM32
        );
        for (name, cells) in &self.rows {
            let cell = |b: &str| {
                cells.iter().find(|(backend, _, _)| *backend == b).map_or(
                    "-".to_string(),
                    |(_, v, _)| {
                        match v {
                            Verdict::Match => "match",
                            Verdict::Mismatch => "MISMATCH",
                            Verdict::Refused => "refused",
                        }
                        .to_string()
                    },
                )
            };
            out.push_str(&format!(
                "{name:<28} {:<10} {:<10} {:<10} {:<10}\n",
                "reference",
                cell("jit"),
                cell("binary"),
                cell(WASM32)
            ));
            for (backend, _, reason) in cells {
                if let Some(reason) = reason {
                    out.push_str(&format!(
                        "    {backend} refused: {}\n",
                        reason.lines().next().unwrap_or("")
                    ));
                }
            }
        }
        out.push_str(&format!(
            "{} programs, {} runs: {} match, {} mismatch, {} refused (program x back end)\n",
            self.rows.len(),
            self.runs,
            self.count(Verdict::Match),
            self.count(Verdict::Mismatch),
            self.count(Verdict::Refused)
        ));
        let wasm = |verdict| self.count_for(WASM32, verdict);
        out.push_str(&format!(
            "{WASM32}: {} programs match, {} mismatch, {} refused (reasons above)\n",
            wasm(Verdict::Match),
            wasm(Verdict::Mismatch),
            wasm(Verdict::Refused)
        ));
        out
    }

    /// Count of one back end's cells with `verdict`.
    pub fn count_for(&self, backend: &str, verdict: Verdict) -> usize {
        self.rows
            .iter()
            .flat_map(|(_, cells)| cells)
            .filter(|(b, v, _)| *b == backend && *v == verdict)
            .count()
    }
}

fn answer_json(answer: &Answer) -> Json {
    match answer {
        Answer::Int(i) => serde_json::json!({ "value": i }),
        Answer::Float(f) if f.is_nan() => serde_json::json!({ "value": "NaN" }),
        Answer::Float(f) if f.is_infinite() => {
            serde_json::json!({ "value": if *f > 0.0 { "Infinity" } else { "-Infinity" } })
        }
        Answer::Float(f) => serde_json::json!({ "value": f }),
        Answer::Bool(b) => serde_json::json!({ "value": b }),
        Answer::Value(text) => {
            serde_json::json!({ "value": serde_json::from_str::<Json>(text).unwrap_or(Json::String(text.clone())) })
        }
        Answer::Error(kind) => serde_json::json!({ "error": kind }),
        Answer::Refused(reason) => serde_json::json!({ "refused": reason }),
        Answer::ReferenceCrashed => serde_json::json!({ "refused": "reference crashed" }),
    }
}

/// Run every program of `dir` through tree-walk, the JIT and the static
/// binary; write one JSON line per run to `json` if given.
pub fn conformance(dir: &Path, json: Option<&Path>) -> Report {
    let programs = load_corpus(dir);
    let (natives, decls) = (test_host_natives(), test_host_decls());
    let host = relon_bitcode::read_host_crate(&test_host_dir()).expect("test host crate");
    let out_dir = tempfile::tempdir().expect("temp dir");
    let mut report = Report::default();
    let mut lines = Vec::new();
    for program in &programs {
        let binary = out_dir.path().join(&program.name);
        let built = cocompile(&program.path, &binary).err();
        let jit = jit(&program.source);
        let wasm = match relon_cocompile::wasm::compile_wasm(
            &program.name,
            &program.source,
            Some(&host),
            &build_dir(),
        ) {
            Ok(module) => wasm::WasmProgram::with_host(module, &natives),
            Err(relon_cocompile::wasm::WasmError::Unsupported(reason)) => Err(reason),
            Err(other) => {
                // A program the native back ends compile must not break the
                // wasm32 build: that is a failure, not a refusal.
                if built.is_none() {
                    report.mismatches.push(format!(
                        "{} on {WASM32}: the build failed: {other}",
                        program.name
                    ));
                }
                Err(format!("the build failed: {other}"))
            }
        };
        let schema = main_schema(&program.source, &decls);
        let mut cells = vec![
            ("jit", Verdict::Match, jit.as_ref().err().cloned()),
            ("binary", Verdict::Match, built.clone()),
            (WASM32, Verdict::Match, wasm.as_ref().err().cloned()),
        ];
        for cell in cells.iter_mut() {
            if cell.2.is_some() {
                cell.1 = Verdict::Refused;
            }
        }
        for (i, args) in program.runs.iter().enumerate() {
            report.runs += 1;
            let values = arguments(schema.as_ref(), args);
            let reference = tree_walk_values(&program.source, values.clone(), &natives, &decls);
            let expected = program
                .expected
                .as_ref()
                .and_then(|e| e.get(i))
                .map(Answer::from_expected);
            let answers = [
                match &jit {
                    Ok(evaluator) => run_jit(evaluator, values.clone()),
                    Err(reason) => Answer::Refused(reason.clone()),
                },
                if built.is_none() {
                    run_binary(&binary, args)
                } else {
                    Answer::Refused(built.clone().unwrap_or_default())
                },
                match &wasm {
                    Ok(program) => program.run(values.clone()),
                    Err(reason) => Answer::Refused(reason.clone()),
                },
            ];
            for (cell, answer) in cells.iter_mut().zip(&answers) {
                if cell.1 == Verdict::Refused {
                    continue;
                }
                let agrees = match &reference {
                    // Tree-walk overflows its native stack on deep recursion:
                    // accept a value or a typed error from the back end.
                    Answer::ReferenceCrashed => !matches!(answer, Answer::Refused(_)),
                    r => r == answer,
                };
                let as_expected = expected.as_ref().is_none_or(|e| e == answer);
                if !agrees || !as_expected {
                    cell.1 = Verdict::Mismatch;
                    report.mismatches.push(format!(
                        "{} run {i} {} on {}: tree-walk {reference:?}, got {answer:?}, expected {expected:?}",
                        program.name,
                        Json::Object(args.clone()),
                        cell.0
                    ));
                }
            }
            lines.push(serde_json::json!({
                "program": program.name,
                "args": Json::Object(args.clone()),
                "tree-walk": answer_json(&reference),
                "jit": answer_json(&answers[0]),
                "binary": answer_json(&answers[1]),
                WASM32: answer_json(&answers[2]),
            }));
        }
        report.rows.push((program.name.clone(), cells));
    }
    if let Some(path) = json {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(path, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
    report
}

/// Count the ops `module` runs: its own functions and every bundled
/// stdlib body they call (each body once).
pub fn count_ops(
    module: &relon_ir::ir::Module,
    counts: &mut std::collections::BTreeMap<String, usize>,
) {
    let mut seen = std::collections::HashSet::new();
    for func in &module.funcs {
        count_body_ops(&func.body, counts, &mut seen);
    }
}

fn count_body_ops(
    body: &[relon_ir::ir::TaggedOp],
    counts: &mut std::collections::BTreeMap<String, usize>,
    seen: &mut std::collections::HashSet<u32>,
) {
    let mut called = Vec::new();
    relon_cocompile::ir_walk::for_each_body(body, &mut |ops| {
        for tagged in ops {
            *counts
                .entry(relon_cocompile::codegen::op_name(&tagged.op))
                .or_default() += 1;
            if let relon_ir::ir::Op::Call { fn_index, .. } = tagged.op
                && fn_index < relon_ir::stdlib_function_count()
                && seen.insert(fn_index)
            {
                called.push(fn_index);
            }
        }
    });
    for fn_index in called {
        count_body_ops(
            relon_ir::builtin_stdlib()[fn_index as usize].body(),
            counts,
            seen,
        );
    }
}

/// The op-coverage report of a conformance run: for each IR op, the
/// programs that exercise it and pass in every back end.
pub struct OpCoverage {
    /// Op name to the passing programs that run it (every op listed).
    pub programs: std::collections::BTreeMap<&'static str, Vec<String>>,
}

impl OpCoverage {
    /// Coverage over the programs of `dir` that `report` found matching in every back end.
    pub fn of(dir: &Path, report: &Report) -> OpCoverage {
        let decls = test_host_decls();
        let mut programs: std::collections::BTreeMap<&'static str, Vec<String>> =
            relon_cocompile::codegen::OP_NAMES
                .iter()
                .map(|name| (*name, Vec::new()))
                .collect();
        for program in load_corpus(dir) {
            let passing = report.rows.iter().any(|(name, cells)| {
                *name == program.name
                    && cells
                        .iter()
                        .all(|(_, verdict, _)| *verdict == Verdict::Match)
            });
            if !passing {
                continue;
            }
            let Ok(lowered) =
                relon_cocompile::frontend::lower_source(&program.name, &program.source, &decls)
            else {
                continue;
            };
            let mut counts = std::collections::BTreeMap::new();
            count_ops(&lowered.lowered.module, &mut counts);
            for name in counts.keys() {
                let entry = programs
                    .get_mut(name.as_str())
                    .unwrap_or_else(|| panic!("op `{name}` is missing from OP_NAMES"));
                entry.push(program.name.clone());
            }
        }
        OpCoverage { programs }
    }

    /// The ops exercised by fewer than `min` passing programs.
    pub fn short_of(&self, min: usize) -> Vec<&'static str> {
        self.programs
            .iter()
            .filter(|(_, p)| p.len() < min)
            .map(|(op, _)| *op)
            .collect()
    }

    /// The report as text: one line per op, with up to three programs.
    pub fn table(&self) -> String {
        let mut out = format!("{:<32} {:>8}  examples\n", "op", "programs");
        for (op, programs) in &self.programs {
            let examples: Vec<&str> = programs.iter().take(3).map(String::as_str).collect();
            out += &format!("{op:<32} {:>8}  {}\n", programs.len(), examples.join(", "));
        }
        out
    }
}
