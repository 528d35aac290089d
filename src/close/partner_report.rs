//! `partner-report.md`: the monthly partner report, following the seed's
//! template (seed 000, `templates/partner-report.md`, newer version):
//! executive summary, node inventory, incident log, MTTR per severity,
//! operators, partner commissions, payouts by kind, cost per node and per
//! uptime hour. Every figure comes from the evaluation and the roster; the
//! template's fields that monitoring cannot know (root causes, leads,
//! signatures) are left out or marked as not recorded. Money is `Decimal`
//! throughout; derived ratios are rounded for display only, with the
//! programme's rounding rule. No wall-clock time: the report is dated by
//! the evaluation time (the period end).

use crate::evaluation::{Evaluation, LineStatus, Statement};
use crate::money;
use crate::period::Period;
use crate::report::percent;
use crate::rules::Rules;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Programme uptime target (programme §4: fleet uptime > 99.5 %).
const UPTIME_TARGET: Decimal = Decimal::from_parts(995, 0, 0, false, 3);

/// The template's payout rows, by line category, in its order; other
/// categories follow under their own names.
const PAYOUT_ROWS: &[(&str, &str)] = &[
    ("stipend", "Operator stipends"),
    ("uptime_bonus", "Uptime bonuses"),
    ("mentorship_bonus", "Mentorship bonuses"),
    ("performance_bonus", "Performance bonuses"),
    ("commission", "Partner commissions"),
];

pub fn render(e: &Evaluation, rules: &Rules) -> String {
    let mut o = String::new();
    let decimals = rules.programme.rounding.decimals;
    let money = |d: Decimal| money_text(d, &e.currency, decimals);
    let round = |d: Decimal| money::round(d, rules.programme.rounding.decimals, rules.programme.rounding.mode);
    let month = e.period_start.with_timezone(&rules.time_zone);
    let _ = writeln!(o, "# Fleet Partner Monthly Report\n");
    let _ = writeln!(o, "> {} {}", month_name(month.month()), month.year());
    let _ = writeln!(o, "> Programme: {} (rules sha256 `{}`)", e.programme, short(&e.rules_sha256));
    let _ = writeln!(
        o,
        "> Evaluated at: {} (the period end{})\n",
        e.evaluated_at.to_rfc3339(),
        if e.complete { "; final" } else { "; month to date" }
    );

    // ---------------------------------------------------------------- summary
    let roster = roster(rules, &Period::containing(e.period_start, rules.time_zone));
    let departed: Vec<&RosterEntry> = roster.iter().filter(|r| r.left_this_month).collect();
    let referred = roster.iter().filter(|r| r.referred).count();
    let revenue_share = category_total(e, "revenue_share");
    let _ = writeln!(o, "## Executive Summary\n");
    let _ = writeln!(o, "| Metric | Current Month | Target | Variance |");
    let _ = writeln!(o, "|--------|---------------|--------|----------|");
    let _ = writeln!(o, "| Active nodes managed | {} | — | — |", e.fleet.nodes);
    let _ = writeln!(o, "| Active operators | {} | 3–5 by month 6 | — |", e.operators.len());
    let _ = writeln!(
        o,
        "| Fleet uptime | {} | 99.500 % | {} |",
        percent(e.fleet.uptime),
        e.fleet.uptime.map_or("n/a".into(), |u| points((u - UPTIME_TARGET) * Decimal::ONE_HUNDRED))
    );
    let _ = writeln!(
        o,
        "| Operator churn rate | {} ({} of {} left this month) | < 10 % a year | — |",
        ratio_percent(departed.len(), roster.len()),
        departed.len(),
        roster.len()
    );
    let _ = writeln!(
        o,
        "| Partner-sourced operators | {} ({} of {}) | > 30 % | — |",
        ratio_percent(referred, roster.len()),
        referred,
        roster.len()
    );
    let _ = writeln!(o, "| Revenue share earned | {} | — | — |\n", money(revenue_share));
    let _ = writeln!(
        o,
        "Coverage of the month's monitoring data: {}; time without samples is unknown, never up or down.\n",
        percent(Some(e.fleet.coverage))
    );
    if !e.warnings.is_empty() {
        let _ = writeln!(o, "**Top concerns**:\n");
        for w in &e.warnings {
            let _ = writeln!(o, "- {w}");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "---\n");

    // ------------------------------------------------------------------ nodes
    let _ = writeln!(o, "## Node Performance\n");
    let _ = writeln!(o, "### Node Inventory\n");
    let _ =
        writeln!(o, "| Node ID | Location | Operator | Status | Uptime (month) | Coverage | Revenue Share | Issues |");
    let _ =
        writeln!(o, "|---------|----------|----------|--------|----------------|----------|---------------|--------|");
    for n in &e.nodes {
        let a = &n.availability;
        let status = match a.uptime {
            None => "no data",
            Some(u) if u > UPTIME_TARGET => "ok",
            Some(_) => "below target",
        };
        let mut issues = vec![];
        if n.incidents > 0 {
            issues.push(format!("{} incident(s)", n.incidents));
        }
        if a.down_seconds > 0 {
            issues.push(format!("down {}", hours(a.down_seconds)));
        }
        if a.unknown_seconds > 0 {
            issues.push(format!("no data {}", hours(a.unknown_seconds)));
        }
        let _ = writeln!(
            o,
            "| {} | {} | {} | {status} | {} | {} | — | {} |",
            cell(&n.node),
            cell(n.region.as_deref().unwrap_or("—")),
            cell(n.operator.as_deref().unwrap_or("—")),
            percent(a.uptime),
            percent(Some(a.coverage)),
            if issues.is_empty() { "none".to_string() } else { issues.join("; ") }
        );
    }
    let _ = writeln!(o, "\nRevenue share is paid per operator (see the payouts), not per node.\n");
    let mut ranked: Vec<_> = e.nodes.iter().filter(|n| n.availability.uptime.is_some()).collect();
    ranked.sort_by(|a, b| b.availability.uptime.cmp(&a.availability.uptime).then(a.node.cmp(&b.node)));
    let _ = writeln!(o, "### Top Node Performers\n");
    let top: Vec<_> = ranked.iter().filter(|n| n.incidents == 0).take(3).collect();
    if top.is_empty() {
        let _ = writeln!(o, "None without incidents.");
    }
    for (i, n) in top.iter().enumerate() {
        let _ = writeln!(o, "{}. **{}**: {} uptime, zero incidents", i + 1, n.node, percent(n.availability.uptime));
    }
    let _ = writeln!(o, "\n### Nodes Requiring Attention\n");
    let mut worst = ranked.clone();
    worst.sort_by(|a, b| a.availability.uptime.cmp(&b.availability.uptime).then(a.node.cmp(&b.node)));
    let attention: Vec<_> = worst
        .iter()
        .filter(|n| n.incidents > 0 || n.availability.uptime.is_some_and(|u| u <= UPTIME_TARGET))
        .take(5)
        .collect();
    if attention.is_empty() {
        let _ = writeln!(o, "None.");
    }
    for (i, n) in attention.iter().enumerate() {
        let _ = writeln!(
            o,
            "{}. **{}**: {} uptime, {} incident(s), down {}",
            i + 1,
            n.node,
            percent(n.availability.uptime),
            n.incidents,
            hours(n.availability.down_seconds)
        );
    }
    let _ = writeln!(o, "\n---\n");

    // -------------------------------------------------------------- incidents
    let _ = writeln!(o, "## Incidents & Resolutions\n");
    let _ = writeln!(o, "### Incident Log\n");
    if e.incidents.is_empty() {
        let _ = writeln!(o, "No incidents this month.\n");
    } else {
        let _ = writeln!(o, "| Date | Severity | Node(s) | Duration | Root Cause | Resolution |");
        let _ = writeln!(o, "|------|----------|---------|----------|------------|------------|");
        for i in &e.incidents {
            let resolution = match i.end {
                Some(end) => format!(
                    "recovered {} (resolve target {}: {})",
                    end.format("%Y-%m-%d %H:%M UTC"),
                    hours(i.resolve_target_seconds),
                    verdict(i.resolve_verdict)
                ),
                None => format!("open at the period end (resolve target {})", hours(i.resolve_target_seconds)),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | not recorded | {} |",
                i.start.format("%Y-%m-%d %H:%M UTC"),
                i.severity,
                cell(&i.nodes.join(", ")),
                hours(i.duration_seconds),
                resolution
            );
        }
        let _ = writeln!(o, "\nRoot causes are not in the monitoring data; add them from the post-mortems.\n");
    }
    let _ = writeln!(o, "### Mean Time to Recovery (MTTR)\n");
    for s in &e.severities {
        let mttr = match s.mttr_seconds {
            Some(m) => format!("{} hours", fixed(m / Decimal::from(3600), 2)),
            None => "n/a (none resolved)".into(),
        };
        let _ = writeln!(
            o,
            "- **{} incidents** ({}): {mttr}; {} incident(s), {} open, {} over the resolve target",
            s.severity, s.name, s.incidents, s.open, s.resolve_breaches
        );
    }
    let _ = writeln!(o, "\n---\n");

    // -------------------------------------------------------------- operators
    let _ = writeln!(o, "## Operator Management\n");
    let _ = writeln!(o, "### Active Operators\n");
    let _ = writeln!(o, "| Operator | Tier | Nodes Managed | Status | Cert Date |");
    let _ = writeln!(o, "|----------|------|---------------|--------|-----------|");
    for r in &roster {
        let _ = writeln!(
            o,
            "| {} ({}) | {} | {} | {} | {} |",
            cell(&r.name),
            r.id,
            cell(&r.tier),
            r.nodes,
            r.status,
            r.certified.map_or("—".into(), |d| d.to_string())
        );
    }
    let _ = writeln!(o, "\n### Churn / Attrition\n");
    let names: Vec<String> = departed.iter().map(|r| format!("{} (left {})", r.name, r.status_date)).collect();
    let _ = writeln!(
        o,
        "- **Departed operators**: {}{}",
        departed.len(),
        if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) }
    );
    let _ = writeln!(o, "\n---\n");

    // --------------------------------------------------------------- partners
    let _ = writeln!(o, "## Partner Program Metrics\n");
    if e.partners.is_empty() {
        let _ = writeln!(o, "No partners on the roster this month.\n");
    } else {
        let _ = writeln!(o, "| Partner | Tier | Referred operators active | Commission |");
        let _ = writeln!(o, "|---------|------|---------------------------|------------|");
        for p in &e.partners {
            let referred = rules
                .operators
                .iter()
                .filter(|op| op.referred_by.as_ref().is_some_and(|r| r.value == p.id))
                .filter(|op| roster.iter().any(|r| r.id == op.id.value))
                .count();
            let tier = rules.partner_tier(&p.tier).map_or(p.tier.as_str(), |t| t.name.as_str());
            let _ = writeln!(o, "| {} ({}) | {} | {referred} | {} |", cell(&p.name), p.id, cell(tier), money(p.total));
        }
        let total: Decimal = e.partners.iter().map(|p| p.total).sum();
        let _ = writeln!(o, "\n- **Referral commission earned (all partners)**: {}\n", money(total));
    }
    let _ = writeln!(o, "---\n");

    // -------------------------------------------------------------- financial
    let _ = writeln!(o, "## Financial Summary\n");
    let _ = writeln!(o, "### Incentive Payouts\n");
    let _ = writeln!(o, "| Category | Amount | Notes |");
    let _ = writeln!(o, "|----------|--------|-------|");
    let by_category = categories(e);
    for (category, label) in PAYOUT_ROWS {
        let (amount, lines, payees) = by_category.get(*category).copied().unwrap_or((Decimal::ZERO, 0, 0));
        let _ = writeln!(o, "| {label} | {} | {lines} paid line(s), {payees} payee(s) |", money(amount));
    }
    for (category, (amount, lines, payees)) in &by_category {
        if PAYOUT_ROWS.iter().any(|(c, _)| c == category) {
            continue;
        }
        let _ = writeln!(
            o,
            "| {} | {} | {lines} paid line(s), {payees} payee(s) |",
            cell(&category.replace('_', " ")),
            money(*amount)
        );
    }
    let _ = writeln!(o, "\n**Total payout this month**: {}\n", money(e.total));
    let _ = writeln!(o, "### Cost Efficiency\n");
    let per_node = if e.fleet.nodes > 0 { Some(round(e.total / Decimal::from(e.fleet.nodes))) } else { None };
    let per_hour = if e.fleet.up_seconds > 0 {
        Some(round(e.total * Decimal::from(3600) / Decimal::from(e.fleet.up_seconds)))
    } else {
        None
    };
    let _ = writeln!(
        o,
        "- **Cost per node**: {} (total payout / {} nodes)",
        per_node.map_or("n/a".into(), money),
        e.fleet.nodes
    );
    let _ = writeln!(
        o,
        "- **Cost per uptime hour**: {} (total payout / {} node-hours up, maintenance excluded)",
        per_hour.map_or("n/a".into(), money),
        fixed(Decimal::from(e.fleet.up_seconds) / Decimal::from(3600), 2)
    );
    let _ = writeln!(o, "\nBoth are rounded for display with the programme's rounding rule; totals are exact.\n");
    let _ = writeln!(o, "---\n");

    // --------------------------------------------------------------- appendix
    let _ = writeln!(o, "## Appendix\n");
    let _ = writeln!(o, "- Statement: `statement.csv`, `statement.json` (every pay line with its formula and reason)");
    let _ =
        writeln!(o, "- Evidence: `evidence.json` (every Prometheus query and its answer; `fleet-incentives replay`)");
    let _ = writeln!(o, "- Rules SHA-256: `{}`", e.rules_sha256);
    let _ = writeln!(o, "- Engine: fleet-incentives {}", env!("CARGO_PKG_VERSION"));
    o
}

/// An amount with at least the programme's decimals (`$0.00`, not `$0`).
fn money_text(d: Decimal, currency: &str, decimals: u32) -> String {
    let mut d = d;
    if d.scale() < decimals {
        d.rescale(decimals);
    }
    if currency == "USD" {
        if d.is_sign_negative() && !d.is_zero() { format!("-${}", d.abs()) } else { format!("${d}") }
    } else {
        format!("{d} {currency}")
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

fn month_name(m: u32) -> &'static str {
    [
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
    ][(m as usize).saturating_sub(1).min(11)]
}

/// Percentage points with a sign, 3 decimals.
fn points(d: Decimal) -> String {
    let d = d.round_dp(3);
    if d.is_sign_negative() && !d.is_zero() { format!("{d:.3} pp") } else { format!("+{:.3} pp", d.abs()) }
}

fn ratio_percent(n: usize, of: usize) -> String {
    if of == 0 {
        return "n/a".into();
    }
    percent(Some(Decimal::from(n as u64) / Decimal::from(of as u64)))
}

fn hours(seconds: i64) -> String {
    format!("{} h", fixed(Decimal::from(seconds) / Decimal::from(3600), 2))
}

/// `d` rounded (half even) and shown with exactly `dp` decimals.
fn fixed(d: Decimal, dp: u32) -> String {
    let mut d = d.round_dp(dp);
    d.rescale(dp);
    d.to_string()
}

fn verdict(v: crate::evaluation::Verdict) -> &'static str {
    use crate::evaluation::Verdict::*;
    match v {
        Met => "met",
        Breached => "breached",
        Open => "open",
        Unknown => "unknown",
    }
}

/// A Markdown table cell: pipes escaped, no line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn category_total(e: &Evaluation, category: &str) -> Decimal {
    categories(e).get(category).map_or(Decimal::ZERO, |c| c.0)
}

/// Per line category: amount paid, paid lines, payees with a paid line.
fn categories(e: &Evaluation) -> BTreeMap<String, (Decimal, usize, usize)> {
    let mut out: BTreeMap<String, (Decimal, usize, usize)> = BTreeMap::new();
    let payees: Vec<&Statement> = e.operators.iter().chain(&e.partners).collect();
    for s in payees {
        let mut seen = std::collections::BTreeSet::new();
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

/// An operator on the roster during the period.
struct RosterEntry {
    id: String,
    name: String,
    tier: String,
    nodes: String,
    status: String,
    status_date: String,
    certified: Option<NaiveDate>,
    left_this_month: bool,
    referred: bool,
}

/// Operators in the programme at some day of `period`, with the tier governing it.
fn roster(rules: &Rules, period: &Period) -> Vec<RosterEntry> {
    let (first, last) = (period.first_day(), period.last_day());
    rules
        .operators
        .iter()
        .filter(|op| op.start <= last && op.end.is_none_or(|e| e >= first))
        .map(|op| {
            let left = op.end.is_some_and(|e| e <= last);
            let (status, date) = if left {
                let d = op.end.expect("left").to_string();
                (format!("left {d}"), d)
            } else if op.start >= first {
                (format!("joined {}", op.start), op.start.to_string())
            } else {
                ("active".into(), String::new())
            };
            let nodes = if let Some(region) = &op.region {
                format!("region {}", region.value)
            } else {
                op.nodes.len().to_string()
            };
            RosterEntry {
                id: op.id.value.clone(),
                name: op.name.clone(),
                tier: op.tier_in(period).map_or(String::new(), |t| {
                    rules.tier(&t.tier.value).map_or(t.tier.value.clone(), |x| x.name.clone())
                }),
                nodes,
                status,
                status_date: date,
                certified: op.certified,
                left_this_month: left,
                referred: op.referred_by.is_some(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::engine::evaluate;
    use crate::engine::testutil::{facts, period, rules};

    #[test]
    fn the_roster_shows_the_tier_governing_the_month() {
        let r = rules(
            "version: 1\noperators:\n  - {id: alice, name: Alice, start: 2026-01-15, tiers: [{tier: t1, since: 2026-01-15}, {tier: t2, since: 2026-09-15}]}\ntiers:\n  - {id: t1, name: Certified, lines: [{id: b, name: B, kind: fixed, amount: 1}]}\n  - {id: t2, name: Senior, lines: [{id: b, name: B, kind: fixed, amount: 2}]}\n",
        );
        for (label, tier) in [("2026-09", "Certified"), ("2026-10", "Senior")] {
            let p = period(label);
            let report = super::render(&evaluate(&facts(&p), &Default::default(), &r, &p, p.end), &r);
            assert!(report.contains(&format!("| Alice (alice) | {tier} |")), "{label}:\n{report}");
        }
    }
}
