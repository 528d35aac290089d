//! `serve --metrics.per-node=false`: the per-node families are left out,
//! every other family stays, sample for sample.

use super::*;

const PER_NODE: [&str; 4] = [
    "fleet_incentives_node_uptime_ratio",
    "fleet_incentives_node_coverage_ratio",
    "fleet_incentives_node_down_seconds",
    "fleet_incentives_node_offline_since_timestamp_seconds",
];

#[test]
fn without_per_node_series_only_the_node_families_go() {
    let e = realistic("");
    let with = parse(&exposition(Some(&encode_evaluation(&e)), &SelfMetrics::default()));
    let text = encode_evaluation_with(&e, Families { per_node: false });
    let without = parse(&exposition(Some(&text), &SelfMetrics::default()));
    for name in PER_NODE.iter().take(3) {
        assert!(!samples_named(&with, name).is_empty(), "{name} is there by default");
    }
    let per_node = |s: &Sample| PER_NODE.contains(&s.name.as_str());
    assert!(!without.iter().any(per_node), "no per-node sample without per-node series");
    assert!(!text.contains("fleet_incentives_node_"), "no HELP or TYPE of a per-node family either");
    let key = |s: &Sample| (s.name.clone(), s.labels.clone(), s.value.to_bits());
    let kept: Vec<_> = with.iter().filter(|s| !per_node(s)).map(key).collect();
    assert_eq!(without.iter().map(key).collect::<Vec<_>>(), kept, "every other sample stays");
    assert!(!samples_named(&without, "fleet_incentives_operator_uptime_ratio").is_empty());
    assert!(!samples_named(&without, "fleet_incentives_region_uptime_ratio").is_empty());
    assert_eq!(encode_evaluation_with(&e, Families::default()), encode_evaluation(&e));
}
