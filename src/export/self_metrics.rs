//! The service's own metrics (`fleet_incentives_build_info`, evaluation
//! cycles, inputs, queries, rules reloads, the acknowledgement source): one
//! long-lived registry that the server updates in place.

use super::{PREFIX, encode, register, unix};
use crate::facts::InputFacts;
use crate::source::QueryRecord;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Metric, Registry, Unit};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InputLabels {
    input: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurposeLabels {
    purpose: String,
}

/// The service's own metrics: one long-lived registry updated in place.
/// Cheap to clone (every handle shares the same values); `Send + Sync`.
#[derive(Clone, Debug)]
pub struct SelfMetrics {
    registry: Arc<Registry>,
    evaluations: Counter,
    evaluation_failures: Counter,
    evaluation_duration: Gauge<f64, AtomicU64>,
    last_success: Gauge<f64, AtomicU64>,
    input_up: Family<InputLabels, Gauge>,
    input_failures: Family<InputLabels, Counter>,
    queries: Family<PurposeLabels, Counter>,
    query_failures: Family<PurposeLabels, Counter>,
    query_samples: Family<PurposeLabels, Counter>,
    reload_successful: Gauge,
    reload_success: Gauge<f64, AtomicU64>,
    acknowledgements_up: Gauge,
    acknowledgement_failures: Counter,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new(env!("CARGO_PKG_VERSION"))
    }
}

/// A new metric, registered (see [`register`]); the caller keeps a handle
/// that shares its value.
fn registered<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str, unit: Option<Unit>) -> M {
    let metric = M::default();
    register(registry, name, help, unit, metric.clone());
    metric
}

impl SelfMetrics {
    /// Self-metrics of a build of `version` (`fleet_incentives_build_info`).
    pub fn new(version: &str) -> Self {
        let mut r = Registry::with_prefix(PREFIX);
        r.register("build", "The build of fleet-incentives", Info::new(BuildLabels { version: version.to_string() }));
        let seconds = || Some(Unit::Seconds);
        // Fields in the order of registration, which is the order of the text.
        SelfMetrics {
            evaluations: registered(&mut r, "evaluations", "Evaluation cycles attempted", None),
            evaluation_failures: registered(
                &mut r,
                "evaluation_failures",
                "Evaluation cycles that failed (the last good results are kept)",
                None,
            ),
            evaluation_duration: registered(
                &mut r,
                "evaluation_duration",
                "Duration of the last evaluation cycle",
                seconds(),
            ),
            last_success: registered(
                &mut r,
                "last_successful_evaluation_timestamp",
                "When the last evaluation cycle succeeded (wall clock)",
                seconds(),
            ),
            input_up: registered(&mut r, "input_up", "1 if the input's last query succeeded, 0 if it failed", None),
            input_failures: registered(&mut r, "input_failures", "Failed input queries", None),
            queries: registered(&mut r, "queries", "Queries sent to Prometheus, by purpose", None),
            query_failures: registered(&mut r, "query_failures", "Queries to Prometheus that failed, by purpose", None),
            query_samples: registered(
                &mut r,
                "query_samples",
                "Samples Prometheus loaded for our queries (totalQueryableSamples), by purpose",
                None,
            ),
            reload_successful: registered(
                &mut r,
                "rules_last_reload_successful",
                "1 if the last rules reload succeeded, 0 if it failed (the old rules keep serving)",
                None,
            ),
            reload_success: registered(
                &mut r,
                "rules_last_reload_success_timestamp",
                "When the rules were last loaded successfully",
                seconds(),
            ),
            // Registered by `with_acknowledgement_source`, if at all.
            acknowledgements_up: Gauge::default(),
            acknowledgement_failures: Counter::default(),
            registry: Arc::new(r),
        }
    }

    /// Adds the metrics of the acknowledgement source (Alertmanager
    /// silences); without one they are absent. Call right after [`Self::new`].
    pub fn with_acknowledgement_source(mut self) -> Self {
        let r = Arc::get_mut(&mut self.registry).expect("with_acknowledgement_source is called right after new");
        r.register(
            "acknowledgement_source_up",
            "1 if the last read of Alertmanager silences (acknowledgements) succeeded, 0 if it failed",
            self.acknowledgements_up.clone(),
        );
        r.register(
            "acknowledgement_source_failures",
            "Failed reads of Alertmanager silences",
            self.acknowledgement_failures.clone(),
        );
        self
    }

    /// The outcome of one read of the acknowledgement source.
    pub fn acknowledgement_source(&self, ok: bool) {
        self.acknowledgements_up.set(i64::from(ok));
        if !ok {
            self.acknowledgement_failures.inc();
        }
    }

    /// A cycle begins.
    pub fn evaluation_started(&self) {
        self.evaluations.inc();
    }

    /// A cycle ended well after `duration`, at wall-clock time `at`.
    pub fn evaluation_succeeded(&self, duration: Duration, at: DateTime<Utc>) {
        self.evaluation_duration.set(duration.as_secs_f64());
        self.last_success.set(unix(at));
    }

    /// A cycle failed after `duration`; the last good results keep serving.
    pub fn evaluation_failed(&self, duration: Duration) {
        self.evaluation_duration.set(duration.as_secs_f64());
        self.evaluation_failures.inc();
    }

    /// The outcome of one input's query (`fleet_incentives_input_up`,
    /// `..._input_failures_total`).
    pub fn input_result(&self, name: &str, ok: bool) {
        let labels = InputLabels { input: name.to_string() };
        self.input_up.get_or_create(&labels).set(i64::from(ok));
        let failures = self.input_failures.get_or_create(&labels);
        if !ok {
            failures.inc();
        }
    }

    /// [`Self::input_result`] for every input of a reading's facts.
    pub fn inputs(&self, inputs: &BTreeMap<String, InputFacts>) {
        for (name, input) in inputs {
            self.input_result(name, matches!(input, InputFacts::Values(_)));
        }
    }

    /// Count the queries of a reading: sent, failed and samples loaded, by purpose.
    pub fn queries(&self, records: &[QueryRecord]) {
        for q in records {
            let labels = PurposeLabels { purpose: q.purpose.clone() };
            self.queries.get_or_create(&labels).inc();
            let failures = self.query_failures.get_or_create(&labels);
            if q.error.is_some() {
                failures.inc();
            }
            self.query_samples.get_or_create(&labels).inc_by(q.total_queryable_samples.unwrap_or(0));
        }
    }

    /// A rules (re)load ended at `at`: `ok` sets the success timestamp; a
    /// failure only sets `..._rules_last_reload_successful` to 0.
    pub fn reload(&self, ok: bool, at: DateTime<Utc>) {
        self.reload_successful.set(i64::from(ok));
        if ok {
            self.reload_success.set(unix(at));
        }
    }

    /// The OpenMetrics text of the self-metrics, without `# EOF`.
    pub fn encode(&self) -> String {
        encode(&self.registry)
    }
}
