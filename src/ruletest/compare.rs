//! Expectations against an evaluation: every mismatch, as a sentence.

use super::file::*;
use crate::evaluation::{Availability, Evaluation, Incident, LineStatus, PayLine, Statement, Verdict};
use rust_decimal::{Decimal, RoundingStrategy};

/// Every difference between `exp` and `ev`; empty when the test passes.
pub fn compare(exp: &Expect, ev: &Evaluation) -> Vec<String> {
    let mut out = vec![];
    if let Some(incidents) = &exp.incidents {
        compare_incidents(incidents, &ev.incidents, &mut out);
    }
    for s in &exp.severities {
        let Some(got) = ev.severities.iter().find(|g| g.severity == s.severity) else {
            out.push(format!("severity {}: not in the evaluation", s.severity));
            continue;
        };
        let what = format!("severity {}", s.severity);
        num(&mut out, &what, "incidents", s.incidents, got.incidents);
        num(&mut out, &what, "open incidents", s.open, got.open);
        num(&mut out, &what, "resolve breaches", s.resolve_breaches, got.resolve_breaches);
        num(&mut out, &what, "respond breaches", s.respond_breaches, got.respond_breaches);
        mttr(&mut out, &what, s.mttr, got.mttr_seconds);
    }
    for p in &exp.operators {
        payee("operator", p, &ev.operators, &mut out);
    }
    for p in &exp.partners {
        payee("partner", p, &ev.partners, &mut out);
    }
    if let Some(f) = &exp.fleet {
        availability("fleet", f, &ev.fleet, &mut out);
    }
    for (region, a) in &exp.regions {
        match ev.regions.iter().find(|r| r.region == *region) {
            Some(r) => availability(&format!("region {region}"), a, &r.availability, &mut out),
            None => out.push(format!("region {region}: not in the evaluation")),
        }
    }
    if let Some(t) = exp.total
        && t.0 != ev.total
    {
        out.push(format!("total: expected {}, got {}", t.0, ev.total));
    }
    for w in &exp.warnings {
        if !ev.warnings.iter().any(|g| g.contains(w.as_str())) {
            out.push(format!("no warning contains `{w}` (warnings: {:?})", ev.warnings));
        }
    }
    out
}

pub(super) fn num<T: PartialEq + std::fmt::Display>(
    out: &mut Vec<String>,
    what: &str,
    field: &str,
    want: Option<T>,
    got: T,
) {
    if let Some(w) = want
        && w != got
    {
        out.push(format!("{what} {field}: expected {w}, got {got}"));
    }
}

/// A mean time to resolve: `want` (a duration or `none`) against `got`.
pub(super) fn mttr(out: &mut Vec<String>, what: &str, want: Option<OptDur>, got: Option<Decimal>) {
    let Some(OptDur(m)) = want else { return };
    let want = m.map(|d| Decimal::from(d.seconds()));
    if want != got {
        out.push(format!("{what} mttr: expected {}, got {}", opt_dur(want), opt_dur(got)));
    }
}

fn opt_dur(d: Option<Decimal>) -> String {
    match d {
        None => "none".into(),
        Some(s) if s.fract().is_zero() => {
            let secs = i64::try_from(s.mantissa() / 10i128.pow(s.scale())).unwrap_or(i64::MAX);
            crate::period::Dur(secs).to_string()
        }
        Some(s) => format!("{s}s"),
    }
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Met => "met",
        Verdict::Breached => "breached",
        Verdict::Open => "open",
        Verdict::Unknown => "unknown",
    }
}

fn status(s: LineStatus) -> &'static str {
    match s {
        LineStatus::Paid => "paid",
        LineStatus::NotMet => "not_met",
        LineStatus::Withheld => "withheld",
        LineStatus::Error => "error",
    }
}

fn describe(i: &Incident) -> String {
    format!(
        "{} {} from {} for {}{}",
        i.severity,
        i.nodes.join(","),
        i.start.to_rfc3339(),
        crate::period::Dur(i.duration_seconds),
        if i.end.is_none() { " (open)" } else { "" }
    )
}

fn compare_incidents(want: &[ExpIncident], got: &[Incident], out: &mut Vec<String>) {
    if want.len() != got.len() {
        let list: Vec<String> = got.iter().map(describe).collect();
        out.push(format!(
            "incidents: expected {}, got {}{}",
            want.len(),
            got.len(),
            if list.is_empty() { String::new() } else { format!(": {}", list.join("; ")) }
        ));
    }
    for (n, (w, g)) in want.iter().zip(got).enumerate() {
        let what = format!("incident {} ({})", n + 1, describe(g));
        if w.severity != g.severity {
            out.push(format!("{what}: expected severity {}, got {}", w.severity, g.severity));
        }
        if let Some(nodes) = &w.nodes {
            let mut a = nodes.clone();
            a.sort();
            let mut b = g.nodes.clone();
            b.sort();
            if a != b {
                out.push(format!("{what}: expected nodes [{}], got [{}]", a.join(", "), b.join(", ")));
            }
        }
        if let Some(r) = &w.regions
            && *r != g.regions
        {
            out.push(format!("{what}: expected regions [{}], got [{}]", r.join(", "), g.regions.join(", ")));
        }
        if let Some(o) = &w.operators
            && *o != g.operators
        {
            out.push(format!("{what}: expected operators [{}], got [{}]", o.join(", "), g.operators.join(", ")));
        }
        if let Some(s) = w.start
            && s != g.start
        {
            out.push(format!("{what}: expected start {}, got {}", s.to_rfc3339(), g.start.to_rfc3339()));
        }
        if let Some(d) = w.duration
            && d.seconds() != g.duration_seconds
        {
            out.push(format!("{what}: expected duration {d}, got {}", crate::period::Dur(g.duration_seconds)));
        }
        if let Some(open) = w.open
            && open != g.end.is_none()
        {
            out.push(format!(
                "{what}: expected {}, got {}",
                if open { "open" } else { "resolved" },
                if g.end.is_none() { "open" } else { "resolved" }
            ));
        }
        if let Some(v) = w.respond
            && v != g.respond_verdict
        {
            out.push(format!("{what}: expected respond {}, got {}", verdict(v), verdict(g.respond_verdict)));
        }
        if let Some(e) = &w.escalation {
            let got = g.escalation.as_deref().unwrap_or("none");
            if e != got {
                out.push(format!("{what}: expected escalation {e}, got {got} (level {})", g.escalation_level));
            }
        }
        if let Some(v) = w.resolve
            && v != g.resolve_verdict
        {
            out.push(format!("{what}: expected resolve {}, got {}", verdict(v), verdict(g.resolve_verdict)));
        }
    }
}

/// `got` rounded to the precision `want` is written with.
fn close(want: Decimal, got: Decimal) -> bool {
    got.round_dp_with_strategy(want.scale(), RoundingStrategy::MidpointNearestEven) == want
}

fn availability(what: &str, want: &ExpAvailability, got: &Availability, out: &mut Vec<String>) {
    if let Some(OptDec(u)) = want.uptime {
        uptime(what, u, got.uptime, out);
    }
    if let Some(c) = want.coverage
        && !close(c.0, got.coverage)
    {
        out.push(format!("{what} coverage: expected {}, got {}", c.0, got.coverage));
    }
    num(out, what, "nodes", want.nodes, got.nodes);
}

fn uptime(what: &str, want: Option<crate::money::Dec>, got: Option<Decimal>, out: &mut Vec<String>) {
    let same = match (want, got) {
        (Some(w), Some(g)) => close(w.0, g),
        (None, None) => true,
        _ => false,
    };
    if !same {
        let w = want.map_or("none".to_string(), |w| w.0.to_string());
        let g = got.map_or("none".to_string(), |g| g.to_string());
        out.push(format!("{what} uptime: expected {w}, got {g}"));
    }
}

fn payee(kind: &str, want: &ExpPayee, got: &[Statement], out: &mut Vec<String>) {
    let Some(st) = got.iter().find(|s| s.id == want.id) else {
        let ids: Vec<&str> = got.iter().map(|s| s.id.as_str()).collect();
        out.push(format!("{kind} {}: no statement (statements: {})", want.id, ids.join(", ")));
        return;
    };
    let what = format!("{kind} {}", want.id);
    if let Some(t) = &want.tier
        && *t != st.tier
    {
        out.push(format!("{what}: expected tier {t}, got {}", st.tier));
    }
    for (id, w) in &want.lines {
        match st.lines.iter().find(|l| l.id == *id) {
            Some(l) => line(&what, id, w, l, out),
            None => {
                let ids: Vec<&str> = st.lines.iter().map(|l| l.id.as_str()).collect();
                out.push(format!("{what}: no line {id} (lines: {})", ids.join(", ")));
            }
        }
    }
    if let Some(t) = want.total
        && t.0 != st.total
    {
        let lines: Vec<String> = st.lines.iter().map(|l| format!("{} {}", l.id, l.amount)).collect();
        out.push(format!("{what} total: expected {}, got {} ({})", t.0, st.total, lines.join(" + ")));
    }
    if let Some(OptDec(u)) = want.uptime {
        uptime(&what, u, st.availability.uptime, out);
    }
    let ledger =
        [("payable", want.payable, st.ledger.payable), ("balance_out", want.balance_out, st.ledger.balance_out)];
    for (field, want, got) in ledger {
        if let Some(OptDec(w)) = want
            && w.map(|w| w.0) != got
        {
            let show = |d: Option<Decimal>| d.map_or("none".to_string(), |d| d.to_string());
            let why = st.ledger.balance_unknown.as_deref().map(|u| format!(" ({u})")).unwrap_or_default();
            out.push(format!("{what} {field}: expected {}, got {}{why}", show(w.map(|w| w.0)), show(got)));
        }
    }
    if let Some(c) = want.coverage
        && !close(c.0, st.availability.coverage)
    {
        out.push(format!("{what} coverage: expected {}, got {}", c.0, st.availability.coverage));
    }
    super::scores::compare(&what, &want.scores, &want.flags, st, out);
    if let Some(p) = &want.promotion {
        let Some(gp) = &st.promotion else {
            out.push(format!("{what}: expected a promotion check, got none (no promotion from tier {})", st.tier));
            return;
        };
        let failed: Vec<String> = gp
            .checks
            .iter()
            .map(|c| {
                let state = match c.passed {
                    Some(true) => "passed",
                    Some(false) => "failed",
                    None => "undecided",
                };
                format!("{} {state}: {}", c.name, c.detail)
            })
            .collect();
        if let Some(e) = p.eligible
            && e != gp.eligible
        {
            out.push(format!(
                "{what} promotion to {}: expected eligible {e}, got {} ({})",
                gp.to,
                gp.eligible,
                failed.join("; ")
            ));
        }
        if let Some(to) = &p.to
            && *to != gp.to
        {
            out.push(format!("{what} promotion: expected to {to}, got to {}", gp.to));
        }
        for (name, CheckState(want)) in &p.checks {
            match gp.checks.iter().find(|c| c.name == *name) {
                None => out.push(format!("{what} promotion: no check `{name}`")),
                Some(c) if c.passed != *want => out.push(format!(
                    "{what} promotion check `{name}`: expected {}, got {} ({})",
                    check_state(*want),
                    check_state(c.passed),
                    c.detail
                )),
                Some(_) => {}
            }
        }
    }
}

fn check_state(s: Option<bool>) -> &'static str {
    match s {
        Some(true) => "true",
        Some(false) => "false",
        None => "unknown",
    }
}

fn line(what: &str, id: &str, want: &ExpLine, got: &PayLine, out: &mut Vec<String>) {
    let amount_ok = want.amount.is_none_or(|a| a.0 == got.amount);
    let status_ok = want.status.is_none_or(|s| s == got.status);
    let reason_ok = want.reason.as_ref().is_none_or(|r| got.reason.contains(r.as_str()));
    if amount_ok && status_ok && reason_ok {
        return;
    }
    let mut expected = vec![];
    if let Some(a) = want.amount {
        expected.push(money(a.0));
    }
    if let Some(s) = want.status {
        expected.push(status(s).to_string());
    }
    if let Some(r) = &want.reason {
        expected.push(format!("with reason containing `{r}`"));
    }
    let mut msg = format!(
        "{what} line {id}: expected {}, got {} {} (reason: {}",
        expected.join(" "),
        money(got.amount),
        status(got.status),
        got.reason
    );
    if !got.formula.is_empty() {
        msg.push_str(&format!("; formula: {}", got.formula));
    }
    msg.push(')');
    out.push(msg);
}

/// An amount with at least two decimals: `200` → `200.00`.
fn money(d: Decimal) -> String {
    if d.scale() < 2 {
        let mut x = d;
        x.rescale(2);
        x.to_string()
    } else {
        d.to_string()
    }
}
