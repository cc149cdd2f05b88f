//! The lexer: bytes to tokens, with PUC Lua's numerals, escapes and error
//! texts (`file:line: unfinished string near '"abc'`).

use crate::number::{Num, str_to_number};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    // keywords
    And,
    Break,
    Do,
    Else,
    Elseif,
    End,
    False,
    For,
    Function,
    Goto,
    If,
    In,
    Local,
    Nil,
    Not,
    Or,
    Repeat,
    Return,
    Then,
    True,
    Until,
    While,
    // symbols
    Plus,
    Minus,
    Star,
    Slash,
    DSlash,
    Percent,
    Caret,
    Hash,
    Amp,
    Tilde,
    Pipe,
    Shl,
    Shr,
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
    Assign,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    DColon,
    Semi,
    Colon,
    Comma,
    Dot,
    Concat,
    Dots,
    // literals
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
    Name(String),
    /// A character that starts no token (`!`, `?`, `$`, control bytes):
    /// the parser reports it in its "... expected near" message.
    Char(u8),
    Eof,
}

const KEYWORDS: &[(&str, Tok)] = &[
    ("and", Tok::And),
    ("break", Tok::Break),
    ("do", Tok::Do),
    ("else", Tok::Else),
    ("elseif", Tok::Elseif),
    ("end", Tok::End),
    ("false", Tok::False),
    ("for", Tok::For),
    ("function", Tok::Function),
    ("goto", Tok::Goto),
    ("if", Tok::If),
    ("in", Tok::In),
    ("local", Tok::Local),
    ("nil", Tok::Nil),
    ("not", Tok::Not),
    ("or", Tok::Or),
    ("repeat", Tok::Repeat),
    ("return", Tok::Return),
    ("then", Tok::Then),
    ("true", Tok::True),
    ("until", Tok::Until),
    ("while", Tok::While),
];

impl Tok {
    /// How PUC Lua names the token in "near '...'" messages.
    pub(crate) fn describe(&self) -> String {
        let s = match self {
            Tok::Eof => return "<eof>".to_string(),
            Tok::Name(n) => n.as_str(),
            Tok::Char(c) if c.is_ascii_graphic() => return format!("'{}'", *c as char),
            Tok::Char(c) => return format!("'<\\{c}>'"),
            Tok::Str(_) | Tok::Int(_) | Tok::Float(_) => {
                unreachable!("literals use their source text")
            }
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::DSlash => "//",
            Tok::Percent => "%",
            Tok::Caret => "^",
            Tok::Hash => "#",
            Tok::Amp => "&",
            Tok::Tilde => "~",
            Tok::Pipe => "|",
            Tok::Shl => "<<",
            Tok::Shr => ">>",
            Tok::Eq => "==",
            Tok::Ne => "~=",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Gt => ">",
            Tok::Assign => "=",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::DColon => "::",
            Tok::Semi => ";",
            Tok::Colon => ":",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Concat => "..",
            Tok::Dots => "...",
            kw => KEYWORDS.iter().find(|(_, t)| t == kw).map(|(s, _)| *s).unwrap_or("?"),
        };
        format!("'{s}'")
    }
}

pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    pub(crate) line: u32,
    chunk: &'a str,
    /// Source text of the current token, for error messages.
    tok_start: usize,
}

/// A syntax error, already formatted as `chunk:line: msg near 'tok'`.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError(pub String);

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a [u8], chunk: &'a str) -> Self {
        Lexer { src, pos: 0, line: 1, chunk, tok_start: 0 }
    }

    pub(crate) fn error(&self, msg: &str, near: Option<String>) -> SyntaxError {
        match near {
            Some(n) => SyntaxError(format!("{}:{}: {} near {}", self.chunk, self.line, msg, n)),
            None => SyntaxError(format!("{}:{}: {}", self.chunk, self.line, msg)),
        }
    }

    fn near_current_text(&self) -> String {
        let end = self.pos.min(self.src.len());
        let text = &self.src[self.tok_start..end];
        format!("'{}'", String::from_utf8_lossy(text))
    }

    /// Describes a token for "near" in parser errors.
    pub(crate) fn near_token(&self, t: &Tok) -> String {
        match t {
            Tok::Str(_) | Tok::Int(_) | Tok::Float(_) => self.near_current_text(),
            other => other.describe(),
        }
    }

    fn peek(&self) -> u8 {
        *self.src.get(self.pos).unwrap_or(&0)
    }
    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }
    fn peek_at(&self, off: usize) -> u8 {
        *self.src.get(self.pos + off).unwrap_or(&0)
    }

    fn newline(&mut self) {
        // \n, \r, \n\r and \r\n each count as one line break.
        let c = self.src[self.pos];
        self.pos += 1;
        if !self.at_end() {
            let d = self.src[self.pos];
            if (d == b'\n' || d == b'\r') && d != c {
                self.pos += 1;
            }
        }
        self.line += 1;
    }

    pub(crate) fn next_token(&mut self) -> Result<Tok, SyntaxError> {
        loop {
            self.tok_start = self.pos;
            if self.at_end() {
                return Ok(Tok::Eof);
            }
            let c = self.peek();
            match c {
                b'\n' | b'\r' => self.newline(),
                b' ' | b'\t' | 0x0b | 0x0c => self.pos += 1,
                b'-' => {
                    if self.peek_at(1) != b'-' {
                        self.pos += 1;
                        return Ok(Tok::Minus);
                    }
                    self.pos += 2;
                    if self.peek() == b'[' {
                        let save = self.pos;
                        if let Some(level) = self.long_bracket_level() {
                            self.long_string(level, true)?;
                            continue;
                        }
                        self.pos = save;
                    }
                    while !self.at_end() && self.peek() != b'\n' && self.peek() != b'\r' {
                        self.pos += 1;
                    }
                }
                b'[' => {
                    let save = self.pos;
                    if let Some(level) = self.long_bracket_level() {
                        let s = self.long_string(level, false)?;
                        return Ok(Tok::Str(s));
                    }
                    self.pos = save + 1;
                    if self.peek() == b'=' && !self.at_end() {
                        // `[=` not followed by more `=` and a `[`.
                        while self.peek() == b'=' && !self.at_end() {
                            self.pos += 1;
                        }
                        return Err(self.error("invalid long string delimiter", Some(self.near_current_text())));
                    }
                    return Ok(Tok::LBracket);
                }
                b'=' => return Ok(self.two(b'=', Tok::Eq, Tok::Assign)),
                b'<' => {
                    if self.peek_at(1) == b'<' {
                        self.pos += 2;
                        return Ok(Tok::Shl);
                    }
                    return Ok(self.two(b'=', Tok::Le, Tok::Lt));
                }
                b'>' => {
                    if self.peek_at(1) == b'>' {
                        self.pos += 2;
                        return Ok(Tok::Shr);
                    }
                    return Ok(self.two(b'=', Tok::Ge, Tok::Gt));
                }
                b'/' => return Ok(self.two(b'/', Tok::DSlash, Tok::Slash)),
                b'~' => return Ok(self.two(b'=', Tok::Ne, Tok::Tilde)),
                b':' => return Ok(self.two(b':', Tok::DColon, Tok::Colon)),
                b'"' | b'\'' => return self.short_string(c),
                b'.' => {
                    if self.peek_at(1) == b'.' {
                        if self.peek_at(2) == b'.' {
                            self.pos += 3;
                            return Ok(Tok::Dots);
                        }
                        self.pos += 2;
                        return Ok(Tok::Concat);
                    }
                    if self.peek_at(1).is_ascii_digit() {
                        return self.numeral();
                    }
                    self.pos += 1;
                    return Ok(Tok::Dot);
                }
                b'0'..=b'9' => return self.numeral(),
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    while !self.at_end() && (self.peek().is_ascii_alphanumeric() || self.peek() == b'_') {
                        self.pos += 1;
                    }
                    let word = std::str::from_utf8(&self.src[self.tok_start..self.pos]).expect("ascii");
                    if let Some((_, t)) = KEYWORDS.iter().find(|(k, _)| *k == word) {
                        return Ok(t.clone());
                    }
                    return Ok(Tok::Name(word.to_string()));
                }
                _ => {
                    self.pos += 1;
                    let t = match c {
                        b'+' => Tok::Plus,
                        b'*' => Tok::Star,
                        b'%' => Tok::Percent,
                        b'^' => Tok::Caret,
                        b'#' => Tok::Hash,
                        b'&' => Tok::Amp,
                        b'|' => Tok::Pipe,
                        b'(' => Tok::LParen,
                        b')' => Tok::RParen,
                        b'{' => Tok::LBrace,
                        b'}' => Tok::RBrace,
                        b']' => Tok::RBracket,
                        b';' => Tok::Semi,
                        b',' => Tok::Comma,
                        _ => Tok::Char(c),
                    };
                    return Ok(t);
                }
            }
        }
    }

    fn two(&mut self, second: u8, long: Tok, short: Tok) -> Tok {
        if self.peek_at(1) == second {
            self.pos += 2;
            long
        } else {
            self.pos += 1;
            short
        }
    }

    /// At `[`: returns the level of `[==[` and moves past it, or None.
    fn long_bracket_level(&mut self) -> Option<usize> {
        let start = self.pos;
        self.pos += 1;
        let mut level = 0;
        while self.peek() == b'=' && !self.at_end() {
            level += 1;
            self.pos += 1;
        }
        if self.peek() == b'[' && !self.at_end() {
            self.pos += 1;
            Some(level)
        } else {
            self.pos = start;
            None
        }
    }

    fn long_string(&mut self, level: usize, comment: bool) -> Result<Vec<u8>, SyntaxError> {
        let start_line = self.line;
        let mut out = Vec::new();
        // A newline right after the opening bracket is skipped.
        if !self.at_end() && (self.peek() == b'\n' || self.peek() == b'\r') {
            self.newline();
        }
        loop {
            if self.at_end() {
                let what = if comment { "comment" } else { "string" };
                return Err(self.error(&format!("unfinished long {what} (starting at line {start_line})"), Some("<eof>".into())));
            }
            let c = self.peek();
            match c {
                b']' => {
                    let save = self.pos;
                    self.pos += 1;
                    let mut l = 0;
                    while self.peek() == b'=' && !self.at_end() {
                        l += 1;
                        self.pos += 1;
                    }
                    if l == level && self.peek() == b']' && !self.at_end() {
                        self.pos += 1;
                        return Ok(out);
                    }
                    out.extend_from_slice(&self.src[save..self.pos]);
                }
                b'\n' | b'\r' => {
                    self.newline();
                    out.push(b'\n');
                }
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn short_string(&mut self, quote: u8) -> Result<Tok, SyntaxError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            if self.at_end() {
                return Err(self.error("unfinished string", Some("<eof>".into())));
            }
            let c = self.peek();
            match c {
                c if c == quote => {
                    self.pos += 1;
                    return Ok(Tok::Str(out));
                }
                b'\n' | b'\r' => {
                    return Err(self.error("unfinished string", Some(self.near_current_text())));
                }
                b'\\' => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn escape_error(&mut self, msg: &str) -> SyntaxError {
        let near = self.near_current_text();
        self.error(msg, Some(near))
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
        if self.at_end() {
            return Err(self.error("unfinished string", Some("<eof>".into())));
        }
        let c = self.peek();
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            b'\'' => Some(b'\''),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            self.pos += 1;
            return Ok(());
        }
        match c {
            b'\n' | b'\r' => {
                self.newline();
                out.push(b'\n');
            }
            b'x' => {
                self.pos += 1;
                let mut v = 0u32;
                for _ in 0..2 {
                    match hex(self.peek()) {
                        Some(d) if !self.at_end() => {
                            v = v * 16 + d;
                            self.pos += 1;
                        }
                        _ => {
                            if !self.at_end() {
                                self.pos += 1;
                            }
                            return Err(self.escape_error("hexadecimal digit expected"));
                        }
                    }
                }
                out.push(v as u8);
            }
            b'z' => {
                self.pos += 1;
                while !self.at_end() && self.peek().is_ascii_whitespace() {
                    if self.peek() == b'\n' || self.peek() == b'\r' {
                        self.newline();
                    } else {
                        self.pos += 1;
                    }
                }
            }
            b'u' => {
                self.pos += 1;
                if self.peek() != b'{' {
                    if !self.at_end() {
                        self.pos += 1;
                    }
                    return Err(self.escape_error("missing '{'"));
                }
                self.pos += 1;
                let mut v: u64 = 0;
                let mut n = 0;
                while let Some(d) = hex(self.peek()).filter(|_| !self.at_end()) {
                    v = v * 16 + d as u64;
                    n += 1;
                    self.pos += 1;
                    if v > 0x7FFF_FFFF {
                        return Err(self.escape_error("UTF-8 value too large"));
                    }
                }
                if n == 0 {
                    if !self.at_end() {
                        self.pos += 1;
                    }
                    return Err(self.escape_error("hexadecimal digit expected"));
                }
                if self.peek() != b'}' {
                    if !self.at_end() {
                        self.pos += 1;
                    }
                    return Err(self.escape_error("missing '}'"));
                }
                self.pos += 1;
                utf8_encode(v as u32, out);
            }
            b'0'..=b'9' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 3 && self.peek().is_ascii_digit() && !self.at_end() {
                    v = v * 10 + (self.peek() - b'0') as u32;
                    self.pos += 1;
                    n += 1;
                }
                if v > 255 {
                    if !self.at_end() {
                        self.pos += 1;
                    }
                    return Err(self.escape_error("decimal escape too large"));
                }
                out.push(v as u8);
            }
            _ => {
                self.pos += 1;
                return Err(self.escape_error("invalid escape sequence"));
            }
        }
        Ok(())
    }

    fn numeral(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        let mut expo = (b'e', b'E');
        if self.peek() == b'0' && (self.peek_at(1) | 0x20) == b'x' {
            self.pos += 2;
            expo = (b'p', b'P');
        }
        loop {
            let c = self.peek();
            if self.at_end() {
                break;
            }
            if c == expo.0 || c == expo.1 {
                self.pos += 1;
                if self.peek() == b'+' || self.peek() == b'-' {
                    self.pos += 1;
                }
            } else if c.is_ascii_hexdigit() || c == b'.' {
                self.pos += 1;
            } else {
                break;
            }
        }
        // A numeral touching a letter is malformed; like PUC Lua, take just
        // that letter into the message ("12m" for 12monkeys).
        if !self.at_end() && (self.peek().is_ascii_alphabetic() || self.peek() == b'_') {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        match str_to_number(text) {
            Some(Num::Int(i)) => Ok(Tok::Int(i)),
            Some(Num::Float(f)) => Ok(Tok::Float(f)),
            None => Err(self.error("malformed number", Some(self.near_current_text()))),
        }
    }
}

fn hex(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

fn utf8_encode(mut x: u32, out: &mut Vec<u8>) {
    if x < 0x80 {
        out.push(x as u8);
        return;
    }
    // Lua's extended UTF-8 (up to 31 bits, 6 bytes).
    let mut buf = [0u8; 8];
    let mut n = 1;
    let mut mfb: u32 = 0x3f;
    loop {
        buf[8 - n] = 0x80 | (x & 0x3f) as u8;
        n += 1;
        x >>= 6;
        mfb >>= 1;
        if x <= mfb {
            break;
        }
    }
    buf[8 - n] = ((!mfb << 1) | x) as u8;
    out.extend_from_slice(&buf[8 - n..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Result<Vec<Tok>, String> {
        let mut lx = Lexer::new(src.as_bytes(), "t");
        let mut v = Vec::new();
        loop {
            match lx.next_token() {
                Ok(Tok::Eof) => return Ok(v),
                Ok(t) => v.push(t),
                Err(e) => return Err(e.0),
            }
        }
    }

    #[test]
    fn numerals() {
        assert_eq!(
            toks("3 0x10 1e2 0x1p4 .5 3. 0xA.8p0 9223372036854775808").unwrap(),
            vec![
                Tok::Int(3),
                Tok::Int(16),
                Tok::Float(100.0),
                Tok::Float(16.0),
                Tok::Float(0.5),
                Tok::Float(3.0),
                Tok::Float(10.5),
                Tok::Float(9223372036854775808.0)
            ]
        );
        assert_eq!(toks("x = 3x").unwrap_err(), "t:1: malformed number near '3x'");
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            toks(
                r#""\x41\u{48}\65\z
              B\n""#
            )
            .unwrap(),
            vec![Tok::Str(b"AHAB\n".to_vec())]
        );
        assert_eq!(toks("[==[a]]b]==]").unwrap(), vec![Tok::Str(b"a]]b".to_vec())]);
        assert_eq!(toks("[[\nfirst newline skipped]]").unwrap(), vec![Tok::Str(b"first newline skipped".to_vec())]);
        assert_eq!(toks(r#""\q""#).unwrap_err(), r#"t:1: invalid escape sequence near '"\q'"#);
        // lua5.4 shows the character after the escape too.
        assert_eq!(toks(r#""\300""#).unwrap_err(), r#"t:1: decimal escape too large near '"\300"'"#);
        assert_eq!(toks(r#""\xZZ""#).unwrap_err(), r#"t:1: hexadecimal digit expected near '"\xZ'"#);
        assert_eq!(toks(r#""\u{110000000}""#).unwrap_err(), r#"t:1: UTF-8 value too large near '"\u{110000000'"#);
    }

    #[test]
    fn comments_and_lines() {
        let mut lx = Lexer::new(b"-- one\n--[[ two\nthree ]] x", "t");
        assert_eq!(lx.next_token().unwrap(), Tok::Name("x".into()));
        assert_eq!(lx.line, 3);
    }
}
