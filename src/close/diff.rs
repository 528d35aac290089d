//! What a rules change does to a closed month's pay: the month replayed
//! from its evidence under the old and the new rules, compared per payee
//! and pay line (amount, delta, status). For pull-request review: text for
//! a terminal, Markdown for a PR comment.

use crate::evaluation::{Evaluation, LineStatus, PayLine, Statement};
use crate::report::status;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One pay line whose amount or status changes (or that appears or goes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChange {
    pub line_id: String,
    pub line_name: String,
    /// `(status, amount)` under the old and the new rules; `None`: no such line.
    pub old: Option<(LineStatus, Decimal)>,
    pub new: Option<(LineStatus, Decimal)>,
}

impl LineChange {
    pub fn delta(&self) -> Decimal {
        self.new.map_or(Decimal::ZERO, |n| n.1) - self.old.map_or(Decimal::ZERO, |o| o.1)
    }
}

/// A payee with at least one changed line (or that appears or goes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayeeChange {
    /// `operator` or `partner`.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub old_total: Option<Decimal>,
    pub new_total: Option<Decimal>,
    pub lines: Vec<LineChange>,
}

impl PayeeChange {
    pub fn delta(&self) -> Decimal {
        self.new_total.unwrap_or_default() - self.old_total.unwrap_or_default()
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesDiff {
    pub period: String,
    pub currency: String,
    pub old_rules_sha256: String,
    pub new_rules_sha256: String,
    pub old_total: Decimal,
    pub new_total: Decimal,
    pub payees: Vec<PayeeChange>,
}

impl RulesDiff {
    pub fn is_empty(&self) -> bool {
        self.payees.is_empty() && self.old_total == self.new_total
    }
}

type Key = (&'static str, String);

fn payees(e: &Evaluation) -> BTreeMap<Key, &Statement> {
    let ops = e.operators.iter().map(|s| (("operator", s.id.clone()), s));
    ops.chain(e.partners.iter().map(|s| (("partner", s.id.clone()), s))).collect()
}

/// Compare two evaluations of the same month, payee by payee, line by line.
pub fn diff(old: &Evaluation, new: &Evaluation) -> RulesDiff {
    let (a, b) = (payees(old), payees(new));
    let mut keys: Vec<&Key> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = vec![];
    for key in keys {
        let (o, n) = (a.get(key).copied(), b.get(key).copied());
        let lines = line_changes(o.map_or(&[][..], |s| &s.lines), n.map_or(&[][..], |s| &s.lines));
        let (old_total, new_total) = (o.map(|s| s.total), n.map(|s| s.total));
        if lines.is_empty() && old_total == new_total {
            continue;
        }
        let any = n.or(o).expect("a key comes from one side");
        out.push(PayeeChange { kind: key.0, id: key.1.clone(), name: any.name.clone(), old_total, new_total, lines });
    }
    RulesDiff {
        period: new.period.clone(),
        currency: new.currency.clone(),
        old_rules_sha256: old.rules_sha256.clone(),
        new_rules_sha256: new.rules_sha256.clone(),
        old_total: old.total,
        new_total: new.total,
        payees: out,
    }
}

/// Lines in the new order, then lines only the old rules had.
fn line_changes(old: &[PayLine], new: &[PayLine]) -> Vec<LineChange> {
    let find = |lines: &[PayLine], id: &str| lines.iter().find(|l| l.id == id).map(|l| (l.status, l.amount));
    let mut out = vec![];
    for l in new {
        let o = find(old, &l.id);
        let n = Some((l.status, l.amount));
        if o != n {
            out.push(LineChange { line_id: l.id.clone(), line_name: l.name.clone(), old: o, new: n });
        }
    }
    for l in old.iter().filter(|l| !new.iter().any(|n| n.id == l.id)) {
        out.push(LineChange {
            line_id: l.id.clone(),
            line_name: l.name.clone(),
            old: Some((l.status, l.amount)),
            new: None,
        });
    }
    out
}

fn side(s: Option<(LineStatus, Decimal)>) -> String {
    match s {
        Some((st, amount)) => format!("{amount} ({})", status(st)),
        None => "—".into(),
    }
}

fn signed(d: Decimal) -> String {
    if d.is_sign_negative() && !d.is_zero() { d.to_string() } else { format!("+{d}") }
}

fn total(t: Option<Decimal>) -> String {
    t.map_or("—".into(), |t| t.to_string())
}

/// Plain text for a terminal.
pub fn text(d: &RulesDiff) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: rules {} → {}",
        d.period,
        &d.old_rules_sha256[..d.old_rules_sha256.len().min(12)],
        &d.new_rules_sha256[..d.new_rules_sha256.len().min(12)]
    );
    if d.is_empty() {
        let _ = writeln!(o, "no change to any payee's pay");
        return o;
    }
    for p in &d.payees {
        let _ = writeln!(
            o,
            "{} {} ({}): total {} → {} ({})",
            p.kind,
            p.id,
            p.name,
            total(p.old_total),
            total(p.new_total),
            signed(p.delta())
        );
        for l in &p.lines {
            let _ = writeln!(o, "  {:<28} {} → {}  {}", l.line_id, side(l.old), side(l.new), signed(l.delta()));
        }
    }
    let _ = writeln!(
        o,
        "total payout {} → {} {} ({}); {} payee(s) change",
        d.old_total,
        d.new_total,
        d.currency,
        signed(d.new_total - d.old_total),
        d.payees.len()
    );
    o
}

/// Markdown for a pull-request comment.
pub fn markdown(d: &RulesDiff) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "### Pay impact of this rules change on {}\n", d.period);
    let _ = writeln!(
        o,
        "Replayed from the closed month's evidence; rules `{}` → `{}`.\n",
        &d.old_rules_sha256[..d.old_rules_sha256.len().min(12)],
        &d.new_rules_sha256[..d.new_rules_sha256.len().min(12)]
    );
    if d.is_empty() {
        let _ = writeln!(o, "No change to any payee's pay.");
        return o;
    }
    let _ = writeln!(o, "| Payee | Line | Old | New | Delta |");
    let _ = writeln!(o, "|-------|------|-----|-----|-------|");
    for p in &d.payees {
        for l in &p.lines {
            let _ = writeln!(
                o,
                "| {} `{}` | {} (`{}`) | {} | {} | {} |",
                p.kind,
                p.id,
                l.line_name.replace('|', "\\|"),
                l.line_id,
                side(l.old),
                side(l.new),
                signed(l.delta())
            );
        }
        let _ = writeln!(
            o,
            "| **{} `{}` total** | | {} | {} | **{}** |",
            p.kind,
            p.id,
            total(p.old_total),
            total(p.new_total),
            signed(p.delta())
        );
    }
    let _ = writeln!(
        o,
        "\n**Total payout**: {} → {} {} ({}); {} payee(s) change.",
        d.old_total,
        d.new_total,
        d.currency,
        signed(d.new_total - d.old_total),
        d.payees.len()
    );
    o
}
