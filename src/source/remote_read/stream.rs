//! One remote read request and its streamed answer.
//!
//! The request: a snappy-compressed (block format) `ReadRequest` with one
//! query and `accepted_response_types: [STREAMED_XOR_CHUNKS]`, `POST`ed to
//! `/api/v1/read`. The answer (`application/x-streamed-protobuf;
//! proto=prometheus.ChunkedReadResponse`) is a sequence of frames: a uvarint
//! length, the CRC32 (Castagnoli) of the message, big-endian, and the
//! message (not compressed). A series may span several frames in a row.
//!
//! Retried like a query (connection errors, 5xx, 429), the piece read again
//! from the start; a stream that breaks after its start, a bad checksum or
//! an undecodable chunk fails the piece.

use super::digest::{Digest, Part, Windows};
use super::proto::{self, ChunkedReadResponse, LabelMatcher, ReadRequest};
use super::xor;
use crate::source::answer::{Labels, SourceError};
use crate::source::prometheus::Client;
use crate::source::redact::redact_url;
use chrono::{DateTime, Utc};
use prost::Message;

/// Largest frame accepted (Prometheus writes frames of about 1 MB).
const MAX_FRAME: usize = 64 << 20;

/// A piece read: its digest and the samples decoded (in and out of it).
pub struct Piece {
    pub digest: Digest,
    pub decoded: u64,
}

pub enum PieceError {
    /// The server has no remote read.
    Unsupported(String),
    Failed(SourceError),
}

/// How a piece's request shows in the query log: the selector and the
/// milliseconds asked for.
pub fn describe(selector: &str, part: &Part) -> String {
    let at = |ms| DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default();
    format!("remote read {} ({}, {}]", selector.trim(), at(part.request.0), at(part.request.1))
}

/// Read `part` of the series `matchers` select.
pub async fn read_piece(
    client: &Client,
    selector: &str,
    matchers: &[LabelMatcher],
    windows: &Windows,
    part: Part,
) -> Result<Piece, PieceError> {
    let Some(http) = client.http() else {
        return Err(PieceError::Failed(SourceError::Config("remote read needs a live Prometheus".into())));
    };
    let config = client.config();
    let url = format!("{}/api/v1/read", config.base_url);
    let request = ReadRequest {
        queries: vec![proto::Query {
            // Chunks overlapping [start, end] come back whole; samples
            // outside the windows are not counted.
            start_timestamp_ms: part.request.0 + 1,
            end_timestamp_ms: part.request.1,
            matchers: matchers.to_vec(),
        }],
        accepted_response_types: vec![proto::STREAMED_XOR_CHUNKS],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .map_err(|e| PieceError::Failed(SourceError::Config(format!("snappy: {e}"))))?;
    let what = describe(selector, &part);
    let mut attempt = 1;
    loop {
        match attempt_piece(http, &url, &body, windows, &part, &what, attempt).await {
            Err(Attempt::Retry(e)) if attempt < config.max_attempts => {
                tracing::debug!(attempt, error = %e, "retrying remote read");
                attempt += 1;
                tokio::time::sleep(config.delay_before(attempt)).await;
            }
            Err(Attempt::Retry(e) | Attempt::Final(e)) => return Err(PieceError::Failed(e)),
            Err(Attempt::Unsupported(why)) => return Err(PieceError::Unsupported(why)),
            Ok(p) => return Ok(p),
        }
    }
}

enum Attempt {
    Retry(SourceError),
    Final(SourceError),
    Unsupported(String),
}

async fn attempt_piece(
    http: &reqwest::Client,
    url: &str,
    body: &[u8],
    windows: &Windows,
    part: &Part,
    what: &str,
    attempt: u32,
) -> Result<Piece, Attempt> {
    let connection = |e: reqwest::Error| SourceError::Connection {
        url: redact_url(url),
        query: what.to_string(),
        attempts: attempt,
        message: crate::error_chain(&e.without_url()),
    };
    let mut response = http
        .post(url)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Read-Version", "0.1.0")
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| Attempt::Retry(connection(e)))?;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if status != 200 {
        let text = response.text().await.unwrap_or_default();
        let text = text.chars().take(300).collect::<String>();
        if matches!(status, 400 | 404 | 405 | 501) {
            return Err(Attempt::Unsupported(format!("{url} answered HTTP {status}: {}", text.trim())));
        }
        let err = SourceError::Server {
            query: what.to_string(),
            status,
            attempts: attempt,
            error_type: "remote_read".into(),
            error: text,
        };
        return Err(if status == 429 || status >= 500 { Attempt::Retry(err) } else { Attempt::Final(err) });
    }
    if !content_type.starts_with("application/x-streamed-protobuf") {
        return Err(Attempt::Unsupported(format!("{url} answered `{content_type}`, not streamed XOR chunks")));
    }
    let bad = |message: String| Attempt::Final(SourceError::Decode { query: what.to_string(), message });
    let mut frames = Frames::default();
    let mut series = SeriesBuffer::new(windows, part);
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            Attempt::Final(SourceError::Decode {
                query: what.to_string(),
                message: format!("the stream broke: {}", crate::error_chain(&e.without_url())),
            })
        })?;
        let Some(chunk) = chunk else { break };
        frames.buf.extend_from_slice(&chunk);
        while let Some(frame) = frames.next().map_err(&bad)? {
            let message = ChunkedReadResponse::decode(frame.as_slice()).map_err(|e| bad(format!("bad frame: {e}")))?;
            for s in message.chunked_series {
                series.push(s).map_err(&bad)?;
            }
        }
    }
    if !frames.buf.is_empty() {
        return Err(bad(format!("the stream ends inside a frame ({} bytes left)", frames.buf.len())));
    }
    Ok(series.finish())
}

/// Frames cut from the bytes received so far.
#[derive(Default)]
struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    /// The next whole frame's message (checksum verified), or `None` until
    /// more bytes arrive.
    fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
        let mut len: u64 = 0;
        let mut head = 0;
        loop {
            let Some(&b) = self.buf.get(head) else { return Ok(None) };
            if head == 10 {
                return Err("bad frame length".into());
            }
            len |= u64::from(b & 0x7f) << (7 * head);
            head += 1;
            if b < 0x80 {
                break;
            }
        }
        let len = len as usize;
        if len > MAX_FRAME {
            return Err(format!("a frame of {len} bytes (at most {MAX_FRAME})"));
        }
        if self.buf.len() < head + 4 + len {
            return Ok(None);
        }
        let crc = u32::from_be_bytes(self.buf[head..head + 4].try_into().expect("4 bytes"));
        let message = self.buf[head + 4..head + 4 + len].to_vec();
        if crc32c::crc32c(&message) != crc {
            return Err("a frame's CRC32 does not match its bytes".into());
        }
        self.buf.drain(..head + 4 + len);
        Ok(Some(message))
    }
}

/// The samples of the series being received (a series may span frames).
struct SeriesBuffer<'a> {
    windows: &'a Windows,
    part: &'a Part,
    labels: Option<Labels>,
    samples: Vec<(i64, f64)>,
    digest: Digest,
    decoded: u64,
}

impl<'a> SeriesBuffer<'a> {
    fn new(windows: &'a Windows, part: &'a Part) -> Self {
        SeriesBuffer { windows, part, labels: None, samples: vec![], digest: Digest::default(), decoded: 0 }
    }

    fn push(&mut self, s: proto::ChunkedSeries) -> Result<(), String> {
        let labels: Labels = s.labels.into_iter().map(|l| (l.name, l.value)).collect();
        if self.labels.as_ref() != Some(&labels) {
            self.flush();
            self.labels = Some(labels);
        }
        for c in s.chunks {
            if c.r#type != proto::XOR {
                return Err(format!("a chunk of encoding {} (only XOR floats are read)", c.r#type));
            }
            let n = xor::decode(&c.data, |t, v| self.samples.push((t, v))).map_err(|e| e.to_string())?;
            self.decoded += n as u64;
        }
        Ok(())
    }

    fn flush(&mut self) {
        if let Some(labels) = self.labels.take() {
            self.samples.sort_by_key(|(t, _)| *t);
            self.digest.add(self.windows, labels, &mut self.samples, self.part);
            self.samples.clear();
        }
    }

    fn finish(mut self) -> Piece {
        self.flush();
        Piece { digest: self.digest, decoded: self.decoded }
    }
}
