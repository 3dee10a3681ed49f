//! Zero tests that a Float's lower bound decides, folded after O3.
//!
//! Relon's `/` on Floats stops with `DivisionByZero` when the divisor is
//! zero, so every Float division is guarded by `fcmp oeq %divisor, 0.0`.
//! Many divisors cannot be zero by construction: a softened squared
//! distance `dx*dx + dy*dy + 0.01`, its square root, their product.
//! LLVM's floating-point class analysis tracks signs and zeros, not
//! magnitudes, so it cannot see that such a sum stays at 0.01 or above,
//! nor that a product of two values bounded away from zero cannot
//! underflow to zero. This pass can. Once O3 has inlined the program's
//! helpers, it walks the definition of each value tested against zero
//! and derives a bound `L` such that the value is NaN or at least `L`.
//! When `L > 0` the value is never zero: `oeq 0.0` is false and `une 0.0`
//! is true. The caller runs O3 again when anything was folded, so the
//! trap paths left unreachable are gone before registers are allocated.
//!
//! Soundness rests on IEEE 754 rounding being monotone: if `x >= a` and
//! `y >= b` then `fl(x + y) >= fl(a + b)`; with `a, b >= 0` also
//! `fl(x * y) >= fl(a * b)` and `fl(sqrt x) >= fl(sqrt a)`. The bounds
//! are computed in the same f64 arithmetic, rounding to nearest, so an
//! underflowing product gets the bound 0 and proves nothing. A NaN
//! operand gives a NaN, which is never equal to zero. Anything the walk
//! does not know (a load, a phi, an argument, a call other than `sqrt` or
//! `fabs`, a subtraction of a non-constant) has no bound, and the test
//! is kept.

use inkwell::FloatPredicate;
use inkwell::module::Module;
use inkwell::values::{
    AsValueRef, BasicValue, BasicValueEnum, CallSiteValue, FloatValue, InstructionOpcode,
    InstructionValue, IntValue, Operand,
};

/// How deep the walk follows a value's operands.
const MAX_DEPTH: u32 = 32;

/// Per lane of a value (one lane for a scalar): a bound `L` such that the
/// lane is NaN or at least `L`, or `None` if none is known.
type Bounds = Vec<Option<f64>>;

/// Fold every `fcmp oeq x, 0.0` (to false) and `fcmp une x, 0.0` (to
/// true) of a scalar `x` proven NaN or positive; returns how many.
pub fn fold_decided_zero_tests(module: &Module<'_>) -> usize {
    let answer_type = module.get_context().bool_type();
    let mut folded = 0;
    for function in module.get_functions() {
        for block in function.get_basic_blocks() {
            let mut next = block.get_first_instruction();
            while let Some(instruction) = next {
                next = instruction.get_next_instruction();
                let Some(answer) = decided_zero_test(instruction) else {
                    continue;
                };
                let Ok(test) = IntValue::try_from(instruction) else {
                    continue;
                };
                test.replace_all_uses_with(answer_type.const_int(u64::from(answer), false));
                instruction.erase_from_basic_block();
                folded += 1;
            }
        }
    }
    folded
}

/// What `instruction` answers, if it compares a scalar proven NaN or
/// positive with zero for (ordered) equality or (unordered) inequality.
fn decided_zero_test(instruction: InstructionValue<'_>) -> Option<bool> {
    if instruction.get_opcode() != InstructionOpcode::FCmp {
        return None;
    }
    let answer = match instruction.get_fcmp_predicate()? {
        FloatPredicate::OEQ => false,
        FloatPredicate::UNE => true,
        _ => return None,
    };
    let scalar = |index| match instruction.get_operand(index)? {
        Operand::Value(BasicValueEnum::FloatValue(value)) => Some(value),
        _ => None,
    };
    let (left, right) = (scalar(0)?, scalar(1)?);
    let tested = match (constant(left), constant(right)) {
        // A float pattern compares with `==`: -0.0 matches too.
        (_, Some(0.0)) => left,
        (Some(0.0), _) => right,
        _ => return None,
    };
    let [Some(bound)] = bounds(tested.into(), 0)[..] else {
        return None;
    };
    (bound > 0.0).then_some(answer)
}

/// The lane bounds of `value`, a Float or a vector of Floats.
fn bounds(value: BasicValueEnum<'_>, depth: u32) -> Bounds {
    let lanes = match value {
        BasicValueEnum::FloatValue(_) => 1,
        BasicValueEnum::VectorValue(v) if v.get_type().get_element_type().is_float_type() => {
            v.get_type().get_size() as usize
        }
        _ => return Vec::new(),
    };
    let known = match value {
        BasicValueEnum::FloatValue(v) if v.is_const() => vec![constant(v)],
        BasicValueEnum::VectorValue(v) if v.is_const() => constant_lanes(v, lanes as u32),
        _ => match value.as_instruction_value() {
            Some(instruction) if depth < MAX_DEPTH => derived(instruction, depth + 1),
            _ => Vec::new(),
        },
    };
    if known.len() != lanes {
        return vec![None; lanes];
    }
    known
        .into_iter()
        .map(|lane| lane.filter(|b| !b.is_nan()))
        .collect()
}

/// The lane bounds of the value `instruction` computes, from its operands'.
fn derived(instruction: InstructionValue<'_>, depth: u32) -> Bounds {
    let operand = |index| match instruction.get_operand(index) {
        Some(Operand::Value(value)) => Some(value),
        _ => None,
    };
    let of = |index| operand(index).map_or_else(Vec::new, |v| bounds(v, depth));
    let lane_wise = |f: &dyn Fn(f64, f64) -> Option<f64>| -> Bounds {
        of(0)
            .into_iter()
            .zip(of(1))
            .map(|(a, b)| f(a?, b?))
            .collect()
    };
    let lane_index = |index| match operand(index) {
        Some(BasicValueEnum::IntValue(i)) => i.get_zero_extended_constant(),
        _ => None,
    };
    let constant_operand = |index| {
        operand(index)
            .filter(|v| v.is_const())
            .map_or_else(Vec::new, |v| bounds(v, depth))
    };
    match instruction.get_opcode() {
        InstructionOpcode::FAdd => lane_wise(&|a, b| Some(a + b)),
        InstructionOpcode::FSub => of(0)
            .into_iter()
            .zip(constant_operand(1))
            .map(|(a, c)| Some(a? - c?))
            .collect(),
        InstructionOpcode::FMul if operand(0) == operand(1) => {
            // A square: never below zero; above the square of a positive bound.
            of(0)
                .into_iter()
                .map(|a| Some(a.filter(|a| *a > 0.0).map_or(0.0, |a| a * a)))
                .collect()
        }
        InstructionOpcode::FMul => lane_wise(&|a, b| (a >= 0.0 && b >= 0.0).then_some(a * b)),
        InstructionOpcode::FDiv => of(0)
            .into_iter()
            .zip(constant_operand(1))
            .map(|(a, c)| {
                let (a, c) = (a?, c?);
                (a >= 0.0 && c > 0.0).then_some(a / c)
            })
            .collect(),
        InstructionOpcode::Select => of(1)
            .into_iter()
            .zip(of(2))
            .map(|(a, b)| Some(a?.min(b?)))
            .collect(),
        InstructionOpcode::UIToFP => vec![Some(0.0); lane_count(instruction)],
        InstructionOpcode::ExtractElement => {
            let lanes = of(0);
            match lane_index(1) {
                Some(index) => vec![lanes.get(index as usize).copied().flatten()],
                None => vec![
                    lanes
                        .iter()
                        .copied()
                        .reduce(|a, b| Some(a?.min(b?)))
                        .flatten(),
                ],
            }
        }
        InstructionOpcode::InsertElement => {
            let (mut lanes, lane) = (of(0), of(1));
            match (
                lane_index(2).and_then(|i| lanes.get_mut(i as usize)),
                lane.first(),
            ) {
                (Some(slot), Some(bound)) => *slot = *bound,
                _ => return Vec::new(),
            }
            lanes
        }
        InstructionOpcode::ShuffleVector => {
            let (first, second) = (of(0), of(1));
            shuffle_mask(instruction)
                .into_iter()
                .map(|pick| {
                    let pick = usize::try_from(pick).ok()?;
                    match pick.checked_sub(first.len()) {
                        None => first[pick],
                        Some(i) => second.get(i).copied().flatten(),
                    }
                })
                .collect()
        }
        InstructionOpcode::Call => {
            let Some(name) = CallSiteValue::try_from(instruction)
                .ok()
                .and_then(|call| call.get_called_fn_value())
                .map(|callee| callee.get_name().to_bytes().to_vec())
            else {
                return Vec::new();
            };
            if name.starts_with(b"llvm.sqrt.") {
                // NaN, -0.0 or at least the root of a positive bound.
                of(0)
                    .into_iter()
                    .map(|a| Some(a.filter(|a| *a > 0.0).map_or(0.0, f64::sqrt)))
                    .collect()
            } else if name.starts_with(b"llvm.fabs.") {
                of(0)
                    .into_iter()
                    .map(|a| Some(a.map_or(0.0, |a| a.max(0.0))))
                    .collect()
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// How many lanes the value of `instruction` has (1 for a scalar).
fn lane_count(instruction: InstructionValue<'_>) -> usize {
    match instruction.get_type() {
        inkwell::types::AnyTypeEnum::VectorType(v) => v.get_size() as usize,
        _ => 1,
    }
}

/// The lanes a `shufflevector` picks from its operands laid end to end,
/// negative for a poison lane.
fn shuffle_mask(instruction: InstructionValue<'_>) -> Vec<i64> {
    let shuffle = instruction.as_value_ref();
    // SAFETY: `shuffle` is a live `shufflevector` instruction (the caller
    // matched its opcode); both calls only read its mask.
    unsafe {
        let lanes = llvm_sys::core::LLVMGetNumMaskElements(shuffle);
        (0..lanes)
            .map(|i| i64::from(llvm_sys::core::LLVMGetMaskValue(shuffle, i)))
            .collect()
    }
}

/// The value of a Float constant (not `undef` or `poison`, and not NaN).
fn constant(value: FloatValue<'_>) -> Option<f64> {
    fp_constant(value.as_value_ref())
}

/// The value of `value` if it is an LLVM `ConstantFP` other than NaN.
fn fp_constant(value: llvm_sys::prelude::LLVMValueRef) -> Option<f64> {
    let mut lossy = 0;
    // SAFETY: `value` is a live value of the module being folded (or
    // null, which both calls are spared); `LLVMIsAConstantFP` only checks
    // its kind, and `LLVMConstRealGetDouble` reads it once it is known to
    // be a `ConstantFP`.
    let c = unsafe {
        if value.is_null() || llvm_sys::core::LLVMIsAConstantFP(value).is_null() {
            return None;
        }
        llvm_sys::core::LLVMConstRealGetDouble(value, &mut lossy)
    };
    (!c.is_nan()).then_some(c)
}

/// The lanes of a constant vector of Floats (`None` for a lane that is
/// not a plain Float constant: `undef`, `poison`, an expression).
fn constant_lanes(vector: inkwell::values::VectorValue<'_>, lanes: u32) -> Bounds {
    (0..lanes)
        .map(|i| {
            // SAFETY: `vector` is a live constant of the module being
            // folded and `i` is below its lane count; the call returns the
            // lane's constant, or null when it cannot.
            let lane = unsafe { llvm_sys::core::LLVMGetAggregateElement(vector.as_value_ref(), i) };
            fp_constant(lane)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;

    use super::*;

    /// Parse `body` as the function `@f(double %x, double %y)` returning
    /// the i1 `%t`, fold, and say what `@f` returns afterwards.
    fn folded(body: &str) -> Option<bool> {
        let text = format!(
            "declare double @llvm.sqrt.f64(double)\n\
             declare double @llvm.fabs.f64(double)\n\
             define i1 @f(double %x, double %y, i64 %n, i1 %c) {{\n{body}\n  ret i1 %t\n}}\n"
        );
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "t");
        let module = context.create_module_from_ir(buffer).expect("valid IR");
        let count = fold_decided_zero_tests(&module);
        let f = module.get_function("f").expect("@f");
        let ret = f
            .get_last_basic_block()
            .and_then(|b| b.get_terminator())
            .expect("a return");
        let answer = match ret.get_operand(0) {
            Some(Operand::Value(BasicValueEnum::IntValue(v))) if v.is_const() => {
                v.get_zero_extended_constant().map(|c| c == 1)
            }
            _ => None,
        };
        assert_eq!(count, usize::from(answer.is_some()), "{body}");
        answer
    }

    const SOFTENED: &str = "  %xx = fmul double %x, %x\n  %yy = fmul double %y, %y\n  \
                            %s = fadd double %xx, %yy\n  %d = fadd double %s, 1.000000e-02\n";

    #[test]
    fn a_softened_squared_distance_its_root_and_their_product_are_never_zero() {
        assert_eq!(
            folded(&format!(
                "{SOFTENED}  %t = fcmp oeq double %d, 0.000000e+00"
            )),
            Some(false)
        );
        assert_eq!(
            folded(&format!(
                "{SOFTENED}  %r = call double @llvm.sqrt.f64(double %d)\n  \
                 %p = fmul double %r, %d\n  %t = fcmp oeq double %p, 0.000000e+00"
            )),
            Some(false)
        );
        assert_eq!(
            folded(&format!(
                "{SOFTENED}  %t = fcmp une double 0.000000e+00, %d"
            )),
            Some(true)
        );
    }

    #[test]
    fn values_that_can_be_zero_keep_their_test() {
        // A sum of squares without the softening term: 0 at the origin.
        assert_eq!(
            folded(
                "  %xx = fmul double %x, %x\n  %yy = fmul double %y, %y\n  \
                 %s = fadd double %xx, %yy\n  %t = fcmp oeq double %s, 0.000000e+00"
            ),
            None
        );
        // Positive factors whose product underflows to zero.
        assert_eq!(
            folded(
                "  %a = call double @llvm.fabs.f64(double %x)\n  \
                 %b = fadd double %a, 1.000000e-200\n  %p = fmul double %b, 1.000000e-200\n  \
                 %t = fcmp oeq double %p, 0.000000e+00"
            ),
            None
        );
        // Bounded below by a positive value, then shifted back to zero.
        assert_eq!(
            folded(&format!(
                "{SOFTENED}  %m = fsub double %d, 1.000000e-02\n  \
                 %t = fcmp oeq double %m, 0.000000e+00"
            )),
            None
        );
        // An argument, an ordered-greater test, a select with an unknown arm.
        assert_eq!(folded("  %t = fcmp oeq double %x, 0.000000e+00"), None);
        assert_eq!(
            folded(&format!(
                "{SOFTENED}  %t = fcmp ogt double %d, 0.000000e+00"
            )),
            None
        );
        assert_eq!(
            folded(&format!(
                "{SOFTENED}  %v = select i1 %c, double %d, double %y\n  \
                 %t = fcmp oeq double %v, 0.000000e+00"
            )),
            None
        );
        // An Int converted with its sign can be zero, and so can a product with a square.
        assert_eq!(
            folded(
                "  %i = sitofp i64 %n to double\n  %u = uitofp i64 %n to double\n  \
                 %w = fadd double %u, 2.500000e-01\n  %p = fmul double %w, %i\n  \
                 %t = fcmp oeq double %p, 0.000000e+00"
            ),
            None
        );
    }

    #[test]
    fn bounds_follow_each_lane_through_vector_code() {
        // What the SLP vectorizer makes of `dx*dx + dy*dy + 0.01`.
        let vector = "  %v0 = insertelement <2 x double> poison, double %x, i64 0\n  \
                      %v = insertelement <2 x double> %v0, double %y, i64 1\n  \
                      %sq = fmul <2 x double> %v, %v\n  \
                      %shift = shufflevector <2 x double> %sq, <2 x double> poison, <2 x i32> <i32 1, i32 poison>\n  \
                      %sum = fadd <2 x double> %sq, %shift\n";
        assert_eq!(
            folded(&format!(
                "{vector}  %s = extractelement <2 x double> %sum, i64 0\n  \
                 %d = fadd double %s, 1.000000e-02\n  %t = fcmp oeq double %d, 0.000000e+00"
            )),
            Some(false)
        );
        // Lane 1 of the sum holds a poison lane of the shuffle: no bound.
        assert_eq!(
            folded(&format!(
                "{vector}  %p = fadd <2 x double> %sum, <double 1.000000e-02, double 1.000000e-02>\n  \
                 %s = extractelement <2 x double> %p, i64 1\n  \
                 %t = fcmp oeq double %s, 0.000000e+00"
            )),
            None
        );
        // A lane set from an unknown scalar keeps no bound.
        assert_eq!(
            folded(
                "  %v = insertelement <2 x double> <double 1.0, double 1.0>, double %x, i64 1\n  \
                 %s = extractelement <2 x double> %v, i64 1\n  \
                 %t = fcmp oeq double %s, 0.000000e+00"
            ),
            None
        );
    }

    #[test]
    fn conversions_selects_and_constant_quotients_carry_their_bounds() {
        assert_eq!(
            folded(
                "  %u = uitofp i64 %n to double\n  %w = fadd double %u, 2.500000e-01\n  \
                 %q = fdiv double %w, 4.000000e+00\n  %v = select i1 %c, double %q, double 1.0\n  \
                 %t = fcmp oeq double %v, 0.000000e+00"
            ),
            Some(false)
        );
    }
}
