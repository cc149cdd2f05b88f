//! `ember-sim` as a user runs it: the quick demo end to end (real node and
//! coordinator processes on loopback), model mode at a small size, a bad
//! scenario file, and cleanup on Ctrl-C. The runs share the machine's two
//! cores, so they take turns.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn sim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ember-sim"));
    c.stdin(Stdio::null());
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ember-sim-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn num(s: &Json, key: &str) -> f64 {
    s[key].as_f64().unwrap_or_else(|| panic!("summary.json: {key} missing or not a number: {s:#}"))
}

/// Processes whose command line mentions `needle` (our children carry the
/// report directory in their --data-dir).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn the_quick_demo_warms_a_node_by_gossip_and_reports_every_figure() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("demo");
    let json = dir.join("copy.json");
    let out = sim().args(["--quick", "--report"]).arg(&dir).arg("--json").arg(&json).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ember-sim --quick failed\nstdout:\n{stdout}\nstderr:\n{stderr}");

    // The side-by-side table.
    for row in [
        "time to 90% of steady req/s",
        "req/s, first seconds",
        "p50 / p99 warm-up",
        "p50 / p99 steady",
        "compilations tier 1 / 2",
        "deopts",
        "leases granted / denied",
    ] {
        assert!(stdout.contains(row), "table row '{row}' missing:\n{stdout}");
    }

    let s: Json = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s, serde_json::from_slice::<Json>(&std::fs::read(&json).unwrap()).unwrap(), "--json writes the same summary");
    let duration = num(&s, "duration_s");
    for key in ["cold_warmup_s", "warm_warmup_s"] {
        let v = num(&s, key);
        assert!(v > 0.0 && v < duration, "{key} = {v} outside the run of {duration} s");
    }
    assert!(num(&s, "warmup_speedup") > 0.0);
    for key in ["deopts_cold", "deopts_warm", "budget_violations"] {
        assert!(s[key].is_u64(), "{key}: {}", s[key]);
    }
    assert_eq!(s["budget_violations"], 0, "no lease beyond the budget");
    let (limit, max) = (num(&s, "budget_limit"), num(&s, "budget_max_concurrent"));
    assert!(limit >= 1.0 && max >= 1.0 && max <= limit, "budget: max {max} limit {limit}");
    for key in ["p99_steady_us", "p99_warmup_cold_us", "p99_warmup_warm_us"] {
        let v = num(&s, key);
        assert!(v > 0.0 && v < 60e6, "{key} = {v}");
    }
    // The point of the demo: the gossip-warmed node had compiled code
    // before its first request; the cold one had none.
    assert!(num(&s, "warm_compiled_before_first_request") >= 1.0, "{s:#}");
    assert_eq!(num(&s, "cold_compiled_before_first_request"), 0.0, "{s:#}");
    assert!(num(&s, "leases_granted") >= 1.0, "compiles went through the coordinator: {s:#}");
    assert_eq!(s["errors"], 0, "{s:#}");
    assert!(num(&s, "requests") > 100.0);
    let nodes = s["nodes"].as_array().unwrap();
    assert_eq!(
        nodes.iter().map(|n| n["node"].as_str().unwrap()).collect::<Vec<_>>(),
        ["cold-1", "warm-1", "cold-2", "warm-2", "cold-3", "warm-3"]
    );
    // Three cold/warm pairs, each with its own figures; the headline is
    // the ratio of the medians.
    let pairs = s["warmup_pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 3, "{s:#}");
    for (i, p) in pairs.iter().enumerate() {
        assert_eq!(p["cold"], format!("cold-{}", i + 1));
        assert_eq!(p["warm"], format!("warm-{}", i + 1));
    }
    for kind in ["cold_warmup_s", "warm_warmup_s"] {
        // (A start that never reached 90% in the short --quick phases has
        // no figure and is left out of the median.)
        let mut v: Vec<f64> = pairs.iter().filter_map(|p| p[kind].as_f64()).collect();
        v.sort_by(f64::total_cmp);
        let median = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
        assert!((num(&s, kind) - median).abs() < 1e-9, "{kind} is the median of {v:?}: {s:#}");
    }
    assert!(nodes.iter().all(|n| n["compiles_t1"].as_u64().unwrap() + n["compiles_t2"].as_u64().unwrap() >= 1), "{s:#}");

    // Charts: SVG with their titles, PNG that are PNG.
    for (name, title) in
        [("warmup", "Warm-up"), ("compile_memory", "Compile activity"), ("latency", "latency"), ("leases", "Compile budget")]
    {
        let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains(title), "{name}.svg");
        let png = std::fs::read(dir.join(format!("{name}.png"))).unwrap();
        assert!(png.len() > 5000 && png.starts_with(b"\x89PNG"), "{name}.png");
    }
    assert!(processes_mentioning(&dir.display().to_string()).is_empty(), "child processes left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_kind_of_event_runs_and_each_restart_is_measured() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("events");
    let file = dir.join("events.toml");
    std::fs::write(
        &file,
        r#"
name = "events"
[cluster]
nodes = 2
[[mix.default]]
function = "audit"
args = ["int:1..50"]
[[mix.default]]
function = "forecast"
args = ["int:1..100", "float:1.001..1.01"]
[[mix.flipped]]
function = "audit"
args = ["ifloat:1..50"]
[[phase]]
kind = "ramp"
seconds = 2
clients = 2
[[phase]]
kind = "restart"
node = "n1"
[[phase]]
kind = "kill"
node = "n2"
restart_after_s = 0.5
[[phase]]
kind = "coordinator_down"
[[phase]]
kind = "steady"
seconds = 1.5
[[phase]]
kind = "coordinator_up"
[[phase]]
kind = "shift"
mix = "flipped"
[[phase]]
kind = "policy"
set = { tier2_threshold = "30000" }
[[phase]]
kind = "steady"
seconds = 1.5
[[phase]]
kind = "stop"
node = "n2"
[[phase]]
kind = "steady"
seconds = 1
"#,
    )
    .unwrap();
    let out = sim().arg("run").arg(&file).arg("--report").arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let s: Json = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let nodes = s["nodes"].as_array().unwrap();
    let causes: Vec<(&str, &str)> = nodes.iter().map(|n| (n["node"].as_str().unwrap(), n["cause"].as_str().unwrap())).collect();
    assert_eq!(causes, [("n1", "restart"), ("n2", "kill")], "{s:#}");
    for n in nodes {
        assert!(n["requests"].as_u64().unwrap() > 0, "{n}");
        assert!(n["compiled_before_first_request"].as_u64().unwrap() >= 1, "warmed by snapshot and gossip: {n}");
    }
    assert_eq!(s["budget_violations"], 0);
    assert!(processes_mentioning(&dir.display().to_string()).is_empty(), "child processes left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The pioneer scenario through real processes: the three nodes ask for
/// the same optimizing compiles at once, so the coordinator must make all
/// but one wait for the pioneer (a tier-2 compile released as "failed"
/// once silently dropped every pioneer), and the report counts every
/// node's deopts.
#[test]
fn with_pioneers_on_the_followers_wait_for_the_pioneer() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("pioneer");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/pioneer-on.toml");
    let out = sim().arg("run").arg(&file).arg("--quick").arg("--report").arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let s: Json = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["pioneer"], true);
    // Two followers for each of three functions: six waits when every
    // follower asks inside the pioneer's window (a loaded machine may let a
    // few ask after it), against at most one with the old bug.
    assert!(s["denials"]["pioneer_wait"].as_u64().unwrap_or(0) >= 4, "followers did not wait for pioneers: {s:#}");
    let per_node = s["per_node"].as_object().unwrap();
    assert_eq!(per_node.keys().map(String::as_str).collect::<Vec<_>>(), ["n1", "n2", "n3"]);
    let sum: u64 = per_node.values().map(|v| v["deopts"].as_u64().unwrap()).sum();
    assert_eq!(s["deopts_total"].as_u64(), Some(sum));
    assert!(per_node.values().all(|v| v["compiles_t2"].as_u64().unwrap() >= 3), "every node optimized all three: {s:#}");
    assert!(stdout.contains("pioneer on"), "{stdout}");
    assert!(processes_mentioning(&dir.display().to_string()).is_empty(), "child processes left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn model_mode_converges_at_a_small_size_and_measures_bandwidth() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("model");
    let out = sim().args(["model", "--nodes", "8,24", "--loss", "0.05", "--report"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("new profile") && stdout.contains("bytes/node/s"), "{stdout}");
    let s: Json = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let rows = s["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        for key in ["membership_s", "profile_convergence_s", "outcome_convergence_s"] {
            let v = r[key].as_f64().unwrap_or_else(|| panic!("{key} did not converge: {r}"));
            assert!(v > 0.0 && v < 60.0, "{key} = {v}");
        }
        assert!(r["bytes_per_node_per_s"].as_f64().unwrap() > 100.0, "{r}");
        assert!(r["value_bytes"].as_u64().unwrap() > 32, "real signed profiles: {r}");
        let jain = r["budget_fairness"].as_f64().unwrap();
        assert!(jain > 0.5 && jain <= 1.0, "{r}");
        assert!(r["budget_max_concurrent"].as_u64().unwrap() <= r["budget_limit"].as_u64().unwrap(), "{r}");
    }
    // Bigger clusters carry more membership state per node.
    assert!(rows[1]["bytes_per_node_per_s"].as_f64().unwrap() > rows[0]["bytes_per_node_per_s"].as_f64().unwrap());
    assert!(Path::new(&dir.join("model.png")).exists() && dir.join("model.svg").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_scenario_is_refused_before_anything_starts_with_every_problem_listed() {
    let dir = temp_dir("bad");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "name = \"bad\"\n[[mix.default]]\nfunction = \"price\"\nargs = [\"int:9..1\"]\n\
         [[phase]]\nkind = \"restart\"\nnode = \"n9\"\n[[phase]]\nkind = \"steady\"\nseconds = 0\n",
    )
    .unwrap();
    let out = sim().arg("run").arg(&file).arg("--report").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("bad.toml"), "names the file: {stderr}");
    assert!(stderr.contains("'int:9..1': empty range"), "{stderr}");
    assert!(stderr.contains("phase 1 (restart): no node 'n9'"), "{stderr}");
    assert!(stderr.contains("phase 2 (steady): seconds must be positive"), "{stderr}");
    assert!(!dir.join("run").exists(), "nothing was started");
    let out = sim().arg("check").arg(&file).output().unwrap();
    assert!(!out.status.success());
    let out = sim().arg("check").arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rolling-restart.toml")).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("n2 restarts"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_every_child_process() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("sigint");
    let mut child = sim().args(["--quick", "--report"]).arg(&dir).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // Wait for the cluster to be up (the children exist), then interrupt.
    let needle = dir.display().to_string();
    let start = Instant::now();
    while processes_mentioning(&needle).len() < 3 {
        assert!(start.elapsed() < Duration::from_secs(60), "cluster never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child, not yet reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted run reports failure");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_mentioning(&needle).is_empty() {
        assert!(Instant::now() < deadline, "children still running after Ctrl-C: {:?}", processes_mentioning(&needle));
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
