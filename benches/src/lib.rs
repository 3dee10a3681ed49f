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
    /// Name (a workload may run one program at several sizes).
    pub name: &'static str,
    /// Stem of its files: `workloads/STEM.relon`, `lua/workloads/STEM.lua`.
    pub file: &'static str,
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
        workload!($name from $name, $full, $tiny, $control, $noinline)
    };
    ($name:literal from $file:literal, $full:expr, $tiny:expr, $control:expr, $noinline:expr) => {
        Workload {
            name: $name,
            file: $file,
            source: include_str!(concat!("../workloads/", $file, ".relon")),
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
        workload!("list_sum", 100_000, 1000, controls::list_sum),
        workload!("quicksort", 1000, 50, controls::quicksort),
        workload!("binary_search", 1000, 50, controls::binary_search),
        workload!("sieve", 10_000, 200, controls::sieve),
        workload!("matmul16" from "matmul", 16, 4, controls::matmul, None),
        workload!("matmul64" from "matmul", 64, 8, controls::matmul, None),
        workload!("nbody", 1000, 10, controls::nbody),
        workload!("trivial", 41, 41, controls::trivial),
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

    /// `n + 1`. Not a compute workload: its binary row is the cost of the
    /// marshalling around one call (the row-caliber goal), and its
    /// kernel ratio is a call through `relon_entry` against an inlined add.
    pub fn trivial(n: i64) -> Option<Answer> {
        int(n.checked_add(1))
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

    /// `list.sum` of a materialized `List<Int>` of `n` elements.
    pub fn list_sum(n: i64) -> Option<Answer> {
        let xs = (0..n)
            .map(|i| i.checked_mul(7)?.checked_rem(1000))
            .collect::<Option<Vec<i64>>>()?;
        int(xs.iter().try_fold(0i64, |acc, &x| acc.checked_add(x)))
    }

    fn filtered(xs: &[i64], keep: impl Fn(i64) -> bool) -> Vec<i64> {
        xs.iter().copied().filter(|&x| keep(x)).collect()
    }

    /// The workload's functional quicksort, pass for pass: the rank-weighted
    /// sum of `xs` sorted, ranks counted from `off + 1`.
    fn qs(xs: &[i64], off: i64) -> Option<i64> {
        let Some(&p) = xs.first() else {
            return Some(0);
        };
        let left = qs(&filtered(xs, |x| x < p), off)?;
        let equal = filtered(xs, |x| x == p).len() as i64;
        let less = filtered(xs, |x| x < p).len() as i64;
        let equal_again = filtered(xs, |x| x == p).len() as i64;
        let equal_third = filtered(xs, |x| x == p).len() as i64;
        let weight = equal
            .checked_mul(off.checked_add(less)?.checked_add(1)?)?
            .checked_add(equal_again.checked_mul(equal_third.checked_sub(1)?)? / 2)?;
        let middle = p.checked_mul(weight)?;
        let at_most = filtered(xs, |x| x <= p).len() as i64;
        let right = qs(&filtered(xs, |x| x > p), off.checked_add(at_most)?)?;
        left.checked_add(middle)?.checked_add(right)
    }

    /// Quicksort of `n` LCG Ints.
    pub fn quicksort(n: i64) -> Option<Answer> {
        let arr = (0..n)
            .map(|i| {
                i.checked_add(42)?
                    .checked_mul(1_103_515_245)?
                    .checked_add(12_345)?
                    .checked_rem(65_536)
            })
            .collect::<Option<Vec<i64>>>()?;
        int(qs(&arr, 0))
    }

    fn find(xs: &[i64], k: i64, lo: i64, hi: i64) -> Option<i64> {
        if lo > hi {
            return Some(-1);
        }
        let mid = lo.checked_add(hi)? / 2;
        let at = *xs.get(usize::try_from(mid).ok()?)?;
        if at == k {
            Some(mid)
        } else if at < k {
            find(xs, k, mid.checked_add(1)?, hi)
        } else {
            find(xs, k, lo, mid.checked_sub(1)?)
        }
    }

    /// 100 binary searches in a sorted list of `n` Ints.
    pub fn binary_search(n: i64) -> Option<Answer> {
        let xs = (0..n)
            .map(|i| i.checked_mul(3)?.checked_add(i.checked_rem(2)?))
            .collect::<Option<Vec<i64>>>()?;
        let modulus = n.checked_mul(3)?.checked_add(3)?;
        int((0..100i64).try_fold(0i64, |acc, q| {
            let key = q.checked_mul(7919)?.checked_add(1)?.checked_rem(modulus)?;
            acc.checked_add(find(&xs, key, 0, n.checked_sub(1)?)?)
        }))
    }

    /// The workload's sieve: a 0/1 flag list rebuilt for each prime below 101.
    pub fn sieve(n: i64) -> Option<Answer> {
        let len = usize::try_from(n.checked_add(1)?).ok()?;
        let mut flags: Vec<i64> = (0..len).map(|i| i64::from(i >= 2)).collect();
        for p in 2..101usize {
            if *flags.get(p)? == 1 {
                let square = p.checked_mul(p)?;
                flags = (0..len)
                    .map(|i| i64::from(flags[i] == 1 && (i < square || i % p != 0)))
                    .collect();
            }
        }
        int(Some(flags.iter().filter(|&&f| f == 1).count() as i64))
    }

    /// `n` x `n` Int matrix product, answered as a checksum.
    pub fn matmul(n: i64) -> Option<Answer> {
        let size = usize::try_from(n).ok()?;
        let a: Vec<Vec<i64>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| i.checked_mul(j)?.checked_add(1)?.checked_rem(7))
                    .collect()
            })
            .collect::<Option<_>>()?;
        let b: Vec<Vec<i64>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| i.checked_add(j.checked_mul(2)?)?.checked_rem(5))
                    .collect()
            })
            .collect::<Option<_>>()?;
        let c: Vec<Vec<i64>> = (0..size)
            .map(|i| {
                (0..size)
                    .map(|j| {
                        (0..size).try_fold(0i64, |acc, k| {
                            acc.checked_add(a[i][k].checked_mul(b[k][j])?)
                        })
                    })
                    .collect()
            })
            .collect::<Option<_>>()?;
        int((0..size * size).try_fold(0i64, |acc, t| {
            acc.checked_mul(31)?
                .checked_add(c[t / size][t % size])?
                .checked_rem(1_000_000_007)
        }))
    }

    const DT: f64 = 0.001;
    const MASSES: [f64; 4] = [10.0, 0.1, 0.2, 0.05];

    fn d2(s: &[f64; 16], i: usize, j: usize) -> f64 {
        let dx = s[4 * j] - s[4 * i];
        let dy = s[4 * j + 1] - s[4 * i + 1];
        dx * dx + dy * dy + 0.01
    }

    /// Acceleration of body `i` along axis `c`, term by term in the
    /// workload's order.
    fn acceleration(s: &[f64; 16], i: usize, c: usize) -> f64 {
        let mut acc = 0.0;
        for (j, m) in MASSES.iter().enumerate() {
            acc += if i == j {
                0.0
            } else {
                m * (s[4 * j + c] - s[4 * i + c]) * (1.0 / (d2(s, i, j).sqrt() * d2(s, i, j)))
            };
        }
        acc
    }

    /// Four bodies, `n` steps of 0.001: total energy plus two coordinates.
    pub fn nbody(n: i64) -> Option<Answer> {
        let mut s: [f64; 16] = [
            0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 3.0, -2.0, 0.5, 0.2, -2.0, 0.0, 3.0, -1.5, 0.1,
        ];
        for _ in 0..n {
            let mut next = [0.0; 16];
            for i in 0..4 {
                let vx = s[4 * i + 2] + acceleration(&s, i, 0) * DT * 1.0;
                let vy = s[4 * i + 3] + acceleration(&s, i, 1) * DT * 1.0;
                next[4 * i] = s[4 * i] + vx * DT;
                next[4 * i + 1] = s[4 * i + 1] + vy * DT;
                next[4 * i + 2] = vx;
                next[4 * i + 3] = vy;
            }
            s = next;
        }
        let mut energy = 0.0;
        for (i, m) in MASSES.iter().enumerate() {
            energy += 0.5 * m * (s[4 * i + 2] * s[4 * i + 2] + s[4 * i + 3] * s[4 * i + 3]);
        }
        for (i, j) in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)] {
            energy += 0.0 - MASSES[i] * MASSES[j] / d2(&s, i, j).sqrt();
        }
        Some(Answer::Float(energy + s[0] * 0.001 + s[5] * 0.002))
    }
}
