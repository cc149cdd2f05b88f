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

/// Links `span` to a remote span given by its trace context.
pub fn link(span: &tracing::Span, to: &TraceContext) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let sc = SpanContext::new(
        TraceId::from_bytes(to.trace_id),
        SpanId::from_bytes(to.span_id),
        TraceFlags::new(to.flags),
        true,
        TraceState::default(),
    );
    span.add_link(sc);
}
