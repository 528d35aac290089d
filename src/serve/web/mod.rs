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

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_saphyr::{MessageFormatter, Spanned};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Largest web config file accepted, in bytes.
const MAX_FILE_BYTES: usize = 1 << 20;
/// Time a client has to start and finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Checked for a user that does not exist, so that a wrong user name takes
/// as long as a wrong password (bcrypt of a random password, cost 10).
const DUMMY_HASH: &str = "$2b$10$PddNchXgqwnhRQpQ5jpLauRDO8J/FxKCSgN6NcyFBuyWRW4AooPXW";
/// Verified (user, hash, password) results kept, to spare bcrypt's cost on
/// every scrape; cleared when full.
const VERIFIED_CACHE: usize = 1024;

// ------------------------------------------------------------ the file

/// A string that `Debug` never shows (passwords' hashes, an inline key).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    tls_server_config: Option<TlsSpec>,
    #[serde(default)]
    http_server_config: Option<HttpSpec>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, Spanned<Redacted>>>,
    #[serde(default)]
    rate_limit: Option<Spanned<serde::de::IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSpec {
    cert: Option<Spanned<String>>,
    key: Option<Spanned<Redacted>>,
    client_ca: Option<Spanned<String>>,
    cert_file: Option<Spanned<String>>,
    key_file: Option<Spanned<String>>,
    client_auth_type: Option<Spanned<String>>,
    client_ca_file: Option<Spanned<String>>,
    client_allowed_sans: Option<Spanned<serde::de::IgnoredAny>>,
    min_version: Option<Spanned<String>>,
    max_version: Option<Spanned<String>>,
    cipher_suites: Option<Vec<Spanned<String>>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<Spanned<String>>>,
}

impl TlsSpec {
    /// Any TLS field set (exporter-toolkit's `IsEnabled`).
    fn enabled(&self) -> bool {
        let set = |s: &Option<Spanned<String>>| s.as_ref().is_some_and(|s| !s.value.is_empty());
        set(&self.cert)
            || self.key.as_ref().is_some_and(|k| !k.value.0.is_empty())
            || set(&self.client_ca)
            || set(&self.cert_file)
            || set(&self.key_file)
            || set(&self.client_auth_type)
            || set(&self.client_ca_file)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSpec {
    #[allow(dead_code)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<HeadersSpec>,
}

/// The headers exporter-toolkit lets a file set (no others).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadersSpec {
    #[serde(rename = "Content-Security-Policy")]
    content_security_policy: Option<Spanned<String>>,
    #[serde(rename = "X-Frame-Options")]
    x_frame_options: Option<Spanned<String>>,
    #[serde(rename = "X-Content-Type-Options")]
    x_content_type_options: Option<Spanned<String>>,
    #[serde(rename = "X-XSS-Protection")]
    x_xss_protection: Option<Spanned<String>>,
    #[serde(rename = "Strict-Transport-Security")]
    strict_transport_security: Option<Spanned<String>>,
}

// ------------------------------------------------------------ errors

/// Every problem found in a web config file, each as `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfigError {
    pub file: PathBuf,
    /// `(line, column, message)`; line 0 = the file as a whole.
    pub errors: Vec<(u64, u64, String)>,
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid web config file (--web.config.file):")?;
        for (line, column, message) in &self.errors {
            if *line == 0 {
                write!(f, "\n{}: {message}", self.file.display())?;
            } else {
                write!(f, "\n{}:{line}:{column}: {message}", self.file.display())?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for WebConfigError {}

struct Errors(Vec<(u64, u64, String)>);

impl Errors {
    fn at<T>(&mut self, s: &Spanned<T>, message: impl Into<String>) {
        self.0.push((s.referenced.line(), s.referenced.column(), message.into()));
    }

    fn whole(&mut self, message: impl Into<String>) {
        self.0.push((0, 0, message.into()));
    }
}

// ------------------------------------------------------------ loading

/// A loaded, checked web config: what requests and handshakes use.
pub struct Loaded {
    /// The bytes of the config file and of every file it names, as loaded:
    /// the next request compares them to see whether anything changed.
    inputs: Vec<(PathBuf, Vec<u8>)>,
    /// user → bcrypt hash.
    users: BTreeMap<String, Redacted>,
    headers: Vec<(HeaderName, HeaderValue)>,
    tls: Option<Arc<rustls::ServerConfig>>,
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
    fn unchanged(&self) -> bool {
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

fn check_users(spec: &FileSpec, errs: &mut Errors) -> BTreeMap<String, Redacted> {
    let mut users = BTreeMap::new();
    for (user, hash) in spec.basic_auth_users.iter().flatten() {
        if user.contains(':') {
            errs.at(hash, format!("user {user:?}: a user name cannot contain ':' (basic authentication splits at it)"));
        }
        match hash.value.0.parse::<bcrypt::HashParts>() {
            Ok(_) => {
                users.insert(user.clone(), hash.value.clone());
            }
            Err(e) => errs.at(
                hash,
                format!("user {user:?}: not a bcrypt hash ({e}); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"),
            ),
        }
    }
    users
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

/// Read a file named by the config (relative to the config's directory),
/// remembering its bytes for the change check.
fn read_named(
    dir: &Path,
    field: &str,
    name: &Spanned<String>,
    inputs: &mut Vec<(PathBuf, Vec<u8>)>,
    errs: &mut Errors,
) -> Option<Vec<u8>> {
    let path = dir.join(&name.value);
    match std::fs::read(&path) {
        Ok(bytes) => {
            inputs.push((path, bytes.clone()));
            Some(bytes)
        }
        Err(e) => {
            errs.at(name, format!("{field}: cannot read {}: {e}", path.display()));
            None
        }
    }
}

/// PEM from exactly one of an inline field and a file field.
fn pem_source(
    dir: &Path,
    inline: Option<(&str, &Spanned<String>)>,
    file: Option<(&str, &Spanned<String>)>,
    inputs: &mut Vec<(PathBuf, Vec<u8>)>,
    errs: &mut Errors,
) -> Option<(Vec<u8>, (u64, u64), String)> {
    let inline = inline.filter(|(_, s)| !s.value.is_empty());
    let file = file.filter(|(_, s)| !s.value.is_empty());
    let pos = |s: &Spanned<String>| (s.referenced.line(), s.referenced.column());
    match (inline, file) {
        (Some((a, s)), Some((b, _))) => {
            errs.at(s, format!("{a} and {b} are both set; give one of them"));
            None
        }
        (Some((a, s)), None) => Some((s.value.clone().into_bytes(), pos(s), a.to_string())),
        (None, Some((b, s))) => read_named(dir, b, s, inputs, errs).map(|bytes| (bytes, pos(s), b.to_string())),
        (None, None) => None,
    }
}

fn version(s: &Spanned<String>, errs: &mut Errors) -> Option<u8> {
    match s.value.as_str() {
        "TLS10" => Some(10),
        "TLS11" => Some(11),
        "TLS12" => Some(12),
        "TLS13" => Some(13),
        other => {
            errs.at(s, format!("unknown TLS version {other:?}, expected TLS10, TLS11, TLS12 or TLS13"));
            None
        }
    }
}

fn tls_config(
    t: &TlsSpec,
    dir: &Path,
    inputs: &mut Vec<(PathBuf, Vec<u8>)>,
    errs: &mut Errors,
) -> Option<Arc<rustls::ServerConfig>> {
    let before = errs.0.len();
    let key_inline = t.key.as_ref().map(|k| Spanned::new(k.value.0.clone(), k.referenced, k.defined));
    let cert = pem_source(
        dir,
        t.cert.as_ref().map(|s| ("cert", s)),
        t.cert_file.as_ref().map(|s| ("cert_file", s)),
        inputs,
        errs,
    );
    let key = pem_source(
        dir,
        key_inline.as_ref().map(|s| ("key", s)),
        t.key_file.as_ref().map(|s| ("key_file", s)),
        inputs,
        errs,
    );
    let ca = pem_source(
        dir,
        t.client_ca.as_ref().map(|s| ("client_ca", s)),
        t.client_ca_file.as_ref().map(|s| ("client_ca_file", s)),
        inputs,
        errs,
    );
    if cert.is_none() && errs.0.len() == before {
        errs.whole("tls_server_config: missing one of cert or cert_file");
    }
    if key.is_none() && errs.0.len() == before {
        errs.whole("tls_server_config: missing one of key or key_file");
    }
    let at = |errs: &mut Errors, pos: (u64, u64), m: String| errs.0.push((pos.0, pos.1, m));

    // Certificate chain and key.
    let chain: Option<Vec<CertificateDer<'static>>> = cert.and_then(|(bytes, pos, field)| {
        match CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>() {
            Ok(c) if !c.is_empty() => Some(c),
            Ok(_) => {
                at(errs, pos, format!("{field}: no PEM certificate found"));
                None
            }
            Err(e) => {
                at(errs, pos, format!("{field}: not a PEM certificate: {e}"));
                None
            }
        }
    });
    let key: Option<(PrivateKeyDer<'static>, (u64, u64))> =
        key.and_then(|(bytes, pos, field)| match PrivateKeyDer::from_pem_slice(&bytes) {
            Ok(k) => Some((k, pos)),
            Err(e) => {
                // Never the key's text in a message.
                at(errs, pos, format!("{field}: no usable PEM private key ({})", pem_error_kind(&e)));
                None
            }
        });

    // Client authentication.
    let auth = t.client_auth_type.as_ref();
    let auth_name = auth.map_or("NoClientCert", |a| if a.value.is_empty() { "NoClientCert" } else { &a.value });
    let mut verify = None; // Some(allow_unauthenticated)
    match auth_name {
        "NoClientCert" => {}
        "VerifyClientCertIfGiven" => verify = Some(true),
        "RequireAndVerifyClientCert" => verify = Some(false),
        "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => errs.at(
            auth.expect("named"),
            format!(
                "client_auth_type {auth_name} accepts client certificates without verifying them and is not \
                 supported; use RequireAndVerifyClientCert with client_ca_file"
            ),
        ),
        other => errs.at(
            auth.expect("named"),
            format!(
                "unknown client_auth_type {other:?}, expected NoClientCert, VerifyClientCertIfGiven or \
                 RequireAndVerifyClientCert"
            ),
        ),
    }
    let roots = match (&ca, verify) {
        (Some((_, pos, field)), None) if auth_name == "NoClientCert" => {
            at(errs, *pos, format!("{field} is set without a client_auth_type: set RequireAndVerifyClientCert"));
            None
        }
        (None, Some(_)) => {
            errs.at(auth.expect("set"), format!("client_auth_type {auth_name} needs client_ca_file (or client_ca)"));
            None
        }
        (Some((bytes, pos, field)), Some(_)) => {
            let mut roots = rustls::RootCertStore::empty();
            let mut n = 0;
            for c in CertificateDer::pem_slice_iter(bytes) {
                match c.map_err(|e| e.to_string()).and_then(|c| roots.add(c).map_err(|e| e.to_string())) {
                    Ok(()) => n += 1,
                    Err(e) => at(errs, *pos, format!("{field}: not a usable CA certificate: {e}")),
                }
            }
            if n == 0 {
                at(errs, *pos, format!("{field}: no CA certificate found"));
            }
            Some(roots)
        }
        _ => None,
    };
    if let Some(s) = &t.client_allowed_sans {
        errs.at(s, "client_allowed_sans is not supported by fleet-incentives");
    }

    // Versions, cipher suites, curves.
    let min = t.min_version.as_ref().and_then(|v| version(v, errs)).unwrap_or(12);
    let max = t.max_version.as_ref().and_then(|v| version(v, errs)).unwrap_or(13);
    if max < 12 {
        errs.at(
            t.max_version.as_ref().expect("set"),
            "rustls speaks TLS 1.2 and 1.3 only: max_version must be TLS12 or TLS13",
        );
    } else if min > max {
        errs.at(t.min_version.as_ref().expect("set"), "min_version is above max_version");
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min.max(12)..=max).contains(v))
            .map(|(_, p)| p)
            .collect();
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(names) = &t.cipher_suites {
        // As in Go: the list orders the TLS 1.2 suites; TLS 1.3's are always on.
        let all = rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES;
        let mut suites: Vec<_> = all.iter().filter(|s| s.version() == &rustls::version::TLS13).copied().collect();
        for n in names {
            let name =
                n.value.replace("CHACHA20_POLY1305", "CHACHA20_POLY1305_SHA256").replace("SHA256_SHA256", "SHA256");
            match all.iter().find(|s| s.version() == &rustls::version::TLS12 && s.suite().as_str() == Some(&name)) {
                Some(s) => suites.push(*s),
                None => errs.at(n, format!("cipher suite {:?} is not offered by rustls (TLS 1.2: ECDHE with AES-GCM or ChaCha20-Poly1305 only)", n.value)),
            }
        }
        provider.cipher_suites = suites;
    }
    if let Some(names) = &t.curve_preferences {
        use rustls::crypto::aws_lc_rs::kx_group;
        let mut groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup> = vec![];
        for n in names {
            match n.value.as_str() {
                "X25519" => groups.push(kx_group::X25519),
                "CurveP256" => groups.push(kx_group::SECP256R1),
                "CurveP384" => groups.push(kx_group::SECP384R1),
                "X25519MLKEM768" => groups.push(kx_group::X25519MLKEM768),
                other => errs.at(
                    n,
                    format!(
                        "curve {other:?} is not supported, expected X25519, CurveP256, CurveP384 or X25519MLKEM768"
                    ),
                ),
            }
        }
        provider.kx_groups = groups;
    }
    if errs.0.len() > before {
        return None;
    }
    let (Some(chain), Some((key, key_pos))) = (chain, key) else { return None };
    let provider = Arc::new(provider);
    let builder = match rustls::ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(&versions)
    {
        Ok(b) => b,
        Err(e) => {
            errs.whole(format!("tls_server_config: {e}"));
            return None;
        }
    };
    let builder = match (roots, verify) {
        (Some(roots), Some(allow_unauthenticated)) => {
            let mut v = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if allow_unauthenticated {
                v = v.allow_unauthenticated();
            }
            match v.build() {
                Ok(v) => builder.with_client_cert_verifier(v),
                Err(e) => {
                    errs.whole(format!("client CA: {e}"));
                    return None;
                }
            }
        }
        _ => builder.with_no_client_auth(),
    };
    match builder.with_single_cert(chain, key) {
        Ok(mut config) => {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
            Some(Arc::new(config))
        }
        Err(e) => {
            at(errs, key_pos, format!("certificate and key do not make a usable pair: {e}"));
            None
        }
    }
}

/// What kind of PEM problem, without any of the text.
fn pem_error_kind(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::NoItemsFound => "no PRIVATE KEY section found",
        E::MissingSectionEnd { .. } | E::IllegalSectionStart { .. } => "a broken PEM section",
        E::Base64Decode(_) => "bad base64",
        _ => "unreadable",
    }
}

// ------------------------------------------------------------ the live config

/// The web config of a running `serve`: loaded at start, checked again on
/// each connection and request (see the module docs).
pub struct WebConfig {
    path: PathBuf,
    /// TLS at start-up: fixed for the life of the listener.
    tls: bool,
    state: Mutex<LiveState>,
    /// sha256(user, hash, password) → verified.
    verified: Mutex<HashMap<[u8; 32], bool>>,
    /// One bcrypt at a time (it is meant to be slow: CPU).
    bcrypt: Arc<Mutex<()>>,
}

struct LiveState {
    loaded: Arc<Loaded>,
    /// The error the file has now, if it is broken (logged once per change).
    broken: Option<WebConfigError>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WebConfig {
    /// Load at start: an invalid file is an error (serve exits 2).
    pub fn open(path: &Path) -> Result<Arc<WebConfig>, WebConfigError> {
        let loaded = load(path)?;
        Ok(Arc::new(WebConfig {
            path: path.to_path_buf(),
            tls: loaded.tls.is_some(),
            state: Mutex::new(LiveState { loaded: Arc::new(loaded), broken: None }),
            verified: Mutex::new(HashMap::new()),
            bcrypt: Arc::new(Mutex::new(())),
        }))
    }

    pub fn tls(&self) -> bool {
        self.tls
    }

    pub fn current_users(&self) -> usize {
        lock(&self.state).loaded.users()
    }

    /// The config as the files are now: the last one if nothing changed,
    /// else loaded again; an error while the file is broken (fail closed).
    pub fn current(&self) -> Result<Arc<Loaded>, WebConfigError> {
        let mut state = lock(&self.state);
        if state.broken.is_none() && state.loaded.unchanged() {
            return Ok(state.loaded.clone());
        }
        let result = load(&self.path).and_then(|l| {
            if l.tls.is_some() == self.tls {
                Ok(l)
            } else {
                let now = if self.tls { "no longer configures TLS" } else { "now configures TLS" };
                Err(WebConfigError {
                    file: self.path.clone(),
                    errors: vec![(0, 0, format!("{now}; restart serve to switch between HTTP and HTTPS"))],
                })
            }
        });
        match result {
            Ok(loaded) => {
                if state.broken.take().is_some() {
                    tracing::info!(file = %self.path.display(), "web config is valid again: serving");
                }
                tracing::info!(file = %self.path.display(), tls = loaded.tls(), users = loaded.users(), "web config reloaded");
                state.loaded = Arc::new(loaded);
                Ok(state.loaded.clone())
            }
            Err(e) => {
                if state.broken.as_ref() != Some(&e) {
                    for line in e.to_string().lines() {
                        tracing::error!(error = %line, "web config reload failed: refusing connections and requests until it is fixed");
                    }
                    state.broken = Some(e.clone());
                }
                Err(e)
            }
        }
    }

    /// Whether `authorization` carries a user and password of `loaded`.
    async fn authorized(&self, loaded: &Loaded, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(basic_credentials) else { return false };
        let known = loaded.users.get(&user);
        let hash = known.map_or(DUMMY_HASH, |h| h.0.as_str()).to_string();
        let key: [u8; 32] = {
            let mut h = Sha256::new();
            for part in [user.as_bytes(), hash.as_bytes(), password.as_bytes()] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
            h.finalize().into()
        };
        let cached = lock(&self.verified).get(&key).copied();
        let ok = match cached {
            Some(ok) => ok,
            None => {
                let guard = self.bcrypt.clone();
                let ok = tokio::task::spawn_blocking(move || {
                    let _one_at_a_time = lock(&guard);
                    bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
                })
                .await
                .unwrap_or(false);
                let mut cache = lock(&self.verified);
                if cache.len() >= VERIFIED_CACHE {
                    cache.clear();
                }
                cache.insert(key, ok);
                ok
            }
        };
        ok && known.is_some()
    }
}

/// `Basic base64(user:password)` → (user, password).
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = value.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

// ------------------------------------------------------------ HTTP

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

#[cfg(test)]
mod tests;
