//! The `table` library: insert, remove, concat, unpack, sort, pack, move.
//!
//! Functions use raw access on tables without a metatable (the common case)
//! and the metamethod-aware paths otherwise, as lua5.4's `lua_geti` does.

use super::{Args, reg};
use crate::error::{Throw, VmResult};
use crate::gc::Gc;
use crate::meta::append_str_or_num;
use crate::state::State;
use crate::table::Table;
use crate::value::Value;

pub(super) fn open(st: &mut State) {
    let t = st.new_table(0, 8);
    reg(st, t, "insert", insert);
    reg(st, t, "remove", remove);
    reg(st, t, "concat", concat);
    reg(st, t, "unpack", unpack);
    reg(st, t, "sort", sort);
    reg(st, t, "pack", pack);
    reg(st, t, "move", move_);
    let g = st.globals;
    st.set_field(g, "table", Value::Table(t));
    let loaded = st.loaded;
    st.set_field(loaded, "table", Value::Table(t));
}

fn geti(st: &mut State, t: Gc<Table>, i: i64) -> VmResult<Value> {
    if t.get().metatable.is_none() {
        return Ok(t.get().get_int(i));
    }
    st.index(Value::Table(t), Value::Int(i), None)
}

fn seti(st: &mut State, t: Gc<Table>, i: i64, v: Value) -> VmResult<()> {
    if t.get().metatable.is_none() {
        st.raw_set_int(t, i, v);
        return Ok(());
    }
    st.set_index(Value::Table(t), Value::Int(i), v, None)
}

fn length(st: &mut State, t: Gc<Table>) -> VmResult<i64> {
    if t.get().metatable.is_none() {
        return Ok(t.get().border());
    }
    match st.len(Value::Table(t), crate::error::Culprit::Rk(0))? {
        Value::Int(n) => Ok(n),
        Value::Float(f) => crate::number::float_to_int_exact(f).ok_or_else(|| Throw::msg("object length is not an integer")),
        _ => Err(Throw::msg("object length is not an integer")),
    }
}

fn insert(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "table.insert");
    let t = st.check_table(a, 0)?;
    let e = length(st, t)?.wrapping_add(1);
    match n {
        2 => {
            let v = st.arg(a, 1);
            seti(st, t, e, v)?;
        }
        3 => {
            let pos = st.check_int(a, 1)?;
            if (pos as u64).wrapping_sub(1) >= e as u64 {
                return Err(st.arg_error(a, 1, "position out of bounds"));
            }
            let mut i = e;
            while i > pos {
                let v = geti(st, t, i - 1)?;
                seti(st, t, i, v)?;
                i -= 1;
            }
            let v = st.arg(a, 2);
            seti(st, t, pos, v)?;
        }
        _ => return Err(Throw::msg("wrong number of arguments to 'insert'")),
    }
    Ok(0)
}

fn remove(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "table.remove");
    let t = st.check_table(a, 0)?;
    let size = length(st, t)?;
    let mut pos = st.opt_int(a, 1, size)?;
    if n >= 2 && pos != size && (pos as u64).wrapping_sub(1) > size as u64 {
        // lua5.4.4 reports this check against argument #1.
        return Err(st.arg_error(a, 0, "position out of bounds"));
    }
    let v = geti(st, t, pos)?;
    while pos < size {
        let next = geti(st, t, pos + 1)?;
        seti(st, t, pos, next)?;
        pos += 1;
    }
    if pos <= size || n < 2 {
        seti(st, t, pos, Value::Nil)?;
    }
    if t.get().metatable.is_none() {
        t.get_mut().trim_array();
    }
    st.ret1(v)
}

fn concat(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "table.concat");
    let t = st.check_table(a, 0)?;
    let sep = st.opt_str(a, 1)?;
    let i = st.opt_int(a, 2, 1)?;
    let j = if st.arg(a, 3).is_nil() { length(st, t)? } else { st.check_int(a, 3)? };
    let sepb: Vec<u8> = sep.map(|s| s.get().as_bytes().to_vec()).unwrap_or_default();
    let mut out = Vec::new();
    let mut k = i;
    while k <= j {
        let v = geti(st, t, k)?;
        match v {
            Value::Str(_) | Value::Int(_) | Value::Float(_) => append_str_or_num(v, &mut out),
            other => {
                return Err(Throw::msg(
                    format!("invalid value (at index {k}) in table for 'concat'")
                        .replace(&format!("(at index {k})"), &format!("({}) at index {k}", other.type_name())),
                ));
            }
        }
        if k < j {
            out.extend_from_slice(&sepb);
        }
        if k == i64::MAX {
            break;
        }
        k += 1;
    }
    let v = st.new_str(&out);
    st.ret1(v)
}

fn unpack(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "table.unpack");
    let tv = st.arg(a, 0);
    let i = st.opt_int(a, 1, 1)?;
    let j = if st.arg(a, 2).is_nil() {
        match tv {
            Value::Table(t) => length(st, t)?,
            _ => st.len(tv, crate::error::Culprit::Rk(0)).map(|v| if let Value::Int(k) = v { k } else { 0 })?,
        }
    } else {
        st.check_int(a, 2)?
    };
    if i > j {
        return Ok(0);
    }
    let count = (j as i128 - i as i128 + 1) as u128;
    if count >= 1_000_000 {
        return Err(Throw::msg("too many results to unpack"));
    }
    st.ensure_stack(st.top + count as usize)?;
    for k in 0..count as i64 {
        let v = match tv {
            Value::Table(t) => geti(st, t, i + k)?,
            _ => st.index(tv, Value::Int(i + k), None)?,
        };
        st.push(v)?;
    }
    Ok(count as usize)
}

fn pack(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let t = st.new_table(n, 1);
    for i in 0..n {
        let v = st.stack[base + i];
        let d = t.get_mut().set_int_positional(i as i64 + 1, v);
        st.heap.charge(d);
    }
    st.set_field(t, "n", Value::Int(n as i64));
    st.ret1(Value::Table(t))
}

fn move_(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "table.move");
    let a1 = st.check_table(a, 0)?;
    let f = st.check_int(a, 1)?;
    let e = st.check_int(a, 2)?;
    let t = st.check_int(a, 3)?;
    let a2 = if st.arg(a, 4).is_nil() { a1 } else { st.check_table(a, 4)? };
    if e >= f {
        if !(f > 0 || e < i64::MAX + f) {
            return Err(st.arg_error(a, 2, "too many elements to move"));
        }
        if t > i64::MAX - (e - f) {
            return Err(st.arg_error(a, 3, "destination wrap around"));
        }
        if t > e || t <= f || a1 != a2 {
            for k in 0..=(e - f) {
                let v = geti(st, a1, f + k)?;
                seti(st, a2, t + k, v)?;
            }
        } else {
            for k in (0..=(e - f)).rev() {
                let v = geti(st, a1, f + k)?;
                seti(st, a2, t + k, v)?;
            }
        }
    }
    st.ret1(Value::Table(a2))
}

/// Merge sort with a fallible comparator (a Lua function may raise, and a
/// bad comparator must not crash us). The values are also kept on the
/// stack while comparators run, so the collector sees them.
fn sort(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "table.sort");
    let t = st.check_table(a, 0)?;
    let len = length(st, t)?;
    if len > i32::MAX as i64 {
        return Err(st.arg_error(a, 0, "array too big"));
    }
    let cmp = st.arg(a, 1);
    if !cmp.is_nil() && !matches!(cmp, Value::Func(_)) {
        return Err(st.type_error(a, 1, "function"));
    }
    let mut vals = Vec::with_capacity(len as usize);
    for i in 1..=len {
        vals.push(geti(st, t, i)?);
    }
    let root = st.top;
    for v in &vals {
        st.push(*v)?;
    }
    let mut buf = vals.clone();
    merge_sort(st, &mut vals, &mut buf, cmp)?;
    st.top = root;
    for (i, v) in vals.into_iter().enumerate() {
        seti(st, t, i as i64 + 1, v)?;
    }
    Ok(0)
}

fn less(st: &mut State, cmp: Value, x: Value, y: Value) -> VmResult<bool> {
    if cmp.is_nil() { st.less_than(x, y) } else { Ok(st.call1(cmp, &[x, y])?.truthy()) }
}

fn merge_sort(st: &mut State, v: &mut [Value], buf: &mut [Value], cmp: Value) -> VmResult<()> {
    let n = v.len();
    if n <= 1 {
        return Ok(());
    }
    if n <= 12 {
        // Insertion sort for short runs.
        for i in 1..n {
            let x = v[i];
            let mut j = i;
            while j > 0 && less(st, cmp, x, v[j - 1])? {
                v[j] = v[j - 1];
                j -= 1;
            }
            v[j] = x;
        }
        return Ok(());
    }
    let mid = n / 2;
    {
        let (l, r) = v.split_at_mut(mid);
        let (bl, br) = buf.split_at_mut(mid);
        merge_sort(st, l, bl, cmp)?;
        merge_sort(st, r, br, cmp)?;
    }
    buf[..n].copy_from_slice(v);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if less(st, cmp, buf[j], buf[i])? {
            v[k] = buf[j];
            j += 1;
        } else {
            v[k] = buf[i];
            i += 1;
        }
        k += 1;
    }
    while i < mid {
        v[k] = buf[i];
        i += 1;
        k += 1;
    }
    while j < n {
        v[k] = buf[j];
        j += 1;
        k += 1;
    }
    Ok(())
}
