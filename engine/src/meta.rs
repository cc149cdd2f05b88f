//! The slow paths of Lua's operators: coercions and metamethods.
//!
//! The interpreter inlines the common cases (integer and float arithmetic,
//! plain table reads); everything else comes here. Later tiers call the same
//! functions from their runtime stubs, so semantics live in one place.

use crate::error::{Culprit, Throw, VmResult};
use crate::number::{self, Num, float_to_int_exact, str_to_number};
use crate::state::State;
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    IDiv,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
    Unm,
    BNot,
}

impl ArithOp {
    fn is_bitwise(self) -> bool {
        matches!(self, ArithOp::BAnd | ArithOp::BOr | ArithOp::BXor | ArithOp::Shl | ArithOp::Shr | ArithOp::BNot)
    }
    /// Event name without the underscores, as string-arith errors use it.
    fn event(self) -> &'static str {
        match self {
            ArithOp::Add => "add",
            ArithOp::Sub => "sub",
            ArithOp::Mul => "mul",
            ArithOp::Div => "div",
            ArithOp::Mod => "mod",
            ArithOp::Pow => "pow",
            ArithOp::IDiv => "idiv",
            ArithOp::BAnd => "band",
            ArithOp::BOr => "bor",
            ArithOp::BXor => "bxor",
            ArithOp::Shl => "shl",
            ArithOp::Shr => "shr",
            ArithOp::Unm => "unm",
            ArithOp::BNot => "bnot",
        }
    }
}

/// Converts for arithmetic: numbers, and strings that read as numbers.
#[inline]
pub(crate) fn to_number(v: Value) -> Option<Num> {
    match v {
        Value::Int(i) => Some(Num::Int(i)),
        Value::Float(f) => Some(Num::Float(f)),
        Value::Str(s) => str_to_number(s.get().as_bytes()),
        _ => None,
    }
}

/// Integer conversion for bitwise operators and integer arguments: floats
/// with an exact integer value convert, strings convert via their number.
pub(crate) fn to_integer(v: Value) -> Option<i64> {
    match to_number(v)? {
        Num::Int(i) => Some(i),
        Num::Float(f) => float_to_int_exact(f),
    }
}

/// Pure numeric arithmetic (no metamethods). `Err` carries an error
/// message; `Ok(None)` means "not numbers".
pub(crate) fn arith_num(op: ArithOp, a: Num, b: Num) -> Result<Value, &'static str> {
    use ArithOp::*;
    if op.is_bitwise() {
        let to_i = |n: Num| match n {
            Num::Int(i) => Some(i),
            Num::Float(f) => float_to_int_exact(f),
        };
        let (Some(x), Some(y)) = (to_i(a), to_i(b)) else {
            return Err("number has no integer representation");
        };
        return Ok(Value::Int(match op {
            BAnd => x & y,
            BOr => x | y,
            BXor => x ^ y,
            Shl => number::shift_left(x, y),
            Shr => number::shift_left(x, y.wrapping_neg()),
            BNot => !x,
            _ => unreachable!(),
        }));
    }
    match (a, b) {
        (Num::Int(x), Num::Int(y)) if !matches!(op, Div | Pow) => Ok(Value::Int(match op {
            Add => x.wrapping_add(y),
            Sub => x.wrapping_sub(y),
            Mul => x.wrapping_mul(y),
            Unm => x.wrapping_neg(),
            IDiv => {
                if y == 0 {
                    return Err("attempt to divide by zero");
                }
                number::int_floor_div(x, y)
            }
            Mod => {
                if y == 0 {
                    return Err("attempt to perform 'n%%0'");
                }
                number::int_mod(x, y)
            }
            _ => unreachable!(),
        })),
        _ => {
            let f = |n: Num| match n {
                Num::Int(i) => i as f64,
                Num::Float(f) => f,
            };
            let (x, y) = (f(a), f(b));
            Ok(Value::Float(match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                Pow => {
                    if y == 2.0 {
                        x * x
                    } else {
                        x.powf(y)
                    }
                }
                IDiv => (x / y).floor(),
                Mod => number::float_mod(x, y),
                Unm => -x,
                _ => unreachable!(),
            }))
        }
    }
}

impl State {
    fn metamethod_of_pair(&self, a: Value, b: Value, event: Value) -> Value {
        let h = self.metafield(a, event);
        if !h.is_nil() {
            return h;
        }
        self.metafield(b, event)
    }

    fn event_name(&self, op: ArithOp) -> Value {
        let n = &self.names;
        match op {
            ArithOp::Add => n.add,
            ArithOp::Sub => n.sub,
            ArithOp::Mul => n.mul,
            ArithOp::Div => n.div,
            ArithOp::Mod => n.mod_,
            ArithOp::Pow => n.pow,
            ArithOp::IDiv => n.idiv,
            ArithOp::BAnd => n.band,
            ArithOp::BOr => n.bor,
            ArithOp::BXor => n.bxor,
            ArithOp::Shl => n.shl,
            ArithOp::Shr => n.shr,
            ArithOp::Unm => n.unm,
            ArithOp::BNot => n.bnot,
        }
    }

    /// Arithmetic slow path: coercions, then metamethods, then the error
    /// PUC Lua would raise. `ca`/`cb` name the operands for messages.
    pub(crate) fn arith(&mut self, op: ArithOp, a: Value, b: Value, ca: Culprit, cb: Culprit) -> VmResult<Value> {
        // Numbers (and, for arithmetic, numeric strings).
        let na = if op.is_bitwise() { num_or_str_for_bitwise(a) } else { to_number(a) };
        let nb = if op.is_bitwise() { num_or_str_for_bitwise(b) } else { to_number(b) };
        if let (Some(x), Some(y)) = (na, nb) {
            let strings = matches!(a, Value::Str(_)) || matches!(b, Value::Str(_));
            if !op.is_bitwise() && strings {
                // PUC Lua does string arithmetic in the string library's
                // metamethods (natives), so their errors carry no position.
                return arith_num(op, x, y).map_err(|m| Throw::Error(self.new_str(m.replace("%%", "%").as_bytes())));
            }
            if !(op.is_bitwise() && strings) {
                return arith_num(op, x, y).map_err(|m| {
                    if m.starts_with("number has no") {
                        // Name the operand that is not integral.
                        let c = if matches!(x, Num::Float(f) if float_to_int_exact(f).is_none()) { ca } else { cb };
                        Throw::Msg { msg: m.replace("%%", "%"), culprit: Some(c) }
                    } else {
                        Throw::msg(m.replace("%%", "%"))
                    }
                });
            }
        }
        let event = self.event_name(op);
        // Strings carry the string library's arithmetic metamethods.
        let ha = self.user_metafield(a, event);
        let h = if !ha.is_nil() { ha } else { self.user_metafield(b, event) };
        if !h.is_nil() {
            return self.call_meta(h, op.event(), &[a, b]);
        }
        if !op.is_bitwise() && (matches!(a, Value::Str(_)) || matches!(b, Value::Str(_))) {
            return Err(Throw::msg(format!("attempt to {} a '{}' with a '{}'", op.event(), a.type_name(), b.type_name())));
        }
        if op.is_bitwise() {
            let both_numbers = matches!(a, Value::Int(_) | Value::Float(_)) && matches!(b, Value::Int(_) | Value::Float(_));
            if both_numbers {
                let c = if to_integer(a).is_none() { ca } else { cb };
                return Err(Throw::culprit("number has no integer representation", c));
            }
            let (v, c) = if !matches!(a, Value::Int(_) | Value::Float(_)) { (a, ca) } else { (b, cb) };
            return Err(Throw::culprit(format!("attempt to perform bitwise operation on a {} value", self.type_name_of(v)), c));
        }
        let (v, c) = if !matches!(a, Value::Int(_) | Value::Float(_)) { (a, ca) } else { (b, cb) };
        Err(Throw::culprit(format!("attempt to perform arithmetic on a {} value", self.type_name_of(v)), c))
    }

    /// A metamethod the program set (strings' own arithmetic is built in).
    fn user_metafield(&self, v: Value, event: Value) -> Value {
        match v {
            Value::Table(t) => match t.get().metatable {
                Some(mt) => mt.get().get_str(event),
                None => Value::Nil,
            },
            _ => Value::Nil,
        }
    }

    // ----- comparison ----------------------------------------------------------

    pub(crate) fn equals(&mut self, a: Value, b: Value) -> VmResult<bool> {
        if a.raw_eq(b) {
            return Ok(true);
        }
        if let (Value::Table(x), Value::Table(y)) = (a, b) {
            let mut h = Value::Nil;
            if let Some(mt) = x.get().metatable {
                h = mt.get().get_str(self.names.eq);
            }
            if h.is_nil()
                && let Some(mt) = y.get().metatable
            {
                h = mt.get().get_str(self.names.eq);
            }
            if !h.is_nil() {
                return Ok(self.call_meta(h, "eq", &[a, b])?.truthy());
            }
        }
        Ok(false)
    }

    pub(crate) fn less_than(&mut self, a: Value, b: Value) -> VmResult<bool> {
        match (a, b) {
            (Value::Int(x), Value::Int(y)) => Ok(x < y),
            (Value::Float(x), Value::Float(y)) => Ok(x < y),
            (Value::Int(x), Value::Float(y)) => Ok(number::lt_int_float(x, y)),
            (Value::Float(x), Value::Int(y)) => Ok(number::lt_float_int(x, y)),
            (Value::Str(x), Value::Str(y)) => Ok(x.get().as_bytes() < y.get().as_bytes()),
            _ => {
                let h = self.metamethod_of_pair(a, b, self.names.lt);
                if h.is_nil() || matches!((a, b), (Value::Str(_), Value::Str(_))) {
                    return Err(self.compare_error(a, b));
                }
                Ok(self.call_meta(h, "lt", &[a, b])?.truthy())
            }
        }
    }

    pub(crate) fn less_equal(&mut self, a: Value, b: Value) -> VmResult<bool> {
        match (a, b) {
            (Value::Int(x), Value::Int(y)) => Ok(x <= y),
            (Value::Float(x), Value::Float(y)) => Ok(x <= y),
            (Value::Int(x), Value::Float(y)) => Ok(number::le_int_float(x, y)),
            (Value::Float(x), Value::Int(y)) => Ok(number::le_float_int(x, y)),
            (Value::Str(x), Value::Str(y)) => Ok(x.get().as_bytes() <= y.get().as_bytes()),
            _ => {
                let h = self.metamethod_of_pair(a, b, self.names.le);
                if !h.is_nil() {
                    return Ok(self.call_meta(h, "le", &[a, b])?.truthy());
                }
                // 5.4 (with LUA_COMPAT_LT_LE, the default) tries not (b < a).
                let h = self.metamethod_of_pair(b, a, self.names.lt);
                if !h.is_nil() {
                    return Ok(!self.call_meta(h, "lt", &[b, a])?.truthy());
                }
                Err(self.compare_error(a, b))
            }
        }
    }

    // ----- indexing --------------------------------------------------------------

    /// `obj[key]` with `__index`. `culprit` names `obj` in errors.
    pub(crate) fn index(&mut self, obj: Value, key: Value, culprit: Option<Culprit>) -> VmResult<Value> {
        let mut cur = obj;
        for _ in 0..2000 {
            let h = match cur {
                Value::Table(t) => {
                    let tr = t.get();
                    let v = tr.get(key);
                    if !v.is_nil() {
                        return Ok(v);
                    }
                    match tr.metatable {
                        None => return Ok(Value::Nil),
                        Some(mt) => {
                            let h = mt.get().get_str(self.names.index);
                            if h.is_nil() {
                                return Ok(Value::Nil);
                            }
                            h
                        }
                    }
                }
                _ => {
                    let h = self.metafield(cur, self.names.index);
                    if h.is_nil() {
                        return Err(self.index_error(cur, obj, culprit));
                    }
                    h
                }
            };
            if let Value::Func(_) = h {
                return self.call1(h, &[cur, key]);
            }
            cur = h;
        }
        Err(Throw::msg("'__index' chain too long; possible loop"))
    }

    /// `obj[key] = val` with `__newindex`.
    pub(crate) fn set_index(&mut self, obj: Value, key: Value, val: Value, culprit: Option<Culprit>) -> VmResult<()> {
        let mut cur = obj;
        for _ in 0..2000 {
            let h = match cur {
                Value::Table(t) => {
                    let tr = t.get();
                    let h = match tr.metatable {
                        None => Value::Nil,
                        Some(mt) => {
                            if !tr.get(key).is_nil() {
                                Value::Nil
                            } else {
                                mt.get().get_str(self.names.newindex)
                            }
                        }
                    };
                    if h.is_nil() {
                        return self.raw_set(t, key, val);
                    }
                    h
                }
                _ => {
                    let h = self.metafield(cur, self.names.newindex);
                    if h.is_nil() {
                        return Err(self.index_error(cur, obj, culprit));
                    }
                    h
                }
            };
            if let Value::Func(_) = h {
                self.call1(h, &[cur, key, val])?;
                return Ok(());
            }
            cur = h;
        }
        Err(Throw::msg("'__newindex' chain too long; possible loop"))
    }

    // ----- unary -------------------------------------------------------------------

    pub(crate) fn len(&mut self, v: Value, culprit: Culprit) -> VmResult<Value> {
        match v {
            Value::Str(s) => Ok(Value::Int(s.get().len() as i64)),
            Value::Table(t) => {
                if let Some(mt) = t.get().metatable {
                    let h = mt.get().get_str(self.names.len);
                    if !h.is_nil() {
                        return self.call_meta(h, "len", &[v, v]);
                    }
                }
                Ok(Value::Int(t.get().border()))
            }
            _ => {
                let h = self.metafield(v, self.names.len);
                if h.is_nil() {
                    return Err(Throw::culprit(format!("attempt to get length of a {} value", self.type_name_of(v)), culprit));
                }
                self.call_meta(h, "len", &[v, v])
            }
        }
    }

    // ----- concatenation -------------------------------------------------------------

    /// Concatenates `stack[first..first+n]` into one value, right to left,
    /// calling `__concat` where needed (intermediate results stay in the
    /// register range, so the GC sees them).
    pub(crate) fn concat(&mut self, first: usize, n: usize) -> VmResult<Value> {
        // Fast path: all strings or numbers.
        if (first..first + n).all(|i| matches!(self.stack[i], Value::Str(_) | Value::Int(_) | Value::Float(_))) {
            let mut buf = Vec::new();
            for i in first..first + n {
                append_str_or_num(self.stack[i], &mut buf);
            }
            return Ok(self.new_str(&buf));
        }
        let mut end = first + n; // exclusive end of the remaining operands
        while end - first > 1 {
            let (a, b) = (self.stack[end - 2], self.stack[end - 1]);
            let is_sn = |v: Value| matches!(v, Value::Str(_) | Value::Int(_) | Value::Float(_));
            let r = if is_sn(a) && is_sn(b) {
                // Take as many string/number operands as possible at once.
                let mut start = end - 2;
                while start > first && is_sn(self.stack[start - 1]) {
                    start -= 1;
                }
                let mut buf = Vec::new();
                for i in start..end {
                    append_str_or_num(self.stack[i], &mut buf);
                }
                let s = self.new_str(&buf);
                self.stack[start] = s;
                end = start + 1;
                continue;
            } else {
                let h = self.metamethod_of_pair(a, b, self.names.concat);
                if h.is_nil() {
                    let (v, reg) = if is_sn(a) { (b, end - 1) } else { (a, end - 2) };
                    let c = Culprit::Rk((reg - self.frames.last().map(|f| f.base).unwrap_or(0)) as u16);
                    return Err(Throw::culprit(format!("attempt to concatenate a {} value", self.type_name_of(v)), c));
                }
                self.call_meta(h, "concat", &[a, b])?
            };
            self.stack[end - 2] = r;
            end -= 1;
        }
        Ok(self.stack[first])
    }

    // ----- tostring ----------------------------------------------------------------------

    /// `tostring(v)` as the `tostring` function does (with `__tostring` and
    /// `__name`).
    pub(crate) fn tostring(&mut self, v: Value) -> VmResult<Value> {
        if let Some(mt) = self.metatable_of(v)
            && !matches!(v, Value::Str(_))
        {
            let h = mt.get().get_str(self.names.tostring);
            if !h.is_nil() {
                let r = self.call1(h, &[v])?;
                if !matches!(r, Value::Str(_)) {
                    if let Value::Int(_) | Value::Float(_) = r {
                        let mut b = Vec::new();
                        append_str_or_num(r, &mut b);
                        return Ok(self.new_str(&b));
                    }
                    return Err(Throw::msg("'__tostring' must return a string"));
                }
                return Ok(r);
            }
            let n = mt.get().get_str(self.names.name);
            if let Value::Str(s) = n {
                let text = format!("{}: 0x{:014x}", s.get().to_str_lossy(), v.addr());
                return Ok(self.new_str(text.as_bytes()));
            }
        }
        Ok(match v {
            Value::Str(_) => v,
            _ => {
                let b = tostring_basic(v);
                self.new_str(&b)
            }
        })
    }
}

fn num_or_str_for_bitwise(v: Value) -> Option<Num> {
    to_number(v)
}

/// The text of a value without metamethods.
pub(crate) fn tostring_basic(v: Value) -> Vec<u8> {
    let mut b = Vec::new();
    match v {
        Value::Nil => b.extend_from_slice(b"nil"),
        Value::Bool(true) => b.extend_from_slice(b"true"),
        Value::Bool(false) => b.extend_from_slice(b"false"),
        Value::Int(_) | Value::Float(_) | Value::Str(_) => append_str_or_num(v, &mut b),
        Value::Table(t) => b.extend_from_slice(format!("table: 0x{:014x}", t.addr()).as_bytes()),
        Value::Func(f) => {
            b.extend_from_slice(format!("function: 0x{:014x}", f.addr()).as_bytes());
        }
    }
    b
}

#[inline]
pub(crate) fn append_str_or_num(v: Value, buf: &mut Vec<u8>) {
    match v {
        Value::Str(s) => buf.extend_from_slice(s.get().as_bytes()),
        Value::Int(i) => number::fmt_int(i, buf),
        Value::Float(f) => number::fmt_float(f, buf),
        _ => unreachable!("caller checked"),
    }
}

impl State {
    /// Calls metamethod `h` for `event`; a metamethod that cannot be called
    /// is reported the way lua5.4 does ("... (metamethod 'add')").
    fn call_meta(&mut self, h: Value, event: &str, args: &[Value]) -> VmResult<Value> {
        if !matches!(h, Value::Func(_)) && self.metafield(h, self.names.call).is_nil() {
            return Err(Throw::msg(format!("attempt to call a {} value (metamethod '{event}')", self.type_name_of(h))));
        }
        self.call1(h, args)
    }

    /// "attempt to index a X value", naming the variable when the failing
    /// value is the operand itself (not something reached via `__index`).
    fn index_error(&self, cur: Value, obj: Value, culprit: Option<Culprit>) -> Throw {
        let msg = format!("attempt to index a {} value", self.type_name_of(cur));
        match culprit {
            Some(c) if cur.raw_eq(obj) => Throw::culprit(msg, c),
            _ => Throw::msg(msg),
        }
    }

    fn compare_error(&self, a: Value, b: Value) -> Throw {
        let (ta, tb) = (self.type_name_of(a), self.type_name_of(b));
        if ta == tb {
            Throw::msg(format!("attempt to compare two {ta} values"))
        } else {
            Throw::msg(format!("attempt to compare {ta} with {tb}"))
        }
    }
}
