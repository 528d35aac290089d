//! The HTTP endpoints of `serve`, named and behaving as in Prometheus:
//!
//! | path | method | answer |
//! |---|---|---|
//! | `/metrics` | GET | OpenMetrics: the last good evaluation + self-metrics |
//! | `/-/healthy` | GET | 200 while the process runs |
//! | `/-/ready` | GET | 200 after the first successful evaluation, else 503 |
//! | `/-/reload` | POST, PUT | reload the rules: 200, or 500 with the errors; 403 without `--web.enable-lifecycle` |

use super::state::{Request, Shared};
use crate::export;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(ready))
        .route("/-/reload", axum::routing::post(reload).put(reload))
        .with_state(shared)
}

async fn index() -> impl IntoResponse {
    "fleet-incentives serve\n\n/metrics     month-to-date results and self-metrics (OpenMetrics)\n/-/healthy   liveness\n/-/ready     readiness (after the first evaluation)\n/-/reload    POST: reload the rules (needs --web.enable-lifecycle)\n"
}

/// The evaluation's pieces as they are (shared, not copied), then the
/// self-metrics and `# EOF` ([`export::exposition`] without an evaluation).
async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut pieces: VecDeque<Bytes> =
        shared.evaluation.load_full().map(|e| e.iter().cloned().collect()).unwrap_or_default();
    pieces.push_back(Bytes::from(export::exposition(None, &shared.self_metrics)));
    ([(header::CONTENT_TYPE, export::CONTENT_TYPE)], Body::new(Pieces::new(pieces))).into_response()
}

/// A body of pieces sent one after the other, its length known up front
/// (a `Content-Length`, as for one buffer).
struct Pieces {
    pieces: VecDeque<Bytes>,
    left: u64,
}

impl Pieces {
    fn new(pieces: VecDeque<Bytes>) -> Self {
        let left = pieces.iter().map(|p| p.len() as u64).sum();
        Pieces { pieces, left }
    }
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = self.pieces.pop_front();
        if let Some(p) = &next {
            self.left -= p.len() as u64;
        }
        std::task::Poll::Ready(next.map(|p| Ok(http_body::Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    if shared.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Not ready: no evaluation has succeeded yet.\n").into_response()
    }
}

async fn reload(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.lifecycle {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled (start with --web.enable-lifecycle).\n")
            .into_response();
    }
    let (done, answer) = oneshot::channel();
    if shared.requests.send(Request::Reload(done)).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match answer.await {
        Ok(Ok(())) => (StatusCode::OK, "Rules reloaded.\n").into_response(),
        Ok(Err(e)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload rules, the old rules stay:\n{e}\n"))
                .into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}
