//! `cargo xtask fuzz`: differential fuzzing. Generates random well-typed
//! Relon programs (Int/Float/Bool arithmetic near the overflow edges,
//! conditionals, where-bindings, recursive helpers, range reductions, host
//! calls, a list literal indexed in and past its bounds and mapped, strings
//! built, case-mapped in several locales and measured), runs each through
//! tree-walk and the JIT, and every K-th through the static binary; stops at
//! the first mismatch or refusal and writes the program and its arguments
//! as a corpus entry that reproduces it. IR the lowering got wrong and the
//! code generator refuses by contract (a let read on a path that does not
//! set it) is counted and reported, not a failure.
//!
//! Arguments (after `--`): `--programs N` (default 300), `--seed S`
//! (default 1), `--binary-every K` (default 100, 0 for never), `--out DIR`
//! (where a mismatch is written; default `target/fuzz-mismatch`).
//! Runs as part of `cargo test` with the defaults.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use common::Answer;

/// Edge-heavy Int literals, as source text (Relon has no unary minus).
const INT_LITERALS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "10",
    "13",
    "100",
    "1000",
    "65536",
    "2147483647",
    "2147483648",
    "4294967296",
    "9007199254740993",
    "3037000499",
    "9223372036854775807",
    "(0 - 1)",
    "(0 - 7)",
    "(0 - 9223372036854775807)",
    "(0 - 9223372036854775807 - 1)",
];
const FLOAT_LITERALS: &[&str] = &[
    "0.0",
    "1.0",
    "0.5",
    "1.5",
    "0.1",
    "3.25",
    "1e300",
    "1e-300",
    "(0.0 - 2.5)",
    "(0.0 - 0.0)",
];

struct Gen {
    rng: fastrand::Rng,
    lets: Vec<(String, char)>,
    helpers: Vec<String>,
    in_lambda: Vec<String>,
    /// No reductions or helper calls: the analyzer cannot type a
    /// where-binding built from them.
    plain: bool,
    /// Whether the program binds `ls`, a three-Int list literal.
    has_list: bool,
}

/// Strings the `s` argument takes: ASCII, accents, a Turkish dotted
/// capital, Greek sigmas, surrounding blanks, empty.
const STRINGS: &[&str] = &[
    "abc",
    "Hello World",
    "  padded  ",
    "",
    "ñandú",
    "İstanbul",
    "ΟΔΟΣ",
    "straße",
    "x",
];

impl Gen {
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.rng.usize(..items.len())]
    }

    /// An Int expression of depth at most `depth`.
    fn int(&mut self, depth: u32) -> String {
        let leaf = depth == 0 || self.rng.u8(..10) < 3;
        if leaf {
            let mut vars: Vec<String> = vec!["a".into(), "b".into()];
            vars.extend(
                self.lets
                    .iter()
                    .filter(|(_, t)| *t == 'i')
                    .map(|(n, _)| n.clone()),
            );
            vars.extend(self.in_lambda.iter().cloned());
            return match self.rng.u8(..3) {
                0 => self.pick(INT_LITERALS).to_string(),
                _ => vars[self.rng.usize(..vars.len())].clone(),
            };
        }
        let d = depth - 1;
        match self.rng.u8(..14) {
            0..=3 => {
                let op = self.pick(&["+", "-", "*", "/", "%"]);
                format!("({} {op} {})", self.int(d), self.int(d))
            }
            4 => format!("({} ? {} : {})", self.bool(d), self.int(d), self.int(d)),
            5 => {
                // min/max order their operands like `<` (through f64 in
                // tree-walk), so their operands stay small too.
                let f = self.pick(&["abs", "min", "max"]);
                if f == "abs" {
                    format!("abs({})", self.int(d))
                } else {
                    format!("{f}({}, {})", self.small_int(d), self.small_int(d))
                }
            }
            6 => format!("mix({}, {})", self.int(d), self.int(d)),
            7 if self.in_lambda.is_empty() && !self.plain => {
                // A bounded reduction: its body sees acc and i.
                let n = self.rng.u8(..25);
                let init = self.int(d.min(1));
                self.in_lambda = vec!["acc".into(), "i".into()];
                let body = self.int(d.min(2));
                self.in_lambda.clear();
                format!("range({n}).reduce({init}, (acc, i) => {body})")
            }
            8 if !self.helpers.is_empty() && !self.plain => {
                let h = self.helpers[self.rng.usize(..self.helpers.len())].clone();
                // Recursion depth stays small: tree-walk overflows its
                // native stack on deep recursion and takes the process down.
                format!("{h}(({} % 100))", self.int(d))
            }
            9 => format!("(is_prime({}) ? 1 : 0)", self.small_int(d)),
            10 if self.has_list && !self.plain => match self.rng.u8(..4) {
                // `k` runs past both ends: VariableNotFound / TypeMismatch.
                0 => "ls[k]".to_string(),
                1 => "ls.min()".to_string(),
                2 => "ls.max()".to_string(),
                _ if self.in_lambda.is_empty() => {
                    let init = self.int(d.min(1));
                    self.in_lambda = vec!["v".into()];
                    let body = self.int(d.min(2));
                    self.in_lambda.clear();
                    format!(
                        "ls.map((Int v) -> Int => {body}).reduce({init}, (Int acc, Int w) -> Int => acc + w)"
                    )
                }
                _ => "ls[k]".to_string(),
            },
            11 if !self.plain => format!("len({})", self.string(d.min(2))),
            _ => format!("({} + {})", self.int(d), self.pick(INT_LITERALS)),
        }
    }

    /// A String expression of depth at most `depth`.
    fn string(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.u8(..10) < 3 {
            return match self.rng.u8(..4) {
                0 => format!("{:?}", self.pick(&["ab", "Ünï", "", " x "])),
                _ => "s".to_string(),
            };
        }
        let d = depth - 1;
        match self.rng.u8(..7) {
            0 | 1 => format!("({} + {})", self.string(d), self.string(d)),
            2 => {
                let method = self.pick(&["upper", "lower", "trim"]);
                format!("{}.{method}()", self.string(d))
            }
            3 => format!("f\"${{{}}}\"", self.int(d.min(2))),
            4 => format!(
                "({} ? {} : {})",
                self.bool(d.min(2)),
                self.string(d),
                self.string(d)
            ),
            5 => format!(
                "{}.substring({}, {})",
                self.string(d),
                self.rng.u8(..4),
                self.rng.u8(..4)
            ),
            _ => format!(
                "{}.{}(\"{}\")",
                self.string(d),
                self.pick(&["upper_locale", "lower_locale"]),
                self.pick(&["tr", "en", "az-AZ"])
            ),
        }
    }

    /// An Int bounded to (-10^6, 10^6): safe to order-compare (tree-walk
    /// compares Ints through f64) and to recurse on.
    fn small_int(&mut self, depth: u32) -> String {
        format!("({} % 1000000)", self.int(depth))
    }

    fn float(&mut self, depth: u32) -> String {
        let leaf = depth == 0 || self.rng.u8(..10) < 3;
        if leaf {
            return match self.rng.u8(..3) {
                0 => self.pick(FLOAT_LITERALS).to_string(),
                1 => "y".to_string(),
                _ => "x".to_string(),
            };
        }
        let d = depth - 1;
        match self.rng.u8(..8) {
            0..=3 => {
                let op = self.pick(&["+", "-", "*", "/", "%"]);
                format!("({} {op} {})", self.float(d), self.float(d))
            }
            4 => format!("({} ? {} : {})", self.bool(d), self.float(d), self.float(d)),
            5 => format!("({} * {})", self.float(d), self.small_int(d)),
            6 => format!(
                "lerp({}, {}, {})",
                self.float(d),
                self.float(d),
                self.float(d)
            ),
            _ => format!("({} + {})", self.float(d), self.pick(FLOAT_LITERALS)),
        }
    }

    fn bool(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.u8(..10) < 2 {
            let mut vars: Vec<String> = vec!["c".into()];
            vars.extend(
                self.lets
                    .iter()
                    .filter(|(_, t)| *t == 'b')
                    .map(|(n, _)| n.clone()),
            );
            return match self.rng.u8(..4) {
                0 => "true".into(),
                1 => "false".into(),
                _ => vars[self.rng.usize(..vars.len())].clone(),
            };
        }
        let d = depth - 1;
        match self.rng.u8(..7) {
            0 => {
                let op = self.pick(&["<", "<=", ">", ">="]);
                format!("({} {op} {})", self.small_int(d), self.small_int(d))
            }
            1 => {
                let op = self.pick(&["==", "!="]);
                format!("({} {op} {})", self.int(d), self.int(d))
            }
            2 => {
                let op = self.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!("({} {op} {})", self.float(d), self.float(d))
            }
            3 => format!("({} && {})", self.bool(d), self.bool(d)),
            4 => format!("({} || {})", self.bool(d), self.bool(d)),
            5 => format!("({} == false)", self.bool(d)),
            _ => format!("({} == {})", self.bool(d), self.bool(d)),
        }
    }

    /// A whole program and its argument sets.
    fn program(&mut self) -> (String, Vec<serde_json::Map<String, serde_json::Value>>) {
        self.lets.clear();
        self.helpers.clear();
        let mut bindings = Vec::new();
        if self.rng.bool() {
            // A recursive helper that always terminates: it counts down a
            // bounded argument.
            self.in_lambda = vec!["k".into()];
            let step = self.int(2);
            self.in_lambda.clear();
            bindings.push(format!(
                "  h0: (Int k) -> Int => k <= 0 ? {} : mix(h0(k - 1), {step})",
                self.pick(&["0", "1", "k"])
            ));
            self.helpers.push("h0".into());
        }
        self.has_list = false;
        if self.rng.bool() {
            self.plain = true;
            let items = [
                self.int(1),
                self.pick(INT_LITERALS).to_string(),
                self.int(1),
            ];
            self.plain = false;
            bindings.push(format!("  ls: [{}]", items.join(", ")));
            self.has_list = true;
        }
        for i in 0..self.rng.usize(..3) {
            self.plain = true;
            let (ty, expr) = match self.rng.u8(..3) {
                0 => ('b', self.bool(2)),
                _ => ('i', self.int(3)),
            };
            self.plain = false;
            bindings.push(format!("  v{i}: {expr}"));
            self.lets.push((format!("v{i}"), ty));
        }
        let (ret, body) = match self.rng.u8(..5) {
            0 => ("Float", self.float(4)),
            1 => ("Bool", self.bool(4)),
            2 => ("String", self.string(4)),
            _ => ("Int", self.int(4)),
        };
        let mut source = format!(
            "#main(Int a, Int b, Float x, Float y, Bool c, String s, Int k) -> {ret}\n{body}"
        );
        if !bindings.is_empty() {
            let _ = write!(source, " where {{\n{}\n}}", bindings.join(",\n"));
        }
        source.push('\n');
        let runs = (0..3)
            .map(|_| {
                let int = |g: &mut Gen| -> serde_json::Value {
                    match g.rng.u8(..4) {
                        0 => serde_json::json!(g.rng.i64(..)),
                        1 => serde_json::json!(g.rng.i64(-20..20)),
                        2 => serde_json::json!(
                            [i64::MAX, i64::MIN, 0, -1, 1 << 32][g.rng.usize(..5)]
                        ),
                        _ => serde_json::json!(g.rng.i64(-100_000..100_000)),
                    }
                };
                let float = |g: &mut Gen| -> serde_json::Value {
                    match g.rng.u8(..5) {
                        0 => serde_json::json!("NaN"),
                        1 => serde_json::json!(["Infinity", "-Infinity"][g.rng.usize(..2)]),
                        2 => serde_json::json!(0.0),
                        _ => serde_json::json!((g.rng.f64() - 0.5) * 1000.0),
                    }
                };
                let mut args = serde_json::Map::new();
                args.insert("a".into(), int(self));
                args.insert("b".into(), int(self));
                args.insert("x".into(), float(self));
                args.insert("y".into(), float(self));
                args.insert("c".into(), serde_json::json!(self.rng.bool()));
                let text = STRINGS[self.rng.usize(..STRINGS.len())];
                args.insert("s".into(), serde_json::json!(text));
                args.insert("k".into(), serde_json::json!(self.rng.i64(-2..5)));
                args
            })
            .collect();
        (source, runs)
    }
}

/// What checking one program found.
enum Outcome {
    /// Every run agreed; (runs, runs also through the binary).
    Agreed(usize, usize),
    /// The analyzer rejected the generated program.
    Rejected,
    /// The code generator refused IR the lowering got wrong: a let read on
    /// a path that does not set it (`codegen/assigned.rs`), or a closure
    /// capturing a let nothing binds (seen: a lambda passed to `map` that
    /// uses a `#main` parameter, lowered as a capture of an unbound let).
    /// Counted, since refusing it is the contract, not a back-end gap.
    LoweringDefect,
    /// A back end disagreed or refused: the description, and the failing runs.
    Failed(String, Vec<serde_json::Map<String, serde_json::Value>>),
}

/// The first failing program: index, source, what differed, its runs.
type Failure = (
    usize,
    String,
    String,
    Vec<serde_json::Map<String, serde_json::Value>>,
);

/// Program `index` of the run seeded `seed` (independent of the thread
/// that checks it, so a seed names the same programs whatever the cores).
fn program(seed: u64, index: usize) -> (String, Vec<serde_json::Map<String, serde_json::Value>>) {
    let rng = fastrand::Rng::with_seed(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    Gen {
        rng,
        lets: Vec::new(),
        helpers: Vec::new(),
        in_lambda: Vec::new(),
        plain: false,
        has_list: false,
    }
    .program()
}

fn check(
    source: &str,
    arg_sets: &[serde_json::Map<String, serde_json::Value>],
    binary: Option<PathBuf>,
) -> Outcome {
    let jit = match common::jit_typed(source) {
        Ok(jit) => jit,
        Err(relon_cocompile::jit::JitError::Source(error)) => {
            if std::env::var_os("RELON_FUZZ_VERBOSE").is_some() {
                println!("rejected: {:?}", miette::Report::new(error));
            }
            // The analyzer's static typing is stricter than the generator's:
            // such a program is no test of a back end.
            return Outcome::Rejected;
        }
        // The generator only writes well-typed programs in the compiled
        // slice: a refusal is a failure too.
        Err(reason) => {
            let reason_text = format!("{reason:?}");
            if reason_text.contains("on a path that does not set it")
                || reason_text.contains("before it is bound")
            {
                return Outcome::LoweringDefect;
            }
            return Outcome::Failed(format!("JIT refused: {reason:?}"), arg_sets.to_vec());
        }
    };
    let binary = match binary {
        Some(path) => {
            let source_path = path.with_extension("relon");
            std::fs::write(&source_path, source).expect("write program");
            match common::cocompile(&source_path, &path) {
                Ok(_) => Some(path),
                Err(reason) => {
                    return Outcome::Failed(format!("binary refused: {reason}"), arg_sets.to_vec());
                }
            }
        }
        None => None,
    };
    let (mut runs, mut binary_runs) = (0, 0);
    let (natives, decls) = (common::test_host_natives(), common::test_host_decls());
    let schema = common::main_schema(source, &decls);
    for args in arg_sets {
        runs += 1;
        let values = common::arguments(schema.as_ref(), args);
        let reference = common::tree_walk_values(source, values.clone(), &natives, &decls);
        let agrees =
            |answer: &Answer| matches!(reference, Answer::ReferenceCrashed) || reference == *answer;
        let jitted = common::run_jit(&jit, values);
        if !agrees(&jitted) {
            return Outcome::Failed(
                format!("tree-walk {reference:?}, jit {jitted:?}"),
                vec![args.clone()],
            );
        }
        if let Some(path) = &binary {
            binary_runs += 1;
            let compiled = common::run_binary(path, args);
            if !agrees(&compiled) {
                return Outcome::Failed(
                    format!("tree-walk {reference:?}, binary {compiled:?}"),
                    vec![args.clone()],
                );
            }
        }
    }
    Outcome::Agreed(runs, binary_runs)
}

fn main() -> ExitCode {
    let mut programs = 300usize;
    let mut seed = 1u64;
    let mut binary_every = 100usize;
    let mut out = common::repo_root().join("target/fuzz-mismatch");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--programs" => programs = value().parse().unwrap_or(programs),
            "--seed" => seed = value().parse().unwrap_or(seed),
            "--binary-every" => binary_every = value().parse().unwrap_or(binary_every),
            "--out" => out = PathBuf::from(value()),
            _ => {}
        }
    }
    let start = Instant::now();
    let binaries = tempfile::tempdir().expect("temp dir");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let totals = Mutex::new((0usize, 0usize, 0usize, 0usize));
    let failure: Mutex<Option<Failure>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= programs {
                        break;
                    }
                    let (source, arg_sets) = program(seed, index);
                    let binary = (binary_every > 0 && index.is_multiple_of(binary_every))
                        .then(|| binaries.path().join(format!("p{index}")));
                    if index > 0 && index.is_multiple_of(5000) {
                        println!(
                            "fuzz: program {index} reached, no mismatch so far, {:.0} s",
                            start.elapsed().as_secs_f64()
                        );
                    }
                    match check(&source, &arg_sets, binary) {
                        Outcome::Agreed(runs, binary_runs) => {
                            let mut t = totals.lock().unwrap();
                            t.0 += runs;
                            t.1 += binary_runs;
                        }
                        Outcome::Rejected => totals.lock().unwrap().2 += 1,
                        Outcome::LoweringDefect => totals.lock().unwrap().3 += 1,
                        Outcome::Failed(what, runs) => {
                            stop.store(true, Ordering::Relaxed);
                            let mut f = failure.lock().unwrap();
                            // Keep the lowest failing index: deterministic whatever the timing.
                            if f.as_ref().is_none_or(|(i, ..)| index < *i) {
                                *f = Some((index, source, what, runs));
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some((index, source, what, runs)) = failure.into_inner().unwrap() {
        return report_failure(&out, index, &source, &runs, &what);
    }
    let (runs, binary_runs, front_end_rejected, lowering_defects) = totals.into_inner().unwrap();
    println!(
        "fuzz: seed {seed}, {programs} programs ({front_end_rejected} rejected by the analyzer, not run; {lowering_defects} refused for a lowering defect: a let read on a path that does not set it, or captured unbound), {runs} runs ({binary_runs} also through the static binary), no other refusal, 0 mismatches, {:.1} s on {workers} threads",
        start.elapsed().as_secs_f64()
    );
    if front_end_rejected * 4 > programs {
        println!(
            "fuzz: the analyzer rejected more than a quarter of the programs: the generator has drifted from the language"
        );
        println!("fuzz: {runs} passed, 1 failed");
        return ExitCode::FAILURE;
    }
    println!("fuzz: {runs} passed, 0 failed");
    ExitCode::SUCCESS
}

fn report_failure(
    out: &std::path::Path,
    index: usize,
    source: &str,
    args: &[serde_json::Map<String, serde_json::Value>],
    what: &str,
) -> ExitCode {
    let _ = std::fs::create_dir_all(out);
    let name = format!("fuzz_{index}");
    let _ = std::fs::write(out.join(format!("{name}.relon")), source);
    let runs: Vec<serde_json::Value> = args
        .iter()
        .map(|a| serde_json::Value::Object(a.clone()))
        .collect();
    let _ = std::fs::write(
        out.join(format!("{name}.args.json")),
        serde_json::Value::Array(runs).to_string(),
    );
    println!("fuzz: program {index} fails: {what}\n{source}");
    println!(
        "fuzz: reproduce with `cargo xtask conformance --corpus {}`",
        out.display()
    );
    println!("fuzz: 0 passed, 1 failed");
    ExitCode::FAILURE
}
