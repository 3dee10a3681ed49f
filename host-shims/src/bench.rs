//! `--bench N`: per-call timings of the compiled program, in two calibers
//! reported separately and never one as the other:
//! - kernel: the entry call alone, on an arena prepared once;
//! - row: parse the JSON arguments, lay them into the arena, call the
//!   entry, format the result as JSON.
//!
//! Calls are timed in batches long enough for the clock's resolution to
//! vanish (at least ~20 µs a batch); the statistics are over batches,
//! divided by the batch size.

use std::time::{Duration, Instant};

use relon_runtime_contract::ENTRY_OK;

use crate::arena::Arena;
use crate::args::Invocation;
use crate::json;
use crate::{EntryFn, Program};

/// Per-call statistics in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Median.
    pub median_ns: f64,
    /// Fastest.
    pub min_ns: f64,
    /// Slowest.
    pub max_ns: f64,
}

impl Stats {
    fn json(&self) -> String {
        format!(
            "{{\"median_ns\": {:.3}, \"min_ns\": {:.3}, \"max_ns\": {:.3}}}",
            self.median_ns, self.min_ns, self.max_ns
        )
    }
}

/// Time `calls` calls of `f` (after a warm-up), in batches.
pub fn measure(calls: u64, mut f: impl FnMut()) -> Stats {
    let warm_up = (calls / 10).clamp(1, 1000);
    let start = Instant::now();
    for _ in 0..warm_up {
        f();
    }
    let per_call = start.elapsed() / warm_up as u32;
    let batch = (Duration::from_micros(20).as_nanos() / per_call.as_nanos().max(1))
        .clamp(1, 1 << 20) as u64;
    let batches = calls.div_ceil(batch).max(5);
    let mut samples: Vec<f64> = Vec::with_capacity(batches as usize);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..batch {
            f();
        }
        samples.push(start.elapsed().as_nanos() as f64 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    Stats {
        median_ns: samples[samples.len() / 2],
        min_ns: samples[0],
        max_ns: samples[samples.len() - 1],
    }
}

/// Why `--bench` gave no report.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchFailure {
    /// The program stopped with a runtime error: the trap code, its site,
    /// and the host function's message if one failed.
    Trap {
        code: u32,
        site: u32,
        host_failure: Option<String>,
    },
    /// The row caliber did not end with the result the call gave: it would
    /// have timed other work (its argument parse failed, or read another
    /// value). A fault of this runtime, reported rather than timed.
    RowDisagrees { row: String, call: String },
}

/// Run both calibers of the program `P`; returns the JSON report.
///
/// Generic over the program so that the row is compiled with `P::DESC` as
/// a constant, as a service built around the program would be (see
/// [`Program`]).
pub fn bench<P: Program>(
    entry: EntryFn,
    invocation: &Invocation,
    calls: u64,
) -> Result<String, BenchFailure> {
    let program = P::DESC;
    let mut arena = Arena::new(program.const_data, program.in_len, program.out_len);
    arena.write_arguments(program.params, &invocation.arguments);
    if arena.call(entry, invocation.limits) != ENTRY_OK {
        let (code, site) = arena.trap();
        return Err(BenchFailure::Trap {
            code,
            site,
            host_failure: arena.host_failure().map(str::to_string),
        });
    }
    let result = json::format_value(arena.read_output(program.result.offset, program.result.ty));
    let kernel = measure(calls, || {
        std::hint::black_box(arena.call(entry, invocation.limits));
    });
    // A service reuses its buffers from row to row; so does the row caliber.
    let mut text = String::new();
    let row = measure(calls, || {
        // Hide the text behind a thin reference: a `&str` through
        // `black_box` goes to the stack as one 16-byte store and comes
        // back as two 8-byte loads, which store forwarding cannot serve.
        let input: &String = std::hint::black_box(&invocation.arguments_json);
        if json::parse_arguments_into_arena(input, P::DESC, &mut arena).is_err() {
            text.clear();
            return;
        }
        arena.call(entry, invocation.limits);
        json::format_value_into(
            &mut text,
            arena.read_output(P::DESC.result.offset, P::DESC.result.ty),
        );
        std::hint::black_box(&text);
    });
    if text != result {
        return Err(BenchFailure::RowDisagrees {
            row: text,
            call: result,
        });
    }
    Ok(format!(
        "{{\"calls\": {calls}, \"result\": {result}, \"kernel\": {}, \"row\": {}}}",
        kernel.json(),
        row.json()
    ))
}
