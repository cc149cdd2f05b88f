//! Recursive-descent parser producing the AST, following the grammar and the
//! error texts of PUC Lua 5.4's `lparser.c`.
//!
//! Recursion is bounded: every statement and sub-expression enters a level,
//! and more than [`MAX_LEVELS`] nested levels is the same "C stack overflow"
//! error lua5.4 reports, so `((((...` 100,000 deep is an error, not a crash.

use super::ast::*;
use super::lexer::{Lexer, SyntaxError, Tok};

/// Nesting limit, matching PUC Lua's LUAI_MAXCCALLS (200) minus the few
/// levels lua.c itself uses.
const MAX_LEVELS: u32 = 196;

pub(crate) struct Parser<'a> {
    lx: Lexer<'a>,
    tok: Tok,
    /// Line of the current token.
    line: u32,
    ahead: Option<(Tok, u32)>,
    levels: u32,
    /// Per function being parsed: whether it is vararg.
    vararg_stack: Vec<bool>,
}

type PResult<T> = Result<T, SyntaxError>;

/// Parses a whole chunk. `chunk` is the display name used in messages.
pub(crate) fn parse_chunk(src: &[u8], chunk: &str) -> PResult<FuncBody> {
    let mut p = Parser { lx: Lexer::new(src, chunk), tok: Tok::Eof, line: 1, ahead: None, levels: 0, vararg_stack: vec![true] };
    p.advance()?;
    let body = p.block()?;
    if p.tok != Tok::Eof {
        // PUC Lua prints this token name unquoted.
        return Err(p.err_near("<eof> expected"));
    }
    Ok(FuncBody { params: vec![], is_vararg: true, is_method: false, body, line: 0, name: "main chunk".into() })
}

impl<'a> Parser<'a> {
    fn advance(&mut self) -> PResult<()> {
        if let Some((t, l)) = self.ahead.take() {
            self.tok = t;
            self.line = l;
        } else {
            self.tok = self.lx.next_token()?;
            self.line = self.lx.line;
        }
        Ok(())
    }

    fn peek_ahead(&mut self) -> PResult<&Tok> {
        if self.ahead.is_none() {
            let t = self.lx.next_token()?;
            self.ahead = Some((t, self.lx.line));
        }
        Ok(&self.ahead.as_ref().expect("just set").0)
    }

    fn err_near(&self, msg: &str) -> SyntaxError {
        let near = self.lx.near_token(&self.tok);
        self.lx.error(msg, Some(near))
    }

    fn err_plain(&self, msg: &str) -> SyntaxError {
        self.lx.error(msg, None)
    }

    fn check(&self, t: &Tok, what: &str) -> PResult<()> {
        if &self.tok != t {
            return Err(self.err_near(&format!("'{what}' expected")));
        }
        Ok(())
    }

    fn expect(&mut self, t: Tok, what: &str) -> PResult<()> {
        self.check(&t, what)?;
        self.advance()
    }

    fn check_match(&mut self, t: Tok, what: &str, who: &str, line: u32) -> PResult<()> {
        if self.tok != t {
            if line == self.line {
                return Err(self.err_near(&format!("'{what}' expected")));
            }
            return Err(self.err_near(&format!("'{what}' expected (to close '{who}' at line {line})")));
        }
        self.advance()
    }

    fn name(&mut self) -> PResult<String> {
        match &self.tok {
            Tok::Name(n) => {
                let n = n.clone();
                self.advance()?;
                Ok(n)
            }
            _ => Err(self.err_near("<name> expected")),
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.levels += 1;
        if self.levels > MAX_LEVELS {
            return Err(SyntaxError("C stack overflow".into()));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.levels -= 1;
    }

    fn block_follow(&self, with_until: bool) -> bool {
        match self.tok {
            Tok::Else | Tok::Elseif | Tok::End | Tok::Eof => true,
            Tok::Until => with_until,
            _ => false,
        }
    }

    fn block(&mut self) -> PResult<Block> {
        let mut stats = Vec::new();
        let mut ret = None;
        loop {
            if self.block_follow(true) {
                break;
            }
            if self.tok == Tok::Return {
                let line = self.line;
                self.advance()?;
                let exprs = if self.block_follow(true) || self.tok == Tok::Semi { vec![] } else { self.exprlist()? };
                if self.tok == Tok::Semi {
                    self.advance()?;
                }
                ret = Some((exprs, line));
                // Whatever follows is the enclosing construct's business
                // ("'end' expected", "<eof> expected").
                break;
            }
            if let Some(s) = self.statement()? {
                stats.push(s);
            }
        }
        Ok(Block { stats, ret, end_line: self.line })
    }

    fn statement(&mut self) -> PResult<Option<Stat>> {
        self.enter()?;
        let line = self.line;
        let s = match self.tok {
            Tok::Semi => {
                self.advance()?;
                None
            }
            Tok::If => Some(self.if_stat(line)?),
            Tok::While => {
                self.advance()?;
                let cond = self.expr()?;
                self.expect(Tok::Do, "do")?;
                let body = self.block()?;
                self.check_match(Tok::End, "end", "while", line)?;
                Some(Stat::While { cond, body })
            }
            Tok::Do => {
                self.advance()?;
                let b = self.block()?;
                self.check_match(Tok::End, "end", "do", line)?;
                Some(Stat::Do(b))
            }
            Tok::For => Some(self.for_stat(line)?),
            Tok::Repeat => {
                self.advance()?;
                let body = self.block()?;
                self.check_match(Tok::Until, "until", "repeat", line)?;
                let cond = self.expr()?;
                Some(Stat::Repeat { body, cond })
            }
            Tok::Function => {
                self.advance()?;
                // funcname: Name {'.' Name} [':' Name]
                let n = self.name()?;
                let mut target = Expr::new(ExprKind::Name(n.clone()), line);
                let mut full = n;
                let mut is_method = false;
                while self.tok == Tok::Dot || self.tok == Tok::Colon {
                    let colon = self.tok == Tok::Colon;
                    self.advance()?;
                    let k = self.name()?;
                    full.push(if colon { ':' } else { '.' });
                    full.push_str(&k);
                    target = Expr::new(ExprKind::Index(Box::new(target), Box::new(Expr::new(ExprKind::Str(k.into_bytes()), line))), line);
                    if colon {
                        is_method = true;
                        break;
                    }
                }
                let func = self.func_body(is_method, line, full)?;
                Some(Stat::Function { target, func: Box::new(func) })
            }
            Tok::Local => {
                self.advance()?;
                if self.tok == Tok::Function {
                    self.advance()?;
                    let name = self.name()?;
                    let func = self.func_body(false, line, name.clone())?;
                    Some(Stat::LocalFunction { name, func: Box::new(func) })
                } else {
                    let mut names = Vec::new();
                    loop {
                        let n = self.name()?;
                        let attrib = if self.tok == Tok::Lt {
                            self.advance()?;
                            let a = self.name()?;
                            self.expect(Tok::Gt, ">")?;
                            match a.as_str() {
                                "const" => Attrib::Const,
                                "close" => {
                                    return Err(self.err_plain("to-be-closed variables ('<close>') are not supported by Ember"));
                                }
                                _ => return Err(self.err_plain(&format!("unknown attribute '{a}'"))),
                            }
                        } else {
                            Attrib::None
                        };
                        names.push((n, attrib));
                        if self.tok != Tok::Comma {
                            break;
                        }
                        self.advance()?;
                    }
                    let exprs = if self.tok == Tok::Assign {
                        self.advance()?;
                        self.exprlist()?
                    } else {
                        vec![]
                    };
                    Some(Stat::Local { names, exprs, line })
                }
            }
            Tok::DColon => {
                self.advance()?;
                let n = self.name()?;
                self.expect(Tok::DColon, "::")?;
                Some(Stat::Label { name: n, line, next_line: self.line })
            }
            Tok::Return => unreachable!("handled by block"),
            Tok::Break => {
                self.advance()?;
                Some(Stat::Break(line))
            }
            Tok::Goto => {
                self.advance()?;
                let n = self.name()?;
                Some(Stat::Goto(n, line))
            }
            _ => Some(self.expr_stat(line)?),
        };
        self.leave();
        Ok(s)
    }

    fn if_stat(&mut self, line: u32) -> PResult<Stat> {
        let mut arms = Vec::new();
        let mut else_block = None;
        // IF cond THEN block {ELSEIF cond THEN block} [ELSE block] END
        self.advance()?;
        let c = self.expr()?;
        self.expect(Tok::Then, "then")?;
        let b = self.block()?;
        arms.push((c, b));
        loop {
            match self.tok {
                Tok::Elseif => {
                    self.advance()?;
                    let c = self.expr()?;
                    self.expect(Tok::Then, "then")?;
                    let b = self.block()?;
                    arms.push((c, b));
                }
                Tok::Else => {
                    self.advance()?;
                    else_block = Some(self.block()?);
                    self.check_match(Tok::End, "end", "if", line)?;
                    break;
                }
                _ => {
                    self.check_match(Tok::End, "end", "if", line)?;
                    break;
                }
            }
        }
        Ok(Stat::If { arms, else_block })
    }

    fn for_stat(&mut self, line: u32) -> PResult<Stat> {
        self.advance()?;
        let n1 = self.name()?;
        match self.tok {
            Tok::Assign => {
                self.advance()?;
                let start = self.expr()?;
                self.expect(Tok::Comma, ",")?;
                let limit = self.expr()?;
                let step = if self.tok == Tok::Comma {
                    self.advance()?;
                    Some(self.expr()?)
                } else {
                    None
                };
                self.expect(Tok::Do, "do")?;
                let body = self.block()?;
                self.check_match(Tok::End, "end", "for", line)?;
                Ok(Stat::NumFor { var: n1, start, limit, step, body, line })
            }
            Tok::Comma | Tok::In => {
                let mut names = vec![n1];
                while self.tok == Tok::Comma {
                    self.advance()?;
                    names.push(self.name()?);
                }
                self.expect(Tok::In, "in")?;
                let exprs = self.exprlist()?;
                self.expect(Tok::Do, "do")?;
                let body = self.block()?;
                self.check_match(Tok::End, "end", "for", line)?;
                Ok(Stat::GenFor { names, exprs, body, line })
            }
            _ => Err(self.err_near("'=' or 'in' expected")),
        }
    }

    fn expr_stat(&mut self, line: u32) -> PResult<Stat> {
        let e = self.suffixed_expr()?;
        if self.tok == Tok::Assign || self.tok == Tok::Comma {
            let mut targets = vec![e];
            while self.tok == Tok::Comma {
                self.advance()?;
                targets.push(self.suffixed_expr()?);
            }
            for t in &targets {
                if !matches!(t.kind, ExprKind::Name(_) | ExprKind::Index(..)) {
                    return Err(self.err_near("syntax error"));
                }
            }
            self.expect(Tok::Assign, "=")?;
            let exprs = self.exprlist()?;
            return Ok(Stat::Assign { targets, exprs, line });
        }
        if !matches!(e.kind, ExprKind::Call(..) | ExprKind::Method(..)) {
            return Err(self.err_near("syntax error"));
        }
        Ok(Stat::Expr(e))
    }

    fn exprlist(&mut self) -> PResult<Vec<Expr>> {
        let mut v = vec![self.expr()?];
        while self.tok == Tok::Comma {
            self.advance()?;
            v.push(self.expr()?);
        }
        Ok(v)
    }

    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.subexpr(0)
    }

    fn binop(&self) -> Option<BinOp> {
        Some(match self.tok {
            Tok::Plus => BinOp::Add,
            Tok::Minus => BinOp::Sub,
            Tok::Star => BinOp::Mul,
            Tok::Slash => BinOp::Div,
            Tok::DSlash => BinOp::IDiv,
            Tok::Percent => BinOp::Mod,
            Tok::Caret => BinOp::Pow,
            Tok::Concat => BinOp::Concat,
            Tok::Eq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            Tok::And => BinOp::And,
            Tok::Or => BinOp::Or,
            Tok::Amp => BinOp::BAnd,
            Tok::Pipe => BinOp::BOr,
            Tok::Tilde => BinOp::BXor,
            Tok::Shl => BinOp::Shl,
            Tok::Shr => BinOp::Shr,
            _ => return None,
        })
    }

    fn subexpr(&mut self, limit: u8) -> PResult<Expr> {
        self.enter()?;
        let line = self.line;
        let unop = match self.tok {
            Tok::Not => Some(UnOp::Not),
            Tok::Minus => Some(UnOp::Neg),
            Tok::Hash => Some(UnOp::Len),
            Tok::Tilde => Some(UnOp::BNot),
            _ => None,
        };
        let mut left = if let Some(op) = unop {
            self.advance()?;
            let operand = self.subexpr(UNARY_PRIORITY)?;
            fold_unary(op, operand, line)
        } else {
            self.simple_expr()?
        };
        while let Some(op) = self.binop() {
            let (lp, rp) = op.priority();
            if lp <= limit {
                break;
            }
            let opline = self.line;
            self.advance()?;
            let right = self.subexpr(rp)?;
            left = Expr::new(ExprKind::Bin(op, Box::new(left), Box::new(right)), opline);
        }
        self.leave();
        Ok(left)
    }

    fn simple_expr(&mut self) -> PResult<Expr> {
        let line = self.line;
        let kind = match &self.tok {
            Tok::Int(i) => ExprKind::Int(*i),
            Tok::Float(f) => ExprKind::Float(*f),
            Tok::Str(s) => ExprKind::Str(s.clone()),
            Tok::Nil => ExprKind::Nil,
            Tok::True => ExprKind::True,
            Tok::False => ExprKind::False,
            Tok::Dots => {
                if !*self.vararg_stack.last().expect("inside a function") {
                    return Err(self.err_near("cannot use '...' outside a vararg function"));
                }
                ExprKind::Vararg
            }
            Tok::LBrace => return self.table_cons(),
            Tok::Function => {
                self.advance()?;
                let f = self.func_body(false, line, "anonymous".into())?;
                return Ok(Expr::new(ExprKind::Func(Box::new(f)), line));
            }
            _ => return self.suffixed_expr(),
        };
        self.advance()?;
        Ok(Expr::new(kind, line))
    }

    fn primary_expr(&mut self) -> PResult<Expr> {
        let line = self.line;
        match &self.tok {
            Tok::Name(n) => {
                let n = n.clone();
                self.advance()?;
                Ok(Expr::new(ExprKind::Name(n), line))
            }
            Tok::LParen => {
                self.advance()?;
                let e = self.expr()?;
                self.check_match(Tok::RParen, ")", "(", line)?;
                Ok(Expr::new(ExprKind::Paren(Box::new(e)), line))
            }
            _ => Err(self.err_near("unexpected symbol")),
        }
    }

    fn suffixed_expr(&mut self) -> PResult<Expr> {
        let mut e = self.primary_expr()?;
        loop {
            let line = self.line;
            match &self.tok {
                Tok::Dot => {
                    self.advance()?;
                    let k = self.name()?;
                    e = Expr::new(ExprKind::Index(Box::new(e), Box::new(Expr::new(ExprKind::Str(k.into_bytes()), line))), line);
                }
                Tok::LBracket => {
                    self.advance()?;
                    let k = self.expr()?;
                    self.expect(Tok::RBracket, "]")?;
                    e = Expr::new(ExprKind::Index(Box::new(e), Box::new(k)), line);
                }
                Tok::Colon => {
                    self.advance()?;
                    let m = self.name()?;
                    let args = self.call_args()?;
                    e = Expr::new(ExprKind::Method(Box::new(e), m, args), line);
                }
                Tok::LParen | Tok::Str(_) | Tok::LBrace => {
                    let args = self.call_args()?;
                    e = Expr::new(ExprKind::Call(Box::new(e), args), line);
                }
                _ => return Ok(e),
            }
        }
    }

    fn call_args(&mut self) -> PResult<Vec<Expr>> {
        let line = self.line;
        match &self.tok {
            Tok::Str(s) => {
                let e = Expr::new(ExprKind::Str(s.clone()), line);
                self.advance()?;
                Ok(vec![e])
            }
            Tok::LBrace => Ok(vec![self.table_cons()?]),
            Tok::LParen => {
                self.advance()?;
                if self.tok == Tok::RParen {
                    self.advance()?;
                    return Ok(vec![]);
                }
                let args = self.exprlist()?;
                self.check_match(Tok::RParen, ")", "(", line)?;
                Ok(args)
            }
            _ => Err(self.err_near("function arguments expected")),
        }
    }

    fn table_cons(&mut self) -> PResult<Expr> {
        let line = self.line;
        self.expect(Tok::LBrace, "{")?;
        let mut fields = Vec::new();
        loop {
            if self.tok == Tok::RBrace {
                break;
            }
            self.enter()?;
            let cur_name = if let Tok::Name(n) = &self.tok { Some(n.clone()) } else { None };
            let f = match &self.tok {
                Tok::Name(_) => {
                    if *self.peek_ahead()? == Tok::Assign {
                        let n = cur_name.expect("current token is a name");
                        self.advance()?;
                        self.advance()?;
                        TField::Named(n, self.expr()?)
                    } else {
                        TField::Pos(self.expr()?)
                    }
                }
                Tok::LBracket => {
                    self.advance()?;
                    let k = self.expr()?;
                    self.expect(Tok::RBracket, "]")?;
                    self.expect(Tok::Assign, "=")?;
                    TField::Keyed(k, self.expr()?)
                }
                _ => TField::Pos(self.expr()?),
            };
            self.leave();
            fields.push(f);
            if self.tok == Tok::Comma || self.tok == Tok::Semi {
                self.advance()?;
            } else {
                break;
            }
        }
        self.check_match(Tok::RBrace, "}", "{", line)?;
        Ok(Expr::new(ExprKind::Table(fields), line))
    }

    fn func_body(&mut self, is_method: bool, line: u32, name: String) -> PResult<FuncBody> {
        self.enter()?;
        self.expect(Tok::LParen, "(")?;
        let mut params = Vec::new();
        let mut is_vararg = false;
        if self.tok != Tok::RParen {
            loop {
                match &self.tok {
                    Tok::Name(n) => {
                        params.push(n.clone());
                        self.advance()?;
                    }
                    Tok::Dots => {
                        is_vararg = true;
                        self.advance()?;
                        break;
                    }
                    _ => return Err(self.err_near("<name> or '...' expected")),
                }
                if self.tok != Tok::Comma {
                    break;
                }
                self.advance()?;
            }
        }
        self.expect(Tok::RParen, ")")?;
        self.vararg_stack.push(is_vararg);
        let body = self.block()?;
        self.vararg_stack.pop();
        self.check_match(Tok::End, "end", "function", line)?;
        self.leave();
        Ok(FuncBody { params, is_vararg, is_method, body, line, name })
    }
}

/// Folds `-<numeral>` so `-9223372036854775808`-style constants and negative
/// literals compile to constants (as PUC Lua's constant folding does).
fn fold_unary(op: UnOp, e: Expr, line: u32) -> Expr {
    match (op, &e.kind) {
        (UnOp::Neg, ExprKind::Int(i)) => Expr::new(ExprKind::Int(i.wrapping_neg()), line),
        (UnOp::Neg, ExprKind::Float(f)) if *f != 0.0 => Expr::new(ExprKind::Float(-*f), line),
        _ => Expr::new(ExprKind::Unop(op, Box::new(e)), line),
    }
}
