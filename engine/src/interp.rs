//! Tier 0: the bytecode interpreter.
//!
//! One loop runs every Lua frame of an invocation: a Lua-to-Lua call pushes
//! a `Frame` and continues the loop, a return pops it, so deep Lua recursion
//! uses heap (the frame vector and register stack), never the Rust stack.
//! `pcall` called from Lua marks the callee's frame as protected instead of
//! recursing. Only natives calling back into Lua (metamethods, `sort`
//! comparators, `gsub` callbacks) re-enter the loop (`State::call_at`, which
//! enters compiled code first when the callee has some), bounded by
//! [`MAX_NATIVE_DEPTH`](crate::state::MAX_NATIVE_DEPTH).
//!
//! The interpreter also records tier-0 feedback (see `profile.rs`) when the
//! engine's profiling is on.

use crate::bytecode::{Op, RK_CONST};
use crate::error::{Culprit, Throw, VmResult};
use crate::function::{Function, LuaClosure, NativeKind};
use crate::meta::{ArithOp, to_number};
use crate::number::{self, Num};
use crate::profile::{access, calls, type_bit};
use crate::state::{State, detach};
use crate::value::Value;

impl State {
    /// Enters the compiled code of the frame at `level` (the top one) at
    /// its saved pc; `None` when it has none.
    pub(crate) fn enter_frame(&mut self, level: usize) -> Option<u64> {
        let f = &self.frames[level];
        let (clg, base, pc) = (f.closure, f.base, f.pc);
        let Function::Lua(cl) = clg.get() else { unreachable!("Lua frames hold Lua closures") };
        let cl: &LuaClosure = detach(cl);
        let proto = detach(cl.proto());
        let regs = self.stack.as_mut_ptr().wrapping_add(base);
        let consts = detach(&cl.inst.get().consts[..]);
        self.enter_compiled(proto, &cl.inst.get().proto, regs, consts, &cl.upvals, pc)
    }

    /// Runs the entry frame at `level` to its return, after its compiled
    /// code (if it had any) left with `status`. A compiled tail call
    /// (`jit_tailcall`) replaces the frame at `level` and leaves with
    /// `CONTINUE`; the callee's code is entered from this loop, so a chain
    /// of tail calls runs in constant native stack.
    pub(crate) fn finish_callee(&mut self, level: usize, mut status: Option<u64>) -> VmResult<usize> {
        use crate::jit::runtime::status;
        loop {
            match status {
                Some(status::RETURNED) => return Ok(self.jit_nret),
                Some(status::ERROR) => {
                    let e = self.jit_error.take().unwrap_or_else(|| Throw::msg("internal error: lost JIT error"));
                    // Resumes a protected frame at or above `level`, or fails.
                    self.unwind(e, level)?;
                }
                Some(status::INTERPRET) => self.jit_handed_back = true,
                // The frame at `level` was replaced by a tail call: enter
                // the callee here (what the loop below would do first).
                Some(status::CONTINUE) if self.frames.len() == level + 1 => {
                    status = self.enter_frame(level);
                    continue;
                }
                // CONTINUE with a call pushed, or no compiled code: the
                // interpreter loop takes over.
                _ => {}
            }
            return match self.run::<false>(level)? {
                Exit::Returned(n) => Ok(n),
                Exit::Stepped | Exit::FrameChanged => unreachable!("only step mode stops early"),
            };
        }
    }

    /// The interpreter loop. With `STEP` it runs exactly one instruction of
    /// the top frame (at its saved pc) and reports what happened: that is
    /// how compiled code hands over everything it does not do inline (see
    /// `jit::runtime::jit_step`). Errors in step mode return at once; the
    /// outer loop that entered the compiled code unwinds them.
    pub(crate) fn run<const STEP: bool>(&mut self, entry_level: usize) -> VmResult<Exit> {
        let mut first = true;
        'frame: loop {
            let fi = self.frames.len() - 1;
            let (clg, base, mut pc) = {
                let f = &self.frames[fi];
                (f.closure, f.base, f.pc)
            };
            let Function::Lua(cl) = clg.get() else { unreachable!("Lua frames hold Lua closures") };
            let cl: &LuaClosure = detach(cl);
            let proto = detach(cl.proto());
            let code = &proto.code[..];
            let consts = detach(&cl.inst.get().consts[..]);
            let fb = &proto.feedback;
            let prof = self.profiling;
            // Registers of this frame. The stack only ever grows, and it is
            // reallocated only by calls, metamethods and stack checks: every
            // such path ends in `refresh!()` (inside `tri!`) or re-enters
            // 'frame, so `regs` always points into the live buffer.
            let mut regs: *mut Value = self.stack.as_mut_ptr().wrapping_add(base);
            if STEP {
                if !first {
                    return Ok(Exit::FrameChanged);
                }
                first = false;
            }
            let mut stepped = false;

            macro_rules! refresh {
                () => {
                    regs = self.stack.as_mut_ptr().wrapping_add(base)
                };
            }
            // SAFETY (r!, rk!, code fetch): push_lua_frame made
            // stack.len() >= base + maxstack, and the verifier checked every
            // register operand < maxstack, every constant index < consts.len()
            // and every jump target < code.len(), with a return at the end.
            macro_rules! r {
                ($i:expr) => {
                    *unsafe { &mut *regs.add($i as usize) }
                };
            }
            // Operands by reference: copying a 16-byte Value into a local
            // makes rustc spill it to the Rust stack on the hot path.
            macro_rules! rref {
                ($i:expr) => {
                    unsafe { &*regs.add($i as usize) }
                };
            }
            macro_rules! rkref {
                ($x:expr) => {
                    if $x < RK_CONST { rref!($x) } else { unsafe { consts.get_unchecked(($x - RK_CONST) as usize) } }
                };
            }
            macro_rules! rk {
                ($x:expr) => {
                    if $x < RK_CONST { r!($x) } else { *unsafe { consts.get_unchecked(($x - RK_CONST) as usize) } }
                };
            }
            // Comparisons and tests are always followed by a `Jmp` (the
            // verifier checks it): when the condition holds, take that jump
            // here instead of dispatching it.
            macro_rules! cond_jump {
                ($cond:expr) => {
                    if $cond {
                        let next = *unsafe { code.get_unchecked(pc) };
                        let Op::Jmp { off, .. } = next else { unreachable!("verified: a jump follows") };
                        pc = (pc as i64 + 1 + off as i64) as usize;
                    } else {
                        pc += 1;
                    }
                };
            }
            macro_rules! savepc {
                () => {
                    if let Some(f) = self.frames.get_mut(fi) {
                        f.pc = pc
                    }
                };
            }
            // Error exit: hand the error to the unwinder, which either
            // resumes a protected caller or returns it.
            macro_rules! throw {
                ($e:expr) => {{
                    savepc!();
                    let e = $e;
                    if STEP {
                        return Err(e);
                    }
                    match self.unwind(e, entry_level) {
                        Ok(()) => continue 'frame,
                        Err(e) => return Err(e),
                    }
                }};
            }
            macro_rules! tri {
                ($e:expr) => {
                    match $e {
                        Ok(v) => {
                            refresh!();
                            v
                        }
                        Err(e) => throw!(e),
                    }
                };
            }
            macro_rules! arith {
                ($a:expr, $b:expr, $c:expr, $op:expr, $int:expr, $flt:expr) => {{
                    let (x, y): (&Value, &Value) = (rkref!($b), rkref!($c));
                    // Feedback bits are constants on the fast paths.
                    let (v, bits) = match (x, y) {
                        (Value::Int(i), Value::Int(j)) => ($int(*i, *j), 0x11),
                        (Value::Float(p), Value::Float(q)) => (Some(Value::Float($flt(*p, *q))), 0x22),
                        (Value::Int(i), Value::Float(q)) => (Some(Value::Float($flt(*i as f64, *q))), 0x21),
                        (Value::Float(p), Value::Int(j)) => (Some(Value::Float($flt(*p, *j as f64))), 0x12),
                        _ => (None, type_bit(*x) | (type_bit(*y) << 4)),
                    };
                    if prof {
                        fb.add_bits(pc - 1, bits);
                    }
                    match v {
                        Some(v) => r!($a) = v,
                        None => {
                            savepc!();
                            let (x, y) = (*x, *y);
                            let v = tri!(self.arith($op, x, y, Culprit::Rk($b), Culprit::Rk($c)));
                            r!($a) = v;
                        }
                    }
                }};
            }
            // Bitwise operators: integers inline, everything else (floats
            // with integral values, strings, metamethods) in the slow path.
            macro_rules! bitop {
                ($a:expr, $b:expr, $c:expr, $op:expr, $f:expr) => {{
                    let (x, y): (&Value, &Value) = (rkref!($b), rkref!($c));
                    if prof {
                        fb.add_bits(pc - 1, type_bit(*x) | (type_bit(*y) << 4));
                    }
                    if let (Value::Int(i), Value::Int(j)) = (x, y) {
                        let v = $f(*i, *j);
                        r!($a) = Value::Int(v);
                    } else {
                        savepc!();
                        let (x, y) = (*x, *y);
                        let v = tri!(self.arith($op, x, y, Culprit::Rk($b), Culprit::Rk($c)));
                        r!($a) = v;
                    }
                }};
            }

            if !STEP && self.tier.mode != crate::jit::TierMode::Interpreter && !std::mem::take(&mut self.jit_handed_back) {
                match self.enter_compiled(proto, &cl.inst.get().proto, regs, consts, &cl.upvals, pc) {
                    None => {}
                    Some(crate::jit::runtime::status::CONTINUE) => continue 'frame,
                    Some(crate::jit::runtime::status::RETURNED) => return Ok(Exit::Returned(self.jit_nret)),
                    Some(crate::jit::runtime::status::ERROR) => {
                        let e = self.jit_error.take().unwrap_or_else(|| Throw::msg("internal error: lost JIT error"));
                        match self.unwind(e, entry_level) {
                            Ok(()) => continue 'frame,
                            Err(e) => return Err(e),
                        }
                    }
                    Some(_) => {
                        // INTERPRET: carry on here from the saved pc.
                        pc = self.frames[fi].pc;
                        refresh!();
                    }
                }
            }
            // Tier-up at a loop back-edge: once this function has compiled
            // code, re-dispatch the frame so it continues there.
            macro_rules! back_edge {
                () => {
                    if !STEP && self.tier.mode != crate::jit::TierMode::Interpreter && self.tier_backedge(&cl.inst.get().proto, pc) {
                        savepc!();
                        continue 'frame;
                    }
                };
            }

            loop {
                if STEP {
                    if stepped {
                        self.frames[fi].pc = pc;
                        return Ok(Exit::Stepped);
                    }
                    stepped = true;
                }
                let op = *unsafe { code.get_unchecked(pc) };
                pc += 1;
                match op {
                    Op::Move { a, b } => r!(a) = r!(b),
                    Op::LoadK { a, k } => r!(a) = consts[k as usize],
                    Op::LoadInt { a, v } => r!(a) = Value::Int(v as i64),
                    Op::LoadNil { a, n } => {
                        for i in 0..=n as usize {
                            r!(a as usize + i) = Value::Nil;
                        }
                    }
                    Op::LoadBool { a, v } => r!(a) = Value::Bool(v),
                    Op::LoadFalseSkip { a } => {
                        r!(a) = Value::Bool(false);
                        pc += 1;
                    }
                    Op::GetUpval { a, b } => r!(a) = self.upval_get(cl.upvals[b as usize]),
                    Op::SetUpval { a, b } => {
                        let v = r!(a);
                        self.upval_set(cl.upvals[b as usize], v);
                    }
                    Op::GetGlobal { a, k } => {
                        let key = consts[k as usize];
                        let g = self.globals;
                        let v = g.get().get_str(key);
                        if v.is_nil() && g.get().metatable.is_some() {
                            savepc!();
                            let v = tri!(self.index(Value::Table(g), key, None));
                            r!(a) = v;
                        } else {
                            r!(a) = v;
                        }
                    }
                    Op::LoadEnv { a } => r!(a) = Value::Table(self.globals),
                    Op::SetGlobal { a, k } => {
                        let key = consts[k as usize];
                        let g = self.globals;
                        let v = r!(a);
                        if g.get().metatable.is_none() {
                            let d = g.get_mut().set_str(key, v);
                            self.heap.charge(d);
                        } else {
                            savepc!();
                            tri!(self.set_index(Value::Table(g), key, v, None));
                        }
                    }
                    Op::GetField { a, b, k } => {
                        let obj: &Value = rref!(b);
                        let key = *unsafe { consts.get_unchecked(k as usize) };
                        if let Value::Table(t) = obj {
                            let tr = t.get();
                            let v = tr.get_str(key);
                            if prof {
                                fb.add_bits(pc - 1, access::STR_KEY | if v.is_nil() { access::MISS } else { access::HASH });
                            }
                            if !v.is_nil() || tr.metatable.is_none() {
                                r!(a) = v;
                                continue;
                            }
                            // Inherited through `__index` tables (classes).
                            if let Some(v) = self.inherited(tr, key) {
                                if prof {
                                    fb.add_bits(pc - 1, access::META);
                                }
                                r!(a) = v;
                                continue;
                            }
                        } else if prof {
                            fb.add_bits(pc - 1, access::META | access::STR_KEY);
                        }
                        savepc!();
                        let v = tri!(self.index(*obj, key, Some(Culprit::Rk(b as u16))));
                        r!(a) = v;
                    }
                    Op::GetTable { a, b, c } => {
                        let (obj, key): (&Value, &Value) = (rref!(b), rkref!(c));
                        if let Value::Table(t) = obj {
                            let tr = t.get();
                            if let Value::Int(i) = key {
                                let idx = (*i as u64).wrapping_sub(1);
                                if idx < tr.arr.len() as u64 {
                                    // SAFETY: idx < len checked just above.
                                    let v = *unsafe { tr.arr.get_unchecked(idx as usize) };
                                    if prof {
                                        fb.add_bits(pc - 1, access::ARRAY | access::INT_KEY);
                                    }
                                    if !v.is_nil() || tr.metatable.is_none() {
                                        r!(a) = v;
                                        continue;
                                    }
                                }
                            }
                            let v = tr.get(*key);
                            if prof {
                                fb.add_bits(pc - 1, key_bits(*key) | if v.is_nil() { access::MISS } else { access::HASH });
                            }
                            if !v.is_nil() || tr.metatable.is_none() {
                                r!(a) = v;
                                continue;
                            }
                        } else if prof {
                            fb.add_bits(pc - 1, access::META | key_bits(*key));
                        }
                        let (obj, key) = (*obj, *key);
                        savepc!();
                        let v = tri!(self.index(obj, key, Some(Culprit::Rk(b as u16))));
                        r!(a) = v;
                    }
                    Op::SetField { a, k, c } => {
                        let obj: &Value = rref!(a);
                        let key = *unsafe { consts.get_unchecked(k as usize) };
                        let v = rk!(c);
                        if let Value::Table(t) = obj
                            && t.get().metatable.is_none()
                        {
                            if prof {
                                fb.add_bits(pc - 1, access::HASH | access::STR_KEY);
                            }
                            let d = t.get_mut().set_str(key, v);
                            self.heap.charge(d);
                            continue;
                        }
                        if prof {
                            fb.add_bits(pc - 1, access::META | access::STR_KEY);
                        }
                        savepc!();
                        tri!(self.set_index(*obj, key, v, Some(Culprit::Rk(a as u16))));
                    }
                    Op::SetTable { a, b, c } => {
                        let obj: &Value = rref!(a);
                        let key: &Value = rkref!(b);
                        let v = rk!(c);
                        if let Value::Table(t) = obj
                            && t.get().metatable.is_none()
                        {
                            if let Value::Int(i) = *key {
                                let tm = t.get_mut();
                                let idx = (i as u64).wrapping_sub(1);
                                if idx < tm.arr.len() as u64 {
                                    if prof {
                                        fb.add_bits(pc - 1, access::ARRAY | access::INT_KEY);
                                    }
                                    tm.arr[idx as usize] = v;
                                    continue;
                                }
                            }
                            if prof {
                                fb.add_bits(pc - 1, access::HASH | key_bits(*key));
                            }
                            savepc!();
                            let (t, key) = (*t, *key);
                            tri!(self.raw_set(t, key, v));
                            continue;
                        }
                        if prof {
                            fb.add_bits(pc - 1, access::META | key_bits(*key));
                        }
                        savepc!();
                        tri!(self.set_index(*obj, *key, v, Some(Culprit::Rk(a as u16))));
                    }
                    Op::NewTable { a, narr, nhash } => {
                        let t = self.new_table(narr as usize, nhash as usize);
                        r!(a) = Value::Table(t);
                        if self.heap.should_collect() {
                            savepc!();
                            self.top = base + proto.maxstack as usize;
                            tri!(self.gc_step());
                        }
                    }
                    Op::SetList { a, n, start } => {
                        let Value::Table(t) = r!(a) else { unreachable!("SetList targets a new table") };
                        let count = if n == 0 { self.top - (base + a as usize + 1) } else { n as usize };
                        for i in 1..=count {
                            let v = r!(a as usize + i);
                            let d = t.get_mut().set_int_positional(start as i64 + i as i64, v);
                            self.heap.charge(d);
                        }
                    }
                    Op::SelfOp { a, b, k } => {
                        let obj = *rref!(b);
                        let key = *unsafe { consts.get_unchecked(k as usize) };
                        r!(a as usize + 1) = obj;
                        if let Value::Table(t) = obj {
                            let tr = t.get();
                            let v = tr.get_str(key);
                            if !v.is_nil() {
                                if prof {
                                    fb.add_bits(pc - 1, access::HASH | access::STR_KEY);
                                }
                                r!(a) = v;
                                continue;
                            }
                            // Methods found through `__index` tables.
                            if let Some(v) = self.inherited(tr, key) {
                                if prof {
                                    fb.add_bits(pc - 1, access::META | access::STR_KEY);
                                }
                                r!(a) = v;
                                continue;
                            }
                        }
                        if prof {
                            fb.add_bits(pc - 1, access::META | access::STR_KEY);
                        }
                        savepc!();
                        let v = tri!(self.index(obj, key, Some(Culprit::Rk(b as u16))));
                        r!(a) = v;
                    }
                    Op::Add { a, b, c } => {
                        arith!(a, b, c, ArithOp::Add, |i: i64, j: i64| Some(Value::Int(i.wrapping_add(j))), |p: f64, q: f64| p + q)
                    }
                    Op::Sub { a, b, c } => {
                        arith!(a, b, c, ArithOp::Sub, |i: i64, j: i64| Some(Value::Int(i.wrapping_sub(j))), |p: f64, q: f64| p - q)
                    }
                    Op::Mul { a, b, c } => {
                        arith!(a, b, c, ArithOp::Mul, |i: i64, j: i64| Some(Value::Int(i.wrapping_mul(j))), |p: f64, q: f64| p * q)
                    }
                    Op::Div { a, b, c } => {
                        arith!(a, b, c, ArithOp::Div, |i: i64, j: i64| Some(Value::Float(i as f64 / j as f64)), |p: f64, q: f64| p / q)
                    }
                    Op::Mod { a, b, c } => arith!(
                        a,
                        b,
                        c,
                        ArithOp::Mod,
                        |i: i64, j: i64| if j != 0 { Some(Value::Int(number::int_mod(i, j))) } else { None },
                        number::float_mod
                    ),
                    Op::IDiv { a, b, c } => arith!(
                        a,
                        b,
                        c,
                        ArithOp::IDiv,
                        |i: i64, j: i64| if j != 0 { Some(Value::Int(number::int_floor_div(i, j))) } else { None },
                        |p: f64, q: f64| (p / q).floor()
                    ),
                    Op::Pow { a, b, c } => arith!(
                        a,
                        b,
                        c,
                        ArithOp::Pow,
                        |i: i64, j: i64| Some(Value::Float(if j == 2 { (i as f64) * (i as f64) } else { (i as f64).powf(j as f64) })),
                        |p: f64, q: f64| if q == 2.0 { p * p } else { p.powf(q) }
                    ),
                    Op::BAnd { a, b, c } => bitop!(a, b, c, ArithOp::BAnd, |i: i64, j: i64| i & j),
                    Op::BOr { a, b, c } => bitop!(a, b, c, ArithOp::BOr, |i: i64, j: i64| i | j),
                    Op::BXor { a, b, c } => bitop!(a, b, c, ArithOp::BXor, |i: i64, j: i64| i ^ j),
                    Op::Shl { a, b, c } => bitop!(a, b, c, ArithOp::Shl, number::shift_left),
                    Op::Shr { a, b, c } => bitop!(a, b, c, ArithOp::Shr, |i: i64, j: i64| number::shift_left(i, j.wrapping_neg())),
                    Op::Unm { a, b } => {
                        let x = r!(b);
                        if prof {
                            fb.add_bits(pc - 1, type_bit(x));
                        }
                        r!(a) = match x {
                            Value::Int(i) => Value::Int(i.wrapping_neg()),
                            Value::Float(f) => Value::Float(-f),
                            _ => {
                                savepc!();
                                tri!(self.arith(ArithOp::Unm, x, x, Culprit::Rk(b as u16), Culprit::Rk(b as u16)))
                            }
                        };
                    }
                    Op::BNot { a, b } => {
                        let x = r!(b);
                        r!(a) = match x {
                            Value::Int(i) => Value::Int(!i),
                            _ => {
                                savepc!();
                                tri!(self.arith(ArithOp::BNot, x, x, Culprit::Rk(b as u16), Culprit::Rk(b as u16)))
                            }
                        };
                    }
                    Op::Not { a, b } => r!(a) = Value::Bool(!r!(b).truthy()),
                    Op::Len { a, b } => {
                        let x = r!(b);
                        r!(a) = match x {
                            Value::Str(s) => Value::Int(s.get().len() as i64),
                            Value::Table(t) if t.get().metatable.is_none() => Value::Int(t.get().border()),
                            _ => {
                                savepc!();
                                tri!(self.len(x, Culprit::Rk(b as u16)))
                            }
                        };
                    }
                    Op::Concat { a, b, n } => {
                        savepc!();
                        self.top = base + proto.maxstack as usize;
                        let v = tri!(self.concat(base + b as usize, n as usize));
                        r!(a) = v;
                        if self.heap.should_collect() {
                            tri!(self.gc_step());
                        }
                    }
                    Op::Jmp { off, close } => {
                        if close > 0 {
                            self.close_upvals(base + close as usize - 1);
                        }
                        if off < 0 {
                            if prof {
                                fb.count_taken(pc - 1);
                            }
                            if let Err(e) = self.tick() {
                                throw!(e);
                            }
                            pc = (pc as i64 + off as i64) as usize;
                            back_edge!();
                        } else {
                            pc = (pc as i64 + off as i64) as usize;
                        }
                    }
                    Op::Eq { k, b, c } => {
                        let (x, y): (&Value, &Value) = (rkref!(b), rkref!(c));
                        if prof {
                            fb.add_bits(pc - 1, type_bit(*x) | (type_bit(*y) << 4));
                        }
                        let eq = match (x, y) {
                            (Value::Int(i), Value::Int(j)) => i == j,
                            (Value::Str(s), Value::Str(t)) => s == t || s.get().eq_bytes(t.get()),
                            (Value::Table(_), Value::Table(_)) => {
                                savepc!();
                                tri!(self.equals(*x, *y))
                            }
                            _ => x.raw_eq(*y),
                        };
                        if prof {
                            fb.count_branch(pc - 1, eq == k);
                        }
                        cond_jump!(eq == k);
                    }
                    Op::Lt { k, b, c } => {
                        let (x, y): (&Value, &Value) = (rkref!(b), rkref!(c));
                        let (lt, bits) = match (x, y) {
                            (Value::Int(i), Value::Int(j)) => (i < j, 0x11),
                            (Value::Float(p), Value::Float(q)) => (p < q, 0x22),
                            _ => {
                                savepc!();
                                let bits = type_bit(*x) | (type_bit(*y) << 4);
                                (tri!(self.less_than(*x, *y)), bits)
                            }
                        };
                        if prof {
                            fb.add_bits(pc - 1, bits);
                            fb.count_branch(pc - 1, lt == k);
                        }
                        cond_jump!(lt == k);
                    }
                    Op::Le { k, b, c } => {
                        let (x, y): (&Value, &Value) = (rkref!(b), rkref!(c));
                        let (le, bits) = match (x, y) {
                            (Value::Int(i), Value::Int(j)) => (i <= j, 0x11),
                            (Value::Float(p), Value::Float(q)) => (p <= q, 0x22),
                            _ => {
                                savepc!();
                                let bits = type_bit(*x) | (type_bit(*y) << 4);
                                (tri!(self.less_equal(*x, *y)), bits)
                            }
                        };
                        if prof {
                            fb.add_bits(pc - 1, bits);
                            fb.count_branch(pc - 1, le == k);
                        }
                        cond_jump!(le == k);
                    }
                    Op::Test { a, k } => {
                        let t = rref!(a).truthy_ref();
                        if prof {
                            fb.count_branch(pc - 1, t == k);
                        }
                        cond_jump!(t == k);
                    }
                    Op::TestSet { a, b, k } => {
                        let v: &Value = rref!(b);
                        if prof {
                            fb.count_branch(pc - 1, v.truthy_ref() == k);
                        }
                        if v.truthy_ref() == k {
                            let v = *v;
                            r!(a) = v;
                        } else {
                            pc += 1;
                        }
                    }
                    Op::Call { a, b, c } => {
                        let func = base + a as usize;
                        let nargs = if b == 0 { self.top - func - 1 } else { b as usize - 1 };
                        savepc!();
                        match tri!(self.call_value(func, nargs, c as i32 - 1, prof.then_some((fb, pc - 1)))) {
                            CallOutcome::Pushed => continue 'frame,
                            CallOutcome::Done => {
                                refresh!();
                                if self.heap.should_collect() {
                                    let t = self.top;
                                    self.top = t.max(base + proto.maxstack as usize);
                                    tri!(self.gc_step());
                                    self.top = t;
                                }
                            }
                        }
                    }
                    Op::TailCall { a, b } => {
                        let func = base + a as usize;
                        let mut nargs = if b == 0 { self.top - func - 1 } else { b as usize - 1 };
                        savepc!();
                        if !self.open_upvals.is_empty() {
                            self.close_upvals(base);
                        }
                        // A callable object: its `__call` is the callee (and
                        // the call stays a tail call, as in PUC Lua).
                        if !matches!(self.stack[func], Value::Func(_)) && !self.metafield(self.stack[func], self.names.call).is_nil() {
                            nargs = tri!(self.resolve_call_metamethod(func, nargs));
                        }
                        // A Lua callee reuses this frame's slot.
                        if let Value::Func(f) = self.stack[func]
                            && let Function::Lua(callee) = f.get()
                        {
                            if prof {
                                fb.add_bits(pc - 1, calls::LUA);
                                fb.record_target(pc - 1, callee.key_lo);
                            }
                            tri!(self.tail_call_lua(fi, func, nargs, f));
                            continue 'frame;
                        }
                        // Not a Lua callee (a native, `pcall` of a Lua function, a
                        // callable table): call normally; the `Return {a, 0}`
                        // the compiler put after every TailCall returns the results.
                        match tri!(self.call_value(func, nargs, -1, prof.then_some((fb, pc - 1)))) {
                            CallOutcome::Pushed => continue 'frame,
                            CallOutcome::Done => {}
                        }
                    }
                    Op::Return { a, b } => {
                        let first = base + a as usize;
                        let n = if b == 0 { self.top - first } else { b as usize - 1 };
                        if !self.open_upvals.is_empty() {
                            self.close_upvals(base);
                        }
                        match self.do_return(fi, first, n) {
                            Some(r) => return Ok(Exit::Returned(r)),
                            None => continue 'frame,
                        }
                    }
                    Op::ForPrep { a, off } => {
                        savepc!();
                        if tri!(self.for_prep(base + a as usize)) {
                            pc = (pc as i64 + off as i64) as usize;
                        }
                    }
                    Op::ForLoop { a, off } => {
                        let a = a as usize;
                        if let Value::Int(step) = *rref!(a + 2) {
                            let Value::Int(count) = *rref!(a + 1) else { unreachable!("integer loop keeps a count") };
                            if count > 0 {
                                if prof {
                                    fb.count_taken(pc - 1);
                                }
                                let Value::Int(idx) = *rref!(a) else { unreachable!("integer loop index") };
                                let idx = idx.wrapping_add(step);
                                r!(a + 1) = Value::Int(count - 1);
                                r!(a) = Value::Int(idx);
                                r!(a + 3) = Value::Int(idx);
                                pc = (pc as i64 + off as i64) as usize;
                                if let Err(e) = self.tick() {
                                    throw!(e);
                                }
                                back_edge!();
                            }
                        } else {
                            let (Value::Float(idx), Value::Float(limit), Value::Float(step)) = (r!(a), r!(a + 1), r!(a + 2)) else {
                                unreachable!("float loop keeps floats")
                            };
                            let idx = idx + step;
                            if if step > 0.0 { idx <= limit } else { limit <= idx } {
                                r!(a) = Value::Float(idx);
                                r!(a + 3) = Value::Float(idx);
                                if prof {
                                    fb.count_taken(pc - 1);
                                    // Tier 2 guesses a `for` whose start it
                                    // cannot prove is an integer loop
                                    // unless this says otherwise.
                                    fb.add_bits(pc - 1, crate::profile::types::FLOAT);
                                }
                                pc = (pc as i64 + off as i64) as usize;
                                if let Err(e) = self.tick() {
                                    throw!(e);
                                }
                                back_edge!();
                            }
                        }
                    }
                    Op::TForCall { a, c } => {
                        let ra = base + a as usize;
                        if prof {
                            fb.count_taken(pc - 1);
                        }
                        // Inline `next` (pairs) and the ipairs iterator.
                        if let Value::Func(f) = self.stack[ra]
                            && let Function::Native(n) = f.get()
                        {
                            match n.kind {
                                NativeKind::Next => {
                                    if let Value::Table(t) = self.stack[ra + 1] {
                                        match t.get().next(self.stack[ra + 2]) {
                                            Ok(Some((k, v))) => {
                                                self.stack[ra + 3] = k;
                                                self.stack[ra + 4] = v;
                                            }
                                            Ok(None) => self.stack[ra + 3] = Value::Nil,
                                            Err(()) => {
                                                // Raised inside `next` (a C function in PUC Lua):
                                                // the message carries no position.
                                                let e = self.new_str(b"invalid key to 'next'");
                                                throw!(Throw::Error(e))
                                            }
                                        }
                                        for i in 2..c as usize {
                                            self.stack[ra + 3 + i] = Value::Nil;
                                        }
                                        continue;
                                    }
                                }
                                NativeKind::IpairsIter => {
                                    if let (Value::Table(t), Value::Int(i)) = (self.stack[ra + 1], self.stack[ra + 2])
                                        && t.get().metatable.is_none()
                                    {
                                        let i = i.wrapping_add(1);
                                        let v = t.get().get_int(i);
                                        if v.is_nil() {
                                            self.stack[ra + 3] = Value::Nil;
                                        } else {
                                            self.stack[ra + 3] = Value::Int(i);
                                            self.stack[ra + 4] = v;
                                        }
                                        for j in 2..c as usize {
                                            self.stack[ra + 3 + j] = Value::Nil;
                                        }
                                        continue;
                                    }
                                }
                                _ => {}
                            }
                        }
                        self.stack[ra + 3] = self.stack[ra];
                        self.stack[ra + 4] = self.stack[ra + 1];
                        self.stack[ra + 5] = self.stack[ra + 2];
                        savepc!();
                        match tri!(self.call_value(ra + 3, 2, c as i32, None)) {
                            CallOutcome::Pushed => continue 'frame,
                            CallOutcome::Done => {}
                        }
                    }
                    Op::TForLoop { a, off } => {
                        let a = a as usize;
                        let v = r!(a + 3);
                        if !v.is_nil() {
                            r!(a + 2) = v;
                            pc = (pc as i64 + off as i64) as usize;
                            if let Err(e) = self.tick() {
                                throw!(e);
                            }
                            back_edge!();
                        }
                    }
                    Op::Closure { a, idx } => {
                        let inst = cl.inst.get().children[idx as usize];
                        let child = &inst.get().proto;
                        let mut ups = Vec::with_capacity(child.upvals.len());
                        for u in &child.upvals {
                            ups.push(if u.in_stack { self.find_upval(base + u.idx as usize) } else { cl.upvals[u.idx as usize] });
                        }
                        let f = self.new_lua_closure(inst, ups);
                        r!(a) = f;
                        if self.heap.should_collect() {
                            savepc!();
                            self.top = base + proto.maxstack as usize;
                            tri!(self.gc_step());
                        }
                    }
                    Op::VarArg { a, c } => {
                        let nvar = self.frames[fi].nvarargs as usize;
                        let src = base - nvar;
                        let dst = base + a as usize;
                        let want = if c == 0 { nvar } else { c as usize - 1 };
                        if c == 0 {
                            tri!(self.ensure_stack(dst + want));
                            self.top = dst + want;
                        }
                        for i in 0..want {
                            self.stack[dst + i] = if i < nvar { self.stack[src + i] } else { Value::Nil };
                        }
                    }
                    Op::Close { a } => self.close_upvals(base + a as usize),
                }
            }
        }
    }

    /// Finishes the frame `fi` returning `n` values found at `stack[first..]`.
    /// Returns `Some(n)` when that frame was an entry frame.
    #[inline(always)]
    /// A tail call to the Lua function `f` at `stack[func]`: the callee
    /// takes over frame `fi`'s slot, results wanted, entry and protection.
    /// Everything that could fail is checked before the caller's frame is
    /// dropped, so an error still unwinds through it (and its pcall).
    /// Shared by the interpreter and compiled code (`jit_tailcall`).
    pub(crate) fn tail_call_lua(&mut self, fi: usize, func: usize, nargs: usize, f: crate::gc::Gc<Function>) -> VmResult<()> {
        let Function::Lua(callee) = f.get() else { unreachable!("caller checked") };
        self.tick()?;
        let need = {
            let p = callee.proto();
            self.frames[fi].func + 1 + nargs + if p.is_vararg { nargs } else { 0 } + p.maxstack as usize
        };
        self.ensure_stack(need)?;
        let cur = &self.frames[fi];
        let (dst, nres, entry, protected, by_native, pdepth) =
            (cur.func, cur.nresults, cur.entry, cur.protected, cur.called_by_native, cur.protected_depth);
        for i in 0..=nargs {
            self.stack[dst + i] = self.stack[func + i];
        }
        self.frames.pop();
        self.push_lua_frame(dst, nargs, nres, f)?;
        let nf = self.frames.last_mut().expect("pushed");
        nf.entry = entry;
        nf.protected = protected;
        nf.called_by_native = by_native;
        nf.protected_depth = pdepth;
        Ok(())
    }

    pub(crate) fn do_return(&mut self, fi: usize, first: usize, n: usize) -> Option<usize> {
        let f = self.frames.pop().expect("returning frame exists");
        debug_assert_eq!(fi, self.frames.len());
        let mut dst = f.func;
        let mut count = n;
        if f.protected {
            dst -= 1;
            self.stack[dst] = Value::Bool(true);
            for i in 0..n {
                self.stack[dst + 1 + i] = self.stack[first + i];
            }
            count += 1;
        } else if n > 0 {
            let stack = &mut self.stack[..];
            assert!(dst <= first && first + n <= stack.len(), "results lie above the frame's function slot");
            if first - dst >= n {
                let p = stack.as_mut_ptr();
                // SAFETY: both runs are in bounds (checked) and disjoint.
                unsafe { crate::value::copy_values(p.add(dst), p.add(first), n) };
            } else {
                stack.copy_within(first..first + n, dst);
            }
        }
        if f.nresults >= 0 {
            for i in count..f.nresults as usize {
                self.stack[dst + i] = Value::Nil;
            }
            count = f.nresults as usize;
        }
        self.top = dst + count;
        if f.entry { Some(count) } else { None }
    }

    /// The interpreter's call: Lua callees get a frame (returns `Pushed`);
    /// natives run now and their results are adjusted in place (`Done`).
    #[inline(always)]
    pub(crate) fn call_value(
        &mut self,
        func: usize,
        nargs: usize,
        nresults: i32,
        site: Option<(&crate::profile::Feedback, usize)>,
    ) -> VmResult<CallOutcome> {
        let mut nargs = nargs;
        let mut via_meta = false;
        loop {
            match self.stack[func] {
                Value::Func(f) => match f.get() {
                    Function::Lua(c) => {
                        if let Some((fb, pc)) = site {
                            fb.add_bits(pc, calls::LUA | if via_meta { calls::META } else { 0 });
                            fb.record_target(pc, c.key_lo);
                        }
                        self.tick()?;
                        self.push_lua_frame(func, nargs, nresults, f)?;
                        return Ok(CallOutcome::Pushed);
                    }
                    Function::Native(n) => {
                        if let Some((fb, pc)) = site {
                            fb.add_bits(pc, calls::NATIVE | if via_meta { calls::META } else { 0 });
                        }
                        let n = detach(n);
                        if n.kind == NativeKind::Pcall {
                            return self.pcall_from_lua(func, nargs, nresults);
                        }
                        self.tick()?;
                        let got = self.call_native(func, nargs, n.f, true)?;
                        if nresults >= 0 {
                            for i in got..nresults as usize {
                                self.stack[func + i] = Value::Nil;
                            }
                        }
                        return Ok(CallOutcome::Done);
                    }
                },
                other => {
                    if self.metafield(other, self.names.call).is_nil() {
                        let base = self.frames.last().map(|f| f.base).unwrap_or(0);
                        return Err(Throw::culprit(
                            format!("attempt to call a {} value", self.type_name_of(other)),
                            Culprit::Rk((func - base) as u16),
                        ));
                    }
                    nargs = self.resolve_call_metamethod(func, nargs)?;
                    via_meta = true;
                }
            }
        }
    }

    /// `pcall(f, ...)` from Lua: a Lua `f` runs in a protected frame of the
    /// same interpreter loop (no Rust recursion); a native `f` runs now.
    fn pcall_from_lua(&mut self, func: usize, nargs: usize, nresults: i32) -> VmResult<CallOutcome> {
        if nargs == 0 {
            return Err(Throw::msg("bad argument #1 to 'pcall' (value expected)"));
        }
        let f = func + 1;
        if let Value::Func(fv) = self.stack[f]
            && let Function::Lua(_) = fv.get()
        {
            self.tick()?;
            let depth = self.frames.last().map_or(0, |f| f.protected_depth) + 1;
            if depth as u32 + self.native_depth > crate::state::MAX_C_LEVELS {
                // PUC Lua raises this inside the protected call, so this very
                // pcall returns false and the message (which has no position).
                self.stack[func] = Value::Bool(false);
                self.stack[func + 1] = self.new_str(b"C stack overflow");
                if nresults >= 0 {
                    for i in 2..nresults as usize {
                        self.stack[func + i] = Value::Nil;
                    }
                } else {
                    self.top = func + 2;
                }
                return Ok(CallOutcome::Done);
            }
            // `nresults` counts the leading `true` too (see do_return).
            self.push_lua_frame(f, nargs - 1, nresults, fv)?;
            let fr = self.frames.last_mut().expect("pushed");
            fr.protected = true;
            fr.protected_depth = depth;
            return Ok(CallOutcome::Pushed);
        }
        // Natives and callables: run now and catch.
        let depth = self.frames.len();
        // pcall is the native calling `f` here.
        let saved = std::mem::replace(&mut self.native_active, true);
        let r = self.call_at(f, nargs - 1);
        self.native_active = saved;
        let got = match r {
            Ok(n) => {
                self.stack[func] = Value::Bool(true);
                for i in 0..n {
                    self.stack[func + 1 + i] = self.stack[f + i];
                }
                n + 1
            }
            Err(Throw::Error(v)) => {
                self.frames.truncate(depth);
                self.stack[func] = Value::Bool(false);
                self.stack[func + 1] = v;
                2
            }
            Err(Throw::Msg { msg, .. }) => {
                self.frames.truncate(depth);
                self.stack[func] = Value::Bool(false);
                self.stack[func + 1] = self.new_str(msg.as_bytes());
                2
            }
            Err(other) => return Err(other),
        };
        if nresults >= 0 {
            for i in got..nresults as usize {
                self.stack[func + i] = Value::Nil;
            }
        } else {
            self.top = func + got;
        }
        Ok(CallOutcome::Done)
    }

    /// Unwinds after an error in frame `frames.len()-1`: positions the
    /// message, then resumes the nearest protected frame above
    /// `entry_level`, or returns the error to the caller of this loop.
    fn unwind(&mut self, e: Throw, entry_level: usize) -> VmResult<()> {
        let e = match e {
            Throw::Msg { msg, culprit } => {
                let text = self.position_message(&msg, culprit);
                Throw::Error(self.new_str(text.as_bytes()))
            }
            other => other,
        };
        let Throw::Error(v) = e else {
            // Limits and exit: drop this loop's frames and propagate.
            if let Some(f) = self.frames.get(entry_level) {
                let level = f.func;
                self.close_upvals(level);
            }
            self.frames.truncate(entry_level);
            return Err(e);
        };
        let mut i = self.frames.len();
        while i > entry_level {
            i -= 1;
            if self.frames[i].protected {
                let func = self.frames[i].func;
                let nres = self.frames[i].nresults;
                self.close_upvals(func);
                self.frames.truncate(i);
                let dst = func - 1;
                self.stack[dst] = Value::Bool(false);
                self.stack[dst + 1] = v;
                let mut count = 2;
                if nres >= 0 {
                    for j in count..nres as usize {
                        self.stack[dst + j] = Value::Nil;
                    }
                    count = nres as usize;
                }
                self.top = dst + count;
                return Ok(());
            }
        }
        if let Some(f) = self.frames.get(entry_level) {
            let level = f.func;
            self.close_upvals(level);
        }
        self.frames.truncate(entry_level);
        Err(Throw::Error(v))
    }

    /// Numeric for preparation (5.4 semantics: integer loops precompute an
    /// iteration count, so they never overflow). Returns true to skip.
    pub(crate) fn for_prep(&mut self, ra: usize) -> VmResult<bool> {
        let (init, limit, step) = (self.stack[ra], self.stack[ra + 1], self.stack[ra + 2]);
        if let (Value::Int(i0), Value::Int(st)) = (init, step) {
            if st == 0 {
                return Err(Throw::msg("'for' step is zero"));
            }
            let lim = match for_limit(limit, st)? {
                Some(l) => l,
                None => return Ok(true),
            };
            if if st > 0 { i0 > lim } else { i0 < lim } {
                return Ok(true);
            }
            let count = if st > 0 {
                ((lim as u64).wrapping_sub(i0 as u64)) / st as u64
            } else {
                ((i0 as u64).wrapping_sub(lim as u64)) / ((-(st + 1)) as u64 + 1)
            };
            self.stack[ra + 1] = Value::Int(count as i64);
            self.stack[ra + 3] = Value::Int(i0);
            return Ok(false);
        }
        let f = |v: Value, what: &str| -> VmResult<f64> {
            match to_number(v) {
                Some(Num::Int(i)) => Ok(i as f64),
                Some(Num::Float(f)) => Ok(f),
                None => Err(Throw::msg(format!("'for' {what} must be a number"))),
            }
        };
        let fl = f(limit, "limit").map_err(|_| for_error(limit, "limit"))?;
        let fs = f(step, "step").map_err(|_| for_error(step, "step"))?;
        let fi = f(init, "initial").map_err(|_| for_error(init, "initial"))?;
        if fs == 0.0 {
            return Err(Throw::msg("'for' step is zero"));
        }
        if if fs > 0.0 { fl < fi } else { fi < fl } {
            return Ok(true);
        }
        self.stack[ra] = Value::Float(fi);
        self.stack[ra + 1] = Value::Float(fl);
        self.stack[ra + 2] = Value::Float(fs);
        self.stack[ra + 3] = Value::Float(fi);
        Ok(false)
    }
}

fn for_error(v: Value, what: &str) -> Throw {
    let what = if what == "initial" { "initial value" } else { what };
    Throw::msg(format!("bad 'for' {what} (number expected, got {})", v.type_name()))
}

/// The integer limit of an integer loop; None when the loop must not run.
fn for_limit(limit: Value, step: i64) -> VmResult<Option<i64>> {
    match to_number(limit) {
        Some(Num::Int(l)) => Ok(Some(l)),
        Some(Num::Float(f)) => {
            if f.is_nan() {
                return Ok(None);
            }
            let r = if step > 0 { f.floor() } else { f.ceil() };
            if r >= 9223372036854775808.0 {
                Ok(Some(i64::MAX))
            } else if r < -9223372036854775808.0 {
                Ok(Some(i64::MIN))
            } else {
                Ok(Some(r as i64))
            }
        }
        None => Err(for_error(limit, "limit")),
    }
}

#[inline(always)]
pub(crate) fn key_bits(k: Value) -> u8 {
    match k {
        Value::Int(_) => access::INT_KEY,
        Value::Str(_) => access::STR_KEY,
        _ => access::OTHER_KEY,
    }
}

/// How [`State::run`] stopped.
pub(crate) enum Exit {
    /// The entry frame returned this many results.
    Returned(usize),
    /// Step mode: one instruction ran; the frame's pc is saved.
    Stepped,
    /// Step mode: the instruction pushed or popped a frame.
    FrameChanged,
}

pub(crate) enum CallOutcome {
    Pushed,
    Done,
}
