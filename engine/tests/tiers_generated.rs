//! Generated programs that make the tiers disagree if anything is wrong:
//! functions called in loops long enough to tier up, with types that
//! change part-way (integers, then floats, then numeric strings), tables,
//! closures that write captured locals, and calls between functions. Each
//! program runs in tier 0, tier 1, tier 2 (compiled on the first call,
//! before any feedback) and auto with low thresholds (0 -> 1 -> 2 mid-run
//! from real feedback, with OSR); every run must print what lua5.4 prints.
//!
//! CI runs `EMBER_TIER_PROGRAMS` programs (default 10,000) in batches of
//! 50 per lua5.4 process and per engine; set it higher for longer local
//! runs, and `EMBER_TIER_SEED` to explore other programs.

mod common;

use common::XorShift;
use std::io::Write as _;
use std::process::Command;

use ember_engine::{Engine, EngineConfig, JitStats, Limits, OutputCapture, TierMode, TieringConfig};

struct Gen {
    r: XorShift,
}

impl Gen {
    fn next(&mut self) -> u64 {
        self.r.next()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        self.r.pick(xs)
    }

    /// A numeric-ish operand inside a function with parameters a, b and
    /// locals r, t, up.
    fn operand(&mut self) -> String {
        match self.below(9) {
            0 => self.pick(&["1", "2", "3", "-4", "7", "0", "100"]).into(),
            1 => self.pick(&["0.5", "2.0", "-1.25", "1e3"]).into(),
            2 | 3 => "a".into(),
            4 => "b".into(),
            5 => "r".into(),
            6 => format!("(t[{}] or 0)", 1 + self.below(4)),
            7 => "up".into(),
            _ => "#t".into(),
        }
    }

    fn arith(&mut self) -> String {
        let op = self.pick(&["+", "-", "*", "+", "-", "*", "/", "//", "%", "&", "|", "~", "<<", ">>", "^"]);
        let (x, y) = (self.operand(), self.operand());
        match op {
            // Keep the operands of bitwise ops and `%`/`//` from erroring
            // all the time: integer-valued floats convert, others fail (the
            // error message must match too, so some failures are kept).
            "&" | "|" | "~" | "<<" | ">>" => format!("(math.floor({x}) {op} {})", self.below(8)),
            "//" | "%" => format!("({x} {op} {})", self.pick(&["3", "-2", "7", "b", "2.5"])),
            "^" => format!("({x} ^ 2)"),
            _ => format!("({x} {op} {y})"),
        }
    }

    fn condition(&mut self) -> String {
        let op = self.pick(&["<", "<=", ">", ">=", "==", "~="]);
        format!("{} {op} {}", self.operand(), self.operand())
    }

    /// A call of a `math` function tier 2 computes in place, on operands
    /// whose type may change (strings convert; floors too large for an
    /// integer stay floats).
    fn math_call(&mut self) -> String {
        let (x, y) = (self.operand(), self.operand());
        match self.below(7) {
            0 => format!("math.sqrt(math.abs({x}))"),
            1 => format!("math.floor({x})"),
            2 => format!("math.ceil({x} / 3)"),
            3 => format!("math.abs({x})"),
            4 => format!("math.sin({x}) * math.cos({y})"),
            5 => format!("math.exp({x} % 3)"),
            _ => format!("math.tan({x} % 1)"),
        }
    }

    fn statement(&mut self, depth: u32) -> String {
        match self.below(if depth == 0 { 6 } else { 9 }) {
            0 | 1 => format!("r = {}", self.arith()),
            2 => format!("t[{}] = {}", 1 + self.below(4), self.arith()),
            3 => "up = up + 1".into(),
            4 => format!("r = r + {}", self.operand()),
            // A NaN result is dropped: `math.abs` makes a positive NaN out
            // of a negative one, and which of two NaNs a sum keeps differs
            // between lua5.4 and Ember (tests/lua/README.md).
            5 => format!("do local m = {} if m == m then r = r + m end end", self.math_call()),
            6 => format!("if {} then {} else {} end", self.condition(), self.statement(depth - 1), self.statement(depth - 1)),
            7 => format!("for j = 1, {} do {} end", 1 + self.below(4), self.statement(depth - 1)),
            _ => format!("local w = 0 while w < 3 and r > 1000 do r = r // 2 w = w + 1 {} end", self.statement(depth - 1)),
        }
    }

    /// The value passed on call `i`: its type may change part-way.
    fn argument(&mut self, switch_at: u64) -> String {
        match self.below(6) {
            0 => "i".into(),
            1 => format!("(i < {switch_at} and i or i + 0.5)"),
            2 => format!("(i < {switch_at} and i or tostring(i))"),
            3 => format!("(i < {switch_at} and i * 2 or i / 4)"),
            4 => "i * 0.25".into(),
            _ => format!("(i % {} == 0 and 1.5 or i)", 2 + self.below(5)),
        }
    }

    /// One program, self-contained in a `do` block; prints its results or
    /// its error.
    fn program(&mut self, id: usize) -> String {
        let n = 50 + self.below(250);
        let switch_at = 10 + self.below(n);
        let mut body = String::new();
        for _ in 0..2 + self.below(4) {
            body.push_str("    ");
            body.push_str(&self.statement(2));
            body.push('\n');
        }
        let helper = self.arith();
        let (x, y) = (self.argument(switch_at), self.argument(switch_at));
        let k0 = self.pick(&["0", "1", "2.5"]);
        let kstep = self.pick(&["1", "0.5", "3"]);
        let kevery = 1 + self.below(20);
        format!(
            "do -- program {id}
  local up = 0
  local t = {{1, 2, 3}}
  local function g(a, b) local r = 0 return {helper} end
  local function f(a, b)
    local r = g(a, b)
{body}    return r
  end
  local bump = function() up = up + 2 end
  local ok, e = pcall(function()
    local acc = 0
    local k = {k0}
    local function inc() k = k + {kstep} end
    for i = 1, {n} do
      local v = f({x}, {y})
      if type(v) == 'number' then acc = acc + v else acc = acc + 1 end
      if i % 7 == 0 then bump() end
      -- k is captured by inc: copies and arithmetic must read it afresh.
      local kk = k
      if i % {kevery} == 0 then inc() end
      acc = acc + kk * 2 - k
    end
    return acc
  end)
  print({id}, ok, e, up, t[1], t[2], t[3], t[4])
end
"
        )
    }
}

/// The modes every program runs in.
fn modes() -> Vec<(&'static str, TieringConfig)> {
    let base = TieringConfig { workers: 0, compile_on_invoking_thread: true, ..TieringConfig::default() };
    vec![
        ("tier 0", TieringConfig { mode: TierMode::Interpreter, ..base.clone() }),
        ("tier 1", TieringConfig { mode: TierMode::Baseline, ..base.clone() }),
        ("tier 2", TieringConfig { mode: TierMode::Optimizing, ..base.clone() }),
        ("auto 0->1->2", TieringConfig { mode: TierMode::Auto, tier1_threshold: 30, tier2_threshold: 300, deopt_limit: 3, ..base }),
    ]
}

/// Runs a batch; returns what it printed and the engine's JIT counters.
fn run_ember(src: &str, tiering: TieringConfig) -> (String, Option<JitStats>) {
    let engine = Engine::with_config(EngineConfig { tiering, ..EngineConfig::default() });
    if let Err(e) = engine.load_module("gen", src.as_bytes()) {
        return (format!("<load error: {e}>"), None);
    }
    let mut st = engine.new_state();
    // A miscompiled loop must show up as a difference, not a hang.
    st.set_limits(Limits { deadline: Some(std::time::Duration::from_secs(20)), ..Limits::default() });
    let buf = OutputCapture::new();
    st.set_output(Box::new(buf.clone()));
    if let Err(e) = st.require("gen") {
        return (format!("<run error: {e}>"), None);
    }
    (String::from_utf8_lossy(&buf.take()).into_owned(), Some(engine.jit_stats()))
}

#[test]
fn generated_programs_agree_across_tiers_and_with_lua54() {
    let lua_ok = Command::new("lua5.4").arg("-v").output().is_ok_and(|o| o.status.success());
    if !lua_ok {
        assert!(std::env::var_os("EMBER_REQUIRE_LUA").is_none(), "EMBER_REQUIRE_LUA is set but lua5.4 is missing");
        eprintln!("NOTICE: lua5.4 not found; tiers are compared with each other only");
    }
    let total: usize = std::env::var("EMBER_TIER_PROGRAMS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let seed: u64 = std::env::var("EMBER_TIER_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_7135_c0de_0001);
    const BATCH: usize = 50;
    let dir = std::env::temp_dir().join(format!("ember-tiers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut generator = Gen { r: XorShift(seed | 1) };
    let modes = modes();
    let mut failures = Vec::new();
    let mut id = 0;
    let (mut tier2_compiles, mut deopts, mut recompiles, mut osr) = (0u64, 0u64, 0u64, 0u64);
    while id < total && failures.len() < 5 {
        let mut src = String::new();
        let first = id;
        while id < total && id - first < BATCH {
            src.push_str(&generator.program(id));
            id += 1;
        }
        let reference = if lua_ok {
            let file = dir.join("batch.lua");
            std::fs::File::create(&file).unwrap().write_all(src.as_bytes()).unwrap();
            let out = Command::new("lua5.4").arg(&file).output().unwrap();
            // Error messages name the chunk: lua5.4 used the file path.
            Some(String::from_utf8_lossy(&out.stdout).replace(&format!("{}:", file.display()), "gen:"))
        } else {
            None
        };
        let mut outputs = Vec::new();
        for (name, cfg) in &modes {
            let (got, stats) = run_ember(&src, cfg.clone());
            if let Some(s) = stats {
                tier2_compiles += s.tier2_compiled;
                deopts += s.deopts;
                recompiles += s.recompiles;
                osr += s.osr_entries;
            }
            outputs.push((*name, got));
        }
        let want = reference.unwrap_or_else(|| outputs[0].1.clone());
        for (name, got) in &outputs {
            if *got != want {
                let line = want.lines().zip(got.lines()).position(|(a, b)| a != b).unwrap_or(0);
                let wanted = want.lines().nth(line).unwrap_or("<end>");
                let prog_id: usize = wanted.split('\t').next().and_then(|x| x.parse().ok()).unwrap_or(first);
                let prog = src.split("do -- program ").find(|p| p.starts_with(&format!("{prog_id}\n"))).unwrap_or("");
                failures.push(format!(
                    "{name}, programs {first}..{id}, output line {}:\n  want: {wanted}\n  got:  {}\n  program:\ndo -- program {prog}",
                    line + 1,
                    got.lines().nth(line).unwrap_or("<end>")
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    eprintln!(
        "{id} generated programs agree in {} modes{}: {tier2_compiles} tier-2 compiles, {deopts} deopts, {recompiles} recompiles, {osr} OSR entries",
        modes.len(),
        if lua_ok { " and with lua5.4" } else { "" }
    );
    // The comparison means something only if tier 2 really ran, guessed
    // wrong and recovered.
    assert!(tier2_compiles > id as u64, "only {tier2_compiles} tier-2 compiles for {id} programs");
    assert!(deopts > 0 && recompiles > 0, "no deopts ({deopts}) or recompiles ({recompiles}): the type changes did not reach tier 2");
}
