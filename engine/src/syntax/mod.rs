//! Front end: source bytes to AST. Hand-written lexer and recursive-descent
//! parser with PUC Lua 5.4's error texts.

pub(crate) mod ast;
pub(crate) mod lexer;
pub(crate) mod parser;
