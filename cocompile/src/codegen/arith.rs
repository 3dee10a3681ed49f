//! Numbers: checked signed Int arithmetic, wrapping i32 address math,
//! IEEE Float arithmetic, comparisons, conversions and float intrinsics.
//!
//! Int `+ - *` trap on overflow, `/ %` trap on a zero divisor and on
//! `i64::MIN / -1`; Float `/ %` trap on a zero divisor, as tree-walk does.
//! An Int division by a divisor that is not a constant runs on the float
//! divider while the dividend is below 2^53 in magnitude, where that is
//! exact (see `int_divide_through_float`).
//! Nothing here ever wraps a user-visible Int.

use inkwell::values::{BasicValueEnum, FloatValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};
use relon_ir::ir::{F64UnaryOp, IrType, Op};
use relon_runtime_contract::TrapCode;

use super::CodegenError;
use super::func::FuncEmitter;

impl<'m, 'ctx, 'ir> FuncEmitter<'m, 'ctx, 'ir> {
    /// `Add`/`Sub`/`Mul`/`Div`/`Mod`/`BitAnd` on the tagged type.
    pub(crate) fn binary(&mut self, op: &Op, ty: IrType) -> Result<(), CodegenError> {
        let rhs = self.pop()?;
        let lhs = self.pop()?;
        let result = match (lhs, rhs) {
            (BasicValueEnum::FloatValue(a), BasicValueEnum::FloatValue(b)) => {
                self.float_binary(op, a, b)?.into()
            }
            (BasicValueEnum::IntValue(a), BasicValueEnum::IntValue(b)) if ty == IrType::I64 => {
                self.checked_int_binary(op, a, b)?.into()
            }
            (BasicValueEnum::IntValue(a), BasicValueEnum::IntValue(b)) => {
                let a = self.to_i32(a)?;
                let b = self.to_i32(b)?;
                self.wrapping_int_binary(op, a, b)?.into()
            }
            (a, b) => {
                return Err(self.malformed(format!(
                    "{} on mismatched operands {a:?} and {b:?}",
                    super::op_name(op)
                )));
            }
        };
        self.push(result);
        Ok(())
    }

    fn checked_int_binary(
        &mut self,
        op: &Op,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let i64t = self.m.ctx.i64_type();
        match op {
            Op::Add(_) => self.with_overflow("llvm.sadd.with.overflow", a, b),
            Op::Sub(_) => self.with_overflow("llvm.ssub.with.overflow", a, b),
            Op::Mul(_) => self.with_overflow("llvm.smul.with.overflow", a, b),
            Op::Div(_) | Op::Mod(_) => {
                let builder = &self.m.builder;
                let zero = builder.build_int_compare(
                    IntPredicate::EQ,
                    b,
                    i64t.const_zero(),
                    "div_zero",
                )?;
                self.trap_if(zero, TrapCode::DivisionByZero)?;
                let builder = &self.m.builder;
                let is_min = builder.build_int_compare(
                    IntPredicate::EQ,
                    a,
                    i64t.const_int(i64::MIN as u64, false),
                    "is_min",
                )?;
                let is_neg1 = builder.build_int_compare(
                    IntPredicate::EQ,
                    b,
                    i64t.const_all_ones(),
                    "is_neg1",
                )?;
                let overflow = builder.build_and(is_min, is_neg1, "div_overflow")?;
                self.trap_if(overflow, TrapCode::NumericOverflow)?;
                if b.is_const() {
                    // LLVM divides by a constant with a multiply.
                    let builder = &self.m.builder;
                    return Ok(if matches!(op, Op::Div(_)) {
                        builder.build_int_signed_div(a, b, "div")?
                    } else {
                        builder.build_int_signed_rem(a, b, "rem")?
                    });
                }
                self.int_divide_through_float(matches!(op, Op::Div(_)), a, b)
            }
            Op::BitAnd(_) => Ok(self.m.builder.build_and(a, b, "and")?),
            other => Err(self.unsupported(other)),
        }
    }

    /// `a / b` (or `a % b`) for a divisor that is not a constant, `b != 0`
    /// and not `i64::MIN / -1`. While `|a| < 2^53` the quotient is
    /// `trunc(a as f64 / b as f64)`, exactly: `a / b` is at least `1/|b|`
    /// away from the next integer, more than the division's rounding error
    /// (`|a / b| · 2^-53 < 1/|b|`), and a `b` too large to convert exactly
    /// still gives a quotient below 1 in magnitude. The float divider is
    /// pipelined where the integer one is not, and the range check is on
    /// the dividend only, which a loop trying divisors keeps fixed.
    /// Other dividends take `sdiv`/`srem`.
    fn int_divide_through_float(
        &mut self,
        quotient: bool,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        const EXACT: u64 = (1 << 53) - 1;
        let ctx = self.m.ctx;
        let i64t = ctx.i64_type();
        let f64t = ctx.f64_type();
        let builder = &self.m.builder;
        let shifted = builder.build_int_add(a, i64t.const_int(EXACT, false), "div_dividend")?;
        let fits = builder.build_int_compare(
            IntPredicate::ULE,
            shifted,
            i64t.const_int(2 * EXACT, false),
            "div_exact_in_float",
        )?;
        let float_bb = ctx.append_basic_block(self.function, "div_float");
        let int_bb = ctx.append_basic_block(self.function, "div_int");
        let end_bb = ctx.append_basic_block(self.function, "div_end");
        builder.build_conditional_branch(fits, float_bb, int_bb)?;

        builder.position_at_end(float_bb);
        let fa = builder.build_signed_int_to_float(a, f64t, "div_fa")?;
        let fb = builder.build_signed_int_to_float(b, f64t, "div_fb")?;
        let fq = builder.build_float_div(fa, fb, "div_fq")?;
        let q = builder.build_float_to_signed_int(fq, i64t, "div_q")?;
        let float_result = if quotient {
            q
        } else {
            let qb = builder.build_int_mul(q, b, "div_qb")?;
            builder.build_int_sub(a, qb, "div_r")?
        };
        builder.build_unconditional_branch(end_bb)?;

        builder.position_at_end(int_bb);
        let int_result = if quotient {
            builder.build_int_signed_div(a, b, "div")?
        } else {
            builder.build_int_signed_rem(a, b, "rem")?
        };
        builder.build_unconditional_branch(end_bb)?;

        builder.position_at_end(end_bb);
        let phi = builder.build_phi(i64t, if quotient { "div" } else { "rem" })?;
        phi.add_incoming(&[(&float_result, float_bb), (&int_result, int_bb)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    fn with_overflow(
        &mut self,
        intrinsic: &str,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let pair = self
            .call_intrinsic(
                intrinsic,
                &[self.m.ctx.i64_type().into()],
                &[a.into(), b.into()],
            )?
            .into_struct_value();
        let value = self
            .m
            .builder
            .build_extract_value(pair, 0, "value")?
            .into_int_value();
        let overflow = self
            .m
            .builder
            .build_extract_value(pair, 1, "overflow")?
            .into_int_value();
        self.trap_if(overflow, TrapCode::NumericOverflow)?;
        Ok(value)
    }

    /// i32 address and length math: wrapping, like the IR's wasm origin;
    /// division is guarded so it is never undefined behaviour.
    fn wrapping_int_binary(
        &mut self,
        op: &Op,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let i32t = self.m.ctx.i32_type();
        match op {
            Op::Add(_) => Ok(self.m.builder.build_int_add(a, b, "add32")?),
            Op::Sub(_) => Ok(self.m.builder.build_int_sub(a, b, "sub32")?),
            Op::Mul(_) => Ok(self.m.builder.build_int_mul(a, b, "mul32")?),
            Op::BitAnd(_) => Ok(self.m.builder.build_and(a, b, "and32")?),
            Op::Div(_) | Op::Mod(_) => {
                let zero = self.m.builder.build_int_compare(
                    IntPredicate::EQ,
                    b,
                    i32t.const_zero(),
                    "div_zero",
                )?;
                self.trap_if(zero, TrapCode::DivisionByZero)?;
                let is_min = self.m.builder.build_int_compare(
                    IntPredicate::EQ,
                    a,
                    i32t.const_int(i32::MIN as u32 as u64, false),
                    "is_min",
                )?;
                let is_neg1 = self.m.builder.build_int_compare(
                    IntPredicate::EQ,
                    b,
                    i32t.const_all_ones(),
                    "is_neg1",
                )?;
                let overflow = self.m.builder.build_and(is_min, is_neg1, "div_overflow")?;
                self.trap_if(overflow, TrapCode::NumericOverflow)?;
                Ok(if matches!(op, Op::Div(_)) {
                    self.m.builder.build_int_signed_div(a, b, "div32")?
                } else {
                    self.m.builder.build_int_signed_rem(a, b, "rem32")?
                })
            }
            other => Err(self.unsupported(other)),
        }
    }

    fn float_binary(
        &mut self,
        op: &Op,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Result<FloatValue<'ctx>, CodegenError> {
        match op {
            Op::Add(_) => Ok(self.m.builder.build_float_add(a, b, "fadd")?),
            Op::Sub(_) => Ok(self.m.builder.build_float_sub(a, b, "fsub")?),
            Op::Mul(_) => Ok(self.m.builder.build_float_mul(a, b, "fmul")?),
            Op::Div(_) | Op::Mod(_) => {
                // Tree-walk reports a (signed) zero divisor as DivisionByZero;
                // a NaN divisor divides normally.
                let zero = self.m.ctx.f64_type().const_zero();
                let is_zero = self.m.builder.build_float_compare(
                    FloatPredicate::OEQ,
                    b,
                    zero,
                    "fdiv_zero",
                )?;
                self.trap_if(is_zero, TrapCode::DivisionByZero)?;
                Ok(if matches!(op, Op::Div(_)) {
                    self.m.builder.build_float_div(a, b, "fdiv")?
                } else {
                    self.m.builder.build_float_rem(a, b, "frem")?
                })
            }
            other => Err(self.unsupported(other)),
        }
    }

    /// `Eq`..`Ge`. Floats: ordered compares, except that `==` treats NaN as
    /// equal to NaN (tree-walk compares Floats as ordered floats).
    pub(crate) fn compare(&mut self, op: &Op, ty: IrType) -> Result<(), CodegenError> {
        let rhs = self.pop()?;
        let lhs = self.pop()?;
        let b = &self.m.builder;
        let result = match (lhs, rhs) {
            (BasicValueEnum::FloatValue(x), BasicValueEnum::FloatValue(y)) => {
                let pred = match op {
                    Op::Lt(_) => Some(FloatPredicate::OLT),
                    Op::Le(_) => Some(FloatPredicate::OLE),
                    Op::Gt(_) => Some(FloatPredicate::OGT),
                    Op::Ge(_) => Some(FloatPredicate::OGE),
                    _ => None,
                };
                match pred {
                    Some(p) => b.build_float_compare(p, x, y, "fcmp")?,
                    None => {
                        let eq = b.build_float_compare(FloatPredicate::OEQ, x, y, "feq")?;
                        let x_nan = b.build_float_compare(FloatPredicate::UNO, x, x, "x_nan")?;
                        let y_nan = b.build_float_compare(FloatPredicate::UNO, y, y, "y_nan")?;
                        let nan_pair = b.build_and(x_nan, y_nan, "nan_pair")?;
                        let equal = b.build_or(eq, nan_pair, "ord_eq")?;
                        if matches!(op, Op::Ne(_)) {
                            b.build_not(equal, "ord_ne")?
                        } else {
                            equal
                        }
                    }
                }
            }
            (BasicValueEnum::IntValue(x), BasicValueEnum::IntValue(y)) => {
                if matches!(ty, IrType::Bool) && !matches!(op, Op::Eq(_) | Op::Ne(_)) {
                    return Err(self.malformed(format!("{} on Bool", super::op_name(op))));
                }
                let (x, y) = if x.get_type() == y.get_type() {
                    (x, y)
                } else {
                    (self.to_i32(x)?, self.to_i32(y)?)
                };
                let pred = match op {
                    Op::Eq(_) => IntPredicate::EQ,
                    Op::Ne(_) => IntPredicate::NE,
                    Op::Lt(_) => IntPredicate::SLT,
                    Op::Le(_) => IntPredicate::SLE,
                    Op::Gt(_) => IntPredicate::SGT,
                    _ => IntPredicate::SGE,
                };
                self.m.builder.build_int_compare(pred, x, y, "icmp")?
            }
            (a, c) => {
                return Err(self.malformed(format!(
                    "{} on mismatched operands {a:?} and {c:?}",
                    super::op_name(op)
                )));
            }
        };
        self.push(result.into());
        Ok(())
    }

    pub(crate) fn convert_i64_to_f64(&mut self) -> Result<(), CodegenError> {
        let v = self.pop_int()?;
        let f = self
            .m
            .builder
            .build_signed_int_to_float(v, self.m.ctx.f64_type(), "sitofp")?;
        self.push(f.into());
        Ok(())
    }

    pub(crate) fn f64_to_i64_sat(&mut self) -> Result<(), CodegenError> {
        let v = self.pop()?;
        let r = self.call_intrinsic(
            "llvm.fptosi.sat",
            &[self.m.ctx.i64_type().into(), self.m.ctx.f64_type().into()],
            &[v],
        )?;
        self.push(r);
        Ok(())
    }

    pub(crate) fn f64_unary(&mut self, op: F64UnaryOp) -> Result<(), CodegenError> {
        let name = match op {
            F64UnaryOp::Floor => "llvm.floor",
            F64UnaryOp::Ceil => "llvm.ceil",
            // Ties to even. `llvm.rint` rounds in the current mode, which
            // emitted code never leaves (round to nearest, ties to even);
            // below SSE4.1 it is a call of `rint`, which musl has and
            // `roundeven` (what `llvm.roundeven` calls) it has not.
            F64UnaryOp::Nearest => "llvm.rint",
            F64UnaryOp::Sqrt => "llvm.sqrt",
            F64UnaryOp::Abs => "llvm.fabs",
        };
        let v = self.pop()?;
        let r = self.call_intrinsic(name, &[self.m.ctx.f64_type().into()], &[v])?;
        self.push(r);
        Ok(())
    }

    pub(crate) fn f64_pow(&mut self) -> Result<(), CodegenError> {
        let exp = self.pop()?;
        let base = self.pop()?;
        let r = self.call_intrinsic("llvm.pow", &[self.m.ctx.f64_type().into()], &[base, exp])?;
        self.push(r);
        Ok(())
    }

    fn call_intrinsic(
        &mut self,
        name: &str,
        types: &[inkwell::types::BasicTypeEnum<'ctx>],
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        let decl = inkwell::intrinsics::Intrinsic::find(name)
            .and_then(|i| i.get_declaration(&self.m.module, types))
            .ok_or_else(|| CodegenError::Llvm(format!("{name} is missing")))?;
        let args: Vec<_> = args.iter().map(|a| (*a).into()).collect();
        self.m
            .builder
            .build_call(decl, &args, "intrinsic")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CodegenError::Llvm(format!("{name} returned nothing")))
    }

    /// `Select { ty }`: `[a, b, cond] -> [cond ? a : b]`.
    pub(crate) fn select(&mut self, ty: IrType) -> Result<(), CodegenError> {
        let cond = self.pop_condition()?;
        let b = self.pop()?;
        let a = self.pop()?;
        let a = self.coerce(a, ty)?;
        let b = self.coerce(b, ty)?;
        let r = self.m.builder.build_select(cond, a, b, "select")?;
        self.push(r);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{function_ir, module_ir};

    #[test]
    fn only_a_division_by_a_variable_takes_the_float_divider() {
        let by_variable = function_ir(
            &module_ir("#main(Int k, Int d) -> Int\nk % d + k / d"),
            "run_main(",
        );
        let count = |ir: &str, needle: &str| ir.matches(needle).count();
        // Each has its float path and, past 2^53, the integer one.
        assert_eq!(count(&by_variable, "fdiv double"), 2, "{by_variable}");
        assert_eq!(count(&by_variable, "= srem i64"), 1, "{by_variable}");
        assert_eq!(count(&by_variable, "= sdiv i64"), 1, "{by_variable}");
        // LLVM turns a constant divisor into a multiply; no float path.
        let by_constant = function_ir(
            &module_ir("#main(Int k) -> Int\nk % 7 + k / 13"),
            "run_main(",
        );
        assert_eq!(count(&by_constant, "fdiv"), 0, "{by_constant}");
        assert_eq!(count(&by_constant, "= srem i64"), 1, "{by_constant}");
        assert_eq!(count(&by_constant, "= sdiv i64"), 1, "{by_constant}");
    }
}
