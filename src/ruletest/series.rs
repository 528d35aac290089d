//! Input series of rule tests: the series selector (`up{instance="node-001"}`)
//! and promtool's expanding value notation.
//!
//! Values, separated by spaces:
//! - `a` — one sample; `_` — one missing sample;
//! - `a+bxn` / `a-bxn` — `a`, then `n` further samples stepping by `b`
//!   (`n + 1` samples in all, as in promtool);
//! - `axn` — `a` repeated `n + 1` times (`a+0xn`);
//! - `_xn` — `n` missing samples (as in promtool: a missing sample cannot step);
//! - `stale` is promtool's stale marker; it is not supported here.

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use std::collections::BTreeMap;

/// At most this many values per series (a month of 1 s samples is 2.7 M).
pub const MAX_VALUES: usize = 5_000_000;

/// Expand promtool notation into one value per interval; `None` is missing.
pub fn parse_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out: Vec<Option<f64>> = vec![];
    for token in text.split_whitespace() {
        let push = |out: &mut Vec<Option<f64>>, n: usize, f: &dyn Fn(usize) -> Option<f64>| {
            if out.len().saturating_add(n) > MAX_VALUES {
                return Err(format!("`{token}`: more than {MAX_VALUES} values in one series"));
            }
            out.extend((0..n).map(f));
            Ok(())
        };
        if token == "stale" {
            return Err("`stale` markers are not supported in rule tests; use `_` for a missing sample".into());
        }
        if token == "_" {
            out.push(None);
            continue;
        }
        match token.split_once('x') {
            None => out.push(Some(number(token, token)?)),
            Some((head, count)) => {
                let n: usize =
                    count.parse().map_err(|_| format!("`{token}`: `{count}` after `x` is not a whole number"))?;
                if head == "_" {
                    push(&mut out, n, &|_| None)?;
                    continue;
                }
                let (a, b) = split_step(head)
                    .ok_or_else(|| format!("`{token}`: expected `a`, `axn`, `a+bxn`, `a-bxn`, `_` or `_xn`"))?;
                let a = number(a, token)?;
                let b = match b {
                    Some((sign, b)) => sign * number(b, token)?,
                    None => 0.0,
                };
                push(&mut out, n + 1, &|i| Some(a + b * i as f64))?;
            }
        }
    }
    if out.is_empty() {
        return Err("no values".into());
    }
    Ok(out)
}

/// `a+b` / `a-b` / `a` → (a, Some((sign, b))). The sign of `a` itself and an
/// exponent sign (`1e-3`) are not separators.
fn split_step(head: &str) -> Option<(&str, Option<(f64, &str)>)> {
    let bytes = head.as_bytes();
    for i in 1..bytes.len() {
        let c = bytes[i];
        if (c == b'+' || c == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
            let sign = if c == b'+' { 1.0 } else { -1.0 };
            return Some((&head[..i], Some((sign, &head[i + 1..]))));
        }
    }
    if head.is_empty() { None } else { Some((head, None)) }
}

fn number(text: &str, token: &str) -> Result<f64, String> {
    let v: f64 = text.parse().map_err(|_| format!("`{token}`: `{text}` is not a number"))?;
    Ok(v)
}

/// A series of a test: metric name and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Parse `metric{label="value", …}` (equality matchers only).
pub fn parse_series(text: &str) -> Result<Series, String> {
    let expr = parser::parse(text).map_err(|e| format!("`{text}` is not a series selector: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("`{text}` is not a series: expected `metric{{label=\"value\", …}}`"));
    };
    if vs.offset.is_some() || vs.at.is_some() || !vs.matchers.or_matchers.is_empty() {
        return Err(format!("`{text}`: a test series has only a name and labels"));
    }
    let mut name = vs.name.clone();
    let mut labels = BTreeMap::new();
    for m in &vs.matchers.matchers {
        if !matches!(m.op, MatchOp::Equal) {
            return Err(format!("`{text}`: label `{}` must be given with `=`", m.name));
        }
        if m.name == "__name__" {
            name = Some(m.value.clone());
            continue;
        }
        if labels.insert(m.name.clone(), m.value.clone()).is_some() {
            return Err(format!("`{text}`: label `{}` given twice", m.name));
        }
    }
    let name = name.ok_or_else(|| format!("`{text}`: a test series needs a metric name"))?;
    Ok(Series { name, labels })
}

/// A selector from the rules (`source.up`, `source.degraded`), to tell
/// which test series feed it.
#[derive(Debug, Clone)]
pub struct Selector {
    name: Option<String>,
    matchers: Vec<promql_parser::label::Matcher>,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, String> {
        let expr = parser::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
        let Expr::VectorSelector(vs) = expr else {
            return Err(format!("`{text}` is not a vector selector; rule tests can only feed selectors"));
        };
        Ok(Selector { name: vs.name.clone(), matchers: vs.matchers.matchers.clone() })
    }

    /// Does the series feed this selector? The metric name must match; a
    /// label the series leaves out is not checked, so tests need not repeat
    /// the selector's constant labels (`job="fleet-node"`); a label it gives
    /// must satisfy the selector.
    pub fn matches(&self, s: &Series) -> bool {
        if self.name.as_ref().is_some_and(|n| *n != s.name) {
            return false;
        }
        self.matchers.iter().all(|m| {
            if m.name == "__name__" {
                return m.is_match(&s.name);
            }
            match s.labels.get(&m.name) {
                Some(v) => m.is_match(v),
                None => true,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(text: &str) -> Vec<Option<f64>> {
        parse_values(text).unwrap()
    }

    #[test]
    fn expanding_notation_follows_promtool() {
        assert_eq!(vals("-2+4x3"), vec![Some(-2.0), Some(2.0), Some(6.0), Some(10.0)]);
        assert_eq!(vals(" 1-2x4"), vec![Some(1.0), Some(-1.0), Some(-3.0), Some(-5.0), Some(-7.0)]);
        assert_eq!(vals("1x4"), vec![Some(1.0); 5]);
        assert_eq!(vals("1 _x3 0"), vec![Some(1.0), None, None, None, Some(0.0)]);
        assert_eq!(vals("1 _ 0"), vec![Some(1.0), None, Some(0.0)]);
        assert_eq!(vals("1x0"), vec![Some(1.0)]);
        assert_eq!(vals("1e-3 2.5"), vec![Some(0.001), Some(2.5)]);
        assert_eq!(vals("1e-3+1e-3x1"), vec![Some(0.001), Some(0.002)]);
    }

    #[test]
    fn a_month_of_samples_is_written_as_counts_plus_one() {
        // 43,200 one-minute samples (30 days): 42,984 up then 216 down.
        let v = vals("1x42983 0x215");
        assert_eq!(v.len(), 43_200);
        assert_eq!(v.iter().filter(|x| **x == Some(0.0)).count(), 216);
    }

    #[test]
    fn bad_values_are_refused_with_the_token() {
        for bad in ["", "stale", "1x", "x3", "ax3", "1xy", "1+x3", "_x-1", "1x99999999"] {
            assert!(parse_values(bad).is_err(), "{bad}");
        }
        assert!(parse_values("1 2 oops").unwrap_err().contains("`oops`"));
    }

    #[test]
    fn series_have_a_name_and_equality_labels() {
        let s = parse_series(r#"up{instance="node-001", region="eu"}"#).unwrap();
        assert_eq!(s.name, "up");
        assert_eq!(s.labels["instance"], "node-001");
        assert_eq!(s.labels["region"], "eu");
        assert!(parse_series(r#"up{instance=~"node.*"}"#).is_err());
        assert!(parse_series(r#"{instance="a"}"#).is_err());
        assert!(parse_series("sum(up)").is_err());
    }

    #[test]
    fn a_selector_matches_series_leaving_out_its_constant_labels() {
        let sel = Selector::parse(r#"up{job="fleet-node"}"#).unwrap();
        assert!(sel.matches(&parse_series(r#"up{instance="n1"}"#).unwrap()));
        assert!(sel.matches(&parse_series(r#"up{job="fleet-node", instance="n1"}"#).unwrap()));
        assert!(!sel.matches(&parse_series(r#"up{job="other", instance="n1"}"#).unwrap()));
        assert!(!sel.matches(&parse_series(r#"fleet_node_degraded{instance="n1"}"#).unwrap()));
    }
}
