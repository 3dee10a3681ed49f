//! Runs one Lua workload for the benchmark suite and prints its result and
//! per-call timings as JSON (`relon_host_shims::bench::measure`, the same
//! batching as every other system).
//!
//! usage: `relon-lua-bench WORKLOAD.lua N CALLS`. The script defines
//! `run(n)`; the result is printed as an integer when it is one.

use std::process::ExitCode;

use mlua::{Function, Lua, Value};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, script, n, calls] = args.as_slice() else {
        eprintln!("usage: relon-lua-bench WORKLOAD.lua N CALLS");
        return ExitCode::from(2);
    };
    let (Ok(n), Ok(calls)) = (n.parse::<i64>(), calls.parse::<u64>()) else {
        eprintln!("N and CALLS must be integers");
        return ExitCode::from(2);
    };
    match run(script, n, calls) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(script: &str, n: i64, calls: u64) -> mlua::Result<String> {
    let lua = Lua::new();
    let source = std::fs::read_to_string(script).map_err(mlua::Error::external)?;
    lua.load(&source).set_name(script).exec()?;
    let run: Function = lua.globals().get("run")?;
    let result = match run.call::<Value>(n)? {
        Value::Integer(i) => i.to_string(),
        Value::Number(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
        Value::Number(f) => format!("{f:?}"),
        // LuaJIT's 64-bit integers (`42LL`) come back as cdata: ask Lua for the digits.
        other => lua.load("return function(v) return (tostring(v):gsub('LL$', '')) end").eval::<Function>()?.call::<String>(other)?,
    };
    let stats = relon_host_shims::bench::measure(calls, || {
        let _ = std::hint::black_box(run.call::<Value>(n));
    });
    Ok(format!(
        "{{\"result\": \"{result}\", \"median_ns\": {:.3}, \"min_ns\": {:.3}, \"max_ns\": {:.3}}}",
        stats.median_ns, stats.min_ns, stats.max_ns
    ))
}
