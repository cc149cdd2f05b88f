//! Base functions: print, type, tostring, tonumber, pairs, ipairs, next,
//! select, raw*, metatables, error, assert, pcall, xpcall, load, require.

use super::{Args, reg, reg_kind};
use crate::error::{Throw, VmResult};
use crate::function::NativeKind;
use crate::meta::tostring_basic;
use crate::number::{Num, str_to_number};
use crate::state::State;
use crate::value::Value;

pub(super) fn open(st: &mut State) {
    let g = st.globals;
    st.set_field(g, "_G", Value::Table(g));
    let ver = st.new_str(b"Lua 5.4");
    st.set_field(g, "_VERSION", ver);
    reg(st, g, "print", print);
    reg(st, g, "type", type_);
    reg(st, g, "tostring", tostring);
    reg(st, g, "tonumber", tonumber);
    reg(st, g, "ipairs", ipairs);
    reg(st, g, "pairs", pairs);
    reg_kind(st, g, "next", next, NativeKind::Next);
    reg(st, g, "select", select);
    reg(st, g, "rawget", rawget);
    reg(st, g, "rawset", rawset);
    reg(st, g, "rawequal", rawequal);
    reg(st, g, "rawlen", rawlen);
    reg(st, g, "setmetatable", setmetatable);
    reg(st, g, "getmetatable", getmetatable);
    reg(st, g, "assert", assert);
    reg(st, g, "error", error);
    reg_kind(st, g, "pcall", pcall, NativeKind::Pcall);
    reg(st, g, "xpcall", xpcall);
    reg(st, g, "load", load);
    reg(st, g, "require", require);
    reg(st, g, "collectgarbage", collectgarbage);
    let package = st.new_table(0, 4);
    st.set_field(package, "loaded", Value::Table(st.loaded));
    let path = st.new_str(b"./?.lua");
    st.set_field(package, "path", path);
    st.set_field(g, "package", Value::Table(package));
    let loaded = st.loaded;
    st.set_field(loaded, "_G", Value::Table(g));
    st.set_field(loaded, "package", Value::Table(package));
}

fn print(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let mut buf = Vec::new();
    for i in 0..n {
        if i > 0 {
            buf.push(b'\t');
        }
        let v = st.stack[base + i];
        match v {
            Value::Str(s) => buf.extend_from_slice(s.get().as_bytes()),
            Value::Int(_) | Value::Float(_) | Value::Nil | Value::Bool(_) => buf.extend_from_slice(&tostring_basic(v)),
            _ => {
                let s = st.tostring(v)?;
                let Value::Str(s) = s else { unreachable!() };
                buf.extend_from_slice(s.get().as_bytes());
            }
        }
    }
    buf.push(b'\n');
    st.write_out(&buf);
    Ok(0)
}

fn type_(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "type");
    let v = st.check_any(a, 0)?;
    let s = st.new_str(v.type_name().as_bytes());
    st.ret1(s)
}

fn tostring(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "tostring");
    let v = st.check_any(a, 0)?;
    let s = st.tostring(v)?;
    st.ret1(s)
}

fn tonumber(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "tonumber");
    if st.arg(a, 1).is_nil() {
        let v = st.check_any(a, 0)?;
        let r = match v {
            Value::Int(_) | Value::Float(_) => v,
            Value::Str(s) => match str_to_number(s.get().as_bytes()) {
                Some(Num::Int(i)) => Value::Int(i),
                Some(Num::Float(f)) => Value::Float(f),
                None => Value::Nil,
            },
            _ => Value::Nil,
        };
        return st.ret1(r);
    }
    let b = st.check_int(a, 1)?;
    let Value::Str(s) = st.arg(a, 0) else {
        return Err(st.type_error(a, 0, "string"));
    };
    if !(2..=36).contains(&b) {
        return Err(st.arg_error(a, 1, "base out of range"));
    }
    let bytes = s.get().as_bytes();
    let t = trim(bytes);
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut acc: i64 = 0;
    let mut ok = !digits.is_empty();
    for &c in digits {
        let d = (c as char).to_digit(36);
        match d {
            Some(d) if (d as i64) < b => acc = acc.wrapping_mul(b).wrapping_add(d as i64),
            _ => {
                ok = false;
                break;
            }
        }
    }
    st.ret1(if ok { Value::Int(if neg { acc.wrapping_neg() } else { acc }) } else { Value::Nil })
}

fn trim(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let s = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let e = b.iter().rposition(|c| !ws(c)).map(|e| e + 1).unwrap_or(s);
    &b[s..e.max(s)]
}

fn ipairs_iter(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "ipairs_iter");
    let i = st.check_int(a, 1)?.wrapping_add(1);
    let t = st.arg(a, 0);
    let v = match t {
        Value::Table(tb) if tb.get().metatable.is_none() => tb.get().get_int(i),
        _ => st.index(t, Value::Int(i), None).map_err(|e| st.unpositioned(e))?,
    };
    if v.is_nil() {
        return st.ret1(Value::Nil);
    }
    st.push(Value::Int(i))?;
    st.push(v)?;
    Ok(2)
}

fn ipairs(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "ipairs");
    let t = st.check_any(a, 0)?;
    let it = st.new_native(ipairs_iter, NativeKind::IpairsIter, vec![]);
    st.push(it)?;
    st.push(t)?;
    st.push(Value::Int(0))?;
    Ok(3)
}

fn pairs(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "pairs");
    let t = st.check_any(a, 0)?;
    let pairs_ev = st.new_str(b"__pairs");
    let h = st.metafield(t, pairs_ev);
    if !h.is_nil() {
        let func = st.top;
        st.push(h)?;
        st.push(t)?;
        let got = st.call_at(func, 1)?;
        for i in got..3 {
            st.stack[func + i] = Value::Nil;
        }
        st.top = func + 3;
        return Ok(3);
    }
    let k = st.new_str(b"next");
    let next_fn = st.globals.get().get_str(k);
    let next_fn = if let Value::Func(_) = next_fn { next_fn } else { st.new_native(next, NativeKind::Next, vec![]) };
    st.push(next_fn)?;
    st.push(t)?;
    st.push(Value::Nil)?;
    Ok(3)
}

fn next(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "next");
    let t = st.check_table(a, 0)?;
    match t.get().next(st.arg(a, 1)) {
        Ok(Some((k, v))) => {
            st.push(k)?;
            st.push(v)?;
            Ok(2)
        }
        Ok(None) => st.ret1(Value::Nil),
        Err(()) => Err(Throw::Error(st.new_str(b"invalid key to 'next'"))),
    }
}

fn select(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "select");
    // Only the first character counts, as in lua5.4.
    if let Value::Str(s) = st.arg(a, 0)
        && s.get().as_bytes().first() == Some(&b'#')
    {
        return st.ret1(Value::Int(n as i64 - 1));
    }
    let i = st.check_int(a, 0)?;
    let rest = n as i64 - 1;
    let start = if i < 0 {
        // Compare without negating: -mininteger overflows.
        if i < -rest {
            return Err(st.arg_error(a, 0, "index out of range"));
        }
        rest + i
    } else if i == 0 {
        return Err(st.arg_error(a, 0, "index out of range"));
    } else {
        (i - 1).min(rest)
    };
    let count = (rest - start) as usize;
    // Results are the tail of the arguments: leave them where they are.
    let first = base + 1 + start as usize;
    for k in 0..count {
        st.stack[base + k] = st.stack[first + k];
    }
    st.top = base + count;
    Ok(count)
}

fn rawget(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "rawget");
    let t = st.check_table(a, 0)?;
    let k = st.check_any(a, 1)?;
    let v = t.get().get(k);
    st.ret1(v)
}

fn rawset(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "rawset");
    let t = st.check_table(a, 0)?;
    let k = st.check_any(a, 1)?;
    let v = st.check_any(a, 2)?;
    // Raised inside the native, as lua_rawset does: no position.
    st.raw_set(t, k, v).map_err(|e| st.unpositioned(e))?;
    st.ret1(Value::Table(t))
}

fn rawequal(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "rawequal");
    let x = st.check_any(a, 0)?;
    let y = st.check_any(a, 1)?;
    st.ret1(Value::Bool(x.raw_eq(y)))
}

fn rawlen(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "rawlen");
    let r = match st.arg(a, 0) {
        Value::Table(t) => t.get().border(),
        Value::Str(s) => s.get().len() as i64,
        _ => return Err(st.type_error(a, 0, "table or string")),
    };
    st.ret1(Value::Int(r))
}

fn setmetatable(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "setmetatable");
    let t = st.check_table(a, 0)?;
    let mt = match st.arg(a, 1) {
        Value::Nil => None,
        Value::Table(m) => Some(m),
        _ => return Err(st.type_error(a, 1, "nil or table")),
    };
    if n < 2 {
        return Err(st.type_error(a, 1, "nil or table"));
    }
    if let Some(old) = t.get().metatable
        && !old.get().get_str(st.names.metatable).is_nil()
    {
        return Err(Throw::msg("cannot change a protected metatable"));
    }
    t.get_mut().set_metatable(mt);
    st.ret1(Value::Table(t))
}

fn getmetatable(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "getmetatable");
    let v = st.check_any(a, 0)?;
    let r = match st.metatable_of(v) {
        Some(mt) => {
            let p = mt.get().get_str(st.names.metatable);
            if p.is_nil() { Value::Table(mt) } else { p }
        }
        None => Value::Nil,
    };
    st.ret1(r)
}

fn assert(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "assert");
    let v = st.check_any(a, 0)?;
    if v.truthy() {
        // Return all arguments: they already sit below top.
        st.top = base + n;
        return Ok(n);
    }
    // 5.4 raises the message like error(msg) at level 1.
    let msg = if n >= 2 { st.arg(a, 1) } else { st.new_str(b"assertion failed!") };
    Err(positioned_error(st, msg, 1))
}

fn error(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "error");
    let v = st.arg(a, 0);
    let level = st.opt_int(a, 1, 1)?;
    Err(positioned_error(st, v, level))
}

/// `error(v, level)`: string messages get the position of the function
/// `level` levels up (1 = the caller of `error`).
fn positioned_error(st: &mut State, v: Value, level: i64) -> Throw {
    // Level 1 is the caller of `error`. Called from a native (`pcall(error,
    // msg, 2)`), that caller has no position and the Lua levels start at 2.
    let lua_level = if st.native_from_lua { level - 1 } else { level - 2 };
    if let Value::Str(s) = v
        && level > 0
        && lua_level >= 0
    {
        let pos = st.where_(lua_level as usize);
        if !pos.is_empty() {
            let mut b = pos.into_bytes();
            b.push(b' ');
            b.extend_from_slice(s.get().as_bytes());
            return Throw::Error(st.new_str(&b));
        }
    }
    Throw::Error(v)
}

/// `pcall` when not called by the interpreter directly (e.g. `pcall(pcall,
/// f)`): recursive, bounded like any native re-entry.
fn pcall(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "pcall");
    st.check_any(a, 0)?;
    let depth = st.frames.len();
    match st.call_at(base, n - 1) {
        Ok(k) => {
            for i in (0..k).rev() {
                st.stack[base + 1 + i] = st.stack[base + i];
            }
            st.stack[base] = Value::Bool(true);
            st.top = base + k + 1;
            Ok(k + 1)
        }
        Err(Throw::Error(v)) => {
            st.frames.truncate(depth);
            st.top = base;
            st.push(Value::Bool(false))?;
            st.push(v)?;
            Ok(2)
        }
        Err(Throw::Msg { msg, .. }) => {
            st.frames.truncate(depth);
            st.top = base;
            st.push(Value::Bool(false))?;
            let s = st.new_str(msg.as_bytes());
            st.push(s)?;
            Ok(2)
        }
        Err(e) => Err(e),
    }
}

fn xpcall(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "xpcall");
    let h = st.arg(a, 1);
    if !matches!(h, Value::Func(_)) {
        return Err(st.type_error(a, 1, "function"));
    }
    // Call f with the arguments after the handler.
    let func = st.top;
    st.push(st.stack[base])?;
    for i in 2..n {
        st.push(st.stack[base + i])?;
    }
    let depth = st.frames.len();
    match st.call_at(func, n.saturating_sub(2)) {
        Ok(k) => {
            st.stack[base] = Value::Bool(true);
            for i in 0..k {
                st.stack[base + 1 + i] = st.stack[func + i];
            }
            st.top = base + 1 + k;
            Ok(k + 1)
        }
        Err(Throw::Error(v)) => {
            st.frames.truncate(depth);
            let r = handle_error(st, h, v, depth)?;
            st.top = base;
            st.push(Value::Bool(false))?;
            st.push(r)?;
            Ok(2)
        }
        Err(Throw::Msg { msg, .. }) => {
            st.frames.truncate(depth);
            let m = st.new_str(msg.as_bytes());
            let r = handle_error(st, h, m, depth)?;
            st.top = base;
            st.push(Value::Bool(false))?;
            st.push(r)?;
            Ok(2)
        }
        Err(e) => Err(e),
    }
}

/// Runs xpcall's message handler; a handler that itself fails gives
/// lua5.4's "error in error handling".
fn handle_error(st: &mut State, h: Value, err: Value, depth: usize) -> VmResult<Value> {
    match st.call1(h, &[err]) {
        Ok(v) => Ok(v),
        Err(Throw::Error(_) | Throw::Msg { .. }) => {
            st.frames.truncate(depth);
            Ok(st.new_str(b"error in error handling"))
        }
        Err(other) => Err(other),
    }
}

fn load(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "load");
    // Numbers are strings here (lua_tolstring); other values would have to
    // be reader functions.
    let chunk = match st.arg(a, 0) {
        Value::Str(_) | Value::Int(_) | Value::Float(_) => st.check_str(a, 0)?,
        Value::Func(_) => {
            return Err(st.arg_error(a, 0, "loading from a reader function is not supported by Ember"));
        }
        _ => return Err(st.type_error(a, 0, "function")),
    };
    if !st.arg(a, 3).is_nil() {
        return Err(st.arg_error(a, 3, "custom environments are not supported by Ember"));
    }
    let src = chunk.get().as_bytes().to_vec();
    let name = match st.opt_str(a, 1)? {
        Some(s) => crate::engine::chunk_display_name(&s.get().to_str_lossy()),
        None => crate::engine::chunk_display_name_for_string(&src),
    };
    if let Some(mode) = st.opt_str(a, 2)?
        && !mode.get().as_bytes().contains(&b't')
    {
        st.push(Value::Nil)?;
        let m = st.new_str(format!("attempt to load a text chunk (mode is '{}')", mode.get().to_str_lossy()).as_bytes());
        st.push(m)?;
        return Ok(2);
    }
    match crate::engine::compile_source(&src, &name) {
        Ok(proto) => {
            let inst = st.instantiate(&proto);
            let f = st.new_lua_closure(inst, vec![]);
            st.ret1(f)
        }
        Err(e) => {
            st.push(Value::Nil)?;
            let m = st.new_str(e.as_bytes());
            st.push(m)?;
            Ok(2)
        }
    }
}

fn require(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "require");
    let name_s = st.check_str(a, 0)?;
    let name = name_s.get().to_str_lossy().into_owned();
    let key = Value::Str(name_s);
    let existing = st.loaded.get().get(key);
    if !existing.is_nil() {
        return st.ret1(existing);
    }
    let Some((proto, loader_data)) = st.engine.find_module(&name)? else {
        return Err(Throw::msg(format!("module '{name}' not found:\n\tno field package.preload['{name}']\n\tno file './{name}.lua'")));
    };
    // The loader data gets a slot of its own: the chunk may reuse its
    // argument slots (a tail call), and a collection may run meanwhile.
    let data_slot = st.top;
    let data = st.new_str(loader_data.as_bytes());
    st.push(data)?;
    let inst = st.instantiate(&proto);
    let f = st.new_lua_closure(inst, vec![]);
    let func = st.top;
    st.push(f)?;
    st.push(key)?;
    st.push(data)?;
    let got = st.call_at(func, 2)?;
    let r = if got > 0 { st.stack[func] } else { Value::Nil };
    st.top = func;
    if !r.is_nil() {
        st.raw_set(st.loaded, key, r)?;
    }
    if st.loaded.get().get(key).is_nil() {
        st.raw_set(st.loaded, key, Value::Bool(true))?;
    }
    let v = st.loaded.get().get(key);
    let data = st.stack[data_slot];
    st.top = data_slot;
    st.push(v)?;
    st.push(data)?;
    Ok(2)
}

fn collectgarbage(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "collectgarbage");
    let opt = st.opt_str(a, 0)?.map(|s| s.get().to_str_lossy().into_owned()).unwrap_or_else(|| "collect".into());
    // Ember's collector is one stop-the-world mark-sweep; the tuning options
    // are accepted and remembered (as lua5.4 reports them) but change nothing.
    let r = match opt.as_str() {
        "collect" => {
            st.collect_garbage();
            Value::Int(0)
        }
        "count" => Value::Float(st.heap.bytes as f64 / 1024.0),
        "step" => {
            st.collect_garbage();
            Value::Bool(false)
        }
        "stop" => {
            st.heap.stopped = true;
            Value::Int(0)
        }
        "restart" => {
            st.heap.stopped = false;
            Value::Int(0)
        }
        "isrunning" => Value::Bool(!st.heap.stopped),
        "incremental" | "generational" => {
            let prev = std::mem::replace(&mut st.gc_mode, if opt == "incremental" { "incremental" } else { "generational" });
            st.new_str(prev.as_bytes())
        }
        "setpause" => {
            let v = st.opt_int(a, 1, 0)?;
            Value::Int(std::mem::replace(&mut st.gc_pause, v))
        }
        "setstepmul" => {
            let v = st.opt_int(a, 1, 0)?;
            Value::Int(std::mem::replace(&mut st.gc_stepmul, v))
        }
        _ => return Err(st.arg_error(a, 0, &format!("invalid option '{opt}'"))),
    };
    st.ret1(r)
}
