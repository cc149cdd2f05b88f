//! Register-based bytecode: the instruction set, function prototypes and the
//! verifier that makes the interpreter's unchecked register accesses sound.
//!
//! The design follows PUC Lua 5.4 closely enough that its debug-info tricks
//! (naming the variable in "attempt to index a nil value (local 't')") carry
//! over: a function's registers are its locals in declaration order, then
//! temporaries; calls put the callee and arguments in consecutive registers
//! and results back where the callee was.
//!
//! `RK` operands are `u16`: below [`RK_CONST`] a register, otherwise a
//! constant index plus `RK_CONST`.

use std::sync::Arc;

use crate::key::FunctionKey;
use crate::profile::Feedback;

pub(crate) const RK_CONST: u16 = 256;

/// One instruction; always 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Op {
    Move {
        a: u8,
        b: u8,
    },
    LoadK {
        a: u8,
        k: u32,
    },
    LoadInt {
        a: u8,
        v: i32,
    },
    LoadNil {
        a: u8,
        n: u8,
    },
    LoadBool {
        a: u8,
        v: bool,
    },
    /// R[a] = false; skip the next instruction.
    LoadFalseSkip {
        a: u8,
    },
    GetUpval {
        a: u8,
        b: u8,
    },
    SetUpval {
        a: u8,
        b: u8,
    },
    GetGlobal {
        a: u8,
        k: u32,
    },
    /// R[a] = the globals table (a read of `_ENV`).
    LoadEnv {
        a: u8,
    },
    SetGlobal {
        a: u8,
        k: u32,
    },
    GetTable {
        a: u8,
        b: u8,
        c: u16,
    },
    GetField {
        a: u8,
        b: u8,
        k: u16,
    },
    SetTable {
        a: u8,
        b: u16,
        c: u16,
    },
    SetField {
        a: u8,
        k: u16,
        c: u16,
    },
    NewTable {
        a: u8,
        narr: u16,
        nhash: u16,
    },
    /// R[a][start+i] = R[a+i] for i in 1..=n (n = 0: up to top).
    SetList {
        a: u8,
        n: u8,
        start: u32,
    },
    /// R[a+1] = R[b]; R[a] = R[b][K[k]].
    #[allow(clippy::enum_variant_names)] // Lua's OP_SELF; `Self` is a keyword.
    SelfOp {
        a: u8,
        b: u8,
        k: u16,
    },
    Add {
        a: u8,
        b: u16,
        c: u16,
    },
    Sub {
        a: u8,
        b: u16,
        c: u16,
    },
    Mul {
        a: u8,
        b: u16,
        c: u16,
    },
    Div {
        a: u8,
        b: u16,
        c: u16,
    },
    Mod {
        a: u8,
        b: u16,
        c: u16,
    },
    Pow {
        a: u8,
        b: u16,
        c: u16,
    },
    IDiv {
        a: u8,
        b: u16,
        c: u16,
    },
    BAnd {
        a: u8,
        b: u16,
        c: u16,
    },
    BOr {
        a: u8,
        b: u16,
        c: u16,
    },
    BXor {
        a: u8,
        b: u16,
        c: u16,
    },
    Shl {
        a: u8,
        b: u16,
        c: u16,
    },
    Shr {
        a: u8,
        b: u16,
        c: u16,
    },
    Unm {
        a: u8,
        b: u8,
    },
    Not {
        a: u8,
        b: u8,
    },
    Len {
        a: u8,
        b: u8,
    },
    BNot {
        a: u8,
        b: u8,
    },
    /// R[a] = R[b] .. ... .. R[b+n-1]
    Concat {
        a: u8,
        b: u8,
        n: u8,
    },
    /// pc += off; if close > 0, first close upvalues >= R[close-1].
    Jmp {
        off: i32,
        close: u8,
    },
    /// if (RK(b) == RK(c)) != k then skip the next instruction.
    Eq {
        k: bool,
        b: u16,
        c: u16,
    },
    Lt {
        k: bool,
        b: u16,
        c: u16,
    },
    Le {
        k: bool,
        b: u16,
        c: u16,
    },
    /// if truthy(R[a]) != k then skip the next instruction.
    Test {
        a: u8,
        k: bool,
    },
    /// if truthy(R[b]) == k then R[a] = R[b] else skip the next instruction.
    TestSet {
        a: u8,
        b: u8,
        k: bool,
    },
    /// R[a](R[a+1..a+b-1]) -> R[a..a+c-2]; b = 0: args to top; c = 0: multiple results.
    Call {
        a: u8,
        b: u8,
        c: u8,
    },
    TailCall {
        a: u8,
        b: u8,
    },
    /// return R[a..a+b-2]; b = 0: up to top.
    Return {
        a: u8,
        b: u8,
    },
    ForPrep {
        a: u8,
        off: i32,
    },
    ForLoop {
        a: u8,
        off: i32,
    },
    /// R[a+3..a+2+c] = R[a](R[a+1], R[a+2])
    TForCall {
        a: u8,
        c: u8,
    },
    /// if R[a+3] ~= nil then R[a+2] = R[a+3]; pc += off
    TForLoop {
        a: u8,
        off: i32,
    },
    Closure {
        a: u8,
        idx: u32,
    },
    /// R[a..a+c-2] = varargs; c = 0: all, up to top.
    VarArg {
        a: u8,
        c: u8,
    },
    /// Close upvalues >= R[a].
    Close {
        a: u8,
    },
}

impl Op {
    /// The one register this instruction always writes, for those that
    /// write exactly one (`TestSet` is not one: it may skip its write).
    pub(crate) fn single_dest(&self) -> Option<u8> {
        match *self {
            Op::Move { a, .. }
            | Op::LoadK { a, .. }
            | Op::LoadInt { a, .. }
            | Op::LoadBool { a, .. }
            | Op::LoadFalseSkip { a }
            | Op::GetUpval { a, .. }
            | Op::GetGlobal { a, .. }
            | Op::LoadEnv { a }
            | Op::GetTable { a, .. }
            | Op::GetField { a, .. }
            | Op::NewTable { a, .. }
            | Op::Add { a, .. }
            | Op::Sub { a, .. }
            | Op::Mul { a, .. }
            | Op::Div { a, .. }
            | Op::Mod { a, .. }
            | Op::Pow { a, .. }
            | Op::IDiv { a, .. }
            | Op::BAnd { a, .. }
            | Op::BOr { a, .. }
            | Op::BXor { a, .. }
            | Op::Shl { a, .. }
            | Op::Shr { a, .. }
            | Op::Unm { a, .. }
            | Op::Not { a, .. }
            | Op::Len { a, .. }
            | Op::BNot { a, .. }
            | Op::Concat { a, .. }
            | Op::Closure { a, .. } => Some(a),
            _ => None,
        }
    }

    /// Whether executing this instruction may write register `r` (the
    /// symbolic execution behind variable names in error messages, and
    /// tier 2's guesses about where a register's table came from).
    pub(crate) fn writes(&self, r: usize) -> bool {
        if let Some(a) = self.single_dest() {
            return a as usize == r;
        }
        match *self {
            Op::TestSet { a, .. } => a as usize == r,
            Op::LoadNil { a, n } => (a as usize..=a as usize + n as usize).contains(&r),
            Op::SelfOp { a, .. } => a as usize == r || a as usize + 1 == r,
            Op::Call { a, .. } | Op::TailCall { a, .. } => r >= a as usize,
            Op::TForCall { a, .. } => r >= a as usize + 3,
            Op::VarArg { a, .. } => r >= a as usize,
            Op::ForPrep { a, .. } | Op::ForLoop { a, .. } => (a as usize..=a as usize + 3).contains(&r),
            Op::TForLoop { a, .. } => r == a as usize + 2,
            _ => false,
        }
    }
}

const _: () = assert!(std::mem::size_of::<Op>() == 8);

#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (bytes).
    Str(Box<[u8]>),
}

#[derive(Clone, Debug)]
pub(crate) struct UpvalDesc {
    /// Captures a register of the enclosing function (else its upvalue).
    pub in_stack: bool,
    pub idx: u8,
    pub name: String,
}

#[derive(Clone, Debug)]
pub(crate) struct LocVar {
    pub name: String,
    pub reg: u8,
    /// Active for pc in start..end.
    pub start: u32,
    pub end: u32,
}

/// A compiled function. Shared (via `Arc`) by every state that loads the
/// module, and by every tier.
pub struct Proto {
    pub(crate) code: Vec<Op>,
    pub(crate) consts: Vec<Constant>,
    pub(crate) protos: Vec<Arc<Proto>>,
    pub(crate) upvals: Vec<UpvalDesc>,
    pub(crate) nparams: u8,
    pub(crate) is_vararg: bool,
    pub(crate) maxstack: u8,
    pub(crate) lines: Vec<u32>,
    pub(crate) locvars: Vec<LocVar>,
    pub(crate) line_defined: u32,
    /// Chunk name as shown in messages (`x.lua`, `[string "..."]`).
    pub(crate) source: Arc<str>,
    /// Human name: `f`, `Account.deposit`, `main chunk`, `anonymous`.
    pub(crate) name: String,
    pub(crate) key: FunctionKey,
    pub(crate) feedback: Feedback,
    /// Compiled-code entry and hotness, shared by every state.
    pub(crate) jit: crate::jit::JitSlot,
}

impl Proto {
    /// The function's content key.
    pub fn key(&self) -> FunctionKey {
        self.key
    }
    /// Human name: `f`, `Account.deposit`, `main chunk`, `anonymous`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Chunk name as shown in messages.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Line where the function is defined (0 for a main chunk).
    pub fn line_defined(&self) -> u32 {
        self.line_defined
    }
    /// Number of bytecode instructions.
    pub fn code_len(&self) -> usize {
        self.code.len()
    }
    /// The tier-0 feedback recorded for this function.
    pub fn feedback(&self) -> &Feedback {
        &self.feedback
    }
    /// Nested prototypes, in definition order.
    pub fn children(&self) -> &[Arc<Proto>] {
        &self.protos
    }
}

/// Checks the invariants the interpreter relies on without re-checking:
/// register operands below `maxstack`, constants and jump targets in range,
/// upvalue indices valid. A failure is a compiler bug.
pub(crate) fn verify(p: &Proto) -> Result<(), String> {
    let n = p.code.len() as i64;
    let ms = p.maxstack as u16;
    let nk = p.consts.len() as u32;
    let reg = |r: u8, pc: usize| -> Result<(), String> {
        if (r as u16) < ms { Ok(()) } else { Err(format!("pc {pc}: register {r} >= maxstack {ms}")) }
    };
    let rk = |x: u16, pc: usize| -> Result<(), String> {
        if x >= RK_CONST {
            if ((x - RK_CONST) as u32) < nk { Ok(()) } else { Err(format!("pc {pc}: constant {x} out of range")) }
        } else if x < ms {
            Ok(())
        } else {
            Err(format!("pc {pc}: register {x} >= maxstack {ms}"))
        }
    };
    let k = |x: u32, pc: usize| -> Result<(), String> { if x < nk { Ok(()) } else { Err(format!("pc {pc}: constant {x} out of range")) } };
    let strk = |x: u32, pc: usize| -> Result<(), String> {
        k(x, pc)?;
        if matches!(p.consts[x as usize], Constant::Str(_)) { Ok(()) } else { Err(format!("pc {pc}: constant {x} is not a string")) }
    };
    let jump = |pc: usize, off: i32| -> Result<(), String> {
        let t = pc as i64 + 1 + off as i64;
        if (0..n).contains(&t) { Ok(()) } else { Err(format!("pc {pc}: jump target {t} out of range")) }
    };
    let nup = p.upvals.len();
    if p.lines.len() != p.code.len() {
        return Err("line info length mismatch".into());
    }
    if !matches!(p.code.last(), Some(Op::Return { .. }) | Some(Op::TailCall { .. })) {
        return Err("function does not end with a return".into());
    }
    for (pc, op) in p.code.iter().enumerate() {
        match *op {
            Op::Move { a, b } | Op::Unm { a, b } | Op::Not { a, b } | Op::Len { a, b } | Op::BNot { a, b } => {
                reg(a, pc)?;
                reg(b, pc)?;
            }
            Op::LoadK { a, k: x } => {
                reg(a, pc)?;
                k(x, pc)?;
            }
            Op::LoadInt { a, .. } | Op::LoadBool { a, .. } | Op::Close { a } | Op::LoadEnv { a } => reg(a, pc)?,
            Op::LoadFalseSkip { a } => {
                reg(a, pc)?;
                jump(pc, 1)?;
            }
            Op::LoadNil { a, n } => reg(a.checked_add(n).ok_or("loadnil overflow")?, pc)?,
            Op::GetUpval { a, b } | Op::SetUpval { a, b } => {
                reg(a, pc)?;
                if b as usize >= nup {
                    return Err(format!("pc {pc}: upvalue {b} out of range"));
                }
            }
            Op::GetGlobal { a, k } | Op::SetGlobal { a, k } => {
                reg(a, pc)?;
                strk(k, pc)?;
            }
            Op::GetTable { a, b, c } => {
                reg(a, pc)?;
                reg(b, pc)?;
                rk(c, pc)?;
            }
            Op::GetField { a, b, k } => {
                reg(a, pc)?;
                reg(b, pc)?;
                strk(k as u32, pc)?;
            }
            Op::SelfOp { a, b, k } => {
                reg(a.checked_add(1).ok_or("self overflow")?, pc)?;
                reg(b, pc)?;
                strk(k as u32, pc)?;
            }
            Op::SetTable { a, b, c } => {
                reg(a, pc)?;
                rk(b, pc)?;
                rk(c, pc)?;
            }
            Op::SetField { a, k, c } => {
                reg(a, pc)?;
                strk(k as u32, pc)?;
                rk(c, pc)?;
            }
            Op::NewTable { a, .. } => reg(a, pc)?,
            Op::SetList { a, n, .. } => reg(a.saturating_add(n), pc)?,
            Op::Add { a, b, c }
            | Op::Sub { a, b, c }
            | Op::Mul { a, b, c }
            | Op::Div { a, b, c }
            | Op::Mod { a, b, c }
            | Op::Pow { a, b, c }
            | Op::IDiv { a, b, c }
            | Op::BAnd { a, b, c }
            | Op::BOr { a, b, c }
            | Op::BXor { a, b, c }
            | Op::Shl { a, b, c }
            | Op::Shr { a, b, c } => {
                reg(a, pc)?;
                rk(b, pc)?;
                rk(c, pc)?;
            }
            Op::Concat { a, b, n } => {
                reg(a, pc)?;
                if n < 2 {
                    return Err(format!("pc {pc}: concat of {n} values"));
                }
                reg(b.checked_add(n - 1).ok_or("concat overflow")?, pc)?;
            }
            Op::Jmp { off, close } => {
                jump(pc, off)?;
                if close > 0 {
                    reg(close - 1, pc)?;
                }
            }
            Op::Eq { b, c, .. } | Op::Lt { b, c, .. } | Op::Le { b, c, .. } => {
                rk(b, pc)?;
                rk(c, pc)?;
                // The interpreter takes this jump inline and ignores `close`.
                if !matches!(p.code.get(pc + 1), Some(Op::Jmp { close: 0, .. })) {
                    return Err(format!("pc {pc}: comparison not followed by a plain jump"));
                }
            }
            Op::Test { a, .. } => {
                reg(a, pc)?;
                jump(pc, 1)?;
                if !matches!(p.code.get(pc + 1), Some(Op::Jmp { close: 0, .. })) {
                    return Err(format!("pc {pc}: test not followed by a plain jump"));
                }
            }
            Op::TestSet { a, b, .. } => {
                reg(a, pc)?;
                reg(b, pc)?;
                jump(pc, 1)?;
            }
            Op::Call { a, b, c } => {
                reg(a, pc)?;
                if b > 0 {
                    reg(a.checked_add(b - 1).ok_or("call overflow")?, pc)?;
                }
                if c > 1 {
                    reg(a.checked_add(c - 2).ok_or("call overflow")?, pc)?;
                }
            }
            Op::TailCall { a, b } | Op::Return { a, b } => {
                reg(a.min(ms.saturating_sub(1) as u8), pc)?;
                if b > 1 {
                    reg(a.checked_add(b - 2).ok_or("return overflow")?, pc)?;
                }
            }
            Op::ForPrep { a, off } | Op::ForLoop { a, off } => {
                reg(a.checked_add(3).ok_or("for overflow")?, pc)?;
                jump(pc, off)?;
            }
            Op::TForCall { a, c } => {
                reg(a.checked_add(2 + c).ok_or("tfor overflow")?, pc)?;
            }
            Op::TForLoop { a, off } => {
                reg(a.checked_add(3).ok_or("tfor overflow")?, pc)?;
                jump(pc, off)?;
            }
            Op::Closure { a, idx } => {
                reg(a, pc)?;
                if idx as usize >= p.protos.len() {
                    return Err(format!("pc {pc}: prototype {idx} out of range"));
                }
            }
            Op::VarArg { a, c } => {
                reg(a, pc)?;
                if c > 1 {
                    reg(a.checked_add(c - 2).ok_or("vararg overflow")?, pc)?;
                }
            }
        }
    }
    for child in &p.protos {
        for u in &child.upvals {
            if u.in_stack {
                if u.idx as u16 >= ms {
                    return Err(format!("child captures register {} >= maxstack", u.idx));
                }
            } else if u.idx as usize >= nup {
                return Err(format!("child captures upvalue {} out of range", u.idx));
            }
        }
    }
    Ok(())
}
