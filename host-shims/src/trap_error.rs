//! A trap of compiled code as the `relon_eval_api::RuntimeError` the
//! tree-walk evaluator raises for the same input: one table, used by the
//! JIT evaluator and by programs embedded in a Rust crate.

use relon_eval_api::RuntimeError;
use relon_parser::{TokenPosition, TokenRange};
use relon_runtime_contract::{TrapCode, TrapSite};

use crate::arena::SCRATCH_BYTES;
use crate::args::{DEFAULT_MAX_DEPTH, Limits};

/// What one in-process call may use (the JIT, embedded programs); the
/// error for a limit names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Step budget (one step per function entry or loop iteration); `None`
    /// runs the entry that does not count.
    pub fuel: Option<u64>,
    /// Calls nested deeper than this stop with `RecursionLimitExceeded`.
    pub max_depth: u64,
}

impl RunLimits {
    /// No step budget, the executable's default depth limit.
    pub const DEFAULT: RunLimits = RunLimits {
        fuel: None,
        max_depth: DEFAULT_MAX_DEPTH,
    };

    /// The limits as the entry's state takes them (no budget: `u64::MAX`).
    pub fn entry_limits(&self) -> Limits {
        Limits {
            fuel: self.fuel.unwrap_or(u64::MAX),
            max_depth: self.max_depth,
        }
    }
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits::DEFAULT
    }
}

/// The error for trap `code` at `site` (its source position, when known).
/// A `HostError` trap becomes `host_error` when the embedding kept the host
/// function's own error (open world), or a `ValidationError` carrying the
/// message a fallible host function reported (closed world).
pub fn trap_error(
    code: u32,
    site: Option<TrapSite>,
    limits: RunLimits,
    host_error: Option<RuntimeError>,
    host_failure: Option<&str>,
) -> RuntimeError {
    let range = site.map_or_else(TokenRange::default, |s| {
        let at = TokenPosition {
            line: s.line,
            column: s.column as usize,
            offset: 0,
        };
        TokenRange { start: at, end: at }
    });
    match TrapCode::from_u32(code) {
        Some(TrapCode::NumericOverflow) => RuntimeError::NumericOverflow(range),
        Some(TrapCode::DivisionByZero) => RuntimeError::DivisionByZero(range),
        Some(TrapCode::IndexOutOfBounds) => RuntimeError::IndexOutOfBounds { range },
        Some(TrapCode::EmptyList) => RuntimeError::TypeMismatch {
            expected: "non-empty list".into(),
            found: "empty list".into(),
            range,
        },
        Some(TrapCode::InvalidUtf8) => RuntimeError::ValidationError("invalid UTF-8".into(), range),
        Some(TrapCode::NoMatch) => RuntimeError::TypeMismatch {
            expected: "a matching arm".into(),
            found: "no matching arm".into(),
            range,
        },
        Some(TrapCode::StepLimitExceeded) => RuntimeError::StepLimitExceeded {
            limit: limits.fuel,
            range,
        },
        Some(TrapCode::CapabilityDenied) => RuntimeError::CapabilityDenied {
            cap_bit: None,
            reason: "a host function needs a capability that was not granted".into(),
            range,
        },
        Some(TrapCode::RecursionLimitExceeded) => RuntimeError::RecursionLimitExceeded {
            limit: limits.max_depth as usize,
            range,
        },
        Some(TrapCode::ScratchExhausted) => RuntimeError::ValueTooLarge {
            limit: SCRATCH_BYTES,
            actual: SCRATCH_BYTES + 1,
            range,
        },
        Some(TrapCode::HostError) => match (host_error, host_failure) {
            (Some(error), _) => error,
            (None, Some(message)) => {
                RuntimeError::ValidationError(format!("a host function failed: {message}"), range)
            }
            (None, None) => RuntimeError::Unsupported {
                reason: "a host function failed".into(),
            },
        },
        Some(TrapCode::IndexPastEnd) => {
            RuntimeError::VariableNotFound("list index past the end".into(), range)
        }
        Some(TrapCode::NegativeIndex) => RuntimeError::TypeMismatch {
            expected: "Index".into(),
            found: "negative Int".into(),
            range,
        },
        None => RuntimeError::Unsupported {
            reason: format!("unknown trap code {code}"),
        },
    }
}
