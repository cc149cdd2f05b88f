//! Tier-0 profiling: what the interpreter observed while running a function.
//!
//! Why here and shaped like this: later tiers speculate on this data and the
//! cluster gossips it, so it lives with the shared prototype (not a state)
//! and is indexed by bytecode pc, which the function key pins down. Every
//! state running the module writes the same counters with relaxed
//! load-then-store updates: a lost increment under a race costs nothing, and
//! no locked instruction sits on the interpreter's hot path.

use std::sync::Mutex;
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
    /// Call-target feedback, indexed by pc like `sites`: the low 64 bits of
    /// the first two callees' keys, in the order seen (0 = none yet). The
    /// first is [`MEGAMORPHIC`] once a third one was seen.
    pub(crate) targets: Box<[[AtomicU64; 2]]>,
    /// Speculation outcomes: learned here by tier 2, or imported with a
    /// seeded profile. Rarely touched, so a lock is fine.
    pub(crate) outcomes: Mutex<Vec<SpeculationOutcome>>,
}

impl Feedback {
    pub(crate) fn new(ncode: usize) -> Self {
        Feedback {
            calls: AtomicU64::new(0),
            sites: (0..ncode).map(|_| Site::default()).collect(),
            targets: (0..ncode).map(|_| [AtomicU64::new(0), AtomicU64::new(0)]).collect(),
            outcomes: Mutex::new(Vec::new()),
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
        let [first, second] = unsafe { self.targets.get_unchecked(pc) };
        // 0 means "none" and MEGAMORPHIC "several": no key may be either.
        let k = callee_key_lo.clamp(1, MEGAMORPHIC - 1);
        let old = first.load(Relaxed);
        if old == k || old == MEGAMORPHIC {
            return;
        }
        if old == 0 {
            first.store(k, Relaxed);
            return;
        }
        let old2 = second.load(Relaxed);
        if old2 == 0 {
            second.store(k, Relaxed);
        } else if old2 != k {
            first.store(MEGAMORPHIC, Relaxed);
        }
    }

    /// The callees call site `pc` saw: none, one or two keys (low 64
    /// bits), or `None` when it saw more (megamorphic).
    pub(crate) fn call_targets(&self, pc: usize) -> Option<Vec<u64>> {
        let [first, second] = &self.targets[pc];
        match (first.load(Relaxed), second.load(Relaxed)) {
            (MEGAMORPHIC, _) => None,
            (0, _) => Some(Vec::new()),
            (t, 0) => Some(vec![t]),
            (t, u) => Some(vec![t, u]),
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
    /// Loop back-edge: taken count; for a numeric `for`, the float type
    /// bit once it ran as a float loop.
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
    /// Low 64 bits of the callee key ([`MEGAMORPHIC`] if more than two).
    pub target: u64,
    /// Low 64 bits of the second callee's key, when the site saw two (0:
    /// one or none).
    #[serde(default)]
    pub target2: u64,
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
            target: fb.targets[pc][0].load(Relaxed),
            target2: match fb.targets[pc][0].load(Relaxed) {
                MEGAMORPHIC => 0,
                _ => fb.targets[pc][1].load(Relaxed),
            },
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

// ----- compact profiles: what a node gossips and seeds ----------------------

/// What a speculation assumed; the kinds of guard the optimizing tier emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuardKind {
    /// An operand had the type the feedback showed (int, float, ...).
    OperandType,
    /// A table index fell inside the array part.
    ArrayBounds,
    /// A field lived in the cached hash slot or shape.
    FieldSlot,
    /// A call went to the one callee the feedback showed.
    CallTarget,
    /// A branch never taken stayed untaken.
    ColdBranch,
    /// A global still held the function the code was compiled against.
    GlobalBinding,
    /// A table still had no metatable.
    Metatable,
}

/// "Speculating `kind` at site `site` failed `failures` times": the record
/// that stops the same deopt from happening again here or on another node.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpeculationOutcome {
    /// Site ordinal (see [`CompactProfile`]).
    pub site: u32,
    /// What was speculated.
    pub kind: GuardKind,
    /// How many times the guard failed.
    pub failures: u32,
}

/// A function's feedback in the compact form nodes exchange: sites are
/// numbered by *ordinal* (the n-th instruction that records feedback, in
/// code order), which the function key pins down, so a profile from one
/// node applies to the same function on another.
///
/// It carries only what later compiles use: type / access / call-kind bits
/// per site, branch bias, call targets and speculation outcomes, plus raw
/// hotness. Branch bias is quantized: 0 = the branch never ran, 1..=255 =
/// share of runs that took it (1 = never, 255 = always, and only then:
/// a side taken once quantizes to 2 at least).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompactProfile {
    /// The function's key.
    pub key: FunctionKey,
    /// Calls seen.
    pub calls: u64,
    /// Loop back-edges taken.
    pub back_edges: u64,
    /// Bits per site ordinal; trailing empty sites are left off.
    pub site_bits: Vec<u8>,
    /// Bias per branch ordinal (the n-th test or comparison site: both
    /// count how often their jump was taken); trailing zeros left off.
    pub branch_bias: Vec<u8>,
    /// (site ordinal, low 64 bits of the callee's key or [`MEGAMORPHIC`]).
    /// A site that saw two callees has two entries, in the order seen.
    pub call_targets: Vec<(u32, u64)>,
    /// Speculations that failed.
    pub outcomes: Vec<SpeculationOutcome>,
    /// Highest tier whose code is published for it.
    pub tier: u8,
    /// Wall time of its last compile, µs (0: not compiled).
    pub compile_us: u32,
}

/// Why a profile could not be applied ([`crate::Engine::seed_profile`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeedError {
    /// No loaded module has a function with that key.
    UnknownFunction(FunctionKey),
    /// A site ordinal, branch ordinal or call site is out of range or names
    /// a site of the wrong kind.
    BadSite(String),
}

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedError::UnknownFunction(k) => write!(f, "no loaded function has key {k}"),
            SeedError::BadSite(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SeedError {}

/// Site ordinals: (pc, kind) of every instruction that records feedback.
pub(crate) fn site_table(p: &crate::bytecode::Proto) -> Vec<(usize, SiteKind)> {
    p.code.iter().enumerate().filter_map(|(pc, op)| site_kind(op).map(|k| (pc, k))).collect()
}

/// Sites that decide a jump and so have a branch ordinal.
fn is_branch(k: SiteKind) -> bool {
    matches!(k, SiteKind::Branch | SiteKind::Compare)
}

/// Quantized share of taken runs; 0 when the branch never ran.
pub fn quantize_bias(taken: u64, not_taken: u64) -> u8 {
    let total = taken + not_taken;
    if total == 0 {
        return 0;
    }
    let b = (1 + (taken as u128 * 254 + total as u128 / 2) / total as u128) as u8;
    // The ends mean *never* and *always*, and tier 2 drops a side on
    // them: a side that ran even once must not round onto an end.
    match (taken, not_taken) {
        (0, _) => 1,
        (_, 0) => 255,
        _ => b.clamp(2, 254),
    }
}

pub(crate) fn compact(p: &crate::bytecode::Proto) -> CompactProfile {
    let fb = &p.feedback;
    let mut out = CompactProfile {
        key: p.key,
        calls: fb.call_count(),
        back_edges: fb.back_edges(&p.code),
        tier: if p.jit.entry.load(Relaxed).is_null() { 0 } else { p.jit.tier.load(Relaxed) },
        compile_us: p.jit.compile_us.load(Relaxed),
        ..CompactProfile::default()
    };
    let mut branch = 0usize;
    for (ord, (pc, kind)) in site_table(p).into_iter().enumerate() {
        let s = &fb.sites[pc];
        let bits = s.bits.load(Relaxed);
        if bits != 0 {
            out.site_bits.resize(ord, 0);
            out.site_bits.push(bits);
        }
        match kind {
            SiteKind::Branch | SiteKind::Compare => {
                let b = quantize_bias(s.taken.load(Relaxed) as u64, s.not_taken.load(Relaxed) as u64);
                if b != 0 {
                    out.branch_bias.resize(branch, 0);
                    out.branch_bias.push(b);
                }
                branch += 1;
            }
            SiteKind::Call => match fb.call_targets(pc) {
                None => out.call_targets.push((ord as u32, MEGAMORPHIC)),
                Some(ts) => out.call_targets.extend(ts.into_iter().map(|t| (ord as u32, t))),
            },
            _ => {}
        }
    }
    out.outcomes = fb.outcomes.lock().expect("outcomes lock").clone();
    out
}

/// Merges an imported profile into `p`'s feedback. Only what is safe to
/// learn from a peer goes in: type bits and call targets are unioned, a
/// branch with no local runs takes the imported bias, outcomes keep the
/// larger failure count. Hotness is never imported, so a node re-publishes
/// only what its own traffic did and gossip cannot echo a function hot.
/// Validation comes first; a bad profile changes nothing.
pub(crate) fn seed(p: &crate::bytecode::Proto, c: &CompactProfile) -> Result<(), SeedError> {
    let table = site_table(p);
    let branches: Vec<usize> = table.iter().filter(|(_, k)| is_branch(*k)).map(|(pc, _)| *pc).collect();
    if c.site_bits.len() > table.len() {
        return Err(SeedError::BadSite(format!("{} site entries for a function with {} sites", c.site_bits.len(), table.len())));
    }
    if c.branch_bias.len() > branches.len() {
        return Err(SeedError::BadSite(format!(
            "{} branch entries for a function with {} branch sites",
            c.branch_bias.len(),
            branches.len()
        )));
    }
    for &(ord, _) in &c.call_targets {
        match table.get(ord as usize) {
            Some((_, SiteKind::Call)) => {}
            Some((_, k)) => return Err(SeedError::BadSite(format!("call target for site {ord}, which is a {k:?} site"))),
            None => return Err(SeedError::BadSite(format!("call target for site {ord}, past the function's {} sites", table.len()))),
        }
    }
    for o in &c.outcomes {
        if o.site as usize >= table.len() {
            return Err(SeedError::BadSite(format!("outcome for site {}, past the function's {} sites", o.site, table.len())));
        }
    }
    let fb = &p.feedback;
    for (ord, &bits) in c.site_bits.iter().enumerate() {
        if bits != 0 {
            fb.add_bits(table[ord].0, bits);
        }
    }
    for (i, &bias) in c.branch_bias.iter().enumerate() {
        let s = &fb.sites[branches[i]];
        if bias != 0 && s.taken.load(Relaxed) == 0 && s.not_taken.load(Relaxed) == 0 {
            // 254 samples with exactly the imported share (it quantizes
            // back to the same byte); local runs soon outweigh them.
            let taken = bias as u32 - 1;
            s.taken.store(taken, Relaxed);
            s.not_taken.store(254 - taken, Relaxed);
        }
    }
    for &(ord, target) in &c.call_targets {
        let pc = table[ord as usize].0;
        if target == MEGAMORPHIC {
            fb.targets[pc][0].store(MEGAMORPHIC, Relaxed);
        } else {
            fb.record_target(pc, target);
        }
    }
    if !c.outcomes.is_empty() {
        let mut mine = fb.outcomes.lock().expect("outcomes lock");
        for o in &c.outcomes {
            match mine.iter_mut().find(|m| m.site == o.site && m.kind == o.kind) {
                Some(m) => m.failures = m.failures.max(o.failures),
                None => mine.push(o.clone()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::quantize_bias;

    #[test]
    fn bias_quantizes_to_the_ends_and_round_trips_through_a_seeded_sample() {
        assert_eq!(quantize_bias(0, 0), 0, "never ran");
        assert_eq!(quantize_bias(0, 1_000_000), 1, "never taken");
        assert_eq!(quantize_bias(u32::MAX as u64, 0), 255, "always taken");
        assert_eq!(quantize_bias(1, 1), 128);
        assert_eq!(quantize_bias(1, 1_000_000), 2, "rarely taken is not never taken");
        assert_eq!(quantize_bias(1_000_000, 1), 254, "nearly always is not always");
        for bias in 1..=255u8 {
            let taken = bias as u64 - 1;
            assert_eq!(quantize_bias(taken, 254 - taken), bias);
        }
    }
}
