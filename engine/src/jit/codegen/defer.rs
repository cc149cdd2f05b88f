//! Tier 2's deferred register writes: numbers stay in SSA values, and
//! memory gets them only when something may read it.
//!
//! Why: "memory is the truth" (see `tier2.rs`) made every register write a
//! store, so a hot loop spent much of its time writing temporaries nobody
//! reads and loop variables only the next iteration reads from its SSA
//! value anyway. Here, an instruction that never leaves compiled code on
//! its fast path (a speculated one, a move, a loaded constant, a test, a
//! jump, an integer `for` step: see [`Translator::defers`]) writes an
//! integer or float result only to the register's SSA variable and notes
//! the register as *dirty*: its memory may be stale. A table the plan
//! knows (`b[k]` in `b[k][j]`) is deferred the same way: the collector
//! runs only where registers are read from memory, so the same write-backs
//! that serve the interpreter keep every live table reachable, and a dead
//! one is unreachable anyway.
//!
//! The invariant: wherever anything may read registers from memory, every
//! dirty register that is still *live* there (`liveness.rs`: the bytecode
//! may read it before writing it) has been written back first. Those
//! places are: the start of every other instruction (all of which may run
//! a helper, a call, or the interpreter), every deopt exit, every cold
//! helper call, the tick at a loop's back edge, and every edge into a
//! resume stub (which reloads registers from memory). A register that is
//! dead there is simply dropped: nobody reads it, which is what removes a
//! temporary's store altogether.
//!
//! The dirty set is tracked while translating, instruction by instruction.
//! A forward edge carries it to its target, which starts with the union of
//! what its incoming edges carried; an edge first writes back every dirty
//! register whose type the plan does not know at the target, since there
//! its SSA variable may not hold it on another path. A loop header is
//! translated before its back edges: it declares up front, in a loop that
//! runs only deferring instructions, every live register the plan knows
//! as a number there (on a path where one is not dirty its memory is
//! simply up to date), and a back edge writes back whatever is dirty
//! beyond that. So a loop-carried number (`s`, the loop index) is stored
//! only when the loop is left, not once per iteration.

use cranelift_codegen::ir::{Block, InstBuilder, types};

use super::Translator;
use crate::bytecode::{Constant, Op};
use crate::jit::runtime::tag;
use crate::jit::speculate::{Spec, Ty};

/// An edge that writes back (and moves the tick count) before going on.
pub(super) struct EdgeBlock {
    blk: Block,
    back: Vec<Dirty>,
    tick_out: bool,
    tick_in: bool,
    to: Block,
}

/// A register whose memory may be stale: its value is its SSA variable
/// of type `ty` (a table's is its pointer, in the integer variable).
/// Writing it back stores the tag too: not even a register the plan
/// knows the type of has its tag in memory for sure (a dead register's
/// write-back is dropped, so its memory may hold anything).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Dirty {
    pub reg: u16,
    pub ty: Ty,
}

impl<'a, 'b> Translator<'a, 'b> {
    /// Whether instruction `pc` defers its number writes: it is tier-2
    /// code the plan reached, and its fast path reads registers only
    /// through the plan-aware accessors (`int`, `float`, `tag`) and leaves
    /// only through deopt exits, cold helpers and edges, which write dirty
    /// registers back. Every other instruction writes them back first.
    pub(super) fn defers(&self, pc: usize) -> bool {
        let Some(plan) = self.plan else { return false };
        if !plan.reached(pc) {
            return false;
        }
        let spec = plan.spec[pc];
        match self.p.code[pc] {
            Op::Add { .. } | Op::Sub { .. } | Op::Mul { .. } | Op::Div { .. } | Op::IDiv { .. } | Op::Unm { .. } => spec != Spec::None,
            Op::Mod { .. } | Op::BAnd { .. } | Op::BOr { .. } | Op::BXor { .. } => spec == Spec::Int,
            Op::Lt { .. } | Op::Le { .. } => spec != Spec::None,
            Op::Eq { .. } => spec == Spec::Int,
            Op::GetTable { .. } | Op::SetTable { .. } => matches!(spec, Spec::Array(_)),
            Op::GetField { .. } | Op::SetField { .. } => matches!(spec, Spec::Field { .. }),
            Op::GetGlobal { .. } => matches!(spec, Spec::Global { .. }),
            Op::Move { .. } | Op::LoadInt { .. } | Op::Test { .. } => true,
            Op::LoadK { k, .. } => matches!(self.p.consts[k as usize], Constant::Int(_) | Constant::Float(_)),
            Op::Jmp { close, .. } => close == 0,
            Op::ForLoop { a, .. } => (0..3).all(|i| plan.ty(pc, a as u16 + i) == Ty::Int),
            _ => false,
        }
    }

    /// Whether a number written to `r` by the current instruction may stay
    /// in its SSA variable only.
    pub(super) fn may_defer(&self, r: u16) -> bool {
        (r as usize) < self.ivars.len() && self.plan.is_some_and(|p| !p.captured[r as usize]) && self.defers(self.pc)
    }

    /// Notes that `r` now holds `ty` in its SSA variable only.
    pub(super) fn mark_dirty(&mut self, r: u16, ty: Ty) {
        self.clean(r);
        self.dirty.push(Dirty { reg: r, ty });
    }

    /// Notes that memory holds `r`'s value (it was just written there).
    pub(super) fn clean(&mut self, r: u16) {
        self.dirty.retain(|d| d.reg != r);
    }

    /// Whether register `r` may be read at `pc` or after (tier 1 has no
    /// liveness: everything is).
    pub(super) fn live(&self, pc: usize, r: u16) -> bool {
        self.liveness.as_ref().is_none_or(|l| l.live(pc, r))
    }

    /// The dirty registers live at `pc`.
    pub(super) fn dirty_live_at(&self, pc: usize) -> Vec<Dirty> {
        self.dirty.iter().copied().filter(|d| self.live(pc, d.reg)).collect()
    }

    /// Writes `list` back to memory (in the current block).
    pub(super) fn write_back(&mut self, list: &[Dirty]) {
        for d in list {
            let regs = self.regs();
            let v = if d.ty == Ty::Float { self.b.use_var(self.fvars[d.reg as usize]) } else { self.b.use_var(self.ivars[d.reg as usize]) };
            self.b.ins().store(self.mf, v, regs, 16 * d.reg as i32 + 8);
            let t = self.iconst(match d.ty {
                Ty::Float => tag::FLOAT,
                Ty::Table => tag::TABLE,
                _ => tag::INT,
            });
            self.b.ins().store(self.mf, t, regs, 16 * d.reg as i32);
        }
    }

    /// Before instruction `pc` runs (tier 2): takes the dirty set its
    /// incoming edges carried (and, at a loop header, declares the loop's),
    /// and writes it back unless `pc` defers.
    pub(super) fn enter_instruction(&mut self, pc: usize) {
        if self.plan.is_none() {
            return;
        }
        self.dirty = self.pending.remove(&pc).unwrap_or_default();
        if self.loop_end[pc].is_some() && self.tick_in_var(pc) {
            let plan = self.plan.expect("tier 2");
            for r in 0..self.ivars.len() as u16 {
                let ty = plan.ty(pc, r);
                if matches!(ty, Ty::Int | Ty::Float) && self.live(pc, r) && !plan.captured[r as usize] {
                    self.dirty.retain(|d| d.reg != r);
                    self.dirty.push(Dirty { reg: r, ty });
                }
            }
        }
        self.entry_dirty.insert(pc, self.dirty.clone());
        if !self.defers(pc) {
            let list = self.dirty_live_at(pc);
            self.dirty.clear();
            if !list.is_empty() {
                self.write_back(&list);
                // The instruction starts in a block of its own: it may make
                // cold blocks first, which needs the current one empty.
                let rest = self.b.create_block();
                self.b.ins().jump(rest, &[]);
                self.b.switch_to_block(rest);
            }
        }
    }

    /// Per pc, whether it lies in a loop made only of deferring
    /// instructions (from its header to its last back edge). There, the
    /// loop-carried numbers stay deferred around the loop, and so does the
    /// step count toward the next tick (`tick`): it is loaded on the way
    /// in (an entry edge, a resume stub) and stored on every way out.
    pub(super) fn deferring_loops(&self) -> Vec<bool> {
        let n = self.p.code.len();
        let mut inside = vec![false; n];
        let Some(plan) = self.plan else { return inside };
        for h in 0..n {
            let Some(end) = self.loop_end[h] else { continue };
            if (h..=end).all(|x| self.defers(x) || !plan.reached(x)) {
                inside[h..=end].fill(true);
            }
        }
        inside
    }

    pub(super) fn tick_in_var(&self, pc: usize) -> bool {
        self.tick_regions.get(pc).copied().unwrap_or(false)
    }

    /// Before a helper at `pc` (which may read any register, and the tick
    /// count): everything deferred that it may read goes to memory.
    pub(super) fn leave_deferring(&mut self, pc: usize) {
        let list = self.dirty_live_at(pc);
        self.write_back(&list);
        if self.tick_in_var(pc) {
            self.store_tick();
        }
    }

    pub(super) fn load_tick(&mut self) {
        let t = self.b.ins().load(types::I64, self.mf, self.state, self.lay.state_tick);
        self.b.def_var(self.tick, t);
    }

    pub(super) fn store_tick(&mut self) {
        let t = self.b.use_var(self.tick);
        self.b.ins().store(self.mf, t, self.state, self.lay.state_tick);
    }

    /// The block an edge from the current instruction to `target` enters:
    /// `to` itself when nothing needs writing back first, else a block that
    /// writes back and continues at `to`. A forward edge to `target`'s own
    /// block (`into_stub` false) carries the rest of the dirty set there.
    pub(super) fn edge_to(&mut self, target: usize, to: Block, into_stub: bool) -> Block {
        if self.plan.is_none() {
            return to;
        }
        // The tick count moves between memory and its SSA value where the
        // edge enters or leaves a deferring loop (a stub loads it itself).
        let (from_var, to_var) = (self.tick_in_var(self.pc), self.tick_in_var(target) && !into_stub);
        let tick_out = from_var && !to_var;
        let tick_in = to_var && !from_var;
        if self.dirty.is_empty() && !tick_out && !tick_in {
            return to;
        }
        let live = self.dirty_live_at(target);
        let (keep, back): (Vec<Dirty>, Vec<Dirty>) = if into_stub {
            (Vec::new(), live)
        } else if self.pc < target {
            let plan = self.plan.expect("tier 2");
            live.into_iter().partition(|d| plan.ty(target, d.reg) == d.ty)
        } else {
            // A back edge: the header's set was fixed when it was
            // translated; anything beyond it goes back.
            let header = self.entry_dirty.get(&target).cloned().unwrap_or_default();
            live.into_iter().partition(|d| header.contains(d))
        };
        if !into_stub && self.pc < target {
            let merged = self.pending.entry(target).or_default();
            for d in keep {
                if !merged.contains(&d) {
                    merged.push(d);
                }
            }
        }
        if back.is_empty() && !tick_out && !tick_in {
            return to;
        }
        // Filled at the end (`finish_edges`): the builder cannot leave the
        // half-built block the branch is in.
        let blk = self.b.create_block();
        self.edges.push(EdgeBlock { blk, back, tick_out, tick_in, to });
        blk
    }

    /// Fills the edge blocks `edge_to` made.
    pub(super) fn finish_edges(&mut self) {
        for e in std::mem::take(&mut self.edges) {
            self.b.switch_to_block(e.blk);
            self.write_back(&e.back);
            if e.tick_out {
                self.store_tick();
            }
            if e.tick_in {
                self.load_tick();
            }
            self.b.ins().jump(e.to, &[]);
        }
    }
}
