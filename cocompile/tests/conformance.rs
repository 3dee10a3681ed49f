//! `cargo xtask conformance`: every program of a corpus folder through the
//! tree-walk reference, the JIT, the static binary and the wasm32 module
//! (wasmtime); prints the table
//! (program x back end: match / mismatch / refused) and the totals.
//!
//! Arguments (after `--`): `--corpus DIR` (default: the repository's
//! `tests/corpus`), `--json FILE` (one line per run with every back end's
//! answer), `--ops` (the op-coverage report: for each of the 92 IR ops,
//! how many programs that pass in every back end run it; fails when one
//! the lowering can produce has fewer than three). Exits non-zero on any mismatch, and, for the
//! repository's own corpus, on any refusal by the JIT or the binary (wasm32
//! may refuse a program, with its reason, until it has host functions and
//! the runtime helpers). Runs as part of `cargo test`
//! with the defaults.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

/// Passing programs each op must be run by for `--ops` to pass.
const MIN_PROGRAMS_PER_OP: usize = 3;

/// Ops no source program reaches: the pinned lowering never builds them
/// (no `Op::` construction of them outside its tests) and our raise pass
/// does not produce them; `--ops` does not ask corpus programs for them.
/// `tests/ops.rs` runs them from hand-built IR.
const NEVER_LOWERED: [&str; 2] = ["AllocScratch", "BrTable"];

fn main() -> ExitCode {
    let mut corpus: Option<PathBuf> = None;
    let mut json: Option<PathBuf> = None;
    let mut ops = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--corpus" => corpus = args.next().map(PathBuf::from),
            "--json" => json = args.next().map(PathBuf::from),
            "--ops" => ops = true,
            // libtest's flags (`cargo test -- --nocapture`, ...) mean nothing here.
            _ => {}
        }
    }
    let own_corpus = corpus.is_none();
    let dir = corpus.unwrap_or_else(common::corpus_dir);
    if !dir.is_dir() {
        eprintln!("conformance: {} is not a directory", dir.display());
        return ExitCode::FAILURE;
    }
    let report = common::conformance(&dir, json.as_deref());
    print!("{}", report.table());
    for mismatch in &report.mismatches {
        println!("mismatch: {mismatch}");
    }
    let refused = report.count(common::Verdict::Refused);
    let mut failed = report.mismatches.len() + if own_corpus { refused } else { 0 };
    if ops {
        let coverage = common::OpCoverage::of(&dir, &report);
        print!("{}", coverage.table());
        let short: Vec<_> = coverage
            .short_of(MIN_PROGRAMS_PER_OP)
            .into_iter()
            .filter(|op| !NEVER_LOWERED.contains(op))
            .collect();
        let all_short = coverage.short_of(MIN_PROGRAMS_PER_OP);
        println!(
            "op coverage: {} of {} ops run by at least {MIN_PROGRAMS_PER_OP} passing programs; fewer: {all_short:?}",
            coverage.programs.len() - all_short.len(),
            coverage.programs.len()
        );
        println!(
            "not produced by relon-ir 0.1.0-rc3's lowering from any source, so run from hand-built IR in \
             cocompile/tests/ops.rs (JIT and binary) instead: {NEVER_LOWERED:?}"
        );
        failed += short.len();
    }
    let wasm_refused = report.count_for(common::WASM32, common::Verdict::Refused);
    let native_refused = refused - wasm_refused;
    if own_corpus {
        // wasm32 may refuse (its reasons are in the table); the others may not.
        failed -= wasm_refused;
    }
    println!(
        "conformance: {} program x back end cells match, {} mismatching runs, {native_refused} refused by jit/binary, {wasm_refused} by wasm32; {failed} failed",
        report.count(common::Verdict::Match),
        report.mismatches.len()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
