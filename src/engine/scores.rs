//! Scores and flags of one payee (rules `scores:` and `flags:`), and the
//! aggregates of them, in the order the rules computed ([`Rules::derived`]):
//! each a variable of the payee for what comes after it (other scores and
//! flags, lines, promotion checks) and recorded on the statement (so closed
//! months keep them). Not money: a score is a decimal on its scale, rounded
//! to its decimals. Anything a score or a flag needs without a value makes
//! it unknown, never 0 or false; under the minimum coverage (policy
//! `withhold`) the availability variables count as unknown, as in lines.

use super::months::{self, Whose};
use super::pay::{coverage_short, reads_availability, values};
use super::{Notes, no_value};
use crate::evaluation::{Availability, CriterionResult, FlagResult, ScoreResult};
use crate::history::History;
use crate::money::{RoundingMode, from_f64, round, to_f64};
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::derived::{Derived, applies_to};
use crate::rules::expr::{EvalError, Expr, Var, Vars};
use crate::rules::spec::{AppliesTo, FlagSpec, MissingDataPolicy, ScoreSpec};
use rust_decimal::Decimal;

/// One payee's scores and flags.
#[derive(Default)]
pub(crate) struct Card {
    pub scores: Vec<ScoreResult>,
    pub flags: Vec<FlagResult>,
}

/// Compute the scores, flags and aggregates of them that apply to `to`
/// for the payee `who`, adding each to `vars` (with a note when unknown).
pub(crate) fn apply(
    (rules, history, period): (&Rules, &History, &Period),
    who: Whose,
    to: AppliesTo,
    availability: &Availability,
    vars: &mut Vars,
    notes: &mut Notes,
) -> Card {
    let mut card = Card::default();
    let short = (rules.missing_data.policy == MissingDataPolicy::Withhold)
        .then(|| coverage_short(rules, availability.coverage))
        .flatten();
    for d in &rules.derived {
        match *d {
            Derived::Score(i) if rules.scores[i].applies_to == to => {
                let s = &rules.scores[i];
                let r = score(rules, s, vars, notes, short.as_deref());
                set(vars, notes, &s.id.value, r.value.map(|v| Var::Num(to_f64(v))), &r.reason);
                card.scores.push(r);
            }
            Derived::Flag(i) if rules.flags[i].applies_to == to => {
                let f = &rules.flags[i];
                let r = flag(rules, f, vars, notes, short.as_deref());
                set(vars, notes, &f.id.value, r.value.map(Var::Bool), &r.reason);
                card.flags.push(r);
            }
            Derived::Aggregate(i) => {
                let a = &rules.aggregates[i];
                if applies_to(&rules.scores, &rules.flags, &a.of) == Some(to) {
                    months::set_aggregate((history, period), who, a, availability, vars, notes);
                }
            }
            _ => {}
        }
    }
    card
}

fn set(vars: &mut Vars, notes: &mut Notes, id: &str, v: Option<Var>, reason: &str) {
    vars.insert(id.to_string(), v.unwrap_or(Var::Unknown));
    if v.is_none() {
        notes.insert(id.to_string(), reason.to_string());
    } else {
        notes.remove(id);
    }
}

/// The variables an expression sees: under the minimum coverage, the
/// availability variables (and aggregates of them) have no value.
fn seen(rules: &Rules, e: &Expr, vars: &Vars, notes: &Notes, short: Option<&str>) -> (Vars, Notes) {
    let mut v = Vars::new();
    let mut n = Notes::new();
    for name in e.variables() {
        let masked = short.is_some() && reads_availability(rules, &name);
        let value = if masked { Var::Unknown } else { vars.get(&name).copied().unwrap_or(Var::Unknown) };
        v.insert(name.clone(), value);
        match (masked, short, notes.get(&name)) {
            (true, Some(why), _) => n.insert(name, why.to_string()),
            (_, _, Some(why)) => n.insert(name, why.clone()),
            _ => None,
        };
    }
    (v, n)
}

/// An expression's number as an exact decimal, or why there is none.
fn number(rules: &Rules, e: &Expr, vars: &Vars, notes: &Notes, short: Option<&str>) -> Result<Decimal, String> {
    let (v, n) = seen(rules, e, vars, notes, short);
    match e.eval_number(&v) {
        Ok(x) => from_f64(x).ok_or_else(|| format!("`{}` gave {x}", e.source)),
        Err(EvalError::Unknown(names)) => Err(no_value(&names, &n)),
        Err(EvalError::Failed(m)) => Err(format!("`{}`: {m}", e.source)),
    }
}

fn score(rules: &Rules, s: &ScoreSpec, vars: &Vars, notes: &Notes, short: Option<&str>) -> ScoreResult {
    let scale = s.scale_or_default();
    let (min, max) = (scale.min.0, scale.max.0);
    let places = s.decimals_or_default();
    // Rounded and written with its decimals (`31.00`).
    let r = |d: Decimal| {
        let mut x = round(d, places, RoundingMode::HalfEven);
        x.rescale(places);
        x
    };
    let mut out = ScoreResult {
        id: s.id.value.clone(),
        name: s.name.clone(),
        value: None,
        scale: [min, max],
        criteria: vec![],
        reason: String::new(),
    };
    if let Some(f) = &s.formula {
        match number(rules, f, vars, notes, short) {
            Ok(x) => {
                let clamped = if s.scale.is_some() { x.clamp(min, max) } else { x };
                out.value = Some(r(clamped));
                let note = if clamped != x { format!(", clamped to {min}–{max}") } else { String::new() };
                out.reason = format!("`{}` = {}{}{note}", f.source, x.normalize(), values(f, vars));
            }
            Err(why) => out.reason = why,
        }
        return out;
    }
    let mut unknown = vec![];
    let mut parts = vec![];
    let mut sum = Decimal::ZERO;
    for c in &s.criteria {
        let (measured, raw) = match (&c.value, &c.measure, c.target, c.worst) {
            (Some(v), ..) => (None, number(rules, v, vars, notes, short)),
            (None, Some(m), Some(t), Some(w)) => match number(rules, m, vars, notes, short) {
                Ok(x) => (Some(x), Ok(min + (max - min) * (x - w.0) / (t.0 - w.0))),
                Err(why) => (None, Err(why)),
            },
            _ => (None, Err("the criterion has neither `value` nor `measure`".into())),
        };
        let value = raw.as_ref().ok().map(|x| r((*x).clamp(min, max)));
        let contribution = value.map(|v| (c.weight.0 * v).normalize());
        match (&raw, value, contribution) {
            (Ok(_), Some(v), Some(k)) => {
                sum += k;
                parts.push(format!("{} × {}", c.weight.0.normalize(), v));
            }
            (Err(why), ..) => unknown.push(format!("{}: {why}", c.id.value)),
            _ => unknown.push(c.id.value.clone()),
        }
        out.criteria.push(CriterionResult {
            id: c.id.value.clone(),
            name: c.name.clone(),
            weight: c.weight.0,
            measured,
            value,
            contribution,
        });
    }
    if unknown.is_empty() {
        out.value = Some(r(sum));
        out.reason = format!("{} = {}", parts.join(" + "), r(sum));
    } else {
        out.reason = format!("criteria without a value: {}", unknown.join("; "));
    }
    out
}

fn flag(rules: &Rules, f: &FlagSpec, vars: &Vars, notes: &Notes, short: Option<&str>) -> FlagResult {
    let (v, n) = seen(rules, &f.when, vars, notes, short);
    let (value, reason) = match f.when.eval_bool(&v) {
        Ok(true) => (Some(true), format!("`{}` holds{}", f.when.source, values(&f.when, vars))),
        Ok(false) => (Some(false), format!("`{}` does not hold{}", f.when.source, values(&f.when, vars))),
        Err(EvalError::Unknown(names)) => (None, no_value(&names, &n)),
        Err(EvalError::Failed(m)) => (None, format!("`{}`: {m}", f.when.source)),
    };
    FlagResult { id: f.id.value.clone(), name: f.name.clone(), value, reason }
}
