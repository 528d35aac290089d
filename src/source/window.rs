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
    /// Per node: the window's count (all samples), the part inside
    /// maintenance windows, and its labels the totals keep ([`kept_labels`]).
    pub(super) counts: BTreeMap<String, (Count, Count, Labels)>,
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
            entry.0 += c;
            if samples::in_any(t, &maintenance) {
                entry.1 += c;
            }
        }
        entry.2 = kept_labels(rules, labels);
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
    let mut per_chunk: BTreeMap<String, BTreeMap<usize, Count>> = BTreeMap::new();
    let mut delta = Delta { from: w.0, to: w.1, ..Default::default() };
    for group in jobs.chunks(group_size(up_digest)) {
        let answers = ask(client, up_digest, &src.node_label, group.to_vec(), queries).await?;
        for (window, node, c, labels) in plan::parse_counts(group, answers, &src.node_label)? {
            let e = delta.counts.entry(node.clone()).or_default();
            // The labels of the last chunk that has the node (maintenance
            // windows come after every chunk: theirs only for a node no
            // chunk has).
            match window {
                CountWindow::Chunk(i) => {
                    *per_chunk.entry(node).or_default().entry(i).or_default() += c;
                    e.0 += c;
                    e.2 = kept_labels(rules, labels);
                }
                CountWindow::Maintenance(_) => {
                    e.1 += c;
                    if e.2.is_empty() {
                        e.2 = kept_labels(rules, labels);
                    }
                }
            }
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

/// Jobs asked at once: [`plan::CONCURRENCY`] sent as PromQL; one when
/// answered from a digest (computed here, nothing to wait for), so that
/// only one answer's labels and samples are held before they are cut.
fn group_size(digest: Option<&Digest>) -> usize {
    if digest.is_some() { 1 } else { plan::CONCURRENCY }
}

/// A series' labels as the totals keep them: the node label and the rules'
/// operator and region labels (see `Running::apply`).
fn kept_labels(rules: &Rules, labels: Labels) -> Labels {
    let src = &rules.source;
    let keep = |k: &String| {
        *k == src.node_label || src.operator_label.as_ref() == Some(k) || src.region_label.as_ref() == Some(k)
    };
    labels.into_iter().filter(|(k, _)| keep(k)).collect()
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
