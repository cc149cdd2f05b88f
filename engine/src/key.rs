//! Function keys: a 128-bit content hash identifying a function prototype
//! across processes.
//!
//! The key covers what determines the function's behaviour and its
//! feedback-site layout: its canonical bytecode, constants, parameter and
//! upvalue shape, declared name, the keys of its nested functions, and the
//! profile schema version. It leaves out line numbers and the chunk name, so
//! editing one function (or adding lines above it) leaves its unchanged
//! siblings' keys alone, and the same source gives the same keys on every
//! node.

use crate::bytecode::{Constant, Proto};
use crate::profile::PROFILE_SCHEMA_VERSION;

/// A 128-bit function identity.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct FunctionKey(pub u128);

impl std::fmt::Debug for FunctionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl std::fmt::Display for FunctionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl std::str::FromStr for FunctionKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() != 32 {
            return Err(format!("a function key is 32 hex digits, got {} characters", s.len()));
        }
        u128::from_str_radix(s, 16).map(FunctionKey).map_err(|e| format!("bad function key '{s}': {e}"))
    }
}

/// Two independent 64-bit FNV-1a style lanes with different offsets and a
/// final mix; deterministic across platforms and Rust versions (unlike
/// `std`'s `DefaultHasher`).
struct KeyHasher {
    a: u64,
    b: u64,
}

impl KeyHasher {
    fn new() -> Self {
        KeyHasher { a: 0xcbf2_9ce4_8422_2325, b: 0x6c62_272e_07bb_0142 }
    }
    fn bytes(&mut self, data: &[u8]) {
        for &x in data {
            self.a = (self.a ^ x as u64).wrapping_mul(0x0000_0100_0000_01b3);
            self.b = (self.b ^ x as u64).wrapping_mul(0x0000_0100_0000_0193).rotate_left(7);
        }
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn finish(self) -> u128 {
        let mix = |mut h: u64| {
            h ^= h >> 33;
            h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
            h ^= h >> 33;
            h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
            h ^ (h >> 33)
        };
        ((mix(self.a ^ self.b.rotate_left(17)) as u128) << 64) | mix(self.b ^ self.a.rotate_left(29)) as u128
    }
}

pub(crate) fn compute_key(p: &Proto) -> FunctionKey {
    let mut h = KeyHasher::new();
    h.u64(PROFILE_SCHEMA_VERSION as u64);
    h.bytes(p.name.as_bytes());
    h.u64(p.nparams as u64 | ((p.is_vararg as u64) << 8) | ((p.maxstack as u64) << 16));
    h.u64(p.code.len() as u64);
    for op in &p.code {
        // `Op`'s Debug form is canonical: variant name and operands.
        h.bytes(format!("{op:?};").as_bytes());
    }
    h.u64(p.consts.len() as u64);
    for c in &p.consts {
        match c {
            Constant::Nil => h.bytes(b"n"),
            Constant::Bool(b) => h.bytes(if *b { b"T" } else { b"F" }),
            Constant::Int(i) => {
                h.bytes(b"i");
                h.u64(*i as u64);
            }
            Constant::Float(f) => {
                h.bytes(b"f");
                h.u64(f.to_bits());
            }
            Constant::Str(s) => {
                h.bytes(b"s");
                h.u64(s.len() as u64);
                h.bytes(s);
            }
        }
    }
    for u in &p.upvals {
        h.bytes(&[u.in_stack as u8, u.idx]);
        h.bytes(u.name.as_bytes());
    }
    for c in &p.protos {
        h.bytes(&c.key.0.to_le_bytes());
    }
    FunctionKey(h.finish())
}
