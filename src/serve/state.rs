//! What the HTTP handlers share with the evaluator task, and the requests
//! they send it.

use super::body::Text;
use crate::export::SelfMetrics;
use arc_swap::ArcSwapOption;
use std::sync::atomic::AtomicBool;
use tokio::sync::{mpsc, oneshot};

/// A request to the evaluator task.
pub enum Request {
    /// Load the rules again; answer whether it worked (the error text if not).
    Reload(oneshot::Sender<Result<(), String>>),
}

/// What the HTTP handlers share with the evaluator task.
pub struct Shared {
    /// The last good evaluation's metrics (without `# EOF`), compressed.
    pub evaluation: ArcSwapOption<Text>,
    pub self_metrics: SelfMetrics,
    /// Set after the first successful evaluation.
    pub ready: AtomicBool,
    pub lifecycle: bool,
    pub requests: mpsc::Sender<Request>,
}
