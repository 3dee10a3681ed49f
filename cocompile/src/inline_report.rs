//! Which host calls the optimizer inlined, and why not where it did not,
//! read from LLVM's optimization remarks (`opt -pass-remarks-output`).

use std::path::Path;

use crate::codegen::HostCallSite;

/// The inliner's decision for one `CallNative` site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineDecision {
    /// The call site.
    pub site: HostCallSite,
    /// Whether the host function was inlined there.
    pub inlined: bool,
    /// LLVM's words for the decision.
    pub reason: String,
}

/// One remark: its kind (`Passed`, `Missed`, ...), caller, callee, text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Remark {
    kind: String,
    caller: String,
    callee: String,
    text: String,
}

/// Match every host call site with the inliner's remarks in `remarks_yaml`;
/// `optimized_ir` (textual) decides sites without a remark.
pub fn inline_decisions(
    sites: &[HostCallSite],
    remarks_yaml: &Path,
    optimized_ir: &str,
) -> Vec<InlineDecision> {
    let remarks = std::fs::read_to_string(remarks_yaml)
        .map(|t| parse_remarks(&t))
        .unwrap_or_default();
    sites
        .iter()
        .map(|site| {
            let found = remarks
                .iter()
                .filter(|r| r.callee == site.symbol && r.caller == site.caller)
                .find(|r| r.kind == "Passed")
                .or_else(|| {
                    remarks
                        .iter()
                        .find(|r| r.callee == site.symbol && r.caller == site.caller)
                });
            match found {
                Some(r) => InlineDecision {
                    site: site.clone(),
                    inlined: r.kind == "Passed",
                    reason: r.text.clone(),
                },
                None => {
                    let still_called = optimized_ir.contains(&format!("@{}(", site.symbol));
                    InlineDecision {
                        site: site.clone(),
                        inlined: !still_called,
                        reason: if still_called {
                            "no inliner remark; the call remains in the optimized module".into()
                        } else {
                            "no inliner remark; no call remains in the optimized module".into()
                        },
                    }
                }
            }
        })
        .collect()
}

/// Parse the YAML remark stream LLVM writes, keeping inliner remarks.
fn parse_remarks(text: &str) -> Vec<Remark> {
    let mut remarks = Vec::new();
    for doc in text.split("--- !").skip(1) {
        let kind = doc.lines().next().unwrap_or("").trim().to_string();
        let mut pass = String::new();
        let mut caller = String::new();
        let mut callee = String::new();
        let mut pieces = Vec::new();
        let mut in_args = false;
        for line in doc.lines().skip(1) {
            let trimmed = line.trim_start().trim_start_matches("- ");
            let Some((key, value)) = trimmed.split_once(':') else {
                continue;
            };
            let value = unquote(value.trim());
            if !line.starts_with(' ') {
                in_args = key == "Args";
                match key {
                    "Pass" => pass = value,
                    "Function" => caller = value,
                    _ => {}
                }
                continue;
            }
            if !in_args
                || key == "DebugLoc"
                || key.starts_with('{')
                || key == "File"
                || key == "Line"
                || key == "Column"
            {
                continue;
            }
            match key {
                "Callee" => callee = value.clone(),
                "Caller" => caller = value.clone(),
                _ => {}
            }
            pieces.push(value);
        }
        if pass == "inline" && !callee.is_empty() {
            remarks.push(Remark {
                kind,
                caller,
                callee,
                text: pieces.concat(),
            });
        }
    }
    remarks
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        s[1..s.len() - 1].replace("''", "'")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"--- !Passed
Pass:            inline
Name:            Inlined
Function:        relon.fn0.run_main
Args:
  - String:          ''''
  - Callee:          mix
    DebugLoc:        { File: src/lib.rs, Line: 3, Column: 0 }
  - String:          ''' inlined into '''
  - Caller:          relon.fn0.run_main
  - String:          ''''
  - String:          ' with '
  - String:          '(cost='
  - Cost:            '-15000'
  - String:          ', threshold='
  - Threshold:       '250'
  - String:          ')'
...
--- !Missed
Pass:            inline
Name:            NoDefinition
Function:        relon.fn0.run_main
Args:
  - Callee:          ext
  - String:          ' will not be inlined into '
  - Caller:          relon.fn0.run_main
  - String:          ' because its definition is unavailable'
...
"#;

    #[test]
    fn reads_passed_and_missed_inliner_remarks() {
        let remarks = parse_remarks(SAMPLE);
        assert_eq!(remarks.len(), 2);
        assert_eq!(remarks[0].kind, "Passed");
        assert_eq!(remarks[0].callee, "mix");
        assert_eq!(remarks[0].caller, "relon.fn0.run_main");
        assert_eq!(
            remarks[0].text,
            "'mix' inlined into 'relon.fn0.run_main' with (cost=-15000, threshold=250)"
        );
        assert_eq!(remarks[1].kind, "Missed");
        assert!(
            remarks[1].text.contains("definition is unavailable"),
            "{}",
            remarks[1].text
        );
    }
}
