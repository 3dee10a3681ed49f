//! `.relon` source to Relon IR, with the host functions declared to the
//! analyzer and every failure kept with its source span.
//!
//! Runs the same three steps as `relon_ir::compile` (parse, analyze,
//! lower) but keeps the parser's and the analyzer's diagnostics, so the
//! CLI can show them with their spans. Also derives the `#main` layout the
//! runtime needs ([`MainLayout`]) through `relon_abi`, the same layout the
//! lowering used for its field offsets.

use std::collections::{HashMap, HashSet};

use miette::{NamedSource, SourceSpan};
use relon_abi::schema_canonical::{Schema, TypeRepr};
use relon_analyzer::{AnalyzeOptions, Capabilities, FnParam, FnSignature, NativeFnGate, Severity};
use relon_bitcode::HostFnDecl;
use relon_cap::CapabilityBit;
use relon_ir::lowering::LoweredEntry;
use relon_runtime_contract::ScalarType;

/// A lowered program and the layout of its `#main` records.
#[derive(Debug)]
pub struct LoweredProgram {
    /// The IR and the schemas.
    pub lowered: LoweredEntry,
    /// Where each parameter and the result live, when all of them are
    /// Int, Float or Bool (the fast path); `None` when some parameter or
    /// the result is a string, list, record or variant, which go through
    /// the canonical schemas in `lowered`.
    pub layout: Option<MainLayout>,
}

/// One scalar slot of the input or output record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotLayout {
    /// Field name.
    pub name: String,
    /// Its type.
    pub ty: ScalarType,
    /// Byte offset in the record.
    pub offset: u32,
}

/// The `#main` records: parameters in, result out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainLayout {
    /// Parameters in declaration order.
    pub params: Vec<SlotLayout>,
    /// Size of the input record.
    pub in_len: u32,
    /// The result.
    pub result: SlotLayout,
    /// Size of the output record.
    pub out_len: u32,
}

/// Why a source could not be lowered.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FrontendError {
    /// The parser rejected the source.
    #[error("{file} does not parse: {message}")]
    #[diagnostic(code(relon::parse), help("fix the syntax at the marked position"))]
    Parse {
        /// File name.
        file: String,
        /// The parser's message.
        message: String,
        /// The source, for the report.
        #[source_code]
        source_code: NamedSource<String>,
        /// Where it went wrong.
        #[label("here")]
        span: Option<SourceSpan>,
    },
    /// The analyzer reported errors.
    #[error("{file} does not type-check: {count} error(s)")]
    #[diagnostic(code(relon::analyze))]
    Analyze {
        /// File name.
        file: String,
        /// Number of errors.
        count: usize,
        /// The source, for the report.
        #[source_code]
        source_code: NamedSource<String>,
        /// Each error with its span.
        #[related]
        diagnostics: Vec<relon_analyzer::Diagnostic>,
    },
    /// Lowering to IR failed.
    #[error("{file} cannot be lowered to IR: {message}")]
    #[diagnostic(
        code(relon::lower),
        help(
            "this construct is outside what compiled back ends support; the tree-walk evaluator runs it"
        )
    )]
    Lowering {
        /// File name.
        file: String,
        /// The lowering's message.
        message: String,
    },
    /// A call names no Relon function and no declared host function.
    #[error("{file}: `{name}` is neither a Relon function nor a declared host function")]
    #[diagnostic(
        code(relon::unknown_function),
        help(
            "declare it in the host crate's [package.metadata.relon.functions.{name}] table (and pass --host), or fix the name"
        )
    )]
    UnknownFunction {
        /// File name.
        file: String,
        /// The name called.
        name: String,
        /// The source, for the report.
        #[source_code]
        source_code: NamedSource<String>,
        /// The call (as precise as the lowering reports it).
        #[label("called here")]
        span: SourceSpan,
    },
    /// A where-helper call the lowering does not resolve.
    #[error(
        "{file}: the call of the helper `{name}` is not compiled: the lowering resolves a helper call only when the helper is defined before its caller and has a shape it compiles (helpers that call each other, and some recursive helpers over lists, are not)"
    )]
    #[diagnostic(
        code(relon::helper_call),
        help(
            "the tree-walk evaluator runs this program; for a compiled build, define helpers before their callers and merge mutually recursive helpers into one that recurses on itself"
        )
    )]
    HelperCall {
        /// File name.
        file: String,
        /// The name called.
        name: String,
        /// The source, for the report.
        #[source_code]
        source_code: NamedSource<String>,
        /// The call (as precise as the lowering reports it).
        #[label("called here")]
        span: SourceSpan,
    },
    /// A variant constructor (`Some(..)`, `Err(..)`, an `#enum` variant)
    /// in a position the lowering does not compile.
    #[error(
        "{file}: the constructor `{name}(..)` is not compiled in this position by the compiled back ends (a limit of the IR lowering, relon-ir 0.1.0-rc3)"
    )]
    #[diagnostic(
        code(relon::constructor),
        help(
            "the tree-walk evaluator runs this program; tests/corpus/option_ret.relon shows an Option result compiled builds take"
        )
    )]
    Constructor {
        /// File name.
        file: String,
        /// The constructor.
        name: String,
        /// The source, for the report.
        #[source_code]
        source_code: NamedSource<String>,
        /// The call (as precise as the lowering reports it).
        #[label("here")]
        span: SourceSpan,
    },
    /// A call the lowering compiles by name but Relon does not resolve
    /// (see [`crate::free_calls`]).
    #[error(
        "{file}: `{call}(..)` is not a function Relon resolves here: tree-walk, the reference, fails this call with FunctionNotFound, so the compiled build refuses it"
    )]
    #[diagnostic(code(relon::unresolved_call), help("{fix}"))]
    UnresolvedCall {
        /// File name.
        file: String,
        /// The call, without its arguments.
        call: String,
        /// How to write it.
        fix: String,
        /// The source, for the report.
        #[source_code]
        source_code: NamedSource<String>,
        /// The call.
        #[label("called here")]
        span: SourceSpan,
    },
    /// A record `#main` takes has a field with a default or a check.
    #[error(
        "{file}: field `{field}` of `{schema}`, which `#main` takes, has a `#default`, an `#expect` or a predicate; the compiled back ends do not apply those to arguments (tree-walk does)"
    )]
    #[diagnostic(
        code(relon::main_field_check),
        help(
            "declare the field as `Type {field}: *` and apply the default or the check in the program body"
        )
    )]
    MainFieldCheck {
        /// File name.
        file: String,
        /// The record.
        schema: String,
        /// The field.
        field: String,
    },
    /// A host function declares a capability Relon does not know.
    #[error(
        "host function `{function}` declares unknown capability `{capability}` (known: reads_fs, writes_fs, network, reads_clock, reads_env, uses_rng)"
    )]
    #[diagnostic(code(relon::host_capability))]
    UnknownCapability {
        /// The host function.
        function: String,
        /// The capability.
        capability: String,
    },
}

/// Parse, analyze and lower `source`, with `host_fns` declared.
pub fn lower_source(
    file: &str,
    source: &str,
    host_fns: &[HostFnDecl],
) -> Result<LoweredProgram, FrontendError> {
    let named = || NamedSource::new(file, source.to_string());
    let ast = relon_parser::parse_document(source).map_err(|e| FrontendError::Parse {
        file: file.to_string(),
        message: e.to_string(),
        source_code: named(),
        span: e.source_span(),
    })?;
    let options = analyze_options(host_fns)?;
    let analyzed = relon_analyzer::analyze_with_options(&ast, &options);
    let errors: Vec<_> = analyzed
        .diagnostics
        .iter()
        .filter(|d| d.severity() == Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(FrontendError::Analyze {
            file: file.to_string(),
            count: errors.len(),
            source_code: named(),
            diagnostics: errors,
        });
    }
    let host_names: Vec<&str> = host_fns.iter().map(|f| f.name.as_str()).collect();
    if let Some(found) = crate::free_calls::unresolved_call(&ast, source, &host_names) {
        return Err(FrontendError::UnresolvedCall {
            file: file.to_string(),
            call: found.call,
            fix: found.fix,
            source_code: named(),
            span: relon_analyzer::diagnostic::span_of(found.range),
        });
    }
    let lowered = relon_ir::lower_workspace_single(&analyzed, &ast).map_err(|e| match e {
        relon_ir::LoweringError::UnknownStdlibMethod { name, range, .. }
            if name.starts_with(char::is_uppercase) =>
        {
            FrontendError::Constructor {
                file: file.to_string(),
                name,
                source_code: named(),
                span: relon_analyzer::diagnostic::span_of(range),
            }
        }
        relon_ir::LoweringError::UnknownStdlibMethod { name, range, .. }
            if defines_binding(source, &name) =>
        {
            FrontendError::HelperCall {
                file: file.to_string(),
                name,
                source_code: named(),
                span: relon_analyzer::diagnostic::span_of(range),
            }
        }
        relon_ir::LoweringError::UnknownStdlibMethod { name, range, .. }
            if !host_fns.iter().any(|f| f.name == name) =>
        {
            FrontendError::UnknownFunction {
                file: file.to_string(),
                name,
                source_code: named(),
                span: relon_analyzer::diagnostic::span_of(range),
            }
        }
        other => FrontendError::Lowering {
            file: file.to_string(),
            message: other.to_string(),
        },
    })?;
    if let Some((schema, field)) = checked_main_field(&analyzed, &lowered.main_schema) {
        return Err(FrontendError::MainFieldCheck {
            file: file.to_string(),
            schema,
            field,
        });
    }
    let mut lowered = lowered;
    crate::raise::raise_inline_reads(&mut lowered.module);
    crate::range_fusion::fuse_range_sources(&mut lowered.module);
    LoweredProgram::from_lowered(file, lowered)
}

/// A field of a record that `#main` takes whose value is not `*`: a
/// `#default`, an `#expect` or a predicate, which tree-walk applies to the
/// argument and the lowered IR does not. `(schema, field)` of the first.
fn checked_main_field(
    analyzed: &relon_analyzer::AnalyzedTree,
    main: &Schema,
) -> Option<(String, String)> {
    fn record_names(ty: &TypeRepr, names: &mut HashSet<String>) {
        match ty {
            TypeRepr::List { element } => record_names(element, names),
            TypeRepr::Option { inner } => record_names(inner, names),
            TypeRepr::Result { ok, err } => {
                record_names(ok, names);
                record_names(err, names);
            }
            TypeRepr::Enum { variants, .. } => {
                for variant in variants {
                    for field in &variant.fields {
                        record_names(&field.ty, names);
                    }
                }
            }
            TypeRepr::Schema { schema } if names.insert(schema.name.clone()) => {
                schema
                    .fields
                    .iter()
                    .for_each(|f| record_names(&f.ty, names));
            }
            _ => {}
        }
    }
    let mut names = HashSet::new();
    main.fields
        .iter()
        .for_each(|f| record_names(&f.ty, &mut names));
    let mut defs: Vec<_> = analyzed
        .schemas
        .values()
        .filter(|d| d.name.as_ref().is_some_and(|n| names.contains(n)))
        .collect();
    defs.sort_by_key(|d| d.range.start.offset);
    defs.into_iter().find_map(|def| {
        let field = def
            .fields
            .iter()
            .find(|f| !f.is_wildcard || !f.meta_decorators.is_empty())?;
        Some((def.name.clone().unwrap_or_default(), field.name.clone()))
    })
}

impl LoweredProgram {
    /// Wrap an already lowered entry (for IR built by hand), deriving its layout.
    pub fn from_lowered(
        file: &str,
        lowered: LoweredEntry,
    ) -> Result<LoweredProgram, FrontendError> {
        let layout = main_layout(file, &lowered.main_schema, &lowered.return_schema)?;
        Ok(LoweredProgram { lowered, layout })
    }
}

/// Whether `source` binds `name` (`name: ...`) somewhere, as a where-helper.
fn defines_binding(source: &str, name: &str) -> bool {
    source.match_indices(name).any(|(at, _)| {
        let before_ok = source[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = source[at + name.len()..].trim_start_matches([' ', '\t']);
        before_ok && after.starts_with(':')
    })
}

/// Analyzer options for a compiled back end with these host functions.
pub fn analyze_options(host_fns: &[HostFnDecl]) -> Result<AnalyzeOptions, FrontendError> {
    let mut names = HashSet::new();
    let mut signatures = HashMap::new();
    let mut pure = HashSet::new();
    let mut gates = HashMap::new();
    for f in host_fns {
        names.insert(f.name.clone());
        let params = f
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| FnParam {
                name: format!("_{i}"),
                ty: relon_analyzer::type_node_simple(t.relon_name()),
                optional: false,
            })
            .collect();
        signatures.insert(
            f.name.clone(),
            FnSignature {
                name: f.name.clone(),
                generics: Vec::new(),
                params,
                return_type: relon_analyzer::type_node_simple(f.returns.relon_name()),
                variadic_tail: None,
            },
        );
        match &f.capability {
            None => {
                pure.insert(f.name.clone());
            }
            Some(cap) => {
                let bit =
                    capability_from_name(cap).ok_or_else(|| FrontendError::UnknownCapability {
                        function: f.name.clone(),
                        capability: cap.clone(),
                    })?;
                let mut gate = NativeFnGate::default();
                gate.require(bit);
                gates.insert(f.name.clone(), gate);
            }
        }
    }
    // Every capability is visible to the analyzer; the grant decision is
    // made by the code generator (closed world: at compile time).
    let mut caps = Capabilities::default();
    for bit in ALL_CAPABILITIES {
        caps.grant(bit);
    }
    Ok(AnalyzeOptions {
        host_fn_names: names,
        host_fn_signatures: signatures,
        host_fn_pure: pure,
        host_fn_gates: gates,
        caps,
        standalone_capability_check: true,
        ..AnalyzeOptions::default()
    })
}

/// Every capability Relon knows, in bit order.
pub const ALL_CAPABILITIES: [CapabilityBit; 6] = [
    CapabilityBit::ReadsFs,
    CapabilityBit::WritesFs,
    CapabilityBit::Network,
    CapabilityBit::ReadsClock,
    CapabilityBit::ReadsEnv,
    CapabilityBit::UsesRng,
];

/// The capability spelled `name` (`reads_fs`, `network`, ...).
pub fn capability_from_name(name: &str) -> Option<CapabilityBit> {
    ALL_CAPABILITIES.into_iter().find(|c| c.as_str() == name)
}

fn main_layout(
    file: &str,
    main: &Schema,
    ret: &Schema,
) -> Result<Option<MainLayout>, FrontendError> {
    let lowering = |message: String| FrontendError::Lowering {
        file: file.to_string(),
        message,
    };
    // Checked here for every program; the runtime lays the records out the same way.
    let in_table =
        relon_abi::layout::SchemaLayout::offsets_for(main).map_err(|e| lowering(e.to_string()))?;
    let out_table =
        relon_abi::layout::SchemaLayout::offsets_for(ret).map_err(|e| lowering(e.to_string()))?;
    let scalar = |ty: &TypeRepr| match ty {
        TypeRepr::Int => Some(ScalarType::Int),
        TypeRepr::Float => Some(ScalarType::Float),
        TypeRepr::Bool => Some(ScalarType::Bool),
        _ => None,
    };
    let single = ret.name == relon_ir::MAIN_RETURN_SCHEMA_NAME
        && ret.fields.len() == 1
        && ret.fields[0].name == relon_ir::RETURN_VALUE_FIELD_NAME;
    let slots = |fields: &[relon_abi::schema_canonical::Field],
                 offsets: &[relon_abi::layout::FieldOffset]|
     -> Option<Vec<SlotLayout>> {
        fields
            .iter()
            .zip(offsets)
            .map(|(f, o)| {
                Some(SlotLayout {
                    name: f.name.clone(),
                    ty: scalar(&f.ty)?,
                    offset: o.offset as u32,
                })
            })
            .collect()
    };
    let (Some(params), Some(mut result), true) = (
        slots(&main.fields, &in_table.fields),
        slots(&ret.fields, &out_table.fields),
        single,
    ) else {
        return Ok(None);
    };
    let Some(result) = result.pop() else {
        return Ok(None);
    };
    Ok(Some(MainLayout {
        params,
        in_len: in_table.root_size as u32,
        result,
        out_len: out_table.root_size as u32,
    }))
}

#[cfg(test)]
mod tests {
    /// The runtime recognises a single-value result by these names without
    /// depending on `relon-ir`; they must stay the lowering's.
    #[test]
    fn the_runtime_names_the_single_value_result_as_the_lowering_does() {
        assert_eq!(
            relon_host_shims::values::MAIN_RETURN_SCHEMA_NAME,
            relon_ir::MAIN_RETURN_SCHEMA_NAME
        );
        assert_eq!(
            relon_host_shims::values::RETURN_VALUE_FIELD_NAME,
            relon_ir::RETURN_VALUE_FIELD_NAME
        );
    }
}
