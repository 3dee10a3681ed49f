//! Every trap code emitted code can raise (`TrapCode::ALL`), in the JIT and
//! in the static binary, reported as the `RuntimeError` kind tree-walk
//! gives for the same input. One table: a code with no case here, and no
//! named test elsewhere, fails the test.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::Answer;
use common::op;
use relon_cocompile::jit::{LlvmAotEvaluator, SandboxConfig};
use relon_ir::ir::{IrType, Op, TaggedOp, TrapKind};
use relon_ir::lowering::LoweredEntry;
use relon_runtime_contract::TrapCode;
use serde_json::{Map, Value as Json};

/// How a case makes its trap happen.
enum Trigger {
    /// A program and its arguments; tree-walk reports the same kind.
    Source(&'static str, &'static str),
    /// A program run under a limit (the JIT's `SandboxConfig`, the
    /// binary's `--fuel`/`--max-depth`): steps and depth are ours to
    /// bound, so only the kind is compared, with `TrapCode::error_kind`.
    Limited {
        source: &'static str,
        args: &'static str,
        fuel: Option<u64>,
        max_depth: Option<u64>,
    },
    /// A program that outgrows the scratch arena (tree-walk has no such
    /// arena; it reports `ValueTooLarge` when a value outgrows its own
    /// limit, the kind used here).
    Resource(&'static str, &'static str),
    /// No Relon source reaches this code (the bundled stdlib bodies and
    /// the arena checks do); hand-built IR over `n` raises it.
    Ir(i64),
}

const CASES: &[(TrapCode, Trigger)] = &[
    (
        TrapCode::NumericOverflow,
        Trigger::Source(
            "#main(Int n) -> Int\nn + 9223372036854775807",
            r#"{"n": 1}"#,
        ),
    ),
    (
        TrapCode::DivisionByZero,
        Trigger::Source("#main(Int n) -> Int\n100 % n", r#"{"n": 0}"#),
    ),
    (
        TrapCode::EmptyList,
        Trigger::Source("#main(List<Int> xs) -> Int\nxs.min()", r#"{"xs": []}"#),
    ),
    (
        TrapCode::NoMatch,
        Trigger::Source(
            "#main(Int n) -> Int\nn match { String: 1, Bool: 2 }",
            r#"{"n": 4}"#,
        ),
    ),
    (
        TrapCode::IndexPastEnd,
        Trigger::Source(INDEX_SOURCE, r#"{"xs": [5, 6, 7], "i": 3}"#),
    ),
    (
        TrapCode::NegativeIndex,
        Trigger::Source(INDEX_SOURCE, r#"{"xs": [5, 6, 7], "i": -1}"#),
    ),
    (
        TrapCode::StepLimitExceeded,
        Trigger::Limited {
            source: "#main(Int n) -> Int\nrange(n).reduce(0, (Int a, Int i) -> Int => a + i)",
            args: r#"{"n": 1000000}"#,
            fuel: Some(1000),
            max_depth: None,
        },
    ),
    (
        TrapCode::RecursionLimitExceeded,
        Trigger::Limited {
            source: "#main(Int n) -> Int\ndown(n) where { down: (Int k) -> Int => k <= 0 ? 0 : 1 + down(k - 1) }",
            args: r#"{"n": 1000}"#,
            fuel: None,
            max_depth: Some(100),
        },
    ),
    (
        TrapCode::ScratchExhausted,
        Trigger::Resource(
            "#main(Int n) -> Int\nrange(n).map((Int i) -> Int => i * 2).filter((Int x) -> Bool => x > 1).max()",
            r#"{"n": 10000000}"#,
        ),
    ),
    (TrapCode::InvalidUtf8, Trigger::Ir(0)),
    (TrapCode::IndexOutOfBounds, Trigger::Ir(1)),
];

/// Codes whose trigger needs a host function; each has its own tests.
const TESTED_ELSEWHERE: &[(TrapCode, &str)] = &[
    (
        TrapCode::HostError,
        "cli.rs a_fallible_host_function_reports_its_failure_as_a_typed_error (binary), \
         jit.rs a_host_error_reaches_the_caller_unchanged (JIT, against tree-walk)",
    ),
    (
        TrapCode::CapabilityDenied,
        "jit.rs a_capability_not_granted_is_the_error_tree_walk_gives (JIT, against tree-walk); \
         closed world refuses the build instead: cli.rs a_gated_host_function_needs_an_explicit_grant",
    ),
];

const INDEX_SOURCE: &str =
    "#relaxed\n#main(List<Int> xs, Int i) -> Int\nat(xs, i) where { at: (l, k) => l[k] }";

#[test]
fn every_trap_code_has_a_case() {
    for code in TrapCode::ALL {
        let cases = CASES.iter().filter(|(c, _)| *c == code).count();
        let elsewhere = TESTED_ELSEWHERE.iter().any(|(c, _)| *c == code);
        assert!(
            cases > 0 || elsewhere,
            "{code:?} has no case in traps.rs and no test named for it"
        );
    }
}

#[test]
fn every_trap_is_tree_walks_error_kind_in_the_jit_and_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (code, trigger)) in CASES.iter().enumerate() {
        let expected = Answer::Error(code.error_kind().to_string());
        let binary = dir.path().join(format!("case{i}"));
        let (jit, built) = match trigger {
            Trigger::Source(source, args) | Trigger::Resource(source, args) => {
                let args = json_args(args);
                if matches!(trigger, Trigger::Source(..)) {
                    assert_eq!(
                        common::tree_walk(source, &args),
                        expected,
                        "{code:?}: tree-walk"
                    );
                }
                let jit = common::jit(source).unwrap_or_else(|e| panic!("{code:?}: {e}"));
                let jit_answer = common::run_jit(&jit, values(source, &args));
                build(source, &binary, dir.path(), i);
                (jit_answer, common::run_binary(&binary, &args))
            }
            Trigger::Limited {
                source,
                args,
                fuel,
                max_depth,
            } => {
                let config = SandboxConfig {
                    fuel: *fuel,
                    max_depth: max_depth.unwrap_or(SandboxConfig::default().max_depth),
                    ..Default::default()
                };
                let jit =
                    LlvmAotEvaluator::from_source(source, &common::test_host_registry(), config)
                        .unwrap_or_else(|e| panic!("{code:?}: {e}"));
                let json = json_args(args);
                let jit_answer = common::run_jit(&jit, values(source, &json));
                build(source, &binary, dir.path(), i);
                let mut flags = Vec::new();
                if let Some(fuel) = fuel {
                    flags.extend(["--fuel".to_string(), fuel.to_string()]);
                }
                if let Some(depth) = max_depth {
                    flags.extend(["--max-depth".to_string(), depth.to_string()]);
                }
                (jit_answer, common::run_binary_with(&binary, &flags, &json))
            }
            Trigger::Ir(n) => {
                let jit = LlvmAotEvaluator::from_ir_direct(
                    &common::plain_i64_module("traps", 1, ir_body(Op::LocalGet(0), &[])),
                    Default::default(),
                )
                .unwrap_or_else(|e| panic!("{code:?}: {e}"));
                let jit_answer = match jit.call_i64(&[*n]) {
                    Ok(v) => Answer::Int(v),
                    Err(e) => Answer::Error(common::error_kind(&e)),
                };
                let program =
                    relon_cocompile::frontend::LoweredProgram::from_lowered("traps.ir", ir_entry())
                        .unwrap();
                let request = common::ir_request("traps.ir", &binary);
                relon_cocompile::pipeline::cocompile_lowered(&request, "traps.ir", None, &program)
                    .unwrap_or_else(|e| panic!("{code:?}: {e}"));
                let mut args = Map::new();
                args.insert("n".into(), Json::from(*n));
                (jit_answer, common::run_binary(&binary, &args))
            }
        };
        assert_eq!(jit, expected, "{code:?}: JIT");
        assert_eq!(built, expected, "{code:?}: static binary");
    }
}

fn json_args(text: &str) -> Map<String, Json> {
    match serde_json::from_str(text) {
        Ok(Json::Object(map)) => map,
        other => panic!("bad case arguments {text}: {other:?}"),
    }
}

fn values(source: &str, args: &Map<String, Json>) -> HashMap<String, relon_eval_api::Value> {
    let decls = common::test_host_decls();
    common::arguments(common::main_schema(source, &decls).as_ref(), args)
}

fn build(source: &str, binary: &Path, dir: &Path, case: usize) {
    let path = dir.join(format!("case{case}.relon"));
    std::fs::write(&path, source).unwrap();
    common::cocompile(&path, binary).unwrap_or_else(|e| panic!("case {case}: {e}"));
}

/// `n == 0`: `Trap { InvalidUtf8 }`; otherwise an 8-byte read at arena
/// offset 0x7fff_fff0, far past any arena: `IndexOutOfBounds`.
fn ir_body(read_n: Op, finish: &[Op]) -> Vec<TaggedOp> {
    let mut body = vec![
        op(read_n),
        op(Op::ConstI64(0)),
        op(Op::Eq(IrType::I64)),
        op(Op::If {
            result_ty: IrType::I64,
            then_body: vec![
                op(Op::Trap {
                    kind: TrapKind::InvalidUtf8,
                }),
                op(Op::ConstI64(0)),
            ],
            else_body: vec![
                op(Op::ConstI32(0x7fff_fff0)),
                op(Op::LoadI64AtAbsolute { offset: 0 }),
            ],
        }),
    ];
    body.extend(finish.iter().cloned().map(op));
    body
}

/// [`ir_body`] as `#main(Int n) -> Int`, for the static binary.
fn ir_entry() -> LoweredEntry {
    common::int_entry(ir_body(
        Op::LoadField {
            offset: 0,
            ty: IrType::I64,
        },
        &[
            Op::StoreField {
                offset: 0,
                ty: IrType::I64,
                inplace: false,
            },
            Op::Return,
        ],
    ))
}
