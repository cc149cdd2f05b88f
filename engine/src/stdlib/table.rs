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

// Errors these raise happen "inside C" in PUC Lua (lua_geti, lua_seti,
// luaL_len): their messages carry no position and no variable name.

fn geti(st: &mut State, t: Gc<Table>, i: i64) -> VmResult<Value> {
    if t.get().metatable.is_none() {
        return Ok(t.get().get_int(i));
    }
    st.index(Value::Table(t), Value::Int(i), None).map_err(|e| st.unpositioned(e))
}

fn seti(st: &mut State, t: Gc<Table>, i: i64, v: Value) -> VmResult<()> {
    if t.get().metatable.is_none() {
        st.raw_set_int(t, i, v);
        return Ok(());
    }
    st.set_index(Value::Table(t), Value::Int(i), v, None).map_err(|e| st.unpositioned(e))
}

/// `#v` as luaL_len computes it: any value, `__len` allowed, the result
/// must convert to an integer (numeric strings do).
fn length_of(st: &mut State, v: Value) -> VmResult<i64> {
    if let Value::Table(t) = v
        && t.get().metatable.is_none()
    {
        return Ok(t.get().border());
    }
    let n = st.len(v, crate::error::Culprit::Rk(0)).map_err(|e| st.unpositioned(e))?;
    crate::meta::to_integer(n).ok_or_else(|| Throw::Error(st.new_str(b"object length is not an integer")))
}

fn length(st: &mut State, t: Gc<Table>) -> VmResult<i64> {
    length_of(st, Value::Table(t))
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
                st.tick()?;
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
    // The removed value stays on the stack (the result slot) while the
    // shifting below may run metamethods, and so collections.
    let v = geti(st, t, pos)?;
    st.push(v)?;
    while pos < size {
        st.tick()?;
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
    Ok(1)
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
        st.tick()?;
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
    let j = if st.arg(a, 2).is_nil() { length_of(st, tv)? } else { st.check_int(a, 2)? };
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
            _ => st.index(tv, Value::Int(i + k), None).map_err(|e| st.unpositioned(e))?,
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
    let f = st.check_int(a, 1)?;
    let e = st.check_int(a, 2)?;
    let t = st.check_int(a, 3)?;
    let a1 = st.check_table(a, 0)?;
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
                st.tick()?;
                let v = geti(st, a1, f + k)?;
                seti(st, a2, t + k, v)?;
            }
        } else {
            for k in (0..=(e - f)).rev() {
                st.tick()?;
                let v = geti(st, a1, f + k)?;
                seti(st, a2, t + k, v)?;
            }
        }
    }
    st.ret1(Value::Table(a2))
}

/// `table.sort`: the same quicksort as PUC Lua 5.4 (median of three,
/// the same partition scheme and its "invalid order function" checks), so
/// ties and inconsistent comparators give lua5.4's results. It sorts a copy
/// of the array part; the values are also kept on the stack while
/// comparators run, so the collector sees them.
fn sort(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "table.sort");
    let t = st.check_table(a, 0)?;
    let len = length(st, t)?;
    let cmp = st.arg(a, 1);
    if len <= 1 {
        return Ok(0);
    }
    if len >= i32::MAX as i64 {
        return Err(st.arg_error(a, 0, "array too big"));
    }
    if !cmp.is_nil() && !matches!(cmp, Value::Func(_)) {
        return Err(st.type_error(a, 1, "function"));
    }
    if !st.heap.can_grow_by(len as usize * 32) {
        return Err(Throw::msg("not enough memory"));
    }
    // Every value lives on the stack from the moment it is read until it
    // is written back: reading and writing may run metamethods, and those
    // may collect.
    let root = st.top;
    for i in 1..=len {
        st.tick()?;
        let x = geti(st, t, i)?;
        st.push(x)?;
    }
    let mut v = Vec::with_capacity(len as usize + 1);
    v.push(Value::Nil); // 1-based, like the table
    v.extend_from_slice(&st.stack[root..root + len as usize]);
    let mut s = Sorter { st, cmp, v };
    s.auxsort(1, len as usize, 0)?;
    let v = std::mem::take(&mut s.v);
    st.stack[root..root + len as usize].copy_from_slice(&v[1..]);
    for i in 1..=len {
        let x = st.stack[root + i as usize - 1];
        seti(st, t, i, x)?;
    }
    st.top = root;
    Ok(0)
}

struct Sorter<'a> {
    st: &'a mut State,
    cmp: Value,
    v: Vec<Value>,
}

impl Sorter<'_> {
    fn less(&mut self, x: Value, y: Value) -> VmResult<bool> {
        if self.cmp.is_nil() {
            self.st.less_than(x, y).map_err(|e| self.st.unpositioned(e))
        } else {
            Ok(self.st.call1(self.cmp, &[x, y])?.truthy())
        }
    }

    fn invalid() -> Throw {
        Throw::msg("invalid order function for sorting")
    }

    fn partition(&mut self, lo: usize, up: usize) -> VmResult<usize> {
        let pivot = self.v[up - 1];
        let (mut i, mut j) = (lo, up - 1);
        loop {
            i += 1;
            while self.less(self.v[i], pivot)? {
                if i == up - 1 {
                    return Err(Self::invalid());
                }
                i += 1;
            }
            j -= 1;
            while self.less(pivot, self.v[j])? {
                if j < i {
                    return Err(Self::invalid());
                }
                j -= 1;
            }
            if j < i {
                self.v.swap(up - 1, i);
                return Ok(i);
            }
            self.v.swap(i, j);
        }
    }

    fn auxsort(&mut self, mut lo: usize, mut up: usize, mut rnd: u32) -> VmResult<()> {
        while lo < up {
            if self.less(self.v[up], self.v[lo])? {
                self.v.swap(lo, up);
            }
            if up - lo == 1 {
                break;
            }
            let mut p = if up - lo < 100 || rnd == 0 {
                (lo + up) / 2
            } else {
                let r4 = (up - lo) / 4;
                rnd as usize % (r4 * 2) + (lo + r4)
            };
            if self.less(self.v[p], self.v[lo])? {
                self.v.swap(p, lo);
            } else if self.less(self.v[up], self.v[p])? {
                self.v.swap(p, up);
            }
            if up - lo == 2 {
                break;
            }
            self.v.swap(p, up - 1);
            p = self.partition(lo, up)?;
            let n;
            if p - lo < up - p {
                self.auxsort(lo, p - 1, rnd)?;
                n = p - lo;
                lo = p + 1;
            } else {
                self.auxsort(p + 1, up, rnd)?;
                n = up - p;
                up = p - 1;
            }
            if (up.wrapping_sub(lo)) / 128 > n {
                // PUC Lua picks a clock-based value here; any value is a
                // valid choice, and a fixed one keeps runs reproducible.
                rnd = 0x9E37_79B9;
            }
        }
        Ok(())
    }
}
