//! fleet-incentives: Prometheus monitoring data → incident severities, SLA
//! verdicts and exact money, from declarative YAML rules.
//!
//! The architecture — the pipeline diagram, the code map (what each module
//! owns), the invariants (the engine does no I/O and reads no clock; only
//! `source` speaks HTTP as a client; unknown time is never up or down;
//! money is `Decimal` to the edges; the same facts and rules give the same
//! bytes) and where the tests are — is kept in ONE place: README.md,
//! section "Architecture". Each module's own `//!` docs say what its files
//! own.

pub mod args;
pub mod cli;
pub mod close;
pub mod demo;
pub mod engine;
pub mod evaluation;
pub mod export;
pub mod facts;
pub mod history;
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
