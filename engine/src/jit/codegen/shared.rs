//! Tier 1's shared slow paths.
//!
//! Why: in tier 1 nearly every instruction has a slow path, a cold call of
//! `jit_step` or of a fast helper followed by a status check, a reload of
//! the register file's address and a jump on. Emitted once per
//! instruction, those made a third of tier 1's IR, and Cranelift's
//! compile time grows with the IR. Instead, each helper gets one slow path
//! per unit, which the instructions' cold paths jump to with their pc (and,
//! for a fast helper, their packed operands) as block arguments. After the
//! call, the shared path dispatches on the pc (`br_table`) to where the
//! instruction continues: for `jit_step` the next pc it reports, for a
//! fast helper the instruction after the site.
//!
//! Only tier 1 shares: tier 2's slow paths write back deferred registers
//! and resume through per-site stubs, and an inlined callee's exits
//! materialize its frame first, so both keep a slow path per site. A site
//! whose helper always leaves compiled code keeps its own path too.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, Block, BlockArg, InstBuilder, JumpTableData, types};

use super::super::runtime::jit_step;
use super::Translator;
use crate::profile::Site;

/// One helper's shared slow path.
pub(super) struct SharedSlow {
    /// The helper: `jit_step` (called with the pc alone) or a fast helper.
    helper: *const u8,
    /// Takes the site's word (see `site_word`), and for a fast helper
    /// first its operand word.
    block: Block,
    /// Where control goes on, by dispatch index. Each site has indices of
    /// its own, so the `br_table` has one entry per way a site goes on:
    /// Cranelift splits every entry's edge into a block of its own, so a
    /// table indexed by pc (mostly unused entries) would cost a block per
    /// instruction.
    routes: Vec<Block>,
}

/// A site's word: its pc (bits 0..24), the first pc it may continue at
/// (24..48: a `jit_step` site continues at its second route exactly when
/// the helper reports another pc) and its first route (48..64).
fn site_word(pc: usize, first: usize, route: usize) -> Option<i64> {
    (pc < 1 << 24 && first < 1 << 24 && route < 1 << 16).then_some((pc | first << 24 | route << 48) as i64)
}

impl Translator<'_, '_> {
    /// Whether this translation shares its slow paths (see the module doc).
    pub(super) fn shares_slow_paths(&self) -> bool {
        self.plan.is_none() && self.inlined.is_none()
    }

    /// A cold block running instruction `pc` in the interpreter through the
    /// shared `jit_step` path, which then continues at whichever of `succs`
    /// the instruction chose (one or two pcs); None if the site's word
    /// cannot hold its numbers.
    pub(super) fn shared_step_site(&mut self, pc: usize, succs: &[usize]) -> Option<Block> {
        debug_assert!(matches!(succs.len(), 1 | 2));
        let blocks: Vec<_> = succs.iter().map(|&s| self.after_helper(s)).collect();
        let (shared, route) = self.shared_slow(jit_step as *const u8, 1);
        let word = site_word(pc, succs[0], route)?;
        self.shared_routes(shared, blocks);
        Some(self.cold_block(|t| {
            let w = t.iconst(word);
            t.b.ins().jump(shared, &[BlockArg::Value(w)]);
        }))
    }

    /// A cold block calling fast helper `f` for instruction `pc` through its
    /// shared path, which then continues at `pc + 1`; None if the site's
    /// word cannot hold its numbers.
    pub(super) fn shared_fast_site(&mut self, f: *const u8, pc: usize, ops: i64) -> Option<Block> {
        let next = self.after_helper(pc + 1);
        let (shared, route) = self.shared_slow(f, 2);
        let word = site_word(pc, 0, route)?;
        self.shared_routes(shared, vec![next]);
        Some(self.cold_block(|t| {
            let opsv = t.iconst(ops);
            let w = t.iconst(word);
            t.b.ins().jump(shared, &[BlockArg::Value(opsv), BlockArg::Value(w)]);
        }))
    }

    /// Helper `f`'s shared block (made on first use) and its next route index.
    fn shared_slow(&mut self, f: *const u8, nparams: usize) -> (Block, usize) {
        if let Some(s) = self.shared.iter().find(|s| s.helper == f) {
            return (s.block, s.routes.len());
        }
        let block = self.b.create_block();
        self.b.set_cold_block(block);
        for _ in 0..nparams {
            self.b.append_block_param(block, types::I64);
        }
        self.shared.push(SharedSlow { helper: f, block, routes: Vec::new() });
        (block, 0)
    }

    fn shared_routes(&mut self, block: Block, routes: Vec<Block>) {
        let s = self.shared.iter_mut().find(|s| s.block == block).expect("made by shared_slow");
        s.routes.extend(routes);
    }

    /// Emits the body of every shared slow path: the call, the status
    /// check, and the dispatch to where each site continues.
    pub(super) fn finish_shared(&mut self) {
        for s in std::mem::take(&mut self.shared) {
            self.b.switch_to_block(s.block);
            let params = self.b.block_params(s.block).to_vec();
            let word = *params.last().expect("every shared block takes a word");
            let pcv = self.b.ins().band_imm_u(word, 0xff_ffff);
            let route = self.b.ins().ushr_imm_u(word, 48);
            let index = if s.helper == jit_step as *const u8 {
                let r = self.call_helper_with(s.helper, pcv);
                self.check_status(r);
                let next = self.b.ins().ushr_imm_u(r, 8);
                let first = self.b.ins().ushr_imm_u(word, 24);
                let first = self.b.ins().band_imm_u(first, 0xff_ffff);
                let second = self.b.ins().icmp(IntCC::NotEqual, next, first);
                let second = self.b.ins().uextend(types::I64, second);
                self.b.ins().iadd(route, second)
            } else {
                let r = self.call_fast_at(s.helper, params[0], pcv);
                self.check_status(r);
                route
            };
            let default = self.b.func.dfg.block_call(self.bail, &[]);
            let table: Vec<_> = s.routes.iter().map(|&blk| self.b.func.dfg.block_call(blk, &[])).collect();
            let jt = self.b.create_jump_table(JumpTableData::new(default, &table));
            let idx = self.b.ins().ireduce(types::I32, index);
            self.b.ins().br_table(idx, jt);
        }
    }

    /// Calls fast helper `f` with the operand word and pc given at run
    /// time; the site's feedback byte and inline-cache cell are found from
    /// the pc (both are arrays indexed by it).
    fn call_fast_at(&mut self, f: *const u8, ops: ir::Value, pcv: ir::Value) -> ir::Value {
        let fp = self.iconst(f as i64);
        let regs = self.regs();
        let bits = if self.prof && !self.p.feedback.sites.is_empty() {
            // `sites` is a boxed slice: element `pc` sits `pc` strides on.
            let first = self.p.feedback.sites[0].bits.as_ptr() as i64;
            let stride = self.b.ins().imul_imm_s(pcv, std::mem::size_of::<Site>() as i64);
            self.b.ins().iadd_imm_s(stride, first)
        } else {
            self.iconst(0)
        };
        // The cells live as long as the unit (it owns them), one u32 per pc.
        let first_ic = self.ic_cell(0) as i64;
        let offset = self.b.ins().ishl_imm_u(pcv, 2);
        let ic = self.b.ins().iadd_imm_s(offset, first_ic);
        let call = self.b.ins().call_indirect(self.fast, fp, &[self.state, regs, self.consts, ops, bits, pcv, ic]);
        self.forget_pinned_read();
        self.b.inst_results(call)[0]
    }
}
