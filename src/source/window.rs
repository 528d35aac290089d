//! Reading one window `(from, to]` of the `up` (and degraded) series and
//! of the incident sources into a [`Delta`], which
//! [`Running::apply`](super::running::Running::apply) adds to the running
//! totals. Two ways:
//!
//! - **raw** (short windows, the steady state of `serve`): every sample of
//!   the window, one query per selector. Prometheus loads each sample once:
//!   the load equals what it ingested.
//! - **aggregate** (long windows): per day, `count_over_time` and
//!   `sum_over_time` give counts; raw samples only where there was downtime.
//!   With remote read (a plain selector, a server that has it: see
//!   [`remote_read`]), the same queries are answered from the window's
//!   samples, each loaded once, instead of sent.
//!
//! Answers are taken a few at a time (one at a time from a remote-read
//! digest, which computes them) and cut at once to what the totals keep:
//! counts, the labels the rules read, the samples outages need. So a
//! 10,000-node fleet's window never holds many answers' label sets or raw
//! samples at once.

use super::answer::{Labels, QueryAnswer, SourceError};
use super::incidents;
use super::plan::{self, Ask, Count, CountWindow, Job, Window};
use super::prometheus::Client;
use super::record::{Protocol, QueryKind, QueryRecord};
use super::remote_read::digest::{Digest, Keep};
use super::remote_read::{self, Read};
use super::samples::{self, Sample};
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Longest window read raw (every sample).
pub const RAW_WINDOW_SECONDS: i64 = 3_600;
/// Most samples (known nodes × slots) a raw window may hold.
pub const RAW_WINDOW_MAX_SAMPLES: u64 = 2_000_000;

/// What one window `(from, to]` read; applied only when every query succeeded.
#[derive(Debug, Clone, Default)]
pub struct Delta {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Per node: its counts and labels.
    pub(super) counts: BTreeMap<String, NodeCounts>,
    /// Per node: down samples read (raw), and whether no sample of the window came after them.
    pub(super) down: BTreeMap<String, (Vec<Sample>, bool)>,
    /// Per node: degraded samples (as "down" = 0), and the same flag.
    pub(super) degraded: BTreeMap<String, (Vec<Sample>, bool)>,
    /// Read raw: the nodes with any sample of the degraded series. `None`
    /// when read per day (then a run not reaching the window end is closed).
    pub(super) degraded_seen: Option<BTreeSet<String>>,
    /// The incident sources' samples.
    pub(super) reported: incidents::Read,
}

/// One node's counts over a window.
#[derive(Debug, Clone, Default)]
pub struct NodeCounts {
    /// All samples.
    pub(super) total: Count,
    /// The samples inside maintenance windows.
    pub(super) maintenance: Count,
    /// `None` when no series of the node was read.
    pub(super) labels: Option<NodeLabels>,
}

/// What the totals keep of a node's labels: the values of the rules'
/// operator and region labels (all that the facts read; its other labels
/// would cost memory for every node all month).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeLabels {
    pub operator: Option<String>,
    pub region: Option<String>,
}

impl NodeLabels {
    pub(super) fn of(rules: &Rules, labels: &Labels) -> Self {
        let value = |name: &Option<String>| name.as_ref().and_then(|k| labels.get(k).cloned());
        NodeLabels { operator: value(&rules.source.operator_label), region: value(&rules.source.region_label) }
    }
}

/// Read `(from, to]`: raw when it is short and `known_nodes` (the nodes
/// seen so far) times its slots is small, else per day.
pub(super) async fn read(
    client: &Client,
    rules: &Rules,
    (from, to): Window,
    known_nodes: usize,
    log: &mut Vec<QueryRecord>,
) -> Result<Delta, SourceError> {
    let step = rules.source.step.seconds();
    if step <= 0 || to <= from {
        return Err(SourceError::Config(format!(
            "cannot read ({from}, {to}] at a step of {step}s: need from < to and a positive step"
        )));
    }
    let seconds = (to - from).num_seconds();
    let slots = (seconds / step + 1) as u64;
    let mut delta = if seconds <= RAW_WINDOW_SECONDS && known_nodes as u64 * slots <= RAW_WINDOW_MAX_SAMPLES {
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
            entry.total += c;
            if samples::in_any(t, &maintenance) {
                entry.maintenance += c;
            }
        }
        entry.labels = Some(NodeLabels::of(rules, &labels));
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
    let mut jobs = plan::count_jobs("availability", &src.up, &chunks, CountWindow::Chunk);
    jobs.extend(plan::count_jobs("maintenance", &src.up, &maintenance, CountWindow::Maintenance));
    // Per node: its counts, and per chunk.
    let mut nodes: BTreeMap<String, (NodeCounts, Vec<Count>)> = BTreeMap::new();
    for group in jobs.chunks(group_size(up_digest)) {
        let answers = ask(client, up_digest, &src.node_label, group.to_vec(), queries).await?;
        for (window, node, c, labels) in plan::parse_counts(group, answers, &src.node_label)? {
            let (e, days) = nodes.entry(node).or_insert_with(|| (NodeCounts::default(), vec![]));
            // The labels of the last chunk that has the node (maintenance
            // windows come after every chunk: theirs only for a node no
            // chunk has).
            match window {
                CountWindow::Chunk(i) => {
                    if days.len() <= i {
                        days.resize(i + 1, Count::default());
                    }
                    days[i] += c;
                    e.total += c;
                    e.labels = Some(NodeLabels::of(rules, &labels));
                }
                CountWindow::Maintenance(_) => {
                    e.maintenance += c;
                    e.labels.get_or_insert_with(|| NodeLabels::of(rules, &labels));
                }
            }
        }
    }

    // 2. Raw samples where there was downtime.
    let down_chunks: BTreeMap<String, BTreeSet<usize>> = nodes
        .iter()
        .map(|(n, (_, days))| (n.clone(), (0..days.len()).filter(|i| days[*i].count - days[*i].sum > 0.0).collect()))
        .filter(|(_, set): &(String, BTreeSet<usize>)| !set.is_empty())
        .collect();
    let jobs = plan::raw_jobs(&src.up, &src.node_label, &chunks, &down_chunks, step, "outages");
    let mut delta = Delta { from: w.0, to: w.1, ..Default::default() };
    for (node, s) in raw(client, up_digest, &src.node_label, &jobs, 0.0, queries).await? {
        let last_down = down_chunks.get(&node).and_then(|set| set.last()).copied().unwrap_or(0);
        let days = nodes.get(&node).map_or(&[][..], |(_, d)| d.as_slice());
        let last_any = (0..days.len()).rev().find(|i| days[*i].count > 0.0).unwrap_or(0);
        delta.down.insert(node, (s, last_any <= last_down));
    }
    delta.counts = nodes.into_iter().map(|(node, (counts, _))| (node, counts)).collect();

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

/// Jobs asked at once: [`plan::CONCURRENCY`] sent as PromQL; one when
/// answered from a digest (computed here, nothing to wait for), so that
/// only one answer's labels and samples are held before they are cut.
fn group_size(digest: Option<&Digest>) -> usize {
    if digest.is_some() { 1 } else { plan::CONCURRENCY }
}

/// The raw samples of `jobs` per node ([`plan::raw_samples`]), asked a few
/// at a time ([`group_size`]) so that only a few answers are held before
/// they are cut to what outages need.
async fn raw(
    client: &Client,
    digest: Option<&Digest>,
    node_label: &str,
    jobs: &[Job],
    down_value: f64,
    log: &mut Vec<QueryRecord>,
) -> Result<BTreeMap<String, Vec<Sample>>, SourceError> {
    let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for group in jobs.chunks(group_size(digest)) {
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
