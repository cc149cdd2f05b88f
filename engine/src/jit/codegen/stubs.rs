//! The frame push and the common return of Lua calls, as two small
//! machine-code routines compiled once per process, which compiled code
//! calls in place of `runtime::jit_call_enter` and `runtime::jit_return`.
//!
//! Why stubs: as a Rust call, `jit_call_enter` costs about 150
//! instructions even when all it does is push a plain frame. The push
//! stub does exactly that plain push in a few dozen, and calls
//! `jit_call_enter` itself for every case it declines (natives, varargs,
//! missing arguments, no compiled code yet, a limit or a tier-up due, a
//! full frame vector, call-site feedback to record). Each stub has its
//! helper's signature and result, so a call site is the same IR as
//! before: compile time does not grow. Tier 2 writes the same bodies out
//! inline instead (`StubGen::done`), where the site's operands are
//! constants the optimizer folds and the call, prologue and spills go.
//!
//! Invariant: the push stub and `State::try_push_plain_frame` +
//! `State::push_frame` are the same operation, and the return stub and
//! `runtime::jit_return`'s fast path are the same operation: same checks,
//! same writes. A field added to `Frame`, a counter added to `push_frame`
//! or a new reason for the general path must be added here too — and to
//! tier 2's inlined calls (`codegen/inline.rs`), which write the same
//! frame and return the same way with the counts known. (One difference:
//! tier 2's written-out push skips the call-site feedback test, since
//! tier-2 code records no feedback; see `emit_push`.) Both
//! decline *before* writing anything, so the Rust helper then starts from
//! exactly the state it always did. The corpus runs every call site both
//! ways: compiled code takes the stubs, the interpreter and the helpers
//! the rest.

use std::sync::OnceLock;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, AbiParam, Block, BlockArg, InstBuilder, MemFlagsData, types};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Module, default_libcall_names};

use crate::jit::runtime::{self as rt, CallLayout, Layout, MAX_JIT_DEPTH, layout, status};
use crate::profile::{MEGAMORPHIC, calls};
use crate::state::STACK_EXTRA;

/// Addresses of the two stubs: `(state, ops, proto, pc) -> status`, as
/// `jit_call_enter` and `jit_return`.
#[derive(Clone, Copy)]
pub(crate) struct Stubs {
    /// Stands in for `jit_call_enter`: pushes a plain call's frame and
    /// returns the callee's code tagged with `DIRECT_CALL`, with
    /// `State::jit_regs`, `jit_consts`, `jit_upvals` and `jit_call_level`
    /// set for calling it.
    pub push: usize,
    /// Stands in for `jit_return`: the common return, giving `RETURNED`.
    pub ret: usize,
    /// Machine code bytes of each (for profilers' symbol maps).
    pub push_bytes: usize,
    pub ret_bytes: usize,
}

/// The process's stubs (compiled on first use by `stubs`).
static STUBS: OnceLock<Option<Stubs>> = OnceLock::new();

/// The stubs as `(address, bytes, name)`, if this process compiled them,
/// so a profiler's symbol map can name samples taken inside them.
pub(crate) fn symbols() -> Vec<(usize, usize, &'static str)> {
    match STUBS.get() {
        Some(Some(s)) => vec![(s.push, s.push_bytes, "ember call stub: frame push"), (s.ret, s.ret_bytes, "ember call stub: return")],
        _ => Vec::new(),
    }
}

/// The process's stubs, compiled on first use; `None` when the layout
/// they need could not be established or they failed to compile (calls
/// and returns then go to the Rust helpers directly).
pub(crate) fn stubs(isa: &OwnedTargetIsa) -> Option<Stubs> {
    *STUBS.get_or_init(|| {
        let cl = layout().call?;
        match compile(isa, layout(), &cl) {
            Ok(s) => Some(s),
            Err(e) => {
                // Not fatal: everything still works through the helpers.
                eprintln!("ember: call stubs not compiled ({e}); calls take the general path");
                None
            }
        }
    })
}

fn compile(isa: &OwnedTargetIsa, lay: &Layout, cl: &CallLayout) -> Result<Stubs, String> {
    let mut module = JITModule::new(JITBuilder::with_isa(isa.clone(), default_libcall_names()));
    let mut fbc = FunctionBuilderContext::new();
    let mut ctx = module.make_context();
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    let mut sig = module.make_signature();
    for _ in 0..4 {
        sig.params.push(AbiParam::new(types::I64));
    }
    sig.returns.push(AbiParam::new(types::I64));
    type Emit = fn(&mut StubGen, [ir::Value; 4]);
    let stubs: [(Emit, *const u8); 2] = [(emit_push, rt::jit_call_enter as *const u8), (emit_ret, rt::jit_return as *const u8)];
    for (emit, helper) in stubs {
        let id = module.declare_anonymous_function(&sig).map_err(|e| e.to_string())?;
        ctx.clear();
        ctx.func.signature = sig.clone();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fbc);
            let helper_sig = b.import_signature(sig.clone());
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = <[ir::Value; 4]>::try_from(b.block_params(entry)).expect("four params");
            let slow = b.create_block();
            b.set_cold_block(slow);
            let mut g = StubGen { b: &mut b, mf: MemFlagsData::trusted(), lay, cl, slow, done: None, results: None };
            emit(&mut g, params);
            // Declined: the helper does it all, from the same arguments.
            b.switch_to_block(slow);
            let fp = b.ins().iconst(types::I64, helper as i64);
            let call = b.ins().call_indirect(helper_sig, fp, &params);
            let r = b.inst_results(call)[0];
            b.ins().return_(&[r]);
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        // `EMBER_JIT_DUMP`, a debugging aid: the stubs' machine code.
        let dump = std::env::var_os("EMBER_JIT_DUMP").is_some();
        ctx.set_disasm(dump);
        module.define_function(id, &mut ctx).map_err(|e| format!("cranelift: {e:?}"))?;
        if let Some(v) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()).filter(|_| dump) {
            eprintln!("; call stub {}\n{v}", ids.len());
        }
        sizes.push(ctx.compiled_code().map_or(0, |c| c.code_info().total_size as usize));
        ids.push(id);
    }
    module.finalize_definitions().map_err(|e| format!("finalize: {e}"))?;
    let push = module.get_finalized_function(ids[0]) as usize;
    let ret = module.get_finalized_function(ids[1]) as usize;
    // The stubs serve every compiled function for the rest of the process.
    std::mem::forget(module);
    Ok(Stubs { push, ret, push_bytes: sizes[0], ret_bytes: sizes[1] })
}

/// Emits a stub's body: into the stub itself, or written out inline in a
/// compiled function (tier 2, where run time matters more than compile
/// time and the per-site operands are constants the optimizer folds).
pub(super) struct StubGen<'a, 'b> {
    pub b: &'a mut FunctionBuilder<'b>,
    pub mf: MemFlagsData,
    pub lay: &'a Layout,
    pub cl: &'a CallLayout,
    /// Where a declined case goes: the Rust helper, called with the same
    /// arguments (by the stub, or by the call site when inline).
    pub slow: Block,
    /// Inline: the block the result goes to (a push passes the callee's
    /// code, regs, consts, upvals and call level, the state keeping only
    /// `jit_regs`); `None`: the stub returns it (a push tags the code
    /// with `DIRECT_CALL` and leaves the rest in the state, as
    /// `jit_call_enter` does).
    pub done: Option<Block>,
    /// A return's count of results when the site knows it (written out
    /// inline): the copy is unrolled instead of looped.
    pub results: Option<usize>,
}

impl StubGen<'_, '_> {
    fn finish(&mut self, result: ir::Value, tag: i64) {
        match self.done {
            None => {
                let r = if tag != 0 { self.b.ins().bor_imm_u(result, tag) } else { result };
                self.b.ins().return_(&[r]);
            }
            Some(done) => {
                self.b.ins().jump(done, &[BlockArg::Value(result)]);
            }
        }
    }

    /// The operands `Translator::pack` packed: a, b, c.
    fn unpack(&mut self, ops: ir::Value) -> [ir::Value; 3] {
        let a = self.b.ins().band_imm_u(ops, 0xff);
        let b = self.b.ins().ushr_imm_u(ops, 8);
        let b = self.b.ins().band_imm_u(b, 0xffff);
        let c = self.b.ins().ushr_imm_u(ops, 24);
        [a, b, c]
    }

    /// The count an operand `b` encodes as count + 1 (arguments of a
    /// call, results of a return); 0, "up to the top", is left to the
    /// slow path.
    fn fixed_count(&mut self, b: ir::Value) -> ir::Value {
        let fixed = self.b.ins().icmp_imm_s(IntCC::NotEqual, b, 0);
        self.or_slow(fixed);
        self.b.ins().iadd_imm_s(b, -1)
    }

    /// The running frame (the top one; there is one: compiled code runs
    /// in it) and the stack's base pointer.
    fn top_frame(&mut self, st: ir::Value) -> (ir::Value, ir::Value) {
        let frames = self.load(st, self.cl.state_frames_ptr);
        let nframes = self.load(st, self.cl.state_frames_len);
        let last = self.b.ins().iadd_imm_s(nframes, -1);
        let frame = self.b.ins().imul_imm_s(last, self.cl.frame_size);
        (self.b.ins().iadd(frames, frame), nframes)
    }

    fn load(&mut self, base: ir::Value, off: i32) -> ir::Value {
        self.b.ins().load(types::I64, self.mf, base, off)
    }

    fn load_u8(&mut self, base: ir::Value, off: i32) -> ir::Value {
        self.b.ins().uload8(types::I64, self.mf, base, off)
    }

    fn store(&mut self, v: ir::Value, base: ir::Value, off: i32) {
        self.b.ins().store(self.mf, v, base, off);
    }

    /// Continues in a fresh block when `ok` holds, else returns 0.
    fn or_slow(&mut self, ok: ir::Value) {
        let next = self.b.create_block();
        self.b.ins().brif(ok, next, &[], self.slow, &[]);
        self.b.switch_to_block(next);
    }

    /// Adds one to the `u64` counter at `at + off`.
    fn bump(&mut self, at: ir::Value, off: i32) {
        let n = self.load(at, off);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.store(n, at, off);
    }
}

/// The conjunction of `conds`.
fn all(g: &mut StubGen, conds: &[ir::Value]) -> ir::Value {
    let mut acc = conds[0];
    for &c in &conds[1..] {
        acc = g.b.ins().band(acc, c);
    }
    acc
}

/// The push stub (see [`Stubs::push`]): one well-predicted branch per
/// check, and values re-read after the checks rather than kept live
/// across them (one combined test kept everything live to the end, and
/// the spills cost more than the branches).
pub(super) fn emit_push(g: &mut StubGen, [st, ops, caller_proto, pc]: [ir::Value; 4]) {
    let (lay, cl) = (g.lay, g.cl);
    let [a, b, c] = g.unpack(ops);
    let nargs = g.fixed_count(b);
    let (caller, nframes) = g.top_frame(st);
    let caller_base = g.load(caller, cl.frame_base);
    let callee_func = g.b.ins().iadd(caller_base, a);
    let stack = g.load(st, cl.state_stack_ptr);
    let slot = g.b.ins().ishl_imm_u(callee_func, 4);
    let slot = g.b.ins().iadd(stack, slot);
    let t = g.load(slot, 0);
    let is_func = g.b.ins().icmp_imm_s(IntCC::Equal, t, cl.tag_func);
    g.or_slow(is_func);
    let func = g.load(slot, 8);
    let disc = g.load_u8(func, cl.func_disc);
    let is_lua = g.b.ins().icmp_imm_s(IntCC::Equal, disc, 0);
    g.or_slow(is_lua);
    // The prototype has published code, takes exactly these arguments and
    // no varargs.
    let proto = g.load(func, cl.closure_proto);
    let entry = g.load(proto, cl.proto_entry);
    let ok = g.b.ins().icmp_imm_s(IntCC::NotEqual, entry, 0);
    g.or_slow(ok);
    let np = g.load_u8(proto, cl.proto_nparams);
    let vararg = g.load_u8(proto, cl.proto_is_vararg);
    let np_differs = g.b.ins().bxor(np, nargs);
    let shape = g.b.ins().bor(np_differs, vararg);
    let ok = g.b.ins().icmp_imm_s(IntCC::Equal, shape, 0);
    g.or_slow(ok);
    // A tier-2 callee (the steady state) has nothing left to request; a
    // tier-1 one may have (one branch spares the steady state the rest).
    let tier = g.load_u8(proto, cl.proto_tier);
    let is_t2 = g.b.ins().icmp_imm_s(IntCC::Equal, tier, 2);
    let (requests, checked) = (g.b.create_block(), g.b.create_block());
    g.b.ins().brif(is_t2, checked, &[], requests, &[]);
    g.b.switch_to_block(requests);
    // `--tier 2` compiles a callee with code but no tier-2 request yet
    // (`State::compiled_entry`): `jit_call_enter` does that.
    let eager = g.load_u8(st, cl.state_eager);
    let opt = g.load_u8(proto, cl.proto_opt);
    let eager2 = g.b.ins().icmp_imm_s(IntCC::Equal, eager, 2);
    let unrequested = g.b.ins().icmp_imm_s(IntCC::Equal, opt, crate::jit::opt::NONE as i64);
    let compile_first = g.b.ins().band(eager2, unrequested);
    // Hotness: a tier-1 callee due for tier 2 and not requested yet is
    // requested by `State::tier_call` on the general path.
    let hot = g.load(proto, cl.proto_hot);
    let weight = g.load(st, cl.state_call_weight);
    let hot = g.b.ins().iadd(hot, weight);
    let threshold2 = g.load(st, cl.state_threshold2);
    let due = g.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, hot, threshold2);
    let due = g.b.ins().band(due, unrequested);
    let needs_runtime = g.b.ins().bor(compile_first, due);
    let ok = g.b.ins().icmp_imm_s(IntCC::Equal, needs_runtime, 0);
    g.b.ins().brif(ok, checked, &[], g.slow, &[]);
    g.b.switch_to_block(checked);
    // Limits: native nesting, the tick countdown, frame count.
    let depth = g.b.ins().uload32(g.mf, st, lay.state_jit_depth);
    let ok = g.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, depth, MAX_JIT_DEPTH as i64);
    g.or_slow(ok);
    let tick = g.load(st, lay.state_tick);
    let ok = g.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, tick, 1);
    g.or_slow(ok);
    let cap = g.load(st, cl.state_frames_cap);
    let max_depth = g.load(st, cl.state_max_depth);
    let ok = g.b.ins().icmp(IntCC::UnsignedLessThan, nframes, cap);
    g.or_slow(ok);
    let ok = g.b.ins().icmp(IntCC::UnsignedLessThan, nframes, max_depth);
    g.or_slow(ok);
    // Call-site feedback, recorded by the stub (tier 1, and whatever the
    // state decides): the general path records anything new (a first Lua
    // call here, another callee). Nothing is new when this callee was
    // recorded already or the site is megamorphic
    // (`Feedback::record_target`). Tier 2 (the body written out inline)
    // records no feedback, as none of its other instructions do: its
    // speculations came from that feedback, a guard that fails hands the
    // frame to the interpreter, which records again, and skipping the
    // test made fib 9-11% faster (bench/RESULTS.md, 2026-12-04).
    if g.done.is_none() {
        let profiling = g.load_u8(st, cl.state_profiling);
        let sites = g.load(caller_proto, cl.proto_sites);
        let site = g.b.ins().imul_imm_s(pc, cl.site_size);
        let site = g.b.ins().iadd(sites, site);
        let bits = g.load_u8(site, cl.site_bits);
        let lua = g.b.ins().band_imm_u(bits, calls::LUA as i64);
        let seen_lua = g.b.ins().icmp_imm_s(IntCC::NotEqual, lua, 0);
        let targets = g.load(caller_proto, cl.proto_targets);
        let entry = g.b.ins().ishl_imm_u(pc, 4);
        let entry = g.b.ins().iadd(targets, entry);
        let target = g.load(entry, 0);
        let second = g.load(entry, 8);
        let key = g.load(func, cl.closure_key_lo);
        let same = g.b.ins().icmp(IntCC::Equal, target, key);
        let same2 = g.b.ins().icmp(IntCC::Equal, second, key);
        let mega = g.b.ins().icmp_imm_s(IntCC::Equal, target, MEGAMORPHIC as i64);
        let known_target = g.b.ins().bor(same, mega);
        let known_target = g.b.ins().bor(known_target, same2);
        let recorded = g.b.ins().band(seen_lua, known_target);
        let off = g.b.ins().icmp_imm_s(IntCC::Equal, profiling, 0);
        let ok = g.b.ins().bor(off, recorded);
        g.or_slow(ok);
    }
    // Stack room above the callee's registers.
    let base = g.b.ins().iadd_imm_s(callee_func, 1);
    let maxstack = g.load_u8(proto, cl.proto_maxstack);
    let need = g.b.ins().iadd(base, maxstack);
    let need = g.b.ins().iadd_imm_s(need, STACK_EXTRA as i64);
    let stack_len = g.load(st, cl.state_stack_len);
    let ok = g.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, need, stack_len);
    g.or_slow(ok);

    // Committed: the writes of `try_push_plain_frame` + `push_frame`.
    // What the checks read is read again rather than kept live across
    // them (it is in L1 either way, and registers are few).
    let tick = g.load(st, lay.state_tick);
    let tick = g.b.ins().iadd_imm_s(tick, -1);
    g.store(tick, st, lay.state_tick);
    // The call count is feedback, which tier 2 does not record (see
    // above); hotness it keeps adding, for a tier-1 callee's tier-up and
    // so that eviction sees the callee is in use.
    if g.done.is_none() {
        let profiling = g.load_u8(st, cl.state_profiling);
        let n = g.load(proto, cl.proto_calls);
        let n = g.b.ins().iadd(n, profiling);
        g.store(n, proto, cl.proto_calls);
    }
    let hot = g.load(proto, cl.proto_hot);
    let weight = g.load(st, cl.state_call_weight);
    let hot = g.b.ins().iadd(hot, weight);
    g.store(hot, proto, cl.proto_hot);
    let tier = g.load_u8(proto, cl.proto_tier);
    let is_t2 = g.b.ins().icmp_imm_s(IntCC::Equal, tier, 2);
    let t1_off = g.b.ins().iconst(types::I64, cl.state_tier1_calls as i64);
    let t2_off = g.b.ins().iconst(types::I64, cl.state_tier2_calls as i64);
    let counter = g.b.ins().select(is_t2, t2_off, t1_off);
    let counter = g.b.ins().iadd(st, counter);
    g.bump(counter, 0);
    let resume_pc = g.b.ins().iadd_imm_s(pc, 1);
    g.store(resume_pc, caller, cl.frame_pc);
    let nresults = g.b.ins().iadd_imm_s(c, -1);
    let nresults = g.b.ins().ireduce(types::I32, nresults);
    write_frame(g.b, g.mf, cl, caller, callee_func, func, nresults);
    let len = g.b.ins().iadd_imm_s(nframes, 1);
    g.store(len, st, cl.state_frames_len);
    let depth = g.b.ins().uload32(g.mf, st, lay.state_jit_depth);
    let depth = g.b.ins().iadd_imm_s(depth, 1);
    let depth32 = g.b.ins().ireduce(types::I32, depth);
    g.store(depth32, st, lay.state_jit_depth);
    // What the caller calls the callee's code with.
    let offset = g.b.ins().ishl_imm_u(base, 4);
    let callee_regs = g.b.ins().iadd(stack, offset);
    g.store(callee_regs, st, lay.state_jit_regs);
    let inst = g.load(func, cl.closure_inst);
    let consts = g.load(inst, cl.inst_consts);
    let upvals = g.load(func, cl.closure_upvals);
    match g.done {
        // The stub hands them over in the state, where `jit_call_enter`
        // leaves them too.
        None => {
            g.store(consts, st, lay.state_jit_consts);
            g.store(upvals, st, lay.state_jit_upvals);
            g.store(nframes, st, lay.state_jit_call_level);
            g.finish(entry, rt::DIRECT_CALL as i64);
        }
        // Written out inline, they go straight to the call as values:
        // `done` takes (code, regs, consts, upvals, level).
        Some(done) => {
            let args = [entry, callee_regs, consts, upvals, nframes].map(BlockArg::Value);
            g.b.ins().jump(done, &args);
        }
    }
}

/// Writes the record of a plain Lua frame above `caller` (the running
/// frame): the function at stack index `func_abs` (a `Gc<Function>` in
/// `func`), its registers right above, pc 0, `nresults` (an `i32`) wanted,
/// an entry frame with no varargs and no pcall, under the caller's pcall
/// depth. What `Frame::new` + `push_frame` store; the push and tier 2's
/// inlined callees (`inline::materialize_frame`) both use it.
pub(super) fn write_frame(
    b: &mut FunctionBuilder,
    mf: MemFlagsData,
    cl: &CallLayout,
    caller: ir::Value,
    func_abs: ir::Value,
    func: ir::Value,
    nresults: ir::Value,
) {
    let frame = b.ins().iadd_imm_s(caller, cl.frame_size);
    b.ins().store(mf, func_abs, frame, cl.frame_func);
    let base = b.ins().iadd_imm_s(func_abs, 1);
    b.ins().store(mf, base, frame, cl.frame_base);
    let zero = b.ins().iconst(types::I64, 0);
    b.ins().store(mf, zero, frame, cl.frame_pc);
    b.ins().store(mf, func, frame, cl.frame_closure);
    b.ins().store(mf, nresults, frame, cl.frame_nresults);
    let zero32 = b.ins().iconst(types::I32, 0);
    b.ins().store(mf, zero32, frame, cl.frame_nvarargs);
    let (yes, no) = (b.ins().iconst(types::I8, 1), b.ins().iconst(types::I8, 0));
    b.ins().store(mf, yes, frame, cl.frame_entry);
    b.ins().store(mf, no, frame, cl.frame_protected);
    b.ins().store(mf, no, frame, cl.frame_called_by_native);
    let pdepth = b.ins().uload16(types::I64, mf, caller, cl.frame_protected_depth);
    b.ins().istore16(mf, pdepth, frame, cl.frame_protected_depth);
}

/// The return stub (see [`Stubs::ret`]): a fixed count of results, as
/// many as an entry frame's caller wants, nothing to close and no pcall to
/// answer.
pub(super) fn emit_ret(g: &mut StubGen, [st, ops, _proto, _pc]: [ir::Value; 4]) {
    let (lay, cl) = (g.lay, g.cl);
    let [a, b, _] = g.unpack(ops);
    let n = g.fixed_count(b);
    let (frame, nframes) = g.top_frame(st);
    // The caller's frame must exist for it to continue (and to give the
    // registers it continues with).
    let has_caller = g.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, nframes, 2);
    g.or_slow(has_caller);
    let entry = g.load_u8(frame, cl.frame_entry);
    let protected = g.load_u8(frame, cl.frame_protected);
    let nresults = g.b.ins().sload32(g.mf, frame, cl.frame_nresults);
    let is_entry = g.b.ins().icmp_imm_s(IntCC::Equal, entry, 1);
    let unprotected = g.b.ins().icmp_imm_s(IntCC::Equal, protected, 0);
    let wanted = g.b.ins().icmp(IntCC::Equal, nresults, n);
    let ok = all(g, &[is_entry, unprotected, wanted]);
    g.or_slow(ok);
    // Open upvalues are sorted by stack index: only the last one can be at
    // or above this frame's base.
    let base = g.load(frame, cl.frame_base);
    let nopen = g.load(st, cl.state_open_upvals_len);
    let (check, none_to_close) = (g.b.create_block(), g.b.create_block());
    let any_open = g.b.ins().icmp_imm_s(IntCC::NotEqual, nopen, 0);
    g.b.ins().brif(any_open, check, &[], none_to_close, &[]);
    g.b.switch_to_block(check);
    let open = g.load(st, cl.state_open_upvals_ptr);
    let last = g.b.ins().ishl_imm_u(nopen, 3);
    let last = g.b.ins().iadd(open, last);
    let up = g.load(last, -8);
    let up_tag = g.load(up, lay.upval);
    let up_index = g.load(up, lay.upval + 8);
    let closed = g.b.ins().icmp_imm_s(IntCC::NotEqual, up_tag, 0);
    let below = g.b.ins().icmp(IntCC::UnsignedLessThan, up_index, base);
    let untouched = g.b.ins().bor(closed, below);
    g.b.ins().brif(untouched, none_to_close, &[], g.slow, &[]);
    g.b.switch_to_block(none_to_close);

    // The results go to the function's slot and up: below where they are,
    // so a forward copy never reads a word it already wrote. Two 8-byte
    // words per value (see `value::copy_values`).
    let func = g.load(frame, cl.frame_func);
    let stack = g.load(st, cl.state_stack_ptr);
    let dst = g.b.ins().ishl_imm_u(func, 4);
    let dst = g.b.ins().iadd(stack, dst);
    let first = g.b.ins().iadd(base, a);
    let src = g.b.ins().ishl_imm_u(first, 4);
    let src = g.b.ins().iadd(stack, src);
    let done = g.b.create_block();
    match g.results {
        Some(k) => {
            for i in 0..k as i32 {
                let tag = g.load(src, 16 * i);
                let payload = g.load(src, 16 * i + 8);
                g.store(tag, dst, 16 * i);
                g.store(payload, dst, 16 * i + 8);
            }
            g.b.ins().jump(done, &[]);
        }
        None => copy_loop(g, src, dst, n, done),
    }
    g.b.switch_to_block(done);
    let new_top = g.b.ins().iadd(func, n);
    g.store(new_top, st, cl.state_top);
    let top = g.b.ins().iadd_imm_s(nframes, -1);
    g.store(top, st, cl.state_frames_len);
    g.store(n, st, cl.state_jit_nret);
    // The caller's registers (what `runtime::st_refresh` sets).
    let caller = g.b.ins().iadd_imm_s(frame, -cl.frame_size);
    let caller_base = g.load(caller, cl.frame_base);
    let caller_regs = g.b.ins().ishl_imm_u(caller_base, 4);
    let caller_regs = g.b.ins().iadd(stack, caller_regs);
    g.store(caller_regs, st, lay.state_jit_regs);
    g.store(stack, st, lay.state_jit_stack);
    let returned = g.b.ins().iconst(types::I64, status::RETURNED as i64);
    g.finish(returned, 0);
}

/// Copies `n` values (two words each) from `src` up to `dst`, one at a
/// time, then jumps to `done`.
fn copy_loop(g: &mut StubGen, src: ir::Value, dst: ir::Value, n: ir::Value, done: Block) {
    let (head, body) = (g.b.create_block(), g.b.create_block());
    g.b.append_block_param(head, types::I64);
    let zero = g.b.ins().iconst(types::I64, 0);
    g.b.ins().jump(head, &[BlockArg::Value(zero)]);
    g.b.switch_to_block(head);
    let i = g.b.block_params(head)[0];
    let more = g.b.ins().icmp(IntCC::UnsignedLessThan, i, n);
    g.b.ins().brif(more, body, &[], done, &[]);
    g.b.switch_to_block(body);
    let off = g.b.ins().ishl_imm_u(i, 4);
    let from = g.b.ins().iadd(src, off);
    let to = g.b.ins().iadd(dst, off);
    let tag = g.load(from, 0);
    let payload = g.load(from, 8);
    g.store(tag, to, 0);
    g.store(payload, to, 8);
    let next = g.b.ins().iadd_imm_s(i, 1);
    g.b.ins().jump(head, &[BlockArg::Value(next)]);
}
