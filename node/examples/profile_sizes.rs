//! Measures how big profiles are on the wire: runs Lua programs (default:
//! every `bench/programs/*.lua`), then encodes each function that would be
//! published (calls + back-edges ≥ the publish threshold) as a node does —
//! origin included, with and without a trace context — and reports the
//! distribution per program and overall.
//!
//! `cargo run --release -p ember-node --example profile_sizes [FILES...] [--json OUT]`

use std::io::Write;

use ember_engine::{Engine, EngineConfig};
use ember_node::codec::{Origin, TraceContext, encode};
use ember_node::{PublishConfig, unix_ms};

fn percentile(sorted: &[usize], p: f64) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json_out = args.iter().position(|a| a == "--json").map(|i| {
        let out = args.get(i + 1).cloned().expect("--json needs a file");
        args.drain(i..=i + 1);
        out
    });
    let mut files = args;
    if files.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/programs");
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("bench/programs")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "lua"))
            .map(|p| p.display().to_string())
            .collect();
        v.sort();
        files = v;
    }
    let min_hotness = PublishConfig::default().min_hotness;
    let origin = Origin { node: "node-1".into(), generation: unix_ms(), timestamp_ms: unix_ms() };
    let trace = TraceContext { trace_id: [0x5a; 16], span_id: [0xa5; 8], flags: 1 };
    let (mut all, mut all_traced) = (Vec::new(), Vec::new());
    let mut rows = Vec::new();
    println!("{:<16} {:>5} {:>6} {:>6} {:>6} {:>9}", "program", "hot", "min", "median", "max", "w/ trace");
    for f in &files {
        let name = std::path::Path::new(f).file_stem().unwrap().to_string_lossy().to_string();
        let src = std::fs::read(f).expect("read program");
        let engine = Engine::with_config(EngineConfig::default());
        engine.load_module_as(&name, &src, &format!("@{f}")).expect("compiles");
        let mut state = engine.new_state();
        state.set_output(Box::new(std::io::sink()));
        if let Err(e) = state.run_main(&name, f, &[]) {
            eprintln!("{name}: {e}");
            continue;
        }
        let mut sizes: Vec<usize> = Vec::new();
        let mut traced: Vec<usize> = Vec::new();
        for p in engine.compact_profiles(usize::MAX).iter().filter(|p| p.calls + p.back_edges >= min_hotness) {
            sizes.push(encode(p, Some(&origin), None).len());
            traced.push(encode(p, Some(&origin), Some(&trace)).len());
        }
        sizes.sort_unstable();
        traced.sort_unstable();
        println!(
            "{name:<16} {:>5} {:>6} {:>6} {:>6} {:>9}",
            sizes.len(),
            sizes.first().unwrap_or(&0),
            percentile(&sizes, 0.5),
            sizes.last().unwrap_or(&0),
            percentile(&traced, 0.5)
        );
        std::io::stdout().flush().ok();
        rows.push(serde_json::json!({"program": name, "hot_functions": sizes.len(), "bytes": sizes, "bytes_with_trace": traced}));
        all.extend(sizes);
        all_traced.extend(traced);
    }
    all.sort_unstable();
    all_traced.sort_unstable();
    let under = all.iter().filter(|&&b| b <= 128).count();
    println!(
        "\nall {} hot functions: median {} B, p90 {} B, max {} B; {:.0}% ≤ 128 B; with a trace context: median {} B, p90 {} B",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        all.last().unwrap_or(&0),
        100.0 * under as f64 / all.len().max(1) as f64,
        percentile(&all_traced, 0.5),
        percentile(&all_traced, 0.9)
    );
    if let Some(out) = json_out {
        let doc = serde_json::json!({
            "median": percentile(&all, 0.5), "p90": percentile(&all, 0.9), "max": all.last(),
            "median_with_trace": percentile(&all_traced, 0.5), "programs": rows,
        });
        std::fs::write(&out, serde_json::to_string_pretty(&doc).unwrap()).expect("write json");
        println!("wrote {out}");
    }
}
