//! What a query returns: a [`QueryAnswer`] (data, warnings, load) or the
//! [`SourceError`] it ended with. Shared by the HTTP client
//! ([`super::prometheus`]), the recorded evidence ([`super::evidence`]) and
//! the query plan.
//!
//! Answers serialize in Prometheus' own `data` shape (values as strings:
//! `NaN`, `+Inf` survive JSON); `RawData` decodes that shape in one pass.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// `data`: decoded in one pass, `result` straight into the type that
/// `resultType` (which Prometheus sends first) names.
pub(super) struct RawData {
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
    value: (f64, RawValue),
}

#[derive(Deserialize)]
struct RawMatrix {
    metric: Labels,
    #[serde(default)]
    values: Vec<(f64, RawValue)>,
}

/// A sample value, sent as a string, read straight into a number ([`value`]):
/// no string is allocated per sample (a raw answer holds 100,000).
struct RawValue(f64);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawValue;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sample value as a string")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<RawValue, E> {
                value(text).map(RawValue).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl RawData {
    /// The answer this `data` holds, with the warnings the envelope carried.
    pub(super) fn into_answer(self, warnings: Vec<String>) -> Result<QueryAnswer, String> {
        let total_queryable_samples = self.stats.as_ref().and_then(|s| s.samples.as_ref()?.total_queryable_samples);
        let data = parse_result(&self.result_type, self.result)?;
        Ok(QueryAnswer { data, warnings, total_queryable_samples })
    }
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
                out.push(VectorSample { time: time(r.value.0)?, value: r.value.1.0, labels: r.metric });
            }
            QueryData::Vector(out)
        }
        ("matrix", RawResult::Matrix(raw)) => {
            let mut out = Vec::with_capacity(raw.len());
            for r in raw {
                let samples = r.values.iter().map(|(t, v)| Ok((time(*t)?, v.0))).collect::<Result<_, String>>()?;
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
    fn values_include_nan_and_infinities() {
        assert_eq!(value("1").unwrap(), 1.0);
        assert_eq!(value("0.25").unwrap(), 0.25);
        assert!(value("NaN").unwrap().is_nan());
        assert_eq!(value("+Inf").unwrap(), f64::INFINITY);
        assert_eq!(value("-Inf").unwrap(), f64::NEG_INFINITY);
        assert!(value("x").is_err());
    }
}
