//! Compact profiles out of one engine and into another: what a warm start
//! does on a node, without the network. Export from an engine that ran a
//! workload, seed a fresh engine with the same module, compile before its
//! first call, and check that a wrong or hostile profile changes nothing
//! but speed.

use std::sync::mpsc::Receiver;
use std::time::Duration;

use ember_engine::{
    CompactProfile, CompileRequest, CompileTrigger, Engine, EngineConfig, FunctionKey, LuaValue, SeedError, TierEvent, TierEventKind,
    TierMode, TieringConfig,
};

const MODULE: &str = r#"
local Point = {}
Point.__index = Point
function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
function Point:len2() return self.x * self.x + self.y * self.y end

function work(n, scale)
  local acc, hits = 0, 0
  for i = 1, n do
    local p = Point.new(i, i * scale)
    local d = p:len2()
    local odd = d % 3 ~= 0 and d
    if odd then acc = acc + odd else hits = hits + 1 end
  end
  return acc, hits
end
"#;

fn engine(mode: TierMode) -> Engine {
    // A huge threshold: nothing gets compiled by hotness in these tests.
    let t = TieringConfig { mode, tier1_threshold: u64::MAX / 4, workers: 1, ..TieringConfig::default() };
    let e = Engine::with_config(EngineConfig { tiering: t, ..EngineConfig::default() });
    e.load_module("m", MODULE.as_bytes()).unwrap();
    e
}

fn key_of(e: &Engine, name: &str) -> FunctionKey {
    e.module("m").unwrap().functions().iter().find(|p| p.name() == name).unwrap().key()
}

fn run(e: &Engine, n: i64, scale: LuaValue) -> Vec<LuaValue> {
    let mut s = e.new_state();
    s.require("m").unwrap();
    s.call("work", &[LuaValue::Int(n), scale]).unwrap()
}

fn wait_compiled(rx: &Receiver<TierEvent>, key: FunctionKey) -> TierEvent {
    loop {
        let ev = rx.recv_timeout(Duration::from_secs(30)).expect("no compile event within 30 s");
        if ev.key == key && ev.kind != TierEventKind::Evicted {
            return ev;
        }
    }
}

/// A profile as a node would carry it: everything but hotness.
fn learned(p: &CompactProfile) -> (Vec<u8>, Vec<u8>, Vec<(u32, u64)>) {
    (p.site_bits.clone(), p.branch_bias.clone(), p.call_targets.clone())
}

#[test]
fn a_seeded_engine_compiles_before_its_first_call_and_agrees() {
    let a = engine(TierMode::Interpreter);
    let expected = run(&a, 2000, LuaValue::Int(3));
    let key = key_of(&a, "work");
    let exported = a.compact_profile(key).unwrap();
    assert!(exported.calls >= 1 && exported.back_edges >= 1999, "{exported:?}");
    assert!(!exported.site_bits.is_empty() && !exported.branch_bias.is_empty() && !exported.call_targets.is_empty());

    let b = engine(TierMode::Auto);
    let events = b.subscribe_tier_events();
    b.seed_profile(&exported).unwrap();
    let seeded = b.compact_profile(key).unwrap();
    assert_eq!(learned(&seeded), learned(&exported), "the fresh engine learned every site");
    assert_eq!((seeded.calls, seeded.back_edges), (0, 0), "hotness is never imported");

    assert_eq!(b.compile_now(key), Ok(CompileRequest::Queued));
    let ev = wait_compiled(&events, key);
    assert_eq!((ev.kind, ev.trigger), (TierEventKind::Compiled, Some(CompileTrigger::Request)));
    let tier = b.function_tier(key).unwrap();
    assert_eq!(tier.tier, 1, "compiled before the first call");
    assert_eq!(b.compact_profile(key).unwrap().calls, 0);
    assert_eq!(b.compile_now(key), Ok(CompileRequest::AlreadyCompiled));

    assert_eq!(run(&b, 2000, LuaValue::Int(3)), expected);
    assert!(b.new_state().stats().tier1_calls == 0, "a fresh state has run nothing");
}

#[test]
fn a_lying_profile_costs_speed_never_results() {
    let reference = engine(TierMode::Interpreter);
    let key = key_of(&reference, "work");
    let len2 = key_of(&reference, "Point:len2");
    let _ = run(&reference, 10, LuaValue::Int(1));
    let nsites = reference.compact_profile(key).unwrap().site_bits.len().max(1);
    let len2_sites = reference.compact_profile(len2).unwrap().site_bits.len().max(1);

    // Every site "saw only strings", every branch "always went one way",
    // every call "always went to len2": all wrong for this workload.
    for lie in [0x44u8, 0x11, 0x22, 0xff] {
        let liar = |k: FunctionKey, n: usize, branches: usize| CompactProfile {
            key: k,
            site_bits: vec![lie; n],
            branch_bias: vec![255; branches],
            ..CompactProfile::default()
        };
        let e = engine(TierMode::Auto);
        let events = e.subscribe_tier_events();
        e.seed_profile(&liar(key, nsites, 2)).unwrap();
        e.seed_profile(&liar(len2, len2_sites, 0)).unwrap();
        for k in [key, len2] {
            e.compile_now(k).unwrap();
            assert_eq!(wait_compiled(&events, k).kind, TierEventKind::Compiled);
        }
        for (n, scale) in [(500, LuaValue::Int(7)), (300, LuaValue::Float(0.5)), (200, LuaValue::Int(-2))] {
            assert_eq!(run(&e, n, scale.clone()), run(&reference, n, scale), "lie {lie:#x}");
        }
    }
}

#[test]
fn profiles_that_do_not_fit_are_rejected_whole() {
    let e = engine(TierMode::Auto);
    let key = key_of(&e, "work");
    let _ = run(&e, 5, LuaValue::Int(1));
    let before = e.compact_profile(key).unwrap();
    let sites = {
        let probe = CompactProfile { key, site_bits: vec![0; 10_000], ..CompactProfile::default() };
        match e.seed_profile(&probe) {
            Err(SeedError::BadSite(m)) => m,
            other => panic!("{other:?}"),
        }
    };
    assert!(sites.contains("10000 site entries"), "{sites}");

    let bad = [
        // Valid bits, then a call target on a site that is not a call: the
        // valid part must not be applied either.
        CompactProfile { key, site_bits: vec![0xff; 2], call_targets: vec![(0, 42)], ..CompactProfile::default() },
        CompactProfile { key, call_targets: vec![(u32::MAX, 42)], ..CompactProfile::default() },
        CompactProfile { key, branch_bias: vec![1; 500], ..CompactProfile::default() },
        CompactProfile {
            key,
            outcomes: vec![ember_engine::SpeculationOutcome { site: 9999, kind: ember_engine::GuardKind::OperandType, failures: 1 }],
            ..CompactProfile::default()
        },
    ];
    for p in &bad {
        assert!(matches!(e.seed_profile(p), Err(SeedError::BadSite(_))), "{p:?}");
        assert_eq!(e.compact_profile(key).unwrap(), before, "a rejected profile changed nothing");
    }
    let unknown = CompactProfile { key: FunctionKey(7), ..CompactProfile::default() };
    assert_eq!(e.seed_profile(&unknown), Err(SeedError::UnknownFunction(FunctionKey(7))));
    assert!(e.compile_now(FunctionKey(7)).is_err());
}

#[test]
fn outcomes_round_trip_and_keep_the_larger_count() {
    let e = engine(TierMode::Auto);
    let key = key_of(&e, "work");
    let o = |failures| ember_engine::SpeculationOutcome { site: 1, kind: ember_engine::GuardKind::OperandType, failures };
    e.seed_profile(&CompactProfile { key, outcomes: vec![o(3)], ..CompactProfile::default() }).unwrap();
    e.seed_profile(&CompactProfile { key, outcomes: vec![o(2)], ..CompactProfile::default() }).unwrap();
    assert_eq!(e.compact_profile(key).unwrap().outcomes, vec![o(3)]);
}

#[test]
fn compile_now_refuses_when_nothing_may_be_compiled() {
    let e = engine(TierMode::Interpreter);
    let key = key_of(&e, "work");
    let err = e.compile_now(key).unwrap_err();
    assert!(err.contains("interpreter-only"), "{err}");
    let no_workers = {
        let t = TieringConfig { workers: 0, ..TieringConfig::default() };
        let e = Engine::with_config(EngineConfig { tiering: t, ..EngineConfig::default() });
        e.load_module("m", MODULE.as_bytes()).unwrap();
        e
    };
    let err = no_workers.compile_now(key).unwrap_err();
    assert!(err.contains("no workers"), "{err}");
    // The refused request left it requestable by hotness.
    assert_eq!(no_workers.function_tier(key).unwrap().tier, 0);
}

#[test]
fn call_sites_keep_two_callees_and_a_third_makes_them_megamorphic() {
    const SITES: &str = r#"
local function a(x) return x + 1 end
local function b(x) return x * 2 end
local function c(x) return x - 3 end
function two(n) local s = 0 for i = 1, n do s = s + ({ a, b })[i % 2 + 1](i) end return s end
function three(n) local s = 0 for i = 1, n do s = s + ({ a, b, c })[i % 3 + 1](i) end return s end
"#;
    let fresh = || {
        let t = TieringConfig { mode: TierMode::Interpreter, ..TieringConfig::default() };
        let e = Engine::with_config(EngineConfig { tiering: t, ..EngineConfig::default() });
        e.load_module("s", SITES.as_bytes()).unwrap();
        e
    };
    let key = |e: &Engine, name: &str| e.module("s").unwrap().functions().iter().find(|p| p.name() == name).unwrap().key();
    let low = |e: &Engine, name: &str| key(e, name).0 as u64;
    let e = fresh();
    let mut s = e.new_state();
    s.require("s").unwrap();
    s.call("two", &[LuaValue::Int(10)]).unwrap();
    s.call("three", &[LuaValue::Int(10)]).unwrap();
    // The first callee seen is `b` (i = 1), then `a`: both, in that order.
    let two = e.compact_profile(key(&e, "two")).unwrap();
    let site = two.call_targets[0].0;
    assert_eq!(two.call_targets, vec![(site, low(&e, "b")), (site, low(&e, "a"))]);
    let snapshot = e.profiles().into_iter().find(|p| p.name == "two").unwrap();
    let call = snapshot.sites.iter().find(|s| s.kind == ember_engine::SiteKind::Call && s.target != 0).unwrap();
    assert_eq!((call.target, call.target2), (low(&e, "b"), low(&e, "a")));
    let three = e.compact_profile(key(&e, "three")).unwrap();
    assert_eq!(three.call_targets, vec![(three.call_targets[0].0, ember_engine::profile::MEGAMORPHIC)]);

    // Seeded into a fresh engine, both callees arrive; a peer that saw a
    // third one at the same site makes it megamorphic.
    let f = fresh();
    f.seed_profile(&two).unwrap();
    assert_eq!(learned(&f.compact_profile(key(&f, "two")).unwrap()).2, two.call_targets);
    let other = CompactProfile { key: two.key, call_targets: vec![(site, low(&f, "c"))], ..CompactProfile::default() };
    f.seed_profile(&other).unwrap();
    assert_eq!(f.compact_profile(key(&f, "two")).unwrap().call_targets, vec![(site, ember_engine::profile::MEGAMORPHIC)]);
}
