//! `adjustments`: each once, a statement line of its own (its id no pay
//! line's), for a payee on the roster and in the programme in the month it
//! is paid, in the programme's currency, exact to the programme's
//! decimals, with a reason, a reference and an approver; a correction
//! names a month before the one it is paid in; a dispute it resolves is
//! one of the same payee.
//!
//! `disputes`: each once, of a payee on the roster in a month it was in the
//! programme, of one of its lines (a line of its tiers or one of its
//! adjustments), opened in or after that month; resolved or rejected ones
//! say how and when, and a resolved one is named by the adjustment that
//! resolves it.

use super::names::{Names, resolve};
use crate::history::parse_month;
use crate::rules::expr::{Pos, Text};
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use crate::rules::spec::{AdjustmentSpec, DisputeSpec, DisputeStatus};
use chrono::{Datelike, NaiveDate};

/// The months (indexes, inclusive) a payee is in the programme, and how to
/// name it: `operator `alice``.
struct Tenure {
    what: String,
    from: (i64, NaiveDate),
    to: Option<(i64, NaiveDate)>,
}

fn month_of(d: NaiveDate) -> i64 {
    crate::history::index(d.year(), d.month())
}

/// The payee `id` on the roster: operator or partner, with its months.
fn tenure(m: &Merged, id: &str) -> Vec<Tenure> {
    let operators = m.operators.iter().filter(|o| o.item.id.value == id).map(|o| Tenure {
        what: format!("operator `{id}`"),
        from: (month_of(o.item.start), o.item.start),
        to: o.item.end.map(|e| (month_of(e), e)),
    });
    let partners = m.partners.iter().filter(|p| p.item.id.value == id).map(|p| Tenure {
        what: format!("partner `{id}`"),
        from: (month_of(p.item.start), p.item.start),
        to: p.item.end.map(|e| (month_of(e), e)),
    });
    operators.chain(partners).collect()
}

/// A month (`YYYY-MM`) field; None after reporting one that is not.
fn month(file: usize, t: &Text, field: &str, errs: &mut Errors) -> Option<i64> {
    parse_month(&t.value).map_err(|e| errs.at(file, t.pos, format!("`{field}`: {e}"))).ok()
}

pub(super) fn check_adjustments(m: &Merged, n: &Names, errs: &mut Errors) {
    let payees: Vec<String> = n.operators.iter().chain(&n.partners).cloned().collect();
    let programme = m.programme.as_ref().map(|p| &p.item);
    for At { file, item: a } in &m.adjustments {
        let file = *file;
        for t in m.tiers.iter().chain(&m.partner_tiers) {
            if t.item.lines.iter().any(|l| l.id.value == a.id.value) {
                let message = format!(
                    "adjustment id `{}` is also a pay line of tier `{}`; an adjustment is a statement line of its own: give it another id",
                    a.id, t.item.id
                );
                errs.at(file, a.id.pos, message);
            }
        }
        for (field, text) in [("reason", &a.reason), ("reference", &a.reference), ("approved_by", &a.approved_by)] {
            if text.value.trim().is_empty() {
                errs.at(file, text.pos, format!("adjustment `{}`: `{field}` is empty", a.id));
            }
        }
        check_amount(file, a, programme, errs);
        let paid = month(file, &a.period, "period", errs);
        if let (Some(c), Some(paid)) = (&a.corrects, paid)
            && let Some(corrected) = month(file, c, "corrects", errs)
            && corrected >= paid
        {
            let message = format!(
                "adjustment `{}` corrects {c}, which is not before the month it is paid in ({}); a correction of a closed month is paid in a later, open month",
                a.id, a.period
            );
            errs.at(file, c.pos, message);
        }
        let subject = format!("adjustment `{}` is paid in {}", a.id, a.period);
        check_payee(m, (file, &a.payee, &payees), (&subject, &a.period, paid), errs);
        if let Some(d) = &a.dispute {
            let same: Vec<String> = m
                .disputes
                .iter()
                .filter(|x| x.item.payee.value == a.payee.value)
                .map(|x| x.item.id.value.clone())
                .collect();
            resolve(file, d, &format!("dispute of `{}`", a.payee), &same, errs);
        }
    }
}

/// The payee resolves to one operator or partner, in the programme in the
/// month (index `month`) of `period`; `subject` words the error.
fn check_payee(
    m: &Merged,
    (file, payee, payees): (usize, &Text, &[String]),
    (subject, period, month): (&str, &Text, Option<i64>),
    errs: &mut Errors,
) {
    resolve(file, payee, "operator or partner", payees, errs);
    match tenure(m, &payee.value).as_slice() {
        [one] => {
            if let Some(month) = month {
                check_in_programme(file, subject, period, one, month, errs);
            }
        }
        [] => {}
        _ => errs.at(
            file,
            payee.pos,
            format!("payee `{payee}` is both an operator and a partner; give one of them another id"),
        ),
    }
}

pub(super) fn check_disputes(m: &Merged, n: &Names, errs: &mut Errors) {
    let payees: Vec<String> = n.operators.iter().chain(&n.partners).cloned().collect();
    for At { file, item: d } in &m.disputes {
        let file = *file;
        for (field, text) in [("opened_by", &d.opened_by), ("text", &d.text)] {
            if text.value.trim().is_empty() {
                errs.at(file, text.pos, format!("dispute `{}`: `{field}` is empty", d.id));
            }
        }
        let month = month(file, &d.period, "period", errs);
        let subject = format!("dispute `{}` is of {}", d.id, d.period);
        check_payee(m, (file, &d.payee, &payees), (&subject, &d.period, month), errs);
        if payees.contains(&d.payee.value) {
            let what = format!("line of `{}` (a pay line of its tiers or one of its adjustments)", d.payee);
            resolve(file, &d.line, &what, &lines_of(m, &d.payee.value), errs);
        }
        if let Some(month) = month
            && month_of(d.opened_on.value) < month
        {
            let message = format!(
                "dispute `{}` is opened on {}, before the month it disputes ({})",
                d.id, d.opened_on.value, d.period
            );
            errs.at(file, Pos::of(&d.opened_on), message);
        }
        check_status(file, m, d, errs);
    }
}

/// Resolved or rejected: how and when; resolved: by an adjustment. Open: neither.
fn check_status(file: usize, m: &Merged, d: &DisputeSpec, errs: &mut Errors) {
    let status = Pos::of(&d.status);
    let closed = d.status.value != DisputeStatus::Open;
    let name = match d.status.value {
        DisputeStatus::Open => "open",
        DisputeStatus::Resolved => "resolved",
        DisputeStatus::Rejected => "rejected",
    };
    if closed && d.resolution.as_ref().is_none_or(|r| r.value.trim().is_empty()) {
        errs.at(file, status, format!("dispute `{}` is {name}: say how in `resolution`", d.id));
    }
    match &d.resolved_on {
        None if closed => errs.at(file, status, format!("dispute `{}` is {name}: say when in `resolved_on`", d.id)),
        Some(r) if !closed => errs.at(
            file,
            Pos::of(r),
            format!("dispute `{}` is open and has a `resolved_on`; is it resolved or rejected?", d.id),
        ),
        Some(r) if r.value < d.opened_on.value => errs.at(
            file,
            Pos::of(r),
            format!("dispute `{}` is resolved on {}, before it was opened ({})", d.id, r.value, d.opened_on.value),
        ),
        _ => {}
    }
    if !closed && d.resolution.is_some() {
        let pos = d.resolution.as_ref().map_or(status, |r| r.pos);
        errs.at(file, pos, format!("dispute `{}` is open and has a `resolution`; is it resolved or rejected?", d.id));
    }
    let named = m.adjustments.iter().any(|a| a.item.dispute.as_ref().is_some_and(|x| x.value == d.id.value));
    if d.status.value == DisputeStatus::Resolved && !named {
        let message = format!(
            "dispute `{}` is resolved, and no adjustment names it: resolving a dispute is an adjustment in an open month with `dispute: {}` (or is it rejected?)",
            d.id, d.id
        );
        errs.at(file, status, message);
    }
}

/// The lines a payee's dispute may name: those of every tier it has had,
/// and its adjustments.
fn lines_of(m: &Merged, id: &str) -> Vec<String> {
    let mut tiers: Vec<&str> = vec![];
    for o in m.operators.iter().filter(|o| o.item.id.value == id) {
        tiers.extend(o.item.tier.iter().map(|t| t.value.as_str()));
        tiers.extend(o.item.tiers.iter().map(|t| t.tier.value.as_str()));
    }
    let partner_tiers: Vec<&str> =
        m.partners.iter().filter(|p| p.item.id.value == id).map(|p| p.item.tier.value.as_str()).collect();
    let of = |list: &[At<crate::rules::spec::TierSpec>], ids: &[&str]| -> Vec<String> {
        list.iter()
            .filter(|t| ids.contains(&t.item.id.value.as_str()))
            .flat_map(|t| t.item.lines.iter().map(|l| l.id.value.clone()))
            .collect()
    };
    let mut lines = of(&m.tiers, &tiers);
    lines.extend(of(&m.partner_tiers, &partner_tiers));
    lines.extend(m.adjustments.iter().filter(|a| a.item.payee.value == id).map(|a| a.item.id.value.clone()));
    lines.sort();
    lines.dedup();
    lines
}

/// Not zero, the programme's currency, at most its decimals.
fn check_amount(
    file: usize,
    a: &AdjustmentSpec,
    programme: Option<&crate::rules::spec::ProgrammeSpec>,
    errs: &mut Errors,
) {
    let amount = a.amount.value.0;
    if amount.is_zero() {
        errs.at(file, a.amount_pos(), format!("adjustment `{}`: the amount is 0", a.id));
    }
    let Some(p) = programme else { return };
    if a.currency.value != p.currency {
        let message = format!(
            "adjustment `{}` is in {}; the programme pays in {} (convert it, and say so in `reason`)",
            a.id, a.currency, p.currency
        );
        errs.at(file, a.currency.pos, message);
    }
    let decimals = p.rounding.decimals;
    if amount.normalize().scale() > decimals {
        let message = format!(
            "adjustment `{}`: {amount} has more than the programme's {decimals} decimals; an adjustment is exact",
            a.id
        );
        errs.at(file, a.amount_pos(), message);
    }
}

/// The payee has a statement in `month` (written at `period`).
fn check_in_programme(file: usize, subject: &str, period: &Text, t: &Tenure, month: i64, errs: &mut Errors) {
    let why = if month < t.from.0 {
        format!("before {} starts ({})", t.what, t.from.1)
    } else if let Some((_, end)) = t.to.filter(|(to, _)| month > *to) {
        format!("after {} left ({end})", t.what)
    } else {
        return;
    };
    errs.at(file, period.pos, format!("{subject}, {why}: a month its payee has no statement"));
}

#[cfg(test)]
mod tests {
    use crate::rules::load::test_support::*;

    const OK: &str = "version: 1\nadjustments:\n  - id: claw1\n    payee: alice\n    amount: -250.00\n    currency: USD\n    reason: Churn rebate missed in August\n    reference: FIN-112\n    approved_by: Dana Finance\n    period: 2026-09\n    corrects: 2025-06\n";

    fn messages(text: &str) -> Vec<String> {
        let files = with_file(fixture(), "adjustments.yaml", text);
        errors(&files).iter().map(|e| format!("{}:{} {}", e.line, e.column, e.message)).collect()
    }

    #[test]
    fn adjustments_load_with_their_fields() {
        let files = with_file(fixture(), "adjustments.yaml", OK);
        let rules = crate::rules::load::load_files(std::path::Path::new("rules"), &files).unwrap();
        let a = &rules.adjustments[0];
        assert_eq!((a.id.value.as_str(), a.amount.value.0.to_string().as_str()), ("claw1", "-250"));
        assert_eq!(a.corrects.as_ref().unwrap().value, "2025-06");
    }

    #[test]
    fn the_negative_balance_setting_is_one_of_two() {
        let files = edited("programme.yaml", "time_zone: UTC,", "time_zone: UTC, negative_balance: write_off,");
        let rules = crate::rules::load::load_files(std::path::Path::new("rules"), &files).unwrap();
        assert_eq!(rules.programme.negative_balance, crate::rules::spec::NegativeBalance::WriteOff);
        let files = edited("programme.yaml", "time_zone: UTC,", "time_zone: UTC, negative_balance: forgive,");
        let errs = errors(&files);
        assert_eq!((errs.len(), errs[0].line), (1, 3), "{errs:#?}");
        assert!(errs[0].message.contains("forgive"), "{}", errs[0]);
    }

    #[test]
    fn an_unknown_field_is_refused_at_its_place() {
        let files = with_file(fixture(), "adjustments.yaml", &OK.replace("reference:", "referense:"));
        let at = pos(&files, "adjustments.yaml", "referense");
        assert_one(&errors(&files), "adjustments.yaml", at, &["unknown field `referense`"]);
    }

    #[test]
    fn every_semantic_error_is_reported_at_its_value() {
        let cases: &[(&str, &str, &str)] = &[
            ("payee: alice", "payee: alise", "unknown operator or partner `alise`; did you mean `alice`?"),
            ("currency: USD", "currency: EUR", "adjustment `claw1` is in EUR; the programme pays in USD"),
            ("period: 2026-09", "period: 2026-9", "`period`: `2026-9` is not a month (YYYY-MM)"),
            ("corrects: 2025-06", "corrects: 2026-09", "adjustment `claw1` corrects 2026-09, which is not before"),
            ("id: claw1", "id: base", "adjustment id `base` is also a pay line of tier `tier1`"),
            ("amount: -250.00", "amount: -250.005", "-250.005 has more than the programme's 2 decimals"),
            ("amount: -250.00", "amount: 0", "adjustment `claw1`: the amount is 0"),
            ("reason: Churn rebate missed in August", "reason: \" \"", "adjustment `claw1`: `reason` is empty"),
            ("period: 2026-09", "period: 2025-12", "is paid in 2025-12, before operator `alice` starts (2026-01-15)"),
        ];
        for (from, to, message) in cases {
            let text = OK.replace(from, to);
            let files = with_file(fixture(), "adjustments.yaml", &text);
            let value = to.split_once(": ").unwrap().1;
            let at = pos(&files, "adjustments.yaml", &format!("{}: {value}", to.split_once(": ").unwrap().0));
            let at = (at.0, at.1 + to.split_once(": ").unwrap().0.len() as u64 + 2);
            assert_one(&errors(&files), "adjustments.yaml", at, &[message]);
        }
    }

    #[test]
    fn an_adjustment_twice_after_the_payee_left_or_with_a_control_character_is_reported() {
        let roster =
            "version: 1\noperators:\n  - {id: bob, name: Bob, tier: tier1, start: 2026-01-01, end: 2026-06-30}\n";
        let text = format!(
            "{OK}{}",
            OK.trim_start_matches("version: 1\nadjustments:\n")
                .replace("payee: alice", "payee: bob")
                .replace("reference: FIN-112", "reference: \"FIN-112\\r\\nBcc: x\"")
        );
        let files = with_file(with_file(fixture(), "bob.yaml", roster), "adjustments.yaml", &text);
        let m: Vec<String> = errors(&files).iter().map(|e| format!("{}:{} {}", e.line, e.column, e.message)).collect();
        assert_eq!(m.len(), 3, "{m:#?}");
        assert!(
            m[0].starts_with("12:9 duplicate adjustment id `claw1` (first defined at adjustments.yaml:3:9)"),
            "{m:#?}"
        );
        assert!(m[1].starts_with("17:16 `adjustments.reference` holds a control character (U+000D)"), "{m:#?}");
        assert!(
            m[2].starts_with("19:13 adjustment `claw1` is paid in 2026-09, after operator `bob` left (2026-06-30)"),
            "{m:#?}"
        );
        assert!(messages(&OK.replace("currency: USD", "currency: [USD]")).iter().any(|m| m.starts_with("6:")));
    }

    const DISPUTE: &str = "disputes:\n  - id: d1\n    payee: alice\n    period: 2025-07\n    line: claw1\n    opened_on: 2025-08-02\n    opened_by: Alice\n    text: Rebate was not due\n    status: resolved\n    resolution: Refunded\n    resolved_on: 2026-09-10\n";

    /// [`OK`] naming dispute `d1`, and [`DISPUTE`] with `from` replaced by `to`.
    fn disputed(from: &str, to: &str) -> Vec<(String, String)> {
        let roster = "version: 1\noperators:\n  - {id: bob, name: Bob, tier: tier1, start: 2025-01-01}\n";
        let text = format!("{}    dispute: d1\n{}", OK.replace("alice", "bob"), DISPUTE.replace("alice", "bob"));
        with_file(with_file(fixture(), "bob.yaml", roster), "ledger.yaml", &text.replace(from, to))
    }

    #[test]
    fn disputes_load_and_an_adjustment_resolves_one_of_its_payee() {
        let rules = crate::rules::load::load_files(std::path::Path::new("rules"), &disputed("", "")).unwrap();
        assert_eq!(rules.disputes[0].line.value, "claw1");
        assert_eq!(rules.adjustments[0].dispute.as_ref().unwrap().value, "d1");
        let files = disputed("    dispute: d1\n", "    dispute: d2\n");
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(
            &errs[0],
            "ledger.yaml",
            pos(&files, "ledger.yaml", "d2"),
            &["unknown dispute of `bob` `d2`; did you mean `d1`?"],
        );
        assert!(errs[1].message.contains("dispute `d1` is resolved, and no adjustment names it"), "{errs:#?}");
    }

    #[test]
    fn every_semantic_error_of_a_dispute_is_reported_at_its_value() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "line: claw1",
                "line: bsae",
                "bsae",
                "unknown line of `bob` (a pay line of its tiers or one of its adjustments) `bsae`; did you mean `base`?",
            ),
            (
                "period: 2025-07",
                "period: 2024-12",
                "2024-12",
                "dispute `d1` is of 2024-12, before operator `bob` starts (2025-01-01)",
            ),
            (
                "opened_on: 2025-08-02",
                "opened_on: 2025-06-30",
                "2025-06-30",
                "dispute `d1` is opened on 2025-06-30, before the month it disputes (2025-07)",
            ),
            (
                "resolved_on: 2026-09-10",
                "resolved_on: 2025-08-01",
                "2025-08-01",
                "is resolved on 2025-08-01, before it was opened (2025-08-02)",
            ),
            ("    resolution: Refunded\n", "", "status: resolved", "dispute `d1` is resolved: say how in `resolution`"),
            (
                "    resolved_on: 2026-09-10\n",
                "",
                "status: resolved",
                "dispute `d1` is resolved: say when in `resolved_on`",
            ),
            ("text: Rebate was not due", "text: \"\"", "text: \"\"", "dispute `d1`: `text` is empty"),
        ];
        for (from, to, at, message) in cases {
            let files = disputed(from, to);
            let mut at = pos(&files, "ledger.yaml", at);
            if let Some((key, _)) = at_key(at, &files) {
                at.1 += key;
            }
            assert_one(&errors(&files), "ledger.yaml", at, &[message]);
        }
        let files = disputed("status: resolved", "status: open");
        let m: Vec<String> = errors(&files).iter().map(|e| e.message.clone()).collect();
        assert_eq!(m.len(), 2, "{m:#?}");
        assert!(m[0].contains("dispute `d1` is open and has a `resolution`"), "{m:#?}");
        assert!(m[1].contains("dispute `d1` is open and has a `resolved_on`"), "{m:#?}");
        let files = disputed("status: resolved", "status: closed");
        assert!(errors(&files)[0].message.contains("unknown variant `closed`"), "{:#?}", errors(&files));
    }

    /// Where the value of a `key: value` found at `at` starts, as columns after `at`.
    fn at_key(at: (u64, u64), files: &[(String, String)]) -> Option<(u64, ())> {
        let text = &files.iter().find(|f| f.0 == "ledger.yaml").unwrap().1;
        let line = text.lines().nth(at.0 as usize - 1)?;
        let rest = &line[at.1 as usize - 1..];
        rest.split_once(": ").map(|(k, _)| (k.len() as u64 + 2, ()))
    }
}
