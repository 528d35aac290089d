//! `fleet-incentives serve`: the live exporter.
//!
//! - [`body`]: the `/metrics` body: the evaluation's text kept gzipped,
//!   sent compressed or not.
//! - [`cycle`]: the evaluator: running totals, one small read per cycle,
//!   reload, month rollover.
//! - [`inputs`]: the inputs' refresh: additive ones window by window.
//! - [`http`]: the axum routes: `/metrics`, `/-/healthy`, `/-/ready`,
//!   `/-/reload`.
//! - [`state`]: what the routes share with the evaluator task.
//! - [`web`]: `--web.config.file` (exporter-toolkit format): TLS, basic
//!   authentication, headers; the listener.
//!
//! One task owns the evaluator and runs a cycle every
//! `--evaluation-interval`; reload requests (HTTP or SIGHUP) reach it over a
//! channel, so a reload never runs in the middle of a cycle. Each successful
//! cycle encodes its evaluation once ([`crate::export::encode_evaluation_to`],
//! fresh families, into [`body::Writer`]) and swaps the text in atomically: a scrape sees one
//! whole cycle, and payees or nodes that left are gone. A failed cycle swaps
//! nothing: the last good results stay, and the self-metrics say how stale.

pub mod body;
pub mod cycle;
pub mod http;
pub mod inputs;
pub mod state;
pub mod web;

use crate::args::{AlertmanagerArgs, HistoryArgs, PrometheusArgs, std_duration};
use crate::export::{Families, SelfMetrics};
use crate::period::Dur;
use crate::rules;
use crate::source::alertmanager::Alertmanager;
use crate::source::{Client, ClientConfig};
use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use cycle::Evaluator;
use state::{Request, Shared};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on for /metrics and the lifecycle endpoints.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9464")]
    pub listen_address: String,
    /// Enable POST /-/reload (off by default, as in Prometheus).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// TLS, basic authentication and headers, in the Prometheus
    /// exporter-toolkit format; read again on every connection and request.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    #[arg(long = "rules.dir", default_value = "rules")]
    pub rules_dir: PathBuf,
    /// How often to read what is new and evaluate the month to date.
    #[arg(long = "evaluation-interval", default_value = "1m")]
    pub evaluation_interval: Dur,
    /// Evaluate up to now minus this, so that late samples are in.
    #[arg(long = "evaluation.delay", default_value = "30s")]
    pub evaluation_delay: Dur,
    /// How often the inputs (revenue …) are read again; `0s` = every cycle.
    /// An additive input (`sum_over_time`/`count_over_time` of `$__range`,
    /// under `sum`) reads only what is new; any other loads its series over
    /// the whole month so far, the one read that grows with the month
    /// (`check` names them).
    #[arg(long = "inputs.refresh-interval", default_value = "15m")]
    pub inputs_refresh_interval: Dur,
    /// Read the additive inputs over the whole month again this often, so
    /// samples written late into a window already read count; `0s` = only at
    /// start-up, in a new month or after the query changed.
    #[arg(long = "inputs.full-read-interval", default_value = "0s")]
    pub inputs_full_read_interval: Dur,
    /// Export the per-node series (`fleet_incentives_node_*`, four per
    /// node); `--metrics.per-node=false` leaves them out for very large
    /// fleets: the fleet, region and operator aggregates stay.
    #[arg(long = "metrics.per-node", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub metrics_per_node: bool,
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
    #[command(flatten)]
    pub alertmanager: AlertmanagerArgs,
    #[command(flatten)]
    pub history: HistoryArgs,
    /// Run the clock from this instant instead of now (RFC 3339): replays a
    /// past month live, for demos and tests.
    #[arg(long = "clock.start", hide = true)]
    pub clock_start: Option<DateTime<Utc>>,
}

/// The clock: wall time, or `--clock.start` plus the time since start-up.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Option<(DateTime<Utc>, Instant)>,
}

impl Clock {
    pub fn new(start: Option<DateTime<Utc>>) -> Self {
        Clock { origin: start.map(|s| (s, Instant::now())) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.origin {
            Some((s, i)) => s + chrono::Duration::from_std(i.elapsed()).unwrap_or_default(),
            None => Utc::now(),
        }
    }
}

/// Run the exporter until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> Result<ExitCode, Error> {
    let addr: SocketAddr = args.listen_address.parse().map_err(|e| {
        format!("--web.listen-address {:?}: {e} (expected host:port, e.g. 0.0.0.0:9464)", args.listen_address)
    })?;
    if args.evaluation_interval.seconds() <= 0 {
        return Err("--evaluation-interval must be positive".into());
    }
    limit_heaps();
    let rules = rules::load_dir(&args.rules_dir).map_err(|e| e.to_string())?;
    let config = ClientConfig { stats: true, ..args.prometheus.config() };
    // Silences are read every cycle: one attempt, a short timeout; a failed
    // read keeps the last silences read.
    let acks = args.alertmanager.config(Dur(10), 1).map(Alertmanager::new).transpose()?;
    let evaluator = Evaluator::new(
        Client::new(config)?,
        args.rules_dir.clone(),
        rules,
        chrono::Duration::seconds(args.evaluation_delay.seconds()),
        chrono::Duration::seconds(args.inputs_refresh_interval.seconds()),
    )
    .with_input_full_reads(
        Some(args.inputs_full_read_interval.seconds()).filter(|s| *s > 0).map(chrono::Duration::seconds),
    )
    .with_acknowledgements(acks)
    .with_history(args.history.history_dir.clone());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(addr, args, evaluator))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(addr: SocketAddr, args: ServeArgs, evaluator: Evaluator) -> Result<(), Error> {
    let web = args.web_config_file.as_deref().map(web::WebConfig::open).transpose()?;
    let (tx, rx) = mpsc::channel(8);
    let mut self_metrics = SelfMetrics::new(env!("CARGO_PKG_VERSION"));
    if args.alertmanager.alertmanager_url.is_some() {
        self_metrics = self_metrics.with_acknowledgement_source();
    }
    self_metrics.reload(true, Utc::now());
    let shared = Arc::new(Shared {
        evaluation: ArcSwapOption::empty(),
        self_metrics,
        ready: AtomicBool::new(false),
        lifecycle: args.enable_lifecycle,
        requests: tx.clone(),
    });
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let (tls, users) = web.as_ref().map_or((false, 0), |w| (w.tls(), w.current_users()));
    tracing::info!(address = %listener.local_addr()?, prometheus = %crate::source::redact_url(&args.prometheus.prometheus_url), tls, basic_auth_users = users, "serving /metrics");
    let shutdown = shutdown_on_signal();
    let clock = Clock::new(args.clock_start);
    let interval = std_duration(args.evaluation_interval);
    let families = Families { per_node: args.metrics_per_node };
    let cycles = Cycles { clock, interval, families };
    let loop_task = tokio::spawn(evaluation_loop(evaluator, shared.clone(), rx, cycles, shutdown.clone()));
    tokio::spawn(sighup_reloads(tx));
    let app = http::router(shared);
    let stop = shutdown.clone();
    web::serve(listener, app, web, async move { stop.wait().await }).await?;
    loop_task.abort();
    tracing::info!("stopped");
    Ok(())
}

/// A shutdown flag set by SIGTERM or Ctrl-C, awaitable from many tasks.
#[derive(Clone)]
struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

fn shutdown_on_signal() -> Shutdown {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("interrupted: shutting down"),
            _ = term => tracing::info!("SIGTERM: shutting down"),
        }
        let _ = tx.send(true);
    });
    Shutdown(rx)
}

/// SIGHUP reloads the rules, as in Prometheus.
async fn sighup_reloads(tx: mpsc::Sender<Request>) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            let (done, answer) = oneshot::channel();
            if tx.send(Request::Reload(done)).await.is_err() {
                return;
            }
            let _ = answer.await;
        }
    }
}

/// How the evaluation loop runs: its clock, its interval and the families
/// each evaluation is exported with.
#[derive(Debug, Clone, Copy)]
struct Cycles {
    clock: Clock,
    interval: std::time::Duration,
    families: Families,
}

async fn evaluation_loop(
    mut evaluator: Evaluator,
    shared: Arc<Shared>,
    mut requests: mpsc::Receiver<Request>,
    cycles: Cycles,
    shutdown: Shutdown,
) {
    let mut ticker = tokio::time::interval(cycles.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticker.tick() => run_cycle(&mut evaluator, &shared, cycles).await,
            Some(request) = requests.recv() => match request {
                Request::Reload(done) => {
                    let result = reload(&mut evaluator, &shared);
                    let ok = result.is_ok();
                    let _ = done.send(result);
                    if ok {
                        run_cycle(&mut evaluator, &shared, cycles).await;
                    }
                }
            },
            _ = &mut stop => return,
        }
    }
}

fn reload(evaluator: &mut Evaluator, shared: &Shared) -> Result<(), String> {
    match evaluator.reload() {
        Ok(()) => {
            shared.self_metrics.reload(true, Utc::now());
            tracing::info!(sha256 = %evaluator.rules().sha256, "rules reloaded");
            Ok(())
        }
        Err(e) => {
            shared.self_metrics.reload(false, Utc::now());
            let text = e.to_string();
            for line in text.lines() {
                tracing::error!(error = %line, "reload failed: the old rules stay in force");
            }
            Err(text)
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    fn malloc_trim(pad: usize) -> i32;
    fn mallopt(param: i32, value: i32) -> i32;
}

/// Keep glibc to one heap (`M_ARENA_MAX`). By default every thread that
/// allocates gets a heap of its own (up to 8 per core), and the answers
/// decoded on one runtime thread and freed on another leave each heap
/// fragmented: at 10,000 nodes that was some 35 MB resident above what the
/// program held. `serve` allocates little at once from many threads.
fn limit_heaps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a glibc tuning parameter; called once at
    // start-up, before the runtime's threads exist.
    unsafe {
        const M_ARENA_MAX: i32 = -8;
        mallopt(M_ARENA_MAX, 1);
    }
}

/// Hand the memory a cycle freed back to the kernel. A cycle at 10,000
/// nodes allocates and frees some tens of MB (query answers, the new
/// evaluation and its text); glibc would keep those pages, fragmented over
/// its per-thread arenas, and the resident set would stay at the peak.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's heaps to the
    // kernel; it touches no memory the program holds.
    unsafe {
        malloc_trim(0);
    }
}

async fn run_cycle(evaluator: &mut Evaluator, shared: &Shared, cycles: Cycles) {
    run_cycle_inner(evaluator, shared, cycles).await;
    release_freed_memory();
}

async fn run_cycle_inner(evaluator: &mut Evaluator, shared: &Shared, cycles: Cycles) {
    let started = Instant::now();
    shared.self_metrics.evaluation_started();
    match evaluator.cycle(cycles.clock.now()).await {
        Ok(Some(outcome)) => {
            shared.self_metrics.queries(&outcome.queries);
            for (name, ok) in &outcome.inputs {
                shared.self_metrics.input_result(name, *ok);
            }
            if let Some(ok) = outcome.acknowledgements {
                shared.self_metrics.acknowledgement_source(ok);
            }
            let window_end = outcome.evaluation.window_end;
            let mut text = body::Writer::default();
            crate::export::encode_evaluation_to(&outcome.evaluation, cycles.families, &mut text);
            drop(outcome.evaluation);
            shared.evaluation.store(Some(Arc::new(text.finish())));
            shared.self_metrics.evaluation_succeeded(started.elapsed(), Utc::now());
            if !shared.ready.swap(true, Ordering::SeqCst) {
                tracing::info!(window_end = %window_end, "first evaluation done: ready");
            }
            tracing::debug!(
                window_end = %window_end,
                queries = outcome.queries.len(),
                seconds = started.elapsed().as_secs_f64(),
                "evaluated"
            );
        }
        Ok(None) => {}
        Err(e) => {
            shared.self_metrics.queries(&e.queries);
            shared.self_metrics.evaluation_failed(started.elapsed());
            tracing::error!(error = %e, "evaluation failed: the last good results stay");
        }
    }
}
