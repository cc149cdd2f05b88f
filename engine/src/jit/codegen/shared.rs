//! Tier 1's shared slow paths.
//!
//! Why: in tier 1 nearly every instruction has a slow path, a cold call of
//! `jit_step` or of a fast helper followed by a status check, a reload of
//! the register file's address and a jump on; and every call site has ways
//! on for a callee that did not come straight back. Emitted per site, they
//! made about a fifth of tier 1's IR and half its blocks, and Cranelift's
//! compile time grows with both. Instead each helper gets one slow path
//! per unit, which the sites' cold paths jump to with their pc, packed
//! operands and route index as block arguments. After the call, the shared
//! path dispatches on the route (`br_table`) to where the site continues:
//! for `jit_step` the successor it reports, for a fast helper or a call the
//! instruction after the site. Routes are numbered per site, not by pc:
//! Cranelift splits every table entry's edge into a block of its own.
//!
//! The price is an indirect jump on a slow path, which already costs a
//! helper call; the hot paths are unchanged.
//!
//! Only tier 1 shares: tier 2's slow paths write back deferred registers
//! and resume through per-site stubs, and an inlined callee's exits
//! materialize its frame first, so both keep a slow path per site. A site
//! whose helper always leaves compiled code keeps its own path too.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, Block, BlockArg, InstBuilder, JumpTableData, types};

use super::super::runtime::{self as rt, jit_step, status};
use super::Translator;
use crate::bytecode::Proto;
use crate::profile::Site;

/// How a shared slow path calls its helper and goes on.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `jit_step(state, pc)`, going on at the successor it reports.
    Step,
    /// A fast helper, going on at the instruction after the site.
    Fast,
    /// A `(state, ops, proto, pc)` helper that reports its successor as
    /// `jit_step` does (`jit_compare`, `jit_forprep`).
    Helper4,
}

/// One helper's shared slow path.
pub(super) struct SharedSlow {
    helper: *const u8,
    kind: Kind,
    /// Takes the site's word (see `site_word`), and but for `jit_step`
    /// first its operand word.
    block: Block,
    /// Where control goes on, by dispatch index. Each site has indices of
    /// its own, so the `br_table` has one entry per way a site goes on:
    /// Cranelift splits every entry's edge into a block of its own, so a
    /// table indexed by pc (mostly unused entries) would cost a block per
    /// instruction.
    routes: Vec<Block>,
}

/// Tier 1 calls' shared ways on (see `Translator::call_shared`): where a
/// call that did not come straight back from compiled code goes on.
pub(super) struct SharedCall {
    /// (status, route): leaves on a status, else reloads the register
    /// file's address and goes on at the route.
    status: Block,
    /// (callee status, level, route): `jit_call_resume`, then `status`.
    resume: Block,
    /// Where each call site goes on, by route index.
    routes: Vec<Block>,
}

/// A site's word: its pc (bits 0..24), the first pc it may continue at
/// (24..48: a site whose helper reports its successor continues at its
/// second route exactly when the helper reports another pc) and its
/// first route (48..64).
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
        self.shared_branching_site(jit_step as *const u8, Kind::Step, pc, None, succs)
    }

    /// As `shared_step_site`, for a `(state, ops, proto, pc)` helper that
    /// reports the successor it chose as `jit_step` does.
    pub(super) fn shared_helper4_site(&mut self, f: *const u8, pc: usize, ops: i64, succs: &[usize]) -> Option<Block> {
        self.shared_branching_site(f, Kind::Helper4, pc, Some(ops), succs)
    }

    fn shared_branching_site(&mut self, f: *const u8, kind: Kind, pc: usize, ops: Option<i64>, succs: &[usize]) -> Option<Block> {
        debug_assert!(matches!(succs.len(), 1 | 2));
        let word = site_word(pc, succs[0], self.next_route(f, kind))?;
        let blocks: Vec<_> = succs.iter().map(|&s| self.after_helper(s)).collect();
        let shared = self.shared_slow(f, kind, blocks);
        Some(self.cold_block(|t| {
            let mut args = Vec::new();
            if let Some(ops) = ops {
                args.push(BlockArg::Value(t.iconst(ops)));
            }
            args.push(BlockArg::Value(t.iconst(word)));
            t.b.ins().jump(shared, &args);
        }))
    }

    /// A cold block calling fast helper `f` for instruction `pc` through its
    /// shared path, which then continues at `pc + 1`; None if the site's
    /// word cannot hold its numbers.
    pub(super) fn shared_fast_site(&mut self, f: *const u8, pc: usize, ops: i64) -> Option<Block> {
        let word = site_word(pc, 0, self.next_route(f, Kind::Fast))?;
        let next = self.after_helper(pc + 1);
        let shared = self.shared_slow(f, Kind::Fast, vec![next]);
        Some(self.cold_block(|t| {
            let opsv = t.iconst(ops);
            let w = t.iconst(word);
            t.b.ins().jump(shared, &[BlockArg::Value(opsv), BlockArg::Value(w)]);
        }))
    }

    /// The route index the next site of helper `f` gets.
    fn next_route(&self, f: *const u8, kind: Kind) -> usize {
        self.shared.iter().find(|s| s.helper == f && s.kind == kind).map_or(0, |s| s.routes.len())
    }

    /// Helper `f`'s shared block (made on first use), with a site's
    /// `routes` added (their indices start at `next_route`).
    fn shared_slow(&mut self, f: *const u8, kind: Kind, routes: Vec<Block>) -> Block {
        if let Some(s) = self.shared.iter_mut().find(|s| s.helper == f && s.kind == kind) {
            s.routes.extend(routes);
            return s.block;
        }
        let block = self.b.create_block();
        self.b.set_cold_block(block);
        // The operand word first (but for `jit_step`), then the site's word.
        let nparams = if kind == Kind::Step { 1 } else { 2 };
        for _ in 0..nparams {
            self.b.append_block_param(block, types::I64);
        }
        self.shared.push(SharedSlow { helper: f, kind, block, routes });
        block
    }

    /// Tier 1 `Call`, its slow ways shared (see the module doc). The site
    /// keeps the hot way: the push stub, the call of the callee's code and,
    /// when that returns, the register reload. A call the stub declined
    /// and `jit_call_enter` finished (a native, say), or whose callee left
    /// its code otherwise, goes on through the shared blocks. False (and
    /// nothing emitted) if the route numbers run out.
    pub(super) fn call_shared(&mut self, pc: usize, a: usize, b: usize, c: usize) -> bool {
        let route = self.shared_call.as_ref().map_or(0, |s| s.routes.len());
        if route >= 1 << 16 {
            return false;
        }
        let next = self.after_helper(pc + 1);
        let (status_blk, resume_blk) = match &mut self.shared_call {
            Some(s) => {
                s.routes.push(next);
                (s.status, s.resume)
            }
            None => {
                let (status, resume) = (self.b.create_block(), self.b.create_block());
                for (blk, n) in [(status, 2), (resume, 3)] {
                    self.b.set_cold_block(blk);
                    for _ in 0..n {
                        self.b.append_block_param(blk, types::I64);
                    }
                }
                self.shared_call = Some(SharedCall { status, resume, routes: vec![next] });
                (status, resume)
            }
        };
        let f = self.call_stubs.map_or(rt::jit_call_enter as *const u8, |s| s.push as *const u8);
        let r = self.call_helper4(f, pc, a, b, c);
        let code_ready = self.b.create_block();
        let tag = self.b.ins().band_imm_u(r, rt::DIRECT_CALL as i64);
        let is_code = self.eq_imm(tag, rt::DIRECT_CALL as i64);
        let rv = self.iconst(route as i64);
        self.b.ins().brif(is_code, code_ready, &[], status_blk, &[BlockArg::Value(r), BlockArg::Value(rv)]);

        self.b.switch_to_block(code_ready);
        let lay = self.lay;
        let code = self.b.ins().band_imm_u(r, !rt::DIRECT_CALL as i64);
        let regs = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_regs);
        let consts = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_consts);
        let upvals = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_upvals);
        let level = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_call_level);
        let zero = self.iconst(0);
        let call = self.b.ins().call_indirect(self.compiled, code, &[self.state, regs, consts, zero, upvals]);
        self.forget_pinned_read();
        let st = self.b.inst_results(call)[0];
        let returned = self.b.create_block();
        let is_returned = self.eq_imm(st, status::RETURNED as i64);
        let rv = self.iconst(route as i64);
        let args = [st, level, rv].map(BlockArg::Value);
        self.b.ins().brif(is_returned, returned, &[], resume_blk, &args);

        // The callee returned: one nesting level less (what
        // `jit_call_resume` does on its way out), and on.
        self.b.switch_to_block(returned);
        let depth = self.b.ins().load(types::I32, self.mf, self.state, lay.state_jit_depth);
        let depth = self.b.ins().iadd_imm_s(depth, -1);
        self.b.ins().store(self.mf, depth, self.state, lay.state_jit_depth);
        let regs = self.b.ins().load(types::I64, self.mf, self.state, lay.state_jit_regs);
        self.set_regs(regs);
        self.jump_resumed(pc + 1);
        true
    }

    /// Emits the body of every shared slow path: the call, the status
    /// check, and the dispatch to where each site continues.
    pub(super) fn finish_shared(&mut self) {
        if let Some(s) = self.shared_call.take() {
            self.b.switch_to_block(s.resume);
            let [st, level, route] = <[ir::Value; 3]>::try_from(self.b.block_params(s.resume)).expect("three params");
            let fp = self.iconst(rt::jit_call_resume as *const u8 as i64);
            let call = self.b.ins().call_indirect(self.resume, fp, &[self.state, st, level]);
            self.forget_pinned_read();
            let r = self.b.inst_results(call)[0];
            self.b.ins().jump(s.status, &[BlockArg::Value(r), BlockArg::Value(route)]);
            self.b.switch_to_block(s.status);
            let [r, route] = <[ir::Value; 2]>::try_from(self.b.block_params(s.status)).expect("two params");
            self.check_status(r);
            self.route_by(route, &s.routes);
        }
        for s in std::mem::take(&mut self.shared) {
            self.b.switch_to_block(s.block);
            let params = self.b.block_params(s.block).to_vec();
            let word = *params.last().expect("every shared block takes a word");
            let pcv = self.b.ins().band_imm_u(word, 0xff_ffff);
            let route = self.b.ins().ushr_imm_u(word, 48);
            let index = if s.kind != Kind::Fast {
                let r = if s.kind == Kind::Step {
                    self.call_helper_with(s.helper, pcv)
                } else {
                    let fp = self.iconst(s.helper as i64);
                    let proto = self.iconst(self.p as *const Proto as i64);
                    let call = self.b.ins().call_indirect(self.call, fp, &[self.state, params[0], proto, pcv]);
                    self.forget_pinned_read();
                    self.b.inst_results(call)[0]
                };
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
            self.route_by(index, &s.routes);
        }
    }

    /// Jumps to `routes[index]` (anything else cannot happen, and leaves
    /// for the interpreter).
    fn route_by(&mut self, index: ir::Value, routes: &[Block]) {
        let default = self.b.func.dfg.block_call(self.bail, &[]);
        let table: Vec<_> = routes.iter().map(|&blk| self.b.func.dfg.block_call(blk, &[])).collect();
        let jt = self.b.create_jump_table(JumpTableData::new(default, &table));
        let idx = self.b.ins().ireduce(types::I32, index);
        self.b.ins().br_table(idx, jt);
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
