//! Scores, flags and the aggregates of them: the variables computed from
//! other variables, and the order they are computed in (each after what it
//! reads). [`order`] finds a cycle among them, which the loader reports.

use super::spec::{AppliesTo, FlagSpec, ScoreSpec};
use std::collections::{BTreeMap, BTreeSet};

/// One computed variable, by its index in its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    Score(usize),
    Flag(usize),
    /// An aggregate (index in `aggregates`) of a score or a flag.
    Aggregate(usize),
}

/// Whose score or flag `name` is, if it is one.
pub fn applies_to(scores: &[ScoreSpec], flags: &[FlagSpec], name: &str) -> Option<AppliesTo> {
    scores
        .iter()
        .find(|s| s.id.value == name)
        .map(|s| s.applies_to)
        .or_else(|| flags.iter().find(|f| f.id.value == name).map(|f| f.applies_to))
}

/// The order to compute the scores, the flags and the aggregates of them
/// in: each after the others of them it reads, otherwise in the order
/// written (scores, flags, aggregates). `aggregates`: the aggregates of
/// scores and flags, as (index in `aggregates:`, name, `of`). `Err`: the names of a cycle, its
/// first name repeated at the end.
pub fn order(
    scores: &[ScoreSpec],
    flags: &[FlagSpec],
    aggregates: &[(usize, &str, &str)],
) -> Result<Vec<Derived>, Vec<String>> {
    let mut nodes: Vec<(String, Derived, BTreeSet<String>)> = vec![];
    for (i, s) in scores.iter().enumerate() {
        nodes.push((s.id.value.clone(), Derived::Score(i), s.exprs().flat_map(|e| e.variables()).collect()));
    }
    for (i, f) in flags.iter().enumerate() {
        nodes.push((f.id.value.clone(), Derived::Flag(i), f.when.variables().into_iter().collect()));
    }
    for (i, name, of) in aggregates {
        nodes.push((name.to_string(), Derived::Aggregate(*i), BTreeSet::from([of.to_string()])));
    }
    let index: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.0.as_str(), i)).collect();
    let deps: Vec<Vec<usize>> =
        nodes.iter().map(|n| n.2.iter().filter_map(|v| index.get(v.as_str()).copied()).collect()).collect();
    // Depth first, in the order written; 1 = on the path, 2 = done.
    let mut state = vec![0u8; nodes.len()];
    let mut out = vec![];
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let from = path.iter().position(|p| *p == i).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for d in &deps[i] {
            visit(*d, deps, state, path, out)?;
        }
        path.pop();
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    for i in 0..nodes.len() {
        visit(i, &deps, &mut state, &mut vec![], &mut out)
            .map_err(|c| c.into_iter().map(|j| nodes[j].0.clone()).collect::<Vec<_>>())?;
    }
    Ok(out.into_iter().map(|i| nodes[i].1).collect())
}
