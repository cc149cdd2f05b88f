//! Traces of a node. Setup (stderr logs, OTLP export from the standard
//! `OTEL_*` variables) is `ember-telemetry`'s, re-exported here.
//!
//! The spans that tell one optimization's story: `invoke`, `compile` (tier,
//! µs, bytes, trigger), `profile.publish`, `profile.apply`. A compile that
//! warm start asked for carries a **span link** to the compile on the node
//! whose profile caused it: the compile's trace context travels inside the
//! gossiped profile ([`crate::codec::TraceContext`]).

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::codec::TraceContext;

pub use ember_telemetry::{Telemetry, init};

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
