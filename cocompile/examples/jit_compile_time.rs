//! How long `LlvmAotEvaluator::from_source` takes for a W1-sized program
//! (`list.sum(range(n))`): parse, analyze, lower, emit, O3, JIT.
//!
//! `cargo run --release -p relon-cocompile --example jit_compile_time`

use std::time::Instant;

use relon_cocompile::jit::{HostFnRegistry, LlvmAotEvaluator, SandboxConfig};

const W1: &str = "#import list from \"std/list\"\n#main(Int n) -> Int\nlist.sum(range(n))\n";

fn main() {
    let host = HostFnRegistry::new();
    let mut times = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        let evaluator = LlvmAotEvaluator::from_source(W1, &host, SandboxConfig::default())
            .expect("W1 compiles");
        times.push(start.elapsed());
        drop(evaluator);
    }
    times.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "from_source(W1), 30 runs: median {:.2} ms, min {:.2} ms, max {:.2} ms",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}
