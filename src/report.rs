//! Renders an [`Evaluation`] for people and programs: a text table, JSON
//! (amounts as decimal strings) or CSV (one row per payee and pay line).

use crate::evaluation::{Evaluation, Ledger, LineStatus, OpenDispute, PROGRAMME_HOLD, StateInForce, Statement};
use rust_decimal::Decimal;
use std::borrow::Cow;
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

/// A CSV column: a number (a decimal string, written as it is) or text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Number,
    Text,
}

/// A CSV file being written (the csv crate: RFC 4180 quoting, CRLF): a
/// header of the columns' names, then rows; text cells a spreadsheet would
/// run as a formula are neutralised ([`neutralise`]), numbers are written
/// as they are.
pub struct CsvTable<'c> {
    columns: &'c [(&'c str, Cell)],
    w: csv::Writer<Vec<u8>>,
}

impl<'c> CsvTable<'c> {
    pub fn new(columns: &'c [(&'c str, Cell)]) -> CsvTable<'c> {
        let w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(vec![]);
        let mut t = CsvTable { columns, w };
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        t.row(&names);
        t
    }

    /// One row, a cell per column.
    pub fn row(&mut self, cells: &[&str]) {
        debug_assert_eq!(cells.len(), self.columns.len());
        for ((_, kind), cell) in self.columns.iter().zip(cells) {
            let cell = if *kind == Cell::Text { neutralise(cell) } else { Cow::Borrowed(*cell) };
            self.w.write_field(cell.as_bytes()).expect("writing CSV to memory");
        }
        self.w.write_record(None::<&[u8]>).expect("writing CSV to memory");
    }

    pub fn finish(self) -> String {
        let bytes = self.w.into_inner().expect("writing CSV to memory");
        String::from_utf8(bytes).expect("CSV of UTF-8 text is UTF-8")
    }
}

/// The CSV columns; `amount`, `year_to_date` and the payee's ledger (the
/// last four, the same on each of its rows; empty when not known) are the numbers.
const CSV_COLUMNS: [(&str, Cell); 18] = [
    ("period", Cell::Text),
    ("payee_kind", Cell::Text),
    ("payee_id", Cell::Text),
    ("payee_name", Cell::Text),
    ("tier", Cell::Text),
    ("line_id", Cell::Text),
    ("line_name", Cell::Text),
    ("category", Cell::Text),
    ("status", Cell::Text),
    ("amount", Cell::Number),
    ("currency", Cell::Text),
    ("formula", Cell::Text),
    ("reason", Cell::Text),
    ("year_to_date", Cell::Number),
    ("balance_in", Cell::Number),
    ("payable", Cell::Number),
    ("balance_out", Cell::Number),
    ("written_off", Cell::Number),
];

/// One row per payee and pay line (the csv crate: RFC 4180 quoting, CRLF);
/// text cells a spreadsheet would run as a formula are neutralised
/// ([`neutralise`]), numbers are written as they are.
pub fn csv(e: &Evaluation) -> String {
    let mut t = CsvTable::new(&CSV_COLUMNS);
    let text = |d: Option<Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
    for (kind, list) in [("operator", &e.operators), ("partner", &e.partners)] {
        for s in list {
            let g = &s.ledger;
            let ledger = [text(g.balance_in), text(g.payable), text(g.balance_out), text(g.written_off)];
            for l in &s.lines {
                let amount = l.amount.to_string();
                let ytd = s.year_to_date.lines.get(&l.id).map(|d| d.to_string()).unwrap_or_default();
                t.row(&[
                    &e.period,
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
                    &ledger[0],
                    &ledger[1],
                    &ledger[2],
                    &ledger[3],
                ]);
            }
        }
    }
    t.finish()
}

/// A text cell as a spreadsheet cannot run it (OWASP, CSV injection): one
/// starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading
/// `'`, unless the whole cell is a plain decimal number such as `-250.00`
/// (the formula of a fixed clawback), which a spreadsheet reads as a number.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let plain_number = |c: &str| {
        let digits = c.strip_prefix(['-', '+']).unwrap_or(c);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
        [int, frac].iter().all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
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
    class_incidents(&mut o, e);
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
    match e.payable {
        Some(p) => {
            let _ = writeln!(o, "Total payable: {p} {}", e.currency);
        }
        None => {
            let unknown = e.operators.iter().chain(&e.partners).filter(|s| s.ledger.payable.is_none()).count();
            let _ = writeln!(o, "Total payable unknown: the balance carried in of {unknown} payee(s) is not known");
        }
    }
    if let Some(h) = &e.hold_all {
        let _ = writeln!(o, "All payouts held: {}", state_line(h));
    }
    if !e.warnings.is_empty() {
        let _ = writeln!(o, "\nWarnings:");
        for w in &e.warnings {
            let _ = writeln!(o, "  - {w}");
        }
    }
    o
}

/// Incidents of the incident classes (tickets …): per class, then each one
/// with its verdicts; nothing without classes.
fn class_incidents(o: &mut String, e: &Evaluation) {
    if e.classes.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nIncidents by class:");
    for c in &e.classes {
        let mttr = c.mttr_seconds.map(|m| format!("{:.2} h", m / Decimal::from(3600))).unwrap_or("n/a".into());
        let _ = writeln!(
            o,
            "  {:<12} {:<24} {:>3} incidents ({} open)  MTTR {:>9}  respond breaches {}  resolve breaches {}",
            c.class, c.name, c.incidents, c.open, mttr, c.respond_breaches, c.resolve_breaches
        );
    }
    for i in &e.class_incidents {
        let _ = writeln!(
            o,
            "    {} ({}) {} {} — respond {}, resolve {}",
            i.id,
            i.operator.as_deref().unwrap_or("no payee"),
            i.start.to_rfc3339(),
            i.end.map_or("open".to_string(), |t| format!("→ {}", t.to_rfc3339())),
            i.respond_verdict.name(),
            i.resolve_verdict.map_or("none", |v| v.name())
        );
    }
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
    ledger(o, &s.ledger, currency);
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

/// What is paid and carried: the payable always, balances when there are
/// any; then the open disputes.
fn ledger(o: &mut String, g: &Ledger, currency: &str) {
    for d in &g.disputes {
        let _ = writeln!(o, "    {}", dispute_line(d));
    }
    for s in &g.states {
        let _ = writeln!(o, "    state: {}", state_line(s));
    }
    if let Some(line) = held_line(g, currency) {
        let _ = writeln!(o, "    {line}");
    }
    let Some(payable) = g.payable else {
        let _ = writeln!(o, "    {}", payable_unknown(g));
        return;
    };
    let zero = |d: Option<Decimal>| d.is_none_or(|d| d.is_zero());
    let mut rows = vec![];
    if !zero(g.balance_in) || !zero(g.balance_out) {
        rows.push(("balance carried in", g.balance_in));
    }
    rows.push(("payable", Some(payable)));
    if !zero(g.balance_in) || !zero(g.balance_out) {
        rows.push(("balance carried out", g.balance_out));
    }
    if !zero(g.written_off) {
        rows.push(("written off", g.written_off));
    }
    if !zero(g.held_in) {
        rows.insert(0, ("held, carried in", g.held_in));
    }
    if g.held() || !zero(g.held_out) {
        rows.push(("held, carried out", g.held_out));
    }
    for (name, amount) in rows {
        let amount = amount.map(|d| d.to_string()).unwrap_or_default();
        let _ = writeln!(o, "    {name:<34} {:>9} {amount:>12} {currency}", "");
    }
}

/// Why a payee's payable is not known, in one line.
pub fn payable_unknown(g: &Ledger) -> String {
    let why = g.balance_unknown.as_deref().unwrap_or("not evaluated");
    format!("payable unknown: the balance carried in is not known ({why})")
}

/// A state in force in one line: `suspended since 2026-08-10 until 2026-09-30: reason`.
pub fn state_line(s: &StateInForce) -> String {
    let name = if s.state == PROGRAMME_HOLD { "programme hold (every payout)" } else { s.state.as_str() };
    let until = s.until.map(|u| format!(" until {u}")).unwrap_or_default();
    format!("{name} since {}{until}: {}", s.since, s.reason)
}

/// What is held or released this month, in one line; `None` when nothing is.
pub fn held_line(g: &Ledger, currency: &str) -> Option<String> {
    let held_in = g.held_in.filter(|h| !h.is_zero());
    if g.held() {
        let why: Vec<String> = g.holds.iter().map(state_line).collect();
        let out = g.held_out.map_or_else(|| "unknown".to_string(), |h| format!("{h} {currency}"));
        Some(format!(
            "payout held ({}): nothing is payable; held and carried into the next month: {out}",
            why.join("; ")
        ))
    } else {
        held_in
            .map(|h| format!("released: {h} {currency} held in earlier months, paid with this month (in the payable)"))
    }
}

/// An open dispute in one line: `open dispute d1 of 2026-08, line base, 26 days (opened 2026-09-05 by A): text`.
pub fn dispute_line(d: &OpenDispute) -> String {
    format!(
        "open dispute {} of {}, line {}, {} day(s) (opened {} by {}): {}",
        d.id, d.period, d.line, d.age_days, d.opened_on, d.opened_by, d.text
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An evaluation with one operator named `name` and one fixed line of
    /// `amount` named `line`.
    fn one_line(name: &str, line: &str, amount: &str) -> Evaluation {
        use crate::engine::testutil::*;
        let yaml = format!(
            "version: 1\noperators:\n  - {{id: op, name: {name}, tier: t, start: 2026-01-01}}\ntiers:\n  - id: t\n    \
             name: T\n    lines:\n      - {{id: l, name: {line}, kind: fixed, amount: {amount}}}\n"
        );
        let p = period("2026-10");
        crate::engine::evaluate(&facts(&p), &Default::default(), &rules(&yaml), &p, t(2026, 11, 1, 0, 0))
    }

    /// The data row of a one-line evaluation, parsed back.
    fn row(e: &Evaluation) -> csv::StringRecord {
        let text = csv(e);
        let mut rows = csv::Reader::from_reader(text.as_bytes()).into_records();
        let row = rows.next().expect("a row").expect("valid CSV");
        assert!(rows.next().is_none(), "{text}");
        row
    }

    #[test]
    fn csv_fields_with_commas_quotes_or_newlines_are_quoted_rfc_4180_with_crlf() {
        let e = one_line("'Ann, \"the\" Op'", "\"two\\nlines\"", "100");
        let text = csv(&e);
        assert!(text.starts_with("period,payee_kind,payee_id,payee_name,tier,line_id,line_name,category,status,amount,currency,formula,reason,year_to_date,balance_in,payable,balance_out,written_off\r\n"), "{text}");
        assert!(text.contains(",op,\"Ann, \"\"the\"\" Op\",t,l,\"two\nlines\",,paid,100.00,USD,100.00,"), "{text}");
        assert!(text.ends_with("\r\n") && text.matches("\r\n").count() == 2, "{text}");
    }

    /// Regression: a roster name `=HYPERLINK(…)` reached `statement.csv` as
    /// a live formula.
    #[test]
    fn a_text_cell_a_spreadsheet_would_run_as_a_formula_is_neutralised() {
        let e = one_line("'=HYPERLINK(\"http://evil.example\",\"Click\")'", "'-clawback'", "-250");
        let r = row(&e);
        assert_eq!(&r[3], "'=HYPERLINK(\"http://evil.example\",\"Click\")", "payee_name");
        assert_eq!(&r[6], "'-clawback", "line_name");
        assert_eq!((&r[9], &r[11]), ("-250.00", "-250.00"), "the amount, and a formula that is a plain number");
        for (cell, safe) in [
            ("=1+1", "'=1+1"),
            ("+1+1", "'+1+1"),
            ("-1+1", "'-1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("1e5", "1e5"),
            ("a=b", "a=b"),
            ("-12.50", "-12.50"),
            ("+3", "+3"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), safe, "{cell:?}");
        }
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
                ..Default::default()
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
