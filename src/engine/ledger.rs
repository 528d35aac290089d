//! The ledger of a payee's month: adjustments kept in git become statement
//! lines of their own (kind and category `adjustment`), in the total and
//! the year to date. A closed month is never rewritten: an adjustment for
//! a month that is closed without it is not applied and the evaluation
//! says to move it to an open month (naming the month it corrects).
//!
//! Nothing negative is paid: a month's total and the balance carried in
//! from the month before settle into what is payable (≥ 0) and what is
//! carried on or written off ([`settle`]). The balance carried in is the
//! closed month before's; one closed without a known balance is settled
//! again from its recorded total, back to a month with one or to the
//! payee's first month (balance 0). A month that is needed and not closed
//! makes the balance unknown, naming the month: never guessed. A month
//! whose payout is held ([`super::holds`]) pays nothing: what it would
//! pay is carried as held and paid in the first month that is not held.
//!
//! Disputes kept in git show on their payee's statement while they are open
//! at the evaluation time, with their age ([`disputes`]).

use super::months::{self, Active};
use super::pay::zero;
use crate::evaluation::{ADJUSTMENT, LineStatus, OpenDispute, PayLine, Statement};
use crate::history::{ClosedMonth, History, PayeeMonth, index, label, not_closed, parse_month};
use crate::money::round;
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::spec::{AdjustmentSpec, NegativeBalance};
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Add this period's adjustments to the statements of their payees (after
/// the tier lines, in the order of the rules) and warn about adjustments
/// for closed months that were closed without them.
pub(crate) fn adjust(
    rules: &Rules,
    history: &History,
    period: &Period,
    operators: &mut [Statement],
    partners: &mut [Statement],
    warnings: &mut Vec<String>,
) {
    let now = index(period.year, period.month);
    for a in &rules.adjustments {
        if a.period.value == period.label {
            let payee = operators.iter_mut().chain(partners.iter_mut()).find(|s| s.id == a.payee.value);
            match payee {
                Some(s) => add_line(rules, s, a),
                None => warnings.push(format!(
                    "adjustment {} is for {}, who has no statement in {}: not applied",
                    a.id.value, a.payee.value, a.period.value
                )),
            }
            continue;
        }
        let Some(closed) = history.months.get(&a.period.value) else { continue };
        if parse_month(&a.period.value).is_ok_and(|m| m > now) {
            continue;
        }
        let applied = [&closed.operators, &closed.partners]
            .iter()
            .any(|payees| payees.get(&a.payee.value).is_some_and(|p| p.lines.contains_key(&a.id.value)));
        if !applied {
            warnings.push(format!(
                "adjustment {} is for {}, which is closed; move it to an open month (with `corrects: {}`)",
                a.id.value, a.period.value, a.period.value
            ));
        }
    }
}

/// The adjustment as a line of `s`, in its total and year to date.
fn add_line(rules: &Rules, s: &mut Statement, a: &AdjustmentSpec) {
    let r = &rules.programme.rounding;
    let mut amount = round(a.amount.value.0, r.decimals, r.mode);
    amount.rescale(r.decimals);
    let negative = amount.is_sign_negative();
    let (name, corrects) = match &a.corrects {
        Some(m) if negative => (format!("Clawback for {m}"), format!("corrects {m} (clawback)")),
        Some(m) => (format!("Back-pay for {m}"), format!("corrects {m} (back-pay)")),
        None if negative => ("Adjustment (debit)".to_string(), String::new()),
        None => ("Adjustment (credit)".to_string(), String::new()),
    };
    let then = |sep: &str| {
        let mut more: Vec<String> = vec![];
        more.extend((!corrects.is_empty()).then(|| corrects.clone()));
        more.extend(a.dispute.as_ref().map(|d| format!("resolves dispute {d}")));
        more.iter().map(|m| format!("{sep}{m}")).collect::<String>()
    };
    let mut inputs = BTreeMap::from([
        ("approved_by".to_string(), a.approved_by.value.clone()),
        ("reference".to_string(), a.reference.value.clone()),
    ]);
    if let Some(m) = &a.corrects {
        inputs.insert("corrects".into(), m.value.clone());
    }
    if let Some(d) = &a.dispute {
        inputs.insert("dispute".into(), d.value.clone());
    }
    s.lines.push(PayLine {
        id: a.id.value.clone(),
        name,
        kind: ADJUSTMENT.into(),
        category: ADJUSTMENT.into(),
        status: LineStatus::Paid,
        amount,
        formula: format!("adjustment of {amount} {}{}", a.currency.value, then(", ")),
        reason: format!(
            "{}; reference {}; approved by {}{}",
            a.reason.value,
            a.reference.value,
            a.approved_by.value,
            then("; ")
        ),
        inputs,
    });
    s.total = s.lines.iter().map(|l| l.amount).fold(zero(rules), |x, y| x + y);
    let ytd = &mut s.year_to_date;
    if let Some(total) = ytd.total.as_mut() {
        *total += amount;
        *ytd.lines.entry(a.id.value.clone()).or_insert_with(|| zero(rules)) += amount;
    }
}

/// Settle every statement's month: balance carried in, payable, carried
/// out or written off, held (see [`super::holds`]). Returns the sum of
/// what is payable, `None` while any payee's is not known.
pub(crate) fn settle_all(
    rules: &Rules,
    history: &History,
    period: &Period,
    operators: &mut [Statement],
    partners: &mut [Statement],
) -> Option<Decimal> {
    let mut payable = Some(zero(rules));
    let operator_first: BTreeMap<&str, _> =
        rules.operators.iter().map(|o| (o.id.value.as_str(), Active::new(o.start, o.end).from)).collect();
    for s in operators.iter_mut() {
        let first = operator_first.get(s.id.as_str()).copied();
        settle_payee(rules, history, period, months::operators, s, first);
        payable = payable.zip(s.ledger.payable).map(|(a, b)| a + b);
    }
    for s in partners.iter_mut() {
        let first = rules.partners.iter().find(|p| p.id.value == s.id).map(|p| Active::new(p.start, p.end).from);
        settle_payee(rules, history, period, months::partners, s, first);
        payable = payable.zip(s.ledger.payable).map(|(a, b)| a + b);
    }
    payable
}

/// Settle one payee's month into its ledger (its states and holds are
/// set); `first` is its first month in the programme.
fn settle_payee(
    rules: &Rules,
    history: &History,
    period: &Period,
    payees: fn(&ClosedMonth) -> &BTreeMap<String, PayeeMonth>,
    s: &mut Statement,
    first: Option<i64>,
) {
    let now = index(period.year, period.month);
    let mode = rules.programme.negative_balance;
    let zero = zero(rules);
    let held = s.ledger.held();
    let g = &mut s.ledger;
    match carried_in(history, payees, &s.id, first.unwrap_or(now), now, mode, zero) {
        Ok((mut balance_in, mut held_in)) => {
            // A balance given by hand as `-100` shows as `-100.00`; more decimals stay.
            for d in [&mut balance_in, &mut held_in] {
                if d.scale() < zero.scale() {
                    d.rescale(zero.scale());
                }
            }
            let out = settle_held((balance_in, held_in), s.total, held, mode, zero);
            (g.balance_in, g.payable, g.balance_out) = (Some(balance_in), Some(out.payable), Some(out.balance_out));
            (g.written_off, g.balance_unknown) = (Some(out.written_off), None);
            g.held_in = (!held_in.is_zero()).then_some(held_in);
            g.held_out = (held || !out.held_out.is_zero()).then_some(out.held_out);
        }
        Err(why) => {
            (g.balance_in, g.payable, g.balance_out, g.written_off) = (None, None, None, None);
            (g.held_in, g.held_out, g.balance_unknown) = (None, None, Some(why));
        }
    }
}

/// The balance and the pay held carried into month `now`: the closed
/// month before's, or, where it was closed without one, settled again from
/// the recorded totals (held or not) back to a month with one (or to the
/// payee's `first` month: 0).
fn carried_in(
    history: &History,
    payees: fn(&ClosedMonth) -> &BTreeMap<String, PayeeMonth>,
    id: &str,
    first: i64,
    now: i64,
    mode: NegativeBalance,
    zero: Decimal,
) -> Result<(Decimal, Decimal), String> {
    let mut totals = vec![];
    let mut m = now - 1;
    let mut carried = loop {
        if m < first {
            break (zero, zero);
        }
        let closed = history.months.get(&label(m)).ok_or_else(|| not_closed(&[label(m)]))?;
        let p = payees(closed).get(id).ok_or_else(|| format!("{id} is not in the closed statement of {}", label(m)))?;
        if let Some(b) = p.balance_out {
            break (b, p.held_out);
        }
        totals.push((p.total, p.held));
        m -= 1;
    };
    for (total, held) in totals.into_iter().rev() {
        let out = settle_held(carried, total, held, mode, zero);
        carried = (out.balance_out, out.held_out);
    }
    Ok(carried)
}

/// (payable, balance out, written off) of a month's `total` with `balance_in`, not held.
#[cfg(test)]
pub(crate) fn settle(
    balance_in: Decimal,
    total: Decimal,
    mode: NegativeBalance,
    zero: Decimal,
) -> (Decimal, Decimal, Decimal) {
    let out = settle_held((balance_in, zero), total, false, mode, zero);
    (out.payable, out.balance_out, out.written_off)
}

/// A month settled.
pub(crate) struct Settled {
    pub payable: Decimal,
    pub balance_out: Decimal,
    pub written_off: Decimal,
    pub held_out: Decimal,
}

/// A month's `total` with the balance (≤ 0) and the pay held (≥ 0) carried
/// in: what is owed, `balance_in + held_in + total`, is payable, or held
/// when the month is `held`; what is below zero is carried or written off.
pub(crate) fn settle_held(
    (balance_in, held_in): (Decimal, Decimal),
    total: Decimal,
    held: bool,
    mode: NegativeBalance,
    zero: Decimal,
) -> Settled {
    let net = balance_in + held_in + total;
    let owed = net.max(zero);
    let below = net.min(zero);
    let (payable, held_out) = if held { (zero, owed) } else { (owed, zero) };
    let (balance_out, written_off) = match mode {
        NegativeBalance::CarryForward => (below, zero),
        NegativeBalance::WriteOff => (zero, zero - below),
    };
    Settled { payable, balance_out, written_off, held_out }
}

/// Every payee's disputes open at `now`, oldest first, with their age.
pub(crate) fn disputes(rules: &Rules, now: DateTime<Utc>, operators: &mut [Statement], partners: &mut [Statement]) {
    let today = now.with_timezone(&rules.time_zone).date_naive();
    for s in operators.iter_mut().chain(partners.iter_mut()) {
        let mut open: Vec<OpenDispute> = rules
            .disputes
            .iter()
            .filter(|d| d.payee.value == s.id && d.open_on(today))
            .map(|d| {
                let opened = d.opened_on.value.and_time(chrono::NaiveTime::MIN);
                let opened = rules.time_zone.from_local_datetime(&opened).earliest().map_or(now, |t| t.to_utc());
                let age_seconds = (now - opened).num_seconds().max(0);
                OpenDispute {
                    id: d.id.value.clone(),
                    period: d.period.value.clone(),
                    line: d.line.value.clone(),
                    opened_on: d.opened_on.value,
                    opened_by: d.opened_by.value.clone(),
                    text: d.text.value.clone(),
                    age_seconds,
                    age_days: age_seconds / 86_400,
                }
            })
            .collect();
        open.sort_by(|a, b| (a.opened_on, &a.id).cmp(&(b.opened_on, &b.id)));
        s.ledger.disputes = open;
    }
}
