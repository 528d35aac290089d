//! Test helpers: rules from one YAML string (unvalidated, through
//! [`rules::from_yaml_unchecked`]), the fleet runbook's severities, and a
//! small builder for facts.

use crate::facts::{Facts, NodeFacts, Outage};
use crate::period::Period;
use crate::rules::{self, Rules};
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;

/// Rules from one rule file's YAML, not validated; missing `programme`,
/// `source` and `missing_data` get defaults.
pub fn rules(yaml: &str) -> Rules {
    rules::from_yaml_unchecked(yaml).unwrap_or_else(|e| panic!("test rules: {e}"))
}

/// The fleet runbook's severities (P0–P3), as YAML to prepend to a rule file.
pub const SEVERITIES: &str = r#"
severities:
  - id: P0
    name: Critical
    definition: no node operational
    when: "!degraded && fleet_down_ratio >= 1"
    respond_within: 15m
    resolve_within: 4h
    major: true
  - id: P1
    name: High
    definition: more than 50% of a region down
    when: "!degraded && region_down_ratio > 0.5"
    respond_within: 30m
    resolve_within: 8h
    major: true
  - id: P2
    name: Medium
    definition: single node failure
    when: "!degraded && nodes_down >= 1"
    respond_within: 1h
    resolve_within: 24h
  - id: P3
    name: Low
    definition: degraded performance
    when: degraded
    respond_within: 4h
    resolve_within: 3d
"#;

pub fn period(label: &str) -> Period {
    Period::month(label, Tz::UTC).unwrap()
}

pub fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Facts for a whole period at a 60 s step with no nodes yet.
pub fn facts(p: &Period) -> Facts {
    Facts { start: p.start, end: p.end, step_seconds: 60, ..Facts::default() }
}

/// Slots of the whole window at the facts' step.
pub fn slots(f: &Facts) -> u64 {
    ((f.end - f.start).num_seconds() / f.step_seconds) as u64
}

/// A node fully covered, with `down` down slots and the given outages
/// (start, minutes).
pub fn node(f: &Facts, id: &str, region: &str, outages: &[(DateTime<Utc>, i64)]) -> NodeFacts {
    let total = slots(f);
    let down: u64 = outages.iter().map(|(_, m)| (*m * 60 / f.step_seconds) as u64).sum();
    NodeFacts {
        node: id.into(),
        operator: None,
        region: Some(region.into()),
        up_samples: total - down,
        down_samples: down,
        expected_samples: total,
        maintenance_samples: 0,
        outages: outages
            .iter()
            .map(|(s, m)| Outage { start: *s, end: *s + Duration::minutes(*m), ongoing: false })
            .collect(),
    }
}
