//! The context of a payee's HTML statement (template `statement.html.j2`,
//! file `statements/<payee-id>.html`): the payee's [`Statement`] as it is
//! (every line with formula and reason, total, year to date, tier and
//! since when, promotion), the whole evaluation, the names the rules give
//! tiers and lines, and the warnings that concern the payee.

use super::programme::Common;
use crate::evaluation::{Evaluation, Statement};
use crate::rules::Rules;
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct PayeeContext<'a> {
    #[serde(flatten)]
    pub common: Common<'a>,
    /// The whole evaluation (shared between payees, built once).
    pub evaluation: &'a minijinja::Value,
    /// `operator` or `partner`.
    pub kind: &'static str,
    pub statement: &'a Statement,
    /// The tier by name (its id if the rules lack it).
    pub tier_name: String,
    /// Since when the payee is in that tier: an operator's `tier_since`, a
    /// partner's start (a partner has one tier).
    pub tier_since: Option<chrono::NaiveDate>,
    /// The tier a promotion would be to, by name.
    pub promotion_to_name: Option<String>,
    /// Year-to-date lines the payee has no line of this month (earlier tiers).
    pub earlier_lines: Vec<YearLine>,
    /// The evaluation's warnings that name the payee, one of its nodes or an
    /// input its lines read.
    pub warnings: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct YearLine {
    pub id: String,
    pub name: String,
    pub amount: Decimal,
}

pub fn context<'a>(
    e: &'a Evaluation,
    rules: &'a Rules,
    evaluation: &'a minijinja::Value,
    kind: &'static str,
    s: &'a Statement,
) -> PayeeContext<'a> {
    let tiers = if kind == "partner" { &rules.partner_tiers } else { &rules.tiers };
    let tier_name = |id: &str| tiers.iter().find(|t| t.id.value == id).map_or(id.to_string(), |t| t.name.clone());
    let line_name = |id: &str| {
        tiers.iter().flat_map(|t| &t.lines).find(|l| l.id.value == id).map_or(id.to_string(), |l| l.name.clone())
    };
    let earlier_lines = s
        .year_to_date
        .lines
        .iter()
        .filter(|(id, _)| !s.lines.iter().any(|l| &l.id == *id))
        .map(|(id, amount)| YearLine { id: id.clone(), name: line_name(id), amount: *amount })
        .collect();
    PayeeContext {
        common: Common::new(e, rules),
        evaluation,
        kind,
        statement: s,
        tier_name: tier_name(&s.tier),
        tier_since: s.tier_since.or_else(|| rules.partners.iter().find(|p| p.id.value == s.id).map(|p| p.start)),
        promotion_to_name: s.promotion.as_ref().map(|p| tier_name(&p.to)),
        earlier_lines,
        warnings: concerning(s, &e.warnings),
    }
}

/// The warnings that name the payee's id, one of its nodes or an input its
/// lines read, as a whole word (`node-1` is not `node-10`).
pub fn concerning<'a>(s: &Statement, warnings: &'a [String]) -> Vec<&'a str> {
    let inputs = s.lines.iter().flat_map(|l| l.inputs.keys()).map(|k| k.rsplit('.').next().unwrap_or(k));
    let words: Vec<&str> =
        std::iter::once(s.id.as_str()).chain(s.nodes.iter().map(String::as_str)).chain(inputs).collect();
    warnings.iter().map(String::as_str).filter(|w| words.iter().any(|word| names(w, word))).collect()
}

/// Whether `text` holds `word` with no letter, digit, `_` or `-` right before or after it.
fn names(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let part = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_concerns_a_payee_that_it_names_as_a_word() {
        let s = Statement {
            id: "op-1".into(),
            name: "One".into(),
            email: None,
            tier: "t1".into(),
            tier_since: None,
            region: None,
            nodes: vec!["node-1".into()],
            availability: Default::default(),
            lines: vec![crate::evaluation::PayLine {
                id: "share".into(),
                name: "Share".into(),
                kind: "percent".into(),
                category: "revenue_share".into(),
                status: crate::evaluation::LineStatus::Withheld,
                amount: Decimal::ZERO,
                formula: String::new(),
                reason: String::new(),
                inputs: [("kim.partner_revenue".to_string(), "unknown".to_string())].into(),
            }],
            total: Decimal::ZERO,
            ..Default::default()
        };
        let warnings: Vec<String> = [
            "node node-1 of operator op-1 has no data in the window",
            "node node-10 of operator op-10 has no data in the window",
            "input partner_revenue failed: timeout; lines that read it are withheld",
            "input partner_revenue_2 has no data",
            "2026-05 is closed and also in the rules' opening figures",
        ]
        .map(String::from)
        .into();
        assert_eq!(concerning(&s, &warnings), [warnings[0].as_str(), warnings[2].as_str()]);
    }

    /// The HTML of `id`'s statement in October under `yaml`, with `history`.
    fn html(yaml: &str, history: &crate::history::History, id: &str) -> String {
        use crate::engine::testutil::{facts, period, rules};
        let r = rules(yaml);
        let p = period("2026-10");
        let e = crate::engine::evaluate(&facts(&p), history, &r, &p, p.end);
        let docs = super::super::documents(&e, &r, &super::super::Templates::builtin()).unwrap();
        docs.into_iter().find(|(n, _)| n == &format!("statements/{id}.html")).unwrap().1
    }

    const HELD: &str = "version: 1\nprogramme: {name: P, hold_all: {since: 2026-10-20, reason: Payout audit FIN-88}}\noperators:\n  - {id: a, name: A, tier: t, start: 2026-10-01, states: [{state: warned, since: 2026-10-02, until: 2026-10-09, reason: Late reports}, {state: suspended, since: 2026-10-10, reason: Node under review}]}\ntiers:\n  - {id: t, name: T, lines: [{id: l, name: L, kind: fixed, amount: 100}]}\nadjustments:\n  - {id: adj, payee: a, amount: 25, currency: USD, reason: Bonus, reference: F-1, approved_by: D, period: 2026-10}\ndisputes:\n  - {id: d1, payee: a, period: 2026-10, line: l, opened_on: 2026-10-05, opened_by: A, text: Too little, status: open}\n";

    #[test]
    fn a_held_statement_shows_the_hold_the_standing_the_ledger_and_the_disputes() {
        let html = html(HELD, &Default::default(), "a");
        for needle in [
            "<div class=\"payable held\" id=\"payable\">Payable $0.00 · payout held</div>",
            "<h3>Payout held</h3>",
            "Nothing is paid for October 2026 now: $125.00 is carried as held and paid in the first month closed without a hold.",
            "<li>Every payout of the programme is held since 2026-10-20: Payout audit FIN-88</li>",
            "<li>Your payouts are suspended since 2026-10-10: Node under review</li>",
            "<tr class=\"part\"><td>of which Adjustment (credit) (adj)</td><td class=\"num\">$25.00</td></tr>",
            "<td>Payable: held, nothing is paid now</td><td class=\"num\" id=\"payable-amount\">$0.00</td>",
            "<td>Held, carried into the next month</td><td class=\"num\" id=\"held-out\">$125.00</td>",
            "<span class=\"state warned\">warned</span></td><td>2026-10-02</td><td>2026-10-09</td><td>Late reports</td>",
            "<span class=\"state suspended\">suspended</span></td><td>2026-10-10</td><td>—</td><td>Node under review</td>",
            "<td>d1</td><td>2026-10</td><td>l</td><td>2026-10-05 by A</td><td class=\"num\">27 day(s)</td><td>Too little</td>",
        ] {
            assert!(html.contains(needle), "missing {needle}:\n{html}");
        }
    }

    #[test]
    fn an_unknown_payable_is_said_and_what_is_released_is_shown() {
        let started = HELD
            .replace("start: 2026-10-01", "start: 2026-09-01")
            .replace(", hold_all: {since: 2026-10-20, reason: Payout audit FIN-88}", "");
        let html = html(&started, &Default::default(), "a");
        assert!(html.contains("<div class=\"payable\" id=\"payable\">Payable unknown</div>"), "{html}");
        assert!(
            html.contains("The balance carried in from the month before is not known (2026-09 is not closed)"),
            "{html}"
        );
        let released = started.replace(
            "{state: suspended, since: 2026-10-10, reason: Node under review}",
            "{state: warned, since: 2026-10-10, reason: x}",
        );
        let yaml = "- period: 2026-09\n  operators:\n    a: {tier: t, lines: {l: 100}, held_out: 300}\n";
        let h = crate::history::figures::history(serde_saphyr::from_str(yaml).unwrap(), "test").unwrap();
        let html = super::tests::html(&released, &h, "a");
        assert!(
            html.contains(
                "<td>Held in earlier months, carried in: released now</td><td class=\"num\" id=\"held-in\">$300.00</td>"
            ),
            "{html}"
        );
        assert!(html.contains("id=\"payable-amount\">$425.00</td>"), "{html}");
        assert!(!html.contains("Payout held"), "{html}");
    }

    #[test]
    fn the_scores_and_flags_are_shown_with_their_criteria_and_why() {
        let yaml = "version: 1\noperators:\n  - {id: a, name: A, tier: t, start: 2026-10-01}\ntiers:\n  - {id: t, name: T, lines: []}\nscores:\n  - id: card\n    name: Scorecard\n    scale: {min: 0, max: 100}\n    criteria:\n      - {id: tenure, name: Tenure, weight: 0.75, measure: tenure_months, target: 5, worst: 1}\n      - {id: days, name: Days, weight: 0.25, value: active_days}\nflags:\n  - {id: low, name: Low card, when: card < 50}\n  - {id: up, name: Uptime known, when: uptime > 0.9}\n";
        let html = html(yaml, &Default::default(), "a");
        // tenure 1 = worst → 0; 31 active days → 31; 0.25 × 31 = 7.75.
        for needle in [
            "<h2>Scores and flags</h2>",
            "Scorecard <span class=\"muted\">· card · scale 0–100</span>",
            "<tr id=\"criterion-card-tenure\"><td>Tenure <span class=\"muted\">· tenure · measured 1</span></td>",
            "<td class=\"num\">31.00</td>\n      <td class=\"num\">0.25</td>\n      <td class=\"num\">7.75</td>",
            "0.75 × 0.00 + 0.25 × 31.00 = 7.75",
            "<td class=\"num\" id=\"score-value-card\">7.75</td>",
            "<tr id=\"flag-low\"><td>Low card <span class=\"muted\">· low</span></td>\n      <td><strong>yes</strong></td>",
            "<tr id=\"flag-up\"><td>Uptime known <span class=\"muted\">· up</span></td>\n      <td><span class=\"check unknown\">unknown</span></td>",
        ] {
            assert!(html.contains(needle), "missing {needle}:\n{html}");
        }
    }
}
