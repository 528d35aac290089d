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
//! Two ways to read a window:
//! - **raw** (short windows, the steady state of `serve`): every sample of
//!   the window, one query per selector. Prometheus loads each sample once:
//!   the load equals what it ingested.
//! - **aggregate** (long windows): per day, `count_over_time` and
//!   `sum_over_time` give counts; raw samples only where there was downtime.
//!   With remote read (a plain selector, a server that has it: see
//!   [`remote_read`]), the same queries are answered from the window's
//!   samples, each loaded once, instead of sent.

use super::answer::{Labels, QueryAnswer, SourceError};
use super::incidents;
use super::plan::{self, Ask, Count, CountWindow, Job, Window};
use super::prometheus::Client;
use super::record::{Protocol, QueryKind, QueryRecord, Reading};
use super::remote_read::digest::{Digest, Keep};
use super::remote_read::{self, Read};
use super::samples::{self, Sample};
use crate::facts::{Facts, InputFacts, Interval, NodeFacts, Outage};
use crate::rules::Rules;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Longest window read raw (every sample).
pub const RAW_WINDOW_SECONDS: i64 = 3_600;
/// Most samples (known nodes × slots) a raw window may hold.
pub const RAW_WINDOW_MAX_SAMPLES: u64 = 2_000_000;

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
    labels: Labels,
    down: Track,
}

/// Month-to-date running totals over `(start, end]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    step: i64,
    /// The labels kept per node: the rules' operator and region labels
    /// (all that [`Running::facts`] reads; a node's other labels would cost
    /// memory for every node all month).
    keep_labels: Vec<String>,
    nodes: BTreeMap<String, NodeRun>,
    degraded: BTreeMap<String, Track>,
    /// The incidents of the rules' `incident_sources`.
    reported: incidents::Reported,
}

/// What one window `(from, to]` read; applied only when every query succeeded.
#[derive(Debug, Clone, Default)]
pub struct Delta {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Per node: the window's count (all samples), the part inside maintenance windows, and labels.
    counts: BTreeMap<String, (Count, Count, Labels)>,
    /// Per node: down samples read (raw), and whether no sample of the window came after them.
    down: BTreeMap<String, (Vec<Sample>, bool)>,
    /// Per node: degraded samples (as "down" = 0), and the same flag.
    degraded: BTreeMap<String, (Vec<Sample>, bool)>,
    /// Read raw: the nodes with any sample of the degraded series. `None`
    /// when read per day (then a run not reaching the window end is closed).
    degraded_seen: Option<BTreeSet<String>>,
    /// The incident sources' samples.
    reported: incidents::Read,
}

impl Running {
    /// Nothing read yet: `(start, start]`.
    pub fn new(rules: &Rules, start: DateTime<Utc>) -> Self {
        Running {
            start,
            end: start,
            step: rules.source.step.seconds(),
            keep_labels: [&rules.source.operator_label, &rules.source.region_label]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
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
        for (node, (count, maint, labels)) in counts {
            let closes = count.count > 0.0 && !down.contains_key(&node);
            let n = self.nodes.entry(node).or_default();
            n.total += count;
            n.maintenance += maint;
            if !labels.is_empty() {
                let kept: Labels = labels.into_iter().filter(|(k, _)| self.keep_labels.contains(k)).collect();
                if n.labels != kept {
                    n.labels = kept;
                }
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
                let label = |name: &Option<String>| name.as_ref().and_then(|k| n.labels.get(k).cloned());
                NodeFacts {
                    node: node.clone(),
                    operator: label(&rules.source.operator_label),
                    region: label(&rules.source.region_label),
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

/// Read `(running.end, to]`: raw when the window is short, else aggregated
/// per day. Any failing query fails the window (downtime is never guessed).
/// Every query sent is added to `log`, the failing ones too.
pub async fn read_window(
    client: &Client,
    rules: &Rules,
    running: &Running,
    to: DateTime<Utc>,
    log: &mut Vec<QueryRecord>,
) -> Result<Delta, SourceError> {
    let from = running.end;
    let step = rules.source.step.seconds();
    if step <= 0 || to <= from {
        return Err(SourceError::Config(format!(
            "cannot read ({from}, {to}] at a step of {step}s: need from < to and a positive step"
        )));
    }
    let seconds = (to - from).num_seconds();
    let slots = (seconds / step + 1) as u64;
    let mut delta = if seconds <= RAW_WINDOW_SECONDS && running.node_count() as u64 * slots <= RAW_WINDOW_MAX_SAMPLES {
        read_raw(client, rules, (from, to), log).await
    } else {
        read_aggregate(client, rules, (from, to), log).await
    }?;
    delta.reported = incidents::read(client, rules, (from, to), log).await?;
    Ok(delta)
}

/// Every sample of a short window.
async fn read_raw(
    client: &Client,
    rules: &Rules,
    w: Window,
    queries: &mut Vec<QueryRecord>,
) -> Result<Delta, SourceError> {
    let src = &rules.source;
    let maintenance = rules.maintenance_intervals(w.0, w.1);
    let mut jobs = vec![Job::new("availability", QueryKind::Raw, plan::range_selector(&src.up, w), w.1)];
    if let Some(sel) = &src.degraded {
        jobs.push(Job::new("degraded", QueryKind::Raw, plan::range_selector(sel, w), w.1));
    }
    let answers = plan::run_all(client, jobs.clone(), queries).await?;
    let mut delta = Delta { from: w.0, to: w.1, ..Default::default() };
    let mut answers = answers.into_iter().zip(&jobs);
    let (up, job) = answers.next().expect("one answer per job");
    for (labels, s) in plan::matrix(&job.query, up)? {
        let node = plan::node_of(&job.query, &labels, &src.node_label)?.to_string();
        let entry = delta.counts.entry(node.clone()).or_default();
        for &(t, v) in &s {
            let c = Count { count: 1.0, sum: v };
            entry.0 += c;
            if samples::in_any(t, &maintenance) {
                entry.1 += c;
            }
        }
        entry.2 = labels;
        merge_samples(&mut delta.down, node, s);
    }
    // Nodes whose samples were all up only close their track (see `apply`).
    delta.down.retain(|_, (s, _)| s.iter().any(|(_, v)| *v == 0.0));
    if let Some((answer, job)) = answers.next() {
        let mut seen = BTreeSet::new();
        for (labels, s) in plan::matrix(&job.query, answer)? {
            let node = plan::node_of(&job.query, &labels, &src.node_label)?.to_string();
            seen.insert(node.clone());
            merge_samples(&mut delta.degraded, node, degraded_as_down(&s));
        }
        delta.degraded.retain(|_, (s, _)| s.iter().any(|(_, v)| *v == 0.0));
        delta.degraded_seen = Some(seen);
    }
    Ok(delta)
}

/// Add one series' samples (all of the window) to a node's, sorted and unique.
fn merge_samples(map: &mut BTreeMap<String, (Vec<Sample>, bool)>, node: String, s: Vec<Sample>) {
    let entry = map.entry(node).or_insert_with(|| (vec![], true));
    entry.0.extend(s);
    entry.0.sort_by_key(|(t, _)| *t);
    entry.0.dedup_by_key(|(t, _)| *t);
}

/// Degraded samples in the outage model: 1 (degraded) → 0 ("down").
fn degraded_as_down(s: &[Sample]) -> Vec<Sample> {
    s.iter().map(|(t, v)| (*t, if *v == 1.0 { 0.0 } else { 1.0 })).collect()
}

/// Counts per day, raw samples only where there was downtime: the PromQL
/// plan's queries, sent, or answered from a remote read of the window
/// ([`remote_read`]) that loads each sample once.
async fn read_aggregate(
    client: &Client,
    rules: &Rules,
    w: Window,
    queries: &mut Vec<QueryRecord>,
) -> Result<Delta, SourceError> {
    let src = &rules.source;
    let step = src.step.seconds();
    let chunks = plan::chunks(w.0, w.1, plan::CHUNK_SECONDS);
    let maintenance = rules.maintenance_intervals(w.0, w.1);
    let digests = remote_digests(client, rules, &chunks, &maintenance, queries).await?;
    let (up_digest, degraded_digest) = match &digests {
        Some((u, d)) => (Some(u), d.as_ref()),
        None => (None, None),
    };

    // 1. Counts per chunk, and over the maintenance windows.
    let chunk_jobs = plan::count_jobs("availability", &src.up, &chunks, CountWindow::Chunk);
    let maint_jobs = plan::count_jobs("maintenance", &src.up, &maintenance, CountWindow::Maintenance);
    let all = chunk_jobs.iter().chain(&maint_jobs).cloned().collect();
    let mut answers = ask(client, up_digest, &src.node_label, all, queries).await?;
    let maint_answers = answers.split_off(chunk_jobs.len());
    let mut per_chunk: BTreeMap<String, BTreeMap<usize, Count>> = BTreeMap::new();
    let mut delta = Delta { from: w.0, to: w.1, ..Default::default() };
    for (i, node, c, labels) in plan::parse_counts(&chunk_jobs, answers, &src.node_label)? {
        *per_chunk.entry(node.clone()).or_default().entry(i).or_default() += c;
        let e = delta.counts.entry(node).or_default();
        e.0 += c;
        e.2 = labels;
    }
    for (_, node, c, labels) in plan::parse_counts(&maint_jobs, maint_answers, &src.node_label)? {
        let e = delta.counts.entry(node).or_default();
        e.1 += c;
        if e.2.is_empty() {
            e.2 = labels;
        }
    }

    // 2. Raw samples where there was downtime.
    let down_chunks: BTreeMap<String, BTreeSet<usize>> = per_chunk
        .iter()
        .map(|(n, cs)| (n.clone(), cs.iter().filter(|(_, c)| c.count - c.sum > 0.0).map(|(i, _)| *i).collect()))
        .filter(|(_, set): &(String, BTreeSet<usize>)| !set.is_empty())
        .collect();
    let jobs = plan::raw_jobs(&src.up, &src.node_label, &chunks, &down_chunks, step, "outages");
    for (node, s) in raw(client, up_digest, &src.node_label, &jobs, 0.0, queries).await? {
        let last_down = down_chunks.get(&node).and_then(|set| set.last()).copied().unwrap_or(0);
        let last_any = per_chunk[&node].iter().filter(|(_, c)| c.count > 0.0).map(|(i, _)| *i).max().unwrap_or(0);
        delta.down.insert(node, (s, last_any <= last_down));
    }

    // 3. Degraded: chunks with any degraded sample, then raw samples there.
    if let Some(sel) = &src.degraded {
        let jobs: Vec<Job> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let q = format!("sum_over_time({})", plan::range_selector(sel, *c));
                Job::new("degraded", QueryKind::Instant, q, c.1)
                    .asking(Ask::Count { window: CountWindow::Chunk(i), sum: true })
            })
            .collect();
        let answers = ask(client, degraded_digest, &src.node_label, jobs.clone(), queries).await?;
        let mut wanted: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for (i, (job, answer)) in jobs.iter().zip(answers).enumerate() {
            for (labels, v) in plan::vector(&job.query, answer)? {
                if v > 0.0 {
                    wanted
                        .entry(plan::node_of(&job.query, &labels, &src.node_label)?.to_string())
                        .or_default()
                        .insert(i);
                }
            }
        }
        let jobs = plan::raw_jobs(sel, &src.node_label, &chunks, &wanted, step, "degraded");
        for (node, s) in raw(client, degraded_digest, &src.node_label, &jobs, 1.0, queries).await? {
            // Without a count of the degraded series, a run is taken to go on
            // only if it reached the window's last chunk.
            let open = wanted.get(&node).and_then(|set| set.last()).is_some_and(|i| *i + 1 == chunks.len());
            delta.degraded.insert(node, (degraded_as_down(&s), open));
        }
    }
    Ok(delta)
}

/// The plan's `jobs` answered: from `digest` (remote read) when there is
/// one, else sent as PromQL.
async fn ask(
    client: &Client,
    digest: Option<&Digest>,
    node_label: &str,
    jobs: Vec<Job>,
    log: &mut Vec<QueryRecord>,
) -> Result<Vec<QueryAnswer>, SourceError> {
    match digest {
        Some(d) => remote_read::answer_all(client, d, node_label, jobs, log).await,
        None => plan::run_all(client, jobs, log).await,
    }
}

/// The raw samples of `jobs` per node ([`plan::raw_samples`]), asked
/// [`plan::CONCURRENCY`] jobs at a time so that only a few answers are held
/// before they are cut to what outages need.
async fn raw(
    client: &Client,
    digest: Option<&Digest>,
    node_label: &str,
    jobs: &[Job],
    down_value: f64,
    log: &mut Vec<QueryRecord>,
) -> Result<BTreeMap<String, Vec<Sample>>, SourceError> {
    let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for group in jobs.chunks(plan::CONCURRENCY) {
        let answers = ask(client, digest, node_label, group.to_vec(), log).await?;
        for (node, s) in plan::raw_samples(group, answers, node_label, down_value)? {
            out.entry(node).or_default().extend(s);
        }
    }
    for s in out.values_mut() {
        *s = plan::sorted_unique(std::mem::take(s));
    }
    Ok(out)
}

/// The `up` (and degraded) series of the window read with remote read, or
/// `None` when the window is read with PromQL (see [`remote_read::chosen`]).
async fn remote_digests(
    client: &Client,
    rules: &Rules,
    chunks: &[Window],
    maintenance: &[Window],
    log: &mut Vec<QueryRecord>,
) -> Result<Option<(Digest, Option<Digest>)>, SourceError> {
    let src = &rules.source;
    let mut selectors: Vec<&str> = vec![&src.up];
    selectors.extend(src.degraded.as_deref());
    let Some(matchers) = remote_read::chosen(client, &selectors)? else { return Ok(None) };
    if let Some(why) = remote_read::reads_remote_storage(client).await {
        if client.config().protocol == Protocol::Auto {
            tracing::info!(reason = %why, "the window is read with PromQL");
            return Ok(None);
        }
        return Err(SourceError::Config(format!("--source.protocol=remote-read: {why}")));
    }
    let up_windows = remote_read::windows(chunks, maintenance, Keep::Down);
    let degraded_windows = remote_read::windows(chunks, &[], Keep::Positive);
    let mut reads = vec![];
    for (i, (selector, m)) in selectors.iter().zip(&matchers).enumerate() {
        let (purpose, windows) = if i == 0 { ("availability", &up_windows) } else { ("degraded", &degraded_windows) };
        match remote_read::read(client, selector, m, windows, purpose, log).await? {
            Read::Digest(d) => reads.push(d),
            Read::Unsupported(why) if client.config().protocol == Protocol::Auto => {
                tracing::warn!(reason = %why, "the server has no remote read: the window is read with PromQL");
                return Ok(None);
            }
            Read::Unsupported(why) => {
                return Err(SourceError::Config(format!("--source.protocol=remote-read: {why}")));
            }
        }
    }
    let mut reads = reads.into_iter();
    let up = reads.next().expect("the up selector was read");
    Ok(Some((up, reads.next())))
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
