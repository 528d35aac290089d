//! The `/metrics` edge: an [`Evaluation`] as OpenMetrics text, and the
//! service's own health as self-metrics. The names, types and labels are the
//! metrics contract (README, "Metrics reference"); dashboards and alert rules
//! are written against them.
//!
//! - [`evaluation_registry`] builds a fresh [`Registry`] from one evaluation,
//!   so payees and nodes that leave the evaluation leave `/metrics` too;
//!   [`encode_evaluation`] is its text, encoded once per evaluation and then
//!   served as bytes.
//! - [`SelfMetrics`] is long-lived and updated in place by the server.
//! - [`exposition`] joins both into one body with one `# EOF`.
//!
//! Money and ratios are `Decimal` up to here and become `f64` only here
//! ([`crate::money::to_f64`], the nearest float to the decimal's text).
//! A value the evaluation does not have (uptime without data, MTTR without a
//! resolved incident) has no sample: never a 0.

use crate::evaluation::{Evaluation, LineStatus, Statement};
use crate::facts::InputFacts;
use crate::money::to_f64;
use crate::source::QueryRecord;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The `Content-Type` of [`exposition`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The namespace of every metric name.
pub const PREFIX: &str = "fleet_incentives";

// ---------------------------------------------------------------- label sets

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeriodLabels {
    period: String,
    time_zone: String,
    programme: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RulesLabels {
    sha256: String,
    programme: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegionLabels {
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
    operator: String,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperatorLabels {
    operator: String,
    tier: String,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreachLabels {
    severity: String,
    /// `respond` or `resolve`.
    target: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IncidentLabels {
    incident: String,
    severity: String,
    /// First of the incident's regions (sorted), `""` without any.
    region: String,
    /// First of the incident's operators (sorted), `""` without any.
    operator: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LineLabels {
    /// `operator` or `partner`.
    payee_kind: &'static str,
    payee: String,
    line: String,
    kind: String,
    category: String,
    currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LineStatusLabels {
    payee_kind: &'static str,
    payee: String,
    line: String,
    /// `paid`, `not_met`, `withheld` or `error`.
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PayeeLabels {
    payee_kind: &'static str,
    payee: String,
    tier: String,
    currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CurrencyLabels {
    currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PromotionLabels {
    operator: String,
    to: String,
}

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

// ---------------------------------------------------------------- evaluation metrics

/// A gauge family whose samples are fixed when it is built and encoded in the
/// order they were added — the evaluation's sorted order, so the same
/// evaluation gives the same bytes. (`Family` encodes in hash-map order and
/// pays for a lock and an atomic per sample, which values that never change
/// after the build do not need.) Without samples it is left out of the
/// exposition, `# HELP` and `# TYPE` included.
#[derive(Debug)]
struct Samples<S>(Vec<(S, f64)>);

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

fn ratio_unit() -> Unit {
    Unit::Other("ratio".into())
}

/// Unix seconds (milliseconds kept).
fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn status_name(s: LineStatus) -> &'static str {
    match s {
        LineStatus::Paid => "paid",
        LineStatus::NotMet => "not_met",
        LineStatus::Withheld => "withheld",
        LineStatus::Error => "error",
    }
}

const STATUSES: [LineStatus; 4] = [LineStatus::Paid, LineStatus::NotMet, LineStatus::Withheld, LineStatus::Error];

/// Registers gauge families under [`PREFIX`]; `name` is without the unit
/// suffix, which the registry appends (`node_down` + seconds).
struct Builder(Registry);

impl Builder {
    fn gauge<S: EncodeLabelSet + Debug + Send + Sync + 'static>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        samples: Vec<(S, f64)>,
    ) {
        match unit {
            Some(u) => self.0.register_with_unit(name, help, u, Samples(samples)),
            None => self.0.register(name, help, Samples(samples)),
        }
    }

    /// An unlabelled gauge; `None` leaves the family out.
    fn scalar(&mut self, name: &str, help: &str, unit: Option<Unit>, value: Option<f64>) {
        let Some(v) = value else { return };
        match unit {
            Some(u) => self.0.register_with_unit(name, help, u, ConstGauge::new(v)),
            None => self.0.register(name, help, ConstGauge::new(v)),
        }
    }
}

/// Every evaluation metric of the contract, from one evaluation, in a fresh
/// registry (prefix [`PREFIX`]).
pub fn evaluation_registry(eval: &Evaluation) -> Registry {
    let mut b = Builder(Registry::with_prefix(PREFIX));
    let seconds = || Some(Unit::Seconds);
    let ratio = || Some(ratio_unit());
    let currency = &eval.currency;

    b.0.register(
        "period",
        "The pay period being evaluated",
        Info::new(PeriodLabels {
            period: eval.period.clone(),
            time_zone: eval.time_zone.clone(),
            programme: eval.programme.clone(),
        }),
    );
    b.0.register(
        "rules",
        "The rules in force: SHA-256 of the rule files",
        Info::new(RulesLabels { sha256: eval.rules_sha256.clone(), programme: eval.programme.clone() }),
    );
    b.scalar("period_start_timestamp", "Start of the pay period", seconds(), Some(unix(eval.period_start)));
    b.scalar("period_end_timestamp", "End of the pay period", seconds(), Some(unix(eval.period_end)));
    b.scalar(
        "data_window_end_timestamp",
        "End of the data window evaluated (now minus the evaluation delay, at most the period end)",
        seconds(),
        Some(unix(eval.window_end)),
    );

    // Availability: fleet, regions, nodes, operators.
    b.scalar("fleet_nodes", "Nodes seen this period", None, Some(eval.fleet.nodes as f64));
    b.scalar(
        "fleet_uptime",
        "Fleet uptime this period: up / (up + down), maintenance excluded; absent without data",
        ratio(),
        eval.fleet.uptime.map(to_f64),
    );
    b.scalar(
        "fleet_coverage",
        "Fleet coverage this period: (up + down) / expected",
        ratio(),
        Some(to_f64(eval.fleet.coverage)),
    );
    let region = |r: &str| RegionLabels { region: r.to_string() };
    b.gauge(
        "region_uptime",
        "Region uptime this period: up / (up + down), maintenance excluded; absent without data",
        ratio(),
        eval.regions.iter().filter_map(|r| Some((region(&r.region), to_f64(r.availability.uptime?)))).collect(),
    );
    b.gauge(
        "region_coverage",
        "Region coverage this period: (up + down) / expected",
        ratio(),
        eval.regions.iter().map(|r| (region(&r.region), to_f64(r.availability.coverage))).collect(),
    );

    let node_labels: Vec<NodeLabels> = eval
        .nodes
        .iter()
        .map(|n| NodeLabels {
            node: n.node.clone(),
            operator: n.operator.clone().unwrap_or_default(),
            region: n.region.clone().unwrap_or_default(),
        })
        .collect();
    let per_node = |f: &dyn Fn(&crate::evaluation::NodeResult) -> Option<f64>| -> Vec<(NodeLabels, f64)> {
        eval.nodes.iter().zip(&node_labels).filter_map(|(n, l)| Some((l.clone(), f(n)?))).collect()
    };
    b.gauge(
        "node_uptime",
        "Node uptime this period: up / (up + down), maintenance excluded; absent without data",
        ratio(),
        per_node(&|n| n.availability.uptime.map(to_f64)),
    );
    b.gauge(
        "node_coverage",
        "Node coverage this period: (up + down) / expected",
        ratio(),
        per_node(&|n| Some(to_f64(n.availability.coverage))),
    );
    b.gauge(
        "node_down",
        "Node downtime this period, maintenance excluded",
        seconds(),
        per_node(&|n| Some(n.availability.down_seconds as f64)),
    );
    b.gauge(
        "node_offline_since_timestamp",
        "Start of the node's outage still going on at the window end; absent for nodes that are not down",
        seconds(),
        per_node(&|n| n.offline_since.map(unix)),
    );

    let operator = |s: &Statement| OperatorLabels {
        operator: s.id.clone(),
        tier: s.tier.clone(),
        region: s.region.clone().unwrap_or_default(),
    };
    b.gauge(
        "operator_uptime",
        "Uptime of the operator's nodes this period, maintenance excluded; absent without data",
        ratio(),
        eval.operators.iter().filter_map(|s| Some((operator(s), to_f64(s.availability.uptime?)))).collect(),
    );
    b.gauge(
        "operator_coverage",
        "Coverage of the operator's nodes this period: (up + down) / expected",
        ratio(),
        eval.operators.iter().map(|s| (operator(s), to_f64(s.availability.coverage))).collect(),
    );
    b.gauge(
        "operator_nodes",
        "Nodes the operator runs",
        None,
        eval.operators.iter().map(|s| (operator(s), s.availability.nodes as f64)).collect(),
    );

    // Incidents per severity.
    let sev = |s: &str| SeverityLabels { severity: s.to_string() };
    b.gauge(
        "incidents",
        "Incidents this period, open or resolved",
        None,
        eval.severities.iter().map(|s| (sev(&s.severity), s.incidents as f64)).collect(),
    );
    b.gauge(
        "incidents_open",
        "Incidents open at the window end",
        None,
        eval.severities.iter().map(|s| (sev(&s.severity), s.open as f64)).collect(),
    );
    b.gauge(
        "incident_mttr",
        "Mean time to resolve this period; absent without a resolved incident",
        seconds(),
        eval.severities.iter().filter_map(|s| Some((sev(&s.severity), to_f64(s.mttr_seconds?)))).collect(),
    );
    b.gauge(
        "incident_mean_response",
        "Mean acknowledgement delay of this period's acknowledged incidents; absent without one",
        seconds(),
        eval.severities.iter().filter_map(|s| Some((sev(&s.severity), to_f64(s.mean_response_seconds?)))).collect(),
    );
    b.gauge(
        "sla_breaches",
        "Incidents over their respond or resolve target this period",
        None,
        eval.severities
            .iter()
            .flat_map(|s| {
                [
                    (BreachLabels { severity: s.severity.clone(), target: "respond" }, s.respond_breaches as f64),
                    (BreachLabels { severity: s.severity.clone(), target: "resolve" }, s.resolve_breaches as f64),
                ]
            })
            .collect(),
    );

    // Open incidents, one series each.
    let open: Vec<_> = eval
        .incidents
        .iter()
        .filter(|i| i.end.is_none())
        .map(|i| {
            let first = |v: &[String]| v.iter().min().cloned().unwrap_or_default();
            let labels = IncidentLabels {
                incident: i.id.clone(),
                severity: i.severity.clone(),
                region: first(&i.regions),
                operator: first(&i.operators),
            };
            (labels, i)
        })
        .collect();
    let per_open = |f: &dyn Fn(&crate::evaluation::Incident) -> Option<f64>| -> Vec<(IncidentLabels, f64)> {
        open.iter().filter_map(|(l, i)| Some((l.clone(), f(i)?))).collect()
    };
    b.gauge("incident_start_timestamp", "Start of an open incident", seconds(), per_open(&|i| Some(unix(i.start))));
    b.gauge(
        "incident_age",
        "Age of an open incident: window end minus start",
        seconds(),
        per_open(&|i| Some((eval.window_end - i.start).num_milliseconds() as f64 / 1000.0)),
    );
    b.gauge(
        "incident_respond_deadline_timestamp",
        "When an open incident must be responded to: start plus the respond target",
        seconds(),
        per_open(&|i| Some(unix(i.start) + i.respond_target_seconds as f64)),
    );
    b.gauge(
        "incident_resolve_deadline_timestamp",
        "When an open incident must be resolved: start plus the resolve target",
        seconds(),
        per_open(&|i| Some(unix(i.start) + i.resolve_target_seconds as f64)),
    );
    b.gauge(
        "incident_acknowledged_timestamp",
        "When an open incident was acknowledged; absent until it is",
        seconds(),
        per_open(&|i| i.acknowledged_at.map(unix)),
    );
    b.gauge(
        "incident_escalation_level",
        "Escalation level an open incident reached (1 = first level of the ladder); frozen once acknowledged",
        None,
        per_open(&|i| (i.escalation_level > 0).then_some(i.escalation_level as f64)),
    );
    b.gauge(
        "incident_nodes_down",
        "Most nodes of an open incident down at the same time",
        None,
        per_open(&|i| Some(i.max_nodes_down as f64)),
    );

    // Pay.
    let payees: Vec<(&'static str, &Statement)> =
        eval.operators.iter().map(|s| ("operator", s)).chain(eval.partners.iter().map(|s| ("partner", s))).collect();
    let mut amounts = vec![];
    let mut statuses = vec![];
    for (payee_kind, s) in &payees {
        for l in &s.lines {
            amounts.push((
                LineLabels {
                    payee_kind,
                    payee: s.id.clone(),
                    line: l.id.clone(),
                    kind: l.kind.clone(),
                    category: l.category.clone(),
                    currency: currency.clone(),
                },
                to_f64(l.amount),
            ));
            for st in STATUSES {
                let labels =
                    LineStatusLabels { payee_kind, payee: s.id.clone(), line: l.id.clone(), status: status_name(st) };
                statuses.push((labels, if st == l.status { 1.0 } else { 0.0 }));
            }
        }
    }
    b.gauge("pay_line_amount", "Amount of a pay line this period (0 unless paid)", None, amounts);
    b.gauge(
        "pay_line_status",
        "State set of a pay line's status: 1 for its status (paid, not_met, withheld, error), 0 for the others",
        None,
        statuses,
    );
    b.gauge(
        "payee_total_amount",
        "Sum of the payee's pay lines this period",
        None,
        payees
            .iter()
            .map(|(payee_kind, s)| {
                let labels =
                    PayeeLabels { payee_kind, payee: s.id.clone(), tier: s.tier.clone(), currency: currency.clone() };
                (labels, to_f64(s.total))
            })
            .collect(),
    );
    b.gauge(
        "programme_total_amount",
        "Sum of all payees' totals this period",
        None,
        vec![(CurrencyLabels { currency: currency.clone() }, to_f64(eval.total))],
    );
    b.gauge(
        "promotion_eligible",
        "1 if the operator passes every check of its promotion, 0 if not",
        None,
        eval.operators
            .iter()
            .filter_map(|s| {
                let p = s.promotion.as_ref()?;
                let labels = PromotionLabels { operator: s.id.clone(), to: p.to.clone() };
                Some((labels, if p.eligible { 1.0 } else { 0.0 }))
            })
            .collect(),
    );
    b.scalar("evaluation_warnings", "Warnings in the evaluation", None, Some(eval.warnings.len() as f64));
    b.0
}

/// The OpenMetrics text of [`evaluation_registry`], without `# EOF`: encode it
/// once per evaluation and serve the string through [`exposition`].
pub fn encode_evaluation(eval: &Evaluation) -> String {
    let mut out = String::new();
    text::encode_registry(&mut out, &evaluation_registry(eval)).expect("writing to a String cannot fail");
    out
}

// ---------------------------------------------------------------- self-metrics

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

impl SelfMetrics {
    /// Self-metrics of a build of `version` (`fleet_incentives_build_info`).
    pub fn new(version: &str) -> Self {
        let mut r = Registry::with_prefix(PREFIX);
        let m = SelfMetrics {
            registry: Arc::new(Registry::default()),
            evaluations: Counter::default(),
            evaluation_failures: Counter::default(),
            evaluation_duration: Gauge::default(),
            last_success: Gauge::default(),
            input_up: Family::default(),
            input_failures: Family::default(),
            queries: Family::default(),
            query_failures: Family::default(),
            query_samples: Family::default(),
            reload_successful: Gauge::default(),
            reload_success: Gauge::default(),
            acknowledgements_up: Gauge::default(),
            acknowledgement_failures: Counter::default(),
        };
        r.register("build", "The build of fleet-incentives", Info::new(BuildLabels { version: version.to_string() }));
        r.register("evaluations", "Evaluation cycles attempted", m.evaluations.clone());
        r.register(
            "evaluation_failures",
            "Evaluation cycles that failed (the last good results are kept)",
            m.evaluation_failures.clone(),
        );
        r.register_with_unit(
            "evaluation_duration",
            "Duration of the last evaluation cycle",
            Unit::Seconds,
            m.evaluation_duration.clone(),
        );
        r.register_with_unit(
            "last_successful_evaluation_timestamp",
            "When the last evaluation cycle succeeded (wall clock)",
            Unit::Seconds,
            m.last_success.clone(),
        );
        r.register("input_up", "1 if the input's last query succeeded, 0 if it failed", m.input_up.clone());
        r.register("input_failures", "Failed input queries", m.input_failures.clone());
        r.register("queries", "Queries sent to Prometheus, by purpose", m.queries.clone());
        r.register("query_failures", "Queries to Prometheus that failed, by purpose", m.query_failures.clone());
        r.register(
            "query_samples",
            "Samples Prometheus loaded for our queries (totalQueryableSamples), by purpose",
            m.query_samples.clone(),
        );
        r.register(
            "rules_last_reload_successful",
            "1 if the last rules reload succeeded, 0 if it failed (the old rules keep serving)",
            m.reload_successful.clone(),
        );
        r.register_with_unit(
            "rules_last_reload_success_timestamp",
            "When the rules were last loaded successfully",
            Unit::Seconds,
            m.reload_success.clone(),
        );
        SelfMetrics { registry: Arc::new(r), ..m }
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
        let mut out = String::new();
        text::encode_registry(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
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

#[cfg(test)]
mod tests;
