//! Lua 5.4 pattern matching over byte strings.
//!
//! This module implements the matcher behind `string.find`, `string.match`,
//! `string.gmatch` and `string.gsub`, with the exact semantics (including the
//! error messages and the 200-level "pattern too complex" limit) of the
//! reference `lua5.4` interpreter.
//!
//! What it is *not*: it is not a regular-expression engine (no alternation,
//! no grouping quantifiers, no Unicode awareness), and character classes are
//! those of the C locale only: `%a`, `%d`, `%s`, ... classify ASCII bytes, and
//! bytes `>= 0x80` belong to no class (so they are matched by `%A`, `%D`, ...).
//!
//! Everything works on bytes. Positions are 0-based byte offsets; the caller
//! converts to and from Lua's 1-based indices (a position capture `()` is
//! reported as its 0-based offset, so Lua's value is `offset + 1`).
//!
//! Notes for callers:
//! * `string.find` does a plain substring search when its `plain` argument is
//!   true or [`is_plain`] says the pattern has no special characters; only
//!   otherwise should [`find`] be called. (This matters: `string.find(s, ")")`
//!   is a plain search, while `string.match(s, ")")` is an
//!   "invalid pattern capture" error.)
//! * When a pattern has no captures, [`Match::captures`] is empty; Lua then
//!   uses the whole match as the single capture (for `string.match`,
//!   `string.gmatch` and table/function replacements in `string.gsub`).
//! * A successful match that leaves a capture open (e.g. pattern `"(a"`) is
//!   reported as the error `unfinished capture`, as `string.find`,
//!   `string.match` and `string.gmatch` do. [`gsub`] reports it too, for every
//!   kind of replacement value; reference Lua only raises it there when the
//!   replacement actually reads the open capture.

use std::fmt;

/// Maximum number of captures in one pattern (`LUA_MAXCAPTURES`).
pub const MAX_CAPTURES: usize = 32;

/// Maximum nesting of the recursive matcher (`MAXCCALLS` in the reference
/// implementation); exceeding it raises "pattern too complex".
const MAX_MATCH_DEPTH: usize = 200;

/// The escape character of Lua patterns.
const ESC: u8 = b'%';

/// Characters that make a pattern non-plain (see [`is_plain`]).
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// One capture of a successful match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// A substring capture `(...)`: bytes `start..end` of the subject.
    Span { start: usize, end: usize },
    /// A position capture `()`: the 0-based offset where it occurred.
    Position(usize),
    /// A capture still open when the match ended (`"("`). Only gsub's
    /// matches hold one: like lua5.4, gsub fails with "unfinished capture"
    /// only when the replacement reads it.
    Unfinished,
}

/// A successful match: the subject bytes `start..end` (end exclusive) and the
/// captures, in the order of their opening parentheses. `captures` is empty
/// when the pattern has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub captures: Vec<Capture>,
}

/// A pattern error; the message is the exact text lua5.4 raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl PatternError {
    fn new(msg: impl Into<String>) -> Self {
        PatternError(msg.into())
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatternError {}

/// Errors raised while matching. Kept small and `Copy` (the message text is
/// only built at the API boundary) so that the recursive matcher's stack
/// frames stay small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    EndsWithEscape,
    MissingBracket,
    MissingFrontierBracket,
    MissingBalanceArgs,
    /// Back-reference `%n` (`n` = 0..=9) to a missing or open capture.
    InvalidCaptureIndex(u8),
    InvalidPatternCapture,
    UnfinishedCapture,
    TooManyCaptures,
    TooComplex,
}

impl From<Fail> for PatternError {
    fn from(fail: Fail) -> Self {
        PatternError(match fail {
            Fail::EndsWithEscape => "malformed pattern (ends with '%')".into(),
            Fail::MissingBracket => "malformed pattern (missing ']')".into(),
            Fail::MissingFrontierBracket => "missing '[' after '%f' in pattern".into(),
            Fail::MissingBalanceArgs => "malformed pattern (missing arguments to '%b')".into(),
            Fail::InvalidCaptureIndex(n) => format!("invalid capture index %{n}"),
            Fail::InvalidPatternCapture => "invalid pattern capture".into(),
            Fail::UnfinishedCapture => "unfinished capture".into(),
            Fail::TooManyCaptures => "too many captures".into(),
            Fail::TooComplex => "pattern too complex".into(),
        })
    }
}

type MResult<T> = Result<T, Fail>;

/// The error for reading a [`Capture::Unfinished`] (one message, lua5.4's).
pub(crate) fn unfinished_capture() -> PatternError {
    Fail::UnfinishedCapture.into()
}

/// State of one capture slot while matching.
#[derive(Clone, Copy, Debug)]
enum CapState {
    /// Opened but not yet closed.
    Open,
    /// A position capture `()`.
    Position,
    /// A closed capture of the given length.
    Closed(usize),
}

/// The backtracking matcher for one subject and one pattern.
///
/// Recursion only happens through [`Matcher::do_match`], which counts its
/// nesting and fails with "pattern too complex" beyond [`MAX_MATCH_DEPTH`],
/// so the Rust stack use is bounded regardless of the subject's length.
/// Repetitions and plain sequences are handled iteratively.
struct Matcher<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    /// Remaining allowed nesting of `do_match`.
    depth_left: usize,
    /// Number of captures currently open or closed.
    level: usize,
    /// Start offset and state of each capture.
    caps: [(usize, CapState); MAX_CAPTURES],
    /// The single class every match must start with, as `(p, ep)`, when
    /// the pattern has one (see [`Matcher::first_class`]).
    first: Option<(usize, usize)>,
}

impl<'a> Matcher<'a> {
    fn new(src: &'a [u8], pat: &'a [u8]) -> Self {
        let mut m = Matcher { src, pat, depth_left: MAX_MATCH_DEPTH, level: 0, caps: [(0, CapState::Open); MAX_CAPTURES], first: None };
        m.first = m.first_class();
        m
    }

    /// The single-character class `pat[p..ep]` that must match the
    /// subject's first byte for any match to start there: the pattern's
    /// first item after its opening captures, when it consumes a byte
    /// (no suffix, or `+`). `None` when there is no such item (an empty
    /// pattern, `%b`, `%f`, a back-reference, `$` at the end, `)`, a
    /// suffix that allows zero repetitions) or it is malformed: then every
    /// start is tried, and `do_match` reports the error where lua5.4 would.
    fn first_class(&self) -> Option<(usize, usize)> {
        #[cfg(test)]
        if tests::NO_FIRST_CLASS.with(|off| off.get()) {
            return None;
        }
        let mut p = 0;
        while self.pat_at(p) == Some(b'(') {
            p += if self.pat_at(p + 1) == Some(b')') { 2 } else { 1 };
        }
        match self.pat_at(p)? {
            b')' => return None,
            b'$' if p + 1 == self.pat.len() => return None,
            ESC if matches!(self.pat_at(p + 1), Some(b'b' | b'f' | b'0'..=b'9')) => return None,
            _ => {}
        }
        let ep = self.class_end(p).ok()?;
        match self.pat_at(ep) {
            Some(b'*' | b'?' | b'-') => None,
            _ => Some((p, ep)),
        }
    }

    /// Whether no match can start at `s` because the subject byte there
    /// fails the pattern's first class: `do_match(s, 0)` would fail at its
    /// first item, so the scanning loops skip the attempt.
    fn cannot_start(&self, s: usize) -> bool {
        matches!(self.first, Some((p, ep)) if !self.single_match(s, p, ep))
    }

    /// Prepares for a new match attempt.
    fn reset(&mut self) {
        self.depth_left = MAX_MATCH_DEPTH;
        self.level = 0;
    }

    fn pat_at(&self, i: usize) -> Option<u8> {
        self.pat.get(i).copied()
    }

    /// Turns the capture slots of a successful match into a [`Match`]. A
    /// capture left open is an error unless `lenient` (gsub), where it
    /// becomes [`Capture::Unfinished`].
    fn build(&self, start: usize, end: usize, lenient: bool) -> MResult<Match> {
        let captures = self.caps[..self.level]
            .iter()
            .map(|&(init, state)| match state {
                CapState::Open if lenient => Ok(Capture::Unfinished),
                CapState::Open => Err(Fail::UnfinishedCapture),
                CapState::Position => Ok(Capture::Position(init)),
                CapState::Closed(len) => Ok(Capture::Span { start: init, end: init + len }),
            })
            .collect::<MResult<Vec<_>>>()?;
        Ok(Match { start, end, captures })
    }

    /// Index just past the single-character class starting at `p`
    /// (a literal, `.`, `%x` or a `[...]` set).
    fn class_end(&self, p: usize) -> MResult<usize> {
        let c = self.pat[p];
        let mut p = p + 1;
        if c == ESC {
            if p >= self.pat.len() {
                return Err(Fail::EndsWithEscape);
            }
            return Ok(p + 1);
        }
        if c == b'[' {
            if self.pat_at(p) == Some(b'^') {
                p += 1;
            }
            // The first character of the set is never its terminator, so
            // `[]]` is the set containing `]`.
            loop {
                if p >= self.pat.len() {
                    return Err(Fail::MissingBracket);
                }
                let c = self.pat[p];
                p += 1;
                if c == ESC && p < self.pat.len() {
                    p += 1; // skip the escaped character (e.g. `%]`)
                }
                if self.pat_at(p) == Some(b']') {
                    return Ok(p + 1);
                }
            }
        }
        Ok(p)
    }

    /// Whether byte `c` belongs to the set `pat[p..=close]`, where `pat[p]`
    /// is `[` and `pat[close]` its closing `]`.
    fn in_set(&self, c: u8, p: usize, close: usize) -> bool {
        let mut i = p + 1;
        let mut found = true;
        if self.pat[i] == b'^' {
            found = false;
            i += 1;
        }
        while i < close {
            let pc = self.pat[i];
            if pc == ESC {
                if class_matches(c, self.pat[i + 1]) {
                    return found;
                }
                i += 2;
            } else if self.pat[i + 1] == b'-' && i + 2 < close {
                if pc <= c && c <= self.pat[i + 2] {
                    return found;
                }
                i += 3;
            } else {
                if pc == c {
                    return found;
                }
                i += 1;
            }
        }
        !found
    }

    /// Whether the subject byte at `s` exists and matches the single class
    /// `pat[p..ep]`.
    fn single_match(&self, s: usize, p: usize, ep: usize) -> bool {
        let Some(&c) = self.src.get(s) else {
            return false;
        };
        match self.pat[p] {
            b'.' => true,
            ESC => class_matches(c, self.pat[p + 1]),
            b'[' => self.in_set(c, p, ep - 1),
            pc => pc == c,
        }
    }

    /// Matches the pattern from `p` against the subject from `s`; returns
    /// the end of the match. This is the only recursive entry point.
    fn do_match(&mut self, s: usize, p: usize) -> MResult<Option<usize>> {
        if self.depth_left == 0 {
            return Err(Fail::TooComplex);
        }
        self.depth_left -= 1;
        let res = self.match_here(s, p);
        self.depth_left += 1;
        res
    }

    fn match_here(&mut self, mut s: usize, mut p: usize) -> MResult<Option<usize>> {
        loop {
            let Some(pc) = self.pat_at(p) else {
                return Ok(Some(s)); // end of pattern
            };
            match pc {
                b'(' => {
                    return if self.pat_at(p + 1) == Some(b')') {
                        self.start_capture(s, p + 2, CapState::Position)
                    } else {
                        self.start_capture(s, p + 1, CapState::Open)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                b'$' if p + 1 == self.pat.len() => {
                    return Ok((s == self.src.len()).then_some(s));
                }
                ESC => match self.pat_at(p + 1) {
                    Some(b'b') => match self.match_balance(s, p + 2)? {
                        Some(ns) => {
                            s = ns;
                            p += 4;
                            continue;
                        }
                        None => return Ok(None),
                    },
                    Some(b'f') => {
                        p += 2;
                        if self.pat_at(p) != Some(b'[') {
                            return Err(Fail::MissingFrontierBracket);
                        }
                        let ep = self.class_end(p)?;
                        let prev = if s == 0 { 0 } else { self.src[s - 1] };
                        let cur = self.src.get(s).copied().unwrap_or(0);
                        if !self.in_set(prev, p, ep - 1) && self.in_set(cur, p, ep - 1) {
                            p = ep;
                            continue;
                        }
                        return Ok(None);
                    }
                    Some(d @ b'0'..=b'9') => match self.match_back_reference(s, d)? {
                        Some(ns) => {
                            s = ns;
                            p += 2;
                            continue;
                        }
                        None => return Ok(None),
                    },
                    _ => {}
                },
                _ => {}
            }
            // A single-character class, possibly followed by a quantifier.
            let ep = self.class_end(p)?;
            let suffix = self.pat_at(ep);
            if !self.single_match(s, p, ep) {
                if matches!(suffix, Some(b'*' | b'?' | b'-')) {
                    p = ep + 1; // zero repetitions are fine
                    continue;
                }
                return Ok(None);
            }
            match suffix {
                Some(b'?') => {
                    if let Some(e) = self.do_match(s + 1, ep + 1)? {
                        return Ok(Some(e));
                    }
                    p = ep + 1;
                }
                Some(b'+') => return self.max_expand(s + 1, p, ep),
                Some(b'*') => return self.max_expand(s, p, ep),
                Some(b'-') => return self.min_expand(s, p, ep),
                _ => {
                    s += 1;
                    p = ep;
                }
            }
        }
    }

    /// Greedy repetition: take as many as possible, then back off.
    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> MResult<Option<usize>> {
        let mut count = 0;
        while self.single_match(s + count, p, ep) {
            count += 1;
        }
        loop {
            if let Some(e) = self.do_match(s + count, ep + 1)? {
                return Ok(Some(e));
            }
            if count == 0 {
                return Ok(None);
            }
            count -= 1;
        }
    }

    /// Lazy repetition: take as few as possible.
    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> MResult<Option<usize>> {
        loop {
            if let Some(e) = self.do_match(s, ep + 1)? {
                return Ok(Some(e));
            }
            if !self.single_match(s, p, ep) {
                return Ok(None);
            }
            s += 1;
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, state: CapState) -> MResult<Option<usize>> {
        if self.level >= MAX_CAPTURES {
            return Err(Fail::TooManyCaptures);
        }
        self.caps[self.level] = (s, state);
        self.level += 1;
        let res = self.do_match(s, p)?;
        if res.is_none() {
            self.level -= 1; // undo
        }
        Ok(res)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> MResult<Option<usize>> {
        let Some(l) = (0..self.level).rev().find(|&l| matches!(self.caps[l].1, CapState::Open)) else {
            return Err(Fail::InvalidPatternCapture);
        };
        self.caps[l].1 = CapState::Closed(s - self.caps[l].0);
        let res = self.do_match(s, p)?;
        if res.is_none() {
            self.caps[l].1 = CapState::Open; // undo
        }
        Ok(res)
    }

    /// `%bxy`: `p` indexes `x`.
    fn match_balance(&self, s: usize, p: usize) -> MResult<Option<usize>> {
        if p + 1 >= self.pat.len() {
            return Err(Fail::MissingBalanceArgs);
        }
        let (open, close) = (self.pat[p], self.pat[p + 1]);
        if self.src.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut depth = 1usize;
        for (i, &c) in self.src.iter().enumerate().skip(s + 1) {
            if c == close {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some(i + 1));
                }
            } else if c == open {
                depth += 1;
            }
        }
        Ok(None)
    }

    /// `%1`..`%9` (and the invalid `%0`) inside a pattern.
    fn match_back_reference(&self, s: usize, digit: u8) -> MResult<Option<usize>> {
        let index = usize::from(digit - b'0');
        let state = match index.checked_sub(1) {
            Some(l) if l < self.level => Some(self.caps[l]),
            _ => None,
        };
        match state {
            None | Some((_, CapState::Open)) => Err(Fail::InvalidCaptureIndex(digit - b'0')),
            // A position capture never matches as a back-reference.
            Some((_, CapState::Position)) => Ok(None),
            Some((init, CapState::Closed(len))) => {
                let rest = &self.src[s..];
                if rest.len() >= len && rest[..len] == self.src[init..init + len] { Ok(Some(s + len)) } else { Ok(None) }
            }
        }
    }
}

/// Whether byte `c` is in the class named by `cl` (the byte after `%`),
/// in the C locale. Unknown class letters and non-letters match themselves.
/// Called per subject byte in every repetition, so it is a table lookup.
#[inline]
fn class_matches(c: u8, cl: u8) -> bool {
    let bit = class_bit(cl.to_ascii_lowercase());
    if bit == 0 {
        return cl == c;
    }
    (CLASS_MEMBERS[c as usize] & bit != 0) != cl.is_ascii_uppercase()
}

/// The bit standing for class letter `l` (lower case) in [`CLASS_MEMBERS`];
/// 0 for a letter that names no class.
const fn class_bit(l: u8) -> u16 {
    match l {
        b'a' => 1,
        b'c' => 1 << 1,
        b'd' => 1 << 2,
        b'g' => 1 << 3,
        b'l' => 1 << 4,
        b'p' => 1 << 5,
        b's' => 1 << 6,
        b'u' => 1 << 7,
        b'w' => 1 << 8,
        b'x' => 1 << 9,
        // Deprecated but still accepted by lua5.4: `%z` is the zero byte.
        b'z' => 1 << 10,
        _ => 0,
    }
}

/// Per byte, the bits (`class_bit`) of the classes it belongs to.
static CLASS_MEMBERS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let member = [
            (b'a', c.is_ascii_alphabetic()),
            (b'c', c.is_ascii_control()),
            (b'd', c.is_ascii_digit()),
            (b'g', c.is_ascii_graphic()),
            (b'l', c.is_ascii_lowercase()),
            (b'p', c.is_ascii_punctuation()),
            // C's isspace also includes '\v', which is_ascii_whitespace lacks.
            (b's', matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')),
            (b'u', c.is_ascii_uppercase()),
            (b'w', c.is_ascii_alphanumeric()),
            (b'x', c.is_ascii_hexdigit()),
            (b'z', c == 0),
        ];
        let mut k = 0;
        while k < member.len() {
            if member[k].1 {
                t[i] |= class_bit(member[k].0);
            }
            k += 1;
        }
        i += 1;
    }
    t
};

/// Splits off a leading `^` anchor.
fn split_anchor(pattern: &[u8]) -> (bool, &[u8]) {
    match pattern.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, pattern),
    }
}

/// string.find / string.match core: first match at or after `init` (0-based,
/// `init <= s.len()`; a larger `init` finds nothing); honors a leading `^`
/// anchor.
pub fn find(s: &[u8], pattern: &[u8], init: usize) -> Result<Option<Match>, PatternError> {
    if init > s.len() {
        return Ok(None);
    }
    let (anchor, pat) = split_anchor(pattern);
    let mut m = Matcher::new(s, pat);
    let mut start = init;
    loop {
        if !m.cannot_start(start) {
            m.reset();
            if let Some(end) = m.do_match(start, 0)? {
                return Ok(Some(m.build(start, end, false)?));
            }
        }
        start += 1;
        if anchor || start > s.len() {
            return Ok(None);
        }
    }
}

/// string.gmatch state: iterates matches exactly as Lua 5.4's `gmatch` does.
///
/// A match may not end where the previous one ended (so an empty match right
/// after a match is skipped), and a leading `^` is *not* an anchor: like
/// lua5.4, `gmatch` treats it as a literal `^`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GMatch {
    /// Where the next search starts.
    src: usize,
    /// End of the previous match, if any.
    last_match: Option<usize>,
}

impl GMatch {
    /// Starts iterating at 0-based offset `init`; an `init` beyond the end of
    /// the subject yields no matches.
    pub fn new(init: usize) -> Self {
        GMatch { src: init, last_match: None }
    }

    /// The iteration state, to store between calls: (next start, end of
    /// the previous match).
    pub fn state(&self) -> (usize, Option<usize>) {
        (self.src, self.last_match)
    }

    /// Resumes an iteration from [`GMatch::state`].
    pub fn from_state(src: usize, last_match: Option<usize>) -> Self {
        GMatch { src, last_match }
    }

    /// The next match, or `None` when the iteration is over. Must be called
    /// with the same subject and pattern each time.
    pub fn next(&mut self, s: &[u8], pattern: &[u8]) -> Result<Option<Match>, PatternError> {
        let mut m = Matcher::new(s, pattern);
        let mut start = self.src;
        while start <= s.len() {
            if m.cannot_start(start) {
                start += 1;
                continue;
            }
            m.reset();
            if let Some(end) = m.do_match(start, 0)?
                && Some(end) != self.last_match
            {
                self.src = end;
                self.last_match = Some(end);
                return Ok(Some(m.build(start, end, false)?));
            }
            start += 1;
        }
        self.src = start;
        Ok(None)
    }
}

/// string.gsub core: replaces up to `max_n` matches (`None` = all) and
/// returns the new bytes and the number of matches replaced.
///
/// For each match, `replace` appends its replacement to the output buffer
/// (the caller handles string, table and function replacement values,
/// including keeping `s[m.start..m.end]` when the value is false/nil).
/// A leading `^` anchors the pattern, allowing at most one replacement at the
/// start of `s`. Matcher errors become `E` via `From<PatternError>`.
pub fn gsub<E: From<PatternError>>(
    s: &[u8],
    pattern: &[u8],
    max_n: Option<usize>,
    mut replace: impl FnMut(&Match, &mut Vec<u8>) -> Result<(), E>,
) -> Result<(Vec<u8>, usize), E> {
    let (anchor, pat) = split_anchor(pattern);
    let max_n = max_n.unwrap_or(usize::MAX);
    let mut m = Matcher::new(s, pat);
    let mut out = Vec::with_capacity(s.len());
    let mut src = 0;
    let mut last_match = None;
    let mut count = 0;
    while count < max_n {
        m.reset();
        if !m.cannot_start(src)
            && let Some(end) = m.do_match(src, 0).map_err(PatternError::from)?
            && Some(end) != last_match
        {
            count += 1;
            let found = m.build(src, end, true).map_err(PatternError::from)?;
            replace(&found, &mut out)?;
            src = end;
            last_match = Some(end);
        } else if src < s.len() {
            out.push(s[src]);
            src += 1;
        } else {
            break;
        }
        if anchor {
            break;
        }
    }
    out.extend_from_slice(&s[src..]);
    Ok((out, count))
}

/// Helper for gsub string replacements: appends `repl` to `out`, expanding
/// `%0` (whole match), `%1`-`%9` (captures; `%1` is the whole match when the
/// pattern has no captures; a position capture expands to its 1-based
/// position) and `%%`.
pub fn expand_replacement(repl: &[u8], s: &[u8], m: &Match, out: &mut Vec<u8>) -> Result<(), PatternError> {
    let mut rest = repl;
    while let Some(i) = rest.iter().position(|&c| c == ESC) {
        out.extend_from_slice(&rest[..i]);
        let code = rest.get(i + 1).copied();
        match code {
            Some(ESC) => out.push(ESC),
            Some(b'0') => out.extend_from_slice(&s[m.start..m.end]),
            Some(d @ b'1'..=b'9') => {
                let index = usize::from(d - b'1');
                match m.captures.get(index) {
                    Some(&Capture::Span { start, end }) => out.extend_from_slice(&s[start..end]),
                    Some(&Capture::Position(pos)) => {
                        out.extend_from_slice((pos + 1).to_string().as_bytes());
                    }
                    Some(&Capture::Unfinished) => return Err(Fail::UnfinishedCapture.into()),
                    None if index == 0 && m.captures.is_empty() => {
                        out.extend_from_slice(&s[m.start..m.end]);
                    }
                    None => {
                        return Err(Fail::InvalidCaptureIndex(d - b'0').into());
                    }
                }
            }
            _ => {
                return Err(PatternError::new("invalid use of '%' in replacement string"));
            }
        }
        rest = &rest[(i + 2).min(rest.len())..];
    }
    out.extend_from_slice(rest);
    Ok(())
}

/// True when the pattern has no special characters (`^$*+?.([%-`), so that
/// `string.find` may do a plain substring search instead.
pub fn is_plain(pattern: &[u8]) -> bool {
    !pattern.iter().any(|c| SPECIALS.contains(c))
}

#[cfg(test)]
mod tests {
    //! Expected values in the tables below were produced by running the same
    //! calls (`string.find`, `string.gmatch`, `string.gsub`) under lua5.4
    //! (5.4.4), with Lua's 1-based results rendered in the format of `show`.

    use super::*;

    /// Renders bytes as the lua5.4 script that produced the expectations
    /// did: printable ASCII as is (except `\` and `'`), everything else as
    /// `\xNN`, inside single quotes.
    fn quote(b: &[u8]) -> String {
        let mut out = String::from("'");
        for &c in b {
            if (32..=126).contains(&c) && c != b'\\' && c != b'\'' {
                out.push(char::from(c));
            } else {
                out.push_str(&format!("\\x{c:02x}"));
            }
        }
        out.push('\'');
        out
    }

    /// Captures as Lua returns them: strings quoted, positions 1-based.
    fn show_captures(s: &[u8], m: &Match, whole_if_none: bool) -> Vec<String> {
        if m.captures.is_empty() && whole_if_none {
            return vec![quote(&s[m.start..m.end])];
        }
        m.captures
            .iter()
            .map(|c| match *c {
                Capture::Span { start, end } => quote(&s[start..end]),
                Capture::Position(p) => (p + 1).to_string(),
                Capture::Unfinished => "<unfinished>".to_string(),
            })
            .collect()
    }

    /// The result of `string.find(s, p, init + 1)` in lua5.4's terms.
    fn show_find(s: &[u8], p: &[u8], init: usize) -> String {
        match find(s, p, init) {
            Ok(None) => "nil".into(),
            Ok(Some(m)) => {
                let mut parts = vec![(m.start + 1).to_string(), m.end.to_string()];
                parts.extend(show_captures(s, &m, false));
                parts.join(" ")
            }
            Err(e) => format!("E:{}", e.0),
        }
    }

    fn show_gmatch(s: &[u8], p: &[u8], init: usize) -> String {
        let mut g = GMatch::new(init);
        let mut items = Vec::new();
        loop {
            match g.next(s, p) {
                Ok(Some(m)) => items.push(show_captures(s, &m, true).join(" ")),
                Ok(None) => break,
                Err(e) => {
                    items.push(format!("E:{}", e.0));
                    break;
                }
            }
        }
        items.join(" ; ")
    }

    fn gsub_str(s: &[u8], p: &[u8], repl: &[u8], max_n: Option<usize>) -> Result<(Vec<u8>, usize), PatternError> {
        gsub(s, p, max_n, |m, out| expand_replacement(repl, s, m, out))
    }

    fn show_gsub(s: &[u8], p: &[u8], repl: &[u8], max_n: Option<usize>) -> String {
        match gsub_str(s, p, repl, max_n) {
            Ok((r, n)) => format!("{} {n}", quote(&r)),
            Err(e) => format!("E:{}", e.0),
        }
    }

    #[test]
    fn find_table() {
        // (subject, pattern, 0-based init, lua5.4 result)
        let cases: &[(&[u8], &[u8], usize, &str)] = &[
            (b"hello world", b"%a+", 0, "1 5"),
            (b"  x", b"%s*", 0, "1 2"),
            (b"abc123def", b"%d+", 0, "4 6"),
            (b"a\x09b", b"%c", 0, "2 2"),
            (b"a\x7fb", b"%c", 0, "2 2"),
            (b"a,b", b"%p", 0, "2 2"),
            (b"a~b", b"%p+", 0, "2 2"),
            (b"aBc", b"%u", 0, "2 2"),
            (b"ABc", b"%l", 0, "3 3"),
            (b"x_y9z", b"%w+", 0, "1 1"),
            (b"zz0fFg", b"%x+", 0, "3 5"),
            (b" \x09 a", b"%g", 0, "4 4"),
            (b"abc", b".", 0, "1 1"),
            (b"abc", b"..", 1, "2 3"),
            (b"\x00\x0a", b".+", 0, "1 2"),
            (b"abc 12", b"%A+", 0, "4 6"),
            (b"ab12", b"%D+", 0, "1 2"),
            (b"ab  c", b"%S+", 0, "1 2"),
            (b"ab;", b"%W", 0, "3 3"),
            (b"aB", b"%U+", 0, "1 1"),
            (b"aB", b"%L+", 0, "2 2"),
            (b"a b", b"%G", 0, "2 2"),
            (b"abc!", b"%P+", 0, "1 3"),
            (b"a\x09b", b"%C+", 0, "1 1"),
            (b"ghx0", b"%X+", 0, "1 3"),
            (b"a\x80b", b"%A", 0, "2 2"),
            (b"\x80\xff", b"%a", 0, "nil"),
            (b"\x80\xff", b"%g", 0, "nil"),
            (b"\x80\xff", b"%p", 0, "nil"),
            (b"\x80\xff", b"%P+", 0, "1 2"),
            (b"\x80\xff", b"%W+", 0, "1 2"),
            (b"a\x0bb", b"%s", 0, "2 2"),
            (b"a\x0cb\x0d", b"%s+", 0, "2 2"),
            (b"a\x00b", b"%z", 0, "2 2"),
            (b"\x00\x00a", b"%Z", 0, "3 3"),
            (b"z", b"%z", 0, "nil"),
            (b"q", b"%q", 0, "1 1"),
            (b"Q%", b"%Q", 0, "1 1"),
            (b"a.b", b"%.", 0, "2 2"),
            (b"50%", b"%%", 0, "3 3"),
            (b"f(x)", b"%(x%)", 0, "2 4"),
            (b"a+b", b"a%+b", 0, "1 3"),
            (b"[x]", b"%[x%]", 0, "1 3"),
            (b"a^b$", b"%^b%$", 0, "2 4"),
            (b"a-b", b"a%-b", 0, "1 3"),
            (b"a\x00b", b"%\x00", 0, "2 2"),
            (b"hello", b"[aeiou]+", 0, "2 2"),
            (b"abc-", b"[a-]", 0, "1 1"),
            (b"x-a", b"[-a]+", 0, "2 3"),
            (b"x]", b"[]]", 0, "2 2"),
            (b"]]x", b"[]x]+", 0, "1 3"),
            (b"]x", b"[^]]", 0, "2 2"),
            (b"abcx", b"[^a]+", 0, "2 4"),
            (b"a1_B!", b"[%w_]+", 0, "1 4"),
            (b"ab-c.", b"[%a-]+", 0, "1 4"),
            (b"b-x", b"[a%-c]+", 0, "2 2"),
            (b"\xc8\xc9a", b"[\x80-\xff]+", 0, "1 2"),
            (b"z", b"[a-c-z]", 0, "1 1"),
            (b"-", b"[a-c-z]", 0, "1 1"),
            (b"b", b"[a-c-z]", 0, "1 1"),
            (b"y", b"[a-c-z]", 0, "nil"),
            (b"^", b"[%^]", 0, "1 1"),
            (b"a^", b"[b^]", 0, "2 2"),
            (b"%", b"[%%]", 0, "1 1"),
            (b"]", b"[%]]", 0, "1 1"),
            (b"5x", b"[%d%a]+", 0, "1 2"),
            (b"ABC", b"[^%l]+", 0, "1 3"),
            (b"c", b"[c-a]", 0, "nil"),
            (b"a\x00b", b"[\x00]", 0, "2 2"),
            (b"x", b"[^]x]", 0, "nil"),
            (b"-", b"[%a-z]", 0, "1 1"),
            (b"b", b"[%a-z]", 0, "1 1"),
            (b"a", b"[]-a]", 0, "1 1"),
            (b"^", b"[]-a]", 0, "1 1"),
            (b"aaab", b"a*", 0, "1 3"),
            (b"baaa", b"a*", 0, "1 0"),
            (b"aaab", b"a+b", 0, "1 4"),
            (b"b", b"a+b", 0, "nil"),
            (b"aaab", b"a-b", 0, "1 4"),
            (b"aaab", b"a-", 0, "1 0"),
            (b"ab", b"a?b", 0, "1 2"),
            (b"b", b"a?b", 0, "1 1"),
            (b"aab", b"a?ab", 0, "1 3"),
            (b"<a><b>", b"<.->", 0, "1 3"),
            (b"<a><b>", b"<.*>", 0, "1 6"),
            (b"xyz", b"x*", 0, "1 1"),
            (b"", b"a*", 0, "1 0"),
            (b"", b"a+", 0, "nil"),
            (b"aaa", b"a-$", 0, "1 3"),
            (b"abc", b"[a-z]*c", 0, "1 3"),
            (b"a*", b"a*%*", 0, "1 2"),
            (b"a", b"a**", 0, "nil"),
            (b"a?", b"a??", 0, "1 2"),
            (b"a+", b"a+?", 0, "nil"),
            (b"int x = 10;", b"(%a+)%s*=%s*(%d+)", 0, "5 10 'x' '10'"),
            (b"abc", b"^b", 0, "nil"),
            (b"abc", b"^a", 0, "1 1"),
            (b"abc", b"^b", 1, "2 2"),
            (b"abc", b"c$", 0, "3 3"),
            (b"abc", b"b$", 0, "nil"),
            (b"a$b", b"a$b", 0, "1 3"),
            (b"a^b", b"a^b", 0, "1 3"),
            (b"a^b", b".^", 0, "1 2"),
            (b"abc", b"^abc$", 0, "1 3"),
            (b"abc", b"^$", 0, "nil"),
            (b"", b"^$", 0, "1 0"),
            (b"abc", b"$", 0, "4 3"),
            (b"abc", b"^", 0, "1 0"),
            (b"^abc", b"^^a", 0, "1 2"),
            (b"a$", b"a$$", 0, "1 2"),
            (b"f(a(b)c)d", b"%b()", 0, "2 8"),
            (b"((x)", b"%b()", 0, "2 4"),
            (b"(x))", b"%b()", 0, "1 3"),
            (b"[[]]", b"%b[]", 0, "1 4"),
            (b"abab", b"%baa", 0, "1 3"),
            (b"xaXbYbz", b"%bab", 0, "2 4"),
            (b"if (a) then (b) end", b"%b()", 0, "4 6"),
            (b"(", b"%b()", 0, "nil"),
            (b"f(a)(b)", b"%b()%b()", 0, "2 7"),
            (b"THE (quick) fox", b"%f[%a]%a+", 0, "1 3"),
            (b"hello world", b"%f[%w]%w+", 1, "7 11"),
            (b"abc", b"%f[%z]", 0, "4 3"),
            (b"abc", b"%f[^%z]", 0, "1 0"),
            (b"aa", b"%f[a]", 1, "nil"),
            (b"a b", b"%f[%s]", 0, "2 1"),
            (b"THE (quick) fox", b"%f[%a]%a+%f[%A]", 4, "6 10"),
            (b"ab12", b"%f[%d]", 0, "3 2"),
            (b"x", b"%f[x]x%f[^x]", 0, "1 1"),
            (b"hello  xx", b"(.)%1", 0, "3 4 'l'"),
            (b"say \x22hi\x22 ok", b"([\x22'])(.-)%1", 0, "5 8 '\"' 'hi'"),
            (b"aa", b"()a%1", 0, "nil"),
            (b"abab", b"(ab)%1", 0, "1 4 'ab'"),
            (b"abcabd", b"(ab)(c)%1%2", 0, "nil"),
            (b"xyyx", b"(x)(y)%2%1", 0, "1 4 'x' 'y'"),
            (b"aaa", b"(a*)%1", 0, "1 2 'a'"),
            (b"hello world", b"(h)(e)(l)", 0, "1 3 'h' 'e' 'l'"),
            (b"hello", b"()ll()", 0, "3 4 3 5"),
            (b"abc", b"((a)(b))", 0, "1 2 'ab' 'a' 'b'"),
            (b"abc", b"(a*(.)%w(%s*))", 0, "1 3 'abc' 'b' ''"),
            (b"key = value", b"(%w+)%s*=%s*(%w+)", 0, "1 11 'key' 'value'"),
            (b"abc", b"()", 0, "1 0 1"),
            (b"abc", b"()", 3, "4 3 4"),
            (b"abc", b"(()b())", 0, "2 2 'b' 2 3"),
            (b"abc", b"(a)(x?)(b)", 0, "1 2 'a' '' 'b'"),
            (b"aXa", b"[a]", 1, "3 3"),
            (b"abc", b".?", 3, "4 3"),
            (b"abc", b"a*", 3, "4 3"),
            (b"abc", b"%f[%a]", 1, "nil"),
            (b"a", b"%", 0, "E:malformed pattern (ends with '%')"),
            (b"", b"%", 0, "E:malformed pattern (ends with '%')"),
            (b"", b"a%", 0, "nil"),
            (b"b", b"a%", 0, "nil"),
            (b"a", b"a%", 0, "E:malformed pattern (ends with '%')"),
            (b"a", b"[a", 0, "E:malformed pattern (missing ']')"),
            (b"a", b"[]", 0, "E:malformed pattern (missing ']')"),
            (b"a", b"[^]", 0, "E:malformed pattern (missing ']')"),
            (b"a", b"[%]", 0, "E:malformed pattern (missing ']')"),
            (b"a", b"[a%", 0, "E:malformed pattern (missing ']')"),
            (b"b", b"a[", 0, "nil"),
            (b"a", b"%f", 0, "E:missing '[' after '%f' in pattern"),
            (b"a", b"%fa", 0, "E:missing '[' after '%f' in pattern"),
            (b"", b"%f", 0, "E:missing '[' after '%f' in pattern"),
            (b"a", b"%b", 0, "E:malformed pattern (missing arguments to '%b')"),
            (b"a", b"%ba", 0, "E:malformed pattern (missing arguments to '%b')"),
            (b"", b"%b", 0, "E:malformed pattern (missing arguments to '%b')"),
            (b"a", b"%1", 0, "E:invalid capture index %1"),
            (b"a", b"%0", 0, "E:invalid capture index %0"),
            (b"b", b"a%1", 0, "nil"),
            (b"a", b"(a%1)", 0, "E:invalid capture index %1"),
            (b"a", b"(a)%2", 0, "E:invalid capture index %2"),
            (b"x", b".)", 0, "E:invalid pattern capture"),
            (b"x", b"(x))", 0, "E:invalid pattern capture"),
            (b"a", b"(a", 0, "E:unfinished capture"),
            (b"ab", b"a(", 0, "E:unfinished capture"),
            (b"a", b"(()", 0, "E:unfinished capture"),
            (b"b", b"(a", 0, "nil"),
            (b"a", b"(((((((((((((((((((((((((((((((((", 0, "E:too many captures"),
            (b"a", b"()()()()()()()()()()()()()()()()()()()()()()()()()()()()()()()()()", 0, "E:too many captures"),
            (
                b"a",
                b"()()()()()()()()()()()()()()()()()()()()()()()()()()()()()()()()",
                0,
                "1 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
            ),
        ];
        for &(s, p, init, expected) in cases {
            assert_eq!(show_find(s, p, init), expected, "find({}, {}, {init})", quote(s), quote(p));
        }
    }

    #[test]
    fn gmatch_table() {
        // (subject, pattern, 0-based init, lua5.4 items separated by " ; ")
        let cases: &[(&[u8], &[u8], usize, &str)] = &[
            (b"hello world from Lua", b"%a+", 0, "'hello' ; 'world' ; 'from' ; 'Lua'"),
            (b"abc", b"", 0, "'' ; '' ; '' ; ''"),
            (b"abc", b"%w*", 0, "'abc'"),
            (b"a,b,,c", b"[^,]*", 0, "'a' ; 'b' ; '' ; 'c'"),
            (b"k1=v1, k2=v2", b"(%w+)=(%w+)", 0, "'k1' 'v1' ; 'k2' 'v2'"),
            (b"^a^a", b"^a", 0, "'^a' ; '^a'"),
            (b"a^a", b"^a", 0, "'^a'"),
            (b"abc", b"()(.)", 1, "2 'b' ; 3 'c'"),
            (b"abc", b"x*", 3, "''"),
            (b"abc", b"x*", 4, ""),
            (b"abc", b"x*", 8, ""),
            (b"abc", b"()", 0, "1 ; 2 ; 3 ; 4"),
            (b"abc", b"%", 0, "E:malformed pattern (ends with '%')"),
            (b"abc", b"a(", 0, "E:unfinished capture"),
            (b"aXbXc", b"X?", 0, "'' ; 'X' ; 'X' ; ''"),
            (b"one two  three", b"%S+", 0, "'one' ; 'two' ; 'three'"),
            (b"aaa", b"a-", 0, "'' ; '' ; '' ; ''"),
            (b"aaa", b"a-", 2, "'' ; ''"),
            (b"(a)(b)", b"%b()", 0, "'(a)' ; '(b)'"),
            (b"THE (quick) fox", b"%f[%a]%a+", 0, "'THE' ; 'quick' ; 'fox'"),
            (b"xx yy", b"(.)%1", 0, "'x' ; 'y'"),
            (b"", b".*", 0, "''"),
            (b"ab", b".-", 0, "'' ; '' ; ''"),
            (b"a b", b"$", 0, "''"),
            (b"a$", b"a$", 0, ""),
        ];
        for &(s, p, init, expected) in cases {
            assert_eq!(show_gmatch(s, p, init), expected, "gmatch({}, {}, {init})", quote(s), quote(p));
        }
    }

    #[test]
    fn gsub_table() {
        // (subject, pattern, replacement string, max_n, lua5.4 result)
        type Case = (&'static [u8], &'static [u8], &'static [u8], Option<usize>, &'static str);
        let cases: &[Case] = &[
            (b"hello world", b"o", b"0", None, "'hell0 w0rld' 2"),
            (b"hello world", b"(o)", b"[%1]", Some(1), "'hell[o] world' 1"),
            (b"hello world", b"o", b"0", Some(0), "'hello world' 0"),
            (b"hello world", b"o", b"0", Some(5), "'hell0 w0rld' 2"),
            (b"hello", b"", b"-", None, "'-h-e-l-l-o-' 6"),
            (b"abc", b"%w*", b"-", None, "'-' 1"),
            (b"a,b,,c", b"[^,]*", b"X", None, "'X,X,X,X' 4"),
            (b"abc", b"^", b"x", None, "'xabc' 1"),
            (b"abc", b"$", b"x", None, "'abcx' 1"),
            (b"abc", b"^b", b"x", None, "'abc' 0"),
            (b"aaa", b"^a", b"b", None, "'baa' 1"),
            (b"aaa", b"^a*", b"b", None, "'b' 1"),
            (b"hello world", b"(%w+)", b"%1 %1", None, "'hello hello world world' 2"),
            (b"hello world", b"%w+", b"%0 %0", None, "'hello hello world world' 2"),
            (b"abc", b"%w", b"%1", None, "'abc' 3"),
            (b"abc", b"(%w)()", b"%2%1", None, "'2a3b4c' 3"),
            (b"a.b", b"%.", b"%%", None, "'a%b' 1"),
            (b"abc", b"b", b"%%%0%%", None, "'a%b%c' 1"),
            (b"abc", b"(a)(b)(c)", b"%3%2%1", None, "'cba' 1"),
            (b"hello world", b"(%w+) (%w+)", b"%2 %1", None, "'world hello' 1"),
            (b"x = 1", b"%s*=%s*", b"=", None, "'x=1' 1"),
            (b"abc", b"%w", b"%2", None, "E:invalid capture index %2"),
            (b"abc", b"(%w)", b"%2", None, "E:invalid capture index %2"),
            (b"abc", b"%w", b"%", None, "E:invalid use of '%' in replacement string"),
            (b"abc", b"%w", b"a%", None, "E:invalid use of '%' in replacement string"),
            (b"abc", b"%w", b"%x", None, "E:invalid use of '%' in replacement string"),
            (b"abc", b"%w", b"%a", None, "E:invalid use of '%' in replacement string"),
            (b"xyz", b"%w", b"%2", None, "E:invalid capture index %2"),
            (b"abc", b"[", b"x", None, "E:malformed pattern (missing ']')"),
            (b"abc", b"z%", b"x", None, "'abc' 0"),
            (b"", b"", b"x", None, "'x' 1"),
            (b"", b"x*", b"-", None, "'-' 1"),
            (b"abc", b".-", b".", None, "'.a.b.c.' 4"),
            (b"abc", b"^$", b"x", None, "'abc' 0"),
            (b"", b"^$", b"x", None, "'x' 1"),
            (b"a\x00b", b"%z", b"0", None, "'a0b' 1"),
            (b"aaa", b"a", b"%0%0", Some(2), "'aaaaa' 2"),
        ];
        for &(s, p, r, n, expected) in cases {
            assert_eq!(show_gsub(s, p, r, n), expected, "gsub({}, {}, {}, {n:?})", quote(s), quote(p), quote(r));
        }
    }

    #[test]
    fn match_structure() {
        let m = find(b"hello world", b"(o)(%s)()", 0).unwrap().unwrap();
        assert_eq!(
            m,
            Match {
                start: 4,
                end: 6,
                captures: vec![Capture::Span { start: 4, end: 5 }, Capture::Span { start: 5, end: 6 }, Capture::Position(6),],
            }
        );
        let m = find(b"hello", b"l+", 0).unwrap().unwrap();
        assert_eq!((m.start, m.end), (2, 4));
        assert!(m.captures.is_empty());
        assert_eq!(find(b"abc", b"b.", 3), Ok(None));
        // An init beyond the subject finds nothing (lua5.4 returns nil too).
        assert_eq!(find(b"abc", b".*", 4), Ok(None));
        assert_eq!(find(b"abc", b".*", 3).unwrap().unwrap().start, 3);
    }

    #[test]
    fn expand_replacement_cases() {
        let s = b"abc";
        let with_caps = find(s, b"(b)()", 0).unwrap().unwrap();
        let no_caps = find(s, b"b", 0).unwrap().unwrap();
        let expand = |repl: &[u8], m: &Match| {
            let mut out = b"<".to_vec();
            expand_replacement(repl, s, m, &mut out).map(|()| out)
        };
        assert_eq!(expand(b"[%0|%1|%2|%%]", &with_caps).unwrap(), b"<[b|b|3|%]");
        assert_eq!(expand(b"%1%0", &no_caps).unwrap(), b"<bb");
        assert_eq!(expand(b"plain", &no_caps).unwrap(), b"<plain");
        assert_eq!(expand(b"", &no_caps).unwrap(), b"<");
        let err = |repl: &[u8], m: &Match| expand(repl, m).unwrap_err().0;
        // lua5.4: string.gsub("abc", "(b)", "%0%1%9") -> invalid capture index %9
        assert_eq!(err(b"%0%1%9", &with_caps), "invalid capture index %9");
        assert_eq!(err(b"%2", &no_caps), "invalid capture index %2");
        assert_eq!(err(b"x%", &no_caps), "invalid use of '%' in replacement string");
        assert_eq!(err(b"%x", &no_caps), "invalid use of '%' in replacement string");
        assert_eq!(err(b"%\0", &no_caps), "invalid use of '%' in replacement string");
    }

    #[test]
    fn gmatch_state_round_trip() {
        // Resuming from the saved state continues exactly where it left off,
        // including the rule against an empty match at the previous end.
        let (s, p) = (b"a,b,,c", b"[^,]*");
        let mut spans = Vec::new();
        let mut state = GMatch::new(0).state();
        loop {
            let mut g = GMatch::from_state(state.0, state.1);
            let Some(m) = g.next(s, p).unwrap() else {
                break;
            };
            spans.push((m.start, m.end));
            state = g.state();
        }
        assert_eq!(spans, [(0, 1), (2, 3), (4, 4), (5, 6)]);
        assert_eq!(show_gmatch(s, p, 0), "'a' ; 'b' ; '' ; 'c'");
    }

    #[test]
    fn gsub_with_callbacks() {
        // A function/table replacement that yields false/nil keeps the match:
        // string.gsub("hello", "l+", function() end) --> hello 1
        let s = b"hello";
        let (out, n) = gsub::<PatternError>(s, b"l+", None, |m, out| {
            out.extend_from_slice(&s[m.start..m.end]);
            Ok(())
        })
        .unwrap();
        assert_eq!((out.as_slice(), n), (&b"hello"[..], 1));

        // Callback errors and pattern errors both surface as the caller's E.
        #[derive(Debug, PartialEq)]
        enum MyErr {
            Pattern(PatternError),
            Stop(usize),
        }
        impl From<PatternError> for MyErr {
            fn from(e: PatternError) -> Self {
                MyErr::Pattern(e)
            }
        }
        let r = gsub(b"a b c", b"%a", None, |m, _| if m.start == 2 { Err(MyErr::Stop(m.start)) } else { Ok(()) });
        assert_eq!(r, Err(MyErr::Stop(2)));
        let r = gsub(b"a b c", b"%", None, |_, _| Ok::<(), MyErr>(()));
        assert_eq!(r, Err(MyErr::Pattern(PatternError("malformed pattern (ends with '%')".into()))));
        // Captures are handed to the callback.
        let mut seen = Vec::new();
        gsub::<PatternError>(b"k=v, x=y", b"(%w+)=(%w+)", Some(1), |m, _| {
            seen.push(m.captures.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![vec![Capture::Span { start: 0, end: 1 }, Capture::Span { start: 2, end: 3 }]]);
    }

    #[test]
    fn unfinished_capture_in_gsub_is_an_error() {
        // As in lua5.4: only when the replacement reads the open capture
        // (string.gsub("abc", "(", "x") --> xaxbxcx 4).
        assert_eq!(gsub_str(b"abc", b"(", b"x", None).unwrap(), (b"xaxbxcx".to_vec(), 4));
        assert_eq!(gsub_str(b"abc", b"(", b"<%0>", None).unwrap(), (b"<>a<>b<>c<>".to_vec(), 4));
        assert_eq!(gsub_str(b"abc", b"(", b"%1", None).unwrap_err().0, "unfinished capture");
        assert_eq!(gsub_str(b"abc", b"(a)(", b"%1", None).unwrap(), (b"abc".to_vec(), 1));
        assert_eq!(gsub_str(b"abc", b"(a)(", b"%2", None).unwrap_err().0, "unfinished capture");
        // No match, no error (lua5.4: string.gsub("b", "(a", "x") --> b 0).
        assert_eq!(gsub_str(b"b", b"(a", b"x", None).unwrap(), (b"b".to_vec(), 0));
        // find and match still report it (lua5.4 pushes every capture).
        assert_eq!(find(b"abc", b"(", 0).unwrap_err().0, "unfinished capture");
    }

    #[test]
    fn plain_detection() {
        assert!(is_plain(b""));
        assert!(is_plain(b"hello world"));
        assert!(is_plain(b"a)b]c"));
        assert!(is_plain(b"\0\xff"));
        for special in b"^$*+?.([%-" {
            assert!(!is_plain(&[b'x', *special, b'y']), "{}", char::from(*special));
        }
    }

    #[test]
    fn match_depth_limit() {
        // Thresholds checked against lua5.4: 200 nested matcher calls are
        // allowed, the 201st raises "pattern too complex".
        let a300 = "a".repeat(300);
        let check = |p: String, expected: Result<usize, &str>| {
            let r = find(a300.as_bytes(), p.as_bytes(), 0);
            match expected {
                Ok(end) => assert_eq!(r.unwrap().unwrap().end, end, "{p}"),
                Err(msg) => assert_eq!(r.unwrap_err().0, msg, "{p}"),
            }
        };
        let complex = Err("pattern too complex");
        check("a?".repeat(199), Ok(199));
        check("a?".repeat(200), complex);
        check("a-".repeat(199), Ok(0));
        check("a-".repeat(200), complex);
        check("a*".repeat(200), Ok(300));
        check("()".repeat(16) + &"a?".repeat(183), Ok(183));
        check("()".repeat(16) + &"a?".repeat(184), complex);
        check("(a)".repeat(10) + &"a?".repeat(179), Ok(189));
        check("(a)".repeat(10) + &"a?".repeat(180), complex);
        check("%f[a]".repeat(500), Ok(0));
        check("a".repeat(300) + "$", Ok(300));
        // gmatch and gsub apply the same limit.
        let mut g = GMatch::new(0);
        let p = "a?".repeat(200);
        assert_eq!(g.next(a300.as_bytes(), p.as_bytes()).unwrap_err().0, "pattern too complex");
        assert_eq!(gsub_str(a300.as_bytes(), p.as_bytes(), b"", None).unwrap_err().0, "pattern too complex");
    }

    #[test]
    fn too_many_captures() {
        let p = "()".repeat(MAX_CAPTURES);
        assert_eq!(find(b"a", p.as_bytes(), 0).unwrap().unwrap().captures, vec![Capture::Position(0); MAX_CAPTURES]);
        let p = "()".repeat(MAX_CAPTURES + 1);
        assert_eq!(find(b"a", p.as_bytes(), 0).unwrap_err().0, "too many captures");
        let p = "(".repeat(MAX_CAPTURES + 1);
        assert_eq!(find(b"a", p.as_bytes(), 0).unwrap_err().0, "too many captures");
    }

    #[test]
    fn deepest_patterns_fit_in_a_small_stack() {
        let run = || {
            let s = "a".repeat(300);
            for p in ["a?".repeat(199), "a-".repeat(199), "(a)".repeat(16) + &"a?".repeat(167)] {
                assert!(find(s.as_bytes(), p.as_bytes(), 0).unwrap().is_some());
            }
            let p = "(a?)".repeat(32) + &"a?".repeat(200);
            assert!(find(s.as_bytes(), p.as_bytes(), 0).is_err());
        };
        std::thread::Builder::new().stack_size(512 * 1024).spawn(run).unwrap().join().unwrap();
    }

    #[test]
    fn long_subjects_do_not_recurse() {
        const N: usize = 1 << 20;
        let mut s = vec![b'a'; N];
        s.push(b'b');
        let whole = Some((0, N + 1));
        let span = |p: &[u8], s: &[u8]| find(s, p, 0).unwrap().map(|m| (m.start, m.end));
        assert_eq!(span(b"a-b", &s), whole);
        assert_eq!(span(b".-b", &s), whole);
        assert_eq!(span(b"a*b", &s), whole);
        assert_eq!(span(b"^a+b$", &s), whole);
        assert_eq!(span(b"^.-x", &s), None);
        assert_eq!(span(b"^a*x", &s), None);
        assert_eq!(span(b"^(a-)b", &s), whole);
        assert_eq!(span(b"%f[b]", &s), Some((N, N)));

        let mut t = b"ab".repeat(N / 2);
        t.extend_from_slice(b"cc");
        let m = find(&t, b"(.)%1", 0).unwrap().unwrap();
        assert_eq!((m.start, m.end), (N, N + 2));

        let half = b"a".repeat(N / 2);
        let mut big = half.clone();
        big.extend_from_slice(&half);
        assert_eq!(span(b"(a*)%1$", &big), Some((0, N)));

        let mut nested = b"(".repeat(N / 2);
        nested.extend_from_slice(&b")".repeat(N / 2));
        assert_eq!(span(b"%b()", &nested), Some((0, N)));

        let (out, n) = gsub_str(&s, b"a", b"%0", None).unwrap();
        assert_eq!((out.len(), n), (N + 1, N));
        let (out, n) = gsub_str(&s, b"", b"", None).unwrap();
        assert_eq!((out.len(), n), (N + 1, N + 2));

        let mut g = GMatch::new(0);
        let mut count = 0;
        while let Some(m) = g.next(&s, b"a+").unwrap() {
            assert_eq!((m.start, m.end), (0, N));
            count += 1;
        }
        assert_eq!(count, 1);
    }

    /// Minimal linear congruential generator for the fuzz test.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from((self.0 >> 33) % n as u64).unwrap()
        }
    }

    fn check_match(s: &[u8], m: &Match) {
        assert!(m.start <= m.end && m.end <= s.len());
        for c in &m.captures {
            match *c {
                Capture::Span { start, end } => assert!(start <= end && end <= s.len()),
                Capture::Position(p) => assert!(p <= s.len()),
                Capture::Unfinished => panic!("find and gmatch never give an open capture"),
            }
        }
    }

    /// Calls `each(subject, pattern, init, replacement, max_n)` on 20,000
    /// random cases, malformed patterns and odd bytes included.
    fn random_cases(mut each: impl FnMut(&[u8], &[u8], usize, &[u8], Option<usize>)) {
        let pattern_tokens: &[&[u8]] = &[
            b"a",
            b"b",
            b".",
            b"%a",
            b"%d",
            b"%s",
            b"%w",
            b"%A",
            b"%",
            b"[",
            b"]",
            b"[ab]",
            b"[^a]",
            b"[a-c]",
            b"[%a]",
            b"[]a]",
            b"[^]",
            b"(",
            b")",
            b"()",
            b"*",
            b"+",
            b"-",
            b"?",
            b"^",
            b"$",
            b"%b()",
            b"%bab",
            b"%b",
            b"%f[a]",
            b"%f[%w]",
            b"%f",
            b"%1",
            b"%2",
            b"%0",
            b"\0",
            b"%z",
            b"%%",
            b"%(",
            b"%]",
            b"x",
            b"\x80",
            b"[\x80-\xff]",
            b"[a-]",
            b"[%]]",
            b"%x",
        ];
        let subject_bytes: &[u8] = b"ab()%[]^$\0x 1-A\n\x80\xff";
        let replacements: &[&[u8]] = &[b"<%0>", b"%1", b"%2", b"%%", b"%", b"%x", b"x", b""];
        let mut rng = Lcg(0x5eed);
        for _ in 0..20_000 {
            let mut p = Vec::new();
            for _ in 0..rng.below(10) {
                if rng.below(8) == 0 {
                    p.push(u8::try_from(rng.below(256)).unwrap());
                } else {
                    p.extend_from_slice(pattern_tokens[rng.below(pattern_tokens.len())]);
                }
            }
            let s: Vec<u8> = (0..rng.below(16)).map(|_| subject_bytes[rng.below(subject_bytes.len())]).collect();
            let init = rng.below(s.len() + 2);
            let repl = replacements[rng.below(replacements.len())];
            let max_n = [None, Some(0), Some(1), Some(2)][rng.below(4)];
            each(&s, &p, init, repl, max_n);
        }
    }

    #[test]
    fn random_patterns_do_not_panic() {
        random_cases(|s, p, init, repl, max_n| {
            if let Ok(Some(m)) = find(s, p, init) {
                check_match(s, &m);
                assert!(m.start >= init);
            }
            let mut g = GMatch::new(init);
            for _ in 0..=s.len() + 1 {
                match g.next(s, p) {
                    Ok(Some(m)) => check_match(s, &m),
                    _ => break,
                }
            }
            if let Ok((_, n)) = gsub_str(s, p, repl, max_n) {
                assert!(n <= s.len() + 1 && n <= max_n.unwrap_or(usize::MAX));
            }
        });
    }

    /// The class table agrees with the C locale's definitions for every
    /// byte and every class letter (upper case: the complement), and any
    /// other byte after `%` matches only itself.
    #[test]
    fn class_table_matches_the_c_locale() {
        for cl in 0..=255u8 {
            for c in 0..=255u8 {
                let want = match cl.to_ascii_lowercase() {
                    b'a' => Some(c.is_ascii_alphabetic()),
                    b'c' => Some(c.is_ascii_control()),
                    b'd' => Some(c.is_ascii_digit()),
                    b'g' => Some(c.is_ascii_graphic()),
                    b'l' => Some(c.is_ascii_lowercase()),
                    b'p' => Some(c.is_ascii_punctuation()),
                    b's' => Some(b" \t\n\x0b\x0c\r".contains(&c)),
                    b'u' => Some(c.is_ascii_uppercase()),
                    b'w' => Some(c.is_ascii_alphanumeric()),
                    b'x' => Some(c.is_ascii_hexdigit()),
                    b'z' => Some(c == 0),
                    _ => None,
                };
                let want = match want {
                    Some(m) => m != cl.is_ascii_uppercase(),
                    None => c == cl,
                };
                assert_eq!(class_matches(c, cl), want, "byte {c:#x} class %{}", cl as char);
            }
        }
    }

    thread_local! {
        /// Turns off the first-class check (`Matcher::first_class`), so a
        /// test can compare the scanning loops with and without it.
        pub(super) static NO_FIRST_CLASS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Everything `find`, `gmatch` and `gsub` give for one case, errors
    /// included.
    fn outcomes(s: &[u8], p: &[u8], init: usize, repl: &[u8], max_n: Option<usize>) -> String {
        let mut g = GMatch::new(init);
        let mut all = Vec::new();
        for _ in 0..=s.len() + 1 {
            match g.next(s, p) {
                Ok(Some(m)) => all.push(format!("{m:?}")),
                Ok(None) => break,
                Err(e) => {
                    all.push(format!("{e:?}"));
                    break;
                }
            }
        }
        format!("{:?} | {all:?} | {:?}", find(s, p, init), gsub_str(s, p, repl, max_n))
    }

    /// Skipping the starts whose byte fails the pattern's first class
    /// changes nothing: same matches, captures, counts and errors.
    #[test]
    fn skipping_starts_by_the_first_class_changes_no_result() {
        let mut skipped = 0;
        random_cases(|s, p, init, repl, max_n| {
            let fast = outcomes(s, p, init, repl, max_n);
            NO_FIRST_CLASS.with(|off| off.set(true));
            let slow = outcomes(s, p, init, repl, max_n);
            NO_FIRST_CLASS.with(|off| off.set(false));
            assert_eq!(fast, slow, "subject {s:?} pattern {:?}", String::from_utf8_lossy(p));
            skipped += usize::from(Matcher::new(s, split_anchor(p).1).first.is_some());
        });
        // The check must actually have applied to a good share of the cases.
        assert!(skipped > 5_000, "first class found in only {skipped} cases");
    }
}
