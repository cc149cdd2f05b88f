//! The embedding API of a [`State`]: load modules, call functions with
//! host values, set limits, read stats.
//!
//! Every entry point runs one *invocation*: limits are armed at the start,
//! and whatever happens (a Lua error, a limit, `os.exit`) the state is
//! restored to a clean stack before returning, so the next invocation works.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::error::{Error, LimitKind, Throw, VmResult};
use crate::state::State;
use crate::value::Value;

/// A Lua value owned by the host (copied in and out of a state).
#[derive(Clone, Debug, PartialEq)]
pub enum LuaValue {
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer (Lua 5.4's 64-bit subtype).
    Int(i64),
    /// A float.
    Float(f64),
    /// Lua strings are byte strings.
    Str(Vec<u8>),
    /// A table as its key/value pairs: array part in order, then the rest.
    Table(Vec<(LuaValue, LuaValue)>),
    /// A function (not transferable; shown for completeness).
    Function,
}

impl LuaValue {
    /// A Lua string from Rust text.
    pub fn str(s: &str) -> LuaValue {
        LuaValue::Str(s.as_bytes().to_vec())
    }

    /// The string contents if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            LuaValue::Str(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

impl std::fmt::Display for LuaValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LuaValue::Nil => f.write_str("nil"),
            LuaValue::Bool(b) => write!(f, "{b}"),
            LuaValue::Int(i) => write!(f, "{i}"),
            LuaValue::Float(x) => {
                let mut b = Vec::new();
                crate::number::fmt_float(*x, &mut b);
                f.write_str(&String::from_utf8_lossy(&b))
            }
            LuaValue::Str(s) => f.write_str(&String::from_utf8_lossy(s)),
            LuaValue::Table(_) => f.write_str("table"),
            LuaValue::Function => f.write_str("function"),
        }
    }
}

/// An in-memory output sink for [`State::set_output`]: clones share one
/// buffer, so the embedder keeps a clone and reads what Lua printed.
#[derive(Clone, Default, Debug)]
pub struct OutputCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl OutputCapture {
    /// A new, empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().expect("output capture lock").clone()
    }

    /// Everything written so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().expect("output capture lock"))
    }
}

impl Write for OutputCapture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("output capture lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Most table entries one conversion to [`LuaValue`] produces.
const HOST_VALUE_BUDGET: usize = 1_000_000;

/// Per-invocation resource limits. `None` means unlimited.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Steps: loop back-edges plus calls.
    pub fuel: Option<u64>,
    /// Wall-clock time per invocation.
    pub deadline: Option<Duration>,
    /// Bytes of live heap.
    pub heap_bytes: Option<usize>,
    /// Lua call depth (frames).
    pub max_depth: Option<usize>,
}

/// Counters about a state.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct StateStats {
    /// Lua function calls whose callee had no compiled code (tier 0).
    pub tier0_calls: u64,
    /// Lua function calls into compiled tier-1 code.
    pub tier1_calls: u64,
    /// Lua function calls into compiled tier-2 code.
    pub tier2_calls: u64,
    /// Native (builtin) function calls.
    pub native_calls: u64,
    /// Garbage collections run.
    pub gc_collections: u64,
    /// Bytes charged to the heap now.
    pub heap_bytes: usize,
    /// Objects on the heap now.
    pub heap_objects: usize,
}

impl State {
    /// A new state of `engine` (same as [`crate::Engine::new_state`]).
    pub fn new(engine: &crate::Engine) -> State {
        engine.new_state()
    }

    /// The engine this state runs modules of.
    pub fn engine(&self) -> &crate::Engine {
        &self.engine
    }

    /// Limits for the following invocations.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits_cfg = limits;
    }

    /// The limits armed for each invocation.
    pub fn limits(&self) -> &Limits {
        &self.limits_cfg
    }

    /// Where `print` and `io.write` write (stdout by default).
    pub fn set_output(&mut self, out: Box<dyn Write + Send>) {
        self.out = out;
    }

    /// GC stress mode: collect after every 16 KiB of allocation instead of
    /// when the heap doubles. Slow; for testing the collector's roots.
    pub fn set_gc_stress(&mut self, on: bool) {
        self.heap.stress = on;
        self.heap.reset_threshold();
    }

    /// Turns tier-0 feedback recording on or off for this state.
    pub fn set_profiling(&mut self, on: bool) {
        self.profiling = on;
    }

    /// Execution and heap counters of this state.
    pub fn stats(&self) -> StateStats {
        StateStats {
            tier0_calls: self.counters.tier0_calls,
            tier1_calls: self.counters.tier1_calls,
            tier2_calls: self.counters.tier2_calls,
            native_calls: self.counters.native_calls,
            gc_collections: self.heap.collections,
            heap_bytes: self.heap.bytes,
            heap_objects: self.heap.object_count(),
        }
    }

    /// Runs module `name`'s top-level chunk in this state if it has not run
    /// yet (like `require`), returning what the chunk returned.
    pub fn require(&mut self, name: &str) -> Result<LuaValue, Error> {
        self.invoke(|st| {
            let k = st.new_str(b"require");
            let req = st.globals.get().get_str(k);
            let arg = st.new_str(name.as_bytes());
            let v = st.call1(req, &[arg])?;
            Ok(st.host_value(v, 0))
        })
    }

    /// Runs module `name`'s main chunk with script arguments (`...` and
    /// the `arg` table), as `lua5.4 FILE ARGS...` does.
    pub fn run_main(&mut self, name: &str, script: &str, args: &[String]) -> Result<(), Error> {
        let module = self.engine.module(name).ok_or_else(|| Error::Api(format!("no module named '{name}'")))?;
        self.invoke(|st| {
            let argt = st.new_table(args.len(), 2);
            let s = st.new_str(script.as_bytes());
            st.raw_set_int(argt, 0, s);
            let interp = st.new_str(b"ember");
            st.raw_set_int(argt, -1, interp);
            for (i, a) in args.iter().enumerate() {
                let v = st.new_str(a.as_bytes());
                st.raw_set_int(argt, i as i64 + 1, v);
            }
            let g = st.globals;
            st.set_field(g, "arg", Value::Table(argt));
            let inst = st.instantiate(module.main());
            let f = st.new_lua_closure(inst, vec![]);
            let func = st.top;
            st.push(f)?;
            for a in args {
                let v = st.new_str(a.as_bytes());
                st.push(v)?;
            }
            st.call_at(func, args.len())?;
            Ok(())
        })
    }

    /// Calls global function `name` (a dotted path like `M.f` also works;
    /// the path is looked up with raw gets).
    pub fn call(&mut self, name: &str, args: &[LuaValue]) -> Result<Vec<LuaValue>, Error> {
        let mut f = Value::Table(self.globals);
        for part in name.split('.') {
            let k = self.new_str(part.as_bytes());
            f = match f {
                Value::Table(t) => t.get().get(k),
                _ => Value::Nil,
            };
        }
        if !matches!(f, Value::Func(_)) && self.metafield(f, self.names.call).is_nil() {
            return Err(Error::Api(format!("no function named '{name}'")));
        }
        self.call_host(f, args)
    }

    /// Calls the function value `f` with host arguments, as one invocation.
    fn call_host(&mut self, f: Value, args: &[LuaValue]) -> Result<Vec<LuaValue>, Error> {
        self.invoke(|st| {
            let func = st.top;
            st.push(f)?;
            for a in args {
                let v = st.lua_value(a)?;
                st.push(v)?;
            }
            let n = st.call_at(func, args.len())?;
            Ok((0..n).map(|i| st.host_value(st.stack[func + i], 0)).collect())
        })
    }

    /// Calls `function` of module `module`, requiring the module first if
    /// this state has not yet (its main chunk runs once per state). The
    /// function is looked up (dotted path, raw gets) in the table the module
    /// returned, if it returned one, and otherwise among the globals, which
    /// is where a module that defines global functions puts them.
    pub fn call_in_module(&mut self, module: &str, function: &str, args: &[LuaValue]) -> Result<Vec<LuaValue>, Error> {
        let key = self.new_str(module.as_bytes());
        let mut exports = self.loaded.get().get(key);
        if exports.is_nil() || matches!(exports, Value::Bool(false)) {
            if self.engine.module(module).is_none() {
                return Err(Error::Api(format!("no module named '{module}'")));
            }
            self.require(module)?;
            let key = self.new_str(module.as_bytes());
            exports = self.loaded.get().get(key);
        }
        if let Value::Table(t) = exports {
            let mut f = Value::Table(t);
            for part in function.split('.') {
                let k = self.new_str(part.as_bytes());
                f = match f {
                    Value::Table(t) => t.get().get(k),
                    _ => Value::Nil,
                };
            }
            if matches!(f, Value::Func(_)) {
                return self.call_host(f, args);
            }
        }
        self.call(function, args).map_err(|e| match e {
            Error::Api(_) => Error::Api(format!("module '{module}' has no function '{function}'")),
            e => e,
        })
    }

    /// Reads a global variable.
    pub fn get_global(&mut self, name: &str) -> LuaValue {
        let k = self.new_str(name.as_bytes());
        let v = self.globals.get().get_str(k);
        self.host_value(v, 0)
    }

    /// Sets a global variable.
    pub fn set_global(&mut self, name: &str, v: &LuaValue) -> Result<(), Error> {
        self.invoke(|st| {
            let val = st.lua_value(v)?;
            let g = st.globals;
            st.set_field(g, name, val);
            Ok(())
        })
    }

    /// Forces a full garbage collection.
    pub fn full_gc(&mut self) {
        self.collect_garbage();
    }

    /// Runs `f` as one invocation: arms limits, and on any failure restores
    /// the stack, frames and upvalues to where they were.
    fn invoke<T>(&mut self, f: impl FnOnce(&mut State) -> VmResult<T>) -> Result<T, Error> {
        let top = self.top;
        let depth = self.frames.len();
        self.arm_limits();
        self.tier_invocation_start();
        let started = self.tier.record_latency.then(Instant::now);
        let r = f(self);
        // Convert an escaping error value before anything can collect it:
        // it is referenced only from `r`, which the collector cannot see.
        let r = r.map_err(|e| self.host_error(e));
        self.tier_invocation_end(started);
        // Clean up whatever the invocation left behind; close upvalues
        // first, so the cleanup collection cannot drop their values.
        self.close_upvals(top);
        self.disarm_limits();
        self.frames.truncate(depth);
        self.top = top;
        self.native_depth = 0;
        self.jit_depth = 0;
        let _ = self.out.flush();
        r
    }

    fn arm_limits(&mut self) {
        let l = self.limits_cfg.clone();
        let b = &mut self.budget;
        b.fuel_limit = l.fuel;
        b.fuel_used_before_tick = 0;
        b.deadline = l.deadline.map(|d| (Instant::now() + d, d.as_millis() as u64));
        b.max_depth = l.max_depth.unwrap_or(usize::MAX);
        // With fuel, the countdown restarts so that every step of this
        // invocation is counted against it. Otherwise it goes on where the
        // last invocation left it (a deadline is then first checked within
        // one slice, as it is between any two checks): a slice that ends
        // inside a tier-1 loop is what credits that loop toward tier 2, and
        // restarting the slice at every invocation would make it end at the
        // invocation's first step, so a loop shorter than a slice would
        // never be credited however often it ran.
        if l.fuel.is_some() {
            b.tick = 0;
        } else {
            b.tick = b.tick.max(0);
        }
        self.heap.limit = l.heap_bytes;
        self.heap.reset_threshold();
    }

    fn disarm_limits(&mut self) {
        let b = &mut self.budget;
        b.fuel_limit = None;
        b.deadline = None;
        b.max_depth = usize::MAX;
        self.heap.limit = None;
        // Free what a failed invocation left behind if it was over the limit.
        if self.heap.bytes > self.heap.threshold {
            self.collect_garbage();
        }
        self.heap.reset_threshold();
    }

    fn host_error(&mut self, e: Throw) -> Error {
        match e {
            Throw::Error(v) => Error::Runtime { message: self.error_text(v), traceback: String::new() },
            Throw::Msg { msg, .. } => Error::Runtime { message: msg, traceback: String::new() },
            Throw::Limit(m) => {
                let kind = if m.starts_with("fuel") {
                    LimitKind::Fuel
                } else if m.starts_with("deadline") {
                    LimitKind::Deadline
                } else if m.starts_with("heap") {
                    LimitKind::Heap
                } else {
                    LimitKind::Depth
                };
                Error::Limit { kind, message: m }
            }
            Throw::Exit(c) => Error::Exit(c),
        }
    }

    /// The text lua5.4's standalone interpreter prints for an error value.
    fn error_text(&mut self, v: Value) -> String {
        match v {
            Value::Str(s) => s.get().to_str_lossy().into_owned(),
            Value::Int(_) | Value::Float(_) => String::from_utf8_lossy(&crate::meta::tostring_basic(v)).into_owned(),
            _ => {
                // lua.c's msghandler: only a `__tostring` that returns a
                // string counts.
                let h = self.metafield(v, self.names.tostring);
                if !h.is_nil()
                    && let Ok(Value::Str(s)) = self.call1(h, &[v])
                {
                    return s.get().to_str_lossy().into_owned();
                }
                format!("(error object is a {} value)", v.type_name())
            }
        }
    }

    pub(crate) fn host_value(&self, v: Value, depth: usize) -> LuaValue {
        let mut budget = HOST_VALUE_BUDGET;
        let mut path = Vec::new();
        self.host_value_within(v, depth, &mut budget, &mut path)
    }

    /// Copies a value out. A table that contains itself (directly or via
    /// its descendants) comes out empty where the cycle closes; at most
    /// `budget` entries are converted in all, so heavily shared structures
    /// cannot explode either; nesting past 32 levels comes out empty.
    fn host_value_within(&self, v: Value, depth: usize, budget: &mut usize, path: &mut Vec<usize>) -> LuaValue {
        match v {
            Value::Nil => LuaValue::Nil,
            Value::Bool(b) => LuaValue::Bool(b),
            Value::Int(i) => LuaValue::Int(i),
            Value::Float(f) => LuaValue::Float(f),
            Value::Str(s) => LuaValue::Str(s.get().as_bytes().to_vec()),
            Value::Func(_) => LuaValue::Function,
            Value::Table(t) => {
                if depth > 32 || path.contains(&t.addr()) {
                    return LuaValue::Table(vec![]);
                }
                path.push(t.addr());
                let mut pairs = Vec::new();
                let mut k = Value::Nil;
                while let Ok(Some((nk, nv))) = t.get().next(k) {
                    if *budget == 0 {
                        break;
                    }
                    *budget -= 1;
                    let hk = self.host_value_within(nk, depth + 1, budget, path);
                    let hv = self.host_value_within(nv, depth + 1, budget, path);
                    pairs.push((hk, hv));
                    k = nk;
                }
                path.pop();
                LuaValue::Table(pairs)
            }
        }
    }

    pub(crate) fn lua_value(&mut self, v: &LuaValue) -> VmResult<Value> {
        Ok(match v {
            LuaValue::Nil | LuaValue::Function => Value::Nil,
            LuaValue::Bool(b) => Value::Bool(*b),
            LuaValue::Int(i) => Value::Int(*i),
            LuaValue::Float(f) => Value::Float(*f),
            LuaValue::Str(s) => self.new_str(s),
            LuaValue::Table(pairs) => {
                let t = self.new_table(0, pairs.len());
                // Keep the table rooted while converting its contents.
                self.push(Value::Table(t))?;
                for (k, val) in pairs {
                    let kv = self.lua_value(k)?;
                    self.push(kv)?;
                    let vv = self.lua_value(val)?;
                    self.raw_set(t, kv, vv)?;
                    self.top -= 1;
                }
                self.top -= 1;
                Value::Table(t)
            }
        })
    }
}
