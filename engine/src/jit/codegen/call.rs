//! `Call` and `Return` in compiled code: the frame push, the direct call
//! into the callee's code, and the common return.
//!
//! Why this shape: a Lua-to-Lua call is the most frequent thing that
//! leaves straight-line code. `runtime::jit_call_enter` does it right for
//! every case, but as a Rust call it costs about 150 instructions even
//! when all it does is push a plain frame. So a call site first asks the
//! push stub (`stubs.rs`), which does exactly that plain push in a few
//! dozen instructions, and only when the stub declines (natives, varargs,
//! missing arguments, no compiled code yet, a limit or a tier-up due, a
//! full frame vector, profiling news) calls `jit_call_enter`. Either way
//! the caller then calls the callee's code itself. `Return` likewise asks
//! the return stub first and `jit_return` after. Tier 2 writes the stubs'
//! bodies out inline instead of calling them (the same emitter, with the
//! site's operands as constants).

use cranelift_codegen::ir::{self, Block, BlockArg, InstBuilder, types};

use super::Translator;
use super::stubs::{self, StubGen};
use crate::jit::runtime::{self as rt, CallLayout, status};

impl<'a, 'b> Translator<'a, 'b> {
    /// `Call`: a Lua callee with compiled code gets its frame pushed by
    /// the push stub (when the call is plain, see the module doc) or by
    /// `jit_call_enter`, and its code called from here; anything else
    /// `jit_call_enter` finishes itself and returns a status for (see
    /// there).
    pub(super) fn call(&mut self, pc: usize, a: usize, b: usize, c: usize) {
        match self.plan.map(|p| &p.inline[pc][..]) {
            Some(inls @ [_, ..]) => self.inline_call(pc, a, b, c, inls),
            _ => self.call_generic(pc, a, b, c),
        }
    }

    /// `Call` without inlining (see `call`).
    pub(super) fn call_generic(&mut self, pc: usize, a: usize, b: usize, c: usize) {
        if self.shares_slow_paths() && self.call_shared(pc, a, b, c) {
            return;
        }
        // The push reads the running frame: an inlined caller's must exist.
        self.materialize_frame();
        let (direct, done, after) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        // direct(code, regs, consts, upvals, level)
        for _ in 0..5 {
            self.b.append_block_param(direct, types::I64);
        }
        self.b.append_block_param(done, types::I64);
        let r = match self.inline_stubs() {
            Some(cl) => {
                // Tier 2: the push written out here, which jumps to
                // `direct` itself with what the call needs;
                // `jit_call_enter` when it declines.
                let slow = self.b.create_block();
                self.b.set_cold_block(slow);
                let args = self.helper4_args(pc, a, b, c);
                let (lay, mf) = (self.lay, self.mf);
                let mut g = StubGen { b: &mut *self.b, mf, lay, cl: &cl, slow, done: Some(direct), results: None };
                stubs::emit_push(&mut g, args);
                self.b.switch_to_block(slow);
                self.call_helper4(rt::jit_call_enter as *const u8, pc, a, b, c)
            }
            // Tier 1: the push stub, which calls `jit_call_enter` itself
            // when it declines (the helper directly without stubs).
            None => {
                let f = self.call_stubs.map_or(rt::jit_call_enter as *const u8, |s| s.push as *const u8);
                self.call_helper4(f, pc, a, b, c)
            }
        };
        let code_ready = self.b.create_block();
        let tag = self.b.ins().band_imm_u(r, rt::DIRECT_CALL as i64);
        let is_code = self.eq_imm(tag, rt::DIRECT_CALL as i64);
        self.b.ins().brif(is_code, code_ready, &[], done, &[BlockArg::Value(r)]);
        self.b.switch_to_block(code_ready);
        let code = self.b.ins().band_imm_u(r, !rt::DIRECT_CALL as i64);
        self.direct_args(code, direct);
        let lay = self.lay;

        self.b.switch_to_block(direct);
        let [code, regs, consts, upvals, level] = <[ir::Value; 5]>::try_from(self.b.block_params(direct)).expect("five params");
        let zero = self.iconst(0);
        let call = self.b.ins().call_indirect(self.compiled, code, &[self.state, regs, consts, zero, upvals]);
        self.forget_pinned_read();
        let st = self.b.inst_results(call)[0];
        let (returned, other) = (self.b.create_block(), self.b.create_block());
        let is_returned = self.eq_imm(st, status::RETURNED as i64);
        self.b.ins().brif(is_returned, returned, &[], other, &[]);

        // The callee returned: one nesting level less (what
        // `jit_call_resume` does on its way out).
        self.b.switch_to_block(returned);
        let depth = self.b.ins().load(types::I32, self.mf, self.state, lay.state_jit_depth);
        let depth = self.b.ins().iadd_imm_s(depth, -1);
        self.b.ins().store(self.mf, depth, self.state, lay.state_jit_depth);
        let next = self.iconst(status::NEXT as i64);
        self.b.ins().jump(done, &[BlockArg::Value(next)]);

        self.b.switch_to_block(other);
        self.b.set_cold_block(other);
        let fp = self.iconst(rt::jit_call_resume as *const u8 as i64);
        let call = self.b.ins().call_indirect(self.resume, fp, &[self.state, st, level]);
        self.forget_pinned_read();
        let r = self.b.inst_results(call)[0];
        self.b.ins().jump(done, &[BlockArg::Value(r)]);

        self.b.switch_to_block(done);
        let r = self.b.block_params(done)[0];
        let code = self.b.ins().band_imm_u(r, 0xff);
        self.b.ins().brif(code, self.exit, &[BlockArg::Value(r)], after, &[]);
        self.b.switch_to_block(after);
        let regs = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_regs);
        self.set_regs(regs);
        // A call writes registers from `a` up only (its results), and no
        // callee can reach a register below that the plan types (those are
        // never captured by a closure): tier 2 goes on with its SSA copies
        // unless the plan types a result (a `math` call computed in place,
        // whose fallback this is). See `after_helper`.
        self.jump_resumed(pc + 1);
    }

    /// Tier 2 writes the stubs' bodies out inline (faster by their call,
    /// prologue and spills; compile time matters less there); tier 1 calls
    /// them.
    fn inline_stubs(&self) -> Option<CallLayout> {
        if self.plan.is_some() && self.call_stubs.is_some() { self.lay.call } else { None }
    }

    /// Jumps to `direct` with `code` and what the frame push left in the
    /// state for calling it.
    fn direct_args(&mut self, code: ir::Value, direct: Block) {
        let lay = self.lay;
        let regs = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_regs);
        let consts = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_consts);
        let upvals = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_upvals);
        let level = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_call_level);
        let args: Vec<BlockArg> = [code, regs, consts, upvals, level].into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(direct, &args);
    }

    /// `Return`: the common return — a fixed count of results, as many as
    /// an entry frame's caller wants, no upvalue to close and no pcall to
    /// answer — by the return stub; anything else through `jit_return`.
    pub(super) fn ret(&mut self, pc: usize, a: usize, b: usize) {
        match self.inline_stubs() {
            Some(cl) => {
                let slow = self.cold_block(|t| {
                    let r = t.call_helper4(rt::jit_return as *const u8, pc, a, b, 0);
                    t.b.ins().jump(t.exit, &[BlockArg::Value(r)]);
                });
                let args = self.helper4_args(pc, a, b, 0);
                let (lay, mf, exit) = (self.lay, self.mf, self.exit);
                // The count is known here: the copy is written out.
                let results = (b != 0).then(|| b - 1);
                let mut g = StubGen { b: &mut *self.b, mf, lay, cl: &cl, slow, done: Some(exit), results };
                stubs::emit_ret(&mut g, args);
            }
            None => {
                let f = self.call_stubs.map_or(rt::jit_return as *const u8, |s| s.ret as *const u8);
                let r = self.call_helper4(f, pc, a, b, 0);
                self.b.ins().jump(self.exit, &[BlockArg::Value(r)]);
            }
        }
    }
}
