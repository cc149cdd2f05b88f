//! Tier 2 through the engine API: speculation, deopts by guard kind,
//! recompiles without the failed speculation, pinning to tier 1, OSR, and
//! the seeded round trip a warm start relies on (export what one engine
//! learned, import it into a fresh one, compile at tier 2 before the first
//! call, take none of the deopts the first engine already took).

use std::time::{Duration, Instant};

use ember_engine::{CompileRequest, Engine, EngineConfig, FunctionKey, GuardKind, LuaValue, TierEventKind, TierMode, TieringConfig};

const MODULE: &str = r#"
function add(a, b) return a + b end

function pick(t, k) return rawget(t, k) end
function sum_picks(n)
  local t, s = { 5 }, 0
  for _ = 1, n do s = s + pick(t, 1) end
  return s
end

function late_loop(n, go)
  local s = 0
  if go then
    for i = 1, n do s = s + i end
  end
  return s
end

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

function scale(x) return x * 3 end

function sum_scaled(n, step)
  local s = 0
  for i = 1, n do s = s + scale(i * step) end
  return s
end

function redefine_scale(factor) scale = function(x) return x * factor end end

function checked(x)
  if x > 2500 then error("too big: " .. x) end
  return x + 1
end

function sum_checked(n)
  local s = 0
  for i = 1, n do s = s + checked(i) end
  return s
end

function guarded_sum(n) return pcall(sum_checked, n) end

rate = 3

function total_rate(n)
  local s = 0
  for i = 1, n do s = s + rate * i end
  return s
end

function set_rate(v) rate = v end

function sum_array(t, lo, hi)
  local s = 0
  for i = lo, hi do s = s + t[i] end
  return s
end

function fill(t, n)
  for i = 1, n do t[i] = i * 2 end
  return #t
end

function sum_meta(n, attach)
  local t = {}
  for i = 1, n do t[i] = i end
  local s = 0
  for i = 1, n do
    if attach and i == n // 2 then
      t[n] = nil
      setmetatable(t, { __index = function(_, k) return 1000 * k end })
    end
    s = s + t[i]
  end
  return s
end

-- kind: "array" (1..n in the array part), "hash" (2..n in the hash
-- part: with no key 1 nothing moves them to the array part) or "float"
-- (1.5..n+0.5 in the array part)
function make(kind, n)
  local t = {}
  if kind == "hash" then
    for i = n, 2, -1 do t[i] = i end
  else
    for i = 1, n do t[i] = kind == "float" and i + 0.5 or i end
  end
  return t
end

function sum_of(kind, n) return sum_array(make(kind, n), kind == "hash" and 2 or 1, n) end

function fill_then_sum(len, n)
  local t = make("array", len)
  return fill(t, n), sum_array(t, 1, n)
end

-- variant: "same" (every point { x, y }), "wide" (the last point has
-- twenty more fields, so `x` sits in another hash slot), "nil" (the last
-- point loses `x` and gets it back through `__index`), "string" (the last
-- point is a string)
function sum_points(n, variant)
  local ps = {}
  for i = 1, n do ps[i] = { x = i, y = -i } end
  local last = ps[n]
  if variant == "wide" then
    last = {}
    for j = 1, 20 do last["f" .. j] = j end
    last.x, last.y = n, -n
  elseif variant == "nil" then
    last.x = nil
    setmetatable(last, { __index = function(_, k) return 1000 end })
  elseif variant == "string" then
    last = "point"
  end
  ps[n] = last
  return sum_x(ps, n)
end

function sum_x(ps, n)
  local s = 0
  for i = 1, n do s = s + ps[i].x end
  return s
end

-- Moves every point's x by dx; with `chain`, the last point is first made
-- the `__index` of another table (so it is in a cached lookup chain) and
-- that table's inherited `x` is read back after the move.
function move_points(n, dx, chain)
  local ps = {}
  for i = 1, n do ps[i] = { x = i, y = -i } end
  local child = setmetatable({}, { __index = ps[n] })
  local before = chain and child.x or 0
  move_x(ps, n, dx)
  return sum_x(ps, n), before, chain and child.x or 0
end

function move_x(ps, n, dx)
  for i = 1, n do
    local p = ps[i]
    p.x = p.x + dx
  end
end

function scaled_total(t, n, k)
  local s = 0
  for i = 1, n do s = s + t[i] * k end
  return s
end
function total_of(k) return scaled_total(make("array", 100), 100, k) end
function rebind_sqrt() math.sqrt = function(x) return 1.0 end end
function roots(n, x0)
  local s, k = 0.0, 0
  for i = 1, n do
    s = s + math.sqrt(i * x0)
    k = k + math.floor(i * x0)
  end
  return s, k
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

/// Runs `f` until `name` is at tier 2 (at most 2000 runs).
fn until_tier2(e: &Engine, name: &str, mut f: impl FnMut()) {
    for _ in 0..2000 {
        f();
        if e.function_tier(key_of(e, name)).unwrap().tier == 2 {
            return;
        }
    }
    panic!("{name} never reached tier 2: {:?}", e.function_tier(key_of(e, name)));
}

/// Deopt sites of `name` for guard `kind`.
fn sites(e: &Engine, name: &str, kind: GuardKind) -> Vec<ember_engine::DeoptSite> {
    e.jit_stats().deopt_sites.into_iter().filter(|d| d.name == name && d.guard == Some(kind)).collect()
}

#[test]
fn an_array_read_that_meets_a_hash_part_or_a_float_deopts_then_is_compiled_away() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let sum = |st: &mut ember_engine::State, kind: &str| call(st, "sum_of", &[LuaValue::str(kind), LuaValue::Int(100)]);
    until_tier2(&e, "sum_array", || assert_eq!(sum(&mut st, "array"), vec![LuaValue::Int(5050)]));
    assert!(sites(&e, "sum_array", GuardKind::ArrayBounds).is_empty());
    // The same keys, but in the hash part: the bounds guard fails, the
    // interpreter finishes the call, and past the limit the read is
    // compiled generic.
    for _ in 0..10 {
        assert_eq!(sum(&mut st, "hash"), vec![LuaValue::Int(5049)]);
    }
    let site = sites(&e, "sum_array", GuardKind::ArrayBounds);
    assert_eq!(site.len(), 1, "{site:?}");
    assert!(site[0].count >= 4 && site[0].count <= 8, "deopts stop soon after the limit: {site:?}");
    assert!(site[0].last_reason.contains("outside the array part"), "{site:?}");
    let before = deopts_in(&e, "sum_array");
    assert_eq!(sum(&mut st, "hash"), vec![LuaValue::Int(5049)]);
    assert_eq!(sum(&mut st, "array"), vec![LuaValue::Int(5050)]);
    assert_eq!(deopts_in(&e, "sum_array"), before, "the recompiled code no longer speculates there");
    // A fresh engine: the element type the plan guarded changes instead.
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    until_tier2(&e, "sum_array", || assert_eq!(sum(&mut st, "array"), vec![LuaValue::Int(5050)]));
    assert_eq!(sum(&mut st, "float"), vec![LuaValue::Float(5100.0)]);
    let site = sites(&e, "sum_array", GuardKind::ArrayBounds);
    assert!(site.len() == 1 && site[0].last_reason.contains("was a float"), "{site:?}");
}

#[test]
fn a_metatable_attached_mid_loop_to_an_array_with_a_hole_is_honoured() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    until_tier2(&e, "sum_meta", || {
        assert_eq!(call(&mut st, "sum_meta", &[LuaValue::Int(100), LuaValue::Bool(false)]), vec![LuaValue::Int(5050)])
    });
    // Halfway through the loop the table gets `__index` and loses its last
    // element: the read of the hole deoptimizes and the interpreter calls
    // `__index` (1000 * 100 instead of 100).
    let want = vec![LuaValue::Int(5050 - 100 + 100_000)];
    for _ in 0..3 {
        assert_eq!(call(&mut st, "sum_meta", &[LuaValue::Int(100), LuaValue::Bool(true)]), want);
    }
    let site = sites(&e, "sum_meta", GuardKind::ArrayBounds);
    assert!(site.len() == 1 && site[0].last_reason.contains("held nil"), "{site:?}");
}

#[test]
fn an_array_store_past_the_end_deopts_and_the_interpreter_appends() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    until_tier2(&e, "fill", || {
        assert_eq!(
            call(&mut st, "fill_then_sum", &[LuaValue::Int(100), LuaValue::Int(100)]),
            vec![LuaValue::Int(100), LuaValue::Int(10100)]
        )
    });
    // A shorter table: stores past its end are appends, which the
    // speculated store leaves to the interpreter.
    assert_eq!(call(&mut st, "fill_then_sum", &[LuaValue::Int(10), LuaValue::Int(100)]), vec![LuaValue::Int(100), LuaValue::Int(10100)]);
    let site = sites(&e, "fill", GuardKind::ArrayBounds);
    assert!(site.len() == 1 && site[0].last_reason.contains("outside the array part"), "{site:?}");
}

#[test]
fn a_field_read_moved_to_another_slot_or_nil_deopts_and_is_compiled_away() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let sum = |st: &mut ember_engine::State, variant: &str| call(st, "sum_points", &[LuaValue::Int(50), LuaValue::str(variant)]);
    until_tier2(&e, "sum_x", || assert_eq!(sum(&mut st, "same"), vec![LuaValue::Int(1275)]));
    assert!(sites(&e, "sum_x", GuardKind::FieldSlot).is_empty());
    // A point whose `x` lives in another hash slot: the slot guard fails.
    assert_eq!(sum(&mut st, "wide"), vec![LuaValue::Int(1275)]);
    let site = sites(&e, "sum_x", GuardKind::FieldSlot);
    assert!(site.len() == 1 && site[0].last_reason.contains("'x' was an integer in hash slot"), "{site:?}");
    // A field that became nil, with `__index` supplying it.
    assert_eq!(sum(&mut st, "nil"), vec![LuaValue::Int(1275 - 50 + 1000)]);
    let site = sites(&e, "sum_x", GuardKind::FieldSlot);
    assert!(site.len() == 1 && site[0].last_reason.contains("'x' was nil"), "{site:?}");
    // Not a table: the interpreter raises lua5.4's error. The array read
    // `ps[i]` was guessed to give a table (it is indexed next), so that
    // read's guard is the one to fail.
    let err = st.call("sum_points", &[LuaValue::Int(50), LuaValue::str("string")]).unwrap_err().to_string();
    assert!(err.contains("attempt to perform arithmetic on a nil value (field 'x')"), "{err}");
    let site = sites(&e, "sum_x", GuardKind::ArrayBounds);
    assert!(site.len() == 1 && site[0].last_reason.contains("was a string"), "{site:?}");
    // Past the limit the read is compiled with tier 1's inline cache.
    for _ in 0..6 {
        assert_eq!(sum(&mut st, "wide"), vec![LuaValue::Int(1275)]);
    }
    let before = deopts_in(&e, "sum_x");
    assert_eq!(sum(&mut st, "wide"), vec![LuaValue::Int(1275)]);
    assert_eq!(sum(&mut st, "same"), vec![LuaValue::Int(1275)]);
    assert_eq!(deopts_in(&e, "sum_x"), before, "the recompiled code no longer speculates there");
    assert_eq!(e.function_tier(key_of(&e, "sum_x")).unwrap().tier, 2);
}

#[test]
fn a_field_write_to_a_table_in_a_lookup_chain_deopts_and_retires_cached_lookups() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let mv =
        |st: &mut ember_engine::State, chain: bool| call(st, "move_points", &[LuaValue::Int(50), LuaValue::Int(10), LuaValue::Bool(chain)]);
    let plain = vec![LuaValue::Int(1775), LuaValue::Int(0), LuaValue::Int(0)];
    until_tier2(&e, "move_x", || assert_eq!(mv(&mut st, false), plain));
    assert!(sites(&e, "move_x", GuardKind::FieldSlot).is_empty());
    // The last point now backs another table's inherited `x`: the write
    // must go through the runtime, which retires the cached lookup, so the
    // child sees 60 after the move, not the 50 it cached before it.
    assert_eq!(mv(&mut st, true), vec![LuaValue::Int(1775), LuaValue::Int(50), LuaValue::Int(60)]);
    let site = sites(&e, "move_x", GuardKind::FieldSlot);
    assert!(site.len() == 1 && site[0].last_reason.contains("lookup chain"), "{site:?}");
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
    let tier1_compiles = e.jit_stats().tier1_compiled;
    let want = call(&mut st, "drive", &[LuaValue::Int(2000), LuaValue::Int(10)]);
    assert_eq!(want, vec![LuaValue::Float(2001000.0 + 0.5 * 1991.0)]);
    let t = e.function_tier(key_of(&e, "add")).unwrap();
    assert_eq!(t.tier, 1, "{t:?}");
    // At once, on the tier-1 code kept from before tier 2: no new compile.
    assert_eq!(e.jit_stats().tier1_compiled, tier1_compiles);
    assert!(t.tier2_blocked.as_deref().unwrap_or("").contains("pinned"), "{t:?}");
    assert_eq!(e.jit_stats().pinned, 1);
    // Pinned means pinned: more traffic does not bring tier 2 back.
    call(&mut st, "drive", &[LuaValue::Int(5000), LuaValue::Int(i64::MAX)]);
    assert_eq!(e.function_tier(key_of(&e, "add")).unwrap().tier, 1);
}

#[test]
fn a_loop_behind_a_cold_branch_that_gets_hot_is_recompiled_not_interpreted_for_good() {
    // `go` is false in every run before tier 2, so the branch into the loop
    // is cold and the loop is left out of the tier-2 code.
    let e = engine(TieringConfig { tier2_threshold: 4000, ..auto(4, 4) });
    let mut st = e.new_state();
    st.require("m").unwrap();
    until_tier2(&e, "late_loop", || {
        assert_eq!(call(&mut st, "late_loop", &[LuaValue::Int(10), LuaValue::Bool(false)]), vec![LuaValue::Int(0)]);
    });
    let before = e.jit_stats();
    // One long call takes the branch: the cold-branch guard hands the frame
    // to the interpreter, whose back-edges then find tier-2 code that
    // cannot be entered at the loop's header.
    let n = 200_000i64;
    assert_eq!(call(&mut st, "late_loop", &[LuaValue::Int(n), LuaValue::Bool(true)]), vec![LuaValue::Int(n * (n + 1) / 2)]);
    let stats = e.jit_stats();
    let site = stats.deopt_sites.iter().find(|d| d.name == "late_loop" && d.last_reason.contains("had not reached"));
    let site = site.unwrap_or_else(|| panic!("no unreached-entry deopt: {:?}", stats.deopt_sites));
    assert_eq!(site.guard, None, "not a speculation failure: {site:?}");
    assert_eq!(site.count, 1, "one entry there asks for the recompile at once: {site:?}");
    assert!(stats.recompiles > before.recompiles, "{stats:?}");
    // The recompiled code has the loop, and the frame moved into it: not an
    // entry attempt per iteration.
    assert!(stats.osr_entries - before.osr_entries < 100, "{} OSR entries", stats.osr_entries - before.osr_entries);
    assert_eq!(e.function_tier(key_of(&e, "late_loop")).unwrap().tier, 2);
    // Nor a speculation outcome: nothing for other nodes to avoid.
    let profile = e.compact_profile(key_of(&e, "late_loop")).unwrap();
    assert!(profile.outcomes.iter().all(|o| o.kind == GuardKind::ColdBranch), "{:?}", profile.outcomes);
}

#[test]
fn a_tail_call_to_a_native_returns_through_the_interpreter_without_deopts() {
    // `pick`'s tail call to `rawget` comes back to the `Return` after it,
    // which tier 2 has no code for: a hand-over on every call, not a sign
    // of a stale plan (counting it would recompile, then pin, for nothing).
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    until_tier2(&e, "pick", || {
        assert_eq!(call(&mut st, "sum_picks", &[LuaValue::Int(10)]), vec![LuaValue::Int(50)]);
    });
    assert_eq!(call(&mut st, "sum_picks", &[LuaValue::Int(5000)]), vec![LuaValue::Int(25000)]);
    assert_eq!(deopts_in(&e, "pick"), 0, "{:?}", e.jit_stats().deopt_sites);
    assert_eq!(e.function_tier(key_of(&e, "pick")).unwrap().tier, 2);
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

/// What `name`'s latest tier-2 compile speculated (its event's summary).
fn inlined_calls(e: &Engine, name: &str) -> Option<String> {
    e.tier_events(0)
        .into_iter()
        .rev()
        .find(|ev| ev.kind == TierEventKind::Compiled && ev.name == name && ev.tier == 2)
        .and_then(|ev| ev.reason)
}

#[test]
fn math_calls_are_computed_in_place_and_deopt_on_another_callee_or_a_huge_floor() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let roots = |st: &mut ember_engine::State, x0: f64| call(st, "roots", &[LuaValue::Int(16), LuaValue::Float(x0)]);
    let want = |x0: f64| {
        let s: f64 = (1..=16).map(|i| (i as f64 * x0).sqrt()).sum();
        let k: i64 = (1..=16).map(|i| (i as f64 * x0).floor() as i64).sum();
        vec![LuaValue::Float(s), LuaValue::Int(k)]
    };
    until_tier2(&e, "roots", || assert_eq!(roots(&mut st, 0.5), want(0.5)));
    let what = inlined_calls(&e, "roots").unwrap_or_default();
    assert!(what.contains("math calls 2"), "{what}");
    // Computed in place, each still counts as a native call (and a tick).
    let before = st.stats().native_calls;
    assert_eq!(roots(&mut st, 0.25), want(0.25));
    assert_eq!(st.stats().native_calls - before, 32);
    assert_eq!(deopts_in(&e, "roots"), 0);
    // A floor whose result fits no integer: the interpreter returns the
    // float; past the limit the site is compiled as a call.
    for _ in 0..10 {
        let got = roots(&mut st, 1e300);
        assert!(matches!(got[1], LuaValue::Float(f) if f > 1e300), "{got:?}");
    }
    let site = sites(&e, "roots", GuardKind::OperandType);
    assert!(!site.is_empty() && site.iter().all(|d| d.count <= 8), "{site:?}");
    // `math.sqrt` rebound: the guard on the native's identity fails at the
    // call and the new function runs.
    call(&mut st, "rebind_sqrt", &[]);
    for _ in 0..10 {
        assert_eq!(roots(&mut st, 0.5)[0], LuaValue::Float(16.0));
    }
    let site = sites(&e, "roots", GuardKind::CallTarget);
    assert!(site.len() == 1 && site[0].last_reason.contains("callee was"), "{site:?}");
}

#[test]
fn a_small_callee_is_inlined_and_a_redefined_one_deopts_at_the_call() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let sum = |st: &mut ember_engine::State| call(st, "sum_scaled", &[LuaValue::Int(100), LuaValue::Int(1)]);
    until_tier2(&e, "sum_scaled", || assert_eq!(sum(&mut st), vec![LuaValue::Int(15150)]));
    let what = inlined_calls(&e, "sum_scaled").unwrap_or_default();
    assert!(what.contains("inlined calls 1"), "{what}");
    // The global now holds another function: the guard on the callee
    // fails at the call, the interpreter makes it, and past the limit the
    // caller is compiled with a call there instead.
    call(&mut st, "redefine_scale", &[LuaValue::Int(4)]);
    for _ in 0..10 {
        assert_eq!(sum(&mut st), vec![LuaValue::Int(20200)]);
    }
    let site = sites(&e, "sum_scaled", GuardKind::CallTarget);
    assert!(site.len() == 1 && site[0].last_reason.contains("the callee was another function"), "{site:?}");
    assert!(site[0].count >= 4 && site[0].count <= 8, "{site:?}");
    let before = deopts_in(&e, "sum_scaled");
    assert_eq!(sum(&mut st), vec![LuaValue::Int(20200)]);
    assert_eq!(deopts_in(&e, "sum_scaled"), before, "the recompiled code no longer inlines there");
    assert_eq!(e.function_tier(key_of(&e, "sum_scaled")).unwrap().tier, 2);
    let what = inlined_calls(&e, "sum_scaled").unwrap_or_default();
    assert!(!what.contains("inlined"), "{what}");
    let profile = e.compact_profile(key_of(&e, "sum_scaled")).unwrap();
    assert!(profile.outcomes.iter().any(|o| o.kind == GuardKind::CallTarget && o.failures >= 4), "{:?}", profile.outcomes);
}

#[test]
fn a_guard_failing_inside_an_inlined_callee_deopts_into_it_and_recompiles_the_caller() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let sum = |st: &mut ember_engine::State, step: LuaValue| call(st, "sum_scaled", &[LuaValue::Int(100), step]);
    until_tier2(&e, "sum_scaled", || assert_eq!(sum(&mut st, LuaValue::Int(1)), vec![LuaValue::Int(15150)]));
    assert!(inlined_calls(&e, "sum_scaled").unwrap_or_default().contains("inlined calls 1"));
    // Floats reach the inlined `x * 3`: its integer guard fails inside the
    // caller's code, the deopt is the callee's (the interpreter finishes
    // the callee's frame, the caller's code goes on), and past the limit
    // the caller is compiled again, inlining the callee without it.
    for _ in 0..12 {
        assert_eq!(sum(&mut st, LuaValue::Float(0.5)), vec![LuaValue::Float(7575.0)]);
    }
    let site = sites(&e, "scale", GuardKind::OperandType);
    assert!(site.len() == 1 && site[0].last_reason.contains("float"), "{site:?}");
    let compiles =
        e.tier_events(0).iter().filter(|ev| ev.kind == TierEventKind::Compiled && ev.name == "sum_scaled" && ev.tier == 2).count();
    assert!(compiles >= 2, "the caller was compiled again: {compiles}");
    assert!(inlined_calls(&e, "sum_scaled").unwrap_or_default().contains("inlined calls 1"), "still inlined");
    let before = deopts_in(&e, "scale") + deopts_in(&e, "sum_scaled");
    assert_eq!(sum(&mut st, LuaValue::Float(0.5)), vec![LuaValue::Float(7575.0)]);
    assert_eq!(sum(&mut st, LuaValue::Int(1)), vec![LuaValue::Int(15150)]);
    assert_eq!(deopts_in(&e, "scale") + deopts_in(&e, "sum_scaled"), before, "no more deopts");
}

#[test]
fn an_error_inside_an_inlined_callee_is_the_callees_and_pcall_catches_it() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    until_tier2(&e, "sum_checked", || assert_eq!(call(&mut st, "sum_checked", &[LuaValue::Int(100)]), vec![LuaValue::Int(5150)]));
    assert!(inlined_calls(&e, "sum_checked").unwrap_or_default().contains("inlined calls 1"));
    let line = MODULE.lines().position(|l| l.contains("too big")).unwrap() + 1;
    let err = st.call("sum_checked", &[LuaValue::Int(3000)]).unwrap_err().to_string();
    assert!(err.contains(&format!("m:{line}: too big: 2501")), "{err}");
    let got = call(&mut st, "guarded_sum", &[LuaValue::Int(3000)]);
    assert_eq!(got[0], LuaValue::Bool(false));
    let LuaValue::Str(msg) = &got[1] else { panic!("{got:?}") };
    assert!(String::from_utf8_lossy(msg).contains(&format!("m:{line}: too big: 2501")), "{got:?}");
    // The state goes on, in the same code: an error is not a deopt.
    assert_eq!(call(&mut st, "sum_checked", &[LuaValue::Int(100)]), vec![LuaValue::Int(5150)]);
    assert_eq!(deopts_in(&e, "sum_checked") + deopts_in(&e, "checked"), 0);
    assert_eq!(e.function_tier(key_of(&e, "sum_checked")).unwrap().tier, 2);
}

#[test]
fn a_global_read_at_a_guarded_slot_deopts_when_its_type_changes_or_it_goes() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let total = |st: &mut ember_engine::State| call(st, "total_rate", &[LuaValue::Int(100)]);
    until_tier2(&e, "total_rate", || assert_eq!(total(&mut st), vec![LuaValue::Int(15150)]));
    let what = inlined_calls(&e, "total_rate").unwrap_or_default();
    assert!(what.contains("global 1"), "{what}");
    // A float where the multiply after it expects an integer.
    call(&mut st, "set_rate", &[LuaValue::Float(2.5)]);
    assert_eq!(total(&mut st), vec![LuaValue::Float(12625.0)]);
    let site = sites(&e, "total_rate", GuardKind::GlobalBinding);
    assert!(site.len() == 1 && site[0].last_reason.contains("the global 'rate' was a float"), "{site:?}");
    // Gone: the interpreter raises lua5.4's error, naming the global.
    call(&mut st, "set_rate", &[LuaValue::Nil]);
    let err = st.call("total_rate", &[LuaValue::Int(100)]).unwrap_err().to_string();
    assert!(err.contains("attempt to perform arithmetic on a nil value (global 'rate')"), "{err}");
    let site = sites(&e, "total_rate", GuardKind::GlobalBinding);
    assert!(site[0].last_reason.contains("the global 'rate' was nil"), "{site:?}");
    // Past the limit the read is compiled with the inline cache again.
    call(&mut st, "set_rate", &[LuaValue::Float(2.5)]);
    for _ in 0..8 {
        assert_eq!(total(&mut st), vec![LuaValue::Float(12625.0)]);
    }
    let before = deopts_in(&e, "total_rate");
    assert_eq!(total(&mut st), vec![LuaValue::Float(12625.0)]);
    assert_eq!(deopts_in(&e, "total_rate"), before, "the recompiled code no longer guards the binding");
    assert_eq!(e.function_tier(key_of(&e, "total_rate")).unwrap().tier, 2);
}

#[test]
fn loop_invariant_checks_are_made_once_before_the_loop_and_deopt_there() {
    let e = engine(auto(4, 4));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let total = |st: &mut ember_engine::State, k: LuaValue| call(st, "total_of", &[k]);
    until_tier2(&e, "scaled_total", || assert_eq!(total(&mut st, LuaValue::Int(3)), vec![LuaValue::Int(15150)]));
    // `t` (a table for `t[i]`) and `k` (an integer for `* k`) are never
    // written in the loop: both are checked where the loop is entered.
    let what = inlined_calls(&e, "scaled_total").unwrap_or_default();
    assert!(what.contains("hoisted checks 2"), "{what}");
    // A float `k`: the hoisted check fails before the loop runs, the
    // interpreter makes the loop, and the failure is the multiply's.
    assert_eq!(total(&mut st, LuaValue::Float(0.5)), vec![LuaValue::Float(2525.0)]);
    let site = sites(&e, "scaled_total", GuardKind::OperandType);
    assert!(site.len() == 1 && site[0].last_reason.contains("'k' was a float on entry to the loop"), "{site:?}");
    // Not a table: lua5.4's error, and an array-guard failure with the
    // hoisted check's reason.
    let err = st.call("scaled_total", &[LuaValue::Int(7), LuaValue::Int(100), LuaValue::Int(3)]).unwrap_err().to_string();
    assert!(err.contains("attempt to index a number value (local 't')"), "{err}");
    let site = sites(&e, "scaled_total", GuardKind::ArrayBounds);
    assert!(site.len() == 1 && site[0].last_reason.contains("'t' was an integer on entry to the loop"), "{site:?}");
    // Floats keep coming: past the limit the multiply is compiled generic,
    // so `k` is no longer checked (but `t` still is).
    for _ in 0..12 {
        assert_eq!(total(&mut st, LuaValue::Float(0.5)), vec![LuaValue::Float(2525.0)]);
    }
    let what = inlined_calls(&e, "scaled_total").unwrap_or_default();
    assert!(what.contains("hoisted checks 1"), "{what}");
    let before = deopts_in(&e, "scaled_total");
    assert_eq!(total(&mut st, LuaValue::Float(0.5)), vec![LuaValue::Float(2525.0)]);
    assert_eq!(total(&mut st, LuaValue::Int(3)), vec![LuaValue::Int(15150)]);
    assert_eq!(deopts_in(&e, "scaled_total"), before, "no more deopts");
    assert_eq!(e.function_tier(key_of(&e, "scaled_total")).unwrap().tier, 2);
}

/// A recompile leaves the failing code published while it waits: a guard
/// that fails now and then costs a deopt each time, much less than
/// interpreting the whole function meanwhile. A guard that keeps failing
/// (another `deopt_limit` failures before the new code lands) takes the
/// code down, and the interpreter runs the function until the recompile
/// is published. A compile gate holds the recompile back here, so every
/// step is observed rather than raced.
#[test]
fn failing_code_keeps_running_while_its_recompile_waits_unless_it_keeps_failing() {
    use ember_engine::{CompileGate, CompileTrigger, GateDecision, GateOutcome, GatePermit, GateRequest};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Lets every compile through but recompiles after deopts, while `hold`.
    struct Gate {
        hold: AtomicBool,
    }
    impl CompileGate for Gate {
        fn acquire(&self, r: &GateRequest) -> GateDecision {
            if r.trigger == CompileTrigger::Deopt && self.hold.load(Ordering::SeqCst) {
                GateDecision::Later(Duration::from_millis(5))
            } else {
                GateDecision::Go(GatePermit(0))
            }
        }
        fn release(&self, _: GatePermit, _: GateOutcome) {}
    }

    let limit = 4;
    // A background worker (the gate governs only those), and a tier-2
    // threshold 250 calls away, so the branch has been seen going one way
    // often enough to be compiled as cold.
    let e = engine(TieringConfig { workers: 1, compile_on_invoking_thread: false, tier2_threshold: 2000, ..auto(limit, 4) });
    let gate = Arc::new(Gate { hold: AtomicBool::new(true) });
    e.set_compile_gate(Some(gate.clone()));
    let mut st = e.new_state();
    st.require("m").unwrap();
    let tier = |e: &Engine| e.function_tier(key_of(e, "split")).unwrap();
    let small = LuaValue::Int(1);
    let big = LuaValue::Int(2);
    let deadline = Instant::now() + Duration::from_secs(30);
    while tier(&e).tier != 2 {
        assert!(Instant::now() < deadline, "split never reached tier 2: {:?}", tier(&e));
        for x in 0..100 {
            assert_eq!(call(&mut st, "split", &[LuaValue::Int(x), LuaValue::Int(1000)]), vec![small.clone()]);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(deopts_in(&e, "split"), 0);

    // The branch flips: `limit` failures ask for a recompile, which the
    // gate holds back; the code stays.
    for _ in 0..limit {
        assert_eq!(call(&mut st, "split", &[LuaValue::Int(5000), LuaValue::Int(1000)]), vec![big.clone()]);
    }
    assert_eq!(deopts_in(&e, "split"), limit as u64, "the cold branch deopted each time");
    assert_eq!(e.jit_stats().recompiles, 1);
    assert_eq!(tier(&e).tier, 2, "still published while the recompile waits");

    // As many failures again: taken down, and the function's tier-1 code
    // (kept for this) runs it from then on.
    for _ in 0..limit {
        assert_eq!(call(&mut st, "split", &[LuaValue::Int(5000), LuaValue::Int(1000)]), vec![big.clone()]);
    }
    assert_eq!(deopts_in(&e, "split"), 2 * limit as u64);
    assert_eq!(tier(&e).tier, 1, "back on its tier-1 code after a second round of failures");
    let calls_at_tier1 = st.stats().tier1_calls;
    for _ in 0..20 {
        assert_eq!(call(&mut st, "split", &[LuaValue::Int(5000), LuaValue::Int(1000)]), vec![big.clone()]);
    }
    assert_eq!(deopts_in(&e, "split"), 2 * limit as u64, "tier 1 takes no deopts");
    assert_eq!(st.stats().tier1_calls, calls_at_tier1 + 20, "every call ran the tier-1 code");

    // The recompile lands, without the cold-branch speculation.
    gate.hold.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(tier(&e).tier == 2 && tier(&e).tier2_compiles == 2) {
        assert!(Instant::now() < deadline, "the recompile never landed: {:?}", tier(&e));
        std::thread::sleep(Duration::from_millis(2));
    }
    for x in [5000, 1, 7000, 3] {
        let want = if x > 1000 { big.clone() } else { small.clone() };
        assert_eq!(call(&mut st, "split", &[LuaValue::Int(x), LuaValue::Int(1000)]), vec![want]);
    }
    assert_eq!(deopts_in(&e, "split"), 2 * limit as u64, "the new code has no cold branch to fail");
}
