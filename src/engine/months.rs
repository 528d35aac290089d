//! Figures over several months, from the history of closed months and this
//! period: aggregates (operator variables over N months, the quarter or the
//! year to date), year-to-date pay, and since when an operator has been
//! eligible for promotion. A month that is needed and not closed makes the
//! figure unknown, naming the month: never guessed, never zero.

use super::Notes;
use crate::evaluation::{Availability, PayLine, Recorded, YearToDate};
use crate::history::{self, ClosedMonth, History, PayeeMonth, index, label};
use crate::money::to_f64;
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::expr::{Var, Vars};
use crate::rules::model::{Aggregate, OfKind};
use crate::rules::spec::{How, Over};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The months a payee was in the programme, as month indexes (inclusive).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Active {
    pub from: i64,
    pub to: Option<i64>,
}

impl Active {
    pub(crate) fn new(start: NaiveDate, end: Option<NaiveDate>) -> Active {
        Active { from: index(start.year(), start.month()), to: end.map(|e| index(e.year(), e.month())) }
    }

    fn contains(self, m: i64) -> bool {
        m >= self.from && self.to.is_none_or(|t| m <= t)
    }
}

/// The month indexes of `over`, ending with the period, oldest first.
fn window(over: Over, period: &Period) -> std::ops::RangeInclusive<i64> {
    let now = index(period.year, period.month);
    let first = match over {
        Over::Months(n) => now - (n as i64 - 1),
        Over::Quarter => index(period.year, (period.month - 1) / 3 * 3 + 1),
        Over::Year => index(period.year, 1),
    };
    first..=now
}

/// One month of a payee: this period's figures, or a closed month's record.
enum Month<'a> {
    Now,
    Past(&'a PayeeMonth),
}

/// The payee's months of `window`: those it was active in, or why some are not known.
fn months<'a>(
    history: &'a History,
    payees: fn(&ClosedMonth) -> &BTreeMap<String, PayeeMonth>,
    id: &str,
    active: Active,
    period: &Period,
    window: std::ops::RangeInclusive<i64>,
) -> Result<Vec<(i64, Month<'a>)>, String> {
    let now = index(period.year, period.month);
    let (mut found, mut missing, mut absent) = (vec![], vec![], vec![]);
    for m in window.filter(|m| active.contains(*m)) {
        if m == now {
            found.push((m, Month::Now));
            continue;
        }
        match history.months.get(&label(m)) {
            None => missing.push(label(m)),
            Some(closed) => match payees(closed).get(id) {
                Some(p) => found.push((m, Month::Past(p))),
                None => absent.push(label(m)),
            },
        }
    }
    if !missing.is_empty() {
        return Err(history::not_closed(&missing));
    }
    if !absent.is_empty() {
        return Err(format!("{id} is not in the closed statement of {}", absent.join(", ")));
    }
    Ok(found)
}

/// The operators of a closed month.
pub(crate) fn operators(m: &ClosedMonth) -> &BTreeMap<String, PayeeMonth> {
    &m.operators
}

/// The partners of a closed month.
pub(crate) fn partners(m: &ClosedMonth) -> &BTreeMap<String, PayeeMonth> {
    &m.partners
}

/// Whose months an aggregate reads: a payee of the closed months.
#[derive(Clone, Copy)]
pub(crate) struct Whose<'a> {
    pub payees: fn(&ClosedMonth) -> &BTreeMap<String, PayeeMonth>,
    pub id: &'a str,
    pub active: Active,
}

/// Set the aggregates of the rules that read a variable of `kind` for the
/// payee `who` (this period's variables already in `vars`, `availability`
/// for the pooled ones), with a note for each one that has no value.
pub(crate) fn set_aggregates(
    (rules, history, period): (&Rules, &History, &Period),
    who: Whose,
    kind: OfKind,
    availability: &Availability,
    vars: &mut Vars,
    notes: &mut Notes,
) {
    for a in rules.aggregates.iter().filter(|a| a.of_kind == kind) {
        set_aggregate((history, period), who, a, availability, vars, notes);
    }
}

/// Set one aggregate for the payee `who` (see [`set_aggregates`]).
pub(crate) fn set_aggregate(
    (history, period): (&History, &Period),
    who: Whose,
    a: &Aggregate,
    availability: &Availability,
    vars: &mut Vars,
    notes: &mut Notes,
) {
    let value = months(history, who.payees, who.id, who.active, period, window(a.over, period))
        .and_then(|ms| aggregate(a, &ms, availability, vars));
    match value {
        Ok(v) => {
            vars.insert(a.name.clone(), Var::Num(v));
            notes.remove(&a.name);
        }
        Err(why) => {
            vars.insert(a.name.clone(), Var::Unknown);
            notes.insert(a.name.clone(), why);
        }
    }
}

fn aggregate(a: &Aggregate, months: &[(i64, Month)], now: &Availability, vars: &Vars) -> Result<f64, String> {
    if a.how == How::Pooled {
        let (mut up, mut down, mut unknown) = (0i64, 0i64, 0i64);
        for (_, m) in months {
            let av = match m {
                Month::Now => now,
                Month::Past(p) => &p.availability,
            };
            (up, down, unknown) = (up + av.up_seconds, down + av.down_seconds, unknown + av.unknown_seconds);
        }
        let (part, whole) = if a.of == "coverage" { (up + down, up + down + unknown) } else { (up, up + down) };
        if whole == 0 {
            return Err(format!("no samples in the {} months of `{}`", months.len(), a.name));
        }
        return Ok(to_f64(Decimal::from(part) / Decimal::from(whole)));
    }
    let (mut values, mut unknown, mut unrecorded) = (vec![], vec![], vec![]);
    for (m, month) in months {
        let v = match month {
            Month::Now => match vars.get(&a.of) {
                Some(Var::Num(n)) => Some(*n),
                Some(Var::Bool(b)) => Some(f64::from(u8::from(*b))),
                Some(Var::Unknown) | None => None,
            },
            Month::Past(p) => match p.variables.get(&a.of).copied() {
                None => {
                    unrecorded.push(label(*m));
                    continue;
                }
                Some(Some(Recorded::Num(n))) => Some(n),
                Some(Some(Recorded::Bool(b))) => Some(f64::from(u8::from(b))),
                Some(None) => None,
            },
        };
        match v {
            Some(n) => values.push(n),
            None => unknown.push(label(*m)),
        }
    }
    if !unrecorded.is_empty() {
        return Err(format!("{} closed without `{}`", unrecorded.join(", "), a.of));
    }
    if a.how == How::Sum && !unknown.is_empty() {
        return Err(format!("`{}` has no value in {}", a.of, unknown.join(", ")));
    }
    if values.is_empty() && a.how != How::Count {
        return Err(format!("`{}` has no value in any month of `{}`", a.of, a.name));
    }
    Ok(match a.how {
        How::Sum => values.iter().sum(),
        How::Mean => values.iter().sum::<f64>() / values.len() as f64,
        How::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        How::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        How::Count => values.len() as f64,
        How::Pooled => unreachable!("pooled is handled above"),
    })
}

/// The payee's pay this calendar year: closed months (a month it is not in
/// paid it nothing) and this period's `lines`.
pub(crate) fn year_to_date(
    history: &History,
    period: &Period,
    payees: fn(&ClosedMonth) -> &BTreeMap<String, PayeeMonth>,
    id: &str,
    active: Active,
    lines: &[PayLine],
) -> YearToDate {
    let now = index(period.year, period.month);
    let mut ytd = YearToDate::default();
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for m in window(Over::Year, period).filter(|m| active.contains(*m)) {
        ytd.months.push(label(m));
        if m == now {
            for l in lines {
                *sums.entry(l.id.clone()).or_default() += l.amount;
            }
            continue;
        }
        let Some(closed) = history.months.get(&label(m)) else {
            ytd.missing.push(label(m));
            continue;
        };
        for (line, amount) in payees(closed).get(id).map(|p| &p.lines).into_iter().flatten() {
            *sums.entry(line.clone()).or_default() += amount;
        }
    }
    if ytd.missing.is_empty() {
        ytd.total = Some(sums.values().copied().sum());
        ytd.lines = sums;
    }
    ytd
}

/// Since when the operator has been eligible for its promotion from `tier`
/// (it is this month): the first month of the unbroken run of eligible
/// months in `tier`, and a note when a month before the run is not closed.
pub(crate) fn eligible_since(
    history: &History,
    period: &Period,
    id: &str,
    tier: &str,
    active: Active,
) -> (String, Option<String>) {
    let mut first = index(period.year, period.month);
    loop {
        let before = first - 1;
        if !active.contains(before) {
            return (label(first), None);
        }
        let Some(closed) = history.months.get(&label(before)) else {
            return (
                label(first),
                Some(format!("{}: eligible earlier is not known", history::not_closed(&[label(before)]))),
            );
        };
        match closed.operators.get(id) {
            Some(p) if p.tier == tier && p.eligible == Some(true) => first = before,
            _ => return (label(first), None),
        }
    }
}

/// What a statement records of a payee's variables.
pub(crate) fn recorded(vars: &Vars) -> BTreeMap<String, Option<Recorded>> {
    vars.iter()
        .map(|(k, v)| {
            let r = match v {
                Var::Num(n) => Some(Recorded::Num(*n)),
                Var::Bool(b) => Some(Recorded::Bool(*b)),
                Var::Unknown => None,
            };
            (k.clone(), r)
        })
        .collect()
}
