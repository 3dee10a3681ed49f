//! Compiles the crate's four Relon programs to objects (closed world:
//! `pricing` inlines its host function from `hostfns/`) and generates
//! their typed bindings into `$OUT_DIR`.

fn main() {
    let programs = [
        ("pricing", "pricing.relon", Some("hostfns")),
        ("quote", "quote.relon", None),
        ("shipping", "shipping.relon", None),
        ("grade", "grade.relon", None),
    ];
    for (name, source, host) in programs {
        if let Err(error) = relon_cocompile::emit_object::for_build_script(name, source, host) {
            eprintln!("{:?}", miette::Report::new(error));
            std::process::exit(1);
        }
    }
}
