//! Tier 2 through the engine API: speculation, deopts by guard kind,
//! recompiles without the failed speculation, pinning to tier 1, OSR, and
//! the seeded round trip a warm start relies on (export what one engine
//! learned, import it into a fresh one, compile at tier 2 before the first
//! call, take none of the deopts the first engine already took).

use std::time::{Duration, Instant};

use ember_engine::{CompileRequest, Engine, EngineConfig, FunctionKey, GuardKind, LuaValue, TierEventKind, TierMode, TieringConfig};

const MODULE: &str = r#"
function add(a, b) return a + b end

function classify(x, limit)
  local big = x > limit
  if big then return 2 end
  return 1
end

function split(x, limit)
  if x > limit then return 2 end
  return 1
end

function drive(n, float_from)
  local s = 0
  for i = 1, n do
    local x = i
    if i >= float_from then x = i + 0.5 end
    s = add(s, x)
  end
  return s
end

function phases(n, tail)
  local s = 0
  for i = 1, n do s = s + i end
  local f, g = 0.5, 0.25
  if tail then
    for _ = 1, 10 do f = f + g end
  end
  return s, f
end

function long_loop(n)
  local s, j = 0, 0
  for i = 1, n do
    j = (j * 7 + i) % 1000
    s = s + j
  end
  return s
end
"#;

/// Tier-up on the invoking thread (no workers), at low thresholds.
fn auto(deopt_limit: u32, recompile_limit: u32) -> TieringConfig {
    TieringConfig {
        mode: TierMode::Auto,
        workers: 0,
        compile_on_invoking_thread: true,
        tier1_threshold: 40,
        tier2_threshold: 400,
        deopt_limit,
        recompile_limit,
        ..TieringConfig::default()
    }
}

fn engine(t: TieringConfig) -> Engine {
    let e = Engine::with_config(EngineConfig { tiering: t, ..EngineConfig::default() });
    e.load_module("m", MODULE.as_bytes()).unwrap();
    e
}

fn key_of(e: &Engine, name: &str) -> FunctionKey {
    e.module("m").unwrap().functions().iter().find(|p| p.name() == name).unwrap().key()
}

fn call(st: &mut ember_engine::State, f: &str, args: &[LuaValue]) -> Vec<LuaValue> {
    st.call(f, args).unwrap()
}

fn deopts_in(e: &Engine, name: &str) -> u64 {
    e.jit_stats().functions.iter().find(|f| f.name == name).map_or(0, |f| f.deopts)
}

#[test]
fn an_int_speculation_that_starts_failing_deopts_then_is_compiled_away() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    // Integers only: `add` reaches tier 2 speculating integer addition.
    assert_eq!(call(&mut st, "drive", &[LuaValue::Int(2000), LuaValue::Int(i64::MAX)]), vec![LuaValue::Int(2001000)]);
    let add = e.function_tier(key_of(&e, "add")).unwrap();
    assert_eq!(add.tier, 2, "{add:?}");
    assert_eq!(add.deopts, 0);
    // Floats from call 1000 on: the guard fails, the interpreter finishes
    // each call, and after 4 failures `add` is recompiled without it.
    let got = call(&mut st, "drive", &[LuaValue::Int(2000), LuaValue::Int(1000)]);
    assert_eq!(got, vec![LuaValue::Float(2001000.0 + 0.5 * 1001.0)]);
    let stats = e.jit_stats();
    let site = stats.deopt_sites.iter().find(|d| d.name == "add").expect("a deopt site in add");
    assert_eq!(site.guard, Some(GuardKind::OperandType));
    assert!(site.count >= 4 && site.count <= 8, "deopts stop soon after the limit: {site:?}");
    assert!(site.last_reason.contains("float"), "{site:?}");
    assert!(stats.recompiles >= 1);
    let before = deopts_in(&e, "add");
    call(&mut st, "drive", &[LuaValue::Int(2000), LuaValue::Int(1)]);
    assert_eq!(deopts_in(&e, "add"), before, "the recompiled code no longer speculates there");
    assert_eq!(e.function_tier(key_of(&e, "add")).unwrap().tier, 2);
    // The failure is an outcome in the function's profile (what nodes gossip).
    let profile = e.compact_profile(key_of(&e, "add")).unwrap();
    let o = profile.outcomes.iter().find(|o| o.kind == GuardKind::OperandType).expect("outcome recorded");
    assert!(o.failures >= 4);
    assert_eq!(profile.tier, 2);
    // And the tier-event log has the deopt and the recompile.
    let events = e.tier_events(0);
    assert!(events.iter().any(|ev| ev.kind == TierEventKind::Deopt && ev.name == "add" && ev.guard == Some(GuardKind::OperandType)));
    assert!(events.iter().filter(|ev| ev.kind == TierEventKind::Compiled && ev.name == "add" && ev.tier == 2).count() >= 2);
}

#[test]
fn code_the_profile_never_reached_is_compiled_generic_not_guessed_integer() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    // The first loop gets hot and its integer sites profiled; the float
    // additions in the tail never run before tier 2 compiles `phases`.
    for _ in 0..4 {
        call(&mut st, "phases", &[LuaValue::Int(3000), LuaValue::Bool(false)]);
    }
    assert_eq!(e.function_tier(key_of(&e, "phases")).unwrap().tier, 2);
    let got = call(&mut st, "phases", &[LuaValue::Int(10), LuaValue::Bool(true)]);
    assert_eq!(got, vec![LuaValue::Int(55), LuaValue::Float(3.0)]);
    let stats = e.jit_stats();
    let guessed = stats.deopt_sites.iter().filter(|d| d.name == "phases" && d.guard == Some(GuardKind::OperandType)).count();
    assert_eq!(guessed, 0, "no integer guess on unreached float code: {:?}", stats.deopt_sites);
}

#[test]
fn a_branch_that_was_never_taken_deopts_when_it_is() {
    // Enough runs before tier 2 for the branch to count as cold (64).
    let e = engine(TieringConfig { tier2_threshold: 4000, ..auto(2, 4) });
    let mut st = e.new_state();
    st.require("m").unwrap();
    for i in 0..3000 {
        assert_eq!(call(&mut st, "classify", &[LuaValue::Int(i % 50), LuaValue::Int(100)]), vec![LuaValue::Int(1)]);
    }
    assert_eq!(e.function_tier(key_of(&e, "classify")).unwrap().tier, 2);
    for _ in 0..5 {
        assert_eq!(call(&mut st, "classify", &[LuaValue::Int(500), LuaValue::Int(100)]), vec![LuaValue::Int(2)]);
    }
    let stats = e.jit_stats();
    let site = stats.deopt_sites.iter().find(|d| d.name == "classify" && d.guard == Some(GuardKind::ColdBranch));
    let site = site.unwrap_or_else(|| panic!("no cold-branch deopt: {:?}", stats.deopt_sites));
    assert_eq!(site.count, 2, "two failures reach the limit, then the recompile includes the branch");
}

#[test]
fn a_comparison_that_always_went_one_way_deopts_when_it_does_not() {
    // `x > limit` jumps straight on its comparison (no `Test`): the
    // comparison's own taken/not-taken counts make its other side cold.
    let e = engine(TieringConfig { tier2_threshold: 4000, ..auto(2, 4) });
    let mut st = e.new_state();
    st.require("m").unwrap();
    for i in 0..3000 {
        assert_eq!(call(&mut st, "split", &[LuaValue::Int(i % 50), LuaValue::Int(100)]), vec![LuaValue::Int(1)]);
    }
    assert_eq!(e.function_tier(key_of(&e, "split")).unwrap().tier, 2);
    // The counts travel in the profile: one branch site, never the "big" way.
    let bias = e.compact_profile(key_of(&e, "split")).unwrap().branch_bias;
    assert_eq!(bias.len(), 1, "{bias:?}");
    assert!(bias[0] == 1 || bias[0] == 255, "a one-sided bias, got {bias:?}");
    for _ in 0..5 {
        assert_eq!(call(&mut st, "split", &[LuaValue::Int(500), LuaValue::Int(100)]), vec![LuaValue::Int(2)]);
    }
    let stats = e.jit_stats();
    let site = stats.deopt_sites.iter().find(|d| d.name == "split" && d.guard == Some(GuardKind::ColdBranch));
    let site = site.unwrap_or_else(|| panic!("no cold-branch deopt: {:?}", stats.deopt_sites));
    assert_eq!(site.count, 2, "two failures reach the limit, then the recompile includes the branch");
    // And the recompiled code takes both ways without deopting again.
    for i in 0..200 {
        let want = if i % 2 == 0 { 2 } else { 1 };
        assert_eq!(
            call(&mut st, "split", &[LuaValue::Int(if i % 2 == 0 { 500 } else { 5 }), LuaValue::Int(100)]),
            vec![LuaValue::Int(want)]
        );
    }
    let again = e.jit_stats().deopt_sites.iter().filter(|d| d.name == "split").map(|d| d.count).sum::<u64>();
    assert_eq!(again, 2);
}

#[test]
fn a_function_that_keeps_deoptimizing_is_pinned_to_tier_1() {
    // Recompile limit 0: the first time a speculation fails past the limit
    // the function goes back to tier 1 for good.
    let e = engine(auto(2, 0));
    let mut st = e.new_state();
    st.require("m").unwrap();
    call(&mut st, "drive", &[LuaValue::Int(2000), LuaValue::Int(i64::MAX)]);
    assert_eq!(e.function_tier(key_of(&e, "add")).unwrap().tier, 2);
    let want = call(&mut st, "drive", &[LuaValue::Int(2000), LuaValue::Int(10)]);
    assert_eq!(want, vec![LuaValue::Float(2001000.0 + 0.5 * 1991.0)]);
    let t = e.function_tier(key_of(&e, "add")).unwrap();
    assert_eq!(t.tier, 1, "{t:?}");
    assert!(t.tier2_blocked.as_deref().unwrap_or("").contains("pinned"), "{t:?}");
    assert_eq!(e.jit_stats().pinned, 1);
    // Pinned means pinned: more traffic does not bring tier 2 back.
    call(&mut st, "drive", &[LuaValue::Int(5000), LuaValue::Int(i64::MAX)]);
    assert_eq!(e.function_tier(key_of(&e, "add")).unwrap().tier, 1);
}

#[test]
fn a_hot_loop_inside_one_call_moves_to_tier_2_at_its_header() {
    // Tier 1 on the first call; the loop then runs long enough in that one
    // invocation to be compiled at tier 2 and entered mid-loop.
    let t = TieringConfig { tier1_threshold: 1, tier2_threshold: 20_000, ..auto(8, 4) };
    let e = engine(t);
    let mut st = e.new_state();
    st.require("m").unwrap();
    let n = 2_000_000i64;
    let mut want = 0i64;
    let mut j = 0i64;
    for i in 1..=n {
        j = (j * 7 + i) % 1000;
        want += j;
    }
    assert_eq!(call(&mut st, "long_loop", &[LuaValue::Int(n)]), vec![LuaValue::Int(want)]);
    let stats = e.jit_stats();
    assert!(stats.osr_entries >= 1, "no OSR entry: {stats:?}");
    let f = e.function_tier(key_of(&e, "long_loop")).unwrap();
    assert_eq!(f.tier, 2);
    assert_eq!(f.deopts, 0);
    assert_eq!(st.stats().tier2_calls, 0, "tier 2 was entered mid-call, not by a call");
}

#[test]
fn a_short_loop_in_many_invocations_still_reaches_tier_2() {
    // Each invocation runs fewer loop iterations than a tick slice; the
    // slices must carry over between invocations so that tier-1 loop work
    // keeps counting toward tier 2 (a node's traffic looks like this).
    let t = TieringConfig { tier1_threshold: 40, tier2_threshold: 50_000, ..auto(8, 4) };
    let e = engine(t);
    let mut st = e.new_state();
    st.require("m").unwrap();
    // As a node runs it: every invocation under a deadline.
    st.set_limits(ember_engine::Limits { deadline: Some(Duration::from_secs(60)), ..ember_engine::Limits::default() });
    let mut calls = 0;
    while e.function_tier(key_of(&e, "long_loop")).unwrap().tier != 2 {
        call(&mut st, "long_loop", &[LuaValue::Int(1000)]);
        calls += 1;
        // 50k of hotness is 50 calls' worth of back-edges, plus the slice
        // that happens to straddle the tier-up.
        assert!(calls < 200, "still not at tier 2 after {calls} calls of 1000 iterations: {:?}", e.function_tier(key_of(&e, "long_loop")));
    }
    // Its compile event says what it speculated: integer arithmetic.
    let key = key_of(&e, "long_loop");
    let ev = e.tier_events(0).into_iter().find(|ev| ev.key == key && ev.kind == TierEventKind::Compiled && ev.tier == 2).unwrap();
    let what = ev.reason.unwrap_or_default();
    assert!(what.starts_with("speculates: int "), "{what}");
}

/// Waits until `key` has tier-2 code (the request runs on a worker).
fn wait_tier2(e: &Engine, key: FunctionKey) {
    let t0 = Instant::now();
    while e.function_tier(key).unwrap().tier != 2 {
        assert!(t0.elapsed() < Duration::from_secs(30), "no tier-2 code within 30 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn seeded_outcomes_let_a_fresh_engine_compile_at_tier_2_first_and_skip_known_deopts() {
    // Engine A learns: integers, then floats; `add` deopts and recompiles.
    let a = engine(auto(3, 4));
    let mut st = a.new_state();
    st.require("m").unwrap();
    call(&mut st, "drive", &[LuaValue::Int(2000), LuaValue::Int(i64::MAX)]);
    call(&mut st, "drive", &[LuaValue::Int(2000), LuaValue::Int(1000)]);
    assert!(deopts_in(&a, "add") >= 3);
    let key = key_of(&a, "add");
    let exported = a.compact_profile(key).unwrap();
    assert!(exported.outcomes.iter().any(|o| o.kind == GuardKind::OperandType && o.failures >= 3));

    // Engine B: nothing ran yet. Seed, ask for tier 2, then run the
    // workload A ended on. No deopt: it compiled what A learned.
    let background = TieringConfig { workers: 1, tier1_threshold: u64::MAX / 4, tier2_threshold: u64::MAX / 4, ..auto(3, 4) };
    let b = engine(background.clone());
    b.seed_profile(&exported).unwrap();
    assert_eq!(b.compile_now_at(key, 2).unwrap(), CompileRequest::Queued);
    wait_tier2(&b, key);
    let mut sb = b.new_state();
    sb.require("m").unwrap();
    let got = call(&mut sb, "drive", &[LuaValue::Int(2000), LuaValue::Int(1000)]);
    assert_eq!(got, vec![LuaValue::Float(2001000.0 + 0.5 * 1001.0)]);
    assert_eq!(deopts_in(&b, "add"), 0, "{:?}", b.jit_stats().deopt_sites);
    assert_eq!(b.jit_stats().tier2_compiled, 1);

    // Control: the same early compile without the seed guesses integers
    // and deopts: the imported profile is what saved B from it.
    let c = engine(background);
    assert_eq!(c.compile_now_at(key, 2).unwrap(), CompileRequest::Queued);
    wait_tier2(&c, key);
    let mut sc = c.new_state();
    sc.require("m").unwrap();
    call(&mut sc, "drive", &[LuaValue::Int(2000), LuaValue::Int(1000)]);
    assert!(deopts_in(&c, "add") > 0);
}

#[test]
fn tier_2_requests_are_checked() {
    let e = engine(TieringConfig { mode: TierMode::Interpreter, ..TieringConfig::default() });
    let key = key_of(&e, "add");
    assert!(e.compile_now_at(key, 2).unwrap_err().contains("interpreter"));
    assert!(e.compile_now_at(key, 3).unwrap_err().contains("expected 1 or 2"));
    let e = engine(TieringConfig { workers: 1, ..TieringConfig::default() });
    assert!(e.compile_now_at(FunctionKey::default(), 2).unwrap_err().contains("no loaded function"));
    assert_eq!(e.compile_now_at(key, 2).unwrap(), CompileRequest::Queued);
    wait_tier2(&e, key);
    assert_eq!(e.compile_now_at(key, 2).unwrap(), CompileRequest::AlreadyCompiled);
}

#[test]
fn a_lying_profile_costs_deopts_that_become_outcomes_but_never_a_wrong_result() {
    // A well-formed profile that lies: it claims `add` only ever saw
    // integers. It may cost deopts; it may never change a result.
    let honest = engine(auto(3, 4));
    let key = key_of(&honest, "add");
    let mut st = honest.new_state();
    st.require("m").unwrap();
    call(&mut st, "drive", &[LuaValue::Int(500), LuaValue::Int(i64::MAX)]);
    let mut lie = honest.compact_profile(key).unwrap();
    // Integers at every site of `add`, no outcomes: tier 2 will speculate.
    for b in lie.site_bits.iter_mut() {
        *b = 0x11;
    }
    lie.outcomes.clear();

    let background = TieringConfig { workers: 1, tier1_threshold: u64::MAX / 4, tier2_threshold: u64::MAX / 4, ..auto(3, 4) };
    let victim = engine(background);
    victim.seed_profile(&lie).unwrap();
    victim.compile_now_at(key, 2).unwrap();
    wait_tier2(&victim, key);
    let mut sv = victim.new_state();
    sv.require("m").unwrap();
    // Floats from the first call: every speculation in `add` is wrong.
    let got = call(&mut sv, "drive", &[LuaValue::Int(3000), LuaValue::Int(1)]);
    assert_eq!(got, vec![LuaValue::Float((1..=3000).map(|i| i as f64 + 0.5).sum())]);
    assert!(deopts_in(&victim, "add") >= 3, "the lie cost deopts");
    let learned = victim.compact_profile(key).unwrap();
    assert!(learned.outcomes.iter().any(|o| o.kind == GuardKind::OperandType && o.failures >= 3), "{learned:?}");
}
