//! A Rust crate that embeds four Relon programs. `build.rs` compiles each
//! to a native object and generates its typed bindings; each module below
//! holds one program's types and function. No JSON, no interpreter: a call
//! lays the arguments into an arena and runs the compiled code.
//!
//! ```
//! use relon_pricing_example::{pricing, shipping};
//!
//! let req = pricing::Request {
//!     order: pricing::Order {
//!         customer: pricing::Customer { name: "Ada".into(), tier: 2, country: "us".into() },
//!         cart: pricing::Cart { qty: vec![1, 12, 3], unit_cents: vec![1999, 250, 4500] },
//!         coupon_pct: 5,
//!     },
//!     tax_bp: 825,
//! };
//! assert_eq!(pricing::pricing(&req).unwrap(), 17022);
//!
//! let fee = shipping::shipping(&shipping::Request { weight_g: 4500, distance_km: 120.5, express: true });
//! assert!((fee.unwrap() - 21.82).abs() < 1e-9);
//! ```

/// `pricing.relon`: an order's total in cents (host function `round_div`).
pub mod pricing {
    include!(concat!(env!("OUT_DIR"), "/pricing.rs"));
}

/// `quote.relon`: a cart's lines as a `Quote` record.
pub mod quote {
    include!(concat!(env!("OUT_DIR"), "/quote.rs"));
}

/// `shipping.relon`: a parcel's fee (Int, Float and Bool only: the
/// fixed-offset fast path).
pub mod shipping {
    include!(concat!(env!("OUT_DIR"), "/shipping.rs"));
}

/// `grade.relon`: an `#enum` result.
pub mod grade {
    include!(concat!(env!("OUT_DIR"), "/grade.rs"));
}
