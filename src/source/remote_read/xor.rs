//! Decoder of Prometheus' XOR chunks (`tsdb/chunkenc/xor.go`), the Gorilla
//! encoding with millisecond timestamps:
//!
//! - a 2-byte big-endian sample count;
//! - sample 1: timestamp as a signed varint, value as 64 raw bits;
//! - sample 2: timestamp delta as an unsigned varint, then the value;
//! - later samples: the delta of delta in a bucket: `0` (none), `10` + 14
//!   bits, `110` + 17 bits, `1110` + 20 bits, `1111` + 64 bits (signed, see
//!   [`signed`]), then the value;
//! - a value: `0` (same as before), or `1` and the XOR with the previous
//!   value: `0` + the meaningful bits in the previous leading/trailing
//!   window, or `1` + 5 bits of leading zeros + 6 bits of meaningful bits
//!   (0 meaning 64) + those bits.
//!
//! Varints are read byte-aligned from the bit position, as `binary.ReadVarint`
//! reads from the bit stream one byte at a time.
//!
//! Tested here against a test encoder written after `xorAppender`, and in
//! `tests/it/remote_read.rs` against the chunks of a real Prometheus.

/// Why a chunk could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XorError {
    #[error("XOR chunk ends early (sample {0})")]
    Truncated(usize),
    #[error("XOR chunk has a bad varint (sample {0})")]
    Varint(usize),
}

/// Reads bits most significant first.
struct Bits<'a> {
    data: &'a [u8],
    /// Bit position from the start of `data`.
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<bool> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(b)
    }

    fn bits(&mut self, n: u32) -> Option<u64> {
        if self.pos + n as usize > self.data.len() * 8 {
            return None;
        }
        let mut v = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = self.data[self.pos / 8];
            let offset = (self.pos % 8) as u32;
            let take = (8 - offset).min(left);
            let chunk = (byte >> (8 - offset - take)) & ((1u16 << take) - 1) as u8;
            v = if take == 64 { chunk as u64 } else { (v << take) | chunk as u64 };
            self.pos += take as usize;
            left -= take;
        }
        Some(v)
    }

    fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.bits(8)?;
            if shift == 63 && b > 1 {
                return None;
            }
            v |= (b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

/// A delta of delta of `n` bits as written by `xorAppender`: values above
/// 2^(n−1) stand for negative ones.
fn signed(bits: u64, n: u32) -> i64 {
    if bits > 1 << (n - 1) { bits as i64 - (1i64 << n) } else { bits as i64 }
}

/// Every sample of an XOR chunk, `(timestamp ms, value)`, passed to `each`
/// in order. Returns the number of samples.
pub fn decode(data: &[u8], mut each: impl FnMut(i64, f64)) -> Result<usize, XorError> {
    if data.len() < 2 {
        return Err(XorError::Truncated(0));
    }
    let total = u16::from_be_bytes([data[0], data[1]]) as usize;
    let mut r = Bits { data: &data[2..], pos: 0 };
    let (mut t, mut delta, mut v) = (0i64, 0i64, 0u64);
    let (mut leading, mut trailing) = (0u32, 0u32);
    for i in 0..total {
        let short = XorError::Truncated(i);
        match i {
            0 => {
                let u = r.uvarint().ok_or(XorError::Varint(i))?;
                t = ((u >> 1) as i64) ^ -((u & 1) as i64);
                v = r.bits(64).ok_or(short)?;
                each(t, f64::from_bits(v));
                continue;
            }
            1 => {
                delta = r.uvarint().ok_or(XorError::Varint(i))? as i64;
            }
            _ => {
                let mut prefix = 0;
                while prefix < 4 && r.bit().ok_or(short.clone())? {
                    prefix += 1;
                }
                let dod = match prefix {
                    0 => 0,
                    1 => signed(r.bits(14).ok_or(short.clone())?, 14),
                    2 => signed(r.bits(17).ok_or(short.clone())?, 17),
                    3 => signed(r.bits(20).ok_or(short.clone())?, 20),
                    _ => r.bits(64).ok_or(short.clone())? as i64,
                };
                delta = delta.wrapping_add(dod);
            }
        }
        t = t.wrapping_add(delta);
        if r.bit().ok_or(short.clone())? {
            if r.bit().ok_or(short.clone())? {
                leading = r.bits(5).ok_or(short.clone())? as u32;
                let mut meaningful = r.bits(6).ok_or(short.clone())? as u32;
                if meaningful == 0 {
                    meaningful = 64;
                }
                trailing = 64u32.saturating_sub(leading + meaningful);
            }
            let meaningful = 64 - leading - trailing;
            let x = r.bits(meaningful).ok_or(short)?;
            v ^= x << trailing;
        }
        each(t, f64::from_bits(v));
    }
    Ok(total)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal XOR encoder after `xorAppender` (test only), to check the
    /// decoder on every bucket and value case.
    struct Enc {
        out: Vec<u8>,
        bits: usize,
        n: u16,
        t: i64,
        delta: i64,
        v: u64,
        leading: u32,
        trailing: u32,
    }

    impl Enc {
        fn new() -> Enc {
            Enc { out: vec![0, 0], bits: 16, n: 0, t: 0, delta: 0, v: 0, leading: 0xff, trailing: 0 }
        }
        fn put(&mut self, v: u64, n: u32) {
            for i in (0..n).rev() {
                if self.bits / 8 == self.out.len() {
                    self.out.push(0);
                }
                if v >> i & 1 == 1 {
                    self.out[self.bits / 8] |= 0x80 >> (self.bits % 8);
                }
                self.bits += 1;
            }
        }
        fn uvarint(&mut self, mut u: u64) {
            while u >= 0x80 {
                self.put(u & 0x7f | 0x80, 8);
                u >>= 7;
            }
            self.put(u, 8);
        }
        fn value(&mut self, v: u64) {
            let x = v ^ self.v;
            if x == 0 {
                self.put(0, 1);
            } else {
                self.put(1, 1);
                let (mut l, t) = (x.leading_zeros().min(31), x.trailing_zeros());
                if self.leading != 0xff && l >= self.leading && t >= self.trailing {
                    self.put(0, 1);
                    self.put(x >> self.trailing, 64 - self.leading - self.trailing);
                } else {
                    l = l.min(31);
                    let m = 64 - l - t;
                    self.put(1, 1);
                    self.put(l as u64, 5);
                    self.put((m % 64) as u64, 6);
                    self.put(x >> t, m);
                    (self.leading, self.trailing) = (l, t);
                }
            }
            self.v = v;
        }
        fn append(&mut self, t: i64, v: f64) {
            match self.n {
                0 => {
                    self.uvarint(((t << 1) ^ (t >> 63)) as u64);
                    self.put(v.to_bits(), 64);
                    self.v = v.to_bits();
                }
                1 => {
                    self.delta = t - self.t;
                    self.uvarint(self.delta as u64);
                    self.value(v.to_bits());
                }
                _ => {
                    let d = t - self.t;
                    let dod = d - self.delta;
                    let fits = |n: u32| -((1i64 << (n - 1)) - 1) <= dod && dod <= 1 << (n - 1);
                    match dod {
                        0 => self.put(0, 1),
                        _ if fits(14) => {
                            self.put(0b10, 2);
                            self.put(dod as u64 & ((1 << 14) - 1), 14);
                        }
                        _ if fits(17) => {
                            self.put(0b110, 3);
                            self.put(dod as u64 & ((1 << 17) - 1), 17);
                        }
                        _ if fits(20) => {
                            self.put(0b1110, 4);
                            self.put(dod as u64 & ((1 << 20) - 1), 20);
                        }
                        _ => {
                            self.put(0b1111, 4);
                            self.put(dod as u64, 64);
                        }
                    }
                    self.delta = d;
                    self.value(v.to_bits());
                }
            }
            self.t = t;
            self.n += 1;
            self.out[..2].copy_from_slice(&self.n.to_be_bytes());
        }
    }

    /// `samples` as an XOR chunk.
    pub(crate) fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
        let mut e = Enc::new();
        for &(t, v) in samples {
            e.append(t, v);
        }
        e.out
    }

    fn round_trip(samples: &[(i64, f64)]) {
        let data = encode(samples);
        let mut got = vec![];
        assert_eq!(decode(&data, |t, v| got.push((t, v.to_bits()))).unwrap(), samples.len());
        let want: Vec<(i64, u64)> = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn every_delta_of_delta_bucket_and_value_case_decodes() {
        let base = 1_790_812_800_000i64;
        let mut s = vec![];
        let mut t = base;
        for (i, gap) in
            [60_000, 60_000, 60_001, 59_000, 70_000, 600_000, 60_000, 86_400_000, 1, 60_000].into_iter().enumerate()
        {
            t += gap;
            let v = match i % 5 {
                0 => 1.0,
                1 => 0.0,
                2 => 0.1 + 0.2,
                3 => f64::from_bits(0x7ff0_0000_0000_0002),
                _ => -1234.5e300,
            };
            s.push((t, v));
        }
        round_trip(&s);
        round_trip(&[(-5, 1.0)]);
        round_trip(&[(base, 1.0), (base + 60_000, 1.0)]);
    }

    #[test]
    fn a_long_steady_series_decodes() {
        let s: Vec<(i64, f64)> = (0..120).map(|i| (i * 60_000, if i % 17 < 3 { 0.0 } else { 1.0 })).collect();
        round_trip(&s);
    }

    #[test]
    fn a_cut_chunk_is_an_error_not_fewer_samples() {
        let s: Vec<(i64, f64)> = (0..50).map(|i| (i * 60_000, (i % 3) as f64)).collect();
        let data = encode(&s);
        let cut = &data[..data.len() - 3];
        assert!(matches!(decode(cut, |_, _| {}), Err(XorError::Truncated(_))));
        assert!(decode(&data[..1], |_, _| {}).is_err());
    }
}
