//! One pay line for one payee: condition, missing-data policy, the formula of
//! its kind, prorating, cap/floor, and the one rounding.

use super::fmt_var;
use crate::evaluation::{LineStatus, PayLine};
use crate::money::{from_f64, round};
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::expr::{EvalError, Expr, Var, Vars};
use crate::rules::spec::{BaseSpec, LineKind, LineSpec, MissingDataPolicy, NodeCount, Schedule};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// Who a line is evaluated for.
pub(crate) struct Payee<'a> {
    pub vars: &'a Vars,
    /// Why a variable has no value, by name (shown when a line is withheld).
    pub notes: &'a super::Notes,
    /// Coverage over the payee's nodes (the missing-data policy's measure).
    pub coverage: Decimal,
    /// The payee's roster nodes not seen in the window (sorted): `per_node`
    /// lines counting seen nodes leave them out and name them.
    pub unseen: &'a [String],
    pub active_days: u32,
    pub period_days: u32,
    /// The period evaluated (a line's `schedule`).
    pub period: &'a Period,
}

/// Variables that come from monitoring data: a line reading any of them is
/// subject to the missing-data policy.
fn is_availability_var(name: &str) -> bool {
    matches!(
        name,
        "uptime"
            | "coverage"
            | "downtime_seconds"
            | "unknown_seconds"
            | "region_uptime"
            | "fleet_uptime"
            | "mttr_seconds"
            | "major_incidents"
    ) || name.starts_with("incidents")
        || name.ends_with("_breaches")
}

/// An availability variable, or an aggregate of one (this month's data is
/// part of it).
pub(crate) fn reads_availability(rules: &Rules, name: &str) -> bool {
    is_availability_var(name) || rules.aggregate(name).is_some_and(|a| is_availability_var(&a.of))
}

pub(crate) fn kind_name(k: LineKind) -> &'static str {
    match k {
        LineKind::Fixed => "fixed",
        LineKind::PerNode => "per_node",
        LineKind::PerUnit => "per_unit",
        LineKind::Steps => "steps",
        LineKind::Percent => "percent",
        LineKind::Multiplier => "multiplier",
        LineKind::Band => "band",
    }
}

/// Why a line stopped before paying.
enum Stop {
    NotMet(String),
    Withheld(String),
    Error(String),
}

fn stop(e: EvalError, what: &str, notes: &super::Notes) -> Stop {
    match e {
        EvalError::Unknown(v) => Stop::Withheld(format!("{what}: {}", super::no_value(&v, notes))),
        EvalError::Failed(m) => Stop::Error(format!("{what}: {m}")),
    }
}

/// Every variable a line reads (its expressions and a money input base).
pub(crate) fn read_vars(line: &LineSpec) -> BTreeSet<String> {
    let mut read = computed_from(line);
    read.extend(line.when.iter().flat_map(|e| e.variables()));
    read
}

/// The variables a line's amount is computed from: all it reads but its condition.
fn computed_from(line: &LineSpec) -> BTreeSet<String> {
    let exprs = [&line.quantity, &line.over, &line.ratio, &line.factor, &line.by];
    let mut read: BTreeSet<String> = exprs.iter().filter_map(|e| e.as_ref()).flat_map(|e| e.variables()).collect();
    if let Some(i) = line.of.as_ref().and_then(|o| o.input.as_ref()) {
        read.insert(i.value.clone());
    }
    read
}

/// ` (a = 1, b = true)` for the variables an expression reads.
pub(crate) fn values(e: &Expr, vars: &Vars) -> String {
    let v: Vec<String> = e.variables().iter().map(|n| format!("{n} = {}", fmt_var(vars.get(n)))).collect();
    if v.is_empty() { String::new() } else { format!(" ({})", v.join(", ")) }
}

fn num(e: &Expr, p: &Payee, what: &str) -> Result<(f64, Decimal), Stop> {
    let n = e.eval_number(p.vars).map_err(|err| stop(err, what, p.notes))?;
    let d = from_f64(n).ok_or_else(|| Stop::Error(format!("{what}: `{}` gave {n}", e.source)))?;
    Ok((n, d))
}

fn need<T: Copy>(v: Option<T>, field: &str, kind: LineKind) -> Result<T, Stop> {
    v.ok_or_else(|| Stop::Error(format!("a {} line needs `{field}`", kind_name(kind))))
}

/// Evaluate a line. `done` holds the earlier lines of the same payee (for `of.lines`).
pub(crate) fn eval_line(line: &LineSpec, rules: &Rules, p: &Payee, done: &BTreeMap<String, PayLine>) -> PayLine {
    let read = read_vars(line);
    let mut shown = read.clone();
    if line.kind == LineKind::PerNode {
        shown.insert("nodes".into());
        if line.nodes.unwrap_or_default() == NodeCount::Seen {
            shown.insert("seen_nodes".into());
        }
    }
    if line.prorate {
        shown.insert("active_days".into());
        shown.insert("period_days".into());
    }
    let inputs = shown.iter().map(|n| (n.clone(), fmt_var(p.vars.get(n)))).collect();
    let mut out = PayLine {
        id: line.id.value.clone(),
        name: line.name.clone(),
        kind: kind_name(line.kind).to_string(),
        category: line.category.clone().unwrap_or_default(),
        status: LineStatus::NotMet,
        amount: zero(rules),
        formula: String::new(),
        reason: String::new(),
        inputs,
    };
    match compute(line, rules, p, done, &read) {
        Ok((amount, formula, reason)) => {
            out.status = LineStatus::Paid;
            out.amount = amount;
            out.formula = formula;
            out.reason = reason;
        }
        Err(Stop::NotMet(r)) => out.reason = r,
        Err(Stop::Withheld(r)) => {
            out.status = LineStatus::Withheld;
            out.reason = r;
        }
        Err(Stop::Error(r)) => {
            out.status = LineStatus::Error;
            out.reason = r;
        }
    }
    out
}

fn compute(
    line: &LineSpec,
    rules: &Rules,
    p: &Payee,
    done: &BTreeMap<String, PayLine>,
    read: &BTreeSet<String>,
) -> Result<(Decimal, String, String), Stop> {
    if !line.schedule.is_due(p.period.month) {
        return Err(Stop::NotMet(not_due(line.schedule, p.period)));
    }
    let policy = line.missing_data.unwrap_or(rules.missing_data.policy);
    let short = (policy == MissingDataPolicy::Withhold && read.iter().any(|v| reads_availability(rules, v)))
        .then(|| coverage_short(rules, p.coverage))
        .flatten();
    // Under the minimum coverage the availability variables count as
    // unknown: a condition decided without them (`incidents == 0 || …`
    // with a known right side that holds) still decides the line.
    let masked: Vars;
    let condition_vars = match short {
        Some(_) => {
            masked = p
                .vars
                .iter()
                .map(|(n, v)| (n.clone(), if reads_availability(rules, n) { Var::Unknown } else { *v }))
                .collect();
            &masked
        }
        None => p.vars,
    };
    let reason = match &line.when {
        None => "no condition".to_string(),
        Some(w) => match w.eval_bool(condition_vars) {
            Ok(true) => format!("`{}` holds{}", w.source, values(w, p.vars)),
            Ok(false) => {
                return Err(Stop::NotMet(format!("`{}` does not hold{}", w.source, values(w, p.vars))));
            }
            Err(EvalError::Unknown(v)) => {
                return Err(match &short {
                    // Undecided with all the data too, for want of other values: say which.
                    Some(why) => match w.eval_bool(p.vars) {
                        Err(EvalError::Unknown(all)) if !all.iter().any(|n| reads_availability(rules, n)) => {
                            stop(EvalError::Unknown(all), "condition", p.notes)
                        }
                        _ => Stop::Withheld(why.clone()),
                    },
                    None => stop(EvalError::Unknown(v), "condition", p.notes),
                });
            }
            Err(e) => return Err(stop(e, "condition", p.notes)),
        },
    };
    // Nor may the amount be computed from them.
    if let Some(why) = short
        && computed_from(line).iter().any(|v| reads_availability(rules, v))
    {
        return Err(Stop::Withheld(why));
    }

    let kind = line.kind;
    let amount = || need(line.amount.map(|d| d.0), "amount", kind);
    // Roster nodes a per_node line leaves out (named after the formula).
    let mut uncounted: &[String] = &[];
    let (raw, mut formula) = match kind {
        LineKind::Fixed => {
            let a = amount()?;
            (a, a.to_string())
        }
        LineKind::PerNode => {
            let a = amount()?;
            let count = match line.nodes.unwrap_or_default() {
                NodeCount::Seen => {
                    uncounted = p.unseen;
                    "seen_nodes"
                }
                NodeCount::Roster => "nodes",
            };
            let n = match p.vars.get(count) {
                Some(Var::Num(n)) => from_f64(*n).unwrap_or_default(),
                _ => return Err(Stop::Error("no node count for a per_node line".into())),
            };
            (a * n, format!("{a} × {n} nodes"))
        }
        LineKind::PerUnit => {
            let a = amount()?;
            let q = need(line.quantity.as_ref(), "quantity", kind)?;
            let (_, qd) = num(q, p, "quantity")?;
            (a * qd, format!("{a} × {qd} ({})", q.source))
        }
        LineKind::Steps => {
            let a = amount()?;
            let over = need(line.over.as_ref(), "over", kind)?;
            let above = need(line.above.map(|d| d.0), "above", kind)?;
            let step = need(line.step.map(|d| d.0), "step", kind)?;
            if step <= Decimal::ZERO {
                return Err(Stop::Error(format!("step must be positive, is {step}")));
            }
            let (_, o) = num(over, p, "over")?;
            let mut k = ((o - above) / step).floor().max(Decimal::ZERO);
            let mut capped = String::new();
            if let Some(m) = line.max_steps
                && k > Decimal::from(m)
            {
                k = Decimal::from(m);
                capped = format!(", at most {m}");
            }
            (a * k, format!("{a} × {k} steps (⌊({o} − {above}) / {step}⌋{capped})"))
        }
        LineKind::Percent => {
            let pct = need(line.percent.map(|d| d.0), "percent", kind)?;
            let (base, base_text) = base(line.of.as_ref(), p, done)?;
            match &line.ratio {
                Some(r) => {
                    let (_, rd) = num(r, p, "ratio")?;
                    (pct / Decimal::ONE_HUNDRED * rd * base, format!("{pct}% × {rd} ({}) × {base_text}", r.source))
                }
                None => (pct / Decimal::ONE_HUNDRED * base, format!("{pct}% × {base_text}")),
            }
        }
        LineKind::Multiplier => {
            let f = need(line.factor.as_ref(), "factor", kind)?;
            let (_, fd) = num(f, p, "factor")?;
            let (base, base_text) = base(line.of.as_ref(), p, done)?;
            ((fd - Decimal::ONE) * base, format!("({fd} − 1) × {base_text}"))
        }
        LineKind::Band => {
            let by = need(line.by.as_ref(), "by", kind)?;
            let (_, v) = num(by, p, "by")?;
            let band = line
                .bands
                .iter()
                .find(|b| b.from.is_none_or(|f| f.0 <= v) && b.to.is_none_or(|t| v < t.0))
                .ok_or_else(|| Stop::NotMet(format!("{reason}; no band holds {} = {v}", by.source)))?;
            let label = band.label.clone().unwrap_or_else(|| {
                let f = band.from.map(|d| d.0.to_string()).unwrap_or_default();
                let t = band.to.map(|d| d.0.to_string()).unwrap_or_default();
                format!("{f}–{t}")
            });
            match (band.amount, band.percent) {
                (Some(a), _) => (a.0, format!("band {label} ({} = {v}): {}", by.source, a.0)),
                (None, Some(pct)) => {
                    let (b, bt) = base(line.of.as_ref(), p, done)?;
                    (pct.0 / Decimal::ONE_HUNDRED * b, format!("band {label} ({} = {v}): {}% × {bt}", by.source, pct.0))
                }
                (None, None) => {
                    return Err(Stop::Error(format!("band {label} has neither amount nor percent")));
                }
            }
        }
    };

    let mut amt = raw;
    if line.prorate {
        if p.period_days == 0 {
            return Err(Stop::Error("period has no days".into()));
        }
        amt = amt * Decimal::from(p.active_days) / Decimal::from(p.period_days);
        formula.push_str(&format!(" × {}/{} days", p.active_days, p.period_days));
    }
    if let Some(c) = line.cap
        && amt > c.0
    {
        amt = c.0;
        formula.push_str(&format!(", capped at {}", c.0));
    }
    if let Some(f) = line.floor
        && amt < f.0
    {
        amt = f.0;
        formula.push_str(&format!(", floored at {}", f.0));
    }
    let r = &rules.programme.rounding;
    let mut amt = round(amt, r.decimals, r.mode);
    amt.rescale(r.decimals);
    // A plain fixed amount is its own formula: `200.00`, not `200 = 200.00`.
    if kind == LineKind::Fixed && formula == raw.to_string() {
        formula = amt.to_string();
    } else {
        formula.push_str(&format!(" = {amt}"));
    }
    if uncounted.is_empty() {
        return Ok((amt, formula, reason));
    }
    let note = format!("not counted: {}, no samples in the period", and_list(uncounted));
    Ok((amt, format!("{formula} ({note})"), format!("{reason}; {note}")))
}

/// Why a line is not evaluated this period: `paid quarterly: next in 2026-12`.
fn not_due(schedule: Schedule, period: &Period) -> String {
    format!("paid {}: next in {:04}-{:02}", schedule.name(), period.year, schedule.next_due(period.month))
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// The base of a percent/multiplier/band line: earlier lines' rounded amounts
/// and/or a money input. A base line that was withheld withholds this line.
fn base(of: Option<&BaseSpec>, p: &Payee, done: &BTreeMap<String, PayLine>) -> Result<(Decimal, String), Stop> {
    let of = of.ok_or_else(|| Stop::Error("the line needs `of` (lines or a money input)".into()))?;
    let mut sum = Decimal::ZERO;
    let mut parts = vec![];
    for id in &of.lines {
        let l = done
            .get(&id.value)
            .ok_or_else(|| Stop::Error(format!("`of` names line {}, which is not an earlier line", id.value)))?;
        match l.status {
            LineStatus::Withheld => {
                return Err(Stop::Withheld(format!("base line {} was withheld", id.value)));
            }
            LineStatus::Error => return Err(Stop::Error(format!("base line {} failed", id.value))),
            _ => {}
        }
        sum += l.amount;
        parts.push(id.value.clone());
    }
    if let Some(input) = &of.input {
        let v = match p.vars.get(&input.value) {
            Some(Var::Num(n)) => from_f64(*n).ok_or_else(|| Stop::Error(format!("input {} is {n}", input.value)))?,
            Some(Var::Unknown) => {
                return Err(Stop::Withheld(format!(
                    "base: {}",
                    super::no_value(std::slice::from_ref(&input.value), p.notes)
                )));
            }
            _ => {
                return Err(Stop::Error(format!("`of` names input {}, which is not a number input", input.value)));
            }
        };
        sum += v;
        parts.push(input.value.clone());
    }
    Ok((sum, format!("{sum} ({})", parts.join(" + "))))
}

/// Zero in the programme's minor unit (`0.00`).
pub(crate) fn zero(rules: &Rules) -> Decimal {
    let mut z = Decimal::ZERO;
    z.rescale(rules.programme.rounding.decimals);
    z
}

/// `coverage 80.00% below 90%` when `coverage` is under the programme's minimum.
pub(crate) fn coverage_short(rules: &Rules, coverage: Decimal) -> Option<String> {
    let min = rules.missing_data.min_coverage.0;
    (coverage < min).then(|| {
        let pct = |d: Decimal| d * Decimal::ONE_HUNDRED;
        format!("coverage {:.2}% below {}%", pct(coverage), pct(min).normalize())
    })
}
