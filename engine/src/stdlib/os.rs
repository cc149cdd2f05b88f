//! `os.clock`, `os.time`, `os.exit` and `io.write` — the only host services
//! the subset offers. Output goes to the state's output sink (stdout unless
//! the embedder replaces it); `os.exit` unwinds to the embedder, which
//! decides what exiting means.

use std::io::Write;

use super::{Args, reg};
use crate::error::{Throw, VmResult};
use crate::state::State;
use crate::value::Value;

pub(super) fn open(st: &mut State) {
    let os = st.new_table(0, 4);
    reg(st, os, "clock", clock);
    reg(st, os, "time", time);
    reg(st, os, "exit", exit);
    let io = st.new_table(0, 2);
    // `io.stdout`: enough of a file for `io.write(...):write(...)` chains
    // and `io.stdout:write(...)`; it prints as "file (0x...)".
    let stdout = st.new_table(0, 0);
    let methods = st.new_table(0, 1);
    reg(st, methods, "write", file_write);
    let mt = st.new_table(0, 3);
    st.set_field(mt, "__index", Value::Table(methods));
    let name = st.new_str(b"FILE*");
    st.set_field(mt, "__name", name);
    reg(st, mt, "__tostring", file_tostring);
    stdout.get_mut().metatable = Some(mt);
    st.set_field(io, "stdout", Value::Table(stdout));
    // io.write returns the default output file: keep it as an upvalue.
    let w = st.new_native(write, crate::function::NativeKind::Plain, vec![Value::Table(stdout)]);
    st.set_field(io, "write", w);
    let g = st.globals;
    st.set_field(g, "os", Value::Table(os));
    st.set_field(g, "io", Value::Table(io));
    let loaded = st.loaded;
    st.set_field(loaded, "os", Value::Table(os));
    st.set_field(loaded, "io", Value::Table(io));
}

fn clock(st: &mut State, _base: usize, _n: usize) -> VmResult<usize> {
    // Processor time of the process, as C's clock() reports it.
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    st.ret1(Value::Float(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9))
}

fn time(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "os.time");
    if !st.arg(a, 0).is_nil() {
        return Err(st.arg_error(a, 0, "os.time with a date table is not supported by Ember"));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    st.ret1(Value::Int(now as i64))
}

fn exit(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "os.exit");
    let code = match st.arg(a, 0) {
        Value::Nil | Value::Bool(true) => 0,
        Value::Bool(false) => 1,
        _ => st.check_int(a, 0)? as i32,
    };
    let _ = st.out.flush();
    Err(Throw::Exit(code))
}

fn write(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    write_args(st, Args::new(base, n, "io.write"), 0)?;
    let stdout = match st.stack[base - 1] {
        Value::Func(f) => match f.get() {
            crate::function::Function::Native(nc) => nc.upvals.first().copied().unwrap_or(Value::Nil),
            crate::function::Function::Lua(_) => Value::Nil,
        },
        _ => Value::Nil,
    };
    st.ret1(stdout)
}

fn file_write(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "write");
    let f = st.check_table(a, 0)?;
    write_args(st, a, 1)?;
    st.ret1(Value::Table(f))
}

fn file_tostring(st: &mut State, base: usize, n: usize) -> VmResult<usize> {
    let a = Args::new(base, n, "tostring");
    let f = st.check_any(a, 0)?;
    let s = st.new_str(format!("file (0x{:014x})", f.addr()).as_bytes());
    st.ret1(s)
}

/// Writes arguments `first..` one by one (so a bad argument fails after
/// the earlier ones were written, as in lua5.4).
fn write_args(st: &mut State, a: Args, first: usize) -> VmResult<()> {
    for i in first..a.n {
        let mut buf = Vec::new();
        match st.arg(a, i) {
            Value::Str(s) => buf.extend_from_slice(s.get().as_bytes()),
            Value::Int(v) => crate::number::fmt_int(v, &mut buf),
            // io.write uses LUAI_NUMFFORMAT ("%.14g") without the ".0".
            Value::Float(f) => buf.extend_from_slice(crate::number::c_format_float("%.14g", f).as_bytes()),
            _ => return Err(st.type_error(a, i, "string")),
        }
        st.write_out(&buf);
    }
    Ok(())
}
