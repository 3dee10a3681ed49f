//! CI's share of the benchmark suite: every workload, at its tiny size,
//! gives the same answer on every system (no timing).

#[path = "../benches/common/mod.rs"]
mod common;

#[test]
fn every_system_agrees_on_every_workload_at_the_tiny_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut disagreements = Vec::new();
    for w in relon_bench::workloads() {
        let binary =
            common::binary(&w, dir.path(), "x86-64").unwrap_or_else(|e| panic!("{}: {e}", w.name));
        let outcomes = common::outcomes(&w, w.tiny, &binary);
        let reference = &outcomes[0].1;
        for (system, outcome) in &outcomes {
            println!("{:<18} {system:<10} {outcome:?}", w.name);
            if !common::agree(reference, outcome) {
                disagreements.push(format!(
                    "{} n={}: rust {reference:?}, {system} {outcome:?}",
                    w.name, w.tiny
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
