//! The leakage families: a count per kind (0 included), the nodes and the
//! payees of the findings, nothing more without any.

use super::*;

#[test]
fn leakage_is_counted_by_kind_and_named_by_node_and_payee() {
    let e = realistic(LEAKING);
    let s = parse(&exposition(Some(&encode_evaluation(&e)), &SelfMetrics::default()));
    let rows = |name: &str| -> Vec<(BTreeMap<String, String>, f64)> {
        samples_named(&s, name).into_iter().map(|x| (x.labels.clone(), x.value)).collect()
    };
    let labels = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    // a3 (alice) and d1 (dan) are on the roster without data; x9 on no roster.
    let findings = [("roster_node_without_data", 2.0), ("unrostered_node", 1.0), ("paid_without_active_node", 1.0)];
    assert_eq!(
        rows("fleet_incentives_leakage_findings"),
        findings.map(|(kind, n)| (labels(&[("kind", kind)]), n)).to_vec()
    );
    assert_eq!(
        rows("fleet_incentives_leakage_roster_node_without_data"),
        [
            (labels(&[("node", "a3"), ("operator", "alice"), ("region", "eu")]), 1.0),
            (labels(&[("node", "d1"), ("operator", "dan"), ("region", "eu")]), 1.0),
        ]
    );
    assert_eq!(
        rows("fleet_incentives_leakage_unrostered_node"),
        [(labels(&[("node", "x9"), ("operator", ""), ("region", "ap")]), 1.0)]
    );
    // Dan's 2 % of 500 revenue, paid while d1 was never seen.
    let dan = e.operators.iter().find(|o| o.id == "dan").unwrap();
    assert_eq!(dan.total, rust_decimal::Decimal::new(1000, 2));
    assert_eq!(
        rows("fleet_incentives_leakage_paid_without_active_node_amount"),
        [(labels(&[("payee_kind", "operator"), ("payee", "dan"), ("currency", "USD")]), 10.0)]
    );

    // No leakage: the counts are 0, the other families absent.
    let mut clean = e.clone();
    clean.leakage = Default::default();
    let text = encode_evaluation(&clean);
    let s = parse(&exposition(Some(&text), &SelfMetrics::default()));
    assert!(samples_named(&s, "fleet_incentives_leakage_findings").iter().all(|x| x.value == 0.0));
    assert_eq!(samples_named(&s, "fleet_incentives_leakage_findings").len(), 3);
    for name in ["roster_node_without_data", "unrostered_node", "paid_without_active_node_amount"] {
        assert!(!text.contains(&format!("fleet_incentives_leakage_{name}")), "{text}");
    }
}
