//! A trap of compiled code as the `relon_eval_api::RuntimeError` the
//! tree-walk evaluator raises for the same input: one table, used by the
//! JIT evaluator and by programs embedded in a Rust crate.

use relon_eval_api::RuntimeError;
use relon_parser::{TokenPosition, TokenRange};
use relon_runtime_contract::{TrapCode, TrapSite};

use crate::arena::SCRATCH_BYTES;

/// What the run was allowed, for the limit named in the error.
#[derive(Debug, Clone, Copy)]
pub struct TrapLimits {
    /// The step budget, if one was set.
    pub fuel: Option<u64>,
    /// The depth limit.
    pub max_depth: u64,
}

/// The error for trap `code` at `site` (its source position, when known).
/// A `HostError` trap becomes `host_error` when the embedding kept the host
/// function's own error (open world), or a `ValidationError` carrying the
/// message a fallible host function reported (closed world).
pub fn trap_error(
    code: u32,
    site: Option<TrapSite>,
    limits: TrapLimits,
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
