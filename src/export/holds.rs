//! The enforcement families (see [`crate::rules::states`]): each payee's
//! states governing the period, the pay held per payee and programme-wide,
//! and the kill switch; registered into the evaluation's registry (called
//! by `evaluation.rs`, in the evaluation's order).

use super::{Samples, register};
use crate::evaluation::{Evaluation, Statement};
use crate::money::to_f64;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use rust_decimal::Decimal;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    /// `operator` or `partner`.
    payee_kind: &'static str,
    payee: String,
    /// `warned`, `throttled`, `suspended` or `terminated`.
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HeldLabels {
    payee_kind: &'static str,
    payee: String,
    tier: String,
    currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CurrencyLabels {
    currency: String,
}

/// Register the enforcement families of `eval` into `registry`.
pub(super) fn register_families(registry: &mut Registry, eval: &Evaluation) {
    let payees: Vec<(&'static str, &Statement)> =
        eval.operators.iter().map(|s| ("operator", s)).chain(eval.partners.iter().map(|s| ("partner", s))).collect();
    let states = payees
        .iter()
        .flat_map(|(payee_kind, s)| {
            s.ledger
                .states
                .iter()
                .map(|st| (StateLabels { payee_kind, payee: s.id.clone(), state: st.state.clone() }, 1.0))
        })
        .collect();
    register(
        registry,
        "payee_state",
        "1 for each enforcement state of the payee governing this period (roster `states:`: warned, throttled, suspended, terminated); absent in good standing",
        None,
        Samples(states),
    );
    // Known: what is held after this period (0 when nothing is).
    let held = |s: &Statement| s.ledger.payable.map(|_| s.ledger.held_out.unwrap_or_default());
    let per_payee = payees
        .iter()
        .filter_map(|(payee_kind, s)| {
            let labels =
                HeldLabels { payee_kind, payee: s.id.clone(), tier: s.tier.clone(), currency: eval.currency.clone() };
            Some((labels, to_f64(held(s)?)))
        })
        .collect();
    register(
        registry,
        "payee_held_amount",
        "Pay held at the end of this period and carried into the next (a suspension or the kill switch; 0 when nothing is); absent while not known",
        None,
        Samples(per_payee),
    );
    let all: Option<Decimal> = payees.iter().map(|(_, s)| held(s)).sum();
    let total = all.map(|d| (CurrencyLabels { currency: eval.currency.clone() }, to_f64(d)));
    register(
        registry,
        "programme_held_amount",
        "Sum of every payee's pay held at the end of this period; absent while any payee's is not known",
        None,
        Samples(total.into_iter().collect()),
    );
    let on = if eval.hold_all.is_some() { 1.0 } else { 0.0 };
    register(
        registry,
        "programme_hold_all",
        "1 while the kill switch (rules `programme.hold_all`) holds every payout this period, 0 otherwise",
        None,
        ConstGauge::new(on),
    );
}
