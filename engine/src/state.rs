//! A Lua state: globals, heap, register stack and call frames of one worker.
//!
//! Code is shared, heaps are not: an [`Engine`](crate::Engine) holds the
//! compiled modules; each `State` instantiates them into its own heap and
//! runs their top-level chunks once. Invocations on one state are
//! sequential. This file holds the state's data and the call machinery the
//! interpreter (`interp.rs`), the metamethod layer (`meta.rs`) and natives
//! share; the embedding API is in `api.rs`.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use crate::bytecode::{Constant, Proto};
use crate::engine::Engine;
use crate::error::{Throw, VmResult};
use crate::function::{Function, LuaClosure, NativeClosure, NativeFn, NativeKind, ProtoInst, UpVal};
use crate::gc::{Gc, Heap};
use crate::table::{LOOKUP_EPOCH, Table};
use crate::value::Value;

/// PUC Lua's LUAI_MAXSTACK: more slots than this is "stack overflow".
pub(crate) const MAX_STACK: usize = 1_000_000;
/// Nested native->Lua re-entries (metamethods, sort comparators...).
pub(crate) const MAX_NATIVE_DEPTH: u32 = 200;
/// Nested `pcall`s plus native re-entries before "C stack overflow": PUC
/// Lua's LUAI_MAXCCALLS (200) less the levels lua.c itself uses.
pub(crate) const MAX_C_LEVELS: u32 = 198;
/// Longest chain of `__call` handlers followed before giving up.
const MAX_CALL_CHAIN: usize = 100;
/// Headroom kept above every frame for natives' pushes.
pub(crate) const STACK_EXTRA: usize = 40;

pub(crate) struct Frame {
    /// Stack index of the called function.
    pub func: usize,
    /// First register.
    pub base: usize,
    /// Next instruction (saved when the frame is not running).
    pub pc: usize,
    pub closure: Gc<Function>,
    /// Results the caller wants (-1: all).
    pub nresults: i32,
    pub nvarargs: u32,
    /// Return to the Rust caller (`call_at`) when this frame returns.
    pub entry: bool,
    /// Called by `pcall` from the interpreter: results get a leading `true`
    /// and errors stop here.
    pub protected: bool,
    /// An entry frame whose caller is a native (sort, gsub, tostring...):
    /// PUC Lua would show that native as a level of its own.
    pub called_by_native: bool,
    /// Protected frames (pcalls) at or below this one: PUC Lua's pcall is a
    /// C call, so nesting them is bounded like C calls are.
    pub protected_depth: u16,
}

impl Frame {
    /// A frame about to run from its first instruction; `protected_depth`
    /// is filled in by `push_frame`.
    #[inline(always)]
    fn new(func: usize, base: usize, closure: Gc<Function>, nresults: i32, nvarargs: u32, entry: bool) -> Frame {
        Frame { func, base, pc: 0, closure, nresults, nvarargs, entry, protected: false, called_by_native: false, protected_depth: 0 }
    }
}

/// Names of metamethods, interned once per state.
pub(crate) struct MetaNames {
    pub index: Value,
    pub newindex: Value,
    pub call: Value,
    pub add: Value,
    pub sub: Value,
    pub mul: Value,
    pub div: Value,
    pub mod_: Value,
    pub pow: Value,
    pub unm: Value,
    pub idiv: Value,
    pub band: Value,
    pub bor: Value,
    pub bxor: Value,
    pub shl: Value,
    pub shr: Value,
    pub bnot: Value,
    pub eq: Value,
    pub lt: Value,
    pub le: Value,
    pub len: Value,
    pub concat: Value,
    pub tostring: Value,
    pub name: Value,
    pub metatable: Value,
}

/// Limits of the current invocation (see [`crate::Limits`]).
pub(crate) struct Budget {
    pub fuel_limit: Option<u64>,
    pub fuel_used_before_tick: u64,
    pub deadline: Option<(Instant, u64)>,
    /// Most frames an invocation may stack (`usize::MAX`: no limit); a
    /// plain word because compiled code compares against it.
    pub max_depth: usize,
    /// Countdown to the next limit check (back-edges and calls).
    pub tick: i64,
}

/// Counters about this state's execution (see [`crate::StateStats`]).
#[derive(Default, Clone, Debug)]
pub(crate) struct Counters {
    /// Lua calls whose callee had no compiled code. Counted apart from the
    /// compiled ones rather than as a total, so a call from compiled code
    /// bumps one counter, not two (a total cost closures about 2%).
    pub tier0_calls: u64,
    /// Lua calls whose callee had compiled code.
    pub tier1_calls: u64,
    pub tier2_calls: u64,
    pub native_calls: u64,
}

/// One worker's Lua state: globals, heap, stack and frames. Create one per
/// thread with [`Engine::new_state`]; it is `Send` but not `Sync`.
pub struct State {
    pub(crate) engine: Engine,
    pub(crate) heap: Heap,
    pub(crate) stack: Vec<Value>,
    pub(crate) top: usize,
    pub(crate) frames: Vec<Frame>,
    /// Open upvalues, sorted by stack index.
    pub(crate) open_upvals: Vec<Gc<UpVal>>,
    pub(crate) globals: Gc<Table>,
    pub(crate) loaded: Gc<Table>,
    pub(crate) string_meta: Gc<Table>,
    pub(crate) names: MetaNames,
    /// Whether the native now running was called directly by Lua code (its
    /// errors then carry that code's position, as luaL_error's do).
    pub(crate) native_from_lua: bool,
    pub(crate) native_depth: u32,
    /// A native function is running at the innermost level (so a Lua
    /// function it calls has a native level below it).
    pub(crate) native_active: bool,
    pub(crate) budget: Budget,
    pub(crate) counters: Counters,
    pub(crate) out: Box<dyn Write + Send>,
    pub(crate) rng: [u64; 4],
    pub(crate) profiling: bool,
    /// `collectgarbage` settings, remembered for its answers.
    pub(crate) gc_mode: &'static str,
    pub(crate) gc_pause: i64,
    pub(crate) gc_stepmul: i64,
    /// Limits armed at the start of each invocation.
    pub(crate) limits_cfg: crate::api::Limits,
    /// Tiering knobs this state reads on hot paths, and its epoch slot.
    pub(crate) tier: crate::jit::TierState,
    /// The running frame's registers, as compiled code must reload them
    /// after a runtime call (the stack may have moved).
    pub(crate) jit_regs: *mut Value,
    /// The register stack's base, for compiled code reading open upvalues;
    /// refreshed with `jit_regs`.
    pub(crate) jit_stack: *mut Value,
    /// An error raised under compiled code, waiting to be unwound.
    pub(crate) jit_error: Option<Throw>,
    /// Results of an entry frame that returned under compiled code.
    pub(crate) jit_nret: usize,
    /// Compiled code just handed the top frame back (`INTERPRET`, e.g. a
    /// deopt): the next frame dispatch interprets instead of re-entering it.
    pub(crate) jit_handed_back: bool,
    /// Lua calls compiled code is running nested on the Rust stack.
    pub(crate) jit_depth: u32,
    /// What `runtime::jit_call_enter` hands the compiled code that calls
    /// the callee's code directly: its constants, its upvalues and the
    /// level of the frame it pushed (for `jit_call_resume`).
    pub(crate) jit_consts: *const Value,
    pub(crate) jit_upvals: *const crate::gc::Gc<crate::function::UpVal>,
    pub(crate) jit_call_level: usize,
    /// Results of inherited field lookups (`State::inherited`).
    pub(crate) lookup_cache: Box<[LookupEntry; LOOKUP_CACHE]>,
}

/// Entries of the inherited-lookup cache: two-way sets chosen by a hash
/// of metatable and key (so two hot methods rarely share a set, and
/// never evict each other when they do).
pub(crate) const LOOKUP_CACHE: usize = 2 << LOOKUP_SETS_LOG2;
pub(crate) const LOOKUP_SETS_LOG2: u32 = 8;
/// The multiplier of [`lookup_set`]'s hash.
pub(crate) const LOOKUP_HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

/// The first of the two entries of metatable `m`'s set for key `k` (both
/// addresses). Tier 2's method lookup computes the same in machine code
/// (`jit/codegen/method.rs`): change both together.
#[inline(always)]
pub(crate) fn lookup_set(m: usize, k: usize) -> usize {
    let hash = (m as u64 ^ (k as u64).rotate_left(17)).wrapping_mul(LOOKUP_HASH_MUL);
    2 * (hash >> (u64::BITS - LOOKUP_SETS_LOG2)) as usize
}

/// What `t[key]` is, through `__index` tables, for any table `t` with
/// metatable `mt` that lacks `key` itself, while [`LOOKUP_EPOCH`] is
/// `epoch`.
#[derive(Clone, Copy)]
pub(crate) struct LookupEntry {
    pub(crate) epoch: u64,
    pub(crate) mt: usize,
    pub(crate) key: usize,
    pub(crate) value: Value,
}

const NO_LOOKUP: LookupEntry = LookupEntry { epoch: 0, mt: 0, key: 0, value: Value::Nil };

// SAFETY: a State owns its heap exclusively; `Gc` pointers never leave it
// (the public API converts values to owned `LuaValue`s), so moving the
// whole state to another thread moves every object with it.
unsafe impl Send for State {}

#[inline(always)]
pub(crate) fn detach<'a, T: ?Sized>(r: &T) -> &'a T {
    // SAFETY: used only for data kept alive by the register stack (closures
    // and their prototypes) while a frame runs; see callers.
    unsafe { &*(r as *const T) }
}

impl State {
    pub(crate) fn new_raw(engine: Engine) -> State {
        let mut heap = Heap::new();
        let globals = heap.new_table(Table::new(0, 64));
        let loaded = heap.new_table(Table::new(0, 16));
        let string_meta = heap.new_table(Table::new(0, 4));
        let mut s = |n: &str| Value::Str(heap.new_str(n.as_bytes()));
        let names = MetaNames {
            index: s("__index"),
            newindex: s("__newindex"),
            call: s("__call"),
            add: s("__add"),
            sub: s("__sub"),
            mul: s("__mul"),
            div: s("__div"),
            mod_: s("__mod"),
            pow: s("__pow"),
            unm: s("__unm"),
            idiv: s("__idiv"),
            band: s("__band"),
            bor: s("__bor"),
            bxor: s("__bxor"),
            shl: s("__shl"),
            shr: s("__shr"),
            bnot: s("__bnot"),
            eq: s("__eq"),
            lt: s("__lt"),
            le: s("__le"),
            len: s("__len"),
            concat: s("__concat"),
            tostring: s("__tostring"),
            name: s("__name"),
            metatable: s("__metatable"),
        };
        let profiling = engine.config().profiling;
        let tier = crate::jit::TierState::new(engine.jit());
        let mut st = State {
            engine,
            heap,
            stack: vec![Value::Nil; 1024],
            top: 0,
            frames: Vec::with_capacity(64),
            open_upvals: Vec::new(),
            globals,
            loaded,
            string_meta,
            names,
            native_from_lua: false,
            native_depth: 0,
            native_active: false,
            budget: Budget { fuel_limit: None, fuel_used_before_tick: 0, deadline: None, max_depth: usize::MAX, tick: 0 },
            counters: Counters::default(),
            out: Box::new(std::io::stdout()),
            rng: [0; 4],
            profiling,
            limits_cfg: crate::api::Limits::default(),
            gc_mode: "generational",
            gc_pause: 200,
            gc_stepmul: 100,
            tier,
            jit_regs: std::ptr::null_mut(),
            jit_stack: std::ptr::null_mut(),
            jit_consts: std::ptr::null(),
            jit_upvals: std::ptr::null(),
            jit_call_level: 0,
            lookup_cache: Box::new([NO_LOOKUP; LOOKUP_CACHE]),
            jit_error: None,
            jit_nret: 0,
            jit_handed_back: false,
            jit_depth: 0,
        };
        crate::stdlib::open_libs(&mut st);
        st
    }

    // ----- allocation helpers ------------------------------------------------

    pub(crate) fn new_str(&mut self, b: &[u8]) -> Value {
        Value::Str(self.heap.new_str(b))
    }

    pub(crate) fn new_table(&mut self, narr: usize, nhash: usize) -> Gc<Table> {
        self.heap.new_table(Table::new(narr, nhash))
    }

    pub(crate) fn new_native(&mut self, f: NativeFn, kind: NativeKind, upvals: Vec<Value>) -> Value {
        Value::Func(self.heap.new_function(Function::Native(NativeClosure { f, kind, upvals: upvals.into() })))
    }

    /// Raw table store with GC accounting; errors on nil/NaN keys.
    pub(crate) fn raw_set(&mut self, t: Gc<Table>, k: Value, v: Value) -> VmResult<()> {
        match t.get_mut().set(k, v) {
            Ok(d) => {
                self.heap.charge(d);
                Ok(())
            }
            Err(crate::table::KeyError::Nil) => Err(Throw::msg("table index is nil")),
            Err(crate::table::KeyError::NaN) => Err(Throw::msg("table index is NaN")),
        }
    }

    pub(crate) fn raw_set_int(&mut self, t: Gc<Table>, i: i64, v: Value) {
        let d = t.get_mut().set_int(i, v);
        self.heap.charge(d);
    }

    pub(crate) fn set_field(&mut self, t: Gc<Table>, name: &str, v: Value) {
        let k = self.new_str(name.as_bytes());
        let d = t.get_mut().set_str(k, v);
        self.heap.charge(d);
    }

    /// Builds this state's instance of a prototype tree: constants become
    /// values of this heap.
    pub(crate) fn instantiate(&mut self, p: &Arc<Proto>) -> Gc<ProtoInst> {
        let children: Vec<Gc<ProtoInst>> = p.protos.iter().map(|c| self.instantiate(c)).collect();
        let consts: Vec<Value> = p
            .consts
            .iter()
            .map(|c| match c {
                Constant::Nil => Value::Nil,
                Constant::Bool(b) => Value::Bool(*b),
                Constant::Int(i) => Value::Int(*i),
                Constant::Float(f) => Value::Float(*f),
                Constant::Str(s) => Value::Str(self.heap.new_str(s)),
            })
            .collect();
        self.heap.new_inst(ProtoInst { proto: p.clone(), consts: consts.into(), children: children.into() })
    }

    pub(crate) fn new_lua_closure(&mut self, inst: Gc<ProtoInst>, upvals: Vec<Gc<UpVal>>) -> Value {
        let proto = &inst.get().proto;
        let (key_lo, proto_ptr) = (proto.key.0 as u64, Arc::as_ptr(proto));
        Value::Func(self.heap.new_function(Function::Lua(LuaClosure { inst, upvals: upvals.into(), key_lo, proto_ptr })))
    }

    // ----- stack -------------------------------------------------------------

    /// Makes sure `stack[..n]` exists; "stack overflow" past PUC Lua's limit.
    #[inline]
    pub(crate) fn ensure_stack(&mut self, n: usize) -> VmResult<()> {
        if n + STACK_EXTRA > self.stack.len() {
            self.grow_stack(n)?;
        }
        Ok(())
    }

    #[cold]
    fn grow_stack(&mut self, n: usize) -> VmResult<()> {
        if n > MAX_STACK {
            return Err(Throw::msg("stack overflow"));
        }
        let new_len = (n + STACK_EXTRA).max(self.stack.len() * 2).min(MAX_STACK + 2 * STACK_EXTRA);
        self.stack.resize(new_len, Value::Nil);
        Ok(())
    }

    /// Pushes a value at `top` (used by natives for their results).
    #[inline]
    pub(crate) fn push(&mut self, v: Value) -> VmResult<()> {
        if self.top + STACK_EXTRA >= self.stack.len() {
            self.ensure_stack(self.top + 1)?;
        }
        self.stack[self.top] = v;
        self.top += 1;
        Ok(())
    }

    /// First free slot above everything live: the running Lua frame's
    /// registers and anything natives pushed.
    pub(crate) fn safe_top(&self) -> usize {
        match self.frames.last() {
            Some(f) => {
                let ms = match f.closure.get() {
                    Function::Lua(c) => c.proto().maxstack as usize,
                    Function::Native(_) => 0,
                };
                self.top.max(f.base + ms)
            }
            None => self.top,
        }
    }

    // ----- upvalues ----------------------------------------------------------

    pub(crate) fn find_upval(&mut self, idx: usize) -> Gc<UpVal> {
        let mut pos = self.open_upvals.len();
        while pos > 0 {
            let u = self.open_upvals[pos - 1];
            match *u.get() {
                UpVal::Open(i) if i == idx => return u,
                UpVal::Open(i) if i < idx => break,
                _ => pos -= 1,
            }
        }
        let u = self.heap.new_upval(UpVal::Open(idx));
        self.open_upvals.insert(pos, u);
        u
    }

    /// Whether `close_upvals(level)` would have anything to close.
    #[inline(always)]
    pub(crate) fn open_upvals_from(&self, level: usize) -> bool {
        self.open_upvals.last().is_some_and(|u| matches!(*u.get(), UpVal::Open(i) if i >= level))
    }

    #[inline]
    pub(crate) fn close_upvals(&mut self, level: usize) {
        while let Some(&u) = self.open_upvals.last() {
            let UpVal::Open(i) = *u.get() else { unreachable!("open list holds open upvalues") };
            if i < level {
                break;
            }
            *u.get_mut() = UpVal::Closed(self.stack[i]);
            self.open_upvals.pop();
        }
    }

    #[inline(always)]
    pub(crate) fn upval_get(&self, u: Gc<UpVal>) -> Value {
        match *u.get() {
            UpVal::Open(i) => self.stack[i],
            UpVal::Closed(v) => v,
        }
    }

    #[inline(always)]
    pub(crate) fn upval_set(&mut self, u: Gc<UpVal>, v: Value) {
        match u.get_mut() {
            UpVal::Open(i) => self.stack[*i] = v,
            UpVal::Closed(c) => *c = v,
        }
    }

    // ----- calls ---------------------------------------------------------------

    /// Pushes a frame for the Lua closure at `stack[func]` with `nargs`
    /// arguments above it.
    #[inline(always)]
    pub(crate) fn push_lua_frame(&mut self, func: usize, nargs: usize, nresults: i32, cl: Gc<Function>) -> VmResult<()> {
        let Function::Lua(c) = cl.get() else { unreachable!("caller checked") };
        let p = c.proto();
        let np = p.nparams as usize;
        let ms = p.maxstack as usize;
        if self.frames.len() >= self.budget.max_depth {
            return Err(Throw::Limit(format!("call depth limit {} exceeded", self.budget.max_depth)));
        }
        let (base, nvar) = if p.is_vararg {
            let nvar = nargs.saturating_sub(np);
            let base = func + 1 + nargs;
            self.ensure_stack(base + ms)?;
            for i in 0..np.min(nargs) {
                self.stack[base + i] = self.stack[func + 1 + i];
            }
            (base, nvar)
        } else {
            let base = func + 1;
            self.ensure_stack(base + ms)?;
            (base, 0)
        };
        for i in nargs.min(np)..np {
            self.stack[base + i] = Value::Nil;
        }
        self.push_frame(&c.inst.get().proto, Frame::new(func, base, cl, nresults, nvar as u32, false));
        Ok(())
    }

    /// What every Lua frame push ends with: the call counts and hotness
    /// of `p` (the frame's prototype), then the frame.
    #[inline(always)]
    fn push_frame(&mut self, p: &Arc<Proto>, mut frame: Frame) {
        if self.profiling {
            p.feedback.count_call();
        }
        if self.tier.mode != crate::jit::TierMode::Interpreter {
            self.tier_call(p);
        } else {
            self.counters.tier0_calls += 1;
        }
        frame.protected_depth = self.frames.last().map_or(0, |f| f.protected_depth);
        self.frames.push(frame);
    }

    /// `push_lua_frame` for the common call, done with fewer checks: a
    /// function with fixed parameters, the stack already deep enough, no
    /// depth limit reached and the tick countdown not running out. Returns
    /// false, having changed nothing, when the call needs the general path.
    #[inline(always)]
    pub(crate) fn try_push_plain_frame(&mut self, func: usize, nargs: usize, nresults: i32, cl: Gc<Function>, c: &LuaClosure) -> bool {
        let inst = c.inst.get();
        let p = &inst.proto;
        let base = func + 1;
        if p.is_vararg
            || self.frames.len() >= self.budget.max_depth
            || base + p.maxstack as usize + STACK_EXTRA > self.stack.len()
            || self.budget.tick <= 1
        {
            return false;
        }
        self.budget.tick -= 1;
        let np = p.nparams as usize;
        for slot in &mut self.stack[base + nargs.min(np)..base + np] {
            *slot = Value::Nil;
        }
        self.push_frame(p, Frame::new(func, base, cl, nresults, 0, true));
        true
    }

    /// Calls a native whose arguments sit at `stack[func+1..func+1+nargs]`;
    /// leaves its results at `stack[func..]` and returns how many.
    /// Takes the function pointer, not a reference into the closure, so the
    /// native may mutate its own upvalues (gmatch's iterator state).
    pub(crate) fn call_native(&mut self, func: usize, nargs: usize, f: NativeFn, from_lua: bool) -> VmResult<usize> {
        self.counters.native_calls += 1;
        self.top = func + 1 + nargs;
        self.ensure_stack(self.top)?;
        let saved = (self.native_from_lua, self.native_active);
        self.native_from_lua = from_lua;
        self.native_active = true;
        let r = f(self, func + 1, nargs);
        (self.native_from_lua, self.native_active) = saved;
        let nret = r?;
        let src = self.top - nret;
        for i in 0..nret {
            self.stack[func + i] = self.stack[src + i];
        }
        self.top = func + nret;
        Ok(nret)
    }

    /// Calls the value at `stack[func]` with `nargs` arguments from Rust
    /// (a native or the embedding API); results end up at `stack[func..]`.
    /// Re-enters the interpreter for Lua functions, so depth is bounded.
    pub(crate) fn call_at(&mut self, func: usize, nargs: usize) -> VmResult<usize> {
        self.call_at_wanting(func, nargs, -1)
    }

    /// [`State::call_at`] for a caller that wants `nresults` results (-1:
    /// all). A Lua callee's frame then asks for exactly that many (padded
    /// with nil or cut), as a call from Lua code does, so compiled code
    /// returns to it by its common return rather than the general one: a
    /// sort comparator or a metamethod wants one result. A native callee
    /// returns what it returns either way.
    pub(crate) fn call_at_wanting(&mut self, func: usize, nargs: usize, nresults: i32) -> VmResult<usize> {
        let f = self.stack[func];
        match f {
            Value::Func(fg) => match fg.get() {
                Function::Lua(_) => {
                    if self.native_depth >= MAX_NATIVE_DEPTH {
                        return Err(Throw::msg("C stack overflow"));
                    }
                    self.native_depth += 1;
                    let from_native = std::mem::replace(&mut self.native_active, false);
                    let r = self.tick().and_then(|()| self.push_lua_frame(func, nargs, nresults, fg)).and_then(|()| {
                        let level = self.frames.len() - 1;
                        let f = &mut self.frames[level];
                        f.entry = true;
                        f.called_by_native = from_native;
                        // A callee with compiled code is entered directly:
                        // a sort comparator or metamethod then costs no
                        // trip through the interpreter loop's set-up.
                        let status = if self.tier.mode != crate::jit::TierMode::Interpreter { self.enter_frame(level) } else { None };
                        match status {
                            Some(crate::jit::runtime::status::RETURNED) => Ok(self.jit_nret),
                            status => self.finish_callee(level, status),
                        }
                    });
                    self.native_active = from_native;
                    self.native_depth -= 1;
                    r
                }
                Function::Native(n) => {
                    let n = detach(n);
                    self.call_native(func, nargs, n.f, false).map_err(|e| match e {
                        // A native called from a native: no Lua position.
                        Throw::Msg { msg, .. } => Throw::Error(self.new_str(msg.as_bytes())),
                        other => other,
                    })
                }
            },
            _ => {
                let nargs = self.resolve_call_metamethod(func, nargs)?;
                self.call_at_wanting(func, nargs, nresults)
            }
        }
    }

    /// Replaces a non-function at `stack[func]` by its `__call` handler
    /// (shifting the arguments up to make the object the first one), until
    /// a function is reached. Returns the new argument count.
    pub(crate) fn resolve_call_metamethod(&mut self, func: usize, mut nargs: usize) -> VmResult<usize> {
        // lua5.4.4 follows a `__call` cycle forever; Ember bounds the chain
        // the way it bounds `__index` chains.
        for _ in 0..MAX_CALL_CHAIN {
            let callee = self.stack[func];
            if let Value::Func(_) = callee {
                return Ok(nargs);
            }
            let h = self.metafield(callee, self.names.call);
            if h.is_nil() {
                return Err(Throw::msg(format!("attempt to call a {} value", self.type_name_of(callee))));
            }
            self.tick()?;
            self.ensure_stack(func + nargs + 2)?;
            self.stack.copy_within(func..func + 1 + nargs, func + 1);
            self.stack[func] = h;
            nargs += 1;
        }
        Err(Throw::msg("'__call' chain too long; possible loop"))
    }

    /// Calls `f(args...)` and returns its first result.
    pub(crate) fn call1(&mut self, f: Value, args: &[Value]) -> VmResult<Value> {
        if let Some(r) = self.call1_plain(f, args) {
            return r;
        }
        let func = self.safe_top();
        self.ensure_stack(func + args.len() + 1)?;
        self.stack[func] = f;
        for (i, a) in args.iter().enumerate() {
            self.stack[func + 1 + i] = *a;
        }
        self.top = func + 1 + args.len();
        let saved_top = func;
        let n = self.call_at_wanting(func, args.len(), 1)?;
        let v = if n > 0 { self.stack[func] } else { Value::Nil };
        self.top = saved_top;
        Ok(v)
    }

    /// `call1`'s common case, done in one piece: a Lua function with fixed
    /// parameters, the stack deep enough, no limit near (a sort comparator
    /// or a metamethod called over and over). The frame is pushed by
    /// `try_push_plain_frame`, as the interpreter's plain call does, and
    /// entered as `call_at_wanting` enters it; the general path's extra
    /// dispatch and stack growth are what this skips (they were about a
    /// third of such a call's cost). `None` for anything else, having
    /// written nothing but scratch slots above the live top.
    #[inline(always)]
    fn call1_plain(&mut self, f: Value, args: &[Value]) -> Option<VmResult<Value>> {
        let Value::Func(fg) = f else { return None };
        let Function::Lua(c) = fg.get() else { return None };
        if self.native_depth >= MAX_NATIVE_DEPTH || self.tier.mode == crate::jit::TierMode::Interpreter {
            return None;
        }
        let func = self.safe_top();
        let top = func + 1 + args.len();
        if top + STACK_EXTRA > self.stack.len() {
            return None;
        }
        self.stack[func] = f;
        // Callbacks take one to three arguments: stores, not a memcpy call.
        match *args {
            [x] => self.stack[func + 1] = x,
            [x, y] => (self.stack[func + 1], self.stack[func + 2]) = (x, y),
            [x, y, z] => (self.stack[func + 1], self.stack[func + 2], self.stack[func + 3]) = (x, y, z),
            _ => self.stack[func + 1..top].copy_from_slice(args),
        }
        self.top = top;
        if !self.try_push_plain_frame(func, args.len(), 1, fg, c) {
            self.top = func;
            return None;
        }
        let level = self.frames.len() - 1;
        let from_native = std::mem::replace(&mut self.native_active, false);
        self.frames[level].called_by_native = from_native;
        self.native_depth += 1;
        // What `enter_frame` would read back from the frame just pushed.
        let inst = c.inst.get();
        let regs = self.stack.as_mut_ptr().wrapping_add(func + 1);
        let r = match self.enter_compiled(c.proto(), &inst.proto, regs, &inst.consts, &c.upvals, 0) {
            // The compiled callee returned (what `finish_callee` would
            // find first).
            Some(crate::jit::runtime::status::RETURNED) => Ok(self.jit_nret),
            status => self.finish_callee(level, status),
        };
        self.native_active = from_native;
        self.native_depth -= 1;
        // One result wanted: the callee's frame padded or cut to it.
        let v = r.map(|n| if n > 0 { self.stack[func] } else { Value::Nil });
        self.top = func;
        Some(v)
    }

    // ----- limits --------------------------------------------------------------

    #[inline(always)]
    pub(crate) fn tick(&mut self) -> VmResult<()> {
        self.budget.tick -= 1;
        if self.budget.tick < 0 {
            return self.check_limits();
        }
        Ok(())
    }

    #[cold]
    fn check_limits(&mut self) -> VmResult<()> {
        const SLICE: i64 = 4096;
        let b = &mut self.budget;
        // Steps consumed since the last reset of `tick`.
        if let Some(limit) = b.fuel_limit {
            let used = b.fuel_used_before_tick;
            if used >= limit {
                return Err(Throw::Limit(format!("fuel exhausted after {limit} steps")));
            }
        }
        if let Some((deadline, ms)) = b.deadline
            && Instant::now() >= deadline
        {
            return Err(Throw::Limit(format!("deadline of {ms} ms exceeded")));
        }
        let next = match b.fuel_limit {
            Some(limit) => (limit - b.fuel_used_before_tick).min(SLICE as u64) as i64,
            None => SLICE,
        };
        b.fuel_used_before_tick += next as u64;
        // Even with no limits the countdown keeps running: a slice ending
        // in tier-1 code is where a long loop moves up to tier 2
        // (`runtime::jit_tick`), and one cold call per 4096 steps is noise.
        b.tick = next - 1;
        Ok(())
    }

    // ----- misc ------------------------------------------------------------------

    /// The type name error messages use: a table's `__name` (a string in
    /// its metatable) when it has one, as luaT_objtypename does.
    pub(crate) fn type_name_of(&self, v: Value) -> String {
        if let Value::Table(t) = v
            && let Some(mt) = t.get().metatable
            && let Value::Str(s) = mt.get().get_str(self.names.name)
        {
            return s.get().to_str_lossy().into_owned();
        }
        v.type_name().to_string()
    }

    pub(crate) fn metatable_of(&self, v: Value) -> Option<Gc<Table>> {
        match v {
            Value::Table(t) => t.get().metatable,
            Value::Str(_) => Some(self.string_meta),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn metafield(&self, v: Value, name: Value) -> Value {
        match self.metatable_of(v) {
            Some(mt) => mt.get().get_str(name),
            None => Value::Nil,
        }
    }

    /// `t[key]` through `__index` *tables* (classes, prototypes), for a
    /// table `t` whose own raw lookup of `key` (a string) just missed. `None` means a step needs the slow
    /// path (an `__index` function, or a long chain).
    ///
    /// Why cached: a method call on an object walks its class chain, two
    /// hash lookups per level, on every call. Every table the walk passes
    /// is marked `in_lookup_chain`, so any later change to a non-integer
    /// key or metatable of one of them moves [`LOOKUP_EPOCH`] and retires
    /// the entry; a collection clears the cache, since a freed table's
    /// address can come back.
    #[inline]
    pub(crate) fn inherited(&mut self, t: &Table, key: Value) -> Option<Value> {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(mt) = t.metatable else { return Some(Value::Nil) };
        if !matches!(key, Value::Str(_)) {
            return self.walk_lookup_chain(mt, key);
        }
        let (m, k) = (Value::Table(mt).addr(), key.addr());
        // Two ways per set, the most recent first: a class's few hot
        // methods then never evict each other by an unlucky address.
        let set = lookup_set(m, k);
        let epoch = LOOKUP_EPOCH.load(Relaxed);
        let hit = |e: &LookupEntry| e.epoch == epoch && e.mt == m && e.key == k;
        let (first, second) = (self.lookup_cache[set], self.lookup_cache[set + 1]);
        if hit(&first) {
            return Some(first.value);
        }
        if hit(&second) {
            self.lookup_cache.swap(set, set + 1);
            return Some(second.value);
        }
        let v = self.walk_lookup_chain(mt, key)?;
        self.lookup_cache[set + 1] = first;
        self.lookup_cache[set] = LookupEntry { epoch, mt: m, key: k, value: v };
        Some(v)
    }

    #[inline(never)]
    fn walk_lookup_chain(&self, mut mt: Gc<Table>, key: Value) -> Option<Value> {
        for _ in 0..8 {
            let m = mt.get();
            m.in_lookup_chain.set(true);
            let next = match m.get_str(self.names.index) {
                Value::Table(next) => next,
                Value::Nil => return Some(Value::Nil),
                _ => return None,
            };
            let t = next.get();
            t.in_lookup_chain.set(true);
            let v = t.get_str(key);
            if !v.is_nil() {
                return Some(v);
            }
            match t.metatable {
                Some(up) => mt = up,
                None => return Some(Value::Nil),
            }
        }
        None
    }

    /// Runs a full collection. Roots: the live stack, globals, loaded
    /// modules, the string metatable, metamethod names.
    pub(crate) fn collect_garbage(&mut self) {
        self.lookup_cache.fill(NO_LOOKUP);
        let live_top = self.safe_top().min(self.stack.len());
        for i in 0..live_top {
            let v = self.stack[i];
            self.heap.mark_value(v);
        }
        for v in &mut self.stack[live_top..] {
            *v = Value::Nil;
        }
        for f in &self.frames {
            self.heap.mark_func(f.closure);
        }
        for u in self.open_upvals.clone() {
            self.heap.mark_upval(u);
        }
        self.heap.mark_table(self.globals);
        self.heap.mark_table(self.loaded);
        self.heap.mark_table(self.string_meta);
        let n = &self.names;
        for v in [
            n.index,
            n.newindex,
            n.call,
            n.add,
            n.sub,
            n.mul,
            n.div,
            n.mod_,
            n.pow,
            n.unm,
            n.idiv,
            n.band,
            n.bor,
            n.bxor,
            n.shl,
            n.shr,
            n.bnot,
            n.eq,
            n.lt,
            n.le,
            n.len,
            n.concat,
            n.tostring,
            n.name,
            n.metatable,
        ] {
            self.heap.mark_value(v);
        }
        self.heap.propagate();
        self.heap.sweep();
    }

    /// The safepoint check: collect if the allocation volume says so, then
    /// enforce the heap limit on what survived.
    #[inline]
    pub(crate) fn gc_step(&mut self) -> VmResult<()> {
        if self.heap.should_collect() {
            self.collect_garbage();
            if self.heap.over_limit() {
                let mb = self.heap.limit.unwrap_or(0) >> 20;
                return Err(Throw::Limit(format!("heap limit {mb} MiB exceeded")));
            }
        }
        Ok(())
    }

    pub(crate) fn write_out(&mut self, b: &[u8]) {
        let _ = self.out.write_all(b);
    }
}
