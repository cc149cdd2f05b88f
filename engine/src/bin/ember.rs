//! `ember`: run a Lua file like `lua5.4 FILE ARGS...`, with tier and limit
//! controls and execution statistics.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ember_engine::{Engine, EngineConfig, Error, Limits, TierMode, TieringConfig};

#[derive(Parser)]
#[command(name = "ember", version, about = "Ember: a tiered Lua 5.4-subset VM")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a Lua file (stdout identical to `lua5.4 FILE ARGS...`).
    Run(RunArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Tier {
    /// Let the tiering policy decide (hot functions go to tier 1).
    Auto,
    /// Interpreter only.
    #[value(name = "0")]
    T0,
    /// Baseline JIT for every function, compiled on its first call.
    #[value(name = "1")]
    T1,
    /// Optimizing JIT for every function, compiled on its first call with
    /// whatever feedback exists (guards and deopts keep it correct).
    #[value(name = "2")]
    T2,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Execution tier to force.
    #[arg(long, value_enum, default_value = "auto")]
    tier: Tier,
    /// Tiering policy preset for `--tier auto`.
    #[arg(long, default_value = "balanced", value_parser = ["throughput", "latency", "balanced"])]
    policy: String,
    /// Override one tiering knob, KEY=VALUE (repeatable; see docs/tiering.md).
    #[arg(long = "tiering", value_name = "KEY=VALUE")]
    tiering: Vec<String>,
    /// Print per-tier call counts, JIT counters and the hottest functions to stderr.
    #[arg(long)]
    stats: bool,
    /// Stop after N steps (loop back-edges plus calls).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Stop when the live heap passes N MiB.
    #[arg(long, value_name = "N")]
    heap_mb: Option<usize>,
    /// Stop after N milliseconds of wall-clock time.
    #[arg(long, value_name = "N")]
    timeout_ms: Option<u64>,
    /// Stop when Lua calls nest deeper than N frames.
    #[arg(long, value_name = "N")]
    max_depth: Option<usize>,
    /// Do not record tier-0 feedback (for measuring its overhead).
    #[arg(long)]
    no_profile: bool,
    /// Collect garbage after every 16 KiB of allocation (testing aid).
    #[arg(long)]
    gc_stress: bool,
    /// Write /tmp/perf-PID.map on exit, naming each compiled unit's
    /// machine code so `perf report` shows Lua functions instead of
    /// anonymous JIT addresses (profiling aid).
    #[arg(long)]
    perf_map: bool,
    /// The Lua file to run.
    file: String,
    /// Arguments for the script (`arg[1]`, ... and `...`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

// Lua programs allocate many small objects; mimalloc serves them much
// faster than glibc's malloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(a) => run(a),
    }
}

fn run(a: RunArgs) -> ExitCode {
    let mut tiering = TieringConfig::preset(a.policy.parse().expect("clap checked the policy"));
    tiering.mode = match a.tier {
        Tier::T0 => TierMode::Interpreter,
        Tier::T1 => TierMode::Baseline,
        Tier::T2 => TierMode::Optimizing,
        Tier::Auto => TierMode::Auto,
    };
    for kv in &a.tiering {
        let r =
            kv.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got '{kv}'")).and_then(|(k, v)| tiering.set(k.trim(), v.trim()));
        if let Err(e) = r {
            eprintln!("ember: --tiering: {e}");
            return ExitCode::from(2);
        }
    }
    let source = match std::fs::read(&a.file) {
        Ok(s) => strip_comment_line(strip_bom(s)),
        Err(e) => {
            eprintln!("ember: cannot open {} ({e})", a.file);
            return ExitCode::from(1);
        }
    };
    let engine = Engine::with_config(EngineConfig { profiling: !a.no_profile, tiering });
    // `require` looks for ./NAME.lua, like lua5.4's default package.path.
    engine.set_module_loader(Arc::new(|name: &str| {
        let path = format!("./{}.lua", name.replace('.', "/"));
        match std::fs::read(&path) {
            Ok(src) => Some(Ok((strip_comment_line(strip_bom(src)), ember_engine::chunk_id(&format!("@{path}"))))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(Err(format!("cannot read '{path}': {e}"))),
        }
    }));
    let compiled = a.perf_map.then(|| engine.subscribe_tier_events());
    let chunk = ember_engine::chunk_id(&format!("@{}", a.file));
    let code = match engine.load_module_as("main", &source, &chunk) {
        Err(e) => {
            eprintln!("ember: {e}");
            1
        }
        Ok(_) => {
            let mut state = engine.new_state();
            state.set_gc_stress(a.gc_stress);
            state.set_output(Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout())));
            state.set_limits(Limits {
                fuel: a.fuel,
                deadline: a.timeout_ms.map(Duration::from_millis),
                heap_bytes: a.heap_mb.map(|m| m << 20),
                max_depth: a.max_depth,
            });
            let r = state.run_main("main", &a.file, &a.args);
            state.set_output(Box::new(std::io::sink()));
            let code = match r {
                Ok(()) => 0,
                Err(Error::Exit(c)) => c,
                Err(e) => {
                    eprintln!("ember: {e}");
                    eprintln!("stack traceback:\n\t[C]: in ?");
                    1
                }
            };
            if a.stats {
                print_stats(&engine, &state);
            }
            if let Some(events) = &compiled {
                write_perf_map(events);
            }
            code
        }
    };
    let _ = std::io::stdout().flush();
    // Like exit(3): the status is the low 8 bits (os.exit(-1) is 255).
    ExitCode::from((code & 0xff) as u8)
}

/// `--perf-map`: perf's symbol-map format for JIT code, one line per unit
/// ever compiled ("START SIZE NAME", hex), and one per shared stub that
/// compiled code calls (the frame push and return). Units evicted and freed since
/// keep their lines: perf matches samples by address and time of the
/// map's last read, so a profile of a run with evictions may misname a
/// reused address (rare: the code cache limit is large by default).
fn write_perf_map(events: &std::sync::mpsc::Receiver<ember_engine::jit::TierEvent>) {
    use ember_engine::jit::TierEventKind;
    let path = format!("/tmp/perf-{}.map", std::process::id());
    let mut out = String::new();
    for e in events.try_iter().filter(|e| e.kind == TierEventKind::Compiled && e.code_addr != 0) {
        out.push_str(&format!("{:x} {:x} {} ({}) t{}\n", e.code_addr, e.code_bytes.max(1), e.name, e.location, e.tier));
    }
    for (addr, bytes, name) in ember_engine::jit::shared_code_symbols() {
        out.push_str(&format!("{addr:x} {:x} {name}\n", bytes.max(1)));
    }
    if let Err(err) = std::fs::write(&path, out) {
        eprintln!("ember: --perf-map: cannot write {path}: {err}");
    }
}

/// lua5.4 skips a UTF-8 byte-order mark at the start of a script file.
fn strip_bom(mut src: Vec<u8>) -> Vec<u8> {
    if src.starts_with(b"\xEF\xBB\xBF") {
        src.drain(..3);
    }
    src
}

fn print_stats(engine: &Engine, state: &ember_engine::State) {
    let s = state.stats();
    let j = engine.jit_stats();
    let t = engine.tiering();
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "-- ember stats --");
    let _ = writeln!(
        e,
        "tiering: mode {:?}, policy {:?}, tier-1 threshold {}, tier-2 threshold {}, deopt limit {}, recompile limit {}",
        t.mode, t.policy, t.tier1_threshold, t.tier2_threshold, t.deopt_limit, t.recompile_limit
    );
    let _ = writeln!(e, "calls by tier: tier0={} tier1={} tier2={}", s.tier0_calls, s.tier1_calls, s.tier2_calls);
    let _ = writeln!(e, "native calls: {}", s.native_calls);
    let (t1_us, t1_bytecodes) = (j.compile_us_total - j.tier2_compile_us, j.bytecodes_compiled - j.tier2_bytecodes);
    let _ = writeln!(
        e,
        "jit: {} compiled at tier 1 ({} bytecodes, {:.2} ms total, {:.1} us/bytecode), {} rejected, {} evicted, {} on the invoking thread",
        j.tier1_compiled,
        t1_bytecodes,
        t1_us as f64 / 1000.0,
        t1_us as f64 / t1_bytecodes.max(1) as f64,
        j.rejected,
        j.evicted,
        j.compiled_on_invoking_thread
    );
    let _ = writeln!(
        e,
        "tier 2: {} compiled ({} recompiles; {} bytecodes, {:.2} ms total, {:.1} us/bytecode), {} failed, {} deopts, {} OSR entries, {} pinned to tier 1",
        j.tier2_compiled,
        j.recompiles,
        j.tier2_bytecodes,
        j.tier2_compile_us as f64 / 1000.0,
        j.tier2_compile_us as f64 / j.tier2_bytecodes.max(1) as f64,
        j.tier2_rejected,
        j.deopts,
        j.osr_entries,
        j.pinned
    );
    if !j.deopt_sites.is_empty() {
        let _ = writeln!(e, "deopts by site (most frequent first):");
        for d in j.deopt_sites.iter().take(12) {
            let guard = d.guard.map_or("entry-check".to_string(), |g| format!("{g:?}"));
            let _ = writeln!(e, "  {:>8}  {:<14} {} {} pc {}: {}", d.count, guard, d.location, d.name, d.pc, d.last_reason);
        }
    }
    let _ = writeln!(
        e,
        "code cache: {} units, {} KiB (limit {} KiB), {} KiB evicted awaiting free",
        j.units,
        j.code_cache_bytes / 1024,
        t.code_cache_bytes / 1024,
        j.retired_bytes / 1024
    );
    let _ = writeln!(e, "gc: {} collections, heap {} KiB, {} objects", s.gc_collections, s.heap_bytes / 1024, s.heap_objects);
    let _ = writeln!(e, "hottest functions (hotness = calls x {} + interpreted back-edges):", t.call_weight);
    let _ = writeln!(e, "  {:>4} {:>12} {:>8}  {:<40} key", "tier", "hotness", "code B", "function");
    for f in j.functions.iter().take(12) {
        let _ =
            writeln!(e, "  {:>4} {:>12} {:>8}  {:<40} {}", f.tier, f.hotness, f.code_bytes, format!("{} {}", f.location, f.name), f.key);
    }
    let rejected: Vec<_> = j.functions.iter().filter(|f| f.rejected.is_some()).collect();
    if !rejected.is_empty() {
        let _ = writeln!(e, "not compiled (these run in the interpreter):");
        for f in rejected {
            let _ = writeln!(e, "  {} {}: {}", f.location, f.name, f.rejected.as_deref().unwrap_or(""));
        }
    }
    let blocked: Vec<_> = j.functions.iter().filter(|f| f.tier2_blocked.is_some()).collect();
    if !blocked.is_empty() {
        let _ = writeln!(e, "kept at tier 1:");
        for f in blocked {
            let _ = writeln!(e, "  {} {}: {}", f.location, f.name, f.tier2_blocked.as_deref().unwrap_or(""));
        }
    }
}

/// Script files may start with a `#` line (`#!/usr/bin/env ember`), which
/// lua5.4's file loader skips (keeping the newline, so line numbers hold).
fn strip_comment_line(mut src: Vec<u8>) -> Vec<u8> {
    if src.first() == Some(&b'#') {
        let end = src.iter().position(|&c| c == b'\n').unwrap_or(src.len());
        src.drain(..end);
    }
    src
}
