//! Differential tests: every program under `tests/lua/` must print exactly
//! what lua5.4 prints, in every tier `ember run` offers; and so must the
//! benchmark programs (`bench/programs/`, full size) in the compiled tiers,
//! where long-running realistic code reaches tier 2, deopts and OSR.
//!
//! Expectations are committed (`tests/lua/expected/` and
//! `bench/programs/expected/`, produced by `tests/lua/regen.sh [--bench]`
//! from lua5.4) so the tests run anywhere; when lua5.4 is installed each
//! expectation is re-verified against it first, and with
//! `EMBER_REQUIRE_LUA=1` (set by CI) a missing lua5.4 is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The ways each program is run: every tier `ember run --tier` accepts
/// today (later tiers join this list), plus the interpreter with the
/// collector in stress mode, which frees anything not reachable from the
/// roots within a few KiB of allocation.
const MODES: &[&[&str]] = &[
    &["--tier", "0"],
    // The default policy (balanced, background compilation).
    &["--tier", "auto"],
    // Every function compiled at tier 1 on its first call.
    &["--tier", "1"],
    // Tier-up mid-run, deterministically: hot after a few calls or loop
    // iterations, compiled on the running thread, entered at the next call
    // boundary or loop header.
    &["--tier", "auto", "--tiering", "workers=0", "--tiering", "tier1_threshold=20"],
    // Background workers racing the program, with a code cache so small
    // that units are evicted and freed while it runs.
    &["--tier", "auto", "--tiering", "tier1_threshold=10", "--tiering", "code_cache_bytes=8192"],
    &["--tier", "0", "--gc-stress"],
    &["--tier", "1", "--gc-stress"],
    // Every function compiled at tier 2 on its first call, before any
    // feedback: its guesses (integers everywhere) rest on guards, deopts
    // and recompiles.
    &["--tier", "2"],
    &["--tier", "2", "--gc-stress"],
    // Tier 0 -> 1 -> 2 mid-run on the running thread, with speculations
    // from real feedback; entered at calls and loop headers (OSR).
    &["--tier", "auto", "--tiering", "workers=0", "--tiering", "tier1_threshold=20", "--tiering", "tier2_threshold=200"],
    // Deopt limits so low that functions are recompiled and pinned to
    // tier 1 while they run.
    &["--tier", "2", "--tiering", "workers=0", "--tiering", "deopt_limit=1", "--tiering", "recompile_limit=1"],
];
/// The benchmark programs take about a second each, so they run in the
/// modes that reach the compilers, not the whole matrix above.
const BENCH_MODES: &[&[&str]] = &[
    &["--tier", "1"],
    &["--tier", "2"],
    &["--tier", "auto"],
    &["--tier", "auto", "--tiering", "workers=0", "--tiering", "tier1_threshold=20", "--tiering", "tier2_threshold=200"],
];
const TIMEOUT: Duration = Duration::from_secs(60);

struct Outcome {
    status: i32,
    stderr_first: String,
    stdout: Vec<u8>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/lua").canonicalize().expect("tests/lua exists")
}

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/programs").canonicalize().expect("bench/programs exists")
}

fn programs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".lua") && !n.starts_with("mod_"))
        .collect();
    v.sort();
    v
}

fn run(dir: &Path, cmd: &str, args: &[&str], prefix: &str) -> Outcome {
    let mut child = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd}: {e}"));
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().expect("collect output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or("");
    Outcome {
        status: out.status.code().unwrap_or(-1),
        stderr_first: first.strip_prefix(prefix).unwrap_or(first).to_string(),
        stdout: out.stdout,
    }
}

fn parse_expected(text: &[u8]) -> Outcome {
    let mut rest = text;
    let mut line = |prefix: &str| -> String {
        let end = rest.iter().position(|&c| c == b'\n').expect("header line");
        let l = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        l.strip_prefix(prefix).unwrap_or_else(|| panic!("expected header '{prefix}', got '{l}'")).trim_start().to_string()
    };
    let status = line("#status").parse().expect("status number");
    let stderr_first = line("#stderr");
    line("#stdout");
    Outcome { status, stderr_first, stdout: rest.to_vec() }
}

fn describe_diff(what: &str, want: &Outcome, got: &Outcome) -> Option<String> {
    let mut msg = String::new();
    if want.status != got.status {
        msg += &format!("  exit status: want {} got {}\n", want.status, got.status);
    }
    if want.stderr_first != got.stderr_first {
        msg += &format!("  stderr: want {:?}\n          got  {:?}\n", want.stderr_first, got.stderr_first);
    }
    if want.stdout != got.stdout {
        let w = String::from_utf8_lossy(&want.stdout);
        let g = String::from_utf8_lossy(&got.stdout);
        let line = w.lines().zip(g.lines()).position(|(a, b)| a != b).unwrap_or_else(|| w.lines().count().min(g.lines().count()));
        msg += &format!(
            "  stdout differs at line {}:\n    want {:?}\n    got  {:?}\n",
            line + 1,
            w.lines().nth(line).unwrap_or("<end>"),
            g.lines().nth(line).unwrap_or("<end>")
        );
    }
    if msg.is_empty() { None } else { Some(format!("{what}\n{msg}")) }
}

fn lua54_available() -> bool {
    Command::new("lua5.4").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

#[test]
fn corpus_matches_lua54_in_every_tier() {
    let dir = corpus_dir();
    let progs = programs(&dir);
    assert!(progs.len() >= 200, "the corpus should hold at least 200 programs, found {}", progs.len());
    check(&dir, &progs, MODES, "tests/lua/regen.sh");
}

#[test]
fn bench_programs_match_lua54_in_the_compiled_tiers() {
    let dir = bench_dir();
    let progs = programs(&dir);
    assert!(progs.len() >= 20, "bench/programs should hold at least 20 programs, found {}", progs.len());
    check(&dir, &progs, BENCH_MODES, "tests/lua/regen.sh --bench");
}

/// Runs every program of `dir` in every mode (and lua5.4, when installed,
/// to re-verify the expectation) on a few threads; fails with every
/// mismatch found.
fn check(dir: &Path, progs: &[String], modes: &[&[&str]], regen: &str) {
    let have_lua = lua54_available();
    if !have_lua {
        assert!(std::env::var_os("EMBER_REQUIRE_LUA").is_none(), "EMBER_REQUIRE_LUA is set but lua5.4 is not installed");
        eprintln!("NOTICE: lua5.4 not found; comparing against the committed expectations only (they are not re-verified)");
    }
    let ember = env!("CARGO_BIN_EXE_ember");
    let failures = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(p) = progs.get(i) else { break };
                    let exp_path = dir.join("expected").join(p.replace(".lua", ".expected"));
                    let Ok(text) = std::fs::read(&exp_path) else {
                        failures.lock().unwrap().push(format!("{p}: no expectation file (run {regen} {p})"));
                        continue;
                    };
                    let want = parse_expected(&text);
                    if have_lua {
                        let reference = run(dir, "lua5.4", &[p], "lua5.4: ");
                        if let Some(d) = describe_diff(&format!("{p}: committed expectation is stale vs lua5.4"), &want, &reference) {
                            failures.lock().unwrap().push(d);
                        }
                    }
                    for mode in modes {
                        let mut args = vec!["run"];
                        args.extend_from_slice(mode);
                        args.push(p);
                        let got = run(dir, ember, &args, "ember: ");
                        if let Some(d) = describe_diff(&format!("{p} ({})", mode.join(" ")), &want, &got) {
                            failures.lock().unwrap().push(d);
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
