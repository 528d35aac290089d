//! The statement by e-mail (lettre, SMTP): finance gets the whole statement
//! (CSV, the payroll file and the programme report attached), each payee
//! with an e-mail address on the roster gets their own lines (their HTML
//! statement and their CSV rows attached; a partner its partner report
//! too). The attachments are the closed month's files, as `close` wrote
//! them.
//!
//! A payout that is held (a suspension, or the kill switch
//! `programme.hold_all` for everyone) is mailed as held: the payee still
//! gets the statement, its subject says "payout held" instead of an amount
//! and its body why, that nothing is payable and what is carried; finance's
//! message says every payout is held, with the reason, and the payroll
//! file pays 0. Nothing payable is ever sent for a held month.
//!
//! Idempotent: `mail-sent.json` in the closed month's directory records the
//! message id of every message sent, rewritten after each successful send.
//! A run sends only what the record does not hold, so an SMTP failure loses
//! nothing and a later run sends each missing message exactly once. Message
//! ids are derived from the period, the recipient and the statement's hash,
//! so a receiving system can deduplicate too.
//!
//! The SMTP password comes only from a file or an environment variable and
//! is never logged or printed ([`Secret`]'s `Debug` hides it).

use super::render::{partner_report_path, statement_path};
use super::statement::{self, StatementFile};
use super::{Error, PAYROLL_CSV, PROGRAMME_REPORT_MD, STATEMENT_CSV, STATEMENT_JSON, write_atomic};
use crate::evaluation::Statement;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sent record in a closed month's directory.
pub const SENT_RECORD: &str = "mail-sent.json";

/// A password: never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// Plain SMTP (a local relay, tests).
    None,
    /// STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub timeout: Duration,
}

/// What to send and from whom.
#[derive(Debug, Clone)]
pub struct MailOptions {
    pub from: String,
    /// Finance's addresses: each gets the whole statement.
    pub finance: Vec<String>,
    pub smtp: SmtpConfig,
    /// Print the messages instead of sending them; nothing is recorded.
    pub dry_run: bool,
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// `finance`, `operator:<id>`, `partner:<id>`: the sent record's key.
    pub key: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// `(file name, content type, bytes)`.
    pub attachments: Vec<(String, String, Vec<u8>)>,
    pub message_id: String,
}

/// One line of the sent record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub key: String,
    pub to: Vec<String>,
    pub message_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRecord {
    pub period: String,
    pub sent: Vec<SentMessage>,
}

impl SentRecord {
    pub fn read(dir: &Path) -> Result<SentRecord, Error> {
        let path = dir.join(SENT_RECORD);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SentRecord::default()),
            Err(e) => Err(format!("reading {}: {e}", path.display()).into()),
        }
    }

    fn write(&self, dir: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        write_atomic(&dir.join(SENT_RECORD), text.as_bytes())
    }

    pub fn has(&self, key: &str) -> bool {
        self.sent.iter().any(|m| m.key == key)
    }
}

/// What a mail run did.
#[derive(Debug, Default)]
pub struct MailReport {
    pub sent: Vec<String>,
    /// Already in the sent record: not sent again.
    pub already_sent: Vec<String>,
    /// Payees without an e-mail address on the roster.
    pub no_address: Vec<String>,
    /// `(key, error)`.
    pub failed: Vec<(String, String)>,
    /// Dry run: the messages as they would go out.
    pub printed: Vec<String>,
}

impl MailReport {
    pub fn summary(&self) -> String {
        let mut o = String::new();
        for k in &self.sent {
            let _ = writeln!(o, "sent {k}");
        }
        if !self.already_sent.is_empty() {
            let _ = writeln!(o, "already sent (kept in {SENT_RECORD}): {}", self.already_sent.join(", "));
        }
        if !self.no_address.is_empty() {
            let _ = writeln!(o, "no e-mail address on the roster, not sent: {}", self.no_address.join(", "));
        }
        for (k, e) in &self.failed {
            let _ = writeln!(o, "NOT sent {k}: {e}");
        }
        if !self.failed.is_empty() {
            let _ = writeln!(
                o,
                "{} message(s) not sent; nothing was lost: run the same command again to send exactly what is missing",
                self.failed.len()
            );
        }
        o
    }
}

/// The messages of a closed month (in `dir`): finance first, then payees.
pub fn plan(dir: &Path, finance: &[String], from: &str) -> Result<(Vec<Outgoing>, Vec<String>), Error> {
    let file: StatementFile = statement::read(&dir.join(STATEMENT_JSON))?;
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (a month closed by an older version: close it again, which adds the files it lacks)"
            } else {
                ""
            };
            format!("reading {}: {e}{hint}", dir.join(name).display())
        })
    };
    let csv = read(STATEMENT_CSV)?;
    let report = read(PROGRAMME_REPORT_MD)?;
    let json = read(STATEMENT_JSON)?;
    let hash = hex::encode(&Sha256::digest(&json)[..6]);
    let e = &file.evaluation;
    let domain = from.rsplit_once('@').map_or("fleet-incentives.invalid", |(_, d)| d.trim_end_matches('>'));
    let message_id = |key: &str| format!("<fleet-incentives.{}.{}.{hash}@{domain}>", e.period, key.replace(':', "."));
    let mut out = vec![];
    if !finance.is_empty() {
        let payroll = read(PAYROLL_CSV)?;
        out.push(finance_message(&file, finance, csv, payroll, report, message_id("finance")));
    }
    let mut no_address = vec![];
    for (kind, s) in statement::payees(e) {
        let key = format!("{kind}:{}", s.id);
        let Some(to) = s.email.clone() else {
            no_address.push(key);
            continue;
        };
        let mut attachments = vec![
            (
                format!("statement-{}-{}.html", e.period, s.id),
                "text/html; charset=utf-8".into(),
                read(&statement_path(&s.id))?,
            ),
            (
                format!("statement-{}-{}.csv", e.period, s.id),
                "text/csv; charset=utf-8".into(),
                statement::payee_csv(e, s).into_bytes(),
            ),
        ];
        if kind == "partner" {
            let report = read(&partner_report_path(&s.id))?;
            attachments.push((
                format!("partner-report-{}-{}.md", e.period, s.id),
                "text/markdown; charset=utf-8".into(),
                report,
            ));
        }
        let subject = if s.ledger.held() {
            format!("{}: your statement for {} (payout held)", e.programme, e.period)
        } else {
            format!("{}: your statement for {} ({} {})", e.programme, e.period, s.total, e.currency)
        };
        out.push(Outgoing {
            message_id: message_id(&key),
            key,
            to: vec![to],
            subject,
            body: payee_body(s, &e.period, &e.currency),
            attachments,
        });
    }
    Ok((out, no_address))
}

/// Finance's message: the month's totals, what is payable and held, each
/// payee's line; the statement, the payroll file and the programme report attached.
fn finance_message(
    file: &StatementFile,
    finance: &[String],
    csv: Vec<u8>,
    payroll: Vec<u8>,
    report: Vec<u8>,
    message_id: String,
) -> Outgoing {
    let e = &file.evaluation;
    let mut body = format!("The {} statement of {} is closed.\n\n", e.period, e.programme);
    if let Some(h) = &e.hold_all {
        let _ = writeln!(
            body,
            "ALL PAYOUTS ARE HELD: {}.\nNothing is payable this month: every payee's pay is carried as held and paid in the first month closed without the hold; payroll.csv pays 0.\n",
            crate::report::state_line(h)
        );
    }
    let payable = match e.payable {
        Some(p) => format!("{p} {}", e.currency),
        None => "unknown: the balance carried in of a payee is not known (payroll.csv says whose and why)".into(),
    };
    let _ = write!(
        body,
        "Total payout: {} {}\nTotal payable: {payable}\nRules sha256: {}\nEngine: {} {}\n\n",
        e.total, e.currency, file.rules_sha256, file.engine, file.engine_version
    );
    for (kind, s) in statement::payees(e) {
        let payable = s.ledger.payable.map_or_else(|| "unknown".to_string(), |p| p.to_string());
        let hold = if s.ledger.held() { format!("  held: {}", super::payroll::hold(s)) } else { String::new() };
        let _ = writeln!(
            body,
            "{kind:<8} {:<20} {:<28} {:>12} {} payable {payable}{hold}",
            s.id, s.name, s.total, e.currency
        );
    }
    body.push_str(
        "\nAttached: the statement (one row per payee and pay line), the payroll file (one row per payee: net payable, hold, reference) and the programme report. \
         Each payee's HTML statement is in statements/, each partner's report in partners/.\n",
    );
    let held = if e.hold_all.is_some() { "; ALL PAYOUTS HELD" } else { "" };
    Outgoing {
        key: "finance".into(),
        to: finance.to_vec(),
        subject: format!("{}: statement {} (total {} {}{held})", e.programme, e.period, e.total, e.currency),
        body,
        attachments: vec![
            (format!("statement-{}.csv", e.period), "text/csv; charset=utf-8".into(), csv),
            (format!("payroll-{}.csv", e.period), "text/csv; charset=utf-8".into(), payroll),
            (format!("programme-report-{}.md", e.period), "text/markdown; charset=utf-8".into(), report),
        ],
        message_id,
    }
}

fn payee_body(s: &Statement, period: &str, currency: &str) -> String {
    let mut b = format!("Hello {},\n\nyour statement for {period} (tier {}):\n\n", s.name, s.tier);
    for l in &s.lines {
        let _ = writeln!(b, "  {:<34} {:>9} {:>12}  {}", l.name, crate::report::status(l.status), l.amount, l.formula);
    }
    let _ = writeln!(b, "  {:<34} {:>9} {:>12} {currency}", "total", "", s.total);
    let g = &s.ledger;
    match g.payable {
        Some(p) => {
            let _ = writeln!(b, "  {:<34} {:>9} {:>12} {currency}", "payable", "", p);
        }
        None => {
            let _ = writeln!(b, "  {}", crate::report::payable_unknown(g));
        }
    }
    for st in &g.states {
        let _ = writeln!(b, "\nYour standing: {}.", crate::report::state_line(st));
    }
    if g.held() {
        let reasons: Vec<String> = g.holds.iter().map(crate::report::state_line).collect();
        let held = g.held_out.map_or_else(|| "what is payable".to_string(), |h| format!("{h} {currency}"));
        let _ = writeln!(
            b,
            "\nYour payout for {period} is held ({}). Nothing is paid for this month now; {held} is carried as held and paid in the first month closed without a hold.",
            reasons.join("; ")
        );
    } else if let Some(h) = g.held_in {
        let _ = writeln!(b, "\nReleased with this month: {h} {currency} held in earlier months (in the payable).");
    }
    b.push_str("\nThe attached statement (HTML, opens in any browser and prints on A4) shows every line with its formula and reason; the CSV holds the same lines.\n");
    b
}

fn build(m: &Outgoing, from: &str) -> Result<Message, Error> {
    let from: Mailbox = from.parse().map_err(|e| format!("bad sender address `{from}`: {e}"))?;
    let mut builder = Message::builder().from(from).subject(&m.subject).message_id(Some(m.message_id.clone()));
    for to in &m.to {
        builder = builder.to(to.parse::<Mailbox>().map_err(|e| format!("bad address `{to}` ({}): {e}", m.key))?);
    }
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(m.body.clone()));
    for (name, content_type, bytes) in &m.attachments {
        let ct = ContentType::parse(content_type).map_err(|e| format!("content type {content_type}: {e}"))?;
        parts = parts.singlepart(Attachment::new(name.clone()).body(bytes.clone(), ct));
    }
    Ok(builder.multipart(parts)?)
}

fn transport(c: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, Error> {
    let tls = match c.tls {
        TlsMode::None => Tls::None,
        TlsMode::Starttls => Tls::Required(TlsParameters::new(c.host.clone())?),
        TlsMode::Tls => Tls::Wrapper(TlsParameters::new(c.host.clone())?),
    };
    let mut b =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host).port(c.port).tls(tls).timeout(Some(c.timeout));
    if let Some(user) = &c.user {
        let password = c.password.as_ref().ok_or("--smtp.user is set but no password (file or environment)")?;
        b = b.credentials(Credentials::new(user.clone(), password.0.clone()));
    }
    Ok(b.build())
}

/// Send what the sent record of `dir` does not hold yet.
pub fn send(dir: &Path, o: &MailOptions) -> Result<MailReport, Error> {
    let (messages, no_address) = plan(dir, &o.finance, &o.from)?;
    let mut record = SentRecord::read(dir)?;
    let mut report = MailReport { no_address, ..Default::default() };
    let todo: Vec<&Outgoing> = messages
        .iter()
        .filter(|m| {
            let done = record.has(&m.key);
            if done {
                report.already_sent.push(m.key.clone());
            }
            !done
        })
        .collect();
    let built: Vec<(&Outgoing, Message)> =
        todo.iter().map(|m| Ok((*m, build(m, &o.from)?))).collect::<Result<_, Error>>()?;
    if o.dry_run {
        report.printed = built.iter().map(|(_, msg)| String::from_utf8_lossy(&msg.formatted()).into_owned()).collect();
        return Ok(report);
    }
    if built.is_empty() {
        return Ok(report);
    }
    record.period = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // The transport (its pool) lives and dies inside the runtime.
    runtime.block_on(async {
        let transport = transport(&o.smtp)?;
        for (m, msg) in built {
            match transport.send(msg).await {
                Ok(_) => {
                    let sent = SentMessage { key: m.key.clone(), to: m.to.clone(), message_id: m.message_id.clone() };
                    record.sent.push(sent);
                    record.write(dir)?;
                    tracing::info!(key = %m.key, to = ?m.to, "sent");
                    report.sent.push(m.key.clone());
                }
                Err(e) => {
                    let message = crate::error_chain(&e);
                    tracing::warn!(key = %m.key, error = %message, "sending failed");
                    report.failed.push((m.key.clone(), message));
                }
            }
        }
        Ok::<_, Error>(())
    })?;
    Ok(report)
}

/// The password: from a file (first line) or an environment variable; never a flag.
pub fn read_password(file: Option<&PathBuf>, env_var: &str) -> Result<Option<Secret>, Error> {
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("reading the password file {}: {e}", path.display()))?;
        return Ok(Some(Secret(text.lines().next().unwrap_or_default().to_string())));
    }
    Ok(std::env::var(env_var).ok().filter(|p| !p.is_empty()).map(Secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_never_shown() {
        let c = SmtpConfig {
            host: "h".into(),
            port: 25,
            tls: TlsMode::None,
            user: Some("u".into()),
            password: Some(Secret::new("hunter2")),
            timeout: Duration::from_secs(1),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn a_held_payout_is_mailed_as_held_and_finance_is_told_why() {
        use crate::engine::testutil::*;
        let yaml = "version: 1\nprogramme: {name: P, hold_all: {since: 2026-10-20, reason: Payout audit}}\noperators:\n  - {id: a, name: A, email: a@example.org, tier: t, start: 2026-10-01}\ntiers:\n  - {id: t, name: T, lines: [{id: l, name: L, kind: fixed, amount: 100}]}\n";
        let p = period("2026-10");
        let e = crate::engine::evaluate(&facts(&p), &Default::default(), &rules(yaml), &p, p.end);
        let body = payee_body(&e.operators[0], "2026-10", "USD");
        assert!(body.contains("  payable                                              0.00 USD\n"), "{body}");
        assert!(
            body.contains("Your payout for 2026-10 is held (programme hold (every payout) since 2026-10-20: Payout audit). Nothing is paid for this month now; 100.00 USD is carried as held"),
            "{body}"
        );
        let file =
            StatementFile { engine: "e".into(), engine_version: "1".into(), rules_sha256: "x".into(), evaluation: e };
        let m = finance_message(&file, &["f@example.org".into()], vec![], vec![], vec![], "<id>".into());
        assert_eq!(m.subject, "P: statement 2026-10 (total 100.00 USD; ALL PAYOUTS HELD)");
        assert!(
            m.body.contains("ALL PAYOUTS ARE HELD: programme hold (every payout) since 2026-10-20: Payout audit.\n"),
            "{}",
            m.body
        );
        assert!(m.body.contains("Total payable: 0.00 USD\n"), "{}", m.body);
        assert!(m.body.contains("payable 0.00  held: programme_hold\n"), "{}", m.body);
        let names: Vec<&str> = m.attachments.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(names, ["statement-2026-10.csv", "payroll-2026-10.csv", "programme-report-2026-10.md"]);
    }

    /// The names of the header lines of a rendered message (continuation
    /// lines of a folded header start with white space and name none).
    fn header_names(msg: &Message) -> Vec<String> {
        let text = String::from_utf8(msg.formatted()).unwrap();
        let (head, _) = text.split_once("\r\n\r\n").expect("headers end with an empty line");
        head.split("\r\n")
            .filter(|l| !l.starts_with([' ', '\t']))
            .map(|l| l.split_once(':').map_or(l, |(name, _)| name).to_string())
            .collect()
    }

    /// CR/LF in a name, id, programme name or address (the loader refuses
    /// them; here they bypass it) cannot add a header: lettre encodes the
    /// subject, message id and file names, refuses such an address, and a
    /// name is only in the body.
    #[test]
    fn a_line_break_in_a_name_id_or_address_cannot_inject_a_header() {
        let evil = "\r\nBcc: evil@example.org\r\nX-Injected: yes";
        let payee = Statement {
            id: format!("op{evil}"),
            name: format!("Mallory{evil}"),
            email: Some("m@example.org".into()),
            tier: format!("t{evil}"),
            tier_since: None,
            region: None,
            nodes: vec![],
            availability: Default::default(),
            lines: vec![],
            total: rust_decimal::Decimal::ZERO,
            ..Default::default()
        };
        let m = Outgoing {
            key: format!("operator:{}", payee.id),
            to: vec!["m@example.org".into()],
            subject: format!("Programme{evil}: your statement for 2026-10 (0 USD)"),
            body: payee_body(&payee, "2026-10", "USD"),
            attachments: vec![(format!("statement-2026-10-{}.csv", payee.id), "text/csv".into(), b"x".to_vec())],
            message_id: format!("<fleet-incentives.2026-10.operator.op{evil}.abc@example.org>"),
        };
        let msg = build(&m, "Fleet <fleet@example.org>").unwrap();
        let names = header_names(&msg);
        for name in &names {
            assert!(
                ["From", "Subject", "Message-ID", "To", "MIME-Version", "Date", "Content-Type"]
                    .contains(&name.as_str()),
                "{names:?}"
            );
        }
        let text = String::from_utf8(msg.formatted()).unwrap();
        assert!(text.contains("Hello Mallory\r\nBcc: evil@example.org"), "the name stays in the body:\n{text}");
        // Nor in the attachment's part headers: only the name and the tier
        // in the plain text body start a line with it.
        assert_eq!(text.matches("\r\nX-Injected").count(), 2, "{text}");
        for to in
            ["m@example.org\r\nBcc: evil@example.org", "m@example.org\nX-Injected: yes", "Mallory\r\n <m@example.org>"]
        {
            let bad = Outgoing { to: vec![to.into()], ..m.clone() };
            assert!(build(&bad, "fleet@example.org").is_err(), "{to:?} was accepted");
        }
        assert!(build(&m, "fleet@example.org\r\nBcc: evil@example.org").is_err());
    }
}
