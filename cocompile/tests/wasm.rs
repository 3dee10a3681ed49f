//! wasm32 modules run with wasmtime against tree-walk: scalar and buffer
//! programs, traps by kind, deep recursion; and what the module is (exports
//! the entries, memory and `__heap_base`, imports only effectful host functions). The whole corpus
//! runs through wasm32 in the conformance harness.

mod common;

use common::wasm::WasmProgram;
use common::{Answer, arguments, main_schema, tree_walk};
use relon_cocompile::wasm::{WasmError, compile_wasm};

/// Compile `source` for wasm32, run it with `args`, compare with tree-walk.
fn agrees(source: &str, args: serde_json::Value) -> Answer {
    let args = args.as_object().expect("an object").clone();
    let module = compile_wasm("test.relon", source, None, &common::build_dir())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let program = WasmProgram::new(module).expect("wasmtime compiles it");
    let values = arguments(main_schema(source, &[]).as_ref(), &args);
    let ours = program.run(values);
    let reference = tree_walk(source, &args);
    assert_eq!(ours, reference, "{source} on {args:?}");
    ours
}

#[test]
fn scalar_programs_match_tree_walk() {
    let fib = "#main(Int n) -> Int\nfib(n) where { fib: (Int k) -> Int => k < 2 ? k : fib(k - 1) + fib(k - 2) }";
    assert_eq!(agrees(fib, serde_json::json!({"n": 20})), Answer::Int(6765));
    let float = "#main(Float x, Bool neg) -> Float\nneg ? 0.0 - x * 1.5 : x / 3.0";
    agrees(float, serde_json::json!({"x": 2.5, "neg": true}));
    agrees(float, serde_json::json!({"x": 1e308, "neg": false}));
    let sum = "#main(Int n) -> Int\nrange(n).reduce(0, (Int acc, Int i) -> Int => acc + (i % 7) * (i % 13))";
    agrees(sum, serde_json::json!({"n": 100000}));
}

#[test]
fn traps_keep_their_kind() {
    let mul = "#main(Int a, Int b) -> Int\na * b";
    assert_eq!(
        agrees(mul, serde_json::json!({"a": i64::MAX, "b": 2})),
        Answer::Error("NumericOverflow".into())
    );
    agrees(
        mul,
        serde_json::json!({"a": -3037000499i64, "b": 3037000499i64}),
    );
    let div = "#main(Int a, Int b) -> Int\na / b + a % b";
    assert_eq!(
        agrees(div, serde_json::json!({"a": 7, "b": 0})),
        Answer::Error("DivisionByZero".into())
    );
    agrees(div, serde_json::json!({"a": i64::MIN, "b": -1}));
}

#[test]
fn lists_through_the_buffer_protocol_match() {
    let min = "#main(List<Int> xs) -> Int\nxs.min()";
    agrees(min, serde_json::json!({"xs": [4, -2, 9]}));
    assert_eq!(
        agrees(min, serde_json::json!({"xs": []})),
        Answer::Error("TypeMismatch".into())
    );
    let index = "#relaxed\n#main(List<Int> xs, Int i) -> Int\nat(xs, i) * 10 + len(xs) where { at: (l, k) => l[k] }";
    agrees(index, serde_json::json!({"xs": [1, 2], "i": 1}));
    assert_eq!(
        agrees(index, serde_json::json!({"xs": [1, 2], "i": 2})),
        Answer::Error("VariableNotFound".into())
    );
    agrees(index, serde_json::json!({"xs": [1, 2], "i": -1}));
}

#[test]
fn deep_recursion_fuel_and_the_depth_limit_keep_their_meaning() {
    // Tree-walk overflows its stack long before these depths (and a stack
    // overflow aborts the process), so the answers are checked directly.
    let down = "#main(Int n) -> Int\ndown(n) where { down: (Int k) -> Int => k == 0 ? 0 : 1 + down(k - 1) }";
    let module = compile_wasm("down.relon", down, None, &common::build_dir()).expect("compiles");
    let program = WasmProgram::new(module).expect("wasmtime compiles it");
    let run = |n: i64| {
        let args = serde_json::json!({ "n": n })
            .as_object()
            .cloned()
            .unwrap_or_default();
        program.run(arguments(main_schema(down, &[]).as_ref(), &args))
    };
    assert_eq!(run(100_000), Answer::Int(100_000));
    // The metered entry counts steps: a budget too small is the typed error.
    let args = serde_json::json!({ "n": 1000 })
        .as_object()
        .cloned()
        .unwrap_or_default();
    let values = || arguments(main_schema(down, &[]).as_ref(), &args);
    assert_eq!(
        program.run_with_fuel(values(), Some(50)),
        Answer::Error("StepLimitExceeded".into())
    );
    assert_eq!(
        program.run_with_fuel(values(), Some(1_000_000)),
        Answer::Int(1000)
    );
    // Past the default depth limit (1,000,000 calls): the typed error, not
    // an engine trap.
    assert_eq!(
        run(3_000_000),
        Answer::Error("RecursionLimitExceeded".into())
    );
}

#[test]
fn the_module_exports_the_entries_and_imports_nothing() {
    let module = compile_wasm(
        "m.relon",
        "#main(Int n) -> Int\nn + 1",
        None,
        &common::build_dir(),
    )
    .expect("compiles");
    assert_eq!(&module.bytes[..4], b"\0asm");
    let engine = wasmtime::Engine::default();
    let compiled = wasmtime::Module::new(&engine, &module.bytes).expect("valid");
    assert_eq!(compiled.imports().count(), 0);
    let mut exports: Vec<String> = compiled.exports().map(|e| e.name().to_string()).collect();
    exports.sort();
    assert_eq!(
        exports,
        [
            "__heap_base",
            "memory",
            "relon_entry",
            "relon_entry_metered"
        ]
    );
}

#[test]
fn strings_run_on_the_runtime_helpers_built_for_wasm32() {
    let upper = "#main(String s, Int n) -> String\nf\"${s.upper_locale(\"tr\")}:${n}:${n * 1.5}\" + s.substring(1, 3)";
    agrees(upper, serde_json::json!({"s": "istanbul İı", "n": 7}));
    let list = "#main(List<String> words) -> List<String>\nwords.map((String w) -> String => w.trim().lower())";
    agrees(list, serde_json::json!({"words": [" A ", "ÇĞ", ""]}));
}

#[test]
fn pow_is_refused_with_the_reason() {
    match compile_wasm(
        "p.relon",
        "#main(Float x) -> Float\npow(x, 1.0 / 3.0)",
        None,
        &common::build_dir(),
    ) {
        Err(WasmError::Unsupported(reason)) => assert!(reason.contains("`pow`"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pure_host_functions_inline_and_effectful_ones_are_imports() {
    let host = relon_bitcode::read_host_crate(&common::test_host_dir()).expect("host crate");
    let source = "#main(Int n) -> Int\nmix(n, 3) + clock_skew(n) + (is_prime(n) ? 1 : 0)";
    let module = compile_wasm("h.relon", source, Some(&host), &common::build_dir())
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    // Only the capability-gated one is imported; mix and is_prime are inlined.
    let engine = wasmtime::Engine::default();
    let compiled = wasmtime::Module::new(&engine, &module.bytes).expect("valid");
    let imports: Vec<String> = compiled
        .imports()
        .map(|i| format!("{}.{}", i.module(), i.name()))
        .collect();
    assert_eq!(imports, ["relon_host.clock_skew"]);
    let program = WasmProgram::with_host(module, &common::test_host_natives()).expect("compiles");
    for n in [0, 7, 12, 97, i64::MAX] {
        let args = serde_json::json!({ "n": n })
            .as_object()
            .cloned()
            .unwrap_or_default();
        let ours = program.run(arguments(
            main_schema(source, &host.functions).as_ref(),
            &args,
        ));
        let reference = common::tree_walk(source, &args);
        assert_eq!(ours, reference, "n = {n}");
    }
}
