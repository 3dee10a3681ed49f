//! After the host crate is linked: does its bitcode define every declared
//! host function, with the LLVM type its declaration implies?
//!
//! rustc lowers `extern "C" fn(i64, f64, bool) -> i64` to
//! `i64 (i64, double, i1)`, so a declaration `params = ["Int", "Float",
//! "Bool"], returns = "Int"` must find exactly that type.

use std::path::Path;

use inkwell::context::Context;
use inkwell::module::Module;
use relon_bitcode::HostFnDecl;
use relon_runtime_contract::ScalarType;

/// A declared host function the bitcode does not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostSymbolError {
    /// No definition of the symbol.
    #[error(
        "host function `{name}` is declared in {manifest} but the host crate defines no `{symbol}`: add `#[unsafe(no_mangle)] pub extern \"C\" fn {symbol}({params}) -> {ret}` to the crate, or fix `symbol`"
    )]
    Undefined {
        /// Relon name.
        name: String,
        /// Expected symbol.
        symbol: String,
        /// The manifest.
        manifest: String,
        /// Rust parameter list the declaration implies.
        params: String,
        /// Rust return type.
        ret: String,
    },
    /// The symbol exists with another type.
    #[error(
        "host function `{name}` (symbol `{symbol}`) is declared as `{declared}` but the host crate defines it as `{found}`; make the Rust signature and the [package.metadata.relon.functions.{name}] entry agree"
    )]
    SignatureMismatch {
        /// Relon name.
        name: String,
        /// Its symbol.
        symbol: String,
        /// LLVM type the declaration implies.
        declared: String,
        /// LLVM type found.
        found: String,
    },
}

/// Check every declaration against the linked host bitcode at `host_bc`.
pub fn check_host_symbols(
    host_bc: &Path,
    decls: &[HostFnDecl],
    manifest: &str,
) -> Result<(), Vec<HostSymbolError>> {
    let ctx = Context::create();
    let module = match Module::parse_bitcode_from_path(host_bc, &ctx) {
        Ok(m) => m,
        Err(e) => {
            return Err(vec![HostSymbolError::SignatureMismatch {
                name: "*".into(),
                symbol: "*".into(),
                declared: "readable bitcode".into(),
                found: e.to_string(),
            }]);
        }
    };
    let errors: Vec<_> = decls
        .iter()
        .filter_map(|d| check_one(&module, d, manifest))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check_one(module: &Module<'_>, decl: &HostFnDecl, manifest: &str) -> Option<HostSymbolError> {
    let declared = declared_llvm_type(decl);
    match module.get_function(&decl.symbol) {
        Some(f) if f.count_basic_blocks() > 0 => {
            let found = f.get_type().print_to_string().to_string();
            (normalize(&found) != normalize(&declared)).then(|| {
                HostSymbolError::SignatureMismatch {
                    name: decl.name.clone(),
                    symbol: decl.symbol.clone(),
                    declared,
                    found,
                }
            })
        }
        _ => Some(HostSymbolError::Undefined {
            name: decl.name.clone(),
            symbol: decl.symbol.clone(),
            manifest: manifest.to_string(),
            params: decl
                .params
                .iter()
                .enumerate()
                .map(|(i, t)| format!("a{i}: {}", rust_type(*t)))
                .chain(
                    decl.fallible
                        .then(|| "failure: &mut relon_runtime_contract::HostFailure".to_string()),
                )
                .collect::<Vec<_>>()
                .join(", "),
            ret: rust_type(decl.returns).to_string(),
        }),
    }
}

/// The LLVM function type a declaration implies, as LLVM prints it.
pub fn declared_llvm_type(decl: &HostFnDecl) -> String {
    let mut params: Vec<&str> = decl.params.iter().map(|t| llvm_type(*t)).collect();
    if decl.fallible {
        params.push("ptr");
    }
    format!("{} ({})", llvm_type(decl.returns), params.join(", "))
}

fn llvm_type(t: ScalarType) -> &'static str {
    match t {
        ScalarType::Int => "i64",
        ScalarType::Float => "double",
        ScalarType::Bool => "i1",
    }
}

fn rust_type(t: ScalarType) -> &'static str {
    match t {
        ScalarType::Int => "i64",
        ScalarType::Float => "f64",
        ScalarType::Bool => "bool",
    }
}

fn normalize(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}
