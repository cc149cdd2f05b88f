//! Helpers shared by the engine's test files.

#![allow(dead_code)]

/// A xorshift generator: the deterministic source of every random choice
/// in generated programs, so a failing seed reproduces exactly.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// One of `xs`, uniformly.
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.next() as usize % xs.len()]
    }
}
