//! The per-state garbage-collected heap.
//!
//! Why a hand-rolled heap: Lua values form arbitrary cyclic graphs, and the
//! interpreter (and later the JIT) needs plain copyable pointers it can keep
//! in the register file. Each [`State`](crate::State) owns one `Heap`; objects
//! never cross states, so nothing here is `Send` on its own and no locking is
//! needed.
//!
//! The collector is a precise, non-moving, stop-the-world mark-sweep. It runs
//! only at *safepoints* chosen by the interpreter, when every live reference
//! is reachable from the roots (globals, registry, the VM register file). A
//! native function that allocates therefore never sees its temporaries freed
//! under it, as long as it stores them on the VM stack before calling back
//! into Lua.
//!
//! Invariants:
//! - a `Gc<T>` is valid while its object is reachable from a root at every
//!   safepoint; the heap frees an object only in `sweep`, never elsewhere;
//! - `Gc::get_mut` hands out a mutable reference into the object; callers
//!   keep such borrows short and never hold two to the same object.

use std::cell::{Cell, UnsafeCell};
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;

use crate::function::{Function, ProtoInst, UpVal};
use crate::table::Table;
use crate::value::{LuaStr, SHORT_STRING_MAX, Value};

#[repr(C)]
pub(crate) struct GcBox<T> {
    marked: Cell<bool>,
    pub(crate) value: UnsafeCell<T>,
}

/// A pointer to a heap object owned by one state's [`Heap`].
pub(crate) struct Gc<T> {
    ptr: NonNull<GcBox<T>>,
}

impl<T> Clone for Gc<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Gc<T> {}

impl<T> PartialEq for Gc<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}
impl<T> Eq for Gc<T> {}
impl<T> Hash for Gc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.ptr.hash(state)
    }
}

impl<T> Gc<T> {
    #[inline(always)]
    pub(crate) fn get(&self) -> &T {
        // SAFETY: the object is alive (heap invariant above) and mutation goes
        // through short-lived `get_mut` borrows that never overlap this one.
        unsafe { &*(*self.ptr.as_ptr()).value.get() }
    }

    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn get_mut(&self) -> &mut T {
        // SAFETY: as for `get`; the VM is single-threaded per state and keeps
        // mutable borrows local to one operation.
        unsafe { &mut *(*self.ptr.as_ptr()).value.get() }
    }

    #[inline(always)]
    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    fn is_marked(&self) -> bool {
        // SAFETY: alive, see above.
        unsafe { (*self.ptr.as_ptr()).marked.get() }
    }

    /// Marks the object; returns true if it was not marked before.
    fn mark(&self) -> bool {
        // SAFETY: alive, see above.
        let b = unsafe { &(*self.ptr.as_ptr()).marked };
        !b.replace(true)
    }

    fn unmark(&self) {
        // SAFETY: alive, see above.
        unsafe { (*self.ptr.as_ptr()).marked.set(false) }
    }

    fn alloc(value: T) -> Self {
        let b = Box::new(GcBox { marked: Cell::new(false), value: UnsafeCell::new(value) });
        Gc { ptr: NonNull::from(Box::leak(b)) }
    }

    /// # Safety
    /// The object must be unreachable and freed exactly once; strings go
    /// through `free_inline` instead.
    unsafe fn free(self) {
        // SAFETY: the caller guarantees unique ownership now.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

/// Layout of a string object: the box, then the bytes.
fn str_layout(len: usize) -> std::alloc::Layout {
    let (l, _) = std::alloc::Layout::new::<GcBox<LuaStr>>()
        .extend(std::alloc::Layout::array::<u8>(len).expect("string length fits a layout"))
        .expect("string layout");
    l.pad_to_align()
}

impl Gc<LuaStr> {
    /// One allocation holding the header and the bytes.
    fn alloc_inline(bytes: &[u8], hash: u64) -> Self {
        let layout = str_layout(bytes.len());
        // SAFETY: the layout has non-zero size (the header); on success we
        // initialize the header and copy the bytes before anyone reads them.
        unsafe {
            let p = std::alloc::alloc(layout) as *mut GcBox<LuaStr>;
            if p.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            let data = (p as *mut u8).add(std::mem::size_of::<GcBox<LuaStr>>());
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
            p.write(GcBox { marked: Cell::new(false), value: UnsafeCell::new(LuaStr::from_raw_parts(hash, bytes.len(), data)) });
            Gc { ptr: NonNull::new_unchecked(p) }
        }
    }

    /// # Safety
    /// As for `free`: unreachable, freed once.
    unsafe fn free_inline(self) {
        let layout = str_layout(self.get().len());
        // SAFETY: allocated by alloc_inline with this very layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, layout) };
    }
}

enum Object {
    Str(Gc<LuaStr>),
    Table(Gc<Table>),
    Func(Gc<Function>),
    UpVal(Gc<UpVal>),
    Inst(Gc<ProtoInst>),
}

/// Bytes a table of this shape is charged; kept in one place so growth deltas
/// and sweeping agree.
pub(crate) fn table_bytes(t: &Table) -> usize {
    std::mem::size_of::<GcBox<Table>>() + t.heap_bytes()
}

pub(crate) struct Heap {
    objects: Vec<Object>,
    /// Interned short strings: equal short strings are the same object, so
    /// their equality and hashing are pointer operations.
    interned: StrSet,
    /// Bytes currently charged to live (or not yet swept) objects.
    pub(crate) bytes: usize,
    /// Collect when `bytes` passes this.
    pub(crate) threshold: usize,
    /// Heap limit in bytes for the current invocation, if any.
    pub(crate) limit: Option<usize>,
    pub(crate) collections: u64,
    /// Collect after every few KiB of allocation (testing aid: shakes out
    /// values that are live but not reachable from the roots).
    pub(crate) stress: bool,
    /// `collectgarbage("stop")`: no automatic collections (limits still
    /// force one).
    pub(crate) stopped: bool,
    gray: Vec<GrayItem>,
}

enum GrayItem {
    Table(Gc<Table>),
    Func(Gc<Function>),
    Inst(Gc<ProtoInst>),
}

const MIN_THRESHOLD: usize = 4 << 20;

impl Heap {
    pub(crate) fn new() -> Self {
        Heap {
            objects: Vec::new(),
            interned: StrSet::new(),
            bytes: 0,
            threshold: MIN_THRESHOLD,
            limit: None,
            collections: 0,
            stress: false,
            stopped: false,
            gray: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn should_collect(&self) -> bool {
        self.bytes >= self.threshold && (!self.stopped || self.limit.is_some_and(|l| self.bytes > l))
    }

    /// True when the heap is over the invocation's limit (checked after a
    /// collection, so only live data counts).
    pub(crate) fn over_limit(&self) -> bool {
        matches!(self.limit, Some(l) if self.bytes > l)
    }

    /// Whether `extra` more bytes could ever fit: guards single huge
    /// allocations (`string.rep`) before they are attempted.
    pub(crate) fn can_grow_by(&self, extra: usize) -> bool {
        match self.limit {
            Some(l) => self.bytes.saturating_add(extra) <= l,
            None => extra <= (1usize << 40),
        }
    }

    /// Next collection after the heap doubles, but never later than the
    /// limit (so the limit is enforced on live data, promptly).
    pub(crate) fn reset_threshold(&mut self) {
        self.threshold = if self.stress { self.bytes + (16 << 10) } else { (self.bytes * 2).max(MIN_THRESHOLD) };
        if let Some(l) = self.limit {
            self.threshold = self.threshold.min(l + 1);
        }
    }

    pub(crate) fn charge(&mut self, delta: isize) {
        self.bytes = self.bytes.saturating_add_signed(delta);
    }

    pub(crate) fn new_str(&mut self, bytes: &[u8]) -> Gc<LuaStr> {
        let hash = crate::value::hash_bytes(bytes);
        if bytes.len() <= SHORT_STRING_MAX {
            if let Some(s) = self.interned.find(hash, bytes) {
                // A dead-but-unswept string may be resurrected here; that is
                // fine because sweeping only happens right after marking.
                return s;
            }
            let s = self.alloc_str(bytes, hash);
            self.interned.insert(hash, s);
            s
        } else {
            self.alloc_str(bytes, hash)
        }
    }

    fn alloc_str(&mut self, bytes: &[u8], hash: u64) -> Gc<LuaStr> {
        let s = Gc::<LuaStr>::alloc_inline(bytes, hash);
        self.bytes += std::mem::size_of::<GcBox<LuaStr>>() + bytes.len();
        self.objects.push(Object::Str(s));
        s
    }

    pub(crate) fn new_table(&mut self, t: Table) -> Gc<Table> {
        self.bytes += table_bytes(&t);
        let g = Gc::alloc(t);
        self.objects.push(Object::Table(g));
        g
    }

    pub(crate) fn new_function(&mut self, f: Function) -> Gc<Function> {
        self.bytes += std::mem::size_of::<GcBox<Function>>() + f.heap_bytes();
        let g = Gc::alloc(f);
        self.objects.push(Object::Func(g));
        g
    }

    pub(crate) fn new_upval(&mut self, u: UpVal) -> Gc<UpVal> {
        self.bytes += std::mem::size_of::<GcBox<UpVal>>();
        let g = Gc::alloc(u);
        self.objects.push(Object::UpVal(g));
        g
    }

    pub(crate) fn new_inst(&mut self, i: ProtoInst) -> Gc<ProtoInst> {
        self.bytes += std::mem::size_of::<GcBox<ProtoInst>>() + i.consts.len() * 16;
        let g = Gc::alloc(i);
        self.objects.push(Object::Inst(g));
        g
    }

    // ----- marking -------------------------------------------------------

    pub(crate) fn mark_value(&mut self, v: Value) {
        match v {
            Value::Str(s) => {
                s.mark();
            }
            Value::Table(t) => self.mark_table(t),
            Value::Func(f) => self.mark_func(f),
            _ => {}
        }
    }

    pub(crate) fn mark_table(&mut self, t: Gc<Table>) {
        if t.mark() {
            self.gray.push(GrayItem::Table(t));
        }
    }

    pub(crate) fn mark_func(&mut self, f: Gc<Function>) {
        if f.mark() {
            self.gray.push(GrayItem::Func(f));
        }
    }

    pub(crate) fn mark_inst(&mut self, i: Gc<ProtoInst>) {
        if i.mark() {
            self.gray.push(GrayItem::Inst(i));
        }
    }

    pub(crate) fn mark_upval(&mut self, u: Gc<UpVal>) {
        if u.mark()
            && let UpVal::Closed(v) = *u.get()
        {
            self.mark_value(v);
        }
    }

    /// Drains the gray stack (iteratively, so deep structures never recurse).
    pub(crate) fn propagate(&mut self) {
        while let Some(item) = self.gray.pop() {
            match item {
                GrayItem::Table(t) => {
                    let t = t.get();
                    if let Some(m) = t.metatable {
                        self.mark_table(m);
                    }
                    t.for_each_value(|k, v| {
                        self.mark_value(k);
                        self.mark_value(v);
                    });
                }
                GrayItem::Func(f) => match f.get() {
                    Function::Lua(c) => {
                        self.mark_inst(c.inst);
                        for u in c.upvals.iter() {
                            self.mark_upval(*u);
                        }
                    }
                    Function::Native(n) => {
                        for v in n.upvals.iter() {
                            self.mark_value(*v);
                        }
                    }
                },
                GrayItem::Inst(i) => {
                    let i = i.get();
                    for v in i.consts.iter() {
                        self.mark_value(*v);
                    }
                    for c in i.children.iter() {
                        self.mark_inst(*c);
                    }
                }
            }
        }
    }

    /// Frees every unmarked object and clears marks on the survivors.
    pub(crate) fn sweep(&mut self) {
        self.interned.retain(|s| s.is_marked());
        let mut bytes = 0usize;
        self.objects.retain(|o| {
            macro_rules! keep_or_free {
                ($g:expr, $size:expr) => {{
                    if $g.is_marked() {
                        $g.unmark();
                        bytes += $size;
                        true
                    } else {
                        // SAFETY: unmarked after a full mark from every root
                        // means unreachable; each object is listed once.
                        unsafe { $g.free() };
                        false
                    }
                }};
            }
            match o {
                Object::Str(s) => {
                    if s.is_marked() {
                        s.unmark();
                        bytes += std::mem::size_of::<GcBox<LuaStr>>() + s.get().len();
                        true
                    } else {
                        // SAFETY: unmarked after a full mark: unreachable.
                        unsafe { s.free_inline() };
                        false
                    }
                }
                Object::Table(t) => keep_or_free!(t, table_bytes(t.get())),
                Object::Func(f) => keep_or_free!(f, std::mem::size_of::<GcBox<Function>>() + f.get().heap_bytes()),
                Object::UpVal(u) => keep_or_free!(u, std::mem::size_of::<GcBox<UpVal>>()),
                Object::Inst(i) => keep_or_free!(i, std::mem::size_of::<GcBox<ProtoInst>>() + i.get().consts.len() * 16),
            }
        });
        self.bytes = bytes;
        self.collections += 1;
        self.reset_threshold();
    }

    pub(crate) fn object_count(&self) -> usize {
        self.objects.len()
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        for o in self.objects.drain(..) {
            // SAFETY: the state is gone; nothing can reach these objects.
            unsafe {
                match o {
                    Object::Str(s) => s.free_inline(),
                    Object::Table(t) => t.free(),
                    Object::Func(f) => f.free(),
                    Object::UpVal(u) => u.free(),
                    Object::Inst(i) => i.free(),
                }
            }
        }
    }
}

/// Open-addressing set of interned strings keyed by their precomputed hash.
struct StrSet {
    slots: Vec<Option<Gc<LuaStr>>>,
    len: usize,
}

impl StrSet {
    fn new() -> Self {
        StrSet { slots: vec![None; 1024], len: 0 }
    }

    fn find(&self, hash: u64, bytes: &[u8]) -> Option<Gc<LuaStr>> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            match self.slots[i] {
                None => return None,
                Some(s) => {
                    let r = s.get();
                    if r.hash() == hash && r.as_bytes() == bytes {
                        return Some(s);
                    }
                }
            }
            i = (i + 1) & mask;
        }
    }

    fn insert(&mut self, hash: u64, s: Gc<LuaStr>) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.rebuild(self.slots.len() * 2);
        }
        Self::place(&mut self.slots, hash, s);
        self.len += 1;
    }

    fn place(slots: &mut [Option<Gc<LuaStr>>], hash: u64, s: Gc<LuaStr>) {
        let mask = slots.len() - 1;
        let mut i = hash as usize & mask;
        while slots[i].is_some() {
            i = (i + 1) & mask;
        }
        slots[i] = Some(s);
    }

    fn rebuild(&mut self, cap: usize) {
        let old = std::mem::replace(&mut self.slots, vec![None; cap]);
        for s in old.into_iter().flatten() {
            Self::place(&mut self.slots, s.get().hash(), s);
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&Gc<LuaStr>) -> bool) {
        let live: Vec<Gc<LuaStr>> = self.slots.iter().flatten().copied().filter(|s| keep(s)).collect();
        let mut cap = 1024;
        while live.len() * 4 > cap {
            cap *= 2;
        }
        self.slots = vec![None; cap];
        self.len = live.len();
        for s in live {
            Self::place(&mut self.slots, s.get().hash(), s);
        }
    }
}
