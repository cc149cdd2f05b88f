//! The standard library subset: base functions, `string`, `table`, `math`,
//! `os` (clock, time, exit) and `io.write`.
//!
//! Natives follow one calling convention (see [`NativeFn`]): arguments at
//! `stack[base..base+nargs]`, results pushed at the top. Argument errors read
//! exactly like lua5.4's (`bad argument #1 to 'insert' (table expected, got
//! nil)`), including the call-site name and the method-call adjustment.
//!
//! A native that creates heap values and then calls back into Lua must keep
//! those values on the stack: the collector only sees the stack.

mod base;
pub(crate) mod lpattern;
pub(crate) mod math;
mod os;
mod string;
mod table;

use crate::error::{Throw, VmResult};
use crate::function::{NativeFn, NativeKind};
use crate::gc::Gc;
use crate::meta::{to_integer, to_number};
use crate::number::Num;
use crate::state::State;
use crate::table::Table;
use crate::value::{LuaStr, Value};

pub(crate) fn open_libs(st: &mut State) {
    base::open(st);
    string::open(st);
    table::open(st);
    math::open(st);
    os::open(st);
}

/// Registers `name = f` in table `t`.
pub(crate) fn reg(st: &mut State, t: Gc<Table>, name: &'static str, f: NativeFn) {
    reg_kind(st, t, name, f, NativeKind::Plain);
}

pub(crate) fn reg_kind(st: &mut State, t: Gc<Table>, name: &'static str, f: NativeFn, kind: NativeKind) {
    let v = st.new_native(f, kind, vec![]);
    st.set_field(t, name, v);
}

/// Argument access for natives.
#[derive(Clone, Copy)]
pub(crate) struct Args {
    pub base: usize,
    pub n: usize,
    /// Qualified name (`string.rep`) used when no call-site name exists.
    pub fname: &'static str,
}

impl Args {
    pub(crate) fn new(base: usize, n: usize, fname: &'static str) -> Self {
        Args { base, n, fname }
    }
}

impl State {
    #[inline]
    pub(crate) fn arg(&self, a: Args, i: usize) -> Value {
        if i < a.n { self.stack[a.base + i] } else { Value::Nil }
    }

    /// "bad argument #i to 'f' (msg)", with lua5.4's method adjustment.
    pub(crate) fn arg_error(&self, a: Args, i: usize, msg: &str) -> Throw {
        let (name, method) = self.native_call_name(a.fname);
        let mut n = i + 1;
        if method {
            n -= 1;
            if n == 0 {
                return Throw::msg(format!("calling '{name}' on bad self ({msg})"));
            }
        }
        Throw::msg(format!("bad argument #{n} to '{name}' ({msg})"))
    }

    pub(crate) fn type_error(&self, a: Args, i: usize, expected: &str) -> Throw {
        let got = if i >= a.n { "no value".to_string() } else { self.typename_with_meta(self.arg(a, i)) };
        self.arg_error(a, i, &format!("{expected} expected, got {got}"))
    }

    fn typename_with_meta(&self, v: Value) -> String {
        if let Value::Table(t) = v
            && let Some(mt) = t.get().metatable
            && let Value::Str(s) = mt.get().get_str(self.names.name)
        {
            return s.get().to_str_lossy().into_owned();
        }
        v.type_name().to_string()
    }

    pub(crate) fn check_any(&self, a: Args, i: usize) -> VmResult<Value> {
        if i >= a.n {
            return Err(self.arg_error(a, i, "value expected"));
        }
        Ok(self.arg(a, i))
    }

    pub(crate) fn check_table(&self, a: Args, i: usize) -> VmResult<Gc<Table>> {
        match self.arg(a, i) {
            Value::Table(t) => Ok(t),
            _ => Err(self.type_error(a, i, "table")),
        }
    }

    pub(crate) fn check_int(&self, a: Args, i: usize) -> VmResult<i64> {
        let v = self.arg(a, i);
        match v {
            Value::Int(n) => Ok(n),
            _ => match to_number(v) {
                Some(_) => to_integer(v).ok_or_else(|| self.arg_error(a, i, "number has no integer representation")),
                None => Err(self.type_error(a, i, "number")),
            },
        }
    }

    pub(crate) fn opt_int(&self, a: Args, i: usize, default: i64) -> VmResult<i64> {
        if self.arg(a, i).is_nil() { Ok(default) } else { self.check_int(a, i) }
    }

    pub(crate) fn check_num(&self, a: Args, i: usize) -> VmResult<Num> {
        match to_number(self.arg(a, i)) {
            Some(n) => Ok(n),
            None => Err(self.type_error(a, i, "number")),
        }
    }

    pub(crate) fn check_float(&self, a: Args, i: usize) -> VmResult<f64> {
        Ok(match self.check_num(a, i)? {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        })
    }

    /// A string argument; numbers are converted (as luaL_checklstring does).
    pub(crate) fn check_str(&mut self, a: Args, i: usize) -> VmResult<Gc<LuaStr>> {
        match self.arg(a, i) {
            Value::Str(s) => Ok(s),
            v @ (Value::Int(_) | Value::Float(_)) => {
                let mut b = Vec::new();
                crate::meta::append_str_or_num(v, &mut b);
                let Value::Str(s) = self.new_str(&b) else { unreachable!() };
                // Keep it rooted where the argument was.
                self.stack[a.base + i] = Value::Str(s);
                Ok(s)
            }
            _ => Err(self.type_error(a, i, "string")),
        }
    }

    pub(crate) fn opt_str(&mut self, a: Args, i: usize) -> VmResult<Option<Gc<LuaStr>>> {
        if self.arg(a, i).is_nil() { Ok(None) } else { self.check_str(a, i).map(Some) }
    }

    /// An error a native raises "inside C" (PUC Lua's luaG_runerror from a
    /// C function): the message gets no position.
    pub(crate) fn unpositioned(&mut self, e: Throw) -> Throw {
        match e {
            Throw::Msg { msg, .. } => Throw::Error(self.new_str(msg.as_bytes())),
            other => other,
        }
    }

    /// Pushes a result and returns Ok(1), for one-result natives.
    pub(crate) fn ret1(&mut self, v: Value) -> VmResult<usize> {
        self.push(v)?;
        Ok(1)
    }
}
