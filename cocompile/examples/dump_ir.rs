//! Print the Relon IR the front end produces for a `.relon` file, with the
//! `#main` and return schemas: `cargo run -p relon-cocompile --example dump_ir -- FILE`.

use std::process::ExitCode;

use relon_ir::ir::{Op, TaggedOp};

/// Print `body` one op per line, nested bodies indented under their op.
fn print_body(body: &[TaggedOp], depth: usize) {
    let pad = "    ".repeat(depth);
    for tagged in body {
        match &tagged.op {
            Op::Block { result_ty, body } => {
                println!("{pad}Block {result_ty:?}");
                print_body(body, depth + 1);
            }
            Op::Loop { result_ty, body } => {
                println!("{pad}Loop {result_ty:?}");
                print_body(body, depth + 1);
            }
            Op::If {
                result_ty,
                then_body,
                else_body,
            } => {
                println!("{pad}If {result_ty:?}");
                print_body(then_body, depth + 1);
                println!("{pad}Else");
                print_body(else_body, depth + 1);
            }
            other => println!("{pad}{other:?}"),
        }
    }
}

fn main() -> ExitCode {
    if let Some(name) = std::env::args()
        .nth(1)
        .and_then(|a| a.strip_prefix("std:").map(str::to_string))
    {
        return match relon_ir::builtin_stdlib().iter().find(|f| f.name == name) {
            Some(f) => {
                println!("stdlib {} {:?} -> {:?}", f.name, f.params, f.ret);
                print_body(f.body(), 1);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: no stdlib function `{name}`");
                ExitCode::FAILURE
            }
        };
    }
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump_ir FILE.relon");
        return ExitCode::from(2);
    };
    let source = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    match relon_cocompile::frontend::lower_source(&path, &source, &[]) {
        Ok(program) => {
            let lowered = &program.lowered;
            println!("main schema: {:#?}", lowered.main_schema);
            println!("return schema: {:#?}", lowered.return_schema);
            for (i, f) in lowered.module.funcs.iter().enumerate() {
                println!("fn{i} {} {:?} -> {:?}", f.name, f.params, f.ret);
                print_body(&f.body, 1);
            }
            println!("closure table: {:?}", lowered.module.closure_table);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            ExitCode::FAILURE
        }
    }
}
