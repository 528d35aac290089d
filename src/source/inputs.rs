//! The inputs: each input query at the end of what it reads, `$__range`
//! replaced by how far back it reaches; each input fails on its own.
//!
//! - [`read_inputs`]: every input over the whole period `[start, end]`
//!   (`$__range` in whole seconds), as `evaluate` and the close read them.
//! - [`read_each`]: any inputs, each over the whole period or over a
//!   window `(since, end]` (1 ms short, left open, as the availability
//!   reads): `serve`'s incremental refresh of additive inputs
//!   ([`crate::rules::additive`]) adds windows to a full read.

use super::answer::{QueryAnswer, QueryData, SourceError};
use super::plan::{Job, decode_error, kind_name, node_of, run};
use super::prometheus::Client;
use super::record::{QueryKind, QueryRecord};
use crate::facts::InputFacts;
use crate::rules::spec::{InputKey, InputSpec};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// How far back an input read reaches from its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The whole period from this start: `$__range` = whole seconds, as the close reads.
    Period(DateTime<Utc>),
    /// What is new since this instant: `(since, end]`, 1 ms short.
    Since(DateTime<Utc>),
}

impl Reach {
    fn range(self, end: DateTime<Utc>) -> String {
        match self {
            Reach::Period(start) => format!("{}s", (end - start).num_seconds()),
            Reach::Since(since) => format!("{}ms", (end - since).num_milliseconds() - 1),
        }
    }
}

/// One input to read, and how far back.
#[derive(Debug, Clone, Copy)]
pub struct InputRead<'a> {
    pub spec: &'a InputSpec,
    pub reach: Reach,
}

/// An input's values keyed by its label, or why its query failed.
pub type InputResult = Result<BTreeMap<String, f64>, String>;

/// Every input at `end` over `[start, end]` (`$__range`); each fails on its own.
pub async fn read_inputs(
    client: &Client,
    specs: &[InputSpec],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    log: &mut Vec<QueryRecord>,
) -> BTreeMap<String, InputFacts> {
    let reads: Vec<InputRead> = specs.iter().map(|spec| InputRead { spec, reach: Reach::Period(start) }).collect();
    let results = read_each(client, &reads, end, log).await;
    specs
        .iter()
        .zip(results)
        .map(|(spec, r)| {
            let facts = match r {
                Ok(values) => InputFacts::Values(values),
                Err(e) => InputFacts::Failed(e),
            };
            (spec.name.value.clone(), facts)
        })
        .collect()
}

/// Each read at `end`, in order; every query is recorded in `log` (purpose
/// `input:NAME`).
pub async fn read_each(
    client: &Client,
    reads: &[InputRead<'_>],
    end: DateTime<Utc>,
    log: &mut Vec<QueryRecord>,
) -> Vec<InputResult> {
    let jobs: Vec<Job> = reads
        .iter()
        .map(|r| {
            let query = r.spec.query.value.replace("$__range", &r.reach.range(end));
            Job::new(&format!("input:{}", r.spec.name.value), QueryKind::Instant, query, end)
        })
        .collect();
    let answers = run(client, jobs.clone(), log).await;
    reads
        .iter()
        .zip(jobs.iter().zip(answers))
        .map(|(r, (job, answer))| answer.and_then(|a| input_values(r.spec, &job.query, a)).map_err(|e| e.to_string()))
        .collect()
}

/// An input's answer keyed by its label (`""` for a scalar input).
fn input_values(spec: &InputSpec, query: &str, answer: QueryAnswer) -> Result<BTreeMap<String, f64>, SourceError> {
    let label = spec.label.clone().unwrap_or_else(|| key_name(spec.by).to_string());
    let pairs: Vec<(String, f64)> = match (spec.by, answer.data) {
        (_, QueryData::Scalar(_, v)) => vec![(String::new(), v)],
        (InputKey::Scalar, QueryData::Vector(v)) if v.len() <= 1 => {
            v.into_iter().map(|s| (String::new(), s.value)).collect()
        }
        (InputKey::Scalar, QueryData::Vector(v)) => {
            return Err(decode_error(
                query,
                format!("a scalar input returned {} series; aggregate it, e.g. sum(...)", v.len()),
            ));
        }
        (_, QueryData::Vector(v)) => v
            .into_iter()
            .map(|s| Ok((node_of(query, &s.labels, &label)?.to_string(), s.value)))
            .collect::<Result<_, SourceError>>()?,
        (_, other) => {
            return Err(decode_error(query, format!("expected a vector, got {}", kind_name(&other))));
        }
    };
    let mut out = BTreeMap::new();
    for (key, v) in pairs {
        if out.insert(key.clone(), v).is_some() {
            return Err(decode_error(
                query,
                format!("two series for `{label}` = `{key}`; aggregate with sum by ({label}) (...)"),
            ));
        }
    }
    Ok(out)
}

fn key_name(k: InputKey) -> &'static str {
    match k {
        InputKey::Operator => "operator",
        InputKey::Region => "region",
        InputKey::Partner => "partner",
        InputKey::Scalar => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_period_is_whole_seconds_and_a_window_one_millisecond_short() {
        let t = |d, h| Utc.with_ymd_and_hms(2026, 10, d, h, 0, 0).unwrap();
        assert_eq!(Reach::Period(t(1, 0)).range(t(2, 0)), "86400s");
        assert_eq!(Reach::Since(t(2, 0)).range(t(2, 1)), "3599999ms");
    }
}
