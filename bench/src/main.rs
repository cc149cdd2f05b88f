//! `ember-bench`: times Ember against lua5.4 and luajit on `bench/programs`,
//! side by side in one run, and prints ratios and geometric means.
//!
//! Ember runs in process (engine compile + run of the main chunk, output to
//! a buffer); lua5.4 and luajit run as processes. Every Ember run's output
//! is compared with lua5.4's, so a wrong answer never counts as fast.
//! Programs whose header says `-- luajit: no (...)` are not run under
//! luajit and are marked in the table. Run it with
//! `cargo run --release -p ember-bench -- [--runs N] [--json FILE]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use ember_engine::{Engine, EngineConfig, OutputCapture, TierMode, TieringConfig};
use serde::Serialize;

// Same allocator as the `ember` binary, so in-process timings match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ember-bench", about = "Time ember vs lua5.4 vs luajit on bench/programs")]
struct Args {
    /// Directory of benchmark programs.
    #[arg(long, default_value_os_t = default_programs())]
    programs: PathBuf,
    /// Runs per engine and program; the fastest run counts.
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Only these programs (comma-separated names without .lua).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Ember modes to time: t0 (interpreter, profiling on), t0-noprof
    /// (interpreter, profiling off), t1 (every function at tier 1 from its
    /// first call), t2 (every function at tier 2 from its first call), auto
    /// (the default tiering policy).
    #[arg(long, value_delimiter = ',', default_values_t = vec!["t0".to_string(), "t0-noprof".to_string(), "t1".to_string(), "auto".to_string()])]
    modes: Vec<String>,
    /// Skip luajit.
    #[arg(long)]
    no_luajit: bool,
    /// Instead of the program suite, measure invocation latency during
    /// warm-up and at steady state per tiering policy (bench/workloads/handlers.lua).
    #[arg(long)]
    latency: bool,
    /// Invoking threads for --latency.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds per policy for --latency.
    #[arg(long, default_value_t = 6.0)]
    seconds: f64,
    /// Override the latency policy's p99 target (µs) for --latency.
    #[arg(long)]
    latency_target_us: Option<u64>,
    /// Also write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn default_programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

#[derive(Serialize)]
struct Row {
    name: String,
    luajit_compatible: bool,
    lua54_s: Option<f64>,
    luajit_s: Option<f64>,
    /// Seconds per Ember mode, in `modes` order.
    ember_s: Vec<(String, f64)>,
    /// Ember printed exactly what lua5.4 printed, in every mode.
    output_matches: bool,
    /// Per mode: functions past the tier-1 threshold (or, in t1, called at
    /// all) that were still interpreted at the end — should be 0.
    hot_in_interpreter: Vec<(String, usize)>,
    /// Per mode: functions whose code was at tier 2 at the end, and the
    /// deopts taken (a program that never reached tier 2 has no tier-2
    /// figure).
    tier2: Vec<(String, usize, u64)>,
}

#[derive(Serialize)]
struct Report {
    runs: u32,
    modes: Vec<String>,
    rows: Vec<Row>,
    /// Geometric mean of ember/lua5.4 per mode, over all programs.
    geomean_vs_lua54: Vec<(String, f64)>,
    /// Geometric mean of ember/luajit per mode, over luajit-compatible programs.
    geomean_vs_luajit: Vec<(String, f64)>,
}

fn time_process(cmd: &str, file: &Path, runs: u32) -> Option<(f64, Vec<u8>)> {
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let o = Command::new(cmd).arg(file.file_name()?).current_dir(file.parent()?).output().ok()?;
        let t = start.elapsed().as_secs_f64();
        if !o.status.success() {
            eprintln!("  {cmd} failed on {}: {}", file.display(), String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or(""));
            return None;
        }
        best = best.min(t);
        out = o.stdout;
    }
    Some((best, out))
}

/// One timed Ember mode: best seconds, output, functions left hot in the
/// interpreter, functions at tier 2, deopts.
type EmberRun = (f64, Vec<u8>, usize, usize, u64);

fn time_ember(mode: &str, file: &Path, runs: u32) -> Result<EmberRun, String> {
    let src = std::fs::read(file).map_err(|e| e.to_string())?;
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    let mut hot_left = 0;
    let (mut at_tier2, mut deopts) = (0, 0);
    for _ in 0..runs {
        let profiling = mode != "t0-noprof";
        let tiering = TieringConfig {
            mode: match mode {
                "t1" => TierMode::Baseline,
                "t2" => TierMode::Optimizing,
                "auto" => TierMode::Auto,
                _ => TierMode::Interpreter,
            },
            ..TieringConfig::default()
        };
        let threshold = if mode == "t1" || mode == "t2" { 1 } else { tiering.tier1_threshold };
        let start = Instant::now();
        let engine = Engine::with_config(EngineConfig { profiling, tiering });
        engine.load_module_as("main", &src, &name).map_err(|e| e.to_string())?;
        let mut st = engine.new_state();
        let buf = OutputCapture::new();
        st.set_output(Box::new(buf.clone()));
        st.run_main("main", &name, &[]).map_err(|e| e.to_string())?;
        best = best.min(start.elapsed().as_secs_f64());
        out = buf.take();
        if mode != "t0" && mode != "t0-noprof" {
            // A function that got hot just before the end may still be
            // compiling: that is a compile not yet done, not one left out,
            // so a function counts only if it is still in the interpreter
            // two seconds later.
            let give_up = Instant::now() + std::time::Duration::from_secs(2);
            let hot_in_interpreter = |e: &Engine| e.jit_stats().functions.iter().filter(|f| f.tier == 0 && f.hotness >= threshold).count();
            while hot_in_interpreter(&engine) > 0 && Instant::now() < give_up {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            hot_left = hot_in_interpreter(&engine);
            let stats = engine.jit_stats();
            at_tier2 = stats.functions.iter().filter(|f| f.tier == 2).count();
            deopts = stats.deopts;
        }
    }
    Ok((best, out, hot_left, at_tier2, deopts))
}

fn geomean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

mod latency;

fn main() {
    let args = Args::parse();
    if args.latency {
        let rows = latency::run(&latency::Options {
            threads: args.threads.max(1),
            seconds: args.seconds.max(1.0),
            latency_target_us: args.latency_target_us,
        });
        if let Some(path) = &args.json {
            if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&rows).expect("serializable")) {
                eprintln!("ember-bench: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
            eprintln!("ember-bench: wrote {}", path.display());
        }
        return;
    }
    for m in &args.modes {
        if !["t0", "t0-noprof", "t1", "t2", "auto"].contains(&m.as_str()) {
            eprintln!("ember-bench: unknown mode '{m}' (known: t0, t0-noprof, t1, t2, auto)");
            std::process::exit(2);
        }
    }
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&args.programs) {
        Ok(d) => d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "lua")).collect(),
        Err(e) => {
            eprintln!("ember-bench: cannot read {}: {e}", args.programs.display());
            std::process::exit(2);
        }
    };
    files.sort();
    if !args.only.is_empty() {
        files.retain(|f| args.only.iter().any(|o| f.file_stem().is_some_and(|s| s == o.as_str())));
    }
    let have = |c: &str| Command::new(c).arg("-v").output().is_ok();
    let have_lua = have("lua5.4");
    let have_luajit = !args.no_luajit && have("luajit");
    if !have_lua {
        eprintln!("ember-bench: lua5.4 not found: ratios need it (apt-get install lua5.4)");
    }
    eprintln!("ember-bench: {} programs, {} run(s) each, modes {:?}", files.len(), args.runs, args.modes);
    let mut rows = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let header = std::fs::read_to_string(f).unwrap_or_default();
        let jit_ok = header.lines().take(5).any(|l| l.trim() == "-- luajit: yes");
        eprint!("[{:>2}/{}] {name:<14}", i + 1, files.len());
        let lua = if have_lua { time_process("lua5.4", f, args.runs) } else { None };
        let jit = if have_luajit && jit_ok { time_process("luajit", f, args.runs) } else { None };
        let mut ember = Vec::new();
        let mut hot_left = Vec::new();
        let mut tier2 = Vec::new();
        let mut matches = true;
        for m in &args.modes {
            match time_ember(m, f, args.runs) {
                Ok((t, out, left, at2, deopts)) => {
                    hot_left.push((m.clone(), left));
                    tier2.push((m.clone(), at2, deopts));
                    if let Some((_, want)) = &lua
                        && *want != out
                    {
                        matches = false;
                    }
                    ember.push((m.clone(), t));
                }
                Err(e) => {
                    eprintln!("\n  ember ({m}) failed: {e}");
                    matches = false;
                    ember.push((m.clone(), f64::NAN));
                }
            }
        }
        eprintln!(
            " lua5.4 {:>6} luajit {:>6} ember {}{}",
            lua.as_ref().map(|l| format!("{:.2}s", l.0)).unwrap_or("-".into()),
            jit.as_ref().map(|l| format!("{:.2}s", l.0)).unwrap_or(if jit_ok { "-".into() } else { "n/a".into() }),
            ember.iter().map(|(m, t)| format!("{m}={t:.2}s")).collect::<Vec<_>>().join(" "),
            if matches { "" } else { "  OUTPUT DIFFERS FROM lua5.4" }
        );
        rows.push(Row {
            name,
            luajit_compatible: jit_ok,
            lua54_s: lua.map(|l| l.0),
            luajit_s: jit.map(|l| l.0),
            ember_s: ember,
            output_matches: matches,
            hot_in_interpreter: hot_left,
            tier2,
        });
    }
    let mut gm_lua = Vec::new();
    let mut gm_jit = Vec::new();
    for (mi, m) in args.modes.iter().enumerate() {
        let r: Vec<f64> = rows.iter().filter_map(|r| Some(r.ember_s[mi].1 / r.lua54_s?)).filter(|x| x.is_finite()).collect();
        gm_lua.push((m.clone(), geomean(&r)));
        let j: Vec<f64> = rows.iter().filter_map(|r| Some(r.ember_s[mi].1 / r.luajit_s?)).filter(|x| x.is_finite()).collect();
        gm_jit.push((m.clone(), geomean(&j)));
    }
    // The table.
    let mut out = String::new();
    out += &format!("\n{:<14} {:>8} {:>8}", "program", "lua5.4", "luajit");
    for m in &args.modes {
        out += &format!(" {:>10} {:>9}", format!("ember:{m}"), "/lua5.4");
    }
    out += &format!(" {:>10}\n", format!("{}/luajit", args.modes.last().map(String::as_str).unwrap_or("")));
    for r in &rows {
        let f = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or("-".into());
        out += &format!("{:<14} {:>8} {:>8}", r.name, f(r.lua54_s), if r.luajit_compatible { f(r.luajit_s) } else { "n/a".into() });
        for (_, t) in &r.ember_s {
            out += &format!(" {:>10.2} {:>9}", t, r.lua54_s.map(|l| format!("{:.2}x", t / l)).unwrap_or("-".into()));
        }
        let last = r.ember_s.last().map(|e| e.1).unwrap_or(f64::NAN);
        out += &format!(" {:>10}", r.luajit_s.map(|j| format!("{:.2}x", last / j)).unwrap_or("-".into()));
        for (m, n) in &r.hot_in_interpreter {
            if *n > 0 {
                out += &format!("  {m}: {n} hot function(s) left in the interpreter");
            }
        }
        for (m, at2, deopts) in &r.tier2 {
            if m == "auto" || m == "t2" {
                out += &format!("  {m}: {at2} fn at tier 2, {deopts} deopts");
            }
        }
        if !r.output_matches {
            out += "  OUTPUT DIFFERS";
        }
        out += "\n";
    }
    out += "\ngeomean ember/lua5.4: ";
    out += &gm_lua.iter().map(|(m, g)| format!("{m} {g:.2}x")).collect::<Vec<_>>().join(", ");
    out += "\ngeomean ember/luajit (luajit-compatible programs): ";
    out += &gm_jit.iter().map(|(m, g)| format!("{m} {g:.2}x")).collect::<Vec<_>>().join(", ");
    let t0 = args.modes.iter().position(|m| m == "t0");
    for (mi, m) in args.modes.iter().enumerate() {
        if let Some(t0) = t0
            && m != "t0"
            && m != "t0-noprof"
        {
            let r: Vec<f64> = rows.iter().map(|r| r.ember_s[t0].1 / r.ember_s[mi].1).filter(|x| x.is_finite()).collect();
            out += &format!("\ngeomean speedup of {m} over t0: {:.2}x", geomean(&r));
        }
    }
    out += "\n(n/a: the program uses Lua 5.4-only features, marked `-- luajit: no` in its header)\n";
    print!("{out}");
    let report = Report { runs: args.runs, modes: args.modes.clone(), rows, geomean_vs_lua54: gm_lua, geomean_vs_luajit: gm_jit };
    if let Some(path) = &args.json {
        match std::fs::write(path, serde_json::to_string_pretty(&report).expect("serializable")) {
            Ok(()) => eprintln!("ember-bench: wrote {}", path.display()),
            Err(e) => eprintln!("ember-bench: cannot write {}: {e}", path.display()),
        }
    }
    if report.rows.iter().any(|r| !r.output_matches) {
        std::process::exit(1);
    }
}
