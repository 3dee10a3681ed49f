//! The compiler binary end to end: the example becomes a static executable
//! whose answers match tree-walk, host calls are inlined, builds are
//! reproducible, and every kind of bad input ends cleanly.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use object::read::elf::{ElfFile64, ProgramHeader};
use object::{Endianness, elf};

fn cocompile(source: &Path, host: Option<&Path>, output: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(common::compiler());
    cmd.arg(source)
        .arg("-o")
        .arg(output)
        .arg("--build-dir")
        .arg(common::build_dir());
    if let Some(host) = host {
        cmd.arg("--host").arg(host);
    }
    cmd.args(extra);
    cmd.output().expect("run relon-cocompile")
}

fn example() -> (PathBuf, PathBuf) {
    let root = common::repo_root();
    (
        root.join("examples/mix/app.relon"),
        root.join("examples/mix/hostfns"),
    )
}

fn fixture(path: &str) -> PathBuf {
    common::repo_root().join("tests/fixtures").join(path)
}

/// No program interpreter and no needed shared library: a static executable.
fn assert_static_elf(path: &Path) {
    let data = std::fs::read(path).unwrap();
    let file = ElfFile64::<Endianness>::parse(&*data).expect("an ELF64 file");
    let endian = file.endian();
    assert_eq!(
        file.elf_header().e_type.get(endian),
        elf::ET_DYN,
        "static-pie is ET_DYN"
    );
    for header in file.elf_program_headers() {
        assert_ne!(
            header.p_type(endian),
            elf::PT_INTERP,
            "{} has a program interpreter",
            path.display()
        );
        if let Some(entries) = header.dynamic(endian, &*data).unwrap() {
            for entry in entries {
                assert_ne!(
                    entry.d_tag.get(endian),
                    elf::DT_NEEDED as u64,
                    "{} needs a shared library",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn example_is_a_static_executable_that_agrees_with_tree_walk_and_inlines_host_calls() {
    let (source, host) = example();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("mix");
    let out = cocompile(
        &source,
        Some(&host),
        &output,
        &["--emit", "ll,bc,obj,asm", "--report"],
    );
    assert_built(&out);
    assert_static_elf(&output);
    for ext in ["ll", "bc", "o", "s"] {
        assert!(
            dir.path().join(format!("mix.{ext}")).is_file(),
            "--emit wrote no .{ext}"
        );
    }

    // The optimized module calls no host function: they were inlined.
    let ir = std::fs::read_to_string(dir.path().join("mix.ll")).unwrap();
    let host_decls = relon_bitcode::read_host_crate(&host).unwrap().functions;
    for decl in &host_decls {
        let call = format!("@{}(", decl.symbol);
        assert!(
            !ir.lines().any(|l| l.contains("call") && l.contains(&call)),
            "a call to {} remains:\n{ir}",
            decl.symbol
        );
    }
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("`mix`") && report.contains(": inlined"),
        "report:\n{report}"
    );
    assert!(!report.contains("NOT inlined"), "report:\n{report}");

    // Same answers as tree-walk, which calls the same Rust host functions.
    let program = std::fs::read_to_string(&source).unwrap();
    for n in [0i64, 1, 1000, 100_000] {
        let args: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&format!("{{\"n\": {n}}}")).unwrap();
        let reference =
            common::tree_walk_with(&program, &args, &common::example_natives(), &host_decls);
        let assert = Command::new(&output)
            .arg(format!("{{\"n\": {n}}}"))
            .assert()
            .success();
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout)
            .trim()
            .to_string();
        match reference {
            common::Answer::Int(v) => assert_eq!(stdout, v.to_string(), "n = {n}"),
            other => panic!("tree-walk answered {other:?} for n = {n}"),
        }
    }
    // Arguments on standard input work too.
    Command::new(&output)
        .write_stdin("{\"n\": 10}")
        .assert()
        .success();
}

/// `--libc musl` (the default) and `--libc gnu` both give a static
/// executable with the same answers; the musl one stays under 1 MB
/// stripped, the issue's size goal.
#[test]
fn both_libcs_give_a_static_executable_and_musl_stays_under_a_megabyte() {
    let (source, host) = example();
    let dir = tempfile::tempdir().unwrap();
    let mut answers = Vec::new();
    for libc in ["musl", "gnu"] {
        let output = dir.path().join(format!("mix-{libc}"));
        let out = cocompile(&source, Some(&host), &output, &["--libc", libc]);
        assert_built(&out);
        assert_static_elf(&output);
        let size = std::fs::metadata(&output).unwrap().len();
        if libc == "musl" {
            assert!(size <= 1 << 20, "the musl executable is {size} bytes");
        }
        let assert = Command::new(&output)
            .arg("{\"n\": 1000}")
            .assert()
            .success();
        answers.push(String::from_utf8_lossy(&assert.get_output().stdout).to_string());
    }
    assert_eq!(answers[0], answers[1]);
}

#[test]
fn the_same_inputs_give_a_byte_identical_executable() {
    let (source, host) = example();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("mix");
    let first = cocompile(&source, Some(&host), &output, &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let bytes = std::fs::read(&output).unwrap();
    let second = cocompile(&source, Some(&host), &output, &[]);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(
        bytes == std::fs::read(&output).unwrap(),
        "the second build differs from the first"
    );
}

/// Building fixture `program` (with fixture host crate `host`) fails
/// cleanly, saying `needles`.
fn refused_build(program: &str, host: Option<&str>, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("app");
    let host = host.map(fixture);
    let out = cocompile(&fixture(program), host.as_deref(), &output, &[]);
    assert_clean_failure(&out, &output, needles);
}

/// The build succeeded (else: its stderr).
fn assert_built(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A failed build exits non-zero, says `needles` on stderr, and leaves no output.
fn assert_clean_failure(out: &Output, output: &Path, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the build succeeded; stderr:\n{stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
    assert!(!output.exists(), "a failed build left {}", output.display());
    let leftovers: Vec<_> = std::fs::read_dir(output.parent().unwrap())
        .unwrap()
        .flatten()
        .collect();
    assert!(
        leftovers.is_empty(),
        "a failed build left files: {leftovers:?}"
    );
}

#[test]
fn a_source_that_does_not_parse_gets_a_diagnostic_with_its_span() {
    refused_build(
        "programs/parse_error.relon",
        None,
        &["parse_error.relon does not parse", "parse_error.relon:"],
    );
}

#[test]
fn a_source_that_does_not_type_check_gets_the_analyzers_diagnostic_with_its_span() {
    refused_build(
        "programs/type_error.relon",
        None,
        &[
            "type_error.relon does not type-check",
            "main_return_type_mismatch",
            "expected Int, got String",
            "type_error.relon:2:1",
        ],
    );
}

#[test]
fn a_call_to_an_undeclared_function_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("app");
    let out = cocompile(
        &fixture("programs/unknown_fn.relon"),
        Some(&example().1),
        &output,
        &[],
    );
    assert_clean_failure(
        &out,
        &output,
        &[
            "unknown_fn.relon: `nowhere_to_be_found` is neither a Relon function nor a declared host function",
        ],
    );
}

#[test]
fn a_declared_but_undefined_host_function_is_named_with_the_fix() {
    refused_build(
        "programs/calls_mix.relon",
        Some("hosts/undefined_symbol"),
        &[
            "host function `mix`",
            "defines no `mix`",
            "pub extern \"C\" fn mix(a0: i64, a1: i64) -> i64",
        ],
    );
}

#[test]
fn a_host_signature_mismatch_names_the_function_and_both_types() {
    refused_build(
        "programs/calls_mix.relon",
        Some("hosts/bad_signature"),
        &[
            "host function `mix`",
            "declared as `i64 (i64, i64)`",
            "defines it as `double (i64)`",
        ],
    );
}

#[test]
fn a_host_crate_that_does_not_build_shows_cargos_message() {
    refused_build(
        "programs/calls_mix.relon",
        Some("hosts/broken"),
        &["does not build", "undefined_variable"],
    );
}

#[test]
fn a_missing_host_crate_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("app");
    let out = cocompile(
        &fixture("programs/calls_mix.relon"),
        Some(&dir.path().join("nothing-here")),
        &output,
        &[],
    );
    assert_clean_failure(&out, &output, &["no host crate at", "nothing-here"]);
}

#[test]
fn a_gated_host_function_needs_an_explicit_grant() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("app");
    let host = common::test_host_dir();
    let out = cocompile(&fixture("programs/gated.relon"), Some(&host), &output, &[]);
    assert_clean_failure(
        &out,
        &output,
        &[
            "host function `clock_skew` needs capability `reads_clock`",
            "--grant reads_clock",
        ],
    );
    let out = cocompile(
        &fixture("programs/gated.relon"),
        Some(&host),
        &output,
        &["--grant", "reads_clock"],
    );
    assert_built(&out);
}

#[test]
fn an_unwritable_output_path_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let output = blocker.join("app");
    let out = cocompile(
        &common::corpus_dir().join("no_params.relon"),
        None,
        &output,
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("output directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_binary_rejects_bad_arguments_with_exit_code_2_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("args");
    let out = cocompile(
        &common::corpus_dir().join("mixed_int_float.relon"),
        None,
        &output,
        &[],
    );
    assert_built(&out);
    let cases = [
        ("{\"x\": 1.0", "not valid JSON"),
        ("{\"x\": 1.0}", "missing argument `n`"),
        (
            "{\"x\": 1.0, \"n\": 1, \"z\": 2}",
            "unexpected argument `z`",
        ),
        ("{\"x\": true, \"n\": 1}", "argument `x`"),
        ("{\"x\": 1.0, \"n\": 9223372036854775808}", "argument `n`"),
        ("[1]", "must be a JSON object"),
    ];
    for (args, needle) in cases {
        let assert = Command::new(&output).arg(args).assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains(needle), "{args}: {stderr}");
        assert!(
            assert.get_output().stdout.is_empty(),
            "{args}: printed a result"
        );
    }
}

#[test]
fn bench_mode_times_the_same_answer_in_both_calibers_for_any_argument_form() {
    // The row caliber parses the text on each call with a parser compiled
    // for this program's parameters; the binary refuses to report a row
    // that did not end with the call's answer, so each form must succeed
    // and report the plain run's result.
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("shipping");
    let source = common::repo_root().join("examples/pricing/shipping.relon");
    assert_built(&cocompile(&source, None, &output, &[]));
    let forms = [
        r#"{"weight_g":4500,"distance_km":12.5,"express":true}"#,
        r#"{ "weight_g": 1500, "distance_km": 12.5, "express": true }"#,
        r#"{"express":false,"weight_g":400,"distance_km":3}"#,
        r#"{"weight_g":-7,"distance_km":1e2,"express":false}"#,
        r#"{"weight\u005fg":2001,"distance_km":0.5,"express":true}"#,
    ];
    let mut answers = std::collections::BTreeSet::new();
    for args in forms {
        let plain = Command::new(&output).arg(args).assert().success();
        let answer = String::from_utf8_lossy(&plain.get_output().stdout)
            .trim()
            .to_string();
        let bench = Command::new(&output)
            .args(["--bench", "200", args])
            .assert()
            .success();
        let report: serde_json::Value =
            serde_json::from_slice(&bench.get_output().stdout).expect("a JSON report");
        assert_eq!(report["result"].to_string(), answer, "{args}");
        for caliber in ["kernel", "row"] {
            let median = report[caliber]["median_ns"].as_f64().unwrap_or(0.0);
            assert!(median > 0.0, "{args}: {caliber} in {report}");
        }
        answers.insert(answer);
    }
    assert_eq!(answers.len(), forms.len(), "the forms were meant to differ");
}

#[test]
fn concurrent_builds_of_different_programs_keep_their_own_code() {
    // Runner crates share one cargo target directory; each build must still
    // link its own program (the runners once shared a package name, and
    // cargo took one for the other).
    let dir = tempfile::tempdir().unwrap();
    let programs = ["no_params", "float_const", "max_int_literal", "bool_return"];
    let builds: Vec<_> = programs
        .iter()
        .map(|name| {
            let source = common::corpus_dir().join(format!("{name}.relon"));
            let output = dir.path().join(name);
            std::thread::spawn(move || {
                let out = cocompile(&source, None, &output, &[]);
                assert_built(&out);
                output
            })
        })
        .collect();
    for (name, build) in programs.iter().zip(builds) {
        let output = build.join().unwrap();
        let program = common::load_corpus(&common::corpus_dir())
            .into_iter()
            .find(|p| p.name == *name)
            .unwrap();
        for args in &program.runs {
            assert_eq!(
                common::run_binary(&output, args),
                common::tree_walk(&program.source, args),
                "{name} {args:?}"
            );
        }
    }
}

#[test]
fn the_binary_bounds_recursion_and_fuel_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("down");
    let out = cocompile(
        &common::corpus_dir().join("deep_recursion.relon"),
        None,
        &output,
        &[],
    );
    assert_built(&out);
    Command::new(&output)
        .arg("{\"n\": 100000}")
        .assert()
        .success()
        .stdout("100000\n");
    let deep = Command::new(&output)
        .arg("{\"n\": 10000000}")
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&deep.get_output().stderr).to_string();
    assert!(
        stderr.starts_with("error: RecursionLimitExceeded"),
        "{stderr}"
    );
    Command::new(&output)
        .args(["--max-depth", "10", "{\"n\": 11}"])
        .assert()
        .code(1);
    let benched = Command::new(&output)
        .args(["--bench", "10", "--max-depth", "10", "{\"n\": 11}"])
        .assert()
        .code(1);
    assert!(
        String::from_utf8_lossy(&benched.get_output().stderr)
            .starts_with("error: RecursionLimitExceeded")
    );
    Command::new(&output)
        .args(["--max-depth", "10", "{\"n\": 9}"])
        .assert()
        .success()
        .stdout("9\n");
    let starved = Command::new(&output)
        .args(["--fuel", "50", "{\"n\": 100}"])
        .assert()
        .code(1);
    assert!(
        String::from_utf8_lossy(&starved.get_output().stderr)
            .starts_with("error: StepLimitExceeded")
    );
}

#[test]
fn malformed_host_metadata_names_the_function_and_the_problem() {
    refused_build(
        "programs/calls_mix.relon",
        Some("hosts/bad_metadata"),
        &[
            "[package.metadata.relon.functions.mix]",
            "params[1]",
            "unsupported type `Str`",
        ],
    );
}

fn cocompile_with_llvm_bin(bin: &Path, output: &Path) -> Output {
    let mut cmd = Command::new(common::compiler());
    cmd.arg(common::corpus_dir().join("no_params.relon"))
        .arg("-o")
        .arg(output)
        .arg("--build-dir")
        .arg(common::build_dir());
    cmd.env("RELON_LLVM_BIN", bin);
    cmd.output().unwrap()
}

#[test]
fn missing_or_wrong_llvm_tools_say_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("app");
    let out = cocompile_with_llvm_bin(&empty, &output);
    assert_clean_failure(
        &out,
        &output,
        &[
            "`llvm-link` (LLVM 22) not found",
            "apt-get install -y llvm-22",
        ],
    );

    let old = dir.path().join("old-bin");
    std::fs::create_dir(&old).unwrap();
    for tool in ["llvm-link", "opt", "llc", "llvm-dis"] {
        let path = old.join(tool);
        std::fs::write(
            &path,
            "#!/bin/sh\necho 'LLVM (http://llvm.org/):'\necho '  LLVM version 18.1.3'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = cocompile_with_llvm_bin(&old, &output);
    assert_clean_failure(
        &out,
        &output,
        &[
            "is LLVM 18.1.3, but this toolchain needs LLVM 22",
            "install llvm-22",
        ],
    );
}

#[test]
fn a_panicking_host_function_ends_the_run_with_the_host_fault_code() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("explode");
    let out = cocompile(
        &fixture("programs/explode.relon"),
        Some(&common::test_host_dir()),
        &output,
        &[],
    );
    assert_built(&out);
    Command::new(&output)
        .arg("{\"n\": 4}")
        .assert()
        .success()
        .stdout("9\n");
    let fault = Command::new(&output).arg("{\"n\": -1}").assert().code(3);
    let stderr = String::from_utf8_lossy(&fault.get_output().stderr).to_string();
    assert!(
        stderr.contains("HostFault") && stderr.contains("explode called with -1"),
        "{stderr}"
    );
    assert!(
        fault.get_output().stdout.is_empty(),
        "a faulted run printed a result"
    );
}

#[test]
fn oversized_input_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("args");
    let out = cocompile(
        &common::corpus_dir().join("add_int.relon"),
        None,
        &output,
        &[],
    );
    assert_built(&out);
    let padding = " ".repeat(17 << 20);
    let input = format!("{{\"a\": 1,{padding} \"b\": 2}}");
    let run = Command::new(&output).write_stdin(input).assert().code(2);
    assert!(String::from_utf8_lossy(&run.get_output().stderr).contains("the limit is"));
}

#[test]
fn helpers_calling_each_other_are_refused_with_the_reason() {
    refused_build(
        "programs/mutual_recursion.relon",
        None,
        &["the helper `is_odd`", "helpers that call each other"],
    );
}

#[test]
fn a_fallible_host_function_reports_its_failure_as_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("root");
    let out = cocompile(
        &fixture("programs/checked_root.relon"),
        Some(&fixture("hosts/fallible")),
        &output,
        &["--report"],
    );
    assert_built(&out);
    // The report names the site either way (this one formats its message,
    // which LLVM finds too costly to inline).
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("`checked_root`"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Command::new(&output)
        .arg("{\"x\": 16.0}")
        .assert()
        .success()
        .stdout("8.0\n");
    let failed = Command::new(&output).arg("{\"x\": -4.0}").assert().code(1);
    let stderr = String::from_utf8_lossy(&failed.get_output().stderr).to_string();
    assert!(
        stderr.starts_with("error: ValidationError: a host function failed: checked_root needs a non-negative number, got -4"),
        "{stderr}"
    );
    assert!(failed.get_output().stdout.is_empty());
}

/// Tree-walk fills a `#default` of a record `#main` takes; the compiled
/// code would not, so the build is refused rather than the run failing.
#[test]
fn a_default_on_a_main_record_field_is_refused_with_the_field() {
    refused_build(
        "programs/main_record_default.relon",
        None,
        &["field `retries` of `Req`", "relon::main_field_check"],
    );
}

/// The lowering types an untyped helper's list parameter from its body, so
/// a `List<Float>` (where-bound or a `#main` parameter) can reach a body
/// that reads Ints; that build is refused rather than answering with the
/// float bits read as an Int. (A helper that only takes the length accepts
/// any list: `tests/corpus/helper_len_any_list.relon`.)
#[test]
fn a_float_list_passed_to_a_helper_typed_for_ints_is_refused() {
    for program in [
        "programs/untyped_float_list_helper.relon",
        "programs/untyped_float_list_param.relon",
    ] {
        refused_build(
            program,
            None,
            &[
                "argument 1 of this closure call is a ListFloat",
                "reads it as a ListInt",
                "(Float v) -> Float",
            ],
        );
    }
}

/// A read of a let on a path that does not set it (the lowering naming a
/// `#main` parameter by a let set in another branch) is refused, not run
/// as 0.
#[test]
fn a_read_of_a_let_not_set_on_its_path_is_refused() {
    for program in [
        "programs/unset_let.relon",
        "programs/let_set_in_one_branch.relon",
    ] {
        refused_build(program, None, &["on a path that does not set it"]);
    }
}

#[test]
fn target_wasm32_writes_the_module_its_plan_and_its_constant_data() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("app.wasm");
    let source = common::repo_root().join("tests/corpus/case_locale_all.relon");
    let out = cocompile(&source, None, &output, &["--target", "wasm32"]);
    assert_built(&out);
    let module = std::fs::read(&output).unwrap();
    assert_eq!(&module[..4], b"\0asm");
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("app.wasm.plan.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(plan["format"], "relon-wasm32-plan/1");
    assert_eq!(plan["entry"], "relon_entry");
    assert_eq!(plan["state"]["fuel"], 40);
    assert_eq!(plan["state"]["size"], 80);
    let const_data = std::fs::read(dir.path().join("app.wasm.const.bin")).unwrap();
    assert_eq!(plan["const_data_len"], const_data.len());
    assert!(
        !const_data.is_empty(),
        "the locale tables are constant data"
    );
    assert!(plan["layout"].is_null(), "strings go through the schemas");
    assert_eq!(plan["main_schema"]["fields"][0]["name"], "s");

    // Host functions: mix is pure (inlined), so nothing is imported.
    let output = dir.path().join("mix.wasm");
    let out = cocompile(
        &fixture("programs/calls_mix.relon"),
        Some(&common::test_host_dir()),
        &output,
        &["--target", "wasm32"],
    );
    assert_built(&out);
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("mix.wasm.plan.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(plan["imports"], serde_json::json!([]));
    assert_eq!(plan["layout"]["params"][0]["name"], "n");
}

#[test]
fn target_wasm32_refuses_what_it_lacks_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("cube.relon");
    std::fs::write(&source, "#main(Float x) -> Float\npow(x, 1.0 / 3.0)\n").unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("cube.wasm");
    let out = cocompile(&source, None, &output, &["--target", "wasm32"]);
    assert_clean_failure(&out, &output, &["not on wasm32 yet", "`pow`"]);
    let out = cocompile(&source, None, &output, &["--target", "wasm32", "--report"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("apply to native builds"));
}

/// A Rust toolchain without the musl target's standard library (here a
/// `rustc` whose sysroot has none) is refused before anything is built,
/// with the rustup command that installs it.
#[test]
fn a_missing_musl_target_is_refused_with_the_command_that_installs_it() {
    let toolchain = tempfile::tempdir().unwrap();
    let rustc = toolchain.path().join("rustc");
    std::fs::write(&rustc, "#!/bin/sh\necho /nonexistent-sysroot\n").unwrap();
    std::fs::set_permissions(&rustc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (source, host) = example();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("mix");
    let out = Command::new(common::compiler())
        .arg(&source)
        .arg("--host")
        .arg(&host)
        .arg("-o")
        .arg(&output)
        .arg("--build-dir")
        .arg(common::build_dir())
        .env("RUSTC", &rustc)
        .output()
        .expect("run relon-cocompile");
    assert_clean_failure(
        &out,
        &output,
        &[
            "x86_64-unknown-linux-musl",
            "rustup target add x86_64-unknown-linux-musl",
            "--libc gnu",
        ],
    );
}
