//! Incidents of the rules' incident classes (support tickets, service
//! outages, firing alerts read from `incident_sources`), as the evaluation
//! lists them. Node outages are the evaluation's `incidents`, by severity.

use super::Verdict;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

impl Verdict {
    /// The verdict as written in JSON and the rule tests: `met`, `breached`, `open`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Breached => "breached",
            Verdict::Open => "open",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One incident of an incident class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassIncident {
    /// Stable id: `<class>-<start as YYYYMMDDTHHMMZ>-<key>`.
    pub id: String,
    pub class: String,
    /// The incident source it was read from.
    pub source: String,
    /// Its id in the source (the `id_label` value: a ticket number …).
    pub key: String,
    /// The source's severity label, if it has one.
    pub severity: Option<String>,
    /// The payee: the operator label; `None` without one.
    pub operator: Option<String>,
    /// Its first open sample.
    pub start: DateTime<Utc>,
    /// Its last open sample + the source's step; `None` while open.
    pub end: Option<DateTime<Utc>>,
    /// Wall-clock time from `start` to `end` (the window end while open).
    pub duration_seconds: i64,
    pub respond_target_seconds: i64,
    /// `None`: the class has no resolve target.
    pub resolve_target_seconds: Option<i64>,
    /// First acknowledgement naming it (its id or its key) from the end of
    /// the previous incident of the same key on (the window start for the
    /// first), before the next one's start.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Seconds from `start` to `acknowledged_at` (0 when acknowledged
    /// before it was first seen); `None` when not acknowledged.
    pub response_seconds: Option<i64>,
    /// Met: acknowledged within the respond target, or, never
    /// acknowledged, resolved within it; breached: acknowledged later, or
    /// not acknowledged once the target passed; open: neither yet;
    /// unknown: no acknowledgement source.
    pub respond_verdict: Verdict,
    /// `None` for a class without a resolve target.
    pub resolve_verdict: Option<Verdict>,
}

/// One incident class over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassSummary {
    pub class: String,
    pub name: String,
    pub respond_target_seconds: i64,
    /// `None`: the class has no resolve target.
    pub resolve_target_seconds: Option<i64>,
    pub incidents: u64,
    pub open: u64,
    /// Mean duration of the resolved incidents; `None` without any.
    pub mttr_seconds: Option<Decimal>,
    pub respond_breaches: u64,
    pub resolve_breaches: u64,
    /// Mean `response_seconds` of the acknowledged incidents; `None` without any.
    pub mean_response_seconds: Option<Decimal>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_name_is_its_json() {
        for v in [Verdict::Met, Verdict::Breached, Verdict::Open, Verdict::Unknown] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.name());
        }
    }
}
