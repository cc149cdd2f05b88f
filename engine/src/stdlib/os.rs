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
    reg(st, io, "write", write);
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
    let a = Args::new(base, n, "io.write");
    let mut buf = Vec::new();
    for i in 0..n {
        match st.arg(a, i) {
            Value::Str(s) => buf.extend_from_slice(s.get().as_bytes()),
            Value::Int(v) => crate::number::fmt_int(v, &mut buf),
            // io.write uses LUAI_NUMFFORMAT ("%.14g") without the ".0".
            Value::Float(f) => buf.extend_from_slice(crate::number::c_format_float("%.14g", f).as_bytes()),
            _ => return Err(st.type_error(a, i, "string")),
        }
    }
    st.write_out(&buf);
    Ok(0)
}
