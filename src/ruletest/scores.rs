//! Comparing a payee's expected scores and flags (`scores: {id: "72.5" |
//! none}`, `flags: {id: true | false | unknown}`) with its statement.

use super::file::{CheckState, OptDec};
use crate::evaluation::Statement;
use std::collections::BTreeMap;

/// Add a message to `out` for every score and flag of `st` that is not as expected.
pub(super) fn compare(
    what: &str,
    scores: &BTreeMap<String, OptDec>,
    flags: &BTreeMap<String, CheckState>,
    st: &Statement,
    out: &mut Vec<String>,
) {
    let show = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    for (id, OptDec(want)) in scores {
        let Some(got) = st.scores.iter().find(|s| s.id == *id) else {
            let ids: Vec<&str> = st.scores.iter().map(|s| s.id.as_str()).collect();
            out.push(format!("{what}: no score {id} (scores: {})", ids.join(", ")));
            continue;
        };
        if want.map(|w| w.0) != got.value {
            let w = show(want.map(|w| w.0.to_string()));
            out.push(format!(
                "{what} score {id}: expected {w}, got {} ({})",
                show(got.value.map(|v| v.to_string())),
                got.reason
            ));
        }
    }
    for (id, CheckState(want)) in flags {
        let Some(got) = st.flags.iter().find(|f| f.id == *id) else {
            let ids: Vec<&str> = st.flags.iter().map(|f| f.id.as_str()).collect();
            out.push(format!("{what}: no flag {id} (flags: {})", ids.join(", ")));
            continue;
        };
        if *want != got.value {
            let name = |v: Option<bool>| v.map_or("unknown".to_string(), |b| b.to_string());
            out.push(format!("{what} flag {id}: expected {}, got {} ({})", name(*want), name(got.value), got.reason));
        }
    }
}
