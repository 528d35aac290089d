//! `adjustments`: each once, a statement line of its own (its id no pay
//! line's), for a payee on the roster and in the programme in the month it
//! is paid, in the programme's currency, exact to the programme's
//! decimals, with a reason, a reference and an approver; a correction
//! names a month before the one it is paid in.

use super::check_unique;
use super::names::{Names, resolve};
use crate::history::parse_month;
use crate::rules::expr::Text;
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use crate::rules::spec::AdjustmentSpec;
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
        to: None,
    });
    operators.chain(partners).collect()
}

/// A month (`YYYY-MM`) field; None after reporting one that is not.
fn month(file: usize, t: &Text, field: &str, errs: &mut Errors) -> Option<i64> {
    parse_month(&t.value).map_err(|e| errs.at(file, t.pos, format!("`{field}`: {e}"))).ok()
}

pub(super) fn check_adjustments(m: &Merged, n: &Names, errs: &mut Errors) {
    check_unique("adjustment id", m.adjustments.iter().map(|a| (a.file, &a.item.id)), errs);
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
        resolve(file, &a.payee, "operator or partner", &payees, errs);
        match tenure(m, &a.payee.value).as_slice() {
            [one] => {
                if let Some(paid) = paid {
                    check_in_programme(file, a, one, paid, errs);
                }
            }
            [] => {}
            _ => errs.at(
                file,
                a.payee.pos,
                format!("payee `{}` is both an operator and a partner; give one of them another id", a.payee),
            ),
        }
    }
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

/// The payee has a statement in the month the adjustment is paid in.
fn check_in_programme(file: usize, a: &AdjustmentSpec, t: &Tenure, paid: i64, errs: &mut Errors) {
    let why = if paid < t.from.0 {
        format!("before {} starts ({})", t.what, t.from.1)
    } else if let Some((_, end)) = t.to.filter(|(to, _)| paid > *to) {
        format!("after {} left ({end})", t.what)
    } else {
        return;
    };
    let message = format!(
        "adjustment `{}` is paid in {}, {why}: an adjustment is paid in a month its payee has a statement",
        a.id, a.period
    );
    errs.at(file, a.period.pos, message);
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
}
