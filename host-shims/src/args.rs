//! The executable's command line: the JSON arguments and the run limits.
//!
//! ```text
//! app [OPTIONS] [JSON | -]
//!   JSON             the #main arguments as one JSON object; `-` or no
//!                    argument reads it from standard input
//!   --fuel N         stop with StepLimitExceeded after N steps
//!   --max-depth N    stop with RecursionLimitExceeded past N nested calls
//!   --bench N        time N calls (after a warm-up) instead of printing the
//!                    result once; prints per-call statistics as JSON
//! ```

use relon_runtime_contract::ProgramDesc;

use crate::json::{self, ScalarValue};

/// Run limits for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Steps (function entries and loop iterations) allowed.
    pub fuel: u64,
    /// Nested calls allowed.
    pub max_depth: u64,
}

/// Default nesting limit: deep enough for 100,000-deep recursion with room
/// to spare, shallow enough for the entry thread's stack.
pub const DEFAULT_MAX_DEPTH: u64 = 1_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: u64::MAX,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// One run: arguments and limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// `#main` arguments in parameter order.
    pub arguments: Vec<ScalarValue>,
    /// The arguments as given (the row caliber of `--bench` parses them per call).
    pub arguments_json: String,
    /// Limits.
    pub limits: Limits,
    /// `--bench N`: time N calls.
    pub bench: Option<u64>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Run the program.
    Run(Invocation),
    /// Print this help text.
    Help(String),
}

/// Largest JSON input accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 16 << 20;

/// Parse the arguments after the program name.
pub fn parse(args: impl Iterator<Item = String>, program: &ProgramDesc) -> Result<Parsed, String> {
    let mut limits = Limits::default();
    let mut bench = None;
    let mut json_text: Option<String> = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help(help(program))),
            "--fuel" => limits.fuel = number(&mut args, "--fuel")?,
            "--max-depth" => limits.max_depth = number(&mut args, "--max-depth")?,
            "--bench" => bench = Some(number(&mut args, "--bench")?.max(1)),
            "-" if json_text.is_none() => json_text = Some(read_stdin()?),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option `{flag}` (see --help)"));
            }
            _ if json_text.is_none() => json_text = Some(arg),
            _ => {
                return Err(
                    "more than one JSON argument; pass the #main arguments as one JSON object"
                        .into(),
                );
            }
        }
    }
    let text = match json_text {
        Some(t) => t,
        None => read_stdin()?,
    };
    if text.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "the JSON input is {} bytes; the limit is {MAX_INPUT_BYTES}",
            text.len()
        ));
    }
    // Programs with other than scalar parameters read them by their schema (`values`).
    let arguments = if program.value_schemas.is_some() {
        Vec::new()
    } else {
        json::parse_arguments(&text, program)?
    };
    Ok(Parsed::Run(Invocation {
        arguments,
        arguments_json: text,
        limits,
        bench,
    }))
}

fn number(args: &mut impl Iterator<Item = String>, flag: &str) -> Result<u64, String> {
    let value = args
        .next()
        .ok_or_else(|| format!("{flag} needs a number"))?;
    value
        .parse()
        .map_err(|_| format!("{flag} needs a non-negative whole number, found `{value}`"))
}

fn read_stdin() -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("could not read the JSON arguments from standard input: {e}"))?;
    Ok(text)
}

fn help(program: &ProgramDesc) -> String {
    let params: Vec<String> = program
        .params
        .iter()
        .map(|p| format!("\"{}\": <{}>", p.name, p.ty.relon_name()))
        .collect();
    format!(
        "Runs the Relon program {} (co-compiled).\n\n\
         usage: {} [--fuel N] [--max-depth N] [--bench N] ['{{{}}}' | -]\n\n\
         The #main arguments are one JSON object (or `-`/nothing: read from standard input).\n\
         Prints the result as JSON. Exit codes: 0 ok, 1 runtime error, 2 bad input, 3 host fault.\n",
        program.source_name,
        std::env::args().next().unwrap_or_else(|| "app".into()),
        params.join(", ")
    )
}
