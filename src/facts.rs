//! Facts: what the `source` stage read from Prometheus (or a recorded
//! evidence file, or a rule test's input series), as plain data. The engine
//! only ever sees facts, never a query.
//!
//! Time is counted in samples at the scrape `step`: a node's period is
//! `expected_samples` slots (maintenance windows already removed); each slot
//! is up, down or unknown (no sample). Unknown is never up nor down.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the engine needs about one evaluation window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Facts {
    /// Start of the window read (the period start).
    pub start: DateTime<Utc>,
    /// End of the window read: the period end, or the evaluation time if earlier.
    pub end: DateTime<Utc>,
    /// Scrape step in seconds: one sample per node per step.
    pub step_seconds: i64,
    /// One entry per node, sorted by `node`.
    pub nodes: Vec<NodeFacts>,
    /// Degraded-performance intervals (the optional P3 input), sorted.
    #[serde(default)]
    pub degraded: Vec<Interval>,
    /// Extra inputs by name (revenue, trips, ratings …).
    #[serde(default)]
    pub inputs: BTreeMap<String, InputFacts>,
    /// Acknowledgement times per incident key; `None` when no acknowledgement
    /// source is configured (response lines then say so instead of paying).
    #[serde(default)]
    pub acknowledgements: Option<Vec<Acknowledgement>>,
    /// Incidents read from the rules' `incident_sources` (tickets, service
    /// outages, firing alerts), sorted by (start, source, key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reported: Vec<ReportedIncident>,
    /// Acknowledgements that name an incident by id: the value of a
    /// silence's `incident` matcher, whatever it names (set with
    /// `acknowledgements`, empty without an acknowledgement source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incident_acknowledgements: Vec<IncidentAcknowledgement>,
}

/// One node over the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NodeFacts {
    pub node: String,
    /// Operator label on the series, if any (the roster wins over it).
    #[serde(default)]
    pub operator: Option<String>,
    /// Region label on the series, if any (the roster wins over it).
    #[serde(default)]
    pub region: Option<String>,
    /// Sample slots with `up == 1`, outside maintenance windows.
    pub up_samples: u64,
    /// Sample slots with `up == 0`, outside maintenance windows.
    pub down_samples: u64,
    /// Sample slots in the window outside maintenance windows (up + down + unknown).
    pub expected_samples: u64,
    /// Sample slots inside maintenance windows.
    #[serde(default)]
    pub maintenance_samples: u64,
    /// Runs of consecutive down samples, maintenance included (the engine
    /// discounts maintenance), sorted by start. Only nodes with downtime have any.
    #[serde(default)]
    pub outages: Vec<Outage>,
}

impl NodeFacts {
    pub fn unknown_samples(&self) -> u64 {
        self.expected_samples.saturating_sub(self.up_samples + self.down_samples)
    }
}

/// A run of down samples: from the first down sample to the first sample
/// after it that is up or missing (or the window end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Outage {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `end` is the window end and the node was still down there.
    #[serde(default)]
    pub ongoing: bool,
}

/// A labelled interval (degraded performance of one node).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Interval {
    pub node: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The result of one extra input query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFacts {
    /// Values keyed by the input's `by` label value (`""` for a scalar input).
    Values(BTreeMap<String, f64>),
    /// The query failed: lines that need it are withheld, never paid as zero.
    Failed(String),
}

/// An on-call acknowledgement of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Node the acknowledgement names.
    pub node: String,
    pub at: DateTime<Utc>,
}

/// One incident of an incident source: a run of "open" samples of the
/// series with one id. It starts at its first open sample and ends at its
/// last open sample + the source's step, or at the window end while open.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReportedIncident {
    pub start: DateTime<Utc>,
    /// Name of the source (`incident_sources[].name`).
    pub source: String,
    /// The value of the source's `id_label` (a ticket number …).
    pub key: String,
    /// The class: the source's `class`, or its class label (of the run's
    /// last sample); `None` without one.
    pub class: Option<String>,
    /// The operator label (the payee), if any.
    pub operator: Option<String>,
    /// The severity label, if the source names one.
    pub severity: Option<String>,
    pub end: DateTime<Utc>,
    /// Its last sample is open and less than a step before the window end.
    pub open: bool,
}

/// An acknowledgement naming an incident by its id, as a silence's
/// `incident="<id>"` matcher does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAcknowledgement {
    pub incident: String,
    pub at: DateTime<Utc>,
}
