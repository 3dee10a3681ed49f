//! Every corpus program through the tree-walk reference, the JIT
//! evaluator and the co-compiled static binary: the answers (value, or
//! error kind) must be equal, and equal to `<name>.expected.json` where it
//! exists.

mod common;

use common::{Answer, load_corpus};

#[test]
fn corpus_agrees_with_tree_walk_through_the_jit_and_the_static_binary() {
    let programs = load_corpus(&common::corpus_dir());
    assert!(programs.len() >= 30, "the corpus must hold at least 30 programs, found {}", programs.len());
    let out_dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut runs = 0;
    for program in &programs {
        let binary = out_dir.path().join(&program.name);
        if let Err(reason) = common::cocompile(&program.path, &binary) {
            failures.push(format!("{}: refused: {reason}", program.name));
            continue;
        }
        let jit = match common::jit(&program.source) {
            Ok(jit) => jit,
            Err(reason) => {
                failures.push(format!("{}: JIT refused: {reason}", program.name));
                continue;
            }
        };
        for (i, args) in program.runs.iter().enumerate() {
            runs += 1;
            let reference = common::tree_walk(&program.source, args);
            let compiled = common::run_binary(&binary, args);
            let jitted = common::run_jit(&jit, args);
            let expected = program.expected.as_ref().map(|e| Answer::from_expected(&e[i]));
            let agrees = |answer: &Answer| match &reference {
                // Tree-walk overflows its native stack on deep recursion: accept
                // a value or a typed error, as long as it is the expected one
                // when one is given.
                Answer::ReferenceCrashed => !matches!(answer, Answer::Refused(_)),
                r => r == answer,
            };
            let as_expected = |answer: &Answer| expected.as_ref().is_none_or(|e| e == answer);
            println!("{:<24} run {i}: tree-walk {reference:?}, jit {jitted:?}, binary {compiled:?}", program.name);
            if !agrees(&compiled) || !agrees(&jitted) || !as_expected(&compiled) || !as_expected(&jitted) || compiled != jitted {
                failures.push(format!(
                    "{} run {i} {}: tree-walk {reference:?}, jit {jitted:?}, binary {compiled:?}, expected {expected:?}",
                    program.name,
                    serde_json::Value::Object(args.clone())
                ));
            }
        }
    }
    println!("{} programs, {runs} runs, {} failures", programs.len(), failures.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
