//! Host functions for `examples/pricing/pricing.relon`.

use relon_runtime_contract::HostFailure;

/// `n / d` rounded half away from zero. Fails (the program stops with a
/// `ValidationError`) when `n` is negative or `d` is not positive.
#[unsafe(no_mangle)]
pub extern "C" fn round_div(n: i64, d: i64, failure: &mut HostFailure) -> i64 {
    match checked_round_div(n, d) {
        Ok(q) => q,
        Err(message) => {
            failure.fail(&message);
            0
        }
    }
}

/// [`round_div`] as a plain Rust function, for callers outside Relon.
pub fn checked_round_div(n: i64, d: i64) -> Result<i64, String> {
    if d <= 0 {
        return Err(format!("round_div needs a positive divisor, got {d}"));
    }
    if n < 0 {
        return Err(format!("round_div needs a non-negative amount, got {n}"));
    }
    Ok(n / d + i64::from(n % d >= d - n % d))
}
