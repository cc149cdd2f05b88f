//! Embedding Ember: load a module once, run it on several worker threads
//! (one state each), bound each invocation, and read the profile the
//! interpreter collected.
//!
//! Run with `cargo run --release -p ember-engine --example embed`.

use std::time::Duration;

use ember_engine::{Engine, Error, Limits, LuaValue};

const HANDLERS: &str = r#"
local Rules = {}
Rules.__index = Rules

function Rules.new(limit) return setmetatable({limit = limit, seen = 0}, Rules) end

function Rules:check(amount)
  self.seen = self.seen + 1
  if amount > self.limit then return "deny", string.format("%.2f over", amount - self.limit) end
  return "allow", ""
end

local rules = Rules.new(100)

function handle(amount) return rules:check(amount) end

function spin() while true do end end
"#;

fn main() -> Result<(), Error> {
    let engine = Engine::new();
    engine.load_module("handlers", HANDLERS.as_bytes())?;

    // One state per worker thread; the compiled module is shared.
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let engine = engine.clone();
            std::thread::spawn(move || -> Result<(usize, usize), Error> {
                let mut state = engine.new_state();
                state.require("handlers")?;
                state.set_limits(Limits { deadline: Some(Duration::from_millis(100)), ..Limits::default() });
                let (mut allowed, mut denied) = (0, 0);
                for i in 0..10_000 {
                    let amount = LuaValue::Float(((i * 7 + w * 13) % 150) as f64);
                    match state.call("handle", &[amount])?.first() {
                        Some(v) if v.as_str() == Some("allow") => allowed += 1,
                        _ => denied += 1,
                    }
                }
                Ok((allowed, denied))
            })
        })
        .collect();
    for (w, h) in workers.into_iter().enumerate() {
        let (allowed, denied) = h.join().expect("worker panicked")?;
        println!("worker {w}: {allowed} allowed, {denied} denied");
    }

    // A runaway invocation is stopped by its limit; the state stays usable.
    let mut state = engine.new_state();
    state.require("handlers")?;
    state.set_limits(Limits { fuel: Some(1_000_000), ..Limits::default() });
    match state.call("spin", &[]) {
        Err(Error::Limit { message, .. }) => println!("spin stopped: {message}"),
        other => println!("unexpected: {other:?}"),
    }
    let r = state.call("handle", &[LuaValue::Int(150)])?;
    println!("after the limit: {}", r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "));

    // What the interpreter learned, for the JIT tiers and the cluster.
    for p in engine.profiles().iter().filter(|p| p.calls > 0).take(4) {
        println!("{:<14} calls={:<6} back-edges={:<5} sites={} key={}", p.name, p.calls, p.back_edges, p.sites.len(), p.key);
    }
    Ok(())
}
