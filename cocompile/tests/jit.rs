//! The JIT evaluator in open world: registered Rust closures are called,
//! capabilities and host errors surface as tree-walk's typed errors,
//! `#main` arguments are checked, and deep recursion is bounded.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use relon_cocompile::jit::{HostFnRegistry, LlvmAotEvaluator, SandboxConfig};
use relon_eval_api::{Evaluator, NativeArgs, RelonFunction, RuntimeError, Value};
use relon_runtime_contract::ScalarType;

struct Closure<F>(F);

impl<F: Fn(&[Value]) -> Result<Value, RuntimeError> + Send + Sync> RelonFunction for Closure<F> {
    fn call(
        &self,
        args: NativeArgs,
        _range: relon_parser::TokenRange,
    ) -> Result<Value, RuntimeError> {
        (self.0)(&args.positional)
    }
}

fn args(pairs: &[(&str, Value)]) -> HashMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn kind(result: &Result<Value, RuntimeError>) -> String {
    match result {
        Ok(v) => format!("{v:?}"),
        Err(e) => common::error_kind(e),
    }
}

#[test]
fn a_registered_closure_is_called_and_its_result_used() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let mut host = HostFnRegistry::new();
    host.register(
        "triple",
        &[ScalarType::Int],
        ScalarType::Int,
        None,
        Arc::new(Closure(move |a: &[Value]| {
            seen.fetch_add(1, Ordering::SeqCst);
            match a {
                [Value::Int(i)] => Ok(Value::Int(i * 3)),
                other => Err(RuntimeError::Unsupported {
                    reason: format!("{other:?}"),
                }),
            }
        })),
    );
    let program = "#main(Int n) -> Int\nrange(n).reduce(0, (acc, i) => acc + triple(i))";
    let jit = LlvmAotEvaluator::from_source(program, &host, SandboxConfig::default()).unwrap();
    assert_eq!(
        jit.run_main(args(&[("n", Value::Int(10))])).unwrap(),
        Value::Int(3 * 45)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 10);
}

fn gated_registry() -> HostFnRegistry {
    let mut host = HostFnRegistry::new();
    host.register(
        "stamp",
        &[ScalarType::Int],
        ScalarType::Int,
        Some("reads_clock"),
        Arc::new(Closure(|a: &[Value]| match a {
            [Value::Int(i)] => Ok(Value::Int(i + 1)),
            _ => Ok(Value::Int(0)),
        })),
    );
    host
}

#[test]
fn a_capability_not_granted_is_the_error_tree_walk_gives() {
    let program = "#main(Int n) -> Int\nstamp(n) * 2";
    let host = gated_registry();
    let denied = LlvmAotEvaluator::from_source(program, &host, SandboxConfig::default()).unwrap();
    let jit_result = denied.run_main(args(&[("n", Value::Int(4))]));

    // Tree-walk with the same function registered under the same gate and no grant.
    let ast = relon_parser::parse_document(program).unwrap();
    let options = relon_cocompile::frontend::analyze_options(&host.decls()).unwrap();
    let analyzed = Arc::new(relon_analyzer::analyze_with_options(&ast, &options));
    let mut ctx = relon_eval_api::Context::new()
        .with_root(ast)
        .with_analyzed(analyzed);
    let mut gate = relon_analyzer::NativeFnGate::default();
    gate.require(relon_cap::CapabilityBit::ReadsClock);
    ctx.register_fn(
        "stamp",
        gate,
        Arc::new(Closure(|_: &[Value]| Ok(Value::Int(0)))),
    );
    relon_evaluator::TreeWalkEvaluator::prepare_in_place(&mut ctx);
    let tree_walk = relon_evaluator::TreeWalkEvaluator::new(Arc::new(ctx));
    let reference = Evaluator::run_main(&tree_walk, args(&[("n", Value::Int(4))]));
    assert_eq!(kind(&jit_result), "CapabilityDenied");
    assert_eq!(kind(&jit_result), kind(&reference));

    let config = SandboxConfig {
        capabilities: ["reads_clock".to_string()].into(),
        ..Default::default()
    };
    let granted = LlvmAotEvaluator::from_source(program, &host, config).unwrap();
    assert_eq!(
        granted.run_main(args(&[("n", Value::Int(4))])).unwrap(),
        Value::Int(10)
    );
}

#[test]
fn a_host_error_reaches_the_caller_unchanged() {
    let mut host = HostFnRegistry::new();
    host.register(
        "checked_inverse",
        &[ScalarType::Float],
        ScalarType::Float,
        None,
        Arc::new(Closure(|a: &[Value]| match a {
            [Value::Float(f)] if f.0 != 0.0 => Ok(Value::Float((1.0 / f.0).into())),
            _ => Err(RuntimeError::ValidationError(
                "zero has no inverse".into(),
                Default::default(),
            )),
        })),
    );
    let jit = LlvmAotEvaluator::from_source(
        "#main(Float x) -> Float\nchecked_inverse(x)",
        &host,
        SandboxConfig::default(),
    )
    .unwrap();
    assert_eq!(
        jit.run_main(args(&[("x", Value::Float(4.0.into()))]))
            .unwrap(),
        Value::Float(0.25.into())
    );
    match jit.run_main(args(&[("x", Value::Float(0.0.into()))])) {
        Err(RuntimeError::ValidationError(message, _)) => {
            assert_eq!(message, "zero has no inverse")
        }
        other => panic!("expected the host's ValidationError, got {other:?}"),
    }
}

#[test]
fn main_arguments_are_checked_like_tree_walk_checks_them() {
    let source = "#main(Int n, Float x) -> Float\nx * n";
    let jit = common::jit(source).unwrap();
    let cases = [
        args(&[("n", Value::Int(2))]),
        args(&[
            ("n", Value::Int(2)),
            ("x", Value::Float(1.5.into())),
            ("extra", Value::Int(0)),
        ]),
        args(&[("n", Value::Bool(true)), ("x", Value::Float(1.5.into()))]),
    ];
    for case in cases {
        let jit_kind = kind(&jit.run_main(case.clone()));
        let json: serde_json::Map<String, serde_json::Value> = case
            .iter()
            .map(|(k, v)| {
                let j = match v {
                    Value::Int(i) => serde_json::json!(i),
                    Value::Float(f) => serde_json::json!(f.0),
                    Value::Bool(b) => serde_json::json!(b),
                    _ => unreachable!(),
                };
                (k.clone(), j)
            })
            .collect();
        match common::tree_walk(source, &json) {
            common::Answer::Error(reference) => assert_eq!(jit_kind, reference, "{case:?}"),
            other => panic!("tree-walk accepted {case:?}: {other:?}"),
        }
    }
}

const DOWN: &str = "#main(Int n) -> Int\ndown(n) where {\n  down: (Int k) -> Int => k == 0 ? 0 : 1 + down(k - 1)\n}";

#[test]
fn recursion_to_depth_100_000_returns_its_value_and_runaway_recursion_is_a_typed_error() {
    let jit = common::jit(DOWN).unwrap();
    assert_eq!(
        jit.run_main(args(&[("n", Value::Int(100_000))])).unwrap(),
        Value::Int(100_000)
    );
    assert_eq!(
        kind(&jit.run_main(args(&[("n", Value::Int(10_000_000))]))),
        "RecursionLimitExceeded"
    );
    let shallow = LlvmAotEvaluator::from_source(
        DOWN,
        &HostFnRegistry::new(),
        SandboxConfig {
            max_depth: 50,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        shallow.run_main(args(&[("n", Value::Int(49))])).unwrap(),
        Value::Int(49)
    );
    assert_eq!(
        kind(&shallow.run_main(args(&[("n", Value::Int(51))]))),
        "RecursionLimitExceeded"
    );
}

#[test]
fn fuel_stops_a_long_run_deterministically() {
    let source = "#main(Int n) -> Int\nrange(n).reduce(0, (acc, i) => acc + i)";
    let run = |fuel| {
        let jit = LlvmAotEvaluator::from_source(
            source,
            &HostFnRegistry::new(),
            SandboxConfig {
                fuel: Some(fuel),
                ..Default::default()
            },
        )
        .unwrap();
        jit.run_main(args(&[("n", Value::Int(1000))]))
    };
    assert_eq!(kind(&run(100)), "StepLimitExceeded");
    assert_eq!(run(10_000).unwrap(), Value::Int(499_500));
    // The boundary is the same step every time.
    let (mut low, mut high) = (100u64, 10_000u64);
    while high - low > 1 {
        let mid = (low + high) / 2;
        if run(mid).is_ok() {
            high = mid
        } else {
            low = mid
        }
    }
    let boundary = high;
    for _ in 0..3 {
        assert!(run(boundary).is_ok());
        assert_eq!(kind(&run(boundary - 1)), "StepLimitExceeded");
    }
}

#[test]
fn from_ir_direct_runs_a_plain_i64_entry_with_checked_arithmetic() {
    use common::op;
    use relon_ir::ir::{IrType, Op};
    // (a, b) -> a * b + 1, checked.
    let module = common::plain_i64_module(
        "kernel",
        2,
        vec![
            op(Op::LocalGet(0)),
            op(Op::LocalGet(1)),
            op(Op::Mul(IrType::I64)),
            op(Op::ConstI64(1)),
            op(Op::Add(IrType::I64)),
            op(Op::Return),
        ],
    );
    let jit = LlvmAotEvaluator::from_ir_direct(&module, SandboxConfig::default()).unwrap();
    assert_eq!(jit.call_i64(&[6, 7]).unwrap(), 43);
    assert_eq!(jit.call_i64(&[-3, 5]).unwrap(), -14);
    assert!(matches!(
        jit.call_i64(&[i64::MAX, 2]),
        Err(RuntimeError::NumericOverflow(_))
    ));
    assert_eq!(
        jit.run_main(args(&[("arg0", Value::Int(2)), ("arg1", Value::Int(3))]))
            .unwrap(),
        Value::Int(7)
    );
}

#[test]
fn a_panicking_host_function_is_a_typed_error_in_the_jit() {
    let mut host = HostFnRegistry::new();
    host.register(
        "explode",
        &[ScalarType::Int],
        ScalarType::Int,
        None,
        Arc::new(Closure(|a: &[Value]| match a {
            [Value::Int(i)] if *i >= 0 => Ok(Value::Int(i * 2)),
            _ => panic!("explode called with a negative number"),
        })),
    );
    let jit = LlvmAotEvaluator::from_source(
        "#main(Int n) -> Int\nexplode(n) + 1",
        &host,
        SandboxConfig::default(),
    )
    .unwrap();
    assert_eq!(
        jit.run_main(args(&[("n", Value::Int(4))])).unwrap(),
        Value::Int(9)
    );
    match jit.run_main(args(&[("n", Value::Int(-1))])) {
        Err(RuntimeError::Unsupported { reason }) => assert!(
            reason.contains("explode") && reason.contains("panicked"),
            "{reason}"
        ),
        other => panic!("expected a typed error, got {other:?}"),
    }
}

/// Int `/` and `%` by a divisor that is not a constant divide through the
/// float divider while the dividend is below 2^53 in magnitude
/// (`codegen/arith.rs`). On both sides of that bound, for divisors small
/// and huge and of either sign, the answers are tree-walk's.
#[test]
fn division_by_a_variable_agrees_with_tree_walk_around_the_float_bound() {
    let source = "#main(Int a, Int b) -> List<Int>\n[a / b, a % b]";
    let jit = common::jit(source).unwrap();
    let bound: i64 = 1 << 53;
    let mut dividends = vec![0, 1, 7, 1 << 40, 3 * bound, i64::MAX, i64::MIN];
    for near in [bound - 2, bound - 1, bound, bound + 1, bound + 3] {
        dividends.extend([near, -near]);
    }
    let mut divisors = vec![
        1,
        -1,
        2,
        3,
        -7,
        94_906_265,
        (1 << 27) + 1,
        bound - 1,
        bound,
        bound + 1,
        i64::MAX,
        i64::MIN,
        0,
    ];
    // A few more of every size, from a fixed-seed generator.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..6 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        divisors.push((x >> (x % 60)) as i64 | 1);
    }
    for &a in &dividends {
        for &b in &divisors {
            let values = args(&[("a", Value::Int(a)), ("b", Value::Int(b))]);
            let reference = common::tree_walk_values(
                source,
                values.clone(),
                &common::test_host_natives(),
                &common::test_host_decls(),
            );
            assert_eq!(common::run_jit(&jit, values), reference, "{a} / {b}");
        }
    }
}
