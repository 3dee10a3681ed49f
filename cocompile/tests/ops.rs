//! Coverage of the scalar slice: every op the code generator must handle
//! is exercised by the corpus (which `corpus.rs` runs against tree-walk),
//! and the ops no Relon source produces (`BrTable`, `AllocScratch`,
//! `ListGetByIntIdx` of `Bool`s), with `DictGetByStringKey` over computed
//! keys, run through the JIT and the static binary from hand-built IR.

mod common;

use std::collections::BTreeMap;

use common::op;
use relon_ir::ir::{IrType, Op, TaggedOp};
use relon_ir::lowering::LoweredEntry;
use relon_runtime_contract::TrapCode;

/// The ops of the scalar slice (issue: closed-world co-compile).
const SLICE: &[&str] = &[
    "ConstBool",
    "ConstI64",
    "ConstF64",
    "LocalGet",
    "LetGet",
    "LetSet",
    "LoadField",
    "StoreField",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Mod",
    "Eq",
    "Ne",
    "Lt",
    "Le",
    "Gt",
    "Ge",
    "Block",
    "Loop",
    "Br",
    "BrIf",
    "BrTable",
    "If",
    "Select",
    "Call",
    "CallNative",
    "Return",
    "Trap",
];

#[test]
fn every_op_of_the_slice_is_exercised_by_the_corpus() {
    let decls = common::test_host_decls();
    let mut counts = BTreeMap::new();
    for program in common::load_corpus(&common::corpus_dir()) {
        let lowered =
            relon_cocompile::frontend::lower_source(&program.name, &program.source, &decls)
                .unwrap_or_else(|e| panic!("{}: {e}", program.name));
        common::count_ops(&lowered.lowered.module, &mut counts);
    }
    println!("op counts over the corpus: {counts:?}");
    let missing: Vec<_> = SLICE
        .iter()
        .filter(|op| **op != "BrTable" && !counts.contains_key(**op))
        .collect();
    assert!(
        missing.is_empty(),
        "ops of the slice no corpus program exercises: {missing:?}"
    );
}

/// `#main(Int n) -> Int`, hand-built: a three-way `BrTable` on `n` picks
/// 100 (n = 0), 200 (n = 1) or 300 (anything else, the default), then adds
/// `Select(n, 7, n > 1)`.
fn br_table_program() -> LoweredEntry {
    let body = vec![
        op(Op::ConstI64(300)),
        op(Op::LetSet {
            idx: 0,
            ty: IrType::I64,
        }),
        op(Op::Block {
            result_ty: None,
            body: vec![
                op(Op::Block {
                    result_ty: None,
                    body: vec![
                        op(Op::Block {
                            result_ty: None,
                            body: vec![
                                op(Op::LoadField {
                                    offset: 0,
                                    ty: IrType::I32,
                                }),
                                op(Op::BrTable {
                                    default: 2,
                                    targets: vec![0, 1],
                                }),
                            ],
                        }),
                        op(Op::ConstI64(100)),
                        op(Op::LetSet {
                            idx: 0,
                            ty: IrType::I64,
                        }),
                        op(Op::Br { label_depth: 1 }),
                    ],
                }),
                op(Op::ConstI64(200)),
                op(Op::LetSet {
                    idx: 0,
                    ty: IrType::I64,
                }),
            ],
        }),
        op(Op::LetGet {
            idx: 0,
            ty: IrType::I64,
        }),
        op(Op::LoadField {
            offset: 0,
            ty: IrType::I64,
        }),
        op(Op::ConstI64(7)),
        op(Op::LoadField {
            offset: 0,
            ty: IrType::I64,
        }),
        op(Op::ConstI64(1)),
        op(Op::Gt(IrType::I64)),
        op(Op::Select { ty: IrType::I64 }),
        op(Op::Add(IrType::I64)),
        op(Op::StoreField {
            offset: 0,
            ty: IrType::I64,
            inplace: false,
        }),
        op(Op::Return),
    ];
    common::int_entry(body)
}

#[test]
fn br_table_and_select_run_through_the_static_binary() {
    let program =
        relon_cocompile::frontend::LoweredProgram::from_lowered("br_table.ir", br_table_program())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("br_table");
    let request = common::ir_request("br_table.ir", &output);
    relon_cocompile::pipeline::cocompile_lowered(&request, "br_table.ir", None, &program).unwrap();
    // n = -1 reads as index 0xFFFF_FFFF: out of range, so the default.
    for (n, expected) in [(0i64, 107i64), (1, 207), (2, 302), (5, 305), (-1, 307)] {
        let out = std::process::Command::new(&output)
            .arg(format!("{{\"n\": {n}}}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "n = {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            expected.to_string(),
            "n = {n}"
        );
    }
}

/// IR the code generator cannot emit (a list of closures indexed as
/// such) is refused with the function and line, and the failed build
/// leaves no file.
#[test]
fn ir_the_code_generator_cannot_emit_is_refused_with_its_line() {
    let mut lowered = br_table_program();
    let position = relon_parser::TokenPosition {
        line: 3,
        column: 5,
        offset: 0,
    };
    let at = |op| TaggedOp {
        op,
        range: relon_parser::TokenRange {
            start: position,
            end: position,
        },
    };
    let body = &mut lowered.module.funcs[0].body;
    body.insert(
        0,
        at(Op::ListGetByIntIdx {
            element_ty: IrType::Closure,
        }),
    );
    body.insert(0, at(Op::ConstI64(0)));
    body.insert(
        0,
        at(Op::ConstListInt {
            idx: 0,
            elements: vec![1],
        }),
    );
    let program =
        relon_cocompile::frontend::LoweredProgram::from_lowered("get.ir", lowered).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("get");
    let request = common::ir_request("get.ir", &output);
    let error = relon_cocompile::pipeline::cocompile_lowered(&request, "get.ir", None, &program)
        .map(|_| ())
        .expect_err("refused");
    let message = error.to_string();
    assert!(
        message.contains("ListGetByIntIdx of Closure elements") && message.contains("line 3"),
        "{message}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a refused build left a file"
    );
}

/// `n -> (flags[n] ? 1 : 2) + prices[key(n)] + 5` over constant data (the
/// 5 through a fixed-size scratch word), with
/// `flags = [true, false, true]`, `prices = {"a": 10, "bc": 20}` and
/// `key(n)` = `"a"`, `"bc"`, else `"zz"`: ops no Relon source lowers to
/// (`AllocScratch`, `ListGetByIntIdx` of `Bool`s, `DictGetByStringKey`).
/// `n` is read by `read_n`; `finish` ends the body.
fn keyed_reads_body(read_n: Op, finish: &[Op]) -> Vec<TaggedOp> {
    let key = |text: &str, idx| {
        vec![op(Op::ConstString {
            idx,
            value: text.into(),
        })]
    };
    let mut body = vec![
        // A scratch word holding 5, read back at the end.
        op(Op::AllocScratch { size_bytes: 16 }),
        op(Op::LetSet {
            idx: 9,
            ty: IrType::I32,
        }),
        op(Op::LetGet {
            idx: 9,
            ty: IrType::I32,
        }),
        op(Op::ConstI64(5)),
        op(Op::StoreI64AtAbsolute { offset: 8 }),
        op(Op::ConstListBool {
            idx: 0,
            elements: vec![true, false, true],
        }),
        op(read_n.clone()),
        op(Op::ListGetByIntIdx {
            element_ty: IrType::Bool,
        }),
        op(Op::If {
            result_ty: IrType::I64,
            then_body: vec![op(Op::ConstI64(1))],
            else_body: vec![op(Op::ConstI64(2))],
        }),
        op(Op::ConstDict {
            idx: 0,
            entries: vec![("bc".into(), 20), ("a".into(), 10)],
        }),
        op(read_n.clone()),
        op(Op::ConstI64(0)),
        op(Op::Eq(IrType::I64)),
        op(Op::If {
            result_ty: IrType::String,
            then_body: key("a", 0),
            else_body: vec![
                op(read_n),
                op(Op::ConstI64(1)),
                op(Op::Eq(IrType::I64)),
                op(Op::If {
                    result_ty: IrType::String,
                    then_body: key("bc", 1),
                    else_body: key("zz", 2),
                }),
            ],
        }),
        op(Op::DictGetByStringKey {
            shape_hash: 0,
            value_ty: IrType::I64,
            entry_count_hint: Some(2),
            record_len_hint: None,
        }),
        op(Op::Add(IrType::I64)),
        op(Op::LetGet {
            idx: 9,
            ty: IrType::I32,
        }),
        op(Op::LoadI64AtAbsolute { offset: 8 }),
        op(Op::Add(IrType::I64)),
    ];
    body.extend(finish.iter().cloned().map(op));
    body
}

/// The answers of [`keyed_reads_body`]: a value or tree-walk's error kind.
const KEYED_READS: [(i64, Result<i64, &str>); 5] = [
    (0, Ok(16)),
    (1, Ok(27)),
    (2, Err("VariableNotFound")),
    (3, Err("VariableNotFound")),
    (-1, Err("TypeMismatch")),
];

#[test]
fn list_and_dict_reads_are_bounds_checked_in_the_jit() {
    let module = common::plain_i64_module("keyed", 1, keyed_reads_body(Op::LocalGet(0), &[]));
    let jit = relon_cocompile::jit::LlvmAotEvaluator::from_ir_direct(&module, Default::default())
        .unwrap();
    for (n, expected) in KEYED_READS {
        let got = jit.call_i64(&[n]).map_err(|e| common::error_kind(&e));
        assert_eq!(got, expected.map_err(String::from), "n = {n}");
    }
}

#[test]
fn list_and_dict_reads_are_bounds_checked_in_the_static_binary() {
    let mut lowered = br_table_program();
    let finish = [
        Op::StoreField {
            offset: 0,
            ty: IrType::I64,
            inplace: false,
        },
        Op::Return,
    ];
    lowered.module.funcs[0].body = keyed_reads_body(
        Op::LoadField {
            offset: 0,
            ty: IrType::I64,
        },
        &finish,
    );
    let program =
        relon_cocompile::frontend::LoweredProgram::from_lowered("keyed.ir", lowered).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("keyed");
    relon_cocompile::pipeline::cocompile_lowered(
        &common::ir_request("keyed.ir", &output),
        "keyed.ir",
        None,
        &program,
    )
    .unwrap();
    for (n, expected) in KEYED_READS {
        let out = std::process::Command::new(&output)
            .arg(format!("{{\"n\": {n}}}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match expected {
            Ok(value) => {
                assert!(out.status.success(), "n = {n}: {stderr}");
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout).trim(),
                    value.to_string(),
                    "n = {n}"
                );
            }
            Err(kind) => {
                assert_eq!(out.status.code(), Some(1), "n = {n}: {stderr}");
                assert!(
                    stderr.contains(&format!("error: {kind}:")),
                    "n = {n}: {stderr}"
                );
            }
        }
    }
}

/// `p = scratch; i = 0; loop { i >= n ? break; [i == stop ? break;]
/// p[i] = 7; i += 1 }; i`, with `n` the argument: a counted loop (see
/// `codegen::counted_loops`) when it has no `stop`.
fn sweep_body(stop: Option<i32>) -> Vec<TaggedOp> {
    let get = |idx| {
        op(Op::LetGet {
            idx,
            ty: IrType::I32,
        })
    };
    let set = |idx| {
        op(Op::LetSet {
            idx,
            ty: IrType::I32,
        })
    };
    let (p, n, i) = (0, 1, 2);
    let mut turn = vec![
        get(i),
        get(n),
        op(Op::Ge(IrType::I32)),
        op(Op::BrIf { label_depth: 1 }),
    ];
    if let Some(stop) = stop {
        turn.extend([
            get(i),
            op(Op::ConstI32(stop)),
            op(Op::Eq(IrType::I32)),
            op(Op::BrIf { label_depth: 1 }),
        ]);
    }
    turn.extend([
        get(p),
        get(i),
        op(Op::ConstI32(8)),
        op(Op::Mul(IrType::I32)),
        op(Op::Add(IrType::I32)),
        op(Op::ConstI64(7)),
        op(Op::StoreI64AtAbsolute { offset: 0 }),
        get(i),
        op(Op::ConstI32(1)),
        op(Op::Add(IrType::I32)),
        set(i),
        op(Op::Br { label_depth: 0 }),
    ]);
    vec![
        op(Op::AllocScratch { size_bytes: 8 }),
        set(p),
        op(Op::LocalGet(0)),
        set(n),
        op(Op::ConstI32(0)),
        set(i),
        op(Op::Block {
            result_ty: None,
            body: vec![op(Op::Loop {
                result_ty: None,
                body: turn,
            })],
        }),
        get(i),
        op(Op::Return),
    ]
}

#[test]
fn a_counted_loop_checks_its_whole_span_and_only_when_it_runs_to_the_end() {
    let run = |stop, n| {
        let module = common::plain_i64_module("sweep", 1, sweep_body(stop));
        let jit =
            relon_cocompile::jit::LlvmAotEvaluator::from_ir_direct(&module, Default::default())
                .unwrap();
        jit.call_i64(&[n]).map_err(|e| common::error_kind(&e))
    };
    // In the arena: every element written.
    assert_eq!(run(None, 100), Ok(100));
    assert_eq!(run(None, 0), Ok(0));
    // A span of 8 GiB leaves any arena: the check before the loop traps.
    let past = 1 << 30;
    let trapped = run(None, past);
    assert_eq!(
        trapped,
        Err(TrapCode::IndexOutOfBounds.error_kind().to_string())
    );
    // The same loop with a break at 5 never reaches the arena's end, so it
    // is not checked up front and returns.
    assert_eq!(run(Some(5), past), Ok(5));
}
