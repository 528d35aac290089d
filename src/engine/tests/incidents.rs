//! Incidents: failures, grouping, severity, maintenance windows, MTTR,
//! response and resolve verdicts.

use super::*;
use crate::evaluation::Verdict;
use crate::facts::{Acknowledgement, Interval, Outage};
use chrono::Duration;

#[test]
fn all_nodes_down_together_is_a_p0() {
    let s = t(2026, 10, 6, 10, 0);
    let (p, f) = october_with(&[
        ("a1", "eu", &[(s, 30)]),
        ("a2", "eu", &[(s + Duration::minutes(5), 20)]),
        ("b1", "us", &[(s + Duration::minutes(10), 30)]),
    ]);
    let e = run(&fleet_rules(), &f, &p);
    assert_eq!(e.incidents.len(), 1, "{:?}", e.incidents);
    let i = &e.incidents[0];
    assert_eq!(i.severity, "P0");
    assert_eq!(i.max_nodes_down, 3);
    assert_eq!(i.start, s);
    assert_eq!(i.end, Some(s + Duration::minutes(40)));
    assert_eq!(i.duration_seconds, 40 * 60);
    assert_eq!(i.id, "P0-20261006T1000Z-a1");
    assert_eq!(i.regions, vec!["eu", "us"]);
    assert_eq!(i.resolve_verdict, Verdict::Met);
    assert_eq!(i.respond_verdict, Verdict::Unknown);
}

#[test]
fn more_than_half_of_a_region_down_is_a_p1() {
    let s = t(2026, 10, 7, 8, 0);
    let (p, f) = october_with(&[
        ("e1", "eu", &[(s, 60)]),
        ("e2", "eu", &[(s + Duration::minutes(30), 60)]),
        ("e3", "eu", &[]),
        ("u1", "us", &[]),
        ("u2", "us", &[]),
    ]);
    let e = run(&fleet_rules(), &f, &p);
    assert_eq!(e.incidents.len(), 1);
    let i = &e.incidents[0];
    // 2 of eu's 3 nodes down at once (> 50 %), 2 of 5 in the fleet (< 100 %).
    assert_eq!(i.severity, "P1");
    assert_eq!(i.max_nodes_down, 2);
    assert_eq!(i.nodes, vec!["e1", "e2"]);
    assert_eq!(i.duration_seconds, 90 * 60);
}

#[test]
fn two_nodes_of_a_region_down_one_after_the_other_is_two_p2s_not_a_p1() {
    let s = t(2026, 10, 7, 8, 0);
    // Touching, not overlapping: [8:00, 8:30) and [8:30, 9:00).
    let (p, f) =
        october_with(&[("e1", "eu", &[(s, 30)]), ("e2", "eu", &[(s + Duration::minutes(30), 30)]), ("e3", "eu", &[])]);
    let e = run(&fleet_rules(), &f, &p);
    let sev: Vec<&str> = e.incidents.iter().map(|i| i.severity.as_str()).collect();
    assert_eq!(sev, vec!["P2", "P2"]);
}

#[test]
fn a_single_node_failure_is_a_p2() {
    let s = t(2026, 10, 8, 12, 0);
    let (p, f) = october_with(&[("a1", "eu", &[(s, 20)]), ("a2", "eu", &[]), ("a3", "eu", &[])]);
    let e = run(&fleet_rules(), &f, &p);
    assert_eq!(e.incidents.len(), 1);
    assert_eq!(e.incidents[0].severity, "P2");
    assert_eq!(e.nodes.iter().map(|n| n.incidents).collect::<Vec<_>>(), vec![1, 0, 0]);
    assert_eq!(e.severities[2].incidents, 1);
}

#[test]
fn an_outage_of_exactly_five_minutes_is_not_a_failure_but_six_minutes_is() {
    let (p, f) = october_with(&[
        ("a1", "eu", &[(t(2026, 10, 8, 12, 0), 5)]),
        ("a2", "eu", &[(t(2026, 10, 9, 12, 0), 6)]),
        ("a3", "eu", &[]),
    ]);
    let e = run(&fleet_rules(), &f, &p);
    assert_eq!(e.incidents.len(), 1);
    assert_eq!(e.incidents[0].nodes, vec!["a2"]);
}

#[test]
fn an_outage_inside_a_maintenance_window_is_not_an_incident() {
    // Sunday 2026-10-04 02:00–04:00 is maintenance.
    let (p, f) = october_with(&[
        ("a1", "eu", &[(t(2026, 10, 4, 2, 10), 100)]),
        ("a2", "eu", &[(t(2026, 10, 4, 3, 50), 20)]),
        ("a3", "eu", &[]),
    ]);
    let e = run(&fleet_rules(), &f, &p);
    // a1 is down only inside the window; a2 for 10 countable minutes after it.
    assert_eq!(e.incidents.len(), 1, "{:?}", e.incidents);
    let i = &e.incidents[0];
    assert_eq!(i.nodes, vec!["a2"]);
    assert_eq!(i.duration_seconds, 10 * 60);
}

#[test]
fn mttr_is_the_mean_duration_of_resolved_incidents_and_open_ones_are_counted_apart() {
    let (p, mut f) = october_with(&[
        ("a1", "eu", &[(t(2026, 10, 8, 12, 0), 20)]),
        ("a2", "eu", &[(t(2026, 10, 9, 12, 0), 40)]),
        ("a3", "eu", &[]),
        ("a4", "eu", &[]),
    ]);
    let open_start = f.end - Duration::minutes(90);
    f.nodes[2].outages = vec![Outage { start: open_start, end: f.end, ongoing: true }];
    let e = run(&fleet_rules(), &f, &p);
    let p2 = e.severities.iter().find(|s| s.severity == "P2").unwrap();
    assert_eq!(p2.incidents, 3);
    assert_eq!(p2.open, 1);
    assert_eq!(p2.mttr_seconds, Some(Decimal::from(20 * 60 + 40 * 60) / Decimal::from(2)));
    let open = e.incidents.iter().find(|i| i.end.is_none()).unwrap();
    assert_eq!(open.duration_seconds, 90 * 60);
    assert_eq!(open.resolve_verdict, Verdict::Open);
    let starts: Vec<_> = e.incidents.iter().map(|i| i.start).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn a_node_still_down_at_the_window_end_is_offline_since_its_last_outage_start_and_others_are_not() {
    let (p, mut f) = october_with(&[
        ("a1", "eu", &[(t(2026, 10, 8, 12, 0), 20)]),
        ("a2", "eu", &[]),
        ("a3", "eu", &[(t(2026, 10, 9, 12, 0), 40)]),
    ]);
    let since = f.end - Duration::minutes(45);
    let end = f.end;
    f.nodes[0].outages.push(Outage { start: since, end, ongoing: true });
    // Down for 3 minutes at the end: not a failure yet, but offline all the same.
    f.nodes[1].outages = vec![Outage { start: f.end - Duration::minutes(3), end: f.end, ongoing: true }];
    let e = run(&fleet_rules(), &f, &p);
    let since_of = |id: &str| e.nodes.iter().find(|n| n.node == id).unwrap().offline_since;
    assert_eq!(since_of("a1"), Some(since));
    assert_eq!(since_of("a2"), Some(f.end - Duration::minutes(3)));
    assert_eq!(since_of("a3"), None);
    // Absent from JSON when none, so earlier outputs keep their bytes.
    let a3 = serde_json::to_value(e.nodes.iter().find(|n| n.node == "a3").unwrap()).unwrap();
    assert!(a3.get("offline_since").is_none(), "{a3}");
}

#[test]
fn an_incident_over_its_resolve_target_is_breached_even_while_open() {
    let (p, mut f) = october_with(&[("a1", "eu", &[]), ("a2", "eu", &[])]);
    f.nodes[0].outages = vec![Outage { start: f.end - Duration::hours(25), end: f.end, ongoing: true }];
    let e = run(&fleet_rules(), &f, &p);
    assert_eq!(e.incidents[0].severity, "P2");
    assert_eq!(e.incidents[0].resolve_verdict, Verdict::Breached);
    assert_eq!(e.severities[2].resolve_breaches, 1);
}

#[test]
fn an_acknowledgement_within_target_meets_the_response_sla_and_a_late_one_breaches_it() {
    let s1 = t(2026, 10, 8, 12, 0);
    let s2 = t(2026, 10, 9, 12, 0);
    let (p, mut f) = october_with(&[("a1", "eu", &[(s1, 20)]), ("a2", "eu", &[(s2, 90)]), ("a3", "eu", &[])]);
    f.acknowledgements = Some(vec![
        Acknowledgement { node: "a1".into(), at: paged(s1) + Duration::minutes(10) },
        Acknowledgement { node: "a2".into(), at: paged(s2) + Duration::minutes(61) },
    ]);
    let e = run(&fleet_rules(), &f, &p);
    let (i1, i2) = (&e.incidents[0], &e.incidents[1]);
    assert_eq!((i1.response_seconds, i1.respond_verdict), (Some(600), Verdict::Met));
    assert_eq!((i2.response_seconds, i2.respond_verdict), (Some(61 * 60), Verdict::Breached));
    assert_eq!(e.severities[2].respond_breaches, 1);
}

#[test]
fn degraded_performance_is_a_p3() {
    let (p, mut f) = october_with(&[("a1", "eu", &[]), ("a2", "eu", &[])]);
    let s = t(2026, 10, 10, 9, 0);
    f.degraded = vec![Interval { node: "a2".into(), start: s, end: s + Duration::hours(2) }];
    let e = run(&fleet_rules(), &f, &p);
    assert_eq!(e.incidents.len(), 1);
    assert_eq!(e.incidents[0].severity, "P3");
    assert_eq!(e.incidents[0].max_nodes_down, 0);
    assert_eq!(e.incidents[0].duration_seconds, 7200);
}

#[test]
fn an_acknowledgement_of_a_later_incident_does_not_answer_an_earlier_one() {
    let s1 = t(2026, 10, 8, 12, 0);
    let s2 = t(2026, 10, 9, 12, 0);
    let (p, mut f) = october_with(&[("a1", "eu", &[(s1, 20), (s2, 20)]), ("a2", "eu", &[])]);
    f.acknowledgements = Some(vec![Acknowledgement { node: "a1".into(), at: paged(s2) + Duration::minutes(5) }]);
    let e = run(&fleet_rules(), &f, &p);
    assert_eq!(e.incidents.len(), 2);
    assert_eq!(e.incidents[0].acknowledged_at, None);
    assert_eq!(e.incidents[0].respond_verdict, Verdict::Breached);
    assert_eq!(e.incidents[1].response_seconds, Some(300));
    assert_eq!(e.incidents[1].respond_verdict, Verdict::Met);
}

#[test]
fn mean_response_per_severity_averages_the_acknowledged_incidents_exactly() {
    let (s1, s2, s3) = (t(2026, 10, 8, 12, 0), t(2026, 10, 9, 12, 0), t(2026, 10, 10, 12, 0));
    let (p, mut f) = october_with(&[("a1", "eu", &[(s1, 20), (s2, 20), (s3, 20)]), ("a2", "eu", &[])]);
    f.acknowledgements = Some(vec![
        Acknowledgement { node: "a1".into(), at: paged(s1) + Duration::seconds(100) },
        Acknowledgement { node: "a1".into(), at: paged(s2) + Duration::seconds(201) },
    ]);
    let e = run(&fleet_rules(), &f, &p);
    let p2 = e.severities.iter().find(|s| s.severity == "P2").unwrap();
    assert_eq!(p2.mean_response_seconds, Some(Decimal::new(1505, 1)), "(100 + 201) / 2; the third is unacknowledged");
    assert_eq!(e.severities.iter().find(|s| s.severity == "P0").unwrap().mean_response_seconds, None);
}

/// Regression (issue 14 c): the response clock started at the first down
/// sample; it starts at the page, when the failure is detected: the first
/// down sample + `source.failure_after`, maintenance time not counted.
#[test]
fn the_response_is_measured_from_the_page_first_down_sample_plus_failure_after() {
    let s = t(2026, 10, 8, 12, 0);
    let (p, mut f) = october_with(&[("a1", "eu", &[(s, 90)]), ("a2", "eu", &[]), ("a3", "eu", &[])]);
    f.acknowledgements = Some(vec![Acknowledgement { node: "a1".into(), at: s + Duration::minutes(8) }]);
    let i = &run(&fleet_rules(), &f, &p).incidents[0];
    assert_eq!((i.start, i.paged_at), (s, s + Duration::minutes(5)));
    assert_eq!((i.response_seconds, i.respond_verdict), (Some(180), Verdict::Met), "8 min − 5 min");
    // P2 responds within 1 h of the page: 64 minutes after the first down
    // sample is 59 after the page, met; 66 is 61 after, breached.
    for (minutes, want) in [(64, Verdict::Met), (66, Verdict::Breached)] {
        f.acknowledgements = Some(vec![Acknowledgement { node: "a1".into(), at: s + Duration::minutes(minutes) }]);
        assert_eq!(run(&fleet_rules(), &f, &p).incidents[0].respond_verdict, want, "acknowledged at {minutes} min");
    }
    // The rules' failure_after, not a constant: 10 minutes pages at 12:10,
    // and an acknowledgement before the page is a response of 0.
    let mut r = fleet_rules();
    r.source.failure_after = crate::period::Dur(600);
    f.acknowledgements = Some(vec![Acknowledgement { node: "a1".into(), at: s + Duration::minutes(8) }]);
    let i = &run(&r, &f, &p).incidents[0];
    assert_eq!((i.paged_at, i.response_seconds), (s + Duration::minutes(10), Some(0)));
    // Down from 03:58 on Sunday 4 October, in the 02:00–04:00 maintenance:
    // only the time from 04:00 counts, so it pages at 04:05.
    let m = t(2026, 10, 4, 3, 58);
    let (p, mut f) = october_with(&[("a1", "eu", &[(m, 30)]), ("a2", "eu", &[]), ("a3", "eu", &[])]);
    f.acknowledgements = Some(vec![Acknowledgement { node: "a1".into(), at: t(2026, 10, 4, 4, 15) }]);
    let i = &run(&fleet_rules(), &f, &p).incidents[0];
    assert_eq!((i.start, i.paged_at, i.response_seconds), (m, t(2026, 10, 4, 4, 5), Some(600)));
}

/// Never acknowledged: open while the respond target (from the page) has not
/// passed at the window end, a breach once it has, resolved or not.
#[test]
fn an_unacknowledged_incident_breaches_its_respond_target_once_it_passes_after_the_page() {
    let s = t(2026, 10, 8, 12, 0);
    let (p, mut f) = october_with(&[("a1", "eu", &[(s, 20)]), ("a2", "eu", &[]), ("a3", "eu", &[])]);
    f.acknowledgements = Some(vec![]);
    for (minutes, want) in [(64, Verdict::Open), (66, Verdict::Breached)] {
        f.end = s + Duration::minutes(minutes);
        let e = evaluate(&f, &History::default(), &fleet_rules(), &p, f.end);
        assert_eq!(e.incidents[0].respond_verdict, want, "window end {minutes} min after the first down sample");
        assert_eq!(e.incidents[0].response_seconds, None);
    }
}
