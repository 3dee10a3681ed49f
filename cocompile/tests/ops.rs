//! Coverage of the scalar slice: every op the code generator must handle
//! is exercised by the corpus (which `corpus.rs` runs against tree-walk),
//! and the one op no Relon source produces (`BrTable`) runs through the
//! static binary from hand-built IR.

mod common;

use std::collections::BTreeMap;

use relon_abi::schema_canonical::{Field, Schema, TypeRepr};
use relon_ir::ir::{Func, IrType, Module, Op, TaggedOp};
use relon_ir::lowering::LoweredEntry;

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

fn walk(
    body: &[TaggedOp],
    counts: &mut BTreeMap<String, usize>,
    module: &Module,
    seen: &mut Vec<String>,
) {
    for tagged in body {
        *counts
            .entry(relon_cocompile::codegen::op_name(&tagged.op))
            .or_default() += 1;
        match &tagged.op {
            Op::If {
                then_body,
                else_body,
                ..
            } => {
                walk(then_body, counts, module, seen);
                walk(else_body, counts, module, seen);
            }
            Op::Block { body, .. } | Op::Loop { body, .. } => walk(body, counts, module, seen),
            Op::Call { fn_index, .. } => {
                let stdlib = relon_ir::stdlib_function_count();
                let key = format!("call{fn_index}");
                if !seen.contains(&key) {
                    seen.push(key);
                    if *fn_index < stdlib {
                        walk(
                            relon_ir::builtin_stdlib()[*fn_index as usize].body(),
                            counts,
                            module,
                            seen,
                        );
                    } else if let Some(f) = module.funcs.get((*fn_index - stdlib) as usize) {
                        walk(&f.body, counts, module, seen);
                    }
                }
            }
            _ => {}
        }
    }
}

#[test]
fn every_op_of_the_slice_is_exercised_by_the_corpus() {
    let decls = common::test_host_decls();
    let mut counts = BTreeMap::new();
    for program in common::load_corpus(&common::corpus_dir()) {
        let lowered =
            relon_cocompile::frontend::lower_source(&program.name, &program.source, &decls)
                .unwrap_or_else(|e| panic!("{}: {e}", program.name));
        let module = &lowered.lowered.module;
        for func in &module.funcs {
            walk(&func.body, &mut counts, module, &mut Vec::new());
        }
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

fn op(op: Op) -> TaggedOp {
    TaggedOp {
        op,
        range: Default::default(),
    }
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
    let entry = Func {
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
    };
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
    LoweredEntry {
        module: Module {
            imports: Vec::new(),
            funcs: vec![entry],
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
fn ir_request(name: &str, output: &std::path::Path) -> relon_cocompile::pipeline::CocompileRequest {
    relon_cocompile::pipeline::CocompileRequest {
        source: name.into(),
        host: None,
        output: output.to_path_buf(),
        target_cpu: "x86-64".into(),
        emit: Default::default(),
        grants: Vec::new(),
        build_dir: common::build_dir(),
    }
}

#[test]
fn br_table_and_select_run_through_the_static_binary() {
    let program =
        relon_cocompile::frontend::LoweredProgram::from_lowered("br_table.ir", br_table_program())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("br_table");
    let request = ir_request("br_table.ir", &output);
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

/// No Relon source produces `ListGetByIntIdx` (the lowering indexes lists
/// through stdlib bodies); the code generator refuses it by name and line,
/// and the failed build leaves no file.
#[test]
fn an_op_the_code_generator_does_not_take_is_refused_with_its_name_and_line() {
    let mut lowered = br_table_program();
    let position = relon_parser::TokenPosition {
        line: 3,
        column: 5,
        offset: 0,
    };
    lowered.module.funcs[0].body.insert(
        0,
        TaggedOp {
            op: Op::ListGetByIntIdx {
                element_ty: IrType::I64,
            },
            range: relon_parser::TokenRange {
                start: position,
                end: position,
            },
        },
    );
    let program =
        relon_cocompile::frontend::LoweredProgram::from_lowered("get.ir", lowered).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("get");
    let request = ir_request("get.ir", &output);
    let error = relon_cocompile::pipeline::cocompile_lowered(&request, "get.ir", None, &program)
        .map(|_| ())
        .expect_err("refused");
    let message = format!("{:?}", miette::Report::new(error));
    assert!(
        message.contains("unsupported op `ListGetByIntIdx`") && message.contains("line 3"),
        "{message}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a refused build left a file"
    );
}
