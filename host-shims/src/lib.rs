//! The runtime of every co-compiled Relon executable.
//!
//! A generated `main` names its program's description as a [`Program`]
//! and hands [`run`] that type and the entry functions. [`run`] reads the
//! `#main` arguments as a JSON object (first positional argument, or
//! standard input), lays them into the arena, calls the entry on a thread
//! with a large stack, and prints the result as JSON on standard output.
//!
//! Exit codes ([`ExitStatus`]): 0 success, 1 runtime error (the Relon
//! error kind leads the message on standard error), 2 bad input, 3 host
//! function fault (a panic). Nothing is printed on standard output unless
//! the program succeeded.
//!
//! It owns no code generation and never interprets Relon.

pub mod arena;
pub mod args;
pub mod bench;
pub mod case_map;
#[cfg(feature = "embed")]
pub mod embed;
pub mod json;
pub mod rt;
#[cfg(feature = "embed")]
pub mod run_stack;
#[cfg(feature = "values")]
pub mod trap_error;
#[cfg(feature = "values")]
pub mod values;

use std::io::Write;
use std::process::ExitCode;

pub use relon_runtime_contract as contract;
use relon_runtime_contract::{ENTRY_OK, EntryState, ProgramDesc, TrapCode};

/// A compiled program, as a type: the generated `main` implements it on a
/// unit struct and calls `run::<ThatStruct>`.
///
/// Code generic over it is compiled in the program's own crate, where the
/// description is a constant. The per-row work of `--bench` (argument
/// parse, result format) is such code: there the loop over the parameters
/// unrolls, each key check becomes a compare against constant bytes, and
/// the match on each type folds away. The helpers it reaches across the
/// crate boundary are `#[inline]` for that reason: the runner crate is
/// built without Rust's LTO.
pub trait Program {
    /// The program's description.
    const DESC: &'static ProgramDesc;
}

/// The compiled entry: `relon_entry(state) -> status`.
pub type EntryFn = unsafe extern "C" fn(*mut EntryState) -> u32;

/// Process exit codes of a co-compiled executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// The result was printed.
    Success = 0,
    /// The program stopped with a Relon runtime error.
    RuntimeError = 1,
    /// The arguments or flags were malformed.
    BadInput = 2,
    /// A host function panicked.
    HostFault = 3,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(s as u8)
    }
}

/// Stack of the thread the entry runs on; deep recursion is bounded by the
/// depth limit long before it is reached.
const ENTRY_STACK_BYTES: usize = 1 << 30;

/// Parse the command line, run the program `P`, print the outcome. `entry`
/// runs without a step budget; `metered_entry` counts steps and runs when
/// `--fuel` sets one.
///
/// Only `--bench` is compiled for `P` (in the program's crate); the rest
/// is [`run_described`], compiled once with this crate, so the runner
/// crate stays quick to build.
pub fn run<P: Program>(entry: EntryFn, metered_entry: EntryFn) -> ExitCode {
    run_described(P::DESC, entry, metered_entry, bench::bench::<P>)
}

/// `--bench N` compiled for one program: see [`bench::bench`].
pub type BenchFn = fn(EntryFn, &args::Invocation, u64) -> Result<String, bench::BenchFailure>;

/// [`run`] with the program as a value and its `--bench` as a function.
pub fn run_described(
    program: &'static ProgramDesc,
    entry: EntryFn,
    metered_entry: EntryFn,
    bench: BenchFn,
) -> ExitCode {
    // A host function is an `extern "C"` Rust function: a panic in it
    // cannot unwind (Rust aborts at that boundary). Report it and exit with
    // the host-fault code before anything else happens; nothing has been
    // printed on stdout yet, so no half-written result can appear.
    std::panic::set_hook(Box::new(|info| {
        let message = payload_message(info.payload());
        let place = info
            .location()
            .map_or_else(String::new, |l| format!(" ({}:{})", l.file(), l.line()));
        let _ = writeln!(
            std::io::stderr().lock(),
            "error: HostFault: a host function panicked: {message}{place}"
        );
        std::process::exit(ExitStatus::HostFault as i32);
    }));
    let invocation = match args::parse(std::env::args().skip(1), program) {
        Ok(args::Parsed::Run(inv)) => inv,
        Ok(args::Parsed::Help(text)) => {
            print!("{text}");
            return ExitStatus::Success.into();
        }
        Err(message) => return fail(ExitStatus::BadInput, &format!("error: {message}")),
    };
    let entry = if invocation.limits.fuel == u64::MAX {
        entry
    } else {
        metered_entry
    };
    if let Some(schemas) = program.value_schemas {
        return run_values(program, schemas, entry, invocation);
    }
    if let Some(calls) = invocation.bench {
        return match on_entry_thread(move || bench(entry, &invocation, calls)) {
            Ok(Ok(report)) => print_line(&report),
            Ok(Err(bench::BenchFailure::Trap {
                code,
                site,
                host_failure,
            })) => report_trap(program, code, site, host_failure.as_deref()),
            Ok(Err(bench::BenchFailure::RowDisagrees { row, call })) => fail(
                ExitStatus::HostFault,
                &format!(
                    "error: internal: the row caliber ended with `{row}` where the call gave `{call}`; please report this"
                ),
            ),
            Err(message) => fail(
                ExitStatus::HostFault,
                &format!("error: HostFault: the run thread failed: {message}"),
            ),
        };
    }
    let mut arena = arena::Arena::new(program.const_data, program.in_len, program.out_len);
    arena.write_arguments(program.params, &invocation.arguments);
    call_and_print(program, arena, entry, invocation.limits, |arena| {
        Ok(json::format_value(
            arena.read_output(program.result.offset, program.result.ty),
        ))
    })
}

/// Run `work` on a thread with the entry's large stack; the panic message if it panicked.
fn on_entry_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    std::thread::Builder::new()
        .name("relon-main".into())
        .stack_size(ENTRY_STACK_BYTES)
        .spawn(work)
        .map_err(|e| e.to_string())
        .and_then(|handle| handle.join().map_err(|panic| panic_message(&panic)))
}

/// Call the entry over the loaded `arena` on the entry thread, then print
/// the result `render` reads from the arena, or report the trap.
fn call_and_print(
    program: &ProgramDesc,
    mut arena: arena::Arena,
    entry: EntryFn,
    limits: args::Limits,
    render: impl FnOnce(&arena::Arena) -> Result<String, ExitCode>,
) -> ExitCode {
    match on_entry_thread(move || {
        let status = arena.call(entry, limits);
        (arena, status)
    }) {
        Ok((arena, status)) if status == ENTRY_OK => match render(&arena) {
            Ok(text) => print_line(&text),
            Err(code) => code,
        },
        Ok((arena, _)) => {
            let (code, site) = arena.trap();
            report_trap(program, code, site, arena.host_failure())
        }
        Err(message) => fail(
            ExitStatus::HostFault,
            &format!("error: HostFault: the run thread failed: {message}"),
        ),
    }
}

/// Print `text` and a newline on standard output.
fn print_line(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
        return ExitStatus::BadInput.into();
    }
    ExitStatus::Success.into()
}

/// [`run`] for a program whose `#main` takes or returns strings, lists,
/// records or variants: arguments and result go through `values`.
#[cfg(feature = "values")]
fn run_values(
    program: &'static ProgramDesc,
    schemas: relon_runtime_contract::ValueSchemas,
    entry: EntryFn,
    invocation: args::Invocation,
) -> ExitCode {
    let signature = match values::ValueSignature::from_json(schemas.main, schemas.ret) {
        Ok(s) => s,
        Err(message) => {
            return fail(
                ExitStatus::BadInput,
                &format!("error: the program's schemas are damaged: {message}"),
            );
        }
    };
    if invocation.bench.is_some() {
        return fail(
            ExitStatus::BadInput,
            "error: --bench takes programs whose #main parameters and result are Int, Float or Bool",
        );
    }
    let args = match signature.arguments_from_json(&invocation.arguments_json) {
        Ok(args) => args,
        Err(message) => return fail(ExitStatus::BadInput, &format!("error: {message}")),
    };
    let mut arena = arena::Arena::new(program.const_data, 0, 0);
    if let Err(e) = signature.load_arguments(&mut arena, args) {
        return fail(ExitStatus::BadInput, &format!("error: {e}"));
    }
    call_and_print(
        program,
        arena,
        entry,
        invocation.limits,
        |arena| match signature.read_result(arena) {
            Ok(value) => Ok(values::format_value(&value)),
            Err(e) => Err(fail(
                ExitStatus::RuntimeError,
                &format!("error: {}: the result does not decode: {e}", error_kind(&e)),
            )),
        },
    )
}

#[cfg(feature = "values")]
fn error_kind(e: &relon_eval_api::RuntimeError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("RuntimeError")
        .to_string()
}

#[cfg(not(feature = "values"))]
fn run_values(
    _: &'static ProgramDesc,
    _: relon_runtime_contract::ValueSchemas,
    _: EntryFn,
    _: args::Invocation,
) -> ExitCode {
    fail(
        ExitStatus::BadInput,
        "error: this executable was built without the `values` runtime its #main needs; rebuild it with relon-cocompile",
    )
}

/// Print a runtime error (`error: <Kind>: <message> at <file>:<line>:<col>`).
fn report_trap(
    program: &ProgramDesc,
    code: u32,
    site: u32,
    host_failure: Option<&str>,
) -> ExitCode {
    let (kind, message) = match (TrapCode::from_u32(code), host_failure) {
        (Some(TrapCode::HostError), Some(failure)) => (
            TrapCode::HostError.error_kind(),
            format!("a host function failed: {failure}"),
        ),
        (Some(trap), _) => (trap.error_kind(), trap.message().to_string()),
        (None, _) => ("Unsupported", format!("unknown trap code {code}")),
    };
    let place = match program.trap_sites.get(site as usize) {
        Some(s) if s.line > 0 => format!(" at {}:{}:{}", program.source_name, s.line, s.column),
        _ => String::new(),
    };
    fail(
        ExitStatus::RuntimeError,
        &format!("error: {kind}: {message}{place}"),
    )
}

fn fail(status: ExitStatus, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "{message}");
    status.into()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    payload_message(panic.as_ref())
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
