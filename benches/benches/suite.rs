//! `cargo xtask bench`: every workload on every system, side by side in one
//! run. Prints a table (median ns per call, min–max, ratio to the Rust
//! control) and writes it as JSON and as an SVG bar chart of the ratios.
//! Kernel (compute only) and row (with argument and result marshalling)
//! calibers are reported separately, never one as the other. All systems
//! must agree on every result before any time is reported; a peer back
//! end (Cranelift, Lua) that cannot run a workload at its size is named in
//! the table and left out of its timing.
//!
//! Arguments (after `--`): `--quick` (tiny sizes, short budgets),
//! `--filter NAME`, `--target-cpu CPU` (default `x86-64`, the Rust
//! control's), `--out DIR` (default `target/bench`).

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut quick = false;
    let mut filter: Option<String> = None;
    let mut target_cpu = "x86-64".to_string();
    let mut out = common::repo_root().join("target/bench");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--filter" => filter = args.next(),
            "--target-cpu" => target_cpu = args.next().unwrap_or(target_cpu),
            "--out" => out = args.next().map(PathBuf::from).unwrap_or(out),
            _ => {}
        }
    }
    let budget_ms = if quick { 20 } else { 400 };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut report = Vec::new();
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<18} {:<30} {:<7} {:>14} {:>27} {:>9}",
        "workload", "system", "caliber", "median", "min – max", "vs rust"
    );
    for w in relon_bench::workloads() {
        if filter
            .as_ref()
            .is_some_and(|f| !w.name.contains(f.as_str()))
        {
            continue;
        }
        let n = if quick { w.tiny } else { w.full };
        let binary = match common::binary(&w, dir.path(), &target_cpu) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("bench: {} does not co-compile: {e}", w.name);
                return ExitCode::FAILURE;
            }
        };
        let outcomes = common::outcomes(&w, n, &binary);
        let reference = outcomes[0].1.clone();
        // A peer that cannot run the workload at this size (its own arena
        // or limits) while the reference answers is left out of the timing
        // and named; any other difference stops the run.
        let mut cannot_run = Vec::new();
        for (system, outcome) in &outcomes {
            if common::agree(&reference, outcome) {
                continue;
            }
            match (&reference, outcome) {
                (Ok(_), Err(kind)) if common::PEERS.contains(system) => {
                    let _ = writeln!(
                        table,
                        "{:<18} {:<30} cannot run: {kind}",
                        format!("{} (n={n})", w.name),
                        system
                    );
                    report.push(serde_json::json!({
                        "workload": w.name, "n": n, "system": system, "cannot_run": kind,
                    }));
                    cannot_run.push(*system);
                }
                _ => {
                    eprintln!("bench: {} n={n}: systems disagree: {outcomes:?}", w.name);
                    return ExitCode::FAILURE;
                }
            }
        }
        let rows = common::timings(&w, n, &binary, budget_ms, &cannot_run);
        let rust = rows
            .iter()
            .find(|(s, c, _)| s == "rust" && *c == "kernel")
            .map(|r| r.2.median_ns)
            .unwrap_or(f64::NAN);
        for (system, caliber, stats) in &rows {
            let ratio = stats.median_ns / rust;
            let _ = writeln!(
                table,
                "{:<18} {:<30} {:<7} {:>11.1} ns {:>11.1} – {:>11.1} {:>8.2}x",
                format!("{} (n={n})", w.name),
                system,
                caliber,
                stats.median_ns,
                stats.min_ns,
                stats.max_ns,
                ratio
            );
            report.push(serde_json::json!({
                "workload": w.name, "n": n, "system": system, "caliber": caliber,
                "median_ns": stats.median_ns, "min_ns": stats.min_ns, "max_ns": stats.max_ns, "ratio_to_rust": ratio,
                "result": format!("{:?}", reference),
            }));
        }
    }
    print!("{table}");
    let _ = std::fs::create_dir_all(&out);
    let json_path = out.join("report.json");
    let svg_path = out.join("report.svg");
    let json = serde_json::json!({ "target_cpu": target_cpu, "quick": quick, "rows": report });
    if std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .is_ok()
    {
        println!("wrote {}", json_path.display());
    }
    if std::fs::write(&svg_path, svg(&report)).is_ok() {
        println!("wrote {}", svg_path.display());
    }
    println!(
        "bench: {} passed, 0 failed",
        report
            .iter()
            .filter(|r| r.get("cannot_run").is_none())
            .count()
    );
    ExitCode::SUCCESS
}

/// A horizontal bar chart of the ratios to the Rust control, log scale.
fn svg(rows: &[serde_json::Value]) -> String {
    let (label_w, bar_w, row_h) = (420.0, 520.0, 18.0);
    let height = 60.0 + row_h * rows.len() as f64;
    let (lo, hi) = (0.1f64.log10(), 100_000f64.log10());
    let x_of = |ratio: f64| label_w + (ratio.max(0.1).log10() - lo) / (hi - lo) * bar_w;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"monospace\" font-size=\"11\">\n",
        label_w + bar_w + 80.0
    );
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"20\" font-size=\"14\">Time per call relative to the Rust control (log scale; 1x = parity)</text>"
    );
    for decade in [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0] {
        let x = x_of(decade);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"30\" x2=\"{x:.1}\" y2=\"{height}\" stroke=\"#ccc\"/><text x=\"{x:.1}\" y=\"40\">{decade}x</text>"
        );
    }
    let rows: Vec<_> = rows
        .iter()
        .filter(|r| r.get("cannot_run").is_none())
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let y = 50.0 + row_h * i as f64;
        let ratio = row["ratio_to_rust"].as_f64().unwrap_or(f64::NAN);
        let label = format!(
            "{} {} {}",
            row["workload"].as_str().unwrap_or(""),
            row["system"].as_str().unwrap_or(""),
            row["caliber"].as_str().unwrap_or("")
        );
        let color = match row["system"].as_str().unwrap_or("") {
            "binary" => "#2b7bba",
            "jit" => "#4aa564",
            s if s.starts_with("rust") => "#999",
            "cranelift" => "#e08a2b",
            _ => "#c0392b",
        };
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{:.1}\">{label}</text><rect x=\"{label_w}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\">{ratio:.2}x</text>",
            y + 12.0,
            y + 2.0,
            (x_of(ratio) - label_w).max(1.0),
            row_h - 4.0,
            x_of(ratio) + 4.0,
            y + 12.0
        );
    }
    s.push_str("</svg>\n");
    s
}
