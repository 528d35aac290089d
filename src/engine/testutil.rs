//! Test helpers: rules from one YAML string (until the loader lands, the
//! `Rules` struct is filled here by hand; swap for `rules::load::load_files`
//! later), and a small builder for facts.

use crate::facts::{Facts, NodeFacts, Outage};
use crate::period::Period;
use crate::rules::spec::{MissingDataSpec, ProgrammeSpec, RuleFile, SourceSpec};
use crate::rules::{Maintenance, Rules};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use std::path::PathBuf;

/// Rules from one rule file's YAML.
pub fn rules(yaml: &str) -> Rules {
    let f: RuleFile = serde_saphyr::from_str(yaml).expect("test rules parse");
    let maintenance = f
        .maintenance
        .iter()
        .map(|m| match (&m.weekday, &m.from) {
            (Some(day), _) => Maintenance::Weekly {
                name: m.name.value.clone(),
                weekday: day.value.parse::<Weekday>().expect("weekday"),
                at: NaiveTime::parse_from_str(&m.at.as_ref().expect("at").value, "%H:%M").expect("HH:MM"),
                duration_seconds: m.duration.expect("duration").seconds(),
                time_zone: Tz::UTC,
            },
            (None, Some(from)) => Maintenance::Once {
                name: m.name.value.clone(),
                from: DateTime::parse_from_rfc3339(&from.value).unwrap().with_timezone(&Utc),
                to: DateTime::parse_from_rfc3339(&m.to.as_ref().expect("to").value).unwrap().with_timezone(&Utc),
            },
            _ => panic!("maintenance needs weekday or from"),
        })
        .collect();
    Rules {
        dir: PathBuf::from("rules"),
        sha256: "0".repeat(64),
        programme: f.programme.unwrap_or_else(|| serde_saphyr::from_str::<ProgrammeSpec>("name: test").unwrap()),
        time_zone: Tz::UTC,
        source: f.source.unwrap_or_else(|| serde_saphyr::from_str::<SourceSpec>("up: up").unwrap()),
        maintenance,
        severities: f.severities,
        escalation: f.escalation,
        inputs: f.inputs,
        missing_data: f.missing_data.unwrap_or_else(|| {
            serde_saphyr::from_str::<MissingDataSpec>("min_coverage: 0.9\npolicy: withhold").unwrap()
        }),
        operators: f.operators,
        partners: f.partners,
        tiers: f.tiers,
        partner_tiers: f.partner_tiers,
        promotions: f.promotions,
    }
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
