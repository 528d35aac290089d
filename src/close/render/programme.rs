//! The context of `programme-report.md` (template `programme-report.md.j2`),
//! finance's monthly report after the seed's partner report template (seed
//! 000, `templates/partner-report.md`, newer version): executive summary
//! against the programme's targets, node inventory, incident log, MTTR per
//! severity, operators, partner commissions, payouts by category, cost per
//! node and per uptime hour. Every figure comes from the evaluation and the
//! roster; the template's fields that monitoring cannot know (root causes,
//! leads, signatures) are left out or marked as not recorded. Money is
//! `Decimal` throughout; derived ratios are rounded with the programme's
//! rule. No wall-clock time: the report is dated by the evaluation time.

use super::roster::{RosterEntry, roster};
use super::targets::{self, TargetResult};
use crate::evaluation::{Evaluation, LineStatus, NodeResult, Statement};
use crate::money;
use crate::period::Period;
use crate::rules::Rules;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The template's payout rows, by line category, in its order; other
/// categories follow under their own names.
const PAYOUT_ROWS: &[(&str, &str)] = &[
    ("stipend", "Operator stipends"),
    ("uptime_bonus", "Uptime bonuses"),
    ("mentorship_bonus", "Mentorship bonuses"),
    ("performance_bonus", "Performance bonuses"),
    ("commission", "Partner commissions"),
];

/// What the programme report template reads, besides `evaluation` (the
/// whole evaluation) and the [`Common`] fields.
#[derive(Debug, Serialize)]
pub struct ProgrammeContext<'a> {
    #[serde(flatten)]
    pub common: Common<'a>,
    pub evaluation: &'a Evaluation,
    pub targets: Vec<TargetResult>,
    /// Operators on the roster this period.
    pub roster: Vec<RosterEntry>,
    /// Those who left this period.
    pub departed: Vec<RosterEntry>,
    /// Every node with `status` (against the fleet uptime target) and `issues`.
    pub nodes: Vec<NodeRow<'a>>,
    /// Up to three nodes with data and no incident, best uptime first.
    pub top_nodes: Vec<&'a NodeResult>,
    /// Up to five nodes with an incident or at or below the uptime target, worst first.
    pub attention_nodes: Vec<&'a NodeResult>,
    pub partners: Vec<PartnerRow<'a>>,
    pub partner_commission: Decimal,
    pub revenue_share: Decimal,
    pub payouts: Vec<PayoutRow>,
    /// Total payout / nodes, rounded with the programme's rule.
    pub cost_per_node: Option<Decimal>,
    /// Total payout / node-hours up, rounded with the programme's rule.
    pub cost_per_uptime_hour: Option<Decimal>,
    pub up_hours: Decimal,
}

/// What every document's context holds.
#[derive(Debug, Serialize)]
pub struct Common<'a> {
    pub programme: &'a str,
    pub programme_version: Option<&'a str>,
    pub period: &'a str,
    /// `October 2026`.
    pub period_name: String,
    pub currency: &'a str,
    /// The programme's rounding decimals (the `money` filter pads to them).
    pub decimals: u32,
    pub evaluated_at: chrono::DateTime<chrono::Utc>,
    /// The whole period (a close); `false`: month to date.
    pub complete: bool,
    pub rules_sha256: &'a str,
    pub engine_version: &'static str,
}

impl<'a> Common<'a> {
    pub fn new(e: &'a Evaluation, rules: &'a Rules) -> Common<'a> {
        let month = Period::containing(e.period_start, rules.time_zone);
        Common {
            programme: &e.programme,
            programme_version: rules.programme.version.as_deref(),
            period: &e.period,
            period_name: format!("{} {}", MONTHS[(month.month as usize).saturating_sub(1).min(11)], month.year),
            currency: &e.currency,
            decimals: rules.programme.rounding.decimals,
            evaluated_at: e.evaluated_at,
            complete: e.complete,
            rules_sha256: &e.rules_sha256,
            engine_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

#[derive(Debug, Serialize)]
pub struct NodeRow<'a> {
    #[serde(flatten)]
    pub node: &'a NodeResult,
    /// `ok`, `below target`, `no data` (`ok` for any data without an uptime target).
    pub status: &'static str,
    /// `2 incident(s)`, `down 1.50 h`, `no data 3.00 h`; empty: none.
    pub issues: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PartnerRow<'a> {
    pub statement: &'a Statement,
    /// The partner tier by name.
    pub tier_name: String,
    /// Operators it referred who are on the roster this period.
    pub referred_active: usize,
}

#[derive(Debug, Serialize)]
pub struct PayoutRow {
    pub category: String,
    pub label: String,
    pub amount: Decimal,
    /// Paid lines of this category.
    pub lines: usize,
    /// Payees with a paid line of it.
    pub payees: usize,
}

pub fn context<'a>(e: &'a Evaluation, rules: &'a Rules) -> ProgrammeContext<'a> {
    let period = Period::containing(e.period_start, rules.time_zone);
    let round = |d: Decimal| money::round(d, rules.programme.rounding.decimals, rules.programme.rounding.mode);
    let uptime_target = rules.targets.fleet_uptime.as_ref().map(|t| t.above.value.0);
    let below_target = |u: Decimal| uptime_target.is_some_and(|t| u <= t);
    let roster = roster(rules, &period);
    let departed = roster.iter().filter(|r| r.left_this_month).cloned().collect();

    let nodes = e.nodes.iter().map(|n| node_row(n, &below_target)).collect();
    let mut ranked: Vec<&NodeResult> = e.nodes.iter().filter(|n| n.availability.uptime.is_some()).collect();
    ranked.sort_by(|a, b| b.availability.uptime.cmp(&a.availability.uptime).then(a.node.cmp(&b.node)));
    let top_nodes = ranked.iter().filter(|n| n.incidents == 0).take(3).copied().collect();
    let mut worst = ranked.clone();
    worst.sort_by(|a, b| a.availability.uptime.cmp(&b.availability.uptime).then(a.node.cmp(&b.node)));
    let attention_nodes = worst
        .into_iter()
        .filter(|n| n.incidents > 0 || n.availability.uptime.is_some_and(below_target))
        .take(5)
        .collect();

    let partners = e
        .partners
        .iter()
        .map(|p| PartnerRow {
            statement: p,
            tier_name: rules.partner_tier(&p.tier).map_or(p.tier.clone(), |t| t.name.clone()),
            referred_active: roster.iter().filter(|r| r.referred_by.as_deref() == Some(p.id.as_str())).count(),
        })
        .collect();
    let by_category = categories(e);
    let mut payouts: Vec<PayoutRow> = PAYOUT_ROWS
        .iter()
        .map(|(category, label)| {
            let (amount, lines, payees) = by_category.get(*category).copied().unwrap_or((Decimal::ZERO, 0, 0));
            PayoutRow { category: category.to_string(), label: label.to_string(), amount, lines, payees }
        })
        .collect();
    for (category, (amount, lines, payees)) in &by_category {
        if !PAYOUT_ROWS.iter().any(|(c, _)| c == category) {
            let label = category.replace('_', " ");
            payouts.push(PayoutRow {
                category: category.clone(),
                label,
                amount: *amount,
                lines: *lines,
                payees: *payees,
            });
        }
    }
    ProgrammeContext {
        common: Common::new(e, rules),
        evaluation: e,
        targets: targets::evaluate(e, rules, &period),
        roster,
        departed,
        nodes,
        top_nodes,
        attention_nodes,
        partners,
        partner_commission: e.partners.iter().map(|p| p.total).sum(),
        revenue_share: by_category.get("revenue_share").map_or(Decimal::ZERO, |c| c.0),
        payouts,
        cost_per_node: (e.fleet.nodes > 0).then(|| round(e.total / Decimal::from(e.fleet.nodes))),
        cost_per_uptime_hour: (e.fleet.up_seconds > 0)
            .then(|| round(e.total * Decimal::from(3600) / Decimal::from(e.fleet.up_seconds))),
        up_hours: Decimal::from(e.fleet.up_seconds) / Decimal::from(3600),
    }
}

fn node_row<'a>(n: &'a NodeResult, below_target: &dyn Fn(Decimal) -> bool) -> NodeRow<'a> {
    let a = &n.availability;
    let status = match a.uptime {
        None => "no data",
        Some(u) if below_target(u) => "below target",
        Some(_) => "ok",
    };
    let mut issues = vec![];
    if n.incidents > 0 {
        issues.push(format!("{} incident(s)", n.incidents));
    }
    let hours = |s: i64| format!("{} h", super::filters::fixed_text(Decimal::from(s) / Decimal::from(3600), 2));
    if a.down_seconds > 0 {
        issues.push(format!("down {}", hours(a.down_seconds)));
    }
    if a.unknown_seconds > 0 {
        issues.push(format!("no data {}", hours(a.unknown_seconds)));
    }
    NodeRow { node: n, status, issues }
}

/// Per line category: amount paid, paid lines, payees with a paid line.
fn categories(e: &Evaluation) -> BTreeMap<String, (Decimal, usize, usize)> {
    let mut out: BTreeMap<String, (Decimal, usize, usize)> = BTreeMap::new();
    for s in e.operators.iter().chain(&e.partners) {
        let mut seen = BTreeSet::new();
        for l in s.lines.iter().filter(|l| l.status == LineStatus::Paid) {
            let c = out.entry(l.category.clone()).or_insert((Decimal::ZERO, 0, 0));
            c.0 += l.amount;
            c.1 += 1;
            if seen.insert(l.category.clone()) {
                c.2 += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::close::render::{PROGRAMME_REPORT_MD, Templates};
    use crate::engine::evaluate;
    use crate::engine::testutil::{facts, period, rules};

    #[test]
    fn the_roster_shows_the_tier_governing_the_month() {
        let r = rules(
            "version: 1\noperators:\n  - {id: alice, name: Alice, start: 2026-01-15, tiers: [{tier: t1, since: 2026-01-15}, {tier: t2, since: 2026-09-15}]}\ntiers:\n  - {id: t1, name: Certified, lines: [{id: b, name: B, kind: fixed, amount: 1}]}\n  - {id: t2, name: Senior, lines: [{id: b, name: B, kind: fixed, amount: 2}]}\n",
        );
        for (label, tier) in [("2026-09", "Certified"), ("2026-10", "Senior")] {
            let p = period(label);
            let e = evaluate(&facts(&p), &Default::default(), &r, &p, p.end);
            let report = Templates::builtin().render(PROGRAMME_REPORT_MD, super::context(&e, &r)).unwrap();
            assert!(report.contains(&format!("| Alice (alice) | {tier} |")), "{label}:\n{report}");
        }
    }
}
