//! A small hand-written Prometheus HTTP API client: `POST` form requests to
//! `/api/v1/query` and `/api/v1/query_range`, its own retry loop with
//! deterministic exponential backoff, typed errors that name the query, and
//! Prometheus' `warnings` handed back with the data (a VictoriaMetrics
//! cluster's `"isPartial": true` becomes one: [`PARTIAL`]).
//!
//! Retried: connection errors, timeouts, HTTP 5xx and 429. Not retried:
//! 400 `bad_data` and 422 `execution` (the query itself is wrong or too big;
//! asking again gives the same answer).
//!
//! Evidence: a live client may carry a [`Recorder`] ([`Client::recording`])
//! that keeps every request and its final answer; a client built with
//! [`Client::replay`] answers from such a recording instead of HTTP, so the
//! query plan runs unchanged offline. The answers and errors are
//! [`super::answer`]'s.

use super::answer::RawData;
pub use super::answer::{Labels, MatrixSeries, QueryAnswer, QueryData, SourceError, VectorSample};
use super::evidence::{Recorder, Replay, Request};
use super::record::Protocol;
use super::redact::redact_url;
use chrono::{DateTime, Utc};
use serde::Deserialize;
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
    /// How long windows are read (`--source.protocol`).
    pub protocol: Protocol,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &redact_url(&self.base_url))
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("stats", &self.stats)
            .field("protocol", &self.protocol)
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
            protocol: Protocol::Auto,
        }
    }

    /// The delay before attempt `attempt` (2, 3, …): backoff × 2^(attempt − 2).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        self.backoff * 2u32.saturating_pow(attempt.saturating_sub(2))
    }
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

    /// Whether this client answers from evidence rather than over HTTP.
    pub fn is_replay(&self) -> bool {
        matches!(self.backend, Backend::Replay(_))
    }

    /// The HTTP client, for the remote read client (none when replaying).
    pub(super) fn http(&self) -> Option<&reqwest::Client> {
        match &self.backend {
            Backend::Http(http) => Some(http),
            Backend::Replay(_) => None,
        }
    }

    /// The recorder attached, if any.
    pub(super) fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
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

/// The warning a partial answer carries when the backend said so only with
/// `"isPartial": true` (a VictoriaMetrics cluster whose `vmselect` missed a
/// `vmstorage` node): like any warning, it makes the answer unused.
pub const PARTIAL: &str = "partial response (isPartial: true): a storage node did not answer";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    data: Option<RawData>,
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    /// VictoriaMetrics cluster: the answer lacks some storage node's data.
    #[serde(default)]
    is_partial: bool,
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
    let mut warnings = envelope.warnings;
    if envelope.is_partial {
        warnings.push(PARTIAL.to_string());
    }
    data.into_answer(warnings).map_err(|m| Attempt::Final(bad(m)))
}

fn server_error(query: &str, status: u16, attempts: u32, error_type: String, error: String) -> SourceError {
    SourceError::Server { query: query.to_string(), status, attempts, error_type, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_prometheus_url_is_never_shown() {
        let url = "https://scraper:hunter2@prometheus.example:9090/prefix";
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

    /// Regression: a VictoriaMetrics cluster answers with the data of the
    /// `vmstorage` nodes it reached and `"isPartial": true`, without a
    /// warning; the answer was used as whole, so samples of the missing
    /// nodes counted as unknown.
    #[test]
    fn a_partial_answer_of_victoria_metrics_cluster_carries_a_warning() {
        let body = br#"{"status":"success","isPartial":true,"data":{"resultType":"vector","result":[]}}"#;
        let a = decode("up", 200, body, 1).ok().unwrap();
        assert_eq!(a.warnings, vec![PARTIAL.to_string()]);
        let body = br#"{"status":"success","isPartial":false,"data":{"resultType":"vector","result":[]}}"#;
        assert!(decode("up", 200, body, 1).ok().unwrap().warnings.is_empty());
    }
}
