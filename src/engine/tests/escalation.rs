//! Open incidents: climbing the escalation ladder from their page as their
//! severity allows, stopped by an acknowledgement, keeping their id as nodes
//! join.

use super::*;
use crate::facts::{Acknowledgement, Interval, Outage};
use chrono::Duration;

/// The shipped ladder (rules/severities.yaml): operator at once, senior
/// after the operator's 15 minutes, core team an hour later, executive at once after that
/// for P0 only; P3 stays with the operator.
const LADDER: &str = r#"
escalation:
  - { id: operator, name: Operator, after: 0s }
  - { id: senior, name: Senior, after: 15m, severities: [P0, P1, P2] }
  - { id: core, name: Core team, after: 1h, severities: [P0, P1, P2] }
  - { id: executive, name: Executive, after: 0s, severities: [P0] }
"#;

fn ladder_rules() -> Rules {
    rules(&format!("version: 1\nprogramme:\n  name: Fleet\n{SEVERITIES}{LADDER}"))
}

/// Facts up to `now` with node `down` offline since `since` (still down)
/// among `up` nodes that are fine; all in region eu.
fn open_outage(p: &Period, now: DateTime<Utc>, down: &[&str], up: &[&str], since: DateTime<Utc>) -> Facts {
    let mut f = facts(p);
    f.end = now;
    for n in up {
        f.nodes.push(node(&f, n, "eu", &[]));
    }
    for n in down {
        let mut nf = node(&f, n, "eu", &[(since, (now - since).num_minutes())]);
        nf.outages[0].ongoing = true;
        f.nodes.push(nf);
    }
    f.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    f
}

fn level_at(r: &Rules, f: &Facts, p: &Period) -> (u32, Option<String>) {
    let e = evaluate(f, &History::default(), r, p, f.end);
    assert_eq!(e.incidents.len(), 1, "{:?}", e.incidents);
    (e.incidents[0].escalation_level, e.incidents[0].escalation.clone())
}

#[test]
fn an_unacknowledged_incident_climbs_the_ladder_as_its_severity_allows() {
    let r = ladder_rules();
    let p = period("2026-10");
    let s = t(2026, 10, 8, 12, 0);
    // Minutes after the page (5 minutes after the first down sample).
    let at = |m: i64| paged(s) + Duration::minutes(m);
    // P2, one of three nodes: operator, senior at 15 m, core team at 75 m, never the executive.
    for (minutes, want) in [(12, 1), (14, 1), (15, 2), (16, 2), (74, 2), (75, 3), (300, 3)] {
        let f = open_outage(&p, at(minutes), &["a1"], &["a2", "a3"], s);
        let (level, _) = level_at(&r, &f, &p);
        assert_eq!(level, want, "P2 after {minutes} minutes");
    }
    // P0, every node down: the executive is paged with the core team.
    let f = open_outage(&p, at(75), &["a1", "a2"], &[], s);
    assert_eq!(level_at(&r, &f, &p), (4, Some("executive".into())));
    let f = open_outage(&p, at(74), &["a1", "a2"], &[], s);
    assert_eq!(level_at(&r, &f, &p), (2, Some("senior".into())));
    // P3 (degraded) pages at its start and stays with the operator.
    let mut f = open_outage(&p, at(300), &[], &["a1", "a2"], s);
    f.degraded = vec![Interval { node: "a1".into(), start: s, end: at(300) }];
    assert_eq!(level_at(&r, &f, &p), (1, Some("operator".into())));
    let e = evaluate(&f, &History::default(), &r, &p, f.end);
    assert_eq!(e.incidents[0].paged_at, s);
    // Without a ladder there is no level.
    let f = open_outage(&p, at(300), &["a1"], &["a2", "a3"], s);
    assert_eq!(level_at(&fleet_rules(), &f, &p), (0, None));
}

#[test]
fn an_acknowledgement_stops_the_escalation_where_it_was() {
    let r = ladder_rules();
    let p = period("2026-10");
    let s = t(2026, 10, 8, 12, 0);
    // Minutes after the page (5 minutes after the first down sample).
    let at = |m: i64| paged(s) + Duration::minutes(m);
    let ack = |m: i64| Some(vec![Acknowledgement { node: "a1".into(), at: at(m) }]);
    let mut f = open_outage(&p, at(300), &["a1"], &["a2", "a3"], s);
    f.acknowledgements = ack(16);
    assert_eq!(level_at(&r, &f, &p), (2, Some("senior".into())), "acknowledged after the senior was paged");
    f.acknowledgements = ack(15);
    assert_eq!(level_at(&r, &f, &p).0, 1, "an acknowledgement as the senior falls due wins");
    f.acknowledgements = ack(12);
    assert_eq!(level_at(&r, &f, &p), (1, Some("operator".into())), "acknowledged in the operator's 15 minutes");
    // An acknowledgement after the window end is not known yet.
    let mut f = open_outage(&p, at(30), &["a1"], &["a2", "a3"], s);
    f.acknowledgements = ack(31);
    assert_eq!(level_at(&r, &f, &p).0, 2);
    // An acknowledgement before the page (a node silence) stops the ladder
    // at the operator's page, with a response of 0.
    let mut f = open_outage(&p, at(300), &["a1"], &["a2", "a3"], s);
    f.acknowledgements = ack(-2);
    let e = evaluate(&f, &History::default(), &r, &p, f.end);
    assert_eq!((e.incidents[0].escalation_level, e.incidents[0].response_seconds), (1, Some(0)));
    // A resolved incident keeps the level it reached before it ended.
    let (p, f) = october_with(&[("a1", "eu", &[(s, 30)]), ("a2", "eu", &[]), ("a3", "eu", &[])]);
    let e = evaluate(&f, &History::default(), &r, &p, p.end);
    assert_eq!((e.incidents[0].escalation_level, e.incidents[0].end), (2, Some(at(25))));
    // Resolved 15 minutes after the first down sample, 10 after the page:
    // the senior (due 15 minutes after the page) is not paged.
    let (p, f) = october_with(&[("a1", "eu", &[(s, 15)]), ("a2", "eu", &[]), ("a3", "eu", &[])]);
    assert_eq!(evaluate(&f, &History::default(), &r, &p, p.end).incidents[0].escalation_level, 1);
}

#[test]
fn an_incident_keeps_its_id_when_nodes_join_it_later() {
    let r = ladder_rules();
    let p = period("2026-10");
    let s = t(2026, 10, 8, 12, 0);
    let mut f = open_outage(&p, s + Duration::minutes(20), &["b1"], &["a1", "c1", "c2"], s);
    let before = evaluate(&f, &History::default(), &r, &p, f.end).incidents[0].id.clone();
    assert_eq!(before, "P2-20261008T1200Z-b1");
    // a1 (first by name) fails 8 minutes later: the same incident, same name.
    let a1 = f.nodes.iter_mut().find(|n| n.node == "a1").unwrap();
    a1.outages = vec![Outage { start: s + Duration::minutes(8), end: f.end, ongoing: true }];
    let e = evaluate(&f, &History::default(), &r, &p, f.end);
    assert_eq!((e.incidents.len(), e.incidents[0].id.as_str()), (1, before.as_str()));
    assert_eq!(e.incidents[0].nodes, vec!["a1", "b1"]);
}
