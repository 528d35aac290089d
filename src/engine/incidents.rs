//! Incidents: outages longer than `failure_after` (maintenance discounted)
//! that overlap in time, across nodes, form one incident; its severity is the
//! first `severities[]` whose `when` holds. Degraded-performance intervals
//! form their own incidents. SLA verdicts and per-severity summaries.
//!
//! The response clock starts at the page: when the failure is detected,
//! i.e. once a node of the incident has been down `failure_after` outside
//! maintenance (first down sample + `failure_after`), the moment the
//! incident exists for `serve` and its alert fires; a degraded-performance
//! incident pages at its start. The incident's `start` stays the first down
//! sample (downtime, duration and the resolve target count from it). The
//! respond verdict, the escalation ladder and `avg_response_seconds` all
//! count from the page. An outage is an incident only once its page fired,
//! so every incident needs a response.

use super::Maint;
use super::availability::{NodeInfo, overlap_seconds};
use crate::evaluation::{Incident, SeveritySummary, Verdict};
use crate::facts::Facts;
use crate::money::{ratio, to_f64};
use crate::rules::Rules;
use crate::rules::expr::{Var, Vars};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// One node down (or degraded) over `[start, end)`, detected (paged) at `paged`.
#[derive(Debug, Clone)]
struct Span {
    node: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    ongoing: bool,
    paged: DateTime<Utc>,
}

/// All incidents of the window, sorted by (start, id).
pub(crate) fn build(
    facts: &Facts,
    rules: &Rules,
    nodes: &BTreeMap<String, NodeInfo>,
    maint: &Maint,
    warnings: &mut Vec<String>,
) -> Vec<Incident> {
    let failure_after = rules.source.failure_after.seconds();
    let mut failures = vec![];
    for nf in &facts.nodes {
        for o in &nf.outages {
            let countable = (o.end - o.start).num_seconds() - overlap_seconds(o.start, o.end, maint);
            if countable > failure_after {
                let paged = page_time(o.start, failure_after, maint);
                failures.push(Span { node: nf.node.clone(), start: o.start, end: o.end, ongoing: o.ongoing, paged });
            }
        }
    }
    let degraded: Vec<Span> = facts
        .degraded
        .iter()
        .filter(|d| d.start < d.end)
        .map(|d| Span { node: d.node.clone(), start: d.start, end: d.end, ongoing: d.end >= facts.end, paged: d.start })
        .collect();

    let mut groups: Vec<(Vec<Span>, bool)> = vec![];
    for (spans, is_degraded) in [(failures, false), (degraded, true)] {
        groups.extend(group_overlapping(spans).into_iter().map(|g| (g, is_degraded)));
    }
    // An acknowledgement belongs to the latest incident of its node that had
    // started by then: bound each incident's acknowledgements by the start of
    // the next incident sharing a node.
    let meta: Vec<(DateTime<Utc>, BTreeSet<&str>)> = groups
        .iter()
        .map(|(g, _)| {
            let start = g.iter().map(|s| s.start).min().unwrap_or(facts.end);
            (start, g.iter().map(|s| s.node.as_str()).collect())
        })
        .collect();
    // The next start after `start` among a node's incidents is the first
    // greater one of its sorted starts (not a search of every incident).
    let mut starts_of: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
    for (start, ns) in &meta {
        for n in ns {
            starts_of.entry(n).or_default().push(*start);
        }
    }
    for starts in starts_of.values_mut() {
        starts.sort();
    }
    let index = NodeIndex::new(nodes);
    let mut out = vec![];
    for (k, (group, is_degraded)) in groups.iter().enumerate() {
        let (start, ns) = &meta[k];
        let next_after = |n: &&str| {
            let starts = &starts_of[*n];
            starts.get(starts.partition_point(|s| s <= start)).copied()
        };
        let ack_before = ns.iter().filter_map(next_after).min();
        if let Some(i) = make_incident(group, *is_degraded, ack_before, facts, rules, &index, maint, warnings) {
            out.push(i);
        }
    }
    out.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    out
}

/// When an outage from `start` is detected as a failure, i.e. paged: once it
/// has been down `failure_after` seconds outside maintenance windows
/// (`start + failure_after` when no window intervenes). Maintenance time
/// does not count towards it, as it does not count towards the failure.
fn page_time(start: DateTime<Utc>, failure_after: i64, maint: &Maint) -> DateTime<Utc> {
    let mut windows: Vec<_> = maint.iter().filter(|(_, me)| *me > start).collect();
    windows.sort();
    let (mut at, mut need) = (start, failure_after);
    for (ms, me) in windows {
        if *me <= at {
            continue;
        }
        let before = ((*ms).max(at) - at).num_seconds();
        if before >= need {
            break;
        }
        need -= before;
        at = *me;
    }
    at + chrono::Duration::seconds(need)
}

/// Groups of spans whose `[start, end)` overlap, transitively.
fn group_overlapping(mut spans: Vec<Span>) -> Vec<Vec<Span>> {
    spans.sort_by(|a, b| (a.start, a.end, &a.node).cmp(&(b.start, b.end, &b.node)));
    let mut groups: Vec<(DateTime<Utc>, Vec<Span>)> = vec![];
    for s in spans {
        match groups.last_mut() {
            Some((end, g)) if s.start < *end => {
                *end = (*end).max(s.end);
                g.push(s);
            }
            _ => groups.push((s.end, vec![s])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Most spans open at the same time (half-open intervals: an end at `t`
/// comes before a start at `t`).
fn max_simultaneous<'a>(spans: impl IntoIterator<Item = &'a Span>) -> u64 {
    let mut events: Vec<(DateTime<Utc>, i64)> = vec![];
    for s in spans {
        events.push((s.start, 1));
        events.push((s.end, -1));
    }
    events.sort();
    let (mut cur, mut best) = (0i64, 0i64);
    for (_, d) in events {
        cur += d;
        best = best.max(cur);
    }
    best as u64
}

/// The resolved nodes, and how many each region has.
struct NodeIndex<'a> {
    nodes: &'a BTreeMap<String, NodeInfo>,
    region_sizes: BTreeMap<&'a str, u64>,
}

impl<'a> NodeIndex<'a> {
    fn new(nodes: &'a BTreeMap<String, NodeInfo>) -> Self {
        let mut region_sizes = BTreeMap::new();
        for r in nodes.values().filter_map(|n| n.region.as_deref()) {
            *region_sizes.entry(r).or_default() += 1;
        }
        NodeIndex { nodes, region_sizes }
    }
}

#[allow(clippy::too_many_arguments)]
fn make_incident(
    group: &[Span],
    degraded: bool,
    ack_before: Option<DateTime<Utc>>,
    facts: &Facts,
    rules: &Rules,
    index: &NodeIndex,
    maint: &Maint,
    warnings: &mut Vec<String>,
) -> Option<Incident> {
    let start = group.iter().map(|s| s.start).min()?;
    let paged_at = group.iter().map(|s| s.paged).min()?;
    let last = group.iter().map(|s| s.end).max()?;
    let open = group.iter().any(|s| s.ongoing);
    let until = if open { last.max(facts.end) } else { last };
    let duration = (until - start).num_seconds() - overlap_seconds(start, until, maint);

    let node_set: BTreeSet<&str> = group.iter().map(|s| s.node.as_str()).collect();
    let nodes = index.nodes;
    let info = |n: &str| nodes.get(n);
    let regions: BTreeSet<String> = node_set.iter().filter_map(|n| info(n)?.region.clone()).collect();
    let operators: BTreeSet<String> = node_set.iter().filter_map(|n| info(n)?.operator.clone()).collect();

    let fleet_nodes = nodes.len() as u64;
    let (nodes_down, fleet_ratio, region_ratio) = if degraded {
        (0, Decimal::ZERO, Decimal::ZERO)
    } else {
        let down = max_simultaneous(group);
        let mut region_ratio = Decimal::ZERO;
        for r in &regions {
            let size = index.region_sizes.get(r.as_str()).copied().unwrap_or(0);
            let in_region = group.iter().filter(|s| info(&s.node).and_then(|n| n.region.as_deref()) == Some(r));
            if let Some(q) = ratio(max_simultaneous(in_region), size) {
                region_ratio = region_ratio.max(q);
            }
        }
        (down, ratio(down, fleet_nodes).unwrap_or_default(), region_ratio)
    };

    let vars: Vars = [
        ("nodes_down", Var::Num(nodes_down as f64)),
        ("fleet_nodes", Var::Num(fleet_nodes as f64)),
        ("fleet_down_ratio", Var::Num(to_f64(fleet_ratio))),
        ("region_down_ratio", Var::Num(to_f64(region_ratio))),
        ("regions_affected", Var::Num(regions.len() as f64)),
        ("duration_seconds", Var::Num(duration as f64)),
        ("degraded", Var::Bool(degraded)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    // The incident is named after the node that failed first (ties by name):
    // nodes that join it later do not rename it, so its pages keep their labels.
    let first = group.iter().min_by(|a, b| (a.start, &a.node).cmp(&(b.start, &b.node)))?.node.clone();
    let mut severity = None;
    for s in &rules.severities {
        match s.when.eval_bool(&vars) {
            Ok(true) => {
                severity = Some(s);
                break;
            }
            Ok(false) => {}
            Err(e) => warnings.push(format!(
                "severity {} could not be decided for the incident at {} on {}: {e}",
                s.id.value,
                start.to_rfc3339(),
                first
            )),
        }
    }
    let Some(sev) = severity else {
        warnings.push(format!(
            "{} at {} on {} matched no severity; not counted as an incident",
            if degraded { "degraded performance" } else { "an outage" },
            start.to_rfc3339(),
            first
        ));
        return None;
    };

    let resolve_target = sev.resolve_within.seconds();
    let respond_target = sev.respond_within.seconds();
    let resolve_verdict = if duration > resolve_target {
        Verdict::Breached
    } else if open {
        Verdict::Open
    } else {
        Verdict::Met
    };
    // The acknowledgement is the first of the incident's nodes from its
    // first down sample on (a node silenced before the page answers it at
    // once: response 0); the response clock runs from the page.
    let (acknowledged_at, response_seconds, respond_verdict) = match &facts.acknowledgements {
        None => (None, None, Verdict::Unknown),
        Some(acks) => {
            let ack = acks
                .iter()
                .filter(|a| a.at >= start && ack_before.is_none_or(|b| a.at < b) && node_set.contains(a.node.as_str()))
                .map(|a| a.at)
                .min();
            match ack {
                Some(at) => {
                    let secs = (at - paged_at).num_seconds().max(0);
                    let v = if secs <= respond_target { Verdict::Met } else { Verdict::Breached };
                    (Some(at), Some(secs), v)
                }
                // Never acknowledged: a breach once the respond target has
                // passed (resolved or not), open until then.
                None if (facts.end - paged_at).num_seconds() > respond_target => (None, None, Verdict::Breached),
                None => (None, None, Verdict::Open),
            }
        }
    };

    let stop = if open { facts.end } else { last.min(facts.end) };
    let acked = acknowledged_at.filter(|at| *at <= stop);
    let stopped = acked.is_some() || !open;
    // Escalation climbs from the page; an acknowledgement before it leaves
    // the first level (the operator's page) paged.
    let until = acked.unwrap_or(stop).max(paged_at);
    let escalation_level = escalation_level(rules, &sev.id.value, paged_at, until, stopped);
    let escalation = escalation_level.checked_sub(1).map(|k| rules.escalation[k as usize].id.value.clone());

    Some(Incident {
        id: format!("{}-{}-{}", sev.id.value, start.format("%Y%m%dT%H%MZ"), first),
        severity: sev.id.value.clone(),
        start,
        paged_at,
        end: if open { None } else { Some(last) },
        duration_seconds: duration,
        nodes: node_set.iter().map(|s| s.to_string()).collect(),
        regions: regions.into_iter().collect(),
        operators: operators.into_iter().collect(),
        max_nodes_down: nodes_down,
        respond_target_seconds: respond_target,
        resolve_target_seconds: resolve_target,
        acknowledged_at,
        response_seconds,
        respond_verdict,
        resolve_verdict,
        escalation_level,
        escalation,
    })
}

/// The escalation level an incident of `severity` paged at `start` has
/// reached by `until` (its acknowledgement, resolution or the window end):
/// levels are paged one `after` another while they apply to the severity.
/// An acknowledgement or resolution (`stopped`) at the moment a level falls
/// due stops it from being paged; the first level is paged at the page.
fn escalation_level(rules: &Rules, severity: &str, start: DateTime<Utc>, until: DateTime<Utc>, stopped: bool) -> u32 {
    let mut due = start;
    let mut level = 0;
    for l in &rules.escalation {
        if !l.applies_to(severity) {
            break;
        }
        due += chrono::Duration::seconds(l.after.seconds());
        let reached = if stopped && due > start { due < until } else { due <= until };
        if !reached {
            break;
        }
        level += 1;
    }
    level
}

/// Seconds the response clock of `i` ran: from its page to its
/// acknowledgement, or to its resolution (to `window_end` while open) when
/// that came first or it was never acknowledged. Never acknowledging an
/// incident thus counts at least what any acknowledgement would have; an
/// acknowledgement after the resolution counts as the resolution.
fn response_clock_seconds(i: &Incident, window_end: DateTime<Utc>) -> i64 {
    let stopped = i.end.unwrap_or(window_end).min(window_end);
    let stop = i.acknowledged_at.map_or(stopped, |at| at.min(stopped));
    (stop - i.paged_at).num_seconds().max(0)
}

/// Mean response clock (see [`response_clock_seconds`]) over `incidents`,
/// acknowledged or not; `None` without any.
pub(crate) fn mean_response_clock<'a>(
    incidents: impl IntoIterator<Item = &'a Incident>,
    window_end: DateTime<Utc>,
) -> Option<Decimal> {
    mean(incidents.into_iter().map(|i| response_clock_seconds(i, window_end)))
}

/// Mean of resolved incidents' durations; `None` without any.
pub(crate) fn mttr<'a>(incidents: impl IntoIterator<Item = &'a Incident>) -> Option<Decimal> {
    mean(incidents.into_iter().filter(|i| i.end.is_some()).map(|i| i.duration_seconds))
}

/// Exact mean of whole seconds; `None` without any.
pub(super) fn mean(seconds: impl IntoIterator<Item = i64>) -> Option<Decimal> {
    let all: Vec<i64> = seconds.into_iter().collect();
    if all.is_empty() {
        return None;
    }
    let sum: i64 = all.iter().sum();
    Some((Decimal::from(sum) / Decimal::from(all.len() as u64)).normalize())
}

/// One summary per severity, in rules order.
pub(crate) fn summaries(rules: &Rules, incidents: &[Incident]) -> Vec<SeveritySummary> {
    rules
        .severities
        .iter()
        .map(|s| {
            let of: Vec<&Incident> = incidents.iter().filter(|i| i.severity == s.id.value).collect();
            SeveritySummary {
                severity: s.id.value.clone(),
                name: s.name.clone(),
                incidents: of.len() as u64,
                open: of.iter().filter(|i| i.end.is_none()).count() as u64,
                mttr_seconds: mttr(of.iter().copied()),
                resolve_breaches: of.iter().filter(|i| i.resolve_verdict == Verdict::Breached).count() as u64,
                respond_breaches: of.iter().filter(|i| i.respond_verdict == Verdict::Breached).count() as u64,
                mean_response_seconds: mean(of.iter().filter_map(|i| i.response_seconds)),
            }
        })
        .collect()
}
