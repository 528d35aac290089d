//! The command line: argument parsing and one function per command.
//! Exit codes: 0 success, 1 the check/test/evaluation found problems,
//! 2 usage or configuration errors (bad flags, unreadable rules, Prometheus
//! unreachable).

use crate::period::Period;
use crate::report::{self, Format};
use crate::rules::{self, Rules};
use crate::source::prometheus::ClientConfig;
use crate::{engine, ruletest, source};
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
    /// Base URL of the Prometheus HTTP API.
    #[arg(long = "prometheus.url", default_value = "http://127.0.0.1:9090")]
    pub prometheus_url: String,
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
    /// Timeout of one Prometheus request.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: crate::period::Dur,
    /// Attempts per Prometheus request (retries back off exponentially).
    #[arg(long = "query.attempts", default_value_t = 4)]
    pub query_attempts: u32,
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
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Logfmt => builder.init(),
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Check { dir } => Ok(check(&dir)),
        Command::Test { dir, junit } => test(&dir, junit.as_deref()),
        Command::Evaluate(args) => evaluate(args),
        Command::Demo(args) => demo(args),
        Command::Serve(args) => crate::serve::run(args),
    }
}

fn check(dir: &Path) -> ExitCode {
    let sets = rules::load::check_tree(dir);
    if sets.is_empty() {
        eprintln!("{}: no rule files (*.yaml) found", dir.display());
        return ExitCode::from(2);
    }
    let mut errors = 0;
    for (path, result) in &sets {
        match result {
            Ok(r) => println!(
                "{}: OK ({} tiers, {} operators, sha256 {})",
                path.display(),
                r.tiers.len(),
                r.operators.len(),
                &r.sha256[..12]
            ),
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
    let config = ClientConfig {
        timeout: std::time::Duration::from_secs(args.query_timeout.seconds() as u64),
        max_attempts: args.query_attempts,
        ..ClientConfig::new(&args.prometheus_url)
    };
    let evaluation = evaluate_period(config, &rules, &period, now)?;
    print!("{}", report::render(&evaluation, args.format));
    Ok(ExitCode::SUCCESS)
}

/// Read a period (to date, if `now` is inside it) from Prometheus and evaluate it.
fn evaluate_period(
    config: ClientConfig,
    rules: &Rules,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<crate::evaluation::Evaluation, Error> {
    if now <= period.start {
        return Err(format!("period {} has not started at {}", period.label, now.to_rfc3339()).into());
    }
    let client = source::prometheus::Client::new(config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let reading = runtime.block_on(source::read_facts(&client, rules, period.start, now.min(period.end)))?;
    tracing::info!(queries = reading.queries.len(), nodes = reading.facts.nodes.len(), "read facts from Prometheus");
    Ok(engine::evaluate(&reading.facts, rules, period, now))
}

fn demo(args: DemoArgs) -> Result<ExitCode, Error> {
    use crate::demo;
    let rules = load_rules(&args.rules_dir)?;
    let period = Period::month(&args.period, rules.time_zone)?;
    let dir = std::env::temp_dir().join(format!("fleet-incentives-demo-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let step = rules.source.step.seconds();
    let plan = demo::demo_fleet(&rules, period.start, period.end);
    eprintln!("generating {} series for {} …", plan.len(), period.label);
    let files = demo::write_openmetrics(&dir.join("openmetrics"), &plan, period.start, period.end, step)?;
    eprintln!("backfilling {} two-hour blocks with promtool …", files.len());
    demo::backfill(&files, &data)?;
    let prometheus = demo::LocalPrometheus::start(&data, "global:\n  scrape_interval: 1m\n", &[])?;
    eprintln!("Prometheus ready at {}", prometheus.url);
    let result = evaluate_period(ClientConfig::new(&prometheus.url), &rules, &period, period.end);
    drop(prometheus);
    if args.keep {
        eprintln!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    print!("{}", report::render(&result?, args.format));
    Ok(ExitCode::SUCCESS)
}
