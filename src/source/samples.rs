//! Raw samples → facts, the pure part of the source stage. The Prometheus
//! reader uses it for outage detail, rule tests use it for their input
//! series, so both count time the same way.
//!
//! The slot model: a sample at `t` stands for the step `(t − step, t]`, the
//! same window `count_over_time(up[step])` at `t` reads. A run of consecutive
//! down samples `t0 … tk` is the outage `(t0 − step, tk]`, so an outage lasts
//! exactly its down samples × step. Samples more than 1.5 steps apart are not
//! consecutive: the time between is unknown and ends the run.

use crate::facts::{NodeFacts, Outage};
use chrono::{DateTime, Duration, Utc};

/// One raw sample: time and value (`0` down, anything else up).
pub type Sample = (DateTime<Utc>, f64);

/// `t` lies in one of the left-open `windows` `(s, e]`.
pub(crate) fn in_any(t: DateTime<Utc>, windows: &[(DateTime<Utc>, DateTime<Utc>)]) -> bool {
    windows.iter().any(|(s, e)| *s < t && t <= *e)
}

/// Number of step slots of `(start, end]` that fall inside `windows`
/// (which must be sorted, merged and clipped to the window).
pub fn slots_in(windows: &[(DateTime<Utc>, DateTime<Utc>)], step_seconds: i64) -> u64 {
    windows.iter().map(|(s, e)| ((*e - *s).num_seconds() / step_seconds) as u64).sum()
}

/// Runs of consecutive down samples. `samples` must be sorted by time; only
/// samples in `(start, end]` are read. A run still down at the last slot
/// before `end` is `ongoing`.
pub fn outages(samples: &[Sample], start: DateTime<Utc>, end: DateTime<Utc>, step_seconds: i64) -> Vec<Outage> {
    let step = Duration::seconds(step_seconds);
    let max_gap = Duration::milliseconds(step_seconds * 1500);
    let mut out: Vec<Outage> = vec![];
    let mut run: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    let mut prev: Option<DateTime<Utc>> = None;
    for &(t, v) in samples.iter().filter(|(t, _)| start < *t && *t <= end) {
        let adjacent = prev.is_some_and(|p| t - p <= max_gap);
        if let Some((s, last)) = run
            && (v != 0.0 || !adjacent)
        {
            out.push(Outage { start: s, end: last, ongoing: false });
            run = None;
        }
        if v == 0.0 {
            run = Some(match run {
                Some((s, _)) => (s, t),
                None => ((t - step).max(start), t),
            });
        }
        prev = Some(t);
    }
    if let Some((s, last)) = run {
        out.push(Outage { start: s, end: last, ongoing: end - last < step });
    }
    out
}

/// The samples of a sorted series that [`outages`] (and a running track,
/// which also looks at the last sample) needs: every down sample (value
/// `down_value`), the sample right after each (it ends the run, or its
/// distance shows the gap that does), and the first and the last. The up
/// samples in between tell nothing more, so a day of raw samples shrinks to
/// its outages; the outages of the result are those of the whole series.
pub fn outage_samples(samples: Vec<Sample>, down_value: f64) -> Vec<Sample> {
    let last = samples.len().saturating_sub(1);
    let mut after_down = false;
    let mut out = vec![];
    for (i, (t, v)) in samples.into_iter().enumerate() {
        let down = v == down_value;
        if down || after_down || i == 0 || i == last {
            out.push((t, v));
        }
        after_down = down;
    }
    out
}

/// One node's facts from its raw samples over `(start, end]`, maintenance
/// windows (sorted, merged, clipped) removed from the counts.
pub fn node_facts(
    node: &str,
    samples: &[Sample],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step_seconds: i64,
    maintenance: &[(DateTime<Utc>, DateTime<Utc>)],
) -> NodeFacts {
    let slots = ((end - start).num_seconds() / step_seconds) as u64;
    let maintenance_samples = slots_in(maintenance, step_seconds);
    let (mut up, mut down) = (0u64, 0u64);
    for &(_, v) in samples.iter().filter(|(t, _)| start < *t && *t <= end && !in_any(*t, maintenance)) {
        if v == 0.0 {
            down += 1;
        } else {
            up += 1;
        }
    }
    let expected = slots - maintenance_samples;
    NodeFacts {
        node: node.to_string(),
        operator: None,
        region: None,
        up_samples: up.min(expected),
        down_samples: down.min(expected - up.min(expected)),
        expected_samples: expected,
        maintenance_samples,
        outages: outages(samples, start, end, step_seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
    }

    /// Samples every minute from t0+1m: `pattern` of '1', '0', '.' (missing).
    fn series(pattern: &str) -> Vec<Sample> {
        pattern
            .chars()
            .enumerate()
            .filter(|(_, c)| *c != '.')
            .map(|(i, c)| (t0() + Duration::minutes(i as i64 + 1), if c == '1' { 1.0 } else { 0.0 }))
            .collect()
    }

    #[test]
    fn an_outage_lasts_exactly_its_down_samples() {
        let s = series("1100011");
        let end = t0() + Duration::minutes(7);
        let o = outages(&s, t0(), end, 60);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].start, t0() + Duration::minutes(2));
        assert_eq!(o[0].end, t0() + Duration::minutes(5));
        assert!(!o[0].ongoing);
        let f = node_facts("n", &s, t0(), end, 60, &[]);
        assert_eq!((f.up_samples, f.down_samples, f.expected_samples, f.unknown_samples()), (4, 3, 7, 0));
    }

    #[test]
    fn missing_samples_are_unknown_and_end_an_outage() {
        let s = series("100..00111");
        let end = t0() + Duration::minutes(10);
        let o = outages(&s, t0(), end, 60);
        assert_eq!(o.len(), 2, "{o:?}");
        let f = node_facts("n", &s, t0(), end, 60, &[]);
        assert_eq!((f.up_samples, f.down_samples, f.unknown_samples()), (4, 4, 2));
    }

    #[test]
    fn an_outage_at_the_window_end_is_ongoing() {
        let s = series("11000");
        let o = outages(&s, t0(), t0() + Duration::minutes(5), 60);
        assert!(o[0].ongoing);
        let o = outages(&s, t0(), t0() + Duration::minutes(9), 60);
        assert!(!o[0].ongoing, "data stopped: the outage is not known to go on");
    }

    #[test]
    fn the_outage_samples_give_the_same_outages_and_the_same_last_sample() {
        for pattern in ["1111111", "1100011", "100..00111", "0011100", "11000", "1.0.0..1", "0", "", "111.111"] {
            let s = series(pattern);
            let kept = outage_samples(s.clone(), 0.0);
            let end = t0() + Duration::minutes(pattern.len() as i64);
            for until in [end, end + Duration::minutes(5)] {
                assert_eq!(outages(&kept, t0(), until, 60), outages(&s, t0(), until, 60), "{pattern}");
            }
            assert_eq!(kept.last(), s.last(), "{pattern}");
            assert_eq!(kept.first(), s.first(), "{pattern}");
        }
        let kept = outage_samples(series("1111100111111"), 0.0);
        assert_eq!(kept.len(), 5, "first, two down, the one after, last: {kept:?}");
    }

    #[test]
    fn maintenance_slots_are_neither_expected_nor_counted() {
        let s = series("1100000011");
        let m = [(t0() + Duration::minutes(2), t0() + Duration::minutes(5))];
        let f = node_facts("n", &s, t0(), t0() + Duration::minutes(10), 60, &m);
        assert_eq!(f.maintenance_samples, 3);
        assert_eq!(f.expected_samples, 7);
        assert_eq!((f.up_samples, f.down_samples), (4, 3));
        assert_eq!(f.outages.len(), 1, "the engine discounts maintenance from outages");
    }
}
