//! The source stage: the only code that talks to Prometheus and
//! Alertmanager. Turns query results and silences into [`crate::facts::Facts`].
//!
//! - [`alertmanager`]: silences → acknowledgements (on-call acknowledges an
//!   incident by silencing it).
//! - [`prometheus`]: the HTTP client (retries, typed errors, warnings, stats).
//! - [`plan`]: which queries to send for a window ([`read_facts`]), sized to
//!   stay far below Prometheus' limits on a 10,000-node fleet.
//! - [`running`]: month-to-date running totals, read window by window
//!   (`evaluate` reads one window, `serve` one per cycle).
//! - [`samples`]: the slot model, raw samples → outages and counts (shared
//!   with rule tests).
//!
//! - [`evidence`]: every query and its full answer, recorded by the client;
//!   replayed by a client built from the file, without Prometheus.
//!
//! Every query sent is recorded as a [`QueryRecord`]: the evidence of what a
//! reading was made of.

pub mod alertmanager;
pub mod evidence;
pub mod plan;
pub mod prometheus;
pub mod running;
pub mod samples;

use crate::facts::Facts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use plan::{read_facts, read_inputs};
pub use prometheus::{Client, ClientConfig, QueryAnswer, QueryData, SourceError};
pub use running::{Delta, Running, read_window};

/// The result of reading one window: the facts and the queries they came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub facts: Facts,
    /// Every query sent, in plan order.
    pub queries: Vec<QueryRecord>,
}

/// How a query was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// `/api/v1/query` returning a vector or scalar.
    Instant,
    /// `/api/v1/query_range`.
    Range,
    /// `/api/v1/query` of a range-vector selector: raw samples.
    Raw,
}

/// One query sent to Prometheus and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// What the query was for: `availability`, `maintenance`, `outages`,
    /// `degraded`, `input:<name>`.
    pub purpose: String,
    pub kind: QueryKind,
    pub query: String,
    /// Evaluation time of an instant or raw query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// Range queries: start, end and step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_seconds: Option<i64>,
    /// Series and sample points returned.
    pub series: usize,
    pub samples: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Samples Prometheus loaded, when the client asked for `stats`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_queryable_samples: Option<u64>,
    /// Why the query failed (only inputs may fail without failing the reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
