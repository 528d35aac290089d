//! The integration tests: ONE test crate (compiled and linked once), one
//! module per area, the shared harness in [`common`]. Run one area with
//! `cargo test --test it close::`.
//!
//! Tests of all modules run in parallel in this one process: a test never
//! changes process-wide state (environment, current directory, signal
//! handlers), writes only under its own temporary directory, and takes its
//! ports from `common::free_port`. Fixtures kept in a `static` (a backfilled
//! Prometheus) are shared by the tests of their module and stopped by a
//! watchdog when the process exits.

mod common;

mod alerting;
mod backends;
mod classes;
mod close;
mod dashboards;
mod deploy;
mod evaluate;
mod history;
mod holds;
mod hostile;
mod inputs;
mod leakage;
mod ledger;
mod paging;
mod perf_record;
mod remote_read;
mod rules;
mod scores;
mod security;
mod serve;
mod source;
mod statements;
