//! The command line: argument parsing and one function per command; the
//! monthly close commands (`close`, `replay`, `diff`, `explain`, `mail`)
//! only turn flags into options for [`crate::close`] and print its results.
//! Exit codes: 0 success, 1 the check/test/evaluation found problems,
//! 2 usage or configuration errors (bad flags, unreadable rules, Prometheus
//! unreachable).

use crate::args::{AlertmanagerArgs, HistoryArgs, MailArgs, PrometheusArgs};
use crate::close::{self, Written, mail};
use crate::history::{self, History};
use crate::period::{Dur, Period};
use crate::pipeline::{self, Silences};
use crate::report::{self, Format};
use crate::rules::{self, Rules};
use crate::ruletest;
use crate::source::alertmanager::AlertmanagerConfig;
use crate::source::{Client, ClientConfig, Reading};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "fleet-incentives",
    version,
    about = "Prometheus monitoring data → incident severities, SLA verdicts and exact money"
)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace).
    #[arg(long = "log.level", default_value = "info", global = true)]
    pub log_level: String,
    /// Log format.
    #[arg(long = "log.format", value_enum, default_value = "logfmt", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate rule files offline: YAML, expressions, references, PromQL syntax.
    /// Checks DIR and every rule set below it (e.g. rules/examples/*).
    Check {
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
    /// Run the rule unit tests kept in DIR/tests (and below), like `promtool test rules`.
    Test {
        #[arg(default_value = "rules")]
        dir: PathBuf,
        /// Also write the results as JUnit XML.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Evaluate a calendar month from a real Prometheus and print the statement.
    Evaluate(EvaluateArgs),
    /// Run the main job on a demo fleet: generate a month for the roster's
    /// nodes, backfill a local Prometheus (Debian package) with promtool,
    /// evaluate the month and print its statement.
    Demo(DemoArgs),
    /// Serve month-to-date results on /metrics, reading only what is new
    /// from Prometheus each cycle (the live exporter).
    Serve(crate::serve::ServeArgs),
    /// Close a finished month: write its statement (CSV, JSON), the evidence
    /// (every query and answer) and the partner report into OUT/<period>/.
    /// A closed month is never overwritten with a different result.
    Close(CloseArgs),
    /// The statement of a closed month from its evidence file, without Prometheus.
    Replay(ReplayArgs),
    /// What a rules change does to a closed month's pay, per payee and line
    /// (exit 1 if anything changes).
    Diff(DiffArgs),
    /// Every pay line of one payee with its inputs, thresholds, formula and reason.
    Explain(ExplainArgs),
    /// E-mail a closed month's statement: finance gets all of it, each payee
    /// their own lines. Sends only what `mail-sent.json` does not hold yet.
    Mail(MailCommandArgs),
}

#[derive(Debug, clap::Args)]
pub struct CloseArgs {
    /// The month to close: YYYY-MM (in the rules' time zone).
    #[arg(long)]
    pub period: String,
    /// Close every month from this one (YYYY-MM) to --period, in order,
    /// each reading the ones before it: the months before a first close,
    /// while Prometheus still holds them. Stops at the first that fails or
    /// would change.
    #[arg(long = "from", value_name = "YYYY-MM")]
    pub first: Option<String>,
    /// Directory of closed months; this one goes to OUT/<period>/.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long = "rules.dir", default_value = "rules")]
    pub rules_dir: PathBuf,
    /// How long after the period end samples may still arrive; the month is
    /// closed only once it is over by this much.
    #[arg(long = "evaluation.delay", default_value = "5m")]
    pub evaluation_delay: Dur,
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
    #[command(flatten)]
    pub alertmanager: AlertmanagerArgs,
    /// Also e-mail the statement (see `mail`).
    #[arg(long)]
    pub mail: bool,
    #[command(flatten)]
    pub mail_args: MailArgs,
    #[command(flatten)]
    pub templates: close::render::TemplatesArgs,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// An evidence file written by `close` (OUT/<period>/evidence.json).
    #[arg(long)]
    pub evidence: PathBuf,
    /// Rules to replay with; default: the rule files kept in the evidence.
    #[arg(long = "rules.dir")]
    pub rules_dir: Option<PathBuf>,
    /// `json` and `csv` are byte for byte `statement.json` and `statement.csv`.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The rules before the change; default: the rule files kept in the evidence.
    #[arg(long)]
    pub old: Option<PathBuf>,
    /// The rules after the change.
    #[arg(long)]
    pub new: PathBuf,
    /// The closed month to replay (OUT/<period>/evidence.json).
    #[arg(long)]
    pub evidence: PathBuf,
    /// `markdown` for a pull-request comment.
    #[arg(long, value_enum, default_value = "text")]
    pub format: DiffFormat,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Payee id: an operator (or a partner).
    #[arg(long)]
    pub operator: String,
    /// YYYY-MM; with --evidence, must be the evidence's period (default).
    #[arg(long)]
    pub period: Option<String>,
    /// Explain a closed month from its evidence instead of asking Prometheus.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// Default `rules`, or with --evidence the rule files kept in it.
    #[arg(long = "rules.dir")]
    pub rules_dir: Option<PathBuf>,
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
    #[command(flatten)]
    pub alertmanager: AlertmanagerArgs,
    /// Evaluation time (RFC 3339) when reading Prometheus; default now.
    #[arg(long)]
    pub at: Option<DateTime<Utc>>,
    /// Without --evidence: the closed months (with it, the evidence's history is used).
    #[command(flatten)]
    pub history: HistoryArgs,
}

#[derive(Debug, clap::Args)]
pub struct MailCommandArgs {
    /// The month: YYYY-MM.
    #[arg(long)]
    pub period: String,
    /// Directory of closed months (as given to `close --out`).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub mail_args: MailArgs,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "2026-10")]
    pub period: String,
    #[arg(long = "rules.dir", default_value = "rules")]
    pub rules_dir: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Keep the generated data and Prometheus' directory (printed) after the run.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// Pay period, a calendar month: YYYY-MM (in the rules' time zone).
    #[arg(long)]
    pub period: String,
    #[arg(long = "rules.dir", default_value = "rules")]
    pub rules_dir: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Evaluation time (RFC 3339); default now. A month not yet over is evaluated to date.
    #[arg(long)]
    pub at: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
    #[command(flatten)]
    pub alertmanager: AlertmanagerArgs,
    #[command(flatten)]
    pub history: HistoryArgs,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            let mut src = std::error::Error::source(e.as_ref());
            while let Some(s) = src {
                eprintln!("  caused by: {s}");
                src = s.source();
            }
            ExitCode::from(2)
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn init_logging(cli: &Cli) {
    use std::io::IsTerminal;
    use tracing_subscriber::util::SubscriberInitExt;
    logger(cli, std::io::stderr, std::io::stderr().is_terminal()).init();
}

type Logger = Box<dyn tracing::Subscriber + Send + Sync>;

/// Logs at `--log.level` in `--log.format` to `writer`, coloured only on a
/// `terminal` (a pipe or a file gets no escape sequences).
fn logger<W>(cli: &Cli, writer: W, terminal: bool) -> Logger
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(terminal);
    match cli.log_format {
        LogFormat::Json => Box::new(builder.json().finish()),
        LogFormat::Logfmt => Box::new(builder.finish()),
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Check { dir } => Ok(check(&dir)),
        Command::Test { dir, junit } => test(&dir, junit.as_deref()),
        Command::Evaluate(args) => evaluate(args),
        Command::Demo(args) => demo(args),
        Command::Serve(args) => crate::serve::run(args),
        Command::Close(args) => close_month(args),
        Command::Replay(args) => replay(args),
        Command::Diff(args) => diff(args),
        Command::Explain(args) => explain(args),
        Command::Mail(args) => {
            let dir = args.out.join(&args.period);
            if !dir.join(close::STATEMENT_JSON).is_file() {
                return Err(format!("{} is not a closed month (no {})", dir.display(), close::STATEMENT_JSON).into());
            }
            let _lock = close::MonthLock::acquire(&args.out, &args.period)?;
            send_mail(&dir, &args.mail_args)
        }
    }
}

fn close_month(args: CloseArgs) -> Result<ExitCode, Error> {
    let months = match &args.first {
        Some(from) => history::months_from_to(from, &args.period).map_err(|e| format!("--from: {e}"))?,
        None => vec![args.period.clone()],
    };
    for period in months {
        let options = close::CloseOptions {
            client: args.prometheus.config(),
            alertmanager: args.prometheus.alertmanager(&args.alertmanager),
            rules_dir: args.rules_dir.clone(),
            period,
            out: args.out.clone(),
            delay: args.evaluation_delay,
            now: Utc::now(),
            progress: true,
            templates: args.templates.dir.clone(),
        };
        let (written, _lock) = close::close(&options)?;
        let dir = match written {
            Written::Differs { dir, differences } => {
                eprintln!(
                    "{} is closed and its result would change; nothing was overwritten. Differences:",
                    dir.display()
                );
                for d in differences {
                    eprint!("{d}");
                }
                return Ok(ExitCode::from(1));
            }
            Written::Unchanged { dir } => {
                eprintln!("{}: already closed with identical files", dir.display());
                dir
            }
            Written::New { dir, files } => {
                eprintln!("{}: wrote {}", dir.display(), files.join(", "));
                dir
            }
        };
        if args.mail {
            let code = send_mail(&dir, &args.mail_args)?;
            if code != ExitCode::SUCCESS {
                return Ok(code);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn send_mail(dir: &Path, args: &MailArgs) -> Result<ExitCode, Error> {
    let report = mail::send(dir, &args.options()?)?;
    for m in &report.printed {
        println!("{m}\n");
    }
    eprint!("{}", report.summary());
    Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn replay(args: ReplayArgs) -> Result<ExitCode, Error> {
    let evidence = crate::source::evidence::Evidence::read(&args.evidence)?;
    let loaded = close::rules_for_evidence(&evidence, args.rules_dir.as_deref())?;
    let evaluation = close::replay(&evidence, &loaded.rules)?;
    match args.format {
        Format::Json => print!("{}", close::statement::json(&evaluation)),
        Format::Csv => print!("{}", close::statement::csv(&evaluation)),
        Format::Table => print!("{}", report::table(&evaluation)),
    }
    Ok(ExitCode::SUCCESS)
}

fn diff(args: DiffArgs) -> Result<ExitCode, Error> {
    let evidence = crate::source::evidence::Evidence::read(&args.evidence)?;
    let old = close::rules_for_evidence(&evidence, args.old.as_deref())?;
    let new = close::load_rules(&args.new)?;
    let before = close::replay(&evidence, &old.rules).map_err(|e| format!("replaying with the old rules: {e}"))?;
    let after = close::replay(&evidence, &new.rules).map_err(|e| format!("replaying with the new rules: {e}"))?;
    let d = close::diff::diff(&before, &after);
    match args.format {
        DiffFormat::Text => print!("{}", close::diff::text(&d)),
        DiffFormat::Markdown => print!("{}", close::diff::markdown(&d)),
    }
    Ok(if d.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn explain(args: ExplainArgs) -> Result<ExitCode, Error> {
    let (evaluation, rules) = match &args.evidence {
        Some(path) => {
            let evidence = crate::source::evidence::Evidence::read(path)?;
            if let Some(p) = args.period.as_ref().filter(|p| **p != evidence.period) {
                return Err(format!("--period {p}, but the evidence is of {}", evidence.period).into());
            }
            let loaded = close::rules_for_evidence(&evidence, args.rules_dir.as_deref())?;
            (close::replay(&evidence, &loaded.rules)?, loaded.rules)
        }
        None => {
            let loaded = close::load_rules(args.rules_dir.as_deref().unwrap_or(Path::new("rules")))?;
            let label = args.period.as_deref().ok_or("--period is needed without --evidence")?;
            let period = Period::month(label, loaded.rules.time_zone)?;
            let at = args.at.unwrap_or_else(Utc::now).min(period.end);
            let acks = args.prometheus.alertmanager(&args.alertmanager);
            let history = args.history.read(&loaded.rules, &period)?;
            let reading = close::read_live(args.prometheus.config(), acks, &loaded, &history, &period, at, false)?;
            (reading.evaluation, loaded.rules)
        }
    };
    match close::explain::explain(&evaluation, &rules, &args.operator) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e.into()),
    }
}

fn check(dir: &Path) -> ExitCode {
    if !dir.is_dir() {
        let why = if dir.exists() {
            "not a directory: check takes a rules directory (its files make one programme and are checked together)"
        } else {
            "no such directory"
        };
        eprintln!("{}: {why}", dir.display());
        return ExitCode::from(2);
    }
    let sets = rules::load::check_tree(dir);
    if sets.is_empty() {
        eprintln!("{}: no rule files (*.yaml, *.yml) found", dir.display());
        return ExitCode::from(2);
    }
    let mut errors = 0;
    for (path, result) in &sets {
        match result {
            Ok(r) => {
                println!(
                    "{}: OK ({} tiers, {} operators, sha256 {})",
                    path.display(),
                    r.tiers.len(),
                    r.operators.len(),
                    &r.sha256[..12]
                );
                rules::load::notes(path).iter().for_each(|n| println!("{n}"));
            }
            Err(e) => {
                errors += e.0.len();
                for err in &e.0 {
                    println!("{err}");
                }
            }
        }
    }
    if errors > 0 {
        println!("{errors} error(s) in {} rule set(s)", sets.len());
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn test(dir: &Path, junit: Option<&Path>) -> Result<ExitCode, Error> {
    let report = ruletest::run_dir(dir)?;
    print!("{}", report.render());
    if let Some(path) = junit {
        std::fs::write(path, report.junit_xml()).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn load_rules(dir: &Path) -> Result<Rules, Error> {
    rules::load_dir(dir).map_err(|e| e.to_string().into())
}

fn evaluate(args: EvaluateArgs) -> Result<ExitCode, Error> {
    let rules = load_rules(&args.rules_dir)?;
    let period = Period::month(&args.period, rules.time_zone)?;
    let now = args.at.unwrap_or_else(Utc::now);
    let acks = args.prometheus.alertmanager(&args.alertmanager);
    let history = args.history.read(&rules, &period)?;
    let evaluation = evaluate_period(args.prometheus.config(), acks, &rules, &history, &period, now)?;
    print!("{}", report::render(&evaluation, args.format));
    Ok(ExitCode::SUCCESS)
}

/// Read a period (to date, if `now` is inside it) from Prometheus and evaluate it.
/// With `acks`, acknowledgements are read from that Alertmanager's silences.
fn evaluate_period(
    config: ClientConfig,
    acks: Option<AlertmanagerConfig>,
    rules: &Rules,
    history: &History,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<crate::evaluation::Evaluation, Error> {
    let window = pipeline::to_date(period, now)?;
    let client = Client::new(config)?;
    let read = pipeline::Read { client, rules, history, period, window, at: now, silences: Silences::Ask(acks) };
    Ok(pipeline::read_and_evaluate(read, Some(&mut LogReading))?.evaluation)
}

/// Logs what was read.
struct LogReading;

impl pipeline::Progress for LogReading {
    fn read(&mut self, reading: Option<&Reading>) {
        if let Some(r) = reading {
            tracing::info!(queries = r.queries.len(), nodes = r.facts.nodes.len(), "read facts from Prometheus");
        }
    }
}

fn demo(args: DemoArgs) -> Result<ExitCode, Error> {
    use crate::{demo, local_prometheus as local};
    let rules = load_rules(&args.rules_dir)?;
    let period = Period::month(&args.period, rules.time_zone)?;
    let dir = std::env::temp_dir().join(format!("fleet-incentives-demo-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let span = local::Span { start: period.start, end: period.end, step: rules.source.step.seconds() };
    let series = demo::demo_fleet(&rules, period.start, period.end);
    eprintln!("generating {} series for {} …", series.len(), period.label);
    eprintln!("backfilling {} two-hour blocks with promtool …", span.blocks().len());
    local::backfill(&series, span, &dir.join("openmetrics"), &data, args.keep)?;
    let prometheus = local::LocalPrometheus::start(&data, "global:\n  scrape_interval: 1m\n", &[])?;
    eprintln!("Prometheus ready at {}", prometheus.url);
    let result =
        evaluate_period(ClientConfig::new(&prometheus.url), None, &rules, &History::default(), &period, period.end);
    drop(prometheus);
    if args.keep {
        eprintln!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    print!("{}", report::render(&result?, args.format));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What `logger` writes for one warning, on a terminal or not.
    fn logged(terminal: bool) -> String {
        let cli = Cli::parse_from(["fleet-incentives", "check"]);
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let writer = move || Sink(sink.clone());
        tracing::subscriber::with_default(logger(&cli, writer, terminal), || tracing::warn!(n = 1, "hello"));
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn logs_are_coloured_only_on_a_terminal() {
        let piped = logged(false);
        assert!(piped.contains("hello") && !piped.contains('\x1b'), "{piped:?}");
        assert!(logged(true).contains('\x1b'), "a terminal gets colours");
    }
}
