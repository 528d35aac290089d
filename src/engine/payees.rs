//! Operators and partners: their variables (see `rules::vars`), their
//! statements (tier lines in order) and promotion checks.

use super::availability::{NodeInfo, availability, operator_region};
use super::months::{self, Active, Whose};
use super::pay::{Payee, eval_line};
use super::{Notes, holds, incidents, promotion, scores};
use crate::evaluation::{Availability, Incident, Ledger, LineStatus, PayLine, Statement, Verdict};
use crate::facts::{Facts, InputFacts};
use crate::history::History;
use crate::money::to_f64;
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::expr::{Var, Vars};
use crate::rules::model::OfKind;
use crate::rules::spec::{AppliesTo, InputKey, OperatorSpec, PartnerSpec, TierSpec};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// An operator over the period: nodes, availability and variables.
pub(crate) struct OpCtx<'a> {
    pub spec: &'a OperatorSpec,
    pub nodes: Vec<String>,
    /// Of `nodes`, those not seen in the window (see [`NodeInfo::seen`]).
    pub unseen: Vec<String>,
    pub region: Option<String>,
    pub availability: Availability,
    /// OPERATOR variables, inputs not included (they depend on who asks).
    pub vars: Vars,
    /// Why unknown variables have no value.
    pub notes: Notes,
    pub active_days: u32,
    /// In the programme for at least one day of the period.
    pub active: bool,
}

fn set(vars: &mut Vars, name: &str, v: Var) {
    vars.insert(name.to_string(), v);
}

fn num(n: impl Into<f64>) -> Var {
    Var::Num(n.into())
}

fn opt_dec(d: Option<Decimal>) -> Var {
    d.map_or(Var::Unknown, |d| Var::Num(to_f64(d)))
}

/// Month of the programme this period is, counting the start month as 1.
pub(crate) fn tenure_months(start: NaiveDate, period: &Period) -> i64 {
    period.month_number(start)
}

/// Whether an operator is on the roster for any day of the period.
fn active_in(spec: &OperatorSpec, period: &Period) -> bool {
    spec.in_programme(period.first_day(), period.last_day())
}

/// Days of the period within `[start, end]` (inclusive, local dates).
pub(crate) fn active_days(start: NaiveDate, end: Option<NaiveDate>, period: &Period) -> u32 {
    let from = start.max(period.first_day());
    let to = end.unwrap_or(period.last_day()).min(period.last_day());
    if to < from { 0 } else { ((to - from).num_days() + 1) as u32 }
}

/// Mentees on `spec`'s list for which `counts` holds.
fn count_mentees(rules: &Rules, spec: &OperatorSpec, counts: impl Fn(&OperatorSpec) -> bool) -> usize {
    spec.mentees.iter().filter(|m| rules.operators.iter().any(|o| o.id.value == m.value && counts(o))).count()
}

/// Build the context of every operator on the roster, in roster order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn operators<'a>(
    rules: &'a Rules,
    facts: &Facts,
    history: &History,
    period: &Period,
    nodes: &BTreeMap<String, NodeInfo>,
    incidents_all: &[Incident],
    fleet: &Availability,
    regions: &BTreeMap<String, Availability>,
) -> Vec<OpCtx<'a>> {
    let step = facts.step_seconds;
    let period_days = period.days();
    // Each operator's nodes and incidents, in their order, grouped once
    // (not searched per operator: 10,000 operators × 100,000 nodes).
    let mut nodes_of: BTreeMap<&str, Vec<&NodeInfo>> = BTreeMap::new();
    for n in nodes.values() {
        if let Some(op) = n.operator.as_deref() {
            nodes_of.entry(op).or_default().push(n);
        }
    }
    let mut incidents_of: BTreeMap<&str, Vec<&Incident>> = BTreeMap::new();
    for i in incidents_all {
        for (k, op) in i.operators.iter().enumerate() {
            if !i.operators[..k].contains(op) {
                incidents_of.entry(op.as_str()).or_default().push(i);
            }
        }
    }
    rules
        .operators
        .iter()
        .map(|spec| {
            let id = spec.id.value.as_str();
            let mine: Vec<&NodeInfo> = nodes_of.get(id).cloned().unwrap_or_default();
            let avail = availability(mine.iter().copied(), step);
            let region = operator_region(spec.region.as_ref().map(|r| r.value.as_str()), &mine);
            let incs: Vec<&Incident> = incidents_of.get(id).cloned().unwrap_or_default();
            let days = active_days(spec.start, spec.end, period);
            let active = active_in(spec, period);

            let mut v = Vars::new();
            set(&mut v, "nodes", num(mine.len() as f64));
            let mut unseen: Vec<String> = mine.iter().filter(|n| !n.seen()).map(|n| n.node.clone()).collect();
            unseen.sort();
            set(&mut v, "seen_nodes", num((mine.len() - unseen.len()) as f64));
            set(&mut v, "uptime", opt_dec(avail.uptime));
            set(&mut v, "coverage", num(to_f64(avail.coverage)));
            set(&mut v, "downtime_seconds", num(avail.down_seconds as f64));
            set(&mut v, "unknown_seconds", num(avail.unknown_seconds as f64));
            set(&mut v, "fleet_uptime", opt_dec(fleet.uptime));
            set(&mut v, "region_uptime", opt_dec(region.as_ref().and_then(|r| regions.get(r)?.uptime)));
            set(&mut v, "incidents", num(incs.len() as f64));
            let major =
                incs.iter().filter(|i| rules.severities.iter().any(|s| s.id.value == i.severity && s.major)).count();
            set(&mut v, "major_incidents", num(major as f64));
            for s in &rules.severities {
                let n = incs.iter().filter(|i| i.severity == s.id.value).count();
                set(&mut v, &format!("incidents_{}", s.id.value), num(n as f64));
            }
            let breached = |f: fn(&Incident) -> Verdict| incs.iter().filter(|i| f(i) == Verdict::Breached).count();
            set(&mut v, "resolve_breaches", num(breached(|i| i.resolve_verdict) as f64));
            let acks = facts.acknowledgements.is_some();
            set(
                &mut v,
                "respond_breaches",
                if acks { num(breached(|i| i.respond_verdict) as f64) } else { Var::Unknown },
            );
            set(&mut v, "mttr_seconds", opt_dec(incidents::mttr(incs.iter().copied())));
            // Every incident counts, acknowledged or not (rules::vars).
            let avg = if acks { incidents::mean_response_clock(incs.iter().copied(), facts.end) } else { None };
            set(&mut v, "avg_response_seconds", opt_dec(avg));
            set(&mut v, "tenure_months", num(tenure_months(spec.start, period) as f64));
            set(&mut v, "tier_months", spec.tier_months(period).map_or(Var::Unknown, |n| num(n as f64)));
            set(&mut v, "active_days", num(days));
            set(&mut v, "period_days", num(period_days));
            set(&mut v, "active_ratio", num(days as f64 / period_days as f64));
            let terminated = spec.end.is_some_and(|e| e >= period.first_day() && e <= period.last_day());
            set(&mut v, "terminated", Var::Bool(terminated));
            // Mentees on the roster and active in the period (a mentee who
            // left before it or starts after it is not mentored this month).
            let mentees = count_mentees(rules, spec, |o| active_in(o, period));
            set(&mut v, "mentees", num(mentees as f64));
            // Mentees ever on the list who completed their first six months
            // by the period's end or were promoted (see `rules::vars`).
            let successful = count_mentees(rules, spec, |o| o.completed_first_months(period));
            set(&mut v, "mentees_successful", num(successful as f64));
            set(&mut v, "period_month", num(period.month));
            set(&mut v, "referred", Var::Bool(spec.referred_by.is_some()));

            let mut notes = Notes::new();
            let mut note = |k: &str, why: String| {
                if v.get(k) == Some(&Var::Unknown) {
                    notes.insert(k.to_string(), why);
                }
            };
            note("uptime", "no samples from the operator's nodes".into());
            note("fleet_uptime", "no samples from the fleet".into());
            note(
                "region_uptime",
                match &region {
                    None => "the operator has no region".into(),
                    Some(r) => format!("no samples from region {r}"),
                },
            );
            let no_acks = "acknowledgements unknown: no acknowledgement source is configured (--alertmanager.url) or it was not read yet".to_string();
            note("respond_breaches", no_acks.clone());
            note("avg_response_seconds", if acks { "no incident to respond to this period".into() } else { no_acks });
            note("mttr_seconds", "no resolved incident this period".into());
            let who = Whose { payees: months::operators, id, active: Active::new(spec.start, spec.end) };
            months::set_aggregates((rules, history, period), who, OfKind::Operator, &avail, &mut v, &mut notes);

            let mut node_ids: Vec<String> = mine.iter().map(|n| n.node.clone()).collect();
            node_ids.sort();
            OpCtx {
                spec,
                nodes: node_ids,
                unseen,
                region,
                availability: avail,
                vars: v,
                notes,
                active_days: days,
                active,
            }
        })
        .collect()
}

/// Who an input's key refers to in one evaluation.
#[derive(Default)]
pub(crate) struct Keys<'a> {
    pub operator: Option<&'a str>,
    pub region: Option<&'a str>,
    pub partner: Option<&'a str>,
}

/// Add the input variables for `keys`: a value, the input's default, or unknown.
pub(crate) fn add_inputs(rules: &Rules, facts: &Facts, keys: &Keys, vars: &mut Vars, notes: &mut Notes) {
    for input in &rules.inputs {
        let name = &input.name.value;
        let (key, by) = match input.by {
            InputKey::Operator => (keys.operator, "operator"),
            InputKey::Region => (keys.region, "region"),
            InputKey::Partner => (keys.partner, "partner"),
            InputKey::Scalar => (Some(""), ""),
        };
        let (v, why) = match (facts.inputs.get(name), key) {
            (Some(InputFacts::Values(m)), Some(k)) => match (m.get(k), input.default) {
                (Some(x), _) => (Var::Num(*x), None),
                (None, Some(d)) => (Var::Num(d), None),
                (None, None) => (Var::Unknown, Some(format!("input {name} has no series for {by} {k}"))),
            },
            (Some(InputFacts::Failed(msg)), _) => (Var::Unknown, Some(format!("input {name} failed: {msg}"))),
            (None, _) => (Var::Unknown, Some(format!("input {name} was not read"))),
            (Some(_), None) => (Var::Unknown, Some(format!("input {name} is keyed by {by}, and there is none here"))),
        };
        vars.insert(name.clone(), v);
        match why {
            Some(w) => notes.insert(name.clone(), w),
            None => notes.remove(name),
        };
    }
}

fn total(rules: &Rules, lines: &[PayLine]) -> Decimal {
    lines.iter().map(|l| l.amount).fold(super::pay::zero(rules), |a, b| a + b)
}

fn tier_or_warn<'a>(
    t: Option<&'a TierSpec>,
    who: &str,
    tier: &str,
    warnings: &mut Vec<String>,
) -> &'a [crate::rules::spec::LineSpec] {
    match t {
        Some(t) => &t.lines,
        None => {
            warnings.push(format!("{who} has tier {tier}, which is not defined; no pay lines"));
            &[]
        }
    }
}

/// An operator's statement (only for operators active in the period).
pub(crate) fn operator_statement(
    rules: &Rules,
    facts: &Facts,
    history: &History,
    period: &Period,
    op: &OpCtx,
    warnings: &mut Vec<String>,
) -> Statement {
    let spec = op.spec;
    let mut vars = op.vars.clone();
    let keys = Keys {
        operator: Some(&spec.id.value),
        region: op.region.as_deref(),
        partner: spec.referred_by.as_ref().map(|p| p.value.as_str()),
    };
    let mut notes = op.notes.clone();
    add_inputs(rules, facts, &keys, &mut vars, &mut notes);
    let active = Active::new(spec.start, spec.end);
    let who = Whose { payees: months::operators, id: &spec.id.value, active };
    let avail = &op.availability;
    months::set_aggregates((rules, history, period), who, OfKind::Input, avail, &mut vars, &mut notes);
    let card = scores::apply((rules, history, period), who, AppliesTo::Operator, avail, &mut vars, &mut notes);
    let payee = Payee {
        vars: &vars,
        notes: &notes,
        coverage: op.availability.coverage,
        unseen: &op.unseen,
        active_days: op.active_days,
        period_days: period.days(),
        period,
    };
    // The tier governing the period (mid-month changes: see `rules::roster`).
    let tier = spec.tier_in(period);
    let tier_id = tier.map_or("", |t| t.tier.value.as_str());
    let lines_spec = tier_or_warn(rules.tier(tier_id), &format!("operator {}", spec.id.value), tier_id, warnings);
    let states = holds::in_force(spec.states_in(period));
    let throttle = holds::Throttle::new(&states, rules.tier(tier_id));
    let mut done: BTreeMap<String, PayLine> = BTreeMap::new();
    let mut lines = vec![];
    for l in lines_spec {
        let mut pl = eval_line(l, rules, &payee, &done);
        throttle.apply(&mut pl);
        done.insert(pl.id.clone(), pl.clone());
        lines.push(pl);
    }
    let mut promotion = promotion::promotion(rules, tier_id, &vars, &notes, op.availability.coverage);
    if let Some(p) = promotion.as_mut().filter(|p| p.eligible) {
        let (since, note) = months::eligible_since(history, period, &spec.id.value, tier_id, active);
        (p.eligible_since, p.eligible_since_note) = (Some(since), note);
    }
    Statement {
        id: spec.id.value.clone(),
        name: spec.name.clone(),
        email: spec.email.clone(),
        tier: tier_id.to_string(),
        tier_since: tier.map(|t| t.since),
        region: op.region.clone(),
        nodes: op.nodes.clone(),
        availability: op.availability.clone(),
        total: total(rules, &lines),
        year_to_date: months::year_to_date(history, period, months::operators, &spec.id.value, active, &lines),
        lines,
        promotion,
        ledger: Ledger { states, ..Default::default() },
        variables: months::recorded(&vars),
        scores: card.scores,
        flags: card.flags,
    }
}

/// A partner's statement (only for partners that started by the period's end).
#[allow(clippy::too_many_arguments)]
pub(crate) fn partner_statement(
    rules: &Rules,
    facts: &Facts,
    history: &History,
    period: &Period,
    partner: &PartnerSpec,
    ops: &[OpCtx],
    nodes: &BTreeMap<String, NodeInfo>,
    warnings: &mut Vec<String>,
) -> Statement {
    let pid = partner.id.value.as_str();
    let ever: Vec<&OpCtx> = ops
        .iter()
        .filter(|o| o.spec.referred_by.as_ref().is_some_and(|r| r.value == pid) && o.spec.start <= period.last_day())
        .collect();
    let active: Vec<&OpCtx> = ever.iter().copied().filter(|o| o.active).collect();
    let mut node_ids: Vec<String> = active.iter().flat_map(|o| o.nodes.iter().cloned()).collect();
    node_ids.sort();
    node_ids.dedup();
    let avail = availability(node_ids.iter().filter_map(|n| nodes.get(n)), facts.step_seconds);

    let mut pv = Vars::new();
    set(&mut pv, "referrals", num(active.len() as f64));
    let recent = ever.iter().filter(|o| (1..=12).contains(&tenure_months(o.spec.start, period))).count();
    set(&mut pv, "referrals_12m", num(recent as f64));
    let retained = ever.iter().filter(|o| o.spec.end.is_none_or(|e| e >= period.last_day())).count();
    set(&mut pv, "retention", if ever.is_empty() { Var::Unknown } else { num(retained as f64 / ever.len() as f64) });
    // Retention over the last 12 months (this one included): of the
    // operators in the programme on any day of them, the share still in it
    // at the period's end.
    let year_start = period.first_day().checked_sub_months(chrono::Months::new(11)).unwrap_or(NaiveDate::MIN);
    let in_year: Vec<&&OpCtx> = ever.iter().filter(|o| o.spec.end.is_none_or(|e| e >= year_start)).collect();
    let stayed = in_year.iter().filter(|o| o.spec.end.is_none_or(|e| e >= period.last_day())).count();
    let retention_12m = if in_year.is_empty() { Var::Unknown } else { num(stayed as f64 / in_year.len() as f64) };
    set(&mut pv, "retention_12m", retention_12m);
    set(&mut pv, "partner_nodes", num(node_ids.len() as f64));
    set(&mut pv, "partner_tenure_months", num(tenure_months(partner.start, period) as f64));
    set(&mut pv, "period_month", num(period.month));

    let mut notes = Notes::new();
    if ever.is_empty() {
        notes.insert("retention".into(), "the partner has referred no operator yet".into());
    }
    if in_year.is_empty() {
        notes.insert(
            "retention_12m".into(),
            "no operator the partner referred was in the programme in the last 12 months".into(),
        );
    }
    let ctx = (rules, history, period);
    let me = Whose { payees: months::partners, id: pid, active: Active::new(partner.start, partner.end) };
    months::set_aggregates(ctx, me, OfKind::Partner, &avail, &mut pv, &mut notes);
    let mut vars = pv.clone();
    let keys = Keys { partner: Some(pid), ..Keys::default() };
    add_inputs(rules, facts, &keys, &mut vars, &mut notes);
    months::set_aggregates(ctx, me, OfKind::Input, &avail, &mut vars, &mut notes);
    let card = scores::apply(ctx, me, AppliesTo::Partner, &avail, &mut vars, &mut notes);
    let days = active_days(partner.start, partner.end, period);
    let payee = Payee {
        vars: &vars,
        notes: &notes,
        coverage: avail.coverage,
        unseen: &[],
        active_days: days,
        period_days: period.days(),
        period,
    };

    let lines_spec =
        tier_or_warn(rules.partner_tier(&partner.tier.value), &format!("partner {pid}"), &partner.tier.value, warnings);
    let states = holds::in_force(partner.states_in(period));
    let throttle = holds::Throttle::new(&states, rules.partner_tier(&partner.tier.value));
    let mut done: BTreeMap<String, PayLine> = BTreeMap::new();
    let mut lines = vec![];
    for l in lines_spec {
        let mut pl = if l.per_referral {
            let subs: Vec<(String, PayLine)> = active
                .iter()
                .map(|o| {
                    let mut v = pv.clone();
                    v.extend(o.vars.iter().map(|(k, x)| (k.clone(), *x)));
                    let keys =
                        Keys { operator: Some(&o.spec.id.value), region: o.region.as_deref(), partner: Some(pid) };
                    let mut n = notes.clone();
                    n.extend(o.notes.iter().map(|(k, x)| (k.clone(), x.clone())));
                    add_inputs(rules, facts, &keys, &mut v, &mut n);
                    let them = Whose {
                        payees: months::operators,
                        id: &o.spec.id.value,
                        active: Active::new(o.spec.start, o.spec.end),
                    };
                    months::set_aggregates(ctx, them, OfKind::Input, &o.availability, &mut v, &mut n);
                    let payee = Payee {
                        vars: &v,
                        notes: &n,
                        coverage: o.availability.coverage,
                        unseen: &o.unseen,
                        active_days: o.active_days,
                        period_days: period.days(),
                        period,
                    };
                    (o.spec.id.value.clone(), eval_line(l, rules, &payee, &done))
                })
                .collect();
            combine(rules, l, subs)
        } else {
            eval_line(l, rules, &payee, &done)
        };
        throttle.apply(&mut pl);
        done.insert(pl.id.clone(), pl.clone());
        lines.push(pl);
    }
    Statement {
        id: pid.to_string(),
        name: partner.name.clone(),
        email: partner.email.clone(),
        tier: partner.tier.value.clone(),
        tier_since: None,
        region: None,
        nodes: node_ids,
        availability: avail,
        total: total(rules, &lines),
        year_to_date: months::year_to_date(history, period, months::partners, pid, me.active, &lines),
        lines,
        promotion: None,
        ledger: Ledger { states, ..Default::default() },
        variables: months::recorded(&vars),
        scores: card.scores,
        flags: card.flags,
    }
}

/// One `per_referral` line from its per-operator evaluations: paid lines add
/// up; the reason lists every referred operator's outcome.
fn combine(rules: &Rules, l: &crate::rules::spec::LineSpec, subs: Vec<(String, PayLine)>) -> PayLine {
    let mut out = PayLine {
        id: l.id.value.clone(),
        name: l.name.clone(),
        kind: super::pay::kind_name(l.kind).to_string(),
        category: l.category.clone().unwrap_or_default(),
        status: LineStatus::NotMet,
        amount: super::pay::zero(rules),
        formula: String::new(),
        reason: String::new(),
        inputs: BTreeMap::new(),
    };
    if subs.is_empty() {
        out.reason = "no referred operator active this period".into();
        return out;
    }
    let has = |s: LineStatus| subs.iter().any(|(_, p)| p.status == s);
    out.status = if has(LineStatus::Paid) {
        LineStatus::Paid
    } else if has(LineStatus::Withheld) {
        LineStatus::Withheld
    } else if has(LineStatus::Error) {
        LineStatus::Error
    } else {
        LineStatus::NotMet
    };
    let mut formulas = vec![];
    let mut reasons = vec![];
    for (op, p) in &subs {
        if p.status == LineStatus::Paid {
            out.amount += p.amount;
            formulas.push(format!("{op}: {}", p.formula));
        }
        let st = match p.status {
            LineStatus::Paid => "paid",
            LineStatus::NotMet => "not met",
            LineStatus::Withheld => "withheld",
            LineStatus::Error => "error",
        };
        reasons.push(format!("{op}: {st}, {}", p.reason));
        for (k, v) in &p.inputs {
            out.inputs.insert(format!("{op}.{k}"), v.clone());
        }
    }
    out.formula =
        if formulas.len() > 1 { format!("{}; total {}", formulas.join("; "), out.amount) } else { formulas.join("; ") };
    out.reason = reasons.join("; ");
    out
}
