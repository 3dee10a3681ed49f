//! Build a host crate with embedded bitcode and extract that bitcode.
//!
//! The crate is built in release mode into a target directory of ours (the
//! user's own `target/` is never touched), with one codegen unit, bitcode
//! embedded in every object (`-C embed-bitcode=yes`), and the same
//! `target-cpu` the emitted code uses, so the inliner sees matching
//! function attributes on both sides. Every rlib cargo reports (the crate
//! and each dependency) is an ar archive; each object member carries its
//! module's bitcode in the `.llvmbc` section, which we write out as a
//! `.bc` file.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cargo_metadata::Message;
use object::read::archive::ArchiveFile;
use object::{Object, ObjectSection};

use crate::host_manifest::HostCrate;

/// How to build the host crate.
#[derive(Debug, Clone)]
pub struct HostBuildOptions {
    /// Cargo target directory to build into.
    pub target_dir: PathBuf,
    /// Where to write the extracted `.bc` files (created, emptied first).
    pub bitcode_dir: PathBuf,
    /// `-C target-cpu` for the host crate (same as the emitted code).
    pub target_cpu: String,
    /// Rust target triple.
    pub target_triple: String,
}

/// The bitcode of a built host crate and all its dependencies.
#[derive(Debug, Clone)]
pub struct HostCrateBitcode {
    /// One `.bc` file per object member of every rlib, in cargo's order.
    pub modules: Vec<PathBuf>,
    /// The rlibs they came from.
    pub rlibs: Vec<PathBuf>,
}

/// Why the host crate could not be turned into bitcode.
#[derive(Debug, thiserror::Error)]
pub enum HostBuildError {
    /// Cargo could not be started.
    #[error("could not run cargo: {0}")]
    Spawn(std::io::Error),
    /// The host crate does not compile.
    #[error("the host crate {manifest} does not build:\n{diagnostics}")]
    BuildFailed {
        /// Its manifest.
        manifest: PathBuf,
        /// Cargo's rendered diagnostics.
        diagnostics: String,
    },
    /// The build produced no rlib for the host crate itself.
    #[error(
        "building {manifest} produced no rlib for `{package}`: the host crate must have a [lib] target whose crate-type includes \"rlib\" (the default)"
    )]
    NoRlib {
        /// Its manifest.
        manifest: PathBuf,
        /// Package name.
        package: String,
    },
    /// An rlib or object could not be read.
    #[error("could not read {path}: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An rlib has objects without embedded bitcode.
    #[error(
        "{rlib} has an object without a .llvmbc section ({member}); was it built without `-C embed-bitcode=yes` (a profile with `lto` set, or a prebuilt rlib)?"
    )]
    NoBitcode {
        /// The rlib.
        rlib: PathBuf,
        /// The member.
        member: String,
    },
    /// Writing a `.bc` file failed.
    #[error("could not write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Build `host` and extract the bitcode of it and all its dependencies.
pub fn build_host_crate(
    host: &HostCrate,
    opts: &HostBuildOptions,
) -> Result<HostCrateBitcode, HostBuildError> {
    let rlibs = cargo_build_rlibs(host, opts)?;
    if std::fs::metadata(&opts.bitcode_dir).is_ok() {
        std::fs::remove_dir_all(&opts.bitcode_dir).map_err(|source| HostBuildError::Write {
            path: opts.bitcode_dir.clone(),
            source,
        })?;
    }
    std::fs::create_dir_all(&opts.bitcode_dir).map_err(|source| HostBuildError::Write {
        path: opts.bitcode_dir.clone(),
        source,
    })?;
    let mut modules = Vec::new();
    for (i, rlib) in rlibs.iter().enumerate() {
        for (j, bitcode) in extract_rlib_bitcode(rlib)?.into_iter().enumerate() {
            let stem = rlib.file_stem().and_then(|s| s.to_str()).unwrap_or("rlib");
            let path = opts.bitcode_dir.join(format!("{i:03}-{stem}-{j}.bc"));
            std::fs::write(&path, bitcode).map_err(|source| HostBuildError::Write {
                path: path.clone(),
                source,
            })?;
            modules.push(path);
        }
    }
    Ok(HostCrateBitcode { modules, rlibs })
}

/// The `RUSTFLAGS` the host crate is built with.
pub fn host_rustflags(target_cpu: &str) -> String {
    format!("-C embed-bitcode=yes -C codegen-units=1 -C target-cpu={target_cpu}")
}

fn cargo_build_rlibs(
    host: &HostCrate,
    opts: &HostBuildOptions,
) -> Result<Vec<PathBuf>, HostBuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--lib")
        .arg("--manifest-path")
        .arg(&host.manifest_path)
        .arg("--target-dir")
        .arg(&opts.target_dir)
        .arg("--target")
        .arg(&opts.target_triple)
        .arg("--message-format=json-render-diagnostics")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            host_rustflags(&opts.target_cpu).replace(' ', "\u{1f}"),
        )
        .env("CARGO_PROFILE_RELEASE_LTO", "off")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(HostBuildError::Spawn)?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| HostBuildError::Spawn(std::io::Error::other("no stdout")))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| HostBuildError::Spawn(std::io::Error::other("no stderr")))?;
    let stderr_reader =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut rlibs = Vec::new();
    let mut own_rlib = false;
    let mut rendered = String::new();
    for message in Message::parse_stream(BufReader::new(stdout)).flatten() {
        match message {
            Message::CompilerArtifact(artifact) => {
                for file in &artifact.filenames {
                    if file.extension() == Some("rlib") {
                        if artifact.target.name.replace('-', "_")
                            == host.package_name.replace('-', "_")
                        {
                            own_rlib = true;
                        }
                        rlibs.push(file.clone().into_std_path_buf());
                    }
                }
            }
            Message::CompilerMessage(msg) => {
                if let Some(text) = msg.message.rendered {
                    rendered.push_str(&text);
                }
            }
            _ => {}
        }
    }
    let status = child.wait().map_err(HostBuildError::Spawn)?;
    let cargo_stderr = stderr_reader.join().unwrap_or_default();
    if !status.success() {
        let mut diagnostics = rendered;
        diagnostics.push_str(&cargo_stderr);
        return Err(HostBuildError::BuildFailed {
            manifest: host.manifest_path.clone(),
            diagnostics,
        });
    }
    if !own_rlib {
        return Err(HostBuildError::NoRlib {
            manifest: host.manifest_path.clone(),
            package: host.package_name.clone(),
        });
    }
    Ok(rlibs)
}

/// Every `.llvmbc` section of every object member of the rlib at `path`.
pub fn extract_rlib_bitcode(path: &Path) -> Result<Vec<Vec<u8>>, HostBuildError> {
    let unreadable = |message: String| HostBuildError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let data = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    let archive = ArchiveFile::parse(&*data).map_err(|e| unreadable(e.to_string()))?;
    let mut out = Vec::new();
    for member in archive.members() {
        let member = member.map_err(|e| unreadable(e.to_string()))?;
        let name = String::from_utf8_lossy(member.name()).into_owned();
        if !name.ends_with(".o") {
            continue; // lib.rmeta and friends
        }
        let bytes = member.data(&*data).map_err(|e| unreadable(e.to_string()))?;
        let file = object::File::parse(bytes).map_err(|e| unreadable(format!("{name}: {e}")))?;
        let section = file
            .section_by_name(".llvmbc")
            .ok_or_else(|| HostBuildError::NoBitcode {
                rlib: path.to_path_buf(),
                member: name.clone(),
            })?;
        let bitcode = section
            .data()
            .map_err(|e| unreadable(format!("{name}: {e}")))?;
        out.push(bitcode.to_vec());
    }
    Ok(out)
}
