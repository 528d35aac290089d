//! The scores and flags families (rules `scores:` and `flags:`): each
//! payee's scores, their criteria and its flags; registered into the
//! evaluation's registry (called by `evaluation.rs`, in the evaluation's
//! order). Not money: no currency label. A score or flag without a value
//! this period has no sample, never a 0.

use super::{Samples, register};
use crate::evaluation::{Evaluation, Statement};
use crate::money::to_f64;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScoreLabels {
    /// `operator` or `partner`.
    payee_kind: &'static str,
    payee: String,
    score: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CriterionLabels {
    payee_kind: &'static str,
    payee: String,
    score: String,
    criterion: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlagLabels {
    payee_kind: &'static str,
    payee: String,
    flag: String,
}

/// Register the score and flag families of `eval` into `registry`.
pub(super) fn register_families(registry: &mut Registry, eval: &Evaluation) {
    let payees: Vec<(&'static str, &Statement)> =
        eval.operators.iter().map(|s| ("operator", s)).chain(eval.partners.iter().map(|s| ("partner", s))).collect();
    let mut scores = vec![];
    let mut criteria = vec![];
    let mut flags = vec![];
    for (payee_kind, s) in &payees {
        for sc in &s.scores {
            if let Some(v) = sc.value {
                scores.push((ScoreLabels { payee_kind, payee: s.id.clone(), score: sc.id.clone() }, to_f64(v)));
            }
            for c in &sc.criteria {
                if let Some(v) = c.value {
                    let labels = CriterionLabels {
                        payee_kind,
                        payee: s.id.clone(),
                        score: sc.id.clone(),
                        criterion: c.id.clone(),
                    };
                    criteria.push((labels, to_f64(v)));
                }
            }
        }
        for f in &s.flags {
            if let Some(v) = f.value {
                let labels = FlagLabels { payee_kind, payee: s.id.clone(), flag: f.id.clone() };
                flags.push((labels, if v { 1.0 } else { 0.0 }));
            }
        }
    }
    register(
        registry,
        "payee_score",
        "The payee's score (rules `scores:`), on the score's scale; not money; absent while not known",
        None,
        Samples(scores),
    );
    register(
        registry,
        "payee_score_criterion",
        "A criterion's value on its score's scale, before its weight (rules `scores[].criteria`); absent while not known",
        None,
        Samples(criteria),
    );
    register(
        registry,
        "payee_flag",
        "1 if the payee's flag (rules `flags:`) holds this period, 0 if not; absent while not known",
        None,
        Samples(flags),
    );
}
