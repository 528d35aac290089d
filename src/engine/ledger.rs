//! The ledger of a payee's month: adjustments kept in git become statement
//! lines of their own (kind and category `adjustment`), in the total and
//! the year to date. A closed month is never rewritten: an adjustment for
//! a month that is closed without it is not applied and the evaluation
//! says to move it to an open month (naming the month it corrects).

use super::pay::zero;
use crate::evaluation::{ADJUSTMENT, LineStatus, PayLine, Statement};
use crate::history::{History, parse_month};
use crate::money::round;
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::spec::AdjustmentSpec;
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
    let now = crate::history::index(period.year, period.month);
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
    let then = |sep: &str| if corrects.is_empty() { String::new() } else { format!("{sep}{corrects}") };
    let mut inputs = BTreeMap::from([
        ("approved_by".to_string(), a.approved_by.value.clone()),
        ("reference".to_string(), a.reference.value.clone()),
    ]);
    if let Some(m) = &a.corrects {
        inputs.insert("corrects".into(), m.value.clone());
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
