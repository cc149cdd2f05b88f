//! The tiering machinery end to end: background compilation racing many
//! invoking threads, code-cache eviction and freeing, run-time knob changes,
//! limits and errors in compiled code, tier events and the latency
//! controller.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use ember_engine::{Engine, EngineConfig, Error, LimitKind, Limits, LuaValue, TierEventKind, TierMode, TieringConfig};

/// `N` distinct functions, each with a loop, so each is its own unit.
fn many_functions(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s += &format!(
            "function f{i}(x)\n  local acc = {i}\n  for j = 1, 20 do\n    if j % 3 == 0 then acc = acc + x * j else acc = acc - {i} end\n  end\n  local t = {{x, acc}}\n  return t[1] + t[2] // 1\nend\n"
        );
    }
    s
}

/// What `f{i}(x)` returns, computed independently.
fn expected(i: i64, x: i64) -> i64 {
    let mut acc = i;
    for j in 1..=20 {
        if j % 3 == 0 { acc += x * j } else { acc -= i }
    }
    x + acc
}

fn config(f: impl FnOnce(&mut TieringConfig)) -> EngineConfig {
    let mut t = TieringConfig::default();
    f(&mut t);
    EngineConfig { tiering: t, ..EngineConfig::default() }
}

#[test]
fn many_threads_with_a_tiny_code_cache_stay_correct_and_under_the_limit() {
    const FUNCS: usize = 24;
    const THREADS: usize = 4;
    let limit = 3 * 4096;
    let engine = Engine::with_config(config(|t| {
        t.tier1_threshold = 40;
        // Tier 2 too, so evictions also take tier-2 units with the tier-1
        // code kept behind them.
        t.tier2_threshold = 4000;
        t.workers = 2;
        t.code_cache_bytes = limit;
    }));
    engine.load_module("m", many_functions(FUNCS).as_bytes()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let max_seen = Arc::new(AtomicU64::new(0));
    // An observer samples the cache size while everything runs.
    let observer = {
        let (engine, done, max_seen) = (engine.clone(), done.clone(), max_seen.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                max_seen.fetch_max(engine.jit_stats().code_cache_bytes, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let start = Arc::new(Barrier::new(THREADS));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (engine, start, stop) = (engine.clone(), start.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut st = engine.new_state();
                st.require("m").unwrap();
                start.wait();
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) || round < 300 {
                    round += 1;
                    // Threads sweep the functions in different orders, so
                    // units are entered, evicted and recompiled concurrently.
                    let i = (round * 7 + t * 5) % FUNCS;
                    let x = (round as i64) - 50;
                    let got = st.call(&format!("f{i}"), &[LuaValue::Int(x)]).unwrap();
                    assert_eq!(got, vec![LuaValue::Int(expected(i as i64, x))], "f{i}({x}) on thread {t}");
                }
            })
        })
        .collect();
    // Keep every thread invoking until the cache has churned for a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while engine.jit_stats().evicted < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    observer.join().unwrap();
    let s = engine.jit_stats();
    assert!(max_seen.load(Ordering::Relaxed) <= limit as u64, "cache reached {} > {limit}", max_seen.load(Ordering::Relaxed));
    assert!(s.code_cache_bytes <= limit as u64);
    assert!(s.evicted > 0, "a 3-page cache with {FUNCS} hot functions must evict: {s:?}");
    assert!(s.tier1_compiled > s.units, "evicted functions got hot again and were recompiled");
    assert!(s.tier2_compiled > 0, "functions reached tier 2 as well: {s:?}");
    // No invocation is running now: every evicted unit can be freed.
    assert_eq!(engine.reclaim_code(), 0);
    let s = engine.jit_stats();
    assert_eq!(s.freed, s.evicted + s.replaced);
    assert_eq!(s.retired_bytes, 0);
    let events = engine.tier_events(0);
    assert!(events.iter().any(|e| e.kind == TierEventKind::Evicted));
    assert!(events.iter().any(|e| e.kind == TierEventKind::Freed));
}

#[test]
fn compiled_events_carry_cost_size_and_queue_wait() {
    let engine = Engine::with_config(config(|t| t.tier1_threshold = 10));
    let rx = engine.subscribe_tier_events();
    engine.load_module("m", many_functions(2).as_bytes()).unwrap();
    let mut st = engine.new_state();
    st.require("m").unwrap();
    let ev = loop {
        st.call("f1", &[LuaValue::Int(3)]).unwrap();
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(5)) {
            break e;
        }
    };
    assert_eq!(ev.kind, TierEventKind::Compiled);
    assert_eq!(ev.name, "f1");
    assert_eq!(ev.tier, 1);
    assert!(ev.code_bytes > 0 && ev.bytecodes > 0);
    assert!(ev.compile_us > 0);
    let s = engine.jit_stats();
    let f1 = s.functions.iter().find(|f| f.name == "f1").unwrap();
    assert_eq!(f1.tier, 1);
    // Compiled code keeps giving the same answers.
    for x in 0..50 {
        assert_eq!(st.call("f1", &[LuaValue::Int(x)]).unwrap(), vec![LuaValue::Int(expected(1, x))]);
    }
    assert!(st.stats().tier1_calls > 0);
}

#[test]
fn knobs_change_on_a_running_engine() {
    let engine = Engine::with_config(config(|t| t.mode = TierMode::Interpreter));
    engine.load_module("m", many_functions(1).as_bytes()).unwrap();
    let mut st = engine.new_state();
    st.require("m").unwrap();
    for x in 0..100 {
        st.call("f0", &[LuaValue::Int(x)]).unwrap();
    }
    assert_eq!(engine.jit_stats().tier1_compiled, 0, "the interpreter mode never compiles");
    let mut t = engine.tiering();
    t.set("mode", "auto").unwrap();
    t.set("tier1_threshold", "5").unwrap();
    t.set("workers", "0").unwrap();
    engine.set_tiering(t).unwrap();
    for x in 0..10 {
        st.call("f0", &[LuaValue::Int(x)]).unwrap();
    }
    let s = engine.jit_stats();
    assert_eq!(s.tier1_compiled, 1);
    assert_eq!(s.compiled_on_invoking_thread, 1, "no workers: the invoking thread compiled");
    // An invalid change is refused and changes nothing.
    let mut bad = engine.tiering();
    bad.compile_on_invoking_thread = false;
    assert!(engine.set_tiering(bad).is_err());
    assert!(engine.tiering().compile_on_invoking_thread);
    // Shrinking the cache below what it holds evicts at once.
    let mut small = engine.tiering();
    small.code_cache_bytes = 4096;
    engine.set_tiering(small).unwrap();
    assert!(engine.jit_stats().code_cache_bytes <= 4096);
}

#[test]
fn limits_stop_compiled_loops_with_the_interpreters_errors() {
    let engine = Engine::with_config(config(|t| t.mode = TierMode::Baseline));
    engine
        .load_module("m", b"function spin() local i = 0 while true do i = i + 1 end end\nfunction deep(n) return deep(n + 1) + 1 end")
        .unwrap();
    let mut st = engine.new_state();
    st.require("m").unwrap();
    st.set_limits(Limits { fuel: Some(100_000), ..Limits::default() });
    match st.call("spin", &[]) {
        Err(Error::Limit { kind: LimitKind::Fuel, message }) => assert_eq!(message, "fuel exhausted after 100000 steps"),
        other => panic!("expected a fuel limit, got {other:?}"),
    }
    st.set_limits(Limits { deadline: Some(Duration::from_millis(50)), ..Limits::default() });
    assert!(matches!(st.call("spin", &[]), Err(Error::Limit { kind: LimitKind::Deadline, .. })));
    st.set_limits(Limits { max_depth: Some(500), ..Limits::default() });
    assert!(matches!(st.call("deep", &[LuaValue::Int(0)]), Err(Error::Limit { kind: LimitKind::Depth, .. })));
    // Without limits, runaway recursion is Lua's catchable stack overflow.
    st.set_limits(Limits::default());
    match st.call("deep", &[LuaValue::Int(0)]) {
        Err(Error::Runtime { message, .. }) => assert!(message.contains("stack overflow"), "{message}"),
        other => panic!("expected a stack overflow, got {other:?}"),
    }
    // The state is still usable, in compiled code.
    st.set_limits(Limits { fuel: Some(1000), ..Limits::default() });
    assert!(st.call("spin", &[]).is_err());
    assert!(engine.jit_stats().functions.iter().filter(|f| f.name == "spin" || f.name == "deep").all(|f| f.tier == 1));
}

/// Tier 2 keeps a loop's step count in a machine register (and the loop's
/// numbers): the fuel limit must still stop it at exactly the same step,
/// and the state must go on after.
#[test]
fn fuel_stops_a_tier_2_loop_at_the_same_step_as_the_interpreter() {
    let src = b"function spin(n) local i, s = 0, 0 while true do i = i + 1 s = (s + i) % 1000 end end\n\
                function count(n) local s = 0 for i = 1, n do s = s + i % 7 end return s end";
    let run = |mode: TierMode| {
        let engine = Engine::with_config(config(|t| t.mode = mode));
        engine.load_module("m", src).unwrap();
        let mut st = engine.new_state();
        st.require("m").unwrap();
        let mut errors = Vec::new();
        for fuel in [1_000, 4_097, 100_000, 1_000_003] {
            st.set_limits(Limits { fuel: Some(fuel), ..Limits::default() });
            errors.push(st.call("spin", &[]).unwrap_err().to_string());
        }
        st.set_limits(Limits::default());
        let sum = st.call("count", &[LuaValue::Int(1_000_000)]).unwrap();
        let tiers: Vec<u8> = engine.jit_stats().functions.iter().map(|f| f.tier).collect();
        (errors, sum, tiers)
    };
    let (interp, interp_sum, _) = run(TierMode::Interpreter);
    let (opt, opt_sum, tiers) = run(TierMode::Optimizing);
    assert!(interp[2].contains("fuel exhausted after 100000 steps"), "{interp:?}");
    assert_eq!(opt, interp);
    assert_eq!(opt_sum, interp_sum);
    assert!(tiers.iter().all(|t| *t == 2), "{tiers:?}");
}

#[test]
fn a_function_too_big_for_the_cache_is_rejected_with_a_reason_and_still_runs() {
    let engine = Engine::with_config(config(|t| {
        t.mode = TierMode::Baseline;
        t.code_cache_bytes = 4096;
    }));
    let mut body = String::from("function big(x)\n local a = x\n");
    for i in 0..400 {
        body += &format!(" a = a + {i} * x\n");
    }
    body += " return a\nend\n";
    engine.load_module("m", body.as_bytes()).unwrap();
    let mut st = engine.new_state();
    st.require("m").unwrap();
    let want: i64 = 2 + (0..400).map(|i| i * 2).sum::<i64>();
    assert_eq!(st.call("big", &[LuaValue::Int(2)]).unwrap(), vec![LuaValue::Int(want)]);
    let s = engine.jit_stats();
    let big = s.functions.iter().find(|f| f.name == "big").unwrap();
    assert_eq!(big.tier, 0);
    assert!(big.rejected.as_deref().unwrap_or("").contains("exceed the whole code cache"), "{big:?}");
    assert_eq!(s.rejected, 1);
    // Rejected once: later calls do not retry.
    st.call("big", &[LuaValue::Int(2)]).unwrap();
    assert_eq!(engine.jit_stats().rejected, 1);
}

#[test]
fn the_latency_controller_pauses_workers_and_still_makes_progress() {
    let engine = Engine::with_config(config(|t| {
        *t = TieringConfig::preset(ember_engine::Policy::Latency);
        // Any invocation is "slow": the controller must pause...
        t.latency_target_us = 1;
        t.latency_window = 16;
        t.tier1_threshold = 10;
        // ...but never for more than this at a time.
        t.max_pause_ms = 30;
    }));
    // String work the JIT cannot speed up: always slower than the target.
    let src = format!("{}\nfunction slow() local s = string.rep('a', 5000) return #s:gsub('a', 'bb') end", many_functions(3));
    engine.load_module("m", src.as_bytes()).unwrap();
    let mut st = engine.new_state();
    st.require("m").unwrap();
    // Fill the window with invocations over the target before anything is hot.
    for _ in 0..16 {
        st.call("slow", &[]).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while engine.jit_stats().tier1_compiled < 3 {
        assert!(std::time::Instant::now() < deadline, "compiles never progressed: {:?}", engine.jit_stats());
        for i in 0..3 {
            st.call(&format!("f{i}"), &[LuaValue::Int(1)]).unwrap();
        }
        st.call("slow", &[]).unwrap();
    }
    let s = engine.jit_stats();
    assert!(s.controller_pauses >= 1, "{s:?}");
    assert!(s.invocation_p99_us >= 1);
    assert_eq!(s.compiled_on_invoking_thread, 0, "the latency policy never compiles on an invoking thread");
}

#[test]
fn pcall_crosses_tiers_both_ways() {
    let engine = Engine::with_config(config(|t| t.tier1_threshold = 30));
    engine
        .load_module(
            "m",
            b"function thrower(x) if x % 2 == 0 then error({code = x}) end return x end
              function catcher(n)
                local caught = 0
                for i = 1, n do
                  local ok, e = pcall(thrower, i)
                  if not ok then caught = caught + e.code end
                end
                return caught
              end",
        )
        .unwrap();
    let mut st = engine.new_state();
    st.require("m").unwrap();
    for _ in 0..50 {
        assert_eq!(st.call("catcher", &[LuaValue::Int(10)]).unwrap(), vec![LuaValue::Int(2 + 4 + 6 + 8 + 10)]);
    }
    // The background worker publishes both soon; keep calling until then.
    let compiled = |e: &Engine| {
        let s = e.jit_stats();
        ["thrower", "catcher"].iter().all(|n| s.functions.iter().any(|f| f.name == *n && f.tier == 1))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !compiled(&engine) {
        assert!(std::time::Instant::now() < deadline, "not compiled: {:?}", engine.jit_stats());
        std::thread::sleep(Duration::from_millis(5));
    }
    // Now errors cross from compiled thrower into compiled catcher.
    for _ in 0..5 {
        assert_eq!(st.call("catcher", &[LuaValue::Int(10)]).unwrap(), vec![LuaValue::Int(30)]);
    }
}

#[test]
fn a_compile_gate_is_asked_before_every_background_compile() {
    use ember_engine::{CompileGate, GateDecision, GateOutcome, GatePermit, GateRequest};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Gate {
        asked: AtomicU64,
        said_later: AtomicU64,
        outstanding: Mutex<Vec<u64>>,
        released: AtomicU64,
        compiled: AtomicU64,
    }
    impl CompileGate for Gate {
        fn acquire(&self, r: &GateRequest) -> GateDecision {
            assert_eq!(r.tier, 1);
            assert!(r.estimated_us > 0);
            let n = self.asked.fetch_add(1, Ordering::SeqCst);
            // Every other ask is refused for now.
            if n.is_multiple_of(2) {
                self.said_later.fetch_add(1, Ordering::SeqCst);
                return GateDecision::Later(Duration::from_millis(1));
            }
            self.outstanding.lock().unwrap().push(n);
            GateDecision::Go(GatePermit(n))
        }
        fn release(&self, p: GatePermit, o: GateOutcome) {
            let mut out = self.outstanding.lock().unwrap();
            let i = out.iter().position(|&x| x == p.0).expect("a permit we issued, returned once");
            out.swap_remove(i);
            self.released.fetch_add(1, Ordering::SeqCst);
            if o.compiled {
                self.compiled.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    let engine = Engine::with_config(config(|t| {
        t.tier1_threshold = 40;
        t.workers = 1;
        t.compile_on_invoking_thread = false;
    }));
    let gate = Arc::new(Gate::default());
    engine.set_compile_gate(Some(gate.clone()));
    engine.load_module("m", many_functions(6).as_bytes()).unwrap();
    let mut s = engine.new_state();
    s.require("m").unwrap();
    for round in 0..200 {
        for i in 0..6 {
            let r = s.call(&format!("f{i}"), &[LuaValue::Int(round)]).unwrap();
            assert_eq!(r, vec![LuaValue::Int(expected(i, round))]);
        }
        if engine.jit_stats().tier1_compiled == 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while engine.jit_stats().tier1_compiled < 6 && std::time::Instant::now() < deadline {
        for i in 0..6 {
            s.call(&format!("f{i}"), &[LuaValue::Int(1)]).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // The worker counts a compile as it publishes, then releases the permit:
    // give the last release time to land.
    let settled = || {
        gate.released.load(Ordering::SeqCst) == gate.asked.load(Ordering::SeqCst) - gate.said_later.load(Ordering::SeqCst)
            && gate.outstanding.lock().unwrap().is_empty()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !settled() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = engine.jit_stats();
    assert_eq!(stats.tier1_compiled, 6, "every function compiled in the end");
    assert_eq!(gate.compiled.load(Ordering::SeqCst), 6, "each compile held a permit");
    assert_eq!(gate.released.load(Ordering::SeqCst), gate.asked.load(Ordering::SeqCst) - gate.said_later.load(Ordering::SeqCst));
    assert!(gate.outstanding.lock().unwrap().is_empty(), "every permit came back");
    assert_eq!(stats.gate_waits, gate.said_later.load(Ordering::SeqCst));
    assert!(stats.gate_waits >= 6);
}

/// A gate learns how each compile it allowed ended; at tier 2 too (the
/// coordinator keeps a pioneer only when its compile was published, so an
/// optimizing compile reported as failed would undo the pioneer rule).
#[test]
fn a_compile_gate_hears_that_tier_2_compiles_were_published() {
    use ember_engine::{CompileGate, GateDecision, GateOutcome, GatePermit, GateRequest};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Gate {
        next: AtomicU64,
        tiers: Mutex<std::collections::HashMap<u64, u8>>,
        released: Mutex<Vec<(u8, bool)>>,
    }
    impl CompileGate for Gate {
        fn acquire(&self, r: &GateRequest) -> GateDecision {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            self.tiers.lock().unwrap().insert(n, r.tier);
            GateDecision::Go(GatePermit(n))
        }
        fn release(&self, p: GatePermit, o: GateOutcome) {
            let tier = self.tiers.lock().unwrap().remove(&p.0).expect("a permit we issued");
            self.released.lock().unwrap().push((tier, o.compiled));
        }
    }

    let engine = Engine::with_config(config(|t| {
        t.tier1_threshold = 40;
        t.tier2_threshold = 2000;
        t.workers = 1;
        t.compile_on_invoking_thread = false;
    }));
    let gate = Arc::new(Gate::default());
    engine.set_compile_gate(Some(gate.clone()));
    engine.load_module("m", many_functions(1).as_bytes()).unwrap();
    let mut s = engine.new_state();
    s.require("m").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while engine.jit_stats().tier2_compiled == 0 && std::time::Instant::now() < deadline {
        for x in 0..50 {
            assert_eq!(s.call("f0", &[LuaValue::Int(x)]).unwrap(), vec![LuaValue::Int(expected(0, x))]);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(engine.jit_stats().tier2_compiled, 1, "f0 reached tier 2");
    // The permit is released just after the publish that the count follows.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while gate.released.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let released = gate.released.lock().unwrap().clone();
    assert_eq!(released, [(1, true), (2, true)], "both compiles released as published");
}
