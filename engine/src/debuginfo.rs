//! Debug information for error messages: source positions and the names of
//! the variables involved ("attempt to call a nil value (global 'f')").
//!
//! Like PUC Lua, names are recovered from the bytecode by finding the
//! instruction that last loaded the register, so no extra bookkeeping runs
//! on the fast path.

use crate::bytecode::{Constant, Op, Proto, RK_CONST};
use crate::error::Culprit;
use crate::function::Function;
use crate::state::State;

impl State {
    /// "chunk:line:" of frame `level` counted from the innermost (0), or ""
    /// if that frame does not exist.
    ///
    /// Levels count the natives PUC Lua would have on its call stack too: a
    /// frame run by `pcall`, or called back from a native, has a native
    /// level above it.
    pub(crate) fn where_(&self, level: usize) -> String {
        let mut idx = self.frames.len();
        let mut remaining = level;
        loop {
            if idx == 0 {
                return String::new();
            }
            idx -= 1;
            if remaining == 0 {
                break;
            }
            remaining -= 1;
            let f = &self.frames[idx];
            if f.protected || f.called_by_native {
                // The level above is a native (pcall, sort, gsub...).
                if remaining == 0 {
                    return String::new();
                }
                remaining -= 1;
            }
        }
        let f = &self.frames[idx];
        let Function::Lua(c) = f.closure.get() else {
            return String::new();
        };
        let p = c.proto();
        let pc = f.pc.saturating_sub(1).min(p.lines.len().saturating_sub(1));
        format!("{}:{}:", p.source, p.lines.get(pc).copied().unwrap_or(0))
    }

    /// Prepends the running Lua function's position and appends the
    /// culprit's variable name.
    pub(crate) fn position_message(&self, msg: &str, culprit: Option<Culprit>) -> String {
        let Some(f) = self.frames.last() else {
            return msg.to_string();
        };
        let Function::Lua(c) = f.closure.get() else {
            return msg.to_string();
        };
        let p = c.proto();
        let pc = f.pc.saturating_sub(1);
        let info = match culprit {
            Some(Culprit::Rk(x)) if x >= RK_CONST => match &p.consts[(x - RK_CONST) as usize] {
                Constant::Str(s) => format!(" (constant '{}')", String::from_utf8_lossy(s)),
                _ => String::new(),
            },
            Some(Culprit::Rk(r)) => match obj_name(p, pc, r as u8) {
                Some((kind, name)) => format!(" ({kind} '{name}')"),
                None => String::new(),
            },
            None => String::new(),
        };
        let body = if let Some(rest) = msg.strip_prefix("number has no integer representation") {
            format!("number{info} has no integer representation{rest}")
        } else {
            format!("{msg}{info}")
        };
        format!("{}:{}: {}", p.source, p.lines.get(pc).copied().unwrap_or(0), body)
    }

    /// The name a native was called by, for "bad argument #n to 'name'":
    /// the call site's variable name when called from Lua, else the
    /// native's qualified name. Second value: called as a method.
    pub(crate) fn native_call_name(&self, fallback: &str) -> (String, bool) {
        if self.native_from_lua
            && let Some(f) = self.frames.last()
            && let Function::Lua(c) = f.closure.get()
        {
            let p = c.proto();
            let pc = f.pc.saturating_sub(1);
            if let Some(Op::TForCall { .. }) = p.code.get(pc) {
                return ("for iterator".into(), false);
            }
            if let Some(Op::Call { a, .. } | Op::TailCall { a, .. }) = p.code.get(pc) {
                if let Some((kind, name)) = obj_name(p, pc, *a) {
                    return (name, kind == "method");
                }
                return ("?".into(), false);
            }
        }
        (fallback.to_string(), false)
    }
}

/// How lua5.4.4 names a table key in messages: a constant string key by
/// itself, an integer constant as "integer index", anything else as "?".
fn key_name(p: &Proto, pc: usize, c: u16) -> String {
    if c >= RK_CONST {
        return match &p.consts[(c - RK_CONST) as usize] {
            Constant::Str(s) => String::from_utf8_lossy(s).into_owned(),
            Constant::Int(_) => "integer index".into(),
            _ => "?".into(),
        };
    }
    match obj_name(p, pc, c as u8) {
        Some(("constant", name)) => name,
        _ => "?".into(),
    }
}

fn const_str(p: &Proto, k: u32) -> Option<String> {
    match p.consts.get(k as usize)? {
        Constant::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

pub(crate) fn local_name(p: &Proto, reg: u8, pc: usize) -> Option<&str> {
    // The innermost active local holding the register.
    p.locvars
        .iter()
        .rfind(|v| v.reg == reg && (v.start as usize) <= pc && pc < v.end as usize)
        .map(|v| v.name.as_str())
        .filter(|n| !n.starts_with('('))
}

/// Finds what last set `reg` before `lastpc` and names it.
pub(crate) fn obj_name(p: &Proto, lastpc: usize, reg: u8) -> Option<(&'static str, String)> {
    if let Some(Op::TForCall { a, .. }) = p.code.get(lastpc)
        && reg == a + 3
    {
        return Some(("for iterator", "for iterator".into()));
    }
    if let Some(n) = local_name(p, reg, lastpc) {
        return Some(("local", n.to_string()));
    }
    let setpc = find_set_reg(p, lastpc, reg)?;
    match p.code[setpc] {
        Op::Move { b, .. } => {
            if b < reg {
                return obj_name(p, setpc, b);
            }
            None
        }
        Op::GetGlobal { k, .. } => Some(("global", const_str(p, k)?)),
        Op::GetField { b, k, .. } => {
            // `_ENV.x` reads a global, as PUC Lua names it.
            let from_env = matches!(find_set_reg(p, setpc, b).map(|pc| p.code[pc]), Some(Op::LoadEnv { .. }));
            Some((if from_env { "global" } else { "field" }, const_str(p, k as u32)?))
        }
        Op::GetTable { c, .. } => Some(("field", key_name(p, setpc, c))),
        Op::GetUpval { b, .. } => Some(("upvalue", p.upvals[b as usize].name.clone())),
        Op::LoadK { k, .. } => Some(("constant", const_str(p, k)?)),
        Op::SelfOp { k, .. } => Some(("method", const_str(p, k as u32)?)),
        _ => None,
    }
}

/// PUC Lua's `findsetreg`: the last instruction before `lastpc` that
/// changes `reg`, unless a jump target between makes it ambiguous.
fn find_set_reg(p: &Proto, lastpc: usize, reg: u8) -> Option<usize> {
    let mut setreg = None;
    let mut jmptarget = 0usize;
    for pc in 0..lastpc.min(p.code.len()) {
        let r = reg as usize;
        let changes = match p.code[pc] {
            Op::Jmp { off, .. } => {
                let dest = (pc as i64 + 1 + off as i64) as usize;
                if dest <= lastpc && dest > jmptarget {
                    jmptarget = dest;
                }
                false
            }
            op => op.writes(r),
        };
        if changes {
            setreg = if pc < jmptarget { None } else { Some(pc) };
        }
    }
    setreg
}
