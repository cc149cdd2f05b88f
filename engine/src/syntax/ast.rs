//! The abstract syntax tree the parser builds and the compiler consumes.
//!
//! Expressions own their children through `Box`; the only unbounded nesting
//! the parser allows is along left spines (`a+b+c...`, `a.b.c...`), so
//! `Drop` walks those iteratively and a 10 MB generated expression never
//! overflows the Rust stack.

#[derive(Debug)]
pub(crate) struct Block {
    pub stats: Vec<Stat>,
    pub ret: Option<(Vec<Expr>, u32)>,
    /// Line of the token that ends the block (for the implicit return).
    pub end_line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Attrib {
    None,
    Const,
}

#[derive(Debug)]
pub(crate) enum Stat {
    Expr(Expr),
    Local {
        names: Vec<(String, Attrib)>,
        exprs: Vec<Expr>,
        line: u32,
    },
    Assign {
        targets: Vec<Expr>,
        exprs: Vec<Expr>,
        line: u32,
    },
    LocalFunction {
        name: String,
        func: Box<FuncBody>,
    },
    /// `function a.b.c:m() end`: `target` is the assignable path.
    Function {
        target: Expr,
        func: Box<FuncBody>,
    },
    If {
        arms: Vec<(Expr, Block)>,
        else_block: Option<Block>,
    },
    While {
        cond: Expr,
        body: Block,
    },
    Repeat {
        body: Block,
        cond: Expr,
    },
    NumFor {
        var: String,
        start: Expr,
        limit: Expr,
        step: Option<Expr>,
        body: Block,
        line: u32,
    },
    GenFor {
        names: Vec<String>,
        exprs: Vec<Expr>,
        body: Block,
        line: u32,
    },
    Do(Block),
    Break(u32),
    Goto(String, u32),
    /// `::name::` at `line`; `next_line` is the line of the token after it
    /// (where PUC Lua reports goto-scope errors).
    Label {
        name: String,
        line: u32,
        next_line: u32,
    },
}

#[derive(Debug)]
pub(crate) struct FuncBody {
    pub params: Vec<String>,
    pub is_vararg: bool,
    pub is_method: bool,
    pub body: Block,
    pub line: u32,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    IDiv,
    Mod,
    Pow,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
}

impl BinOp {
    /// (left, right) priorities, as in PUC Lua.
    pub(crate) fn priority(self) -> (u8, u8) {
        use BinOp::*;
        match self {
            Or => (1, 1),
            And => (2, 2),
            Eq | Ne | Lt | Le | Gt | Ge => (3, 3),
            BOr => (4, 4),
            BXor => (5, 5),
            BAnd => (6, 6),
            Shl | Shr => (7, 7),
            Concat => (9, 8),
            Add | Sub => (10, 10),
            Mul | Div | IDiv | Mod => (11, 11),
            Pow => (14, 13),
        }
    }
}

pub(crate) const UNARY_PRIORITY: u8 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Neg,
    Not,
    Len,
    BNot,
}

#[derive(Debug)]
pub(crate) enum TField {
    Pos(Expr),
    Named(String, Expr),
    Keyed(Expr, Expr),
}

#[derive(Debug)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub line: u32,
}

#[derive(Debug)]
pub(crate) enum ExprKind {
    Nil,
    True,
    False,
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
    Vararg,
    Func(Box<FuncBody>),
    Table(Vec<TField>),
    Name(String),
    Index(Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Expr>),
    Method(Box<Expr>, String, Vec<Expr>),
    Paren(Box<Expr>),
    Unop(UnOp, Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
}

impl Expr {
    pub(crate) fn new(kind: ExprKind, line: u32) -> Self {
        Expr { kind, line }
    }

    pub(crate) fn is_multi(&self) -> bool {
        matches!(self.kind, ExprKind::Call(..) | ExprKind::Method(..) | ExprKind::Vararg)
    }
}

impl Drop for Expr {
    fn drop(&mut self) {
        // Detach left-spine children and drop them from a worklist.
        fn take_spine(e: &mut Expr) -> Option<Box<Expr>> {
            let placeholder = || Box::new(Expr { kind: ExprKind::Nil, line: 0 });
            match &mut e.kind {
                ExprKind::Bin(_, l, _) | ExprKind::Index(l, _) | ExprKind::Call(l, _) | ExprKind::Method(l, _, _) => {
                    Some(std::mem::replace(l, placeholder()))
                }
                _ => None,
            }
        }
        let mut next = take_spine(self);
        while let Some(mut e) = next {
            next = take_spine(&mut e);
        }
    }
}
