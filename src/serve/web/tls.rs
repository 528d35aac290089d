//! `tls_server_config` → a rustls server config: the certificate and key,
//! client certificates against a CA, versions, cipher suites and curves
//! (aws-lc-rs provider). The files it names are read relative to the web
//! config file and remembered for the change check.

use super::spec::{Errors, TlsSpec};
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

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

pub(super) fn tls_config(
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
