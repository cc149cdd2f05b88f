//! Tier 2's additions to the translator: speculated instructions, guards
//! that deoptimize, unboxed registers, and the resume stubs that make them
//! safe to enter.
//!
//! The one idea everything rests on: **memory holds whatever may be read.**
//! Registers whose type the plan proves live in SSA variables
//! (`ivars`/`fvars`; a table's pointer in `ivars`), and number writes by
//! instructions that never leave compiled code on their fast path stay
//! there (`defer.rs`), but every way out of the code (a deopt exit, a
//! helper, another instruction) first writes back the registers the
//! bytecode may still read. So a failed guard has only those writes to
//! make: the interpreter frame is otherwise materialized, and
//! deoptimizing is "write back, save the pc, record the failure, return
//! `INTERPRET`" — tier 0 resumes at the exact bytecode that failed.
//! Entering compiled code in the middle (a loop header for OSR, the
//! instruction after a call, a helper's continuation) goes through a stub
//! that reloads and checks the live registers the plan assumes there (and
//! makes the loop's hoisted checks, at a header).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, Block, BlockArg, InstBuilder, types};

use super::defer::Dirty;
use super::{Arith, Opd, Translator};
use crate::bytecode::Op;
use crate::jit::runtime::{self as rt, tag};
use crate::jit::speculate::{Hoist, Spec, Ty};
use crate::profile::GuardKind;

/// An array slot known to be present (non-nil, inside the array part):
/// `t[k] = t[k] + x` reads `t[k]` with its guards (a table, an integer key
/// in bounds, a value of the guessed type), and the write can then skip
/// them all and store.
///
/// Why this is sound: an entry is made after the guards of a read or a
/// write passed, and lives only while the instructions that follow keep
/// it true — typed arithmetic, typed array reads, and typed array writes
/// of values that cannot be nil — straight-line, with no other way in
/// (`jump_target`) and no runtime call that could resize the table or
/// free it. A write of a possible nil, a register overwritten, or any
/// other instruction drops the entries concerned (or all of them).
/// Cranelift's own redundant-load elimination does not do this: it gives
/// each block of a loop body its own memory version.
///
/// A field entry (`PresentKey::Field`) says less: the hash node at `slot`
/// holds the key (its value may be anything, nil included, and every
/// access still checks it). `p.vx = p.vx + dx * k` finds the node once.
/// It stays true for the same reason: nothing that keeps entries can
/// insert a key, so nothing can rehash the table.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct PresentSlot {
    /// The register holding the table.
    pub table: u16,
    pub key: PresentKey,
    /// The slot's address.
    pub slot: ir::Value,
}

/// The key of a [`PresentSlot`].
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum PresentKey {
    Reg(u16),
    Int(i64),
    /// A field: the constant key's index; the slot is its hash node.
    Field(u32),
}

impl PresentKey {
    fn of(k: Opd) -> PresentKey {
        match k {
            Opd::Reg(r) => PresentKey::Reg(r),
            Opd::Int(i) => PresentKey::Int(i),
            _ => unreachable!("present slots have register or integer keys"),
        }
    }
}

/// Deopt kind code for a stub whose register check failed (not a
/// speculation of its own: the guard that let a wrong type in already
/// counted the failure).
pub(crate) const ENTRY_CHECK: u8 = 255;

/// Deopt kind code for an entry at a resume point the plan never reached
/// (code left out behind a cold branch): not a speculation of its own
/// either, but the plan is stale there, so each one counts toward a
/// recompile from the feedback the interpreter is now recording.
pub(crate) const UNREACHED_ENTRY: u8 = 254;

/// The code `jit_deopt` receives for a guard kind.
pub(crate) fn kind_code(k: GuardKind) -> u8 {
    match k {
        GuardKind::OperandType => 0,
        GuardKind::ArrayBounds => 1,
        GuardKind::FieldSlot => 2,
        GuardKind::CallTarget => 3,
        GuardKind::ColdBranch => 4,
        GuardKind::GlobalBinding => 5,
        GuardKind::Metatable => 6,
    }
}

/// The guard kind of a `jit_deopt` code.
pub(crate) fn kind_of(code: u8) -> Option<GuardKind> {
    Some(match code {
        0 => GuardKind::OperandType,
        1 => GuardKind::ArrayBounds,
        2 => GuardKind::FieldSlot,
        3 => GuardKind::CallTarget,
        4 => GuardKind::ColdBranch,
        5 => GuardKind::GlobalBinding,
        6 => GuardKind::Metatable,
        _ => return None,
    })
}

impl<'a, 'b> Translator<'a, 'b> {
    /// What the plan knows about register `r` on entry to the current
    /// instruction (tier 1: nothing).
    pub(super) fn known(&self, r: u16) -> Ty {
        match self.plan {
            Some(p) => p.ty(self.pc, r),
            None => Ty::Any,
        }
    }

    pub(super) fn known_at(&self, pc: usize) -> Vec<(u16, Ty)> {
        let Some(plan) = self.plan else { return Vec::new() };
        // A dead register is never read again: no need to load it (and
        // its memory may be stale, see `codegen/defer.rs`).
        (0..self.ivars.len() as u16)
            .map(|r| (r, plan.ty(pc, r)))
            .filter(|(r, t)| matches!(t, Ty::Int | Ty::Float | Ty::Table) && self.live(pc, *r))
            .collect()
    }

    /// The block to enter `pc` through from outside the straight-line
    /// flow (the resume dispatch, a helper's continuation).
    pub(super) fn resume_block(&mut self, pc: usize) -> Block {
        if pc >= self.blocks.len() {
            return self.bail;
        }
        self.resumed[pc] = true;
        // A resume point behind a side the plan left out (a loop header, or
        // the pc after a call, in code only a deopt leads to): the
        // interpreter carries on there. Compiled, that code would run into
        // the reached code with its SSA copies of registers undefined.
        if let Some(plan) = self.plan
            && !plan.reached(pc)
        {
            return self.unreached_entry(pc);
        }
        if self.known_at(pc).is_empty() && !self.tick_in_var(pc) {
            return self.blocks[pc];
        }
        if let Some(b) = self.stubs.get(&pc) {
            return *b;
        }
        let b = self.b.create_block();
        self.stubs.insert(pc, b);
        b
    }

    /// The way in at a resume point the plan never reached: the
    /// interpreter carries on at `pc`, and the entry counts as a deopt
    /// (`UNREACHED_ENTRY`), so a loop there that has become hot asks for a
    /// recompile after `deopt_limit` tries instead of being handed back to
    /// the interpreter at every back-edge for good. An inlined callee has
    /// no loops and keeps the plain bail (its caller's frame is the one
    /// running). Nor does the `Return` after a `TailCall`: a tail call to a
    /// native comes back there on every call, and the plan (rightly) has
    /// no way past a tail call; the interpreter just returns. Filled in by
    /// `finish_stubs`.
    fn unreached_entry(&mut self, pc: usize) -> Block {
        let after_tail_call = pc > 0 && matches!(self.p.code[pc - 1], Op::TailCall { .. });
        if self.inlined.is_some() || after_tail_call {
            return self.bail;
        }
        if let Some(b) = self.unreached.get(&pc) {
            return *b;
        }
        let b = self.b.create_block();
        self.b.set_cold_block(b);
        self.unreached.insert(pc, b);
        b
    }

    /// Emits every stub: check the tag of each register the plan knows at
    /// its pc, load the payloads into the SSA variables, continue. A tag
    /// that does not match means the plan's assumption does not hold for
    /// this frame: the interpreter carries on from pc.
    pub(super) fn finish_stubs(&mut self) {
        // The exits below are emitted after every instruction, each for a
        // pc of its own: they write an inlined callee's frame always.
        self.frame_pushed.clear();
        self.finish_edges();
        self.finish_deopts();
        let mut unreached: Vec<(usize, Block)> = self.unreached.iter().map(|(p, b)| (*p, *b)).collect();
        unreached.sort_unstable();
        for (pc, blk) in unreached {
            // Nothing is deferred here: every way to a resume point has
            // written memory back (see `resume_block`).
            self.b.switch_to_block(blk);
            let word = self.deopt_word(pc, UNREACHED_ENTRY);
            let r = self.call_helper(rt::jit_deopt as *const u8, word);
            self.b.ins().jump(self.exit, &[BlockArg::Value(r)]);
        }
        let mut stubs: Vec<(usize, Block)> = self.stubs.iter().map(|(p, b)| (*p, *b)).collect();
        stubs.sort_unstable();
        for (pc, blk) in stubs {
            // A hoisted check's failure is its own (it counts against the
            // site in the loop that needs the type). Its exit is built
            // first: the builder cannot leave the stub half-built.
            let hoisted: Vec<(u16, Block)> = match self.plan {
                Some(plan) => plan.hoisted_at(pc).copied().collect::<Vec<Hoist>>(),
                None => Vec::new(),
            }
            .into_iter()
            .map(|h| (h.reg, self.hoist_exit(h)))
            .collect();
            self.b.switch_to_block(blk);
            let fail = self.b.create_block();
            self.b.set_cold_block(fail);
            for (r, ty) in self.known_at(pc) {
                let regs = self.regs();
                let t = self.b.ins().load(types::I64, self.mf, regs, 16 * r as i32);
                let want = match ty {
                    Ty::Int => tag::INT,
                    Ty::Float => tag::FLOAT,
                    _ => tag::TABLE,
                };
                let ok = self.eq_imm(t, want);
                let cont = self.b.create_block();
                let miss = hoisted.iter().find(|h| h.0 == r).map_or(fail, |h| h.1);
                self.b.ins().brif(ok, cont, &[], miss, &[]);
                self.b.switch_to_block(cont);
                if ty == Ty::Float {
                    let v = self.b.ins().load(types::F64, self.mf, regs, 16 * r as i32 + 8);
                    self.b.def_var(self.fvars[r as usize], v);
                } else {
                    let v = self.b.ins().load(types::I64, self.mf, regs, 16 * r as i32 + 8);
                    self.b.def_var(self.ivars[r as usize], v);
                }
            }
            if self.tick_in_var(pc) {
                self.load_tick();
            }
            // Straight into the instruction (`jump` would route a loop
            // header back through this stub).
            self.b.ins().jump(self.blocks[pc], &[]);
            self.b.switch_to_block(fail);
            let word = self.deopt_word(pc, ENTRY_CHECK);
            let r = self.call_helper(rt::jit_deopt as *const u8, word);
            self.b.ins().jump(self.exit, &[BlockArg::Value(r)]);
        }
    }

    /// The cold exit for a failed hoisted check: the frame is at the loop
    /// header, where the interpreter resumes; the failure counts against
    /// the check's site (`runtime::jit_deopt_hoisted`). The block is filled
    /// in at once, and left current: hoisted checks are made by stubs
    /// only, which are emitted last (between two stubs), and a `ForPrep`
    /// that checks a guessed start switches back itself.
    fn hoist_exit(&mut self, h: Hoist) -> Block {
        let blk = self.b.create_block();
        self.b.set_cold_block(blk);
        self.b.switch_to_block(blk);
        debug_assert!(self.inlined.is_none(), "an inlined callee has no loops");
        // The layout `jit_deopt_hoisted` reads (the plan hoists nothing in a
        // function too long for it).
        let word = h.header | ((kind_code(h.kind) as usize) << 24) | ((h.reg as usize) << 32) | (h.site << 40);
        let r = self.call_helper(rt::jit_deopt_hoisted as *const u8, word);
        self.b.ins().jump(self.exit, &[BlockArg::Value(r)]);
        blk
    }

    /// `ForPrep` of a loop the plan makes an integer loop (its start and
    /// step integers; see `Spec::Int`): the registers come from their SSA
    /// copies where the plan knows them (a constant step folds the
    /// iteration count's division away), a start the plan only guessed is
    /// checked here, and the loop's registers leave as unboxed integers
    /// straight into the loop. A float start deoptimizes at the `ForPrep`
    /// and counts against the loop's `ForLoop` site (so the guess is
    /// dropped at the deopt limit); a float or non-number limit and a zero
    /// step take `jit_forprep`, which makes the integer loop (or raises the
    /// error) itself.
    pub(super) fn for_prep_int(&mut self, pc: usize, a: u16, skip: usize) {
        let next = pc + 1;
        let slow = self.cold_block(|t| {
            let r = t.call_helper4(rt::jit_forprep as *const u8, pc, a as usize, 0, skip);
            t.continue_at(r, &[next, skip]);
        });
        let init = if self.known(a) == Ty::Int {
            self.int(a)
        } else {
            // The exit of a check hoisted to a loop's entry does what this
            // needs: resume at the `ForPrep` (nothing is deferred there, as
            // it does not defer), count against the loop's site.
            let here = self.b.current_block().expect("inside a block");
            let check = Hoist { header: pc, reg: a, ty: Ty::Int, site: skip - 1, kind: GuardKind::OperandType };
            let exit = self.hoist_exit(check);
            self.b.switch_to_block(here);
            let tt = self.tag(a);
            let ok = self.eq_imm(tt, tag::INT);
            self.continue_if(ok, exit);
            self.int(a)
        };
        let step = self.int(a + 2);
        let limit = if self.known(a + 1) == Ty::Int {
            self.int(a + 1)
        } else {
            let tt = self.tag(a + 1);
            let ok = self.eq_imm(tt, tag::INT);
            self.continue_if(ok, slow);
            self.int(a + 1)
        };
        // A constant step (loaded just before, as `for i = n, 1, -1`
        // compiles) decides the direction and the divisor here.
        let constant_step = match pc.checked_sub(1).map(|p| self.p.code[p]) {
            Some(Op::LoadInt { a: r, v }) if r as u16 == a + 2 && v != 0 && !self.jump_target[pc] => Some(v as i64),
            _ => None,
        };
        // The step's magnitude.
        enum Stride {
            Constant(u64),
            Value(ir::Value),
        }
        let (low, high, stride) = match constant_step {
            Some(c) if c > 0 => (init, limit, Stride::Constant(c.unsigned_abs())),
            Some(c) => (limit, init, Stride::Constant(c.unsigned_abs())),
            None => {
                let nonzero = self.b.ins().icmp_imm_s(IntCC::NotEqual, step, 0);
                self.continue_if(nonzero, slow);
                // As `for_prep`: counting down mirrors counting up.
                let up = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, step, 0);
                let low = self.b.ins().select(up, init, limit);
                let high = self.b.ins().select(up, limit, init);
                let neg = self.b.ins().ineg(step);
                (low, high, Stride::Value(self.b.ins().select(up, step, neg)))
            }
        };
        let empty = self.b.ins().icmp(IntCC::SignedGreaterThan, low, high);
        let skip_blk = self.block_at(skip);
        let enter = self.b.create_block();
        self.b.ins().brif(empty, skip_blk, &[], enter, &[]);
        self.b.switch_to_block(enter);
        let span = self.b.ins().isub(high, low);
        let count = match stride {
            Stride::Constant(1) => span,
            Stride::Constant(s) => self.b.ins().udiv_imm_u(span, s as i64),
            Stride::Value(stride) => self.b.ins().udiv(span, stride),
        };
        // Memory already holds the start, checked.
        self.b.def_var(self.ivars[a as usize], init);
        self.set_int(a + 1, count);
        self.set_int(a + 3, init);
        self.jump(next);
    }

    /// The cold exit for a failed `kind` guard at `pc` (filled in by
    /// `finish_stubs`: the builder cannot leave a half-built block).
    pub(super) fn deopt_block(&mut self, pc: usize, kind: GuardKind) -> Block {
        let code = kind_code(kind);
        // The interpreter resumes at pc: the deferred registers it may read
        // are written back first (the same exit serves every guard of the
        // instruction that has the same ones).
        let back = self.dirty_live_at(pc);
        let variants = self.deopts.entry((pc, code)).or_default();
        if let Some((_, b)) = variants.iter().find(|(l, _)| *l == back) {
            return *b;
        }
        let blk = self.b.create_block();
        self.b.set_cold_block(blk);
        self.deopts.get_mut(&(pc, code)).expect("just made").push((back, blk));
        blk
    }

    fn finish_deopts(&mut self) {
        let mut exits: Vec<((usize, u8), Vec<Dirty>, Block)> =
            self.deopts.iter().flat_map(|(k, v)| v.iter().map(|(l, b)| (*k, l.clone(), *b))).collect();
        exits.sort_unstable_by_key(|(k, _, b)| (*k, b.as_u32()));
        if exits.is_empty() {
            return;
        }
        // Every exit writes back its own registers, then they share one
        // call of `jit_deopt`: a function has hundreds of exits, and each
        // call site costs the register allocator its clobbers.
        let call = self.b.create_block();
        self.b.set_cold_block(call);
        let word = self.b.append_block_param(call, types::I64);
        for ((pc, code), back, blk) in exits {
            self.b.switch_to_block(blk);
            self.write_back(&back);
            if self.tick_in_var(pc) {
                self.store_tick();
            }
            let w = self.iconst(self.deopt_word(pc, code) as i64);
            self.b.ins().jump(call, &[BlockArg::Value(w)]);
        }
        self.b.switch_to_block(call);
        let r = self.call_helper_with(rt::jit_deopt as *const u8, word);
        self.b.ins().jump(self.exit, &[BlockArg::Value(r)]);
    }

    /// Writes an unboxed number to register `r`: the SSA copy and memory
    /// (the tag only when memory's tag may differ).
    pub(super) fn write_num(&mut self, r: u16, v: ir::Value, ty: Ty) {
        let (var, t) = if ty == Ty::Int { (&self.ivars, tag::INT) } else { (&self.fvars, tag::FLOAT) };
        if let Some(&var) = var.get(r as usize) {
            self.b.def_var(var, v);
        }
        if self.may_defer(r) {
            return self.mark_dirty(r, ty);
        }
        self.clean(r);
        // The tag too, even where the plan knows the type: a dead
        // register's memory may have been left stale (`codegen/defer.rs`).
        {
            self.set_tag(r, t);
        }
        self.set_payload(r, v);
    }

    /// Writes a table (its pointer) to register `r`: the SSA copy, and
    /// memory unless the write may be deferred (`codegen/defer.rs`).
    pub(super) fn write_table(&mut self, r: u16, ptr: ir::Value) {
        if let Some(&var) = self.ivars.get(r as usize) {
            self.b.def_var(var, ptr);
        }
        if self.may_defer(r) {
            return self.mark_dirty(r, Ty::Table);
        }
        self.clean(r);
        self.set_tag(r, tag::TABLE);
        self.set_payload(r, ptr);
    }

    /// Guards that register `r` holds `ty` (deoptimizing at the current
    /// pc otherwise) and returns its payload; after the guard the SSA copy
    /// is defined, as the plan assumes for the rest of the instruction and
    /// beyond.
    fn guarded(&mut self, r: u16, ty: Ty) -> ir::Value {
        self.guarded_as(r, ty, GuardKind::OperandType)
    }

    /// `guarded`, counting a failure as a `kind` failure of this site.
    pub(super) fn guarded_as(&mut self, r: u16, ty: Ty, kind: GuardKind) -> ir::Value {
        if self.known(r) == ty {
            return if ty == Ty::Int { self.int(r) } else { self.float(r) };
        }
        let exit = self.deopt_block(self.pc, kind);
        if self.known(r) != Ty::Any {
            // Known to be something else: the guard cannot pass (and memory
            // may be stale, see `codegen/defer.rs`).
            self.always_to(exit);
        }
        let regs = self.regs();
        let t = self.b.ins().load(types::I64, self.mf, regs, 16 * r as i32);
        let ok = self.eq_imm(t, if ty == Ty::Int { tag::INT } else { tag::FLOAT });
        let cont = self.b.create_block();
        self.b.ins().brif(ok, cont, &[], exit, &[]);
        self.b.switch_to_block(cont);
        let regs = self.regs();
        let (ct, var) = if ty == Ty::Int { (types::I64, &self.ivars) } else { (types::F64, &self.fvars) };
        let v = self.b.ins().load(ct, self.mf, regs, 16 * r as i32 + 8);
        if let Some(&var) = var.get(r as usize) {
            self.b.def_var(var, v);
        }
        v
    }

    fn spec_int(&mut self, x: Opd) -> ir::Value {
        match x {
            Opd::Int(i) => self.iconst(i),
            Opd::Reg(r) => self.guarded(r, Ty::Int),
            _ => unreachable!("the plan speculates integers only on integer constants"),
        }
    }

    /// A float operand. In arithmetic (`arith`) a register known to hold
    /// an integer converts, as 5.4 mixes them; in a comparison it does not
    /// (int/float comparisons are exact, and the plan then assumes the
    /// register holds a float): the guard deoptimizes instead.
    fn spec_float(&mut self, x: Opd, arith: bool) -> ir::Value {
        match x {
            Opd::Int(i) => self.b.ins().f64const(i as f64),
            Opd::Float(f) => self.b.ins().f64const(f),
            Opd::Reg(r) if arith && self.known(r) == Ty::Int => {
                let i = self.int(r);
                self.b.ins().fcvt_from_sint(types::F64, i)
            }
            Opd::Reg(r) => self.guarded(r, Ty::Float),
            Opd::Other(..) => unreachable!("the plan speculates floats only on numeric constants"),
        }
    }

    /// Emits `pc` if the plan speculates on it; false: the generic code.
    pub(super) fn op_speculated(&mut self, pc: usize) -> bool {
        let plan = self.plan.expect("tier 2");
        let spec = plan.spec[pc];
        match self.p.code[pc] {
            Op::Add { a, b, c } if spec != Spec::None => self.arith_spec(a, b, c, Arith::Add, spec),
            Op::Sub { a, b, c } if spec != Spec::None => self.arith_spec(a, b, c, Arith::Sub, spec),
            Op::Mul { a, b, c } if spec != Spec::None => self.arith_spec(a, b, c, Arith::Mul, spec),
            Op::Div { a, b, c } if spec != Spec::None => self.arith_spec(a, b, c, Arith::Div, spec),
            Op::IDiv { a, b, c } if spec != Spec::None => self.arith_spec(a, b, c, Arith::IDiv, spec),
            Op::Mod { a, b, c } if spec == Spec::Int => self.arith_spec(a, b, c, Arith::Mod, spec),
            Op::BAnd { a, b, c } if spec == Spec::Int => self.arith_spec(a, b, c, Arith::BAnd, spec),
            Op::BOr { a, b, c } if spec == Spec::Int => self.arith_spec(a, b, c, Arith::BOr, spec),
            Op::BXor { a, b, c } if spec == Spec::Int => self.arith_spec(a, b, c, Arith::BXor, spec),
            Op::Shl { a, b, c } if spec == Spec::Int => self.arith_spec(a, b, c, Arith::Shl, spec),
            Op::Shr { a, b, c } if spec == Spec::Int => self.arith_spec(a, b, c, Arith::Shr, spec),
            // `~x` records no feedback; it is unboxed where the plan already
            // knows `x` is an integer (`~(a | b)`), with no guard.
            Op::BNot { a, b } if plan.ty(pc, b as u16) == Ty::Int => {
                let x = self.guarded(b as u16, Ty::Int);
                let v = self.b.ins().bnot(x);
                self.write_num(a as u16, v, Ty::Int);
                self.keep_present_past(Some(a as u16));
                self.jump(pc + 1);
            }
            Op::Unm { a, b } if spec != Spec::None => {
                let ty = if spec == Spec::Int { Ty::Int } else { Ty::Float };
                let x = self.guarded(b as u16, ty);
                let v = if ty == Ty::Int { self.b.ins().ineg(x) } else { self.b.ins().fneg(x) };
                self.write_num(a as u16, v, ty);
                self.keep_present_past(Some(a as u16));
                self.jump(pc + 1);
            }
            Op::Lt { k, b, c } if spec != Spec::None => self.compare_spec(k, b, c, IntCC::SignedLessThan, FloatCC::LessThan, spec),
            Op::Le { k, b, c } if spec != Spec::None => {
                self.compare_spec(k, b, c, IntCC::SignedLessThanOrEqual, FloatCC::LessThanOrEqual, spec)
            }
            Op::Eq { k, b, c } if spec == Spec::Int => self.compare_spec(k, b, c, IntCC::Equal, FloatCC::Equal, spec),
            Op::Test { a, k } if plan.cold[pc].is_some() => {
                self.keep_present_past(None);
                let f = self.falsy(a as u16);
                let [taken, not] = self.cond_succs(pc);
                let cold = self.deopt_block(pc, GuardKind::ColdBranch);
                let (tb, nb) = if plan.cold[pc] == Some(true) { (cold, self.block_at(not)) } else { (self.block_at(taken), cold) };
                // Jump when truthy == k, i.e. falsy != k.
                let (t, e) = if k { (nb, tb) } else { (tb, nb) };
                self.b.ins().brif(f, t, &[], e, &[]);
            }
            Op::GetTable { a, b, c } if matches!(spec, Spec::Array(_)) => {
                let Spec::Array(ty) = spec else { unreachable!("matched above") };
                let slot = match self.present_slot(b as u16, c) {
                    Some(slot) => slot,
                    None => self.array_slot_spec(b as u16, c),
                };
                let exit = self.deopt_block(pc, GuardKind::ArrayBounds);
                // Every type guard, `Any`'s included, rules out nil.
                self.typed_value(a as u16, slot, 0, ty, exit);
                self.note_present(b as u16, c, slot);
                self.keep_present_past(Some(a as u16));
                self.jump(pc + 1);
            }
            Op::GetField { a, b, k } if matches!(spec, Spec::Field { .. }) => {
                let Spec::Field { slot, ty } = spec else { unreachable!("matched above") };
                let exit = self.deopt_block(pc, GuardKind::FieldSlot);
                let node = match self.present_field(b as u16, k as u32) {
                    Some(node) => node,
                    None => self.field_node_spec(b as u16, k as u32, slot, false),
                };
                self.typed_value(a as u16, node, 16, ty, exit);
                self.note_field(b as u16, k as u32, node);
                self.keep_present_past(Some(a as u16));
                self.jump(pc + 1);
            }
            Op::SetField { a, k, c } if matches!(spec, Spec::Field { .. }) => {
                let Spec::Field { slot, .. } = spec else { unreachable!("matched above") };
                let exit = self.deopt_block(pc, GuardKind::FieldSlot);
                let node = match self.present_field(a as u16, k as u32) {
                    Some(node) => {
                        // Found by a read, maybe: a write still needs the
                        // table out of every inherited-lookup chain.
                        let t = self.int(a as u16);
                        self.not_in_chain(t, exit);
                        node
                    }
                    None => self.field_node_spec(a as u16, k as u32, slot, true),
                };
                self.store_over_present(node, 16, c, exit);
                self.note_field(a as u16, k as u32, node);
                self.keep_present_past(None);
                self.jump(pc + 1);
            }
            Op::GetGlobal { a, k } if matches!(spec, Spec::Global { .. }) => {
                let Spec::Global { slot, ty } = spec else { unreachable!("matched above") };
                let exit = self.deopt_block(pc, GuardKind::GlobalBinding);
                let globals = self.b.ins().load(types::I64, self.mf, self.state, self.lay.state_globals);
                let node = self.node_spec(globals, k, slot, false, exit);
                self.typed_value(a as u16, node, 16, ty, exit);
                self.jump(pc + 1);
            }
            Op::Call { a, .. } if matches!(spec, Spec::Math(_)) => {
                let Spec::Math(f) = spec else { unreachable!("matched above") };
                self.math_call(pc, a as usize, f);
            }
            Op::SelfOp { a, b, k } if self.method_lookup_inline(k) => self.method_lookup(pc, a, b, k),
            Op::SetTable { a, b, c } if matches!(spec, Spec::Array(_)) => {
                match self.present_slot(a as u16, b) {
                    Some(slot) => self.store_operand(slot, 0, c),
                    None => {
                        let slot = self.array_slot_spec(a as u16, b);
                        let exit = self.deopt_block(pc, GuardKind::ArrayBounds);
                        self.store_over_present(slot, 0, c, exit);
                        self.note_present(a as u16, b, slot);
                    }
                }
                // A nil written may empty this slot or, through another
                // register holding the same table, any other.
                if self.may_be_nil(c) {
                    self.present.clear();
                }
                self.keep_present_past(None);
                self.jump(pc + 1);
            }
            _ => return false,
        }
        true
    }

    /// The node at hash slot `slot` of table `obj`, guarded (`FieldSlot`):
    /// `obj` a table (for a write, not in an inherited-lookup chain, whose
    /// writes must retire cached lookups), the slot inside its node array,
    /// and constant `k`'s interned key in it, compared by pointer as the
    /// inline cache does. Nodes are 32 bytes: key, then value.
    fn field_node_spec(&mut self, obj: u16, k: u32, slot: u32, write: bool) -> ir::Value {
        let exit = self.deopt_block(self.pc, GuardKind::FieldSlot);
        let t = self.table_guarded(obj, exit);
        self.node_spec(t, k, slot, write, exit)
    }

    /// The pointer of the table in register `obj`, guarded to be one
    /// (else to `exit`) unless the plan knows it is; after the guard the
    /// SSA copy is defined, as the plan assumes from here on.
    fn table_guarded(&mut self, obj: u16, exit: Block) -> ir::Value {
        if self.known(obj) == Ty::Table {
            return self.int(obj);
        }
        if self.known(obj) != Ty::Any {
            self.always_to(exit);
        }
        let tt = self.tag(obj);
        let is_table = self.eq_imm(tt, tag::TABLE);
        self.continue_if(is_table, exit);
        let t = self.int(obj);
        if let Some(&var) = self.ivars.get(obj as usize) {
            self.b.def_var(var, t);
        }
        t
    }

    /// The node at hash slot `slot` of table `t`, guarded as for
    /// `field_node_spec` (any failure jumps to `exit`).
    fn node_spec(&mut self, t: ir::Value, k: u32, slot: u32, write: bool, exit: Block) -> ir::Value {
        let (Some(np), Some(nl)) = (self.lay.table_nodes_ptr, self.lay.table_nodes_len) else { unreachable!("checked by the plan") };
        if write {
            self.not_in_chain(t, exit);
        }
        let len = self.b.ins().load(types::I64, self.mf, t, nl);
        let inb = self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, len, slot as i64);
        self.continue_if(inb, exit);
        let nodes = self.b.ins().load(types::I64, self.mf, t, np);
        let node = self.b.ins().iadd_imm_s(nodes, 32 * slot as i64);
        let hit = self.node_holds_key(node, k);
        self.continue_if(hit, exit);
        node
    }

    /// Reads the value at `addr + off` into register `a`, guarded to be
    /// of type `ty` (`Int` / `Float`: unboxed into its SSA copy; `Table`:
    /// its pointer in the SSA copy too) or, for `Any`, not nil; else jumps
    /// to `exit`.
    fn typed_value(&mut self, a: u16, addr: ir::Value, off: i32, ty: Ty, exit: Block) {
        let vt = self.b.ins().load(types::I64, self.mf, addr, off);
        let ok = match ty {
            Ty::Int => self.eq_imm(vt, tag::INT),
            Ty::Float => self.eq_imm(vt, tag::FLOAT),
            Ty::Table => self.eq_imm(vt, tag::TABLE),
            _ => self.b.ins().icmp_imm_u(IntCC::NotEqual, vt, tag::NIL),
        };
        self.continue_if(ok, exit);
        match ty {
            // A table: written to memory as any value, and its pointer
            // kept in the SSA copy the plan now knows.
            Ty::Table => {
                let ptr = self.b.ins().load(types::I64, self.mf, addr, off + 8);
                self.write_table(a, ptr);
            }
            Ty::Int | Ty::Float => {
                let ct = if ty == Ty::Int { types::I64 } else { types::F64 };
                let v = self.b.ins().load(ct, self.mf, addr, off + 8);
                self.write_num(a, v, ty);
            }
            _ => {
                self.clean(a);
                let regs = self.regs();
                self.copy(regs, 16 * a as i32, addr, off);
            }
        }
    }

    /// Stores operand `c` over the value at `addr + off` if that value is
    /// not nil (else jumps to `exit`): the key is then present, so no
    /// `__newindex` applies, whatever the table's metatable.
    fn store_over_present(&mut self, addr: ir::Value, off: i32, c: u16, exit: Block) {
        let vt = self.b.ins().load(types::I64, self.mf, addr, off);
        let ok = self.b.ins().icmp_imm_u(IntCC::NotEqual, vt, tag::NIL);
        self.continue_if(ok, exit);
        self.store_operand(addr, off, c);
    }

    /// Jumps to `exit`; what the caller builds after goes in a block no
    /// path reaches (the guard it stands for cannot pass).
    fn always_to(&mut self, exit: Block) {
        self.b.ins().jump(exit, &[]);
        let dead = self.b.create_block();
        self.b.switch_to_block(dead);
    }

    /// Continues in a fresh block when `ok`, else jumps to `exit`.
    pub(super) fn continue_if(&mut self, ok: ir::Value, exit: Block) {
        let cont = self.b.create_block();
        self.b.ins().brif(ok, cont, &[], exit, &[]);
        self.b.switch_to_block(cont);
    }

    /// Continues if table `t` is in no inherited-lookup chain (whose
    /// writes must retire cached lookups), else jumps to `exit`.
    fn not_in_chain(&mut self, t: ir::Value, exit: Block) {
        let in_chain = self.b.ins().uload8(types::I64, self.mf, t, self.lay.table_in_chain);
        let plain = self.eq_imm(in_chain, 0);
        self.continue_if(plain, exit);
    }

    /// Records what a forward edge from the current instruction to `pc`
    /// carries there: the present entries if the instruction keeps them
    /// along it (it touched no table but through them, and no helper ran
    /// on the way), else nothing.
    pub(super) fn carry_present(&mut self, pc: usize) {
        if self.plan.is_none() || self.pc >= pc || pc >= self.blocks.len() {
            return;
        }
        let keeps = !self.routing_helper && (self.keeps_present || matches!(self.p.code[self.pc], Op::Jmp { close: 0, .. }));
        let carried = keeps.then(|| self.present.clone());
        self.present_in.entry(pc).or_default().push(carried);
    }

    /// What is present at jump target `pc`: the entries every way in
    /// carried, when every way in is a forward edge from translated code
    /// (each of which `carry_present` saw). A loop header has a back edge,
    /// and a pc that `resume_block` serves may be entered from anywhere.
    /// An entry's node is one SSA value on every edge, so it is defined
    /// before they part and dominates the join.
    pub(super) fn present_at_join(&mut self, pc: usize) -> Vec<PresentSlot> {
        let edges = self.present_in.remove(&pc).unwrap_or_default();
        if self.plan.is_none() || edges.is_empty() || self.loop_end[pc].is_some() || self.resumed[pc] {
            return Vec::new();
        }
        let mut lists = edges.into_iter();
        let Some(Some(mut common)) = lists.next() else { return Vec::new() };
        for list in lists {
            let Some(list) = list else { return Vec::new() };
            common.retain(|e| list.contains(e));
        }
        common
    }

    /// The hash node of field `k` of the table in `obj`, if known (see
    /// `PresentSlot`).
    fn present_field(&self, obj: u16, k: u32) -> Option<ir::Value> {
        self.present.iter().find(|s| s.table == obj && s.key == PresentKey::Field(k)).map(|s| s.slot)
    }

    /// Records that the table in `obj` holds field `k` at `node`.
    fn note_field(&mut self, obj: u16, k: u32, node: ir::Value) {
        if self.present_field(obj, k).is_none() {
            self.present.push(PresentSlot { table: obj, key: PresentKey::Field(k), slot: node });
        }
    }

    /// The slot of `obj[key]` if it is known present (see `PresentSlot`).
    fn present_slot(&self, obj: u16, key: u16) -> Option<ir::Value> {
        let key = PresentKey::of(self.operand_key(key)?);
        self.present.iter().find(|s| s.table == obj && s.key == key).map(|s| s.slot)
    }

    /// Records that `obj[key]`, at `slot`, is present (just read or
    /// written non-nil, its guards passed).
    fn note_present(&mut self, obj: u16, key: u16, slot: ir::Value) {
        if let Some(k) = self.operand_key(key) {
            self.present.push(PresentSlot { table: obj, key: PresentKey::of(k), slot });
        }
    }

    /// The instruction just translated keeps the known-present slots true
    /// for the next one (it touches no table but through a present slot,
    /// calls nothing, and leaves only through deopt exits), except those
    /// naming register `written`, which it overwrote.
    pub(super) fn keep_present_past(&mut self, written: Option<u16>) {
        if let Some(r) = written {
            self.present.retain(|s| s.table != r && s.key != PresentKey::Reg(r));
        }
        self.keeps_present = true;
    }

    /// A key operand as a present slot names it: a register or an integer
    /// constant.
    fn operand_key(&self, key: u16) -> Option<Opd<'a>> {
        match self.operand(key) {
            k @ (Opd::Reg(_) | Opd::Int(_)) => Some(k),
            _ => None,
        }
    }

    /// Whether operand `c` may be nil.
    fn may_be_nil(&self, c: u16) -> bool {
        match self.operand(c) {
            Opd::Int(_) | Opd::Float(_) => false,
            Opd::Other(k, _) => matches!(k, crate::bytecode::Constant::Nil),
            Opd::Reg(r) => !matches!(self.known(r), Ty::Int | Ty::Float | Ty::Table),
        }
    }

    /// The address of `obj[key]` in the array part, guarded: `obj` a
    /// table, `key` an integer (its SSA copy defined after, as the plan
    /// assumes) inside the array part; any failure deoptimizes
    /// (`ArrayBounds`).
    fn array_slot_spec(&mut self, obj: u16, key: u16) -> ir::Value {
        let exit = self.deopt_block(self.pc, GuardKind::ArrayBounds);
        let t = self.table_guarded(obj, exit);
        let k = match self.operand(key) {
            Opd::Int(i) => self.iconst(i),
            Opd::Reg(r) => self.guarded_as(r, Ty::Int, GuardKind::ArrayBounds),
            _ => unreachable!("the plan speculates on integer keys only"),
        };
        let idx = self.b.ins().iadd_imm_s(k, -1);
        let len = self.b.ins().load(types::I64, self.mf, t, self.lay.table_arr_len.expect("checked by the plan"));
        let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, len);
        self.continue_if(inb, exit);
        self.element(t, idx)
    }

    fn arith_spec(&mut self, a: u8, b: u16, c: u16, op: Arith, spec: Spec) {
        let pc = self.pc;
        // Mod and IDiv may call the runtime and come back (see below).
        if !matches!(op, Arith::Mod | Arith::IDiv) {
            self.keep_present_past(Some(a as u16));
        }
        let (x, y) = (self.operand(b), self.operand(c));
        let a16 = a as u16;
        if spec == Spec::Float {
            let (p, q) = (self.spec_float(x, true), self.spec_float(y, true));
            let v = self.float_op(op, p, q);
            self.write_num(a16, v, Ty::Float);
            return self.jump(pc + 1);
        }
        // The helper block must be made before the guards start filling
        // this one (the builder cannot switch away from a half-built block).
        let positive_const = matches!(y, Opd::Int(d) if d > 0);
        let slow = (matches!(op, Arith::Mod | Arith::IDiv) && !positive_const).then(|| {
            let (ha, hb, hc) = Self::arith_ops(a, b, c, op);
            self.cold_helper(rt::jit_arith as *const u8, pc, ha, hb, hc)
        });
        let (i, j) = (self.spec_int(x), self.spec_int(y));
        if let Some(v) = self.wrapping_int_op(op, i, j) {
            self.write_num(a16, v, Ty::Int);
            return self.jump(pc + 1);
        }
        let v = match op {
            Arith::Div => {
                let p = self.b.ins().fcvt_from_sint(types::F64, i);
                let q = self.b.ins().fcvt_from_sint(types::F64, j);
                let v = self.b.ins().fdiv(p, q);
                self.write_num(a16, v, Ty::Float);
                return self.jump(pc + 1);
            }
            Arith::Mod | Arith::IDiv => {
                // A positive divisor inline; zero, negative and MIN / -1 go
                // to the helper, whose integer result (or error) the
                // continuation reloads.
                if let Some(slow) = slow {
                    let zero = self.iconst(0);
                    let pos = self.b.ins().icmp(IntCC::SignedGreaterThan, j, zero);
                    let go = self.b.create_block();
                    self.b.ins().brif(pos, go, &[], slow, &[]);
                    self.b.switch_to_block(go);
                }
                self.floor_mod_div(op, i, j)
            }
            Arith::Shl | Arith::Shr => self.shift_op(op, i, j, y),
            _ => unreachable!("never speculated: **"),
        };
        self.write_num(a16, v, Ty::Int);
        self.jump(pc + 1);
    }

    fn compare_spec(&mut self, k: bool, b: u16, c: u16, icc: IntCC, fcc: FloatCC, spec: Spec) {
        let pc = self.pc;
        let [taken, not] = self.cond_succs(pc);
        // All inline, touching no table: both sides keep what is present.
        self.keep_present_past(None);
        // A side the plan left out as cold deoptimizes (see `edge`).
        let (te, ne) = (self.edge(pc, true, taken), self.edge(pc, false, not));
        let (bt, bf) = if k { (te, ne) } else { (ne, te) };
        let (x, y) = (self.operand(b), self.operand(c));
        let r = if spec == Spec::Int {
            let (i, j) = (self.spec_int(x), self.spec_int(y));
            self.b.ins().icmp(icc, i, j)
        } else {
            let (p, q) = (self.spec_float(x, false), self.spec_float(y, false));
            self.b.ins().fcmp(fcc, p, q)
        };
        self.b.ins().brif(r, bt, &[], bf, &[]);
    }
}
