//! The LLVM command-line tools the pipeline runs, found once.
//!
//! Resolution order for each tool: the directory in `RELON_LLVM_BIN` (when
//! set, the only place looked at: an explicit choice is never silently
//! replaced), else `/usr/lib/llvm-<major>/bin`, then `<tool>-<major>` and
//! `<tool>` on `PATH` (through `which`). Every tool found must report the LLVM major
//! version this toolchain is built for ([`LLVM_MAJOR`]); bitcode written by
//! rustc is only readable by the same or a newer LLVM.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The LLVM major version the code generator links and the tools must match.
pub const LLVM_MAJOR: u32 = 22;

/// Debian packages that provide everything the toolchain needs.
pub const APT_PACKAGES: &str = "llvm-22 llvm-22-dev clang-22 lld-22 libclang-rt-22-dev-wasm32 libpolly-22-dev libzstd-dev libffi-dev zlib1g-dev libxml2-dev";

/// Paths of the LLVM tools the pipeline runs.
#[derive(Debug, Clone)]
pub struct LlvmTools {
    /// `llvm-link`: merges bitcode modules.
    pub llvm_link: PathBuf,
    /// `opt`: internalize and the O3 pipeline.
    pub opt: PathBuf,
    /// `llc`: object and assembly emission.
    pub llc: PathBuf,
    /// `llvm-dis`: bitcode to text.
    pub llvm_dis: PathBuf,
    /// `llvm-ar`: the static archive of an embedded program's object.
    pub llvm_ar: PathBuf,
    /// Full version reported by `llvm-link --version`, e.g. `22.1.8`.
    pub version: String,
}

/// Why a tool could not be found or run.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A tool is not installed.
    #[error(
        "LLVM tool `{tool}` (LLVM {major}) not found; install it with `apt-get install -y {packages}` (or run `cargo xtask setup` as root), or point RELON_LLVM_BIN at a directory holding LLVM {major} tools"
    )]
    Missing {
        /// Tool name.
        tool: &'static str,
        /// Required major version.
        major: u32,
        /// Packages to install.
        packages: &'static str,
    },
    /// A tool has the wrong major version.
    #[error(
        "{path} is LLVM {found}, but this toolchain needs LLVM {major} (rustc's bitcode needs the same or a newer LLVM); install llvm-{major} or set RELON_LLVM_BIN"
    )]
    WrongVersion {
        /// The tool's path.
        path: PathBuf,
        /// Version it reported.
        found: String,
        /// Required major.
        major: u32,
    },
    /// A tool could not be started.
    #[error("could not run {path}: {source}")]
    Spawn {
        /// The tool's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("`{command}` failed:\n{stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// What the tool printed.
        stderr: String,
    },
}

impl LlvmTools {
    /// Find every tool and check its version.
    pub fn discover() -> Result<LlvmTools, ToolError> {
        let llvm_link = find_tool("llvm-link")?;
        let version = tool_version(&llvm_link)?;
        let opt = find_tool("opt")?;
        tool_version(&opt)?;
        let llc = find_tool("llc")?;
        tool_version(&llc)?;
        let llvm_dis = find_tool("llvm-dis")?;
        let llvm_ar = find_tool("llvm-ar")?;
        Ok(LlvmTools {
            llvm_link,
            opt,
            llc,
            llvm_dis,
            llvm_ar,
            version,
        })
    }

    /// `llvm-link inputs... -o output`.
    pub fn link(&self, inputs: &[PathBuf], output: &Path) -> Result<(), ToolError> {
        let mut cmd = Command::new(&self.llvm_link);
        cmd.args(inputs).arg("-o").arg(output);
        run(cmd)
    }
}

/// The wasm32 linker and the compiler-rt builtins it links (`__multi3`
/// for 64-bit multiplication checks, and the like).
#[derive(Debug, Clone)]
pub struct WasmTools {
    /// `wasm-ld` (package lld-22).
    pub wasm_ld: PathBuf,
    /// `libclang_rt.builtins-wasm32.a` (package libclang-rt-22-dev-wasm32).
    pub builtins: PathBuf,
}

impl WasmTools {
    /// Find both next to (or in place of) the LLVM tools.
    pub fn discover() -> Result<WasmTools, ToolError> {
        let prefixes: Vec<PathBuf> = match std::env::var_os("RELON_LLVM_BIN") {
            Some(dir) => vec![Path::new(&dir).join("..")],
            None => vec![PathBuf::from(format!("/usr/lib/llvm-{LLVM_MAJOR}"))],
        };
        let wasm_ld = prefixes
            .iter()
            .map(|p| p.join("bin/wasm-ld"))
            .chain(which::which(format!("wasm-ld-{LLVM_MAJOR}")).ok())
            .find(|p| p.is_file())
            .ok_or(ToolError::Missing {
                tool: "wasm-ld",
                major: LLVM_MAJOR,
                packages: APT_PACKAGES,
            })?;
        let builtins = prefixes
            .iter()
            .map(|p| {
                p.join(format!(
                    "lib/clang/{LLVM_MAJOR}/lib/wasi/libclang_rt.builtins-wasm32.a"
                ))
            })
            .find(|p| p.is_file())
            .ok_or(ToolError::Missing {
                tool: "libclang_rt.builtins-wasm32.a",
                major: LLVM_MAJOR,
                packages: APT_PACKAGES,
            })?;
        Ok(WasmTools { wasm_ld, builtins })
    }
}

/// Run a command; on failure return its command line and stderr.
pub fn run(mut cmd: Command) -> Result<(), ToolError> {
    let command = format!("{cmd:?}").replace('"', "");
    let out = cmd.output().map_err(|source| ToolError::Spawn {
        path: PathBuf::from(cmd.get_program()),
        source,
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ToolError::Failed {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

fn find_tool(tool: &'static str) -> Result<PathBuf, ToolError> {
    let versioned = format!("{tool}-{LLVM_MAJOR}");
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("RELON_LLVM_BIN") {
        candidates.push(Path::new(&dir).join(tool));
    } else {
        candidates.push(PathBuf::from(format!(
            "/usr/lib/llvm-{LLVM_MAJOR}/bin/{tool}"
        )));
        candidates.extend(which::which(&versioned).ok());
        candidates.extend(which::which(tool).ok());
    }
    let mut wrong = None;
    for candidate in candidates.into_iter().filter(|c| c.is_file()) {
        match tool_version(&candidate) {
            Ok(_) => return Ok(candidate),
            Err(e @ ToolError::WrongVersion { .. }) => wrong = wrong.or(Some(e)),
            Err(_) => {}
        }
    }
    Err(wrong.unwrap_or(ToolError::Missing {
        tool,
        major: LLVM_MAJOR,
        packages: APT_PACKAGES,
    }))
}

fn tool_version(path: &Path) -> Result<String, ToolError> {
    let out = Command::new(path)
        .arg("--version")
        .output()
        .map_err(|source| ToolError::Spawn {
            path: path.to_path_buf(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let found = parse_llvm_version(&text).unwrap_or_else(|| "unknown".into());
    if found.split('.').next().and_then(|m| m.parse::<u32>().ok()) == Some(LLVM_MAJOR) {
        Ok(found)
    } else {
        Err(ToolError::WrongVersion {
            path: path.to_path_buf(),
            found,
            major: LLVM_MAJOR,
        })
    }
}

/// Pull `22.1.8` out of `LLVM version 22.1.8` (any vendor prefix).
pub fn parse_llvm_version(text: &str) -> Option<String> {
    let rest = &text[text.find("LLVM version ")? + "LLVM version ".len()..];
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vendor_version_lines() {
        assert_eq!(
            parse_llvm_version("Debian LLVM version 22.1.8\n  Optimized build."),
            Some("22.1.8".into())
        );
        assert_eq!(
            parse_llvm_version("LLVM (http://llvm.org/):\n  LLVM version 18.1.3\n"),
            Some("18.1.3".into())
        );
        assert_eq!(parse_llvm_version("nothing here"), None);
    }
}
