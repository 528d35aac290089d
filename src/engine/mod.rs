//! The engine: a pure function of (facts, history, rules, period, evaluation time).
//!
//! - [`availability`]: roster → node/operator/region, availability sums.
//! - [`incidents`]: failures → incidents, severities, SLA verdicts, summaries.
//! - [`classes`]: incidents of the incident classes (tickets, service
//!   outages, alerts): class, payee, verdicts, summaries, per-class variables.
//! - [`payees`]: operator and partner variables and statements.
//! - [`pay`]: one pay line (condition, missing-data policy, formula, rounding).
//! - [`promotion`]: promotion checks.
//! - [`scores`]: scores and flags per payee (not money), and the aggregates
//!   of them, each a variable for what comes after it.
//! - [`months`]: figures over several months from the history of closed
//!   months: aggregates, year to date, eligible since.
//! - [`leakage`]: roster nodes without data, nodes on no roster, payees paid
//!   with no active node (seed 003).
//! - [`ledger`]: adjustments kept in git as statement lines of their own;
//!   what is payable and the negative balance carried or written off; open
//!   disputes.
//! - [`holds`]: enforcement: the payee's states governing the period, the
//!   lines a throttle stops, payouts held (a suspension, the kill switch).
//!
//! No I/O, no clock; every collection is sorted so that the same input gives
//! the same bytes. Money is `Decimal`; expressions see `f64` (through
//! [`crate::money::to_f64`] and [`crate::money::from_f64`]).

mod availability;
mod classes;
mod holds;
mod incidents;
mod leakage;
mod ledger;
mod months;
mod pay;
mod payees;
mod promotion;
mod scores;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

use crate::evaluation::{Evaluation, NodeResult, RegionResult};
use crate::facts::{Facts, InputFacts};
use crate::history::History;
use crate::money::from_f64;
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::expr::Var;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Why a variable has no value this period, by variable name.
pub(crate) type Notes = BTreeMap<String, String>;

/// `no value for a (why), b` for the variables an expression could not read.
pub(crate) fn no_value(vars: &[String], notes: &Notes) -> String {
    let parts: Vec<String> = vars
        .iter()
        .map(|v| match notes.get(v) {
            Some(why) => format!("{v} ({why})"),
            None => v.clone(),
        })
        .collect();
    format!("no value for {}", parts.join(", "))
}

/// Maintenance intervals of the window: sorted, merged, clipped.
pub(crate) type Maint = [(DateTime<Utc>, DateTime<Utc>)];

/// An f64 as its shortest decimal text.
pub(crate) fn fmt_f64(n: f64) -> String {
    from_f64(n).map(|d| d.to_string()).unwrap_or_else(|| n.to_string())
}

/// A variable's value as text (`unknown` without one).
pub(crate) fn fmt_var(v: Option<&Var>) -> String {
    match v {
        Some(Var::Num(n)) => fmt_f64(*n),
        Some(Var::Bool(b)) => b.to_string(),
        Some(Var::Unknown) | None => "unknown".into(),
    }
}

/// Evaluate one period, with the history of the closed months before it.
/// No I/O, no clock.
pub fn evaluate(facts: &Facts, history: &History, rules: &Rules, period: &Period, now: DateTime<Utc>) -> Evaluation {
    let mut warnings = vec![];
    let opened;
    let history = if rules.opening.months.is_empty() {
        history
    } else {
        let both;
        (opened, both) = history.with_opening(&rules.opening);
        for m in both {
            warnings.push(format!("{m} is closed and also in the rules' opening figures: the closed month is used"));
        }
        &opened
    };
    let step = facts.step_seconds;
    let maint = rules.maintenance_intervals(facts.start, facts.end);

    for (name, input) in &facts.inputs {
        if let InputFacts::Failed(msg) = input {
            warnings.push(format!("input {name} failed: {msg}; lines that read it are withheld"));
        }
    }
    for input in &rules.inputs {
        if !facts.inputs.contains_key(&input.name.value) {
            warnings.push(format!("input {} has no data; lines that read it are withheld", input.name.value));
        }
    }

    let nodes = availability::resolve_nodes(facts, rules, &maint, &mut warnings);
    let incidents = incidents::build(facts, rules, &nodes, &maint, &mut warnings);
    let class_incidents = classes::build(facts, rules, &mut warnings);

    let fleet = availability::availability(nodes.values(), step);
    let mut by_region: BTreeMap<String, Vec<&availability::NodeInfo>> = BTreeMap::new();
    for n in nodes.values() {
        if let Some(r) = &n.region {
            by_region.entry(r.clone()).or_default().push(n);
        }
    }
    let region_avail: BTreeMap<String, crate::evaluation::Availability> =
        by_region.into_iter().map(|(r, ns)| (r, availability::availability(ns, step))).collect();

    let mut per_node: BTreeMap<&str, u64> = BTreeMap::new();
    for i in &incidents {
        for n in &i.nodes {
            *per_node.entry(n.as_str()).or_default() += 1;
        }
    }
    let offline_since = availability::offline_since(facts);
    let node_results: Vec<NodeResult> = nodes
        .values()
        .map(|n| NodeResult {
            node: n.node.clone(),
            operator: n.operator.clone(),
            region: n.region.clone(),
            availability: availability::availability([n], step),
            incidents: per_node.get(n.node.as_str()).copied().unwrap_or(0),
            offline_since: offline_since.get(n.node.as_str()).copied(),
        })
        .collect();

    let mut ops = payees::operators(rules, facts, history, period, &nodes, &incidents, &fleet, &region_avail);
    classes::add_operator_vars((rules, history, period), facts, &class_incidents, &mut ops);
    let mut operators: Vec<_> = ops
        .iter()
        .filter(|o| o.active)
        .map(|o| payees::operator_statement(rules, facts, history, period, o, &mut warnings))
        .collect();
    let mut partners: Vec<_> = rules
        .partners
        .iter()
        .filter(|p| p.in_programme(period.first_day(), period.last_day()))
        .map(|p| payees::partner_statement(rules, facts, history, period, p, &ops, &nodes, &mut warnings))
        .collect();

    ledger::adjust(rules, history, period, &mut operators, &mut partners, &mut warnings);
    let hold_all = holds::hold(rules, period, &mut operators, &mut partners);
    let payable = ledger::settle_all(rules, history, period, &mut operators, &mut partners);
    ledger::disputes(rules, now, &mut operators, &mut partners);
    let leakage = leakage::find(facts, rules, &nodes, &operators, &partners);
    let total = operators.iter().chain(&partners).map(|s| s.total).fold(pay::zero(rules), |a, b| a + b);
    warnings.sort();
    warnings.dedup();

    Evaluation {
        period: period.label.clone(),
        time_zone: period.time_zone.name().to_string(),
        period_start: period.start,
        period_end: period.end,
        window_end: facts.end,
        evaluated_at: now,
        complete: facts.end >= period.end,
        programme: rules.programme.name.clone(),
        currency: rules.programme.currency.clone(),
        rules_sha256: rules.sha256.clone(),
        fleet,
        regions: region_avail.into_iter().map(|(region, availability)| RegionResult { region, availability }).collect(),
        nodes: node_results,
        severities: incidents::summaries(rules, &incidents),
        incidents,
        classes: classes::summaries(rules, &class_incidents),
        class_incidents,
        operators,
        partners,
        total,
        payable,
        warnings,
        leakage,
        hold_all,
    }
}
