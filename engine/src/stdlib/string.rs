//! The `string` library (and the string metatable that makes `s:sub(1, 2)`
//! work). Patterns are in `lpattern.rs`; `format` uses C's `snprintf` for
//! numeric conversions so output matches lua5.4 byte for byte.

use super::lpattern::{self, Capture, GMatch, Match, PatternError};
use super::{Args, reg};
use crate::error::{Throw, VmResult};
use crate::function::{Function, NativeKind};
use crate::meta::{append_str_or_num, to_number};
use crate::number::{Num, c_format_float, float_to_int_exact};
use crate::state::{State, detach};
use crate::value::Value;

pub(super) fn open(st: &mut State) {
    let t = st.new_table(0, 16);
    reg(st, t, "len", len);
    reg(st, t, "sub", sub);
    reg(st, t, "upper", upper);
    reg(st, t, "lower", lower);
    reg(st, t, "rep", rep);
    reg(st, t, "reverse", reverse);
    reg(st, t, "byte", byte);
    reg(st, t, "char", char);
    reg(st, t, "format", format);
    reg(st, t, "find", find);
    reg(st, t, "match", match_);
    reg(st, t, "gmatch", gmatch);
    reg(st, t, "gsub", gsub);
    let g = st.globals;
    st.set_field(g, "string", Value::Table(t));
    let loaded = st.loaded;
    st.set_field(loaded, "string", Value::Table(t));
    let m = st.string_meta;
    st.set_field(m, "__index", Value::Table(t));
}

impl From<PatternError> for Throw {
    fn from(e: PatternError) -> Throw {
        Throw::msg(e.0)
    }
}

/// Lua's relative string positions: negative counts from the end.
fn posrelat_start(pos: i64, len: usize) -> usize {
    if pos > 0 {
        pos as usize
    } else if pos == 0 || pos < -(len as i64) {
        1
    } else {
        (len as i64 + pos + 1) as usize
    }
}

fn posrelat_end(pos: i64, len: usize) -> usize {
    if pos > len as i64 {
        len
    } else if pos >= 0 {
        pos as usize
    } else if pos < -(len as i64) {
        0
    } else {
        (len as i64 + pos + 1) as usize
    }
}

fn len(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.len");
    let s = st.check_str(a, 0)?;
    st.ret1(Value::Int(s.get().len() as i64))
}

fn sub(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.sub");
    let s = st.check_str(a, 0)?;
    let b = detach(s.get().as_bytes());
    let l = b.len();
    let i = posrelat_start(st.check_int(a, 1)?, l);
    let j = posrelat_end(st.opt_int(a, 2, -1)?, l);
    let r = if i > j { st.new_str(b"") } else { st.new_str(&b[i - 1..j]) };
    st.ret1(r)
}

fn upper(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.upper");
    let s = st.check_str(a, 0)?;
    let r = s.get().as_bytes().to_ascii_uppercase();
    let v = st.new_str(&r);
    st.ret1(v)
}

fn lower(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.lower");
    let s = st.check_str(a, 0)?;
    let r = s.get().as_bytes().to_ascii_lowercase();
    let v = st.new_str(&r);
    st.ret1(v)
}

fn rep(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.rep");
    let s = st.check_str(a, 0)?;
    let count = st.check_int(a, 1)?;
    let sep = st.opt_str(a, 2)?;
    if count <= 0 {
        let v = st.new_str(b"");
        return st.ret1(v);
    }
    let sb = detach(s.get().as_bytes());
    let sepb: &[u8] = sep.map(|x| detach(x.get().as_bytes())).unwrap_or(b"");
    let total = (sb.len() as u128 + sepb.len() as u128) * count as u128 - sepb.len() as u128;
    if total >= (i32::MAX as u128) || !st.heap.can_grow_by(total as usize) {
        if total >= (i32::MAX as u128) {
            return Err(Throw::msg("resulting string too large"));
        }
        let mb = st.heap.limit.unwrap_or(0) >> 20;
        return Err(Throw::Limit(format!("heap limit {mb} MiB exceeded")));
    }
    let mut out = Vec::with_capacity(total as usize);
    for k in 0..count {
        if k > 0 {
            out.extend_from_slice(sepb);
        }
        out.extend_from_slice(sb);
    }
    let v = st.new_str(&out);
    st.ret1(v)
}

fn reverse(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.reverse");
    let s = st.check_str(a, 0)?;
    let mut r = s.get().as_bytes().to_vec();
    r.reverse();
    let v = st.new_str(&r);
    st.ret1(v)
}

fn byte(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.byte");
    let s = st.check_str(a, 0)?;
    let b = detach(s.get().as_bytes());
    let i = st.opt_int(a, 1, 1)?;
    let i_u = posrelat_start(i, b.len());
    let j = posrelat_end(st.opt_int(a, 2, i)?, b.len());
    if i_u > j {
        return Ok(0);
    }
    let cnt = j - i_u + 1;
    for k in 0..cnt {
        st.push(Value::Int(b[i_u - 1 + k] as i64))?;
    }
    Ok(cnt)
}

fn char(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.char");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let c = st.check_int(a, i)?;
        if !(0..=255).contains(&c) {
            return Err(st.arg_error(a, i, "value out of range"));
        }
        out.push(c as u8);
    }
    let v = st.new_str(&out);
    st.ret1(v)
}

// ----- format ---------------------------------------------------------------

fn format(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.format");
    let fs = st.check_str(a, 0)?;
    let f = detach(fs.get().as_bytes());
    let mut out = Vec::with_capacity(f.len() + 16);
    let mut argi = 0usize;
    let mut i = 0;
    while i < f.len() {
        let c = f[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        if i < f.len() && f[i] == b'%' {
            out.push(b'%');
            i += 1;
            continue;
        }
        // Parse the spec: flags, width, precision.
        let start = i;
        while i < f.len() && b"-+ #0".contains(&f[i]) && i - start < 5 {
            i += 1;
        }
        let mut digits = 0;
        while i < f.len() && f[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
        let mut bad = digits > 2;
        if i < f.len() && f[i] == b'.' {
            i += 1;
            let mut d = 0;
            while i < f.len() && f[i].is_ascii_digit() {
                i += 1;
                d += 1;
            }
            bad |= d > 2;
        }
        if i >= f.len() {
            return Err(Throw::msg(format!("invalid conversion '%{}' to 'format'", String::from_utf8_lossy(&f[start..]))));
        }
        let conv = f[i];
        i += 1;
        let spec = std::str::from_utf8(&f[start..i - 1]).unwrap_or("");
        if bad {
            return Err(Throw::msg(format!("invalid conversion specification: '%{}'", String::from_utf8_lossy(&f[start..i]))));
        }
        argi += 1;
        if !b"cdiouxXaAeEfFgGqs".contains(&conv) {
            return Err(Throw::msg(format!("invalid conversion '%{}' to 'format'", String::from_utf8_lossy(&f[start..i]))));
        }
        if argi >= n {
            return Err(st.arg_error(a, argi, "no value"));
        }
        match conv {
            b'c' => {
                let v = st.check_int(a, argi)?;
                let s = format!("%{spec}c");
                out.extend_from_slice(&c_format_int(&s, v as u8 as i64));
            }
            b'd' | b'i' => {
                let v = format_int_arg(st, a, argi)?;
                let s = format!("%{spec}lld");
                out.extend_from_slice(&c_format_int(&s, v));
            }
            b'o' | b'u' | b'x' | b'X' => {
                let v = format_int_arg(st, a, argi)?;
                let s = format!("%{spec}ll{}", conv as char);
                out.extend_from_slice(&c_format_int(&s, v));
            }
            b'a' | b'A' | b'e' | b'E' | b'f' | b'F' | b'g' | b'G' => {
                let v = st.check_float(a, argi)?;
                let s = format!("%{spec}{}", conv as char);
                out.extend_from_slice(c_format_float(&s, v).as_bytes());
            }
            b'q' => {
                if !spec.is_empty() {
                    return Err(Throw::msg("specifier '%q' cannot have modifiers"));
                }
                quote(st, a, argi, &mut out)?;
            }
            b's' => {
                let v = st.arg(a, argi);
                let sv = st.tostring(v)?;
                let Value::Str(s) = sv else { unreachable!() };
                let b = s.get().as_bytes();
                if spec.is_empty() {
                    out.extend_from_slice(b);
                } else {
                    if b.contains(&0) {
                        return Err(st.arg_error(a, argi, "string contains zeros"));
                    }
                    pad_string(spec, b, &mut out);
                }
            }
            _ => unreachable!(),
        }
    }
    let v = st.new_str(&out);
    st.ret1(v)
}

fn format_int_arg(st: &State, a: Args, i: usize) -> VmResult<i64> {
    match to_number(st.arg(a, i)) {
        Some(Num::Int(v)) => Ok(v),
        Some(Num::Float(f)) => float_to_int_exact(f).ok_or_else(|| st.arg_error(a, i, "number has no integer representation")),
        None => Err(st.type_error(a, i, "number")),
    }
}

fn c_format_int(spec: &str, v: i64) -> Vec<u8> {
    let cspec = std::ffi::CString::new(spec).expect("no NUL in spec");
    let mut buf = vec![0u8; 128];
    // SAFETY: width and precision are at most two digits, so 128 bytes hold
    // any integer conversion; snprintf never writes past `buf.len()`.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr() as *mut libc::c_char, buf.len(), cspec.as_ptr(), v as libc::c_longlong) };
    buf.truncate(n.max(0) as usize);
    buf
}

fn pad_string(spec: &str, s: &[u8], out: &mut Vec<u8>) {
    let left = spec.contains('-');
    let body = spec.trim_start_matches(['-', '+', ' ', '#', '0']);
    let (w, p) = match body.split_once('.') {
        Some((w, p)) => (w.parse().unwrap_or(0usize), Some(p.parse().unwrap_or(0usize))),
        None => (body.parse().unwrap_or(0usize), None),
    };
    let s = match p {
        Some(p) if p < s.len() => &s[..p],
        _ => s,
    };
    let pad = w.saturating_sub(s.len());
    if !left {
        out.extend(std::iter::repeat_n(b' ', pad));
    }
    out.extend_from_slice(s);
    if left {
        out.extend(std::iter::repeat_n(b' ', pad));
    }
}

fn quote(st: &mut State, a: Args, i: usize, out: &mut Vec<u8>) -> VmResult<()> {
    match st.arg(a, i) {
        Value::Str(s) => {
            let b = s.get().as_bytes();
            out.push(b'"');
            for (k, &c) in b.iter().enumerate() {
                match c {
                    b'"' | b'\\' => {
                        out.push(b'\\');
                        out.push(c);
                    }
                    b'\n' => out.extend_from_slice(b"\\\n"),
                    c if c < 0x20 || c == 0x7f => {
                        if b.get(k + 1).is_some_and(|d| d.is_ascii_digit()) {
                            out.extend_from_slice(format!("\\{c:03}").as_bytes());
                        } else {
                            out.extend_from_slice(format!("\\{c}").as_bytes());
                        }
                    }
                    _ => out.push(c),
                }
            }
            out.push(b'"');
        }
        Value::Int(v) => {
            if v == i64::MIN {
                out.extend_from_slice(b"0x8000000000000000");
            } else {
                out.extend_from_slice(v.to_string().as_bytes());
            }
        }
        Value::Float(f) => {
            if f == f64::INFINITY {
                out.extend_from_slice(b"1e9999");
            } else if f == f64::NEG_INFINITY {
                out.extend_from_slice(b"-1e9999");
            } else if f.is_nan() {
                out.extend_from_slice(b"(0/0)");
            } else {
                out.extend_from_slice(c_format_float("%a", f).as_bytes());
            }
        }
        v @ (Value::Nil | Value::Bool(_)) => append_plain(v, out),
        _ => return Err(st.arg_error(a, i, "value has no literal form")),
    }
    Ok(())
}

fn append_plain(v: Value, out: &mut Vec<u8>) {
    out.extend_from_slice(&crate::meta::tostring_basic(v));
}

// ----- patterns ---------------------------------------------------------------

/// Pushes the captures of `m` (or the whole match when there are none).
fn push_captures(st: &mut State, s: &[u8], m: &Match, whole_if_none: bool) -> VmResult<usize> {
    if m.captures.is_empty() {
        if whole_if_none {
            let v = st.new_str(&s[m.start..m.end]);
            st.push(v)?;
            return Ok(1);
        }
        return Ok(0);
    }
    for c in &m.captures {
        let v = capture_value(st, s, c)?;
        st.push(v)?;
    }
    Ok(m.captures.len())
}

/// A capture's value: its substring, or its 1-based position. An open
/// capture (only in gsub's matches) is lua5.4's "unfinished capture" error,
/// raised when a replacement reads it.
fn capture_value(st: &mut State, s: &[u8], c: &Capture) -> Result<Value, PatternError> {
    match *c {
        Capture::Span { start, end } => Ok(st.new_str(&s[start..end])),
        Capture::Position(p) => Ok(Value::Int(p as i64 + 1)),
        Capture::Unfinished => Err(lpattern::unfinished_capture()),
    }
}

fn find_aux(st: &mut State, base: usize, n: usize, find: bool) -> VmResult<usize> {
    let a = Args::new(base, n, if find { "string.find" } else { "string.match" });
    let s = st.check_str(a, 0)?;
    let p = st.check_str(a, 1)?;
    let sb = detach(s.get().as_bytes());
    let pb = detach(p.get().as_bytes());
    let init = posrelat_start(st.opt_int(a, 2, 1)?, sb.len());
    if init > sb.len() + 1 {
        return st.ret1(Value::Nil);
    }
    if find && (st.arg(a, 3).truthy() || lpattern::is_plain(pb)) {
        let hay = &sb[init - 1..];
        let pos = if pb.is_empty() { Some(0) } else { hay.windows(pb.len()).position(|w| w == pb) };
        return match pos {
            Some(p) => {
                st.push(Value::Int((init + p) as i64))?;
                st.push(Value::Int((init + p + pb.len() - 1) as i64))?;
                Ok(2)
            }
            None => st.ret1(Value::Nil),
        };
    }
    match lpattern::find(sb, pb, init - 1)? {
        Some(m) => {
            if find {
                st.push(Value::Int(m.start as i64 + 1))?;
                st.push(Value::Int(m.end as i64))?;
                Ok(2 + push_captures(st, sb, &m, false)?)
            } else {
                push_captures(st, sb, &m, true)
            }
        }
        None => st.ret1(Value::Nil),
    }
}

fn find(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    find_aux(st, base, n, true)
}

fn match_(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    find_aux(st, base, n, false)
}

fn gmatch(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.gmatch");
    let s = st.check_str(a, 0)?;
    let p = st.check_str(a, 1)?;
    let len = s.get().len();
    let init = posrelat_start(st.opt_int(a, 2, 1)?, len);
    let start = if init > len + 1 { len + 1 } else { init - 1 };
    // The iteration state lives in the iterator's upvalues as integers.
    let (src, last) = GMatch::new(start).state();
    let last = last.map(|l| l as i64).unwrap_or(-1);
    let it = st.new_native(gmatch_iter, NativeKind::Plain, vec![Value::Str(s), Value::Str(p), Value::Int(src as i64), Value::Int(last)]);
    st.ret1(it)
}

fn gmatch_iter(st: &mut State, base: usize, _n: usize) -> VmResult<usize> {
    let Value::Func(f) = st.stack[base - 1] else { unreachable!("called as a function") };
    let Function::Native(nc) = f.get_mut() else { unreachable!() };
    let (Value::Str(s), Value::Str(p), Value::Int(src), Value::Int(last)) = (nc.upvals[0], nc.upvals[1], nc.upvals[2], nc.upvals[3]) else {
        unreachable!("gmatch state")
    };
    let sb = detach(s.get().as_bytes());
    let pb = detach(p.get().as_bytes());
    if src as usize > sb.len() {
        return Ok(0);
    }
    let mut g = GMatch::from_state(src as usize, if last < 0 { None } else { Some(last as usize) });
    let m = g.next(sb, pb)?;
    let (ns, nl) = g.state();
    nc.upvals[2] = Value::Int(ns as i64);
    nc.upvals[3] = Value::Int(nl.map(|x| x as i64).unwrap_or(-1));
    match m {
        Some(m) => push_captures(st, sb, &m, true),
        None => Ok(0),
    }
}

fn gsub(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "string.gsub");
    let s = st.check_str(a, 0)?;
    let p = st.check_str(a, 1)?;
    let repl = st.arg(a, 2);
    match repl {
        Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Table(_) | Value::Func(_) => {}
        _ => return Err(st.type_error(a, 2, "string/function/table")),
    }
    let repl = if let Value::Int(_) | Value::Float(_) = repl { Value::Str(st.check_str(a, 2)?) } else { repl };
    let max_n = if st.arg(a, 3).is_nil() { None } else { Some(st.check_int(a, 3)?.max(0) as usize) };
    let sb = detach(s.get().as_bytes());
    let pb = detach(p.get().as_bytes());
    let (out, count) = lpattern::gsub(sb, pb, max_n, |m: &Match, out: &mut Vec<u8>| -> Result<(), Throw> {
        match repl {
            Value::Str(r) => {
                lpattern::expand_replacement(r.get().as_bytes(), sb, m, out)?;
                Ok(())
            }
            _ => {
                let key = match m.captures.first() {
                    Some(c) => capture_value(st, sb, c)?,
                    None => st.new_str(&sb[m.start..m.end]),
                };
                let v = match repl {
                    Value::Table(_) => st.index(repl, key, None)?,
                    _ => {
                        // Call with all captures.
                        let func = st.safe_top();
                        st.ensure_stack(func + m.captures.len() + 2)?;
                        st.stack[func] = repl;
                        st.top = func + 1;
                        let nc = if m.captures.is_empty() {
                            st.push(key)?;
                            1
                        } else {
                            for c in &m.captures {
                                let v = capture_value(st, sb, c)?;
                                st.push(v)?;
                            }
                            m.captures.len()
                        };
                        let got = st.call_at(func, nc)?;
                        let v = if got > 0 { st.stack[func] } else { Value::Nil };
                        st.top = func;
                        v
                    }
                };
                match v {
                    Value::Nil | Value::Bool(false) => out.extend_from_slice(&sb[m.start..m.end]),
                    Value::Str(_) | Value::Int(_) | Value::Float(_) => append_str_or_num(v, out),
                    other => {
                        return Err(Throw::msg(format!("invalid replacement value (a {})", other.type_name())));
                    }
                }
                Ok(())
            }
        }
    })?;
    let v = st.new_str(&out);
    st.push(v)?;
    st.push(Value::Int(count as i64))?;
    Ok(2)
}
