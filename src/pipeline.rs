//! The one read-and-evaluate path: silences → facts → acknowledgements →
//! [`engine::evaluate`]. `evaluate`, `demo`, `explain`, `close` and
//! `replay` run [`read_and_evaluate`]; `serve`, which keeps running totals
//! between cycles, ends each cycle with its last step, [`evaluate`].
//!
//! What differs between the callers is theirs to choose: the [`Client`]
//! (live, recording every answer for a close's evidence, or answering from
//! evidence), where the silences come from ([`Silences`]), and what to show
//! while the facts are read ([`Progress`]).

use crate::engine;
use crate::evaluation::Evaluation;
use crate::facts::Facts;
use crate::history::History;
use crate::period::Period;
use crate::rules::Rules;
use crate::source::alertmanager::{self, AlertmanagerConfig, Silence};
use crate::source::{self, Client, Reading};
use chrono::{DateTime, Utc};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A window `(start, end]` of samples.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// Where the acknowledgements come from.
#[derive(Debug, Clone)]
pub enum Silences {
    /// Read the silences of this Alertmanager first: a quick read that fails
    /// before the long one. `None`: no acknowledgement source.
    Ask(Option<AlertmanagerConfig>),
    /// Silences already known (a replay's, from the evidence).
    Known(Option<Vec<Silence>>),
}

/// Told when the long read of the facts starts and how it ended.
pub trait Progress {
    fn reading(&mut self) {}
    /// The facts read, or `None` if the read failed.
    fn read(&mut self, _reading: Option<&Reading>) {}
}

/// What to read and how to evaluate it.
pub struct Read<'a> {
    pub client: Client,
    pub rules: &'a Rules,
    /// The closed months before the period.
    pub history: &'a History,
    pub period: &'a Period,
    pub window: Window,
    /// The evaluation time.
    pub at: DateTime<Utc>,
    pub silences: Silences,
}

/// A window read and evaluated.
#[derive(Debug)]
pub struct Outcome {
    pub evaluation: Evaluation,
    /// The facts (acknowledgements attached) and every query sent.
    pub reading: Reading,
    /// The silences read (or given); `None` without an acknowledgement source.
    pub silences: Option<Vec<Silence>>,
}

/// The window of `period` read to date at `at`: `(start, min(at, end)]`.
/// Fails if the period has not started at `at`.
pub fn to_date(period: &Period, at: DateTime<Utc>) -> Result<Window, Error> {
    if at <= period.start {
        return Err(format!("period {} has not started at {}", period.label, at.to_rfc3339()).into());
    }
    Ok((period.start, at.min(period.end)))
}

/// Read the silences, then the facts of `read.window`, and evaluate
/// `read.period` at `read.at`, on a runtime of its own (one thread for a
/// client that answers from evidence).
pub fn read_and_evaluate(read: Read<'_>, progress: Option<&mut dyn Progress>) -> Result<Outcome, Error> {
    let runtime = if read.client.is_replay() {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Runtime::new()?
    };
    runtime.block_on(read_and_evaluate_async(read, progress))
}

async fn read_and_evaluate_async(read: Read<'_>, mut progress: Option<&mut dyn Progress>) -> Result<Outcome, Error> {
    let silences = match read.silences {
        Silences::Ask(config) => alertmanager::read_silences(config).await?,
        Silences::Known(silences) => silences,
    };
    if let Some(p) = &mut progress {
        p.reading();
    }
    let reading = source::read_facts(&read.client, read.rules, read.window.0, read.window.1).await;
    if let Some(p) = &mut progress {
        p.read(reading.as_ref().ok());
    }
    let mut reading = reading?;
    let evaluation = evaluate(&mut reading.facts, silences.as_deref(), read.history, read.rules, read.period, read.at);
    Ok(Outcome { evaluation, reading, silences })
}

/// The last step: attach the acknowledgements the silences give (`None`:
/// none known, so response lines are withheld) and evaluate at `at` with
/// the history of the closed months before the period.
pub fn evaluate(
    facts: &mut Facts,
    silences: Option<&[Silence]>,
    history: &History,
    rules: &Rules,
    period: &Period,
    at: DateTime<Utc>,
) -> Evaluation {
    alertmanager::attach(facts, silences);
    engine::evaluate(facts, history, rules, period, at)
}
