//! The contract between compiled code and the VM: value layout, the offsets
//! compiled code reads, the status codes it returns and the `extern "C"`
//! helpers it calls.
//!
//! Why so few helpers: every instruction compiled code does not finish
//! inline is handed to [`jit_step`], which runs exactly that one instruction
//! through the interpreter's own code (`State::run::<true>`). Tier 1 thus
//! shares every slow path, error message and feedback record with tier 0,
//! and a construct can never be "unsupported" — at worst it is a runtime call.

use std::mem::offset_of;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicU32;

use crate::error::Culprit;

use crate::error::Throw;
use crate::gc::GcBox;
use crate::state::State;
use crate::table::Table;
use crate::value::Value;

/// Zeroed memory the size of a table, which compiled field accesses read
/// a table's words from when the operand is no table: its node count of
/// zero fails the slot check, so one branch tests both (see
/// `codegen::Translator::cached_table`). Nothing ever writes it.
#[repr(C, align(16))]
pub(crate) struct NotATable([u8; std::mem::size_of::<GcBox<Table>>()]);
pub(crate) static NOT_A_TABLE: NotATable = NotATable([0; std::mem::size_of::<GcBox<Table>>()]);

/// What compiled code (and [`jit_step`]) reports in the low byte of its
/// result. `NEXT` carries the next pc in the bits above.
pub(crate) mod status {
    /// Keep running compiled code at pc `result >> 8` (helpers only).
    pub const NEXT: u64 = 0;
    /// The frame stack changed (a call pushed a frame, a return popped
    /// one): the interpreter loop re-dispatches its top frame.
    pub const CONTINUE: u64 = 1;
    /// The entry frame returned; the result count is in `State::jit_nret`.
    pub const RETURNED: u64 = 2;
    /// An error is pending in `State::jit_error`; the frame's pc is saved.
    pub const ERROR: u64 = 3;
    /// Continue this frame in the interpreter at its saved pc.
    pub const INTERPRET: u64 = 4;
    /// Internal to `jit_call_enter`: a callee's frame is pushed, nothing
    /// of it has run yet.
    pub(super) const RUN_NEW: u64 = 5;
}

/// A compiled function: `(state, registers, constants, resume pc, upvalues)
/// -> status`.
pub(crate) type JitFn =
    unsafe extern "C" fn(*mut State, *mut Value, *const Value, u64, *const crate::gc::Gc<crate::function::UpVal>) -> u64;

/// Value tags as laid out by `#[repr(u64)] enum Value` (checked by
/// [`check_layout`]).
pub(crate) mod tag {
    pub const NIL: i64 = 0;
    pub const BOOL: i64 = 1;
    pub const INT: i64 = 2;
    pub const FLOAT: i64 = 3;
    pub const STR: i64 = 4;
    pub const TABLE: i64 = 5;
}

/// Byte offsets compiled code uses; computed once per process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub state_jit_regs: i32,
    pub state_tick: i32,
    /// From a `Gc<Table>` pointer to the table's array pointer / length
    /// and its metatable (`None` = 0). `None` when `Vec`'s field order
    /// could not be established: array fast paths are then left out.
    pub table_arr_ptr: Option<i32>,
    pub table_arr_len: Option<i32>,
    /// The array part's capacity word (found with the other two).
    pub table_arr_cap: Option<i32>,
    pub table_meta: i32,
    /// The table's `in_lookup_chain` byte.
    pub table_in_chain: i32,
    /// From a `Gc<Table>` pointer to the hash part's node pointer / count.
    pub table_nodes_ptr: Option<i32>,
    pub table_nodes_len: Option<i32>,
    pub state_globals: i32,
    pub state_jit_stack: i32,
    /// From a `Gc<UpVal>` pointer to the upvalue's tag word.
    pub upval: i32,
    /// What a direct call reads after `jit_call_enter` (see there).
    pub state_jit_consts: i32,
    pub state_jit_upvals: i32,
    pub state_jit_call_level: i32,
    /// `State::jit_depth`, a `u32`.
    pub state_jit_depth: i32,
    /// The inherited-lookup cache tier 2's method lookup probes
    /// (`codegen/method.rs`): the state's pointer to its entries, an
    /// entry's size and its fields' offsets, and from a `Gc<LuaStr>`
    /// pointer, the string's hash.
    pub state_lookup_cache: i32,
    pub lookup_entry_size: i64,
    pub lookup_epoch: i32,
    pub lookup_mt: i32,
    pub lookup_key: i32,
    pub lookup_value: i32,
    pub str_hash: i32,
    /// What the inline call sequence reads and writes; `None` when the
    /// word order of `Vec` or boxed slices could not be established (calls
    /// then always go through `jit_call_enter`).
    pub call: Option<CallLayout>,
}

/// Offsets of the inline call sequence (`codegen`'s `call`): everything
/// `jit_call_enter`'s plain path reads or writes, in the order it does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLayout {
    /// `Value::Func`'s tag.
    pub tag_func: i64,
    /// From a `Gc<Function>` pointer: the discriminant byte (Lua = 0) and
    /// the `LuaClosure` fields.
    pub func_disc: i32,
    pub closure_proto: i32,
    pub closure_key_lo: i32,
    pub closure_inst: i32,
    pub closure_upvals: i32,
    /// From a `Gc<Function>` pointer to a native: its function pointer.
    pub native_fn: i32,
    /// From a `Gc<ProtoInst>` pointer: the constants' pointer word.
    pub inst_consts: i32,
    /// From a `*const Proto`.
    pub proto_nparams: i32,
    pub proto_is_vararg: i32,
    pub proto_maxstack: i32,
    pub proto_entry: i32,
    pub proto_hot: i32,
    pub proto_tier: i32,
    pub proto_opt: i32,
    pub proto_calls: i32,
    /// From a `*const Proto`: the feedback sites' and call targets' pointer
    /// words, and a site's size and `bits` offset.
    pub proto_sites: i32,
    pub proto_targets: i32,
    pub site_size: i64,
    pub site_bits: i32,
    /// From the state.
    pub state_stack_ptr: i32,
    pub state_stack_len: i32,
    pub state_frames_ptr: i32,
    pub state_frames_len: i32,
    pub state_frames_cap: i32,
    pub state_max_depth: i32,
    pub state_eager: i32,
    pub state_call_weight: i32,
    pub state_threshold2: i32,
    pub state_profiling: i32,
    pub state_tier1_calls: i32,
    pub state_tier2_calls: i32,
    pub state_native_calls: i32,
    /// What the inline return reads and writes besides the frames.
    pub state_top: i32,
    pub state_jit_nret: i32,
    pub state_open_upvals_ptr: i32,
    pub state_open_upvals_len: i32,
    /// A `Frame`: its size and fields.
    pub frame_size: i64,
    pub frame_func: i32,
    pub frame_base: i32,
    pub frame_pc: i32,
    pub frame_closure: i32,
    pub frame_nresults: i32,
    pub frame_nvarargs: i32,
    pub frame_entry: i32,
    pub frame_protected: i32,
    pub frame_called_by_native: i32,
    pub frame_protected_depth: i32,
}

impl Layout {
    /// Whether the array part's pointer and length were found (array fast
    /// paths and tier 2's array speculation need both).
    pub(crate) fn array_fast_paths(&self) -> bool {
        self.table_arr_ptr.is_some() && self.table_arr_len.is_some()
    }
}

pub(crate) fn layout() -> &'static Layout {
    use crate::state::LookupEntry;
    static L: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
    L.get_or_init(|| {
        check_layout();
        let table = offset_of!(GcBox<Table>, value) as i32;
        let arr = table + offset_of!(Table, arr) as i32;
        let (ptr_word, len_word) = vec_words::<Value>().map_or((None, None), |(p, l)| (Some(p), Some(l)));
        let nodes = table + offset_of!(Table, nodes) as i32;
        let (nptr, nlen) = vec_words::<crate::table::Node>().map_or((None, None), |(p, l)| (Some(p), Some(l)));
        assert_eq!(offset_of!(crate::table::Node, val), 16);
        Layout {
            state_jit_regs: offset_of!(State, jit_regs) as i32,
            state_tick: offset_of!(State, budget.tick) as i32,
            table_arr_ptr: ptr_word.map(|w| arr + 8 * w as i32),
            table_arr_len: len_word.map(|w| arr + 8 * w as i32),
            // The three words are distinct (checked by `vec_words`): the
            // capacity is the one left.
            table_arr_cap: ptr_word.zip(len_word).map(|(p, l)| arr + 8 * (3 - p - l) as i32),
            table_meta: table + offset_of!(Table, metatable) as i32,
            table_in_chain: table + offset_of!(Table, in_lookup_chain) as i32,
            table_nodes_ptr: nptr.map(|w| nodes + 8 * w as i32),
            table_nodes_len: nlen.map(|w| nodes + 8 * w as i32),
            state_globals: offset_of!(State, globals) as i32,
            state_jit_stack: offset_of!(State, jit_stack) as i32,
            upval: offset_of!(GcBox<crate::function::UpVal>, value) as i32,
            state_jit_consts: offset_of!(State, jit_consts) as i32,
            state_jit_upvals: offset_of!(State, jit_upvals) as i32,
            state_jit_call_level: offset_of!(State, jit_call_level) as i32,
            state_jit_depth: offset_of!(State, jit_depth) as i32,
            state_lookup_cache: offset_of!(State, lookup_cache) as i32,
            lookup_entry_size: std::mem::size_of::<LookupEntry>() as i64,
            lookup_epoch: offset_of!(LookupEntry, epoch) as i32,
            lookup_mt: offset_of!(LookupEntry, mt) as i32,
            lookup_key: offset_of!(LookupEntry, key) as i32,
            lookup_value: offset_of!(LookupEntry, value) as i32,
            str_hash: (offset_of!(GcBox<crate::value::LuaStr>, value) + crate::value::LuaStr::HASH_OFFSET) as i32,
            call: call_layout(),
        }
    })
}

fn call_layout() -> Option<CallLayout> {
    use crate::bytecode::Proto;
    use crate::function::{Function, LuaClosure, ProtoInst};
    use crate::state::Frame;
    let (sptr, slen) = vec_words::<Value>()?;
    // A `Vec<Frame>` is probed through a vector of plain words of the same
    // size and alignment: `Vec`'s own fields do not depend on its element.
    let frame_size = std::mem::size_of::<Frame>();
    // Compiled code pushes and pops frames by writing the length word:
    // nothing may need dropping.
    if frame_size != 48 || std::mem::align_of::<Frame>() != 8 || std::mem::needs_drop::<Frame>() {
        return None;
    }
    let (fptr, flen) = vec_words::<[u64; 6]>()?;
    let fcap = 3 - fptr - flen;
    let (uptr, ulen) = vec_words::<u64>()?;
    let slice_ptr = boxed_slice_ptr_word()?;
    let func = offset_of!(GcBox<Function>, value);
    // The variants' union of a `repr(C, u8)` enum starts at its alignment.
    let closure = func + std::mem::align_of::<Function>();
    let inst = offset_of!(GcBox<ProtoInst>, value);
    let stack = offset_of!(State, stack);
    let frames = offset_of!(State, frames);
    let o = |x: usize| x as i32;
    Some(CallLayout {
        tag_func: 6,
        func_disc: o(func),
        closure_proto: o(closure + offset_of!(LuaClosure, proto_ptr)),
        closure_key_lo: o(closure + offset_of!(LuaClosure, key_lo)),
        closure_inst: o(closure + offset_of!(LuaClosure, inst)),
        closure_upvals: o(closure + offset_of!(LuaClosure, upvals) + 8 * slice_ptr),
        native_fn: o(closure + offset_of!(crate::function::NativeClosure, f)),
        inst_consts: o(inst + offset_of!(ProtoInst, consts) + 8 * slice_ptr),
        proto_nparams: o(offset_of!(Proto, nparams)),
        proto_is_vararg: o(offset_of!(Proto, is_vararg)),
        proto_maxstack: o(offset_of!(Proto, maxstack)),
        proto_entry: o(offset_of!(Proto, jit.entry)),
        proto_hot: o(offset_of!(Proto, jit.hot)),
        proto_tier: o(offset_of!(Proto, jit.tier)),
        proto_opt: o(offset_of!(Proto, jit.opt)),
        proto_calls: o(offset_of!(Proto, feedback.calls)),
        proto_sites: o(offset_of!(Proto, feedback.sites) + 8 * slice_ptr),
        proto_targets: o(offset_of!(Proto, feedback.targets) + 8 * slice_ptr),
        site_size: std::mem::size_of::<crate::profile::Site>() as i64,
        site_bits: o(offset_of!(crate::profile::Site, bits)),
        state_stack_ptr: o(stack + 8 * sptr),
        state_stack_len: o(stack + 8 * slen),
        state_frames_ptr: o(frames + 8 * fptr),
        state_frames_len: o(frames + 8 * flen),
        state_frames_cap: o(frames + 8 * fcap),
        state_max_depth: o(offset_of!(State, budget.max_depth)),
        state_eager: o(offset_of!(State, tier.eager)),
        state_call_weight: o(offset_of!(State, tier.call_weight)),
        state_threshold2: o(offset_of!(State, tier.threshold2)),
        state_profiling: o(offset_of!(State, profiling)),
        state_tier1_calls: o(offset_of!(State, counters.tier1_calls)),
        state_tier2_calls: o(offset_of!(State, counters.tier2_calls)),
        state_native_calls: o(offset_of!(State, counters.native_calls)),
        state_top: o(offset_of!(State, top)),
        state_jit_nret: o(offset_of!(State, jit_nret)),
        state_open_upvals_ptr: o(offset_of!(State, open_upvals) + 8 * uptr),
        state_open_upvals_len: o(offset_of!(State, open_upvals) + 8 * ulen),
        frame_size: frame_size as i64,
        frame_func: o(offset_of!(Frame, func)),
        frame_base: o(offset_of!(Frame, base)),
        frame_pc: o(offset_of!(Frame, pc)),
        frame_closure: o(offset_of!(Frame, closure)),
        frame_nresults: o(offset_of!(Frame, nresults)),
        frame_nvarargs: o(offset_of!(Frame, nvarargs)),
        frame_entry: o(offset_of!(Frame, entry)),
        frame_protected: o(offset_of!(Frame, protected)),
        frame_called_by_native: o(offset_of!(Frame, called_by_native)),
        frame_protected_depth: o(offset_of!(Frame, protected_depth)),
    })
}

/// Which word of a boxed slice (`Box<[T]>`, two words) holds its pointer.
fn boxed_slice_ptr_word() -> Option<usize> {
    let b: Box<[u64]> = vec![0u64; 3].into_boxed_slice();
    if std::mem::size_of::<Box<[u64]>>() != 16 {
        return None;
    }
    // SAFETY: a boxed slice is two initialized words (checked size); we
    // only read them.
    let words: [usize; 2] = unsafe { std::mem::transmute_copy(&b) };
    let ptr = words.iter().position(|&w| w == b.as_ptr() as usize)?;
    (words[1 - ptr] == 3).then_some(ptr)
}

/// Which words of a `Vec<Value>` hold its pointer and its length. Rust does
/// not promise a field order, so probe a vector whose three words are known
/// to differ (pointer, length 2, capacity 5).
fn vec_words<T: Copy + Default>() -> Option<(usize, usize)> {
    if std::mem::size_of::<Vec<T>>() != 24 || std::mem::size_of::<T>() == 0 {
        return None;
    }
    let mut v: Vec<T> = Vec::with_capacity(5);
    v.push(T::default());
    v.push(T::default());
    if v.capacity() != 5 {
        return None;
    }
    // SAFETY: a Vec is three initialized machine words (checked size above);
    // we only read them.
    let words: [usize; 3] = unsafe { std::mem::transmute_copy(&v) };
    let ptr = words.iter().position(|&w| w == v.as_ptr() as usize)?;
    let len = words.iter().position(|&w| w == 2)?;
    let cap = words.iter().position(|&w| w == 5)?;
    (ptr != len && len != cap && ptr != cap).then_some((ptr, len))
}

/// Compiled code writes and tests values by these tags and payload offsets.
fn check_layout() {
    fn words(v: &Value) -> (u64, u64) {
        let p = v as *const Value as *const u64;
        // SAFETY: Value is 16 bytes, the tag word is always initialized and
        // the payload word is initialized for Int and Float (the only
        // variants whose payload we read here).
        unsafe { (*p, if matches!(v, Value::Int(_) | Value::Float(_)) { *p.add(1) } else { 0 }) }
    }
    assert_eq!(std::mem::size_of::<Value>(), 16);
    assert_eq!(words(&Value::Nil).0, tag::NIL as u64);
    assert_eq!(words(&Value::Bool(true)).0, tag::BOOL as u64);
    assert_eq!(words(&Value::Int(-7)), (tag::INT as u64, -7i64 as u64));
    assert_eq!(words(&Value::Float(1.5)), (tag::FLOAT as u64, 1.5f64.to_bits()));
    let open = crate::function::UpVal::Open(7);
    let closed = crate::function::UpVal::Closed(Value::Int(9));
    // SAFETY: UpVal is repr(u64): tag word, then the payload.
    unsafe {
        let o = &open as *const _ as *const u64;
        let c = &closed as *const _ as *const u64;
        assert_eq!((*o, *o.add(1)), (0, 7));
        assert_eq!((*c, *c.add(1), *c.add(2)), (1, tag::INT as u64, 9));
    }
    let b = Value::Bool(true);
    // SAFETY: the bool payload byte sits right after the 8-byte tag.
    assert_eq!(unsafe { *(&b as *const Value as *const u8).add(8) }, 1);
}

/// Runs the instruction at `pc` of the top frame through the interpreter.
///
/// # Safety
/// `st` is the state the running compiled code was entered with; no other
/// reference to it is used while this runs.
pub(crate) unsafe extern "C" fn jit_step(st: *mut State, pc: u64) -> u64 {
    // SAFETY: see the contract above.
    let st = unsafe { &mut *st };
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if let Some(f) = st.frames.last_mut() {
            f.pc = pc as usize;
        }
        st.run::<true>(0)
    }));
    match caught(st, r) {
        Ok(crate::interp::Exit::Stepped) => {
            let f = st.frames.last().expect("stepped frame");
            st.jit_regs = st.stack.as_mut_ptr().wrapping_add(f.base);
            st.jit_stack = st.stack.as_mut_ptr();
            ((f.pc as u64) << 8) | status::NEXT
        }
        Ok(crate::interp::Exit::FrameChanged) => status::CONTINUE,
        Ok(crate::interp::Exit::Returned(n)) => {
            st.jit_nret = n;
            status::RETURNED
        }
        Err(error) => error,
    }
}

/// The limit check compiled code calls when its tick countdown runs out
/// at a loop back-edge. `word`: the back-edge's pc (bits 0..32), the loop
/// header it jumps to (bits 32..63) and, in bit 63, "this is tier-1 code".
///
/// For tier-1 code this is also where a long-running loop moves up: the
/// slice of ticks just used counts as hotness toward tier 2, and once
/// tier-2 code is published the frame leaves at the loop header
/// (`CONTINUE`), so the interpreter loop re-enters it there — on-stack
/// replacement with the live values, which are all in memory.
///
/// # Safety
/// As for [`jit_step`].
pub(crate) unsafe extern "C" fn jit_tick(st: *mut State, word: u64) -> u64 {
    // SAFETY: see jit_step.
    let st = unsafe { &mut *st };
    let pc = (word & 0xffff_ffff) as usize;
    let header = ((word >> 32) & 0x7fff_ffff) as usize;
    // `tick` already consumed one step inline; give it back so the slow
    // path counts exactly as the interpreter's does.
    st.budget.tick += 1;
    match st.tick() {
        Ok(()) if word >> 63 == 1 => {
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| st.tier1_loop_slice(header)));
            match r {
                Ok(true) => status::CONTINUE,
                _ => status::NEXT,
            }
        }
        Ok(()) => status::NEXT,
        Err(e) => {
            if let Some(f) = st.frames.last_mut() {
                f.pc = pc;
            }
            st.jit_error = Some(e);
            status::ERROR
        }
    }
}

/// A tier-2 guard failed at `pc` (bits 0..32 of `word`; the guard kind's
/// code in bits 32..40; bits 40.. not zero when the guard is in a callee
/// inlined into its caller, whose frame is then the one below), or a resume stub found a register of another
/// type than the plan assumed. Records it and continues the frame in the
/// interpreter at exactly that pc. Nothing needs restoring: tier 2 keeps
/// every register in memory (see `codegen/tier2.rs`).
///
/// # Safety
/// As for [`jit_step`].
pub(crate) unsafe extern "C" fn jit_deopt(st: *mut State, word: u64) -> u64 {
    // SAFETY: see jit_step.
    let st = unsafe { &mut *st };
    let pc = (word & 0xffff_ffff) as usize;
    let code = ((word >> 32) & 0xff) as u8;
    let Some(f) = st.frames.last_mut() else { return status::INTERPRET };
    f.pc = pc;
    let (clg, base) = (f.closure, f.base);
    let crate::function::Function::Lua(cl) = clg.get() else { return status::INTERPRET };
    let proto = cl.inst.get().proto.clone();
    let reason = deopt_reason(st, &proto, base, pc, code);
    // A guard in a callee inlined into its caller's code: the frame below
    // (pushed by the caller's code) runs the code the deopt counts against.
    let inlined = word >> 40 != 0;
    let caller = match st.frames.len().checked_sub(2).map(|i| st.frames[i].closure.get()) {
        Some(crate::function::Function::Lua(cl)) if inlined => Some(cl.inst.get().proto.clone()),
        _ => None,
    };
    // Bookkeeping must never turn a deopt into a crash.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let jit = st.engine.jit();
        jit.deopt(&proto, pc, code, reason);
        if let Some(outer) = caller {
            jit.deopt_inlined(&outer);
        }
    }));
    status::INTERPRET
}

/// A check hoisted out of a loop failed where the loop is entered (see
/// `speculate::Hoist`). `word`: the loop header's pc in bits 0..24, the
/// guard kind's code in bits 24..32, the register checked in bits 32..40,
/// the pc of the site in the loop the check serves in bits 40... The
/// interpreter resumes at the header (nothing of the loop has run); the
/// failure counts against the site.
///
/// # Safety
/// As for [`jit_step`].
pub(crate) unsafe extern "C" fn jit_deopt_hoisted(st: *mut State, word: u64) -> u64 {
    // SAFETY: see jit_step.
    let st = unsafe { &mut *st };
    let header = (word & 0xff_ffff) as usize;
    let code = ((word >> 24) & 0xff) as u8;
    let reg = ((word >> 32) & 0xff) as u8;
    let site = (word >> 40) as usize;
    let Some(f) = st.frames.last_mut() else { return status::INTERPRET };
    f.pc = header;
    let (clg, base) = (f.closure, f.base);
    let crate::function::Function::Lua(cl) = clg.get() else { return status::INTERPRET };
    let proto = cl.inst.get().proto.clone();
    let name = match crate::debuginfo::local_name(&proto, reg, header) {
        Some(n) => format!("'{n}'"),
        None => format!("register {reg}"),
    };
    let held = st.stack.get(base + reg as usize).map_or_else(|| "?".into(), |v| value_kind(*v));
    let line = proto.lines.get(header).copied().unwrap_or(0);
    let reason = format!("{name} was {held} on entry to the loop at line {line}");
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| st.engine.jit().deopt(&proto, site, code, reason)));
    status::INTERPRET
}

/// Words for the stats: what the failed guard found.
fn deopt_reason(st: &State, p: &crate::bytecode::Proto, base: usize, pc: usize, code: u8) -> String {
    use crate::bytecode::{Op, RK_CONST};
    let ty = |x: u16| -> &'static str {
        if x >= RK_CONST {
            "constant"
        } else {
            match st.stack.get(base + x as usize) {
                Some(Value::Int(_)) => "an integer",
                Some(Value::Float(_)) => "a float",
                Some(v) => v.type_name(),
                None => "?",
            }
        }
    };
    let Some(op) = p.code.get(pc) else { return "guard failed".into() };
    let key_const = |k: usize| {
        st.frames.last().and_then(|f| match f.closure.get() {
            crate::function::Function::Lua(cl) => cl.inst.get().consts.get(k).copied(),
            _ => None,
        })
    };
    let field_key = match op {
        Op::GetField { k, .. } | Op::SetField { k, .. } => key_const(*k as usize),
        Op::GetGlobal { k, .. } => key_const(*k as usize),
        _ => None,
    };
    let cold_branch = super::codegen::tier2::kind_code(crate::profile::GuardKind::ColdBranch);
    let array = super::codegen::tier2::kind_code(crate::profile::GuardKind::ArrayBounds);
    let array_miss = |obj: u8, key: u16| -> String {
        let Some(Value::Table(t)) = st.stack.get(base + obj as usize) else { return format!("the object was {}", ty(obj as u16)) };
        let k = if key >= RK_CONST {
            match p.consts.get((key - RK_CONST) as usize) {
                Some(crate::bytecode::Constant::Int(i)) => Value::Int(*i),
                _ => Value::Nil,
            }
        } else {
            st.stack.get(base + key as usize).copied().unwrap_or(Value::Nil)
        };
        let Value::Int(i) = k else { return format!("the key was {}", ty(key)) };
        let len = t.get().arr.len();
        if i < 1 || i as usize > len {
            return format!("the key {i} was outside the array part (length {len})");
        }
        match t.get().arr[i as usize - 1] {
            Value::Nil => format!("the array slot {i} held nil"),
            Value::Int(_) => format!("the element {i} was an integer"),
            Value::Float(_) => format!("the element {i} was a float"),
            v => format!("the element {i} was a {}", v.type_name()),
        }
    };
    let field = super::codegen::tier2::kind_code(crate::profile::GuardKind::FieldSlot);
    let call_target = super::codegen::tier2::kind_code(crate::profile::GuardKind::CallTarget);
    let global = super::codegen::tier2::kind_code(crate::profile::GuardKind::GlobalBinding);
    let slot_miss = |t: &Table, what: &str, key: Option<Value>| -> String {
        let Some(key) = key else { return "guard failed".into() };
        let name = match key {
            Value::Str(s) => String::from_utf8_lossy(s.get().as_bytes()).into_owned(),
            _ => "?".into(),
        };
        match (t.get_str(key), t.str_slot(key)) {
            (Value::Nil, _) => format!("the {what} '{name}' was nil"),
            (v, Some(s)) => format!("the {what} '{name}' was {} in hash slot {s}", value_kind(v)),
            (v, None) => format!("the {what} '{name}' was {}", value_kind(v)),
        }
    };
    let field_miss = |obj: u8, key: Option<Value>| -> String {
        let Some(Value::Table(t)) = st.stack.get(base + obj as usize) else { return format!("the object was {}", ty(obj as u16)) };
        slot_miss(t.get(), "field", key)
    };
    match (code, super::speculate::speculable_operands(op), op) {
        (c, _, Op::GetField { b, .. }) if c == field => field_miss(*b, field_key),
        (c, _, Op::SetField { a, .. }) if c == field => match st.stack.get(base + *a as usize) {
            Some(Value::Table(t)) if t.get().in_lookup_chain.get() => "the table is in an inherited-lookup chain".into(),
            _ => field_miss(*a, field_key),
        },
        (c, _, Op::GetGlobal { .. }) if c == global => slot_miss(st.globals.get(), "global", field_key),
        (c, _, Op::Call { a, .. }) if c == call_target => match st.stack.get(base + *a as usize) {
            Some(Value::Func(f)) => match f.get() {
                crate::function::Function::Lua(cl) => format!("the callee was another function ('{}')", cl.proto().name),
                crate::function::Function::Native(_) => "the callee was a native function".into(),
            },
            _ => format!("the called value was {}", ty(*a as u16)),
        },
        // A `math` call computed in place (`codegen/math.rs`).
        (c, _, Op::Call { a, .. }) if c == super::codegen::tier2::kind_code(crate::profile::GuardKind::OperandType) => {
            match st.stack.get(base + *a as usize + 1) {
                Some(Value::Float(_)) => "the argument was a float whose floor or ceiling fits no integer".into(),
                _ => format!("the argument was {}", ty(*a as u16 + 1)),
            }
        }
        (super::codegen::tier2::ENTRY_CHECK, ..) => "a register's type changed since the guard that typed it".into(),
        (super::codegen::tier2::UNREACHED_ENTRY, ..) => {
            let line = p.lines.get(pc).copied().unwrap_or(0);
            format!("entered at line {line}, in code the plan had not reached (left out behind a cold branch)")
        }
        (c, ..) if c == cold_branch => "the branch the profile showed as never taken was taken".into(),
        (c, _, Op::GetTable { b, c: key, .. }) if c == array => array_miss(*b, *key),
        (c, _, Op::SetTable { a, b: key, .. }) if c == array => array_miss(*a, *key),
        (_, Some((b, c)), _) => format!("operands were {} and {}", ty(b), ty(c)),
        (_, None, Op::Unm { b, .. }) => format!("operand was {}", ty(*b as u16)),
        _ => "guard failed".into(),
    }
}

/// "an integer", "a float", "a string", ... for deopt reasons.
fn value_kind(v: Value) -> String {
    match v {
        Value::Int(_) => "an integer".into(),
        Value::Float(_) => "a float".into(),
        v => format!("a {}", v.type_name()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_is_established() {
        let l = super::layout();
        assert!(l.table_arr_ptr.is_some() && l.table_arr_len.is_some() && l.table_arr_cap.is_some(), "{l:?}");
        assert!(l.table_nodes_ptr.is_some() && l.table_nodes_len.is_some(), "{l:?}");
        assert!(l.call.is_some(), "{l:?}");
    }

    /// The inline call sequence reads a live closure, prototype and state
    /// through these offsets: each must land on the field it names.
    #[test]
    fn call_layout_reads_real_objects() {
        use crate::function::Function;
        use crate::value::Value;
        let cl = super::layout().call.expect("call layout");
        let engine = crate::Engine::new();
        engine.load_module("m", b"local up = 1\nfunction f(x, y) return x + y + up + 0.5 end").unwrap();
        let mut state = engine.new_state();
        state.require("m").unwrap();
        let st: &mut crate::state::State = &mut state;
        let name = st.new_str(b"f");
        let Value::Func(g) = st.globals.get().get_str(name) else { panic!("f is a function") };
        let Function::Lua(c) = g.get() else { panic!("f is a Lua function") };
        let print = st.new_str(b"print");
        let Value::Func(native) = st.globals.get().get_str(print) else { panic!("print") };
        let word = |p: usize, off: i32| unsafe { *((p as isize + off as isize) as *const u64) };
        let byte = |p: usize, off: i32| unsafe { *((p as isize + off as isize) as *const u8) };
        // SAFETY (all reads): offsets inside live objects, as asserted.
        let v = Value::Func(g);
        assert_eq!(unsafe { *(&v as *const Value as *const i64) }, cl.tag_func);
        let (f, n) = (g.addr(), native.addr());
        assert_eq!((byte(f, cl.func_disc), byte(n, cl.func_disc)), (0, 1));
        let Function::Native(nc) = native.get() else { panic!("print is a native") };
        assert_eq!(word(n, cl.native_fn) as usize, nc.f as usize);
        let p = c.proto_ptr as usize;
        assert_eq!(p, c.proto() as *const _ as usize);
        assert_eq!(word(f, cl.closure_proto) as usize, p);
        assert_eq!(word(f, cl.closure_key_lo), c.key_lo);
        assert_eq!(word(f, cl.closure_upvals) as usize, c.upvals.as_ptr() as usize);
        let inst = word(f, cl.closure_inst) as usize;
        assert_eq!(word(inst, cl.inst_consts) as usize, c.inst.get().consts.as_ptr() as usize);
        let proto = c.proto();
        assert_eq!((byte(p, cl.proto_nparams), byte(p, cl.proto_is_vararg), byte(p, cl.proto_maxstack)), (2, 0, proto.maxstack));
        proto.jit.hot.store(12345, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(word(p, cl.proto_hot), 12345);
        assert_eq!(word(p, cl.proto_calls), proto.feedback.call_count());
        let site = word(p, cl.proto_sites) as usize + 3 * cl.site_size as usize + cl.site_bits as usize;
        assert_eq!(site, proto.feedback.sites[3].bits.as_ptr() as usize);
        assert_eq!(word(p, cl.proto_targets) as usize + 16 * 3, proto.feedback.targets[3][0].as_ptr() as usize);
        assert_eq!(word(p, cl.proto_targets) as usize + 16 * 3 + 8, proto.feedback.targets[3][1].as_ptr() as usize);
        let s = st as *const crate::state::State as usize;
        assert_eq!(word(s, cl.state_stack_ptr) as usize, st.stack.as_ptr() as usize);
        assert_eq!(word(s, cl.state_stack_len) as usize, st.stack.len());
        st.frames.reserve(3);
        assert_eq!(word(s, cl.state_frames_ptr) as usize, st.frames.as_ptr() as usize);
        assert_eq!(word(s, cl.state_frames_len) as usize, st.frames.len());
        assert_eq!(word(s, cl.state_frames_cap) as usize, st.frames.capacity());
        assert_eq!(word(s, cl.state_max_depth) as usize, st.budget.max_depth);
        assert_eq!(word(s, cl.state_call_weight), st.tier.call_weight);
        assert_eq!(word(s, cl.state_threshold2), st.tier.threshold2);
        assert_eq!(byte(s, cl.state_eager), st.tier.eager);
        assert_eq!(byte(s, cl.state_profiling), st.profiling as u8);
        assert_eq!(word(s, cl.state_top) as usize, st.top);
        st.counters.native_calls = 4242;
        assert_eq!(word(s, cl.state_native_calls), 4242);
        st.jit_nret = 77;
        assert_eq!(word(s, cl.state_jit_nret), 77);
        st.open_upvals.reserve(2);
        assert_eq!(word(s, cl.state_open_upvals_ptr) as usize, st.open_upvals.as_ptr() as usize);
        assert_eq!(word(s, cl.state_open_upvals_len) as usize, st.open_upvals.len());
    }
}

// ----- fast helpers ----------------------------------------------------------------
//
// Each does the common case of one instruction directly and hands anything
// else to `jit_step`, which redoes the whole instruction in the interpreter
// (so a fast path must not have effects before it gives up, other than
// feedback bits, which only accumulate). Operands come packed:
// a = bits 0..8, b = bits 8..24, c/k = bits 24..56.

/// A fast helper's body finished the instruction.
const DONE: u64 = status::NEXT;
/// A fast helper's body hands the instruction to `jit_step`.
const STEP: u64 = u64::MAX;

#[inline(always)]
fn unpack(ops: u64) -> (usize, usize, usize) {
    ((ops & 0xff) as usize, ((ops >> 8) & 0xffff) as usize, (ops >> 24) as usize)
}

/// Pointers a fast helper works on.
struct Frame<'a> {
    regs: *mut Value,
    consts: *const Value,
    /// The site's inline-cache cell (a hash-part slot index), if it has one.
    ic: Option<&'a AtomicU32>,
}

impl Frame<'_> {
    /// Remembers where `key` lives in `t` for the compiled fast path.
    #[inline(always)]
    fn cache(&self, t: &Table, key: Value) {
        if let Some(ic) = self.ic
            && let Some(slot) = t.str_slot(key)
        {
            ic.store(slot as u32, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// # Safety
    /// `i` is a register of the running frame (the verifier checked every
    /// operand compiled code passes).
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // the registers are not owned by `Frame`; see the contract
    unsafe fn r(&self, i: usize) -> &mut Value {
        unsafe { &mut *self.regs.add(i) }
    }
    /// # Safety
    /// `k` is a constant index of the running function.
    #[inline(always)]
    unsafe fn k(&self, k: usize) -> Value {
        unsafe { *self.consts.add(k) }
    }
    /// # Safety
    /// As for `r` and `k`.
    #[inline(always)]
    unsafe fn rk(&self, x: usize) -> Value {
        if x < crate::bytecode::RK_CONST as usize {
            unsafe { *self.r(x) }
        } else {
            unsafe { self.k(x - crate::bytecode::RK_CONST as usize) }
        }
    }
}

macro_rules! fast_helper {
    ($name:ident, |$st:ident, $f:ident, $a:ident, $b:ident, $c:ident, $bits:ident, $pc:ident| $body:block) => {
        /// # Safety
        /// Called by compiled code with its own state, registers, constants,
        /// operands and (or null) the feedback bits of instruction `pc`.
        pub(crate) unsafe extern "C" fn $name(
            st: *mut State,
            regs: *mut Value,
            consts: *const Value,
            ops: u64,
            bits: *const std::sync::atomic::AtomicU8,
            pc: u64,
            ic: *const AtomicU32,
        ) -> u64 {
            let fast = {
                // SAFETY: see the contract above.
                let $st = unsafe { &mut *st };
                // SAFETY: `ic` is null or this site's cache cell, owned by the
                // unit calling us.
                let $f = Frame { regs, consts, ic: unsafe { ic.as_ref() } };
                let ($a, $b, $c) = unpack(ops);
                // SAFETY: `bits` is null or points into the prototype's
                // feedback, which outlives the unit calling us.
                let $bits = unsafe { bits.as_ref() };
                let $pc = pc;
                #[allow(unused_unsafe)]
                let outcome: u64 = unsafe { $body };
                outcome
            };
            if fast == STEP { unsafe { jit_step(st, pc) } } else { fast }
        }
    };
}

#[inline(always)]
fn note(bits: Option<&std::sync::atomic::AtomicU8>, b: u8) {
    if let Some(s) = bits {
        let old = s.load(std::sync::atomic::Ordering::Relaxed);
        if old | b != old {
            s.store(old | b, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

use crate::profile::access;

fast_helper!(jit_get_field, |st, f, a, b, k, bits, pc| {
    let key = f.k(k);
    match *f.r(b) {
        Value::Table(t) => {
            let tr = t.get();
            let v = tr.get_str(key);
            note(bits, access::STR_KEY | if v.is_nil() { access::MISS } else { access::HASH });
            if !v.is_nil() || tr.metatable.is_none() {
                *f.r(a) = v;
                f.cache(tr, key);
                DONE
            } else if let Some(v) = st.inherited(tr, key) {
                // Inherited through `__index` tables (classes).
                note(bits, access::META);
                *f.r(a) = v;
                DONE
            } else {
                let obj = *f.r(b);
                slow_value(st, pc, a, |s| s.index(obj, key, Some(Culprit::Rk(b as u16))))
            }
        }
        obj => {
            note(bits, access::META | access::STR_KEY);
            slow_value(st, pc, a, |s| s.index(obj, key, Some(Culprit::Rk(b as u16))))
        }
    }
});

fast_helper!(jit_self, |st, f, a, b, k, bits, pc| {
    let key = f.k(k);
    let obj = *f.r(b);
    match obj {
        Value::Table(t) => {
            let tr = t.get();
            let v = tr.get_str(key);
            if !v.is_nil() {
                note(bits, access::HASH | access::STR_KEY);
                *f.r(a + 1) = obj;
                *f.r(a) = v;
                DONE
            } else if let Some(v) = st.inherited(tr, key) {
                // Methods found through `__index` tables.
                note(bits, access::META | access::STR_KEY);
                *f.r(a + 1) = obj;
                *f.r(a) = v;
                DONE
            } else {
                note(bits, access::META | access::STR_KEY);
                *f.r(a + 1) = obj;
                slow_value(st, pc, a, |s| s.index(obj, key, Some(Culprit::Rk(b as u16))))
            }
        }
        _ => {
            note(bits, access::META | access::STR_KEY);
            *f.r(a + 1) = obj;
            slow_value(st, pc, a, |s| s.index(obj, key, Some(Culprit::Rk(b as u16))))
        }
    }
});

fast_helper!(jit_get_table, |st, f, a, b, c, bits, pc| {
    use crate::interp::key_bits;
    let key = f.rk(c);
    let obj = *f.r(b);
    match obj {
        Value::Table(t) => {
            let tr = t.get();
            let v = match key {
                Value::Int(i) if (i as u64).wrapping_sub(1) < tr.arr.len() as u64 => {
                    note(bits, access::ARRAY | access::INT_KEY);
                    tr.arr[(i - 1) as usize]
                }
                _ => {
                    let v = tr.get(key);
                    note(bits, key_bits(key) | if v.is_nil() { access::MISS } else { access::HASH });
                    v
                }
            };
            if !v.is_nil() || tr.metatable.is_none() {
                *f.r(a) = v;
                DONE
            } else {
                slow_value(st, pc, a, |s| s.index(obj, key, Some(Culprit::Rk(b as u16))))
            }
        }
        _ => {
            note(bits, access::META | key_bits(key));
            slow_value(st, pc, a, |s| s.index(obj, key, Some(Culprit::Rk(b as u16))))
        }
    }
});

fast_helper!(jit_set_table, |st, f, a, b, c, bits, pc| {
    use crate::interp::key_bits;
    let key = f.rk(b);
    let v = f.rk(c);
    let obj = *f.r(a);
    match obj {
        Value::Table(t) if t.get().metatable.is_none() => match key {
            Value::Int(i) if (i as u64).wrapping_sub(1) < t.get().arr.len() as u64 => {
                note(bits, access::ARRAY | access::INT_KEY);
                t.get_mut().arr[(i - 1) as usize] = v;
                DONE
            }
            // Appends, hash keys, growth: what the interpreter's arm does.
            _ => {
                note(bits, access::HASH | key_bits(key));
                slow_value(st, pc, usize::MAX, |s| s.raw_set(t, key, v).map(|()| Value::Nil))
            }
        },
        _ => {
            note(bits, access::META | key_bits(key));
            slow_value(st, pc, usize::MAX, |s| s.set_index(obj, key, v, Some(Culprit::Rk(a as u16))).map(|()| Value::Nil))
        }
    }
});

fast_helper!(jit_set_field, |st, f, a, k, c, bits, pc| {
    let key = f.k(k);
    let v = f.rk(c);
    match *f.r(a) {
        Value::Table(t) if t.get().metatable.is_none() => {
            note(bits, access::HASH | access::STR_KEY);
            let d = t.get_mut().set_str(key, v);
            st.heap.charge(d);
            f.cache(t.get(), key);
            DONE
        }
        obj => {
            note(bits, access::META | access::STR_KEY);
            slow_value(st, pc, usize::MAX, |s| s.set_index(obj, key, v, Some(Culprit::Rk(a as u16))).map(|()| Value::Nil))
        }
    }
});

fast_helper!(jit_get_global, |st, f, a, _b, k, bits, _pc| {
    let _ = bits;
    let g = st.globals;
    let v = g.get().get_str(f.k(k));
    if !v.is_nil() || g.get().metatable.is_none() {
        *f.r(a) = v;
        f.cache(g.get(), f.k(k));
        DONE
    } else {
        STEP
    }
});

fast_helper!(jit_set_global, |st, f, a, _b, k, bits, _pc| {
    let _ = bits;
    let g = st.globals;
    if g.get().metatable.is_none() {
        let d = g.get_mut().set_str(f.k(k), *f.r(a));
        st.heap.charge(d);
        f.cache(g.get(), f.k(k));
        DONE
    } else {
        STEP
    }
});

/// Deepest nesting of Lua calls made by compiled code on the Rust stack;
/// deeper calls go back through the interpreter loop (`jit_step`).
pub(crate) const MAX_JIT_DEPTH: u32 = 64;

/// `Call` from compiled code, first half. A Lua callee gets its frame
/// pushed (as an entry frame, one level deeper on the Rust stack); when it
/// has compiled code, the result is that code's address tagged with
/// [`DIRECT_CALL`], and the caller calls it directly with
/// `State::jit_regs`, `jit_consts` and `jit_upvals` at resume pc 0, then
/// hands any status but `RETURNED` to [`jit_call_resume`]. Otherwise the
/// call runs to completion here and the result is a status (`NEXT`, with
/// the next pc above its low byte when a step ran, or a way out).
/// Natives, `pcall`, `__call` objects and calls past [`MAX_JIT_DEPTH`]
/// take the general path.
///
/// Why the caller makes the call: a Lua-to-Lua call then costs one runtime
/// call for the frame push and one for the return, with no Rust frame
/// (and no interpreter dispatch) between the two compiled functions.
///
/// # Safety
/// As for [`jit_step`]; `proto` is the running function's prototype.
pub(crate) unsafe extern "C" fn jit_call_enter(st: *mut State, ops: u64, proto: *const crate::bytecode::Proto, pc: u64) -> u64 {
    // SAFETY: see the contract above.
    let s = unsafe { &mut *st };
    let (a, b, c) = unpack(ops);
    let Some(fr) = s.frames.last() else { return unsafe { jit_step(st, pc) } };
    let base = fr.base;
    let func = base + a;
    let callee = s.stack[func];
    let Value::Func(fg) = callee else { return unsafe { jit_step(st, pc) } };
    let cl = match fg.get() {
        crate::function::Function::Lua(cl) => cl,
        crate::function::Function::Native(n) if n.kind != crate::function::NativeKind::Pcall => {
            return unsafe { call_native(s, fg, n.f, func, base, a, b, c, proto, pc) };
        }
        crate::function::Function::Native(_) => return unsafe { jit_step(st, pc) },
    };
    if s.jit_depth >= MAX_JIT_DEPTH {
        return unsafe { jit_step(st, pc) };
    }
    let nargs = if b == 0 { s.top - func - 1 } else { b - 1 };
    if s.profiling {
        // SAFETY: the unit calling us holds an Arc of its prototype.
        let fb = unsafe { &(*proto).feedback };
        fb.add_bits(pc as usize, crate::profile::calls::LUA);
        fb.record_target(pc as usize, cl.key_lo);
    }
    if let Some(f) = s.frames.last_mut() {
        f.pc = pc as usize + 1;
    }
    // The plain push cannot fail and runs no Lua; a panic in it (a bug)
    // would abort at this `extern "C"` boundary rather than unwind.
    if !s.try_push_plain_frame(func, nargs, c as i32 - 1, fg, cl) {
        let pushed = std::panic::catch_unwind(AssertUnwindSafe(|| {
            s.tick()?;
            s.push_lua_frame(func, nargs, c as i32 - 1, fg)
        }));
        if let Err(e) = caught(s, pushed) {
            return e;
        }
        s.frames.last_mut().expect("pushed").entry = true;
    }
    let level = s.frames.len() - 1;
    s.jit_depth += 1;
    let cl = crate::state::detach(cl);
    let inst = crate::state::detach(cl.inst.get());
    let entry = if s.tier.eager == 0 {
        s.compiled_entry(cl.proto(), &inst.proto, 0)
    } else {
        // `--tier 1|2` compile on this first call: keep a compiler panic
        // from crossing this `extern "C"` boundary. No code then: the
        // general path below retries under its own guard and reports it.
        std::panic::catch_unwind(AssertUnwindSafe(|| s.compiled_entry(cl.proto(), &inst.proto, 0))).unwrap_or(std::ptr::null_mut())
    } as u64;
    if entry == 0 || entry & DIRECT_CALL != 0 {
        // No compiled code (or code at an address the tag below cannot
        // mark): the general path runs the callee to its return.
        return unsafe { jit_call_resume(st, status::RUN_NEW, level as u64) };
    }
    debug_assert_ne!(s.tier.epoch_slot.load(std::sync::atomic::Ordering::Relaxed), u64::MAX, "inside an invocation");
    s.jit_regs = s.stack.as_mut_ptr().wrapping_add(s.frames[level].base);
    s.jit_stack = s.stack.as_mut_ptr();
    s.jit_consts = inst.consts.as_ptr();
    s.jit_upvals = cl.upvals.as_ptr();
    s.jit_call_level = level;
    entry | DIRECT_CALL
}

/// How `jit_call_enter` marks a code address among its statuses, whose low
/// byte is at most `RUN_NEW` (`NEXT` carries a pc above it): Cranelift
/// aligns functions to at least 16 bytes, so an address's low four bits
/// are free.
pub(crate) const DIRECT_CALL: u64 = 0xf;

/// `Call` from compiled code, second half: the callee entered by
/// [`jit_call_enter`] at frame `level` left with `code` (anything but
/// `RETURNED`, which the caller handles inline). Runs the callee to its
/// return as `State::run_callee` would, then lets the caller continue.
///
/// # Safety
/// As for [`jit_step`]; `level` is what `jit_call_enter` left in
/// `State::jit_call_level` for this call.
pub(crate) unsafe extern "C" fn jit_call_resume(st: *mut State, code: u64, level: u64) -> u64 {
    // SAFETY: see the contract above.
    let s = unsafe { &mut *st };
    let level = level as usize;
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let first = if code == status::RUN_NEW { s.enter_frame(level) } else { Some(code) };
        s.finish_callee(level, first)
    }));
    s.jit_depth -= 1;
    match caught(s, r) {
        Ok(_) => {
            st_refresh(s);
            status::NEXT
        }
        Err(error) => error,
    }
}

/// `TailCall` to a Lua function: the callee takes over the running frame's
/// slot exactly as in the interpreter (`State::tail_call_lua`), and this
/// code leaves with `CONTINUE`, so whoever entered the frame (`run_callee`
/// or the interpreter loop) enters the callee next; a chain of tail calls
/// never deepens the native stack. Other callees (natives, callable
/// objects) go through the interpreter's `TailCall`.
///
/// # Safety
/// As for `jit_call_enter`.
pub(crate) unsafe extern "C" fn jit_tailcall(st: *mut State, ops: u64, proto: *const crate::bytecode::Proto, pc: u64) -> u64 {
    // SAFETY: see the contract above.
    let s = unsafe { &mut *st };
    let (a, b, _) = unpack(ops);
    let fi = s.frames.len().wrapping_sub(1);
    let Some(fr) = s.frames.last_mut() else { return unsafe { jit_step(st, pc) } };
    let func = fr.base + a;
    let Value::Func(fg) = s.stack[func] else { return unsafe { jit_step(st, pc) } };
    let base = fr.base;
    let cl = match fg.get() {
        crate::function::Function::Lua(cl) => cl,
        // A native in tail position: called here, its results left from
        // `func` to the top for the `Return {a, 0}` that follows.
        crate::function::Function::Native(n) if n.kind != crate::function::NativeKind::Pcall => {
            if !s.open_upvals.is_empty() {
                s.close_upvals(base);
            }
            return unsafe { call_native(s, fg, n.f, func, base, a, b, 0, proto, pc) };
        }
        crate::function::Function::Native(_) => return unsafe { jit_step(st, pc) },
    };
    fr.pc = pc as usize + 1;
    let nargs = if b == 0 { s.top - func - 1 } else { b - 1 };
    if s.profiling {
        // SAFETY: the unit calling us holds an Arc of its prototype.
        let fb = unsafe { &(*proto).feedback };
        fb.add_bits(pc as usize, crate::profile::calls::LUA);
        fb.record_target(pc as usize, cl.key_lo);
    }
    if !s.open_upvals.is_empty() {
        s.close_upvals(base);
    }
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| s.tail_call_lua(fi, func, nargs, fg)));
    match caught(s, r) {
        Ok(()) => status::CONTINUE,
        Err(error) => error,
    }
}

// ----- instructions the interpreter would otherwise step --------------------
//
// Each does what its arm in `State::run` does, without the cost of entering
// the interpreter loop for one instruction (`jit_step`). Signature as for
// `jit_call_enter`: operands packed as `unpack` reads them.

/// The running frame's base, after saving `pc + 1` as the interpreter's
/// arms do before anything that can fail or collect.
fn frame_base(s: &mut State, pc: u64) -> usize {
    match s.frames.last_mut() {
        Some(fr) => {
            fr.pc = pc as usize + 1;
            fr.base
        }
        None => 0,
    }
}

/// `ForPrep`: 5.4's loop preparation (and its errors). Returns the next pc
/// in bits 8.. as `jit_step` does: the body, or `c` (past the loop).
///
/// # Safety
/// As for `jit_call_enter`.
pub(crate) unsafe extern "C" fn jit_forprep(st: *mut State, ops: u64, _proto: *const crate::bytecode::Proto, pc: u64) -> u64 {
    // SAFETY: see the contract above.
    let s = unsafe { &mut *st };
    let (a, _, skip_to) = unpack(ops);
    let base = frame_base(s, pc);
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| s.for_prep(base + a)));
    match caught(s, r) {
        Ok(skip) => ((if skip { skip_to as u64 } else { pc + 1 }) << 8) | status::NEXT,
        Err(error) => error,
    }
}

/// Comparison kinds of `jit_compare` (operand `a`, bits 0..2; bit 2 is k).
/// Orders two strings by their bytes, as `<` and `<=` on strings do: -1,
/// 0 or 1. What compiled code calls for a comparison whose site only ever
/// saw two strings (the tags checked inline), in place of `jit_compare`:
/// no state, no frame, nothing that can fail.
///
/// # Safety
/// `x` and `y` are the payloads of two live string values.
pub(crate) unsafe extern "C" fn jit_str_cmp(x: *const GcBox<crate::value::LuaStr>, y: *const GcBox<crate::value::LuaStr>) -> i64 {
    // SAFETY: the contract above; strings are never written after creation.
    let (a, b) = unsafe { (&*(*x).value.get(), &*(*y).value.get()) };
    a.as_bytes().cmp(b.as_bytes()) as i64
}

pub(crate) const CMP_EQ: usize = 0;
pub(crate) const CMP_LT: usize = 1;
pub(crate) const CMP_LE: usize = 2;

/// `Eq` / `Lt` / `Le` on operands the inline paths do not take (strings,
/// mixed numbers, metamethods): the result, the feedback the interpreter
/// records, and the next pc in bits 8.. (the following `Jmp`'s target when
/// the result equals k, else past it).
///
/// # Safety
/// As for `jit_call_enter`.
pub(crate) unsafe extern "C" fn jit_compare(st: *mut State, ops: u64, proto: *const crate::bytecode::Proto, pc: u64) -> u64 {
    // SAFETY: see the contract above; the unit calling us holds its proto.
    let (s, p) = unsafe { (&mut *st, &*proto) };
    let (kind, b, c) = unpack(ops);
    let k = kind & 4 != 0;
    let base = frame_base(s, pc);
    let Some(crate::function::Function::Lua(cl)) = s.frames.last().map(|f| f.closure.get()) else { return unsafe { jit_step(st, pc) } };
    let rk = |x: usize| {
        if x < crate::bytecode::RK_CONST as usize {
            s.stack[base + x]
        } else {
            cl.inst.get().consts[x - crate::bytecode::RK_CONST as usize]
        }
    };
    let (x, y) = (rk(b), rk(c));
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| match kind & 3 {
        CMP_EQ => s.equals(x, y),
        CMP_LT => s.less_than(x, y),
        _ => s.less_equal(x, y),
    }));
    let holds = match caught(s, r) {
        Ok(v) => v == k,
        Err(error) => return error,
    };
    let pc = pc as usize;
    if s.profiling {
        p.feedback.add_bits(pc, crate::profile::type_bit(x) | (crate::profile::type_bit(y) << 4));
        p.feedback.count_branch(pc, holds);
    }
    st_refresh(s);
    let next = match p.code.get(pc + 1) {
        Some(crate::bytecode::Op::Jmp { off, .. }) if holds => (pc as i64 + 2 + *off as i64) as u64,
        _ => pc as u64 + 2,
    };
    (next << 8) | status::NEXT
}

/// The upvalue closing of a `Jmp` that leaves a block (`a` is its `close`
/// operand); the jump itself stays in compiled code. Cannot fail.
///
/// # Safety
/// As for `jit_call_enter`.
pub(crate) unsafe extern "C" fn jit_close(st: *mut State, ops: u64, _proto: *const crate::bytecode::Proto, _pc: u64) -> u64 {
    // SAFETY: see the contract above.
    let s = unsafe { &mut *st };
    let (close, _, _) = unpack(ops);
    let base = s.frames.last().map_or(0, |f| f.base);
    s.close_upvals(base + close - 1);
    status::NEXT
}

/// `Concat` of registers `b..b+c` into `a`.
///
/// # Safety
/// As for `jit_call_enter`.
pub(crate) unsafe extern "C" fn jit_concat(st: *mut State, ops: u64, proto: *const crate::bytecode::Proto, pc: u64) -> u64 {
    // SAFETY: see the contract above; the unit calling us holds its proto.
    let (s, p) = unsafe { (&mut *st, &*proto) };
    let (a, b, n) = unpack(ops);
    let base = frame_base(s, pc);
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| -> crate::error::VmResult<Value> {
        s.top = base + p.maxstack as usize;
        let v = s.concat(base + b, n)?;
        // In its register before a collection can run, as in the interpreter.
        s.stack[base + a] = v;
        if s.heap.should_collect() {
            s.gc_step()?;
        }
        Ok(v)
    }));
    finish_value(s, a, r)
}

/// `Closure`: a new closure of child prototype `b` into register `a`.
///
/// # Safety
/// As for `jit_call_enter`.
pub(crate) unsafe extern "C" fn jit_closure(st: *mut State, ops: u64, proto: *const crate::bytecode::Proto, pc: u64) -> u64 {
    // SAFETY: see the contract above; the unit calling us holds its proto.
    let (s, p) = unsafe { (&mut *st, &*proto) };
    let (a, _, idx) = unpack(ops);
    let base = frame_base(s, pc);
    let Some(crate::function::Function::Lua(cl)) = s.frames.last().map(|f| f.closure.get()) else { return unsafe { jit_step(st, pc) } };
    // The running closure stays alive (its frame holds it).
    let cl = crate::state::detach(cl);
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| -> crate::error::VmResult<Value> {
        let inst = cl.inst.get().children[idx];
        let child = &inst.get().proto;
        let mut ups = Vec::with_capacity(child.upvals.len());
        for u in &child.upvals {
            ups.push(if u.in_stack { s.find_upval(base + u.idx as usize) } else { cl.upvals[u.idx as usize] });
        }
        let f = s.new_lua_closure(inst, ups);
        s.stack[base + a] = f;
        if s.heap.should_collect() {
            s.top = base + p.maxstack as usize;
            s.gc_step()?;
        }
        Ok(f)
    }));
    finish_value(s, a, r)
}

/// `SetList`: registers `a+1..` into the new table in `a` from index
/// `c + 1`; `b` values, or up to the top when `b` is 0.
///
/// # Safety
/// As for `jit_call_enter`.
pub(crate) unsafe extern "C" fn jit_setlist(st: *mut State, ops: u64, _proto: *const crate::bytecode::Proto, pc: u64) -> u64 {
    // SAFETY: see the contract above.
    let s = unsafe { &mut *st };
    let (a, n, start) = unpack(ops);
    let base = frame_base(s, pc);
    let Value::Table(t) = s.stack[base + a] else { return unsafe { jit_step(st, pc) } };
    let count = if n == 0 { s.top - (base + a + 1) } else { n };
    for i in 1..=count {
        let v = s.stack[base + a + i];
        let d = t.get_mut().set_int_positional(start as i64 + i as i64, v);
        s.heap.charge(d);
    }
    status::NEXT
}

/// The native arm of `jit_call_enter`: what the interpreter's `call_value` does
/// for a native, then its post-call collection check.
///
/// # Safety
/// As for `jit_call_enter`.
#[allow(clippy::too_many_arguments)]
unsafe fn call_native(
    s: &mut State,
    fg: crate::gc::Gc<crate::function::Function>,
    f: crate::function::NativeFn,
    func: usize,
    base: usize,
    a: usize,
    b: usize,
    c: usize,
    proto: *const crate::bytecode::Proto,
    pc: u64,
) -> u64 {
    let _ = (fg, a);
    let nargs = if b == 0 { s.top - func - 1 } else { b - 1 };
    // SAFETY: the unit calling us holds an Arc of its prototype.
    let p = unsafe { &*proto };
    if s.profiling {
        p.feedback.add_bits(pc as usize, crate::profile::calls::NATIVE);
    }
    if let Some(fr) = s.frames.last_mut() {
        fr.pc = pc as usize + 1;
    }
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| -> crate::error::VmResult<()> {
        s.tick()?;
        let got = s.call_native(func, nargs, f, true)?;
        let nresults = c as i32 - 1;
        if nresults >= 0 {
            for i in got..nresults as usize {
                s.stack[func + i] = Value::Nil;
            }
        }
        if s.heap.should_collect() {
            let t = s.top;
            s.top = t.max(base + p.maxstack as usize);
            s.gc_step()?;
            s.top = t;
        }
        Ok(())
    }));
    match caught(s, r) {
        Ok(_) => {
            st_refresh(s);
            status::NEXT
        }
        Err(error) => error,
    }
}

fn st_refresh(s: &mut State) {
    let base = s.frames.last().map_or(0, |f| f.base);
    s.jit_regs = s.stack.as_mut_ptr().wrapping_add(base);
    s.jit_stack = s.stack.as_mut_ptr();
}

/// `Return` from compiled code.
///
/// # Safety
/// As for [`jit_step`].
pub(crate) unsafe extern "C" fn jit_return(st: *mut State, ops: u64, _proto: *const crate::bytecode::Proto, _pc: u64) -> u64 {
    // SAFETY: see the contract above.
    let s = unsafe { &mut *st };
    let (a, b, _) = unpack(ops);
    let fi = s.frames.len() - 1;
    let f = &s.frames[fi];
    let base = f.base;
    let first = base + a;
    // The common return: a fixed count of results, as many as an entry
    // frame's caller wants, nothing to close and no pcall to answer.
    if b != 0 && f.entry && !f.protected && f.nresults == b as i32 - 1 && !s.open_upvals_from(base) {
        let (n, dst) = (b - 1, f.func);
        if first + n <= s.stack.len() && dst + n <= first {
            let p = s.stack.as_mut_ptr();
            // SAFETY: both runs are in bounds (checked) and disjoint, as
            // the results lie above the function slot by at least `n`.
            unsafe { crate::value::copy_values(p.add(dst), p.add(first), n) };
            s.top = dst + n;
            s.frames.pop();
            s.jit_nret = n;
            st_refresh(s);
            return status::RETURNED;
        }
    }
    let n = if b == 0 { s.top - first } else { b - 1 };
    if !s.open_upvals.is_empty() {
        s.close_upvals(base);
    }
    match s.do_return(fi, first, n) {
        Some(n) => {
            s.jit_nret = n;
            // A caller that entered this code directly (`jit_call_enter`)
            // continues with its own registers.
            st_refresh(s);
            status::RETURNED
        }
        None => status::CONTINUE,
    }
}

/// Arithmetic on two numbers that compiled code did not finish inline
/// (mixed integer/float operands, float `%`, `^`, shifts, ...). Strings and
/// metamethods go to the interpreter. `ops`: a, b at bits 8..24, c at
/// 24..40, the operator (`ARITH_OPS` index) at 48..56.
///
/// # Safety
/// As for the fast helpers.
pub(crate) unsafe extern "C" fn jit_arith(
    st: *mut State,
    regs: *mut Value,
    consts: *const Value,
    ops: u64,
    bits: *const std::sync::atomic::AtomicU8,
    pc: u64,
    _ic: *const AtomicU32,
) -> u64 {
    use crate::meta::ArithOp::*;
    const ARITH_OPS: [crate::meta::ArithOp; 12] = [Add, Sub, Mul, Div, Mod, Pow, IDiv, BAnd, BOr, BXor, Shl, Shr];
    let f = Frame { regs, consts, ic: None };
    let (a, b) = ((ops & 0xff) as usize, ((ops >> 8) & 0xffff) as usize);
    let c = ((ops >> 24) & 0xffff) as usize;
    let op = ARITH_OPS[((ops >> 48) & 0xff) as usize % ARITH_OPS.len()];
    // SAFETY: operands are this frame's registers/constants (verified).
    let (x, y) = unsafe { (f.rk(b), f.rk(c)) };
    let num = |v: Value| match v {
        Value::Int(i) => Some(crate::number::Num::Int(i)),
        Value::Float(x) => Some(crate::number::Num::Float(x)),
        _ => None,
    };
    // SAFETY: `bits` is null or this site's feedback (see fast_helper!).
    note(unsafe { bits.as_ref() }, crate::profile::type_bit(x) | (crate::profile::type_bit(y) << 4));
    if let (Some(p), Some(q)) = (num(x), num(y))
        && let Ok(v) = crate::meta::arith_num(op, p, q)
    {
        // SAFETY: `a` is a register of this frame.
        unsafe { *f.r(a) = v };
        return status::NEXT;
    }
    // Strings, metamethods and errors: the interpreter's slow path itself
    // (`State::arith`, as the Add/Sub/... arms call it), without a step.
    // SAFETY: see the contract above.
    let s = unsafe { &mut *st };
    if let Some(fr) = s.frames.last_mut() {
        fr.pc = pc as usize + 1;
    }
    let culprits = (crate::error::Culprit::Rk(b as u16), crate::error::Culprit::Rk(c as u16));
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| s.arith(op, x, y, culprits.0, culprits.1)));
    finish_value(s, a, r)
}

/// Runs the interpreter's slow path `op` for instruction `pc` (with the
/// frame's pc saved as the interpreter saves it) and stores its value in
/// register `a` (`usize::MAX`: no result).
fn slow_value(s: &mut State, pc: u64, a: usize, op: impl FnOnce(&mut State) -> crate::error::VmResult<Value>) -> u64 {
    if let Some(fr) = s.frames.last_mut() {
        fr.pc = pc as usize + 1;
    }
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| op(s)));
    finish_value(s, a, r)
}

/// Unwraps a runtime call run under `catch_unwind`. An error — or a panic,
/// which must never unwind through JIT frames — is stored in
/// `State::jit_error` for the interpreter loop, and becomes `ERROR`.
fn caught<T>(s: &mut State, r: std::thread::Result<crate::error::VmResult<T>>) -> Result<T, u64> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            s.jit_error = Some(e);
            Err(status::ERROR)
        }
        Err(_) => {
            s.jit_error = Some(Throw::msg("internal error in a runtime call"));
            Err(status::ERROR)
        }
    }
}

/// Stores a slow path's result in register `a` of the running frame, or
/// turns its error into an `ERROR` status.
fn finish_value(s: &mut State, a: usize, r: std::thread::Result<crate::error::VmResult<Value>>) -> u64 {
    match caught(s, r) {
        Ok(v) => {
            st_refresh(s);
            if a != usize::MAX {
                // SAFETY: `a` is a register of the running frame; jit_regs
                // was just refreshed (the slow path may have grown the stack).
                unsafe { *s.jit_regs.add(a) = v };
            }
            status::NEXT
        }
        Err(error) => error,
    }
}

/// `TForCall` when the iterator is `next` (pairs) or the ipairs iterator
/// over a plain table: the interpreter's inline cases. Anything else (a Lua
/// iterator, a metatable, an invalid key) takes the general path.
pub(crate) unsafe extern "C" fn jit_tforcall(
    st: *mut State,
    regs: *mut Value,
    consts: *const Value,
    ops: u64,
    bits: *const std::sync::atomic::AtomicU8,
    pc: u64,
    ic: *const AtomicU32,
) -> u64 {
    let _ = (consts, bits, ic);
    let (a, _, c) = unpack(ops);
    // SAFETY: the registers a..a+2+c are this frame's (verified operands).
    let r = |i: usize| unsafe { &mut *regs.add(a + i) };
    let Value::Func(fg) = *r(0) else { return unsafe { jit_step(st, pc) } };
    let crate::function::Function::Native(n) = fg.get() else { return unsafe { jit_step(st, pc) } };
    match (n.kind, *r(1), *r(2)) {
        (crate::function::NativeKind::Next, Value::Table(t), key) => match t.get().next(key) {
            Ok(Some((k, v))) => {
                *r(3) = k;
                if c >= 2 {
                    *r(4) = v;
                }
            }
            Ok(None) => *r(3) = Value::Nil,
            Err(()) => return unsafe { jit_step(st, pc) },
        },
        (crate::function::NativeKind::IpairsIter, Value::Table(t), Value::Int(i)) if t.get().metatable.is_none() => {
            let i = i.wrapping_add(1);
            let v = t.get().get_int(i);
            if v.is_nil() {
                *r(3) = Value::Nil;
            } else {
                *r(3) = Value::Int(i);
                if c >= 2 {
                    *r(4) = v;
                }
            }
        }
        _ => return unsafe { jit_step(st, pc) },
    }
    for j in 2..c {
        *r(3 + j) = Value::Nil;
    }
    status::NEXT
}

fast_helper!(jit_len, |st, f, a, b, _c, bits, _pc| {
    let _ = (st, bits);
    let v = match *f.r(b) {
        Value::Str(s) => Some(Value::Int(s.get().len() as i64)),
        Value::Table(t) if t.get().metatable.is_none() => Some(Value::Int(t.get().border())),
        _ => None,
    };
    match v {
        Some(v) => {
            *f.r(a) = v;
            DONE
        }
        None => STEP,
    }
});

// `NewTable` when no collection is due (then the interpreter's path runs
// the collector with the frame's registers marked live).
fast_helper!(jit_new_table, |st, f, a, narr, nhash, bits, _pc| {
    let _ = bits;
    if st.heap.should_collect() {
        STEP
    } else {
        let t = st.new_table(narr, nhash);
        *f.r(a) = Value::Table(t);
        DONE
    }
});
