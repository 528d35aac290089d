//! Leakage (seed 003): roster nodes without data, nodes on no roster, payees
//! paid with no active node; the node findings keep their warning lines.

use super::*;
use crate::evaluation::{Leakage, LeakageNode, PaidWithoutActiveNode};
use crate::facts::NodeFacts;

/// A fixed line every tier-1 operator is paid, whatever its nodes did.
const RETAINER: &str = "      - { id: retainer, name: Retainer, kind: fixed, category: stipend, amount: 50 }";

fn found(node: &str, operator: Option<&str>, region: Option<&str>) -> LeakageNode {
    LeakageNode { node: node.into(), operator: operator.map(str::to_string), region: region.map(str::to_string) }
}

/// Every line of `want` is one of the evaluation's warnings, word for word.
fn warns(e: &Evaluation, want: &[&str]) {
    for w in want {
        assert!(e.warnings.iter().any(|x| x == w), "{w}: {:?}", e.warnings);
    }
}

/// A fully covered node with an operator label.
fn labelled(f: &Facts, id: &str, region: &str, operator: &str) -> NodeFacts {
    NodeFacts { operator: Some(operator.into()), ..node(f, id, region, &[]) }
}

#[test]
fn a_roster_node_without_data_is_a_finding_and_keeps_its_warning() {
    let r = programme("", "");
    let (p, f) = october_with(&[("n1", "eu", &[]), ("n2", "eu", &[])]);
    let e = run(&r, &f, &p);
    assert_eq!(e.leakage.roster_nodes_without_data, [found("n3", Some("alice"), None)]);
    warns(&e, &["node n3 of operator alice has no data in the window"]);
    assert!(e.leakage.unrostered_nodes.is_empty() && e.leakage.paid_without_active_node.is_empty());
}

#[test]
fn a_roster_node_of_an_operator_out_of_the_programme_is_history_not_leakage() {
    let left = "  - { id: bob, name: Bob, tier: t1, start: 2025-01-01, end: 2026-08-31, nodes: [b1], region: us }\n  - { id: dan, name: Dan, tier: t1, start: 2026-11-01, nodes: [d1] }";
    let r = programme("", left);
    let (p, f) = october_three_nodes();
    let e = run(&r, &f, &p);
    assert_eq!(e.leakage, Leakage::default());
    assert!(e.leakage.is_empty());
    // The warnings are as before: every roster node without data has one.
    warns(
        &e,
        &["node b1 of operator bob has no data in the window", "node d1 of operator dan has no data in the window"],
    );
}

#[test]
fn nodes_no_roster_claims_are_findings_with_their_operator_label() {
    // carol's roster is a region; erin has no roster at all (her nodes are
    // counted by their label); bob's roster lists b1 only.
    let extra = "  - { id: bob, name: Bob, tier: t1, start: 2026-01-01, nodes: [b1] }\n  - { id: carol, name: Carol, tier: t1, start: 2026-01-01, region: ap }\n  - { id: erin, name: Erin, tier: t1, start: 2026-01-01 }";
    let r = programme("", extra);
    let (p, mut f) = october_three_nodes();
    f.nodes.extend([
        node(&f, "b1", "us", &[]),
        labelled(&f, "b2", "us", "bob"),
        node(&f, "c1", "ap", &[]),
        labelled(&f, "e1", "us", "erin"),
        labelled(&f, "m1", "us", "mallory"),
        node(&f, "x9", "eu", &[]),
        NodeFacts { region: None, ..node(&f, "y1", "", &[]) },
    ]);
    f.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    // c1 is in carol's region, e1 erin's by its label; the others are on no roster.
    let e = run(&r, &f, &p);
    assert_eq!(
        e.leakage.unrostered_nodes,
        [
            found("b2", Some("bob"), Some("us")),
            found("m1", Some("mallory"), Some("us")),
            found("x9", None, Some("eu")),
            found("y1", None, None),
        ]
    );
    warns(
        &e,
        &[
            "node b2 is labelled operator bob but is not on bob's roster; not counted for bob",
            "node m1 is labelled operator mallory, who is not on the roster",
            "node x9 is not on the roster and has no operator label",
            "node y1 is not on the roster and has no operator label",
        ],
    );
    assert!(e.leakage.roster_nodes_without_data.is_empty());
}

#[test]
fn an_operator_paid_with_no_node_seen_is_a_finding_with_its_total() {
    let extra = "  - { id: bob, name: Bob, tier: t1, start: 2026-01-01, nodes: [b1, b2] }\n  - { id: dan, name: Dan, tier: t1, start: 2026-01-01 }";
    let r = programme(RETAINER, extra);
    // b1 reports only inside maintenance: not seen; b2 not at all.
    let (p, mut f) = october_three_nodes();
    let mut b1 = node(&f, "b1", "us", &[]);
    (b1.up_samples, b1.maintenance_samples) = (0, 120);
    f.nodes.push(b1);
    let e = run(&r, &f, &p);
    let bob = statement(&e, "bob");
    assert_eq!(bob.total, dec("50"), "{:?}", bob.lines);
    assert_eq!(
        e.leakage.paid_without_active_node,
        [
            PaidWithoutActiveNode {
                payee_kind: "operator".into(),
                payee: "bob".into(),
                amount: dec("50"),
                nodes: vec!["b1".into(), "b2".into()],
            },
            // No node at all: paid for nothing either.
            PaidWithoutActiveNode {
                payee_kind: "operator".into(),
                payee: "dan".into(),
                amount: dec("50"),
                nodes: vec![],
            },
        ]
    );
    // Alice's nodes were seen: paid, and no finding.
    assert!(statement(&e, "alice").total > Decimal::ZERO);
}

#[test]
fn an_operator_paid_nothing_is_no_finding_even_without_nodes() {
    let extra = "  - { id: bob, name: Bob, tier: t1, start: 2026-01-01, nodes: [b1] }";
    let r = programme("", extra);
    let (p, f) = october_three_nodes();
    let e = run(&r, &f, &p);
    assert_eq!(statement(&e, "bob").total, Decimal::ZERO);
    assert!(e.leakage.paid_without_active_node.is_empty(), "{:?}", e.leakage);
    assert_eq!(e.leakage.roster_nodes_without_data, [found("b1", Some("bob"), None)]);
}

#[test]
fn a_partner_paid_while_no_node_of_its_referrals_was_seen_is_a_finding() {
    let yaml = |referrer: &str| {
        format!(
            r#"
version: 1
programme:
  name: Fleet
{SEVERITIES}
operators:
  - {{ id: a, name: A, tier: t1, start: 2026-01-01, nodes: [a1], referred_by: {referrer} }}
partners:
  - {{ id: p1, name: Partner One, tier: silver, start: 2026-01-01 }}
  - {{ id: p2, name: Partner Two, tier: silver, start: 2026-01-01 }}
tiers:
  - {{ id: t1, name: T1, lines: [{{ id: base, name: Base, kind: per_node, amount: 100 }}] }}
partner_tiers:
  - {{ id: silver, name: Silver, lines: [{{ id: fee, name: Fee, kind: fixed, amount: 30 }}] }}
"#
        )
    };
    // a1 has no data: a is paid nothing (per seen node), p1 its fee.
    let r = rules(&yaml("p1"));
    let (p, f) = october();
    let e = run(&r, &f, &p);
    let partner = |id: &str, nodes: &[&str]| PaidWithoutActiveNode {
        payee_kind: "partner".into(),
        payee: id.into(),
        amount: dec("30"),
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
    };
    assert_eq!(e.leakage.paid_without_active_node, [partner("p1", &["a1"]), partner("p2", &[])]);
    // a1 seen: p1's fee has an active node behind it; p2 still has none.
    let (p, f) = october_with(&[("a1", "eu", &[])]);
    let e = run(&r, &f, &p);
    assert_eq!(e.leakage.paid_without_active_node, [partner("p2", &[])]);
}

#[test]
fn a_statement_written_before_leakage_existed_reads_with_none() {
    let r = programme("", "");
    let (p, f) = october_with(&[("n1", "eu", &[])]);
    let e = run(&r, &f, &p);
    assert!(!e.leakage.is_empty());
    let mut json: serde_json::Value = serde_json::to_value(&e).unwrap();
    json.as_object_mut().unwrap().remove("leakage").expect("serialized");
    let old: Evaluation = serde_json::from_value(json).unwrap();
    assert_eq!(old.leakage, Leakage::default());
    assert_eq!(old.warnings, e.warnings);
}
