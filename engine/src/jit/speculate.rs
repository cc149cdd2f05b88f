//! Tier 2's plan for one prototype: which speculations to make, and what
//! they let compiled code assume about register types at each instruction.
//!
//! Why a separate pass: speculation is only worth it when the facts it
//! establishes outlive one instruction. An `Add` guarded as integer leaves
//! its operands and result known to be integers, so the next instruction
//! needs no tag check and can take the value from an SSA variable instead
//! of memory. This pass decides the guards from feedback and learned
//! outcomes, then runs a forward dataflow over the bytecode to find, for
//! every instruction, the registers whose type is certain on every path
//! into it. Codegen trusts these facts, so the transfer functions here must
//! mirror exactly what codegen defines; anything not modelled is "any".
//!
//! Loops get one more fact: a register the loop never writes, which a
//! speculated instruction inside it needs to be an integer, a float or a
//! table, is checked once where the loop is entered (a *hoisted* check,
//! see [`Hoist`]) and is then known on every instruction of the loop.
//!
//! What it is not: a general optimizer. Types are int / float / table /
//! any; nothing else about values is tracked.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::bytecode::{Constant, Op, Proto, RK_CONST};
use crate::profile::{GuardKind, site_kind, types};

/// What a register is known to hold at an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Ty {
    /// No path reaches here (yet).
    Unreached = 0,
    Int = 1,
    Float = 2,
    /// Anything: read it from memory and check its tag.
    Any = 3,
    /// A table: the SSA copy holds its pointer (the tag check is done).
    Table = 4,
}

impl Ty {
    fn meet(self, o: Ty) -> Ty {
        match (self, o) {
            (Ty::Unreached, x) | (x, Ty::Unreached) => x,
            (x, y) if x == y => x,
            _ => Ty::Any,
        }
    }
}

/// The speculation at an arithmetic or comparison site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spec {
    /// Generic code, as tier 1 emits it.
    None,
    /// Register operands are integers (constants are integers too);
    /// anything else deoptimizes. On a `ForPrep` whose step the plan knows
    /// is an integer: the start is one too, so the loop is an integer loop
    /// (a float start deoptimizes there, counted against the loop's
    /// `ForLoop` site).
    Int,
    /// Register operands are floats (integer constants convert).
    Float,
    /// `GetTable` / `SetTable`: the object is a table, the key an integer
    /// inside its array part and the slot there not nil (so no metamethod
    /// can apply); anything else deoptimizes (`ArrayBounds`). For a read,
    /// the type the value is guarded to have (`Int` / `Float`, or `Any`:
    /// unchecked).
    Array(Ty),
    /// `GetField`: the object is a table whose hash slot `slot` holds the
    /// field's key with a value that is not nil (where tier 1's inline
    /// cache last found it); anything else deoptimizes (`FieldSlot`). The
    /// value is guarded to have type `ty` as for `Array`.
    Field { slot: u32, ty: Ty },
    /// `GetGlobal`: as `Field`, on the globals table (`GlobalBinding`): a
    /// global function's binding, read on every call, is a slot compare
    /// and a load.
    Global { slot: u32, ty: Ty },
    /// `Call` of one argument and one result that always called a native
    /// loaded as `math.<name>`: the callee is guarded to be that native
    /// (`CallTarget`) and computed in place (`codegen/math.rs`).
    Math(MathFn),
}

/// The `math` functions tier 2 computes in place of a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MathFn {
    Sqrt,
    Floor,
    Ceil,
    Abs,
    Sin,
    Cos,
    Tan,
    Exp,
}

impl MathFn {
    const ALL: [MathFn; 8] = [MathFn::Sqrt, MathFn::Floor, MathFn::Ceil, MathFn::Abs, MathFn::Sin, MathFn::Cos, MathFn::Tan, MathFn::Exp];

    fn from_name(name: &[u8]) -> Option<MathFn> {
        MathFn::ALL.into_iter().find(|f| f.name().as_bytes() == name)
    }

    /// Its field name in `math`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            MathFn::Sqrt => "sqrt",
            MathFn::Floor => "floor",
            MathFn::Ceil => "ceil",
            MathFn::Abs => "abs",
            MathFn::Sin => "sin",
            MathFn::Cos => "cos",
            MathFn::Tan => "tan",
            MathFn::Exp => "exp",
        }
    }

    /// The result's type for an argument of type `arg`: `floor` and
    /// `ceil` give integers (a float whose result does not fit one
    /// deoptimizes), `abs` keeps an integer an integer, the rest give
    /// floats. Any argument not known to be an integer is guarded to be a
    /// float.
    pub(crate) fn result(self, arg: Ty) -> Ty {
        match self {
            MathFn::Floor | MathFn::Ceil => Ty::Int,
            MathFn::Abs if arg == Ty::Int => Ty::Int,
            _ => Ty::Float,
        }
    }
}

/// The `math` function a `Call` at `pc` of register `f` calls, going by
/// the instruction that last wrote `f` before it (`math.sqrt(x)` loads
/// `sqrt` from a table just before the argument). Only a guess the guard
/// on the native's identity makes safe.
fn math_callee(p: &Proto, pc: usize, f: u8) -> Option<MathFn> {
    let op = p.code[..pc].iter().rev().take(16).find(|op| op.writes(f as usize))?;
    match *op {
        Op::GetField { k, .. } => match &p.consts[k as usize] {
            Constant::Str(name) => MathFn::from_name(name),
            _ => None,
        },
        _ => None,
    }
}

/// A call site whose callee's code is compiled into the caller's, guarded
/// on the callee's prototype (`CallTarget`).
pub(crate) struct Inline {
    /// The prototype the site always called; the unit holds it, so the
    /// guard's pointer compare can never match a new prototype at a
    /// reused address.
    pub callee: Arc<Proto>,
    /// The callee's own plan (its feedback and learned outcomes), without
    /// inlining of its own.
    pub plan: Plan,
    /// Where the callee's inline-cache cells start among the unit's cells.
    pub ic_base: usize,
}

/// A type check moved out of a loop: `reg`, which no instruction of the
/// loop writes, is checked to hold `ty` on every edge into the loop's
/// header from outside, so inside the loop it is known without a check.
/// A failure deoptimizes at the header (nothing of the loop has run yet)
/// and counts as a `kind` failure of `site`, the first instruction in the
/// loop that needs the type: at the deopt limit that site's speculation
/// is dropped, and the check with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hoist {
    pub header: usize,
    pub reg: u16,
    pub ty: Ty,
    pub site: usize,
    pub kind: GuardKind,
}

/// Callees no larger than this many instructions are inlined.
pub(crate) const INLINE_MAX_CODE: usize = 40;
/// At most this many callee bodies are inlined into one function (compile
/// time grows with every copy).
const INLINE_MAX_BODIES: usize = 8;

/// Finds the prototype a call site's feedback recorded (by the low bits of
/// its key) and the hash slots its tier-1 inline caches hold.
pub(crate) type Callees<'r> = &'r dyn Fn(u64) -> Option<(Arc<Proto>, Vec<u32>)>;

/// Everything codegen needs to emit tier 2 for one prototype.
pub(crate) struct Plan {
    /// Per pc: the speculation at arithmetic / comparison sites.
    pub spec: Vec<Spec>,
    /// Per pc of a `Test`: the successor left out behind a guard (its jump
    /// target when `Some(true)`, the fall-through when `Some(false)`).
    pub cold: Vec<Option<bool>>,
    /// Per pc of a `Call`: the callees compiled inline there (none, one,
    /// or two for a site that alternates between two; see
    /// `inline_candidates`).
    pub inline: Vec<Vec<Inline>>,
    /// Type checks moved out of loops, by header pc.
    pub hoists: Vec<Hoist>,
    /// Per pc: register types on entry (`maxstack` entries each).
    types: Vec<Ty>,
    nregs: usize,
    /// Registers captured by a closure: an open upvalue can change them
    /// behind compiled code's back, so they are never cached.
    pub captured: Vec<bool>,
    /// Per pc: whether the dataflow reached it from the entry. Code behind
    /// a cold side is not: its blocks may jump into code that keeps
    /// registers in SSA variables they never defined, so it must never be
    /// resumed into (see `Translator::resume_block`).
    reached: Vec<bool>,
}

/// A branch is treated as cold when it never went one way in at least
/// this many runs.
const COLD_BRANCH_RUNS: u32 = 64;

/// The side of a branch site left out as cold: `Some(true)` when its jump
/// was never taken, `Some(false)` when it was always taken.
fn cold_side(site: &crate::profile::Site) -> Option<bool> {
    let (t, nt) = (site.taken.load(Relaxed), site.not_taken.load(Relaxed));
    if t == 0 && nt >= COLD_BRANCH_RUNS {
        Some(true)
    } else if nt == 0 && t >= COLD_BRANCH_RUNS {
        Some(false)
    } else {
        None
    }
}

impl Plan {
    /// What the plan speculates, for the compile's event and span:
    /// `int 5, float 2, array 3, cold branches 1` (or `none`).
    pub fn summary(&self) -> String {
        let int = self.spec.iter().filter(|s| matches!(s, Spec::Int)).count();
        let float = self.spec.iter().filter(|s| matches!(s, Spec::Float)).count();
        let array = self.spec.iter().filter(|s| matches!(s, Spec::Array(_))).count();
        let field = self.spec.iter().filter(|s| matches!(s, Spec::Field { .. })).count();
        let global = self.spec.iter().filter(|s| matches!(s, Spec::Global { .. })).count();
        let math = self.spec.iter().filter(|s| matches!(s, Spec::Math(_))).count();
        let cold = self.cold.iter().filter(|c| c.is_some()).count();
        let inlined = self.inline.iter().map(Vec::len).sum();
        let hoisted = self.hoists.len();
        let parts: Vec<String> = [
            ("int", int),
            ("float", float),
            ("array", array),
            ("field", field),
            ("global", global),
            ("math calls", math),
            ("cold branches", cold),
            ("inlined calls", inlined),
            ("hoisted checks", hoisted),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
        if parts.is_empty() { "none".into() } else { parts.join(", ") }
    }

    /// The type of register `r` on entry to `pc`.
    pub fn ty(&self, pc: usize, r: u16) -> Ty {
        let r = r as usize;
        if r >= self.nregs || self.captured[r] { Ty::Any } else { self.types[pc * self.nregs + r] }
    }

    /// Whether a speculation of `kind` at `pc` already failed too often
    /// (here, or on a peer whose outcomes were seeded).
    fn banned(outcomes: &[crate::profile::SpeculationOutcome], ordinal: u32, kind: GuardKind, limit: u32) -> bool {
        outcomes.iter().any(|o| o.site == ordinal && o.kind == kind && o.failures >= limit)
    }

    /// Inline-cache cells a unit compiled under this plan needs: one per
    /// instruction of `p` and of every inlined callee.
    pub fn ic_cells(&self, p: &Proto) -> usize {
        p.code.len() + self.inline.iter().flatten().map(|i| i.callee.code.len()).sum::<usize>()
    }

    /// The expected hash slot of each inline-cache cell (`u32::MAX`: none),
    /// so a unit's cells start where its field guards expect the fields and
    /// a recompile, which reads them back, keeps them.
    pub fn ic_hints(&self, p: &Proto) -> Vec<u32> {
        let slot = |s: &Spec| match *s {
            Spec::Field { slot, .. } | Spec::Global { slot, .. } => slot,
            _ => u32::MAX,
        };
        let mut cells: Vec<u32> = self.spec.iter().map(slot).collect();
        cells.resize(self.ic_cells(p), u32::MAX);
        for i in self.inline.iter().flatten() {
            for (pc, s) in i.plan.spec.iter().enumerate() {
                cells[i.ic_base + pc] = slot(s);
            }
        }
        cells
    }

    /// Builds the plan for `p`. `deopt_limit`: failures after which a
    /// speculation is no longer made. `field_slots`: per pc, the hash slot
    /// tier 1's inline cache last found a field in (`u32::MAX`: none).
    /// `callees`: resolves call sites' recorded callees for inlining.
    pub fn build(p: &Proto, deopt_limit: u32, field_slots: &[u32], callees: Option<Callees>) -> Plan {
        Self::build_with_entry(p, deopt_limit, field_slots, callees, &[])
    }

    /// `build`, with the types of the first registers on entry known (an
    /// inlined callee's arguments, as its caller's plan proves them).
    fn build_with_entry(p: &Proto, deopt_limit: u32, field_slots: &[u32], callees: Option<Callees>, entry: &[Ty]) -> Plan {
        let n = p.code.len();
        let nregs = p.maxstack as usize + 1;
        let outcomes = p.feedback.outcomes.lock().expect("outcomes lock").clone();
        let mut ordinal = vec![u32::MAX; n];
        let mut ord = 0u32;
        for (pc, op) in p.code.iter().enumerate() {
            if site_kind(op).is_some() {
                ordinal[pc] = ord;
                ord += 1;
            }
        }
        let mut captured = vec![false; nregs];
        for op in &p.code {
            if let Op::Closure { idx, .. } = op {
                for u in &p.protos[*idx as usize].upvals {
                    if u.in_stack && (u.idx as usize) < nregs {
                        captured[u.idx as usize] = true;
                    }
                }
            }
        }
        // Whether any arithmetic or comparison here has run: then a site
        // that has not is code the profile never reached, not integer
        // arithmetic (guessing so only buys deopts and a recompile).
        let profiled = p.code.iter().enumerate().any(|(pc, op)| {
            (speculable_operands(op).is_some() || matches!(op, Op::Unm { .. })) && p.feedback.sites[pc].bits.load(Relaxed) != 0
        });
        let mut spec = vec![Spec::None; n];
        let mut cold = vec![None; n];
        for (pc, op) in p.code.iter().enumerate() {
            let o = ordinal[pc];
            let site = &p.feedback.sites[pc];
            if let Some((b, c)) = speculable_operands(op) {
                if !Self::banned(&outcomes, o, GuardKind::OperandType, deopt_limit) {
                    spec[pc] = binary_spec(p, op, b, c, site.bits.load(Relaxed), profiled);
                }
                // A speculated comparison is all inline code, so one of its
                // sides can be left out like a test's.
                if matches!(op, Op::Lt { .. } | Op::Le { .. } | Op::Eq { .. })
                    && spec[pc] != Spec::None
                    && !Self::banned(&outcomes, o, GuardKind::ColdBranch, deopt_limit)
                {
                    cold[pc] = cold_side(site);
                }
                continue;
            }
            match *op {
                Op::Unm { .. } => {
                    if Self::banned(&outcomes, o, GuardKind::OperandType, deopt_limit) {
                        continue;
                    }
                    let bits = site.bits.load(Relaxed) & 0xf;
                    spec[pc] = match bits {
                        0 if profiled => Spec::None,
                        0 | types::INT => Spec::Int,
                        types::FLOAT => Spec::Float,
                        _ => Spec::None,
                    };
                }
                Op::Test { .. } => {
                    if Self::banned(&outcomes, o, GuardKind::ColdBranch, deopt_limit) {
                        continue;
                    }
                    cold[pc] = cold_side(site);
                }
                Op::Call { a, b: 2, c: 2 } => {
                    if site.bits.load(Relaxed) != crate::profile::calls::NATIVE
                        || Self::banned(&outcomes, o, GuardKind::CallTarget, deopt_limit)
                        || Self::banned(&outcomes, o, GuardKind::OperandType, deopt_limit)
                        || crate::jit::runtime::layout().call.is_none()
                    {
                        continue;
                    }
                    if let Some(f) = math_callee(p, pc, a) {
                        spec[pc] = Spec::Math(f);
                    }
                }
                _ => {}
            }
        }
        // Table reads and writes second: a read's value type is guessed from
        // the arithmetic that consumes it.
        for (pc, op) in p.code.iter().enumerate() {
            let (Op::GetTable { c: key, .. } | Op::SetTable { b: key, .. }) = *op else { continue };
            let o = ordinal[pc];
            if Self::banned(&outcomes, o, GuardKind::ArrayBounds, deopt_limit)
                || Self::banned(&outcomes, o, GuardKind::OperandType, deopt_limit)
                || !array_only(p.feedback.sites[pc].bits.load(Relaxed))
                || !crate::jit::runtime::layout().array_fast_paths()
                || (key >= RK_CONST && !matches!(p.consts[(key - RK_CONST) as usize], Constant::Int(_)))
            {
                continue;
            }
            spec[pc] = Spec::Array(match *op {
                Op::GetTable { a, .. } => consumer_type(p, &spec, pc, a as u16),
                _ => Ty::Any,
            });
        }
        // Numeric `for` loops whose start the dataflow may not prove is an
        // integer (a parameter, an upvalue: `for i = n, 1, -1`): guessed to
        // be integer loops unless one ran on floats. With the guess the
        // loop's registers are unboxed integers like those of a loop from
        // a constant, where otherwise every use would check them.
        for (pc, op) in p.code.iter().enumerate() {
            let Op::ForPrep { off, .. } = *op else { continue };
            let for_loop = (pc as i64 + off as i64) as usize;
            debug_assert!(matches!(p.code[for_loop], Op::ForLoop { .. }), "ForPrep jumps past its ForLoop");
            let floats = p.feedback.sites[for_loop].bits.load(Relaxed) & types::FLOAT != 0;
            if !floats && !Self::banned(&outcomes, ordinal[for_loop], GuardKind::OperandType, deopt_limit) {
                spec[pc] = Spec::Int;
            }
        }
        // Fields, and global reads (the same access on the globals table,
        // whose sites record no access bits: the slot tier 1 found is the
        // evidence). Global writes are no feedback site, so a failure there
        // could not be recorded against them: they keep the inline cache.
        for (pc, op) in p.code.iter().enumerate() {
            let (a, k, read, global) = match *op {
                Op::GetField { a, k, .. } => (a, k as u32, true, false),
                // A write to a table made here is an insert (a constructor,
                // `local t = {} t.x = ...`): no slot to expect.
                Op::SetField { a, k, .. } if !fresh_table(p, pc, a) => (a, k as u32, false, false),
                Op::GetGlobal { a, k } => (a, k, true, true),
                _ => continue,
            };
            let slot = field_slots.get(pc).copied().unwrap_or(u32::MAX);
            let short_key = matches!(&p.consts[k as usize], Constant::Str(s) if s.len() <= crate::value::SHORT_STRING_MAX);
            let bits = p.feedback.sites[pc].bits.load(Relaxed);
            let kind = if global { GuardKind::GlobalBinding } else { GuardKind::FieldSlot };
            if slot == u32::MAX
                || !short_key
                || (!global && bits != crate::profile::access::HASH | crate::profile::access::STR_KEY)
                || Self::banned(&outcomes, ordinal[pc], kind, deopt_limit)
                || crate::jit::runtime::layout().table_nodes_ptr.is_none()
                || crate::jit::runtime::layout().table_nodes_len.is_none()
            {
                continue;
            }
            let ty = if read { consumer_type(p, &spec, pc, a as u16) } else { Ty::Any };
            spec[pc] = if global { Spec::Global { slot, ty } } else { Spec::Field { slot, ty } };
        }
        // A read whose value is next used as a table by a speculated
        // access (`b[k][j]`, `row.x`) is guessed to be a table: its pointer
        // then reaches that access in an SSA value, with no tag reload.
        for pc in 0..n {
            let a = match (p.code[pc], spec[pc]) {
                (Op::GetTable { a, .. }, Spec::Array(Ty::Any))
                | (Op::GetField { a, .. }, Spec::Field { ty: Ty::Any, .. })
                | (Op::GetGlobal { a, .. }, Spec::Global { ty: Ty::Any, .. }) => a as u16,
                _ => continue,
            };
            if used_as_table(p, &spec, pc, a) {
                match &mut spec[pc] {
                    Spec::Array(ty) | Spec::Field { ty, .. } | Spec::Global { ty, .. } => *ty = Ty::Table,
                    _ => unreachable!("matched above"),
                }
            }
        }
        let inline = (0..n).map(|_| Vec::new()).collect();
        let mut plan = Plan {
            spec,
            cold,
            inline,
            hoists: Vec::new(),
            types: vec![Ty::Unreached; n * nregs],
            nregs,
            captured,
            reached: vec![false; n],
        };
        plan.infer(p, entry);
        plan.hoist_loop_invariants(p, entry);
        // Callees to inline last: each one's plan starts from the types this
        // plan proves for its arguments. (A `Call` clobbers the registers
        // from its function up either way, so inlining changes nothing
        // above.)
        if let Some(callees) = callees {
            let mut ic_base = n;
            for (pc, op) in p.code.iter().enumerate() {
                let Op::Call { a, b, c } = *op else { continue };
                if Self::banned(&outcomes, ordinal[pc], GuardKind::CallTarget, deopt_limit) {
                    continue;
                }
                let candidates = inline_candidates(p, pc, b, c, callees);
                if plan.inline.iter().map(Vec::len).sum::<usize>() + candidates.len() > INLINE_MAX_BODIES {
                    continue;
                }
                for (callee, slots) in candidates {
                    let args: Vec<Ty> = (0..callee.nparams as u16).map(|i| plan.ty(pc, a as u16 + 1 + i)).collect();
                    let callee_plan = Plan::build_with_entry(&callee, deopt_limit, &slots, None, &args);
                    let len = callee.code.len();
                    plan.inline[pc].push(Inline { callee, plan: callee_plan, ic_base });
                    ic_base += len;
                }
            }
        }
        plan
    }

    /// Forward dataflow to a fixed point: entry types of every pc.
    fn infer(&mut self, p: &Proto, entry: &[Ty]) {
        let n = p.code.len();
        let nregs = self.nregs;
        let mut work: Vec<usize> = vec![0];
        let mut queued = vec![false; n];
        queued[0] = true;
        // Entry: parameters and everything else unknown.
        for r in 0..nregs {
            self.types[r] = entry.get(r).copied().filter(|t| *t != Ty::Unreached).unwrap_or(Ty::Any);
        }
        // A loop whose header is the first instruction is entered by the
        // call itself: its hoisted checks run on entry (the resume stub).
        for h in self.hoists.iter().filter(|h| h.header == 0) {
            self.types[h.reg as usize] = h.ty;
        }
        let mut reached = vec![false; n];
        reached[0] = true;
        let mut cur = vec![Ty::Any; nregs];
        while let Some(pc) = work.pop() {
            queued[pc] = false;
            cur.copy_from_slice(&self.types[pc * nregs..(pc + 1) * nregs]);
            // A captured register is never known, so nothing copied or
            // refined from it is either (codegen reads it from memory).
            for (r, c) in self.captured.iter().enumerate() {
                if *c {
                    cur[r] = Ty::Any;
                }
            }
            for (succ, mut out) in self.transfer(p, pc, &cur) {
                for (r, c) in self.captured.iter().enumerate() {
                    if *c {
                        out[r] = Ty::Any;
                    }
                }
                if succ >= n {
                    continue;
                }
                // An edge into a loop from outside it (forward: a loop is
                // only entered at its header, its lowest pc) passes the
                // loop's hoisted checks.
                if pc < succ {
                    for h in self.hoists.iter().filter(|h| h.header == succ) {
                        out[h.reg as usize] = h.ty;
                    }
                }
                let slot = &mut self.types[succ * nregs..(succ + 1) * nregs];
                let mut changed = !reached[succ];
                reached[succ] = true;
                for r in 0..nregs {
                    let m = if changed && slot[r] == Ty::Unreached { out[r] } else { slot[r].meet(out[r]) };
                    if m != slot[r] {
                        slot[r] = m;
                        changed = true;
                    }
                }
                if changed && !queued[succ] {
                    queued[succ] = true;
                    work.push(succ);
                }
            }
        }
        // Captured registers are never trusted (see `ty`); unreached code
        // is compiled as if nothing were known.
        for (pc, _) in reached.iter().enumerate().filter(|(_, r)| !**r) {
            self.types[pc * nregs..(pc + 1) * nregs].fill(Ty::Any);
        }
        self.reached = reached;
    }

    /// Whether `pc` is reachable from the entry under this plan.
    pub(crate) fn reached(&self, pc: usize) -> bool {
        self.reached.get(pc).copied().unwrap_or(false)
    }

    /// Finds the loops' hoistable checks (see [`Hoist`]) and re-runs the
    /// dataflow with them. A candidate is a register the loop never writes,
    /// not known at the header without the check, that a speculated
    /// instruction in the loop needs as one type (all of them the same
    /// type). The dataflow then confirms each one holds at its header; one
    /// that does not is dropped and the dataflow re-run.
    fn hoist_loop_invariants(&mut self, p: &Proto, entry: &[Ty]) {
        let end = loop_ends(p);
        let mut hoists: Vec<Hoist> = Vec::new();
        for (h, e) in end.iter().enumerate() {
            let Some(e) = *e else { continue };
            if !self.reached(h) {
                continue;
            }
            let written = |r: u16| {
                p.code[h..=e].iter().any(|op| {
                    op.writes(r as usize) || matches!(*op, Op::Concat { b, n, .. } if (b as u16..b as u16 + n as u16).contains(&r))
                })
            };
            let mut wanted: Vec<Hoist> = Vec::new();
            let mut conflicting: Vec<u16> = Vec::new();
            for u in (h..=e).filter(|&u| self.reached(u)) {
                for (reg, ty, kind) in self.demands(p, u) {
                    if (reg as usize) >= self.nregs || self.captured[reg as usize] || self.ty(h, reg) != Ty::Any || written(reg) {
                        continue;
                    }
                    match wanted.iter().find(|w| w.reg == reg) {
                        Some(w) if w.ty != ty => conflicting.push(reg),
                        Some(_) => {}
                        None => wanted.push(Hoist { header: h, reg, ty, site: u, kind }),
                    }
                }
            }
            hoists.extend(wanted.into_iter().filter(|w| !conflicting.contains(&w.reg)));
        }
        // `jit_deopt_hoisted`'s word has 24 bits for a pc, 8 for a register.
        hoists.retain(|h| h.site < 1 << 24 && h.reg < 256);
        if hoists.is_empty() {
            return;
        }
        loop {
            self.hoists = hoists.clone();
            self.types.fill(Ty::Unreached);
            self.infer(p, entry);
            let kept: Vec<Hoist> = hoists.iter().copied().filter(|h| self.ty(h.header, h.reg) == h.ty).collect();
            if kept.len() == hoists.len() {
                return;
            }
            hoists = kept;
        }
    }

    /// The registers instruction `u`'s speculation needs to have a type,
    /// with the type and the guard kind its own check would count.
    fn demands(&self, p: &Proto, u: usize) -> Vec<(u16, Ty, GuardKind)> {
        let reg = |x: u16| x < RK_CONST;
        let mut d = Vec::new();
        let op = p.code[u];
        if let Some((b, c)) = speculable_operands(&op) {
            let ty = match self.spec[u] {
                Spec::Int => Ty::Int,
                Spec::Float => Ty::Float,
                _ => return d,
            };
            d.extend([b, c].into_iter().filter(|&x| reg(x)).map(|x| (x, ty, GuardKind::OperandType)));
            return d;
        }
        match (op, self.spec[u]) {
            (Op::Unm { b, .. }, Spec::Int) => d.push((b as u16, Ty::Int, GuardKind::OperandType)),
            (Op::Unm { b, .. }, Spec::Float) => d.push((b as u16, Ty::Float, GuardKind::OperandType)),
            (Op::GetTable { b, c: key, .. }, Spec::Array(_)) | (Op::SetTable { a: b, b: key, .. }, Spec::Array(_)) => {
                d.push((b as u16, Ty::Table, GuardKind::ArrayBounds));
                if reg(key) {
                    d.push((key, Ty::Int, GuardKind::ArrayBounds));
                }
            }
            (Op::GetField { b, .. }, Spec::Field { .. }) | (Op::SetField { a: b, .. }, Spec::Field { .. }) => {
                d.push((b as u16, Ty::Table, GuardKind::FieldSlot))
            }
            _ => {}
        }
        d
    }

    /// The checks hoisted to loop header `pc`.
    pub(crate) fn hoisted_at(&self, pc: usize) -> impl Iterator<Item = &Hoist> {
        self.hoists.iter().filter(move |h| h.header == pc)
    }

    /// Successors of `pc` with the register types on each edge.
    fn transfer(&self, p: &Proto, pc: usize, inp: &[Ty]) -> Vec<(usize, Vec<Ty>)> {
        let mut t = inp.to_vec();
        let nregs = self.nregs;
        let next = pc + 1;
        let jump_target = |off: i32| (pc as i64 + 1 + off as i64) as usize;
        let set = |t: &mut Vec<Ty>, r: usize, v: Ty| {
            if r < nregs {
                t[r] = v;
            }
        };
        let clobber_from = |t: &mut Vec<Ty>, r: usize| {
            for x in t.iter_mut().skip(r) {
                *x = Ty::Any;
            }
        };
        let opd_ty = |t: &Vec<Ty>, x: u16| -> Ty {
            if x < RK_CONST {
                return t.get(x as usize).copied().unwrap_or(Ty::Any);
            }
            match p.consts[(x - RK_CONST) as usize] {
                Constant::Int(_) => Ty::Int,
                Constant::Float(_) => Ty::Float,
                _ => Ty::Any,
            }
        };
        let refine = |t: &mut Vec<Ty>, x: u16, v: Ty| {
            if x < RK_CONST && (x as usize) < nregs {
                t[x as usize] = v;
            }
        };
        let cond = |pc: usize| -> [usize; 2] {
            match p.code[pc + 1] {
                Op::Jmp { off, .. } => [(pc as i64 + 2 + off as i64) as usize, pc + 2],
                _ => [pc + 1, pc + 1],
            }
        };
        let one = |t: Vec<Ty>| vec![(next, t)];
        match p.code[pc] {
            Op::Move { a, b } => {
                let v = t[b as usize];
                set(&mut t, a as usize, v);
                one(t)
            }
            Op::LoadK { a, k } => {
                let v = match p.consts[k as usize] {
                    Constant::Int(_) => Ty::Int,
                    Constant::Float(_) => Ty::Float,
                    _ => Ty::Any,
                };
                set(&mut t, a as usize, v);
                one(t)
            }
            Op::LoadInt { a, .. } => {
                set(&mut t, a as usize, Ty::Int);
                one(t)
            }
            Op::LoadNil { a, n } => {
                for r in a as usize..=a as usize + n as usize {
                    set(&mut t, r, Ty::Any);
                }
                one(t)
            }
            Op::LoadFalseSkip { a } => {
                set(&mut t, a as usize, Ty::Any);
                vec![(pc + 2, t)]
            }
            Op::Add { a, b, c }
            | Op::Sub { a, b, c }
            | Op::Mul { a, b, c }
            | Op::Div { a, b, c }
            | Op::IDiv { a, b, c }
            | Op::Mod { a, b, c }
            | Op::BAnd { a, b, c }
            | Op::BOr { a, b, c }
            | Op::BXor { a, b, c }
            | Op::Shl { a, b, c }
            | Op::Shr { a, b, c } => {
                let is_div = matches!(p.code[pc], Op::Div { .. });
                let result = match self.spec[pc] {
                    Spec::Int => {
                        refine(&mut t, b, Ty::Int);
                        refine(&mut t, c, Ty::Int);
                        if is_div { Ty::Float } else { Ty::Int }
                    }
                    Spec::Float => {
                        if opd_ty(&t, b) != Ty::Int {
                            refine(&mut t, b, Ty::Float);
                        }
                        if opd_ty(&t, c) != Ty::Int {
                            refine(&mut t, c, Ty::Float);
                        }
                        Ty::Float
                    }
                    Spec::None | Spec::Array(_) | Spec::Field { .. } | Spec::Global { .. } | Spec::Math(_) => Ty::Any,
                };
                set(&mut t, a as usize, result);
                one(t)
            }
            Op::Unm { a, b } => {
                let result = match self.spec[pc] {
                    Spec::Int => Ty::Int,
                    Spec::Float => Ty::Float,
                    Spec::None | Spec::Array(_) | Spec::Field { .. } | Spec::Global { .. } | Spec::Math(_) => Ty::Any,
                };
                if result != Ty::Any {
                    set(&mut t, b as usize, result);
                }
                set(&mut t, a as usize, result);
                one(t)
            }
            // Tier 2 unboxes `~x` exactly where `x` is known to be an
            // integer here (`codegen/tier2.rs`).
            Op::BNot { a, b } => {
                let result = if opd_ty(&t, b as u16) == Ty::Int { Ty::Int } else { Ty::Any };
                set(&mut t, a as usize, result);
                one(t)
            }
            Op::Lt { b, c, .. } | Op::Le { b, c, .. } | Op::Eq { b, c, .. } => {
                let [x, y] = cond(pc);
                let outs = match self.cold[pc] {
                    Some(true) => vec![y],
                    Some(false) => vec![x],
                    None => vec![x, y],
                };
                match self.spec[pc] {
                    Spec::Int => {
                        refine(&mut t, b, Ty::Int);
                        refine(&mut t, c, Ty::Int);
                    }
                    Spec::Float => {
                        refine(&mut t, b, Ty::Float);
                        refine(&mut t, c, Ty::Float);
                    }
                    Spec::None | Spec::Array(_) | Spec::Field { .. } | Spec::Global { .. } | Spec::Math(_) => {}
                }
                outs.into_iter().map(|succ| (succ, t.clone())).collect()
            }
            Op::Test { .. } => {
                let [taken, not] = cond(pc);
                match self.cold[pc] {
                    Some(true) => vec![(not, t)],
                    Some(false) => vec![(taken, t)],
                    None => vec![(taken, t.clone()), (not, t)],
                }
            }
            Op::TestSet { a, b, .. } => {
                let v = t[a as usize].meet(t[b as usize]);
                set(&mut t, a as usize, v);
                vec![(next, t.clone()), (pc + 2, t)]
            }
            Op::Jmp { off, .. } => vec![(jump_target(off), t)],
            Op::ForPrep { a, off } => {
                let a = a as usize;
                let start_int = t[a] == Ty::Int || (t[a] == Ty::Any && self.spec[pc] == Spec::Int);
                let int_loop = start_int && t.get(a + 2) == Some(&Ty::Int);
                let mut skip = t.clone();
                for r in a..a + 4 {
                    set(&mut skip, r, Ty::Any);
                    set(&mut t, r, if int_loop { Ty::Int } else { Ty::Any });
                }
                vec![(next, t), (jump_target(off), skip)]
            }
            Op::ForLoop { a, off } => {
                let a = a as usize;
                let int_loop = (a..a + 3).all(|r| t.get(r) == Some(&Ty::Int));
                if !int_loop {
                    for r in a..a + 4 {
                        set(&mut t, r, Ty::Any);
                    }
                } else {
                    set(&mut t, a + 3, Ty::Int);
                }
                vec![(jump_target(off), t.clone()), (next, t)]
            }
            Op::TForLoop { a, off } => {
                set(&mut t, a as usize + 2, Ty::Any);
                vec![(jump_target(off), t.clone()), (next, t)]
            }
            // A speculated table access guards its key to be an integer.
            Op::GetTable { a, b, c } if matches!(self.spec[pc], Spec::Array(_)) => {
                set(&mut t, b as usize, Ty::Table);
                refine(&mut t, c, Ty::Int);
                let Spec::Array(v) = self.spec[pc] else { unreachable!("matched above") };
                set(&mut t, a as usize, v);
                one(t)
            }
            Op::GetField { a, b, .. } if matches!(self.spec[pc], Spec::Field { .. }) => {
                let Spec::Field { ty, .. } = self.spec[pc] else { unreachable!("matched above") };
                set(&mut t, b as usize, Ty::Table);
                set(&mut t, a as usize, ty);
                one(t)
            }
            Op::GetGlobal { a, .. } if matches!(self.spec[pc], Spec::Global { .. }) => {
                let Spec::Global { ty, .. } = self.spec[pc] else { unreachable!("matched above") };
                set(&mut t, a as usize, ty);
                one(t)
            }
            Op::SetTable { a, b, .. } if matches!(self.spec[pc], Spec::Array(_)) => {
                set(&mut t, a as usize, Ty::Table);
                refine(&mut t, b, Ty::Int);
                one(t)
            }
            Op::SetField { a, .. } if matches!(self.spec[pc], Spec::Field { .. }) => {
                set(&mut t, a as usize, Ty::Table);
                one(t)
            }
            // A new table stays one until written (codegen's resume stub
            // after the helper checks it).
            Op::NewTable { a, .. } => {
                set(&mut t, a as usize, Ty::Table);
                one(t)
            }
            Op::SetTable { .. }
            | Op::SetField { .. }
            | Op::SetGlobal { .. }
            | Op::SetUpval { .. }
            | Op::Close { .. }
            | Op::SetList { .. } => one(t),
            Op::GetUpval { a, .. }
            | Op::GetGlobal { a, .. }
            | Op::LoadEnv { a }
            | Op::GetTable { a, .. }
            | Op::GetField { a, .. }
            | Op::Not { a, .. }
            | Op::Len { a, .. }
            | Op::Pow { a, .. }
            | Op::LoadBool { a, .. }
            | Op::Closure { a, .. } => {
                set(&mut t, a as usize, Ty::Any);
                one(t)
            }
            Op::Concat { a, b, n } => {
                // The operands may serve as scratch space.
                for r in b as usize..b as usize + n as usize {
                    set(&mut t, r, Ty::Any);
                }
                set(&mut t, a as usize, Ty::Any);
                one(t)
            }
            Op::SelfOp { a, .. } => {
                set(&mut t, a as usize, Ty::Any);
                set(&mut t, a as usize + 1, Ty::Any);
                one(t)
            }
            Op::Call { a, .. } if matches!(self.spec[pc], Spec::Math(_)) => {
                let Spec::Math(f) = self.spec[pc] else { unreachable!("matched above") };
                let ty = f.result(t.get(a as usize + 1).copied().unwrap_or(Ty::Any));
                clobber_from(&mut t, a as usize);
                set(&mut t, a as usize, ty);
                one(t)
            }
            Op::Call { a, .. } | Op::VarArg { a, .. } => {
                clobber_from(&mut t, a as usize);
                one(t)
            }
            Op::TForCall { a, .. } => {
                clobber_from(&mut t, a as usize + 3);
                one(t)
            }
            Op::Return { .. } | Op::TailCall { .. } => vec![],
        }
    }
}

/// Per pc, the last pc of an edge back to it: the extent of the loop it
/// heads (`None`: no loop starts there).
pub(crate) fn loop_ends(p: &Proto) -> Vec<Option<usize>> {
    let n = p.code.len();
    let mut end: Vec<Option<usize>> = vec![None; n];
    for (pc, op) in p.code.iter().enumerate() {
        let (Op::Jmp { off, .. } | Op::ForLoop { off, .. } | Op::TForLoop { off, .. }) = *op else { continue };
        let target = pc as i64 + 1 + off as i64;
        if off < 0 && target >= 0 && (target as usize) < n {
            let h = target as usize;
            end[h] = Some(end[h].map_or(pc, |e: usize| e.max(pc)));
        }
    }
    end
}

/// The callees to inline at `Call` site `pc` (with `b` / `c` operands):
/// the Lua functions called there, per the feedback, when there were one
/// or two (a site that alternates between two, as `fs[i](x)` over a list
/// of functions does, gets both behind a test of the prototype; any
/// other callee deoptimizes). Each must take a fixed count of arguments
/// exactly, return a fixed count of results, and have a body that is
/// small and needs nothing a frame pushed by inline code does not
/// provide. No closures (their upvalues would have to be closed on
/// return), no varargs, no tail calls (they replace the frame the inline
/// code returns from). No loops either: a loop amortizes its call over
/// its iterations, and a callee left alone keeps its own tier-up and OSR.
/// All or nothing: a site with one callee that does not fit is left a
/// real call, as inlining the other would send every call of it to a
/// deopt.
fn inline_candidates(p: &Proto, pc: usize, b: u8, c: u8, callees: Callees) -> Vec<(Arc<Proto>, Vec<u32>)> {
    if b == 0
        || c == 0
        || crate::jit::runtime::layout().call.is_none()
        || p.feedback.sites[pc].bits.load(Relaxed) != crate::profile::calls::LUA
    {
        return Vec::new();
    }
    let Some(targets) = p.feedback.call_targets(pc) else { return Vec::new() };
    let fits = |callee: &Proto| {
        callee.code.len() <= INLINE_MAX_CODE
            && !callee.is_vararg
            && callee.nparams as usize == b as usize - 1
            && callee
                .code
                .iter()
                .all(|op| !matches!(op, Op::Closure { .. } | Op::VarArg { .. } | Op::TailCall { .. }) && !crate::profile::is_back_edge(op))
    };
    let n = targets.len();
    let found: Vec<_> = targets.into_iter().filter_map(callees).collect();
    if found.is_empty() || found.len() != n || !found.iter().all(|(callee, _)| fits(callee)) {
        return Vec::new();
    }
    found
}

/// Whether a table-access site only ever hit the array part with an
/// integer key (no hash part, miss, metamethod or other key kind).
fn array_only(bits: u8) -> bool {
    use crate::profile::access::*;
    bits & (ARRAY | INT_KEY) == ARRAY | INT_KEY && bits & (HASH | MISS | META | STR_KEY | OTHER_KEY) == 0
}

/// Whether register `t` at `pc` holds a table this function just made:
/// the nearest earlier instruction that writes it is a `NewTable`. Only a
/// choice of speculation (the guards make either answer safe), so jumps
/// into the stretch scanned are ignored.
fn fresh_table(p: &Proto, pc: usize, t: u8) -> bool {
    for op in p.code[..pc].iter().rev().take(64) {
        if let Op::NewTable { a, .. } = *op {
            if a == t {
                return true;
            }
        } else if op.writes(t as usize) {
            return false;
        }
    }
    false
}

/// The type to guard a table read into `r` at `pc` to have: the one the
/// speculated arithmetic that reads `r` next, within a few straight-line
/// instructions, assumes (`matmul`'s `a[i][k] * b[k][j]`); `Any` when
/// nothing does. Only a choice of guard: the guard makes any answer safe.
fn consumer_type(p: &Proto, spec: &[Spec], pc: usize, r: u16) -> Ty {
    for (at, op) in p.code.iter().enumerate().skip(pc + 1).take(6) {
        if let Some((b, c)) = speculable_operands(op)
            && (b == r || c == r)
        {
            return match spec[at] {
                Spec::Int if !matches!(op, Op::Div { .. }) => Ty::Int,
                Spec::Float => Ty::Float,
                _ => Ty::Any,
            };
        }
        // Straight-line work on other registers in between (`s + a[k] *
        // b[k]` multiplies before it adds) leaves `r` as it was.
        if speculable_operands(op).is_some() && op.single_dest().is_some_and(|a| a as u16 != r) {
            continue;
        }
        match *op {
            Op::GetTable { a, b, c } if a as u16 != r && b as u16 != r && c != r => {}
            Op::GetField { a, b, .. } if a as u16 != r && b as u16 != r => {}
            Op::Move { a, b } if a as u16 != r && b as u16 != r => {}
            Op::LoadK { a, .. } | Op::LoadInt { a, .. } if a as u16 != r => {}
            _ => return Ty::Any,
        }
    }
    Ty::Any
}

/// Whether the first instruction after `pc` to read register `r` uses it
/// as the table of a speculated access, within the few instructions
/// `consumer_type` looks at (and skipping the same ones).
fn used_as_table(p: &Proto, spec: &[Spec], pc: usize, r: u16) -> bool {
    for (at, op) in p.code.iter().enumerate().skip(pc + 1).take(6) {
        let table_access = matches!(spec[at], Spec::Array(_) | Spec::Field { .. });
        match *op {
            Op::GetTable { b, c, .. } if b as u16 == r => return table_access && c != r,
            Op::GetField { b, .. } if b as u16 == r => return table_access,
            Op::SetTable { a, b, c } if a as u16 == r => return table_access && b != r && c != r,
            Op::SetField { a, c, .. } if a as u16 == r => return table_access && c != r,
            _ => {}
        }
        let reads_or_writes =
            speculable_operands(op).is_some_and(|(b, c)| b == r || c == r) || op.single_dest().is_some_and(|a| a as u16 == r);
        if speculable_operands(op).is_some() && !reads_or_writes {
            continue;
        }
        match *op {
            Op::GetTable { a, b, c } if a as u16 != r && b as u16 != r && c != r => {}
            Op::GetField { a, b, .. } if a as u16 != r && b as u16 != r => {}
            Op::Move { a, b } if a as u16 != r && b as u16 != r => {}
            Op::LoadK { a, .. } | Op::LoadInt { a, .. } if a as u16 != r => {}
            _ => return false,
        }
    }
    false
}

/// The RK operands of a binary instruction tier 2 may speculate on
/// (arithmetic with an inline path, and comparisons).
pub(crate) fn speculable_operands(op: &Op) -> Option<(u16, u16)> {
    match *op {
        Op::Add { b, c, .. }
        | Op::Sub { b, c, .. }
        | Op::Mul { b, c, .. }
        | Op::Div { b, c, .. }
        | Op::IDiv { b, c, .. }
        | Op::Mod { b, c, .. }
        | Op::BAnd { b, c, .. }
        | Op::BOr { b, c, .. }
        | Op::BXor { b, c, .. }
        | Op::Shl { b, c, .. }
        | Op::Shr { b, c, .. }
        | Op::Lt { b, c, .. }
        | Op::Le { b, c, .. }
        | Op::Eq { b, c, .. } => Some((b, c)),
        _ => None,
    }
}

/// The speculation for a binary site from its operand type bits (low
/// nibble: left operand, high: right). A site that never ran in a function
/// with no profile at all (`--tier 2` on a first call) is assumed to be
/// integer arithmetic (a guard makes the guess safe); in a `profiled` one
/// it gets generic code.
fn binary_spec(p: &Proto, op: &Op, b: u16, c: u16, bits: u8, profiled: bool) -> Spec {
    let konst = |x: u16| (x >= RK_CONST).then(|| &p.consts[(x - RK_CONST) as usize]);
    let (kb, kc) = (konst(b), konst(c));
    for k in [kb, kc].into_iter().flatten() {
        if !matches!(k, Constant::Int(_) | Constant::Float(_)) {
            return Spec::None;
        }
    }
    let has_float_const = [kb, kc].into_iter().flatten().any(|k| matches!(k, Constant::Float(_)));
    let (lo, hi) = (bits & 0xf, bits >> 4);
    // Register operands' observed sets (constants are known).
    let regs: Vec<u8> = [(b, lo), (c, hi)].into_iter().filter(|(x, _)| *x < RK_CONST).map(|(_, s)| s).collect();
    let float_ok =
        matches!(op, Op::Add { .. } | Op::Sub { .. } | Op::Mul { .. } | Op::Div { .. } | Op::IDiv { .. } | Op::Lt { .. } | Op::Le { .. });
    if regs.is_empty() {
        return Spec::None;
    }
    if bits == 0 {
        if profiled {
            return Spec::None;
        }
        return if has_float_const { if float_ok { Spec::Float } else { Spec::None } } else { Spec::Int };
    }
    if regs.iter().all(|&s| s == types::INT) && !has_float_const {
        return Spec::Int;
    }
    if float_ok && regs.iter().all(|&s| s == types::FLOAT) {
        // Integer constants convert exactly in arithmetic, but an int
        // constant compared with a float has its own rules: generic.
        let int_const = [kb, kc].into_iter().flatten().any(|k| matches!(k, Constant::Int(_)));
        if !(int_const && matches!(op, Op::Lt { .. } | Op::Le { .. } | Op::Eq { .. })) {
            return Spec::Float;
        }
    }
    Spec::None
}
