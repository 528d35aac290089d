//! Figures over several months: aggregates read the closed months (pooled
//! time for uptime), year-to-date pay adds them up, "eligible since" walks
//! back through them; a month that is needed and not closed is named.

use super::*;
use crate::evaluation::{LineStatus, Recorded};
use crate::history::figures::{self, MonthFigures};
use chrono::NaiveDate;

/// [`programme`] with a quarter-to-date pooled uptime, a quarterly bonus on
/// it, a 3-month sum of incidents and a promotion after 3 months.
fn quarterly() -> Rules {
    let mut r = programme(
        r#"      - id: quarter_bonus
        name: Quarter bonus
        kind: fixed
        amount: 300
        when: "uptime_q > 0.995"
      - id: calm_bonus
        name: Calm bonus
        kind: fixed
        amount: 50
        when: "incidents_3m < 1"
promotions:
  - from: t1
    to: t2
    checks:
      - { name: three months, when: "tenure_months >= 3" }
aggregates:
  - { name: uptime_q, of: uptime, over: quarter }
  - { name: incidents_3m, of: incidents, over: 3 months, how: sum }
"#,
        "",
    );
    r.tiers.push(crate::rules::spec::TierSpec { id: text("t2"), ..r.tiers[0].clone() });
    r
}

fn text(s: &str) -> crate::rules::expr::Text {
    crate::rules::expr::Text { value: s.into(), pos: crate::rules::expr::Pos { line: 1, column: 1 } }
}

/// A month with alice's three nodes up, but node n1 down `down_minutes`
/// from the 10th at noon.
fn month(label: &str, down_minutes: i64) -> (Period, Facts) {
    let p = period(label);
    let mut f = facts(&p);
    let at = p.start + chrono::Duration::days(9) + chrono::Duration::hours(12);
    let n1: &[(DateTime<Utc>, i64)] = if down_minutes > 0 { &[(at, down_minutes)] } else { &[] };
    f.nodes = vec![node(&f, "n1", "eu", n1), node(&f, "n2", "eu", &[]), node(&f, "n3", "eu", &[])];
    (p, f)
}

/// Close `months` in order, each evaluated with the history closed before it.
fn close_in_order(r: &Rules, months: &[(&str, i64)]) -> History {
    let mut h = History::default();
    for (label, down) in months {
        let (p, f) = month(label, *down);
        let e = evaluate(&f, &h, r, &p, p.end);
        h.add_statement(&format!("sha-{label}"), &e);
    }
    h
}

fn num(e: &Evaluation, line_id: &str, var: &str) -> f64 {
    line(e, "alice", line_id).inputs[var].parse().unwrap_or_else(|_| panic!("{var} has no number"))
}

#[test]
fn a_quarter_pools_its_months_time_and_is_not_the_mean_of_their_uptimes() {
    let r = quarterly();
    // 2,000 minutes down in October: pooled over the fourth quarter's
    // seconds the uptime is under 99.5 %; the mean of the three monthly
    // uptimes is not.
    let h = close_in_order(&r, &[("2026-10", 2000), ("2026-11", 0)]);
    let (p, f) = month("2026-12", 0);
    let e = evaluate(&f, &h, &r, &p, p.end);
    let quarter_minutes = 3.0 * (31.0 + 30.0 + 31.0) * 1440.0;
    let pooled = 1.0 - 2000.0 / quarter_minutes;
    let mean = (1.0 + 1.0 + (1.0 - 2000.0 / (3.0 * 31.0 * 1440.0))) / 3.0;
    assert!(pooled < 0.995 && mean > 0.995, "the case tells pooled from mean: {pooled} {mean}");
    assert!((num(&e, "quarter_bonus", "uptime_q") - pooled).abs() < 1e-12);
    assert_eq!(line(&e, "alice", "quarter_bonus").status, LineStatus::NotMet);
    // The sum over 3 months sees October's incident.
    assert_eq!(num(&e, "calm_bonus", "incidents_3m"), 1.0);
    assert_eq!(line(&e, "alice", "calm_bonus").status, LineStatus::NotMet);
    // January starts a new quarter; three months back no longer reach October.
    let h = close_in_order(&r, &[("2026-10", 2000), ("2026-11", 0), ("2026-12", 0)]);
    let (p, f) = month("2027-01", 0);
    let e = evaluate(&f, &h, &r, &p, p.end);
    assert_eq!(num(&e, "quarter_bonus", "uptime_q"), 1.0);
    assert_eq!(num(&e, "calm_bonus", "incidents_3m"), 0.0);
    assert_eq!(line(&e, "alice", "calm_bonus").status, LineStatus::Paid);
}

#[test]
fn a_month_that_is_not_closed_withholds_what_needs_it_and_is_named() {
    let r = quarterly();
    let h = close_in_order(&r, &[("2026-10", 0)]);
    let (p, f) = month("2026-12", 0);
    let e = evaluate(&f, &h, &r, &p, p.end);
    for id in ["quarter_bonus", "calm_bonus"] {
        let l = line(&e, "alice", id);
        assert_eq!(l.status, LineStatus::Withheld, "{id}: {}", l.reason);
        assert!(l.reason.contains("2026-11 is not closed"), "{id}: {}", l.reason);
        assert_eq!(l.amount, Decimal::ZERO);
    }
    // A month before the operator started is not needed.
    let mut r = quarterly();
    r.operators[0].start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let e = evaluate(&f, &History::default(), &r, &p, p.end);
    assert_eq!(line(&e, "alice", "quarter_bonus").status, LineStatus::Paid);
    assert_eq!(num(&e, "quarter_bonus", "uptime_q"), 1.0);
}

#[test]
fn a_month_closed_without_the_variable_or_without_a_value_is_named() {
    let r = quarterly();
    let yaml = |incidents: &str| {
        format!(
            "- period: 2026-08\n  operators:\n    alice: {{up_seconds: 100, variables: {{{incidents}}}}}\n- period: 2026-09\n  operators:\n    alice: {{up_seconds: 100, variables: {{incidents: 0}}}}\n"
        )
    };
    let (p, f) = month("2026-10", 0);
    let months: Vec<MonthFigures> = serde_saphyr::from_str(&yaml("")).unwrap();
    let e = evaluate(&f, &figures::history(months, "test").unwrap(), &r, &p, p.end);
    let l = line(&e, "alice", "calm_bonus");
    assert_eq!(l.status, LineStatus::Withheld);
    assert!(l.reason.contains("2026-08 closed without `incidents`"), "{}", l.reason);
    let months: Vec<MonthFigures> = serde_saphyr::from_str(&yaml("incidents: null")).unwrap();
    let e = evaluate(&f, &figures::history(months, "test").unwrap(), &r, &p, p.end);
    assert!(line(&e, "alice", "calm_bonus").reason.contains("`incidents` has no value in 2026-08"));
    let months: Vec<MonthFigures> = serde_saphyr::from_str(&yaml("incidents: 0")).unwrap();
    let e = evaluate(&f, &figures::history(months, "test").unwrap(), &r, &p, p.end);
    assert_eq!(line(&e, "alice", "calm_bonus").status, LineStatus::Paid);
}

#[test]
fn a_statement_records_the_variables_later_months_aggregate() {
    let r = quarterly();
    let (p, f) = month("2026-10", 30);
    let e = evaluate(&f, &History::default(), &r, &p, p.end);
    let vars = &statement(&e, "alice").variables;
    assert_eq!(vars["incidents"], Some(Recorded::Num(1.0)));
    assert_eq!(vars["terminated"], Some(Recorded::Bool(false)));
    assert_eq!(vars["incidents_3m"], None, "unknown: 2026-08, 2026-09 are not closed");
    assert_eq!(vars["uptime_q"], Some(Recorded::Num(1.0 - 30.0 / (3.0 * 31.0 * 1440.0))), "October is the quarter");
    assert!(vars.contains_key("revenue") && vars.contains_key("mttr_seconds"));
    // And it reads back from JSON exactly.
    let json = serde_json::to_string(&e).unwrap();
    let back: Evaluation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, e);
}

#[test]
fn year_to_date_adds_the_closed_months_and_is_unknown_while_one_is_missing() {
    let r = quarterly();
    let months: Vec<(String, i64)> = (1..=9).map(|m| (format!("2026-{m:02}"), 0)).collect();
    let refs: Vec<(&str, i64)> = months.iter().map(|(l, d)| (l.as_str(), *d)).collect();
    let mut h = close_in_order(&r, &refs);
    let (p, f) = month("2026-10", 0);
    let e = evaluate(&f, &h, &r, &p, p.end);
    let ytd = &statement(&e, "alice").year_to_date;
    let closed: Decimal = h.months.values().map(|m| m.operators["alice"].total).sum();
    assert_eq!(ytd.months.len(), 10, "January (joined on the 15th) to October");
    assert_eq!(ytd.total, Some(closed + statement(&e, "alice").total));
    let stipends: Decimal = h.months.values().map(|m| m.operators["alice"].lines["stipend"]).sum();
    assert_eq!(ytd.lines["stipend"], stipends + line(&e, "alice", "stipend").amount);
    assert!(ytd.missing.is_empty());

    h.months.remove("2026-05");
    let e = evaluate(&f, &h, &r, &p, p.end);
    let ytd = &statement(&e, "alice").year_to_date;
    assert_eq!((ytd.total, ytd.missing.clone()), (None, vec!["2026-05".to_string()]));
    assert!(ytd.lines.is_empty(), "never a partial sum shown as the year's");
}

#[test]
fn eligible_since_is_the_first_month_of_the_unbroken_run() {
    let r = quarterly();
    let months: Vec<(String, i64)> = (1..=9).map(|m| (format!("2026-{m:02}"), 0)).collect();
    let refs: Vec<(&str, i64)> = months.iter().map(|(l, d)| (l.as_str(), *d)).collect();
    let mut h = close_in_order(&r, &refs);
    let (p, f) = month("2026-10", 0);
    let promo = |h: &History| statement(&evaluate(&f, h, &r, &p, p.end), "alice").promotion.clone().unwrap();
    // Joined 2026-01-15: the third month, March, is the first eligible.
    let pr = promo(&h);
    assert_eq!((pr.eligible_since.as_deref(), pr.eligible_since_note.as_deref()), (Some("2026-03"), None));
    h.months.remove("2026-06");
    let pr = promo(&h);
    assert_eq!(pr.eligible_since.as_deref(), Some("2026-07"));
    assert!(pr.eligible_since_note.unwrap().contains("2026-06 is not closed"));
}

#[test]
fn opening_figures_stand_for_months_not_closed_and_a_closed_month_wins() {
    let mut r = quarterly();
    // October before the first close, by hand: 2,000 minutes down over
    // three nodes; November closed.
    let seconds = 3 * 31 * 86400;
    let yaml = format!(
        "- period: 2026-10\n  operators:\n    alice: {{up_seconds: {}, down_seconds: 120000, variables: {{incidents: 1}}, lines: {{stipend: 1500}}}}\n",
        seconds - 120000
    );
    r.opening = figures::history(serde_saphyr::from_str(&yaml).unwrap(), "opening figures in opening.yaml").unwrap();
    let closed = close_in_order(&r, &[("2026-11", 0)]);
    let (p, f) = month("2026-12", 0);
    let e = evaluate(&f, &closed, &r, &p, p.end);
    let quarter_seconds = 3.0 * (31.0 + 30.0 + 31.0) * 86400.0;
    assert!((num(&e, "quarter_bonus", "uptime_q") - (1.0 - 120000.0 / quarter_seconds)).abs() < 1e-12);
    assert_eq!(num(&e, "calm_bonus", "incidents_3m"), 1.0);
    assert!(statement(&e, "alice").year_to_date.missing.contains(&"2026-09".to_string()));
    assert!(e.warnings.iter().all(|w| !w.contains("opening figures")), "{:?}", e.warnings);

    // A month both closed and in the opening figures: the closed one, with a warning.
    let closed = close_in_order(&r, &[("2026-10", 0), ("2026-11", 0)]);
    let e = evaluate(&f, &closed, &r, &p, p.end);
    assert_eq!(num(&e, "quarter_bonus", "uptime_q"), 1.0);
    assert!(
        e.warnings.iter().any(|w| w.contains("2026-10 is closed and also in the rules' opening figures")),
        "{:?}",
        e.warnings
    );
}
