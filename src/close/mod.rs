//! The monthly close: a finished month read once from Prometheus (every
//! query and answer recorded), evaluated at the period end, and written as
//! the files finance pays from. Everything here is an edge: it reads the
//! source, calls the pure engine, and renders.
//!
//! - this file: reading through [`crate::pipeline`] (live, recording every
//!   answer, with progress on stderr; or replayed from evidence), the closed
//!   files and the rule that a closed month is never overwritten with a
//!   different result.
//! - [`statement`]: `statement.json` / `statement.csv` and per-payee CSV.
//! - [`payroll`]: `payroll.csv`, finance's payroll file: one row per payee
//!   with the net payable, the hold and a reference.
//! - [`render`]: the documents people read, from templates: the programme
//!   report (`programme-report.md`, after the seed's template), each payee's
//!   HTML statement (`statements/<payee-id>.html`), each partner's report
//!   (`partners/<partner-id>.md`).
//! - [`diff`]: what a rules change does to a closed month's pay.
//! - [`explain`]: every line of one payee with inputs, thresholds and formula.
//! - [`mail`]: the statement by e-mail, idempotent through a sent record.
//!
//! A closed month lives in `OUT/<period>/`: [`FILES`], the statements and
//! partner reports, plus `mail-sent.json` once mail went out.

pub mod diff;
pub mod explain;
pub mod mail;
pub mod payroll;
pub mod render;
pub mod statement;

use crate::evaluation::Evaluation;
use crate::history::{self, History};
use crate::period::{Dur, Period};
use crate::pipeline::{self, Silences};
use crate::rules::{self, Rules};
use crate::source::alertmanager::{self, AlertmanagerConfig};
use crate::source::evidence::{Evidence, EvidenceHeader, Recorder, Replay, RuleFileText};
use crate::source::{self, Client, ClientConfig};
use chrono::{DateTime, Utc};
use render::Templates;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub const STATEMENT_CSV: &str = "statement.csv";
/// Also where history ([`history::dir`]) reads a closed month from.
pub const STATEMENT_JSON: &str = history::dir::STATEMENT_JSON;
pub const EVIDENCE_JSON: &str = "evidence.json";
pub const PROGRAMME_REPORT_MD: &str = render::PROGRAMME_REPORT_FILE;
pub const PAYROLL_CSV: &str = payroll::PAYROLL_CSV;
/// The files every closed month has, in the order they are compared and
/// written; the payees' statements and the partners' reports follow.
pub const FILES: [&str; 5] = [STATEMENT_CSV, STATEMENT_JSON, EVIDENCE_JSON, PROGRAMME_REPORT_MD, PAYROLL_CSV];

/// Rules and the files they were read from (kept in the evidence).
pub struct LoadedRules {
    pub rules: Rules,
    pub files: Vec<(String, String)>,
}

/// Read and validate a rules directory, keeping the file texts.
pub fn load_rules(dir: &Path) -> Result<LoadedRules, Error> {
    let files = rules::load::read_rule_files(dir).map_err(|e| e.to_string())?;
    let rules = rules::load::load_files(dir, &files).map_err(|e| e.to_string())?;
    Ok(LoadedRules { rules, files })
}

/// The rules of a replay: `dir` if given, else the rule files kept in the evidence.
pub fn rules_for_evidence(evidence: &Evidence, dir: Option<&Path>) -> Result<LoadedRules, Error> {
    match dir {
        Some(dir) => load_rules(dir),
        None => {
            let files = evidence.rule_files();
            if files.is_empty() {
                return Err("the evidence holds no rule files: pass --rules.dir".into());
            }
            let rules = rules::load::load_files(Path::new("evidence"), &files).map_err(|e| e.to_string())?;
            if rules.sha256 != evidence.rules_sha256 {
                return Err(format!(
                    "the rule files in the evidence hash to {}, but the evidence says {}: the file was edited",
                    rules.sha256, evidence.rules_sha256
                )
                .into());
            }
            Ok(LoadedRules { rules, files })
        }
    }
}

/// A month evaluated together with the evidence of what it was read from.
pub struct Reading {
    pub evaluation: Evaluation,
    pub evidence: Evidence,
}

/// The period end plus `delay` must be past `now`: a month is closed only
/// once late samples had time to arrive.
pub fn check_month_over(period: &Period, delay: Dur, now: DateTime<Utc>) -> Result<(), Error> {
    let ready = period.end + chrono::Duration::seconds(delay.seconds());
    if ready > now {
        return Err(format!(
            "period {} is not over: it ends at {} and the evaluation delay ({delay}) runs until {}; it is now {}. \
             Close it after that (or evaluate it to date with `evaluate`).",
            period.label,
            period.end.to_rfc3339(),
            ready.to_rfc3339(),
            now.to_rfc3339()
        )
        .into());
    }
    Ok(())
}

/// Read `(period.start, min(period.end, at)]` from Prometheus, recording
/// every query, and evaluate it at `at` (the period end for a close).
/// With `progress`, prints queries answered so far to stderr.
pub fn read_live(
    config: ClientConfig,
    acks: Option<AlertmanagerConfig>,
    loaded: &LoadedRules,
    history: &History,
    period: &Period,
    at: DateTime<Utc>,
    progress: bool,
) -> Result<Reading, Error> {
    let rules = &loaded.rules;
    let window = pipeline::to_date(period, at)?;
    let recorder = Recorder::new();
    let client = Client::new(config)?.recording(recorder.clone());
    let mut ticker =
        progress.then(|| Ticker::new(&period.label, recorder.clone(), planned_queries(rules, window.0, window.1)));
    let read = pipeline::Read { client, rules, history, period, window, at, silences: Silences::Ask(acks) };
    let outcome = pipeline::read_and_evaluate(read, ticker.as_mut().map(|t| t as &mut dyn pipeline::Progress))?;
    let header = EvidenceHeader {
        period: period.label.clone(),
        time_zone: period.time_zone.name().to_string(),
        window_start: window.0,
        window_end: window.1,
        evaluated_at: at,
        rules_sha256: rules.sha256.clone(),
        silences: outcome.silences.as_deref().map(alertmanager::acknowledging),
        history: history.clone(),
        rules: loaded
            .files
            .iter()
            .map(|(name, content)| RuleFileText { name: name.clone(), content: content.clone() })
            .collect(),
    };
    let evidence = Evidence::build(header, &outcome.reading, &recorder)?;
    Ok(Reading { evaluation: outcome.evaluation, evidence })
}

/// Run the query plan against the recorded answers (no Prometheus) and
/// evaluate at the recorded evaluation time, with the history the close
/// used (kept in the evidence).
pub fn replay(evidence: &Evidence, rules: &Rules) -> Result<Evaluation, Error> {
    if rules.sha256 != evidence.rules_sha256 {
        tracing::debug!(
            evidence = %evidence.rules_sha256,
            rules = %rules.sha256,
            "replaying with other rules than the month was closed with"
        );
    }
    let period = Period::month(&evidence.period, rules.time_zone)?;
    if period.time_zone.name() != evidence.time_zone {
        return Err(format!(
            "the evidence was read in time zone {}, these rules use {}",
            evidence.time_zone,
            period.time_zone.name()
        )
        .into());
    }
    let read = pipeline::Read {
        client: Client::replay(Replay::new(evidence.exchanges())),
        rules,
        history: &evidence.history,
        period: &period,
        window: (evidence.window_start, evidence.window_end),
        at: evidence.evaluated_at,
        silences: Silences::Known(evidence.silences.clone()),
    };
    Ok(pipeline::read_and_evaluate(read, None)?.evaluation)
}

/// A lower bound of the queries the plan sends for a window (the raw-sample
/// queries depend on the downtime found): for the progress line only.
fn planned_queries(rules: &Rules, start: DateTime<Utc>, end: DateTime<Utc>) -> usize {
    let days = ((end - start).num_seconds() + 86_399) / 86_400;
    let days = days.max(0) as usize;
    let maintenance = rules.maintenance_intervals(start, end).len();
    let degraded = if rules.source.degraded.is_some() { days } else { 0 };
    // One raw query a day per incident source.
    let incidents = days * rules.incident_sources.len();
    2 * days + 2 * maintenance + degraded + incidents + rules.inputs.len()
}

/// A close's progress on stderr: "N of ≥ M queries answered" about once a
/// second while the facts are read, then how many were read in how long.
struct Ticker {
    label: String,
    recorder: Recorder,
    planned: usize,
    started: Instant,
    thread: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Ticker {
    fn new(label: &str, recorder: Recorder, planned: usize) -> Ticker {
        Ticker { label: label.to_string(), recorder, planned, started: Instant::now(), thread: None }
    }
}

impl pipeline::Progress for Ticker {
    fn reading(&mut self) {
        self.started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, label, recorder, planned) = (stop.clone(), self.label.clone(), self.recorder.clone(), self.planned);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let (mut shown, mut last) = (usize::MAX, Instant::now());
            while !flag.load(Ordering::Relaxed) {
                let done = recorder.len();
                if done != shown && last.elapsed().as_millis() >= 1000 {
                    let planned = planned.max(done);
                    eprintln!(
                        "{label}: {done} of ≥ {planned} queries answered ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    );
                    (shown, last) = (done, Instant::now());
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        self.thread = Some((stop, thread));
    }

    fn read(&mut self, reading: Option<&source::Reading>) {
        if let Some((stop, thread)) = self.thread.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
        if let Some(reading) = reading {
            eprintln!(
                "{}: read {} queries from Prometheus in {:.1} s",
                self.label,
                reading.queries.len(),
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The files of a closed month, `(path in its directory, text)`: [`FILES`]
/// in their order, then each payee's HTML statement and each partner's
/// report ([`render::documents`]).
pub fn render_files(reading: &Reading, rules: &Rules, templates: &Templates) -> Result<Vec<(String, String)>, Error> {
    let e = &reading.evaluation;
    let mut documents = render::documents(e, rules, templates)?;
    let report = documents.remove(0);
    debug_assert_eq!(report.0, PROGRAMME_REPORT_MD);
    let mut files = vec![
        (STATEMENT_CSV.to_string(), statement::csv(e)),
        (STATEMENT_JSON.to_string(), statement::json(e)),
        (EVIDENCE_JSON.to_string(), reading.evidence.to_json()),
        report,
        (PAYROLL_CSV.to_string(), payroll::csv(e)),
    ];
    files.extend(documents);
    Ok(files)
}

/// What writing a closed month did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written for the first time (or files that were missing were added).
    New { dir: PathBuf, files: Vec<String> },
    /// Every file was already there with the same bytes.
    Unchanged { dir: PathBuf },
    /// A closed month's result would change: nothing was written.
    Differs { dir: PathBuf, differences: Vec<FileDifference> },
}

/// A file of a closed month that would change: the hunk that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDifference {
    pub file: String,
    /// First differing line (1-based) in both versions.
    pub line: usize,
    /// The closed file's lines that differ, and the new ones (at most `SHOWN_LINES` each).
    pub old: Vec<String>,
    pub new: Vec<String>,
    pub old_lines: usize,
    pub new_lines: usize,
}

const SHOWN_LINES: usize = 8;

impl std::fmt::Display for FileDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: differs from line {} ({} closed line(s) would become {}):",
            self.file, self.line, self.old_lines, self.new_lines
        )?;
        for l in &self.old {
            writeln!(f, "  - {l}")?;
        }
        if self.old_lines > self.old.len() {
            writeln!(f, "  - … {} more", self.old_lines - self.old.len())?;
        }
        for l in &self.new {
            writeln!(f, "  + {l}")?;
        }
        if self.new_lines > self.new.len() {
            writeln!(f, "  + … {} more", self.new_lines - self.new.len())?;
        }
        Ok(())
    }
}

/// The differing hunk of two texts (common first and last lines stripped),
/// or `None` if they are equal.
pub fn difference(file: &str, old: &str, new: &str) -> Option<FileDifference> {
    if old == new {
        return None;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let shown = |v: &[&str]| v.iter().take(SHOWN_LINES).map(|l| truncate(l)).collect();
    Some(FileDifference {
        file: file.to_string(),
        line: prefix + 1,
        old: shown(a),
        new: shown(b),
        old_lines: a.len(),
        new_lines: b.len(),
    })
}

fn truncate(line: &str) -> String {
    const MAX: usize = 200;
    match line.char_indices().nth(MAX) {
        Some((i, _)) => format!("{} …", &line[..i]),
        None => line.to_string(),
    }
}

/// Write `files` into `dir`, unless files already there differ: then write
/// nothing and say what differs. Files missing from an earlier, interrupted
/// close are added. Each file is written to a temporary name and renamed.
/// A name may hold a directory (`statements/alice.html`): it is created.
pub fn write_closed<N: AsRef<str>>(dir: &Path, files: &[(N, String)]) -> Result<Written, Error> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut differences = vec![];
    let mut missing = vec![];
    for (name, text) in files {
        let name = name.as_ref();
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(old) => {
                let old = String::from_utf8_lossy(&old);
                differences.extend(difference(name, &old, text));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push((name, text)),
            Err(e) => return Err(format!("reading {}: {e}", path.display()).into()),
        }
    }
    if !differences.is_empty() {
        return Ok(Written::Differs { dir: dir.to_path_buf(), differences });
    }
    if missing.is_empty() {
        return Ok(Written::Unchanged { dir: dir.to_path_buf() });
    }
    for (name, text) in &missing {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        write_atomic(&path, text.as_bytes())?;
    }
    Ok(Written::New { dir: dir.to_path_buf(), files: missing.iter().map(|(n, _)| n.to_string()).collect() })
}

/// Write through a temporary file in the same directory and rename it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), path.display()))?;
    Ok(())
}

/// An exclusive lock on one month of an output directory
/// (`OUT/.<period>.lock`, an advisory `flock`), held while the month is
/// closed and mailed, so a close started twice at the same time (two
/// replicas, a timer and a person) runs once: the second waits, then finds
/// the files identical and the mail sent. Released on drop.
#[derive(Debug)]
pub struct MonthLock {
    _file: std::fs::File,
}

impl MonthLock {
    pub fn acquire(out: &Path, period: &str) -> Result<MonthLock, Error> {
        if period.is_empty() || !period.chars().all(|c| c.is_ascii_digit() || c == '-') {
            return Err(format!("--period {period:?}: expected YYYY-MM").into());
        }
        std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
        let path = out.join(format!(".{period}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("opening the lock {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "{period}: another close or mail of this month is running ({}); waiting for it",
                    path.display()
                );
                file.lock().map_err(|e| format!("locking {}: {e}", path.display()))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(format!("locking {}: {e}", path.display()).into()),
        }
        Ok(MonthLock { _file: file })
    }
}

/// `close` as the command runs it.
pub struct CloseOptions {
    pub client: ClientConfig,
    /// Where acknowledgements (silences) come from; `None`: response lines are withheld.
    pub alertmanager: Option<AlertmanagerConfig>,
    pub rules_dir: PathBuf,
    pub period: String,
    pub out: PathBuf,
    pub delay: Dur,
    pub now: DateTime<Utc>,
    pub progress: bool,
    /// `--templates.dir`: templates replacing the built-in ones.
    pub templates: Option<PathBuf>,
}

/// Close a month: refuse one not over, read the closed months before it
/// from the same directory (its history), read and evaluate it, write or
/// compare its files. Returns the outcome and the closed month's directory.
/// The month's lock is taken once the month is known to be over and held
/// by the returned [`MonthLock`] (keep it while mailing).
pub fn close(o: &CloseOptions) -> Result<(Written, MonthLock), Error> {
    let loaded = load_rules(&o.rules_dir)?;
    let templates = Templates::load(o.templates.as_deref())?;
    render::check_file_names(&loaded.rules)?;
    let period = Period::month(&o.period, loaded.rules.time_zone)?;
    check_month_over(&period, o.delay, o.now)?;
    let lock = MonthLock::acquire(&o.out, &period.label)?;
    let history = history::dir::read(&o.out, &period, loaded.rules.history_months())?;
    let reading =
        read_live(o.client.clone(), o.alertmanager.clone(), &loaded, &history, &period, period.end, o.progress)?;
    let files = render_files(&reading, &loaded.rules, &templates)?;
    Ok((write_closed(&o.out.join(&period.label), &files)?, lock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_shows_the_hunk_between_common_lines() {
        let d = difference("f", "a\nb\nc\nd\n", "a\nB\nC\nd\n").unwrap();
        assert_eq!(
            (d.line, d.old.clone(), d.new.clone()),
            (2, vec!["b".into(), "c".into()], vec!["B".into(), "C".into()])
        );
        assert!(difference("f", "x\n", "x\n").is_none());
        let d = difference("f", "a\n", "a\nb\n").unwrap();
        assert_eq!((d.line, d.old_lines, d.new_lines), (2, 0, 1));
    }

    #[test]
    fn a_month_is_closed_only_after_its_end_plus_the_delay() {
        let p = Period::month("2026-10", chrono_tz::Tz::UTC).unwrap();
        let delay: Dur = "5m".parse().unwrap();
        assert!(check_month_over(&p, delay, p.end + chrono::Duration::minutes(4)).is_err());
        assert!(check_month_over(&p, delay, p.end + chrono::Duration::minutes(5)).is_ok());
        let msg = check_month_over(&p, delay, p.end).unwrap_err().to_string();
        assert!(msg.contains("2026-10 is not over"), "{msg}");
    }

    #[test]
    fn writing_refuses_to_change_a_closed_file_and_adds_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![("a.txt", "1\n".to_string()), ("b.txt", "2\n".to_string())];
        assert!(matches!(write_closed(dir.path(), &files).unwrap(), Written::New { .. }));
        assert!(matches!(write_closed(dir.path(), &files).unwrap(), Written::Unchanged { .. }));
        std::fs::remove_file(dir.path().join("b.txt")).unwrap();
        let Written::New { files: added, .. } = write_closed(dir.path(), &files).unwrap() else { panic!() };
        assert_eq!(added, vec!["b.txt"]);
        let changed = vec![("a.txt", "9\n".to_string()), ("b.txt", "2\n".to_string())];
        let Written::Differs { differences, .. } = write_closed(dir.path(), &changed).unwrap() else { panic!() };
        assert_eq!(differences.len(), 1);
        assert_eq!(std::fs::read_to_string(dir.path().join("a.txt")).unwrap(), "1\n", "not overwritten");
    }
}
