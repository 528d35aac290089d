//! The listener: plain HTTP, or HTTPS with the TLS settings of the web
//! config as it is at each handshake; every route wrapped in the config's
//! headers and basic authentication.

use super::live::WebConfig;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Time a client has to start and finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Wrap every route: the configured headers on every answer, basic
/// authentication when users are configured, 500 while the file is broken.
pub fn protect(router: Router, web: Arc<WebConfig>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(web, guard))
}

async fn guard(State(web): State<Arc<WebConfig>>, request: Request, next: Next) -> Response {
    // A few small files read in place (no spawn_blocking): cheaper than
    // the hop to a blocking thread, and what exporter-toolkit does per request.
    let loaded = match web.current() {
        Ok(l) => l,
        Err(_) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: the web config file is invalid (see the log).\n",
            )
                .into_response();
        }
    };
    let mut response = if loaded.users.is_empty()
        || web.authorized(&loaded, request.headers().get(header::AUTHORIZATION)).await
    {
        next.run(request).await
    } else {
        let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"fleet-incentives\""));
        r
    };
    add_headers(response.headers_mut(), &loaded.headers);
    response
}

fn add_headers(map: &mut HeaderMap, headers: &[(HeaderName, HeaderValue)]) {
    for (name, value) in headers {
        map.insert(name.clone(), value.clone());
    }
}

/// Serve `app` on `listener` until `shutdown`: plain HTTP without a web
/// config or with one without TLS, else HTTPS (rustls).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    web: Option<Arc<WebConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Some(web) = web else {
        return axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    };
    let app = protect(app, web.clone());
    if !web.tls() {
        return axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let (web, app, stop) = (web.clone(), app.clone(), stop_rx.clone());
        tokio::spawn(async move {
            if let Err(e) = tls_connection(tcp, app, &web, stop).await {
                tracing::debug!(%peer, error = %e, "TLS connection ended with an error");
            }
        });
    }
    // Graceful: open connections finish their request, then close; wait
    // until every connection task has dropped its receiver.
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    Ok(())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn tls_connection(
    tcp: tokio::net::TcpStream,
    app: Router,
    web: &WebConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), BoxError> {
    let _ = tcp.set_nodelay(true);
    // A TLS connection starts with a handshake record (0x16). Anything else
    // is most likely plain HTTP: say so, as Go's servers do, and close.
    let mut first = [0u8; 1];
    let n = tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await??;
    if n == 0 {
        return Ok(());
    }
    if first[0] != 0x16 {
        let mut tcp = tcp;
        let _ = tcp
            .write_all(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
            .await;
        let _ = tcp.shutdown().await;
        return Err("plain HTTP on the HTTPS port".into());
    }
    let Some(config) = web.current()?.tls.clone() else { return Err("no TLS config".into()) };
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_rustls::TlsAcceptor::from(config).accept(tcp)).await??;
    let service = hyper_util::service::TowerToHyperService::new(app);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(hyper_util::rt::TokioIo::new(tls), service);
    tokio::pin!(connection);
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::select! {
        result = connection.as_mut() => return Ok(result?),
        _ = stopping => {}
    }
    connection.as_mut().graceful_shutdown();
    Ok(connection.await?)
}
