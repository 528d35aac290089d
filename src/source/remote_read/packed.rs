//! A series' labels packed into one allocation: the key of every series a
//! digest holds. As a map of `String`s a label set of six pairs takes
//! thirteen allocations and some 900 bytes; packed, its text and a length
//! per name and value. Ordered as the map would be (pair by pair), so a
//! digest's answers list their series in the same order.

use crate::source::answer::Labels;
use std::cmp::Ordering;

/// Label pairs as `len name len value …` (lengths as 4 bytes, little-endian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedLabels(Box<[u8]>);

impl PackedLabels {
    pub fn new(labels: &Labels) -> Self {
        let size = labels.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
        let mut out = Vec::with_capacity(size);
        for (k, v) in labels {
            for s in [k, v] {
                let len = u32::try_from(s.len()).expect("a label shorter than 4 GiB");
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
        PackedLabels(out.into_boxed_slice())
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> Pairs<'_> {
        Pairs(&self.0)
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The labels, without `__name__` when `without_name`.
    pub fn unpack(&self, without_name: bool) -> Labels {
        self.pairs()
            .filter(|(k, _)| !(without_name && *k == "__name__"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// The pairs of a [`PackedLabels`].
pub struct Pairs<'a>(&'a [u8]);

impl<'a> Pairs<'a> {
    fn text(&mut self) -> &'a str {
        let (len, rest) = self.0.split_at(4);
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let (text, rest) = rest.split_at(len);
        self.0 = rest;
        std::str::from_utf8(text).expect("packed from a String")
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let name = self.text();
        Some((name, self.text()))
    }
}

impl Ord for PackedLabels {
    fn cmp(&self, other: &Self) -> Ordering {
        self.pairs().cmp(other.pairs())
    }
}

impl PartialOrd for PackedLabels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn labels_come_back_whole_and_sort_as_their_maps() {
        let sets = [
            labels(&[("__name__", "up"), ("instance", "a"), ("job", "x")]),
            labels(&[("__name__", "up"), ("instance", "ab"), ("job", "x")]),
            labels(&[("__name__", "up"), ("instance", "a\u{0}"), ("job", "")]),
            labels(&[("__name__", "up"), ("instance", "a")]),
            labels(&[("__name__", "up"), ("instance", "é\u{ff}"), ("job", "x")]),
            labels(&[]),
        ];
        for s in &sets {
            let p = PackedLabels::new(s);
            assert_eq!(&p.unpack(false), s);
            assert_eq!(p.get("instance"), s.get("instance").map(String::as_str));
            let mut without = s.clone();
            without.remove("__name__");
            assert_eq!(p.unpack(true), without);
        }
        for a in &sets {
            for b in &sets {
                assert_eq!(PackedLabels::new(a).cmp(&PackedLabels::new(b)), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
