//! Host functions for `examples/mix/app.relon`.

use std::hash::Hasher;

/// Mix a running value with the next index: a cheap, order-sensitive
/// combination that stays well inside the Int range.
#[unsafe(no_mangle)]
pub extern "C" fn mix(acc: i64, i: i64) -> i64 {
    (acc.wrapping_mul(31).wrapping_add(i)).rem_euclid(1_000_003)
}

/// Hash two Ints with rustc's FxHasher (from the `rustc-hash` crate).
#[unsafe(no_mangle)]
pub extern "C" fn hash_pair(a: i64, b: i64) -> i64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write_i64(a);
    h.write_i64(b);
    (h.finish() >> 1) as i64
}
