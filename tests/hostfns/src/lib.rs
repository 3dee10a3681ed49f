//! Host functions of the test corpus. The same functions back the
//! co-compiled binaries (through their bitcode) and the tree-walk
//! reference (called directly), so both sides compute the same thing.

use std::hash::Hasher;

/// Order-sensitive mix of a running value and an index (Relon name `mix`).
#[unsafe(no_mangle)]
pub extern "C" fn test_mix(acc: i64, i: i64) -> i64 {
    (acc.wrapping_mul(31).wrapping_add(i)).rem_euclid(1_000_003)
}

/// Linear interpolation.
#[unsafe(no_mangle)]
pub extern "C" fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

/// Trial-division primality.
#[unsafe(no_mangle)]
pub extern "C" fn is_prime(n: i64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// A capability-gated function (declared `reads_clock`); deterministic
/// here so results can be compared. Uses a crates.io dependency.
#[unsafe(no_mangle)]
pub extern "C" fn clock_skew(x: i64) -> i64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write_i64(x);
    (h.finish() % 1000) as i64
}

/// Panics on a negative argument: the host-fault path.
#[unsafe(no_mangle)]
pub extern "C" fn explode(x: i64) -> i64 {
    if x < 0 {
        panic!("explode called with {x}");
    }
    x * 2
}
