//! The score and flag families: a payee's score, its criteria and its
//! flags; none for a value not known.

use super::*;

/// The score and flag families: sample name and label names.
pub(super) const SCORE_METRICS: &[(&str, &[&str])] = &[
    ("fleet_incentives_payee_score", &["payee_kind", "payee", "score"]),
    ("fleet_incentives_payee_score_criterion", &["payee_kind", "payee", "score", "criterion"]),
    ("fleet_incentives_payee_flag", &["payee_kind", "payee", "flag"]),
];

fn scored(rating: Option<f64>) -> Evaluation {
    let yaml = format!(
        "version: 1\nprogramme:\n  name: P\n{SEVERITIES}\ninputs:\n  - {{ name: rating, query: rating, by: operator }}\noperators:\n  - {{ id: a, name: A, tier: t, start: 2026-10-01 }}\ntiers:\n  - {{ id: t, name: T, lines: [] }}\nscores:\n  - id: card\n    name: Card\n    scale: {{ min: 0, max: 5 }}\n    criteria:\n      - {{ id: rated, name: Rated, weight: 0.5, value: rating }}\n      - {{ id: tenure, name: Tenure, weight: 0.5, measure: tenure_months, target: 12, worst: 0 }}\nflags:\n  - {{ id: good, name: Good, when: card >= 2 }}\n  - {{ id: new, name: New, when: tenure_months < 3 }}\n"
    );
    let p = period("2026-10");
    let mut f = facts(&p);
    if let Some(r) = rating {
        f.inputs.insert("rating".into(), InputFacts::Values([("a".to_string(), r)].into()));
    }
    evaluate(&f, &History::default(), &rules(&yaml), &p, p.end)
}

fn rows(e: &Evaluation, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let s = parse(&exposition(Some(&encode_evaluation(e)), &SelfMetrics::default()));
    samples_named(&s, name).into_iter().map(|x| (x.labels.clone().into_iter().collect(), x.value)).collect()
}

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn a_payees_scores_criteria_and_flags_are_metrics() {
    // rated 4; tenure month 1 of 12 → 5 × 1/12 = 0.4166… → 0.42;
    // 0.5 × 4 + 0.5 × 0.42 = 2.21.
    let e = scored(Some(4.0));
    let who = [("payee_kind", "operator"), ("payee", "a")];
    let with = |extra: &[(&str, &str)]| labels(&[&who[..], extra].concat());
    assert_eq!(rows(&e, "fleet_incentives_payee_score"), [(with(&[("score", "card")]), 2.21)]);
    assert_eq!(
        rows(&e, "fleet_incentives_payee_score_criterion"),
        [
            (with(&[("score", "card"), ("criterion", "rated")]), 4.0),
            (with(&[("score", "card"), ("criterion", "tenure")]), 0.42)
        ]
    );
    assert_eq!(
        rows(&e, "fleet_incentives_payee_flag"),
        [(with(&[("flag", "good")]), 1.0), (with(&[("flag", "new")]), 1.0)]
    );
}

#[test]
fn the_score_families_have_exactly_their_labels() {
    let s = parse(&exposition(Some(&encode_evaluation(&scored(Some(4.0)))), &SelfMetrics::default()));
    for (name, want) in SCORE_METRICS {
        let found = samples_named(&s, name);
        assert!(!found.is_empty(), "{name}");
        for x in found {
            let got: BTreeSet<&str> = x.labels.keys().map(String::as_str).collect();
            assert_eq!(got, want.iter().copied().collect::<BTreeSet<&str>>(), "{name}");
        }
    }
}

#[test]
fn a_score_or_flag_not_known_has_no_sample() {
    let e = scored(None);
    assert!(rows(&e, "fleet_incentives_payee_score").is_empty());
    assert_eq!(rows(&e, "fleet_incentives_payee_score_criterion").len(), 1, "tenure is known");
    let flags = rows(&e, "fleet_incentives_payee_flag");
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].0["flag"], "new");
}
