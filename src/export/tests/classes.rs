//! The incident classes' families: names, labels and values, from an
//! evaluation with tickets (the programme of the contract test plus seed
//! 002's support classes).

use super::*;
use crate::facts::{IncidentAcknowledgement, ReportedIncident};

/// The class families: sample name and label names.
pub(super) const CLASS_METRICS: &[(&str, &[&str])] = &[
    ("fleet_incentives_class_incidents", &["class"]),
    ("fleet_incentives_class_incidents_open", &["class"]),
    ("fleet_incentives_class_incident_mttr_seconds", &["class"]),
    ("fleet_incentives_class_incident_mean_response_seconds", &["class"]),
    ("fleet_incentives_class_sla_breaches", &["class", "target"]),
    ("fleet_incentives_class_incident_start_timestamp_seconds", &["incident", "class", "severity", "operator"]),
    (
        "fleet_incentives_class_incident_respond_deadline_timestamp_seconds",
        &["incident", "class", "severity", "operator"],
    ),
    (
        "fleet_incentives_class_incident_resolve_deadline_timestamp_seconds",
        &["incident", "class", "severity", "operator"],
    ),
    ("fleet_incentives_class_incident_acknowledged_timestamp_seconds", &["incident", "class", "severity", "operator"]),
];

const CLASSES: &str = r#"
incident_sources:
  - {name: tickets, selector: support_ticket_open, id_label: ticket, severity_label: priority}
incident_classes:
  - {id: critical, name: Critical, respond_within: 2h, resolve_within: 24h}
  - {id: questions, name: Question, respond_within: 48h}
"#;

/// October 15th, noon: a resolved critical ticket acknowledged after 1 h,
/// an open one acknowledged after 30 min, an open question never answered.
fn with_tickets() -> Evaluation {
    let r = rules(&(programme_yaml("") + CLASSES));
    let p = period("2026-10");
    let now = t(2026, 10, 15, 12, 0);
    let mut f = facts(&p);
    f.end = now;
    let ticket = |key: &str, class: &str, start, end: Option<_>| ReportedIncident {
        start,
        source: "tickets".into(),
        key: key.into(),
        class: Some(class.into()),
        operator: Some("alice".into()),
        severity: (class == "critical").then(|| "p1".to_string()),
        end: end.unwrap_or(now),
        open: end.is_none(),
    };
    f.reported = vec![
        ticket("T-1", "critical", t(2026, 10, 3, 9, 0), Some(t(2026, 10, 3, 13, 0))),
        ticket("T-2", "critical", t(2026, 10, 15, 10, 0), None),
        ticket("Q-1", "questions", t(2026, 10, 15, 11, 0), None),
    ];
    f.acknowledgements = Some(vec![]);
    f.incident_acknowledgements = vec![
        IncidentAcknowledgement { incident: "T-1".into(), at: t(2026, 10, 3, 10, 0) },
        IncidentAcknowledgement { incident: "T-2".into(), at: t(2026, 10, 15, 10, 30) },
    ];
    evaluate(&f, &History::default(), &r, &p, now)
}

#[test]
fn every_class_metric_appears_with_exactly_its_labels_and_only_with_classes() {
    let s = parse(&exposition(Some(&encode_evaluation(&with_tickets())), &SelfMetrics::default()));
    for (name, labels) in CLASS_METRICS {
        let found = samples_named(&s, name);
        assert!(!found.is_empty(), "{name} missing");
        let want: BTreeSet<&str> = labels.iter().copied().collect();
        for x in found {
            assert_eq!(x.labels.keys().map(String::as_str).collect::<BTreeSet<_>>(), want, "labels of {name}");
        }
    }
    let without = encode_evaluation(&realistic(""));
    assert!(!without.contains("fleet_incentives_class_"), "no class families without classes");
}

#[test]
fn class_values_are_the_evaluations_numbers() {
    let e = with_tickets();
    let s = parse(&exposition(Some(&encode_evaluation(&e)), &SelfMetrics::default()));
    let values = |name: &str, key: &str, value: &str| -> Vec<f64> {
        samples_named(&s, name).into_iter().filter(|x| x.labels[key] == value).map(|x| x.value).collect()
    };
    assert_eq!(values("fleet_incentives_class_incidents", "class", "critical"), [2.0]);
    assert_eq!(values("fleet_incentives_class_incidents_open", "class", "questions"), [1.0]);
    assert_eq!(values("fleet_incentives_class_incident_mttr_seconds", "class", "critical"), [4.0 * 3600.0]);
    assert!(values("fleet_incentives_class_incident_mttr_seconds", "class", "questions").is_empty());
    assert_eq!(values("fleet_incentives_class_incident_mean_response_seconds", "class", "critical"), [2700.0]);
    // A question has no resolve target: no resolve breaches, no resolve deadline.
    let breaches: Vec<(String, String)> = samples_named(&s, "fleet_incentives_class_sla_breaches")
        .into_iter()
        .map(|x| (x.labels["class"].clone(), x.labels["target"].clone()))
        .collect();
    let want = [("critical", "respond"), ("critical", "resolve"), ("questions", "respond")];
    assert_eq!(breaches, want.map(|(c, t)| (c.to_string(), t.to_string())));
    // Open incidents only, one series each.
    let t2 = e.class_incidents.iter().find(|i| i.key == "T-2").unwrap();
    let start = unix(t2.start);
    let of_t2 = |name: &str| values(name, "incident", &t2.id);
    assert_eq!(of_t2("fleet_incentives_class_incident_start_timestamp_seconds"), [start]);
    assert_eq!(of_t2("fleet_incentives_class_incident_respond_deadline_timestamp_seconds"), [start + 7200.0]);
    assert_eq!(of_t2("fleet_incentives_class_incident_resolve_deadline_timestamp_seconds"), [start + 86400.0]);
    assert_eq!(of_t2("fleet_incentives_class_incident_acknowledged_timestamp_seconds"), [start + 1800.0]);
    assert_eq!(samples_named(&s, "fleet_incentives_class_incident_start_timestamp_seconds").len(), 2);
    assert_eq!(samples_named(&s, "fleet_incentives_class_incident_resolve_deadline_timestamp_seconds").len(), 1);
    let l = &samples_named(&s, "fleet_incentives_class_incident_start_timestamp_seconds")[0].labels;
    assert_eq!((l["class"].as_str(), l["severity"].as_str(), l["operator"].as_str()), ("critical", "p1", "alice"));
}
