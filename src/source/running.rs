//! Running totals: the month-to-date state of the `up` (and degraded)
//! series and of the incident sources ([`incidents`]), kept so that each
//! reading only reads what is new.
//!
//! A [`Running`] covers `(start, end]`. [`read_window`] reads `(end, new_end]`
//! into a [`Delta`] (async, may fail: then nothing changes) and
//! [`Running::apply`] adds it (sync, cannot fail). [`Running::facts`] turns
//! the totals into [`Facts`]. `evaluate` reads a month as one window,
//! `serve` as one coarse window on start and then one small window per cycle;
//! both end in the same totals, so month-to-date from `serve` equals
//! `evaluate` over the same window:
//!
//! - sample counts and sums add up exactly: ranges are left-open,
//!   `(t − r, t]`, so consecutive windows never count a sample twice;
//! - an outage that crosses a window border continues: each track keeps its
//!   `tail`, the last down sample while the run may still go on, and the next
//!   window's samples are read after it, as one sequence;
//! - the expected slots and maintenance slots are computed over the whole
//!   `(start, end]`, never summed per window.
//!
//! How a window is read (raw or per day, PromQL or remote read) is the
//! [`window`](super::window) module's.

use super::answer::SourceError;
use super::incidents;
use super::plan::Count;
use super::prometheus::Client;
use super::record::{QueryRecord, Reading};
use super::samples::{self, Sample};
use super::window::{self, Delta, NodeLabels};
use crate::facts::{Facts, InputFacts, Interval, NodeFacts, Outage};
use crate::rules::Rules;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// Runs of "down" samples of one series, as they grow window by window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Track {
    /// Runs so far, sorted; the `ongoing` flags are set by [`Running::facts`].
    runs: Vec<Outage>,
    /// The last down sample, while the last run may still continue.
    tail: Option<DateTime<Utc>>,
}

impl Track {
    /// Continue with the next window's samples (sorted, "down" = 0).
    /// `open_at_end`: no sample of the window comes after `samples`.
    fn extend(&mut self, samples: &[Sample], start: DateTime<Utc>, end: DateTime<Utc>, step: i64, open_at_end: bool) {
        let mut seq: Vec<Sample> = Vec::with_capacity(samples.len() + 1);
        let resumed = self.tail.map(|t| {
            seq.push((t, 0.0));
            self.runs.pop().expect("a tail belongs to the last run")
        });
        seq.extend_from_slice(samples);
        let mut runs = samples::outages(&seq, start, end, step);
        if let Some(prev) = resumed {
            // `seq` starts with the tail sample, so the first run is the resumed one.
            runs[0].start = prev.start;
        }
        let last_down = seq.last().is_some_and(|(_, v)| *v == 0.0);
        self.tail = match runs.last() {
            Some(r) if open_at_end && last_down => Some(r.end),
            _ => None,
        };
        self.runs.extend(runs);
    }

    /// The run cannot continue: a later sample exists that is not down.
    fn close(&mut self) {
        self.tail = None;
    }

    /// The runs, the last one `ongoing` if it is open and its last down
    /// sample is less than a step before `end`.
    fn outages(&self, end: DateTime<Utc>, step: i64) -> Vec<Outage> {
        let mut out = self.runs.clone();
        for o in &mut out {
            o.ongoing = false;
        }
        if let (Some(t), Some(last)) = (self.tail, out.last_mut()) {
            last.ongoing = end - t < Duration::seconds(step);
        }
        out
    }
}

/// One node's running totals.
#[derive(Debug, Clone, Default, PartialEq)]
struct NodeRun {
    total: Count,
    maintenance: Count,
    labels: NodeLabels,
    down: Track,
}

/// Month-to-date running totals over `(start, end]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    step: i64,
    nodes: BTreeMap<String, NodeRun>,
    degraded: BTreeMap<String, Track>,
    /// The incidents of the rules' `incident_sources`.
    reported: incidents::Reported,
}

impl Running {
    /// Nothing read yet: `(start, start]`.
    pub fn new(rules: &Rules, start: DateTime<Utc>) -> Self {
        Running {
            start,
            end: start,
            step: rules.source.step.seconds(),
            nodes: BTreeMap::new(),
            degraded: BTreeMap::new(),
            reported: incidents::Reported::default(),
        }
    }

    /// Nodes seen so far.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Add a window read by [`read_window`] right after `self.end`.
    pub fn apply(&mut self, delta: Delta) {
        assert_eq!(delta.from, self.end, "windows must follow each other");
        let (start, end, step) = (self.start, delta.to, self.step);
        let Delta { counts, down, degraded, degraded_seen, reported, .. } = delta;
        self.reported.apply(reported);
        for (node, counts) in counts {
            let closes = counts.total.count > 0.0 && !down.contains_key(&node);
            let n = self.nodes.entry(node).or_default();
            n.total += counts.total;
            n.maintenance += counts.maintenance;
            if let Some(labels) = counts.labels {
                n.labels = labels;
            }
            if closes {
                n.down.close();
            }
        }
        for (node, (s, open)) in down {
            self.nodes.entry(node).or_default().down.extend(&s, start, end, step, open);
        }
        for (node, track) in &mut self.degraded {
            let had_samples = degraded_seen.as_ref().is_none_or(|seen| seen.contains(node));
            if had_samples && !degraded.contains_key(node) {
                track.close();
            }
        }
        for (node, (s, open)) in degraded {
            self.degraded.entry(node).or_default().extend(&s, start, end, step, open);
        }
        self.end = end;
    }

    /// The facts of `(start, end]` with these inputs.
    pub fn facts(&self, rules: &Rules, inputs: BTreeMap<String, InputFacts>) -> Facts {
        let (start, end, step) = (self.start, self.end, self.step);
        let slots = ((end - start).num_seconds() / step) as u64;
        let maintenance_samples = samples::slots_in(&rules.maintenance_intervals(start, end), step);
        let expected = slots.saturating_sub(maintenance_samples);
        let nodes = self
            .nodes
            .iter()
            .map(|(node, n)| {
                let (t, m) = (n.total, n.maintenance);
                let up = whole(t.sum - m.sum).min(expected);
                let down = whole((t.count - t.sum) - (m.count - m.sum)).min(expected - up);
                NodeFacts {
                    node: node.clone(),
                    operator: n.labels.operator.clone(),
                    region: n.labels.region.clone(),
                    up_samples: up,
                    down_samples: down,
                    expected_samples: expected,
                    maintenance_samples,
                    outages: n.down.outages(end, step),
                }
            })
            .collect();
        let mut degraded: Vec<Interval> = self
            .degraded
            .iter()
            .flat_map(|(node, t)| {
                t.outages(end, step).into_iter().map(|o| Interval { node: node.clone(), start: o.start, end: o.end })
            })
            .collect();
        degraded.sort();
        let reported = self.reported.facts(end);
        Facts { start, end, step_seconds: step, nodes, degraded, inputs, reported, ..Facts::default() }
    }
}

/// A sample count from a float sum (never negative).
fn whole(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 { v.round() as u64 } else { 0 }
}

/// Read the window `(start, end]` from Prometheus into facts: one
/// [`read_window`] from nothing, then the inputs ([`inputs::read_inputs`](super::inputs::read_inputs)).
/// See [`plan`]'s docs for what fails the reading.
/// Read `(running.end, to]` into a [`Delta`] for [`Running::apply`]: raw
/// when the window is short, else aggregated per day ([`window::read`]).
/// Any failing query fails the window (downtime is never guessed). Every
/// query sent is added to `log`, the failing ones too.
pub async fn read_window(
    client: &Client,
    rules: &Rules,
    running: &Running,
    to: DateTime<Utc>,
    log: &mut Vec<QueryRecord>,
) -> Result<Delta, SourceError> {
    window::read(client, rules, (running.end, to), running.node_count(), log).await
}

pub async fn read_facts(
    client: &Client,
    rules: &Rules,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Reading, SourceError> {
    let mut run = Running::new(rules, start);
    let mut queries = vec![];
    let delta = read_window(client, rules, &run, end, &mut queries).await?;
    run.apply(delta);
    let inputs = super::inputs::read_inputs(client, &rules.inputs, start, end, &mut queries).await;
    Ok(Reading { facts: run.facts(rules, inputs), queries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap() + Duration::minutes(m)
    }

    /// Samples every minute from t(1): '1' up, '0' down, '.' none.
    fn series(pattern: &str) -> Vec<Sample> {
        pattern
            .chars()
            .enumerate()
            .filter(|(_, c)| *c != '.')
            .map(|(i, c)| (t(i as i64 + 1), if c == '1' { 1.0 } else { 0.0 }))
            .collect()
    }

    /// The track of `pattern` read in windows cut at `cuts` (minutes) equals
    /// the track read at once.
    fn same_in_pieces(pattern: &str, cuts: &[i64]) {
        let all = series(pattern);
        let end = t(pattern.len() as i64);
        let whole = samples::outages(&all, t(0), end, 60);
        let mut track = Track::default();
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(pattern.len() as i64);
        for w in bounds.windows(2) {
            let s: Vec<Sample> = all.iter().copied().filter(|(x, _)| t(w[0]) < *x && *x <= t(w[1])).collect();
            if s.iter().any(|(_, v)| *v == 0.0) {
                track.extend(&s, t(0), t(w[1]), 60, true);
            } else if !s.is_empty() {
                track.close();
            }
        }
        assert_eq!(track.outages(end, 60), whole, "pattern {pattern} cut at {cuts:?}");
    }

    #[test]
    fn an_outage_across_window_borders_stays_one_outage() {
        same_in_pieces("1100000011", &[3, 5]);
        same_in_pieces("1100000000", &[3, 5, 8]);
        same_in_pieces("0000011100", &[1, 2, 7]);
    }

    #[test]
    fn a_gap_at_a_window_border_still_ends_the_outage() {
        same_in_pieces("1100..0011", &[4, 5, 6]);
        same_in_pieces("110.0", &[3, 4]);
    }

    #[test]
    fn up_samples_in_a_window_close_the_run() {
        same_in_pieces("110011100", &[4, 6]);
    }

    #[test]
    fn an_outage_stops_being_ongoing_when_data_stops() {
        let mut track = Track::default();
        track.extend(&series("110"), t(0), t(3), 60, true);
        assert!(track.outages(t(3), 60)[0].ongoing);
        assert!(!track.outages(t(9), 60)[0].ongoing, "no sample since: not known to go on");
    }
}
