//! PLACEHOLDER until the `export` branch lands (it replaces this file):
//! the API `serve` calls, with a minimal body.
use crate::evaluation::Evaluation;
use crate::source::QueryRecord;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub fn encode_evaluation(eval: &Evaluation) -> String {
    format!(
        "# TYPE fleet_incentives_programme_total_amount gauge\nfleet_incentives_programme_total_amount {}\n",
        eval.total
    )
}

#[derive(Debug, Default)]
pub struct SelfMetrics;

impl SelfMetrics {
    pub fn new() -> Self {
        SelfMetrics
    }
    pub fn evaluation_started(&self) {}
    pub fn evaluation_succeeded(&self, _duration: Duration, _at: DateTime<Utc>) {}
    pub fn evaluation_failed(&self, _duration: Duration) {}
    pub fn input_result(&self, _name: &str, _ok: bool) {}
    pub fn queries(&self, _q: &[QueryRecord]) {}
    pub fn reload(&self, _ok: bool, _at: DateTime<Utc>) {}
    pub fn encode(&self) -> String {
        String::new()
    }
}

pub fn exposition(evaluation_text: Option<&str>, self_metrics: &SelfMetrics) -> String {
    format!("{}{}# EOF\n", evaluation_text.unwrap_or(""), self_metrics.encode())
}
