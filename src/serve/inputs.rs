//! `serve`'s input refresh: additive inputs read window by window.
//!
//! An additive input ([`crate::rules::additive`]: `sum_over_time` or
//! `count_over_time` of `$__range`, under `sum`) keeps a running total per
//! key (operator, region …) for the current period:
//!
//! - The first refresh (at start-up, in a new period, after the input's
//!   query changed, after a window read that could not be added) reads the
//!   whole period so far, as `evaluate` and the close do.
//! - Each later refresh reads only `(last end, new end]` and adds it. Sums
//!   are kept as exact decimals (Prometheus writes the shortest decimal
//!   that gives the float back), so the total does not depend on how the
//!   month was cut: for integer-valued series it equals a full read. A
//!   window value that is no decimal (`NaN`, `±Inf`, out of range) turns
//!   that key's total into a float sum, which is `NaN`/`±Inf` as the full
//!   read's sum would be.
//! - A window read that fails leaves the totals where they were (the input
//!   is reported failed, and its last value is served as for any failing
//!   input); the next refresh reads again from the same point.
//! - Samples written later than `now − evaluation.delay` into a window
//!   already read are missed until the next full read: at restart, in a
//!   new month, or every `--inputs.full-read-interval` if set.
//!
//! Every other input is read over the whole period at every refresh.

use crate::facts::InputFacts;
use crate::rules::additive::{self, Shape};
use crate::rules::spec::InputSpec;
use crate::source::inputs::{self, InputRead, InputResult, Reach};
use crate::source::{Client, QueryRecord};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// One key's running total.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sum {
    Exact(Decimal),
    /// After a value that is no decimal (`NaN`, `±Inf`, out of range).
    Float(f64),
}

impl Sum {
    fn of(v: f64) -> Sum {
        let exact = v.is_finite().then(|| Decimal::from_str_exact(&v.to_string()).ok()).flatten();
        exact.map_or(Sum::Float(v), Sum::Exact)
    }

    fn add(self, v: f64) -> Sum {
        match (self, Sum::of(v)) {
            (Sum::Exact(a), Sum::Exact(b)) => a.checked_add(b).map_or(Sum::Float(Sum::Exact(a).f64() + v), Sum::Exact),
            (a, _) => Sum::Float(a.f64() + v),
        }
    }

    fn f64(self) -> f64 {
        match self {
            // Through the decimal text: the nearest float, as Prometheus' own.
            Sum::Exact(d) => d.to_string().parse().unwrap_or(f64::NAN),
            Sum::Float(f) => f,
        }
    }
}

/// The running totals of one additive input.
#[derive(Debug, Clone)]
struct Tally {
    /// The input as read (a changed query starts again).
    spec: InputSpec,
    period_start: DateTime<Utc>,
    /// The end of the last window added.
    end: DateTime<Utc>,
    /// The end of the last full read.
    full_at: DateTime<Utc>,
    sums: BTreeMap<String, Sum>,
}

impl Tally {
    fn values(&self) -> BTreeMap<String, f64> {
        self.sums.iter().map(|(k, s)| (k.clone(), s.f64())).collect()
    }
}

/// The running totals of the additive inputs, kept between refreshes.
#[derive(Debug, Default)]
pub struct LiveInputs {
    tallies: BTreeMap<String, Tally>,
    /// Read every additive input whole again this long after its last full
    /// read (late samples); `None`: only when it must.
    full_read_every: Option<Duration>,
}

impl LiveInputs {
    pub fn new(full_read_every: Option<Duration>) -> Self {
        LiveInputs { tallies: BTreeMap::new(), full_read_every }
    }

    /// How `spec` is read at `end` in the period from `period_start`.
    fn reach(&self, spec: &InputSpec, additive: bool, period_start: DateTime<Utc>, end: DateTime<Utc>) -> Reach {
        let whole = Reach::Period(period_start);
        let Some(t) = self.tallies.get(&spec.name.value).filter(|t| additive && t.spec == *spec) else {
            return whole;
        };
        let full_due = self.full_read_every.is_some_and(|every| end - t.full_at >= every);
        if t.period_start != period_start || t.end > end || full_due { whole } else { Reach::Since(t.end) }
    }

    /// Every input at `end` in the period from `period_start`: additive
    /// ones from their running totals plus what is new, the others read
    /// whole. Failed inputs are [`InputFacts::Failed`], as
    /// [`inputs::read_inputs`] gives them.
    pub async fn refresh(
        &mut self,
        client: &Client,
        specs: &[InputSpec],
        period_start: DateTime<Utc>,
        end: DateTime<Utc>,
        log: &mut Vec<QueryRecord>,
    ) -> BTreeMap<String, InputFacts> {
        let additive: Vec<bool> = specs.iter().map(|s| additive::classify(&s.query.value) == Shape::Additive).collect();
        self.tallies.retain(|name, t| {
            t.period_start == period_start && specs.iter().zip(&additive).any(|(s, a)| *a && s.name.value == *name)
        });
        let reaches: Vec<Reach> =
            specs.iter().zip(&additive).map(|(s, a)| self.reach(s, *a, period_start, end)).collect();
        // A window with nothing new (end not moved) needs no query.
        let reads: Vec<InputRead> = specs
            .iter()
            .zip(&reaches)
            .filter(|(_, r)| **r != Reach::Since(end))
            .map(|(spec, reach)| InputRead { spec, reach: *reach })
            .collect();
        let mut results = inputs::read_each(client, &reads, end, log).await.into_iter();
        let mut out = BTreeMap::new();
        for ((spec, reach), additive) in specs.iter().zip(reaches).zip(additive) {
            let result = if reach == Reach::Since(end) { Ok(BTreeMap::new()) } else { results.next().expect("read") };
            let facts = match additive {
                true => self.add(spec, reach, period_start, end, result),
                false => result,
            };
            out.insert(spec.name.value.clone(), facts.map_or_else(InputFacts::Failed, InputFacts::Values));
        }
        out
    }

    /// Add one read of an additive input to its totals; the totals after it.
    fn add(
        &mut self,
        spec: &InputSpec,
        reach: Reach,
        period_start: DateTime<Utc>,
        end: DateTime<Utc>,
        result: InputResult,
    ) -> InputResult {
        let name = &spec.name.value;
        let values = match result {
            Ok(v) => v,
            Err(e) => {
                if matches!(reach, Reach::Since(_)) {
                    tracing::warn!(input = %name, error = %e, "input window read failed: its totals wait for the next refresh");
                }
                return Err(e);
            }
        };
        match reach {
            Reach::Period(_) => {
                let sums = values.iter().map(|(k, v)| (k.clone(), Sum::of(*v))).collect();
                let t = Tally { spec: spec.clone(), period_start, end, full_at: end, sums };
                self.tallies.insert(name.clone(), t);
            }
            Reach::Since(_) => {
                let t = self.tallies.get_mut(name).expect("a window is read only with totals");
                for (k, v) in values {
                    let sum = t.sums.get(&k).map_or(Sum::of(v), |s| s.add(v));
                    t.sums.insert(k, sum);
                }
                t.end = end;
            }
        }
        Ok(self.tallies[name].values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimal_sums_do_not_depend_on_how_the_month_is_cut() {
        let parts = [0.1, 0.2, 0.3, 1e15, 0.07];
        let sum = parts[1..].iter().fold(Sum::of(parts[0]), |s, v| s.add(*v));
        assert_eq!(sum, Sum::Exact(Decimal::from_str("1000000000000000.67").unwrap()));
        assert_eq!(sum.f64(), "1000000000000000.67".parse::<f64>().unwrap());
        let big = (0..44_640).fold(Sum::of(0.0), |s, _| s.add(6.0));
        assert_eq!(big.f64(), 267_840.0);
    }

    #[test]
    fn a_value_that_is_no_decimal_makes_the_sum_what_a_float_sum_would_be() {
        assert!(Sum::of(1.0).add(f64::NAN).add(2.0).f64().is_nan());
        assert_eq!(Sum::of(1.0).add(f64::INFINITY).add(2.0).f64(), f64::INFINITY);
        assert!(Sum::of(f64::INFINITY).add(f64::NEG_INFINITY).f64().is_nan());
        assert!(matches!(Sum::of(1e300), Sum::Float(_)));
    }
}
