//! Print the Relon IR the front end produces for a `.relon` file, with the
//! `#main` and return schemas: `cargo run -p relon-cocompile --example dump_ir -- FILE`.

use std::process::ExitCode;

fn main() -> ExitCode {
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
                for op in &f.body {
                    println!("    {:?}", op.op);
                }
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
