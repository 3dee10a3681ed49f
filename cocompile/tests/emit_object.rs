//! `emit_object`, the library entry a `build.rs` calls: what it writes (an
//! archive exporting only the renamed entries, the constant data, the
//! metadata), and that bad input is refused with its cause and leaves the
//! output directory as it was. The typed bindings it feeds are exercised
//! end to end by `examples/pricing` (its tests compare with tree-walk).

mod common;

use std::path::{Path, PathBuf};

use object::{Object, ObjectSymbol};
use relon_cocompile::emit_object::{EmitObjectRequest, EntryShape, GENERATOR_VERSION, emit_object};

fn fixture(name: &str) -> PathBuf {
    common::repo_root().join("tests/fixtures").join(name)
}

fn request(name: &str, source: &Path, out: &Path) -> EmitObjectRequest {
    let mut req = EmitObjectRequest::new(name, source, out);
    req.build_dir = common::build_dir();
    req
}

/// Global symbols each object of the archive at `path` defines.
fn defined_globals(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("archive");
    let archive = object::read::archive::ArchiveFile::parse(&*bytes).expect("an ar archive");
    let mut names = Vec::new();
    for member in archive.members() {
        let member = member.expect("member");
        let data = member.data(&*bytes).expect("member data");
        let file = object::File::parse(data).expect("an object");
        for symbol in file.symbols() {
            if symbol.is_global() && symbol.is_definition() {
                names.push(symbol.name().expect("name").to_string());
            }
        }
    }
    names.sort();
    names
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "relon-build")
        .collect();
    names.sort();
    names
}

#[test]
fn writes_an_archive_exporting_only_the_renamed_entries_and_its_metadata() {
    let out = tempfile::tempdir().unwrap();
    let mut req = request("mixer", &fixture("programs/calls_mix.relon"), out.path())
        .host(common::test_host_dir());
    req.symbol_tag = Some("t1".into());
    let info = emit_object(&req).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));

    assert_eq!(
        files_in(out.path()),
        ["librelon_mixer_t1.a", "mixer.const.bin", "mixer.relon.json"]
    );
    // Only the two entries are global: the host function was inlined and
    // internalized, so two programs (or the host crate itself) can be
    // linked into one crate.
    assert_eq!(
        defined_globals(&info.archive),
        ["relon_entry_mixer_t1", "relon_entry_mixer_t1_metered"]
    );
    assert_eq!(info.generator_version, GENERATOR_VERSION);
    assert_eq!(info.host_functions, ["mix"]);
    assert!(matches!(info.shape, EntryShape::Scalars { .. }));
    assert_eq!(info.link_name, "relon_mixer_t1");
    let on_disk = std::fs::read_to_string(out.path().join("mixer.relon.json")).unwrap();
    assert_eq!(
        relon_bindings::EmitObjectInfo::from_json(&on_disk).unwrap(),
        info
    );
    // One field per parameter, with the offsets the entry reads.
    let params: Vec<(&str, &str, u32)> = info
        .params
        .iter()
        .map(|f| (f.name.as_str(), f.ty.as_str(), f.offset))
        .collect();
    assert_eq!(params, [("n", "Int", 0)]);
    assert_eq!(info.result.len(), 1);
    assert_eq!(info.result_type, "Int");

    let bindings = relon_bindings::generate(&info).expect("bindings");
    for needle in [
        "pub struct Request {",
        "pub n: i64,",
        "pub fn mixer(req: &Request) -> Result<i64, RuntimeError>",
        "fn relon_entry_mixer_t1_metered(state: *mut embed::EntryState) -> u32;",
        "input.i64(0, req.n);",
    ] {
        assert!(bindings.contains(needle), "{needle} not in:\n{bindings}");
    }
}

#[test]
fn a_record_result_has_one_field_each_and_old_metadata_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let source = common::repo_root().join("tests/corpus/rec_param_to_nested.relon");
    let mut info = emit_object(&request("boxes", &source, out.path()))
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    // A record result: one field per result field, with its offset.
    assert_eq!(info.shape, EntryShape::Values);
    // Without a tag, the symbols carry a hash of the name and the source:
    // another crate's `boxes` gets other symbols.
    let tag = info
        .entry_symbol
        .strip_prefix("relon_entry_boxes_")
        .expect("the name leads");
    assert_eq!(tag.len(), 16, "{}", info.entry_symbol);
    assert_eq!(
        info.metered_entry_symbol,
        format!("{}_metered", info.entry_symbol)
    );
    assert_eq!(info.result_type, "Box");
    let result: Vec<(&str, &str)> = info
        .result
        .iter()
        .map(|f| (f.name.as_str(), f.ty.as_str()))
        .collect();
    assert_eq!(result, [("lo", "Pt"), ("hi", "Pt"), ("area", "Int")]);
    assert!(info.result.windows(2).all(|w| w[0].offset < w[1].offset));
    let bindings = relon_bindings::generate(&info).expect("bindings");
    assert!(
        bindings.contains("pub fn boxes(req: &Request) -> Result<Box, RuntimeError>"),
        "{bindings}"
    );
    info.generator_version = "relon-embed/0 (old)".into();
    let error = relon_bindings::generate(&info)
        .expect_err("an old version")
        .to_string();
    assert!(error.contains("relon-embed/0 (old)"), "{error}");
    assert!(error.contains("rebuild the object"), "{error}");
}

/// `req` fails with an error whose report has every needle, and writes nothing.
fn refused(req: &EmitObjectRequest, needles: &[&str]) {
    let error = emit_object(req).expect_err("refused");
    let text = format!("{:?}", miette::Report::new(error));
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
    assert_eq!(
        files_in(&req.out_dir),
        Vec::<String>::new(),
        "a refused build left files"
    );
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let out = tempfile::tempdir().unwrap();
    let program = fixture("programs/calls_mix.relon");

    refused(
        &request("Mixer!", &program, out.path()),
        &[
            "`Mixer!` cannot name an embedded program",
            "lowercase Rust identifier",
        ],
    );

    refused(
        &request("match", &program, out.path()),
        &["`match` cannot name"],
    );
    // A program whose bindings cannot be generated places nothing either.
    let clash = out.path().join("relon-build").join("clash.relon");
    std::fs::create_dir_all(clash.parent().unwrap()).unwrap();
    std::fs::write(
        &clash,
        "#schema Request { Int a: * }\n#main(Request r) -> Int\nr.a\n",
    )
    .unwrap();
    refused(
        &request("clash", &clash, out.path()),
        &["type named `Request`", "GenerateOptions::request_type"],
    );
    refused(
        &request("mixer", &fixture("programs/parse_error.relon"), out.path()),
        &["does not parse"],
    );
    refused(
        &request("mixer", &program, out.path()),
        &[
            "`mix` is neither a Relon function nor a declared host",
            "[package.metadata.relon.functions.mix]",
        ],
    );
    refused(
        &request("mixer", &program, out.path()).host(fixture("hosts/bad_signature")),
        &["host function `mix`", "defines it as `double (i64)`"],
    );
    refused(
        &request("mixer", Path::new("/nonexistent/app.relon"), out.path()),
        &["could not read", "/nonexistent/app.relon"],
    );
}
