//! The host functions a crate declares, read from its own `Cargo.toml`.
//!
//! A host crate declares each function's Relon signature once:
//!
//! ```toml
//! [package.metadata.relon.functions.mix]
//! params = ["Int", "Int"]
//! returns = "Int"
//! # symbol = "mix"          # Rust symbol, defaults to the table key
//! # capability = "network"  # capability a program must be granted
//! # fallible = true          # takes a last `&mut HostFailure` to report errors
//! ```
//!
//! The table key is the name Relon programs call; `symbol` is the
//! `#[unsafe(no_mangle)] pub extern "C"` function that implements it.

use std::path::{Path, PathBuf};

use relon_runtime_contract::ScalarType;
use serde_json::Value as Json;

/// One declared host function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFnDecl {
    /// Name Relon source calls.
    pub name: String,
    /// Symbol of the `extern "C"` Rust function.
    pub symbol: String,
    /// Parameter types in order.
    pub params: Vec<ScalarType>,
    /// Return type.
    pub returns: ScalarType,
    /// Capability the function needs, if any.
    pub capability: Option<String>,
    /// Takes a last `failure: &mut relon_runtime_contract::HostFailure`
    /// parameter through which it may fail.
    pub fallible: bool,
}

/// A host crate: where it is and what it declares.
#[derive(Debug, Clone)]
pub struct HostCrate {
    /// Path to its `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// Package name.
    pub package_name: String,
    /// Declared functions, sorted by name.
    pub functions: Vec<HostFnDecl>,
}

/// Why a host crate's declarations could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HostManifestError {
    /// No `Cargo.toml` where the host crate should be.
    #[error("no host crate at {path}: {path_display} has no Cargo.toml")]
    NotFound {
        /// The directory or manifest path given.
        path: PathBuf,
        /// Same, for the message.
        path_display: String,
    },
    /// `cargo metadata` failed on the manifest.
    #[error("cargo metadata failed for {manifest}: {message}")]
    CargoMetadata {
        /// The manifest.
        manifest: PathBuf,
        /// Cargo's message.
        message: String,
    },
    /// The manifest has no `[package.metadata.relon.functions]` table.
    #[error(
        "{manifest} declares no host functions: add a [package.metadata.relon.functions.NAME] table with `params` and `returns` for each #[unsafe(no_mangle)] extern \"C\" fn"
    )]
    NoFunctions {
        /// The manifest.
        manifest: PathBuf,
    },
    /// A declaration is malformed.
    #[error("{manifest}: [package.metadata.relon.functions.{function}]: {problem}")]
    Malformed {
        /// The manifest.
        manifest: PathBuf,
        /// The function whose table is wrong.
        function: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

/// Read the host crate at `path` (a directory or a `Cargo.toml`).
pub fn read_host_crate(path: &Path) -> Result<HostCrate, HostManifestError> {
    let manifest_path = if path.file_name().is_some_and(|n| n == "Cargo.toml") {
        path.to_path_buf()
    } else {
        path.join("Cargo.toml")
    };
    if !manifest_path.is_file() {
        return Err(HostManifestError::NotFound {
            path: path.to_path_buf(),
            path_display: path.display().to_string(),
        });
    }
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(&manifest_path)
        .no_deps()
        .exec()
        .map_err(|e| HostManifestError::CargoMetadata {
            manifest: manifest_path.clone(),
            message: e.to_string(),
        })?;
    let canonical = manifest_path
        .canonicalize()
        .unwrap_or_else(|_| manifest_path.clone());
    let package = metadata
        .packages
        .iter()
        .find(|p| p.manifest_path.as_std_path() == canonical)
        .or_else(|| metadata.root_package())
        .ok_or_else(|| HostManifestError::CargoMetadata {
            manifest: manifest_path.clone(),
            message: "the manifest defines no package (a virtual workspace manifest?)".into(),
        })?;
    let functions = parse_functions(&manifest_path, &package.metadata)?;
    Ok(HostCrate {
        manifest_path: canonical,
        package_name: package.name.to_string(),
        functions,
    })
}

/// Parse the `relon.functions` table of a package's metadata.
pub fn parse_functions(
    manifest: &Path,
    metadata: &Json,
) -> Result<Vec<HostFnDecl>, HostManifestError> {
    let no_functions = || HostManifestError::NoFunctions {
        manifest: manifest.to_path_buf(),
    };
    let table = metadata
        .get("relon")
        .and_then(|r| r.get("functions"))
        .and_then(Json::as_object)
        .ok_or_else(no_functions)?;
    if table.is_empty() {
        return Err(no_functions());
    }
    let mut functions = Vec::with_capacity(table.len());
    for (name, decl) in table {
        let malformed = |problem: String| HostManifestError::Malformed {
            manifest: manifest.to_path_buf(),
            function: name.clone(),
            problem,
        };
        let decl = decl
            .as_object()
            .ok_or_else(|| malformed("expected a table with `params` and `returns`".into()))?;
        if let Some(unknown) = decl.keys().find(|k| {
            !matches!(
                k.as_str(),
                "params" | "returns" | "symbol" | "capability" | "fallible"
            )
        }) {
            return Err(malformed(format!(
                "unknown key `{unknown}` (expected params, returns, symbol, capability, fallible)"
            )));
        }
        let params = match decl.get("params") {
            None => Vec::new(),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, t)| parse_type(t).map_err(|p| malformed(format!("params[{i}]: {p}"))))
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(malformed(
                    "`params` must be a list of type names, e.g. [\"Int\", \"Float\"]".into(),
                ));
            }
        };
        let returns = decl
            .get("returns")
            .ok_or_else(|| {
                malformed("missing `returns` (one of \"Int\", \"Float\", \"Bool\")".into())
            })
            .and_then(|t| parse_type(t).map_err(|p| malformed(format!("returns: {p}"))))?;
        let symbol = match decl.get("symbol") {
            None => name.clone(),
            Some(Json::String(s)) if is_symbol(s) => s.clone(),
            Some(other) => {
                return Err(malformed(format!(
                    "`symbol` must be a Rust identifier, found {other}"
                )));
            }
        };
        if !is_symbol(&symbol) {
            return Err(malformed(
                "the function name is not a valid symbol; set `symbol`".into(),
            ));
        }
        let capability = match decl.get("capability") {
            None => None,
            Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(other) => {
                return Err(malformed(format!(
                    "`capability` must be a non-empty string, found {other}"
                )));
            }
        };
        let fallible = match decl.get("fallible") {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(other) => {
                return Err(malformed(format!(
                    "`fallible` must be true or false, found {other}"
                )));
            }
        };
        functions.push(HostFnDecl {
            name: name.clone(),
            symbol,
            params,
            returns,
            capability,
            fallible,
        });
    }
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(functions)
}

fn parse_type(value: &Json) -> Result<ScalarType, String> {
    match value.as_str() {
        Some("Int") => Ok(ScalarType::Int),
        Some("Float") => Ok(ScalarType::Float),
        Some("Bool") => Ok(ScalarType::Bool),
        Some(other) => Err(format!(
            "unsupported type `{other}` (host functions take and return Int, Float or Bool)"
        )),
        None => Err(format!("expected a type name string, found {value}")),
    }
}

fn is_symbol(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(meta: Json) -> Result<Vec<HostFnDecl>, HostManifestError> {
        parse_functions(Path::new("Cargo.toml"), &meta)
    }

    #[test]
    fn reads_a_full_declaration() {
        let fns = parse(json!({"relon": {"functions": {
            "mix": {"params": ["Int", "Float"], "returns": "Bool", "symbol": "host_mix", "capability": "network", "fallible": true},
            "one": {"returns": "Int"}
        }}}))
        .unwrap();
        assert_eq!(fns.len(), 2);
        assert_eq!(fns[0].name, "mix");
        assert_eq!(fns[0].symbol, "host_mix");
        assert_eq!(fns[0].params, vec![ScalarType::Int, ScalarType::Float]);
        assert_eq!(fns[0].returns, ScalarType::Bool);
        assert_eq!(fns[0].capability.as_deref(), Some("network"));
        assert!(fns[0].fallible);
        assert_eq!(fns[1].symbol, "one");
        assert!(!fns[1].fallible);
        assert!(fns[1].params.is_empty());
    }

    #[test]
    fn rejects_bad_declarations_with_the_function_named() {
        let cases = [
            json!({"relon": {"functions": {"f": {"params": ["Str"], "returns": "Int"}}}}),
            json!({"relon": {"functions": {"f": {"params": ["Int"]}}}}),
            json!({"relon": {"functions": {"f": {"returns": "Int", "symbol": "a-b"}}}}),
            json!({"relon": {"functions": {"f": {"returns": "Int", "extra": 1}}}}),
            json!({"relon": {"functions": {"f": 3}}}),
        ];
        for case in cases {
            let err = parse(case.clone()).unwrap_err();
            assert!(
                matches!(&err, HostManifestError::Malformed { function, .. } if function == "f"),
                "{case}: {err}"
            );
        }
        assert!(matches!(
            parse(json!({})),
            Err(HostManifestError::NoFunctions { .. })
        ));
        assert!(matches!(
            parse(json!({"relon": {"functions": {}}})),
            Err(HostManifestError::NoFunctions { .. })
        ));
    }
}
