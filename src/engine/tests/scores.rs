//! Scores and flags: a weighted scorecard from measures normalised between
//! worst and target, clamped to the scale; a formula; unknown (never 0)
//! when an input has no value or coverage is short; flags over two-month
//! aggregates of an input and of a score; lines that read them.

use super::*;
use crate::evaluation::{LineStatus, Recorded};
use crate::facts::InputFacts;

/// [`programme`] with a 0–100 scorecard of uptime (0.99 → 0, 0.999 → 100,
/// weight 0.6) and the rating input (a 0–5 rating × 20, weight 0.4), a
/// formula score, flags on them and a line paid when the card is ≥ 80.
fn scored() -> Rules {
    programme(
        r#"      - id: card_bonus
        name: Scorecard bonus
        kind: fixed
        amount: 100
        when: "card >= 80 && !low"
scores:
  - id: card
    name: Scorecard
    scale: {min: 0, max: 100}
    decimals: 1
    criteria:
      - {id: up, name: Uptime, weight: 0.6, measure: uptime, target: 0.999, worst: 0.99}
      - {id: rated, name: Rating, weight: 0.4, value: rating * 20}
  - {id: half, name: Half, formula: card / 2}
flags:
  - {id: low, name: Low card, when: card < 50}
  - {id: low_twice, name: Low card two months running, when: card_max_2m < 50}
aggregates:
  - {name: card_max_2m, of: card, over: 2 months, how: max}
"#,
        "",
    )
}

fn with_rating(f: &mut Facts, rating: f64) {
    f.inputs.insert("rating".into(), InputFacts::Values([("alice".to_string(), rating)].into()));
}

fn score<'a>(e: &'a Evaluation, id: &str) -> &'a crate::evaluation::ScoreResult {
    statement(e, "alice").scores.iter().find(|s| s.id == id).unwrap()
}

fn flag(e: &Evaluation, id: &str) -> Option<bool> {
    statement(e, "alice").flags.iter().find(|f| f.id == id).unwrap().value
}

#[test]
fn a_weighted_score_normalises_clamps_weighs_and_rounds() {
    // uptime 1 is above the target: clamped to 100; rating 4.5 → 90.
    // 0.6 × 100 + 0.4 × 90 = 96.
    let (p, mut f) = october_three_nodes();
    with_rating(&mut f, 4.5);
    let e = run(&scored(), &f, &p);
    let card = score(&e, "card");
    assert_eq!(card.value, Some(dec("96.0")));
    assert_eq!(card.scale, [dec("0"), dec("100")]);
    let c: Vec<(Option<Decimal>, Option<Decimal>)> = card.criteria.iter().map(|c| (c.value, c.contribution)).collect();
    assert_eq!(c, vec![(Some(dec("100")), Some(dec("60"))), (Some(dec("90")), Some(dec("36")))]);
    assert_eq!(card.criteria[0].measured, Some(dec("1")));
    assert_eq!(score(&e, "half").value, Some(dec("48.00")));
    assert_eq!(flag(&e, "low"), Some(false));
    assert_eq!(line(&e, "alice", "card_bonus").status, LineStatus::Paid);
    // Recorded for the months after.
    assert_eq!(statement(&e, "alice").variables["card"], Some(Recorded::Num(96.0)));
}

#[test]
fn a_measure_between_worst_and_target_is_linear() {
    // 3 nodes, 31 days: n1 down 2,232 minutes of 133,920 node-minutes → uptime
    // 1 − 2232/133920 = 0.98333…: below worst, clamped to 0. Down 893 → uptime
    // 0.993331…: (0.993331 − 0.99) / 0.009 × 100 = 37.01… → 37.0 (1 decimal).
    let (p, mut f) =
        october_with(&[("n1", "eu", &[(t(2026, 10, 5, 0, 0), 893)]), ("n2", "eu", &[]), ("n3", "eu", &[])]);
    with_rating(&mut f, 5.0);
    let e = run(&scored(), &f, &p);
    let uptime: f64 = 1.0 - 893.0 / (3.0 * 31.0 * 1440.0);
    let want = ((uptime - 0.99) / 0.009 * 100.0 * 10.0).round() / 10.0;
    let card = score(&e, "card");
    assert_eq!(card.criteria[0].value, from_f64_1(want));
    // 0.6 × 37.0 + 0.4 × 100 = 62.2
    assert_eq!(card.value, Some(dec("62.2")));
    assert_eq!(line(&e, "alice", "card_bonus").status, LineStatus::NotMet);
}

fn from_f64_1(x: f64) -> Option<Decimal> {
    crate::money::from_f64(x).map(|d| d.round_dp(1))
}

#[test]
fn a_score_without_an_input_is_unknown_never_zero_and_so_are_what_read_it() {
    let (p, f) = october_three_nodes();
    let e = run(&scored(), &f, &p);
    let card = score(&e, "card");
    assert_eq!(card.value, None);
    assert!(card.reason.contains("rated: no value for rating (input rating was not read)"), "{}", card.reason);
    assert_eq!(card.criteria[0].value, Some(dec("100")), "the criteria with a value still show it");
    assert_eq!(score(&e, "half").value, None);
    assert_eq!(flag(&e, "low"), None);
    let l = line(&e, "alice", "card_bonus");
    assert_eq!(l.status, LineStatus::Withheld, "{}", l.reason);
    assert_eq!(statement(&e, "alice").variables["card"], None);
}

#[test]
fn under_the_minimum_coverage_a_score_of_availability_is_unknown() {
    // Half the samples known: coverage 50 % < 90 % (policy withhold).
    let (p, mut f) = october_three_nodes();
    for n in &mut f.nodes {
        n.up_samples = n.expected_samples / 2;
    }
    with_rating(&mut f, 5.0);
    let e = run(&scored(), &f, &p);
    let card = score(&e, "card");
    assert_eq!(card.value, None);
    assert!(card.reason.contains("up: no value for uptime (coverage 50.00% below 90%)"), "{}", card.reason);
}

#[test]
fn a_flag_over_two_months_reads_the_closed_month_and_is_unknown_without_it() {
    // October: uptime 1 → 100, rating 0 → 0: card 0.6 × 100 = 60.
    let r = scored();
    let (p, mut f) = october_three_nodes();
    with_rating(&mut f, 0.0);
    let e = evaluate(&f, &History::default(), &r, &p, p.end);
    assert_eq!(score(&e, "card").value, Some(dec("60.0")));
    assert_eq!(flag(&e, "low_twice"), None, "September is not closed");
    let reason = &statement(&e, "alice").flags[1].reason;
    assert!(reason.contains("card_max_2m (2026-09 is not closed)"), "{reason}");
    // September's card 30 (as closed): max(30, 60) = 60, not low twice.
    let months: Vec<crate::history::figures::MonthFigures> =
        serde_saphyr::from_str("- period: 2026-09\n  operators:\n    alice: {variables: {card: 30}}\n").unwrap();
    let h = crate::history::figures::history(months, "test").unwrap();
    assert_eq!(flag(&evaluate(&f, &h, &r, &p, p.end), "low_twice"), Some(false));
    // Weights 0.4 / 0.6: October's card 0.4 × 100 = 40; max(30, 40) < 50.
    let mut r2 = r.clone();
    r2.scores[0].criteria[0].weight = crate::money::Dec(dec("0.4"));
    r2.scores[0].criteria[1].weight = crate::money::Dec(dec("0.6"));
    let e = evaluate(&f, &h, &r2, &p, p.end);
    assert_eq!(score(&e, "card").value, Some(dec("40.0")));
    assert_eq!((flag(&e, "low"), flag(&e, "low_twice")), (Some(true), Some(true)));
    assert_eq!(line(&e, "alice", "card_bonus").status, LineStatus::NotMet);
}

#[test]
fn a_partner_score_reads_partner_variables() {
    let mut r = scored();
    let extra = rules(
        "version: 1\npartners:\n  - {id: pat, name: Pat, tier: pt, start: 2026-01-01}\npartner_tiers:\n  - {id: pt, name: P, lines: []}\nscores:\n  - {id: reach, name: Reach, applies_to: partner, scale: {min: 0, max: 5}, formula: referrals + 7}\n",
    );
    r.partners = extra.partners;
    r.partner_tiers = extra.partner_tiers;
    r.scores.extend(extra.scores);
    r.derived.push(crate::rules::derived::Derived::Score(2));
    let (p, f) = october_three_nodes();
    let e = run(&r, &f, &p);
    let s = &statement(&e, "pat").scores[0];
    assert_eq!(s.value, Some(dec("5.00")), "7 clamped to the scale's 5: {}", s.reason);
    assert!(s.reason.contains("clamped to 0–5"), "{}", s.reason);
    assert!(statement(&e, "alice").scores.iter().all(|s| s.id != "reach"));
}
