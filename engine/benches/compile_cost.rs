//! Compile cost per bytecode instruction, over every function of every
//! program in `bench/programs/` (criterion reports time per element, an
//! element being one bytecode instruction). Three groups:
//!
//! - `tier1_compile_cold`: no profile, as `--tier 1` compiles (every fast
//!   path emitted);
//! - `tier1_compile_profiled`: after the program ran once in the
//!   interpreter, as `auto` compiles (sites that ran get fast paths only
//!   for the types they saw);
//! - `tier2_compile_profiled`: tier 2 from the same feedback (the
//!   speculation plan, its type inference, Cranelift's optimizer).
//!
//! Run: `cargo bench -p ember-engine --bench compile_cost`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_engine::{Engine, EngineConfig, OutputCapture, TierMode, TieringConfig};

fn programs() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/programs");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("bench/programs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "lua"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

fn measure(c: &mut Criterion, group: &str, profiled: bool, tier: u8) {
    let mut group = c.benchmark_group(group);
    for (name, src) in programs() {
        let tiering = TieringConfig { mode: TierMode::Interpreter, ..TieringConfig::default() };
        let engine = Engine::with_config(EngineConfig { tiering, ..EngineConfig::default() });
        let module = engine.load_module(&name, &src).expect("benchmark programs compile");
        if profiled {
            let mut st = engine.new_state();
            st.set_output(Box::new(OutputCapture::new()));
            st.run_main(&name, &name, &[]).expect("benchmark programs run");
        }
        let protos = module.functions().to_vec();
        let bytecodes: usize = protos.iter().map(|p| p.code_len()).sum();
        group.throughput(Throughput::Elements(bytecodes as u64));
        group.bench_function(&name, |b| {
            b.iter(|| {
                for p in &protos {
                    if tier == 2 {
                        ember_engine::jit::compile_for_measurement_tier2(p).expect("compiles");
                    } else {
                        ember_engine::jit::compile_for_measurement(p, profiled).expect("compiles");
                    }
                }
            })
        });
    }
    group.finish();
}

fn compile_cost(c: &mut Criterion) {
    measure(c, "tier1_compile_cold", false, 1);
    measure(c, "tier1_compile_profiled", true, 1);
    measure(c, "tier2_compile_profiled", true, 2);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = compile_cost
}
criterion_main!(benches);
