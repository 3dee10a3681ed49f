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

use relon_runtime_contract::{ENTRY_OK, ProgramDesc};

use crate::EntryFn;
use crate::arena::Arena;
use crate::args::Invocation;
use crate::json;

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

/// Run both calibers; returns the JSON report, or the runtime error the
/// program stops with.
pub fn bench(
    program: &ProgramDesc,
    entry: EntryFn,
    invocation: &Invocation,
    calls: u64,
) -> Result<String, (u32, u32, Option<String>)> {
    let mut arena = Arena::new(program.const_data, program.in_len, program.out_len);
    arena.write_arguments(program.params, &invocation.arguments);
    if arena.call(entry, invocation.limits) != ENTRY_OK {
        let (code, site) = arena.trap();
        return Err((code, site, arena.host_failure().map(str::to_string)));
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
        if json::parse_arguments_into_arena(input, program, &mut arena).is_err() {
            return;
        }
        arena.call(entry, invocation.limits);
        json::format_value_into(
            &mut text,
            arena.read_output(program.result.offset, program.result.ty),
        );
        std::hint::black_box(&text);
    });
    Ok(format!(
        "{{\"calls\": {calls}, \"result\": {result}, \"kernel\": {}, \"row\": {}}}",
        kernel.json(),
        row.json()
    ))
}
