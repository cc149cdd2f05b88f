//! The report's charts, each written as SVG and PNG: warm-up curves per
//! node, compile activity against node memory, latency percentiles over
//! time, and coordinator leases against the budget. Phase boundaries are
//! grey vertical lines in every time chart.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary, so the PNGs
//! look the same on a machine with no fonts installed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::drive::Sample;
use crate::report::percentile;
use crate::run::{Mark, RunLog};

type Res = Result<(), Box<dyn std::error::Error>>;
/// Draws one chart: title, top panel lines, bottom panel lines (none: one
/// panel), axes. Called once per output format.
type Draw<'a> = dyn FnMut(&str, &[Line], &[Line], Axes) -> Res + 'a;

const SIZE: (u32, u32) = (1000, 560);
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// An axis label: whole numbers without decimals, fractions with one
/// (so a 0-4 s axis reads 0.5, 1, 1.5... and not 0.0, 1.0, 1.0...).
fn tick_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// A named line.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
    width: u32,
    color: RGBColor,
}

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

/// Writes every chart of a run into `dir`; returns the files written.
pub fn write_all(log: &RunLog, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    register_font();
    let mut files = Vec::new();
    type Chart = fn(&RunLog, &mut Draw<'_>) -> Res;
    let charts: [(&str, Chart); 4] = [("warmup", warmup), ("compile_memory", compile_memory), ("latency", latency), ("leases", leases)];
    for (name, chart) in charts {
        for ext in ["svg", "png"] {
            let path = dir.join(format!("{name}.{ext}"));
            let mut draw = |title: &str, top: &[Line], bottom: &[Line], axes: Axes| -> Res {
                if ext == "svg" {
                    let root = SVGBackend::new(&path, SIZE).into_drawing_area();
                    render(root, title, top, bottom, &axes, &log.marks, log.duration_s)
                } else {
                    let root = BitMapBackend::new(&path, SIZE).into_drawing_area();
                    render(root, title, top, bottom, &axes, &log.marks, log.duration_s)
                }
            };
            chart(log, &mut draw).map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))?;
            files.push(path);
        }
    }
    Ok(files)
}

/// Titles and units of one chart (one or two stacked panels).
struct Axes {
    x: &'static str,
    y: &'static str,
    log_y: bool,
    bottom_title: &'static str,
    bottom_y: &'static str,
}

fn render<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    top: &[Line],
    bottom: &[Line],
    axes: &Axes,
    marks: &[Mark],
    xmax: f64,
) -> Res
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(title, (FONT, 24))?;
    if bottom.is_empty() {
        panel(&root, top, (axes.x, axes.y), axes.log_y, marks, xmax, None)?;
    } else {
        let (a, b) = root.split_vertically(SIZE.1 / 2 - 10);
        panel(&a, top, (axes.x, axes.y), axes.log_y, marks, xmax, None)?;
        panel(&b, bottom, (axes.x, axes.bottom_y), false, marks, xmax, Some(axes.bottom_title))?;
    }
    root.present()?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[Line],
    (x_desc, y_desc): (&str, &str),
    log_y: bool,
    marks: &[Mark],
    xmax: f64,
    caption: Option<&str>,
) -> Res
where
    DB::ErrorType: 'static,
{
    let ymax = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0f64, f64::max).max(1.0) * 1.1;
    let mut builder = ChartBuilder::on(area);
    builder.margin(12).x_label_area_size(40).y_label_area_size(70);
    if let Some(c) = caption {
        builder.caption(c, (FONT, 16));
    }
    macro_rules! body {
        ($chart:expr, $ymin:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .label_style((FONT, 13))
                .x_label_formatter(&tick_label)
                .y_label_formatter(&tick_label)
                .axis_desc_style((FONT, 14))
                .draw()?;
            for m in marks {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(m.t, $ymin), (m.t, ymax)],
                    RGBColor(170, 170, 170).stroke_width(1),
                )))?;
            }
            for l in lines {
                let style = l.color.stroke_width(l.width);
                let c = l.color;
                chart
                    .draw_series(LineSeries::new(l.points.iter().copied(), style))?
                    .label(l.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
            }
            if !lines.is_empty() {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .label_font((FONT, 13))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()?;
            }
        }};
    }
    if log_y {
        body!(builder.build_cartesian_2d(0f64..xmax.max(1.0), (10f64..ymax.max(100.0)).log_scale())?, 10.0);
    } else {
        body!(builder.build_cartesian_2d(0f64..xmax.max(1.0), 0f64..ymax)?, 0.0);
    }
    Ok(())
}

/// Requests per second per node, as a 1 s moving window stepped by 0.25 s.
fn warmup(log: &RunLog, draw: &mut Draw<'_>) -> Res {
    let lines: Vec<Line> = log
        .samples
        .iter()
        .enumerate()
        .map(|(i, (node, s))| Line { name: node.clone(), points: moving_rate(s, log.duration_s), width: 2, color: color(i) })
        .collect();
    draw(
        "Warm-up: throughput per node (1 s moving window)",
        &lines,
        &[],
        Axes { x: "time since start (s)", y: "completed requests / s", log_y: false, bottom_title: "", bottom_y: "" },
    )
}

fn moving_rate(samples: &[Sample], end: f64) -> Vec<(f64, f64)> {
    let bins = (end / 0.25).ceil() as usize + 1;
    let mut counts = vec![0u32; bins];
    for s in samples.iter().filter(|s| s.ok) {
        counts[((s.t / 0.25) as usize).min(bins - 1)] += 1;
    }
    let first = counts.iter().position(|&c| c > 0).unwrap_or(0);
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    (first.max(3)..=last).map(|i| ((i + 1) as f64 * 0.25, counts[i + 1 - 4..=i].iter().sum::<u32>() as f64)).collect()
}

/// Cumulative compilations (tiers 1 + 2) above, resident memory below.
fn compile_memory(log: &RunLog, draw: &mut Draw<'_>) -> Res {
    let mut compiles = Vec::new();
    let mut memory = Vec::new();
    for (i, (node, pts)) in log.observer.nodes.iter().enumerate() {
        compiles.push(Line {
            name: node.clone(),
            points: pts.iter().map(|p| (p.t, (p.compiles_t1 + p.compiles_t2) as f64)).collect(),
            width: 2,
            color: color(i),
        });
        memory.push(Line {
            name: node.clone(),
            points: pts.iter().map(|p| (p.t, p.rss_bytes as f64 / (1024.0 * 1024.0))).collect(),
            width: 2,
            color: color(i),
        });
    }
    draw(
        "Compile activity against node memory",
        &compiles,
        &memory,
        Axes {
            x: "time since start (s)",
            y: "compilations (tier 1 + 2, cumulative)",
            log_y: false,
            bottom_title: "Resident memory per node",
            bottom_y: "RSS (MiB)",
        },
    )
}

/// p50 (thin) and p99 (thick) per node in 1 s windows, log scale.
fn latency(log: &RunLog, draw: &mut Draw<'_>) -> Res {
    let mut lines = Vec::new();
    for (i, (node, s)) in log.samples.iter().enumerate() {
        let secs = log.duration_s.ceil() as usize + 1;
        let mut by_sec: Vec<Vec<u32>> = vec![Vec::new(); secs];
        for x in s.iter().filter(|x| x.ok) {
            by_sec[(x.t as usize).min(secs - 1)].push(x.latency_us);
        }
        for (q, width, label) in [(0.99, 3, "p99"), (0.50, 1, "p50")] {
            let points = by_sec
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_empty())
                .map(|(t, v)| (t as f64 + 0.5, percentile(v, q).max(10) as f64))
                .collect();
            lines.push(Line { name: format!("{node} {label}"), points, width, color: color(i) });
        }
    }
    draw(
        "Invocation latency per node (1 s windows; thick p99, thin p50)",
        &lines,
        &[],
        Axes { x: "time since start (s)", y: "latency seen by clients (µs, log scale)", log_y: true, bottom_title: "", bottom_y: "" },
    )
}

/// Active coordinator leases and the budget's limit.
fn leases(log: &RunLog, draw: &mut Draw<'_>) -> Res {
    let c = &log.observer.coordinator;
    let lines = vec![
        Line {
            name: "active leases".into(),
            points: c.iter().filter(|p| p.up).map(|p| (p.t, f64::from(p.active))).collect(),
            width: 2,
            color: color(0),
        },
        Line {
            name: "highest seen by the coordinator".into(),
            points: c.iter().filter(|p| p.up).map(|p| (p.t, f64::from(p.max_active_seen))).collect(),
            width: 1,
            color: color(1),
        },
        Line {
            name: "budget limit (max concurrent)".into(),
            points: c.iter().filter(|p| p.up).map(|p| (p.t, f64::from(p.limit))).collect(),
            width: 2,
            color: color(3),
        },
    ];
    draw(
        "Compile budget: coordinator leases over time",
        &lines,
        &[],
        Axes { x: "time since start (s)", y: "concurrent optimizing compiles", log_y: false, bottom_title: "", bottom_y: "" },
    )
}

/// Model mode: convergence time (top) and gossip bandwidth (bottom)
/// against cluster size; returns the files written.
pub fn model(rows: &[crate::model::ModelRow], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    register_font();
    let pts = |f: &dyn Fn(&crate::model::ModelRow) -> Option<f64>| {
        rows.iter().filter_map(|r| f(r).map(|v| (r.nodes as f64, v))).collect::<Vec<_>>()
    };
    let top = vec![
        Line { name: "membership".into(), points: pts(&|r| r.membership_s), width: 2, color: color(0) },
        Line { name: "new profile".into(), points: pts(&|r| r.profile_convergence_s), width: 2, color: color(1) },
        Line { name: "speculation outcome".into(), points: pts(&|r| r.outcome_convergence_s), width: 2, color: color(3) },
    ];
    let bottom =
        vec![Line { name: "gossip bytes / node / s".into(), points: pts(&|r| Some(r.bytes_per_node_per_s)), width: 2, color: color(2) }];
    let axes = Axes {
        x: "cluster size (nodes)",
        y: "time to reach every node (s)",
        log_y: false,
        bottom_title: "Gossip bandwidth per node",
        bottom_y: "bytes / s",
    };
    let xmax = rows.iter().map(|r| r.nodes).max().unwrap_or(1) as f64 * 1.05;
    let title = "Gossip model: convergence and bandwidth against cluster size";
    let mut files = Vec::new();
    for ext in ["svg", "png"] {
        let path = dir.join(format!("model.{ext}"));
        let r = if ext == "svg" {
            render(SVGBackend::new(&path, SIZE).into_drawing_area(), title, &top, &bottom, &axes, &[], xmax)
        } else {
            render(BitMapBackend::new(&path, SIZE).into_drawing_area(), title, &top, &bottom, &axes, &[], xmax)
        };
        r.map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}
