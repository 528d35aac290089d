//! A small hand-written Prometheus HTTP API client: `POST` form requests to
//! `/api/v1/query` and `/api/v1/query_range`, its own retry loop with
//! deterministic exponential backoff, typed errors that name the query, and
//! Prometheus' `warnings` handed back with the data.
//!
//! Retried: connection errors, timeouts, HTTP 5xx and 429. Not retried:
//! 400 `bad_data` and 422 `execution` (the query itself is wrong or too big;
//! asking again gives the same answer).
//!
//! Evidence: a live client may carry a [`Recorder`] ([`Client::recording`])
//! that keeps every request and its final answer; a client built with
//! [`Client::replay`] answers from such a recording instead of HTTP, so the
//! query plan runs unchanged offline. Answers serialize in Prometheus' own
//! `data` shape (values as strings: `NaN`, `+Inf` survive JSON).

use super::evidence::{Recorder, Replay, Request};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How the client talks to Prometheus. `Debug` shows the URL without its
/// password ([`redact_url`]).
#[derive(Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `http://127.0.0.1:9090` (a path prefix is kept).
    pub base_url: String,
    /// Timeout of one HTTP request (also sent to Prometheus as `timeout`).
    pub timeout: Duration,
    /// Attempts per query, the first included (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled before each later one.
    pub backoff: Duration,
    /// Ask for `stats=all` and report `totalQueryableSamples`.
    pub stats: bool,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &redact_url(&self.base_url))
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("stats", &self.stats)
            .finish()
    }
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            timeout: Duration::from_secs(120),
            max_attempts: 4,
            backoff: Duration::from_millis(500),
            stats: false,
        }
    }

    /// The delay before attempt `attempt` (2, 3, …): backoff × 2^(attempt − 2).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        self.backoff * 2u32.saturating_pow(attempt.saturating_sub(2))
    }
}

/// Everything that can go wrong asking Prometheus. Every message names the query.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot reach Prometheus at {url} for query `{query}` after {attempts} attempt(s): {message}")]
    Connection { url: String, query: String, attempts: u32, message: String },
    #[error("Prometheus rejected query `{query}` (HTTP {status}, {error_type}): {error}")]
    Rejected { query: String, status: u16, error_type: String, error: String },
    #[error("Prometheus failed on query `{query}` after {attempts} attempt(s) (HTTP {status}, {error_type}): {error}")]
    Server { query: String, status: u16, attempts: u32, error_type: String, error: String },
    #[error("unexpected answer from Prometheus to query `{query}`: {message}")]
    Decode { query: String, message: String },
    /// Prometheus answered but warned (e.g. a failed remote read): the data
    /// may be partial, so it is not used. Not retried by the client.
    #[error("Prometheus warned on query `{query}`, so its answer may be partial and is not used: {}", warnings.join("; "))]
    Warned { query: String, warnings: Vec<String> },
    #[error("bad source configuration: {0}")]
    Config(String),
    /// Replay: the recorded reading failed on this query with this message.
    #[error("{0}")]
    Recorded(String),
    /// Replay: the evidence holds no answer to this request.
    #[error(
        "query {0} was not recorded in the evidence (do these rules read different queries than the closed month?)"
    )]
    NotRecorded(String),
}

/// A series label set.
pub type Labels = BTreeMap<String, String>;

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub time: DateTime<Utc>,
    pub value: f64,
}

/// One series of a matrix: its samples, sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSeries {
    pub labels: Labels,
    pub samples: Vec<(DateTime<Utc>, f64)>,
}

/// The `data.result` of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryData {
    Vector(Vec<VectorSample>),
    Matrix(Vec<MatrixSeries>),
    Scalar(DateTime<Utc>, f64),
    String(DateTime<Utc>, String),
}

impl QueryData {
    /// Number of series (1 for a scalar or string).
    pub fn series(&self) -> usize {
        match self {
            QueryData::Vector(v) => v.len(),
            QueryData::Matrix(m) => m.len(),
            _ => 1,
        }
    }

    /// Number of sample points returned.
    pub fn samples(&self) -> usize {
        match self {
            QueryData::Matrix(m) => m.iter().map(|s| s.samples.len()).sum(),
            other => other.series(),
        }
    }
}

/// `data` as Prometheus sends it: `{"resultType": …, "result": …}`.
impl Serialize for QueryData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "resultType")]
            result_type: &'static str,
            result: WireResult<'a>,
        }
        #[derive(Serialize)]
        #[serde(untagged)]
        enum WireResult<'a> {
            Vector(Vec<WireVector<'a>>),
            Matrix(Vec<WireMatrix<'a>>),
            Point((f64, String)),
        }
        #[derive(Serialize)]
        struct WireVector<'a> {
            metric: &'a Labels,
            value: (f64, String),
        }
        #[derive(Serialize)]
        struct WireMatrix<'a> {
            metric: &'a Labels,
            values: Vec<(f64, String)>,
        }
        let point = |t: &DateTime<Utc>, v: f64| (t.timestamp_millis() as f64 / 1000.0, value_text(v));
        let wire = match self {
            QueryData::Vector(v) => Wire {
                result_type: "vector",
                result: WireResult::Vector(
                    v.iter().map(|x| WireVector { metric: &x.labels, value: point(&x.time, x.value) }).collect(),
                ),
            },
            QueryData::Matrix(m) => Wire {
                result_type: "matrix",
                result: WireResult::Matrix(
                    m.iter()
                        .map(|x| WireMatrix {
                            metric: &x.labels,
                            values: x.samples.iter().map(|(t, v)| point(t, *v)).collect(),
                        })
                        .collect(),
                ),
            },
            QueryData::Scalar(t, v) => Wire { result_type: "scalar", result: WireResult::Point(point(t, *v)) },
            QueryData::String(t, text) => Wire {
                result_type: "string",
                result: WireResult::Point((t.timestamp_millis() as f64 / 1000.0, text.clone())),
            },
        };
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for QueryData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawData::deserialize(d)?;
        parse_result(&raw.result_type, raw.result).map_err(serde::de::Error::custom)
    }
}

/// A sample value as Prometheus writes it; [`value`] reads it back exactly.
pub fn value_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

/// A successful answer: the data, Prometheus' warnings, and the load it
/// reported when `stats` was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryAnswer {
    pub data: QueryData,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_queryable_samples: Option<u64>,
}

/// A Prometheus API client. Cheap to clone (shares the connection pool,
/// the recorder and the replayed answers).
#[derive(Debug, Clone)]
pub struct Client {
    backend: Backend,
    config: Arc<ClientConfig>,
    recorder: Option<Recorder>,
}

#[derive(Debug, Clone)]
enum Backend {
    Http(reqwest::Client),
    Replay(Arc<Replay>),
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, SourceError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| SourceError::Config(format!("cannot build the HTTP client: {e}")))?;
        let mut config = config;
        config.max_attempts = config.max_attempts.max(1);
        config.base_url = config.base_url.trim_end_matches('/').to_string();
        Ok(Client { backend: Backend::Http(http), config: Arc::new(config), recorder: None })
    }

    /// A client that answers from recorded evidence, never over HTTP; a
    /// request it has no recording of fails with [`SourceError::NotRecorded`].
    pub fn replay(replay: Replay) -> Self {
        Client {
            backend: Backend::Replay(Arc::new(replay)),
            config: Arc::new(ClientConfig::new("evidence:")),
            recorder: None,
        }
    }

    /// This client, recording every request and its final answer in `recorder`.
    pub fn recording(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// An instant query at `time`.
    pub async fn instant(&self, query: &str, time: DateTime<Utc>) -> Result<QueryAnswer, SourceError> {
        let request = Request::Query { query: query.to_string(), time };
        let params = vec![("query", query.to_string()), ("time", unix(time))];
        self.send(request, "query", params).await
    }

    /// A range query over `[start, end]` every `step_seconds`.
    pub async fn range(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_seconds: i64,
    ) -> Result<QueryAnswer, SourceError> {
        let request = Request::QueryRange { query: query.to_string(), start, end, step_seconds };
        let params = vec![
            ("query", query.to_string()),
            ("start", unix(start)),
            ("end", unix(end)),
            ("step", step_seconds.to_string()),
        ];
        self.send(request, "query_range", params).await
    }

    /// Answer `request`: from the replay, or over HTTP (recorded if a recorder is attached).
    async fn send(
        &self,
        request: Request,
        endpoint: &str,
        params: Vec<(&'static str, String)>,
    ) -> Result<QueryAnswer, SourceError> {
        let http = match &self.backend {
            Backend::Replay(replay) => return replay.answer(&request),
            Backend::Http(http) => http,
        };
        let answer = self.post(http, endpoint, request.query(), params).await;
        if let Some(recorder) = &self.recorder {
            recorder.record(request, &answer);
        }
        answer
    }

    async fn post(
        &self,
        http: &reqwest::Client,
        endpoint: &str,
        query: &str,
        mut params: Vec<(&'static str, String)>,
    ) -> Result<QueryAnswer, SourceError> {
        let url = format!("{}/api/v1/{endpoint}", self.config.base_url);
        params.push(("timeout", format!("{}ms", self.config.timeout.as_millis())));
        if self.config.stats {
            params.push(("stats", "all".into()));
        }
        let mut attempt = 1;
        loop {
            match self.attempt(http, &url, query, &params, attempt).await {
                Err(Attempt::Retry(err)) if attempt < self.config.max_attempts => {
                    attempt += 1;
                    tracing::debug!(query, attempt, error = %err, "retrying Prometheus query");
                    tokio::time::sleep(self.config.delay_before(attempt)).await;
                }
                Err(Attempt::Retry(err) | Attempt::Final(err)) => return Err(err),
                Ok(answer) => return Ok(answer),
            }
        }
    }

    async fn attempt(
        &self,
        http: &reqwest::Client,
        url: &str,
        query: &str,
        params: &[(&'static str, String)],
        attempt: u32,
    ) -> Result<QueryAnswer, Attempt> {
        let connection = |e: reqwest::Error| {
            Attempt::Retry(SourceError::Connection {
                url: redact_url(url),
                query: query.to_string(),
                attempts: attempt,
                // reqwest's message carries the URL, credentials included.
                message: crate::error_chain(&e.without_url()),
            })
        };
        let response = http.post(url).form(params).send().await.map_err(connection)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(connection)?;
        decode(query, status, &body, attempt)
    }
}

/// `url` with the password of its user info, if any, replaced by `xxxxx`
/// (as Go's `url.Redacted`): what logs and error messages may show.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("xxxxx"));
            u.to_string()
        }
        Ok(_) => url.to_string(),
        // Unparsable: show no more than the scheme and host part's shape.
        Err(_) if url.contains('@') => "<unparsable URL with user info>".to_string(),
        Err(_) => url.to_string(),
    }
}

/// One attempt's failure: worth retrying or not.
enum Attempt {
    Retry(SourceError),
    Final(SourceError),
}

fn unix(t: DateTime<Utc>) -> String {
    format!("{}.{:03}", t.timestamp(), t.timestamp_subsec_millis())
}

fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    data: Option<RawData>,
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// `data`: decoded in one pass, `result` straight into the type that
/// `resultType` (which Prometheus sends first) names.
struct RawData {
    result_type: String,
    result: RawResult,
    stats: Option<RawStats>,
}

enum RawResult {
    Vector(Vec<RawVector>),
    Matrix(Vec<RawMatrix>),
    Point((f64, String)),
    /// `result` came before `resultType`: decoded once its type is known.
    Deferred(serde_json::Value),
}

impl<'de> Deserialize<'de> for RawData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RawDataVisitor)
    }
}

struct RawDataVisitor;

impl<'de> serde::de::Visitor<'de> for RawDataVisitor {
    type Value = RawData;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Prometheus query result")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawData, A::Error> {
        let (mut result_type, mut result, mut stats) = (None::<String>, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resultType" => result_type = Some(map.next_value()?),
                "result" => result = Some(map.next_value_seed(ResultSeed(result_type.as_deref()))?),
                "stats" => stats = map.next_value()?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let result_type = result_type.ok_or_else(|| serde::de::Error::missing_field("resultType"))?;
        let result = result.ok_or_else(|| serde::de::Error::missing_field("result"))?;
        Ok(RawData { result_type, result, stats })
    }
}

struct ResultSeed<'a>(Option<&'a str>);

impl<'de> serde::de::DeserializeSeed<'de> for ResultSeed<'_> {
    type Value = RawResult;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<RawResult, D::Error> {
        Ok(match self.0 {
            Some("vector") => RawResult::Vector(Deserialize::deserialize(d)?),
            Some("matrix") => RawResult::Matrix(Deserialize::deserialize(d)?),
            Some("scalar" | "string") => RawResult::Point(Deserialize::deserialize(d)?),
            _ => RawResult::Deferred(Deserialize::deserialize(d)?),
        })
    }
}

#[derive(Deserialize)]
struct RawStats {
    samples: Option<RawSampleStats>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSampleStats {
    total_queryable_samples: Option<u64>,
}

#[derive(Deserialize)]
struct RawVector {
    metric: Labels,
    value: (f64, String),
}

#[derive(Deserialize)]
struct RawMatrix {
    metric: Labels,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

fn decode(query: &str, status: u16, body: &[u8], attempt: u32) -> Result<QueryAnswer, Attempt> {
    let bad = |message: String| SourceError::Decode { query: query.to_string(), message };
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(e) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
            let err = if status == 200 {
                bad(format!("not a Prometheus API answer ({e}): {text}"))
            } else {
                server_error(query, status, attempt, "http".into(), text)
            };
            return Err(if retryable(status) { Attempt::Retry(err) } else { Attempt::Final(err) });
        }
    };
    if envelope.status != "success" || status != 200 {
        let error_type = envelope.error_type.unwrap_or_else(|| "unknown".into());
        let error = envelope.error.unwrap_or_default();
        return Err(if retryable(status) {
            Attempt::Retry(server_error(query, status, attempt, error_type, error))
        } else {
            Attempt::Final(SourceError::Rejected { query: query.to_string(), status, error_type, error })
        });
    }
    let data = envelope.data.ok_or_else(|| Attempt::Final(bad("answer without `data`".into())))?;
    let total_queryable_samples = data.stats.as_ref().and_then(|s| s.samples.as_ref()?.total_queryable_samples);
    let parsed = parse_result(&data.result_type, data.result).map_err(|m| Attempt::Final(bad(m)))?;
    Ok(QueryAnswer { data: parsed, warnings: envelope.warnings, total_queryable_samples })
}

fn server_error(query: &str, status: u16, attempts: u32, error_type: String, error: String) -> SourceError {
    SourceError::Server { query: query.to_string(), status, attempts, error_type, error }
}

fn parse_result(result_type: &str, result: RawResult) -> Result<QueryData, String> {
    let result = match result {
        RawResult::Deferred(v) => {
            use serde::de::DeserializeSeed;
            ResultSeed(Some(result_type)).deserialize(v).map_err(|e| format!("bad `{result_type}` result: {e}"))?
        }
        r => r,
    };
    Ok(match (result_type, result) {
        ("vector", RawResult::Vector(raw)) => {
            let mut out = Vec::with_capacity(raw.len());
            for r in raw {
                out.push(VectorSample { time: time(r.value.0)?, value: value(&r.value.1)?, labels: r.metric });
            }
            QueryData::Vector(out)
        }
        ("matrix", RawResult::Matrix(raw)) => {
            let mut out = Vec::with_capacity(raw.len());
            for r in raw {
                let samples =
                    r.values.iter().map(|(t, v)| Ok((time(*t)?, value(v)?))).collect::<Result<_, String>>()?;
                out.push(MatrixSeries { labels: r.metric, samples });
            }
            QueryData::Matrix(out)
        }
        ("scalar", RawResult::Point((t, v))) => QueryData::Scalar(time(t)?, value(&v)?),
        ("string", RawResult::Point((t, v))) => QueryData::String(time(t)?, v),
        (other, _) => return Err(format!("unknown result type `{other}`")),
    })
}

/// A Prometheus timestamp (seconds, millisecond precision).
fn time(t: f64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_millis((t * 1000.0).round() as i64).ok_or_else(|| format!("timestamp {t} out of range"))
}

/// A Prometheus sample value: `"1"`, `"0.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`.
pub fn value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        t => t.parse().map_err(|_| format!("sample value `{t}` is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_prometheus_url_is_never_shown() {
        let url = "https://scraper:hunter2@prometheus.example:9090/prefix";
        assert_eq!(redact_url(url), "https://scraper:xxxxx@prometheus.example:9090/prefix");
        assert_eq!(redact_url("http://127.0.0.1:9090"), "http://127.0.0.1:9090");
        assert!(!format!("{:?}", ClientConfig::new(url)).contains("hunter2"));
    }

    #[tokio::test]
    async fn a_connection_error_does_not_carry_the_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config =
            ClientConfig { max_attempts: 1, ..ClientConfig::new(format!("http://u:hunter2@127.0.0.1:{port}")) };
        let client = Client::new(config).unwrap();
        let e = client.instant("up", chrono::Utc::now()).await.unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(shown.contains("cannot reach Prometheus") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn values_include_nan_and_infinities() {
        assert_eq!(value("1").unwrap(), 1.0);
        assert_eq!(value("0.25").unwrap(), 0.25);
        assert!(value("NaN").unwrap().is_nan());
        assert_eq!(value("+Inf").unwrap(), f64::INFINITY);
        assert_eq!(value("-Inf").unwrap(), f64::NEG_INFINITY);
        assert!(value("x").is_err());
    }

    #[test]
    fn backoff_doubles_from_the_configured_delay() {
        let c = ClientConfig::new("http://x");
        let d: Vec<u64> = (2..=4).map(|a| c.delay_before(a).as_millis() as u64).collect();
        assert_eq!(d, vec![500, 1000, 2000]);
    }

    #[test]
    fn a_vector_and_a_matrix_decode_with_warnings_and_stats() {
        let body = br#"{"status":"success","warnings":["w1"],"data":{"resultType":"vector",
            "result":[{"metric":{"instance":"a"},"value":[1790812800,"NaN"]}],
            "stats":{"samples":{"totalQueryableSamples":42}}}}"#;
        let a = decode("q", 200, body, 1).ok().unwrap();
        assert_eq!(a.warnings, vec!["w1"]);
        assert_eq!(a.total_queryable_samples, Some(42));
        let QueryData::Vector(v) = a.data else { panic!() };
        assert!(v[0].value.is_nan());
        let body = br#"{"status":"success","data":{"resultType":"matrix",
            "result":[{"metric":{},"values":[[1790812800.5,"1"],[1790812860,"0"]]}]}}"#;
        let a = decode("q", 200, body, 1).ok().unwrap();
        assert_eq!(a.data.samples(), 2);
        let body = br#"{"status":"success","data":{"result":[1790812800,"2.5"],"resultType":"scalar"}}"#;
        let a = decode("q", 200, body, 1).ok().unwrap();
        assert!(matches!(a.data, QueryData::Scalar(_, 2.5)), "any key order decodes");
    }

    #[test]
    fn bad_data_is_final_and_unavailable_is_retried() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        match decode("up{", 400, body, 1) {
            Err(Attempt::Final(e)) => {
                let m = e.to_string();
                assert!(m.contains("up{") && m.contains("bad_data") && m.contains("parse error"), "{m}");
            }
            _ => panic!("400 must not be retried"),
        }
        let body = br#"{"status":"error","errorType":"unavailable","error":"busy"}"#;
        assert!(matches!(decode("up", 503, body, 1), Err(Attempt::Retry(_))));
        assert!(matches!(decode("up", 429, b"slow down", 1), Err(Attempt::Retry(_))));
    }
}
