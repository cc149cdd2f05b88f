//! Logs and traces of a node process.
//!
//! Logs go to stderr (`RUST_LOG`, default `info,chitchat=warn`). Traces are
//! exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, with
//! the service name from `OTEL_SERVICE_NAME` (and the batch knobs from the
//! standard `OTEL_BSP_*` variables); otherwise spans only shape the logs.
//!
//! The spans that tell one optimization's story: `invoke`, `compile` (tier,
//! µs, bytes, trigger), `profile.publish`, `profile.apply`. A compile that
//! warm start asked for carries a **span link** to the compile on the node
//! whose profile caused it: the compile's trace context travels inside the
//! gossiped profile ([`crate::codec::TraceContext`]).

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::codec::TraceContext;

/// Keeps the exporter alive; `shutdown` flushes it.
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes and stops the exporter.
    pub fn shutdown(&self) {
        if let Some(p) = &self.provider {
            let _ = p.force_flush();
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber: stderr logs, plus OTLP export when
/// configured. Call once, inside the tokio runtime.
pub fn init(default_service: &str) -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,chitchat=warn,h2=warn,tower=warn".into());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .ok()
        .filter(|e| !e.is_empty());
    let Some(endpoint) = endpoint else {
        tracing_subscriber::registry().with(filter).with(fmt).init();
        return Ok(Telemetry { provider: None });
    };
    let service = std::env::var("OTEL_SERVICE_NAME").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| default_service.to_string());
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .build()
        .map_err(|e| anyhow::anyhow!("OTLP exporter for {endpoint}: {e}"))?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name(service.clone()).build())
        .build();
    let tracer = provider.tracer("ember-node");
    tracing_subscriber::registry().with(filter).with(fmt).with(tracing_opentelemetry::layer().with_tracer(tracer)).init();
    tracing::info!(%endpoint, %service, "exporting traces over OTLP");
    Ok(Telemetry { provider: Some(provider) })
}

/// The OpenTelemetry context of a `tracing` span, as carried in profiles
/// (`None` when spans are not exported).
pub fn trace_context_of(span: &tracing::Span) -> Option<TraceContext> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| TraceContext {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        flags: sc.trace_flags().to_u8(),
    })
}

/// The OpenTelemetry form of a trace context from another process.
fn remote(t: &TraceContext) -> SpanContext {
    SpanContext::new(TraceId::from_bytes(t.trace_id), SpanId::from_bytes(t.span_id), TraceFlags::new(t.flags), true, TraceState::default())
}

/// Links `span` to a remote span given by its trace context.
pub fn link(span: &tracing::Span, to: &TraceContext) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    span.add_link(remote(to));
}

/// Parses a W3C `traceparent` header (`00-<trace id>-<span id>-<flags>`).
pub fn parse_traceparent(v: &str) -> Option<TraceContext> {
    let mut parts = v.trim().split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok()?.to_be_bytes();
    let span_id = u64::from_str_radix(span, 16).ok()?.to_be_bytes();
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(TraceContext { trace_id, span_id, flags: u8::from_str_radix(flags, 16).ok()? })
}

/// Formats a trace context as a W3C `traceparent` header.
pub fn format_traceparent(t: &TraceContext) -> String {
    format!("00-{:032x}-{:016x}-{:02x}", u128::from_be_bytes(t.trace_id), u64::from_be_bytes(t.span_id), t.flags)
}

/// Makes `span` a child of the remote span in `parent`.
pub fn set_remote_parent(span: &tracing::Span, parent: &TraceContext) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote(parent)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_garbage_is_ignored() {
        let t = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(format_traceparent(&t), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-xyz-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }
}
