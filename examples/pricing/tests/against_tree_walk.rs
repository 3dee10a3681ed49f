//! The embedded programs against the tree-walk reference (`relon-evaluator`):
//! the same arguments, built once as typed Rust values, go through the
//! generated bindings (compiled code) and through tree-walk; results must be
//! equal and errors of the same kind. Also: a host function's failure, the
//! step budget and the depth limit as typed errors, and calls from many
//! threads at once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use relon_eval_api::{NativeArgs, RelonFunction, RuntimeError, Value};
use relon_host_shims::embed::{FromRelon, RunLimits, ToRelon};
use relon_pricing_example::{grade, pricing, quote, shipping};

/// The host function `round_div`, for tree-walk: the same Rust code the
/// object inlines.
struct RoundDiv;

impl RelonFunction for RoundDiv {
    fn call(
        &self,
        args: NativeArgs,
        range: relon_parser::TokenRange,
    ) -> Result<Value, RuntimeError> {
        let int = |i: usize| match args.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            other => Err(RuntimeError::TypeMismatch {
                expected: "Int".into(),
                found: format!("{other:?}"),
                range,
            }),
        };
        pricing_hostfns::checked_round_div(int(0)?, int(1)?)
            .map(Value::Int)
            .map_err(|message| {
                RuntimeError::ValidationError(format!("a host function failed: {message}"), range)
            })
    }
}

/// Run `file` (in this crate) on tree-walk with `args`.
fn tree_walk(file: &str, args: Vec<(&str, Value)>) -> Result<Value, RuntimeError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(dir.join(file)).expect("source");
    let host = relon_bitcode::read_host_crate(&dir.join("hostfns")).expect("host crate");
    let args: HashMap<String, Value> = args.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(scope, || {
                let ast = relon_parser::parse_document(&source).expect("parses");
                let options =
                    relon_cocompile::frontend::analyze_options(&host.functions).expect("options");
                let analyzed = Arc::new(relon_analyzer::analyze_with_options(&ast, &options));
                let mut ctx = relon_eval_api::Context::new()
                    .with_root(ast)
                    .with_analyzed(analyzed);
                ctx.register_pure_fn("round_div", Arc::new(RoundDiv));
                relon_evaluator::TreeWalkEvaluator::prepare_in_place(&mut ctx);
                let evaluator = relon_evaluator::TreeWalkEvaluator::new(Arc::new(ctx));
                relon_eval_api::Evaluator::run_main(&evaluator, args)
            })
            .expect("spawn")
            .join()
            .expect("tree-walk panicked")
    })
}

/// The variant name of an error (`NumericOverflow`, `ValidationError`, ...).
fn kind(e: &RuntimeError) -> String {
    format!("{e:?}")
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("?")
        .to_string()
}

/// Compare one compiled outcome with tree-walk's; returns whether it was an error.
fn agree<T: FromRelon + PartialEq + std::fmt::Debug>(
    what: &str,
    compiled: Result<T, RuntimeError>,
    reference: Result<Value, RuntimeError>,
) -> bool {
    match (compiled, reference) {
        (Ok(ours), Ok(theirs)) => {
            let theirs = T::from_relon(theirs).expect("tree-walk's result has the declared type");
            assert_eq!(ours, theirs, "{what}");
            false
        }
        (Err(ours), Err(theirs)) => {
            assert_eq!(kind(&ours), kind(&theirs), "{what}: {ours:?} vs {theirs:?}");
            true
        }
        (ours, theirs) => panic!("{what}: compiled {ours:?}, tree-walk {theirs:?}"),
    }
}

fn pick<T: Clone>(rng: &mut fastrand::Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())].clone()
}

fn order(rng: &mut fastrand::Rng) -> pricing::Request {
    let lines = rng.usize(0..6);
    let huge = rng.u8(..20) == 0;
    let qty = (0..lines + rng.usize(0..2))
        .map(|_| if huge { i64::MAX / 3 } else { rng.i64(-5..50) })
        .collect();
    let unit_cents = (0..lines).map(|_| rng.i64(0..100_000)).collect();
    pricing::Request {
        order: pricing::Order {
            customer: pricing::Customer {
                name: pick(rng, &["Ada", "", "Zoë"]).to_string(),
                tier: rng.i64(-1..5),
                country: pick(rng, &["us", "US", "usa", "de", "", "Us"]).to_string(),
            },
            cart: pricing::Cart { qty, unit_cents },
            coupon_pct: rng.i64(0..45),
        },
        tax_bp: rng.i64(-200..2500),
    }
}

#[test]
fn pricing_agrees_with_tree_walk() {
    let mut rng = fastrand::Rng::with_seed(20261124);
    let (mut errors, runs) = (0, 200);
    for i in 0..runs {
        let req = order(&mut rng);
        let reference = tree_walk(
            "pricing.relon",
            vec![
                ("order", req.order.to_relon()),
                ("tax_bp", req.tax_bp.to_relon()),
            ],
        );
        errors += usize::from(agree(
            &format!("order {i}: {req:?}"),
            pricing::pricing(&req),
            reference,
        ));
    }
    eprintln!("pricing: {errors} errors in {runs} runs");
    // Both paths are exercised: host failures and overflows, and totals.
    assert!(
        errors > 10 && errors < runs - 50,
        "{errors} errors in {runs} runs"
    );
}

#[test]
fn quote_agrees_with_tree_walk() {
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..120 {
        let lines = rng.usize(0..5);
        let req = quote::Request {
            cart: quote::Cart {
                qty: (0..lines).map(|_| rng.i64(0..20)).collect(),
                unit_cents: (0..lines + rng.usize(0..2))
                    .map(|_| rng.i64(0..5000))
                    .collect(),
            },
            customer: pick(&mut rng, &[" ada ", "İstanbul ltd", "straße", "", "\tB\n"]).into(),
        };
        let reference = tree_walk(
            "quote.relon",
            vec![
                ("cart", req.cart.to_relon()),
                ("customer", req.customer.to_relon()),
            ],
        );
        agree(&format!("cart {i}: {req:?}"), quote::quote(&req), reference);
    }
}

#[test]
fn shipping_agrees_with_tree_walk() {
    let mut rng = fastrand::Rng::with_seed(3);
    for i in 0..150 {
        let req = shipping::Request {
            weight_g: pick(
                &mut rng,
                &[0, 500, 501, 2000, 2001, 4500, 1_000_000, i64::MAX],
            ),
            distance_km: rng.f64() * pick(&mut rng, &[1.0, 1000.0, 1e300]),
            express: rng.bool(),
        };
        let reference = tree_walk(
            "shipping.relon",
            vec![
                ("weight_g", req.weight_g.to_relon()),
                ("distance_km", req.distance_km.to_relon()),
                ("express", req.express.to_relon()),
            ],
        );
        agree(
            &format!("parcel {i}: {req:?}"),
            shipping::shipping(&req),
            reference,
        );
    }
}

#[test]
fn grade_agrees_with_tree_walk() {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..80 {
        let req = grade::Request {
            scores: (0..rng.usize(0..4)).map(|_| rng.i64(0..100)).collect(),
            cutoff: rng.i64(0..60),
        };
        let compiled = grade::grade(&req);
        if let Ok(g) = &compiled {
            seen.insert(
                format!("{g:?}")
                    .split([' ', '{'])
                    .next()
                    .map(str::to_string),
            );
        }
        let reference = tree_walk(
            "grade.relon",
            vec![
                ("scores", req.scores.to_relon()),
                ("cutoff", req.cutoff.to_relon()),
            ],
        );
        agree(&format!("scores {i}: {req:?}"), compiled, reference);
    }
    assert_eq!(seen.len(), 3, "every variant came back: {seen:?}");
}

#[test]
fn a_failing_host_function_is_a_validation_error_with_its_message() {
    let mut req = order(&mut fastrand::Rng::with_seed(1));
    req.order.cart = pricing::Cart {
        qty: vec![2],
        unit_cents: vec![1000],
    };
    req.tax_bp = -5;
    let error = pricing::pricing(&req).expect_err("a negative tax is refused by round_div");
    assert_eq!(kind(&error), "ValidationError");
    assert!(
        format!("{error}").contains("round_div needs a non-negative amount, got -10000"),
        "{error}"
    );
}

#[test]
fn step_budget_and_depth_limit_are_typed_errors() {
    let req = quote::Request {
        cart: quote::Cart {
            qty: vec![1; 50],
            unit_cents: vec![3; 50],
        },
        customer: "x".into(),
    };
    let tight = RunLimits {
        fuel: Some(5),
        ..RunLimits::DEFAULT
    };
    let error = quote::quote_with_limits(&req, &tight).expect_err("5 steps are too few");
    assert_eq!(kind(&error), "StepLimitExceeded");
    let enough = RunLimits {
        fuel: Some(1_000_000),
        ..RunLimits::DEFAULT
    };
    assert_eq!(
        quote::quote_with_limits(&req, &enough).expect("a million steps suffice"),
        quote::quote(&req).expect("no budget"),
    );
    let shallow = RunLimits {
        max_depth: 0,
        ..RunLimits::DEFAULT
    };
    let error = quote::quote_with_limits(&req, &shallow).expect_err("depth 0 allows no call");
    assert_eq!(kind(&error), "RecursionLimitExceeded");
}

#[test]
fn calls_from_many_threads_agree() {
    let requests: Vec<pricing::Request> = {
        let mut rng = fastrand::Rng::with_seed(99);
        (0..64).map(|_| order(&mut rng)).collect()
    };
    let expected: Vec<_> = requests
        .iter()
        .map(|r| format!("{:?}", pricing::pricing(r)))
        .collect();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (requests, expected) = (&requests, &expected);
            scope.spawn(move || {
                for round in 0..20 {
                    for (i, req) in requests.iter().enumerate().skip((t + round) % 3) {
                        assert_eq!(format!("{:?}", pricing::pricing(req)), expected[i]);
                    }
                }
            });
        }
    });
}
