//! The benchmark workloads: each a Relon program (`workloads/*.relon`)
//! taking one `Int n`, and a hand-written Rust control with the same
//! algorithm and the same overflow semantics (checked signed arithmetic,
//! so an overflow is an error, never a wrap).
//!
//! The driver is `benches/suite.rs` (`cargo xtask bench`).

/// A workload's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// An Int result.
    Int(i64),
    /// A Float result.
    Float(f64),
}

/// One workload.
pub struct Workload {
    /// Name, also the file stem under `workloads/`.
    pub name: &'static str,
    /// The Relon program.
    pub source: &'static str,
    /// `n` for the full measurement.
    pub full: i64,
    /// `n` for the quick (CI) run.
    pub tiny: i64,
    /// The Rust control: `None` on overflow.
    pub control: fn(i64) -> Option<Answer>,
    /// The control with the host function behind a call that is never
    /// inlined (host-call workloads only).
    pub control_noinline: Option<fn(i64) -> Option<Answer>>,
}

macro_rules! workload {
    ($name:literal, $full:expr, $tiny:expr, $control:expr) => {
        workload!($name, $full, $tiny, $control, None)
    };
    ($name:literal, $full:expr, $tiny:expr, $control:expr, $noinline:expr) => {
        Workload {
            name: $name,
            source: include_str!(concat!("../workloads/", $name, ".relon")),
            full: $full,
            tiny: $tiny,
            control: $control,
            control_noinline: $noinline,
        }
    };
}

/// Every workload, in report order.
pub fn workloads() -> Vec<Workload> {
    vec![
        workload!("sum_range", 10_000, 100, controls::sum_range),
        workload!("sum_map", 1_000, 100, controls::sum_map),
        workload!("fib", 30, 15, controls::fib),
        workload!("primes", 10_000, 200, controls::primes),
        workload!("mod_mix", 100_000, 1000, controls::mod_mix),
        workload!("lcg", 100_000, 1000, controls::lcg),
        workload!("branchy", 100_000, 1000, controls::branchy),
        workload!(
            "host_mix",
            100_000,
            1000,
            controls::host_mix,
            Some(controls::host_mix_noinline)
        ),
        workload!("float_reduce", 100_000, 1000, controls::float_reduce),
        workload!(
            "fused_map_reduce",
            100_000,
            1000,
            controls::fused_map_reduce
        ),
    ]
}

/// The Rust controls.
pub mod controls {
    use super::Answer;

    fn int(v: Option<i64>) -> Option<Answer> {
        v.map(Answer::Int)
    }

    /// `list.sum(range(n))`.
    pub fn sum_range(n: i64) -> Option<Answer> {
        int((0..n).try_fold(0i64, |acc, i| acc.checked_add(i)))
    }

    /// `list.sum(range(n).map((i) => (i + 1) * (i + 2)))`.
    pub fn sum_map(n: i64) -> Option<Answer> {
        int((0..n).try_fold(0i64, |acc, i| {
            acc.checked_add((i.checked_add(1)?).checked_mul(i.checked_add(2)?)?)
        }))
    }

    fn fib_rec(k: i64) -> Option<i64> {
        if k < 2 {
            Some(k)
        } else {
            fib_rec(k.checked_sub(1)?)?.checked_add(fib_rec(k.checked_sub(2)?)?)
        }
    }

    /// Recursive Fibonacci.
    pub fn fib(n: i64) -> Option<Answer> {
        int(fib_rec(n))
    }

    fn is_prime(k: i64, d: i64) -> Option<bool> {
        if d.checked_mul(d)? > k {
            Some(true)
        } else if k.checked_rem(d)? == 0 {
            Some(false)
        } else {
            is_prime(k, d.checked_add(1)?)
        }
    }

    /// Primes below `n` by recursive trial division.
    pub fn primes(n: i64) -> Option<Answer> {
        int((2..n).try_fold(0i64, |acc, i| {
            if is_prime(i, 2)? {
                acc.checked_add(1)
            } else {
                Some(acc)
            }
        }))
    }

    /// `range(n).reduce(0, (acc, i) => acc + (i % 7) * (i % 13))`.
    pub fn mod_mix(n: i64) -> Option<Answer> {
        int((0..n).try_fold(0i64, |acc, i| {
            acc.checked_add(i.checked_rem(7)?.checked_mul(i.checked_rem(13)?)?)
        }))
    }

    /// A linear congruential generator: a loop-carried dependency chain.
    pub fn lcg(n: i64) -> Option<Answer> {
        int((0..n).try_fold(42i64, |acc, _| {
            acc.checked_mul(1_103_515_245)?
                .checked_add(12_345)?
                .checked_rem(2_147_483_648)
        }))
    }

    /// A branch-dense reduce.
    pub fn branchy(n: i64) -> Option<Answer> {
        int((0..n).try_fold(0i64, |acc, i| {
            if i.checked_rem(3)? == 0 {
                acc.checked_add(i)
            } else if i.checked_rem(5)? == 0 {
                acc.checked_sub(i)
            } else {
                acc.checked_add(1)
            }
        }))
    }

    /// The example host crate's `mix`, written again for the control.
    #[inline(always)]
    fn mix_inline(acc: i64, i: i64) -> i64 {
        (acc.wrapping_mul(31).wrapping_add(i)).rem_euclid(1_000_003)
    }

    #[inline(never)]
    fn mix_noinline(acc: i64, i: i64) -> i64 {
        mix_inline(std::hint::black_box(acc), i)
    }

    /// A host function in the hot loop (inlined).
    pub fn host_mix(n: i64) -> Option<Answer> {
        int(Some((0..n).fold(0i64, mix_inline)))
    }

    /// The same, with the host function behind a call that is never inlined.
    pub fn host_mix_noinline(n: i64) -> Option<Answer> {
        int(Some((0..n).fold(0i64, mix_noinline)))
    }

    /// A Float reduce.
    pub fn float_reduce(n: i64) -> Option<Answer> {
        Some(Answer::Float(
            (0..n).fold(0.0f64, |acc, i| acc * 0.999 + i as f64 * 0.5),
        ))
    }

    /// A fused map + reduce.
    pub fn fused_map_reduce(n: i64) -> Option<Answer> {
        int((0..n).try_fold(0i64, |acc, i| {
            acc.checked_add(i.checked_mul(3)?.checked_add(1)?.checked_rem(1000)?)
        }))
    }
}
