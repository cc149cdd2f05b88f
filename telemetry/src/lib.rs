//! # ember-telemetry
//!
//! What every Ember process (`ember-node`, `ember-coordinator`) sets up the
//! same way: logs, traces, and the signals that stop it ([`run`],
//! [`shutdown_signal`]). Logs go to stderr, filtered by `RUST_LOG`. Traces
//! are exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, under `OTEL_SERVICE_NAME`,
//! batched per the standard `OTEL_BSP_*` variables; otherwise spans only
//! shape the logs.
//!
//! What it is not: it defines no spans; each process names its own. With
//! the `receiver` feature it also offers [`receiver`], an in-process OTLP
//! collector for tests.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the exporter alive; [`Telemetry::shutdown`] flushes it.
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

/// Installs the global subscriber. `default_service` names the service when
/// `OTEL_SERVICE_NAME` is unset. Call once, inside a tokio runtime.
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
    let tracer = provider.tracer(default_service.to_string());
    tracing_subscriber::registry().with(filter).with(fmt).with(tracing_opentelemetry::layer().with_tracer(tracer)).init();
    tracing::info!(%endpoint, %service, "exporting traces over OTLP");
    Ok(Telemetry { provider: Some(provider) })
}

/// Runs a process's `main`: installs logs and traces ([`init`]), awaits
/// `body`, flushes the exporter, and on an error prints `name: error` and
/// exits with status 1.
pub async fn run<F>(name: &str, body: F)
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let telemetry = match init(name) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            std::process::exit(1);
        }
    };
    let result = body.await;
    telemetry.shutdown();
    if let Err(e) = result {
        eprintln!("{name}: {e:#}");
        std::process::exit(1);
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: when a server should start its
/// graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// An OTLP trace receiver for tests: collects exported spans in memory.
#[cfg(feature = "receiver")]
pub mod receiver {
    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
    use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
    pub use opentelemetry_proto::tonic::common::v1::any_value::Value;
    pub use opentelemetry_proto::tonic::trace::v1::Span;

    /// (service name, span) pairs received so far.
    pub type Spans = Arc<Mutex<Vec<(String, Span)>>>;

    struct Collector(Spans);

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            req: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let mut all = self.0.lock().expect("spans lock");
            for rs in req.into_inner().resource_spans {
                let service = rs
                    .resource
                    .iter()
                    .flat_map(|r| r.attributes.iter())
                    .find(|a| a.key == "service.name")
                    .and_then(|a| a.value.as_ref())
                    .and_then(|v| match &v.value {
                        Some(Value::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    for span in ss.spans {
                        all.push((service.clone(), span));
                    }
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
        }
    }

    /// Starts a receiver on a free loopback port; returns its endpoint
    /// (`http://127.0.0.1:PORT`) and the spans it collects.
    pub async fn start() -> (String, Spans) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let spans: Spans = Arc::default();
        let svc = TraceServiceServer::new(Collector(spans.clone()));
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await;
        });
        (format!("http://{addr}"), spans)
    }

    /// A span attribute's value.
    pub fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
        span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()).and_then(|v| v.value.as_ref())
    }
}
