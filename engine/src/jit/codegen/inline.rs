//! Tier 2's inlined calls: a `Call` whose feedback saw one small Lua callee,
//! or two it alternates between, gets each callee's code compiled in
//! place, under the callee's own plan, behind a test of the function's
//! prototype (the first callee's, then the second's).
//!
//! Why the callee's frame is written late: everything that looks at
//! frames — runtime helpers, error positions and tracebacks, the garbage
//! collector (which keeps the top frame's registers), `pcall` unwinding, a
//! deopt — runs only when compiled code calls out. So the inlined code
//! writes the callee's frame exactly as the push stub would only before it
//! calls a helper or makes a call (`materialize_frame`), and a callee that
//! returns without calling out (fib's `n < 2` case) never writes it at
//! all: the frame vector and `State::jit_regs` still describe the caller,
//! which is the truth for anything that could look. The checks a push
//! makes still come first (the tick, the frame vector's room and the depth
//! limits, stack room), so the frame can always be written where needed.
//! What inlining removes is the rest of a call: the indirect call, the
//! callee's prologue, the status checks, the hotness and feedback
//! bookkeeping, the return stub's generic copy loop, and the register-file
//! reloads around it. And the callee's registers are the caller's
//! registers `a + 1` and up (Lua's register window), so the inlined code
//! addresses them from the caller's register pointer.
//!
//! Invariant: every way out of inlined code other than its `Return` goes
//! through a helper, which had the frame written before it ran; the return
//! writes the frame count, `State::top` and `jit_regs` back to the
//! caller's whether or not the frame was written.
//!
//! Exits: a failed `CallTarget` guard (the register holds none of the
//! inlined callees, or no function) deoptimizes the caller at the `Call`, and the
//! interpreter makes the call. A frame that cannot be pushed inline (a
//! limit, a full frame vector, stack room) takes the ordinary call
//! sequence. Anything that leaves the inlined code — an error, a deopt, a
//! return the inline sequence does not do — leaves it the way a real
//! callee's code would return that status: `jit_call_resume` finishes the
//! callee's frame in the interpreter, and the caller's code continues
//! after the call.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, Block, BlockArg, InstBuilder, types};
use cranelift_frontend::Variable;
use std::collections::HashMap;

use super::Translator;
use crate::jit::runtime::{self as rt, tag};
use crate::jit::speculate::{Inline, Spec, Ty};
use crate::profile::GuardKind;
use crate::state::STACK_EXTRA;

/// What the inlined code of one call site needs from its caller.
#[derive(Clone, Copy)]
pub(super) struct InlineSite {
    /// The caller's `Call` instruction.
    pub call_pc: usize,
    /// The function's register in the caller (the callee's registers
    /// start right above it).
    a: usize,
    /// Results the caller wants.
    wanted: usize,
    /// The caller's register pointer, defined again on the way back.
    outer_regs: Variable,
    /// Stack index of the function's slot, where results go.
    func_abs: Variable,
    /// Index of the callee's frame (`jit_call_resume`'s level).
    level: Variable,
    /// The caller's code after the call.
    cont: Block,
    /// Takes a status the inlined code leaves with (see the module doc).
    leave: Block,
}

/// The variant of a `Function` (its discriminant byte).
#[derive(Clone, Copy)]
pub(super) enum FunctionKind {
    Lua = 0,
    Native = 1,
}

impl<'a, 'b> Translator<'a, 'b> {
    /// Guards that register `a` holds a function of kind `kind` (going to
    /// `miss` otherwise) and returns its `Gc<Function>` pointer: the start
    /// of every guard on a callee's identity.
    pub(super) fn guard_function(&mut self, a: usize, kind: FunctionKind, miss: Block) -> ir::Value {
        let cl = self.lay.call.expect("callee guards need the call layout");
        let regs = self.regs();
        let t = self.b.ins().load(types::I64, self.mf, regs, 16 * a as i32);
        let is_func = self.eq_imm(t, cl.tag_func);
        self.continue_if(is_func, miss);
        let regs = self.regs();
        let func = self.b.ins().load(types::I64, self.mf, regs, 16 * a as i32 + 8);
        let disc = self.b.ins().uload8(types::I64, self.mf, func, cl.func_disc);
        let same_kind = self.eq_imm(disc, kind as i64);
        self.continue_if(same_kind, miss);
        func
    }

    /// `Call` at `pc` with the callees `inls` (one, or two the site
    /// alternates between) compiled inline, each behind a test of the
    /// function's prototype.
    pub(super) fn inline_call(&mut self, pc: usize, a: usize, b: usize, c: usize, inls: &'a [Inline]) {
        let cl = self.lay.call.expect("the plan inlines only with a call layout");
        // None of these callees: the interpreter makes the call (and
        // counts it).
        let miss = self.deopt_block(pc, GuardKind::CallTarget);
        let generic = self.cold_block(|t| {
            // A fence first: without it Cranelift reuses the state fields
            // the checks below load for the same loads in the ordinary
            // call sequence, which keeps them live, and spilled, on the
            // hot path. A rare path (a tick due, a limit) pays it instead.
            t.b.ins().fence();
            t.call_generic(pc, a, b, c)
        });
        let func = self.guard_function(a, FunctionKind::Lua, miss);
        let proto = self.b.ins().load(types::I64, self.mf, func, cl.closure_proto);
        for (i, inl) in inls.iter().enumerate() {
            let same = self.eq_imm(proto, std::sync::Arc::as_ptr(&inl.callee) as i64);
            if i + 1 == inls.len() {
                self.continue_if(same, miss);
                self.inline_body(pc, a, c, inl, func, generic);
            } else {
                let (body, next) = (self.b.create_block(), self.b.create_block());
                self.b.ins().brif(same, body, &[], next, &[]);
                self.b.switch_to_block(body);
                self.inline_body(pc, a, c, inl, func, generic);
                self.b.switch_to_block(next);
            }
        }
    }

    /// One callee's inlined code at `Call` site `pc`, once the function in
    /// register `a` (`func`) is known to be `inl.callee`: the push's
    /// checks (`generic` takes the call when one fails), the callee's
    /// code, and the way back into the caller's code after the call.
    fn inline_body(&mut self, pc: usize, a: usize, c: usize, inl: &'a Inline, func: ir::Value, generic: Block) {
        let cl = self.lay.call.expect("the plan inlines only with a call layout");
        let lay = self.lay;

        // The checks the push stub makes that still apply: the tick, the
        // frame vector's room and the depth limits, stack room.
        let st = self.state;
        let frames = self.b.ins().load(types::I64, self.mf, st, cl.state_frames_ptr);
        let nframes = self.b.ins().load(types::I64, self.mf, st, cl.state_frames_len);
        let tick = self.b.ins().load(types::I64, self.mf, st, lay.state_tick);
        let tick_ok = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, tick, 1);
        let cap = self.b.ins().load(types::I64, self.mf, st, cl.state_frames_cap);
        let cap_ok = self.b.ins().icmp(IntCC::UnsignedLessThan, nframes, cap);
        let max_depth = self.b.ins().load(types::I64, self.mf, st, cl.state_max_depth);
        let depth_ok = self.b.ins().icmp(IntCC::UnsignedLessThan, nframes, max_depth);
        let last = self.b.ins().iadd_imm_s(nframes, -1);
        let caller = self.b.ins().imul_imm_s(last, cl.frame_size);
        let caller = self.b.ins().iadd(frames, caller);
        let caller_base = self.b.ins().load(types::I64, self.mf, caller, cl.frame_base);
        let func_abs = self.b.ins().iadd_imm_s(caller_base, a as i64);
        let need = self.b.ins().iadd_imm_s(func_abs, 1 + inl.callee.maxstack as i64 + STACK_EXTRA as i64);
        let stack_len = self.b.ins().load(types::I64, self.mf, st, cl.state_stack_len);
        let room = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, need, stack_len);
        // Native nesting too: inlined code nests no Rust frames itself, but
        // it leaves through `jit_call_resume`, which does (and past the
        // limit a call must unwind to the interpreter loop instead).
        let depth = self.b.ins().uload32(self.mf, st, lay.state_jit_depth);
        let native_ok = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, depth, rt::MAX_JIT_DEPTH as i64);
        let ok = self.b.ins().band(tick_ok, cap_ok);
        let ok = self.b.ins().band(ok, native_ok);
        let ok = self.b.ins().band(ok, depth_ok);
        let ok = self.b.ins().band(ok, room);
        self.continue_if(ok, generic);

        // Committed: the tick and the call count. The frame itself is
        // written only where the inlined code first calls out
        // (`materialize_frame`; see the module doc).
        let tick = self.b.ins().iadd_imm_s(tick, -1);
        self.b.ins().store(self.mf, tick, st, lay.state_tick);
        let n = self.b.ins().load(types::I64, self.mf, st, cl.state_tier2_calls);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.b.ins().store(self.mf, n, st, cl.state_tier2_calls);

        // The callee's view: its registers, constants and upvalues.
        // (`State::jit_regs` stays the caller's until the frame is
        // written.)
        let regs = self.regs();
        let inner_regs = self.b.ins().iadd_imm_s(regs, 16 * (a as i64 + 1));
        let inst = self.b.ins().load(types::I64, self.mf, func, cl.closure_inst);
        let consts = self.b.ins().load(types::I64, self.mf, inst, cl.inst_consts);
        let upvals = self.b.ins().load(types::I64, self.mf, func, cl.closure_upvals);
        let vars: [Variable; 2] = std::array::from_fn(|_| self.b.declare_var(types::I64));
        self.b.def_var(vars[0], func_abs);
        self.b.def_var(vars[1], nframes);
        let leave = self.b.create_block();
        self.b.append_block_param(leave, types::I64);
        self.b.set_cold_block(leave);
        let site = InlineSite {
            call_pc: pc,
            a,
            wanted: c - 1,
            outer_regs: self.regs,
            func_abs: vars[0],
            level: vars[1],
            // As after a real call, the caller's typed registers are still
            // in their SSA copies (see `after_helper`).
            cont: self.after_helper(pc + 1),
            leave,
        };
        // Arguments the callee's plan knows the type of (because this plan
        // proves it) start as this code's SSA copies.
        let args: Vec<(usize, Ty, ir::Value)> = (0..inl.callee.nparams as usize)
            .filter_map(|r| match inl.plan.ty(0, r as u16) {
                Ty::Int => Some((r, Ty::Int, self.int((a + 1 + r) as u16))),
                Ty::Float => Some((r, Ty::Float, self.float((a + 1 + r) as u16))),
                Ty::Table => Some((r, Ty::Table, self.int((a + 1 + r) as u16))),
                _ => None,
            })
            .collect();
        let mut inner = Translator::inlined(self, inl, site, inner_regs, consts, upvals);
        for (r, ty, v) in args {
            let var = if ty == Ty::Float { inner.fvars[r] } else { inner.ivars[r] };
            inner.b.def_var(var, v);
        }
        inner.translate_inlined();

        // Leaving the inlined code with a status: `jit_call_resume`
        // finishes the callee (and undoes the nesting level a pushed call
        // counts, so it is counted here first).
        self.b.switch_to_block(leave);
        let st_code = self.b.block_params(leave)[0];
        let depth = self.b.ins().load(types::I32, self.mf, self.state, lay.state_jit_depth);
        let depth = self.b.ins().iadd_imm_s(depth, 1);
        self.b.ins().store(self.mf, depth, self.state, lay.state_jit_depth);
        let level = self.b.use_var(site.level);
        let fp = self.iconst(rt::jit_call_resume as *const u8 as i64);
        let call = self.b.ins().call_indirect(self.resume, fp, &[self.state, st_code, level]);
        self.forget_pinned_read();
        let r = self.b.inst_results(call)[0];
        let code = self.b.ins().band_imm_u(r, 0xff);
        let after = self.b.create_block();
        self.b.ins().brif(code, self.exit, &[BlockArg::Value(r)], after, &[]);
        self.b.switch_to_block(after);
        let regs = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_regs);
        self.set_regs(regs);
        self.b.ins().jump(site.cont, &[]);
    }

    /// The translator for an inlined callee, continuing in the current
    /// block of `outer`'s function.
    fn inlined<'c>(
        outer: &'c mut Translator<'a, 'b>,
        inl: &'a Inline,
        site: InlineSite,
        regs: ir::Value,
        consts: ir::Value,
        upvals: ir::Value,
    ) -> Translator<'c, 'b>
    where
        'a: 'c,
    {
        let b = &mut *outer.b;
        let p = &*inl.callee;
        let regs_var = b.declare_var(types::I64);
        b.def_var(regs_var, regs);
        let blocks = (0..p.code.len()).map(|_| b.create_block()).collect();
        let exit = b.create_block();
        b.append_block_param(exit, types::I64);
        let bail = b.create_block();
        let nvars = p.maxstack as usize + 1;
        let ivars = (0..nvars).map(|_| b.declare_var(types::I64)).collect();
        let fvars = (0..nvars).map(|_| b.declare_var(types::F64)).collect();
        Translator {
            b,
            p,
            lay: outer.lay,
            blocks,
            exit,
            bail,
            state: outer.state,
            consts,
            upvals,
            regs: regs_var,
            caller_r15: None,
            pinned_read: None,
            helper: outer.helper,
            fast: outer.fast,
            ic: outer.ic,
            ic_base: inl.ic_base,
            call: outer.call,
            resume: outer.resume,
            compiled: outer.compiled,
            call_stubs: outer.call_stubs,
            prof: false,
            use_profile: true,
            mf: outer.mf,
            plan: Some(&inl.plan),
            pc: 0,
            ivars,
            fvars,
            stubs: HashMap::new(),
            unreached: HashMap::new(),
            deopts: HashMap::new(),
            inlined: Some(site),
            dirty: Vec::new(),
            edges: Vec::new(),
            pending: HashMap::new(),
            entry_dirty: HashMap::new(),
            liveness: Some(crate::jit::liveness::Liveness::of(p)),
            loop_end: vec![None; p.code.len()],
            present: Vec::new(),
            keeps_present: false,
            present_in: HashMap::new(),
            resumed: vec![false; p.code.len()],
            routing_helper: false,
            jump_target: crate::jit::liveness::jump_targets(p),
            frame_pushed: crate::jit::liveness::past_a_call(p, |pc| !matches!(inl.plan.spec[pc], Spec::Math(_))),
            tick: outer.tick,
            tick_regions: Vec::new(),
            shared: Vec::new(),
            shared_call: None,
            falls_into: Vec::new(),
            op_start: (None, 0),
            fell_through: false,
        }
    }

    /// Translates the inlined callee from its first instruction on (its
    /// ways out go to the call site's `leave`, see `leave_inlined`).
    fn translate_inlined(&mut self) {
        let first = self.block_at(0);
        self.b.ins().jump(first, &[]);
        self.translate_body();
    }

    /// Writes the inlined callee's frame, as a real call's push would have
    /// (the caller's resume pc, the frame record, the frame count, the
    /// registers helpers see), before inlined code calls anything that
    /// may look at frames: every runtime helper and every call. Nothing
    /// where every way here has passed a call already (the frame is
    /// there: `liveness::past_a_call`), and nothing outside inlined code.
    ///
    /// Writing it again is harmless: every word written is the same, but
    /// the frame's pc, which each helper sets from its own argument. So
    /// everything is recomputed from the state here rather than kept live
    /// through the callee's code: the frame count (`site.level`, which
    /// the return needs anyway), and the function, which stays in the
    /// caller's register `a`, just below the callee's registers.
    pub(super) fn materialize_frame(&mut self) {
        let Some(site) = self.inlined else { return };
        if self.frame_pushed.get(self.pc).copied().unwrap_or(false) {
            return;
        }
        let cl = self.lay.call.expect("the plan inlines only with a call layout");
        let (st, mf) = (self.state, self.mf);
        let nframes = self.b.use_var(site.level);
        let func_abs = self.b.use_var(site.func_abs);
        let regs = self.regs();
        let func = self.b.ins().load(types::I64, mf, regs, -8);
        let frames = self.b.ins().load(types::I64, mf, st, cl.state_frames_ptr);
        let last = self.b.ins().iadd_imm_s(nframes, -1);
        let caller = self.b.ins().imul_imm_s(last, cl.frame_size);
        let caller = self.b.ins().iadd(frames, caller);
        let resume_pc = self.iconst(site.call_pc as i64 + 1);
        self.b.ins().store(mf, resume_pc, caller, cl.frame_pc);
        let nresults = self.b.ins().iconst(types::I32, site.wanted as i64);
        super::stubs::write_frame(self.b, mf, &cl, caller, func_abs, func, nresults);
        let len = self.b.ins().iadd_imm_s(nframes, 1);
        self.b.ins().store(mf, len, st, cl.state_frames_len);
        // Helpers leave `State::jit_regs` at the top frame's registers, and
        // compiled code reloads them from there after each.
        self.b.ins().store(mf, regs, st, self.lay.state_jit_regs);
    }

    /// The inlined callee's code leaves with status `st`.
    pub(super) fn leave_inlined(&mut self, site: InlineSite, st: ir::Value) {
        self.b.ins().jump(site.leave, &[BlockArg::Value(st)]);
    }

    /// `Return` of an inlined callee with `b - 1` results (a fixed count):
    /// what the return stub does, with the counts known here — the results
    /// to the function's slot (padded with nil or cut to what the caller
    /// wants), the frame popped — and on into the caller's code. Nothing to
    /// close: an inlined callee makes no closures.
    pub(super) fn inline_return(&mut self, a: usize, b: usize) {
        let site = self.inlined.expect("an inlined translator");
        let cl = self.lay.call.expect("the plan inlines only with a call layout");
        let n = b - 1;
        let regs = self.regs();
        // The function's slot is the callee's register -1; results sit
        // above it, so a forward copy reads nothing it wrote.
        for i in 0..site.wanted {
            let dst = 16 * (i as i32 - 1);
            if i < n {
                self.store_operand(regs, dst, (a + i) as u16);
            } else {
                let nil = self.iconst(tag::NIL);
                self.b.ins().store(self.mf, nil, regs, dst);
            }
        }
        let func_abs = self.b.use_var(site.func_abs);
        let top = self.b.ins().iadd_imm_s(func_abs, site.wanted as i64);
        self.b.ins().store(self.mf, top, self.state, cl.state_top);
        let level = self.b.use_var(site.level);
        self.b.ins().store(self.mf, level, self.state, cl.state_frames_len);
        let outer = self.b.ins().iadd_imm_s(regs, -16 * (site.a as i64 + 1));
        self.b.ins().store(self.mf, outer, self.state, self.lay.state_jit_regs);
        self.b.def_var(site.outer_regs, outer);
        self.b.ins().jump(site.cont, &[]);
    }

    /// The word `jit_deopt` gets for a guard of `code` at `pc`: for an
    /// inlined callee it also carries the caller's `Call` (see there).
    pub(super) fn deopt_word(&self, pc: usize, code: u8) -> usize {
        let inlined = self.inlined.map_or(0, |s| s.call_pc + 1);
        pc | ((code as usize) << 32) | (inlined << 40)
    }
}
