//! Incidents of the incident classes (`incident_classes`): the facts'
//! reported incidents (runs of an incident source's series) with their
//! class, payee and verdicts, one summary per class, and the per-class
//! operator variables.
//!
//! - The class is the source's `class` or the class label; an incident
//!   whose class is missing or unknown is not counted (a warning says so).
//! - The payee is the operator label; an operator not on the roster (or
//!   none) counts the incident for nobody (a warning says so).
//! - Respond: the clock runs from the incident's start (its first sample:
//!   no `failure_after`, no maintenance) to its acknowledgement — the first
//!   silence naming its id or its key — or, never acknowledged, to its
//!   resolution: closing a ticket answers it. Acknowledgements count from
//!   the end of the previous incident of the same key (the window start
//!   for the first), so a silence made before the ticket was first scraped
//!   answers it at once, and until the next incident of the key starts.
//! - Resolve: wall-clock duration against `resolve_within`; a class
//!   without one has no resolve verdict.

use super::incidents::mean;
use super::months::{self, Active, Whose};
use super::payees::OpCtx;
use crate::evaluation::{ClassIncident, ClassSummary, Verdict};
use crate::facts::{Facts, ReportedIncident};
use crate::history::History;
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::expr::Var;
use crate::rules::model::OfKind;
use crate::rules::spec::IncidentClassSpec;
use crate::rules::vars;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

fn class<'a>(rules: &'a Rules, id: &str) -> Option<&'a IncidentClassSpec> {
    rules.incident_classes.iter().find(|c| c.id.value == id)
}

/// Every incident of a known class, sorted by (start, id).
pub(crate) fn build(facts: &Facts, rules: &Rules, warnings: &mut Vec<String>) -> Vec<ClassIncident> {
    let index = Index::new(facts);
    let mut out = vec![];
    for r in &facts.reported {
        let what = format!("incident {} of source {} at {}", r.key, r.source, r.start.to_rfc3339());
        let Some(c) = r.class.as_deref() else {
            warnings.push(format!("{what} has no class label; not counted"));
            continue;
        };
        let Some(spec) = class(rules, c) else {
            warnings.push(format!("{what} is of class {c}, which is not in incident_classes; not counted"));
            continue;
        };
        let i = incident(facts, &index, spec, r);
        match &i.operator {
            None => warnings.push(format!("incident {} has no operator label: it counts for no payee", i.id)),
            Some(op) if !rules.operators.iter().any(|o| o.id.value == *op) => warnings.push(format!(
                "incident {} names operator {op}, who is not on the roster: it counts for no payee",
                i.id
            )),
            Some(_) => {}
        }
        out.push(i);
    }
    out.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    out
}

/// The reported incidents by (source, key), and the acknowledgements by
/// the incident they name, each sorted by time.
struct Index<'a> {
    runs: BTreeMap<(&'a str, &'a str), Vec<&'a ReportedIncident>>,
    acks: BTreeMap<&'a str, Vec<DateTime<Utc>>>,
}

impl<'a> Index<'a> {
    fn new(facts: &'a Facts) -> Self {
        let mut runs: BTreeMap<(&str, &str), Vec<&ReportedIncident>> = BTreeMap::new();
        for r in &facts.reported {
            runs.entry((&r.source, &r.key)).or_default().push(r);
        }
        runs.values_mut().for_each(|v| v.sort_by_key(|r| r.start));
        let mut acks: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
        for a in &facts.incident_acknowledgements {
            acks.entry(&a.incident).or_default().push(a.at);
        }
        acks.values_mut().for_each(|v| v.sort());
        Index { runs, acks }
    }

    /// The acknowledgement window of `r`: from the end of the previous
    /// incident of its key (`start` for the first) to the next one's start.
    fn window(&self, r: &ReportedIncident, start: DateTime<Utc>) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        let same = &self.runs[&(r.source.as_str(), r.key.as_str())];
        let k = same.partition_point(|o| o.start < r.start);
        let from = k.checked_sub(1).map_or(start, |p| same[p].end);
        (from, same.get(k + 1).map(|o| o.start))
    }

    /// The first acknowledgement naming `names` in `[from, to)`.
    fn first_ack(&self, names: [&str; 2], (from, to): (DateTime<Utc>, Option<DateTime<Utc>>)) -> Option<DateTime<Utc>> {
        names
            .iter()
            .filter_map(|n| self.acks.get(n))
            .filter_map(|ats| ats.iter().find(|at| **at >= from).filter(|at| to.is_none_or(|t| **at < t)))
            .min()
            .copied()
    }
}

fn incident(facts: &Facts, index: &Index, spec: &IncidentClassSpec, r: &ReportedIncident) -> ClassIncident {
    let id = format!("{}-{}-{}", spec.id.value, r.start.format("%Y%m%dT%H%MZ"), r.key);
    let until = if r.open { facts.end } else { r.end };
    let duration = (until - r.start).num_seconds().max(0);
    let resolve_target = spec.resolve_within.map(|d| d.seconds());
    let resolve_verdict = resolve_target.map(|t| {
        if duration > t {
            Verdict::Breached
        } else if r.open {
            Verdict::Open
        } else {
            Verdict::Met
        }
    });
    let respond_target = spec.respond_within.seconds();
    let (acknowledged_at, respond_verdict) = match &facts.acknowledgements {
        None => (None, Verdict::Unknown),
        Some(_) => {
            let ack = index.first_ack([&id, &r.key], index.window(r, facts.start));
            // Its resolution answered it, if that came first.
            let answered = [ack, (!r.open).then_some(r.end)].into_iter().flatten().min();
            let verdict = match answered {
                Some(at) if (at - r.start).num_seconds() <= respond_target => Verdict::Met,
                Some(_) => Verdict::Breached,
                None if (facts.end - r.start).num_seconds() > respond_target => Verdict::Breached,
                None => Verdict::Open,
            };
            (ack, verdict)
        }
    };
    ClassIncident {
        id,
        class: spec.id.value.clone(),
        source: r.source.clone(),
        key: r.key.clone(),
        severity: r.severity.clone(),
        operator: r.operator.clone(),
        start: r.start,
        end: (!r.open).then_some(r.end),
        duration_seconds: duration,
        respond_target_seconds: respond_target,
        resolve_target_seconds: resolve_target,
        acknowledged_at,
        response_seconds: acknowledged_at.map(|at| (at - r.start).num_seconds().max(0)),
        respond_verdict,
        resolve_verdict,
    }
}

fn breaches<'a>(of: impl IntoIterator<Item = &'a ClassIncident>, verdict: fn(&ClassIncident) -> Verdict) -> u64 {
    of.into_iter().filter(|i| verdict(i) == Verdict::Breached).count() as u64
}

fn respond(i: &ClassIncident) -> Verdict {
    i.respond_verdict
}

fn resolve(i: &ClassIncident) -> Verdict {
    i.resolve_verdict.unwrap_or(Verdict::Met)
}

/// One summary per class, in rules order.
pub(crate) fn summaries(rules: &Rules, incidents: &[ClassIncident]) -> Vec<ClassSummary> {
    rules
        .incident_classes
        .iter()
        .map(|c| {
            let of: Vec<&ClassIncident> = incidents.iter().filter(|i| i.class == c.id.value).collect();
            ClassSummary {
                class: c.id.value.clone(),
                name: c.name.clone(),
                respond_target_seconds: c.respond_within.seconds(),
                resolve_target_seconds: c.resolve_within.map(|d| d.seconds()),
                incidents: of.len() as u64,
                open: of.iter().filter(|i| i.end.is_none()).count() as u64,
                mttr_seconds: mean(of.iter().filter(|i| i.end.is_some()).map(|i| i.duration_seconds)),
                respond_breaches: breaches(of.iter().copied(), respond),
                resolve_breaches: breaches(of.iter().copied(), resolve),
                mean_response_seconds: mean(of.iter().filter_map(|i| i.response_seconds)),
            }
        })
        .collect()
}

/// Set each operator's per-class variables (see `rules::vars::CLASS`) and
/// add its incidents of major classes to `major_incidents` (and to the
/// aggregates that read it).
pub(crate) fn add_operator_vars(
    (rules, history, period): (&Rules, &History, &Period),
    facts: &Facts,
    incidents: &[ClassIncident],
    ops: &mut [OpCtx],
) {
    if rules.incident_classes.is_empty() {
        return;
    }
    let mut of_operator: BTreeMap<&str, Vec<&ClassIncident>> = BTreeMap::new();
    for i in incidents {
        if let Some(op) = i.operator.as_deref() {
            of_operator.entry(op).or_default().push(i);
        }
    }
    for op in ops {
        let id = op.spec.id.value.as_str();
        let mine: Vec<&ClassIncident> = of_operator.get(id).cloned().unwrap_or_default();
        for c in &rules.incident_classes {
            let of: Vec<&ClassIncident> = mine.iter().copied().filter(|i| i.class == c.id.value).collect();
            let [count, responded, resolved] = <[String; 3]>::try_from(vars::class_vars(&c.id)).expect("three");
            op.vars.insert(count, Var::Num(of.len() as f64));
            op.vars.insert(resolved, Var::Num(breaches(of.iter().copied(), resolve) as f64));
            if facts.acknowledgements.is_some() {
                op.vars.insert(responded, Var::Num(breaches(of.iter().copied(), respond) as f64));
            } else {
                // The same reason as the node incidents' `respond_breaches`.
                if let Some(why) = op.notes.get("respond_breaches").cloned() {
                    op.notes.insert(responded.clone(), why);
                }
                op.vars.insert(responded, Var::Unknown);
            }
        }
        let major = mine.iter().filter(|i| class(rules, &i.class).is_some_and(|c| c.major)).count();
        if major > 0
            && let Some(Var::Num(n)) = op.vars.get("major_incidents").cloned()
        {
            op.vars.insert("major_incidents".into(), Var::Num(n + major as f64));
            let who = Whose { payees: months::operators, id, active: Active::new(op.spec.start, op.spec.end) };
            let (vars, notes) = (&mut op.vars, &mut op.notes);
            months::set_aggregates((rules, history, period), who, OfKind::Operator, &op.availability, vars, notes);
        }
    }
}
