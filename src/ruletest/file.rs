//! The test file format (`DIR/tests/*.yaml`), mirrored by serde structs.
//! Every struct rejects unknown fields, like the rule files.

use crate::evaluation::{LineStatus, Verdict};
use crate::money::Dec;
use crate::period::Dur;
use crate::rules::expr::Text;
use chrono::{DateTime, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// One test file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Directory of the rules under test, relative to the test file's
    /// directory; default `..` (the parent of `tests/`).
    pub rule_files_dir: Option<String>,
    pub tests: Vec<TestCase>,
}

/// One test: a period, its input data and what the evaluation must show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// A sentence saying what is tested.
    pub name: Text,
    /// The pay period, `YYYY-MM` (in the programme's time zone).
    pub period: String,
    /// Evaluation time (RFC 3339); default the period end.
    pub evaluated_at: Option<DateTime<Utc>>,
    /// Time between two values of `input_series`; default the rules' `source.step`.
    pub interval: Option<Dur>,
    /// Raw series in promtool notation; the first value is the sample at
    /// period start + interval.
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    /// Values of named inputs, keyed like the input's `by` (a plain number
    /// for a `scalar` input). Inputs not listed succeed with no series.
    #[serde(default)]
    pub inputs: BTreeMap<String, InputValues>,
    /// Inputs whose query failed, with the error text.
    #[serde(default)]
    pub failed_inputs: BTreeMap<String, String>,
    /// Acknowledgements; absent = no acknowledgement source (response
    /// verdicts unknown), `[]` = a source that saw none.
    pub acknowledgements: Option<Vec<AckSpec>>,
    /// Earlier months as if closed (see `crate::history::figures`): what
    /// aggregates, year to date and "eligible since" read.
    #[serde(default)]
    pub history: Vec<crate::history::figures::MonthFigures>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// A series selector with equality labels: `up{instance="node-001", region="eu"}`.
    pub series: Text,
    /// promtool notation: `1x100 0x5 _ 1+0x10`.
    pub values: Text,
}

/// Values of one input: `{eu: 10000, us: 2500}`, or one number for a scalar input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputValues(pub BTreeMap<String, f64>);

impl<'de> Deserialize<'de> for InputValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InputValues;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of key: number (e.g. `{eu: 10000}`), or a number for a scalar input")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<InputValues, E> {
                Ok(InputValues(BTreeMap::from([(String::new(), v)])))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<InputValues, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<InputValues, E> {
                self.visit_f64(v as f64)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<InputValues, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = m.next_entry::<String, f64>()? {
                    if out.insert(k.clone(), v).is_some() {
                        return Err(de::Error::custom(format!("key `{k}` given twice")));
                    }
                }
                Ok(InputValues(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// An acknowledgement: a silence on `node`, or on `incident` (a node
/// incident's id, or an incident source's incident id or key, as a
/// silence's `incident` matcher names it). One of the two.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckSpec {
    pub node: Option<String>,
    pub incident: Option<String>,
    pub at: DateTime<Utc>,
}

/// What the evaluation must show. Absent parts are not compared.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// When present: the exact list of incidents, in start order.
    pub incidents: Option<Vec<ExpIncident>>,
    /// Only the listed severities are compared.
    #[serde(default)]
    pub severities: Vec<ExpSeverity>,
    /// When present: the exact list of the incident classes' incidents
    /// (tickets …), in start order.
    pub class_incidents: Option<Vec<ExpClassIncident>>,
    /// Only the listed incident classes are compared.
    #[serde(default)]
    pub classes: Vec<ExpClass>,
    #[serde(default)]
    pub operators: Vec<ExpPayee>,
    #[serde(default)]
    pub partners: Vec<ExpPayee>,
    pub fleet: Option<ExpAvailability>,
    #[serde(default)]
    pub regions: BTreeMap<String, ExpAvailability>,
    /// Sum of all payees' totals.
    pub total: Option<Dec>,
    /// Each must be a substring of some warning.
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpIncident {
    pub severity: String,
    /// The exact node list (sorted).
    pub nodes: Option<Vec<String>>,
    pub start: Option<DateTime<Utc>>,
    /// Duration outside maintenance.
    pub duration: Option<Dur>,
    /// Still open at the window end.
    pub open: Option<bool>,
    pub respond: Option<Verdict>,
    pub resolve: Option<Verdict>,
    /// Id of the escalation level reached (`none`: no level).
    pub escalation: Option<String>,
    pub regions: Option<Vec<String>>,
    pub operators: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpSeverity {
    pub severity: String,
    pub incidents: Option<u64>,
    pub open: Option<u64>,
    /// Mean time to resolve, or `none` when no incident was resolved.
    pub mttr: Option<OptDur>,
    pub resolve_breaches: Option<u64>,
    pub respond_breaches: Option<u64>,
}

/// An incident of an incident class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpClassIncident {
    pub class: String,
    /// Its id in the source (the `id_label` value).
    pub key: Option<String>,
    /// The payee (`none`: no operator label).
    pub operator: Option<String>,
    pub severity: Option<String>,
    pub start: Option<DateTime<Utc>>,
    /// Wall-clock duration to its resolution (or the window end while open).
    pub duration: Option<Dur>,
    pub open: Option<bool>,
    pub respond: Option<Verdict>,
    /// A verdict, or `none` for a class without a resolve target.
    pub resolve: Option<OptVerdict>,
}

/// A verdict, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptVerdict(pub Option<Verdict>);

impl<'de> Deserialize<'de> for OptVerdict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "none" {
            return Ok(OptVerdict(None));
        }
        Verdict::deserialize(de::value::StrDeserializer::<D::Error>::new(&s)).map(|v| OptVerdict(Some(v)))
    }
}

/// One incident class over the period.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpClass {
    pub class: String,
    pub incidents: Option<u64>,
    pub open: Option<u64>,
    pub respond_breaches: Option<u64>,
    pub resolve_breaches: Option<u64>,
    /// Mean time to resolve, or `none` when no incident was resolved.
    pub mttr: Option<OptDur>,
}

/// A duration, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptDur(pub Option<Dur>);

impl<'de> Deserialize<'de> for OptDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "none" {
            return Ok(OptDur(None));
        }
        s.parse::<Dur>().map(|d| OptDur(Some(d))).map_err(de::Error::custom)
    }
}

/// An operator's or partner's statement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpPayee {
    pub id: String,
    pub tier: Option<String>,
    /// Sum of the lines (exact).
    pub total: Option<Dec>,
    /// Only the listed lines are compared.
    #[serde(default)]
    pub lines: BTreeMap<String, ExpLine>,
    pub promotion: Option<ExpPromotion>,
    /// Availability of the payee's nodes.
    pub uptime: Option<OptDec>,
    pub coverage: Option<Dec>,
    /// What is payable (exact), or `none` when it is not known (a month
    /// before not closed).
    pub payable: Option<OptDec>,
    /// The negative balance carried into the next month (exact), or `none`.
    pub balance_out: Option<OptDec>,
    /// Only the listed scores are compared: the exact value (`"72.5"`), or
    /// `none` when it must be unknown.
    #[serde(default)]
    pub scores: BTreeMap<String, OptDec>,
    /// Only the listed flags are compared: `true`, `false` or `unknown`.
    #[serde(default)]
    pub flags: BTreeMap<String, CheckState>,
}

/// A line: an amount (`"500.00"`, compared alone), or `{amount, status, reason}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpLine {
    /// Exact amount after rounding.
    pub amount: Option<Dec>,
    pub status: Option<LineStatus>,
    /// A substring of the line's reason.
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpLineFields {
    amount: Option<Dec>,
    status: Option<LineStatus>,
    reason: Option<String>,
}

impl<'de> Deserialize<'de> for ExpLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExpLine;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount such as \"500.00\", or {amount, status, reason}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExpLine, E> {
                Dec::deserialize(de::value::StrDeserializer::<E>::new(v)).map(amount)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ExpLine, E> {
                Dec::deserialize(de::value::F64Deserializer::<E>::new(v)).map(amount)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExpLine, E> {
                Dec::deserialize(de::value::U64Deserializer::<E>::new(v)).map(amount)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExpLine, E> {
                Dec::deserialize(de::value::I64Deserializer::<E>::new(v)).map(amount)
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ExpLine, A::Error> {
                let f = ExpLineFields::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(ExpLine { amount: f.amount, status: f.status, reason: f.reason })
            }
        }
        fn amount(d: Dec) -> ExpLine {
            ExpLine { amount: Some(d), ..ExpLine::default() }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpPromotion {
    pub eligible: Option<bool>,
    pub to: Option<String>,
    /// Check name → `true`, `false` or `unknown`.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState(pub Option<bool>);

impl<'de> Deserialize<'de> for CheckState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CheckState;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or unknown")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<CheckState, E> {
                Ok(CheckState(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CheckState, E> {
                match v {
                    "true" => Ok(CheckState(Some(true))),
                    "false" => Ok(CheckState(Some(false))),
                    "unknown" => Ok(CheckState(None)),
                    _ => Err(E::custom(format!("`{v}`: expected true, false or unknown"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpAvailability {
    /// Compared at the precision written (`"0.995"` matches 0.99504…), or `none`.
    pub uptime: Option<OptDec>,
    /// Compared at the precision written.
    pub coverage: Option<Dec>,
    pub nodes: Option<u64>,
}

/// A decimal, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptDec(pub Option<Dec>);

impl<'de> Deserialize<'de> for OptDec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OptDec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal such as \"0.995\", or none")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OptDec, E> {
                if v == "none" {
                    return Ok(OptDec(None));
                }
                Dec::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|d| OptDec(Some(d)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<OptDec, E> {
                Dec::deserialize(de::value::F64Deserializer::<E>::new(v)).map(|d| OptDec(Some(d)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OptDec, E> {
                Dec::deserialize(de::value::U64Deserializer::<E>::new(v)).map(|d| OptDec(Some(d)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OptDec, E> {
                Dec::deserialize(de::value::I64Deserializer::<E>::new(v)).map(|d| OptDec(Some(d)))
            }
        }
        d.deserialize_any(V)
    }
}
