//! Tier 1: a straight translation of one prototype's bytecode into
//! Cranelift IR, one block per instruction.
//!
//! What it is: registers stay in the VM register file (so the collector and
//! the debug machinery see exactly what tier 0 would); integer and float
//! arithmetic, comparisons, truthiness tests, numeric `for` loops and
//! array-part table accesses run inline; everything else, and every case a
//! fast path does not cover, calls [`jit_step`], which runs that one
//! instruction in the interpreter. What it is not: an optimizer — no value
//! lives in a machine register across instructions, no guard is speculative.
//!
//! Re-entry: a compiled function starts with a `br_table` over its resume
//! points (pc 0, the pc after every call, every loop header), because calls
//! and returns hand control back to the interpreter loop and the frame is
//! re-entered where it left off. A test for pc 0 comes first: that is how
//! every call comes in.

use std::collections::HashMap;
use std::sync::atomic::AtomicU32;

use cranelift_codegen::Context;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, AbiParam, Block, BlockArg, InstBuilder, JumpTableData, MemFlagsData, SigRef, types};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Module, default_libcall_names};

use super::runtime::{self as rt, JitFn, Layout, jit_step, jit_tick, layout, status, tag};
use super::speculate::{Plan, Ty};
use crate::bytecode::{Constant, Op, Proto, RK_CONST};
use crate::profile::access;

/// `resume_numbers` for a pc that is not a resume point.
const NOT_RESUMED: u16 = u16::MAX;

/// Numbers the resume points densely (pc 0, the pc after every call,
/// every loop header), by pc; `NOT_RESUMED` elsewhere. Compiled code is
/// re-entered only there: calls and returns hand control back to the
/// interpreter loop, and a loop's tick may hand the frame over.
fn resume_numbers(p: &Proto) -> Box<[u16]> {
    let n = p.code.len();
    let mut resume = vec![false; n];
    if n > 0 {
        resume[0] = true;
    }
    for (pc, op) in p.code.iter().enumerate() {
        match *op {
            Op::Call { .. } | Op::TailCall { .. } | Op::TForCall { .. } if pc + 1 < n => resume[pc + 1] = true,
            Op::Jmp { off, .. } | Op::ForLoop { off, .. } | Op::TForLoop { off, .. } if off < 0 => {
                resume[(pc as i64 + 1 + off as i64) as usize] = true
            }
            _ => {}
        }
    }
    let mut next = 0u16;
    resume
        .into_iter()
        .map(|r| {
            if !r || next == NOT_RESUMED {
                return NOT_RESUMED;
            }
            next += 1;
            next - 1
        })
        .collect()
}

/// A finished compilation unit: its own JITModule (so it can be freed
/// alone) and the entry point into it.
pub(crate) struct CompiledCode {
    pub module: JITModule,
    pub entry: JitFn,
    /// Machine code bytes (code + read-only data).
    pub code_bytes: usize,
    /// Inline-cache cells the code points into (one per instruction, the
    /// function's own first, then those of each inlined callee).
    pub ic: Box<[AtomicU32]>,
    /// Callees compiled inline (see `codegen/inline.rs`): kept alive with
    /// the code, whose guards compare their addresses.
    pub inlined: Vec<std::sync::Arc<Proto>>,
    /// The resume points' numbers the prologue reads (`resume_numbers`).
    pub entries: Box<[u16]>,
}

/// Reusable compiler state: one per compiling thread.
pub(crate) struct Compiler {
    /// Tier 1: no optimization passes and the single-pass register
    /// allocator (compile speed first). Tier-1 code keeps every Lua value
    /// in the VM register file, so there is little for the backtracking
    /// allocator to win: measured side by side, tier-1 run times did not
    /// move while compiles got 1.6-1.9x faster (geomean; bench/RESULTS.md).
    isa: OwnedTargetIsa,
    /// Tier 2: Cranelift's optimizer on (GVN, LICM, constant folding).
    isa_opt: OwnedTargetIsa,
    ctx: Context,
    fbc: FunctionBuilderContext,
    /// The shared frame-push and return routines (`stubs.rs`).
    stubs: Option<stubs::Stubs>,
}

mod call;
mod defer;
mod inline;
mod math;
mod method;
mod shared;
mod stubs;
pub(crate) mod tier2;
pub(crate) use stubs::symbols as stub_symbols;

impl Compiler {
    pub(crate) fn new() -> Result<Compiler, String> {
        let isa = |opt: &str, regalloc: &str, pinned: bool| -> Result<OwnedTargetIsa, String> {
            let mut fb = settings::builder();
            let set = |fb: &mut settings::Builder, k: &str, v: &str| fb.set(k, v).map_err(|e| format!("cranelift setting {k}: {e}"));
            set(&mut fb, "opt_level", opt)?;
            set(&mut fb, "enable_pinned_reg", if pinned { "true" } else { "false" })?;
            set(&mut fb, "is_pic", "false")?;
            set(&mut fb, "regalloc_algorithm", regalloc)?;
            set(&mut fb, "use_colocated_libcalls", "false")?;
            set(&mut fb, "enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
            cranelift_native::builder()
                .map_err(|e| format!("unsupported host for the JIT: {e}"))?
                .finish(settings::Flags::new(fb))
                .map_err(|e| format!("cranelift ISA: {e}"))
        };
        let isa_opt = isa("speed", "backtracking", false)?;
        let stubs = stubs::stubs(&isa_opt);
        let isa = isa("none", "single_pass", true)?;
        Ok(Compiler { isa, isa_opt, ctx: Context::new(), fbc: FunctionBuilderContext::new(), stubs })
    }

    /// Compiles `proto` at tier 1. `profiling`: emit feedback recording.
    /// `use_profile`: the function ran in tier 0 long enough for its
    /// feedback to say which fast paths to emit (else: all of them).
    pub(crate) fn compile(&mut self, proto: &Proto, profiling: bool, use_profile: bool) -> Result<CompiledCode, String> {
        self.compile_with(proto, profiling, use_profile, None)
    }

    /// Compiles `proto` at tier 2 under `plan` (see `speculate.rs`).
    pub(crate) fn compile_optimized(&mut self, proto: &Proto, plan: &Plan) -> Result<CompiledCode, String> {
        self.compile_with(proto, false, true, Some(plan))
    }

    fn compile_with(&mut self, proto: &Proto, profiling: bool, use_profile: bool, plan: Option<&Plan>) -> Result<CompiledCode, String> {
        let isa = if plan.is_some() { self.isa_opt.clone() } else { self.isa.clone() };
        let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
        let mut sig = module.make_signature();
        for _ in 0..5 {
            sig.params.push(AbiParam::new(types::I64));
        }
        sig.returns.push(AbiParam::new(types::I64));
        let fid = module.declare_anonymous_function(&sig).map_err(|e| e.to_string())?;
        self.ctx.clear();
        self.ctx.func.signature = sig.clone();
        // A tier-2 unit starts its cells at the slots its field guards
        // expect, so a recompile (which reads them from this unit, now the
        // cached one) keeps them.
        let ic: Box<[AtomicU32]> = match plan {
            Some(plan) => plan.ic_hints(proto).into_iter().map(AtomicU32::new).collect(),
            None => (0..proto.code.len()).map(|_| AtomicU32::new(u32::MAX)).collect(),
        };
        let inlined = plan.map_or_else(Vec::new, |p| p.inline.iter().flatten().map(|i| i.callee.clone()).collect());
        let entries = resume_numbers(proto);
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fbc);
            let mut helper = sig.clone();
            helper.params.truncate(2);
            let helper = b.import_signature(helper);
            let mut fast = sig.clone();
            fast.params.extend([AbiParam::new(types::I64), AbiParam::new(types::I64)]);
            let fast = b.import_signature(fast);
            let mut call = sig.clone();
            call.params.truncate(4);
            let call = b.import_signature(call);
            let mut resume = sig.clone();
            resume.params.truncate(3);
            let resume = b.import_signature(resume);
            let compiled = b.import_signature(sig.clone());
            let mut t = Translator::new(&mut b, proto, [helper, fast, call, resume, compiled], profiling, &ic, &entries, plan);
            t.call_stubs = self.stubs;
            t.use_profile = (profiling || plan.is_some()) && use_profile;
            t.translate();
            b.finalize(module.target_config());
        }
        let dump = std::env::var_os("EMBER_JIT_DUMP");
        // `EMBER_JIT_DUMP=asm`: the machine code too (after compiling).
        self.ctx.set_disasm(dump.as_deref() == Some(std::ffi::OsStr::new("asm")));
        if dump.is_some() {
            // A debugging aid: the IR of every compile, on stderr.
            eprintln!(
                "; {} ({}:{}) tier {}\n{}",
                proto.name,
                proto.source,
                proto.line_defined,
                if plan.is_some() { 2 } else { 1 },
                self.ctx.func.display()
            );
        }
        module.define_function(fid, &mut self.ctx).map_err(|e| match e {
            cranelift_module::ModuleError::Compilation(cranelift_codegen::CodegenError::Verifier(errs)) => {
                format!("IR verifier: {}", cranelift_codegen::print_errors::pretty_verifier_error(&self.ctx.func, None, errs))
            }
            other => format!("cranelift: {other:?}"),
        })?;
        // `EMBER_JIT_DUMP=opt`: the IR as Cranelift's optimizer left it.
        if dump.as_deref() == Some(std::ffi::OsStr::new("opt")) {
            eprintln!("; optimized IR of {} ({}:{})\n{}", proto.name, proto.source, proto.line_defined, self.ctx.func.display());
        }
        if let Some(v) = self.ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
            eprintln!("; machine code of {} ({}:{})\n{v}", proto.name, proto.source, proto.line_defined);
        }
        let code_bytes = self.ctx.compiled_code().map_or(0, |c| c.code_info().total_size as usize);
        self.ctx.clear();
        module.finalize_definitions().map_err(|e| format!("finalize: {e}"))?;
        let ptr = module.get_finalized_function(fid);
        // SAFETY: the function was declared with JitFn's signature (four
        // i64 parameters, one i64 result, host calling convention).
        let entry: JitFn = unsafe { std::mem::transmute::<*const u8, JitFn>(ptr) };
        Ok(CompiledCode { module, entry, code_bytes, ic, inlined, entries })
    }
}

/// An instruction operand: a register or a constant known at compile time.
#[derive(Clone, Copy)]
enum Opd<'a> {
    Reg(u16),
    Int(i64),
    Float(f64),
    /// Any other constant (strings, nil, booleans): no fast path.
    Other(&'a Constant, u16),
}

/// Arithmetic operators, numbered as `runtime::jit_arith` expects.
#[derive(Clone, Copy, PartialEq)]
enum Arith {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    Mod = 4,
    Pow = 5,
    IDiv = 6,
    BAnd = 7,
    BOr = 8,
    BXor = 9,
    Shl = 10,
    Shr = 11,
}

struct Translator<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    p: &'a Proto,
    lay: &'static Layout,
    blocks: Vec<Block>,
    /// Returns its single parameter as the function's status.
    exit: Block,
    /// Returns `INTERPRET`.
    bail: Block,
    state: ir::Value,
    consts: ir::Value,
    upvals: ir::Value,
    regs: Variable,
    /// Tier 1 keeps the register file's address in the pinned register
    /// (r15 on x86-64) instead of `regs`: the single-pass allocator spills
    /// every value that crosses a block, and tier 1 has a block per
    /// instruction, so a variable would be reloaded from the stack at
    /// nearly every use. This is the caller's r15, restored on every
    /// return (the pinned register is not callee-saved under
    /// `enable_pinned_reg`, but the Rust code that called us relies on it).
    caller_r15: Option<ir::Value>,
    /// Tier 1: the pinned register's value as read in a block, reused by
    /// later reads in that block until a call or a write (each read is
    /// an instruction, and a machine move, of its own).
    pinned_read: Option<(Block, ir::Value)>,
    /// (state, pc) -> status
    helper: SigRef,
    /// (state, regs, consts, ops, feedback bits, pc, ic cell) -> status
    fast: SigRef,
    /// The unit's inline-cache cells; this function's start at `ic_base`.
    ic: &'a [AtomicU32],
    ic_base: usize,
    /// (state, ops, proto, pc) -> status
    call: SigRef,
    /// (state, status, level) -> status: `jit_call_resume`.
    resume: SigRef,
    /// A compiled function's own signature (`JitFn`), for direct calls.
    compiled: SigRef,
    /// The call and return stubs (`stubs.rs`), if any.
    call_stubs: Option<stubs::Stubs>,
    prof: bool,
    /// Emit fast paths only where feedback saw their types.
    use_profile: bool,
    mf: MemFlagsData,
    /// Tier 2: the speculation plan (None: tier 1).
    plan: Option<&'a Plan>,
    /// The instruction being translated.
    pc: usize,
    /// Tier 2: unboxed integer / float payload of each register, valid
    /// where the plan says the register has that type.
    ivars: Vec<Variable>,
    fvars: Vec<Variable>,
    /// Tier 2: per pc, the block that (re)loads the registers the plan
    /// knows there from memory and checks their tags, then continues at pc.
    stubs: HashMap<usize, Block>,
    /// Tier 2: the deopting ways in at resume points the plan never
    /// reached, by pc (`tier2.rs`, `unreached_entry`).
    unreached: HashMap<usize, Block>,
    /// Tier 2: deoptimization exits by (pc, guard kind), one per set of
    /// deferred registers to write back first.
    deopts: DeoptExits,
    /// Translating a callee inlined at a call site (`codegen/inline.rs`).
    inlined: Option<inline::InlineSite>,
    /// Tier 2 (`codegen/defer.rs`): registers whose memory may be stale
    /// now, the sets forward edges carry to each pc, the set each
    /// translated pc started with, and which registers are live where.
    dirty: Vec<defer::Dirty>,
    edges: Vec<defer::EdgeBlock>,
    pending: HashMap<usize, Vec<defer::Dirty>>,
    entry_dirty: HashMap<usize, Vec<defer::Dirty>>,
    liveness: Option<super::liveness::Liveness>,
    /// Per pc: the last pc of a back edge to it (a loop header).
    loop_end: Vec<Option<usize>>,
    /// Tier 2: array slots known to be present here (see
    /// `tier2::PresentSlot`).
    present: Vec<tier2::PresentSlot>,
    /// Whether the instruction just translated leaves `present` true.
    keeps_present: bool,
    /// Tier 2: per jump target, what each forward edge translated so far
    /// carried there (`None`: an edge that keeps nothing); the target
    /// starts with what they all agree on (see `present_at_join`).
    present_in: HashMap<usize, Vec<Option<Vec<tier2::PresentSlot>>>>,
    /// Tier 2: pcs entered from outside the straight-line flow too (the
    /// resume dispatch, a helper's continuation, a loop's entry stub).
    resumed: Vec<bool>,
    /// Set while `after_helper` asks for a block: that edge keeps nothing.
    routing_helper: bool,
    /// Per pc: whether an instruction other than the one before can
    /// continue there (a branch or jump target).
    jump_target: Vec<bool>,
    /// An inlined callee: per pc, whether its frame is certainly written
    /// there (see `materialize_frame`); empty elsewhere, and once the
    /// instructions are done (the exits emitted after them write it).
    frame_pushed: Vec<bool>,
    /// Tier 2: the step count toward the next tick, where it lives in an
    /// SSA value (see `codegen/defer.rs`), and per pc whether it does.
    tick: Variable,
    tick_regions: Vec<bool>,
    /// Tier 1: the slow paths shared by sites calling the same helper.
    shared: Vec<shared::SharedSlow>,
    shared_call: Option<shared::SharedCall>,
    /// Tier 1, per pc: whether only the instruction before can continue
    /// there (no branch, jump or re-entry does), and the instruction there
    /// is a plain register write that makes no block. An instruction that runs
    /// straight through into such a pc shares its block with it (see
    /// `jump`): a block costs Cranelift far more than an instruction.
    falls_into: Vec<bool>,
    /// The block the current instruction started in and how many blocks
    /// existed then: while both hold, it has not branched.
    op_start: (Option<Block>, usize),
    /// The instruction just translated fell into the next one's block.
    fell_through: bool,
}

/// Tier 2's deopt exits: per (pc, guard kind), one block per set of
/// deferred registers it writes back first.
type DeoptExits = HashMap<(usize, u8), Vec<(Vec<defer::Dirty>, Block)>>;

impl<'a, 'b> Translator<'a, 'b> {
    fn new(
        b: &'a mut FunctionBuilder<'b>,
        p: &'a Proto,
        [helper, fast, call, resume, compiled]: [SigRef; 5],
        prof: bool,
        ic: &'a [AtomicU32],
        entries: &[u16],
        plan: Option<&'a Plan>,
    ) -> Self {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let regs = b.declare_var(types::I64);
        b.def_var(regs, params[1]);
        // Tier 1 is compiled with the pinned register reserved (see
        // `caller_r15`); tier 2 is not, and uses the variable.
        let caller_r15 = plan.is_none().then(|| {
            let saved = b.ins().get_pinned_reg(types::I64);
            b.ins().set_pinned_reg(params[1]);
            saved
        });
        let tick = b.declare_var(types::I64);
        let blocks = (0..p.code.len()).map(|_| b.create_block()).collect();
        let exit = b.create_block();
        b.append_block_param(exit, types::I64);
        let bail = b.create_block();
        let nvars = if plan.is_some() { p.maxstack as usize + 1 } else { 0 };
        let ivars = (0..nvars).map(|_| b.declare_var(types::I64)).collect();
        let fvars = (0..nvars).map(|_| b.declare_var(types::F64)).collect();
        let mut t = Translator {
            b,
            p,
            lay: layout(),
            blocks,
            exit,
            bail,
            state: params[0],
            consts: params[2],
            upvals: params[4],
            regs,
            caller_r15,
            pinned_read: None,
            helper,
            fast,
            ic,
            ic_base: 0,
            call,
            resume,
            compiled,
            call_stubs: None,
            prof,
            use_profile: false,
            mf: MemFlagsData::trusted(),
            plan,
            pc: 0,
            ivars,
            fvars,
            stubs: HashMap::new(),
            unreached: HashMap::new(),
            deopts: HashMap::new(),
            inlined: None,
            dirty: Vec::new(),
            edges: Vec::new(),
            pending: HashMap::new(),
            entry_dirty: HashMap::new(),
            liveness: plan.map(|_| super::liveness::Liveness::of(p)),
            loop_end: super::speculate::loop_ends(p),
            present: Vec::new(),
            keeps_present: false,
            present_in: HashMap::new(),
            resumed: vec![false; p.code.len()],
            routing_helper: false,
            // Only tier 2 keeps present slots (tier 1 compiles stay lean).
            jump_target: plan.map_or_else(Vec::new, |_| super::liveness::jump_targets(p)),
            frame_pushed: Vec::new(),
            tick,
            tick_regions: Vec::new(),
            shared: Vec::new(),
            shared_call: None,
            falls_into: Vec::new(),
            op_start: (None, 0),
            fell_through: false,
        };
        if t.shares_slow_paths() {
            let targets = super::liveness::jump_targets(p);
            // Only into an instruction that makes no block of its own: the
            // builder cannot leave a half-built block to build a cold one.
            let plain =
                |op: &Op| matches!(op, Op::Move { .. } | Op::LoadK { .. } | Op::LoadInt { .. } | Op::LoadNil { .. } | Op::LoadBool { .. });
            t.falls_into = (0..p.code.len()).map(|pc| !targets[pc] && entries[pc] == NOT_RESUMED && plain(&p.code[pc])).collect();
        }
        // Before the dispatch: which resume points need a stub depends on it.
        t.tick_regions = t.deferring_loops();
        t.resume_dispatch(params[3], entries);
        t
    }

    /// The prologue: a call comes in at pc 0; a re-entry at `pc`, one of
    /// the resume points, goes through a `br_table` over the resume points
    /// alone, indexed by their numbers in `entries` (see
    /// [`resume_numbers`]). Cranelift splits every table entry's edge into
    /// a block of its own, so a table indexed by pc would cost a block per
    /// instruction.
    fn resume_dispatch(&mut self, pc: ir::Value, entries: &[u16]) {
        let points: Vec<usize> = (0..entries.len()).filter(|&i| entries[i] != NOT_RESUMED).collect();
        let bail = self.b.func.dfg.block_call(self.bail, &[]);
        let targets: Vec<Block> = points.iter().map(|&i| self.resume_block(i)).collect();
        let table: Vec<_> = targets.into_iter().map(|blk| self.b.func.dfg.block_call(blk, &[])).collect();
        let jt = self.b.create_jump_table(JumpTableData::new(bail, &table));
        // A call enters at pc 0, by far the most frequent way in: a
        // predictable branch there before the table's indirect jump.
        let (first, dispatch) = (self.resume_block(0), self.b.create_block());
        self.b.ins().brif(pc, dispatch, &[], first, &[]);
        self.b.switch_to_block(dispatch);
        // The numbers live as long as the unit (it owns them); the
        // interpreter re-enters only at a pc of this function.
        let offset = self.b.ins().ishl_imm_u(pc, 1);
        let addr = self.b.ins().iadd_imm_s(offset, entries.as_ptr() as i64);
        let idx = self.b.ins().uload16(types::I32, self.mf, addr, 0);
        self.b.ins().br_table(idx, jt);
    }

    fn translate(&mut self) {
        self.translate_body();
        self.b.seal_all_blocks();
    }

    /// Every instruction, the stubs and deopt exits, and the two ways out
    /// (`exit` with a status, `bail` with `INTERPRET`).
    fn translate_body(&mut self) {
        for pc in 0..self.p.code.len() {
            if std::mem::take(&mut self.fell_through) {
                self.blocks[pc] = self.b.current_block().expect("the instruction before left it open");
            } else {
                self.b.switch_to_block(self.blocks[pc]);
            }
            self.pc = pc;
            let kept = std::mem::take(&mut self.keeps_present);
            if self.jump_target.get(pc).is_none_or(|t| *t) {
                self.present = self.present_at_join(pc);
            } else if !kept {
                self.present.clear();
            }
            self.enter_instruction(pc);
            self.op_start = (self.b.current_block(), self.b.func.dfg.num_blocks());
            self.op(pc);
        }
        self.finish_shared();
        self.finish_stubs();
        self.b.switch_to_block(self.exit);
        let st = self.b.block_params(self.exit)[0];
        self.leave(st);
        self.b.switch_to_block(self.bail);
        let st = self.iconst(status::INTERPRET as i64);
        self.leave(st);
    }

    /// Tier 2: the instruction just translated (a register write that
    /// touches no table) keeps the known-present slots, but those naming
    /// `written` (see `tier2::PresentSlot`).
    fn keep_present(&mut self, written: u16) {
        if self.plan.is_some() {
            self.keep_present_past(Some(written));
        }
    }

    /// Leaves this function's code with status `st`: returns it, or, in a
    /// callee inlined at a call site, hands it to the site (as a real
    /// callee's code would return it to its caller).
    fn leave(&mut self, st: ir::Value) {
        match self.inlined {
            Some(site) => self.leave_inlined(site, st),
            None => {
                if let Some(saved) = self.caller_r15 {
                    self.b.ins().set_pinned_reg(saved);
                }
                self.b.ins().return_(&[st]);
            }
        }
    }

    // ----- small builders ------------------------------------------------------

    fn iconst(&mut self, v: i64) -> ir::Value {
        self.b.ins().iconst(types::I64, v)
    }
    fn regs(&mut self) -> ir::Value {
        match self.caller_r15 {
            Some(_) => {
                let here = self.b.current_block();
                match self.pinned_read {
                    Some((block, v)) if Some(block) == here => v,
                    _ => {
                        let v = self.b.ins().get_pinned_reg(types::I64);
                        self.pinned_read = here.map(|b| (b, v));
                        v
                    }
                }
            }
            None => self.b.use_var(self.regs),
        }
    }
    /// A call was emitted: values read before it are not kept across it
    /// (they would be spilled), so the next `regs()` reads r15 again.
    fn forget_pinned_read(&mut self) {
        self.pinned_read = None;
    }
    /// The register file moved (a helper may grow the stack).
    fn set_regs(&mut self, regs: ir::Value) {
        match self.caller_r15 {
            Some(_) => {
                self.b.ins().set_pinned_reg(regs);
                self.pinned_read = self.b.current_block().map(|b| (b, regs));
            }
            None => self.b.def_var(self.regs, regs),
        }
    }
    fn tag(&mut self, r: u16) -> ir::Value {
        match self.known(r) {
            Ty::Int => return self.iconst(tag::INT),
            Ty::Float => return self.iconst(tag::FLOAT),
            Ty::Table => return self.iconst(tag::TABLE),
            _ => {}
        }
        let regs = self.regs();
        self.b.ins().load(types::I64, self.mf, regs, 16 * r as i32)
    }
    /// The payload word of register `r`: an integer, or (where the plan
    /// knows a table) the table's pointer.
    fn int(&mut self, r: u16) -> ir::Value {
        if matches!(self.known(r), Ty::Int | Ty::Table) {
            return self.b.use_var(self.ivars[r as usize]);
        }
        let regs = self.regs();
        self.b.ins().load(types::I64, self.mf, regs, 16 * r as i32 + 8)
    }
    fn float(&mut self, r: u16) -> ir::Value {
        if self.known(r) == Ty::Float {
            return self.b.use_var(self.fvars[r as usize]);
        }
        let regs = self.regs();
        self.b.ins().load(types::F64, self.mf, regs, 16 * r as i32 + 8)
    }
    fn set_tag(&mut self, r: u16, t: i64) {
        let regs = self.regs();
        let t = self.iconst(t);
        self.b.ins().store(self.mf, t, regs, 16 * r as i32);
    }
    fn set_payload(&mut self, r: u16, v: ir::Value) {
        let regs = self.regs();
        self.b.ins().store(self.mf, v, regs, 16 * r as i32 + 8);
    }
    fn set_int(&mut self, r: u16, v: ir::Value) {
        if self.plan.is_some() {
            return self.write_num(r, v, Ty::Int);
        }
        self.set_tag(r, tag::INT);
        self.set_payload(r, v);
    }
    fn set_float(&mut self, r: u16, v: ir::Value) {
        if self.plan.is_some() {
            return self.write_num(r, v, Ty::Float);
        }
        self.set_tag(r, tag::FLOAT);
        self.set_payload(r, v);
    }
    fn set_bool(&mut self, r: u16, v: ir::Value) {
        self.set_tag(r, tag::BOOL);
        let regs = self.regs();
        // `v` is an i8: a one-byte store of the bool payload.
        self.b.ins().store(self.mf, v, regs, 16 * r as i32 + 8);
    }
    /// Copies a whole value (tag and payload) between two addresses.
    fn copy(&mut self, dst: ir::Value, doff: i32, src: ir::Value, soff: i32) {
        let t = self.b.ins().load(types::I64, self.mf, src, soff);
        let v = self.b.ins().load(types::I64, self.mf, src, soff + 8);
        self.b.ins().store(self.mf, t, dst, doff);
        self.b.ins().store(self.mf, v, dst, doff + 8);
    }
    fn mov(&mut self, dst: u16, src: u16) {
        match self.known(src) {
            Ty::Int => {
                let v = self.int(src);
                return self.set_int(dst, v);
            }
            Ty::Float => {
                let v = self.float(src);
                return self.set_float(dst, v);
            }
            Ty::Table => {
                let v = self.int(src);
                return self.write_table(dst, v);
            }
            _ => {}
        }
        self.clean(dst);
        let regs = self.regs();
        self.copy(regs, 16 * dst as i32, regs, 16 * src as i32);
    }
    fn eq_imm(&mut self, x: ir::Value, v: i64) -> ir::Value {
        let c = self.iconst(v);
        self.b.ins().icmp(IntCC::Equal, x, c)
    }
    fn jump(&mut self, pc: usize) {
        if pc == self.pc + 1
            && self.falls_into.get(pc) == Some(&true)
            && self.op_start == (self.b.current_block(), self.b.func.dfg.num_blocks())
        {
            // Straight on into the next instruction, in this block.
            self.fell_through = true;
            return;
        }
        let target = self.block_at(pc);
        self.b.ins().jump(target, &[]);
    }
    /// Where control continues at `pc` after a helper ran for the current
    /// instruction (see `after_helper`).
    fn jump_resumed(&mut self, pc: usize) {
        let target = self.after_helper(pc);
        self.b.ins().jump(target, &[]);
    }
    /// The block to continue at `pc` through after a helper ran for the
    /// current instruction. Tier 2 reloads the registers its plan knows
    /// there through the resume stub when the helper may have changed one:
    /// one the instruction writes (what the helper writes in memory), or,
    /// with the tick count in an SSA value, the tick. Otherwise its SSA
    /// copies still hold: a helper, and the metamethods it may call, write
    /// registers of this frame only as the instruction does (the ones the
    /// plan types are never captured by closures), and the collector moves
    /// nothing. A back edge goes through the stub regardless: nothing then
    /// stays live across the helper call into the loop.
    fn after_helper(&mut self, pc: usize) -> Block {
        let Some(plan) = self.plan else { return self.resume_block(pc) };
        let op = self.p.code[self.pc];
        let keeps = self.pc < pc
            && pc < self.blocks.len()
            && plan.reached(pc)
            && !self.tick_in_var(self.pc)
            && self.known_at(pc).iter().all(|&(r, _)| !op.writes(r as usize));
        if !keeps {
            return self.resume_block(pc);
        }
        self.routing_helper = true;
        let b = self.block_at(pc);
        self.routing_helper = false;
        b
    }
    /// The block an edge from the current instruction to `pc` goes to. In
    /// tier 2, an edge into a loop from outside it (forward, to the header)
    /// goes through the header's resume stub, which makes the loop's hoisted
    /// checks (see `speculate::Hoist`).
    /// Tier 2 also writes back, on the edge, the deferred registers the
    /// target cannot keep deferred (`codegen/defer.rs`).
    fn block_at(&mut self, pc: usize) -> Block {
        self.carry_present(pc);
        if let Some(plan) = self.plan
            && self.pc < pc
            && plan.hoisted_at(pc).next().is_some()
        {
            let stub = self.resume_block(pc);
            return self.edge_to(pc, stub, true);
        }
        let Some(&to) = self.blocks.get(pc) else { return self.bail };
        self.edge_to(pc, to, false)
    }
    fn operand(&self, x: u16) -> Opd<'a> {
        if x < RK_CONST {
            return Opd::Reg(x);
        }
        let k = (x - RK_CONST) as usize;
        match &self.p.consts[k] {
            Constant::Int(i) => Opd::Int(*i),
            Constant::Float(f) => Opd::Float(*f),
            c => Opd::Other(c, k as u16),
        }
    }
    /// Stores constant or register operand `x` into register `dst`.
    fn store_operand(&mut self, dst_addr: ir::Value, doff: i32, x: u16) {
        // Tier 2: a number the plan proves is stored from its SSA copy
        // (memory holds the same value; this skips reloading it).
        let known = if x < RK_CONST { self.known(x) } else { Ty::Any };
        if matches!(known, Ty::Int | Ty::Float | Ty::Table) {
            let (t, v) = match known {
                Ty::Int => (tag::INT, self.int(x)),
                Ty::Table => (tag::TABLE, self.int(x)),
                _ => (tag::FLOAT, self.float(x)),
            };
            let t = self.iconst(t);
            self.b.ins().store(self.mf, t, dst_addr, doff);
            self.b.ins().store(self.mf, v, dst_addr, doff + 8);
            return;
        }
        if x < RK_CONST {
            let regs = self.regs();
            self.copy(dst_addr, doff, regs, 16 * x as i32);
        } else {
            let consts = self.consts;
            self.copy(dst_addr, doff, consts, 16 * (x - RK_CONST) as i32);
        }
    }

    /// Whether the function's feedback says which fast paths are worth
    /// emitting (it got hot in tier 0). Without a profile (`--tier 1`
    /// compiles on the first call) every fast path is emitted; with one,
    /// a site that ran gets the paths for the types it saw, and a site that
    /// never ran gets them all.
    fn profiled(&self) -> bool {
        self.use_profile
    }

    /// Fast paths worth emitting at an arithmetic/compare site: (integer,
    /// float). Both when there is no profile.
    fn observed_numbers(&self, pc: usize) -> (bool, bool) {
        if !self.profiled() {
            return (true, true);
        }
        let bits = self.p.feedback.sites[pc].bits.load(std::sync::atomic::Ordering::Relaxed);
        if bits == 0 {
            // Never ran (yet): a hot function is often compiled while its
            // later loops have not started. Assume numbers.
            return (true, true);
        }
        let (lo, hi) = (bits & 0xf, bits >> 4);
        let int = lo & 1 != 0 && hi & 1 != 0;
        let float = (lo | hi) & 2 != 0 && (lo | hi) & !3 == 0;
        (int, float)
    }

    /// Records feedback bits at `pc` unless the site already has them (bits
    /// only ever accumulate, so then there is nothing to record).
    fn note_bits(&mut self, pc: usize, bits: u8) {
        if !self.prof {
            return;
        }
        let site = &self.p.feedback.sites[pc].bits;
        if site.load(std::sync::atomic::Ordering::Relaxed) & bits == bits {
            return;
        }
        // The sites array lives as long as the prototype, which outlives
        // every unit compiled from it (units hold an Arc<Proto>).
        let addr = self.iconst(site.as_ptr() as i64);
        let old = self.b.ins().uload8(types::I32, self.mf, addr, 0);
        let new = self.b.ins().bor_imm_u(old, bits as i64);
        self.b.ins().istore8(self.mf, new, addr, 0);
    }

    /// Counts a back-edge for tier 2 and checks limits, as the interpreter does.
    fn back_edge(&mut self, pc: usize, target: usize) {
        if self.prof {
            let addr = self.iconst(self.p.feedback.sites[pc].taken.as_ptr() as i64);
            let n = self.b.ins().load(types::I32, self.mf, addr, 0);
            let n = self.b.ins().iadd_imm_s(n, 1);
            self.b.ins().store(self.mf, n, addr, 0);
        }
        let off = self.lay.state_tick;
        // Inside a loop of deferring instructions the count is an SSA
        // value (`codegen/defer.rs`): a store and reload per iteration
        // would chain every iteration to the last through memory.
        let in_var = self.tick_in_var(pc);
        let t = if in_var { self.b.use_var(self.tick) } else { self.b.ins().load(types::I64, self.mf, self.state, off) };
        let t = self.b.ins().iadd_imm_s(t, -1);
        if in_var {
            self.b.def_var(self.tick, t);
        } else {
            self.b.ins().store(self.mf, t, self.state, off);
        }
        let zero = self.iconst(0);
        let out = self.b.ins().icmp(IntCC::SignedLessThan, t, zero);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let dest = self.block_at(target);
        self.b.ins().brif(out, slow, &[], dest, &[]);
        self.b.switch_to_block(slow);
        // The tick may hand the frame to the interpreter at `target`.
        let list = self.dirty_live_at(target);
        self.write_back(&list);
        if in_var {
            self.store_tick();
        }
        // Tier-1 code marks itself so the tick can move a hot loop up.
        let tier1 = if self.plan.is_none() { 1usize << 63 } else { 0 };
        let r = self.call_helper(jit_tick as *const u8, pc | (target << 32) | tier1);
        if self.plan.is_some() {
            // Tier 2 goes on through the header's resume stub, which
            // reloads from memory what the loop keeps in SSA values. So
            // none of them is live across this call: otherwise the
            // register allocator keeps them where a call cannot clobber
            // them, which on the hot path means the stack.
            let again = self.resume_block(target);
            self.b.ins().brif(r, self.exit, &[BlockArg::Value(r)], again, &[]);
            return;
        }
        let cont = self.b.create_block();
        self.b.ins().brif(r, self.exit, &[BlockArg::Value(r)], cont, &[]);
        self.b.switch_to_block(cont);
        self.b.ins().jump(dest, &[]);
    }

    fn call_helper(&mut self, f: *const u8, pc: usize) -> ir::Value {
        let pcv = self.iconst(pc as i64);
        self.call_helper_with(f, pcv)
    }

    /// `call_helper` with the word computed at run time.
    fn call_helper_with(&mut self, f: *const u8, pcv: ir::Value) -> ir::Value {
        self.materialize_frame();
        let fp = self.iconst(f as i64);
        let call = self.b.ins().call_indirect(self.helper, fp, &[self.state, pcv]);
        self.forget_pinned_read();
        self.b.inst_results(call)[0]
    }

    fn pack(a: usize, b: usize, c: usize) -> i64 {
        (a as i64) | ((b as i64) << 8) | ((c as i64) << 24)
    }

    /// Leaves compiled code with the helper's status unless it is NEXT;
    /// otherwise reloads the registers (the stack may have moved).
    fn check_status(&mut self, r: ir::Value) {
        let st = self.b.ins().band_imm_u(r, 0xff);
        let cont = self.b.create_block();
        self.b.ins().brif(st, self.exit, &[BlockArg::Value(r)], cont, &[]);
        self.b.switch_to_block(cont);
        let off = self.lay.state_jit_regs;
        let regs = self.b.ins().load(types::I64, self.mf, self.state, off);
        self.set_regs(regs);
    }

    /// A fast helper (see runtime.rs) for instruction `pc`, then `pc + 1`.
    fn fast_helper(&mut self, f: *const u8, pc: usize, a: usize, b: usize, c: usize) {
        self.fast_helper_call(f, pc, a, b, c);
        self.jump_resumed(pc + 1);
    }

    fn fast_helper_call(&mut self, f: *const u8, pc: usize, a: usize, b: usize, c: usize) {
        self.materialize_frame();
        let fp = self.iconst(f as i64);
        let regs = self.regs();
        let ops = self.iconst(Self::pack(a, b, c));
        let bits = if self.prof { self.p.feedback.sites[pc].bits.as_ptr() as i64 } else { 0 };
        let bits = self.iconst(bits);
        let pcv = self.iconst(pc as i64);
        // The cells live as long as the unit (it owns them).
        let ic = self.iconst(self.ic_cell(pc) as i64);
        let call = self.b.ins().call_indirect(self.fast, fp, &[self.state, regs, self.consts, ops, bits, pcv, ic]);
        self.forget_pinned_read();
        let r = self.b.inst_results(call)[0];
        self.check_status(r);
    }

    /// A cold block calling fast helper `f` for `pc`, then `pc + 1`.
    fn cold_helper(&mut self, f: *const u8, pc: usize, a: usize, b: usize, c: usize) -> Block {
        if self.shares_slow_paths()
            && let Some(block) = self.shared_fast_site(f, pc, Self::pack(a, b, c))
        {
            return block;
        }
        self.cold_block(|t| {
            t.leave_deferring(pc);
            t.fast_helper(f, pc, a, b, c)
        })
    }

    /// A cold block holding what `emit` builds, made while a fast path is
    /// being built (whose block stays open, and is current again after).
    fn cold_block(&mut self, emit: impl FnOnce(&mut Self)) -> Block {
        let here = self.b.current_block().expect("inside a block");
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.switch_to_block(slow);
        emit(self);
        self.b.switch_to_block(here);
        slow
    }

    /// The address of instruction `pc`'s inline-cache cell (the unit owns
    /// the cells, so they live as long as the code).
    fn ic_cell(&self, pc: usize) -> *const AtomicU32 {
        &self.ic[self.ic_base + pc]
    }

    /// Inline cache for a short-string key in table `t`: the hash slot the
    /// helper last found the key in, checked by comparing the interned key
    /// pointer. Continues in the returned block with the node's address, or
    /// jumps to `miss`. `first` joins the slot check (a condition on the
    /// table), `then` the key check (one on the node): a branch, and its
    /// block, costs Cranelift far more than a few more instructions.
    fn cached_node(
        &mut self,
        pc: usize,
        t: ir::Value,
        k: u32,
        miss: Block,
        first: Option<ir::Value>,
        then: impl FnOnce(&mut Self, ir::Value) -> Option<ir::Value>,
    ) -> Option<ir::Value> {
        let (Some(np), Some(nl)) = (self.lay.table_nodes_ptr, self.lay.table_nodes_len) else { return None };
        let cell = self.iconst(self.ic_cell(pc) as i64);
        let slot = self.b.ins().uload32(self.mf, cell, 0);
        let len = self.b.ins().load(types::I64, self.mf, t, nl);
        let mut inb = self.b.ins().icmp(IntCC::UnsignedLessThan, slot, len);
        if let Some(c) = first {
            inb = self.b.ins().band(inb, c);
        }
        let c1 = self.b.create_block();
        self.b.ins().brif(inb, c1, &[], miss, &[]);
        self.b.switch_to_block(c1);
        let nodes = self.b.ins().load(types::I64, self.mf, t, np);
        let off = self.b.ins().ishl_imm_u(slot, 5);
        let node = self.b.ins().iadd(nodes, off);
        let mut hit = self.node_holds_key(node, k);
        if let Some(c) = then(self, node) {
            hit = self.b.ins().band(hit, c);
        }
        let c2 = self.b.create_block();
        self.b.ins().brif(hit, c2, &[], miss, &[]);
        self.b.switch_to_block(c2);
        Some(node)
    }

    /// Whether hash node `node` holds constant `k` (a short string, so
    /// interned: compared by pointer) as its key.
    fn node_holds_key(&mut self, node: ir::Value, k: u32) -> ir::Value {
        let kt = self.b.ins().load(types::I64, self.mf, node, 0);
        let kp = self.b.ins().load(types::I64, self.mf, node, 8);
        let want = self.b.ins().load(types::I64, self.mf, self.consts, 16 * k as i32 + 8);
        let is_str = self.eq_imm(kt, tag::STR);
        let same = self.b.ins().icmp(IntCC::Equal, kp, want);
        self.b.ins().band(is_str, same)
    }

    fn short_str_const(&self, k: u32) -> bool {
        matches!(&self.p.consts[k as usize], Constant::Str(s) if s.len() <= crate::value::SHORT_STRING_MAX)
    }

    /// The table an inline-cached access at `pc` works on (register `obj`
    /// if it holds a table, else the globals), and the cold block calling
    /// `helper` on a miss. `None`: the site gets only the helper call
    /// (already emitted).
    fn cached_table(
        &mut self,
        pc: usize,
        obj: Option<u16>,
        k: u32,
        helper: *const u8,
        ops: (usize, usize, usize),
    ) -> Option<(ir::Value, Block)> {
        if !self.short_str_const(k) || self.lay.table_nodes_ptr.is_none() || (obj.is_some() && !self.observed_access(pc, access::HASH)) {
            self.fast_helper(helper, pc, ops.0, ops.1, ops.2);
            return None;
        }
        let miss = self.cold_helper(helper, pc, ops.0, ops.1, ops.2);
        let t = match obj {
            // Anything but a table reads as `NOT_A_TABLE`, which fails
            // the slot check that follows: no branch of its own.
            Some(r) => {
                let tt = self.tag(r);
                let is_table = self.eq_imm(tt, tag::TABLE);
                let t = self.int(r);
                let none = self.iconst(&rt::NOT_A_TABLE as *const rt::NotATable as i64);
                self.b.ins().select(is_table, t, none)
            }
            None => self.b.ins().load(types::I64, self.mf, self.state, self.lay.state_globals),
        };
        Some((t, miss))
    }

    /// GetField / GetGlobal: `R[a] = t[K[k]]` through the inline cache.
    fn get_cached(&mut self, pc: usize, a: u16, obj: Option<u16>, k: u32, helper: *const u8, ops: (usize, usize, usize)) {
        let Some((t, miss)) = self.cached_table(pc, obj, k, helper, ops) else { return };
        // A nil value consults the metatable (`__index`) unless there is none.
        let value_ok = |t2: &mut Self, node: ir::Value| {
            let vt = t2.b.ins().load(types::I64, t2.mf, node, 16);
            let nil = t2.iconst(tag::NIL);
            let not_nil = t2.b.ins().icmp(IntCC::NotEqual, vt, nil);
            let mt = t2.b.ins().load(types::I64, t2.mf, t, t2.lay.table_meta);
            let no_mt = t2.eq_imm(mt, 0);
            Some(t2.b.ins().bor(not_nil, no_mt))
        };
        let node = self.cached_node(pc, t, k, miss, None, value_ok).expect("layout checked");
        if obj.is_some() {
            self.note_bits(pc, access::HASH | access::STR_KEY);
        }
        let regs = self.regs();
        self.copy(regs, 16 * a as i32, node, 16);
        self.jump(pc + 1);
    }

    /// SetField / SetGlobal: update an existing key in place through the
    /// inline cache (a new key, or any metatable, takes the helper).
    fn set_cached(&mut self, pc: usize, obj: Option<u16>, k: u32, value: u16, helper: *const u8, ops: (usize, usize, usize)) {
        let Some((t, miss)) = self.cached_table(pc, obj, k, helper, ops) else { return };
        // Tables with a metatable (`__newindex`) or in an inherited-lookup
        // chain (whose writes must retire cached lookups) take the helper.
        let mt = self.b.ins().load(types::I64, self.mf, t, self.lay.table_meta);
        let in_chain = self.b.ins().uload8(types::I64, self.mf, t, self.lay.table_in_chain);
        let either = self.b.ins().bor(mt, in_chain);
        let neither = self.eq_imm(either, 0);
        let node = self.cached_node(pc, t, k, miss, Some(neither), |_, _| None).expect("layout checked");
        if obj.is_some() {
            self.note_bits(pc, access::HASH | access::STR_KEY);
        }
        self.store_operand(node, 16, value);
        self.jump(pc + 1);
    }

    /// `Call` / `Return` helpers.
    fn call_helper4(&mut self, f: *const u8, pc: usize, a: usize, b: usize, c: usize) -> ir::Value {
        self.materialize_frame();
        let fp = self.iconst(f as i64);
        let args = self.helper4_args(pc, a, b, c);
        let call = self.b.ins().call_indirect(self.call, fp, &args);
        self.forget_pinned_read();
        self.b.inst_results(call)[0]
    }

    /// What a `(state, ops, proto, pc)` helper gets.
    fn helper4_args(&mut self, pc: usize, a: usize, b: usize, c: usize) -> [ir::Value; 4] {
        let ops = self.iconst(Self::pack(a, b, c));
        let proto = self.iconst(self.p as *const Proto as i64);
        let pcv = self.iconst(pc as i64);
        [self.state, ops, proto, pcv]
    }

    /// Runs instruction `pc` in the interpreter, then continues at whichever
    /// of `succs` it chose (an empty list: it always leaves compiled code).
    fn step(&mut self, pc: usize, succs: &[usize]) {
        let r = self.call_helper(jit_step as *const u8, pc);
        self.continue_at(r, succs);
    }

    /// After a helper that reports the next pc as `jit_step` does (bits
    /// 8..): leave on a status, else continue at whichever of `succs` it
    /// chose (an empty list: it always leaves compiled code).
    fn continue_at(&mut self, r: ir::Value, succs: &[usize]) {
        let st = self.b.ins().band_imm_u(r, 0xff);
        let cont = self.b.create_block();
        self.b.ins().brif(st, self.exit, &[BlockArg::Value(r)], cont, &[]);
        self.b.switch_to_block(cont);
        let off = self.lay.state_jit_regs;
        let regs = self.b.ins().load(types::I64, self.mf, self.state, off);
        self.set_regs(regs);
        match succs {
            [] => {
                self.b.ins().jump(self.bail, &[]);
            }
            [only] => self.jump_resumed(*only),
            [first @ .., last] => {
                let next = self.b.ins().ushr_imm_u(r, 8);
                for &s in first {
                    let is = self.eq_imm(next, s as i64);
                    let other = self.b.create_block();
                    let target = self.after_helper(s);
                    self.b.ins().brif(is, target, &[], other, &[]);
                    self.b.switch_to_block(other);
                }
                self.jump_resumed(*last);
            }
        }
    }

    /// A cold block that runs `pc` in the interpreter and continues at `succs`.
    fn slow_block(&mut self, pc: usize, succs: &[usize]) -> Block {
        if self.shares_slow_paths()
            && matches!(succs.len(), 1 | 2)
            && let Some(block) = self.shared_step_site(pc, succs)
        {
            return block;
        }
        self.cold_block(|t| {
            t.leave_deferring(pc);
            t.step(pc, succs)
        })
    }

    /// A block that counts one run of `pc`'s branch (taken or not) and
    /// goes on to `target`: tier 2 leaves a branch out when it never ran.
    fn counted_edge(&mut self, pc: usize, taken: bool, target: usize) -> Block {
        let here = self.b.current_block().expect("inside a block");
        let blk = self.b.create_block();
        self.b.switch_to_block(blk);
        let site = &self.p.feedback.sites[pc];
        // The counters live as long as the prototype (see `note_bits`).
        let counter = if taken { &site.taken } else { &site.not_taken };
        let addr = self.iconst(counter.as_ptr() as i64);
        let n = self.b.ins().load(types::I32, self.mf, addr, 0);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.b.ins().store(self.mf, n, addr, 0);
        self.jump(target);
        self.b.switch_to_block(here);
        blk
    }

    /// Where the taken (or not-taken) side of the branch at `pc` goes from
    /// an inline fast path: in tier 2, a deopt when the plan left that side
    /// out as cold; when profiling, through a block that counts it; else
    /// straight to `target`. Made before the fast path's instructions.
    fn edge(&mut self, pc: usize, taken: bool, target: usize) -> Block {
        if let Some(plan) = self.plan
            && plan.cold[pc] == Some(taken)
        {
            return self.deopt_block(pc, crate::profile::GuardKind::ColdBranch);
        }
        if self.prof { self.counted_edge(pc, taken, target) } else { self.block_at(target) }
    }

    /// Successors of a compare/test at `pc` (which a jump follows): taken, not taken.
    fn cond_succs(&self, pc: usize) -> [usize; 2] {
        let Op::Jmp { off, .. } = self.p.code[pc + 1] else { unreachable!("verified: a jump follows") };
        [(pc as i64 + 2 + off as i64) as usize, pc + 2]
    }

    // ----- instructions -----------------------------------------------------------

    fn op(&mut self, pc: usize) {
        if self.plan.is_some() && self.op_speculated(pc) {
            return;
        }
        let next = pc + 1;
        match self.p.code[pc] {
            Op::Move { a, b } => {
                self.mov(a as u16, b as u16);
                self.keep_present(a as u16);
                self.jump(next);
            }
            Op::LoadK { a, k } => {
                match self.p.consts[k as usize] {
                    Constant::Int(i) => {
                        let v = self.iconst(i);
                        self.set_int(a as u16, v);
                    }
                    Constant::Float(f) => {
                        let v = self.b.ins().f64const(f);
                        self.set_float(a as u16, v);
                    }
                    _ => {
                        let regs = self.regs();
                        self.store_operand(regs, 16 * a as i32, RK_CONST + k as u16);
                    }
                }
                self.keep_present(a as u16);
                self.jump(next);
            }
            Op::LoadInt { a, v } => {
                let v = self.iconst(v as i64);
                self.set_int(a as u16, v);
                self.keep_present(a as u16);
                self.jump(next);
            }
            Op::LoadNil { a, n } => {
                for r in a as u16..=a as u16 + n as u16 {
                    self.set_tag(r, tag::NIL);
                }
                self.jump(next);
            }
            Op::LoadBool { a, v } => {
                let v = self.b.ins().iconst(types::I8, v as i64);
                self.set_bool(a as u16, v);
                self.jump(next);
            }
            Op::LoadFalseSkip { a } => {
                let v = self.b.ins().iconst(types::I8, 0);
                self.set_bool(a as u16, v);
                self.jump(pc + 2);
            }
            Op::Add { a, b, c } => self.arith(pc, a, b, c, Arith::Add),
            Op::Sub { a, b, c } => self.arith(pc, a, b, c, Arith::Sub),
            Op::Mul { a, b, c } => self.arith(pc, a, b, c, Arith::Mul),
            Op::Div { a, b, c } => self.arith(pc, a, b, c, Arith::Div),
            Op::Mod { a, b, c } => self.arith(pc, a, b, c, Arith::Mod),
            Op::IDiv { a, b, c } => self.arith(pc, a, b, c, Arith::IDiv),
            Op::BAnd { a, b, c } => self.arith(pc, a, b, c, Arith::BAnd),
            Op::BOr { a, b, c } => self.arith(pc, a, b, c, Arith::BOr),
            Op::BXor { a, b, c } => self.arith(pc, a, b, c, Arith::BXor),
            Op::Pow { a, b, c } => self.arith_call(pc, a, b, c, Arith::Pow),
            Op::Shl { a, b, c } => self.arith(pc, a, b, c, Arith::Shl),
            Op::Shr { a, b, c } => self.arith(pc, a, b, c, Arith::Shr),
            Op::Unm { a, b } => self.unary(pc, a, b, false),
            Op::BNot { a, b } => self.unary(pc, a, b, true),
            Op::Not { a, b } => {
                let f = self.falsy(b as u16);
                self.set_bool(a as u16, f);
                self.jump(next);
            }
            Op::Eq { k, b, c } => self.compare(pc, k, b, c, IntCC::Equal, FloatCC::Equal),
            Op::Lt { k, b, c } => self.compare(pc, k, b, c, IntCC::SignedLessThan, FloatCC::LessThan),
            Op::Le { k, b, c } => self.compare(pc, k, b, c, IntCC::SignedLessThanOrEqual, FloatCC::LessThanOrEqual),
            Op::Test { a, k } => {
                // Jump when truthy == k, i.e. falsy != k.
                let [taken, not] = self.cond_succs(pc);
                if self.plan.is_some() {
                    self.keep_present_past(None);
                }
                // (Edge blocks first: the builder cannot leave a half-built block.)
                let (tb, nb) = (self.edge(pc, true, taken), self.edge(pc, false, not));
                let f = self.falsy(a as u16);
                let (t, e) = if k { (nb, tb) } else { (tb, nb) };
                self.b.ins().brif(f, t, &[], e, &[]);
            }
            Op::TestSet { a, b, k } => {
                let f = self.falsy(b as u16);
                let set = self.b.create_block();
                let skip = self.block_at(pc + 2);
                if k {
                    self.b.ins().brif(f, skip, &[], set, &[]);
                } else {
                    self.b.ins().brif(f, set, &[], skip, &[]);
                }
                self.b.switch_to_block(set);
                self.mov(a as u16, b as u16);
                self.jump(next);
            }
            Op::Jmp { off, close } => {
                let target = (pc as i64 + 1 + off as i64) as usize;
                if close > 0 {
                    // Closing cannot fail or move the stack: no status.
                    self.call_helper4(rt::jit_close as *const u8, pc, close as usize, 0, 0);
                }
                if off < 0 {
                    self.back_edge(pc, target);
                } else {
                    self.jump(target);
                }
            }
            Op::ForLoop { a, off } => self.for_loop(pc, a as u16, (pc as i64 + 1 + off as i64) as usize),
            Op::ForPrep { a, off } => {
                let skip = (pc as i64 + 1 + off as i64) as usize;
                if self.plan.is_some_and(|p| p.ty(next, a as u16) == Ty::Int) {
                    self.for_prep_int(pc, a as u16, skip);
                } else {
                    self.for_prep(pc, a as u16, skip);
                }
            }
            Op::Concat { a, b, n } => {
                let r = self.call_helper4(rt::jit_concat as *const u8, pc, a as usize, b as usize, n as usize);
                self.check_status(r);
                self.jump_resumed(next);
            }
            Op::Closure { a, idx } => {
                let r = self.call_helper4(rt::jit_closure as *const u8, pc, a as usize, 0, idx as usize);
                self.check_status(r);
                self.jump_resumed(next);
            }
            Op::SetList { a, n, start } => {
                let r = self.call_helper4(rt::jit_setlist as *const u8, pc, a as usize, n as usize, start as usize);
                self.check_status(r);
                self.jump_resumed(next);
            }
            Op::TForLoop { a, off } => {
                let a = a as u16;
                let target = (pc as i64 + 1 + off as i64) as usize;
                let t = self.tag(a + 3);
                let is_nil = self.eq_imm(t, tag::NIL);
                let body = self.b.create_block();
                let out = self.block_at(next);
                self.b.ins().brif(is_nil, out, &[], body, &[]);
                self.b.switch_to_block(body);
                self.mov(a + 2, a + 3);
                self.back_edge(pc, target);
            }
            Op::GetTable { a, b, c } => self.get_table(pc, a as u16, b as u16, c),
            Op::SetTable { a, b, c } => self.set_table(pc, a as u16, b, c),
            Op::Return { a, b } if b != 0 && self.inlined.is_some() => self.inline_return(a as usize, b as usize),
            Op::Return { a, b } => self.ret(pc, a as usize, b as usize),
            Op::Call { a, b, c } => self.call(pc, a as usize, b as usize, c as usize),
            // A Lua callee leaves with CONTINUE (it replaced this frame);
            // anything else ran through the interpreter and continues at the
            // `Return` that follows.
            Op::TailCall { a, b } => {
                let r = self.call_helper4(rt::jit_tailcall as *const u8, pc, a as usize, b as usize, 0);
                self.check_status(r);
                self.jump_resumed(next);
            }
            Op::GetField { a, b, k } => self.get_cached(
                pc,
                a as u16,
                Some(b as u16),
                k as u32,
                rt::jit_get_field as *const u8,
                (a as usize, b as usize, k as usize),
            ),
            Op::SelfOp { a, b, k } => self.fast_helper(rt::jit_self as *const u8, pc, a as usize, b as usize, k as usize),
            Op::SetField { a, k, c } => {
                self.set_cached(pc, Some(a as u16), k as u32, c, rt::jit_set_field as *const u8, (a as usize, k as usize, c as usize))
            }
            Op::GetGlobal { a, k } => self.get_cached(pc, a as u16, None, k, rt::jit_get_global as *const u8, (a as usize, 0, k as usize)),
            Op::SetGlobal { a, k } => self.set_cached(pc, None, k, a as u16, rt::jit_set_global as *const u8, (a as usize, 0, k as usize)),
            Op::Len { a, b } => self.fast_helper(rt::jit_len as *const u8, pc, a as usize, b as usize, 0),
            Op::NewTable { a, narr, nhash } => {
                self.fast_helper(rt::jit_new_table as *const u8, pc, a as usize, narr as usize, nhash as usize)
            }
            Op::TForCall { a, c } => self.fast_helper(rt::jit_tforcall as *const u8, pc, a as usize, 0, c as usize),
            Op::GetUpval { a, b } => self.upval(pc, a as u16, b as i32, false),
            Op::SetUpval { a, b } => self.upval(pc, a as u16, b as i32, true),
            _ => self.step(pc, &[next]),
        }
    }

    /// GetUpval / SetUpval inline: a closed upvalue holds its value, an open
    /// one the stack index of the register it still lives in.
    fn upval(&mut self, pc: usize, a: u16, b: i32, set: bool) {
        let up = self.b.ins().load(types::I64, self.mf, self.upvals, 8 * b);
        let off = self.lay.upval;
        let t = self.b.ins().load(types::I64, self.mf, up, off);
        let closed = self.b.create_block();
        let open = self.b.create_block();
        let is_open = self.eq_imm(t, 0);
        self.b.ins().brif(is_open, open, &[], closed, &[]);
        for (blk, is_open) in [(closed, false), (open, true)] {
            self.b.switch_to_block(blk);
            let slot = if is_open {
                let idx = self.b.ins().load(types::I64, self.mf, up, off + 8);
                let stack = self.b.ins().load(types::I64, self.mf, self.state, self.lay.state_jit_stack);
                let byte = self.b.ins().ishl_imm_u(idx, 4);
                (self.b.ins().iadd(stack, byte), 0)
            } else {
                (up, off + 8)
            };
            let regs = self.regs();
            if set {
                self.copy(slot.0, slot.1, regs, 16 * a as i32);
            } else {
                self.copy(regs, 16 * a as i32, slot.0, slot.1);
            }
            self.jump(pc + 1);
        }
    }

    /// 1 (i8) when register `r` holds nil or false.
    fn falsy(&mut self, r: u16) -> ir::Value {
        if matches!(self.known(r), Ty::Int | Ty::Float | Ty::Table) {
            return self.b.ins().iconst(types::I8, 0);
        }
        let t = self.tag(r);
        let is_nil = self.eq_imm(t, tag::NIL);
        let is_bool = self.eq_imm(t, tag::BOOL);
        let regs = self.regs();
        let byte = self.b.ins().uload8(types::I32, self.mf, regs, 16 * r as i32 + 8);
        let zero = self.b.ins().iconst(types::I32, 0);
        let is_false = self.b.ins().icmp(IntCC::Equal, byte, zero);
        let false_bool = self.b.ins().band(is_bool, is_false);
        self.b.ins().bor(is_nil, false_bool)
    }

    /// A condition that operand `x` has tag `t` (None: known true for a
    /// constant of that type; Some(false const) is never produced, callers
    /// check constant types themselves).
    fn has_tag(&mut self, x: Opd, t: i64) -> Option<ir::Value> {
        match x {
            Opd::Reg(r) => match (self.known(r), t) {
                (Ty::Int, tag::INT) | (Ty::Float, tag::FLOAT) | (Ty::Table, tag::TABLE) => None,
                (Ty::Int | Ty::Float | Ty::Table, _) => Some(self.b.ins().iconst(types::I8, 0)),
                _ => {
                    let tg = self.tag(r);
                    Some(self.eq_imm(tg, t))
                }
            },
            _ => None,
        }
    }

    fn both(&mut self, x: Option<ir::Value>, y: Option<ir::Value>) -> Option<ir::Value> {
        match (x, y) {
            (Some(x), Some(y)) => Some(self.b.ins().band(x, y)),
            (x, None) => x,
            (None, y) => y,
        }
    }

    fn int_of(&mut self, x: Opd) -> ir::Value {
        match x {
            Opd::Reg(r) => self.int(r),
            Opd::Int(i) => self.iconst(i),
            _ => unreachable!("integer operand"),
        }
    }

    /// Float value of an operand known to be a float register or a numeric constant.
    fn float_of(&mut self, x: Opd, reg_is_int: bool) -> ir::Value {
        match x {
            Opd::Reg(r) if reg_is_int => {
                let i = self.int(r);
                self.b.ins().fcvt_from_sint(types::F64, i)
            }
            Opd::Reg(r) => self.float(r),
            Opd::Int(i) => self.b.ins().f64const(i as f64),
            Opd::Float(f) => self.b.ins().f64const(f),
            Opd::Other(..) => unreachable!("numeric operand"),
        }
    }

    /// Emits `brif cond, then, else` where a `None` condition is always true.
    fn branch_if(&mut self, cond: Option<ir::Value>, then: Block, otherwise: Block) {
        match cond {
            Some(c) => {
                self.b.ins().brif(c, then, &[], otherwise, &[]);
            }
            None => {
                self.b.ins().jump(then, &[]);
            }
        }
    }

    fn arith_ops(a: u8, b: u16, c: u16, op: Arith) -> (usize, usize, usize) {
        (a as usize, b as usize, c as usize | ((op as usize) << 24))
    }

    /// Arithmetic done entirely by `jit_arith` (numbers) or the interpreter.
    fn arith_call(&mut self, pc: usize, a: u8, b: u16, c: u16, op: Arith) {
        let (a, b, c) = Self::arith_ops(a, b, c, op);
        self.fast_helper(rt::jit_arith as *const u8, pc, a, b, c);
    }

    fn arith(&mut self, pc: usize, a: u8, b: u16, c: u16, op: Arith) {
        let next = pc + 1;
        let (x, y) = (self.operand(b), self.operand(c));
        if matches!(x, Opd::Other(..)) || matches!(y, Opd::Other(..)) {
            return self.step(pc, &[next]);
        }
        let (want_int, want_float) = self.observed_numbers(pc);
        if !want_int && !want_float {
            // Profiled, and never saw numbers here: no inline code.
            return self.arith_call(pc, a, b, c, op);
        }
        // Mixed int/float operands, errors and metamethods: `jit_arith`.
        let (ha, hb, hc) = Self::arith_ops(a, b, c, op);
        let slow = self.cold_helper(rt::jit_arith as *const u8, pc, ha, hb, hc);
        let a = a as u16;
        let is_float_k = |o: Opd| matches!(o, Opd::Float(_));
        let bits = |xi: bool, yi: bool| -> u8 { (if xi { 1 } else { 2 }) | ((if yi { 1 } else { 2 }) << 4) };
        // Integer path: both operands integers (no float constant).
        let int_ok = want_int && !is_float_k(x) && !is_float_k(y);
        let float_ops = want_float && matches!(op, Arith::Add | Arith::Sub | Arith::Mul | Arith::Div | Arith::IDiv);
        let float_path = self.b.create_block();
        if int_ok {
            let cx = self.has_tag(x, tag::INT);
            let cy = self.has_tag(y, tag::INT);
            let cond = self.both(cx, cy);
            let int_blk = self.b.create_block();
            let else_blk = if float_ops { float_path } else { slow };
            self.branch_if(cond, int_blk, else_blk);
            self.b.switch_to_block(int_blk);
            self.note_bits(pc, 0x11);
            let (i, j) = (self.int_of(x), self.int_of(y));
            let wrapping = self.wrapping_int_op(op, i, j);
            match (op, wrapping) {
                (_, Some(v)) => self.set_int(a, v),
                (Arith::Shl | Arith::Shr, None) => {
                    let v = self.shift_op(op, i, j, y);
                    self.set_int(a, v)
                }
                (Arith::Div, None) => {
                    let p = self.b.ins().fcvt_from_sint(types::F64, i);
                    let q = self.b.ins().fcvt_from_sint(types::F64, j);
                    let v = self.b.ins().fdiv(p, q);
                    self.set_float(a, v)
                }
                (Arith::Mod | Arith::IDiv, None) => {
                    // Only a positive divisor inline: no trap (0, or MIN / -1)
                    // and floor semantics need one fix-up.
                    let zero = self.iconst(0);
                    let pos = self.b.ins().icmp(IntCC::SignedGreaterThan, j, zero);
                    let go = self.b.create_block();
                    self.b.ins().brif(pos, go, &[], slow, &[]);
                    self.b.switch_to_block(go);
                    let v = self.floor_mod_div(op, i, j);
                    self.set_int(a, v)
                }
                _ => unreachable!("wrapping ops and shifts handled above; Pow by arith_call"),
            }
            self.jump(next);
        } else {
            self.b.ins().jump(float_path, &[]);
        }
        self.b.switch_to_block(float_path);
        if !float_ops {
            self.b.ins().jump(slow, &[]);
            return;
        }
        if self.mixed_site(pc, x, y) {
            return self.mixed_float_path(pc, a, x, y, op, slow, next);
        }
        // Float path: each register operand a float; a numeric constant
        // converts (the interpreter's mixed int/float arms).
        let cx = self.has_tag(x, tag::FLOAT);
        let cy = self.has_tag(y, tag::FLOAT);
        let both_regs = matches!((x, y), (Opd::Reg(_), Opd::Reg(_)));
        let cond = self.both(cx, cy);
        let blk = self.b.create_block();
        self.branch_if(cond, blk, slow);
        self.b.switch_to_block(blk);
        let xb = matches!(x, Opd::Int(_));
        let yb = matches!(y, Opd::Int(_));
        self.note_bits(pc, bits(xb && !both_regs, yb && !both_regs));
        let (p, q) = (self.float_of(x, false), self.float_of(y, false));
        let v = self.float_op(op, p, q);
        self.set_float(a, v);
        self.jump(next);
    }

    /// Whether an arithmetic site's float path should also take an integer
    /// register and convert it (`i * 0.5`, `x / n`): where the profile saw
    /// an integer meet a float, or, with no profile, where a float constant
    /// meets a register. Elsewhere the plain float path is smaller.
    fn mixed_site(&self, pc: usize, x: Opd, y: Opd) -> bool {
        let reg_meets_float_k = matches!((x, y), (Opd::Reg(_), Opd::Float(_)) | (Opd::Float(_), Opd::Reg(_)));
        if !self.profiled() {
            return reg_meets_float_k;
        }
        let bits = self.p.feedback.sites[pc].bits.load(std::sync::atomic::Ordering::Relaxed);
        if bits == 0 {
            return reg_meets_float_k;
        }
        let (lo, hi) = (bits & 0xf, bits >> 4);
        (lo & 1 != 0 && hi & 2 != 0) || (lo & 2 != 0 && hi & 1 != 0)
    }

    /// An operand as a float for the mixed path: its value, whether it is a
    /// number at all (`None`: statically yes), whether it is a float, and
    /// its feedback nibble (1 integer, 2 float) as an I32.
    fn mixed_operand(&mut self, x: Opd) -> (ir::Value, Option<ir::Value>, ir::Value, ir::Value) {
        let i32c = |t: &mut Self, v: i64| t.b.ins().iconst(types::I32, v);
        match x {
            Opd::Reg(r) if self.known(r) == Ty::Int => {
                let i = self.int(r);
                let v = self.b.ins().fcvt_from_sint(types::F64, i);
                let f = self.b.ins().iconst(types::I8, 0);
                (v, None, f, i32c(self, 1))
            }
            Opd::Reg(r) if self.known(r) == Ty::Float => {
                let v = self.float(r);
                let f = self.b.ins().iconst(types::I8, 1);
                (v, None, f, i32c(self, 2))
            }
            Opd::Reg(r) => {
                let tg = self.tag(r);
                let is_int = self.eq_imm(tg, tag::INT);
                let is_float = self.eq_imm(tg, tag::FLOAT);
                let number = self.b.ins().bor(is_int, is_float);
                // Both loads read the same payload word; the select keeps
                // the reading that matches the tag (converting garbage
                // bits in the other one cannot trap).
                let i = self.int(r);
                let converted = self.b.ins().fcvt_from_sint(types::F64, i);
                let raw = self.float(r);
                let v = self.b.ins().select(is_int, converted, raw);
                let (one, two) = (i32c(self, 1), i32c(self, 2));
                let nibble = self.b.ins().select(is_int, one, two);
                (v, Some(number), is_float, nibble)
            }
            Opd::Int(i) => {
                let v = self.b.ins().f64const(i as f64);
                let f = self.b.ins().iconst(types::I8, 0);
                (v, None, f, i32c(self, 1))
            }
            Opd::Float(q) => {
                let v = self.b.ins().f64const(q);
                let f = self.b.ins().iconst(types::I8, 1);
                (v, None, f, i32c(self, 2))
            }
            Opd::Other(..) => unreachable!("numeric operand"),
        }
    }

    /// The float path of a mixed site: both operands numbers, at least one
    /// a float (two integers are the integer path's, or the slow path's,
    /// business: `+` on them must stay an integer), integers converted.
    #[allow(clippy::too_many_arguments)]
    fn mixed_float_path(&mut self, pc: usize, a: u16, x: Opd, y: Opd, op: Arith, slow: Block, next: usize) {
        let (p, px, fx, nx) = self.mixed_operand(x);
        let (q, py, fy, ny) = self.mixed_operand(y);
        let any_float = self.b.ins().bor(fx, fy);
        let numbers = self.both(px, py);
        let cond = self.both(numbers, Some(any_float));
        let blk = self.b.create_block();
        self.branch_if(cond, blk, slow);
        self.b.switch_to_block(blk);
        if self.prof {
            // The operand kinds that met, as the interpreter records them.
            let hi = self.b.ins().ishl_imm_u(ny, 4);
            let bits = self.b.ins().bor(nx, hi);
            let addr = self.iconst(self.p.feedback.sites[pc].bits.as_ptr() as i64);
            let old = self.b.ins().uload8(types::I32, self.mf, addr, 0);
            let new = self.b.ins().bor(old, bits);
            self.b.ins().istore8(self.mf, new, addr, 0);
        }
        let v = self.float_op(op, p, q);
        self.set_float(a, v);
        self.jump(next);
    }

    /// `p op q` on floats, for the operators with an inline float path.
    fn float_op(&mut self, op: Arith, p: ir::Value, q: ir::Value) -> ir::Value {
        match op {
            Arith::Add => self.b.ins().fadd(p, q),
            Arith::Sub => self.b.ins().fsub(p, q),
            Arith::Mul => self.b.ins().fmul(p, q),
            Arith::Div => self.b.ins().fdiv(p, q),
            Arith::IDiv => {
                let d = self.b.ins().fdiv(p, q);
                self.b.ins().floor(d)
            }
            _ => unreachable!("inline float paths exist for + - * / // only"),
        }
    }

    /// `i op j` on integers for the operators that cannot fail (5.4 wraps).
    /// Lua's `i << j` and `i >> j` (a logical shift; `>>` is `<<` by the
    /// negated count, and a count of 64 or more either way gives 0).
    /// `j` is the count, `y` its operand: a constant count folds to one
    /// shift.
    fn shift_op(&mut self, op: Arith, i: ir::Value, j: ir::Value, y: Opd) -> ir::Value {
        let left = op == Arith::Shl;
        if let Opd::Int(k) = y {
            let k = if left { k } else { k.wrapping_neg() };
            return match k {
                0..=63 => self.b.ins().ishl_imm_u(i, k),
                -63..=-1 => self.b.ins().ushr_imm_u(i, -k),
                _ => self.iconst(0),
            };
        }
        let j = if left { j } else { self.b.ins().ineg(j) };
        // Cranelift masks shift counts to 6 bits: compute both directions
        // and keep the one in range (an unsigned compare with 64 rejects
        // the negative side and the far ones at once).
        let neg = self.b.ins().ineg(j);
        let l = self.b.ins().ishl(i, j);
        let r = self.b.ins().ushr(i, neg);
        let lok = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, j, 64);
        let rok = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, neg, 64);
        let zero = self.iconst(0);
        let v = self.b.ins().select(lok, l, zero);
        self.b.ins().select(rok, r, v)
    }

    fn wrapping_int_op(&mut self, op: Arith, i: ir::Value, j: ir::Value) -> Option<ir::Value> {
        let ins = self.b.ins();
        Some(match op {
            Arith::Add => ins.iadd(i, j),
            Arith::Sub => ins.isub(i, j),
            Arith::Mul => ins.imul(i, j),
            Arith::BAnd => ins.band(i, j),
            Arith::BOr => ins.bor(i, j),
            Arith::BXor => ins.bxor(i, j),
            _ => return None,
        })
    }

    /// Integer `%` or `//` for a divisor known to be positive: no trap,
    /// and floor semantics need one fix-up of the truncating result.
    fn floor_mod_div(&mut self, op: Arith, i: ir::Value, j: ir::Value) -> ir::Value {
        let zero = self.iconst(0);
        let r = self.b.ins().srem(i, j);
        let neg = self.b.ins().icmp(IntCC::SignedLessThan, r, zero);
        if op == Arith::Mod {
            let fixed = self.b.ins().iadd(r, j);
            self.b.ins().select(neg, fixed, r)
        } else {
            let q = self.b.ins().sdiv(i, j);
            let one = self.b.ins().uextend(types::I64, neg);
            self.b.ins().isub(q, one)
        }
    }

    fn unary(&mut self, pc: usize, a: u8, b: u8, bnot: bool) {
        let next = pc + 1;
        let (a, b) = (a as u16, b as u16);
        let slow = self.slow_block(pc, &[next]);
        let t = self.tag(b);
        let is_int = self.eq_imm(t, tag::INT);
        let int_blk = self.b.create_block();
        let other = self.b.create_block();
        self.b.ins().brif(is_int, int_blk, &[], other, &[]);
        self.b.switch_to_block(int_blk);
        if !bnot {
            self.note_bits(pc, 1);
        }
        let i = self.int(b);
        let v = if bnot { self.b.ins().bnot(i) } else { self.b.ins().ineg(i) };
        self.set_int(a, v);
        self.jump(next);
        self.b.switch_to_block(other);
        if bnot {
            self.b.ins().jump(slow, &[]);
            return;
        }
        let is_float = self.eq_imm(t, tag::FLOAT);
        let flt = self.b.create_block();
        self.b.ins().brif(is_float, flt, &[], slow, &[]);
        self.b.switch_to_block(flt);
        self.note_bits(pc, 2);
        let f = self.float(b);
        let v = self.b.ins().fneg(f);
        self.set_float(a, v);
        self.jump(next);
    }

    fn compare(&mut self, pc: usize, k: bool, b: u16, c: u16, icc: IntCC, fcc: FloatCC) {
        let succs = self.cond_succs(pc);
        let [taken, not] = succs;
        let (x, y) = (self.operand(b), self.operand(c));
        let by_constant = icc == IntCC::Equal && Self::eq_constant_inline(x, y);
        let (want_int, want_float) = self.observed_numbers(pc);
        let kind = match icc {
            IntCC::Equal => rt::CMP_EQ,
            IntCC::SignedLessThan => rt::CMP_LT,
            _ => rt::CMP_LE,
        } | if k { 4 } else { 0 };
        if let (Opd::Reg(rx), Opd::Reg(ry)) = (x, y)
            && icc != IntCC::Equal
            && self.observed_strings(pc)
        {
            return self.compare_strings(pc, k, rx, ry, icc, kind);
        }
        if !by_constant && (matches!(x, Opd::Other(..)) || matches!(y, Opd::Other(..)) || !(want_int || want_float)) {
            // The helper counts the branch, as the interpreter does.
            return self.compare_call(pc, kind, b, c, &succs);
        }
        // Jump to `taken` when the comparison's result equals k.
        let (te, ne) = (self.edge(pc, true, taken), self.edge(pc, false, not));
        let (bt, bf) = if k { (te, ne) } else { (ne, te) };
        if by_constant {
            return self.eq_constant(x, y, bt, bf);
        }
        let slow = self.compare_slow(pc, kind, b, c, &succs);
        let float_blk = self.b.create_block();
        if !want_float {
            let here = self.b.current_block().expect("inside a block");
            self.b.switch_to_block(float_blk);
            self.b.ins().jump(slow, &[]);
            self.b.switch_to_block(here);
        }
        if want_int && !matches!(x, Opd::Float(_)) && !matches!(y, Opd::Float(_)) {
            let cx = self.has_tag(x, tag::INT);
            let cy = self.has_tag(y, tag::INT);
            let cond = self.both(cx, cy);
            let int_blk = self.b.create_block();
            self.branch_if(cond, int_blk, float_blk);
            self.b.switch_to_block(int_blk);
            self.note_bits(pc, 0x11);
            let (i, j) = (self.int_of(x), self.int_of(y));
            let r = self.b.ins().icmp(icc, i, j);
            self.b.ins().brif(r, bt, &[], bf, &[]);
        } else {
            self.b.ins().jump(float_blk, &[]);
        }
        if !want_float {
            return;
        }
        self.b.switch_to_block(float_blk);
        if matches!(x, Opd::Int(_)) || matches!(y, Opd::Int(_)) {
            // Int constant vs float register: exact comparison rules; slow path.
            self.b.ins().jump(slow, &[]);
            return;
        }
        let cx = self.has_tag(x, tag::FLOAT);
        let cy = self.has_tag(y, tag::FLOAT);
        let cond = self.both(cx, cy);
        let blk = self.b.create_block();
        self.branch_if(cond, blk, slow);
        self.b.switch_to_block(blk);
        self.note_bits(pc, 0x22);
        let (p, q) = (self.float_of(x, false), self.float_of(y, false));
        let r = self.b.ins().fcmp(fcc, p, q);
        self.b.ins().brif(r, bt, &[], bf, &[]);
    }

    /// `<` or `<=` (`icc`) at a site that only ever compared two strings:
    /// the tags checked inline and the bytes ordered by `jit_str_cmp`, a
    /// plain function of the two strings, instead of `jit_compare` with its
    /// frame lookups, unwinding guard and status round trip (a sort
    /// comparator on string keys spends most of its time there). Anything
    /// else takes `jit_compare`.
    fn compare_strings(&mut self, pc: usize, k: bool, rx: u16, ry: u16, icc: IntCC, kind: usize) {
        let succs = self.cond_succs(pc);
        let [taken, not] = succs;
        let (te, ne) = (self.edge(pc, true, taken), self.edge(pc, false, not));
        let (bt, bf) = if k { (te, ne) } else { (ne, te) };
        let slow = self.compare_slow(pc, kind, rx, ry, &succs);
        let (tx, ty) = (self.tag(rx), self.tag(ry));
        let sx = self.eq_imm(tx, tag::STR);
        let sy = self.eq_imm(ty, tag::STR);
        let both = self.b.ins().band(sx, sy);
        self.continue_if(both, slow);
        let (px, py) = (self.int(rx), self.int(ry));
        let mut sig = ir::Signature::new(self.b.func.signature.call_conv);
        sig.params.extend([AbiParam::new(types::I64), AbiParam::new(types::I64)]);
        sig.returns.push(AbiParam::new(types::I64));
        let sig = self.b.import_signature(sig);
        let fp = self.iconst(rt::jit_str_cmp as *const u8 as i64);
        let call = self.b.ins().call_indirect(sig, fp, &[px, py]);
        self.forget_pinned_read();
        let order = self.b.inst_results(call)[0];
        let holds = self.b.ins().icmp_imm_s(icc, order, 0);
        self.b.ins().brif(holds, bt, &[], bf, &[]);
    }

    /// Whether the comparison at `pc` only ever saw two strings (its
    /// feedback: the left operand's type bits low, the right's high).
    fn observed_strings(&self, pc: usize) -> bool {
        use crate::profile::types::STRING;
        self.profiled() && self.p.feedback.sites[pc].bits.load(std::sync::atomic::Ordering::Relaxed) == STRING | (STRING << 4)
    }

    /// A comparison by `jit_compare`, continuing where it says.
    /// A cold block doing what `compare_call` does (through the shared
    /// path in tier 1).
    fn compare_slow(&mut self, pc: usize, kind: usize, b: u16, c: u16, succs: &[usize; 2]) -> Block {
        if self.shares_slow_paths()
            && let Some(block) = self.shared_helper4_site(rt::jit_compare as *const u8, pc, Self::pack(kind, b as usize, c as usize), succs)
        {
            return block;
        }
        self.cold_block(|t| t.compare_call(pc, kind, b, c, succs))
    }

    fn compare_call(&mut self, pc: usize, kind: usize, b: u16, c: u16, succs: &[usize]) {
        let r = self.call_helper4(rt::jit_compare as *const u8, pc, kind, b as usize, c as usize);
        self.continue_at(r, succs);
    }

    /// `x == nil`, `x == true/false` and `x == "short string"` inline: tag
    /// (and for strings, interned pointer) comparisons. Returns None when
    /// neither operand is such a constant.
    fn eq_constant_inline(x: Opd, y: Opd) -> bool {
        match (x, y) {
            (Opd::Reg(_), Opd::Other(k, _)) | (Opd::Other(k, _), Opd::Reg(_)) => match k {
                Constant::Nil | Constant::Bool(_) => true,
                Constant::Str(s) => s.len() <= crate::value::SHORT_STRING_MAX,
                _ => false,
            },
            _ => false,
        }
    }

    /// Emits what [`Self::eq_constant_inline`] accepted: a jump to `bt`
    /// when equal, `bf` when not.
    fn eq_constant(&mut self, x: Opd, y: Opd, bt: Block, bf: Block) {
        let (reg, k, kidx) = match (x, y) {
            (Opd::Reg(r), Opd::Other(k, i)) | (Opd::Other(k, i), Opd::Reg(r)) => (r, k, i),
            _ => unreachable!("eq_constant_inline checked"),
        };
        let t = self.tag(reg);
        let cond = match k {
            Constant::Nil => self.eq_imm(t, tag::NIL),
            Constant::Bool(v) => {
                let is_bool = self.eq_imm(t, tag::BOOL);
                let regs = self.regs();
                let byte = self.b.ins().uload8(types::I32, self.mf, regs, 16 * reg as i32 + 8);
                let want = self.b.ins().iconst(types::I32, *v as i64);
                let same = self.b.ins().icmp(IntCC::Equal, byte, want);
                self.b.ins().band(is_bool, same)
            }
            // Short strings are interned: equal exactly when the same object.
            Constant::Str(s) if s.len() <= crate::value::SHORT_STRING_MAX => {
                let is_str = self.eq_imm(t, tag::STR);
                let p = self.int(reg);
                let kp = self.b.ins().load(types::I64, self.mf, self.consts, 16 * kidx as i32 + 8);
                let same = self.b.ins().icmp(IntCC::Equal, p, kp);
                self.b.ins().band(is_str, same)
            }
            _ => unreachable!("eq_constant_inline checked"),
        };
        self.b.ins().brif(cond, bt, &[], bf, &[]);
    }

    /// `ForPrep` inline for integer loops: integer start, limit and a
    /// non-zero integer step (the limit slot then holds the iteration
    /// count, as in 5.4). Anything else — floats, a zero step, errors —
    /// goes to `jit_forprep`. The inline path writes memory only and
    /// continues through the resume blocks, as the helper does.
    fn for_prep(&mut self, pc: usize, a: u16, skip: usize) {
        let next = pc + 1;
        let shared = match self.shares_slow_paths() {
            true => self.shared_helper4_site(rt::jit_forprep as *const u8, pc, Self::pack(a as usize, 0, skip), &[next, skip]),
            false => None,
        };
        let slow = shared.unwrap_or_else(|| {
            self.cold_block(|t| {
                let r = t.call_helper4(rt::jit_forprep as *const u8, pc, a as usize, 0, skip);
                t.continue_at(r, &[next, skip]);
            })
        });
        let regs = self.regs();
        let load = |t: &mut Self, off: i32| t.b.ins().load(types::I64, t.mf, regs, off);
        let (t0, t1, t2) = (load(self, 16 * a as i32), load(self, 16 * a as i32 + 16), load(self, 16 * a as i32 + 32));
        let (x, y) = (self.b.ins().bxor_imm_u(t0, tag::INT), self.b.ins().bxor_imm_u(t1, tag::INT));
        let z = self.b.ins().bxor_imm_u(t2, tag::INT);
        let xy = self.b.ins().bor(x, y);
        let any = self.b.ins().bor(xy, z);
        let ints = self.b.create_block();
        self.b.ins().brif(any, slow, &[], ints, &[]);
        self.b.switch_to_block(ints);
        let step = load(self, 16 * a as i32 + 40);
        let nonzero = self.b.create_block();
        self.b.ins().brif(step, nonzero, &[], slow, &[]);
        self.b.switch_to_block(nonzero);
        let (init, limit) = (load(self, 16 * a as i32 + 8), load(self, 16 * a as i32 + 24));
        // Counting down mirrors counting up: swap the ends, negate the
        // step (wrapping: a step of mininteger divides by 2^63 unsigned).
        let zero = self.iconst(0);
        let up = self.b.ins().icmp(IntCC::SignedGreaterThan, step, zero);
        let low = self.b.ins().select(up, init, limit);
        let high = self.b.ins().select(up, limit, init);
        let neg = self.b.ins().ineg(step);
        let stride = self.b.ins().select(up, step, neg);
        let enter = self.b.create_block();
        let skip_blk = self.resume_block(skip);
        let empty = self.b.ins().icmp(IntCC::SignedGreaterThan, low, high);
        self.b.ins().brif(empty, skip_blk, &[], enter, &[]);
        self.b.switch_to_block(enter);
        let span = self.b.ins().isub(high, low);
        let count = self.b.ins().udiv(span, stride);
        self.b.ins().store(self.mf, count, regs, 16 * a as i32 + 24);
        let int_tag = self.iconst(tag::INT);
        self.b.ins().store(self.mf, int_tag, regs, 16 * (a as i32 + 3));
        self.b.ins().store(self.mf, init, regs, 16 * (a as i32 + 3) + 8);
        self.jump_resumed(next);
    }

    fn for_loop(&mut self, pc: usize, a: u16, target: usize) {
        let next = pc + 1;
        let int_blk = self.b.create_block();
        if self.known(a + 2) == Ty::Int {
            // Tier 2 knows it is an integer loop: no float path at all.
            self.b.ins().jump(int_blk, &[]);
        } else {
            let slow = self.slow_block(pc, &[target, next]);
            let st = self.tag(a + 2);
            let is_int = self.eq_imm(st, tag::INT);
            self.b.ins().brif(is_int, int_blk, &[], slow, &[]);
        }
        self.b.switch_to_block(int_blk);
        // Integer loop: R[a+1] holds the remaining iteration count.
        let count = self.int(a + 1);
        let zero = self.iconst(0);
        let more = self.b.ins().icmp(IntCC::SignedGreaterThan, count, zero);
        let body = self.b.create_block();
        let out = self.block_at(next);
        self.b.ins().brif(more, body, &[], out, &[]);
        self.b.switch_to_block(body);
        let step = self.int(a + 2);
        let idx = self.int(a);
        let idx = self.b.ins().iadd(idx, step);
        let count = self.b.ins().iadd_imm_s(count, -1);
        if self.plan.is_some() {
            self.set_int(a + 1, count);
            self.set_int(a, idx);
        } else {
            self.set_payload(a + 1, count);
            self.set_payload(a, idx);
        }
        self.set_int(a + 3, idx);
        self.back_edge(pc, target);
    }

    /// Address of `table[key]` in the array part, or a jump to `slow`.
    /// Leaves the builder in the block where the address is valid; returns
    /// (table pointer, slot address).
    fn array_slot(&mut self, obj: u16, key: Opd, slow: Block) -> Option<(ir::Value, ir::Value)> {
        let (t, idx, len) = self.table_and_index(obj, key, slow)?;
        let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, len);
        let inside = self.b.create_block();
        self.b.ins().brif(inb, inside, &[], slow, &[]);
        self.b.switch_to_block(inside);
        Some((t, self.element(t, idx)))
    }

    /// Checks that `obj` is a table and `key` an integer (else `slow`);
    /// gives the table pointer, the 0-based index and the array length.
    fn table_and_index(&mut self, obj: u16, key: Opd, slow: Block) -> Option<(ir::Value, ir::Value, ir::Value)> {
        let (Some(_), Some(len_off)) = (self.lay.table_arr_ptr, self.lay.table_arr_len) else { return None };
        let tt = self.tag(obj);
        let is_table = self.eq_imm(tt, tag::TABLE);
        let kc = self.has_tag(key, tag::INT);
        let cond = self.both(Some(is_table), kc).expect("table check");
        let ok = self.b.create_block();
        self.b.ins().brif(cond, ok, &[], slow, &[]);
        self.b.switch_to_block(ok);
        let t = self.int(obj);
        let k = self.int_of(key);
        let idx = self.b.ins().iadd_imm_s(k, -1);
        let len = self.b.ins().load(types::I64, self.mf, t, len_off);
        Some((t, idx, len))
    }

    /// The address of array element `idx` (0-based) of table `t`.
    fn element(&mut self, t: ir::Value, idx: ir::Value) -> ir::Value {
        let arr = self.b.ins().load(types::I64, self.mf, t, self.lay.table_arr_ptr.expect("layout checked"));
        let byte = self.b.ins().ishl_imm_u(idx, 4);
        self.b.ins().iadd(arr, byte)
    }

    /// Whether a table-access site is worth an inline path of `kind` bits.
    fn observed_access(&self, pc: usize, kind: u8) -> bool {
        let bits = self.p.feedback.sites[pc].bits.load(std::sync::atomic::Ordering::Relaxed);
        !self.profiled() || bits == 0 || bits & kind != 0
    }

    fn get_table(&mut self, pc: usize, a: u16, b: u16, c: u16) {
        let next = pc + 1;
        let key = self.operand(c);
        let helper = rt::jit_get_table as *const u8;
        if matches!(key, Opd::Float(_) | Opd::Other(..)) || self.lay.table_arr_ptr.is_none() || !self.observed_access(pc, access::ARRAY) {
            return self.fast_helper(helper, pc, a as usize, b as usize, c as usize);
        }
        let slow = self.cold_helper(helper, pc, a as usize, b as usize, c as usize);
        let Some((t, slot)) = self.array_slot(b, key, slow) else { unreachable!("layout checked") };
        // A nil slot consults the metatable (`__index`) unless there is none.
        let vt = self.b.ins().load(types::I64, self.mf, slot, 0);
        let nil = self.iconst(tag::NIL);
        let not_nil = self.b.ins().icmp(IntCC::NotEqual, vt, nil);
        let mt = self.b.ins().load(types::I64, self.mf, t, self.lay.table_meta);
        let no_mt = self.eq_imm(mt, 0);
        let ok = self.b.ins().bor(not_nil, no_mt);
        let hit = self.b.create_block();
        self.b.ins().brif(ok, hit, &[], slow, &[]);
        self.b.switch_to_block(hit);
        self.note_bits(pc, access::ARRAY | access::INT_KEY);
        let regs = self.regs();
        self.copy(regs, 16 * a as i32, slot, 0);
        self.jump(next);
    }

    fn set_table(&mut self, pc: usize, a: u16, b: u16, c: u16) {
        let next = pc + 1;
        let key = self.operand(b);
        let helper = rt::jit_set_table as *const u8;
        // Appends count as hash writes in the profile (INT_KEY without
        // ARRAY); they get the inline path too.
        let seen = access::ARRAY | access::INT_KEY;
        if matches!(key, Opd::Float(_) | Opd::Other(..)) || self.lay.table_arr_ptr.is_none() || !self.observed_access(pc, seen) {
            return self.fast_helper(helper, pc, a as usize, b as usize, c as usize);
        }
        let slow = self.cold_helper(helper, pc, a as usize, b as usize, c as usize);
        let Some((t, idx, len)) = self.table_and_index(a, key, slow) else { unreachable!("layout checked") };
        // Any metatable may define `__newindex`: leave it to the slow path.
        let mt = self.b.ins().load(types::I64, self.mf, t, self.lay.table_meta);
        let no_mt = self.eq_imm(mt, 0);
        let checked = self.b.create_block();
        self.b.ins().brif(no_mt, checked, &[], slow, &[]);
        self.b.switch_to_block(checked);
        let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, idx, len);
        let (store, past_end) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(inb, store, &[], past_end, &[]);

        self.b.switch_to_block(store);
        self.note_bits(pc, access::ARRAY | access::INT_KEY);
        let slot = self.element(t, idx);
        self.store_operand(slot, 0, c);
        self.jump(next);

        // An append (`t[#t + 1] = v`, filling a fresh table): inline while
        // the array has spare capacity and the table no hash part (which
        // could hold the key, or keys to migrate), as `Table::push_array`
        // would do it without reallocating. A nil value is not an append.
        self.b.switch_to_block(past_end);
        let (Some(cap_off), Some(nodes_off)) = (self.lay.table_arr_cap, self.lay.table_nodes_len) else {
            self.b.ins().jump(slow, &[]);
            return;
        };
        let at_end = self.b.ins().icmp(IntCC::Equal, idx, len);
        let cap = self.b.ins().load(types::I64, self.mf, t, cap_off);
        let room = self.b.ins().icmp(IntCC::UnsignedLessThan, len, cap);
        let nodes = self.b.ins().load(types::I64, self.mf, t, nodes_off);
        let no_hash = self.eq_imm(nodes, 0);
        let value_tag = match self.operand(c) {
            Opd::Other(Constant::Nil, _) => self.iconst(tag::NIL),
            Opd::Other(..) | Opd::Int(_) | Opd::Float(_) => self.iconst(tag::INT),
            Opd::Reg(r) => self.tag(r),
        };
        let not_nil = self.b.ins().icmp_imm_u(IntCC::NotEqual, value_tag, tag::NIL as u64 as i64);
        let ok = self.b.ins().band(at_end, room);
        let ok = self.b.ins().band(ok, no_hash);
        let ok = self.b.ins().band(ok, not_nil);
        let append = self.b.create_block();
        self.b.ins().brif(ok, append, &[], slow, &[]);
        self.b.switch_to_block(append);
        self.note_bits(pc, access::ARRAY | access::INT_KEY);
        let slot = self.element(t, len);
        self.store_operand(slot, 0, c);
        let grown = self.b.ins().iadd_imm_s(len, 1);
        self.b.ins().store(self.mf, grown, t, self.lay.table_arr_len.expect("layout checked"));
        self.jump(next);
    }
}
