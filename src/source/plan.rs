//! The query plan: which queries read a window `(start, end]` into facts,
//! and the helpers that send them and decode their answers.
//!
//! The window reader (`read_window` in the `running` module, which builds
//! on this one) reads short windows raw (every sample), long ones like this:
//!
//! 1. Availability: the window is cut into chunks of at most one day,
//!    aligned to its start. Per chunk, two instant queries at the chunk end,
//!    `count_over_time(UP[chunk])` and `sum_over_time(UP[chunk])`, give every
//!    node's samples and up samples (down = count − sum; `up` is 0 or 1).
//!    The same pair over each maintenance window is subtracted. One day of a
//!    10,000-node fleet at 60 s loads 14.4 M samples, holding 11,440 at once
//!    (`--query.max-samples`, 50 M, bounds the latter); no range query
//!    (11,000 points) is used.
//! 2. Outages: raw samples (`UP{node=~"a|b"}[range]`) only for the nodes
//!    and the chunks that had downtime; contiguous chunks are fetched together
//!    so an outage across a chunk border stays one outage. Batches hold at
//!    most [`MAX_RAW_SAMPLES`] samples.
//! 3. Degraded (optional): the same on the `degraded` selector (1 = degraded).
//! 4. Inputs (the [`inputs`](super::inputs) module): each input query at
//!    `end`, `$__range` = the window; a failing input fails on its own and
//!    the reading goes on. A failing availability query fails the reading:
//!    downtime is never guessed.
//!
//! An answer with Prometheus `warnings` (a failed remote read, say) may be
//! partial, so it counts as a failure ([`SourceError::Warned`]): the warnings
//! stay in the query record and the data is not used.
//!
//! Ranges are left-open, `(t − r, t]`, like the slot model: Prometheus 2.x
//! range selectors include both ends, so every range is written 1 ms short.
//!
//! Steps 1–3 are the same with remote read (`--source.protocol`, see
//! [`super::remote_read`]): each [`Job`] says what it asks ([`Ask`]), and
//! is answered from the window's samples, read once, instead of sent; the
//! query text and the answer are the ones PromQL would have had.

use super::answer::{Labels, QueryAnswer, QueryData, SourceError};
use super::prometheus::Client;
use super::record::{QueryKind, QueryRecord};
use super::samples::{self, Sample};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Longest chunk of the availability queries.
pub const CHUNK_SECONDS: i64 = 86_400;
/// Most samples one raw query may return (nodes × samples per node): under
/// 2 MB of JSON, so that four in flight keep `serve` small at 10,000 nodes.
pub const MAX_RAW_SAMPLES: u64 = 100_000;
/// Queries in flight at once.
pub const CONCURRENCY: usize = 4;

pub(super) type Window = (DateTime<Utc>, DateTime<Utc>);

/// `(start, end]` cut into pieces of at most `seconds`, aligned to `start`.
pub fn chunks(start: DateTime<Utc>, end: DateTime<Utc>, seconds: i64) -> Vec<Window> {
    let mut out = vec![];
    let mut s = start;
    while s < end {
        let e = (s + Duration::seconds(seconds)).min(end);
        out.push((s, e));
        s = e;
    }
    out
}

/// `SELECTOR[r]` over `(t − r, t]`: 1 ms short of `r` (see the module docs).
pub fn range_selector(selector: &str, window: Window) -> String {
    let ms = (window.1 - window.0).num_milliseconds() - 1;
    format!("{}[{ms}ms]", selector.trim())
}

/// `selector` with one more label matcher, e.g. `up{job="x"}` + `instance=~"a|b"`.
pub fn with_matcher(selector: &str, matcher: &str) -> String {
    let s = selector.trim();
    match (s.rfind('{'), s.ends_with('}')) {
        (Some(open), true) if s[open + 1..s.len() - 1].trim().is_empty() => {
            format!("{}{{{matcher}}}", &s[..open])
        }
        (Some(_), true) => format!("{},{matcher}}}", &s[..s.len() - 1]),
        _ => format!("{s}{{{matcher}}}"),
    }
}

/// A regex matching exactly the given names (metacharacters escaped), as a
/// PromQL string literal.
pub fn names_regex(names: &[&str]) -> String {
    let alternatives: Vec<String> = names.iter().map(|n| escape_regex(n)).collect();
    promql_string(&alternatives.join("|"))
}

fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn promql_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

// ---------------------------------------------------------------- sending

/// One query to send.
#[derive(Debug, Clone)]
pub(super) struct Job {
    purpose: String,
    kind: QueryKind,
    pub(super) query: String,
    pub(super) time: DateTime<Utc>,
    /// What the query asks, for an answer computed from remote-read samples.
    pub(super) ask: Ask,
}

/// What a [`Job`] of the availability plan asks, in terms a reader of the
/// raw samples can answer (see `remote_read`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ask {
    /// Not computed from samples: sent as PromQL.
    Promql,
    /// `count_over_time` (or `sum_over_time`) over a count window.
    Count { window: CountWindow, sum: bool },
    /// Raw samples of `nodes` over chunks `first..=last`, `window` their span.
    Raw { nodes: Vec<String>, first: usize, last: usize, window: Window },
}

/// A window of [`count_jobs`]: a chunk, or a maintenance window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CountWindow {
    Chunk(usize),
    Maintenance(usize),
}

impl Job {
    pub(super) fn new(purpose: &str, kind: QueryKind, query: String, time: DateTime<Utc>) -> Self {
        Job { purpose: purpose.to_string(), kind, query, time, ask: Ask::Promql }
    }

    pub(super) fn asking(self, ask: Ask) -> Self {
        Job { ask, ..self }
    }

    pub(super) fn record(&self, answer: &Result<QueryAnswer, SourceError>) -> QueryRecord {
        let (series, samples, warnings, total) = match answer {
            Ok(a) => (a.data.series(), a.data.samples(), a.warnings.clone(), a.total_queryable_samples),
            Err(SourceError::Warned { warnings, .. }) => (0, 0, warnings.clone(), None),
            Err(_) => (0, 0, vec![], None),
        };
        QueryRecord {
            purpose: self.purpose.clone(),
            kind: self.kind,
            query: self.query.clone(),
            time: Some(self.time),
            start: None,
            end: None,
            step_seconds: None,
            series,
            samples,
            warnings,
            total_queryable_samples: total,
            error: answer.as_ref().err().map(|e| e.to_string()),
        }
    }
}

/// Send `jobs` as instant queries, [`CONCURRENCY`] at a time; answers in
/// job order, each job recorded in `log`.
pub(super) async fn run(
    client: &Client,
    jobs: Vec<Job>,
    log: &mut Vec<QueryRecord>,
) -> Vec<Result<QueryAnswer, SourceError>> {
    let answers = send(client, &jobs).await;
    log.extend(jobs.iter().zip(&answers).map(|(j, a)| j.record(a)));
    answers
}

/// [`run`] without the log.
pub(super) async fn send(client: &Client, jobs: &[Job]) -> Vec<Result<QueryAnswer, SourceError>> {
    let gate = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for (i, job) in jobs.iter().enumerate() {
        let (client, gate, query, time) = (client.clone(), gate.clone(), job.query.clone(), job.time);
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore is never closed");
            (i, client.instant(&query, time).await)
        });
    }
    let mut answers: Vec<Option<Result<QueryAnswer, SourceError>>> = jobs.iter().map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        let (i, answer) = done.expect("query task panicked");
        answers[i] = Some(answer);
    }
    // An answer with warnings may be partial (a remote read failed, say):
    // it fails like an error, so missing data is never paid as downtime or uptime.
    answers
        .into_iter()
        .zip(jobs)
        .map(|(a, job)| match a.expect("every job answered") {
            Ok(a) if !a.warnings.is_empty() => {
                tracing::warn!(query = %job.query, warnings = ?a.warnings, "Prometheus warned; the answer is not used");
                Err(SourceError::Warned { query: job.query.clone(), warnings: a.warnings })
            }
            other => other,
        })
        .collect()
}

/// [`run`] where any failure fails the whole step.
pub(super) async fn run_all(
    client: &Client,
    jobs: Vec<Job>,
    log: &mut Vec<QueryRecord>,
) -> Result<Vec<QueryAnswer>, SourceError> {
    run(client, jobs, log).await.into_iter().collect()
}

pub(super) fn vector(query: &str, answer: QueryAnswer) -> Result<Vec<(Labels, f64)>, SourceError> {
    match answer.data {
        QueryData::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.value)).collect()),
        other => Err(decode_error(query, format!("expected a vector, got {}", kind_name(&other)))),
    }
}

pub(super) fn matrix(query: &str, answer: QueryAnswer) -> Result<Vec<(Labels, Vec<Sample>)>, SourceError> {
    match answer.data {
        QueryData::Matrix(m) => Ok(m.into_iter().map(|s| (s.labels, s.samples)).collect()),
        other => Err(decode_error(query, format!("expected a matrix, got {}", kind_name(&other)))),
    }
}

pub(super) fn kind_name(d: &QueryData) -> &'static str {
    match d {
        QueryData::Vector(_) => "a vector",
        QueryData::Matrix(_) => "a matrix",
        QueryData::Scalar(..) => "a scalar",
        QueryData::String(..) => "a string",
    }
}

pub(super) fn decode_error(query: &str, message: String) -> SourceError {
    SourceError::Decode { query: query.to_string(), message }
}

pub(super) fn node_of<'a>(query: &str, labels: &'a Labels, node_label: &str) -> Result<&'a str, SourceError> {
    labels
        .get(node_label)
        .map(String::as_str)
        .ok_or_else(|| decode_error(query, format!("a series has no `{node_label}` label: {labels:?}")))
}

// ---------------------------------------------------------- availability

/// Sample count and sum of one node over a window (`up` is 0 or 1, so
/// down = count − sum).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Count {
    pub count: f64,
    pub sum: f64,
}

impl std::ops::AddAssign for Count {
    fn add_assign(&mut self, o: Count) {
        self.count += o.count;
        self.sum += o.sum;
    }
}

/// `count_over_time` and `sum_over_time` of `up` over each window;
/// `window` names window `i` for a remote-read answer.
pub(super) fn count_jobs(purpose: &str, up: &str, windows: &[Window], window: fn(usize) -> CountWindow) -> Vec<Job> {
    windows
        .iter()
        .enumerate()
        .flat_map(|(i, w)| {
            let sel = range_selector(up, *w);
            let job = |f: &str, sum| {
                Job::new(purpose, QueryKind::Instant, format!("{f}({sel})"), w.1)
                    .asking(Ask::Count { window: window(i), sum })
            };
            [job("count_over_time", false), job("sum_over_time", true)]
        })
        .collect()
}

/// The answers of (some of) [`count_jobs`] as `(window, node, count or sum, labels)`.
pub(super) fn parse_counts(
    jobs: &[Job],
    answers: Vec<QueryAnswer>,
    node_label: &str,
) -> Result<Vec<(CountWindow, String, Count, Labels)>, SourceError> {
    let mut out = vec![];
    for (job, answer) in jobs.iter().zip(answers) {
        let Ask::Count { window, sum } = job.ask else {
            return Err(decode_error(&job.query, "not a count query of the plan".to_string()));
        };
        for (labels, v) in vector(&job.query, answer)? {
            let node = node_of(&job.query, &labels, node_label)?.to_string();
            let c = if sum { Count { count: 0.0, sum: v } } else { Count { count: v, sum: 0.0 } };
            out.push((window, node, c, labels));
        }
    }
    Ok(out)
}

// ------------------------------------------------------------ raw samples

/// The raw samples the answers of (a group of) [`raw_jobs`] hold, per node,
/// sorted, deduplicated, and only those [`samples::outages`] needs (value
/// `down_value` = down; see [`samples::outage_samples`]): each answer is cut
/// as soon as it is read, so the caller can ask a few jobs at a time and
/// never hold the raw samples of a day of 10,000 nodes at once. A node's
/// samples of one run of chunks come in one answer; runs do not overlap.
pub(super) fn raw_samples(
    jobs: &[Job],
    answers: Vec<QueryAnswer>,
    node_label: &str,
    down_value: f64,
) -> Result<BTreeMap<String, Vec<Sample>>, SourceError> {
    let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for (job, answer) in jobs.iter().zip(answers) {
        let mut per_node: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for (labels, s) in matrix(&job.query, answer)? {
            per_node.entry(node_of(&job.query, &labels, node_label)?.to_string()).or_default().extend(s);
        }
        for (node, s) in per_node {
            out.entry(node).or_default().extend(samples::outage_samples(sorted_unique(s), down_value));
        }
    }
    for s in out.values_mut() {
        *s = sorted_unique(std::mem::take(s));
    }
    Ok(out)
}

/// Sorted by time, one sample per timestamp (the first).
pub(super) fn sorted_unique(mut s: Vec<Sample>) -> Vec<Sample> {
    s.sort_by_key(|(t, _)| *t);
    s.dedup_by_key(|(t, _)| *t);
    s
}

/// Raw queries of `selector` for the nodes and chunks in `wanted`: runs of
/// contiguous chunks are fetched as one range, nodes sharing a run are
/// batched under [`MAX_RAW_SAMPLES`].
pub(super) fn raw_jobs(
    selector: &str,
    node_label: &str,
    chunks: &[Window],
    wanted: &BTreeMap<String, BTreeSet<usize>>,
    step: i64,
    purpose: &str,
) -> Vec<Job> {
    let mut by_run: BTreeMap<(usize, usize), Vec<&str>> = BTreeMap::new();
    for (node, set) in wanted {
        for run in contiguous_runs(set) {
            by_run.entry(run).or_default().push(node);
        }
    }
    let mut jobs = vec![];
    for ((first, last), nodes) in by_run {
        let window = (chunks[first].0, chunks[last].1);
        let per_node = ((window.1 - window.0).num_seconds() / step).max(1) as u64;
        let batch = (MAX_RAW_SAMPLES / per_node).max(1) as usize;
        for names in nodes.chunks(batch) {
            let sel = with_matcher(selector, &format!("{node_label}=~{}", names_regex(names)));
            let ask = Ask::Raw { nodes: names.iter().map(|n| n.to_string()).collect(), first, last, window };
            jobs.push(Job::new(purpose, QueryKind::Raw, range_selector(&sel, window), window.1).asking(ask));
        }
    }
    jobs
}

/// Runs of consecutive indices, as `(first, last)`.
fn contiguous_runs(set: &BTreeSet<usize>) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = vec![];
    for &i in set {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => runs.push((i, i)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, d, h, 0, 0).unwrap()
    }

    #[test]
    fn chunks_are_days_aligned_to_the_start_and_the_last_is_shorter() {
        let c = chunks(t(1, 6), t(3, 12), CHUNK_SECONDS);
        assert_eq!(c, vec![(t(1, 6), t(2, 6)), (t(2, 6), t(3, 6)), (t(3, 6), t(3, 12))]);
    }

    #[test]
    fn ranges_are_one_millisecond_short_so_they_are_left_open() {
        assert_eq!(range_selector("up", (t(1, 0), t(2, 0))), "up[86399999ms]");
    }

    #[test]
    fn a_matcher_joins_any_selector() {
        assert_eq!(with_matcher("up", "a=\"b\""), "up{a=\"b\"}");
        assert_eq!(with_matcher("up{}", "a=\"b\""), "up{a=\"b\"}");
        assert_eq!(with_matcher(" up{job=\"x\"} ", "a=\"b\""), "up{job=\"x\",a=\"b\"}");
        assert_eq!(with_matcher("{__name__=\"up\"}", "a=\"b\""), "{__name__=\"up\",a=\"b\"}");
    }

    #[test]
    fn node_names_are_escaped_for_regex_and_promql() {
        assert_eq!(names_regex(&["node-1.eu", "a|b", "q\"x"]), r#""node-1\\.eu|a\\|b|q\"x""#);
    }

    #[test]
    fn contiguous_chunks_form_one_run() {
        let set: BTreeSet<usize> = [0, 1, 2, 5, 7, 8].into_iter().collect();
        assert_eq!(contiguous_runs(&set), vec![(0, 2), (5, 5), (7, 8)]);
    }

    #[test]
    fn raw_batches_stay_under_the_sample_budget() {
        let c = chunks(t(1, 0), t(11, 0), CHUNK_SECONDS);
        let wanted: BTreeMap<String, BTreeSet<usize>> =
            (0..10_000).map(|i| (format!("n{i}"), (0..10).collect())).collect();
        let jobs = raw_jobs("up", "instance", &c, &wanted, 60, "outages");
        // 10 days at 60 s = 14,400 samples per node: 6 nodes per batch.
        assert_eq!(jobs.len(), 10_000usize.div_ceil(6));
    }
}
