//! Tier-0 profiling: what the interpreter observed while running a function.
//!
//! Why here and shaped like this: later tiers speculate on this data and the
//! cluster gossips it, so it lives with the shared prototype (not a state)
//! and is indexed by bytecode pc, which the function key pins down. Every
//! state running the module writes the same counters with relaxed
//! load-then-store updates: a lost increment under a race costs nothing, and
//! no locked instruction sits on the interpreter's hot path.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::key::FunctionKey;
use crate::value::Value;

/// Bumped whenever the meaning of feedback bits or site numbering changes;
/// part of every function key.
pub const PROFILE_SCHEMA_VERSION: u32 = 1;

/// Type-set bits for one operand (a site records two operands, low and high
/// nibble).
pub mod types {
    /// An integer.
    pub const INT: u8 = 1;
    /// A float.
    pub const FLOAT: u8 = 2;
    /// A string.
    pub const STRING: u8 = 4;
    /// nil, boolean, table, function.
    pub const OTHER: u8 = 8;
}

/// Bits recorded at table-access sites.
pub mod access {
    /// Hit in the array part.
    pub const ARRAY: u8 = 1;
    /// Hit (or store) in the hash part.
    pub const HASH: u8 = 2;
    /// Raw miss (nil result or new key).
    pub const MISS: u8 = 4;
    /// The object was not a plain table (metamethod path, string, ...).
    pub const META: u8 = 8;
    /// Integer key.
    pub const INT_KEY: u8 = 16;
    /// String key.
    pub const STR_KEY: u8 = 32;
    /// Other key types.
    pub const OTHER_KEY: u8 = 64;
}

/// Bits recorded at call sites.
pub mod calls {
    /// A Lua function.
    pub const LUA: u8 = 1;
    /// A native (builtin) function.
    pub const NATIVE: u8 = 2;
    /// Called through `__call`.
    pub const META: u8 = 4;
}

/// Marker in `target` for a call site that saw more than one callee.
pub const MEGAMORPHIC: u64 = u64::MAX;

#[inline(always)]
pub(crate) fn type_bit(v: Value) -> u8 {
    match v {
        Value::Int(_) => types::INT,
        Value::Float(_) => types::FLOAT,
        Value::Str(_) => types::STRING,
        _ => types::OTHER,
    }
}

/// Feedback for one instruction.
#[derive(Default)]
pub struct Site {
    /// Type set / access bits / call-kind bits, by instruction kind.
    pub(crate) bits: AtomicU8,
    /// Branch taken count, loop back-edge count or call count.
    pub(crate) taken: AtomicU32,
    /// Branch not-taken count.
    pub(crate) not_taken: AtomicU32,
}

/// All feedback of one prototype.
pub struct Feedback {
    pub(crate) calls: AtomicU64,
    pub(crate) sites: Box<[Site]>,
    /// Call-target feedback: low 64 bits of the callee's key, 0 = none yet,
    /// [`MEGAMORPHIC`] = several. Indexed by pc like `sites`.
    pub(crate) targets: Box<[AtomicU64]>,
}

impl Feedback {
    pub(crate) fn new(ncode: usize) -> Self {
        Feedback {
            calls: AtomicU64::new(0),
            sites: (0..ncode).map(|_| Site::default()).collect(),
            targets: (0..ncode).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    #[inline(always)]
    pub(crate) fn add_bits(&self, pc: usize, bits: u8) {
        // Callers pass the pc of an instruction of this prototype.
        debug_assert!(pc < self.sites.len());
        // SAFETY: `sites` has one entry per instruction (Feedback::new gets
        // the code length) and pc indexes the running instruction.
        let s = &unsafe { self.sites.get_unchecked(pc) }.bits;
        let old = s.load(Relaxed);
        if old | bits != old {
            s.store(old | bits, Relaxed);
        }
    }

    #[inline(always)]
    pub(crate) fn count_taken(&self, pc: usize) {
        debug_assert!(pc < self.sites.len());
        // SAFETY: as in add_bits.
        let c = &unsafe { self.sites.get_unchecked(pc) }.taken;
        c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
    }

    #[inline(always)]
    pub(crate) fn count_branch(&self, pc: usize, taken: bool) {
        debug_assert!(pc < self.sites.len());
        // SAFETY: as in add_bits.
        let s = unsafe { self.sites.get_unchecked(pc) };
        let c = if taken { &s.taken } else { &s.not_taken };
        c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
    }

    #[inline(always)]
    pub(crate) fn count_call(&self) {
        self.calls.store(self.calls.load(Relaxed).wrapping_add(1), Relaxed);
    }

    #[inline(always)]
    pub(crate) fn record_target(&self, pc: usize, callee_key_lo: u64) {
        debug_assert!(pc < self.targets.len());
        // SAFETY: as in add_bits (one entry per instruction).
        let t = unsafe { self.targets.get_unchecked(pc) };
        let k = callee_key_lo.max(1);
        let old = t.load(Relaxed);
        if old == 0 {
            t.store(k, Relaxed);
        } else if old != k && old != MEGAMORPHIC {
            t.store(MEGAMORPHIC, Relaxed);
        }
    }

    /// Calls of the function so far (across all states).
    pub fn call_count(&self) -> u64 {
        self.calls.load(Relaxed)
    }

    /// Sum of loop back-edges taken in this function.
    pub(crate) fn back_edges(&self, code: &[crate::bytecode::Op]) -> u64 {
        code.iter().enumerate().filter(|(_, op)| is_back_edge(op)).map(|(pc, _)| self.sites[pc].taken.load(Relaxed) as u64).sum()
    }
}

pub(crate) fn is_back_edge(op: &crate::bytecode::Op) -> bool {
    use crate::bytecode::Op;
    matches!(op, Op::ForLoop { .. } | Op::TForLoop { .. }) || matches!(op, Op::Jmp { off, .. } if *off < 0)
}

/// What kind of feedback a site holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SiteKind {
    /// Arithmetic, bitwise, length or concatenation: operand type sets.
    Arith,
    /// Comparison: operand type sets.
    Compare,
    /// Table access: [`access`] bits.
    Index,
    /// Call: [`calls`] bits and the callee key.
    Call,
    /// Conditional test: taken / not-taken counts.
    Branch,
    /// Loop back-edge: taken count.
    Loop,
}

/// A snapshot of one site's feedback.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SiteProfile {
    /// Bytecode index of the site.
    pub pc: u32,
    /// What the site is.
    pub kind: SiteKind,
    /// Type-set, access or call-kind bits (see [`SiteKind`]).
    pub bits: u8,
    /// Taken / back-edge count.
    pub taken: u32,
    /// Not-taken count (branches).
    pub not_taken: u32,
    /// Low 64 bits of the callee key ([`MEGAMORPHIC`] if several).
    pub target: u64,
}

/// A snapshot of one function's profile.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FunctionProfile {
    /// The function's key.
    pub key: FunctionKey,
    /// Its human name.
    pub name: String,
    /// Its chunk name.
    pub source: String,
    /// Line where it is defined.
    pub line: u32,
    /// Calls so far.
    pub calls: u64,
    /// Loop back-edges taken so far.
    pub back_edges: u64,
    /// Sites with any recorded data.
    pub sites: Vec<SiteProfile>,
}

pub(crate) fn site_kind(op: &crate::bytecode::Op) -> Option<SiteKind> {
    use crate::bytecode::Op::*;
    Some(match op {
        Add { .. }
        | Sub { .. }
        | Mul { .. }
        | Div { .. }
        | Mod { .. }
        | Pow { .. }
        | IDiv { .. }
        | BAnd { .. }
        | BOr { .. }
        | BXor { .. }
        | Shl { .. }
        | Shr { .. }
        | Unm { .. }
        | Len { .. }
        | BNot { .. }
        | Concat { .. } => SiteKind::Arith,
        Eq { .. } | Lt { .. } | Le { .. } => SiteKind::Compare,
        GetTable { .. } | GetField { .. } | SetTable { .. } | SetField { .. } | SelfOp { .. } | GetGlobal { .. } => SiteKind::Index,
        Call { .. } | TailCall { .. } | TForCall { .. } => SiteKind::Call,
        Test { .. } | TestSet { .. } => SiteKind::Branch,
        ForLoop { .. } | TForLoop { .. } => SiteKind::Loop,
        Jmp { off, .. } if *off < 0 => SiteKind::Loop,
        _ => return None,
    })
}

pub(crate) fn snapshot(p: &crate::bytecode::Proto) -> FunctionProfile {
    let fb = &p.feedback;
    let mut sites = Vec::new();
    for (pc, op) in p.code.iter().enumerate() {
        let Some(kind) = site_kind(op) else { continue };
        let s = &fb.sites[pc];
        let sp = SiteProfile {
            pc: pc as u32,
            kind,
            bits: s.bits.load(Relaxed),
            taken: s.taken.load(Relaxed),
            not_taken: s.not_taken.load(Relaxed),
            target: fb.targets[pc].load(Relaxed),
        };
        if sp.bits != 0 || sp.taken != 0 || sp.not_taken != 0 || sp.target != 0 {
            sites.push(sp);
        }
    }
    FunctionProfile {
        key: p.key,
        name: p.name.clone(),
        source: p.source.to_string(),
        line: p.line_defined,
        calls: fb.call_count(),
        back_edges: fb.back_edges(&p.code),
        sites,
    }
}
