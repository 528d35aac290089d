//! Which input queries can be read window by window.
//!
//! An input query is *additive* when its value over the month is the sum of
//! its values over the windows the month is cut into: `$__range` is the
//! range of `sum_over_time(…)` or `count_over_time(…)` over a plain
//! selector (no `offset`, no `@`), possibly under `sum`, `sum by (…)`,
//! `sum without (…)` and parentheses. `serve` reads such an input
//! incrementally; any other query (`increase`, `rate`, `avg_over_time`,
//! arithmetic, a subquery …) is read again over the whole month to date at
//! every refresh. When in doubt, a query is not additive.
//!
//! The query is parsed by the same PromQL parser the loader checks it with
//! (`$__range` stands for a marker duration), so strings, comments and
//! nested parentheses are read as Prometheus reads them.

use promql_parser::parser::{self, Expr};
use std::time::Duration;

/// How `serve` can refresh an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Summed window by window: each refresh reads only what is new.
    Additive,
    /// Uses `$__range` otherwise: read over the whole month to date at every
    /// refresh, so its cost grows with the month. Says why.
    Whole(String),
    /// No `$__range`: read at the window end as written.
    Instant,
}

/// What `$__range` stands for while a query is classified.
const MARKER: &str = "987654321ms";
const MARKER_RANGE: Duration = Duration::from_millis(987_654_321);
/// Functions whose values over adjacent windows add up.
const ADDITIVE_FUNCTIONS: [&str; 2] = ["sum_over_time", "count_over_time"];

/// The shape of an input query (`$__range` not yet replaced).
pub fn classify(query: &str) -> Shape {
    let uses = query.matches("$__range").count();
    if uses == 0 {
        return Shape::Instant;
    }
    let whole = |why: &str| Shape::Whole(why.to_string());
    if uses > 1 {
        return whole("`$__range` appears more than once");
    }
    if query.contains(MARKER) {
        return whole("the query cannot be classified");
    }
    let Ok(expr) = parser::parse(&query.replace("$__range", MARKER)) else {
        return whole("the query does not parse");
    };
    if additive(&expr) {
        Shape::Additive
    } else {
        whole("only sum_over_time or count_over_time of `$__range`, under sum, is read window by window")
    }
}

/// `expr` is `sum`s and parentheses around one `sum_over_time` or
/// `count_over_time` of `selector[$__range]`.
fn additive(expr: &Expr) -> bool {
    match expr {
        Expr::Paren(p) => additive(&p.expr),
        Expr::Aggregate(a) => a.op.to_string() == "sum" && a.param.is_none() && additive(&a.expr),
        Expr::Call(c) => {
            ADDITIVE_FUNCTIONS.contains(&c.func.name)
                && matches!(c.args.args.as_slice(), [arg] if matches!(
                    arg.as_ref(),
                    Expr::MatrixSelector(m)
                        if m.range == MARKER_RANGE && m.vs.offset.is_none() && m.vs.at.is_none()
                ))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_additive(q: &str) -> bool {
        classify(q) == Shape::Additive
    }

    #[test]
    fn sums_and_counts_over_time_under_sum_are_additive() {
        for q in [
            "sum_over_time(revenue_minute[$__range])",
            "count_over_time(up{job=\"fleet\"}[$__range])",
            "sum by (operator) (sum_over_time(revenue_minute{kind!=\"test\"}[$__range]))",
            "sum without (instance) (sum_over_time(revenue_minute[$__range]))",
            "sum(sum by (operator) ((sum_over_time(revenue_minute[$__range]))))",
            "SUM BY (operator) (sum_over_time(revenue_minute[$__range]))",
            "sum(sum_over_time({__name__=\"revenue_minute\", note=\")]\"}[$__range]))",
            "# revenue earned each minute\nsum by (operator) (sum_over_time(revenue_minute[$__range]))",
            "sum(sum_over_time(revenue_minute[ $__range ]))",
        ] {
            assert!(is_additive(q), "{q}: {:?}", classify(q));
        }
    }

    #[test]
    fn anything_else_with_the_range_is_read_whole() {
        for q in [
            "sum by (operator) (increase(revenue_total[$__range]))",
            "rate(revenue_total[$__range])",
            "avg_over_time(revenue_minute[$__range])",
            "max_over_time(revenue_minute[$__range])",
            "sum_over_time(revenue_minute[$__range]) * 2",
            "sum_over_time(a[$__range]) + sum_over_time(b[$__range])",
            "sum_over_time(a[$__range]) / count_over_time(a[$__range])",
            "avg(sum_over_time(revenue_minute[$__range]))",
            "count(sum_over_time(revenue_minute[$__range]))",
            "max by (operator) (sum_over_time(revenue_minute[$__range]))",
            "topk(3, sum_over_time(revenue_minute[$__range]))",
            "sum_over_time(revenue_minute[$__range] offset 1h)",
            "sum_over_time(revenue_minute[$__range] @ 1700000000)",
            "sum_over_time(rate(revenue_total[5m])[$__range:1m])",
            "sum_over_time(revenue_minute[1h]) + 0 * vector(\"$__range\")",
            "sum_over_time(revenue_minute{note=\"$__range\"}[1h])",
            "sum_over_time(revenue_minute{note=\"$__range\"}[$__range])",
            "scalar(sum(sum_over_time(revenue_minute[$__range])))",
            "-sum_over_time(revenue_minute[$__range])",
            "sum_over_time(revenue_minute[987654321ms]) + sum_over_time(x[$__range])",
            "sum(sum_over_time(revenue_minute[$__range])",
            "sum_over_time(revenue_minute[$__range]) or vector(0)",
        ] {
            assert!(matches!(classify(q), Shape::Whole(_)), "{q}: {:?}", classify(q));
        }
    }

    #[test]
    fn a_query_without_the_range_is_instant() {
        assert_eq!(classify("max by (operator) (network_active_customers)"), Shape::Instant);
        assert_eq!(classify("sum_over_time(revenue_minute[30d])"), Shape::Instant);
    }
}
