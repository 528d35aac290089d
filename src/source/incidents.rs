//! Incident sources (`incident_sources` in the rules): series with one
//! series per open incident (a ticketing exporter's gauge, a service's own
//! `up`, `ALERTS{alertstate="firing"}`), read raw and kept as runs.
//!
//! A window `(from, to]` is read per source with one raw range query per
//! chunk of at most a day (`SELECTOR[chunk]` at the chunk end, purpose
//! `incidents:<source>`): these series are sparse, one per incident, so
//! every sample is read; the answers are recorded like every other query
//! (evidence, replay). Any failing query fails the window, as for `up`.
//!
//! The samples of one id (the source's `id_label`; series with the same id
//! are one incident whatever their other labels) form runs: consecutive
//! "open" samples (`open_when`), at most 1.5 steps apart; a closed sample
//! or a longer gap ends a run. A run continues across windows, so `serve`'s
//! window-by-window reading gives the runs one read of the month gives. A
//! run's class, operator and severity are those of its last sample.

use super::answer::{Labels, SourceError};
use super::plan::{self, Job, Window};
use super::prometheus::Client;
use super::record::{QueryKind, QueryRecord};
use super::samples::Sample;
use crate::facts::ReportedIncident;
use crate::rules::Rules;
use crate::rules::spec::IncidentSourceSpec;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// What a run's labels say.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Meta {
    class: Option<String>,
    operator: Option<String>,
    severity: Option<String>,
}

/// One sample of an incident's series: time, open or not, labels.
type Point = (DateTime<Utc>, bool, Meta);

/// (source name, id).
type Key = (String, String);

/// A window of every incident source, read by [`read`]; added by [`Reported::apply`].
#[derive(Debug, Clone, Default)]
pub struct Read {
    /// Per incident: the source's step (seconds) and the window's samples, sorted.
    points: BTreeMap<Key, (i64, Vec<Point>)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Run {
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    meta: Meta,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Runs {
    step: i64,
    runs: Vec<Run>,
    /// The last sample read: its time and whether it was open.
    last: Option<(DateTime<Utc>, bool)>,
}

/// The runs of every incident read so far (month to date).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reported {
    incidents: BTreeMap<Key, Runs>,
}

impl Reported {
    /// Continue every incident with the next window's samples.
    pub fn apply(&mut self, read: Read) {
        for (key, (step, points)) in read.points {
            let r = self.incidents.entry(key).or_default();
            r.step = step;
            for (t, open, meta) in points {
                if open {
                    let gap_ok = |last: DateTime<Utc>| (t - last).num_milliseconds() <= step * 1500;
                    match (r.last, r.runs.last_mut()) {
                        (Some((last, true)), Some(run)) if gap_ok(last) => {
                            run.last = t;
                            run.meta = meta;
                        }
                        _ => r.runs.push(Run { first: t, last: t, meta }),
                    }
                }
                r.last = Some((t, open));
            }
        }
    }

    /// The incidents at the window end `end`, sorted.
    pub fn facts(&self, end: DateTime<Utc>) -> Vec<ReportedIncident> {
        let mut out = vec![];
        for ((source, key), r) in &self.incidents {
            let step = Duration::seconds(r.step);
            for (i, run) in r.runs.iter().enumerate() {
                let last_sample = i + 1 == r.runs.len() && r.last == Some((run.last, true));
                let open = last_sample && end - run.last < step;
                out.push(ReportedIncident {
                    start: run.first,
                    source: source.clone(),
                    key: key.clone(),
                    class: run.meta.class.clone(),
                    operator: run.meta.operator.clone(),
                    severity: run.meta.severity.clone(),
                    end: if open { end } else { run.last + step },
                    open,
                });
            }
        }
        out.sort();
        out
    }
}

/// Read `(w.0, w.1]` of every incident source of `rules`; every query is
/// added to `log`, the failing ones too.
pub async fn read(client: &Client, rules: &Rules, w: Window, log: &mut Vec<QueryRecord>) -> Result<Read, SourceError> {
    let mut out = Read::default();
    if rules.incident_sources.is_empty() {
        return Ok(out);
    }
    let chunks = plan::chunks(w.0, w.1, plan::CHUNK_SECONDS);
    let mut jobs = vec![];
    let mut of_job = vec![];
    for src in &rules.incident_sources {
        let purpose = format!("incidents:{}", src.name.value);
        for c in &chunks {
            jobs.push(Job::new(&purpose, QueryKind::Raw, plan::range_selector(&src.selector, *c), c.1));
            of_job.push(src);
        }
    }
    let answers = plan::run_all(client, jobs.clone(), log).await?;
    for ((job, answer), src) in jobs.iter().zip(answers).zip(of_job) {
        for (labels, samples) in plan::matrix(&job.query, answer)? {
            plan::node_of(&job.query, &labels, &src.id_label)?;
            out.add(src, rules, &labels, &samples);
        }
    }
    Ok(out)
}

impl Read {
    /// Add one series of `src` (it has the source's `id_label`; others are
    /// ignored): its samples, sorted and one per time (of two series of one
    /// id at the same time, the open sample wins). Rule tests build their
    /// windows with it too.
    pub fn add(&mut self, src: &IncidentSourceSpec, rules: &Rules, labels: &Labels, samples: &[Sample]) {
        let Some(key) = labels.get(&src.id_label) else { return };
        let step = src.step.unwrap_or(rules.source.step).seconds();
        let meta = meta(src, labels);
        let (_, points) = self.points.entry((src.name.value.clone(), key.clone())).or_insert_with(|| (step, vec![]));
        points.extend(samples.iter().map(|(t, v)| (*t, src.open_when.is_open(*v), meta.clone())));
        points.sort_by(|a, b| (a.0, !a.1, &a.2).cmp(&(b.0, !b.1, &b.2)));
        points.dedup_by_key(|p| p.0);
    }
}

fn meta(src: &IncidentSourceSpec, labels: &Labels) -> Meta {
    let label = |name: Option<&str>| name.and_then(|n| labels.get(n)).filter(|v| !v.is_empty()).cloned();
    Meta {
        class: match &src.class {
            Some(c) => Some(c.value.clone()),
            None => label(src.class_label()),
        },
        operator: label(Some(&src.operator_label)),
        severity: label(src.severity_label.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap() + Duration::minutes(m)
    }

    /// One incident `T-1` of class `critical`: `pattern` from t(1) on, one
    /// character a minute: `1` open, `0` closed, `.` no sample.
    fn points(pattern: &str, from: i64) -> Vec<Point> {
        let meta = Meta { class: Some("critical".into()), ..Meta::default() };
        pattern
            .chars()
            .enumerate()
            .filter(|(_, c)| *c != '.')
            .map(|(i, c)| (t(from + i as i64 + 1), c == '1', meta.clone()))
            .collect()
    }

    fn read_of(points: Vec<Point>) -> Read {
        Read { points: [(("tickets".to_string(), "T-1".to_string()), (60, points))].into() }
    }

    /// (start, end, open) of every run of `pattern`, read in windows cut at `cuts` (minutes).
    fn runs(pattern: &str, cuts: &[i64]) -> Vec<(DateTime<Utc>, DateTime<Utc>, bool)> {
        let all = points(pattern, 0);
        let end = t(pattern.len() as i64);
        let mut reported = Reported::default();
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(pattern.len() as i64);
        for w in bounds.windows(2) {
            let window: Vec<Point> = all.iter().filter(|p| t(w[0]) < p.0 && p.0 <= t(w[1])).cloned().collect();
            reported.apply(read_of(window));
        }
        reported.facts(end).into_iter().map(|i| (i.start, i.end, i.open)).collect()
    }

    #[test]
    fn an_incident_starts_at_its_first_open_sample_and_ends_a_step_after_its_last() {
        assert_eq!(runs("0011100", &[]), vec![(t(3), t(6), false)]);
        assert_eq!(runs("..111..", &[]), vec![(t(3), t(6), false)], "absent samples are closed too");
    }

    #[test]
    fn an_incident_still_open_at_the_window_end_is_open_until_it() {
        assert_eq!(runs("00111", &[]), vec![(t(3), t(5), true)]);
    }

    #[test]
    fn a_closed_sample_or_a_gap_ends_a_run_and_a_reopened_id_is_a_second_incident() {
        assert_eq!(runs("1101100", &[]), vec![(t(1), t(3), false), (t(4), t(6), false)]);
        assert_eq!(runs("11.11..", &[]), vec![(t(1), t(3), false), (t(4), t(6), false)], "a gap of 2 steps");
    }

    #[test]
    fn runs_read_window_by_window_are_the_runs_read_at_once() {
        for (pattern, cuts) in
            [("0011111100", &[3, 5][..]), ("1111111111", &[1, 2, 9]), ("11.1101.11", &[2, 3, 6]), ("0001", &[3])]
        {
            assert_eq!(runs(pattern, cuts), runs(pattern, &[]), "{pattern} cut at {cuts:?}");
        }
    }

    #[test]
    fn a_run_takes_the_labels_of_its_last_sample() {
        let mut p = points("111", 0);
        p[2].2.class = Some("major".into());
        let mut reported = Reported::default();
        reported.apply(read_of(p));
        let got = reported.facts(t(10));
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].class.as_deref(), got[0].open), (Some("major"), false));
    }
}
