//! The documents people read, from a month closed through the binary
//! against ONE real Prometheus (the six-node month of `close`, October
//! 2026), rendered in a REAL browser (headless Chromium, `common::chromium`):
//! every payee's HTML statement shows the payee, each line with its formula,
//! the total and the year to date (opening figures stand for January to
//! September); a roster name `<script>…` is text, never markup; no page
//! needs the network; each prints on A4. The partner report splits the
//! commission into first year and ongoing; the programme report says each
//! target of the rules and whether it is met; `--templates.dir` replaces a
//! template, and a broken one is refused naming its file and line.
//!
//! Artefacts: a screenshot (PNG) and the printed PDF of every statement in
//! `target/tmp/statements/2026-10/` (`CARGO_TARGET_TMPDIR`), kept after the run.

use crate::common;

use chrono::{TimeZone, Utc};
use common::Prometheus;
use common::chromium::{Chromium, png_size, request_host, visible_text};
use common::fleet::{self, Plan};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const PERIOD: &str = "2026-10";
/// A roster name that would run if it were markup.
const EVIL: &str = "<script>alert(1)</script>";
/// The eu nodes' region label, from Prometheus.
const REGION: &str = "eu<em>west</em>";

fn rules_yaml() -> String {
    let mut yaml = format!(
        r#"version: 1
programme: {{name: Statements programme, version: "2026-05", currency: USD, time_zone: UTC}}
{}tiers:
  - id: t1
    name: Tier 1 Certified
    lines:
      - {{id: base, name: Base stipend, kind: per_node, category: stipend, amount: 500}}
      - {{id: uptime_bonus, name: Uptime bonus, kind: fixed, category: uptime_bonus, amount: 200, when: "uptime > 0.995"}}
      - {{id: clean_month, name: No major incident, kind: fixed, category: performance_bonus, amount: 100, when: "major_incidents < 1"}}
  - id: t2
    name: Tier 2 Senior
    lines:
      - {{id: base, name: Base stipend, kind: per_node, category: stipend, amount: 800}}
promotions:
  - from: t1
    to: t2
    checks:
      - {{name: 6+ months as tier 1, when: "tier_months >= 6"}}
      - {{name: uptime above 99.5 %, when: "uptime > 0.995"}}
partner_tiers:
  - id: bronze
    name: Bronze (referral)
    lines:
      - {{id: first_year_commission, name: "Referral commission, first year", kind: fixed, category: commission, amount: 50, per_referral: true, when: "tenure_months <= 12"}}
      - {{id: ongoing_commission, name: "Referral commission, ongoing", kind: fixed, category: commission, amount: 20, per_referral: true, when: "tenure_months > 12"}}
partners:
  - {{id: acme, name: Acme Referrals, email: acme@example.org, tier: bronze, start: 2025-01-01}}
operators:
  - {{id: op-eu, name: '{EVIL}', email: eu@example.org, tier: t1, start: 2025-06-01, nodes: [n1, n2, n3], referred_by: acme}}
  - {{id: op-us, name: US Operator, email: us@example.org, tier: t1, start: 2026-01-01, nodes: [n4, n5, n6], referred_by: acme}}
targets:
  active_operators: {{min: 3, max: 5, by: 2026-12, description: "3–5 by month 6"}}
  operator_churn: {{below: 0.10}}
  fleet_uptime: {{above: 0.995}}
  partner_sourced: {{above: 0.30}}
opening_figures:
"#,
        fleet::SIX_NODE_RULES
    );
    for month in 1..=9 {
        yaml.push_str(&format!(
            "  - period: 2026-{month:02}\n    operators:\n      op-eu: {{tier: t1, lines: {{base: 1500, uptime_bonus: 200}}}}\n      op-us: {{tier: t1, lines: {{base: 1500}}}}\n    partners:\n      acme: {{lines: {{first_year_commission: 100}}}}\n"
        ));
    }
    yaml
}

/// The `close` month with the eu nodes' region label holding markup.
fn plan() -> Plan {
    let mut plan = fleet::six_nodes(Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(), 31, 4, 20, 22);
    for n in plan.nodes.iter_mut().filter(|n| n.region == "eu") {
        n.region = REGION.into();
    }
    plan
}

/// The month closed once into `out`, a browser, and a place for more closes.
struct Fixture {
    chromium: Chromium,
    prometheus: Prometheus,
    rules: PathBuf,
    out: PathBuf,
    root: tempfile::TempDir,
}

impl Fixture {
    /// `OUT/2026-10` of the first close.
    fn closed(&self) -> PathBuf {
        self.out.join(PERIOD)
    }

    fn close(&self, out: &Path) -> Command {
        let mut c = bin();
        c.args(["close", "--period", PERIOD, "--prometheus.url", &self.prometheus.url()])
            .arg("--rules.dir")
            .arg(&self.rules)
            .arg("--out")
            .arg(out);
        c
    }

    fn statement(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.closed().join("statement.json")).unwrap()).unwrap()
    }

    /// Every payee of the statement: operators, then partners.
    fn payees(&self) -> Vec<Value> {
        let s = self.statement();
        let e = &s["evaluation"];
        e["operators"].as_array().unwrap().iter().chain(e["partners"].as_array().unwrap()).cloned().collect()
    }
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"));
    c.env_remove("FLEET_SMTP_PASSWORD").env("RUST_LOG", "warn");
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (chromium, root) = (Chromium::start(), tempfile::tempdir().unwrap());
        let (rules, out) = (root.path().join("rules"), root.path().join("out"));
        std::fs::create_dir_all(&rules).and_then(|()| std::fs::write(rules.join("rules.yaml"), rules_yaml())).unwrap();
        let plan = plan();
        let prometheus = Prometheus::start(&plan.series("fleet-node"), plan.span);
        let f = Fixture { chromium, prometheus, rules, out, root };
        let o = f.close(&f.out).output().unwrap();
        assert!(o.status.success(), "close failed: {}", text(&o));
        f
    })
}

/// Where the screenshots and PDFs are kept: `target/tmp/statements/<period>/`.
fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("statements").join(PERIOD);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn money(v: &Value) -> String {
    let d: rust_decimal::Decimal = v.as_str().unwrap_or_else(|| panic!("not a decimal: {v}")).parse().unwrap();
    let d = d.round_dp(2);
    if d.is_sign_negative() && !d.is_zero() { format!("-${:.2}", d.abs()) } else { format!("${d:.2}") }
}

#[test]
fn every_statement_renders_in_a_browser_with_the_payee_lines_formulas_totals_and_year_to_date() {
    let f = fixture();
    let payees = f.payees();
    assert_eq!(payees.len(), 3, "two operators and a partner");
    let artefacts = artefacts();
    for p in &payees {
        let id = p["id"].as_str().unwrap();
        let page = f.closed().join("statements").join(format!("{id}.html"));
        let shown = visible_text(&f.chromium.dump_dom(&page));
        let expect = |needle: &str| assert!(shown.contains(needle), "{id}: `{needle}` is not shown:\n{shown}");
        expect(p["name"].as_str().unwrap());
        expect(id);
        expect(&format!("Total this month {}", money(&p["total"])));
        let ytd = &p["year_to_date"];
        assert!(ytd["missing"].as_array().unwrap().is_empty(), "opening figures stand for January–September: {ytd}");
        assert_eq!(ytd["months"].as_array().unwrap().len(), 10, "{id}: {ytd}");
        expect(&format!("Year to date {}", money(&ytd["total"])));
        expect(&format!("Total {} {}", money(&p["total"]), money(&ytd["total"])));
        for l in p["lines"].as_array().unwrap() {
            expect(l["name"].as_str().unwrap());
            let formula = l["formula"].as_str().unwrap().replace('`', "");
            if !formula.is_empty() {
                expect(&format!("Formula {formula}"));
            }
            expect(&format!("Reason {}", l["reason"].as_str().unwrap().replace('`', "")));
            expect(&format!("{} {}", l["status"].as_str().unwrap().replace('_', " "), money(&l["amount"])));
        }
        expect("Final");

        let png = artefacts.join(format!("{id}.png"));
        f.chromium.screenshot(&page, &png, (1024, 1500));
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(png_size(&bytes), (1024, 1500), "{}", png.display());
        assert!(bytes.len() > 20_000, "{id}: a {} byte screenshot is blank", bytes.len());

        let pdf = artefacts.join(format!("{id}.pdf"));
        f.chromium.print_pdf(&page, &pdf);
        let pdf = String::from_utf8_lossy(&std::fs::read(&pdf).unwrap()).into_owned();
        let boxes: Vec<&str> = pdf.match_indices("/MediaBox [").map(|(i, _)| &pdf[i + 11..i + 40]).collect();
        assert!(!boxes.is_empty(), "{id}: no page in the PDF");
        for b in &boxes {
            let n: Vec<f64> = b.split(']').next().unwrap().split_whitespace().map(|x| x.parse().unwrap()).collect();
            // A4: 595.28 × 841.89 pt.
            assert!((n[2] - 595.3).abs() < 2.0 && (n[3] - 841.9).abs() < 2.0, "{id}: printed on {n:?}, not A4");
        }
        assert!(boxes.len() <= 3, "{id}: {} printed pages", boxes.len());
    }
}

#[test]
fn the_year_to_date_adds_this_month_to_the_months_before() {
    let f = fixture();
    for p in f.payees() {
        let before = match p["id"].as_str().unwrap() {
            "op-eu" => 9 * 1700,
            "op-us" => 9 * 1500,
            "acme" => 9 * 100,
            other => panic!("{other}"),
        };
        let total: rust_decimal::Decimal = p["total"].as_str().unwrap().parse().unwrap();
        let ytd: rust_decimal::Decimal = p["year_to_date"]["total"].as_str().unwrap().parse().unwrap();
        assert_eq!(ytd, total + rust_decimal::Decimal::from(before), "{}", p["id"]);
    }
}

#[test]
fn a_name_from_the_roster_and_a_region_label_are_text_and_never_markup() {
    let f = fixture();
    let page = f.closed().join("statements").join("op-eu.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let dom = f.chromium.dump_dom(&page);
    for markup in ["<script", "<em>"] {
        assert!(!html.contains(markup) && !dom.contains(markup), "{markup} became markup:\n{dom}");
    }
    let shown = visible_text(&dom);
    assert!(shown.contains(EVIL), "the name is shown as it is written: {shown}");
    assert!(shown.contains(&format!("Region {REGION}")), "the label as text: {shown}");
    // The partner's report lists the name escaped for Markdown.
    let report = std::fs::read_to_string(f.closed().join("partners/acme.md")).unwrap();
    assert!(report.contains("| &lt;script>alert(1)&lt;/script> (op-eu) |"), "{report}");
}

#[test]
fn no_statement_needs_the_network() {
    let f = fixture();
    for p in f.payees() {
        let page = f.closed().join("statements").join(format!("{}.html", p["id"].as_str().unwrap()));
        let html = std::fs::read_to_string(&page).unwrap().to_lowercase();
        for external in ["<link", "<script", "<img", "<iframe", "src=", "href=", "url(", "@import", "http:", "https:"] {
            assert!(!html.contains(external), "{}: `{external}`", page.display());
        }
        f.chromium.dump_dom(&page);
    }
    // The tripwire catches a page that does need it (a control).
    let control = f.root.path().join("control.html");
    std::fs::write(&control, "<html><body><img src=\"http://statement-assets.invalid/logo.png\"></body></html>")
        .unwrap();
    f.chromium.dump_dom(&control);
    let requests = f.chromium.page_requests();
    let hosts: Vec<String> = requests.iter().map(|r| request_host(r)).collect();
    assert!(
        hosts.iter().any(|h| h == "statement-assets.invalid"),
        "the control page's request was not seen: {requests:?}"
    );
    assert!(hosts.iter().all(|h| h == "statement-assets.invalid"), "a statement asked the network: {requests:?}");
}

#[test]
fn the_partner_report_splits_first_year_and_ongoing_commission_with_the_year_to_date() {
    let f = fixture();
    let report = std::fs::read_to_string(f.closed().join("partners/acme.md")).unwrap();
    for needle in [
        "# Fleet Partner Monthly Report",
        "> Partner: Acme Referrals (Bronze (referral))",
        // op-us is in its 10th month (first year), op-eu in its 17th (ongoing).
        "| First-year commission | $50.00 | $950.00 |",
        "| Ongoing revenue share | $20.00 | $20.00 |",
        "| **Total** | **$70.00** | **$970.00** |",
        "| US Operator (op-us) | Tier 1 Certified | 2026-01-01 | 10 | first year | 3 |",
        "(op-eu) | Tier 1 Certified | 2025-06-01 | 17 | ongoing | 3 |",
        "- **Referred operators in the programme**: 2 (1 in their first year)",
    ] {
        assert!(report.contains(needle), "missing {needle}:\n{report}");
    }
    // The programme-wide report is finance's, no longer a partner's.
    assert!(!f.closed().join("partner-report.md").exists());
}

#[test]
fn the_programme_report_says_each_target_of_the_rules_and_whether_it_is_met() {
    let f = fixture();
    let report = std::fs::read_to_string(f.closed().join("programme-report.md")).unwrap();
    let s = f.statement();
    let uptime: rust_decimal::Decimal = s["evaluation"]["fleet"]["uptime"].as_str().unwrap().parse().unwrap();
    let met = if uptime > rust_decimal::Decimal::new(995, 3) { "met" } else { "not met" };
    for needle in [
        "| Active operators | 2 at the period's end | 3–5 by 2026-12 | -1 | not yet (due 2026-12) |".to_string(),
        "| Operator churn | 0.000 % (0 of 2 left in the 12 months 2025-11 … 2026-10) | < 10.000 % a year | -10.000 pp | met |"
            .to_string(),
        format!("| > 99.500 % | {} | {met} |", fleet_incentives::close::render::filters::points(uptime - rust_decimal::Decimal::new(995, 3))),
        "| Partner-sourced operators | 100.000 % (2 of 2 referred by a partner) | > 30.000 % | +70.000 pp | met |".to_string(),
        "- Active operators: 3–5 by month 6".to_string(),
    ] {
        assert!(report.contains(&needle), "missing {needle}:\n{report}");
    }
}

#[test]
fn each_payee_is_mailed_its_html_statement_and_a_partner_its_report() {
    let f = fixture();
    let o = bin()
        .args(["mail", "--period", PERIOD, "--dry-run", "--smtp.host", "127.0.0.1", "--mail.from", "fleet@example.org"])
        .args(["--mail.finance", "finance@example.org", "--out"])
        .arg(&f.out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let printed = String::from_utf8_lossy(&o.stdout);
    let messages: Vec<&str> = printed.split("\nFrom: ").collect();
    let attachments = |to: &str| -> Vec<String> {
        let m = messages.iter().find(|m| m.contains(&format!("To: {to}"))).unwrap_or_else(|| panic!("{printed}"));
        let mut names: Vec<String> =
            m.match_indices("filename=\"").map(|(i, _)| m[i + 10..].split('"').next().unwrap().to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(
        attachments("finance@example.org"),
        ["payroll-2026-10.csv", "programme-report-2026-10.md", "statement-2026-10.csv"]
    );
    assert_eq!(attachments("eu@example.org"), ["statement-2026-10-op-eu.csv", "statement-2026-10-op-eu.html"]);
    assert_eq!(
        attachments("acme@example.org"),
        ["partner-report-2026-10-acme.md", "statement-2026-10-acme.csv", "statement-2026-10-acme.html"]
    );
}

#[test]
fn a_templates_directory_replaces_a_template_and_a_broken_one_is_refused_at_its_line() {
    let f = fixture();
    let templates = f.root.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    let default = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/statement.html.j2")).unwrap();
    let edited = default.replace(
        "<h2>Pay lines</h2>",
        "<h2>Pay lines</h2>\n<p class=\"note\">Questions? Write to finance about {{ s.name }}.</p>",
    );
    std::fs::write(templates.join("statement.html.j2"), edited).unwrap();
    let out = f.root.path().join("out-edited");
    let o = f.close(&out).arg("--templates.dir").arg(&templates).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let page = out.join(PERIOD).join("statements/op-us.html");
    let shown = visible_text(&f.chromium.dump_dom(&page));
    assert!(shown.contains("Questions? Write to finance about US Operator."), "{shown}");
    let html = std::fs::read_to_string(out.join(PERIOD).join("statements/op-eu.html")).unwrap();
    assert!(html.contains("about &lt;script&gt;alert(1)&lt;&#x2f;script&gt;."), "an edited template escapes too");
    for same in ["statement.json", "programme-report.md", "partners/acme.md"] {
        assert_eq!(
            std::fs::read(out.join(PERIOD).join(same)).unwrap(),
            std::fs::read(f.closed().join(same)).unwrap(),
            "{same}: the other templates stay the built-in ones"
        );
    }

    // A broken template: refused before Prometheus is read, naming its file and line; nothing written.
    std::fs::write(templates.join("partner-report.md.j2"), "# Report\n\n{% for r in referred %}\n{{ r.name }\n")
        .unwrap();
    let broken = f.root.path().join("out-broken");
    let o = f.close(&broken).arg("--templates.dir").arg(&templates).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let file = templates.join("partner-report.md.j2");
    assert!(text(&o).contains(&format!("{}:4: syntax error", file.display())), "{}", text(&o));
    assert!(!broken.exists(), "nothing written");
}
