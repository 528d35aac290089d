//! Evidence: every query a reading sent and its full answer, recorded by the
//! [`Client`](super::Client) and written with a closed month, so that the
//! month can be replayed — the query plan, the source and the engine — with
//! no Prometheus at all.
//!
//! - [`Recorder`]: attached to a live client ([`Client::recording`](super::Client::recording)),
//!   keeps each request and its final answer (after retries).
//! - [`Replay`]: a client built from evidence ([`Client::replay`](super::Client::replay))
//!   answers a request from the recording, and fails clearly on one it has
//!   not recorded (the rules now ask for something the month was not read with).
//! - [`Evidence`]: the file: the period, the window, the rules (their SHA-256
//!   and the files themselves), and the queries in plan order.
//!
//! The file is deterministic: answers are normalised (series sorted by
//! labels), queries are in plan order, and no wall-clock time is written.

use super::alertmanager::Silence;
use super::answer::{QueryAnswer, QueryData, SourceError};
use super::record::{QueryKind, QueryRecord, Reading};
use crate::history::History;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Version of the evidence file format.
pub const FORMAT: u32 = 1;

/// One request to the Prometheus API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "endpoint", rename_all = "snake_case")]
pub enum Request {
    /// `/api/v1/query`.
    Query { query: String, time: DateTime<Utc> },
    /// `/api/v1/query_range`.
    QueryRange { query: String, start: DateTime<Utc>, end: DateTime<Utc>, step_seconds: i64 },
}

impl Request {
    pub fn query(&self) -> &str {
        match self {
            Request::Query { query, .. } | Request::QueryRange { query, .. } => query,
        }
    }

    fn describe(&self) -> String {
        match self {
            Request::Query { query, time } => format!("`{query}` at {}", time.to_rfc3339()),
            Request::QueryRange { query, start, end, step_seconds } => {
                format!("`{query}` over {} – {} every {step_seconds}s", start.to_rfc3339(), end.to_rfc3339())
            }
        }
    }
}

/// A request and its final answer (or the error it ended with).
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub request: Request,
    pub answer: Result<QueryAnswer, String>,
    /// [`COMPUTED_FROM_REMOTE_READ`] when the answer was computed from
    /// remote-read samples rather than sent as PromQL.
    pub computed_from: Option<String>,
}

/// The marker of an answer computed from remote read: what PromQL would
/// have answered, the query never sent.
pub const COMPUTED_FROM_REMOTE_READ: &str = "remote_read";

/// Records every exchange of a live client. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Exchange>>>);

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn record(&self, request: Request, answer: &Result<QueryAnswer, SourceError>) {
        let answer = match answer {
            Ok(a) => Ok(normalised(a.clone())),
            Err(e) => Err(e.to_string()),
        };
        self.0.lock().expect("recorder lock").push(Exchange { request, answer, computed_from: None });
    }

    /// An answer computed from remote-read samples, as PromQL would have given it.
    pub(crate) fn record_computed(&self, request: Request, answer: &QueryAnswer) {
        let exchange = Exchange {
            request,
            answer: Ok(normalised(answer.clone())),
            computed_from: Some(COMPUTED_FROM_REMOTE_READ.to_string()),
        };
        self.0.lock().expect("recorder lock").push(exchange);
    }

    /// Queries answered (or failed) so far.
    pub fn len(&self) -> usize {
        self.0.lock().expect("recorder lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Everything recorded so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.0.lock().expect("recorder lock").clone()
    }
}

/// Series sorted by their labels, so the same data gives the same bytes
/// whatever order Prometheus sent them in (the plan does not depend on it).
fn normalised(mut a: QueryAnswer) -> QueryAnswer {
    match &mut a.data {
        QueryData::Vector(v) => v.sort_by(|x, y| x.labels.cmp(&y.labels)),
        QueryData::Matrix(m) => m.sort_by(|x, y| x.labels.cmp(&y.labels)),
        _ => {}
    }
    a
}

/// Answers requests from a recording.
#[derive(Debug, Default)]
pub struct Replay {
    answers: HashMap<Request, Result<QueryAnswer, String>>,
}

impl Replay {
    pub fn new(exchanges: impl IntoIterator<Item = Exchange>) -> Self {
        Replay { answers: exchanges.into_iter().map(|e| (e.request, e.answer)).collect() }
    }

    pub(crate) fn answer(&self, request: &Request) -> Result<QueryAnswer, SourceError> {
        match self.answers.get(request) {
            Some(Ok(a)) => Ok(a.clone()),
            Some(Err(message)) => Err(SourceError::Recorded(message.clone())),
            None => Err(SourceError::NotRecorded(request.describe())),
        }
    }
}

/// A rule file as it was when the month was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFileText {
    pub name: String,
    pub content: String,
}

/// One query of the evidence file: what it was for, the request, the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceQuery {
    /// `availability`, `maintenance`, `outages`, `degraded`, `input:<name>`.
    pub purpose: String,
    /// `remote_read` when this answer was computed from the samples remote
    /// read returned (the query was not sent; PromQL gives the same answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed_from: Option<String>,
    #[serde(flatten)]
    pub request: Request,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<QueryAnswer>,
    /// The error the query ended with (only inputs may fail without failing the reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The evidence file of a closed month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub format: u32,
    pub engine_version: String,
    /// `YYYY-MM`.
    pub period: String,
    pub time_zone: String,
    /// The window read, `(start, end]`.
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// The evaluation time the statement was computed at (the period end for a close).
    pub evaluated_at: DateTime<Utc>,
    pub rules_sha256: String,
    /// The rule files (name and text) the statement was computed with.
    pub rules: Vec<RuleFileText>,
    /// The Alertmanager silences that acknowledged something, as read;
    /// absent when no acknowledgement source was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silences: Option<Vec<Silence>>,
    /// The closed months the statement read (each with its statement's
    /// SHA-256), as recorded: a replay needs no directory of closed months.
    #[serde(default)]
    pub history: History,
    /// Every query sent, in plan order.
    #[serde(default)]
    pub queries: Vec<EvidenceQuery>,
}

/// What an evidence file describes, besides the queries.
#[derive(Debug, Clone)]
pub struct EvidenceHeader {
    pub period: String,
    pub time_zone: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub evaluated_at: DateTime<Utc>,
    pub rules_sha256: String,
    pub rules: Vec<RuleFileText>,
    pub silences: Option<Vec<Silence>>,
    pub history: History,
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("cannot read evidence {path}: {message}")]
    Read { path: String, message: String },
    #[error("evidence {path} has format {found}; this version reads format {FORMAT}")]
    Format { path: String, found: u32 },
    #[error("query `{0}` of the reading has no recorded answer")]
    Missing(String),
}

impl Evidence {
    /// The evidence of `reading`: its query log (plan order) joined with
    /// the answers `recorder` saw.
    pub fn build(header: EvidenceHeader, reading: &Reading, recorder: &Recorder) -> Result<Evidence, EvidenceError> {
        let mut answers: HashMap<Request, (Result<QueryAnswer, String>, Option<String>)> =
            recorder.exchanges().into_iter().map(|e| (e.request, (e.answer, e.computed_from))).collect();
        let queries = reading
            .queries
            .iter()
            // A remote read request has no PromQL answer: the answers
            // computed from it are recorded instead.
            .filter(|r| r.kind != QueryKind::RemoteRead)
            .map(|r| {
                let request = request_of(r);
                let (answer, computed_from) =
                    answers.remove(&request).ok_or_else(|| EvidenceError::Missing(r.query.clone()))?;
                let (answer, error) = match answer {
                    Ok(a) => (Some(a), None),
                    Err(e) => (None, Some(e)),
                };
                Ok(EvidenceQuery { purpose: r.purpose.clone(), computed_from, request, answer, error })
            })
            .collect::<Result<_, EvidenceError>>()?;
        Ok(Evidence {
            format: FORMAT,
            engine_version: env!("CARGO_PKG_VERSION").to_string(),
            period: header.period,
            time_zone: header.time_zone,
            window_start: header.window_start,
            window_end: header.window_end,
            evaluated_at: header.evaluated_at,
            rules_sha256: header.rules_sha256,
            rules: header.rules,
            silences: header.silences,
            history: header.history,
            queries,
        })
    }

    /// The recorded exchanges, for [`Client::replay`](super::Client::replay).
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.queries
            .iter()
            .map(|q| Exchange {
                computed_from: q.computed_from.clone(),
                request: q.request.clone(),
                answer: match (&q.answer, &q.error) {
                    (Some(a), _) => Ok(a.clone()),
                    (None, Some(e)) => Err(e.clone()),
                    (None, None) => Err("the evidence holds neither an answer nor an error".into()),
                },
            })
            .collect()
    }

    /// The rule files as `(name, content)`, for `rules::load::load_files`.
    pub fn rule_files(&self) -> Vec<(String, String)> {
        self.rules.iter().map(|r| (r.name.clone(), r.content.clone())).collect()
    }

    /// The file's text: pretty JSON with one query per line (answers can be
    /// long), a trailing newline; the same evidence gives the same bytes.
    pub fn to_json(&self) -> String {
        let head = Evidence { queries: vec![], ..self.clone() };
        let mut text = serde_json::to_string_pretty(&head).expect("evidence serializes");
        let cut = text.rfind("\"queries\": []").expect("queries field");
        text.truncate(cut);
        text.push_str("\"queries\": [");
        for (i, q) in self.queries.iter().enumerate() {
            text.push_str(if i == 0 { "\n    " } else { ",\n    " });
            text.push_str(&serde_json::to_string(q).expect("a query serializes"));
        }
        text.push_str(if self.queries.is_empty() { "]\n}\n" } else { "\n  ]\n}\n" });
        text
    }

    pub fn from_json(path: &str, text: &str) -> Result<Evidence, EvidenceError> {
        #[derive(Deserialize)]
        struct Version {
            format: u32,
        }
        let read = |e: serde_json::Error| EvidenceError::Read { path: path.to_string(), message: e.to_string() };
        let v: Version = serde_json::from_str(text).map_err(read)?;
        if v.format != FORMAT {
            return Err(EvidenceError::Format { path: path.to_string(), found: v.format });
        }
        serde_json::from_str(text).map_err(read)
    }

    pub fn read(path: &std::path::Path) -> Result<Evidence, EvidenceError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| EvidenceError::Read { path: shown.clone(), message: e.to_string() })?;
        Self::from_json(&shown, &text)
    }
}

fn request_of(r: &QueryRecord) -> Request {
    match (r.start, r.end, r.step_seconds) {
        (Some(start), Some(end), Some(step_seconds)) => {
            Request::QueryRange { query: r.query.clone(), start, end, step_seconds }
        }
        _ => Request::Query { query: r.query.clone(), time: r.time.unwrap_or_default() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::answer::{MatrixSeries, VectorSample};
    use chrono::TimeZone;
    use std::collections::BTreeMap;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_812_800 + s, 0).unwrap()
    }

    fn labels(node: &str) -> BTreeMap<String, String> {
        [("instance".to_string(), node.to_string())].into_iter().collect()
    }

    #[test]
    fn answers_round_trip_through_the_file_with_nan_and_infinities() {
        let vector = QueryAnswer {
            data: QueryData::Vector(vec![
                VectorSample { labels: labels("b"), time: t(0), value: f64::NAN },
                VectorSample { labels: labels("a"), time: t(0), value: 0.1 + 0.2 },
            ]),
            warnings: vec!["w".into()],
            total_queryable_samples: Some(7),
        };
        let matrix = QueryAnswer {
            data: QueryData::Matrix(vec![MatrixSeries {
                labels: labels("a"),
                samples: vec![
                    (t(60), 1.0),
                    (t(120), f64::NEG_INFINITY),
                    (t(180) + chrono::Duration::milliseconds(500), 0.0),
                ],
            }]),
            warnings: vec![],
            total_queryable_samples: None,
        };
        let scalar =
            QueryAnswer { data: QueryData::Scalar(t(0), 2.5), warnings: vec![], total_queryable_samples: None };
        let rec = Recorder::new();
        let reqs: Vec<Request> = (0..4).map(|i| Request::Query { query: format!("q{i}"), time: t(i) }).collect();
        rec.record(reqs[0].clone(), &Ok(vector));
        rec.record(reqs[1].clone(), &Ok(matrix));
        rec.record(reqs[2].clone(), &Ok(scalar));
        rec.record(reqs[3].clone(), &Err(SourceError::Config("boom".into())));
        let reading = Reading {
            facts: Default::default(),
            queries: reqs
                .iter()
                .map(|r| {
                    let Request::Query { query, time } = r else { unreachable!() };
                    QueryRecord {
                        purpose: "test".into(),
                        kind: crate::source::QueryKind::Instant,
                        query: query.clone(),
                        time: Some(*time),
                        start: None,
                        end: None,
                        step_seconds: None,
                        series: 0,
                        samples: 0,
                        warnings: vec![],
                        total_queryable_samples: None,
                        error: None,
                    }
                })
                .collect(),
        };
        let header = EvidenceHeader {
            silences: None,
            history: History::default(),
            period: "2026-10".into(),
            time_zone: "UTC".into(),
            window_start: t(0),
            window_end: t(60),
            evaluated_at: t(60),
            rules_sha256: "abc".into(),
            rules: vec![RuleFileText { name: "a.yaml".into(), content: "version: 1\n".into() }],
        };
        let ev = Evidence::build(header, &reading, &rec).unwrap();
        let text = ev.to_json();
        let back = Evidence::from_json("x", &text).unwrap();
        assert_eq!(back.to_json(), text, "same evidence, same bytes");
        let replay = Replay::new(back.exchanges());
        let QueryData::Vector(v) = replay.answer(&reqs[0]).unwrap().data else { panic!() };
        assert_eq!(v[0].labels, labels("a"), "series are sorted by labels");
        assert_eq!(v[0].value, 0.1 + 0.2, "values keep every bit");
        assert!(v[1].value.is_nan());
        assert_eq!(replay.answer(&reqs[1]).unwrap().data, ev.exchanges()[1].answer.clone().unwrap().data);
        assert!(matches!(replay.answer(&reqs[2]).unwrap().data, QueryData::Scalar(_, 2.5)));
        let err = replay.answer(&reqs[3]).unwrap_err().to_string();
        assert_eq!(err, SourceError::Config("boom".into()).to_string(), "a recorded error replays as the same text");
        let missing = replay.answer(&Request::Query { query: "other".into(), time: t(0) }).unwrap_err().to_string();
        assert!(missing.contains("`other`") && missing.contains("not recorded"), "{missing}");
    }
}
