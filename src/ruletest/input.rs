//! A test case's inputs → [`Facts`], the way the Prometheus source would
//! build them: the same slot model ([`samples::node_facts`]), maintenance
//! from the rules, labels mapped by `source.*_label`.

use super::file::TestCase;
use super::series::{Selector, parse_series, parse_values};
use crate::facts::{Facts, InputFacts, Interval};
use crate::history::History;
use crate::period::Period;
use crate::rules::Rules;
use crate::source::samples::{self, Sample};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// At most this many values in all the series of one test case.
pub const MAX_VALUES_PER_TEST: usize = 20_000_000;

/// The period, evaluation time and facts of one test case.
pub struct Prepared {
    pub period: Period,
    pub now: DateTime<Utc>,
    pub facts: Facts,
    pub history: History,
}

/// Build the facts of a test case; every problem is reported at once.
pub fn prepare(case: &TestCase, rules: &Rules) -> Result<Prepared, Vec<String>> {
    let mut errs = vec![];
    let period = match Period::month(&case.period, rules.time_zone) {
        Ok(p) => p,
        Err(e) => return Err(vec![e.to_string()]),
    };
    let now = case.evaluated_at.unwrap_or(period.end);
    if now <= period.start {
        errs.push(format!(
            "evaluated_at {} is not after the period start {}",
            now.to_rfc3339(),
            period.start.to_rfc3339()
        ));
    }
    let end = now.min(period.end);
    let step = case.interval.unwrap_or(rules.source.step).seconds();
    if step <= 0 {
        return Err(vec!["interval must be positive".into()]);
    }
    let up_sel = Selector::parse(&rules.source.up).map_err(|e| vec![format!("source.up: {e}")])?;
    let degraded_sel = match &rules.source.degraded {
        Some(d) => Some(Selector::parse(d).map_err(|e| vec![format!("source.degraded: {e}")])?),
        None => None,
    };
    let maintenance = rules.maintenance_intervals(period.start, end);
    let mut sources = super::classes::Sources::new(rules)?;

    let mut nodes = BTreeMap::new();
    let mut degraded = vec![];
    let mut total_values = 0usize;
    for s in &case.input_series {
        let at = format!("series {} (line {})", s.series.value, s.series.pos.line);
        let series = match parse_series(&s.series) {
            Ok(x) => x,
            Err(e) => {
                errs.push(format!("{at}: {e}"));
                continue;
            }
        };
        let values = match parse_values(&s.values) {
            Ok(v) => v,
            Err(e) => {
                errs.push(format!("{at}: values: {e}"));
                continue;
            }
        };
        total_values += values.len();
        if total_values > MAX_VALUES_PER_TEST {
            errs.push(format!("{at}: more than {MAX_VALUES_PER_TEST} values in the series of one test"));
            break;
        }
        let samples: Vec<Sample> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (period.start + Duration::seconds(step * (i as i64 + 1)), v)))
            .collect();
        let in_window: Vec<Sample> = samples.iter().copied().filter(|(t, _)| *t <= end).collect();
        let fed = match sources.feed(&series, &in_window) {
            Ok(fed) => fed,
            Err(e) => {
                errs.push(format!("{at}: {e}"));
                continue;
            }
        };
        let node = series.labels.get(&rules.source.node_label).cloned();
        let feeds_nodes = up_sel.matches(&series) || degraded_sel.as_ref().is_some_and(|d| d.matches(&series));
        let Some(node) = node.filter(|_| feeds_nodes) else {
            if feeds_nodes {
                errs.push(format!("{at}: no `{}` label naming the node", rules.source.node_label));
            } else if !fed {
                let also = rules
                    .source
                    .degraded
                    .as_ref()
                    .map(|d| format!(" nor source.degraded `{}`", d.value))
                    .unwrap_or_default();
                let sources = if rules.incident_sources.is_empty() { "" } else { " nor an incident source" };
                errs.push(format!("{at}: feeds neither source.up `{}`{also}{sources}", rules.source.up.value));
            }
            continue;
        };
        if up_sel.matches(&series) {
            let mut nf = samples::node_facts(&node, &samples, period.start, end, step, &maintenance);
            nf.operator = rules.source.operator_label.as_ref().and_then(|l| series.labels.get(l).cloned());
            nf.region = rules.source.region_label.as_ref().and_then(|l| series.labels.get(l).cloned());
            if nodes.insert(node.clone(), nf).is_some() {
                errs.push(format!("{at}: a second `up` series for node {node}"));
            }
        } else {
            // Runs of 1 are degraded: the same runs `outages` finds in the inverted series.
            let inverted: Vec<Sample> = samples.iter().map(|(t, v)| (*t, if *v == 0.0 { 1.0 } else { 0.0 })).collect();
            for o in samples::outages(&inverted, period.start, end, step) {
                degraded.push(Interval { node: node.clone(), start: o.start, end: o.end });
            }
        }
    }
    degraded.sort();

    let mut inputs = BTreeMap::new();
    for spec in &rules.inputs {
        inputs.insert(spec.name.value.clone(), InputFacts::Values(BTreeMap::new()));
    }
    for (name, values) in &case.inputs {
        if !rules.inputs.iter().any(|i| i.name.value == *name) {
            errs.push(format!("inputs: `{name}` is not an input of the rules"));
            continue;
        }
        inputs.insert(name.clone(), InputFacts::Values(values.0.clone()));
    }
    for (name, message) in &case.failed_inputs {
        if !rules.inputs.iter().any(|i| i.name.value == *name) {
            errs.push(format!("failed_inputs: `{name}` is not an input of the rules"));
            continue;
        }
        if case.inputs.contains_key(name) {
            errs.push(format!("input `{name}` is both given and failed"));
        }
        inputs.insert(name.clone(), InputFacts::Failed(message.clone()));
    }

    let (acknowledgements, incident_acknowledgements) = match &case.acknowledgements {
        None => (None, vec![]),
        Some(acks) => {
            let (nodes, incidents) = super::classes::acknowledgements(acks, &mut errs);
            (Some(nodes), incidents)
        }
    };

    if !errs.is_empty() {
        return Err(errs);
    }
    let facts = Facts {
        start: period.start,
        end,
        step_seconds: step,
        nodes: nodes.into_values().collect(),
        degraded,
        inputs,
        acknowledgements,
        reported: sources.incidents(end),
        incident_acknowledgements,
    };
    let history = crate::history::figures::history(case.history.clone(), "rule test").map_err(|e| vec![e])?;
    Ok(Prepared { period, now, facts, history })
}
