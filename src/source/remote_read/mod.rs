//! Remote read: the long windows of a plain selector read with Prometheus'
//! `POST /api/v1/read`, streamed XOR chunks, each sample loaded once.
//!
//! - [`proto`]: the protobuf messages (hand-written, `prost`).
//! - [`xor`]: the XOR chunk decoder.
//! - [`stream`]: the request and the framed, checksummed response.
//! - [`digest`]: the samples, series by series, turned into what the PromQL
//!   plan needs, and the answers its queries would have had.
//! - [`packed`]: a series' labels packed into one allocation (a digest's keys).
//! - [`runs`]: the samples a digest keeps, as runs of one value at a
//!   regular interval.
//!
//! [`read`] cuts the window into a few pieces of whole chunks (days), reads
//! them [`PIECES`] at a time and merges their digests. [`answer_all`]
//! answers the plan's jobs from a digest: the same query text and answer
//! PromQL would have given, recorded as evidence with a marker that it was
//! computed from remote read, so `replay` runs the PromQL plan unchanged.
//!
//! Nothing is guessed: a broken stream (cut, bad checksum, undecodable
//! chunk) fails the reading. `auto` falls back to PromQL only when the
//! server says remote read is not there (HTTP 400, 404, 405, 501 before any
//! data), saying so in a log line.

pub mod digest;
pub mod packed;
pub mod proto;
pub mod runs;
pub mod stream;
pub mod xor;

use super::answer::{QueryAnswer, SourceError};
use super::evidence::Request;
use super::plan::{self, Job, Window};
use super::prometheus::Client;
use super::record::{Protocol, QueryKind, QueryRecord};
use chrono::DateTime;
use digest::{Digest, Keep, Windows};
use proto::LabelMatcher;

/// Remote read requests in flight at once (Prometheus' default
/// `--storage.remote.read-concurrent-limit` is 10), and the number of time
/// pieces a window is cut into.
pub const PIECES: usize = 4;

/// The label matchers of a plain vector selector (`up{job="x",a=~"b"}`), or
/// `None` for anything else (functions, offsets, `@`, `or` matchers).
pub fn matchers(selector: &str) -> Option<Vec<LabelMatcher>> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{self, Expr};
    let Ok(Expr::VectorSelector(vs)) = parser::parse(selector) else { return None };
    if vs.offset.is_some() || vs.at.is_some() || !vs.matchers.or_matchers.is_empty() {
        return None;
    }
    let mut out: Vec<LabelMatcher> = vec![];
    if let Some(name) = &vs.name {
        out.push(LabelMatcher { r#type: 0, name: "__name__".into(), value: name.clone() });
    }
    for m in &vs.matchers.matchers {
        let r#type = match m.op {
            MatchOp::Equal => 0,
            MatchOp::NotEqual => 1,
            MatchOp::Re(_) => 2,
            MatchOp::NotRe(_) => 3,
        };
        let matcher = LabelMatcher { r#type, name: m.name.clone(), value: m.value.clone() };
        if !out.contains(&matcher) {
            out.push(matcher);
        }
    }
    Some(out)
}

/// Whether `selectors` are read with remote read by `client`: `Ok(None)`
/// for PromQL, else their matchers.
pub fn chosen(client: &Client, selectors: &[&str]) -> Result<Option<Vec<Vec<LabelMatcher>>>, SourceError> {
    let protocol = client.config().protocol;
    if client.is_replay() || protocol == Protocol::Promql {
        return Ok(None);
    }
    match selectors.iter().map(|s| matchers(s)).collect::<Option<Vec<_>>>() {
        Some(m) => Ok(Some(m)),
        None if protocol == Protocol::RemoteRead => Err(SourceError::Config(format!(
            "--source.protocol=remote-read needs plain vector selectors (a metric name and label matchers), not {}",
            selectors.join(", ")
        ))),
        None => {
            tracing::info!(selectors = ?selectors, "not a plain vector selector: the window is read with PromQL");
            Ok(None)
        }
    }
}

/// Why `client`'s server must not be read with remote read, if it must
/// not: a Prometheus with `remote_read` storage in its configuration answers
/// PromQL from it too, but `/api/v1/read` from its local data only, so
/// remote read would silently miss what PromQL sees. A server that does not
/// show its configuration (VictoriaMetrics) is tried: it says itself if it
/// has no remote read.
pub async fn reads_remote_storage(client: &Client) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Config {
        data: ConfigData,
    }
    #[derive(serde::Deserialize)]
    struct ConfigData {
        yaml: String,
    }
    let http = client.http()?;
    let url = format!("{}/api/v1/status/config", client.config().base_url);
    let response = http.get(&url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let config: Config = response.json().await.ok()?;
    config.data.yaml.lines().any(|l| l.starts_with("remote_read:")).then(|| {
        "the server reads remote storage (`remote_read` in its configuration), which its /api/v1/read does not serve"
            .to_string()
    })
}

/// What [`read`] got.
pub enum Read {
    Digest(Digest),
    /// The server has no remote read (auto falls back to PromQL).
    Unsupported(String),
}

/// Read `selector` (as `matchers`) over `(range.0, range.1]` into a
/// digest over `windows`: the chunks cut into [`PIECES`] pieces read at
/// once. Each request is logged (kind `remote_read`, `purpose`).
pub async fn read(
    client: &Client,
    selector: &str,
    matchers: &[LabelMatcher],
    windows: &Windows,
    purpose: &str,
    log: &mut Vec<QueryRecord>,
) -> Result<Read, SourceError> {
    let pieces = windows.parts(PIECES);
    let mut set = tokio::task::JoinSet::new();
    for (i, piece) in pieces.iter().enumerate() {
        let (client, matchers, windows, piece) = (client.clone(), matchers.to_vec(), windows.clone(), *piece);
        let selector = selector.to_string();
        set.spawn(async move { (i, stream::read_piece(&client, &selector, &matchers, &windows, piece).await) });
    }
    let mut results: Vec<Option<Result<stream::Piece, stream::PieceError>>> = pieces.iter().map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        let (i, r) = done.expect("remote read task panicked");
        results[i] = Some(r);
    }
    let mut digest = Digest::default();
    let mut failure = None;
    let mut unsupported = None;
    for (piece, r) in pieces.iter().zip(results) {
        let query = stream::describe(selector, piece);
        let (series, samples, error) = match r.expect("every piece read") {
            Ok(p) => {
                let n = (p.digest.series(), p.decoded);
                digest.merge(p.digest);
                (n.0, n.1, None)
            }
            Err(stream::PieceError::Unsupported(why)) => {
                unsupported.get_or_insert(why.clone());
                (0, 0, Some(why))
            }
            Err(stream::PieceError::Failed(e)) => {
                let m = e.to_string();
                failure.get_or_insert(e);
                (0, 0, Some(m))
            }
        };
        log.push(QueryRecord {
            purpose: purpose.to_string(),
            kind: QueryKind::RemoteRead,
            query,
            time: DateTime::from_timestamp_millis(piece.request.1),
            start: None,
            end: None,
            step_seconds: None,
            series,
            samples: samples as usize,
            warnings: vec![],
            total_queryable_samples: error.is_none().then_some(samples),
            error,
        });
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(match unsupported {
        Some(why) => Read::Unsupported(why),
        None => Read::Digest(digest),
    })
}

/// Answer `jobs` from `digest` where it can (recorded as computed from
/// remote read), the rest with PromQL; answers and log in job order. Any
/// failure fails the step.
pub(super) async fn answer_all(
    client: &Client,
    digest: &Digest,
    node_label: &str,
    jobs: Vec<Job>,
    log: &mut Vec<QueryRecord>,
) -> Result<Vec<QueryAnswer>, SourceError> {
    let computed: Vec<Option<QueryAnswer>> = jobs.iter().map(|j| digest.answer(&j.ask, j.time, node_label)).collect();
    let rest: Vec<Job> = jobs.iter().zip(&computed).filter(|(_, c)| c.is_none()).map(|(j, _)| j.clone()).collect();
    if !rest.is_empty() {
        tracing::info!(queries = rest.len(), "raw samples not kept by the remote read: sent as PromQL");
    }
    let mut sent = plan::send(client, &rest).await.into_iter();
    let mut answers = vec![];
    for (job, c) in jobs.iter().zip(computed) {
        let answer = match c {
            Some(a) => {
                if let Some(recorder) = client.recorder() {
                    recorder.record_computed(Request::Query { query: job.query.clone(), time: job.time }, &a);
                }
                Ok(a)
            }
            None => sent.next().expect("one answer per job sent"),
        };
        log.push(job.record(&answer));
        answers.push(answer);
    }
    answers.into_iter().collect()
}

/// Digest windows of the availability reads.
pub fn windows(chunks: &[Window], maintenance: &[Window], keep: Keep) -> Windows {
    Windows { chunks: chunks.to_vec(), maintenance: maintenance.to_vec(), keep }
}
