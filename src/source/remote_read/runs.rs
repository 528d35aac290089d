//! Samples kept as runs: consecutive samples of one value at a regular
//! interval are one [`Run`]. Lossless (any sequence can be stored; an
//! irregular one only takes more runs), and a day of a series scraped on
//! time is a few runs instead of 1,440 samples: the digest keeps the days
//! with downtime of every node this way.

/// `n` samples of `value` at `start`, `start + every`, … (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    start: i64,
    every: u32,
    n: u32,
    value: f64,
}

/// Samples sorted by time, as runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Runs {
    runs: Vec<Run>,
}

impl Runs {
    /// Add a sample after the last one (`t` greater than every time pushed).
    pub fn push(&mut self, t: i64, value: f64) {
        if let Some(r) = self.runs.last_mut()
            && r.value.to_bits() == value.to_bits()
            && r.n < u32::MAX
        {
            let next = r.start + i64::from(r.n) * i64::from(r.every);
            if r.n == 1
                && let Ok(every) = u32::try_from(t - r.start)
            {
                r.every = every;
                r.n = 2;
                return;
            }
            if r.n > 1 && t == next {
                r.n += 1;
                return;
            }
        }
        self.runs.push(Run { start: t, every: 0, n: 1, value });
    }

    /// The samples, in order.
    pub fn samples(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.runs.iter().flat_map(|r| (0..i64::from(r.n)).map(move |k| (r.start + k * i64::from(r.every), r.value)))
    }

    /// Both sets of samples, sorted by time; where both have a time, this one's.
    pub fn merge(&mut self, other: &Runs) {
        let mut all: Vec<(i64, f64)> = self.samples().chain(other.samples()).collect();
        all.sort_by_key(|(t, _)| *t);
        all.dedup_by_key(|(t, _)| *t);
        *self = all.into_iter().collect();
    }
}

impl FromIterator<(i64, f64)> for Runs {
    fn from_iter<I: IntoIterator<Item = (i64, f64)>>(iter: I) -> Self {
        let mut runs = Runs::default();
        for (t, v) in iter {
            runs.push(t, v);
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_samples_are_few_runs_and_come_back_exactly() {
        // A day every minute, down for ten minutes, one scrape late, one NaN.
        let mut s: Vec<(i64, f64)> =
            (1..=1440).map(|m| (m * 60_000, if (600..610).contains(&m) { 0.0 } else { 1.0 })).collect();
        s[900].0 += 1_234;
        s[1000].1 = f64::NAN;
        let runs: Runs = s.iter().copied().collect();
        assert!(runs.runs.len() <= 9, "{} runs", runs.runs.len());
        let back: Vec<(i64, f64)> = runs.samples().collect();
        assert_eq!(back.len(), s.len());
        for (a, b) in back.iter().zip(&s) {
            assert_eq!((a.0, a.1.to_bits()), (b.0, b.1.to_bits()));
        }
    }

    #[test]
    fn values_that_differ_in_bits_only_are_kept_apart() {
        let runs: Runs = [(1, 0.0), (2, -0.0), (3, -0.0)].into_iter().collect();
        let back: Vec<u64> = runs.samples().map(|(_, v)| v.to_bits()).collect();
        assert_eq!(back, vec![0.0f64.to_bits(), (-0.0f64).to_bits(), (-0.0f64).to_bits()]);
    }

    #[test]
    fn gaps_longer_than_a_u32_of_milliseconds_start_a_new_run() {
        let far = 1_i64 << 40;
        let runs: Runs = [(0, 1.0), (far, 1.0), (2 * far, 1.0)].into_iter().collect();
        assert_eq!(runs.samples().collect::<Vec<_>>(), vec![(0, 1.0), (far, 1.0), (2 * far, 1.0)]);
    }

    #[test]
    fn merge_interleaves_and_keeps_one_sample_per_time() {
        let mut a: Runs = [(1, 1.0), (3, 1.0), (5, 0.0)].into_iter().collect();
        let b: Runs = [(2, 1.0), (3, 7.0), (4, 0.0)].into_iter().collect();
        a.merge(&b);
        assert_eq!(a.samples().collect::<Vec<_>>(), vec![(1, 1.0), (2, 1.0), (3, 1.0), (4, 0.0), (5, 0.0)]);
    }
}
