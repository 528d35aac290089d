//! What the PromQL plan needs from a window, computed from the raw samples
//! of remote read as they stream in, series by series: per series, the
//! sample count and sum of every chunk (day) and maintenance window, and the
//! samples of the chunks [`Keep`] says a raw query may ask for. Memory stays
//! bounded: one series' samples at a time, plus the kept chunks.
//!
//! [`Digest::answer`] then gives the answer Prometheus would have given to
//! a query of the plan ([`Ask`]), in its own shape: a vector of
//! `count_over_time`/`sum_over_time` (labels without `__name__`, at the
//! query's time), or the matrix of a raw range selector (all labels).

use super::super::answer::{Labels, MatrixSeries, QueryAnswer, QueryData, VectorSample};
use super::super::plan::{Ask, Count, CountWindow, Window};
use super::super::samples::Sample;
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

/// One series: counts per chunk and per maintenance window, kept samples.
#[derive(Debug, Clone, Default)]
struct SeriesDigest {
    chunks: Vec<Count>,
    maintenance: Vec<Count>,
    kept: BTreeMap<usize, Vec<Sample>>,
}

/// Every series of a selector over a window.
#[derive(Debug, Clone, Default)]
pub struct Digest {
    series: BTreeMap<Labels, SeriesDigest>,
}

/// PromQL's stale marker: a NaN that range selectors skip.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

impl Digest {
    /// Add one series' samples of `(lo, hi]` (sorted by time; samples
    /// outside, stale markers and repeated timestamps are dropped here).
    pub fn add(&mut self, windows: &Windows, labels: Labels, samples: &mut Vec<(i64, f64)>, lo: i64, hi: i64) {
        let w = windows;
        let ms = |t: DateTime<Utc>| t.timestamp_millis();
        let mut last = i64::MIN;
        samples.retain(|&(t, v)| {
            let keep = lo < t && t <= hi && t != last && v.to_bits() != STALE_NAN;
            last = t;
            keep
        });
        let entry = self.series.entry(labels).or_insert_with(|| SeriesDigest {
            chunks: vec![Count::default(); w.chunks.len()],
            maintenance: vec![Count::default(); w.maintenance.len()],
            kept: BTreeMap::new(),
        });
        // `(a, b]` as a slice of `s`.
        let within = |s: &[(i64, f64)], a: i64, b: i64| {
            let (i, j) = (s.partition_point(|x| x.0 <= a), s.partition_point(|x| x.0 <= b));
            (i, j)
        };
        let count = |s: &[(i64, f64)]| Count { count: s.len() as f64, sum: s.iter().map(|x| x.1).sum() };
        for (i, c) in w.chunks.iter().enumerate() {
            let (a, b) = within(samples, ms(c.0), ms(c.1));
            if a == b {
                continue;
            }
            let part = &samples[a..b];
            let n = count(part);
            entry.chunks[i] += n;
            if w.keep.wants(entry.chunks[i]) {
                let at = |t| DateTime::from_timestamp_millis(t).expect("a sample time in range");
                entry.kept.entry(i).or_default().extend(part.iter().map(|&(t, v)| (at(t), v)));
            }
        }
        for (m, window) in w.maintenance.iter().enumerate() {
            let (a, b) = within(samples, ms(window.0), ms(window.1));
            entry.maintenance[m] += count(&samples[a..b]);
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
                    for (i, mut k) in o.kept {
                        let e = s.kept.entry(i).or_default();
                        e.append(&mut k);
                        e.sort_by_key(|(t, _)| *t);
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
                        let mut labels = labels.clone();
                        labels.remove("__name__");
                        (c.count > 0.0).then(|| VectorSample {
                            labels,
                            time,
                            value: if *sum { c.sum } else { c.count },
                        })
                    })
                    .collect();
                QueryData::Vector(v)
            }
            Ask::Raw { nodes, first, last } => {
                let nodes: BTreeSet<&str> = nodes.iter().map(String::as_str).collect();
                let mut m = vec![];
                for (labels, s) in &self.series {
                    if !labels.get(node_label).is_some_and(|n| nodes.contains(n.as_str())) {
                        continue;
                    }
                    let mut samples = vec![];
                    for i in *first..=*last {
                        match s.kept.get(&i) {
                            Some(k) => samples.extend_from_slice(k),
                            None if s.chunks[i].count > 0.0 => return None,
                            None => {}
                        }
                    }
                    if !samples.is_empty() {
                        m.push(MatrixSeries { labels: labels.clone(), samples });
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
        d.add(&w, labels("a"), &mut s, t(0).timestamp_millis(), t(48).timestamp_millis());
        let ask = |window, sum| Ask::Count { window, sum };
        let v = |a: QueryAnswer| match a.data {
            QueryData::Vector(v) => v.iter().map(|s| s.value).collect::<Vec<_>>(),
            _ => panic!(),
        };
        assert_eq!(v(d.answer(&ask(CountWindow::Chunk(0), false), t(24), "instance").unwrap()), vec![24.0]);
        assert_eq!(v(d.answer(&ask(CountWindow::Chunk(1), true), t(48), "instance").unwrap()), vec![22.0]);
        assert_eq!(v(d.answer(&ask(CountWindow::Maintenance(0), true), t(25), "instance").unwrap()), vec![1.0]);
        let raw = d.answer(&Ask::Raw { nodes: vec!["a".into()], first: 1, last: 1 }, t(48), "instance").unwrap();
        assert_eq!(raw.data.samples(), 24, "the kept day, stale marker dropped");
        assert!(d.answer(&Ask::Raw { nodes: vec!["a".into()], first: 0, last: 1 }, t(48), "instance").is_none());
    }

    #[test]
    fn pieces_merge_into_the_whole() {
        let w = windows();
        let s = hourly(&[3, 24, 30]);
        let mut whole = Digest::default();
        whole.add(&w, labels("a"), &mut s.clone(), t(0).timestamp_millis(), t(48).timestamp_millis());
        let mut a = Digest::default();
        a.add(&w, labels("a"), &mut s.clone(), t(0).timestamp_millis(), t(24).timestamp_millis());
        let mut b = Digest::default();
        b.add(&w, labels("a"), &mut s.clone(), t(24).timestamp_millis(), t(48).timestamp_millis());
        a.merge(b);
        for ask in [
            Ask::Count { window: CountWindow::Maintenance(0), sum: false },
            Ask::Raw { nodes: vec!["a".into()], first: 0, last: 1 },
        ] {
            assert_eq!(a.answer(&ask, t(48), "instance"), whole.answer(&ask, t(48), "instance"));
        }
    }
}
