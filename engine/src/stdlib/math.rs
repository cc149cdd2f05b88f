//! The `math` library. `random` is xoshiro256** seeded exactly as lua5.4
//! seeds it, so `math.randomseed(n)` gives lua5.4's sequence; without a
//! seed the sequence is fixed (deterministic runs across nodes).

use super::{Args, reg};
use crate::error::VmResult;
use crate::function::NativeFn;
use crate::number::{Num, float_to_int_exact};
use crate::state::State;
use crate::value::Value;

pub(super) fn open(st: &mut State) {
    let t = st.new_table(0, 32);
    reg(st, t, "abs", abs);
    reg(st, t, "ceil", ceil);
    reg(st, t, "floor", floor);
    reg(st, t, "fmod", fmod);
    reg(st, t, "modf", modf);
    reg(st, t, "sqrt", sqrt);
    reg(st, t, "exp", exp);
    reg(st, t, "log", log);
    reg(st, t, "sin", sin);
    reg(st, t, "cos", cos);
    reg(st, t, "tan", tan);
    reg(st, t, "asin", asin);
    reg(st, t, "acos", acos);
    reg(st, t, "atan", atan);
    reg(st, t, "tointeger", tointeger);
    reg(st, t, "type", type_);
    reg(st, t, "ult", ult);
    reg(st, t, "max", max);
    reg(st, t, "min", min);
    reg(st, t, "random", random);
    reg(st, t, "randomseed", randomseed);
    st.set_field(t, "pi", Value::Float(std::f64::consts::PI));
    st.set_field(t, "huge", Value::Float(f64::INFINITY));
    st.set_field(t, "maxinteger", Value::Int(i64::MAX));
    st.set_field(t, "mininteger", Value::Int(i64::MIN));
    let g = st.globals;
    st.set_field(g, "math", Value::Table(t));
    let loaded = st.loaded;
    st.set_field(loaded, "math", Value::Table(t));
    set_seed(&mut st.rng, 0, 0);
}

/// The native a fresh state binds to `math.<name>`, for the few that
/// tier 2 computes in place of a call: its guard compares the callee's
/// function pointer with this one.
pub(crate) fn native(name: &str) -> Option<NativeFn> {
    Some(match name {
        "sqrt" => sqrt,
        "floor" => floor,
        "ceil" => ceil,
        "abs" => abs,
        "sin" => sin,
        "cos" => cos,
        "tan" => tan,
        "exp" => exp,
        _ => return None,
    })
}

/// lua5.4's `lua_isinteger` test: only actual integers, not numeric
/// strings, take the integer paths of floor, ceil, abs and fmod.
fn check_num_strict(st: &State, a: Args, i: usize) -> VmResult<Num> {
    match st.arg(a, i) {
        Value::Int(n) => Ok(Num::Int(n)),
        _ => st.check_float(a, i).map(Num::Float),
    }
}

fn float_fn(st: &mut State, base: usize, n: usize, name: &'static str, f: fn(f64) -> f64) -> VmResult<usize> {
    let a = Args::new(base, n, name);
    let x = st.check_float(a, 0)?;
    st.ret1(Value::Float(f(x)))
}

fn abs(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.abs");
    let r = match check_num_strict(st, a, 0)? {
        Num::Int(i) => Value::Int(i.wrapping_abs()),
        Num::Float(f) => Value::Float(f.abs()),
    };
    st.ret1(r)
}

fn float_to_int_or_float(f: f64) -> Value {
    match float_to_int_exact(f) {
        Some(i) => Value::Int(i),
        None => Value::Float(f),
    }
}

fn ceil(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.ceil");
    let r = match check_num_strict(st, a, 0)? {
        Num::Int(i) => Value::Int(i),
        Num::Float(f) => float_to_int_or_float(f.ceil()),
    };
    st.ret1(r)
}

fn floor(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.floor");
    let r = match check_num_strict(st, a, 0)? {
        Num::Int(i) => Value::Int(i),
        Num::Float(f) => float_to_int_or_float(f.floor()),
    };
    st.ret1(r)
}

fn fmod(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.fmod");
    let r = match (check_num_strict(st, a, 0)?, check_num_strict(st, a, 1)?) {
        (Num::Int(x), Num::Int(y)) => {
            if y == 0 {
                return Err(st.arg_error(a, 1, "zero"));
            }
            if y == -1 { Value::Int(0) } else { Value::Int(x % y) }
        }
        (x, y) => {
            let f = |n: Num| match n {
                Num::Int(i) => i as f64,
                Num::Float(f) => f,
            };
            Value::Float(f(x) % f(y))
        }
    };
    st.ret1(r)
}

fn modf(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.modf");
    if let Value::Int(i) = st.arg(a, 0) {
        st.push(Value::Int(i))?;
        st.push(Value::Float(0.0))?;
        return Ok(2);
    }
    let x = st.check_float(a, 0)?;
    let ip = if x < 0.0 { x.ceil() } else { x.floor() };
    let fp = if x == ip { 0.0 } else { x - ip };
    st.push(float_to_int_or_float(ip))?;
    st.push(Value::Float(fp))?;
    Ok(2)
}

fn sqrt(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    float_fn(st, b, n, "math.sqrt", f64::sqrt)
}
fn exp(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    float_fn(st, b, n, "math.exp", f64::exp)
}
fn sin(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    float_fn(st, b, n, "math.sin", f64::sin)
}
fn cos(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    float_fn(st, b, n, "math.cos", f64::cos)
}
fn tan(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    float_fn(st, b, n, "math.tan", f64::tan)
}
fn asin(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    float_fn(st, b, n, "math.asin", f64::asin)
}
fn acos(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    float_fn(st, b, n, "math.acos", f64::acos)
}

fn log(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.log");
    let x = st.check_float(a, 0)?;
    let r = if st.arg(a, 1).is_nil() {
        x.ln()
    } else {
        let b = st.check_float(a, 1)?;
        if b == 2.0 {
            x.log2()
        } else if b == 10.0 {
            x.log10()
        } else {
            x.ln() / b.ln()
        }
    };
    st.ret1(Value::Float(r))
}

fn atan(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.atan");
    let y = st.check_float(a, 0)?;
    let x = if st.arg(a, 1).is_nil() { 1.0 } else { st.check_float(a, 1)? };
    st.ret1(Value::Float(y.atan2(x)))
}

fn tointeger(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.tointeger");
    let r = match st.arg(a, 0) {
        Value::Int(i) => Value::Int(i),
        Value::Float(f) => float_to_int_exact(f).map(Value::Int).unwrap_or(Value::Nil),
        Value::Str(s) => match crate::number::str_to_number(s.get().as_bytes()) {
            Some(Num::Int(i)) => Value::Int(i),
            Some(Num::Float(f)) => float_to_int_exact(f).map(Value::Int).unwrap_or(Value::Nil),
            None => Value::Nil,
        },
        _ => {
            st.check_any(a, 0)?;
            Value::Nil
        }
    };
    st.ret1(r)
}

fn type_(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.type");
    let r = match st.check_any(a, 0)? {
        Value::Int(_) => st.new_str(b"integer"),
        Value::Float(_) => st.new_str(b"float"),
        _ => Value::Nil,
    };
    st.ret1(r)
}

fn ult(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.ult");
    let x = st.check_int(a, 0)?;
    let y = st.check_int(a, 1)?;
    st.ret1(Value::Bool((x as u64) < (y as u64)))
}

/// lua5.4's max/min: compares the arguments themselves with `<` (so
/// mixed types raise the comparison error) and returns the winner as is.
fn minmax(st: &mut State, base: usize, n: usize, name: &'static str, want_max: bool) -> VmResult<usize> {
    let a = Args::new(base, n, name);
    if n == 0 {
        return Err(st.arg_error(a, 0, "value expected"));
    }
    let mut best = st.arg(a, 0);
    for i in 1..n {
        let x = st.arg(a, i);
        let r = if want_max { st.less_than(best, x) } else { st.less_than(x, best) };
        let better = r.map_err(|e| st.unpositioned(e))?;
        if better {
            best = x;
        }
    }
    st.ret1(best)
}

fn max(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    minmax(st, b, n, "math.max", true)
}
fn min(st: &mut State, b: usize, n: usize) -> VmResult<usize> {
    minmax(st, b, n, "math.min", false)
}

fn next_rand(s: &mut [u64; 4]) -> u64 {
    let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
    let t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(45);
    result
}

fn set_seed(s: &mut [u64; 4], n1: u64, n2: u64) {
    *s = [n1, 0xff, n2, 0];
    for _ in 0..16 {
        next_rand(s);
    }
}

fn project(ran: u64, n: u64, s: &mut [u64; 4]) -> u64 {
    if n & n.wrapping_add(1) == 0 {
        return ran & n;
    }
    let mut lim = n;
    lim |= lim >> 1;
    lim |= lim >> 2;
    lim |= lim >> 4;
    lim |= lim >> 8;
    lim |= lim >> 16;
    lim |= lim >> 32;
    let mut r = ran & lim;
    while r > n {
        r = next_rand(s) & lim;
    }
    r
}

fn random(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.random");
    let rv = next_rand(&mut st.rng);
    let (low, up) = match n {
        0 => return st.ret1(Value::Float((rv >> 11) as f64 * (0.5f64).powi(53))),
        1 => {
            let m = st.check_int(a, 0)?;
            if m == 0 {
                return st.ret1(Value::Int(rv as i64));
            }
            (1, m)
        }
        2 => (st.check_int(a, 0)?, st.check_int(a, 1)?),
        _ => return Err(crate::error::Throw::msg("wrong number of arguments")),
    };
    if low > up {
        return Err(st.arg_error(a, 0, "interval is empty"));
    }
    let r = project(rv, (up as u64).wrapping_sub(low as u64), &mut st.rng);
    st.ret1(Value::Int(r.wrapping_add(low as u64) as i64))
}

fn randomseed(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "math.randomseed");
    let (n1, n2) = if n == 0 { (0, 0) } else { (st.check_int(a, 0)?, st.opt_int(a, 1, 0)?) };
    set_seed(&mut st.rng, n1 as u64, n2 as u64);
    st.push(Value::Int(n1))?;
    st.push(Value::Int(n2))?;
    Ok(2)
}
