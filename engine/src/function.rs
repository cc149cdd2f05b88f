//! Function values: Lua closures, native functions, upvalues, and the
//! per-state instance of a module's prototype tree.
//!
//! Why `ProtoInst`: prototypes (bytecode, feedback) are shared by every
//! state, but their string constants must be strings of *this* state's heap.
//! Instantiating a module builds one `ProtoInst` per prototype holding the
//! materialized constants and the children's instances, so `CLOSURE` and
//! `LOADK` never look anything up.

use std::sync::Arc;

use crate::bytecode::Proto;
use crate::gc::Gc;
use crate::state::State;
use crate::value::Value;

pub(crate) struct ProtoInst {
    pub proto: Arc<Proto>,
    pub consts: Box<[Value]>,
    pub children: Box<[Gc<ProtoInst>]>,
}

// repr(u64): compiled code reads the tag (Open 0, Closed 1) at 0 and the
// payload (stack index or value) at 8.
#[repr(u64)]
pub(crate) enum UpVal {
    /// Still a live register: index into the state's stack.
    Open(usize),
    Closed(Value),
}

pub(crate) struct LuaClosure {
    pub inst: Gc<ProtoInst>,
    pub upvals: Box<[Gc<UpVal>]>,
    /// Low 64 bits of the prototype's key, cached here because call-site
    /// feedback records it on every profiled call.
    pub key_lo: u64,
    /// `inst`'s prototype (kept alive by `inst`), one load away for the
    /// call sequence compiled code inlines (`codegen`'s `call`).
    pub proto_ptr: *const Proto,
}

impl LuaClosure {
    #[inline(always)]
    pub(crate) fn proto(&self) -> &Proto {
        &self.inst.get().proto
    }
}

/// A native function: reads `nargs` arguments at `stack[base..]`, pushes
/// its results at the state's top and returns how many it pushed.
pub(crate) type NativeFn = fn(&mut State, usize, usize) -> Result<usize, crate::error::Throw>;

/// Natives the interpreter treats specially (non-recursive `pcall`, inline
/// `next`/`ipairs` iteration).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum NativeKind {
    Plain,
    Pcall,
    Next,
    IpairsIter,
}

pub(crate) struct NativeClosure {
    pub f: NativeFn,
    pub kind: NativeKind,
    pub upvals: Box<[Value]>,
}

// repr(C, u8): compiled code tells a Lua closure by the discriminant byte
// at offset 0 (Lua = 0) and finds the closure at offset 8, where the
// variants' union starts (checked by `runtime::check_layout`).
#[repr(C, u8)]
pub(crate) enum Function {
    Lua(LuaClosure),
    Native(NativeClosure),
}

impl Function {
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Function::Lua(c) => c.upvals.len() * 8,
            Function::Native(n) => n.upvals.len() * 16,
        }
    }
}
