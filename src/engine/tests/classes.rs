//! Incident classes: tickets read from an incident source get their
//! class's targets, their payee's variables and a summary per class; node
//! outages are untouched.

use super::*;
use crate::evaluation::{ClassIncident, Verdict};
use crate::facts::{IncidentAcknowledgement, ReportedIncident};
use chrono::Duration;

/// Seed 002's support SLAs (critical 2 h / 24 h, major 4 h / 48 h,
/// questions 48 h / none) and a tier whose lines read the class variables.
fn support() -> Rules {
    rules(&format!(
        r#"
version: 1
{SEVERITIES}
incident_sources:
  - {{name: tickets, selector: support_ticket_open, id_label: ticket}}
incident_classes:
  - {{id: critical, name: Critical, respond_within: 2h, resolve_within: 24h, major: true}}
  - {{id: major, name: Major, respond_within: 4h, resolve_within: 48h}}
  - {{id: questions, name: Question, respond_within: 48h}}
operators:
  - {{id: alice, name: Alice, tier: t1, start: 2026-01-01, nodes: [n1]}}
  - {{id: bob, name: Bob, tier: t1, start: 2026-01-01, nodes: [n2, n3]}}
tiers:
  - id: t1
    name: Tier 1
    lines:
      - {{id: support_sla, name: Support SLA met, kind: fixed, amount: 100, when: "respond_breaches_critical + resolve_breaches_critical + respond_breaches_major == 0"}}
      - {{id: per_question, name: Questions answered, kind: per_unit, amount: 5, quantity: "incidents_questions - respond_breaches_questions"}}
      - {{id: clean, name: No major incident, kind: fixed, amount: 50, when: "major_incidents == 0"}}
"#
    ))
}

fn oct(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    t(2026, 10, d, h, m)
}

/// A ticket of `class` for `operator`, from `start` for `hours` (open at the window end when `None`).
fn ticket(
    key: &str,
    class: &str,
    operator: &str,
    start: DateTime<Utc>,
    hours: Option<i64>,
    f: &Facts,
) -> ReportedIncident {
    ReportedIncident {
        start,
        source: "tickets".into(),
        key: key.into(),
        class: Some(class.into()),
        operator: Some(operator.into()),
        severity: None,
        end: hours.map_or(f.end, |h| start + Duration::hours(h)),
        open: hours.is_none(),
    }
}

fn ack(incident: &str, at: DateTime<Utc>) -> IncidentAcknowledgement {
    IncidentAcknowledgement { incident: incident.into(), at }
}

fn october() -> (Period, Facts) {
    let p = period("2026-10");
    let mut f = facts(&p);
    // n2's outage is a P2: n3 shares its region.
    f.nodes = vec![node(&f, "n1", "eu", &[]), node(&f, "n2", "us", &[(oct(5, 10, 0), 30)]), node(&f, "n3", "us", &[])];
    (p, f)
}

fn find<'a>(e: &'a Evaluation, key: &str) -> &'a ClassIncident {
    e.class_incidents.iter().find(|i| i.key == key).unwrap_or_else(|| panic!("no incident {key}"))
}

#[test]
fn each_class_has_its_own_targets_and_a_question_has_no_resolve_verdict() {
    let (p, mut f) = october();
    f.reported = vec![
        // Acknowledged after 3 h (> 2 h), resolved after 30 h (> 24 h).
        ticket("T-1", "critical", "alice", oct(3, 9, 0), Some(30), &f),
        // Acknowledged after 1 h, resolved after 10 h: both met.
        ticket("T-2", "major", "bob", oct(4, 9, 0), Some(10), &f),
        // Acknowledged after 47 h, never resolved: met, and no resolve target.
        ticket("T-3", "questions", "alice", oct(20, 0, 0), None, &f),
        // Never acknowledged, closed after 1 h: its resolution answered it.
        ticket("T-4", "critical", "bob", oct(21, 0, 0), Some(1), &f),
        // Never acknowledged, open since 3 h before the window end: breached.
        ticket("T-5", "critical", "bob", f.end - Duration::hours(3), None, &f),
        // Never acknowledged, open for 1 h at the window end: not yet.
        ticket("T-6", "major", "bob", f.end - Duration::hours(1), None, &f),
    ];
    f.acknowledgements = Some(vec![]);
    f.incident_acknowledgements =
        vec![ack("T-1", oct(3, 12, 0)), ack("T-2", oct(4, 10, 0)), ack("T-3", oct(21, 23, 0))];
    let e = run(&support(), &f, &p);
    let verdicts = |key: &str| {
        let i = find(&e, key);
        (i.respond_verdict, i.resolve_verdict, i.response_seconds)
    };
    assert_eq!(verdicts("T-1"), (Verdict::Breached, Some(Verdict::Breached), Some(3 * 3600)));
    assert_eq!(verdicts("T-2"), (Verdict::Met, Some(Verdict::Met), Some(3600)));
    assert_eq!(verdicts("T-3"), (Verdict::Met, None, Some(47 * 3600)));
    assert_eq!(verdicts("T-4"), (Verdict::Met, Some(Verdict::Met), None));
    assert_eq!(verdicts("T-5"), (Verdict::Breached, Some(Verdict::Open), None));
    assert_eq!(verdicts("T-6"), (Verdict::Open, Some(Verdict::Open), None));
    let q = find(&e, "T-3");
    assert_eq!(
        (q.id.as_str(), q.class.as_str(), q.end, q.resolve_target_seconds),
        ("questions-20261020T0000Z-T-3", "questions", None, None)
    );
    assert_eq!(q.duration_seconds, (f.end - oct(20, 0, 0)).num_seconds());
    // Node outages stay incidents by severity, untouched by the classes.
    assert_eq!(e.incidents.len(), 1);
    assert_eq!(e.incidents[0].severity, "P2");
    let order: Vec<&str> = e.class_incidents.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(order, ["T-1", "T-2", "T-3", "T-4", "T-5", "T-6"], "sorted by start");
}

#[test]
fn summaries_per_class_count_incidents_breaches_mttr_and_responses() {
    let (p, mut f) = october();
    f.reported = vec![
        ticket("T-1", "critical", "alice", oct(3, 9, 0), Some(30), &f),
        ticket("T-4", "critical", "bob", oct(21, 0, 0), Some(1), &f),
        ticket("T-5", "critical", "bob", f.end - Duration::hours(3), None, &f),
    ];
    f.acknowledgements = Some(vec![]);
    f.incident_acknowledgements = vec![ack("T-1", oct(3, 12, 0))];
    let e = run(&support(), &f, &p);
    let ids: Vec<&str> = e.classes.iter().map(|c| c.class.as_str()).collect();
    assert_eq!(ids, ["critical", "major", "questions"], "every class, in rules order");
    let c = &e.classes[0];
    assert_eq!((c.incidents, c.open, c.respond_breaches, c.resolve_breaches), (3, 1, 2, 1));
    assert_eq!(c.mttr_seconds, Some(dec("55800")), "(30 h + 1 h) / 2");
    assert_eq!(c.mean_response_seconds, Some(dec("10800")), "T-1 alone was acknowledged");
    assert_eq!((e.classes[1].incidents, e.classes[1].mttr_seconds), (0, None));
}

#[test]
fn the_payee_reads_its_own_incidents_of_each_class_and_major_classes_count_as_major() {
    let (p, mut f) = october();
    f.reported = vec![
        ticket("T-1", "critical", "alice", oct(3, 9, 0), Some(30), &f),
        ticket("Q-1", "questions", "alice", oct(5, 0, 0), Some(2), &f),
        ticket("Q-2", "questions", "alice", oct(6, 0, 0), Some(50), &f),
        ticket("T-2", "major", "bob", oct(4, 9, 0), Some(10), &f),
    ];
    f.acknowledgements = Some(vec![]);
    f.incident_acknowledgements = vec![ack("T-1", oct(3, 10, 0)), ack("T-2", oct(4, 10, 0))];
    let e = run(&support(), &f, &p);
    let alice = statement(&e, "alice");
    let var = |s: &Statement, v: &str| s.variables.get(v).copied().flatten();
    use crate::evaluation::Recorded::Num;
    assert_eq!(var(alice, "incidents_critical"), Some(Num(1.0)));
    assert_eq!(var(alice, "resolve_breaches_critical"), Some(Num(1.0)));
    assert_eq!(var(alice, "respond_breaches_critical"), Some(Num(0.0)));
    assert_eq!(var(alice, "incidents_questions"), Some(Num(2.0)));
    assert_eq!(var(alice, "respond_breaches_questions"), Some(Num(1.0)), "Q-2: 50 h unanswered");
    assert_eq!(var(alice, "resolve_breaches_questions"), Some(Num(0.0)), "no resolve target");
    assert_eq!(var(alice, "major_incidents"), Some(Num(1.0)), "a critical ticket is major");
    assert_eq!(var(alice, "incidents"), Some(Num(0.0)), "node incidents only");
    assert_eq!(line(&e, "alice", "support_sla").amount, dec("0.00"));
    assert_eq!(line(&e, "alice", "per_question").amount, dec("5.00"));
    assert_eq!(line(&e, "alice", "clean").amount, dec("0.00"));
    let bob = statement(&e, "bob");
    assert_eq!(var(bob, "incidents_major"), Some(Num(1.0)));
    assert_eq!(var(bob, "incidents_critical"), Some(Num(0.0)));
    assert_eq!(line(&e, "bob", "support_sla").amount, dec("100.00"));
    assert_eq!(line(&e, "bob", "clean").amount, dec("50.00"), "a major ticket is not a major incident");
}

#[test]
fn without_acknowledgements_the_respond_variables_are_unknown_and_their_lines_withheld() {
    let (p, mut f) = october();
    f.reported = vec![ticket("T-2", "major", "bob", oct(4, 9, 0), Some(10), &f)];
    let e = run(&support(), &f, &p);
    assert_eq!(find(&e, "T-2").respond_verdict, Verdict::Unknown);
    assert_eq!(find(&e, "T-2").resolve_verdict, Some(Verdict::Met));
    let l = line(&e, "bob", "support_sla");
    assert_eq!(l.status, crate::evaluation::LineStatus::Withheld);
    assert!(l.reason.contains("respond_breaches_critical (acknowledgements unknown"), "{}", l.reason);
}

#[test]
fn an_acknowledgement_names_the_incident_by_key_or_id_and_belongs_to_the_run_it_falls_in() {
    let (p, mut f) = october();
    f.reported = vec![
        // T-7 opened twice; a silence made before it was first scraped answers it at once.
        ticket("T-7", "critical", "alice", oct(10, 9, 0), Some(1), &f),
        ticket("T-7", "critical", "alice", oct(12, 9, 0), Some(5), &f),
        ticket("T-8", "critical", "alice", oct(14, 9, 0), Some(5), &f),
    ];
    f.acknowledgements = Some(vec![]);
    f.incident_acknowledgements = vec![
        ack("T-7", oct(10, 8, 59)),
        // Between the two runs: the second one's (3 h before it starts).
        ack("T-7", oct(12, 6, 0)),
        ack("critical-20261014T0900Z-T-8", oct(14, 9, 30)),
        ack("T-9", oct(14, 9, 0)),
    ];
    let e = run(&support(), &f, &p);
    let runs: Vec<(Option<i64>, Verdict)> =
        e.class_incidents.iter().map(|i| (i.response_seconds, i.respond_verdict)).collect();
    assert_eq!(runs, [(Some(0), Verdict::Met), (Some(0), Verdict::Met), (Some(1800), Verdict::Met)]);
    assert_eq!(e.class_incidents[1].acknowledged_at, Some(oct(12, 6, 0)));
    assert_ne!(e.class_incidents[0].id, e.class_incidents[1].id, "a reopened ticket is a second incident");
}

#[test]
fn an_unknown_class_is_not_counted_and_a_payee_off_the_roster_is_paid_nothing_for_it() {
    let (p, mut f) = october();
    f.reported = vec![
        ticket("T-1", "blocker", "alice", oct(3, 9, 0), Some(1), &f),
        ticket("T-2", "critical", "zed", oct(3, 9, 0), Some(1), &f),
        ReportedIncident { class: None, ..ticket("T-3", "critical", "alice", oct(3, 9, 0), Some(1), &f) },
        ReportedIncident { operator: None, ..ticket("T-4", "major", "alice", oct(3, 9, 0), Some(1), &f) },
    ];
    let e = run(&support(), &f, &p);
    let keys: Vec<&str> = e.class_incidents.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["T-2", "T-4"]);
    let has = |s: &str| e.warnings.iter().any(|w| w.contains(s));
    assert!(
        has(
            "incident T-1 of source tickets at 2026-10-03T09:00:00+00:00 is of class blocker, which is not in incident_classes; not counted"
        ),
        "{:#?}",
        e.warnings
    );
    assert!(has("incident T-3 of source tickets at 2026-10-03T09:00:00+00:00 has no class label"), "{:#?}", e.warnings);
    assert!(
        has("incident critical-20261003T0900Z-T-2 names operator zed, who is not on the roster"),
        "{:#?}",
        e.warnings
    );
    assert!(has("incident major-20261003T0900Z-T-4 has no operator label"), "{:#?}", e.warnings);
    assert_eq!(e.classes[0].incidents, 1, "zed's ticket is still the class's");
    let alice = statement(&e, "alice");
    assert_eq!(
        alice.variables.get("incidents_critical").copied().flatten(),
        Some(crate::evaluation::Recorded::Num(0.0))
    );
}

#[test]
fn rules_without_classes_evaluate_as_before() {
    let (p, f) = october();
    let e = run(&support(), &f, &p);
    assert!(e.class_incidents.is_empty());
    let plain = rules(&format!("version: 1\n{SEVERITIES}"));
    let e = run(&plain, &f, &p);
    assert!(e.classes.is_empty());
    let json = serde_json::to_string(&e).unwrap();
    assert!(!json.contains("class"), "no class fields without classes: {json}");
}
