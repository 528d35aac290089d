//! The `/metrics` edge: an [`Evaluation`](crate::evaluation::Evaluation) as
//! OpenMetrics text, and the service's own health as self-metrics. The names,
//! types and labels are the metrics contract (README, "Metrics reference");
//! dashboards and alert rules are written against them.
//!
//! - `evaluation.rs`: [`encode_evaluation`] writes one evaluation's
//!   families, fresh each time, so payees and nodes that leave the
//!   evaluation leave `/metrics` too; encoded once per evaluation, family by
//!   family into any writer ([`encode_evaluation_to`]: only one family's
//!   label sets held at once), and then served as bytes.
//! - `self_metrics.rs`: [`SelfMetrics`] is long-lived and updated in place by
//!   the server.
//! - `leakage.rs`: the leakage families' label sets and samples
//!   (registered by `evaluation.rs`); `holds.rs`: the enforcement families,
//!   and `scores.rs`: the score and flag families, registered into the
//!   evaluation's registry.
//! - `mod.rs`: [`exposition`] joins both into one body with one `# EOF`;
//!   `Samples`, a gauge family of fixed samples.
//!
//! Money and ratios are `Decimal` up to here and become `f64` only here
//! ([`crate::money::to_f64`], the nearest float to the decimal's text).
//! A value the evaluation does not have (uptime without data, MTTR without a
//! resolved incident) has no sample: never a 0.

mod evaluation;
mod holds;
mod leakage;
mod scores;
mod self_metrics;
#[cfg(test)]
mod tests;

pub use evaluation::{encode_evaluation, encode_evaluation_to, encode_evaluation_with};
pub use self_metrics::SelfMetrics;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Metric, Registry, Unit};
use std::fmt::Debug;

/// Which optional families an evaluation's exposition carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// The per-node availability families (`node_uptime_ratio`,
    /// `node_coverage_ratio`, `node_down_seconds`,
    /// `node_offline_since_timestamp_seconds`): most of the series of a
    /// large fleet. Off (`serve --metrics.per-node=false`), the fleet,
    /// region and operator aggregates stay.
    pub per_node: bool,
}

impl Default for Families {
    fn default() -> Self {
        Families { per_node: true }
    }
}

/// The `Content-Type` of [`exposition`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The namespace of every metric name.
pub const PREFIX: &str = "fleet_incentives";

/// A gauge family whose samples are fixed when it is built and encoded in the
/// order they were added — the evaluation's sorted order, so the same
/// evaluation gives the same bytes. (`Family` encodes in hash-map order and
/// pays for a lock and an atomic per sample, which values that never change
/// after the build do not need.) Without samples it is left out of the
/// exposition, `# HELP` and `# TYPE` included.
#[derive(Debug)]
pub(super) struct Samples<S>(pub(super) Vec<(S, f64)>);

impl<S: EncodeLabelSet + Debug> EncodeMetric for Samples<S> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, value) in &self.0 {
            encoder.encode_family(labels)?.encode_gauge(value)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The label set of a sample in a [`Samples`] family.
pub(super) trait Labels: EncodeLabelSet + Debug + Clone + Send + Sync + 'static {}

impl<S: EncodeLabelSet + Debug + Clone + Send + Sync + 'static> Labels for S {}

/// Registers `metric` under `name`, which is without the unit suffix: the
/// registry appends it (`node_down` + seconds).
fn register(registry: &mut Registry, name: &str, help: &str, unit: Option<Unit>, metric: impl Metric) {
    match unit {
        Some(u) => registry.register_with_unit(name, help, u, metric),
        None => registry.register(name, help, metric),
    }
}

/// Unix seconds (milliseconds kept).
fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// A registry's OpenMetrics text, without `# EOF`.
fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    text::encode_registry(&mut out, registry).expect("writing to a String cannot fail");
    out
}

/// The whole `/metrics` body: the evaluation's text (none before the first
/// successful evaluation), the self-metrics, and one `# EOF`.
pub fn exposition(evaluation_text: Option<&str>, self_metrics: &SelfMetrics) -> String {
    let own = self_metrics.encode();
    let eval = evaluation_text.unwrap_or("");
    let mut out = String::with_capacity(eval.len() + own.len() + 6);
    out.push_str(eval);
    out.push_str(&own);
    out.push_str("# EOF\n");
    out
}
