//! The HTTP endpoints of `serve`, named and behaving as in Prometheus:
//!
//! | path | method | answer |
//! |---|---|---|
//! | `/metrics` | GET | OpenMetrics: the last good evaluation + self-metrics |
//! | `/-/healthy` | GET | 200 while the process runs |
//! | `/-/ready` | GET | 200 after the first successful evaluation, else 503 |
//! | `/-/reload` | POST, PUT | reload the rules: 200, or 500 with the errors; 403 without `--web.enable-lifecycle` |

use super::body;
use super::state::{Request, Shared};
use crate::export;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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

/// The evaluation's text as kept (shared, not copied; decompressed on the
/// way for a scraper that does not accept gzip), then the self-metrics and
/// `# EOF` ([`export::exposition`] without an evaluation).
async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let gzip = headers.get_all(header::ACCEPT_ENCODING).iter().any(|v| v.to_str().is_ok_and(body::accepts_gzip));
    let evaluation = shared.evaluation.load_full();
    let tail = export::exposition(None, &shared.self_metrics);
    let body = Body::new(body::body(evaluation.as_deref(), tail, gzip));
    let mut response = ([(header::CONTENT_TYPE, export::CONTENT_TYPE)], body).into_response();
    if gzip {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
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
