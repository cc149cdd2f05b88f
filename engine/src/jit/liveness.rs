//! Which registers a function may still read, before each instruction.
//!
//! Why tier 2 needs it: its code keeps numbers in SSA values and writes a
//! register back to memory only when something could read memory — a
//! deopt, a runtime helper, a call, the way out. Only registers the
//! bytecode may still read need writing back: the interpreter resuming
//! after a deopt, and every helper, follow the bytecode, and the bytecode
//! never reads a register it has not written first on that path. So a
//! value that dies in the loop body (a temporary between two instructions)
//! never reaches memory at all.
//!
//! The sets here may be larger than the truth, never smaller: every read
//! an instruction might make counts (a call's arguments up to the stack
//! top count as every register from its function up), and only writes
//! that happen on every path out of an instruction end a register's life.

use crate::bytecode::{Op, Proto, RK_CONST};

/// A set of registers (a frame has at most 256).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Regs([u64; 4]);

impl Regs {
    pub(crate) fn contains(&self, r: u16) -> bool {
        r < 256 && self.0[r as usize / 64] & (1 << (r % 64)) != 0
    }
    fn insert(&mut self, r: u16) {
        if r < 256 {
            self.0[r as usize / 64] |= 1 << (r % 64);
        }
    }
    fn remove(&mut self, r: u16) {
        if r < 256 {
            self.0[r as usize / 64] &= !(1 << (r % 64));
        }
    }
    fn insert_from(&mut self, r: u16) {
        for x in r..256 {
            self.insert(x);
        }
    }
    fn union(&mut self, o: &Regs) -> bool {
        let before = self.0;
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a |= b;
        }
        before != self.0
    }
}

/// Per pc: the registers live on entry.
pub(crate) struct Liveness {
    live_in: Vec<Regs>,
}

impl Liveness {
    pub(crate) fn of(p: &Proto) -> Liveness {
        let n = p.code.len();
        let mut live_in = vec![Regs::default(); n];
        // Backward dataflow to a fixed point (loops need more than one
        // sweep; sweeping from the end converges fast).
        let mut changed = true;
        while changed {
            changed = false;
            for pc in (0..n).rev() {
                let mut live = Regs::default();
                for s in successors(p, pc) {
                    if s < n {
                        live.union(&live_in[s]);
                    }
                }
                for r in kills(&p.code[pc]) {
                    live.remove(r);
                }
                reads(&p.code[pc], &mut live);
                if live_in[pc].union(&live) {
                    changed = true;
                }
            }
        }
        Liveness { live_in }
    }

    /// Whether register `r` may be read at or after `pc` before it is
    /// written.
    pub(crate) fn live(&self, pc: usize, r: u16) -> bool {
        self.live_in.get(pc).is_some_and(|l| l.contains(r))
    }
}

/// Per pc: whether control can arrive there other than from the
/// instruction before (falling through or taking its first successor).
pub(crate) fn jump_targets(p: &Proto) -> Vec<bool> {
    let mut target = vec![false; p.code.len() + 1];
    for pc in 0..p.code.len() {
        for s in successors(p, pc) {
            if s != pc + 1 && s < target.len() {
                target[s] = true;
            }
        }
    }
    target
}

/// Per pc: whether every way from the function's entry to it passes
/// through a `Call` that returned, counting only those `real` says are
/// made as calls (so a frame pushed lazily, before the call, is there
/// for certain: `codegen/inline.rs`; a `math` call computed in place is no
/// call).
pub(crate) fn past_a_call(p: &Proto, real: impl Fn(usize) -> bool) -> Vec<bool> {
    let n = p.code.len();
    // A "must" analysis: everything starts true but the entry, and falls
    // to a fixed point (pcs no way reaches stay true: they never run).
    let mut past = vec![true; n];
    if n > 0 {
        past[0] = false;
    }
    let mut changed = true;
    while changed {
        changed = false;
        for pc in 0..n {
            let out = past[pc] || (matches!(p.code[pc], Op::Call { .. }) && real(pc));
            for s in successors(p, pc) {
                if s < n && past[s] && !out {
                    past[s] = false;
                    changed = true;
                }
            }
        }
    }
    past
}

/// Where control may go after `pc` (every side of every branch).
fn successors(p: &Proto, pc: usize) -> Vec<usize> {
    let to = |off: i32| (pc as i64 + 1 + off as i64).max(0) as usize;
    match p.code[pc] {
        Op::Jmp { off, .. } => vec![to(off)],
        Op::ForPrep { off, .. } | Op::ForLoop { off, .. } | Op::TForLoop { off, .. } => vec![pc + 1, to(off)],
        Op::Eq { .. } | Op::Lt { .. } | Op::Le { .. } | Op::Test { .. } | Op::TestSet { .. } => vec![pc + 1, pc + 2],
        Op::LoadFalseSkip { .. } => vec![pc + 2],
        Op::Return { .. } | Op::TailCall { .. } => vec![],
        _ => vec![pc + 1],
    }
}

/// Registers `op` writes on every path out of it.
fn kills(op: &Op) -> Vec<u16> {
    if let Some(a) = op.single_dest() {
        return vec![a as u16];
    }
    match *op {
        Op::LoadNil { a, n } => (a as u16..=a as u16 + n as u16).collect(),
        Op::SelfOp { a, .. } => vec![a as u16, a as u16 + 1],
        _ => vec![],
    }
}

/// Adds every register `op` may read to `live`.
fn reads(op: &Op, live: &mut Regs) {
    let rk = |live: &mut Regs, x: u16| {
        if x < RK_CONST {
            live.insert(x)
        }
    };
    let range = |live: &mut Regs, from: u16, to: u16| (from..to).for_each(|r| live.insert(r));
    match *op {
        Op::Move { b, .. } | Op::Unm { b, .. } | Op::Not { b, .. } | Op::Len { b, .. } | Op::BNot { b, .. } => rk(live, b as u16),
        Op::GetTable { b, c, .. } => {
            rk(live, b as u16);
            rk(live, c);
        }
        Op::GetField { b, .. } | Op::SelfOp { b, .. } => rk(live, b as u16),
        Op::SetTable { a, b, c } => {
            rk(live, a as u16);
            rk(live, b);
            rk(live, c);
        }
        Op::SetField { a, c, .. } => {
            rk(live, a as u16);
            rk(live, c);
        }
        Op::SetGlobal { a, .. } | Op::SetUpval { a, .. } | Op::Test { a, .. } => rk(live, a as u16),
        Op::Add { b, c, .. }
        | Op::Sub { b, c, .. }
        | Op::Mul { b, c, .. }
        | Op::Div { b, c, .. }
        | Op::Mod { b, c, .. }
        | Op::Pow { b, c, .. }
        | Op::IDiv { b, c, .. }
        | Op::BAnd { b, c, .. }
        | Op::BOr { b, c, .. }
        | Op::BXor { b, c, .. }
        | Op::Shl { b, c, .. }
        | Op::Shr { b, c, .. }
        | Op::Eq { b, c, .. }
        | Op::Lt { b, c, .. }
        | Op::Le { b, c, .. } => {
            rk(live, b);
            rk(live, c);
        }
        // TestSet may leave `a` alone, so it neither reads nor kills it.
        Op::TestSet { b, .. } => rk(live, b as u16),
        Op::Concat { b, n, .. } => range(live, b as u16, b as u16 + n as u16),
        // The function and its arguments; results and returns likewise
        // (one more register than needed: the sets may be larger).
        Op::Call { a, b, .. } | Op::TailCall { a, b } | Op::Return { a, b } => {
            if b == 0 {
                live.insert_from(a as u16)
            } else {
                range(live, a as u16, a as u16 + b as u16)
            }
        }
        Op::SetList { a, n, .. } => {
            if n == 0 {
                live.insert_from(a as u16)
            } else {
                range(live, a as u16, a as u16 + n as u16 + 1)
            }
        }
        Op::ForPrep { a, .. } | Op::ForLoop { a, .. } | Op::TForCall { a, .. } | Op::TForLoop { a, .. } => {
            range(live, a as u16, a as u16 + 4)
        }
        // Closing upvalues copies registers into them.
        Op::Jmp { close, .. } if close > 0 => live.insert_from(close as u16 - 1),
        Op::Close { a } => live.insert_from(a as u16),
        // A closure's upvalues capture registers by reference: whatever it
        // captures is read whenever the closure runs. Tier 2 never keeps a
        // captured register out of memory, so nothing more is needed here.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::Liveness;

    fn proto(src: &str) -> std::sync::Arc<crate::bytecode::Proto> {
        let main = crate::engine::compile_source(src.as_bytes(), "t").expect("compiles");
        main.protos[0].clone()
    }

    #[test]
    fn a_temporary_dies_after_its_one_read_and_a_loop_variable_lives_around_the_loop() {
        let p = proto("local function f(t, n) local s = 0 for i = 1, n do s = s + t[i] * 2 end return s end");
        let l = Liveness::of(&p);
        // `s` (register 2) is live at the loop's body start and at the
        // return; the product's temporary is live only between its write
        // and the add.
        let body = p.code.iter().position(|op| matches!(op, crate::bytecode::Op::ForPrep { .. })).unwrap() + 1;
        assert!(l.live(body, 2), "{:?}", p.code);
        assert!(l.live(body, 0), "t is read in the loop");
        let mul = p.code.iter().position(|op| matches!(op, crate::bytecode::Op::Mul { .. })).unwrap();
        let crate::bytecode::Op::Mul { a: tmp, .. } = p.code[mul] else { unreachable!() };
        assert!(l.live(mul + 1, tmp as u16), "read by the add");
        assert!(!l.live(body, tmp as u16), "dead around the loop");
    }

    #[test]
    fn only_code_every_path_reaches_through_a_call_is_past_one() {
        use crate::bytecode::Op;
        // fib's shape: the early return reaches no call; the sum comes
        // after the first call on its only path.
        let p = proto("local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end");
        let past = super::past_a_call(&p, |_| true);
        let calls: Vec<usize> = p.code.iter().enumerate().filter(|(_, op)| matches!(op, Op::Call { .. })).map(|(pc, _)| pc).collect();
        assert_eq!(calls.len(), 2, "{:?}", p.code);
        let early = p.code.iter().position(|op| matches!(op, Op::Return { .. })).unwrap();
        assert!(early < calls[0]);
        assert!(!past[0] && !past[early] && !past[calls[0]], "{past:?}");
        assert!(past[calls[0] + 1] && past[calls[1]] && past[p.code.len() - 1], "{past:?}");
        // A call on one side of a branch only: the join is not past one.
        let p = proto("local function g(x, f) local y = 1 if x then y = f() end return y + 1 end");
        let past = super::past_a_call(&p, |_| true);
        let call = p.code.iter().position(|op| matches!(op, Op::Call { .. })).unwrap();
        let add = p.code.iter().position(|op| matches!(op, Op::Add { .. })).unwrap();
        assert!(!past[call] && !past[add], "{past:?} {:?}", p.code);
        // A call not made as one (computed in place) passes nothing.
        let p = proto("local function h(v) return math.floor(v), math.ceil(v) end");
        let calls: Vec<usize> = p.code.iter().enumerate().filter(|(_, op)| matches!(op, Op::Call { .. })).map(|(pc, _)| pc).collect();
        assert!(super::past_a_call(&p, |_| true)[calls[1]]);
        assert!(!super::past_a_call(&p, |pc| pc != calls[0])[calls[1]]);
    }
}
