//! Logs, traces and the metrics that need more than a counter call.
//!
//! - **Logs**: JSON lines (or human text for CLI tools), filtered by `RUST_LOG`.
//! - **Traces**: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `POLYREC_OTLP_ENDPOINT`) set, every
//!   span — the request, each pipeline stage and recall channel, each call to the tenant and
//!   user services — is exported over OTLP/gRPC. W3C `traceparent` is read from incoming HTTP
//!   requests and written into outgoing gRPC calls, so one trace follows a request across hops.
//! - **Metrics**: recorded where they happen (`metrics::counter!`); the tenant label of
//!   per-tenant series is bounded ([`polyrec_service::telemetry::tenant_label`]).

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Flushes the exported spans when dropped at the end of `main`.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Blocking, on the caller's thread: the runtime that made the exporter is gone or
            // busy by now, and the batch processor has its own thread.
            let _ = provider.force_flush();
            let _ = provider.shutdown();
        }
    }
}

/// How log lines look.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with the current span's fields (servers).
    Json,
    /// Plain text on stderr (CLI tools).
    Human,
}

/// The OTLP endpoint from the environment, if any.
pub fn otlp_endpoint() -> Option<String> {
    ["POLYREC_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
}

/// Sets up logging and, when an OTLP endpoint is configured, trace export under the name
/// `service` (`OTEL_SERVICE_NAME` overrides it). Call inside a tokio runtime (the exporter's
/// channel needs one); keep the returned value alive until the process ends.
pub fn init(service: &str, format: LogFormat, default_level: &str) -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_level.into());
    let fmt: Box<dyn tracing_subscriber::Layer<_> + Send + Sync> = match format {
        LogFormat::Json => {
            Box::new(tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false))
        }
        LogFormat::Human => Box::new(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)),
    };
    let Some(endpoint) = otlp_endpoint() else {
        tracing_subscriber::registry().with(filter).with(fmt).try_init()?;
        return Ok(Telemetry { provider: None });
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .with_timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| anyhow::anyhow!("OTLP exporter for {endpoint}: {e}"))?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name(service.clone()).build())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer(service);
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()?;
    tracing::info!(%endpoint, "exporting traces over OTLP");
    Ok(Telemetry { provider: Some(provider) })
}

/// Makes `span` a child of the trace named by `headers`' `traceparent`, if any. Call before
/// the span is entered.
pub fn adopt_parent(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if headers.contains_key("traceparent") {
        let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
        let _ = span.set_parent(parent);
    }
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_into(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut MetadataInjector(metadata)));
}

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) =
            (tonic::metadata::MetadataKey::from_bytes(key.as_bytes()), tonic::metadata::MetadataValue::try_from(value))
        {
            self.0.insert(key, value);
        }
    }
}
