//! From a [`RunLog`] to figures: per node (re)start, the time to 90% of its
//! steady throughput, throughput in its first seconds, latency during
//! warm-up and at steady state, compilations, deopts and leases; the
//! coordinator's budget use; `summary.json`; and the side-by-side table.
//!
//! Definitions (also in the README of the simulator):
//! - *steady throughput* of a node: its completed requests per second over
//!   the last third of the time it was driven after the (re)start;
//! - *time to 90%*: from the moment it was serving to the end of the first
//!   0.1 s window whose throughput reached 90% of that, and whose next
//!   second held 90% on average (so 0.1 s is the shortest warm-up it can
//!   report, and a lucky window in the middle of a ramp does not count);
//! - *warm-up window*, for latency: the first W seconds of service, where
//!   W is the slowest measured warm-up in the run (at least 1 s), so every
//!   node is compared over the same span.

use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::drive::Sample;
use crate::observe::NodePoint;
use crate::run::{RunLog, ServiceStart};

#[derive(Clone, Debug, Serialize)]
pub struct Warmup {
    pub node: String,
    pub cause: String,
    pub warm_start: bool,
    pub policy: String,
    pub serving_at_s: f64,
    pub start_s: f64,
    pub compiled_before_first_request: usize,
    pub warmup_s: Option<f64>,
    pub first_seconds: f64,
    pub first_rps: f64,
    pub steady_rps: f64,
    pub p50_warmup_us: u64,
    pub p99_warmup_us: u64,
    pub p50_steady_us: u64,
    pub p99_steady_us: u64,
    pub requests: usize,
    pub errors: usize,
    pub compiles_t1: u64,
    pub compiles_t2: u64,
    pub deopts: u64,
    pub leases_granted: u64,
    pub leases_denied: u64,
    pub local_compiles: u64,
}

pub struct Report {
    pub warmups: Vec<Warmup>,
    pub summary: Json,
}

/// Width of the moving window of the warm-up criterion, seconds: the
/// shortest warm-up it can report.
const WINDOW: f64 = 0.1;
/// From a window's start, how long the node must then hold 90% on average
/// for the window to count: one lucky window during a ramp does not.
const SUSTAIN: f64 = 1.0;
/// Step of the moving window, seconds.
const STEP: f64 = 0.01;

/// Seconds of service over which "throughput over the first seconds" is taken.
const FIRST_SECONDS: f64 = 3.0;

pub fn analyze(log: &RunLog) -> Report {
    let mut warmups = Vec::new();
    for (i, st) in log.starts.iter().enumerate() {
        // The node's service runs until its next (re)start, or the end.
        let end = log.starts[i + 1..].iter().find(|o| o.node == st.node).map_or(log.duration_s, |o| o.t);
        let samples: Vec<Sample> =
            log.samples.get(&st.node).map(|v| v.iter().copied().filter(|s| s.t >= st.t && s.t < end).collect()).unwrap_or_default();
        warmups.push(measure(st, &samples, log, end));
    }
    // Latency during warm-up: the same window for every node.
    let window = warmups.iter().filter_map(|w| w.warmup_s).fold(1.0f64, f64::max);
    for w in &mut warmups {
        let samples: Vec<u32> = log.samples[&w.node]
            .iter()
            .filter(|s| s.ok && s.t >= w.serving_at_s && s.t < w.serving_at_s + window)
            .map(|s| s.latency_us)
            .collect();
        w.p50_warmup_us = percentile(&samples, 0.50);
        w.p99_warmup_us = percentile(&samples, 0.99);
    }
    let summary = summarize(log, &warmups, window);
    Report { warmups, summary }
}

fn measure(st: &ServiceStart, samples: &[Sample], log: &RunLog, end: f64) -> Warmup {
    let ok: Vec<&Sample> = samples.iter().filter(|s| s.ok).collect();
    // When was the node actually driven? From its first to its last answer.
    let (first, last) = match (ok.first(), ok.last()) {
        (Some(f), Some(l)) => (f.t, l.t),
        _ => (st.t, st.t),
    };
    let span = (last - st.t).max(0.0);
    let steady_from = st.t + span * 2.0 / 3.0;
    let steady: Vec<&&Sample> = ok.iter().filter(|s| s.t >= steady_from).collect();
    let steady_rps = if last > steady_from { steady.len() as f64 / (last - steady_from) } else { 0.0 };
    // The first window at 90% whose next second holds 90% on average.
    let mut warmup_s = None;
    if steady_rps > 0.0 {
        let count = |from: f64, to: f64| ok.iter().filter(|s| s.t >= from && s.t < to).count() as f64;
        let mut t = st.t.min(first);
        while t + SUSTAIN <= last {
            if count(t, t + WINDOW) >= 0.9 * steady_rps * WINDOW && count(t, t + SUSTAIN) >= 0.9 * steady_rps * SUSTAIN {
                // Credit the end of the window: that is when the rate was reached.
                warmup_s = Some((t + WINDOW - st.t).max(0.0));
                break;
            }
            t += STEP;
        }
    }
    let first_seconds = FIRST_SECONDS.min(span.max(0.1));
    let first_rps = ok.iter().filter(|s| s.t < st.t + first_seconds).count() as f64 / first_seconds;
    let steady_lat: Vec<u32> = steady.iter().map(|s| s.latency_us).collect();
    // Counters at the end of this service period.
    let point = log.observer.nodes.get(&st.node).and_then(|v| v.iter().rev().find(|p| p.t <= end + 0.5).cloned()).unwrap_or_default();
    Warmup {
        node: st.node.clone(),
        cause: st.cause.clone(),
        warm_start: st.warm_start,
        policy: st.policy.clone(),
        serving_at_s: st.t,
        start_s: st.start_s,
        compiled_before_first_request: st.compiled_before_first_request,
        warmup_s,
        first_seconds,
        first_rps,
        steady_rps,
        p50_warmup_us: 0,
        p99_warmup_us: 0,
        p50_steady_us: percentile(&steady_lat, 0.50),
        p99_steady_us: percentile(&steady_lat, 0.99),
        requests: ok.len(),
        errors: samples.len() - ok.len(),
        compiles_t1: point.compiles_t1,
        compiles_t2: point.compiles_t2,
        deopts: point.deopts,
        leases_granted: point.leases_granted,
        leases_denied: point.leases_denied,
        local_compiles: point.local_compiles,
    }
}

pub fn percentile(v: &[u32], q: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let i = ((s.len() as f64 * q).ceil() as usize).clamp(1, s.len()) - 1;
    u64::from(s[i])
}

/// The median (the mean of the middle two for an even count). Warm-up
/// times on a shared machine have outliers of seconds in both directions,
/// so repeated measurements are summarized by their median, not the mean.
fn median(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = xs.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Warm-up speedup, with the warm time floored at the shortest warm-up
/// the measurement can report (one window).
fn speedup(cold: f64, warm: f64) -> f64 {
    round(cold / warm.max(WINDOW))
}

fn summarize(log: &RunLog, w: &[Warmup], window: f64) -> Json {
    let cold: Vec<&Warmup> = w.iter().filter(|x| !x.warm_start).collect();
    let warm: Vec<&Warmup> = w.iter().filter(|x| x.warm_start).collect();
    let cold_warmup = median(cold.iter().filter_map(|x| x.warmup_s));
    let warm_warmup = median(warm.iter().filter_map(|x| x.warmup_s));
    // The i-th cold start against the i-th warm one: the demo alternates
    // them, so each pair ran minutes apart at most.
    let pairs: Vec<Json> = cold
        .iter()
        .zip(&warm)
        .map(|(c, w)| {
            json!({
                "cold": c.node, "warm": w.node,
                "cold_warmup_s": c.warmup_s.map(round), "warm_warmup_s": w.warmup_s.map(round),
                "speedup": c.warmup_s.zip(w.warmup_s).map(|(c, w)| speedup(c, w)),
            })
        })
        .collect();
    // Steady p99 over every driven request in the steady thirds.
    let steady_all: Vec<u32> = w
        .iter()
        .flat_map(|x| {
            let from = x.serving_at_s
                + (log.samples[&x.node].iter().filter(|s| s.ok && s.t >= x.serving_at_s).map(|s| s.t).fold(x.serving_at_s, f64::max)
                    - x.serving_at_s)
                    * 2.0
                    / 3.0;
            log.samples[&x.node].iter().filter(move |s| s.ok && s.t >= from).map(|s| s.latency_us).collect::<Vec<_>>()
        })
        .collect();
    let steady_p99 = if steady_all.is_empty() {
        // No (re)start measured: the whole run's last third.
        let from = log.duration_s * 2.0 / 3.0;
        let v: Vec<u32> = log.samples.values().flatten().filter(|s| s.ok && s.t >= from).map(|s| s.latency_us).collect();
        percentile(&v, 0.99)
    } else {
        percentile(&steady_all, 0.99)
    };
    let c = &log.observer.coordinator;
    let limit = c.iter().filter(|p| p.up).map(|p| p.limit).max().unwrap_or(0);
    let max_seen = c.iter().filter(|p| p.up).map(|p| p.max_active_seen.max(p.active)).max().unwrap_or(0);
    let violations =
        c.iter().filter(|p| p.up && p.active > p.limit).count() + usize::from(c.iter().any(|p| p.up && p.max_active_seen > p.limit));
    let total_ok: usize = log.samples.values().flatten().filter(|s| s.ok).count();
    let total_err: usize = log.samples.values().flatten().filter(|s| !s.ok).count();
    let fc = log.final_coordinator.as_ref();
    // Every node's own counters over the whole run (restarts included):
    // what the pioneer scenarios compare.
    let per_node: std::collections::BTreeMap<&String, Json> = log
        .observer
        .nodes
        .iter()
        .map(|(name, points)| {
            let total = |f: fn(&NodePoint) -> u64| across_restarts(points, f);
            (
                name,
                json!({
                    "deopts": total(|p| p.deopts),
                    "compiles_t1": total(|p| p.compiles_t1),
                    "compiles_t2": total(|p| p.compiles_t2),
                    "leases_granted": total(|p| p.leases_granted),
                    "leases_denied": total(|p| p.leases_denied),
                }),
            )
        })
        .collect();
    let deopts_total: u64 = per_node.values().map(|v| v["deopts"].as_u64().unwrap_or(0)).sum();
    json!({
        "scenario": log.scenario.name,
        "duration_s": round(log.duration_s),
        "requests": total_ok,
        "errors": total_err,
        "warmup_window_s": round(window),
        "cold_warmup_s": cold_warmup.map(round),
        "warm_warmup_s": warm_warmup.map(round),
        "warmup_speedup": cold_warmup.zip(warm_warmup).map(|(c, w)| speedup(c, w)),
        "warmup_pairs": pairs,
        "deopts_cold": if cold.is_empty() { None } else { Some(cold.iter().map(|x| x.deopts).sum::<u64>()) },
        "deopts_warm": if warm.is_empty() { None } else { Some(warm.iter().map(|x| x.deopts).sum::<u64>()) },
        "p99_steady_us": steady_p99,
        "p99_warmup_cold_us": if cold.is_empty() { None } else { Some(cold.iter().map(|x| x.p99_warmup_us).max().unwrap_or(0)) },
        "p99_warmup_warm_us": if warm.is_empty() { None } else { Some(warm.iter().map(|x| x.p99_warmup_us).max().unwrap_or(0)) },
        "warm_compiled_before_first_request": warm.iter().map(|x| x.compiled_before_first_request).min(),
        "cold_compiled_before_first_request": cold.iter().map(|x| x.compiled_before_first_request).max(),
        "budget_max_concurrent": max_seen,
        "budget_limit": limit,
        "budget_violations": violations,
        "leases_granted": fc.map(|s| s.granted),
        "leases_expired": fc.map(|s| s.expired),
        "denials": fc.map(|s| s.denials.iter().map(|d| (d.reason.clone(), d.count)).collect::<std::collections::BTreeMap<_, _>>()),
        "pioneer": log.scenario.cluster.coordinator && log.scenario.coordinator.pioneer,
        "deopts_total": deopts_total,
        "per_node": per_node,
        "nodes": w,
    })
}

/// A counter's total over a node's whole run: a restarted process counts
/// from zero again, so every drop closes one incarnation's share.
fn across_restarts(points: &[NodePoint], f: fn(&NodePoint) -> u64) -> u64 {
    let (mut done, mut last) = (0, 0);
    for p in points {
        let v = f(p);
        if v < last {
            done += last;
        }
        last = v;
    }
    done + last
}

/// One line per node: its deopts, tier-2 compiles and lease answers over
/// the whole run, and the cluster's total deopts.
fn per_node_lines(s: &Json) -> String {
    let mut out = String::new();
    if let Some(m) = s["per_node"].as_object() {
        for (name, v) in m {
            out.push_str(&format!(
                "  {name}: {} deopts, {} tier-2 compiles, leases {} granted / {} denied\n",
                v["deopts"], v["compiles_t2"], v["leases_granted"], v["leases_denied"]
            ));
        }
    }
    let denials = s["denials"].as_object().map(|d| d.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    out.push_str(&format!(
        "deopts in the cluster: {} (pioneer {}); coordinator denials: {}\n",
        s["deopts_total"],
        if s["pioneer"].as_bool() == Some(true) { "on" } else { "off" },
        denials.filter(|d| !d.is_empty()).unwrap_or_else(|| "none".into()),
    ));
    out
}

/// "12.0x 3.1x n/a": each cold/warm pair's own speedup, in order.
fn pair_speedups(s: &Json) -> String {
    let pairs = s["warmup_pairs"].as_array().map(Vec::as_slice).unwrap_or_default();
    pairs.iter().map(|p| p["speedup"].as_f64().map_or("n/a".into(), |v| format!("{v:.1}x"))).collect::<Vec<_>>().join(" ")
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The side-by-side table, one column per measured (re)start.
pub fn table(r: &Report) -> String {
    let w = &r.warmups;
    if w.is_empty() {
        return format!("no node joined or restarted during the run: no warm-up to compare\n\n{}", per_node_lines(&r.summary));
    }
    let opt = |x: Option<f64>| x.map_or("not reached".to_string(), |v| format!("{v:.2} s"));
    let rows: Vec<(&str, Vec<String>)> = vec![
        ("node", w.iter().map(|x| x.node.clone()).collect()),
        ("start", w.iter().map(|x| format!("{}{}", x.cause, if x.warm_start { ", warm start" } else { ", cold" })).collect()),
        ("policy", w.iter().map(|x| x.policy.clone()).collect()),
        ("compiled before 1st request", w.iter().map(|x| x.compiled_before_first_request.to_string()).collect()),
        ("time to 90% of steady req/s", w.iter().map(|x| opt(x.warmup_s)).collect()),
        ("req/s, first seconds", w.iter().map(|x| format!("{:.0} (first {:.0} s)", x.first_rps, x.first_seconds)).collect()),
        ("req/s, steady", w.iter().map(|x| format!("{:.0}", x.steady_rps)).collect()),
        ("p50 / p99 warm-up", w.iter().map(|x| format!("{} / {}", us(x.p50_warmup_us), us(x.p99_warmup_us))).collect()),
        ("p50 / p99 steady", w.iter().map(|x| format!("{} / {}", us(x.p50_steady_us), us(x.p99_steady_us))).collect()),
        ("compilations tier 1 / 2", w.iter().map(|x| format!("{} / {}", x.compiles_t1, x.compiles_t2)).collect()),
        ("deopts", w.iter().map(|x| x.deopts.to_string()).collect()),
        ("leases granted / denied", w.iter().map(|x| format!("{} / {}", x.leases_granted, x.leases_denied)).collect()),
        ("compiles on local budget", w.iter().map(|x| x.local_compiles.to_string()).collect()),
        ("requests (errors)", w.iter().map(|x| format!("{} ({})", x.requests, x.errors)).collect()),
    ];
    let first = rows.iter().map(|(h, _)| h.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..w.len()).map(|i| rows.iter().map(|(_, v)| v[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (h, vals) in &rows {
        out.push_str(&format!("{h:<first$}"));
        for (v, width) in vals.iter().zip(&widths) {
            out.push_str(&format!("  {v:>width$}"));
        }
        out.push('\n');
    }
    let s = &r.summary;
    out.push_str(&format!(
        "\nwarm-up speedup (cold / warm time to 90%{}): {}\nbudget: at most {} concurrent optimizing compiles (limit {}), {} violations; p99 at steady state {}\n",
        match s["warmup_pairs"].as_array().map_or(0, Vec::len) {
            n if n > 1 => format!(", medians of {n} pairs; per pair: {}", pair_speedups(s)),
            _ => String::new(),
        },
        s["warmup_speedup"].as_f64().map_or("n/a".into(), |v| format!("{v:.1}x")),
        s["budget_max_concurrent"],
        s["budget_limit"],
        s["budget_violations"],
        us(s["p99_steady_us"].as_u64().unwrap_or(0)),
    ));
    out.push_str(&per_node_lines(s));
    out
}

fn us(v: u64) -> String {
    if v >= 10_000 { format!("{:.1} ms", v as f64 / 1000.0) } else { format!("{v} µs") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn counters_add_up_across_restarts() {
        let pts: Vec<NodePoint> = [0, 3, 5, 5, 1, 2, 0, 4].iter().map(|&d| NodePoint { deopts: d, ..NodePoint::default() }).collect();
        // 5 before the first restart, 2 before the second, 4 after.
        assert_eq!(across_restarts(&pts, |p| p.deopts), 11);
        assert_eq!(across_restarts(&[], |p| p.deopts), 0);
    }
}
