//! Errors: how they travel inside the VM (`Throw`) and what an embedder sees
//! (`Error`).
//!
//! Inside the VM nothing unwinds the Rust stack: every fallible operation
//! returns `Result<_, Throw>`, so the interpreter (and later JIT code, via
//! status codes) decides where an error stops. `pcall` stops `Throw::Error`;
//! nothing in Lua stops `Throw::Limit` or `Throw::Exit`.

use crate::value::Value;

/// Which operand caused a type error, so the message can name the variable
/// ("attempt to index a nil value (local 't')").
#[derive(Clone, Copy, Debug)]
pub(crate) enum Culprit {
    /// An RK operand of the failing instruction (register or constant).
    Rk(u16),
}

pub(crate) enum Throw {
    /// A Lua error value, complete (any position already prepended).
    Error(Value),
    /// A message raised by the VM or by a native called from Lua: the
    /// interpreter prepends the position of the running Lua function (and
    /// names the culprit variable) when it catches it.
    Msg { msg: String, culprit: Option<Culprit> },
    /// A resource limit was exceeded: not catchable by `pcall`.
    Limit(String),
    /// `os.exit(code)`: unwinds to the embedder.
    Exit(i32),
}

impl Throw {
    pub(crate) fn msg(msg: impl Into<String>) -> Throw {
        Throw::Msg { msg: msg.into(), culprit: None }
    }
    pub(crate) fn culprit(msg: impl Into<String>, c: Culprit) -> Throw {
        Throw::Msg { msg: msg.into(), culprit: Some(c) }
    }
}

pub(crate) type VmResult<T> = Result<T, Throw>;

/// Which limit an invocation exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// Steps (loop back-edges plus calls).
    Fuel,
    /// Wall-clock time.
    Deadline,
    /// Live heap bytes.
    Heap,
    /// Lua call depth.
    Depth,
}

/// An error reported to the embedder.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The source did not compile; the message reads like lua5.4's
    /// (`chunk:line: msg near 'tok'`).
    Syntax(String),
    /// A Lua error escaped the invocation. `message` is the error value
    /// converted as lua5.4's standalone interpreter prints it.
    Runtime {
        /// The error as lua5.4 prints it.
        message: String,
        /// Where it was raised (may be empty).
        traceback: String,
    },
    /// A resource limit stopped the invocation; the state remains usable.
    Limit {
        /// Which limit.
        kind: LimitKind,
        /// `fuel exhausted after N steps`, `heap limit N MiB exceeded`, ...
        message: String,
    },
    /// The script called `os.exit(code)`.
    Exit(i32),
    /// Misuse of the embedding API (unknown module, no such function...).
    Api(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Syntax(m) | Error::Api(m) => f.write_str(m),
            Error::Runtime { message, .. } => f.write_str(message),
            Error::Limit { message, .. } => f.write_str(message),
            Error::Exit(c) => write!(f, "exit with status {c}"),
        }
    }
}

impl std::error::Error for Error {}
