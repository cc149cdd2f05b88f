//! Tier 2's `math` calls: `math.sqrt(x)` and a few others computed in
//! place of the call, where the plan says the site always called a native
//! loaded as that `math` field (`Spec::Math`).
//!
//! Why: a native call from compiled code goes through the generic call
//! helper (a frame for the native, argument checks, the result copied
//! back), a hundred-odd instructions around one `sqrtsd`; and its result
//! comes back boxed in memory, so the arithmetic around it cannot stay in
//! registers. Here the call is the guard plus the instruction, and the
//! result is an unboxed SSA value the plan knows the type of.
//!
//! Exits: the callee not being that very native (the guard compares the
//! function pointer, so a rebound `math.sqrt` or another `sqrt` field is
//! caught) deoptimizes at the call as a `CallTarget` failure; an argument
//! that is not a number, or a `floor` / `ceil` result that fits no integer,
//! as an `OperandType` one; the interpreter then makes the call. A tick
//! that is due takes the ordinary call sequence, which checks the limits.
//! Like any native call, each one counts a tick and a native call.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, types};

use super::Translator;
use super::inline::FunctionKind;
use crate::jit::speculate::{MathFn, Ty};
use crate::profile::GuardKind;

impl<'a, 'b> Translator<'a, 'b> {
    /// `Call` at `pc` of `math.<f>` with its one argument at `a + 1`, its
    /// one result to `a`.
    pub(super) fn math_call(&mut self, pc: usize, a: usize, f: MathFn) {
        let cl = self.lay.call.expect("the plan computes math calls only with a call layout");
        let native = crate::stdlib::math::native(f.name()).expect("every MathFn names a math native");
        let miss = self.deopt_block(pc, GuardKind::CallTarget);
        let func = self.guard_function(a, FunctionKind::Native, miss);
        let fp = self.b.ins().load(types::I64, self.mf, func, cl.native_fn);
        let same = self.eq_imm(fp, native as usize as i64);
        self.continue_if(same, miss);

        // The tick every call counts; when one is due, the ordinary call
        // (which also checks the limits).
        let generic = self.cold_block(|t| t.call_generic(pc, a, 2, 2));
        let st = self.state;
        let tick = self.b.ins().load(types::I64, self.mf, st, self.lay.state_tick);
        let tick_ok = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, tick, 1);
        self.continue_if(tick_ok, generic);
        let tick = self.b.ins().iadd_imm_s(tick, -1);
        self.b.ins().store(self.mf, tick, st, self.lay.state_tick);
        let n = self.b.ins().load(types::I64, self.mf, st, cl.state_native_calls);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.b.ins().store(self.mf, n, st, cl.state_native_calls);

        let arg = (a + 1) as u16;
        let int_arg = self.known(arg) == Ty::Int;
        let (v, ty) = match f {
            MathFn::Floor | MathFn::Ceil if int_arg => (self.int(arg), Ty::Int),
            MathFn::Abs if int_arg => {
                // Wraps at the minimum integer, as 5.4's does.
                let x = self.int(arg);
                (self.b.ins().iabs(x), Ty::Int)
            }
            MathFn::Floor | MathFn::Ceil => {
                let x = self.guarded_as(arg, Ty::Float, GuardKind::OperandType);
                let r = if f == MathFn::Floor { self.b.ins().floor(x) } else { self.b.ins().ceil(x) };
                (self.float_to_int_or_deopt(pc, r), Ty::Int)
            }
            _ => {
                let x = if int_arg {
                    let i = self.int(arg);
                    self.b.ins().fcvt_from_sint(types::F64, i)
                } else {
                    self.guarded_as(arg, Ty::Float, GuardKind::OperandType)
                };
                let r = match f {
                    MathFn::Sqrt => self.b.ins().sqrt(x),
                    MathFn::Abs => self.b.ins().fabs(x),
                    MathFn::Sin => self.libm(libm_sin, x),
                    MathFn::Cos => self.libm(libm_cos, x),
                    MathFn::Tan => self.libm(libm_tan, x),
                    MathFn::Exp => self.libm(libm_exp, x),
                    MathFn::Floor | MathFn::Ceil => unreachable!("matched above"),
                };
                (r, Ty::Float)
            }
        };
        debug_assert_eq!(ty, f.result(self.known(arg)));
        self.write_num(a as u16, v, ty);
        self.jump(pc + 1);
    }

    /// An integral float as an integer; one outside the integers' range
    /// (or NaN, or an infinity) deoptimizes, since `floor` then returns
    /// the float.
    fn float_to_int_or_deopt(&mut self, pc: usize, x: ir::Value) -> ir::Value {
        let exit = self.deopt_block(pc, GuardKind::OperandType);
        // -2^63 <= x < 2^63; both comparisons fail for NaN.
        let lo = self.b.ins().f64const(-9_223_372_036_854_775_808.0);
        let hi = self.b.ins().f64const(9_223_372_036_854_775_808.0);
        let ge = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, lo);
        let lt = self.b.ins().fcmp(FloatCC::LessThan, x, hi);
        let ok = self.b.ins().band(ge, lt);
        self.continue_if(ok, exit);
        self.b.ins().fcvt_to_sint_sat(types::I64, x)
    }

    /// Calls a one-argument float function of the C library's kind.
    fn libm(&mut self, f: extern "C" fn(f64) -> f64, x: ir::Value) -> ir::Value {
        let mut sig = ir::Signature::new(self.b.func.signature.call_conv);
        sig.params.push(AbiParam::new(types::F64));
        sig.returns.push(AbiParam::new(types::F64));
        let sig = self.b.import_signature(sig);
        let fp = self.iconst(f as usize as i64);
        let call = self.b.ins().call_indirect(sig, fp, &[x]);
        self.forget_pinned_read();
        self.b.inst_results(call)[0]
    }
}

// The same computations as the `math` natives (Rust's, which call the C
// library's), so compiled and interpreted results agree to the bit.
extern "C" fn libm_sin(x: f64) -> f64 {
    x.sin()
}
extern "C" fn libm_cos(x: f64) -> f64 {
    x.cos()
}
extern "C" fn libm_tan(x: f64) -> f64 {
    x.tan()
}
extern "C" fn libm_exp(x: f64) -> f64 {
    x.exp()
}
