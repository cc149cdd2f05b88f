//! `ember-bench --latency`: invocation latency during warm-up and at steady
//! state, per tiering policy, on a request-handler workload driven by
//! several threads at once (each with its own state, as a node runs them).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ember_engine::{Engine, EngineConfig, LuaValue, Policy, TierEventKind, TierMode, TieringConfig};

const WORKLOAD: &str = include_str!("../workloads/handlers.lua");

pub struct Options {
    pub threads: usize,
    pub seconds: f64,
    /// Overrides the latency policy's target (µs).
    pub latency_target_us: Option<u64>,
}

#[derive(serde::Serialize)]
pub struct PolicyRow {
    pub policy: String,
    pub warmup_end_s: f64,
    pub warmup_p50_us: f64,
    pub warmup_p99_us: f64,
    pub steady_p50_us: f64,
    pub steady_p99_us: f64,
    pub warmup_per_s: f64,
    pub steady_per_s: f64,
    pub compiled: u64,
    pub on_invoking_thread: u64,
    pub controller_pauses: u64,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

fn run_policy(name: &str, opts: &Options) -> PolicyRow {
    let mut tiering = match name {
        "interpreter" => TieringConfig { mode: TierMode::Interpreter, ..TieringConfig::default() },
        other => TieringConfig::preset(other.parse::<Policy>().expect("known policy")),
    };
    if name == "latency"
        && let Some(t) = opts.latency_target_us
    {
        tiering.latency_target_us = t;
    }
    let engine = Engine::with_config(EngineConfig { tiering, ..EngineConfig::default() });
    let engine_born = Instant::now();
    engine.load_module("handlers", WORKLOAD.as_bytes()).expect("workload compiles");
    let start = Arc::new(Barrier::new(opts.threads + 1));
    let dur = Duration::from_secs_f64(opts.seconds);
    let handles: Vec<_> = (0..opts.threads)
        .map(|t| {
            let (engine, start) = (engine.clone(), start.clone());
            std::thread::spawn(move || {
                let mut st = engine.new_state();
                st.require("handlers").expect("workload loads");
                start.wait();
                let t0 = Instant::now();
                let mut samples = Vec::with_capacity(1 << 20);
                let mut i = t as i64;
                while t0.elapsed() < dur {
                    let s = Instant::now();
                    st.call("handle", &[LuaValue::Int(i)]).expect("handler runs");
                    samples.push((s.duration_since(t0).as_secs_f64(), s.elapsed().as_secs_f64() * 1e6));
                    i += 1;
                }
                samples
            })
        })
        .collect();
    let origin = Instant::now();
    start.wait();
    let samples: Vec<(f64, f64)> = handles.into_iter().flat_map(|h| h.join().expect("worker")).collect();
    let s = engine.jit_stats();
    // Warm-up lasts until the last unit was published (at least 0.5 s).
    let last_compile = engine
        .tier_events(0)
        .iter()
        .filter(|e| e.kind == TierEventKind::Compiled)
        .map(|e| e.at_us as f64 / 1e6 - (origin - engine_born).as_secs_f64())
        .fold(0.0f64, f64::max);
    let warm_end = last_compile.clamp(0.5, opts.seconds / 2.0);
    let steady_start = opts.seconds / 2.0;
    let mut warm: Vec<f64> = samples.iter().filter(|(t, _)| *t < warm_end).map(|x| x.1).collect();
    let mut steady: Vec<f64> = samples.iter().filter(|(t, _)| *t >= steady_start).map(|x| x.1).collect();
    PolicyRow {
        policy: name.to_string(),
        warmup_end_s: warm_end,
        warmup_per_s: warm.len() as f64 / warm_end,
        steady_per_s: steady.len() as f64 / (opts.seconds - steady_start),
        warmup_p50_us: pct(&mut warm, 0.50),
        warmup_p99_us: pct(&mut warm, 0.99),
        steady_p50_us: pct(&mut steady, 0.50),
        steady_p99_us: pct(&mut steady, 0.99),
        compiled: s.tier1_compiled,
        on_invoking_thread: s.compiled_on_invoking_thread,
        controller_pauses: s.controller_pauses,
    }
}

pub fn run(opts: &Options) -> Vec<PolicyRow> {
    let mut rows = Vec::new();
    for p in ["interpreter", "throughput", "balanced", "latency"] {
        eprintln!("latency: policy {p}, {} threads, {:.1} s ...", opts.threads, opts.seconds);
        rows.push(run_policy(p, opts));
    }
    println!(
        "\n{:<12} {:>9} {:>10} {:>10} {:>10} {:>10} {:>11} {:>11} {:>8} {:>8} {:>7}",
        "policy",
        "warmup s",
        "warm p50",
        "warm p99",
        "steady p50",
        "steady p99",
        "warm inv/s",
        "steady inv/s",
        "compiled",
        "invoker",
        "pauses"
    );
    for r in &rows {
        println!(
            "{:<12} {:>9.2} {:>8.1}us {:>8.1}us {:>8.1}us {:>8.1}us {:>11.0} {:>11.0} {:>8} {:>8} {:>7}",
            r.policy,
            r.warmup_end_s,
            r.warmup_p50_us,
            r.warmup_p99_us,
            r.steady_p50_us,
            r.steady_p99_us,
            r.warmup_per_s,
            r.steady_per_s,
            r.compiled,
            r.on_invoking_thread,
            r.controller_pauses
        );
    }
    println!("(warm-up: from the start until the last tier-1 unit was published, at least 0.5 s; steady: the second half of the run)");
    rows
}
