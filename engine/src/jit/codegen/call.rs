//! `Call` and `Return` in compiled code: the frame push written out
//! inline, the direct call into the callee's code, and the common return
//! written out inline too.
//!
//! Why inline: a Lua-to-Lua call is the most frequent thing that leaves
//! straight-line code. `runtime::jit_call_enter` does it right for every
//! case, but as a Rust call it costs about 150 instructions even when all
//! it does is push a plain frame. The sequence here does exactly that
//! plain push — the same checks, the same writes, in the same order as
//! `State::try_push_plain_frame` and `State::push_frame` — and hands every
//! other case (natives, varargs, missing arguments, no compiled code yet,
//! a limit or a tier-up due, a full frame vector, profiling news) to
//! `jit_call_enter` *before it has changed anything*, so the slow path
//! starts from exactly the state it always did.
//!
//! Invariant: the inline push and `try_push_plain_frame` must stay the
//! same operation. A field added to `Frame`, a counter added to
//! `push_frame` or a new reason for the general path must be added here
//! too (the corpus runs every call site both ways: `--tier 1` takes this
//! path, the interpreter and `jit_call_enter` the other).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, Block, BlockArg, InstBuilder, types};

use super::Translator;
use crate::jit::runtime::{self as rt, CallLayout, MAX_JIT_DEPTH, status};
use crate::profile::{MEGAMORPHIC, calls};
use crate::state::STACK_EXTRA;

/// Most results an inline return copies (more go through `jit_return`).
const MAX_INLINE_RESULTS: usize = 4;

impl<'a, 'b> Translator<'a, 'b> {
    /// `Call`: a Lua callee with compiled code gets its frame pushed inline
    /// (when the call is plain, see the module doc) or by `jit_call_enter`,
    /// and its code called from here; anything else `jit_call_enter`
    /// finishes itself and returns a status for (see there).
    pub(super) fn call(&mut self, pc: usize, a: usize, b: usize, c: usize) {
        let (direct, slow, done, after) = (self.b.create_block(), self.b.create_block(), self.b.create_block(), self.b.create_block());
        // direct(code, regs, consts, upvals, level)
        for _ in 0..5 {
            self.b.append_block_param(direct, types::I64);
        }
        self.b.append_block_param(done, types::I64);
        match self.lay.call {
            // A fixed argument count: the inline path needs it known here.
            Some(cl) if b != 0 => self.inline_push(pc, a, b - 1, c, &cl, slow, direct),
            _ => {
                self.b.ins().jump(slow, &[]);
            }
        }

        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let r = self.call_helper4(rt::jit_call_enter as *const u8, pc, a, b, c);
        let code_ready = self.b.create_block();
        let tag = self.b.ins().band_imm_u(r, rt::DIRECT_CALL as i64);
        let is_code = self.eq_imm(tag, rt::DIRECT_CALL as i64);
        self.b.ins().brif(is_code, code_ready, &[], done, &[BlockArg::Value(r)]);
        self.b.switch_to_block(code_ready);
        let lay = self.lay;
        let regs = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_regs);
        let consts = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_consts);
        let upvals = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_upvals);
        let level = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_call_level);
        let code = self.b.ins().band_imm_u(r, !rt::DIRECT_CALL as i64);
        let args: Vec<BlockArg> = [code, regs, consts, upvals, level].into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(direct, &args);

        self.b.switch_to_block(direct);
        let [code, regs, consts, upvals, level] = <[ir::Value; 5]>::try_from(self.b.block_params(direct)).expect("five params");
        let zero = self.iconst(0);
        let call = self.b.ins().call_indirect(self.compiled, code, &[self.state, regs, consts, zero, upvals]);
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
        let r = self.b.inst_results(call)[0];
        self.b.ins().jump(done, &[BlockArg::Value(r)]);

        self.b.switch_to_block(done);
        let r = self.b.block_params(done)[0];
        let code = self.b.ins().band_imm_u(r, 0xff);
        self.b.ins().brif(code, self.exit, &[BlockArg::Value(r)], after, &[]);
        self.b.switch_to_block(after);
        let regs = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_regs);
        self.b.def_var(self.regs, regs);
        self.jump_resumed(pc + 1);
    }

    /// Continues in a fresh block when `ok` holds, else at `slow`.
    fn or_slow(&mut self, ok: ir::Value, slow: Block) {
        let next = self.b.create_block();
        self.b.ins().brif(ok, next, &[], slow, &[]);
        self.b.switch_to_block(next);
    }

    fn load_at(&mut self, ty: ir::Type, base: ir::Value, off: i32) -> ir::Value {
        self.b.ins().load(ty, self.mf, base, off)
    }

    fn uload8_at(&mut self, base: ir::Value, off: i32) -> ir::Value {
        self.b.ins().uload8(types::I64, self.mf, base, off)
    }

    /// The plain frame push for a call with `nargs` arguments: checks
    /// everything first (jumping to `slow` with nothing changed), then
    /// writes, then jumps to `direct` with the callee's code and pointers.
    #[allow(clippy::too_many_arguments)]
    fn inline_push(&mut self, pc: usize, a: usize, nargs: usize, c: usize, cl: &CallLayout, slow: Block, direct: Block) {
        let st = self.state;
        // The callee: a Lua closure whose prototype has published code,
        // takes exactly these arguments and no varargs.
        let regs = self.regs();
        let t = self.load_at(types::I64, regs, 16 * a as i32);
        let is_func = self.eq_imm(t, cl.tag_func);
        self.or_slow(is_func, slow);
        let func = self.load_at(types::I64, regs, 16 * a as i32 + 8);
        let disc = self.uload8_at(func, cl.func_disc);
        let is_lua = self.eq_imm(disc, 0);
        self.or_slow(is_lua, slow);
        let proto = self.load_at(types::I64, func, cl.closure_proto);
        let entry = self.load_at(types::I64, proto, cl.proto_entry);
        let has_code = self.b.ins().icmp_imm_s(IntCC::NotEqual, entry, 0);
        self.or_slow(has_code, slow);
        let np = self.uload8_at(proto, cl.proto_nparams);
        let vararg = self.uload8_at(proto, cl.proto_is_vararg);
        let np_differs = self.b.ins().bxor_imm_s(np, nargs as i64);
        let shape = self.b.ins().bor(np_differs, vararg);
        let plain = self.b.ins().icmp_imm_s(IntCC::Equal, shape, 0);
        self.or_slow(plain, slow);
        // `--tier 1|2` compile on first calls: `jit_call_enter` decides.
        let eager = self.uload8_at(st, cl.state_eager);
        let lazy = self.b.ins().icmp_imm_s(IntCC::Equal, eager, 0);
        self.or_slow(lazy, slow);
        // Limits: native nesting, the tick countdown, frame count.
        let depth = self.b.ins().uload32(self.mf, st, self.lay.state_jit_depth);
        let depth_ok = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, depth, MAX_JIT_DEPTH as i64);
        self.or_slow(depth_ok, slow);
        let tick = self.load_at(types::I64, st, self.lay.state_tick);
        let tick_ok = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, tick, 1);
        self.or_slow(tick_ok, slow);
        let nframes = self.load_at(types::I64, st, cl.state_frames_len);
        let cap = self.load_at(types::I64, st, cl.state_frames_cap);
        let max_depth = self.load_at(types::I64, st, cl.state_max_depth);
        let room = self.b.ins().icmp(IntCC::UnsignedLessThan, nframes, cap);
        let below = self.b.ins().icmp(IntCC::UnsignedLessThan, nframes, max_depth);
        let frames_ok = self.b.ins().band(room, below);
        self.or_slow(frames_ok, slow);
        // Hotness: a tier-1 callee due for tier 2 is requested by
        // `State::tier_call` on the general path.
        let hot = self.load_at(types::I64, proto, cl.proto_hot);
        let weight = self.load_at(types::I64, st, cl.state_call_weight);
        let hot = self.b.ins().iadd(hot, weight);
        let tier = self.uload8_at(proto, cl.proto_tier);
        let threshold2 = self.load_at(types::I64, st, cl.state_threshold2);
        let not_t2 = self.b.ins().icmp_imm_s(IntCC::NotEqual, tier, 2);
        let due = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, hot, threshold2);
        let maybe_due = self.b.ins().band(not_t2, due);
        let (check_opt, not_due) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(maybe_due, check_opt, &[], not_due, &[]);
        self.b.switch_to_block(check_opt);
        self.b.set_cold_block(check_opt);
        let opt = self.uload8_at(proto, cl.proto_opt);
        let requested = self.b.ins().icmp_imm_s(IntCC::NotEqual, opt, crate::jit::opt::NONE as i64);
        self.b.ins().brif(requested, not_due, &[], slow, &[]);
        self.b.switch_to_block(not_due);
        // Call-site feedback, whatever the tier (the state decides): the
        // general path records anything new (a first Lua call here, another
        // callee).
        let profiling = {
            let on = self.uload8_at(st, cl.state_profiling);
            let (check, known) = (self.b.create_block(), self.b.create_block());
            let is_on = self.b.ins().icmp_imm_s(IntCC::NotEqual, on, 0);
            self.b.ins().brif(is_on, check, &[], known, &[]);
            self.b.switch_to_block(check);
            let bits_at = self.iconst(self.p.feedback.sites[pc].bits.as_ptr() as i64);
            let bits = self.uload8_at(bits_at, 0);
            let lua = self.b.ins().band_imm_u(bits, calls::LUA as i64);
            let seen_lua = self.b.ins().icmp_imm_s(IntCC::NotEqual, lua, 0);
            let target_at = self.iconst(self.p.feedback.targets[pc].as_ptr() as i64);
            let target = self.load_at(types::I64, target_at, 0);
            let key = self.load_at(types::I64, func, cl.closure_key_lo);
            // Nothing new: this callee already recorded, or the site
            // already megamorphic (`Feedback::record_target`).
            let same = self.b.ins().icmp(IntCC::Equal, target, key);
            let mega = self.b.ins().icmp_imm_s(IntCC::Equal, target, MEGAMORPHIC as i64);
            let known_target = self.b.ins().bor(same, mega);
            let recorded = self.b.ins().band(seen_lua, known_target);
            self.b.ins().brif(recorded, known, &[], slow, &[]);
            self.b.switch_to_block(known);
            on
        };
        // Stack room above the callee's registers.
        let frames = self.load_at(types::I64, st, cl.state_frames_ptr);
        let last = self.b.ins().iadd_imm_s(nframes, -1);
        let caller = self.b.ins().imul_imm_s(last, cl.frame_size);
        let caller = self.b.ins().iadd(frames, caller);
        let caller_base = self.load_at(types::I64, caller, cl.frame_base);
        let callee_func = self.b.ins().iadd_imm_s(caller_base, a as i64);
        let base = self.b.ins().iadd_imm_s(callee_func, 1);
        let maxstack = self.uload8_at(proto, cl.proto_maxstack);
        let need = self.b.ins().iadd(base, maxstack);
        let need = self.b.ins().iadd_imm_s(need, STACK_EXTRA as i64);
        let stack_len = self.load_at(types::I64, st, cl.state_stack_len);
        let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, need, stack_len);
        self.or_slow(fits, slow);

        // Committed: the writes of `try_push_plain_frame` + `push_frame`.
        let tick = self.b.ins().iadd_imm_s(tick, -1);
        self.b.ins().store(self.mf, tick, st, self.lay.state_tick);
        let n = self.load_at(types::I64, proto, cl.proto_calls);
        let n = self.b.ins().iadd(n, profiling);
        self.b.ins().store(self.mf, n, proto, cl.proto_calls);
        self.b.ins().store(self.mf, hot, proto, cl.proto_hot);
        let is_t2 = self.b.ins().icmp_imm_s(IntCC::Equal, tier, 2);
        let (t1_off, t2_off) = (self.iconst(cl.state_tier1_calls as i64), self.iconst(cl.state_tier2_calls as i64));
        let counter = self.b.ins().select(is_t2, t2_off, t1_off);
        let counter = self.b.ins().iadd(st, counter);
        self.bump(counter, 0);
        self.bump(st, cl.state_lua_calls);
        let resume_pc = self.iconst(pc as i64 + 1);
        self.b.ins().store(self.mf, resume_pc, caller, cl.frame_pc);
        let frame = self.b.ins().imul_imm_s(nframes, cl.frame_size);
        let frame = self.b.ins().iadd(frames, frame);
        self.b.ins().store(self.mf, callee_func, frame, cl.frame_func);
        self.b.ins().store(self.mf, base, frame, cl.frame_base);
        let zero = self.iconst(0);
        self.b.ins().store(self.mf, zero, frame, cl.frame_pc);
        self.b.ins().store(self.mf, func, frame, cl.frame_closure);
        let nresults = self.b.ins().iconst(types::I32, c as i64 - 1);
        self.b.ins().store(self.mf, nresults, frame, cl.frame_nresults);
        let zero32 = self.b.ins().iconst(types::I32, 0);
        self.b.ins().store(self.mf, zero32, frame, cl.frame_nvarargs);
        let (yes, no) = (self.b.ins().iconst(types::I8, 1), self.b.ins().iconst(types::I8, 0));
        self.b.ins().store(self.mf, yes, frame, cl.frame_entry);
        self.b.ins().store(self.mf, no, frame, cl.frame_protected);
        self.b.ins().store(self.mf, no, frame, cl.frame_called_by_native);
        let pdepth = self.b.ins().uload16(types::I64, self.mf, caller, cl.frame_protected_depth);
        self.b.ins().istore16(self.mf, pdepth, frame, cl.frame_protected_depth);
        let len = self.b.ins().iadd_imm_s(nframes, 1);
        self.b.ins().store(self.mf, len, st, cl.state_frames_len);
        let depth = self.b.ins().iadd_imm_s(depth, 1);
        let depth32 = self.b.ins().ireduce(types::I32, depth);
        self.b.ins().store(self.mf, depth32, st, self.lay.state_jit_depth);
        // The callee's registers, constants and upvalues.
        let stack = self.load_at(types::I64, st, cl.state_stack_ptr);
        let offset = self.b.ins().ishl_imm_u(base, 4);
        let callee_regs = self.b.ins().iadd(stack, offset);
        self.b.ins().store(self.mf, callee_regs, st, self.lay.state_jit_regs);
        let inst = self.load_at(types::I64, func, cl.closure_inst);
        let consts = self.load_at(types::I64, inst, cl.inst_consts);
        let upvals = self.load_at(types::I64, func, cl.closure_upvals);
        let args: Vec<BlockArg> = [entry, callee_regs, consts, upvals, nframes].into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(direct, &args);
    }

    /// `Return`: the common return — a fixed count of results, as many as
    /// an entry frame's caller wants, no upvalue to close and no pcall to
    /// answer — inline, as `runtime::jit_return`'s own fast path does it;
    /// anything else through `jit_return`.
    pub(super) fn ret(&mut self, pc: usize, a: usize, b: usize) {
        let slow = self.cold_block(|t| {
            let r = t.call_helper4(rt::jit_return as *const u8, pc, a, b, 0);
            t.b.ins().jump(t.exit, &[BlockArg::Value(r)]);
        });
        let cl = match self.lay.call {
            Some(cl) if b != 0 && b - 1 <= MAX_INLINE_RESULTS => cl,
            _ => {
                self.b.ins().jump(slow, &[]);
                return;
            }
        };
        let n = b - 1;
        let st = self.state;
        let frames = self.load_at(types::I64, st, cl.state_frames_ptr);
        let nframes = self.load_at(types::I64, st, cl.state_frames_len);
        // The caller's frame must exist for it to continue (and to give
        // the registers it continues with).
        let has_caller = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, nframes, 2);
        self.or_slow(has_caller, slow);
        let top = self.b.ins().iadd_imm_s(nframes, -1);
        let frame = self.b.ins().imul_imm_s(top, cl.frame_size);
        let frame = self.b.ins().iadd(frames, frame);
        let entry = self.uload8_at(frame, cl.frame_entry);
        let protected = self.uload8_at(frame, cl.frame_protected);
        let nresults = self.b.ins().sload32(self.mf, frame, cl.frame_nresults);
        let is_entry = self.b.ins().icmp_imm_s(IntCC::Equal, entry, 1);
        let unprotected = self.b.ins().icmp_imm_s(IntCC::Equal, protected, 0);
        let wanted = self.b.ins().icmp_imm_s(IntCC::Equal, nresults, n as i64);
        let ok = self.b.ins().band(is_entry, unprotected);
        let ok = self.b.ins().band(ok, wanted);
        self.or_slow(ok, slow);
        // Open upvalues are sorted by stack index: only the last one can
        // be at or above this frame's base.
        let base = self.load_at(types::I64, frame, cl.frame_base);
        let nopen = self.load_at(types::I64, st, cl.state_open_upvals_len);
        let (check, none_to_close) = (self.b.create_block(), self.b.create_block());
        let any_open = self.b.ins().icmp_imm_s(IntCC::NotEqual, nopen, 0);
        self.b.ins().brif(any_open, check, &[], none_to_close, &[]);
        self.b.switch_to_block(check);
        let open = self.load_at(types::I64, st, cl.state_open_upvals_ptr);
        let last = self.b.ins().ishl_imm_u(nopen, 3);
        let last = self.b.ins().iadd(open, last);
        let up = self.load_at(types::I64, last, -8);
        let up_tag = self.load_at(types::I64, up, self.lay.upval);
        let up_index = self.load_at(types::I64, up, self.lay.upval + 8);
        let closed = self.b.ins().icmp_imm_s(IntCC::NotEqual, up_tag, 0);
        let below = self.b.ins().icmp(IntCC::UnsignedLessThan, up_index, base);
        let untouched = self.b.ins().bor(closed, below);
        self.b.ins().brif(untouched, none_to_close, &[], slow, &[]);
        self.b.switch_to_block(none_to_close);

        // The results go to the function's slot and up: below where they
        // are, so a forward copy never reads a word it already wrote.
        let func = self.load_at(types::I64, frame, cl.frame_func);
        let stack = self.load_at(types::I64, st, cl.state_stack_ptr);
        let dst = self.b.ins().ishl_imm_u(func, 4);
        let dst = self.b.ins().iadd(stack, dst);
        let regs = self.regs();
        for i in 0..n as i32 {
            self.copy(dst, 16 * i, regs, 16 * (a as i32 + i));
        }
        let new_top = self.b.ins().iadd_imm_s(func, n as i64);
        self.b.ins().store(self.mf, new_top, st, cl.state_top);
        self.b.ins().store(self.mf, top, st, cl.state_frames_len);
        let count = self.iconst(n as i64);
        self.b.ins().store(self.mf, count, st, cl.state_jit_nret);
        // The caller's registers (what `runtime::st_refresh` sets).
        let caller = self.b.ins().iadd_imm_s(frame, -cl.frame_size);
        let caller_base = self.load_at(types::I64, caller, cl.frame_base);
        let caller_regs = self.b.ins().ishl_imm_u(caller_base, 4);
        let caller_regs = self.b.ins().iadd(stack, caller_regs);
        self.b.ins().store(self.mf, caller_regs, st, self.lay.state_jit_regs);
        self.b.ins().store(self.mf, stack, st, self.lay.state_jit_stack);
        let returned = self.iconst(status::RETURNED as i64);
        self.b.ins().jump(self.exit, &[BlockArg::Value(returned)]);
    }

    /// Adds one to the `u64` counter at `at + off`.
    fn bump(&mut self, at: ir::Value, off: i32) {
        let n = self.load_at(types::I64, at, off);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.b.ins().store(self.mf, n, at, off);
    }
}
