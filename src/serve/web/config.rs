//! Loading a web config: the file read, parsed and checked as a whole
//! (users, headers, TLS), into what requests and handshakes use.

use super::auth::check_users;
use super::spec::{Errors, FileSpec, Redacted, WebConfigError};
use super::tls::tls_config;
use axum::http::{HeaderName, HeaderValue, header};
use serde_saphyr::{MessageFormatter, Spanned};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;

/// Largest web config file accepted, in bytes.
const MAX_FILE_BYTES: usize = 1 << 20;

/// A loaded, checked web config: what requests and handshakes use.
pub struct Loaded {
    /// The bytes of the config file and of every file it names, as loaded:
    /// the next request compares them to see whether anything changed.
    pub(super) inputs: Vec<(PathBuf, Vec<u8>)>,
    /// user → bcrypt hash.
    pub(super) users: BTreeMap<String, Redacted>,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) tls: Option<Arc<rustls::ServerConfig>>,
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("files", &self.inputs.iter().map(|(p, _)| p).collect::<Vec<_>>())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Loaded {
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// Whether the files it was loaded from are still byte for byte the same.
    pub(super) fn unchanged(&self) -> bool {
        self.inputs.iter().all(|(path, bytes)| std::fs::read(path).is_ok_and(|now| &now == bytes))
    }
}

fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 100_000;
    budget.max_aliases = 100;
    budget.max_anchors = 100;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options
}

/// Read, parse and check the web config at `path` and the files it names.
pub fn load(path: &Path) -> Result<Loaded, WebConfigError> {
    let fail = |errors| WebConfigError { file: path.to_path_buf(), errors };
    let bytes = std::fs::read(path).map_err(|e| fail(vec![(0, 0, format!("cannot read: {e}"))]))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(fail(vec![(0, 0, format!("file is {} bytes; limited to {MAX_FILE_BYTES}", bytes.len()))]));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| fail(vec![(0, 0, format!("not UTF-8: {e}"))]))?;
    let blank = text.lines().map(str::trim).all(|l| l.is_empty() || l.starts_with('#'));
    let spec = if blank {
        FileSpec::default()
    } else {
        serde_saphyr::from_str_with_options::<FileSpec>(text, yaml_options()).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let message: String = serde_saphyr::DefaultMessageFormatter
                .format_message(e.without_snippet())
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            fail(vec![(line, column, message)])
        })?
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut errs = Errors(vec![]);
    let mut inputs = vec![(path.to_path_buf(), bytes.clone())];
    if let Some(r) = &spec.rate_limit {
        errs.at(r, "rate_limit is not supported by fleet-incentives (put a reverse proxy in front to limit requests)");
    }
    let users = check_users(&spec, &mut errs);
    let headers = check_headers(&spec, &mut errs);
    let tls = match &spec.tls_server_config {
        Some(t) if t.enabled() => tls_config(t, dir, &mut inputs, &mut errs),
        Some(t) => {
            if let Some(s) = &t.client_allowed_sans {
                errs.at(s, "client_allowed_sans is not supported by fleet-incentives");
            }
            None
        }
        None => None,
    };
    if errs.0.is_empty() {
        Ok(Loaded { inputs, users, headers, tls })
    } else {
        errs.0.sort();
        Err(fail(errs.0))
    }
}

fn check_headers(spec: &FileSpec, errs: &mut Errors) -> Vec<(HeaderName, HeaderValue)> {
    let Some(h) = spec.http_server_config.as_ref().and_then(|h| h.headers.as_ref()) else { return vec![] };
    type Field<'a> = (&'a Option<Spanned<String>>, HeaderName, &'a [&'a str]);
    let fields: [Field; 5] = [
        (&h.content_security_policy, header::CONTENT_SECURITY_POLICY, &[]),
        (&h.x_frame_options, header::X_FRAME_OPTIONS, &["deny", "sameorigin"]),
        (&h.x_content_type_options, header::X_CONTENT_TYPE_OPTIONS, &["nosniff"]),
        (&h.x_xss_protection, header::X_XSS_PROTECTION, &[]),
        (&h.strict_transport_security, header::STRICT_TRANSPORT_SECURITY, &[]),
    ];
    let mut out = vec![];
    for (value, name, allowed) in fields {
        let Some(value) = value else { continue };
        if value.value.is_empty() {
            continue; // unset if blank, as in exporter-toolkit
        }
        if !allowed.is_empty() && !allowed.contains(&value.value.as_str()) {
            errs.at(value, format!("invalid value for {name}: {:?}, expected one of {allowed:?}", value.value));
            continue;
        }
        match HeaderValue::from_str(&value.value) {
            Ok(v) => out.push((name, v)),
            Err(_) => errs.at(value, format!("{name}: not a valid header value")),
        }
    }
    out
}
