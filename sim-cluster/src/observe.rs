//! What the processes did, sampled over time: each node's `/metrics`
//! (deopts, heap), its resident memory from /proc, its compile and lease
//! counters over gRPC (`GetBudget`), and the coordinator's lease state. Every
//! figure in a report comes from these samples or from the clients'
//! request records, never from the scenario's intentions.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ember_proto::coordinator as cpb;
use ember_proto::node as pb;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cluster::Cluster;

#[derive(Clone, Debug, Default, Serialize)]
pub struct NodePoint {
    pub t: f64,
    pub rss_bytes: u64,
    pub heap_bytes: u64,
    pub compiles_t1: u64,
    pub compiles_t2: u64,
    pub deopts: u64,
    pub leases_granted: u64,
    pub leases_denied: u64,
    pub local_compiles: u64,
    pub fallback: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CoordinatorPoint {
    pub t: f64,
    pub up: bool,
    pub active: u32,
    pub limit: u32,
    pub max_active_seen: u32,
    pub granted: u64,
}

#[derive(Default)]
pub struct Observer {
    pub nodes: BTreeMap<String, Vec<NodePoint>>,
    pub coordinator: Vec<CoordinatorPoint>,
}

impl Observer {
    pub async fn sample(&mut self, c: &Cluster) {
        let t = c.now();
        for n in c.nodes.values() {
            let Some(proc) = &n.proc else { continue };
            // A node that does not answer both (busy, starting, or being
            // stopped) gives no point at all: a point of zeros would read
            // as a restart, and as the counters a report takes for the end
            // of a service period. Compile counts come from the node's
            // budget over gRPC, the same answer as its lease counts: a
            // `/metrics` page is only as fresh as the node's last sample of
            // its counters (once a second), and a short service period can
            // end before one.
            let Some(text) = scrape(n.metrics).await else { continue };
            let Some(mut client) = c.client(&n.id) else { continue };
            let Ok(Ok(b)) = tokio::time::timeout(Duration::from_secs(1), client.get_budget(pb::GetBudgetRequest {})).await else {
                continue;
            };
            let (m, b) = (parse_metrics(&text), b.into_inner());
            let p = NodePoint {
                t,
                rss_bytes: proc.rss_bytes().unwrap_or(0),
                heap_bytes: m.sum("ember_heap_bytes", None) as u64,
                compiles_t1: b.compiled,
                compiles_t2: b.compiled_tier2,
                deopts: m.sum("ember_deopts_total", None) as u64,
                leases_granted: b.leases_granted,
                leases_denied: b.leases_denied,
                local_compiles: b.local_compiles,
                fallback: b.source == "fallback",
            };
            self.nodes.entry(n.id.clone()).or_default().push(p);
        }
        if c.coordinator_addr.is_some() {
            let mut point = CoordinatorPoint { t, ..CoordinatorPoint::default() };
            if let Some(mut client) = c.coordinator_client().await
                && let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(500), client.get_state(cpb::GetStateRequest {})).await
            {
                let s = s.into_inner();
                point.up = true;
                point.active = s.leases.len() as u32;
                point.limit = s.budget.map_or(0, |b| b.max_concurrent);
                point.max_active_seen = s.max_active_seen;
                point.granted = s.granted;
            }
            self.coordinator.push(point);
        }
    }
}

/// GET /metrics over plain HTTP/1.0; `None` if the node does not answer
/// within a second (debug builds on a loaded machine can take hundreds of
/// milliseconds).
async fn scrape(addr: SocketAddr) -> Option<String> {
    let work = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8(buf).ok()?;
        text.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
    };
    tokio::time::timeout(Duration::from_secs(1), work).await.ok().flatten()
}

/// Prometheus text exposition, reduced to (name, labels, value).
pub struct Metrics(Vec<Series>);

/// One series: name, labels, value.
type Series = (String, Vec<(String, String)>, f64);

pub fn parse_metrics(text: &str) -> Metrics {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((head, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = match head.split_once('{') {
            Some((n, rest)) => {
                let body = rest.trim_end_matches('}');
                let labels = body
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                    .collect();
                (n.to_string(), labels)
            }
            None => (head.to_string(), Vec::new()),
        };
        out.push((name, labels, value));
    }
    Metrics(out)
}

impl Metrics {
    /// Sum of a metric's series, optionally only those with one label value.
    pub fn sum(&self, name: &str, label: Option<(&str, &str)>) -> f64 {
        self.0
            .iter()
            .filter(|(n, labels, _)| n == name && label.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v)))
            .map(|(_, _, v)| v)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_text_is_summed_by_name_and_label() {
        let m = parse_metrics(
            "# TYPE ember_compilations_total counter\nember_compilations_total{tier=\"1\"} 7\nember_compilations_total{tier=\"2\"} 3\n\
             ember_deopts_total{guard=\"int\"} 2\nember_deopts_total{guard=\"float\"} 5\nember_heap_bytes 1024\n",
        );
        assert_eq!(m.sum("ember_compilations_total", Some(("tier", "2"))), 3.0);
        assert_eq!(m.sum("ember_compilations_total", None), 10.0);
        assert_eq!(m.sum("ember_deopts_total", None), 7.0);
        assert_eq!(m.sum("ember_heap_bytes", None), 1024.0);
        assert_eq!(m.sum("absent", None), 0.0);
    }
}
