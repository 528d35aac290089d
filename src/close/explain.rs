//! `explain`: one payee's month, every pay line with its inputs (the
//! variables it read, with their values), its thresholds (the rule as
//! written: condition, amounts, percentages, caps, bands), its formula with
//! the numbers, and the reason it came out as it did; then its scores
//! (criteria with value and weight) and flags.

use crate::evaluation::{ADJUSTMENT, Evaluation, Statement};
use crate::report::{percent, status};
use crate::rules::Rules;
use crate::rules::spec::{LineKind, LineSpec, Schedule};
use std::fmt::Write;

/// The payee `id` (operator first, then partner) and its kind.
pub fn find<'a>(e: &'a Evaluation, id: &str) -> Option<(&'static str, &'a Statement)> {
    e.operators
        .iter()
        .find(|s| s.id == id)
        .map(|s| ("operator", s))
        .or_else(|| e.partners.iter().find(|s| s.id == id).map(|s| ("partner", s)))
}

/// The explanation of payee `id`, or an error listing who is on the statement.
pub fn explain(e: &Evaluation, rules: &Rules, id: &str) -> Result<String, String> {
    let Some((kind, s)) = find(e, id) else {
        let ids: Vec<&str> = e.operators.iter().chain(&e.partners).map(|s| s.id.as_str()).collect();
        return Err(format!("no payee `{id}` on the {} statement; payees: {}", e.period, ids.join(", ")));
    };
    let tier = if kind == "operator" { rules.tier(&s.tier) } else { rules.partner_tier(&s.tier) };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{kind} {} — {}, tier {}{}, period {} ({})",
        s.id,
        s.name,
        s.tier,
        tier.map_or(String::new(), |t| format!(" ({})", t.name)),
        e.period,
        if e.complete { "whole month" } else { "month to date" }
    );
    let _ = writeln!(o, "rules sha256 {}, evaluated at {}", e.rules_sha256, e.evaluated_at.to_rfc3339());
    let a = &s.availability;
    let _ = writeln!(
        o,
        "nodes: {}; uptime {}, coverage {}, down {} s, unknown {} s, maintenance {} s",
        if s.nodes.is_empty() { "none".to_string() } else { s.nodes.join(", ") },
        percent(a.uptime),
        percent(Some(a.coverage)),
        a.down_seconds,
        a.unknown_seconds,
        a.maintenance_seconds
    );
    let _ = writeln!(o, "total {} {} = the sum of the {} line(s) below", s.total, e.currency, s.lines.len());
    let g = &s.ledger;
    match (g.balance_in, g.payable, g.balance_out, g.written_off) {
        (Some(b_in), Some(payable), Some(b_out), Some(off)) => {
            let off = if off.is_zero() { String::new() } else { format!(", {off} written off") };
            let held_in = g.held_in.map(|h| format!(" + held carried in {h}")).unwrap_or_default();
            let sum = format!("balance carried in {b_in}{held_in} + total, at least 0");
            let cur = &e.currency;
            let _ = match g.held_out.filter(|_| g.held()) {
                Some(h) => {
                    writeln!(o, "payable {payable} {cur}: held; {sum}, is held ({h}); carried out {b_out}{off}\n")
                }
                None => writeln!(o, "payable {payable} {cur} = {sum}; carried out {b_out}{off}\n"),
            };
        }
        _ => {
            let _ = writeln!(o, "{}\n", crate::report::payable_unknown(g));
        }
    }
    for st in &g.states {
        let _ = writeln!(o, "state: {}", crate::report::state_line(st));
    }
    if let Some(line) = crate::report::held_line(g, &e.currency) {
        let _ = writeln!(o, "{line}");
    }
    if !g.states.is_empty() || g.held() || g.held_in.is_some() {
        let _ = writeln!(o);
    }
    for (i, l) in s.lines.iter().enumerate() {
        let _ = writeln!(o, "{}. {} ({}) — {}, category {}", i + 1, l.name, l.id, l.kind, l.category);
        let _ = writeln!(o, "   result:    {} {} {}", status(l.status), l.amount, e.currency);
        let spec = tier.and_then(|t| t.lines.iter().find(|x| x.id.value == l.id));
        if l.kind == ADJUSTMENT {
            let _ = writeln!(o, "   rule:      an adjustment kept in git (rules `adjustments:`), paid in {}", e.period);
        } else if let Some(spec) = spec {
            for t in thresholds(spec) {
                let _ = writeln!(o, "   rule:      {t}");
            }
        }
        let _ = writeln!(o, "   formula:   {}", l.formula);
        let _ = writeln!(o, "   reason:    {}", l.reason);
        if l.inputs.is_empty() {
            let _ = writeln!(o, "   inputs:    none");
        } else {
            let inputs: Vec<String> = l.inputs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let _ = writeln!(o, "   inputs:    {}", inputs.join(", "));
        }
        let _ = writeln!(o);
    }
    for d in &s.ledger.disputes {
        let _ = writeln!(o, "{}", crate::report::dispute_line(d));
    }
    if let Some(p) = &s.promotion {
        let _ = writeln!(o, "promotion to {}: {}", p.to, if p.eligible { "eligible" } else { "not eligible" });
        for c in &p.checks {
            let verdict = match c.passed {
                Some(true) => "pass",
                Some(false) => "fail",
                None => "undecided",
            };
            let _ = writeln!(o, "   {verdict:<9} {}: {}", c.name, c.detail);
        }
    }
    scores(&mut o, s);
    Ok(o)
}

/// The payee's scores (each criterion: value × weight) and flags; not money.
fn scores(o: &mut String, s: &Statement) {
    let known = |v: Option<String>| v.unwrap_or_else(|| "unknown".into());
    for sc in &s.scores {
        let value = known(sc.value.map(|v| v.to_string()));
        let _ = writeln!(o, "score {} ({}): {value} on {}–{}; {}", sc.id, sc.name, sc.scale[0], sc.scale[1], sc.reason);
        for c in &sc.criteria {
            let measured = c.measured.map(|m| format!(", measured {m}")).unwrap_or_default();
            let value = known(c.value.map(|v| v.to_string()));
            let _ = writeln!(o, "   {} ({}): {value} × weight {}{measured}", c.id, c.name, c.weight);
        }
    }
    for f in &s.flags {
        let value = known(f.value.map(|v| if v { "yes".to_string() } else { "no".to_string() }));
        let _ = writeln!(o, "flag {} ({}): {value}; {}", f.id, f.name, f.reason);
    }
}

/// The rule's numbers and conditions as written in the YAML.
fn thresholds(l: &LineSpec) -> Vec<String> {
    let mut out = vec![];
    if l.schedule != Schedule::Monthly {
        out.push(format!("paid {} (evaluated in {})", l.schedule.name(), l.schedule.months()));
    }
    if let Some(w) = &l.when {
        out.push(format!("paid when {}", w.source));
    }
    let dec = |d: &Option<crate::money::Dec>| d.as_ref().map(|d| d.0.to_string());
    match l.kind {
        LineKind::Fixed => out.extend(dec(&l.amount).map(|a| format!("amount {a}"))),
        LineKind::PerNode => out.extend(dec(&l.amount).map(|a| format!("{a} per node"))),
        LineKind::PerUnit => {
            if let (Some(a), Some(q)) = (dec(&l.amount), &l.quantity) {
                out.push(format!("{a} × quantity ({})", q.source));
            }
        }
        LineKind::Steps => out.push(format!(
            "{} per step of {} of ({}) above {}{}",
            dec(&l.amount).unwrap_or_default(),
            dec(&l.step).unwrap_or_default(),
            l.over.as_ref().map_or("", |e| e.source.as_str()),
            dec(&l.above).unwrap_or_default(),
            l.max_steps.map_or(String::new(), |m| format!(", at most {m} steps"))
        )),
        LineKind::Percent => out.push(format!(
            "{} % of {}{}",
            dec(&l.percent).unwrap_or_default(),
            base(l),
            l.ratio.as_ref().map_or(String::new(), |r| format!(" × ratio ({})", r.source))
        )),
        LineKind::Multiplier => {
            out.push(format!("(factor ({}) − 1) × {}", l.factor.as_ref().map_or("", |e| e.source.as_str()), base(l)))
        }
        LineKind::Band => {
            out.push(format!("band by ({}) of {}", l.by.as_ref().map_or("", |e| e.source.as_str()), base(l)));
            for b in &l.bands {
                let pay = match (&b.amount, &b.percent) {
                    (Some(a), _) => format!("{}", a.0),
                    (None, Some(p)) => format!("{} %", p.0),
                    _ => "0".into(),
                };
                out.push(format!(
                    "  band [{}, {}): {pay}{}",
                    b.from.as_ref().map_or("−∞".into(), |d| d.0.to_string()),
                    b.to.as_ref().map_or("∞".into(), |d| d.0.to_string()),
                    b.label.as_ref().map_or(String::new(), |l| format!(" ({l})"))
                ));
            }
        }
    }
    if let Some(c) = dec(&l.cap) {
        out.push(format!("cap {c}"));
    }
    if let Some(f) = dec(&l.floor) {
        out.push(format!("floor {f}"));
    }
    if l.prorate {
        out.push("prorated by active days / period days".into());
    }
    if l.per_referral {
        out.push("evaluated per referred operator and added up".into());
    }
    out
}

fn base(l: &LineSpec) -> String {
    match &l.of {
        Some(b) => {
            let mut parts: Vec<String> = b.lines.iter().map(|t| format!("line {}", t.value)).collect();
            parts.extend(b.input.as_ref().map(|i| format!("input {}", i.value)));
            parts.join(" + ")
        }
        None => "nothing".into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::testutil::{facts, period, rules};

    #[test]
    fn the_scores_criteria_and_flags_are_explained() {
        let r = rules(
            "version: 1\noperators:\n  - {id: a, name: A, tier: t, start: 2026-10-01}\ntiers:\n  - {id: t, name: T, lines: [{id: l, name: L, kind: fixed, amount: 1}]}\nscores:\n  - id: card\n    name: Card\n    scale: {min: 0, max: 10}\n    criteria:\n      - {id: days, name: Days, weight: 1, measure: active_days, target: 31, worst: 0}\nflags:\n  - {id: up, name: Up, when: uptime > 0.9}\n",
        );
        let p = period("2026-10");
        let e = crate::engine::evaluate(&facts(&p), &Default::default(), &r, &p, p.end);
        let text = super::explain(&e, &r, "a").unwrap();
        for needle in [
            "score card (Card): 10.00 on 0–10; 1 × 10.00 = 10.00\n",
            "   days (Days): 10.00 × weight 1, measured 31\n",
            "flag up (Up): unknown; no value for uptime",
        ] {
            assert!(text.contains(needle), "missing {needle:?}:\n{text}");
        }
    }
}
