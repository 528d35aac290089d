//! Renders an [`Evaluation`] for people and programs: a text table, JSON
//! (amounts as decimal strings) or CSV (one row per payee and pay line).

use crate::evaluation::{Evaluation, LineStatus, Statement};
use rust_decimal::Decimal;
use std::fmt::Write;

/// Output format of `evaluate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

pub fn render(e: &Evaluation, format: Format) -> String {
    match format {
        Format::Table => table(e),
        Format::Json => json(e),
        Format::Csv => csv(e),
    }
}

/// Pretty JSON with a trailing newline; same evaluation, same bytes.
pub fn json(e: &Evaluation) -> String {
    let mut s = serde_json::to_string_pretty(e).expect("an evaluation serializes");
    s.push('\n');
    s
}

const CSV_HEADER: &[&str] = &[
    "period",
    "payee_kind",
    "payee_id",
    "payee_name",
    "tier",
    "line_id",
    "line_name",
    "category",
    "status",
    "amount",
    "currency",
    "formula",
    "reason",
    "year_to_date",
];

/// One row per payee and pay line, RFC 4180 quoting.
pub fn csv(e: &Evaluation) -> String {
    let mut out = String::new();
    push_row(&mut out, CSV_HEADER.iter().copied());
    for (kind, list) in [("operator", &e.operators), ("partner", &e.partners)] {
        for s in list {
            for l in &s.lines {
                let amount = l.amount.to_string();
                let ytd = s.year_to_date.lines.get(&l.id).map(|d| d.to_string()).unwrap_or_default();
                push_row(
                    &mut out,
                    [
                        e.period.as_str(),
                        kind,
                        &s.id,
                        &s.name,
                        &s.tier,
                        &l.id,
                        &l.name,
                        &l.category,
                        status(l.status),
                        &amount,
                        &e.currency,
                        &l.formula,
                        &l.reason,
                        &ytd,
                    ],
                );
            }
        }
    }
    out
}

fn push_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    let row: Vec<String> = fields.into_iter().map(csv_field).collect();
    out.push_str(&row.join(","));
    out.push_str("\r\n");
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.to_string() }
}

pub fn status(s: LineStatus) -> &'static str {
    match s {
        LineStatus::Paid => "paid",
        LineStatus::NotMet => "not_met",
        LineStatus::Withheld => "withheld",
        LineStatus::Error => "error",
    }
}

/// A ratio 0–1 as a percentage with 3 decimals, or `n/a`.
pub fn percent(r: Option<Decimal>) -> String {
    match r {
        Some(r) => format!("{:.3} %", (r * Decimal::ONE_HUNDRED).round_dp(3)),
        None => "n/a".into(),
    }
}

fn hours(seconds: i64) -> String {
    format!("{:.2} h", seconds as f64 / 3600.0)
}

/// The month's statement for people.
pub fn table(e: &Evaluation) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} — statement for {} ({})", e.programme, e.period, e.time_zone);
    let _ = writeln!(
        o,
        "window {} → {}{}; rules sha256 {}",
        e.period_start.to_rfc3339(),
        e.window_end.to_rfc3339(),
        if e.complete { "" } else { " (month to date)" },
        &e.rules_sha256[..e.rules_sha256.len().min(12)]
    );
    let f = &e.fleet;
    let _ = writeln!(
        o,
        "\nFleet: {} nodes, uptime {}, coverage {}, down {}, unknown {}, maintenance {}",
        f.nodes,
        percent(f.uptime),
        percent(Some(f.coverage)),
        hours(f.down_seconds),
        hours(f.unknown_seconds),
        hours(f.maintenance_seconds)
    );
    for r in &e.regions {
        let _ = writeln!(
            o,
            "  region {:<12} {:>4} nodes  uptime {:>10}  coverage {:>10}",
            r.region,
            r.availability.nodes,
            percent(r.availability.uptime),
            percent(Some(r.availability.coverage))
        );
    }
    let _ = writeln!(o, "\nIncidents by severity:");
    for s in &e.severities {
        let mttr = s.mttr_seconds.map(|m| format!("{:.2} h", m / Decimal::from(3600))).unwrap_or("n/a".into());
        let _ = writeln!(
            o,
            "  {:<4} {:<28} {:>3} incidents ({} open)  MTTR {:>9}  resolve breaches {}",
            s.severity, s.name, s.incidents, s.open, mttr, s.resolve_breaches
        );
    }
    for (title, list) in [("Operators", &e.operators), ("Partners", &e.partners)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{title}:");
        for s in list {
            statement(&mut o, s, &e.currency);
        }
    }
    let _ = writeln!(o, "\nTotal payouts: {} {}", e.total, e.currency);
    if !e.warnings.is_empty() {
        let _ = writeln!(o, "\nWarnings:");
        for w in &e.warnings {
            let _ = writeln!(o, "  - {w}");
        }
    }
    o
}

fn statement(o: &mut String, s: &Statement, currency: &str) {
    let _ = writeln!(
        o,
        "  {} ({}) tier {} — {} nodes, uptime {}, coverage {}",
        s.name,
        s.id,
        s.tier,
        s.nodes.len(),
        percent(s.availability.uptime),
        percent(Some(s.availability.coverage))
    );
    for l in &s.lines {
        let _ = writeln!(o, "    {:<34} {:>9} {:>12}  {}", l.name, status(l.status), l.amount.to_string(), l.reason);
    }
    let _ = writeln!(o, "    {:<34} {:>9} {:>12} {currency}", "total", "", s.total.to_string());
    let ytd = &s.year_to_date;
    match (ytd.total, ytd.months.first()) {
        (Some(t), Some(first)) => {
            let _ = writeln!(
                o,
                "    {:<34} {:>9} {:>12} {currency}",
                format!("year to date (since {first})"),
                "",
                t.to_string()
            );
        }
        _ if !ytd.missing.is_empty() => {
            let why = match ytd.missing.as_slice() {
                [first, .., last] if ytd.missing.len() > 3 => {
                    format!("{} months of the year are not closed ({first} … {last})", ytd.missing.len())
                }
                few => crate::history::not_closed(few),
            };
            let _ = writeln!(o, "    year to date unknown: {why}");
        }
        _ => {}
    }
    if let Some(p) = &s.promotion {
        let failed: Vec<&str> = p.checks.iter().filter(|c| c.passed != Some(true)).map(|c| c.name.as_str()).collect();
        let state = match (&p.eligible_since, &p.eligible_since_note) {
            _ if !p.eligible => format!("not yet ({})", failed.join("; ")),
            (Some(since), None) => format!("eligible since {since}"),
            (Some(since), Some(note)) => format!("eligible since {since} at least ({note})"),
            (None, _) => "eligible".to_string(),
        };
        let _ = writeln!(o, "    promotion to {}: {state}", p.to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_quotes_or_newlines_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("500 × 3, prorated"), "\"500 × 3, prorated\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn the_table_says_why_the_year_to_date_is_unknown_in_one_short_line() {
        let s = |missing: &[&str]| {
            let mut st = Statement {
                id: "a".into(),
                name: "A".into(),
                email: None,
                tier: "t".into(),
                tier_since: None,
                region: None,
                nodes: vec![],
                availability: Default::default(),
                lines: vec![],
                total: Decimal::ZERO,
                promotion: None,
                year_to_date: Default::default(),
                variables: Default::default(),
            };
            st.year_to_date.missing = missing.iter().map(|m| m.to_string()).collect();
            let mut o = String::new();
            statement(&mut o, &st, "USD");
            o
        };
        assert!(s(&["2026-08"]).contains("year to date unknown: 2026-08 is not closed"));
        let long = s(&["2026-01", "2026-02", "2026-04", "2026-05", "2026-09"]);
        assert!(
            long.contains("year to date unknown: 5 months of the year are not closed (2026-01 … 2026-09)"),
            "{long}"
        );
    }

    #[test]
    fn percent_shows_three_decimals_or_na() {
        assert_eq!(percent(Some(Decimal::new(995, 3))), "99.500 %");
        assert_eq!(percent(None), "n/a");
    }
}
