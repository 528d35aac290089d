//! The web config file's schema (serde structs mirroring the YAML, exactly
//! the fields exporter-toolkit knows) and its errors, each with a position.

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

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
pub(super) struct FileSpec {
    #[serde(default)]
    pub(super) tls_server_config: Option<TlsSpec>,
    #[serde(default)]
    pub(super) http_server_config: Option<HttpSpec>,
    #[serde(default)]
    pub(super) basic_auth_users: Option<BTreeMap<String, Spanned<Redacted>>>,
    #[serde(default)]
    pub(super) rate_limit: Option<Spanned<serde::de::IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsSpec {
    pub(super) cert: Option<Spanned<String>>,
    pub(super) key: Option<Spanned<Redacted>>,
    pub(super) client_ca: Option<Spanned<String>>,
    pub(super) cert_file: Option<Spanned<String>>,
    pub(super) key_file: Option<Spanned<String>>,
    pub(super) client_auth_type: Option<Spanned<String>>,
    pub(super) client_ca_file: Option<Spanned<String>>,
    pub(super) client_allowed_sans: Option<Spanned<serde::de::IgnoredAny>>,
    pub(super) min_version: Option<Spanned<String>>,
    pub(super) max_version: Option<Spanned<String>>,
    pub(super) cipher_suites: Option<Vec<Spanned<String>>>,
    pub(super) prefer_server_cipher_suites: Option<bool>,
    pub(super) curve_preferences: Option<Vec<Spanned<String>>>,
}

impl TlsSpec {
    /// Any TLS field set (exporter-toolkit's `IsEnabled`).
    pub(super) fn enabled(&self) -> bool {
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
pub(super) struct HttpSpec {
    #[allow(dead_code)]
    pub(super) http2: Option<bool>,
    #[serde(default)]
    pub(super) headers: Option<HeadersSpec>,
}

/// The headers exporter-toolkit lets a file set (no others).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeadersSpec {
    #[serde(rename = "Content-Security-Policy")]
    pub(super) content_security_policy: Option<Spanned<String>>,
    #[serde(rename = "X-Frame-Options")]
    pub(super) x_frame_options: Option<Spanned<String>>,
    #[serde(rename = "X-Content-Type-Options")]
    pub(super) x_content_type_options: Option<Spanned<String>>,
    #[serde(rename = "X-XSS-Protection")]
    pub(super) x_xss_protection: Option<Spanned<String>>,
    #[serde(rename = "Strict-Transport-Security")]
    pub(super) strict_transport_security: Option<Spanned<String>>,
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

pub(super) struct Errors(pub(super) Vec<(u64, u64, String)>);

impl Errors {
    pub(super) fn at<T>(&mut self, s: &Spanned<T>, message: impl Into<String>) {
        self.0.push((s.referenced.line(), s.referenced.column(), message.into()));
    }

    pub(super) fn whole(&mut self, message: impl Into<String>) {
        self.0.push((0, 0, message.into()));
    }
}
