//! The ledger through the binary, against ONE real Prometheus holding the
//! quarter of `history` (July–September 2026), closed month by month as finance runs
//! it, with the rules changing in git between closes: a month with an
//! adjustment; an adjustment added for a month already closed is not
//! applied (the next close says to move it); a clawback of a closed month
//! paid in an open one, larger than the month's pay: nothing negative is
//! paid, the balance is carried into the next close and recovered from it;
//! a dispute of the clawback, open at August's close and resolved in
//! September by an adjustment naming it; another one open at September's.
//! Every statement's total is the sum of its lines; re-closing and
//! replaying are byte-identical.

use crate::history::{Fixture, bin, ok, statement};
use rust_decimal::Decimal;
use serde_json::Value;
use std::sync::OnceLock;

const RULES: &str = r#"version: 1
programme: {name: Ledger programme, currency: USD, time_zone: UTC}
source: {up: 'up{job="fleet-node"}', node_label: instance, region_label: region, step: 1m, failure_after: 5m}
severities:
  - {id: P2, name: Node, definition: a node down, when: "nodes_down >= 1", respond_within: 1h, resolve_within: 24h}
tiers:
  - id: t1
    name: Tier 1
    lines:
      - {id: base, name: Base stipend, kind: fixed, category: stipend, amount: 500}
operators:
  - {id: op-a, name: A, tier: t1, start: 2026-07-01, nodes: [n1]}
  - {id: op-b, name: B, tier: t1, start: 2026-07-01, nodes: [n2]}
"#;

/// In git before the quarter: a bonus for op-a paid in July, and a
/// clawback from op-b of July paid in August (an open month).
const ADJUSTMENTS: &str = r#"version: 1
adjustments:
  - id: jul-bonus
    payee: op-a
    amount: 50.25
    currency: USD
    reason: Launch week on call
    reference: FIN-7
    approved_by: Dana
    period: 2026-07
  - id: claw-jul
    payee: op-b
    amount: -800
    currency: USD
    reason: July stipend paid for nodes that never ran
    reference: FIN-9
    approved_by: Dana
    period: 2026-08
    corrects: 2026-07
"#;

/// Added to git after July was closed: for July, so never applied.
const LATE: &str = r#"version: 1
adjustments:
  - {id: late, payee: op-a, amount: 20, currency: USD, reason: Forgotten, reference: FIN-11, approved_by: Dana, period: 2026-07}
"#;

/// In git before August's close: op-b disputes the clawback.
const DISPUTE_OPEN: &str = r#"version: 1
disputes:
  - {id: d-claw, payee: op-b, period: 2026-08, line: claw-jul, opened_on: 2026-08-20, opened_by: B, text: Two of the nodes did run, status: open}
"#;

/// In git before September's close: the clawback's dispute resolved (half
/// of it paid back in September), and op-a disputes August's stipend.
const DISPUTES_SEPTEMBER: &str = r#"version: 1
disputes:
  - {id: d-claw, payee: op-b, period: 2026-08, line: claw-jul, opened_on: 2026-08-20, opened_by: B, text: Two of the nodes did run, status: resolved, resolution: 100 paid back in September, resolved_on: 2026-09-15}
  - {id: d-base, payee: op-a, period: 2026-08, line: base, opened_on: 2026-09-05, opened_by: A, text: Stipend for a second node, status: open}
adjustments:
  - {id: refund, payee: op-b, amount: 100, currency: USD, reason: Part of the July clawback, reference: FIN-12, approved_by: Dana, period: 2026-09, corrects: 2026-07, dispute: d-claw}
"#;

impl Fixture {
    fn close_month(&self, period: &str) -> std::process::Output {
        self.close(period, &self.out)
    }

    fn statement(&self, period: &str) -> Value {
        statement(&self.out.join(period))
    }

    /// The binary's output for `args` on the evidence of `period`'s close.
    fn on_evidence(&self, args: &[&str], period: &str) -> String {
        let evidence = self.out.join(period).join("evidence.json");
        let o = ok(bin().args(args).arg("--evidence").arg(evidence).output().unwrap());
        String::from_utf8(o.stdout).unwrap()
    }
}

/// The quarter of `history` (its real Prometheus) closed month by month,
/// the rules changing in git between closes.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let f = Fixture::start(&[("rules.yaml", RULES), ("adjustments.yaml", ADJUSTMENTS)]);
        ok(f.close_month("2026-07"));
        std::fs::write(f.rules.join("late.yaml"), LATE).unwrap();
        std::fs::write(f.rules.join("disputes.yaml"), DISPUTE_OPEN).unwrap();
        ok(f.close_month("2026-08"));
        std::fs::write(f.rules.join("disputes.yaml"), DISPUTES_SEPTEMBER).unwrap();
        ok(f.close_month("2026-09"));
        f
    })
}

fn payee<'a>(statement: &'a Value, id: &str) -> &'a Value {
    let e = &statement["evaluation"];
    e["operators"].as_array().unwrap().iter().chain(e["partners"].as_array().unwrap()).find(|o| o["id"] == id).unwrap()
}

fn line<'a>(statement: &'a Value, id: &str, line: &str) -> Option<&'a Value> {
    payee(statement, id)["lines"].as_array().unwrap().iter().find(|l| l["id"] == line)
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("not a decimal string: {v}")).parse().unwrap()
}

fn warnings(statement: &Value) -> Vec<String> {
    statement["evaluation"]["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect()
}

#[test]
fn an_adjustment_is_a_line_of_its_own_and_a_clawback_of_a_closed_month_goes_into_an_open_one() {
    let f = fixture();
    let jul = f.statement("2026-07");
    let bonus = line(&jul, "op-a", "jul-bonus").expect("July's adjustment");
    assert_eq!((bonus["kind"].as_str(), bonus["category"].as_str()), (Some("adjustment"), Some("adjustment")));
    assert_eq!(bonus["amount"], "50.25");
    let reason = bonus["reason"].as_str().unwrap();
    assert!(reason.contains("Launch week on call; reference FIN-7; approved by Dana"), "{reason}");
    assert_eq!(payee(&jul, "op-a")["total"], "550.25");

    let aug = f.statement("2026-08");
    let claw = line(&aug, "op-b", "claw-jul").expect("the clawback, in August");
    assert_eq!((claw["name"].as_str(), claw["amount"].as_str()), (Some("Clawback for 2026-07"), Some("-800.00")));
    assert!(claw["reason"].as_str().unwrap().ends_with("corrects 2026-07 (clawback)"), "{claw}");
    assert_eq!(payee(&aug, "op-b")["total"], "-300.00");
    assert!(line(&jul, "op-b", "claw-jul").is_none(), "July is never rewritten");

    // `late` came after July was closed: not applied anywhere, and said.
    for m in ["2026-07", "2026-08", "2026-09"] {
        assert!(line(&f.statement(m), "op-a", "late").is_none(), "{m}");
    }
    let want = "adjustment late is for 2026-07, which is closed; move it to an open month (with `corrects: 2026-07`)";
    assert!(warnings(&aug).iter().any(|w| w == want), "{:?}", warnings(&aug));

    // The year to date counts both adjustments.
    let sep = f.statement("2026-09");
    let ytd = &payee(&sep, "op-b")["year_to_date"];
    assert_eq!(ytd["lines"]["claw-jul"], "-800.00");
    assert_eq!(ytd["total"], "800.00", "3 × 500 − 800 + 100: {ytd}");
    assert_eq!(payee(&sep, "op-a")["year_to_date"]["total"], "1550.25");
}

#[test]
fn every_total_is_the_sum_of_its_lines_and_the_csv_carries_the_adjustments() {
    let f = fixture();
    for m in ["2026-07", "2026-08", "2026-09"] {
        let s = f.statement(m);
        let e = &s["evaluation"];
        let mut all = Decimal::ZERO;
        for p in e["operators"].as_array().unwrap().iter().chain(e["partners"].as_array().unwrap()) {
            let sum: Decimal = p["lines"].as_array().unwrap().iter().map(|l| dec(&l["amount"])).sum();
            assert_eq!(dec(&p["total"]), sum, "{m} {}", p["id"]);
            all += sum;
        }
        assert_eq!(dec(&e["total"]), all, "{m}");
    }
    let csv = std::fs::read_to_string(f.out.join("2026-08/statement.csv")).unwrap();
    let row = csv.lines().find(|l| l.contains(",claw-jul,")).expect("the clawback's row");
    assert!(
        row.contains(",adjustment,paid,-800.00,USD,\"adjustment of -800.00 USD, corrects 2026-07 (clawback)\""),
        "{row}"
    );
    assert!(row.contains("approved by Dana; corrects 2026-07 (clawback),-800.00,"), "{row}");
}

#[test]
fn reclosing_and_replaying_are_byte_identical() {
    let f = fixture();
    let before: Vec<Vec<u8>> = ["statement.json", "evidence.json", "statement.csv"]
        .iter()
        .map(|n| std::fs::read(f.out.join("2026-09").join(n)).unwrap())
        .collect();
    let o = ok(f.close_month("2026-09"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already closed with identical files"));
    for (n, bytes) in ["statement.json", "evidence.json", "statement.csv"].iter().zip(&before) {
        assert!(std::fs::read(f.out.join("2026-09").join(n)).unwrap() == *bytes, "{n}");
    }
    for m in ["2026-07", "2026-08", "2026-09"] {
        let replayed = f.on_evidence(&["replay", "--format", "json"], m);
        let closed = std::fs::read(f.out.join(m).join("statement.json")).unwrap();
        assert!(replayed.as_bytes() == closed, "{m}: replay = the closed statement, byte for byte");
    }
    // July, closed before `late` and the disputes were in git, is never rewritten.
    let july = std::fs::read(f.out.join("2026-07/statement.json")).unwrap();
    let o = f.close_month("2026-07");
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(f.out.join("2026-07/statement.json")).unwrap() == july);
}

/// (balance_in, payable, balance_out) of a payee's statement.
fn ledger(statement: &Value, id: &str) -> (String, String, String) {
    let p = payee(statement, id);
    let s = |k: &str| p[k].as_str().unwrap_or_else(|| panic!("{k} of {id}: {p}")).to_string();
    (s("balance_in"), s("payable"), s("balance_out"))
}

#[test]
fn a_negative_month_pays_nothing_and_its_balance_is_recovered_from_the_next_close() {
    let f = fixture();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    // July is both operators' first month.
    assert_eq!(ledger(&f.statement("2026-07"), "op-b"), s("0.00", "500.00", "0.00"));
    // August: 500 − 800 = −300: nothing paid, 300 carried.
    let aug = f.statement("2026-08");
    assert_eq!(ledger(&aug, "op-b"), s("0.00", "0.00", "-300.00"));
    assert_eq!(aug["evaluation"]["total"], "200.00", "the month's total is still the sum of the lines");
    assert_eq!(aug["evaluation"]["payable"], "500.00", "op-a's 500, op-b's 0");
    // September: recovered from the next payout, read from August's statement.
    let sep = f.statement("2026-09");
    assert_eq!(payee(&sep, "op-b")["total"], "600.00", "500 and the refund of 100");
    assert_eq!(ledger(&sep, "op-b"), s("-300.00", "300.00", "0.00"));
    assert_eq!(ledger(&sep, "op-a"), s("0.00", "500.00", "0.00"));
    assert_eq!(sep["evaluation"]["payable"], "800.00");
    // The CSV's last columns, on each of the payee's rows.
    let csv = std::fs::read_to_string(f.out.join("2026-09/statement.csv")).unwrap();
    assert!(
        csv.starts_with("period,")
            && csv.lines().next().unwrap().ends_with(",balance_in,payable,balance_out,written_off")
    );
    let row = csv.lines().find(|l| l.contains(",op-b,")).unwrap();
    assert!(row.ends_with(",-300.00,300.00,0.00,0.00"), "{row}");
    // The table says so.
    let table = f.on_evidence(&["replay", "--format", "table"], "2026-09");
    assert!(table.contains("balance carried in") && table.contains("-300.00 USD"), "{table}");
    assert!(table.contains("Total payouts: 1100.00 USD\nTotal payable: 800.00 USD"), "{table}");
    // September closed where August is not: nothing is guessed.
    let alone = f.root.path().join("out-september-alone");
    ok(f.close("2026-09", &alone));
    let bare = statement(&alone.join("2026-09"));
    assert_eq!(bare["evaluation"]["payable"], Value::Null);
    assert_eq!(payee(&bare, "op-b")["balance_unknown"], "2026-08 is not closed");
    assert_eq!(payee(&bare, "op-b")["payable"], Value::Null);
    assert_eq!(payee(&bare, "op-b")["total"], "600.00", "the total is known");
}

#[test]
fn an_open_dispute_shows_while_open_and_a_resolved_one_is_an_adjustment_naming_it() {
    let f = fixture();
    let disputes =
        |statement: &Value, id: &str| payee(statement, id)["disputes"].as_array().cloned().unwrap_or_default();
    // At August's close (2026-09-01), op-b's dispute was 12 days open.
    let aug = f.statement("2026-08");
    let d = &disputes(&aug, "op-b")[0];
    assert_eq!(
        (d["id"].as_str(), d["line"].as_str(), d["age_days"].as_i64()),
        (Some("d-claw"), Some("claw-jul"), Some(12))
    );
    assert_eq!(d["age_seconds"], 12 * 86_400);
    assert!(disputes(&aug, "op-a").is_empty());
    // Resolved on 2026-09-15 by the refund, which names it.
    let sep = f.statement("2026-09");
    assert!(disputes(&sep, "op-b").is_empty());
    let refund = line(&sep, "op-b", "refund").unwrap();
    assert!(
        refund["reason"].as_str().unwrap().ends_with("; corrects 2026-07 (back-pay); resolves dispute d-claw"),
        "{refund}"
    );
    // op-a's, opened on 2026-09-05: 26 days at September's close.
    let d = &disputes(&sep, "op-a")[0];
    assert_eq!((d["id"].as_str(), d["age_days"].as_i64()), (Some("d-base"), Some(26)));
    let text = f.on_evidence(&["explain", "--operator", "op-a"], "2026-09");
    assert!(
        text.contains(
            "open dispute d-base of 2026-08, line base, 26 day(s) (opened 2026-09-05 by A): Stipend for a second node"
        ),
        "{text}"
    );
}

/// `explain` names an adjustment's rule, reference and approver.
#[test]
fn explain_shows_an_adjustment() {
    let f = fixture();
    let text = f.on_evidence(&["explain", "--operator", "op-b"], "2026-08");
    assert!(text.contains("an adjustment kept in git (rules `adjustments:`), paid in 2026-08"), "{text}");
    assert!(text.contains("approved_by = Dana, corrects = 2026-07, reference = FIN-9"), "{text}");
    assert!(
        text.contains("payable 0.00 USD = balance carried in 0.00 + total, at least 0; carried out -300.00\n"),
        "{text}"
    );
}

/// `diff` on a closed month's evidence shows what an adjustment added in
/// git would change: the payee's new line and total, nothing else.
#[test]
fn diff_shows_an_adjustments_effect_on_a_closed_month() {
    let f = fixture();
    let new = f.root.path().join("rules-with-a-bonus");
    std::fs::create_dir_all(&new).unwrap();
    for entry in std::fs::read_dir(&f.rules).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, new.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        new.join("bonus.yaml"),
        "version: 1\nadjustments:\n  - {id: sep-bonus, payee: op-a, amount: 75.50, currency: USD, reason: Quarter review, reference: FIN-20, approved_by: Dana, period: 2026-09}\n",
    )
    .unwrap();
    let evidence = f.out.join("2026-09/evidence.json");
    let o = bin().args(["diff", "--new"]).arg(&new).arg("--evidence").arg(&evidence).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "a difference exits 1, like diff(1)");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("sep-bonus"), "{text}");
    assert!(text.contains("75.50"), "{text}");
    let before = dec(&payee(&f.statement("2026-09"), "op-a")["total"]);
    let after = (before + Decimal::new(7550, 2)).to_string();
    assert!(text.contains(&after), "op-a's new total {after}: {text}");
    assert!(!text.contains("op-b"), "op-b is unchanged: {text}");
}
