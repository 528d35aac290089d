//! `--web.config.file`: TLS, basic authentication and response headers for
//! `serve`, in the [Prometheus exporter-toolkit format]
//! (<https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md>):
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # paths relative to this file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: clients-ca.crt
//!   min_version: TLS12
//! http_server_config:
//!   headers:
//!     X-Frame-Options: deny
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! **Reload.** Like exporter-toolkit, the file is read again on every new
//! connection (the TLS settings and certificates of its handshake) and on
//! every request (users and headers): a renewed certificate, a new CA or a
//! changed password applies to the next connection or request, without a
//! restart or a signal. The file and the files it names are compared byte
//! for byte with what was loaded last, and parsed and checked again only
//! when something changed. A file that became invalid **fails closed**, as
//! in exporter-toolkit: handshakes are refused and requests answered 500
//! until it is fixed, and the error is logged once per change. Whether the
//! listener speaks TLS at all is decided at start-up: switching between
//! HTTP and HTTPS needs a restart (until then the changed file counts as
//! invalid).
//!
//! **What is protected.** Everything: basic authentication, when
//! `basic_auth_users` is not empty, guards every path, `/-/healthy` and
//! `/-/ready` included, as exporter-toolkit does. The configured headers are
//! added to every answer, 401 included.
//!
//! **Not supported** (rejected with their position, never silently
//! ignored): `client_auth_type` `RequestClientCert` and
//! `RequireAnyClientCert` (they accept any certificate, unverified),
//! `client_allowed_sans`, `rate_limit`, TLS 1.0/1.1 as `max_version`, the
//! TLS 1.2 cipher suites and curves rustls does not implement. HTTP/2 is not
//! offered (`http2` is accepted and has no effect): connections speak
//! HTTP/1.1, which is what Prometheus scrapes with by default.
//!
//! TLS is rustls with the aws-lc-rs provider, the same stack as the HTTP
//! and SMTP clients (no OpenSSL, no ring).

mod auth;
mod config;
mod listener;
mod live;
mod spec;
mod tls;

pub use config::{Loaded, load};
pub use listener::{protect, serve};
pub use live::WebConfig;
pub use spec::{Redacted, WebConfigError};

#[cfg(test)]
mod tests;
