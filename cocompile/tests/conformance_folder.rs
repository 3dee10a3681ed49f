//! The corpus format is a public contract: any folder in it runs, and the
//! JSON report has one line per run with every back end's answer.

mod common;

#[test]
fn a_corpus_folder_outside_the_repository_runs_and_reports_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("my-corpus");
    std::fs::create_dir(&corpus).unwrap();
    std::fs::write(corpus.join("halve.relon"), "#main(Int n) -> Int\nn / 2").unwrap();
    std::fs::write(
        corpus.join("halve.args.json"),
        r#"[{"n": 9}, {"n": -9}, {"n": 9223372036854775807}]"#,
    )
    .unwrap();
    std::fs::write(
        corpus.join("halve.expected.json"),
        r#"[4, -4, 4611686018427387903]"#,
    )
    .unwrap();
    std::fs::write(corpus.join("answer.relon"), "#main() -> Float\n0.5 * 3.0").unwrap();
    // A program the compiled back ends cannot build is refused, never skipped.
    std::fs::write(
        corpus.join("text.relon"),
        "#main(Int n) -> Int\nno_such_function(n) + 1",
    )
    .unwrap();
    std::fs::write(corpus.join("text.args.json"), r#"[{"n": 1}]"#).unwrap();
    // A wrong expectation is a mismatch.
    std::fs::write(corpus.join("wrong.relon"), "#main() -> Int\n1 + 1").unwrap();
    std::fs::write(corpus.join("wrong.expected.json"), "[3]").unwrap();

    let json = dir.path().join("report.jsonl");
    let report = common::conformance(&corpus, Some(&json));
    println!("{}", report.table());
    let verdicts = |name: &str| {
        report
            .rows
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .iter()
            .map(|c| c.1)
            .collect::<Vec<_>>()
    };
    // jit, binary, wasm32.
    use common::Verdict::{Match, Mismatch, Refused};
    assert_eq!(verdicts("halve"), [Match, Match, Match]);
    assert_eq!(verdicts("answer"), [Match, Match, Match]);
    assert_eq!(verdicts("text"), [Refused, Refused, Refused]);
    assert_eq!(verdicts("wrong"), [Mismatch, Mismatch, Mismatch]);
    assert!(
        report.table().contains("refused: "),
        "the table gives the refusal reason"
    );

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3 + 1 + 1 + 1, "one line per run");
    let first = lines
        .iter()
        .find(|l| l["program"] == "halve" && l["args"]["n"] == 9)
        .unwrap();
    assert_eq!(first["tree-walk"]["value"], 4);
    assert_eq!(first["jit"]["value"], 4);
    assert_eq!(first["binary"]["value"], 4);
    assert_eq!(first["wasm32"]["value"], 4);
    let text = lines.iter().find(|l| l["program"] == "text").unwrap();
    assert!(
        text["jit"]["refused"]
            .as_str()
            .unwrap()
            .contains("no_such_function"),
        "{text}"
    );
    assert!(
        text["wasm32"]["refused"]
            .as_str()
            .unwrap()
            .contains("no_such_function"),
        "{text}"
    );
}
