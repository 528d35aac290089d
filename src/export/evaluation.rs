//! The evaluation's metric families, built afresh for each evaluation and
//! encoded one family at a time, their samples in the evaluation's sorted
//! order.

mod builder;
mod classes;
mod nodes;

use super::{Families, holds, leakage, scores, unix};
use crate::evaluation::{ADJUSTMENT, Evaluation, LineStatus, Statement};
use crate::money::to_f64;
use builder::{Builder, coverage, uptime};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Unit;
use std::fmt::Debug;

// Label sets: the fields are the contract's label names, encoded in field order.

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeriodLabels {
    period: String,
    time_zone: String,
    programme: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RulesLabels {
    sha256: String,
    programme: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegionLabels {
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperatorLabels {
    operator: String,
    tier: String,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreachLabels {
    severity: String,
    /// `respond` or `resolve`.
    target: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IncidentLabels {
    incident: String,
    severity: String,
    /// First of the incident's regions (sorted), `""` without any.
    region: String,
    /// First of the incident's operators (sorted), `""` without any.
    operator: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LineLabels {
    /// `operator` or `partner`.
    payee_kind: &'static str,
    payee: String,
    line: String,
    kind: String,
    category: String,
    currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LineStatusLabels {
    payee_kind: &'static str,
    payee: String,
    line: String,
    /// `paid`, `not_met`, `withheld` or `error`.
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PayeeLabels {
    payee_kind: &'static str,
    payee: String,
    tier: String,
    currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DisputeLabels {
    payee_kind: &'static str,
    payee: String,
    dispute: String,
    period: String,
    line: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CurrencyLabels {
    currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PromotionLabels {
    operator: String,
    to: String,
}

/// A line status as the `status` label value.
pub(super) fn status_name(s: LineStatus) -> &'static str {
    match s {
        LineStatus::Paid => "paid",
        LineStatus::NotMet => "not_met",
        LineStatus::Withheld => "withheld",
        LineStatus::Error => "error",
    }
}

const STATUSES: [LineStatus; 4] = [LineStatus::Paid, LineStatus::NotMet, LineStatus::Withheld, LineStatus::Error];

/// Every evaluation metric of the contract (those `families` asks for),
/// from one evaluation, written to `out` (prefix [`PREFIX`](super::PREFIX),
/// without `# EOF`): fresh each time, so payees and nodes that left the
/// evaluation leave the text too. Each family is written as soon as it is
/// built, so only one family's label sets are held at once; `serve` writes
/// into a compressing writer, so the whole text is never held either.
pub fn encode_evaluation_to(eval: &Evaluation, families: Families, out: &mut dyn std::fmt::Write) {
    let mut b = Builder::new(out);
    let seconds = || Some(Unit::Seconds);
    let ratio = || Some(Unit::Other("ratio".into()));
    let currency = &eval.currency;

    b.registry().register(
        "period",
        "The pay period being evaluated",
        Info::new(PeriodLabels {
            period: eval.period.clone(),
            time_zone: eval.time_zone.clone(),
            programme: eval.programme.clone(),
        }),
    );
    b.registry().register(
        "rules",
        "The rules in force: SHA-256 of the rule files",
        Info::new(RulesLabels { sha256: eval.rules_sha256.clone(), programme: eval.programme.clone() }),
    );
    b.scalar("period_start_timestamp", "Start of the pay period", seconds(), Some(unix(eval.period_start)));
    b.scalar("period_end_timestamp", "End of the pay period", seconds(), Some(unix(eval.period_end)));
    b.scalar(
        "data_window_end_timestamp",
        "End of the data window evaluated (now minus the evaluation delay, at most the period end)",
        seconds(),
        Some(unix(eval.window_end)),
    );

    // Availability: fleet, regions, nodes, operators.
    b.scalar("fleet_nodes", "Nodes seen this period", None, Some(eval.fleet.nodes as f64));
    b.scalar(
        "fleet_uptime",
        "Fleet uptime this period: up / (up + down), maintenance excluded; absent without data",
        ratio(),
        uptime(&eval.fleet),
    );
    b.scalar("fleet_coverage", "Fleet coverage this period: (up + down) / expected", ratio(), coverage(&eval.fleet));
    let regions: Vec<_> =
        eval.regions.iter().map(|r| (RegionLabels { region: r.region.clone() }, &r.availability)).collect();
    b.per(
        "region_uptime",
        "Region uptime this period: up / (up + down), maintenance excluded; absent without data",
        ratio(),
        &regions,
        uptime,
    );
    b.per("region_coverage", "Region coverage this period: (up + down) / expected", ratio(), &regions, coverage);

    if families.per_node {
        nodes::families(&mut b, eval);
    }

    let operators: Vec<_> = eval
        .operators
        .iter()
        .map(|s| {
            let labels = OperatorLabels {
                operator: s.id.clone(),
                tier: s.tier.clone(),
                region: s.region.clone().unwrap_or_default(),
            };
            (labels, s)
        })
        .collect();
    b.per(
        "operator_uptime",
        "Uptime of the operator's nodes this period, maintenance excluded; absent without data",
        ratio(),
        &operators,
        |s| uptime(&s.availability),
    );
    b.per(
        "operator_coverage",
        "Coverage of the operator's nodes this period: (up + down) / expected",
        ratio(),
        &operators,
        |s| coverage(&s.availability),
    );
    b.per("operator_nodes", "Nodes the operator runs", None, &operators, |s| Some(s.availability.nodes as f64));

    // Incidents per severity.
    let severities: Vec<_> =
        eval.severities.iter().map(|s| (SeverityLabels { severity: s.severity.clone() }, s)).collect();
    b.per("incidents", "Incidents this period, open or resolved", None, &severities, |s| Some(s.incidents as f64));
    b.per("incidents_open", "Incidents open at the window end", None, &severities, |s| Some(s.open as f64));
    b.per(
        "incident_mttr",
        "Mean time to resolve this period; absent without a resolved incident",
        seconds(),
        &severities,
        |s| s.mttr_seconds.map(to_f64),
    );
    b.per(
        "incident_mean_response",
        "Mean acknowledgement delay of this period's acknowledged incidents; absent without one",
        seconds(),
        &severities,
        |s| s.mean_response_seconds.map(to_f64),
    );
    b.gauge(
        "sla_breaches",
        "Incidents over their respond or resolve target this period",
        None,
        eval.severities
            .iter()
            .flat_map(|s| {
                [
                    (BreachLabels { severity: s.severity.clone(), target: "respond" }, s.respond_breaches as f64),
                    (BreachLabels { severity: s.severity.clone(), target: "resolve" }, s.resolve_breaches as f64),
                ]
            })
            .collect(),
    );

    // Open incidents, one series each.
    let open: Vec<_> = eval
        .incidents
        .iter()
        .filter(|i| i.end.is_none())
        .map(|i| {
            let first = |v: &[String]| v.iter().min().cloned().unwrap_or_default();
            let labels = IncidentLabels {
                incident: i.id.clone(),
                severity: i.severity.clone(),
                region: first(&i.regions),
                operator: first(&i.operators),
            };
            (labels, i)
        })
        .collect();
    b.per("incident_start_timestamp", "Start of an open incident", seconds(), &open, |i| Some(unix(i.start)));
    b.per("incident_age", "Age of an open incident: window end minus start", seconds(), &open, |i| {
        Some((eval.window_end - i.start).num_milliseconds() as f64 / 1000.0)
    });
    b.per(
        "incident_respond_deadline_timestamp",
        "When an open incident must be responded to: its page plus the respond target",
        seconds(),
        &open,
        |i| Some(unix(i.paged_at) + i.respond_target_seconds as f64),
    );
    b.per(
        "incident_resolve_deadline_timestamp",
        "When an open incident must be resolved: start plus the resolve target",
        seconds(),
        &open,
        |i| Some(unix(i.start) + i.resolve_target_seconds as f64),
    );
    b.per(
        "incident_acknowledged_timestamp",
        "When an open incident was acknowledged; absent until it is",
        seconds(),
        &open,
        |i| i.acknowledged_at.map(unix),
    );
    b.per(
        "incident_escalation_level",
        "Escalation level an open incident reached (1 = first level of the ladder); frozen once acknowledged",
        None,
        &open,
        |i| (i.escalation_level > 0).then_some(i.escalation_level as f64),
    );
    b.per("incident_nodes_down", "Most nodes of an open incident down at the same time", None, &open, |i| {
        Some(i.max_nodes_down as f64)
    });

    for f in classes::families(eval) {
        b.gauge(f.name, f.help, f.seconds.then_some(Unit::Seconds), f.samples);
    }

    // Pay.
    let payees: Vec<(&'static str, &Statement)> =
        eval.operators.iter().map(|s| ("operator", s)).chain(eval.partners.iter().map(|s| ("partner", s))).collect();
    let mut amounts = vec![];
    let mut statuses = vec![];
    for (payee_kind, s) in &payees {
        for l in &s.lines {
            amounts.push((
                LineLabels {
                    payee_kind,
                    payee: s.id.clone(),
                    line: l.id.clone(),
                    kind: l.kind.clone(),
                    category: l.category.clone(),
                    currency: currency.clone(),
                },
                to_f64(l.amount),
            ));
            for st in STATUSES {
                let labels =
                    LineStatusLabels { payee_kind, payee: s.id.clone(), line: l.id.clone(), status: status_name(st) };
                statuses.push((labels, if st == l.status { 1.0 } else { 0.0 }));
            }
        }
    }
    b.gauge("pay_line_amount", "Amount of a pay line this period (0 unless paid)", None, amounts);
    b.gauge(
        "pay_line_status",
        "State set of a pay line's status: 1 for its status (paid, not_met, withheld, error), 0 for the others",
        None,
        statuses,
    );
    b.gauge(
        "payee_total_amount",
        "Sum of the payee's pay lines this period",
        None,
        payees
            .iter()
            .map(|(payee_kind, s)| {
                let labels =
                    PayeeLabels { payee_kind, payee: s.id.clone(), tier: s.tier.clone(), currency: currency.clone() };
                (labels, to_f64(s.total))
            })
            .collect(),
    );
    let per_payee: Vec<_> = payees
        .iter()
        .map(|(payee_kind, s)| {
            (PayeeLabels { payee_kind, payee: s.id.clone(), tier: s.tier.clone(), currency: currency.clone() }, *s)
        })
        .collect();
    let money = |d: Option<rust_decimal::Decimal>| d.map(to_f64);
    b.per(
        "payee_adjustment_amount",
        "Sum of the payee's adjustments this period (rules `adjustments:`); 0 without any",
        None,
        &per_payee,
        |s| money(Some(s.lines.iter().filter(|l| l.kind == ADJUSTMENT).map(|l| l.amount).sum())),
    );
    b.per(
        "payee_balance_in_amount",
        "Negative balance carried into this period from the month before (0 or less); absent while not known",
        None,
        &per_payee,
        |s| money(s.ledger.balance_in),
    );
    b.per(
        "payee_payable_amount",
        "What the payee is paid this period: balance carried in plus total, at least 0; absent while not known",
        None,
        &per_payee,
        |s| money(s.ledger.payable),
    );
    b.per(
        "payee_balance_out_amount",
        "Negative balance carried into the next period (0 or less); absent while not known",
        None,
        &per_payee,
        |s| money(s.ledger.balance_out),
    );
    b.per(
        "payee_written_off_amount",
        "Negative balance written off this period (programme.negative_balance: write_off); absent while not known",
        None,
        &per_payee,
        |s| money(s.ledger.written_off),
    );
    holds::register_families(b.registry(), eval);
    scores::register_families(b.registry(), eval);
    b.gauge(
        "payee_year_to_date_amount",
        "Sum of the payee's pay this calendar year, this period included (absent while a month of the year is not closed)",
        None,
        payees
            .iter()
            .filter_map(|(payee_kind, s)| {
                let labels =
                    PayeeLabels { payee_kind, payee: s.id.clone(), tier: s.tier.clone(), currency: currency.clone() };
                Some((labels, to_f64(s.year_to_date.total?)))
            })
            .collect(),
    );
    b.gauge(
        "programme_total_amount",
        "Sum of all payees' totals this period",
        None,
        vec![(CurrencyLabels { currency: currency.clone() }, to_f64(eval.total))],
    );
    b.gauge(
        "dispute_open_age",
        "Age of a payee's open dispute (rules `disputes:`): evaluation time minus the start of the day it was opened",
        seconds(),
        payees
            .iter()
            .flat_map(|(payee_kind, s)| {
                s.ledger.disputes.iter().map(|d| {
                    let labels = DisputeLabels {
                        payee_kind,
                        payee: s.id.clone(),
                        dispute: d.id.clone(),
                        period: d.period.clone(),
                        line: d.line.clone(),
                    };
                    (labels, d.age_seconds as f64)
                })
            })
            .collect(),
    );
    b.gauge(
        "programme_payable_amount",
        "Sum of what every payee is paid this period; absent while any payee's is not known",
        None,
        eval.payable.map(|p| (CurrencyLabels { currency: currency.clone() }, to_f64(p))).into_iter().collect(),
    );
    b.gauge(
        "promotion_eligible",
        "1 if the operator passes every check of its promotion, 0 if not",
        None,
        eval.operators
            .iter()
            .filter_map(|s| {
                let p = s.promotion.as_ref()?;
                let labels = PromotionLabels { operator: s.id.clone(), to: p.to.clone() };
                Some((labels, if p.eligible { 1.0 } else { 0.0 }))
            })
            .collect(),
    );
    b.gauge(
        "promotion_eligible_since_timestamp_seconds",
        "Start of the first month of the operator's unbroken run of eligible months (absent when not eligible)",
        None,
        eval.operators
            .iter()
            .filter_map(|s| {
                let p = s.promotion.as_ref()?;
                let tz: chrono_tz::Tz = eval.time_zone.parse().ok()?;
                let start = crate::period::Period::month(p.eligible_since.as_ref()?, tz).ok()?.start;
                let labels = PromotionLabels { operator: s.id.clone(), to: p.to.clone() };
                Some((labels, start.timestamp() as f64))
            })
            .collect(),
    );
    b.scalar("evaluation_warnings", "Warnings in the evaluation", None, Some(eval.warnings.len() as f64));

    // Leakage (seed 003).
    let leak = &eval.leakage;
    b.gauge(
        "leakage_findings",
        "Leakage findings this period by kind (roster_node_without_data, unrostered_node, paid_without_active_node)",
        None,
        leakage::findings(leak),
    );
    b.gauge(
        "leakage_roster_node_without_data",
        "1 for a node on the roster of an operator in the programme with no data this period",
        None,
        leakage::nodes(&leak.roster_nodes_without_data),
    );
    b.gauge(
        "leakage_unrostered_node",
        "1 for a node with data this period on no operator's roster (operator: the series' label)",
        None,
        leakage::nodes(&leak.unrostered_nodes),
    );
    b.gauge(
        "leakage_paid_without_active_node_amount",
        "Total of a payee paid this period none of whose nodes was seen",
        None,
        leakage::paid(leak, currency),
    );
    b.finish();
}

/// The OpenMetrics text of one evaluation, without `# EOF`: encode it once
/// per evaluation and serve the string through [`exposition`](super::exposition).
pub fn encode_evaluation(eval: &Evaluation) -> String {
    encode_evaluation_with(eval, Families::default())
}

/// [`encode_evaluation`] with the families `families` asks for.
pub fn encode_evaluation_with(eval: &Evaluation, families: Families) -> String {
    let mut out = String::new();
    encode_evaluation_to(eval, families, &mut out);
    out
}
