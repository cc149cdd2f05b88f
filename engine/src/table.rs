//! Lua tables: an array part for keys `1..=n` and an open-addressing hash part.
//!
//! Why our own hash part: `next` must walk entries in a stable order while
//! the program assigns `nil` to existing fields, and later tiers want to
//! guard on a slot index. Deleting keeps the key with a `nil` value (a dead
//! entry, as PUC Lua does); dead entries are dropped when the part is rebuilt
//! on growth, which only an insertion of a *new* key can trigger.

use crate::number::float_to_int_exact;
use crate::value::Value;

// repr(C): compiled code's inline caches read `key` at 0 and `val` at 16.
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct Node {
    pub(crate) key: Value,
    pub(crate) val: Value,
}

const EMPTY: Node = Node { key: Value::Nil, val: Value::Nil };

pub(crate) struct Table {
    pub(crate) arr: Vec<Value>,
    pub(crate) nodes: Vec<Node>,
    /// Slots whose key is not nil (live or dead).
    used: usize,
    /// Changed only through [`Table::set_metatable`] once the table is in
    /// a lookup chain.
    pub(crate) metatable: Option<crate::gc::Gc<Table>>,
    /// Some cached inherited lookup went through this table (as a
    /// metatable or an `__index` table): changing one of its non-integer
    /// keys or its metatable must bump [`LOOKUP_EPOCH`]. Compiled code's
    /// field-store cache reads it (one byte) and leaves such tables to the
    /// runtime.
    pub(crate) in_lookup_chain: std::cell::Cell<bool>,
}

/// Stands still while no table in any lookup chain changes a non-integer
/// key or its metatable; `State::inherited` caches results under it. One
/// counter for all states: a bump in one state costs the others a few
/// cache misses, never a wrong answer.
pub(crate) static LOOKUP_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

#[cold]
fn lookup_chain_changed() {
    LOOKUP_EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Why a key cannot be stored.
pub(crate) enum KeyError {
    Nil,
    NaN,
}

#[inline(always)]
fn normalize(k: Value) -> Value {
    if let Value::Float(f) = k
        && let Some(i) = float_to_int_exact(f)
    {
        return Value::Int(i);
    }
    k
}

#[inline(always)]
fn key_hash(k: Value) -> u64 {
    match k {
        Value::Int(i) => (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((i as u64) >> 29),
        Value::Float(f) => f.to_bits().wrapping_mul(0x9E37_79B9_7F4A_7C15),
        Value::Bool(b) => b as u64 + 1,
        Value::Str(s) => s.get().hash(),
        other => (other.addr() as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    }
}

#[inline(always)]
fn key_eq(a: Value, b: Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y || x.get().eq_bytes(y.get()),
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Table(x), Value::Table(y)) => x == y,
        (Value::Func(x), Value::Func(y)) => x == y,
        _ => false,
    }
}

impl Table {
    pub(crate) fn new(narr: usize, nhash: usize) -> Self {
        let mut t = Table {
            arr: Vec::with_capacity(narr),
            nodes: Vec::new(),
            used: 0,
            metatable: None,
            in_lookup_chain: std::cell::Cell::new(false),
        };
        if nhash > 0 {
            // The smallest power of two that holds `nhash` keys within the
            // 3/4 load the inserts keep (`{label=, left=, right=}` gets 4
            // slots, not 8: half the memory to allocate, clear and mark).
            t.nodes = vec![EMPTY; (nhash * 4).div_ceil(3).next_power_of_two()];
        }
        t
    }

    /// Heap bytes beyond the table header (for GC accounting).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.arr.capacity() * 16 + self.nodes.len() * 32
    }

    #[inline]
    pub(crate) fn get(&self, k: Value) -> Value {
        match k {
            Value::Int(i) => self.get_int(i),
            Value::Str(_) => self.get_str(k),
            Value::Nil => Value::Nil,
            Value::Float(f) => match float_to_int_exact(f) {
                Some(i) => self.get_int(i),
                None => self.get_hashed(k),
            },
            _ => self.get_hashed(k),
        }
    }

    #[inline(always)]
    pub(crate) fn get_int(&self, i: i64) -> Value {
        let idx = (i as u64).wrapping_sub(1);
        if idx < self.arr.len() as u64 {
            return self.arr[idx as usize];
        }
        if self.nodes.is_empty() {
            return Value::Nil;
        }
        self.get_hashed(Value::Int(i))
    }

    /// Lookup with a string key. Short strings are interned, so a short
    /// key matches only the very same object: a pointer compare per probe.
    #[inline(always)]
    pub(crate) fn get_str(&self, k: Value) -> Value {
        if self.nodes.is_empty() {
            return Value::Nil;
        }
        let Value::Str(ks) = k else { return self.get_hashed(k) };
        if ks.get().len() > crate::value::SHORT_STRING_MAX {
            return self.get_hashed(k);
        }
        let mask = self.nodes.len() - 1;
        let mut i = ks.get().hash() as usize & mask;
        loop {
            // SAFETY: i is masked to nodes.len() - 1 (a power of two minus one).
            let n = unsafe { self.nodes.get_unchecked(i) };
            match n.key {
                Value::Str(s) if s == ks => return n.val,
                Value::Nil => return Value::Nil,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The hash-part slot holding string key `k`, for inline caches.
    pub(crate) fn str_slot(&self, k: Value) -> Option<usize> {
        self.find_slot(k)
    }

    #[inline]
    fn find_slot(&self, k: Value) -> Option<usize> {
        if self.nodes.is_empty() {
            return None;
        }
        let mask = self.nodes.len() - 1;
        let mut i = key_hash(k) as usize & mask;
        loop {
            let n = &self.nodes[i];
            if n.key.is_nil() {
                return None;
            }
            if key_eq(n.key, k) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn get_hashed(&self, k: Value) -> Value {
        match self.find_slot(k) {
            Some(i) => self.nodes[i].val,
            None => Value::Nil,
        }
    }

    /// Raw set. Returns the change in heap bytes (for GC accounting).
    pub(crate) fn set(&mut self, k: Value, v: Value) -> Result<isize, KeyError> {
        let k = normalize(k);
        match k {
            Value::Nil => return Err(KeyError::Nil),
            Value::Float(f) if f.is_nan() => return Err(KeyError::NaN),
            Value::Int(i) => return Ok(self.set_int(i, v)),
            _ => {}
        }
        Ok(self.set_hashed(k, v))
    }

    /// Raw set with a key already known to be a valid non-integer key.
    pub(crate) fn set_str(&mut self, k: Value, v: Value) -> isize {
        self.set_hashed(k, v)
    }

    #[inline]
    pub(crate) fn set_int(&mut self, i: i64, v: Value) -> isize {
        let idx = (i as u64).wrapping_sub(1);
        let len = self.arr.len() as u64;
        if idx < len {
            self.arr[idx as usize] = v;
            return 0;
        }
        if idx == len && !v.is_nil() {
            return self.push_array(i, v);
        }
        self.set_hashed(Value::Int(i), v)
    }

    /// Stores positional values the way a table constructor (and
    /// `table.pack`) does: the array part takes every position in order,
    /// nils included, so `#{1, nil, 3}` is 3 as in PUC Lua.
    pub(crate) fn set_int_positional(&mut self, i: i64, v: Value) -> isize {
        if (i as u64).wrapping_sub(1) == self.arr.len() as u64 {
            return self.push_array(i, v);
        }
        self.set_int(i, v)
    }

    /// Appends `t[i] = v` where `i` is one past the array part.
    fn push_array(&mut self, i: i64, v: Value) -> isize {
        let before = self.heap_bytes();
        self.arr.push(v);
        if !self.nodes.is_empty() {
            // The key may also live in the hash part from before the array
            // reached it; the array copy now wins.
            if let Some(s) = self.find_slot(Value::Int(i)) {
                self.nodes[s].val = Value::Nil;
            }
            self.migrate_from_hash();
        }
        self.heap_bytes() as isize - before as isize
    }

    /// Moves `n+1, n+2, ...` from the hash part into the array part.
    fn migrate_from_hash(&mut self) {
        loop {
            let next = self.arr.len() as i64 + 1;
            match self.find_slot(Value::Int(next)) {
                Some(s) if !self.nodes[s].val.is_nil() => {
                    let v = self.nodes[s].val;
                    self.nodes[s].val = Value::Nil;
                    self.arr.push(v);
                }
                _ => break,
            }
        }
    }

    /// Sets the metatable (what `setmetatable` does, minus its checks).
    pub(crate) fn set_metatable(&mut self, mt: Option<crate::gc::Gc<Table>>) {
        if self.in_lookup_chain.get() {
            lookup_chain_changed();
        }
        self.metatable = mt;
    }

    fn set_hashed(&mut self, k: Value, v: Value) -> isize {
        if self.in_lookup_chain.get() {
            lookup_chain_changed();
        }
        if let Some(s) = self.find_slot(k) {
            self.nodes[s].val = v;
            return 0;
        }
        if v.is_nil() {
            return 0;
        }
        let before = self.heap_bytes();
        if (self.used + 1) * 4 > self.nodes.len() * 3 {
            self.rehash();
        }
        let mask = self.nodes.len() - 1;
        let mut i = key_hash(k) as usize & mask;
        while !self.nodes[i].key.is_nil() {
            i = (i + 1) & mask;
        }
        self.nodes[i] = Node { key: k, val: v };
        self.used += 1;
        self.heap_bytes() as isize - before as isize
    }

    fn rehash(&mut self) {
        let live: Vec<Node> = self.nodes.iter().filter(|n| !n.key.is_nil() && !n.val.is_nil()).copied().collect();
        let mut cap = 4;
        while (live.len() + 1) * 4 > cap * 3 {
            cap *= 2;
        }
        // Grow when mostly live; a table full of dead entries just compacts.
        self.nodes = vec![EMPTY; cap];
        self.used = 0;
        let mask = cap - 1;
        for n in live {
            let mut i = key_hash(n.key) as usize & mask;
            while !self.nodes[i].key.is_nil() {
                i = (i + 1) & mask;
            }
            self.nodes[i] = n;
            self.used += 1;
        }
    }

    /// The length operator's border (`#t` without `__len`).
    pub(crate) fn border(&self) -> i64 {
        let n = self.arr.len();
        if n > 0 && self.arr[n - 1].is_nil() {
            // Binary search for a border inside the array part.
            let (mut lo, mut hi) = (0usize, n);
            while hi - lo > 1 {
                let m = (lo + hi) / 2;
                if self.arr[m - 1].is_nil() {
                    hi = m;
                } else {
                    lo = m;
                }
            }
            return lo as i64;
        }
        if self.nodes.is_empty() || self.get_hashed(Value::Int(n as i64 + 1)).is_nil() {
            return n as i64;
        }
        // Unbounded search in the hash part.
        let mut i = n as i64 + 1;
        let mut j = i.saturating_mul(2);
        while !self.get_int(j).is_nil() {
            i = j;
            if j > i64::MAX / 2 {
                let mut k = 1;
                while !self.get_int(k).is_nil() {
                    k += 1;
                }
                return k - 1;
            }
            j *= 2;
        }
        while j - i > 1 {
            let m = i + (j - i) / 2;
            if self.get_int(m).is_nil() {
                j = m;
            } else {
                i = m;
            }
        }
        i
    }

    /// `next`: the entry after `k` (nil = first). `Err` for a key not in
    /// the table.
    pub(crate) fn next(&self, k: Value) -> Result<Option<(Value, Value)>, ()> {
        let k = normalize(k);
        let mut start_arr = 0usize;
        let mut start_node = 0usize;
        match k {
            Value::Nil => {}
            Value::Int(i) if i >= 1 && (i as u64) <= self.arr.len() as u64 => start_arr = i as usize,
            _ => match self.find_slot(k) {
                Some(s) => {
                    start_arr = self.arr.len();
                    start_node = s + 1;
                }
                None => return Err(()),
            },
        }
        for i in start_arr..self.arr.len() {
            if !self.arr[i].is_nil() {
                return Ok(Some((Value::Int(i as i64 + 1), self.arr[i])));
            }
        }
        for n in &self.nodes[start_node.min(self.nodes.len())..] {
            if !n.key.is_nil() && !n.val.is_nil() {
                return Ok(Some((n.key, n.val)));
            }
        }
        Ok(None)
    }

    /// Visits every live key/value (for the GC).
    pub(crate) fn for_each_value(&self, mut f: impl FnMut(Value, Value)) {
        for v in &self.arr {
            f(Value::Nil, *v);
        }
        for n in &self.nodes {
            // Dead keys are marked too: `next` may still be handed them.
            if !n.key.is_nil() {
                f(n.key, n.val);
            }
        }
    }

    /// Removes trailing nils from the array part so `#` stays cheap after
    /// `table.remove`.
    pub(crate) fn trim_array(&mut self) {
        while matches!(self.arr.last(), Some(Value::Nil)) {
            self.arr.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(t: &Table, i: i64) -> Option<i64> {
        match t.get_int(i) {
            Value::Int(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn keys_past_the_end_migrate_into_the_array_part() {
        let mut t = Table::new(0, 0);
        t.set(Value::Int(3), Value::Int(30)).ok().unwrap();
        t.set(Value::Int(2), Value::Int(20)).ok().unwrap();
        assert_eq!(t.arr.len(), 0);
        t.set(Value::Int(1), Value::Int(10)).ok().unwrap();
        assert_eq!(t.arr.len(), 3, "2 and 3 moved from the hash part");
        assert_eq!((int(&t, 1), int(&t, 2), int(&t, 3)), (Some(10), Some(20), Some(30)));
        assert_eq!(t.border(), 3);
    }

    #[test]
    fn float_keys_with_integer_values_are_integer_keys() {
        let mut t = Table::new(0, 0);
        t.set(Value::Float(1.0), Value::Int(7)).ok().unwrap();
        assert_eq!(int(&t, 1), Some(7));
        t.set(Value::Float(1.5), Value::Int(8)).ok().unwrap();
        assert!(matches!(t.get(Value::Float(1.5)), Value::Int(8)));
        assert!(matches!(t.set(Value::Nil, Value::Int(1)), Err(KeyError::Nil)));
        assert!(matches!(t.set(Value::Float(f64::NAN), Value::Int(1)), Err(KeyError::NaN)));
    }

    #[test]
    fn border_of_a_sequence_with_a_trailing_hole() {
        let mut t = Table::new(4, 0);
        for i in 1..=4 {
            t.set_int(i, Value::Int(i));
        }
        t.set_int(4, Value::Nil);
        assert_eq!(t.border(), 3);
        t.trim_array();
        assert_eq!(t.arr.len(), 3);
    }

    #[test]
    fn next_survives_clearing_fields_during_traversal() {
        let mut t = Table::new(0, 0);
        for i in 1..=50 {
            t.set(Value::Int(i * 1000), Value::Int(i)).ok().unwrap();
        }
        let mut k = Value::Nil;
        let mut seen = 0;
        while let Ok(Some((nk, _))) = t.next(k) {
            t.set(nk, Value::Nil).ok().unwrap();
            seen += 1;
            k = nk;
        }
        assert_eq!(seen, 50);
        assert!(matches!(t.next(Value::Nil), Ok(None)));
        assert!(t.next(Value::Int(-5)).is_err(), "a key never in the table");
    }

    #[test]
    fn dead_entries_are_reclaimed_when_the_hash_part_is_rebuilt() {
        let mut t = Table::new(0, 0);
        for round in 0..100i64 {
            for i in 0..10 {
                t.set(Value::Int(round * 100 + i + 1_000_000), Value::Bool(true)).ok().unwrap();
            }
            for i in 0..10 {
                t.set(Value::Int(round * 100 + i + 1_000_000), Value::Nil).ok().unwrap();
            }
        }
        assert!(t.nodes.len() <= 64, "hash part stayed small: {}", t.nodes.len());
    }
}
