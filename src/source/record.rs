//! What a reading is made of: the facts and every query sent for them.

use crate::facts::Facts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// `/api/v1/read` (remote read, streamed XOR chunks): the samples of a
    /// selector over a time range, decoded here. `samples` and
    /// `total_queryable_samples` are the samples decoded (counted by this
    /// client: Prometheus' query log does not see remote reads).
    RemoteRead,
}

/// How long windows of the `up` (and degraded) selector are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Remote read when the selector is a plain vector selector and the
    /// server has `/api/v1/read`; PromQL otherwise (said in a log line).
    #[default]
    Auto,
    /// PromQL only (`count_over_time`/`sum_over_time` per day, raw samples
    /// where there was downtime).
    Promql,
    /// Remote read, or fail.
    RemoteRead,
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
