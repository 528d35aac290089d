//! The source stage: the only code that talks to Prometheus and
//! Alertmanager. Turns query results and silences into [`crate::facts::Facts`].
//!
//! - [`alertmanager`]: silences → acknowledgements (on-call acknowledges an
//!   incident by silencing it).
//! - [`prometheus`]: the HTTP client (retries, typed errors, warnings, stats).
//! - [`answer`]: what a query returns (data, warnings, load) or the error
//!   it ended with, and Prometheus' `data` JSON.
//! - [`plan`]: which queries to send for a window, sized to stay far below
//!   Prometheus' limits on a 10,000-node fleet, and the helpers that send them.
//! - [`inputs`]: the input queries, over the whole period ([`read_inputs`])
//!   or, for `serve`'s incremental refresh, over a window.
//! - [`running`]: month-to-date running totals, read window by window
//!   (`evaluate` reads one window, [`read_facts`], `serve` one per cycle).
//! - [`window`]: one window read into a delta of the totals: raw, or per
//!   day with PromQL or from a remote read, answers cut as they come.
//! - [`incidents`]: the rules' incident sources (tickets, service outages,
//!   firing alerts), read raw and kept as runs window by window.
//! - [`samples`]: the slot model, raw samples → outages and counts (shared
//!   with rule tests).
//! - [`evidence`]: every query and its full answer, recorded by the client;
//!   replayed by a client built from the file, without Prometheus.
//! - [`record`]: every query sent is recorded as a [`QueryRecord`]: the
//!   evidence of what a [`Reading`] was made of.
//! - [`remote_read`]: long windows of a plain selector read with Prometheus'
//!   remote read (`/api/v1/read`, streamed XOR chunks), each sample once,
//!   and the answers the PromQL plan's queries would have had computed from them.
//! - [`redact`]: URLs without their passwords, for logs and errors.
//!
//! This file only declares the modules and re-exports what callers use;
//! the modules import each other one way (no module imports one that
//! imports it back).

pub mod alertmanager;
pub mod answer;
pub mod evidence;
pub mod incidents;
pub mod inputs;
pub mod plan;
pub mod prometheus;
pub mod record;
pub mod redact;
pub mod remote_read;
pub mod running;
pub mod samples;
pub mod window;

pub use answer::{QueryAnswer, QueryData, SourceError};
pub use inputs::read_inputs;
pub use prometheus::{Client, ClientConfig};
pub use record::{Protocol, QueryKind, QueryRecord, Reading};
pub use redact::redact_url;
pub use running::{Running, read_facts, read_window};
pub use window::Delta;
