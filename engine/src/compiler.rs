//! AST to bytecode.
//!
//! Register discipline (the invariant the interpreter and the debug-name
//! lookup rely on): at the start of every statement, the free register equals
//! the number of registers held by active locals; locals occupy registers in
//! declaration order; temporaries live above them and are released at the
//! end of each statement.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bytecode::{Constant, LocVar, Op, Proto, RK_CONST, UpvalDesc, verify};
use crate::key::FunctionKey;
use crate::number::{float_mod, float_to_int_exact, int_floor_div, int_mod, shift_left};
use crate::profile::Feedback;
use crate::syntax::ast::*;
use crate::syntax::lexer::SyntaxError;

const MAX_REGS: usize = 250;
/// SetList flushes every this many positional fields.
const FIELDS_PER_FLUSH: u8 = 50;
/// Non-spine expression nesting the compiler accepts (the parser already
/// bounds most nesting; this guards long `a.b.c...` chains).
const MAX_EXPR_DEPTH: u32 = 1000;

struct ActVar {
    name: String,
    reg: u8,
    attrib: Attrib,
    locvar: usize,
}

struct BlockInfo {
    nactvar: usize,
    is_loop: bool,
    has_upval: bool,
    break_jumps: Vec<usize>,
    first_label: usize,
    first_goto: usize,
}

struct LabelDesc {
    name: String,
    pc: usize,
    nactvar: usize,
    line: u32,
}

struct PendingGoto {
    name: String,
    pc: usize,
    nactvar: usize,
    line: u32,
}

#[derive(PartialEq, Eq, Hash)]
enum ConstKey {
    Nil,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(Vec<u8>),
}

struct FuncState {
    code: Vec<Op>,
    lines: Vec<u32>,
    consts: Vec<Constant>,
    const_map: HashMap<ConstKey, u32>,
    protos: Vec<Arc<Proto>>,
    upvals: Vec<UpvalDesc>,
    actvars: Vec<ActVar>,
    blocks: Vec<BlockInfo>,
    labels: Vec<LabelDesc>,
    gotos: Vec<PendingGoto>,
    locvars: Vec<LocVar>,
    freereg: usize,
    maxstack: usize,
    nparams: u8,
    is_vararg: bool,
    name: String,
    line: u32,
}

enum VarLoc {
    Local(u8),
    Upval(u8),
    Global,
}

pub(crate) struct Compiler {
    funcs: Vec<FuncState>,
    source: Arc<str>,
    depth: u32,
    last_line: u32,
}

type CResult<T> = Result<T, SyntaxError>;

/// Compiles a parsed chunk into its main prototype.
pub(crate) fn compile_chunk(chunk: &FuncBody, source: Arc<str>) -> CResult<Arc<Proto>> {
    let mut c = Compiler { funcs: Vec::new(), source, depth: 0, last_line: 0 };
    c.function(chunk)
}

fn new_fs(f: &FuncBody) -> FuncState {
    FuncState {
        code: Vec::new(),
        lines: Vec::new(),
        consts: Vec::new(),
        const_map: HashMap::new(),
        protos: Vec::new(),
        upvals: Vec::new(),
        actvars: Vec::new(),
        blocks: Vec::new(),
        labels: Vec::new(),
        gotos: Vec::new(),
        locvars: Vec::new(),
        freereg: 0,
        maxstack: 2,
        nparams: 0,
        is_vararg: f.is_vararg,
        name: f.name.clone(),
        line: f.line,
    }
}

impl Compiler {
    fn fs(&mut self) -> &mut FuncState {
        self.funcs.last_mut().expect("inside a function")
    }

    fn err(&self, line: u32, msg: &str) -> SyntaxError {
        SyntaxError(format!("{}:{}: {}", self.source, line, msg))
    }

    fn function(&mut self, f: &FuncBody) -> CResult<Arc<Proto>> {
        self.funcs.push(new_fs(f));
        self.open_block(false);
        if f.is_method {
            self.declare_local("self".into(), Attrib::None)?;
        }
        for p in &f.params {
            self.declare_local(p.clone(), Attrib::None)?;
        }
        let np = self.fs().actvars.len();
        self.fs().nparams = np as u8;
        self.block_body(&f.body)?;
        let end_line = f.body.end_line;
        if f.body.ret.is_none() {
            self.emit(Op::Return { a: 0, b: 1 }, end_line);
        }
        self.close_block(end_line)?;
        if let Some(g) = self.fs().gotos.first() {
            let (name, line) = (g.name.clone(), g.line);
            return Err(self.err(end_line, &format!("no visible label '{name}' for <goto> at line {line}")));
        }
        let fs = self.funcs.pop().expect("pushed above");
        let mut proto = Proto {
            feedback: Feedback::new(fs.code.len()),
            code: fs.code,
            consts: fs.consts,
            protos: fs.protos,
            upvals: fs.upvals,
            nparams: fs.nparams,
            is_vararg: fs.is_vararg,
            maxstack: fs.maxstack.max(2) as u8,
            lines: fs.lines,
            locvars: fs.locvars,
            line_defined: fs.line,
            source: self.source.clone(),
            name: fs.name,
            key: FunctionKey::default(),
            jit: Default::default(),
        };
        proto.key = crate::key::compute_key(&proto);
        if let Err(e) = verify(&proto) {
            panic!("compiler produced invalid bytecode for {}: {e}", proto.name);
        }
        Ok(Arc::new(proto))
    }

    // ----- emission helpers ------------------------------------------------

    fn emit(&mut self, op: Op, line: u32) -> usize {
        self.last_line = line;
        let fs = self.fs();
        fs.code.push(op);
        fs.lines.push(line);
        fs.code.len() - 1
    }

    fn pc(&mut self) -> usize {
        self.fs().code.len()
    }

    fn emit_jump(&mut self, line: u32) -> usize {
        self.emit(Op::Jmp { off: 0, close: 0 }, line)
    }

    fn patch_jump(&mut self, at: usize, target: usize) {
        let off = target as i32 - (at as i32 + 1);
        if let Op::Jmp { off: o, .. } = &mut self.fs().code[at] {
            *o = off;
        } else {
            unreachable!("patching a non-jump");
        }
    }

    fn patch_here(&mut self, jumps: Vec<usize>) {
        let here = self.pc();
        for j in jumps {
            self.patch_jump(j, here);
        }
    }

    fn alloc_reg(&mut self, line: u32) -> CResult<u8> {
        self.reserve(1, line)?;
        Ok((self.fs().freereg - 1) as u8)
    }

    fn reserve(&mut self, n: usize, line: u32) -> CResult<()> {
        let fs = self.fs();
        fs.freereg += n;
        if fs.freereg > MAX_REGS {
            return Err(self.err(line, "function or expression needs too many registers"));
        }
        if fs.freereg > fs.maxstack {
            fs.maxstack = fs.freereg;
        }
        Ok(())
    }

    fn free_to(&mut self, r: usize) {
        self.fs().freereg = r;
    }

    fn nactregs(&mut self) -> usize {
        self.fs().actvars.len()
    }

    fn add_const(&mut self, c: Constant) -> u32 {
        let key = match &c {
            Constant::Nil => ConstKey::Nil,
            Constant::Bool(b) => ConstKey::Bool(*b),
            Constant::Int(i) => ConstKey::Int(*i),
            Constant::Float(f) => ConstKey::Float(f.to_bits()),
            Constant::Str(s) => ConstKey::Str(s.to_vec()),
        };
        let fs = self.fs();
        if let Some(&i) = fs.const_map.get(&key) {
            return i;
        }
        fs.consts.push(c);
        let i = (fs.consts.len() - 1) as u32;
        fs.const_map.insert(key, i);
        i
    }

    fn str_const(&mut self, s: &[u8]) -> u32 {
        self.add_const(Constant::Str(s.into()))
    }

    fn str_const16(&mut self, s: &[u8], line: u32) -> CResult<u16> {
        let k = self.str_const(s);
        u16::try_from(k).map_err(|_| self.err(line, "too many constants"))
    }

    // ----- scopes ----------------------------------------------------------

    fn open_block(&mut self, is_loop: bool) {
        let fs = self.fs();
        let b = BlockInfo {
            nactvar: fs.actvars.len(),
            is_loop,
            has_upval: false,
            break_jumps: Vec::new(),
            first_label: fs.labels.len(),
            first_goto: fs.gotos.len(),
        };
        fs.blocks.push(b);
    }

    /// Ends a block: closes its locals' upvalues if any were captured, moves
    /// unresolved gotos outward, patches breaks.
    fn close_block(&mut self, line: u32) -> CResult<()> {
        let b = self.fs().blocks.pop().expect("open block");
        let pc = self.pc();
        let fs = self.fs();
        for v in fs.actvars.drain(b.nactvar..) {
            fs.locvars[v.locvar].end = pc as u32;
        }
        fs.freereg = b.nactvar;
        fs.labels.truncate(b.first_label);
        // Gotos leaving this block now stand at the block's level.
        for g in fs.gotos[b.first_goto..].iter_mut() {
            if g.nactvar > b.nactvar {
                g.nactvar = b.nactvar;
                if let Op::Jmp { close, .. } = &mut fs.code[g.pc] {
                    *close = b.nactvar as u8 + 1;
                }
            }
        }
        if b.has_upval && !fs.blocks.is_empty() {
            self.emit(Op::Close { a: b.nactvar as u8 }, line);
        }
        if b.is_loop {
            self.patch_here(b.break_jumps);
        }
        Ok(())
    }

    fn declare_local(&mut self, name: String, attrib: Attrib) -> CResult<u8> {
        if name == "_ENV" {
            return Err(self.err(self.last_line, "a local named '_ENV' is not supported by Ember (globals live in one table per state)"));
        }
        let fs = self.fs();
        let reg = fs.actvars.len();
        let pc = fs.code.len() as u32;
        fs.locvars.push(LocVar { name: name.clone(), reg: reg as u8, start: pc, end: u32::MAX });
        let locvar = fs.locvars.len() - 1;
        fs.actvars.push(ActVar { name, reg: reg as u8, attrib, locvar });
        if fs.freereg < fs.actvars.len() {
            fs.freereg = fs.actvars.len();
        }
        if fs.freereg > MAX_REGS {
            return Err(self.err(self.last_line, "too many local variables"));
        }
        if fs.freereg > fs.maxstack {
            fs.maxstack = fs.freereg;
        }
        Ok(reg as u8)
    }

    fn resolve(&mut self, name: &str) -> VarLoc {
        let top = self.funcs.len() - 1;
        match self.resolve_in(top, name) {
            Some(v) => v,
            None => VarLoc::Global,
        }
    }

    fn resolve_in(&mut self, fi: usize, name: &str) -> Option<VarLoc> {
        let fs = &mut self.funcs[fi];
        if let Some(v) = fs.actvars.iter().rev().find(|v| v.name == name) {
            return Some(VarLoc::Local(v.reg));
        }
        if let Some(i) = fs.upvals.iter().position(|u| u.name == name) {
            return Some(VarLoc::Upval(i as u8));
        }
        if fi == 0 {
            return None;
        }
        let desc = match self.resolve_in(fi - 1, name)? {
            VarLoc::Local(reg) => {
                // Mark the owning block so its exit closes the upvalue.
                let outer = &mut self.funcs[fi - 1];
                let vi = outer.actvars.iter().rposition(|v| v.reg == reg).expect("local exists");
                if let Some(b) = outer.blocks.iter_mut().rev().find(|b| b.nactvar <= vi) {
                    b.has_upval = true;
                }
                UpvalDesc { in_stack: true, idx: reg, name: name.to_string() }
            }
            VarLoc::Upval(i) => UpvalDesc { in_stack: false, idx: i, name: name.to_string() },
            VarLoc::Global => return None,
        };
        let fs = &mut self.funcs[fi];
        fs.upvals.push(desc);
        Some(VarLoc::Upval((fs.upvals.len() - 1) as u8))
    }

    fn check_const_assign(&mut self, name: &str, line: u32) -> CResult<()> {
        if name == "_ENV" {
            return Err(self.err(line, "assigning to '_ENV' is not supported by Ember (globals live in one table per state)"));
        }
        // A `<const>` local, in this function or an enclosing one.
        for fs in self.funcs.iter().rev() {
            if let Some(v) = fs.actvars.iter().rev().find(|v| v.name == name) {
                if v.attrib == Attrib::Const {
                    return Err(self.err(line, &format!("attempt to assign to const variable '{name}'")));
                }
                return Ok(());
            }
        }
        Ok(())
    }

    // ----- statements ------------------------------------------------------

    fn block_body(&mut self, b: &Block) -> CResult<()> {
        self.block_body_in(b, false)
    }

    /// `in_repeat`: the block is a `repeat` body, whose locals stay visible
    /// in the `until` condition, so a label before `until` is not at the
    /// block's end (as in PUC Lua).
    fn block_body_in(&mut self, b: &Block, in_repeat: bool) -> CResult<()> {
        for (i, s) in b.stats.iter().enumerate() {
            let rest_void = !in_repeat && b.ret.is_none() && b.stats[i + 1..].iter().all(|s| matches!(s, Stat::Label { .. }));
            self.statement(s, rest_void)?;
            let n = self.nactregs();
            self.free_to(n);
        }
        if let Some((exprs, line)) = &b.ret {
            self.ret(exprs, *line)?;
        }
        Ok(())
    }

    fn block(&mut self, b: &Block, is_loop: bool) -> CResult<()> {
        self.open_block(is_loop);
        self.block_body(b)?;
        self.close_block(b.end_line)
    }

    fn statement(&mut self, s: &Stat, at_block_end: bool) -> CResult<()> {
        match s {
            Stat::Expr(e) => {
                let base = self.fs().freereg;
                self.call(e, 0)?;
                self.free_to(base);
            }
            Stat::Local { names, exprs, line } => self.local(names, exprs, *line)?,
            Stat::Assign { targets, exprs, line } => self.assign(targets, exprs, *line)?,
            Stat::LocalFunction { name, func } => {
                let r = self.declare_local(name.clone(), Attrib::None)?;
                self.closure(func, r)?;
                // The local's debug scope starts after its value exists.
                let fs = self.fs();
                let li = fs.actvars.last().expect("declared").locvar;
                fs.locvars[li].start = fs.code.len() as u32;
            }
            Stat::Function { target, func } => {
                let line = func.line;
                match &target.kind {
                    ExprKind::Name(n) => {
                        self.check_const_assign(n, line)?;
                        match self.resolve(n) {
                            VarLoc::Local(r) => self.closure(func, r)?,
                            VarLoc::Upval(u) => {
                                let r = self.alloc_reg(line)?;
                                self.closure(func, r)?;
                                self.emit(Op::SetUpval { a: r, b: u }, line);
                            }
                            VarLoc::Global => {
                                let r = self.alloc_reg(line)?;
                                self.closure(func, r)?;
                                let k = self.str_const(n.as_bytes());
                                self.emit(Op::SetGlobal { a: r, k }, line);
                            }
                        }
                    }
                    ExprKind::Index(obj, key) => {
                        let o = self.expr_anyreg(obj)?;
                        let ExprKind::Str(k) = &key.kind else { unreachable!("funcname keys are names") };
                        let k = self.str_const16(k, line)?;
                        let r = self.alloc_reg(line)?;
                        self.closure(func, r)?;
                        self.emit(Op::SetField { a: o, k, c: r as u16 }, line);
                    }
                    _ => unreachable!("funcname is a name or a field"),
                }
            }
            Stat::If { arms, else_block } => {
                let mut end_jumps = Vec::new();
                for (i, (cond, body)) in arms.iter().enumerate() {
                    let false_jumps = self.cond_jump(cond, false)?;
                    self.block(body, false)?;
                    let last = i == arms.len() - 1 && else_block.is_none();
                    if !last {
                        end_jumps.push(self.emit_jump(body.end_line));
                    }
                    self.patch_here(false_jumps);
                }
                if let Some(b) = else_block {
                    self.block(b, false)?;
                }
                self.patch_here(end_jumps);
            }
            Stat::While { cond, body } => {
                let start = self.pc();
                let exits = self.cond_jump(cond, false)?;
                // The loop block only collects breaks; the body's own block
                // closes its locals before the back jump.
                self.open_block(true);
                self.block(body, false)?;
                let j = self.emit_jump(body.end_line);
                self.patch_jump(j, start);
                self.close_block(body.end_line)?;
                self.patch_here(exits);
            }
            Stat::Repeat { body, cond } => {
                let start = self.pc();
                self.open_block(true);
                self.open_block(false);
                self.block_body_in(body, true)?;
                // Whether the body's locals get captured is only known after
                // the `until` condition (it may create closures too), so
                // the back jump is made after it, closing them when they
                // are: a fresh local per iteration. (Without a local in the
                // body there may be no register to close from at all.)
                let nact = self.fs().blocks.last().expect("open").nactvar;
                let exits = self.cond_jump(cond, true)?;
                let close = if self.fs().blocks.last().expect("open").has_upval { nact as u8 + 1 } else { 0 };
                let j = self.emit(Op::Jmp { off: 0, close }, body.end_line);
                self.patch_jump(j, start);
                self.patch_here(exits);
                self.close_block(body.end_line)?;
                self.close_block(body.end_line)?;
            }
            Stat::NumFor { var, start, limit, step, body, line } => {
                let base = self.fs().freereg;
                self.open_block(true);
                self.expr_to_next(start)?;
                self.expr_to_next(limit)?;
                match step {
                    Some(s) => self.expr_to_next(s)?,
                    None => {
                        let r = self.alloc_reg(*line)?;
                        self.emit(Op::LoadInt { a: r, v: 1 }, *line);
                    }
                }
                // Hidden state occupies three registers as locals.
                self.declare_local("(for state)".into(), Attrib::None)?;
                self.declare_local("(for state)".into(), Attrib::None)?;
                self.declare_local("(for state)".into(), Attrib::None)?;
                let prep = self.emit(Op::ForPrep { a: base as u8, off: 0 }, *line);
                let body_start = self.pc();
                self.open_block(false);
                self.declare_local(var.clone(), Attrib::None)?;
                self.reserve(0, *line)?;
                self.block_body(body)?;
                self.close_block(body.end_line)?;
                let off = body_start as i32 - (self.pc() as i32 + 1);
                let lp = self.emit(Op::ForLoop { a: base as u8, off }, *line);
                if let Op::ForPrep { off, .. } = &mut self.fs().code[prep] {
                    *off = (lp + 1) as i32 - (prep as i32 + 1);
                }
                self.close_block(*line)?;
            }
            Stat::GenFor { names, exprs, body, line } => {
                let base = self.fs().freereg;
                self.open_block(true);
                self.explist_to_regs(exprs, 3, *line)?;
                self.declare_local("(for state)".into(), Attrib::None)?;
                self.declare_local("(for state)".into(), Attrib::None)?;
                self.declare_local("(for state)".into(), Attrib::None)?;
                let j = self.emit_jump(*line);
                let body_start = self.pc();
                self.open_block(false);
                for n in names {
                    self.declare_local(n.clone(), Attrib::None)?;
                }
                self.block_body(body)?;
                self.close_block(body.end_line)?;
                let call = self.pc();
                self.patch_jump(j, call);
                let nvars = names.len() as u8;
                if base + 3 + names.len() > self.fs().maxstack {
                    self.fs().maxstack = base + 3 + names.len();
                }
                self.emit(Op::TForCall { a: base as u8, c: nvars }, *line);
                let off = body_start as i32 - (self.pc() as i32 + 1);
                self.emit(Op::TForLoop { a: base as u8, off }, *line);
                self.close_block(*line)?;
            }
            Stat::Do(b) => self.block(b, false)?,
            Stat::Break(line) => {
                let Some(bi) = self.fs().blocks.iter().rposition(|b| b.is_loop) else {
                    return Err(self.err(*line, &format!("break outside loop at line {line}")));
                };
                let nact = self.fs().blocks[bi].nactvar;
                let close = if self.nactregs() > nact { nact as u8 + 1 } else { 0 };
                let j = self.emit(Op::Jmp { off: 0, close }, *line);
                self.fs().blocks[bi].break_jumps.push(j);
            }
            Stat::Goto(name, line) => {
                let nact = self.nactregs();
                let j = self.emit(Op::Jmp { off: 0, close: 0 }, *line);
                let fs = self.fs();
                if let Some(l) = fs.labels.iter().rev().find(|l| &l.name == name) {
                    let (lpc, lnact) = (l.pc, l.nactvar);
                    if nact > lnact
                        && let Op::Jmp { close, .. } = &mut fs.code[j]
                    {
                        *close = lnact as u8 + 1;
                    }
                    self.patch_jump(j, lpc);
                } else {
                    fs.gotos.push(PendingGoto { name: name.clone(), pc: j, nactvar: nact, line: *line });
                }
            }
            Stat::Label { name, line, next_line } => {
                let fs = self.fs();
                if let Some(l) = fs.labels.iter().find(|l| &l.name == name) {
                    let prev = l.line;
                    return Err(self.err(*line, &format!("label '{name}' already defined on line {prev}")));
                }
                let block = fs.blocks.last().expect("open block");
                let nactvar = if at_block_end { block.nactvar } else { fs.actvars.len() };
                let first_goto = block.first_goto;
                let pc = fs.code.len();
                fs.labels.push(LabelDesc { name: name.clone(), pc, nactvar, line: *line });
                // Resolve pending forward gotos of this block.
                let mut i = first_goto;
                while i < self.fs().gotos.len() {
                    if &self.fs().gotos[i].name == name {
                        let g = self.fs().gotos.remove(i);
                        if g.nactvar < nactvar {
                            let vname = self.fs().actvars[g.nactvar].name.clone();
                            return Err(
                                self.err(*next_line, &format!("<goto {name}> at line {} jumps into the scope of local '{vname}'", g.line))
                            );
                        }
                        if g.nactvar > nactvar
                            && let Op::Jmp { close, .. } = &mut self.fs().code[g.pc]
                        {
                            *close = nactvar as u8 + 1;
                        }
                        self.patch_jump(g.pc, pc);
                    } else {
                        i += 1;
                    }
                }
            }
        }
        Ok(())
    }

    fn local(&mut self, names: &[(String, Attrib)], exprs: &[Expr], line: u32) -> CResult<()> {
        self.explist_to_regs(exprs, names.len(), line)?;
        for (n, a) in names {
            self.declare_local(n.clone(), *a)?;
        }
        Ok(())
    }

    /// Evaluates `exprs` into `want` consecutive fresh registers, adjusting
    /// (nil-filling or truncating) as Lua does; the last multi-value
    /// expression expands.
    fn explist_to_regs(&mut self, exprs: &[Expr], want: usize, line: u32) -> CResult<()> {
        let base = self.fs().freereg;
        for (i, e) in exprs.iter().enumerate() {
            let last = i == exprs.len() - 1;
            if last && e.is_multi() && want > i {
                let need = want - i;
                self.multi(e, need as i32)?;
                self.free_to(base + want);
                self.reserve(0, line)?;
                return Ok(());
            }
            if i < want {
                self.expr_to_next(e)?;
            } else {
                // Extra values are evaluated for their side effects.
                let r = self.fs().freereg;
                self.expr_to_next(e)?;
                self.free_to(r);
            }
        }
        let have = exprs.len();
        if have < want {
            let r = self.fs().freereg;
            self.reserve(want - have, line)?;
            self.emit(Op::LoadNil { a: r as u8, n: (want - have - 1) as u8 }, line);
        }
        self.free_to(base + want);
        self.reserve(0, line)
    }

    fn assign(&mut self, targets: &[Expr], exprs: &[Expr], line: u32) -> CResult<()> {
        if targets.len() == 1 && exprs.len() == 1 {
            return self.assign_single(&targets[0], &exprs[0], line);
        }
        // Evaluate target prefixes (table and key) first, then the values.
        enum Place {
            Local(u8),
            Upval(u8),
            Global(u32),
            Index(u8, u16),
        }
        let mut places = Vec::new();
        for t in targets {
            places.push(match &t.kind {
                ExprKind::Name(n) => {
                    self.check_const_assign(n, t.line)?;
                    match self.resolve(n) {
                        VarLoc::Local(r) => Place::Local(r),
                        VarLoc::Upval(u) => Place::Upval(u),
                        VarLoc::Global => Place::Global(self.str_const(n.as_bytes())),
                    }
                }
                ExprKind::Index(obj, key) => {
                    let o = self.expr_anyreg(obj)?;
                    let k = self.expr_rk(key)?;
                    Place::Index(o, k)
                }
                _ => unreachable!("parser checked assignment targets"),
            });
            // PUC Lua's check_conflict: when this target is a local that an
            // earlier indexed target uses as its table or key, that earlier
            // target must see the local's value from before the statement
            // (targets are assigned right to left): copy it now.
            if let Some(&Place::Local(r)) = places.last() {
                let n = places.len() - 1;
                let uses = places[..n].iter().any(|p| matches!(*p, Place::Index(o, k) if o == r || k == r as u16));
                if uses {
                    let copy = self.alloc_reg(t.line)?;
                    self.emit(Op::Move { a: copy, b: r }, t.line);
                    for p in places[..n].iter_mut() {
                        if let Place::Index(o, k) = p {
                            if *o == r {
                                *o = copy;
                            }
                            if *k == r as u16 {
                                *k = copy as u16;
                            }
                        }
                    }
                }
            }
        }
        let vbase = self.fs().freereg;
        self.explist_to_regs(exprs, targets.len(), line)?;
        for (i, p) in places.iter().enumerate().rev() {
            let v = (vbase + i) as u8;
            match *p {
                Place::Local(r) => {
                    self.emit(Op::Move { a: r, b: v }, line);
                }
                Place::Upval(u) => {
                    self.emit(Op::SetUpval { a: v, b: u }, line);
                }
                Place::Global(k) => {
                    self.emit(Op::SetGlobal { a: v, k }, line);
                }
                Place::Index(o, k) => {
                    self.emit(Op::SetTable { a: o, b: k, c: v as u16 }, line);
                }
            }
        }
        Ok(())
    }

    fn assign_single(&mut self, target: &Expr, e: &Expr, line: u32) -> CResult<()> {
        match &target.kind {
            ExprKind::Name(n) => {
                self.check_const_assign(n, target.line)?;
                match self.resolve(n) {
                    VarLoc::Local(r) => self.expr_to_reg(e, r)?,
                    VarLoc::Upval(u) => {
                        let r = self.expr_anyreg(e)?;
                        self.emit(Op::SetUpval { a: r, b: u }, line);
                    }
                    VarLoc::Global => {
                        let k = self.str_const(n.as_bytes());
                        let r = self.expr_anyreg(e)?;
                        self.emit(Op::SetGlobal { a: r, k }, line);
                    }
                }
            }
            ExprKind::Index(obj, key) => {
                let o = self.expr_anyreg(obj)?;
                if let ExprKind::Str(s) = &key.kind
                    && let Ok(k) = u16::try_from(self.str_const(s))
                    && k < u16::MAX - RK_CONST
                {
                    let v = self.expr_rk(e)?;
                    self.emit(Op::SetField { a: o, k, c: v }, line);
                } else {
                    let k = self.expr_rk(key)?;
                    let v = self.expr_rk(e)?;
                    self.emit(Op::SetTable { a: o, b: k, c: v }, line);
                }
            }
            _ => unreachable!("parser checked assignment targets"),
        }
        Ok(())
    }

    fn ret(&mut self, exprs: &[Expr], line: u32) -> CResult<()> {
        match exprs {
            [] => {
                self.emit(Op::Return { a: 0, b: 1 }, line);
            }
            [e] if matches!(e.kind, ExprKind::Call(..) | ExprKind::Method(..)) && self.fs().blocks.iter().all(|b| !b.has_upval) => {
                let (a, b) = self.call_setup(e)?;
                self.emit(Op::TailCall { a, b }, e.line);
                // Runs only when the callee could not reuse the frame.
                self.emit(Op::Return { a, b: 0 }, e.line);
            }
            [e] if !e.is_multi() => {
                let r = self.expr_anyreg(e)?;
                self.emit(Op::Return { a: r, b: 2 }, line);
            }
            _ => {
                let base = self.fs().freereg;
                for (i, e) in exprs.iter().enumerate() {
                    if i == exprs.len() - 1 && e.is_multi() {
                        self.multi(e, -1)?;
                        self.emit(Op::Return { a: base as u8, b: 0 }, line);
                        return Ok(());
                    }
                    self.expr_to_next(e)?;
                }
                self.emit(Op::Return { a: base as u8, b: exprs.len() as u8 + 1 }, line);
            }
        }
        Ok(())
    }

    fn closure(&mut self, f: &FuncBody, dest: u8) -> CResult<()> {
        let p = self.function(f)?;
        let fs = self.fs();
        fs.protos.push(p);
        let idx = (fs.protos.len() - 1) as u32;
        self.emit(Op::Closure { a: dest, idx }, f.line);
        Ok(())
    }

    // ----- expressions -----------------------------------------------------

    fn enter_expr(&mut self, line: u32) -> CResult<()> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(self.err(line, "expression too complex (nesting limit)"));
        }
        Ok(())
    }

    /// Evaluates into a newly reserved register.
    fn expr_to_next(&mut self, e: &Expr) -> CResult<()> {
        if matches!(e.kind, ExprKind::Call(..) | ExprKind::Method(..)) {
            // The call's result lands where its function was: exactly the
            // next register, with no extra temporary per nesting level.
            self.call(e, 1)?;
            return Ok(());
        }
        let r = self.alloc_reg(e.line)?;
        self.expr_to_reg(e, r)
    }

    /// A register holding the value: a local's own register when possible.
    fn expr_anyreg(&mut self, e: &Expr) -> CResult<u8> {
        if let ExprKind::Name(n) = &e.kind
            && let VarLoc::Local(r) = self.resolve(n)
        {
            return Ok(r);
        }
        if let ExprKind::Paren(inner) = &e.kind
            && !inner.is_multi()
        {
            return self.expr_anyreg(inner);
        }
        let r = self.alloc_reg(e.line)?;
        self.expr_to_reg(e, r)?;
        Ok(r)
    }

    fn literal_const(&self, e: &Expr) -> Option<Constant> {
        Some(match &e.kind {
            ExprKind::Nil => Constant::Nil,
            ExprKind::True => Constant::Bool(true),
            ExprKind::False => Constant::Bool(false),
            ExprKind::Int(i) => Constant::Int(*i),
            ExprKind::Float(f) => Constant::Float(*f),
            ExprKind::Str(s) => Constant::Str(s.clone().into()),
            _ => return None,
        })
    }

    fn const_operand(&mut self, e: &Expr) -> Option<u16> {
        let c = self.fold(e).or_else(|| self.literal_const(e))?;
        let k = self.add_const(c);
        if k < (u16::MAX - RK_CONST) as u32 { Some(k as u16 + RK_CONST) } else { None }
    }

    /// Register-or-constant operand.
    fn expr_rk(&mut self, e: &Expr) -> CResult<u16> {
        if let Some(k) = self.const_operand(e) {
            return Ok(k);
        }
        Ok(self.expr_anyreg(e)? as u16)
    }

    /// Constant folding of numeric expressions, with PUC Lua's restrictions
    /// (no folding that would raise an error or produce NaN / -0.0).
    fn fold(&self, e: &Expr) -> Option<Constant> {
        self.fold_at(e, 0)
    }

    /// Folding gives up below a modest depth, so a 10 MB `1+1+...` chain
    /// costs nothing here (it is compiled iteratively instead).
    fn fold_at(&self, e: &Expr, depth: u32) -> Option<Constant> {
        if depth > 64 {
            return None;
        }
        let fold = |x: &Expr| self.fold_at(x, depth + 1);
        match &e.kind {
            ExprKind::Int(i) => Some(Constant::Int(*i)),
            ExprKind::Float(f) => Some(Constant::Float(*f)),
            ExprKind::Paren(inner) => fold(inner),
            ExprKind::Unop(UnOp::Neg, x) => match fold(x)? {
                Constant::Int(i) => Some(Constant::Int(i.wrapping_neg())),
                Constant::Float(f) if f != 0.0 => Some(Constant::Float(-f)),
                _ => None,
            },
            ExprKind::Unop(UnOp::BNot, x) => match fold(x)? {
                Constant::Int(i) => Some(Constant::Int(!i)),
                _ => None,
            },
            ExprKind::Bin(op, l, r) => {
                let (a, b) = (fold(l)?, fold(r)?);
                fold_bin(*op, &a, &b)
            }
            _ => None,
        }
    }

    /// Evaluates `e` into register `dest`.
    /// Afterwards the free register is just above `dest` (or unchanged if
    /// `dest` was already below it): temporaries are released.
    fn expr_to_reg(&mut self, e: &Expr, dest: u8) -> CResult<()> {
        self.enter_expr(e.line)?;
        let save = self.fs().freereg;
        let r = self.expr_to_reg_inner(e, dest);
        self.free_to(save.max(dest as usize + 1));
        self.depth -= 1;
        r
    }

    fn expr_to_reg_inner(&mut self, e: &Expr, dest: u8) -> CResult<()> {
        let line = e.line;
        if let Some(c) = self.fold(e) {
            return self.load_const(c, dest, line);
        }
        match &e.kind {
            ExprKind::Nil => {
                self.emit(Op::LoadNil { a: dest, n: 0 }, line);
            }
            ExprKind::True => {
                self.emit(Op::LoadBool { a: dest, v: true }, line);
            }
            ExprKind::False => {
                self.emit(Op::LoadBool { a: dest, v: false }, line);
            }
            ExprKind::Int(_) | ExprKind::Float(_) => unreachable!("folded"),
            ExprKind::Str(s) => {
                let k = self.str_const(s);
                self.emit(Op::LoadK { a: dest, k }, line);
            }
            ExprKind::Vararg => {
                self.emit(Op::VarArg { a: dest, c: 2 }, line);
            }
            ExprKind::Func(f) => self.closure(f, dest)?,
            ExprKind::Table(fields) => {
                if (dest as usize) < self.nactregs() {
                    // Building in a local's register would clobber it while
                    // the constructor may still read it.
                    let t = self.alloc_reg(line)?;
                    self.table(fields, t, line)?;
                    self.emit(Op::Move { a: dest, b: t }, line);
                } else {
                    self.table(fields, dest, line)?;
                }
            }
            ExprKind::Name(n) => match self.resolve(n) {
                VarLoc::Local(r) => {
                    if r != dest {
                        self.emit(Op::Move { a: dest, b: r }, line);
                    }
                }
                VarLoc::Upval(u) => {
                    self.emit(Op::GetUpval { a: dest, b: u }, line);
                }
                VarLoc::Global if n == "_ENV" => {
                    self.emit(Op::LoadEnv { a: dest }, line);
                }
                VarLoc::Global => {
                    let k = self.str_const(n.as_bytes());
                    self.emit(Op::GetGlobal { a: dest, k }, line);
                }
            },
            ExprKind::Index(obj, key) => {
                let save = self.fs().freereg;
                let o = self.expr_anyreg(obj)?;
                if let ExprKind::Str(s) = &key.kind
                    && let Ok(k) = u16::try_from(self.str_const(s))
                {
                    self.emit(Op::GetField { a: dest, b: o, k }, key.line);
                } else {
                    let k = self.expr_rk(key)?;
                    self.emit(Op::GetTable { a: dest, b: o, c: k }, key.line);
                }
                self.fix_free(save, dest);
            }
            ExprKind::Call(..) | ExprKind::Method(..) => {
                let base = self.call(e, 1)?;
                if base != dest {
                    self.emit(Op::Move { a: dest, b: base }, line);
                }
            }
            ExprKind::Paren(inner) => self.expr_to_reg(inner, dest)?,
            ExprKind::Unop(op, x) => {
                let save = self.fs().freereg;
                let r = self.expr_anyreg(x)?;
                let o = match op {
                    UnOp::Neg => Op::Unm { a: dest, b: r },
                    UnOp::Not => Op::Not { a: dest, b: r },
                    UnOp::Len => Op::Len { a: dest, b: r },
                    UnOp::BNot => Op::BNot { a: dest, b: r },
                };
                self.emit(o, line);
                self.fix_free(save, dest);
            }
            ExprKind::Bin(op, l, r) => self.binary(*op, l, r, dest, line)?,
        }
        Ok(())
    }

    /// After an expression wrote `dest`, release temporaries above the
    /// original free register (keeping `dest` reserved if it was fresh).
    fn fix_free(&mut self, save: usize, dest: u8) {
        let keep = if dest as usize >= save { dest as usize + 1 } else { save };
        self.free_to(keep.max(save));
    }

    fn load_const(&mut self, c: Constant, dest: u8, line: u32) -> CResult<()> {
        match c {
            Constant::Int(i) if i32::try_from(i).is_ok() => {
                self.emit(Op::LoadInt { a: dest, v: i as i32 }, line);
            }
            Constant::Nil => {
                self.emit(Op::LoadNil { a: dest, n: 0 }, line);
            }
            Constant::Bool(b) => {
                self.emit(Op::LoadBool { a: dest, v: b }, line);
            }
            c => {
                let k = self.add_const(c);
                self.emit(Op::LoadK { a: dest, k }, line);
            }
        }
        Ok(())
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, dest: u8, line: u32) -> CResult<()> {
        let save = self.fs().freereg;
        match op {
            BinOp::And | BinOp::Or
                if self.literal_const(l).is_some() && (op == BinOp::And) != matches!(l.kind, ExprKind::Nil | ExprKind::False) =>
            {
                // `true_constant and e` and `false_constant or e` are just
                // `e` (PUC Lua emits no test for them either; the other
                // constant cases keep their runtime test, as in PUC Lua).
                self.expr_to_reg(r, dest)?;
            }
            BinOp::And | BinOp::Or => {
                let lr = self.expr_anyreg(l)?;
                let k = op == BinOp::Or;
                if lr == dest {
                    // Jump to the end (keeping the value) when it decides.
                    self.emit(Op::Test { a: dest, k }, line);
                } else {
                    self.emit(Op::TestSet { a: dest, b: lr, k }, line);
                }
                let j = self.emit_jump(line);
                self.free_to(save);
                self.expr_to_reg(r, dest)?;
                self.patch_here(vec![j]);
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let jumps = self.compare_jump(op, l, r, true, line)?;
                // cond true -> jump to "true" block
                self.emit(Op::LoadFalseSkip { a: dest }, line);
                self.patch_here(jumps);
                self.emit(Op::LoadBool { a: dest, v: true }, line);
            }
            BinOp::Concat => {
                // Flatten the right-assoc chain a .. (b .. (c ..)) into
                // consecutive registers.
                let mut items = vec![l];
                let mut cur = r;
                while let ExprKind::Bin(BinOp::Concat, l2, r2) = &cur.kind {
                    items.push(l2);
                    cur = r2;
                }
                items.push(cur);
                let base = self.fs().freereg;
                for it in &items {
                    self.expr_to_next(it)?;
                }
                if items.len() > 255 {
                    return Err(self.err(line, "too many values to concatenate"));
                }
                self.emit(Op::Concat { a: dest, b: base as u8, n: items.len() as u8 }, line);
            }
            _ => {
                // Arithmetic: walk the left spine iteratively so `1+1+...`
                // 100,000 terms long compiles without deep recursion.
                let mut spine = vec![(op, r, line)];
                let mut left = l;
                while let ExprKind::Bin(lop, ll, lr) = &left.kind {
                    if !is_arith(*lop) {
                        break;
                    }
                    spine.push((*lop, lr, left.line));
                    left = ll;
                }
                let mut acc: u16 = if spine.len() == 1 {
                    self.expr_rk(left)?
                } else {
                    let t = self.alloc_reg(line)?;
                    self.expr_to_reg(left, t)?;
                    t as u16
                };
                let n = spine.len();
                for (i, (op, rhs, ln)) in spine.into_iter().rev().enumerate() {
                    let save2 = self.fs().freereg;
                    let rk = self.expr_rk(rhs)?;
                    let target = if i == n - 1 { dest } else { acc as u8 };
                    self.emit(arith_op(op, target, acc, rk), ln);
                    self.free_to(save2);
                    acc = target as u16;
                }
            }
        }
        self.fix_free(save, dest);
        Ok(())
    }

    /// Emits a comparison followed by a jump taken when the comparison's
    /// result equals `when`. Returns the jump to patch.
    fn compare_jump(&mut self, op: BinOp, l: &Expr, r: &Expr, when: bool, line: u32) -> CResult<Vec<usize>> {
        let save = self.fs().freereg;
        let a = self.expr_rk(l)?;
        let b = self.expr_rk(r)?;
        let o = match op {
            BinOp::Eq => Op::Eq { k: when, b: a, c: b },
            BinOp::Ne => Op::Eq { k: !when, b: a, c: b },
            BinOp::Lt => Op::Lt { k: when, b: a, c: b },
            BinOp::Le => Op::Le { k: when, b: a, c: b },
            BinOp::Gt => Op::Lt { k: when, b, c: a },
            BinOp::Ge => Op::Le { k: when, b, c: a },
            _ => unreachable!("not a comparison"),
        };
        self.emit(o, line);
        let j = self.emit_jump(line);
        self.free_to(save);
        Ok(vec![j])
    }

    /// Emits code that jumps when truthiness of `e` equals `when`; returns
    /// the jumps to patch. Falls through otherwise.
    fn cond_jump(&mut self, e: &Expr, when: bool) -> CResult<Vec<usize>> {
        self.enter_expr(e.line)?;
        let r = self.cond_jump_inner(e, when);
        self.depth -= 1;
        r
    }

    fn cond_jump_inner(&mut self, e: &Expr, when: bool) -> CResult<Vec<usize>> {
        let line = e.line;
        match &e.kind {
            ExprKind::True | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) => {
                return Ok(if when { vec![self.emit_jump(line)] } else { vec![] });
            }
            ExprKind::Nil | ExprKind::False => {
                return Ok(if when { vec![] } else { vec![self.emit_jump(line)] });
            }
            ExprKind::Unop(UnOp::Not, x) => return self.cond_jump(x, !when),
            ExprKind::Paren(x) if !x.is_multi() => return self.cond_jump(x, when),
            ExprKind::Bin(op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge), l, r) => {
                return self.compare_jump(*op, l, r, when, line);
            }
            ExprKind::Bin(BinOp::And, l, r) => {
                if !when {
                    let mut j = self.cond_jump(l, false)?;
                    j.extend(self.cond_jump(r, false)?);
                    return Ok(j);
                }
                let skip = self.cond_jump(l, false)?;
                let j = self.cond_jump(r, true)?;
                self.patch_here(skip);
                return Ok(j);
            }
            ExprKind::Bin(BinOp::Or, l, r) => {
                if when {
                    let mut j = self.cond_jump(l, true)?;
                    j.extend(self.cond_jump(r, true)?);
                    return Ok(j);
                }
                let skip = self.cond_jump(l, true)?;
                let j = self.cond_jump(r, false)?;
                self.patch_here(skip);
                return Ok(j);
            }
            _ => {}
        }
        let save = self.fs().freereg;
        let r = self.expr_anyreg(e)?;
        self.emit(Op::Test { a: r, k: when }, line);
        let j = self.emit_jump(line);
        self.free_to(save);
        Ok(vec![j])
    }

    fn table(&mut self, fields: &[TField], t: u8, line: u32) -> CResult<()> {
        let narr = fields.iter().filter(|f| matches!(f, TField::Pos(_))).count();
        let nhash = fields.len() - narr;
        let pc =
            self.emit(Op::NewTable { a: t, narr: narr.min(u16::MAX as usize) as u16, nhash: nhash.min(u16::MAX as usize) as u16 }, line);
        let _ = pc;
        let base = t as usize + 1;
        self.free_to(base);
        let mut pending: u8 = 0;
        let mut stored: u32 = 0;
        for (i, f) in fields.iter().enumerate() {
            match f {
                TField::Pos(e) => {
                    let last = i == fields.len() - 1;
                    if last && e.is_multi() {
                        self.multi(e, -1)?;
                        self.emit(Op::SetList { a: t, n: 0, start: stored }, line);
                        self.free_to(base);
                        return Ok(());
                    }
                    self.expr_to_next(e)?;
                    pending += 1;
                    if pending == FIELDS_PER_FLUSH {
                        self.emit(Op::SetList { a: t, n: pending, start: stored }, line);
                        stored += pending as u32;
                        pending = 0;
                        self.free_to(base);
                    }
                }
                TField::Named(n, v) => {
                    let save = self.fs().freereg;
                    let k = self.str_const16(n.as_bytes(), v.line)?;
                    let val = self.expr_rk(v)?;
                    self.emit(Op::SetField { a: t, k, c: val }, v.line);
                    self.free_to(save);
                }
                TField::Keyed(k, v) => {
                    let save = self.fs().freereg;
                    let kk = self.expr_rk(k)?;
                    let val = self.expr_rk(v)?;
                    self.emit(Op::SetTable { a: t, b: kk, c: val }, v.line);
                    self.free_to(save);
                }
            }
        }
        if pending > 0 {
            self.emit(Op::SetList { a: t, n: pending, start: stored }, line);
        }
        self.free_to(base);
        Ok(())
    }

    /// Emits a multi-value expression at the free register: `nres` results
    /// (-1 = all, leaving "top" set).
    fn multi(&mut self, e: &Expr, nres: i32) -> CResult<()> {
        match &e.kind {
            ExprKind::Vararg => {
                let r = self.fs().freereg as u8;
                self.reserve(nres.max(1) as usize, e.line)?;
                self.emit(Op::VarArg { a: r, c: (nres + 1) as u8 }, e.line);
            }
            _ => {
                let base = self.call(e, nres)?;
                self.free_to(base as usize + nres.max(0) as usize);
                self.reserve(0, e.line)?;
            }
        }
        Ok(())
    }

    /// Puts the callee and arguments in consecutive registers; returns
    /// (base, b operand).
    fn call_setup(&mut self, e: &Expr) -> CResult<(u8, u8)> {
        self.enter_expr(e.line)?;
        let base = self.fs().freereg as u8;
        let args = match &e.kind {
            ExprKind::Call(f, args) => {
                self.expr_to_next(f)?;
                args
            }
            ExprKind::Method(obj, name, args) => {
                let save = self.fs().freereg;
                let o = self.expr_anyreg(obj)?;
                self.free_to(save);
                let k = self.str_const16(name.as_bytes(), e.line)?;
                self.reserve(2, e.line)?;
                self.emit(Op::SelfOp { a: base, b: o, k }, e.line);
                args
            }
            _ => unreachable!("not a call"),
        };
        let mut b = 0u8;
        let mut open = false;
        for (i, a) in args.iter().enumerate() {
            if i == args.len() - 1 && a.is_multi() {
                self.multi(a, -1)?;
                open = true;
            } else {
                self.expr_to_next(a)?;
            }
        }
        if !open {
            let n = self.fs().freereg - base as usize;
            b = n as u8;
        }
        self.depth -= 1;
        Ok((base, b))
    }

    /// Emits a call with `nres` results (-1 = all); returns its base.
    fn call(&mut self, e: &Expr, nres: i32) -> CResult<u8> {
        let (base, b) = self.call_setup(e)?;
        self.emit(Op::Call { a: base, b, c: (nres + 1) as u8 }, e.line);
        self.free_to(base as usize + nres.max(0) as usize);
        let fr = self.fs().freereg;
        if fr > self.fs().maxstack {
            self.fs().maxstack = fr;
        }
        Ok(base)
    }
}

fn is_arith(op: BinOp) -> bool {
    use BinOp::*;
    matches!(op, Add | Sub | Mul | Div | IDiv | Mod | Pow | BAnd | BOr | BXor | Shl | Shr)
}

fn arith_op(op: BinOp, a: u8, b: u16, c: u16) -> Op {
    match op {
        BinOp::Add => Op::Add { a, b, c },
        BinOp::Sub => Op::Sub { a, b, c },
        BinOp::Mul => Op::Mul { a, b, c },
        BinOp::Div => Op::Div { a, b, c },
        BinOp::IDiv => Op::IDiv { a, b, c },
        BinOp::Mod => Op::Mod { a, b, c },
        BinOp::Pow => Op::Pow { a, b, c },
        BinOp::BAnd => Op::BAnd { a, b, c },
        BinOp::BOr => Op::BOr { a, b, c },
        BinOp::BXor => Op::BXor { a, b, c },
        BinOp::Shl => Op::Shl { a, b, c },
        BinOp::Shr => Op::Shr { a, b, c },
        _ => unreachable!("not arithmetic"),
    }
}

fn fold_bin(op: BinOp, a: &Constant, b: &Constant) -> Option<Constant> {
    use BinOp::*;
    let as_f = |c: &Constant| match c {
        Constant::Int(i) => Some(*i as f64),
        Constant::Float(f) => Some(*f),
        _ => None,
    };
    let as_i = |c: &Constant| match c {
        Constant::Int(i) => Some(*i),
        Constant::Float(f) => float_to_int_exact(*f),
        _ => None,
    };
    let res = match (op, a, b) {
        (Add | Sub | Mul | IDiv | Mod, Constant::Int(x), Constant::Int(y)) => {
            let (x, y) = (*x, *y);
            Constant::Int(match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                IDiv if y != 0 => int_floor_div(x, y),
                Mod if y != 0 => int_mod(x, y),
                _ => return None,
            })
        }
        (BAnd | BOr | BXor | Shl | Shr, _, _) => {
            let (x, y) = (as_i(a)?, as_i(b)?);
            Constant::Int(match op {
                BAnd => x & y,
                BOr => x | y,
                BXor => x ^ y,
                Shl => shift_left(x, y),
                Shr => shift_left(x, y.wrapping_neg()),
                _ => unreachable!(),
            })
        }
        (Add | Sub | Mul | Div | Pow | IDiv | Mod, _, _) => {
            let (x, y) = (as_f(a)?, as_f(b)?);
            let r = match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                Pow => x.powf(y),
                IDiv => (x / y).floor(),
                Mod => {
                    if y == 0.0 {
                        return None;
                    }
                    float_mod(x, y)
                }
                _ => unreachable!(),
            };
            if r.is_nan() || r == 0.0 {
                return None;
            }
            Constant::Float(r)
        }
        _ => return None,
    };
    Some(res)
}
