//! Unit tests of the pure engine, one file a concept. Expected values are
//! computed here from the inputs each test builds, never copied from the
//! engine's output. Shared here: the rule sets the tests evaluate, October
//! 2026's facts, and lookups in an evaluation.

mod availability;
mod classes;
mod escalation;
mod holds;
mod incidents;
mod leakage;
mod ledger;
mod months;
mod pay;
mod payees;
mod promotion;
mod referrals;
mod schedule;
mod scores;
mod tiers;

use super::evaluate;
use super::testutil::*;
use crate::evaluation::{Evaluation, PayLine, Statement};
use crate::facts::Facts;
use crate::history::History;
use crate::period::Period;
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn run(rules: &Rules, facts: &Facts, p: &Period) -> Evaluation {
    evaluate(facts, &History::default(), rules, p, p.end)
}

fn statement<'a>(e: &'a Evaluation, id: &str) -> &'a Statement {
    e.operators.iter().chain(&e.partners).find(|s| s.id == id).unwrap_or_else(|| panic!("no statement {id}"))
}

fn line<'a>(e: &'a Evaluation, payee: &str, id: &str) -> &'a PayLine {
    statement(e, payee).lines.iter().find(|l| l.id == id).unwrap_or_else(|| panic!("no line {id}"))
}

/// A programme with one tier-1 operator `alice` on nodes n1..n3 (region eu).
fn programme(extra_lines: &str, operator_extra: &str) -> Rules {
    let yaml = format!(
        r#"
version: 1
programme:
  name: Fleet programme
{SEVERITIES}
inputs:
  - name: revenue
    query: sum by (region) (revenue)
    by: region
    unit: money
  - name: rating
    query: avg by (operator) (rating)
operators:
  - id: alice
    name: Alice
    tier: t1
    start: 2026-01-15
    nodes: [n1, n2, n3]
{operator_extra}
tiers:
  - id: t1
    name: Tier 1 Certified
    lines:
      - id: stipend
        name: Base stipend
        kind: per_node
        category: stipend
        amount: 500
        prorate: true
      - id: uptime_bonus
        name: Uptime bonus
        kind: fixed
        category: uptime_bonus
        amount: 200
        when: "uptime > 0.995"
{extra_lines}
"#
    );
    rules(&yaml)
}

/// The runbook's severities and a maintenance window on Sundays 02:00–04:00.
fn fleet_rules() -> Rules {
    rules(&format!(
        "version: 1\nprogramme:\n  name: Fleet\n{SEVERITIES}\nmaintenance:\n  - name: sunday\n    weekday: sunday\n    at: \"02:00\"\n    duration: 2h\n"
    ))
}

/// When an outage starting at `start` pages: after the default
/// `source.failure_after` (5 minutes), no maintenance in between.
fn paged(start: DateTime<Utc>) -> DateTime<Utc> {
    start + chrono::Duration::minutes(5)
}

/// October 2026: its period and its facts, without nodes yet.
fn october() -> (Period, Facts) {
    let p = period("2026-10");
    let f = facts(&p);
    (p, f)
}

/// A node: id, region and outages as (start, minutes).
type NodeSpec<'a> = (&'a str, &'a str, &'a [(DateTime<Utc>, i64)]);

/// October 2026 with `nodes`, each fully covered (see [`node`]).
fn october_with(nodes: &[NodeSpec]) -> (Period, Facts) {
    let (p, mut f) = october();
    f.nodes = nodes.iter().map(|(id, region, outages)| node(&f, id, region, outages)).collect();
    (p, f)
}

/// October 2026 with `alice`'s three nodes of [`programme`], up all month.
fn october_three_nodes() -> (Period, Facts) {
    october_with(&[("n1", "eu", &[]), ("n2", "eu", &[]), ("n3", "eu", &[])])
}

/// October 2026 with [`programme`]'s three nodes, each with `up` and `down`
/// samples and no unknown time.
fn october_with_samples(up: u64, down: u64) -> (Period, Facts) {
    let (p, mut f) = october_three_nodes();
    for n in &mut f.nodes {
        n.up_samples = up;
        n.down_samples = down;
        n.expected_samples = up + down;
    }
    (p, f)
}
