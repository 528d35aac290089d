//! What the PromQL plan needs from a window, computed from the raw samples
//! of remote read as they stream in, series by series: per series, the
//! sample count and sum of every chunk (day) and maintenance window, and the
//! samples of the chunks [`Keep`] says a raw query may ask for. Memory stays
//! bounded: one series' samples at a time, plus the kept chunks, as
//! [`Runs`] (a day of a regular series is a few runs).
//!
//! [`Digest::answer`] then gives the answer Prometheus would have given to
//! a query of the plan ([`Ask`]), in its own shape: a vector of
//! `count_over_time`/`sum_over_time` (labels without `__name__`, at the
//! query's time), or the matrix of a raw range selector (all labels).

use super::packed::PackedLabels;
use super::runs::Runs;
use crate::source::answer::{Labels, MatrixSeries, QueryAnswer, QueryData, VectorSample};
use crate::source::plan::{Ask, Count, CountWindow, Window};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Which chunks of a series to keep the samples of: those a raw query of
/// the plan may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Chunks with a sample that is not up (count > sum): the outage reads.
    Down,
    /// Chunks with a positive sum: the degraded reads.
    Positive,
}

impl Keep {
    fn wants(self, c: Count) -> bool {
        match self {
            Keep::Down => c.count - c.sum > 0.0,
            Keep::Positive => c.sum > 0.0,
        }
    }
}

/// The windows a digest counts over.
#[derive(Debug, Clone)]
pub struct Windows {
    /// Contiguous chunks, sorted.
    pub chunks: Vec<Window>,
    pub maintenance: Vec<Window>,
    pub keep: Keep,
}

/// The milliseconds `(a, b]` PromQL reads for a window: the range selector
/// `[r − 1 ms]` at `w.1`, both cut to whole milliseconds as the client
/// sends them (the same as `(w.0, w.1]` for windows on whole milliseconds).
pub fn bounds(w: Window) -> (i64, i64) {
    let end = w.1.timestamp_millis();
    (end - (w.1 - w.0).num_milliseconds(), end)
}

/// The part of the window one remote read request digests: its own chunks
/// (`chunks`, counted whole), its part of the time line `(part.0, part.1]`
/// (for the maintenance windows, which may cross parts), and the
/// milliseconds to ask for (both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub chunks: (usize, usize),
    pub part: (i64, i64),
    pub request: (i64, i64),
}

impl Windows {
    /// The window cut into at most `n` parts of whole chunks.
    pub fn parts(&self, n: usize) -> Vec<Part> {
        let ms: Vec<(i64, i64)> = self.chunks.iter().map(|c| bounds(*c)).collect();
        let all = ms
            .iter()
            .chain(self.maintenance.iter().map(|m| bounds(*m)).collect::<Vec<_>>().iter())
            .fold((i64::MAX, i64::MIN), |(a, b), (x, y)| (a.min(*x), b.max(*y)));
        let per = self.chunks.len().div_ceil(n.max(1)).max(1);
        let starts: Vec<usize> = (0..self.chunks.len()).step_by(per).collect();
        starts
            .iter()
            .enumerate()
            .map(|(k, &first)| {
                let last = (first + per).min(self.chunks.len());
                let lo = if k == 0 { all.0 } else { self.chunks[first].0.timestamp_millis() };
                let hi = if last == self.chunks.len() { all.1 } else { self.chunks[last].0.timestamp_millis() };
                let own = ms[first..last].iter().fold((lo, hi), |(a, b), (x, y)| (a.min(*x), b.max(*y)));
                Part { chunks: (first, last), part: (lo, hi), request: own }
            })
            .collect()
    }
}

/// One series: counts per chunk and per maintenance window, kept samples.
#[derive(Debug, Clone, Default)]
struct SeriesDigest {
    chunks: Vec<Count>,
    maintenance: Vec<Count>,
    kept: BTreeMap<usize, Runs>,
}

/// Every series of a selector over a window.
#[derive(Debug, Clone, Default)]
pub struct Digest {
    series: BTreeMap<PackedLabels, SeriesDigest>,
}

/// PromQL's stale marker: a NaN that range selectors skip.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

impl Digest {
    /// Add one series' samples read for `part` (sorted by time; stale
    /// markers and repeated timestamps are dropped here).
    pub fn add(&mut self, windows: &Windows, labels: Labels, samples: &mut Vec<(i64, f64)>, part: &Part) {
        let w = windows;
        let mut last = i64::MIN;
        samples.retain(|&(t, v)| {
            let keep = t != last && v.to_bits() != STALE_NAN;
            last = t;
            keep
        });
        let entry = self.series.entry(PackedLabels::new(&labels)).or_insert_with(|| SeriesDigest {
            chunks: vec![Count::default(); w.chunks.len()],
            maintenance: vec![Count::default(); w.maintenance.len()],
            kept: BTreeMap::new(),
        });
        // `(a, b]` as a slice of `s`.
        let within =
            |s: &[(i64, f64)], (a, b): (i64, i64)| (s.partition_point(|x| x.0 <= a), s.partition_point(|x| x.0 <= b));
        let count = |s: &[(i64, f64)]| Count { count: s.len() as f64, sum: s.iter().map(|x| x.1).sum() };
        for i in part.chunks.0..part.chunks.1 {
            let (a, b) = within(samples, bounds(w.chunks[i]));
            if a == b {
                continue;
            }
            let slice = &samples[a..b];
            entry.chunks[i] += count(slice);
            if w.keep.wants(entry.chunks[i]) {
                let runs: Runs = slice.iter().copied().collect();
                match entry.kept.get_mut(&i) {
                    Some(k) => k.merge(&runs),
                    None => {
                        entry.kept.insert(i, runs);
                    }
                }
            }
        }
        for (m, window) in w.maintenance.iter().enumerate() {
            let (a, b) = bounds(*window);
            let (a, b) = within(samples, (a.max(part.part.0), b.min(part.part.1)));
            if a < b {
                entry.maintenance[m] += count(&samples[a..b]);
            }
        }
    }

    /// Add a digest of the same windows over another part of the time range.
    pub fn merge(&mut self, other: Digest) {
        for (labels, o) in other.series {
            match self.series.get_mut(&labels) {
                None => {
                    self.series.insert(labels, o);
                }
                Some(s) => {
                    for (a, b) in s.chunks.iter_mut().zip(o.chunks) {
                        *a += b;
                    }
                    for (a, b) in s.maintenance.iter_mut().zip(o.maintenance) {
                        *a += b;
                    }
                    for (i, k) in o.kept {
                        s.kept.entry(i).or_default().merge(&k);
                    }
                }
            }
        }
    }

    /// Series seen.
    pub fn series(&self) -> usize {
        self.series.len()
    }

    /// The answer Prometheus would give to the query `ask` at `time`, or
    /// `None` when the digest cannot tell (a raw query over a chunk whose
    /// samples were not kept: a node with two series, one of them all up).
    pub(in crate::source) fn answer(&self, ask: &Ask, time: DateTime<Utc>, node_label: &str) -> Option<QueryAnswer> {
        // Prometheus answers at the evaluation time in whole milliseconds.
        let at_ms = DateTime::from_timestamp_millis(time.timestamp_millis()).expect("a time in range");
        let data = match ask {
            Ask::Promql => return None,
            Ask::Count { window, sum } => {
                let v = self
                    .series
                    .iter()
                    .filter_map(|(labels, s)| {
                        let c = match window {
                            CountWindow::Chunk(i) => s.chunks[*i],
                            CountWindow::Maintenance(i) => s.maintenance[*i],
                        };
                        (c.count > 0.0).then(|| VectorSample {
                            labels: labels.unpack(true),
                            time: at_ms,
                            value: if *sum { c.sum } else { c.count },
                        })
                    })
                    .collect();
                QueryData::Vector(v)
            }
            Ask::Raw { nodes, first, last, window } => {
                let (lo, hi) = bounds(*window);
                let nodes: BTreeSet<&str> = nodes.iter().map(String::as_str).collect();
                let mut m = vec![];
                for (labels, s) in &self.series {
                    if !labels.get(node_label).is_some_and(|n| nodes.contains(n)) {
                        continue;
                    }
                    let mut samples = vec![];
                    for i in *first..=*last {
                        match s.kept.get(&i) {
                            Some(k) => {
                                samples.extend(k.samples().filter(|(t, _)| lo < *t && *t <= hi).map(|(t, v)| {
                                    (DateTime::from_timestamp_millis(t).expect("a sample time in range"), v)
                                }))
                            }
                            None if s.chunks[i].count > 0.0 => return None,
                            None => {}
                        }
                    }
                    if !samples.is_empty() {
                        m.push(MatrixSeries { labels: labels.unpack(false), samples });
                    }
                }
                QueryData::Matrix(m)
            }
        };
        Some(QueryAnswer { data, warnings: vec![], total_queryable_samples: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn labels(node: &str) -> Labels {
        [("__name__", "up"), ("instance", node)].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn windows() -> Windows {
        Windows { chunks: vec![(t(0), t(24)), (t(24), t(48))], maintenance: vec![(t(23), t(25))], keep: Keep::Down }
    }

    /// Every hour from t(0) (left out: ranges are left-open) to t(48).
    fn hourly(down: &[i64]) -> Vec<(i64, f64)> {
        (0..=48).map(|h| (t(h).timestamp_millis(), if down.contains(&h) { 0.0 } else { 1.0 })).collect()
    }

    #[test]
    fn counts_are_left_open_and_maintenance_crosses_chunks() {
        let mut d = Digest::default();
        let w = windows();
        let mut s = hourly(&[25, 30]);
        s.insert(40, (t(40).timestamp_millis() + 1, f64::from_bits(STALE_NAN)));
        for part in w.parts(1) {
            d.add(&w, labels("a"), &mut s.clone(), &part);
        }
        let ask = |window, sum| Ask::Count { window, sum };
        let v = |a: QueryAnswer| match a.data {
            QueryData::Vector(v) => v.iter().map(|s| s.value).collect::<Vec<_>>(),
            _ => panic!(),
        };
        assert_eq!(v(d.answer(&ask(CountWindow::Chunk(0), false), t(24), "instance").unwrap()), vec![24.0]);
        assert_eq!(v(d.answer(&ask(CountWindow::Chunk(1), true), t(48), "instance").unwrap()), vec![22.0]);
        assert_eq!(v(d.answer(&ask(CountWindow::Maintenance(0), true), t(25), "instance").unwrap()), vec![1.0]);
        let raw = d
            .answer(&Ask::Raw { nodes: vec!["a".into()], first: 1, last: 1, window: (t(24), t(48)) }, t(48), "instance")
            .unwrap();
        assert_eq!(raw.data.samples(), 24, "the kept day, stale marker dropped");
        assert!(
            d.answer(
                &Ask::Raw { nodes: vec!["a".into()], first: 0, last: 1, window: (t(0), t(48)) },
                t(48),
                "instance"
            )
            .is_none()
        );
    }

    #[test]
    fn pieces_merge_into_the_whole() {
        let w = windows();
        let s = hourly(&[3, 24, 30]);
        let in_part = |p: &Part| -> Vec<(i64, f64)> {
            s.iter().copied().filter(|(x, _)| p.request.0 < *x && *x <= p.request.1).collect()
        };
        let mut whole = Digest::default();
        let one = w.parts(1);
        assert_eq!(one.len(), 1);
        whole.add(&w, labels("a"), &mut in_part(&one[0]), &one[0]);
        let two = w.parts(2);
        assert_eq!(two.len(), 2);
        let mut a = Digest::default();
        a.add(&w, labels("a"), &mut in_part(&two[0]), &two[0]);
        let mut b = Digest::default();
        b.add(&w, labels("a"), &mut in_part(&two[1]), &two[1]);
        a.merge(b);
        for ask in [
            Ask::Count { window: CountWindow::Maintenance(0), sum: false },
            Ask::Raw { nodes: vec!["a".into()], first: 0, last: 1, window: (t(0), t(48)) },
        ] {
            assert_eq!(a.answer(&ask, t(48), "instance"), whole.answer(&ask, t(48), "instance"));
        }
    }
}
