//! Lua values as the VM sees them: 16-byte tagged values.
//!
//! Lua 5.4 integers are full 64-bit, so NaN-boxing cannot hold them; a Rust
//! enum with a pointer-sized payload is exactly two words and lets the
//! compiler check every match. Heap values point into the owning state's
//! [`Heap`](crate::gc::Heap).

use crate::function::Function;
use crate::gc::Gc;
use crate::table::Table;

/// Strings up to this length are interned (as in PUC Lua).
pub(crate) const SHORT_STRING_MAX: usize = 40;

// A u64 tag keeps tag and payload in separate, aligned words, so copies are
// two plain moves (a u8 tag made rustc copy odd byte ranges, which stalled
// store forwarding in the interpreter loop).
#[derive(Clone, Copy, Default)]
#[repr(u64)]
pub(crate) enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Gc<LuaStr>),
    Table(Gc<Table>),
    Func(Gc<Function>),
}

const _: () = assert!(std::mem::size_of::<Value>() == 16);

/// Copies `n` values from `src` to `dst` (which must not overlap) one word
/// at a time. Compiled code writes a value's tag and payload with two
/// 8-byte stores, and a 16-byte load of a value written that way an
/// instant earlier cannot take its data from those stores: the core stalls
/// until they reach the cache. Paths that read what compiled code has just
/// written (results of a return, arguments of a call) copy with this.
///
/// # Safety
/// `src..src+n` and `dst..dst+n` are valid, disjoint runs of values.
#[inline(always)]
pub(crate) unsafe fn copy_values(dst: *mut Value, src: *const Value, n: usize) {
    use std::mem::MaybeUninit;
    // A Nil's or Bool's payload word is partly uninitialized: carry it as
    // MaybeUninit. Volatile reads keep the two loads from being merged
    // back into one 16-byte load.
    let (s, d) = (src as *const MaybeUninit<u64>, dst as *mut MaybeUninit<u64>);
    // SAFETY (both arms): within the runs the caller vouches for.
    if n == 1 {
        // The usual case (one result, one argument), without a loop.
        unsafe {
            let (tag, payload) = (std::ptr::read_volatile(s), std::ptr::read_volatile(s.add(1)));
            d.write(tag);
            d.add(1).write(payload);
        }
        return;
    }
    for i in 0..2 * n {
        unsafe { d.add(i).write(std::ptr::read_volatile(s.add(i))) };
    }
}

impl Value {
    #[inline(always)]
    pub(crate) fn truthy(self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// `truthy` without copying the value out of its register.
    #[inline(always)]
    pub(crate) fn truthy_ref(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    #[inline(always)]
    pub(crate) fn is_nil(self) -> bool {
        matches!(self, Value::Nil)
    }

    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Table(_) => "table",
            Value::Func(_) => "function",
        }
    }

    /// Raw equality (no metamethods), with 5.4's exact int/float comparison.
    #[inline]
    pub(crate) fn raw_eq(self, other: Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => crate::number::float_to_int_exact(b) == Some(a),
            (Value::Str(a), Value::Str(b)) => a == b || a.get().eq_bytes(b.get()),
            (Value::Table(a), Value::Table(b)) => a == b,
            (Value::Func(a), Value::Func(b)) => a == b,
            _ => false,
        }
    }

    /// Identity used by `tostring` for tables and functions.
    pub(crate) fn addr(self) -> usize {
        match self {
            Value::Str(s) => s.addr(),
            Value::Table(t) => t.addr(),
            Value::Func(f) => f.addr(),
            _ => 0,
        }
    }
}

/// An immutable byte string with its hash computed once.
///
/// The bytes live in the same allocation, right after this header (see
/// `Heap::alloc_str`); `data` points at them and carries that
/// allocation's provenance, so `as_bytes` never reads past a reference.
#[repr(C)]
pub(crate) struct LuaStr {
    hash: u64,
    len: usize,
    data: *const u8,
}

impl LuaStr {
    /// Where the hash sits (compiled code reads it).
    pub(crate) const HASH_OFFSET: usize = std::mem::offset_of!(LuaStr, hash);
    /// # Safety
    /// `data` must point at `len` initialized bytes that live as long as
    /// this header and are never written again.
    pub(crate) unsafe fn from_raw_parts(hash: u64, len: usize, data: *const u8) -> Self {
        LuaStr { hash, len, data }
    }
    #[inline(always)]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        // SAFETY: guaranteed by `from_raw_parts`' contract.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
    #[inline(always)]
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
    /// Equality for two distinct objects: short strings are interned, so two
    /// different short-string objects are never equal.
    #[inline]
    pub(crate) fn eq_bytes(&self, other: &LuaStr) -> bool {
        self.len > SHORT_STRING_MAX && self.hash == other.hash && self.as_bytes() == other.as_bytes()
    }
    pub(crate) fn to_str_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }
}

/// Fast, deterministic byte hash (FxHash-style over 8-byte words).
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h: u64 = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap());
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    // Final avalanche so low bits (used for bucket indices) are well mixed.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}
