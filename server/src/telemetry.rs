//! Structured logs through `tracing`: pretty (coloured in a terminal) or JSON lines, and, in a
//! build with the `otlp` feature and `MANDATE_OTLP_ENDPOINT` set, the same spans (one per
//! request, carrying its request id) exported as OpenTelemetry traces over OTLP/HTTP.
//! Rule (STYLE.md §14): one event per request at the boundary; never a secret, token,
//! password, code or cookie in any field.

use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. `RUST_LOG` wins over `MANDATE_LOG` when set.
/// Safe to call more than once (later calls are no-ops), which tests rely on.
pub fn init(config: &Config) {
    init_to(config, false);
}

/// As [`init`], with the logs on standard error when `to_stderr` (commands whose standard
/// output is their result, such as `mandate config export`).
pub fn init_to(config: &Config, to_stderr: bool) {
    let writer = move || -> Box<dyn std::io::Write> {
        if to_stderr {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(true)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(true)
            .compact()
            .with_ansi(if to_stderr {
                std::io::stderr().is_terminal()
            } else {
                std::io::stdout().is_terminal()
            })
            .boxed(),
    };
    let registry = tracing_subscriber::registry().with(logs);
    #[cfg(feature = "otlp")]
    let registry = registry.with(otlp::layer(config));
    let _ = registry.with(filter).try_init();
}

/// Sends the traces still buffered (at shutdown).
pub fn flush() {
    #[cfg(feature = "otlp")]
    otlp::shutdown();
}

#[cfg(feature = "otlp")]
mod otlp {
    use std::sync::OnceLock;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{SpanExporter, WithExportConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use opentelemetry_sdk::Resource;
    use tracing::Subscriber;
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    use crate::config::Config;

    static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

    /// The OpenTelemetry layer for `config.otlp_endpoint` (none when it is not set).
    pub fn layer<S>(config: &Config) -> Option<impl Layer<S>>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let endpoint = config.otlp_endpoint.as_ref()?;
        let exporter = match SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint.as_str())
            .build()
        {
            Ok(exporter) => exporter,
            Err(e) => {
                eprintln!("MANDATE_OTLP_ENDPOINT: the exporter cannot start: {e}");
                return None;
            }
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name("mandate")
                    .with_attribute(opentelemetry::KeyValue::new(
                        "service.version",
                        env!("CARGO_PKG_VERSION"),
                    ))
                    .build(),
            )
            .build();
        let tracer = provider.tracer("mandate");
        let _ = PROVIDER.set(provider);
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    }

    pub fn shutdown() {
        if let Some(provider) = PROVIDER.get() {
            let _ = provider.force_flush();
            let _ = provider.shutdown();
        }
    }
}
