//! Calls the lowering compiles but tree-walk cannot resolve.
//!
//! The lowering resolves a call by the stdlib function's name alone, so
//! `upper(s)` compiles although Relon has `upper` only as a method
//! (`s.upper()`), and `list.sum(xs)` compiles without the
//! `#import list from "std/list"` it needs. Tree-walk, the reference, says
//! `FunctionNotFound` for both. This module finds such calls in the parsed
//! source so the build is refused instead of answering where the
//! reference fails.

use relon_parser::{Expr, Node, TokenKey, TokenRange};

/// Names of relon-ir's bundled stdlib functions that tree-walk does not
/// register as free functions (it has them as methods, or not at all).
/// `tests/free_calls.rs` checks this list against both crates.
pub const STDLIB_METHODS_ONLY: [&str; 65] = [
    "__casefold_lookup",
    "__ccc_lookup",
    "__compose_lookup",
    "__decomp_lookup",
    "__final_sigma_check",
    "__full_casefold_lookup",
    "__is_combining_mark",
    "__is_whitespace",
    "abs_float",
    "concat",
    "contains",
    "dict_size_in_range",
    "is_empty",
    "length",
    "list_bool_length",
    "list_float_every",
    "list_float_filter",
    "list_float_fold",
    "list_float_length",
    "list_float_map",
    "list_float_map_to_int",
    "list_float_map_to_string",
    "list_float_map_to_variant_list",
    "list_float_some",
    "list_float_unique",
    "list_int_every",
    "list_int_filter",
    "list_int_fold",
    "list_int_length",
    "list_int_map",
    "list_int_map_to_float",
    "list_int_map_to_string",
    "list_int_map_to_variant_list",
    "list_int_max",
    "list_int_min",
    "list_int_some",
    "list_int_sum",
    "list_int_unique",
    "list_list_filter",
    "list_list_length",
    "list_schema_length",
    "list_sort_by_ff_asc",
    "list_sort_by_ff_desc",
    "list_sort_by_fi_asc",
    "list_sort_by_fi_desc",
    "list_sort_by_if_asc",
    "list_sort_by_if_desc",
    "list_sort_by_ii_asc",
    "list_sort_by_ii_desc",
    "list_string_length",
    "list_string_map",
    "list_string_map_to_variant_list",
    "lower",
    "lower_locale",
    "nfc",
    "nfd",
    "nfkc",
    "nfkd",
    "replace",
    "split",
    "substring",
    "title",
    "title_locale",
    "upper",
    "upper_locale",
];

/// The `std/` modules a program reaches through `#import NAME from "std/NAME"`.
const STD_MODULES: [&str; 6] = ["dict", "is", "list", "math", "string", "value"];

/// A call tree-walk cannot resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedCall {
    /// The call as written, without arguments (`upper`, `list.sum`).
    pub call: String,
    /// How to write it so it resolves.
    pub fix: String,
    /// Where it is.
    pub range: TokenRange,
}

/// The first call in `ast` the lowering would compile but tree-walk cannot
/// resolve, if any. Names the program binds itself (where-helpers,
/// parameters, host functions in `host_names`) are never reported.
pub fn unresolved_call(ast: &Node, source: &str, host_names: &[&str]) -> Option<UnresolvedCall> {
    let source = &code_only(source);
    let mut pending = vec![ast];
    while let Some(node) = pending.pop() {
        if let Expr::FnCall { path, .. } = &*node.expr {
            if let Some(found) = check_call(path, node.range, source, host_names) {
                return Some(found);
            }
            for key in path {
                if let TokenKey::Dynamic(inner, _) = key {
                    pending.push(inner);
                }
            }
        }
        pending.extend(relon_parser::child_nodes(node));
    }
    None
}

fn check_call(
    path: &[TokenKey],
    range: TokenRange,
    source: &str,
    host_names: &[&str],
) -> Option<UnresolvedCall> {
    match path {
        [TokenKey::String(name, _, _)]
            if STDLIB_METHODS_ONLY.contains(&name.as_str())
                && !host_names.contains(&name.as_str())
                && !names_a_value(source, name)
                && !import_may_bind(source, name) =>
        {
            Some(UnresolvedCall {
                call: name.clone(),
                fix: format!(
                    "Relon has `{name}` as a method: call it on its first argument, `x.{name}(..)`"
                ),
                range,
            })
        }
        [
            TokenKey::String(module, _, _),
            TokenKey::String(member, _, _),
        ] if STD_MODULES.contains(&module.as_str())
            && !imports(source, module)
            && !names_a_value(source, module) =>
        {
            Some(UnresolvedCall {
                call: format!("{module}.{member}"),
                fix: format!("add `#import {module} from \"std/{module}\"` at the top"),
                range,
            })
        }
        _ => None,
    }
}

/// `source` with its comments and the text of its string literals blanked,
/// so the word scans below see code only. The `${..}` parts of an f-string
/// are code and stay; `#import` lines stay whole (their module paths are
/// read by [`imports`]).
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        if line.trim_start().starts_with("#import") {
            out.push_str(line);
        } else {
            blank_line(line, &mut out);
        }
    }
    out
}

/// Comments and string text of one line (a block comment or an f-string
/// interpolation may not span lines here; the scan only gets more careful
/// where they do).
fn blank_line(line: &str, out: &mut String) {
    let mut chars = line.char_indices().peekable();
    let mut in_string = false;
    let mut interpolation = 0usize;
    while let Some((at, c)) = chars.next() {
        let rest = &line[at..];
        if in_string && interpolation == 0 {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    out.push('"');
                }
                '$' if rest.starts_with("${") => {
                    chars.next();
                    interpolation = 1;
                    out.push_str("${");
                }
                _ => {}
            }
            continue;
        }
        if interpolation > 0 {
            match c {
                '{' => interpolation += 1,
                '}' => interpolation -= 1,
                _ => {}
            }
            out.push(c);
            continue;
        }
        if rest.starts_with("//") {
            out.push('\n');
            break;
        }
        if let Some(comment) = rest.strip_prefix("/*") {
            match comment.find("*/") {
                Some(end) => {
                    for _ in 0..end + 3 {
                        chars.next();
                    }
                    out.push(' ');
                    continue;
                }
                None => {
                    out.push('\n');
                    break;
                }
            }
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
}

/// Whether an `#import` line may bind `name` as a free function: it
/// imports everything (`*`) or names it (`{ upper }`).
fn import_may_bind(source: &str, name: &str) -> bool {
    source
        .lines()
        .filter(|line| line.trim_start().starts_with("#import"))
        .any(|line| {
            line.contains('*')
                || line
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|word| word == name)
        })
}

/// Whether `source` imports a module as `alias`.
fn imports(source: &str, alias: &str) -> bool {
    source.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("#import") && words.next() == Some(alias)
            || line.contains("#import") && line.contains(&format!("as={alias}"))
    })
}

/// Whether `name` appears in `source` as a word that is not called as
/// `name(..)` or used as `name.`: a binding (`name:`, a helper
/// `name(x): ..`), a parameter or a value, which
/// the program's own scope then resolves (conservative: any such use
/// counts).
fn names_a_value(source: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    source.match_indices(name).any(|(at, _)| {
        let before_ok = source[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_ident(c));
        let after = &source[at + name.len()..];
        let after_ok = after.chars().next().is_none_or(|c| !is_ident(c));
        let rest = after.trim_start_matches([' ', '\t']);
        let is_value = match rest.chars().next() {
            Some('.') => false,
            // `c ? name(x) : y` is a call, not a helper `name(x): ..`.
            Some('(') => at_binding_position(&source[..at]) && defines_helper(rest),
            _ => true,
        };
        before_ok && after_ok && is_value
    })
}

/// Whether a binding can start right after `before`: at the start of a
/// line, or after the `{` or `,` of a where-block.
fn at_binding_position(before: &str) -> bool {
    matches!(
        before.trim_end_matches([' ', '\t']).chars().next_back(),
        None | Some('\n' | '{' | ',')
    )
}

/// Whether `rest`, which starts with `(`, is a helper's parameter list
/// followed by `:` (`name(x, y): body`).
fn defines_helper(rest: &str) -> bool {
    let mut depth = 0usize;
    for (at, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return rest[at + 1..].trim_start().starts_with(':');
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str) -> Option<String> {
        let ast = relon_parser::parse_document(source).expect("parses");
        unresolved_call(&ast, source, &[]).map(|c| c.call)
    }

    #[test]
    fn free_calls_of_method_only_functions_are_found() {
        assert_eq!(
            check("#main(String s) -> String\nupper(s)").as_deref(),
            Some("upper")
        );
        assert_eq!(
            check("#main(String s) -> String\ns.trim() + nfc(s.trim())").as_deref(),
            Some("nfc")
        );
    }

    #[test]
    fn method_calls_and_bound_names_are_not() {
        assert_eq!(check("#main(String s) -> String\ns.upper()"), None);
        assert_eq!(check("#main(String s) -> String\n\"a\".upper() + s"), None);
        assert_eq!(
            check("#main(Int n) -> Int\nupper(n) where { upper(x): x + 1 }"),
            None
        );
        assert_eq!(check("#main(Int n) -> Int\nabs(n) + len([1])"), None);
    }

    #[test]
    fn a_call_in_a_ternary_is_not_a_helper_definition() {
        assert_eq!(
            check("#main(String s, Bool c) -> String\nc ? upper(s) : s").as_deref(),
            Some("upper")
        );
        assert_eq!(
            check("#main(String s) -> String\nf\"${upper(s)}\" + \"upper\"").as_deref(),
            Some("upper")
        );
    }

    #[test]
    fn imports_may_bind_free_names() {
        assert_eq!(
            check("#import * from \"std/string\"\n#main(String s) -> String\nupper(s)"),
            None
        );
        assert_eq!(
            check("#import { upper } from \"std/string\"\n#main(String s) -> String\nupper(s)"),
            None
        );
    }

    #[test]
    fn module_calls_need_their_import() {
        assert_eq!(
            check("#main(Int n) -> Int\nlist.sum(range(n))").as_deref(),
            Some("list.sum")
        );
        assert_eq!(
            check("#import list from \"std/list\"\n#main(Int n) -> Int\nlist.sum(range(n))"),
            None
        );
        assert_eq!(check("#main(List<Int> list) -> Int\nlist.sum()"), None);
        // A string or a comment naming the module is not a binding of it.
        assert_eq!(
            check("#main(Int n) -> Int\nlist.sum(range(n)) + len(\"list ok\")").as_deref(),
            Some("list.sum")
        );
        assert_eq!(
            check("// needs #import list from \"std/list\"\n#main(Int n) -> Int\nlist.sum(range(n)) /* list */").as_deref(),
            Some("list.sum")
        );
    }
}
