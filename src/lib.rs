//! fleet-incentives: Prometheus monitoring data → incident severities, SLA
//! verdicts and exact money, from declarative YAML rules.
//!
//! # Codemap (data flows one way)
//!
//! ```text
//!  Prometheus ──PromQL──▶ source ──facts──▶ engine ◀──rules── rules/*.yaml
//!  Alertmanager ─silences─┘ │ (recorder)      │
//!  evidence.json ─replay─┘  │                 │
//!                           ▼                 ▼ evaluation (plain data)
//!                      evidence.json          │
//!           ┌─────────────────────────────────┼──────────────────────────────┐
//!  report (table/JSON/CSV)     close (statement, partner report,    serve → export (/metrics,
//!                              diff, explain, e-mail)               OpenMetrics, running totals)
//! ```
//!
//! - [`period`]: calendar months in a time zone, Prometheus-style durations.
//! - [`money`]: `Decimal` amounts, the one rounding rule, the only f64 ↔ Decimal conversions.
//! - [`rules`]: YAML spec structs, expressions, the loader and its positioned errors.
//! - [`facts`]: what the source read, as plain data (also the rule tests' and evidence's input).
//! - [`source`]: the only code that speaks HTTP: the Prometheus client (with an
//!   optional recorder, or a replay of recorded evidence), the query plan, and
//!   acknowledgements read from Alertmanager silences ([`source::alertmanager`]).
//! - [`engine`]: pure: facts + rules + period + evaluation time → [`evaluation::Evaluation`].
//! - [`evaluation`]: the result types every edge renders.
//! - [`report`]: renders an evaluation as a table, JSON or CSV.
//! - [`export`]: the `/metrics` edge: an evaluation as OpenMetrics text (a fresh
//!   registry per evaluation), the service's self-metrics, the one place money becomes `f64`.
//! - [`close`]: the monthly close: statement files, evidence, the partner
//!   report, replay, the rules diff, explain, e-mail (lettre) with a sent record.
//! - [`serve`]: the live exporter: one small read per cycle into running totals
//!   ([`source::running`]), atomic swap of the metrics, reload, signals;
//!   TLS, client certificates and basic auth from `--web.config.file`
//!   ([`serve::web`], the exporter-toolkit format, re-read per connection).
//! - [`ruletest`]: `fleet-incentives test`: rule unit tests kept beside the rules.
//! - [`cli`]: argument parsing and the commands; `main.rs` only calls [`cli::main`].
//!
//! # Invariants
//!
//! - The engine does no I/O and reads no clock: the evaluation time is an argument.
//! - Missing samples are "unknown", never up and never down.
//! - Money is `Decimal` from the rules to the statement; `f64` only in
//!   expressions (conditions, quantities) and at the `/metrics` edge.
//! - The same facts and rules give the same bytes. A close evaluates at the
//!   period end (no wall-clock time in its files), records every query and
//!   answer as evidence, and never overwrites a closed month with a
//!   different result; replaying the evidence reproduces the statement.

pub mod args;
pub mod cli;
pub mod close;
pub mod demo;
pub mod engine;
pub mod evaluation;
pub mod export;
pub mod facts;
pub mod local_prometheus;
pub mod money;
pub mod period;
pub mod pipeline;
pub mod report;
pub mod rules;
pub mod ruletest;
pub mod serve;
pub mod source;

/// An error and its sources on one line: `outer: cause: root cause`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
