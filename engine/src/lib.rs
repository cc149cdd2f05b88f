//! # ember-engine
//!
//! An embeddable, tiered VM for a subset of Lua 5.4 — the engine every Ember
//! node runs. It is usable alone, like mlua: compile modules into an
//! [`Engine`] (shared, `Send + Sync`), give each worker thread its own
//! [`State`], call functions with [`LuaValue`]s, bound invocations with
//! [`Limits`], and read per-function [`FunctionProfile`]s.
//!
//! What it is: the front end (lexer, parser, compiler to register
//! bytecode), the tier-0 interpreter with profiling, a per-state precise
//! mark-sweep GC, the standard library subset, function keys, and (in later
//! tiers) the JITs and tiering policy.
//!
//! What it is not: it does no networking and no file I/O. `print` and
//! `io.write` write to a sink the embedder chooses; `require` of unknown
//! modules asks the embedder's [`ModuleLoader`].
//!
//! ```
//! use ember_engine::{Engine, LuaValue};
//! let engine = Engine::new();
//! engine.load_module("calc", b"function add(a, b) return a + b end").unwrap();
//! let mut state = engine.new_state();
//! state.require("calc").unwrap();
//! let r = state.call("add", &[LuaValue::Int(2), LuaValue::Int(40)]).unwrap();
//! assert_eq!(r, vec![LuaValue::Int(42)]);
//! ```

#![warn(missing_docs)]

mod api;
mod bytecode;
mod compiler;
mod debuginfo;
mod engine;
mod error;
mod function;
mod gc;
mod interp;
pub mod jit;
mod key;
mod meta;
mod number;
pub mod profile;
mod state;
mod stdlib;
mod syntax;
mod table;
mod value;

pub use api::{Limits, LuaValue, OutputCapture, StateStats};
pub use bytecode::Proto;
pub use engine::{Engine, EngineConfig, Module, ModuleLoader, chunk_id};
pub use error::{Error, LimitKind};
pub use jit::{
    CompileGate, CompileRequest, CompileTrigger, DeoptSite, FunctionTier, GateDecision, GateOutcome, GatePermit, GateRequest, JitStats,
    Policy, TierEvent, TierEventKind, TierMode, TieringConfig,
};
pub use key::FunctionKey;
pub use profile::{
    CompactProfile, FunctionProfile, GuardKind, PROFILE_SCHEMA_VERSION, SeedError, SiteKind, SiteProfile, SpeculationOutcome,
};
pub use state::State;

/// Checks that `source` parses and compiles; returns the lua5.4-style
/// message otherwise. Never panics, whatever the bytes.
pub fn check_syntax(source: &[u8], chunk_name: &str) -> Result<(), String> {
    engine::compile_source(source, chunk_name).map(|_| ())
}
