//! The list of stdlib names tree-walk has no free function for
//! (`free_calls::STDLIB_METHODS_ONLY`) stays true to both pinned crates:
//! relon-ir's bundled stdlib and tree-walk's registered functions.

use std::collections::BTreeSet;

use relon_cocompile::free_calls::STDLIB_METHODS_ONLY;

#[test]
fn the_method_only_list_is_relon_irs_stdlib_minus_tree_walks_free_functions() {
    let mut ctx = relon_eval_api::Context::new();
    relon_evaluator::TreeWalkEvaluator::prepare_in_place(&mut ctx);
    let method_only: BTreeSet<&str> = relon_ir::builtin_stdlib()
        .iter()
        .map(|f| f.name)
        .filter(|name| !ctx.functions.contains_key(*name))
        .collect();
    let ours: BTreeSet<&str> = STDLIB_METHODS_ONLY.into_iter().collect();
    assert_eq!(
        ours, method_only,
        "update free_calls::STDLIB_METHODS_ONLY to relon-ir's stdlib names tree-walk does not register"
    );
}

#[test]
fn a_free_call_tree_walk_rejects_is_refused_with_the_method_form() {
    let source = "#main(String s) -> String\nupper(s)";
    let Err(err) = relon_cocompile::frontend::lower_source("app.relon", source, &[]) else {
        panic!("upper(s) was not refused");
    };
    let text = format!("{err}");
    assert!(text.contains("`upper(..)`"), "{text}");
    let help = miette::Diagnostic::help(&err).map(|h| h.to_string());
    assert_eq!(
        help.as_deref(),
        Some("Relon has `upper` as a method: call it on its first argument, `x.upper(..)`")
    );
    assert!(
        relon_cocompile::frontend::lower_source(
            "app.relon",
            "#main(String s) -> String\ns.upper()",
            &[]
        )
        .is_ok()
    );
}
