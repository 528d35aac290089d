//! One evaluation cycle of `serve`, and the state kept between cycles.
//!
//! The [`Evaluator`] owns the rules in force and the month-to-date
//! [`Running`] totals. Each cycle reads only `(last end, now − delay]`,
//! adds it, and evaluates the month to date with the pure engine — the same
//! facts `evaluate --at` reads in one go, so the results are equal; the
//! last step, silences attached and the engine run, is the one every
//! reading shares ([`crate::pipeline::evaluate`]).
//!
//! - A failed read changes nothing: the totals stay where they were and the
//!   last good evaluation keeps being served.
//! - An input that fails keeps its last good value for this month (so a
//!   flaky query never changes a payout); without one, its lines are withheld.
//! - Additive inputs are read window by window ([`super::inputs`]); the
//!   others over the month to date at every refresh.
//! - A new month starts new totals (month rollover).
//! - A reload that changes how data is read (source, maintenance, time
//!   zone, incident sources) starts the totals again from the month start.
//! - The history of closed months (`--history.dir`) is read again when the
//!   month, the months the rules need, or a closed month's statement changes.

use super::inputs::LiveInputs;
use crate::evaluation::Evaluation;
use crate::facts::InputFacts;
use crate::history::{self, History};
use crate::period::Period;
use crate::pipeline;
use crate::rules::{self, LoadError, Rules};
use crate::source::alertmanager::{Alertmanager, Silence};
use crate::source::{self, Client, QueryRecord, Running, SourceError};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What a successful cycle produced.
#[derive(Debug)]
pub struct Outcome {
    pub evaluation: Evaluation,
    /// Queries sent this cycle.
    pub queries: Vec<QueryRecord>,
    /// Inputs refreshed this cycle, and whether each query succeeded.
    pub inputs: Vec<(String, bool)>,
    /// Whether the silences were read this cycle; `None` without an acknowledgement source.
    pub acknowledgements: Option<bool>,
}

/// A failed cycle: why, and the queries it sent (the failing one included),
/// so the self-metrics count them. The month-to-date totals are unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Failed {
    pub error: SourceError,
    pub queries: Vec<QueryRecord>,
}

/// The acknowledgement source and the last silences read from it.
struct Acknowledgements {
    alertmanager: Alertmanager,
    /// `None` until the first successful read.
    last: Option<Vec<Silence>>,
}

/// The state kept between cycles.
pub struct Evaluator {
    client: Client,
    rules_dir: PathBuf,
    rules: Arc<Rules>,
    delay: Duration,
    inputs_every: Duration,
    running: Option<Running>,
    /// Inputs of the current month and the window end they were read at.
    inputs: Option<(DateTime<Utc>, BTreeMap<String, InputFacts>)>,
    /// The running totals of the additive inputs.
    live_inputs: LiveInputs,
    acknowledgements: Option<Acknowledgements>,
    /// Directory of closed months (`--history.dir`), and the history read
    /// from it with what it was read for (period, months, files seen).
    history_dir: Option<PathBuf>,
    history: History,
    history_read: Option<(String, u32, Vec<history::dir::Seen>)>,
}

impl Evaluator {
    pub fn new(client: Client, rules_dir: PathBuf, rules: Rules, delay: Duration, inputs_every: Duration) -> Self {
        Evaluator {
            client,
            rules_dir,
            rules: Arc::new(rules),
            delay,
            inputs_every,
            running: None,
            inputs: None,
            live_inputs: LiveInputs::default(),
            acknowledgements: None,
            history_dir: None,
            history: History::default(),
            history_read: None,
        }
    }

    /// Read the history of closed months from this directory: at the
    /// first cycle, at a new month, after a reload and whenever a closed
    /// month's statement appears or changes.
    pub fn with_history(mut self, dir: Option<PathBuf>) -> Self {
        self.history_dir = dir;
        self
    }

    /// Read the history again if what it is for, or the files, changed. A
    /// failed read keeps the history read before (and says why).
    fn refresh_history(&mut self, rules: &Rules, period: &Period) {
        let Some(dir) = &self.history_dir else { return };
        let months = rules.history_months();
        let seen = history::dir::seen(dir, period, months);
        let key = (period.label.clone(), months, seen);
        if self.history_read.as_ref() == Some(&key) {
            return;
        }
        match history::dir::read(dir, period, months) {
            Ok(h) => {
                tracing::info!(period = %period.label, closed_months = h.months.len(), "read the history of closed months");
                self.history = h;
                self.history_read = Some(key);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the history of closed months: keeping the one read before")
            }
        }
    }

    /// Read every additive input over the whole month again this long after
    /// its last full read, so samples written late into a window already
    /// read count; `None`: only at start-up, in a new month or after its
    /// query changed.
    pub fn with_input_full_reads(mut self, every: Option<Duration>) -> Self {
        self.live_inputs = LiveInputs::new(every);
        self
    }

    /// Read acknowledgements from this Alertmanager's silences every cycle.
    pub fn with_acknowledgements(mut self, alertmanager: Option<Alertmanager>) -> Self {
        self.acknowledgements = alertmanager.map(|alertmanager| Acknowledgements { alertmanager, last: None });
        self
    }

    pub fn rules(&self) -> &Arc<Rules> {
        &self.rules
    }

    /// End of the data window for a cycle at `now`: `now − delay`, whole seconds.
    pub fn window_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let end = now - self.delay;
        end.duration_trunc(Duration::seconds(1)).unwrap_or(end)
    }

    /// Read what is new up to `now − delay` and evaluate the month to date.
    /// `Ok(None)`: nothing to evaluate yet (the month began less than a second ago).
    pub async fn cycle(&mut self, now: DateTime<Utc>) -> Result<Option<Outcome>, Failed> {
        let rules = self.rules.clone();
        let to = self.window_end(now);
        let period = Period::containing(to, rules.time_zone);
        if self.running.as_ref().is_none_or(|r| r.start != period.start) {
            if self.running.is_some() {
                tracing::info!(period = %period.label, "a new pay period began: month-to-date totals start again");
            }
            self.running = Some(Running::new(&rules, period.start));
            self.inputs = None;
        }
        let running = self.running.as_mut().expect("set above");
        let mut queries = vec![];
        if to > running.end {
            match source::read_window(&self.client, &rules, running, to, &mut queries).await {
                Ok(delta) => running.apply(delta),
                Err(error) => return Err(Failed { error, queries }),
            }
        }
        if running.end <= running.start {
            return Ok(None);
        }
        let mut refreshed = vec![];
        let due = self.inputs.as_ref().is_none_or(|(at, _)| running.end - *at >= self.inputs_every);
        if due && !rules.inputs.is_empty() {
            let fresh =
                self.live_inputs.refresh(&self.client, &rules.inputs, running.start, running.end, &mut queries).await;
            let previous = self.inputs.take().map(|(_, i)| i).unwrap_or_default();
            let mut kept = BTreeMap::new();
            for (name, value) in fresh {
                let ok = matches!(value, InputFacts::Values(_));
                refreshed.push((name.clone(), ok));
                let value = match (&value, previous.get(&name)) {
                    (InputFacts::Failed(e), Some(old @ InputFacts::Values(_))) => {
                        tracing::warn!(input = %name, error = %e, "input query failed: keeping its last good value");
                        old.clone()
                    }
                    _ => value,
                };
                kept.insert(name, value);
            }
            self.inputs = Some((running.end, kept));
        }
        let acknowledgements = self.read_silences().await;
        let running = self.running.as_ref().expect("set above");
        let inputs = self.inputs.as_ref().map(|(_, i)| i.clone()).unwrap_or_default();
        let mut facts = running.facts(&rules, inputs);
        self.refresh_history(&rules, &period);
        let silences = self.acknowledgements.as_ref().and_then(|a| a.last.as_deref());
        let evaluation = pipeline::evaluate(&mut facts, silences, &self.history, &rules, &period, to);
        Ok(Some(Outcome { evaluation, queries, inputs: refreshed, acknowledgements }))
    }

    /// Read the silences again; a failed read keeps the last ones read.
    async fn read_silences(&mut self) -> Option<bool> {
        let source = self.acknowledgements.as_mut()?;
        match source.alertmanager.silences().await {
            Ok(silences) => {
                source.last = Some(silences);
                Some(true)
            }
            Err(e) => {
                let kept = if source.last.is_some() { "keeping the silences read before" } else { "none read yet" };
                tracing::warn!(error = %e, "cannot read acknowledgements: {kept}");
                Some(false)
            }
        }
    }

    /// Load the rules again. Invalid rules change nothing (the error names
    /// file, line and column); valid ones take effect at the next cycle.
    pub fn reload(&mut self) -> Result<(), LoadError> {
        let new = rules::load_dir(&self.rules_dir)?;
        let old = &self.rules;
        if new.source != old.source
            || new.maintenance != old.maintenance
            || new.time_zone != old.time_zone
            || new.incident_sources != old.incident_sources
        {
            tracing::info!("the new rules read Prometheus differently: month-to-date totals are read again");
            self.running = None;
        }
        if new.inputs != self.rules.inputs {
            self.inputs = None;
        }
        self.rules = Arc::new(new);
        Ok(())
    }
}
