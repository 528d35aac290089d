//! The `/metrics` body of `serve`: the evaluation's text kept compressed,
//! and sent compressed or not as the scraper asks.
//!
//! The text is written by [`crate::export::encode_evaluation_to`] into a
//! [`Writer`] that gzips it piece by piece ([`PIECE_BYTES`] of text per gzip
//! member; members one after the other are one gzip stream, RFC 1952 §2.2).
//! At 10,000 nodes the text is some 6 MB and compresses about tenfold, and
//! it is held twice while a new evaluation is encoded (the one served until
//! then, and the new one): kept compressed, neither copy weighs much, and
//! the whole text is never in memory at once.
//!
//! A scraper that accepts gzip (Prometheus does) gets the members as they
//! are, shared, not copied; any other gets them decompressed one at a time
//! as the body is sent. Both have a `Content-Length`.

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzDecoder, GzEncoder};
use std::collections::VecDeque;
use std::io::Write;

/// Text per gzip member.
pub const PIECE_BYTES: usize = 64 << 10;

/// An encoded evaluation: gzip members and the length of the text they hold.
#[derive(Debug, Clone, Default)]
pub struct Text {
    members: Vec<Bytes>,
    plain_len: u64,
}

/// Writes text as gzip members of [`PIECE_BYTES`] of text each.
#[derive(Debug, Default)]
pub struct Writer {
    piece: String,
    text: Text,
}

impl Writer {
    fn seal(&mut self) {
        if !self.piece.is_empty() {
            self.text.plain_len += self.piece.len() as u64;
            self.text.members.push(gzip(self.piece.as_bytes()));
            self.piece.clear();
        }
    }

    pub fn finish(mut self) -> Text {
        self.seal();
        self.text
    }
}

impl std::fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.piece.capacity() == 0 {
            self.piece.reserve_exact(PIECE_BYTES);
        }
        self.piece.push_str(s);
        if self.piece.len() >= PIECE_BYTES {
            self.seal();
        }
        Ok(())
    }
}

/// One gzip member of `bytes` (the fastest level: the text is repetitive,
/// and `serve` encodes every cycle).
pub fn gzip(bytes: &[u8]) -> Bytes {
    let mut e = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), Compression::fast());
    e.write_all(bytes).expect("writing to a Vec cannot fail");
    Bytes::from(e.finish().expect("writing to a Vec cannot fail"))
}

/// Whether an `Accept-Encoding` header value accepts gzip (`gzip` or `*`,
/// without `q=0`).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let refused =
            parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0)));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// The body of a `/metrics` answer: the evaluation (if any), then `tail`
/// (the self-metrics and `# EOF`); gzip-compressed when `gzip_ok`.
pub fn body(text: Option<&Text>, tail: String, gzip_ok: bool) -> Pieces {
    let members: VecDeque<Bytes> = text.map(|t| t.members.iter().cloned().collect()).unwrap_or_default();
    if gzip_ok {
        let mut pieces = members;
        pieces.push_back(gzip(tail.as_bytes()));
        let left = pieces.iter().map(|p| p.len() as u64).sum();
        Pieces { pieces, tail: None, decompress: false, left }
    } else {
        let left = text.map_or(0, |t| t.plain_len) + tail.len() as u64;
        Pieces { pieces: members, tail: Some(Bytes::from(tail)), decompress: true, left }
    }
}

/// A body sent piece by piece, its length known up front.
pub struct Pieces {
    pieces: VecDeque<Bytes>,
    /// Sent after the pieces, as it is.
    tail: Option<Bytes>,
    /// Whether each piece is a gzip member to send decompressed.
    decompress: bool,
    left: u64,
}

/// Decompress one gzip member.
fn gunzip(member: &[u8]) -> Bytes {
    let mut d = GzDecoder::new(Vec::with_capacity(PIECE_BYTES));
    // The members were written by `gzip` in this process.
    d.write_all(member).expect("a member written by gzip()");
    Bytes::from(d.finish().expect("a member written by gzip()"))
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = match self.pieces.pop_front() {
            Some(p) if self.decompress => Some(gunzip(&p)),
            Some(p) => Some(p),
            None => self.tail.take(),
        };
        if let Some(p) = &next {
            self.left -= p.len() as u64;
        }
        std::task::Poll::Ready(next.map(|p| Ok(http_body::Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty() && self.tail.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;
    use std::io::Read;

    fn text(len: usize) -> String {
        let mut s = String::new();
        for i in 0.. {
            let line = format!("fleet_incentives_node_up{{node=\"n{i}\"}} 1\n");
            if s.len() + line.len() > len {
                break;
            }
            s.push_str(&line);
        }
        s
    }

    fn collect(mut body: Pieces) -> (Vec<u8>, u64) {
        let hint = http_body::Body::size_hint(&body).exact().unwrap();
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut out = vec![];
        while let std::task::Poll::Ready(Some(Ok(f))) =
            http_body::Body::poll_frame(std::pin::Pin::new(&mut body), &mut cx)
        {
            out.extend_from_slice(f.data_ref().unwrap());
        }
        assert!(http_body::Body::is_end_stream(&body));
        (out, hint)
    }

    #[test]
    fn the_text_comes_back_whole_compressed_or_not_with_its_exact_length() {
        let plain = text(3 * PIECE_BYTES + 1234);
        let mut w = Writer::default();
        for line in plain.split_inclusive('\n') {
            w.write_str(line).unwrap();
        }
        let t = w.finish();
        assert_eq!(t.plain_len, plain.len() as u64);
        assert!(t.members.len() >= 4, "{} members", t.members.len());
        let compressed: u64 = t.members.iter().map(|m| m.len() as u64).sum();
        assert!(compressed * 5 < t.plain_len, "{compressed} of {}", t.plain_len);

        let (sent, hint) = collect(body(Some(&t), "tail\n# EOF\n".into(), false));
        assert_eq!(sent.len() as u64, hint);
        assert_eq!(String::from_utf8(sent).unwrap(), format!("{plain}tail\n# EOF\n"));

        let (sent, hint) = collect(body(Some(&t), "tail\n# EOF\n".into(), true));
        assert_eq!(sent.len() as u64, hint);
        let mut back = String::new();
        flate2::read::MultiGzDecoder::new(&sent[..]).read_to_string(&mut back).unwrap();
        assert_eq!(back, format!("{plain}tail\n# EOF\n"), "the members are one gzip stream");
    }

    #[test]
    fn before_the_first_evaluation_only_the_tail_is_sent() {
        let (sent, hint) = collect(body(None, "# EOF\n".into(), false));
        assert_eq!((sent, hint), (b"# EOF\n".to_vec(), 6));
    }

    #[test]
    fn accept_encoding_is_read_as_http_says() {
        for (header, gzip) in [
            ("gzip", true),
            ("deflate, GZIP;q=0.5", true),
            ("*", true),
            ("gzip;q=0", false),
            ("gzip; q=0.0, identity", false),
            ("identity", false),
            ("", false),
            ("x-gzip-ish", false),
        ] {
            assert_eq!(accepts_gzip(header), gzip, "{header:?}");
        }
    }
}
