//! Tier 2's method lookup: `obj:name(...)` (`SelfOp`) written out inline
//! for the common case, an object table that lacks `name` itself and
//! inherits it through `__index` tables.
//!
//! Why: every method call used to go through `runtime::jit_self`, a Rust
//! call with seven arguments around two hash probes: the object's own
//! hash part (a miss, for a method) and the state's inherited-lookup cache
//! (`State::inherited`). At a site where objects of many classes meet (a
//! polymorphic `shape:area()`), no guard on one metatable can replace
//! that lookup; but the two probes themselves are a dozen loads, which
//! this code does in place.
//!
//! No speculation, so no deopt: anything else — not a table, the key
//! present in the object, no metatable, a cache miss or a stale entry —
//! calls `jit_self` from a cold block, which does the whole lookup (and
//! fills the cache for next time).
//!
//! Invariant: the probe and the cache's set are those of `Table::get_str`
//! and `State::inherited` (`state::lookup_set`): the same slot sequence,
//! the same hash, the same validity test (entry epoch equal to
//! `LOOKUP_EPOCH`). A change to either must change this file too; the
//! corpus runs every `SelfOp` both here and in the interpreter.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{BlockArg, InstBuilder, types};

use super::Translator;
use crate::jit::runtime::{self as rt, tag};
use crate::table::LOOKUP_EPOCH;

impl<'a, 'b> Translator<'a, 'b> {
    /// Whether `SelfOp` with key constant `k` gets the inline lookup: a
    /// short (interned, so compared by pointer) string key, and the hash
    /// part's layout known.
    pub(super) fn method_lookup_inline(&self, k: u16) -> bool {
        self.short_str_const(k as u32) && self.lay.table_nodes_ptr.is_some() && self.lay.table_nodes_len.is_some()
    }

    /// `SelfOp { a, b, k }`: `R[a+1] = R[b]; R[a] = R[b][K[k]]` (see the
    /// module doc).
    pub(super) fn method_lookup(&mut self, pc: usize, a: u8, b: u8, k: u16) {
        let (np, nl) = (self.lay.table_nodes_ptr.expect("checked"), self.lay.table_nodes_len.expect("checked"));
        let slow = self.cold_helper(rt::jit_self as *const u8, pc, a as usize, b as usize, k as usize);
        let obj_tag = self.tag(b as u16);
        let is_table = self.eq_imm(obj_tag, tag::TABLE);
        self.continue_if(is_table, slow);
        let t = self.int(b as u16);
        let key = self.b.ins().load(types::I64, self.mf, self.consts, 16 * k as i32 + 8);

        // The object's own hash part, probed from the key's home slot to
        // an empty one. Finding the key (even a dead entry) is left to the
        // helper: a method stored in the object itself is rare.
        let (probe, own_miss, found) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.append_block_param(probe, types::I64);
        self.b.append_block_param(found, types::I64);
        let len = self.b.ins().load(types::I64, self.mf, t, nl);
        let empty_part = self.eq_imm(len, 0);
        let has_part = self.b.create_block();
        self.b.ins().brif(empty_part, own_miss, &[], has_part, &[]);
        self.b.switch_to_block(has_part);
        let mask = self.b.ins().iadd_imm_s(len, -1);
        let hash = self.b.ins().load(types::I64, self.mf, key, self.lay.str_hash);
        let home = self.b.ins().band(hash, mask);
        self.b.ins().jump(probe, &[BlockArg::Value(home)]);

        self.b.switch_to_block(probe);
        let i = self.b.block_params(probe)[0];
        let nodes = self.b.ins().load(types::I64, self.mf, t, np);
        let off = self.b.ins().ishl_imm_u(i, 5);
        let node = self.b.ins().iadd(nodes, off);
        let kt = self.b.ins().load(types::I64, self.mf, node, 0);
        let vacant = self.eq_imm(kt, tag::NIL);
        let occupied = self.b.create_block();
        self.b.ins().brif(vacant, own_miss, &[], occupied, &[]);
        self.b.switch_to_block(occupied);
        let kp = self.b.ins().load(types::I64, self.mf, node, 8);
        let is_str = self.eq_imm(kt, tag::STR);
        let same_ptr = self.b.ins().icmp(IntCC::Equal, kp, key);
        let same = self.b.ins().band(is_str, same_ptr);
        let next_slot = self.b.create_block();
        self.b.ins().brif(same, slow, &[], next_slot, &[]);
        self.b.switch_to_block(next_slot);
        let next = self.b.ins().iadd_imm_s(i, 1);
        let next = self.b.ins().band(next, mask);
        self.b.ins().jump(probe, &[BlockArg::Value(next)]);

        // Inherited: the cache entry for (metatable, key), either way of
        // its set, valid in the current epoch.
        self.b.switch_to_block(own_miss);
        let lay = self.lay;
        let mt = self.b.ins().load(types::I64, self.mf, t, lay.table_meta);
        let has_mt = self.b.ins().icmp_imm_u(IntCC::NotEqual, mt, 0);
        self.continue_if(has_mt, slow);
        let rot = self.b.ins().rotl_imm_u(key, 17);
        let mixed = self.b.ins().bxor(mt, rot);
        let h = self.b.ins().imul_imm_s(mixed, crate::state::LOOKUP_HASH_MUL as i64);
        let set = self.b.ins().ushr_imm_u(h, (u64::BITS - crate::state::LOOKUP_SETS_LOG2) as i64);
        let set_off = self.b.ins().imul_imm_s(set, 2 * lay.lookup_entry_size);
        let cache = self.b.ins().load(types::I64, self.mf, self.state, lay.state_lookup_cache);
        let first = self.b.ins().iadd(cache, set_off);
        let epoch_at = self.iconst(&LOOKUP_EPOCH as *const _ as i64);
        let epoch = self.b.ins().load(types::I64, self.mf, epoch_at, 0);
        for way in 0..2 {
            let entry = self.b.ins().iadd_imm_s(first, way * lay.lookup_entry_size);
            let e_epoch = self.b.ins().load(types::I64, self.mf, entry, lay.lookup_epoch);
            let e_mt = self.b.ins().load(types::I64, self.mf, entry, lay.lookup_mt);
            let e_key = self.b.ins().load(types::I64, self.mf, entry, lay.lookup_key);
            let hits = [
                self.b.ins().icmp(IntCC::Equal, e_epoch, epoch),
                self.b.ins().icmp(IntCC::Equal, e_mt, mt),
                self.b.ins().icmp(IntCC::Equal, e_key, key),
            ];
            let hit = self.b.ins().band(hits[0], hits[1]);
            let hit = self.b.ins().band(hit, hits[2]);
            let miss = if way == 0 { self.b.create_block() } else { slow };
            self.b.ins().brif(hit, found, &[BlockArg::Value(entry)], miss, &[]);
            if way == 0 {
                self.b.switch_to_block(miss);
            }
        }

        // Both writes after every check: `a` or `a + 1` may be `b`.
        self.b.switch_to_block(found);
        let entry = self.b.block_params(found)[0];
        let regs = self.regs();
        let table_tag = self.iconst(tag::TABLE);
        self.b.ins().store(self.mf, table_tag, regs, 16 * (a as i32 + 1));
        self.b.ins().store(self.mf, t, regs, 16 * (a as i32 + 1) + 8);
        self.copy(regs, 16 * a as i32, entry, lay.lookup_value);
        self.clean(a as u16);
        self.clean(a as u16 + 1);
        self.jump(pc + 1);
    }
}
