//! The `aggregates` section: a payee's variables over several months.

use crate::rules::expr::Text;
use serde::Deserialize;

/// A variable over several months, this one included: its value in each
/// month comes from the closed months (see `crate::history`). It reads a
/// built-in operator variable (then it is an operator variable), a built-in
/// partner variable (a partner variable) or an input (a variable of both,
/// from the months of whichever payee reads it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// Variable name in expressions.
    pub name: Text,
    /// The variable aggregated: a built-in operator or partner variable, or an input.
    pub of: Text,
    /// The months: `N months` (the last N, this one included), `quarter`
    /// (the calendar quarter to date) or `year` (the calendar year to date).
    pub over: Over,
    /// How the months combine; default `pooled` for `uptime` and `coverage`
    /// (pooled time: up over known seconds across the months), required
    /// otherwise.
    pub how: Option<How>,
    pub description: Option<String>,
}

/// The months an aggregate spans, counted back from the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Over {
    /// The last N months, the period included.
    Months(u32),
    /// The calendar quarter to date.
    Quarter,
    /// The calendar year to date.
    Year,
}

impl std::fmt::Display for Over {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Over::Months(1) => write!(f, "1 month"),
            Over::Months(n) => write!(f, "{n} months"),
            Over::Quarter => write!(f, "quarter"),
            Over::Year => write!(f, "year"),
        }
    }
}

/// The longest `N months` an aggregate may span.
pub const MAX_AGGREGATE_MONTHS: u32 = 36;

impl std::str::FromStr for Over {
    type Err = String;
    fn from_str(s: &str) -> Result<Over, String> {
        let t = s.trim();
        let expected =
            || format!("`over: {t}`: expected `N months` (1 to {MAX_AGGREGATE_MONTHS}), `quarter` or `year`");
        match t {
            "quarter" => return Ok(Over::Quarter),
            "year" => return Ok(Over::Year),
            _ => {}
        }
        let (n, unit) = t.split_once(char::is_whitespace).ok_or_else(expected)?;
        let n: u32 = n.parse().map_err(|_| expected())?;
        if !matches!(unit.trim(), "months" | "month") || !(1..=MAX_AGGREGATE_MONTHS).contains(&n) {
            return Err(expected());
        }
        Ok(Over::Months(n))
    }
}

impl<'de> Deserialize<'de> for Over {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How an aggregate combines its months.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// Pooled time: up seconds over up + down seconds (`uptime`), or known
    /// over expected seconds (`coverage`), summed across the months.
    Pooled,
    /// Sum; unknown if any month's value is unknown.
    Sum,
    /// Mean of the months with a value.
    Mean,
    /// Smallest of the months with a value.
    Min,
    /// Largest of the months with a value.
    Max,
    /// Months with a value.
    Count,
}

impl How {
    pub fn name(self) -> &'static str {
        match self {
            How::Pooled => "pooled",
            How::Sum => "sum",
            How::Mean => "mean",
            How::Min => "min",
            How::Max => "max",
            How::Count => "count",
        }
    }
}
