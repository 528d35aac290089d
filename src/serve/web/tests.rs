use super::auth::{DUMMY_HASH, basic_credentials};
use super::spec::FileSpec;
use super::{WebConfig, load};
use axum::http::HeaderValue;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::path::PathBuf;

/// A CA and a server certificate for `localhost`, as PEM: (ca, cert, key).
fn pki() -> (String, String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "test CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A directory with `web.yml` = `yaml` and the PKI files `ca.crt`,
/// `server.crt`, `server.key`.
fn dir_with(yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pki();
    std::fs::write(dir.path().join("ca.crt"), ca).unwrap();
    std::fs::write(dir.path().join("server.crt"), cert).unwrap();
    std::fs::write(dir.path().join("server.key"), key).unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, yaml).unwrap();
    (dir, path)
}

fn errors(yaml: &str) -> String {
    let (_dir, path) = dir_with(yaml);
    let e = load(&path).expect_err("should be rejected");
    e.to_string().replace(&path.display().to_string(), "web.yml")
}

const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

#[test]
fn an_unknown_field_is_rejected_with_its_line_and_column() {
    let e = errors("tls_server_config:\n  cert_file: server.crt\n  key_fil: server.key\n");
    assert!(e.contains("web.yml:3:3: unknown field `key_fil`"), "{e}");
    let e = errors("basic_auth_users: {}\ntls_config: {}\n");
    assert!(e.contains("web.yml:2:1: unknown field `tls_config`"), "{e}");
}

#[test]
fn only_the_exporter_toolkit_headers_with_their_allowed_values() {
    let e = errors("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
    assert!(e.contains("web.yml:3:22: invalid value for x-frame-options"), "{e}");
    let e = errors("http_server_config:\n  headers:\n    X-Powered-By: rust\n");
    assert!(e.contains("web.yml:3:5: unknown field `X-Powered-By`"), "{e}");
    let (_d, path) = dir_with(
        "http_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    Content-Security-Policy: \"\"\n",
    );
    let l = load(&path).unwrap();
    let names: Vec<_> = l.headers.iter().map(|(n, v)| format!("{n}: {}", v.to_str().unwrap())).collect();
    assert_eq!(names, ["x-frame-options: deny", "x-content-type-options: nosniff"], "blank = unset");
}

#[test]
fn a_user_without_a_bcrypt_hash_is_rejected_and_the_password_is_never_shown() {
    let e = errors("basic_auth_users:\n  alice: hunter2\n");
    assert!(e.contains("web.yml:2:10: user \"alice\": not a bcrypt hash"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn htpasswd_and_exporter_toolkit_hashes_verify() {
    // exporter-toolkit's own `$2y$` hash of "fakepassword".
    assert!(bcrypt::verify("fakepassword", "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi").unwrap());
    // The example in README (exporter-toolkit's documentation) is well-formed.
    assert!("$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG".parse::<bcrypt::HashParts>().is_ok());
    let parts: bcrypt::HashParts = DUMMY_HASH.parse().unwrap();
    assert_eq!(parts.get_cost(), 10, "the dummy costs what htpasswd -C 10 costs");
}

#[test]
fn basic_credentials_are_parsed_from_the_header() {
    use base64::Engine as _;
    let h = |s: &str| HeaderValue::from_str(s).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss");
    assert_eq!(basic_credentials(&h(&format!("Basic {b64}"))), Some(("alice".into(), "pa:ss".into())));
    assert_eq!(basic_credentials(&h(&format!("basic {b64}"))), Some(("alice".into(), "pa:ss".into())));
    assert_eq!(basic_credentials(&h(&format!("Bearer {b64}"))), None);
    assert_eq!(basic_credentials(&h("Basic !!!")), None);
}

#[test]
fn tls_files_are_read_relative_to_the_config_file() {
    let (_d, path) = dir_with(&format!("{TLS}  min_version: TLS13\n"));
    let l = load(&path).unwrap();
    assert!(l.tls());
    assert_eq!(l.inputs.len(), 3, "config, cert, key");
}

#[test]
fn an_empty_file_means_plain_http_without_authentication() {
    let (_d, path) = dir_with("# nothing yet\n");
    let l = load(&path).unwrap();
    assert!(!l.tls() && l.users() == 0 && l.headers.is_empty());
}

#[test]
fn client_authentication_needs_a_ca_and_only_verifying_modes_are_accepted() {
    let e = errors(&format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n"));
    assert!(e.contains("web.yml:4:21: client_auth_type RequireAndVerifyClientCert needs client_ca_file"), "{e}");
    let e = errors(&format!("{TLS}  client_ca_file: ca.crt\n"));
    assert!(e.contains("web.yml:4:19: client_ca_file is set without a client_auth_type"), "{e}");
    let e = errors(&format!("{TLS}  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca.crt\n"));
    assert!(
        e.contains("web.yml:4:21: client_auth_type RequireAnyClientCert accepts client certificates without verifying"),
        "{e}"
    );
    let e = errors(&format!("{TLS}  client_auth_type: Sometimes\n"));
    assert!(e.contains("unknown client_auth_type \"Sometimes\""), "{e}");
    for mode in ["RequireAndVerifyClientCert", "VerifyClientCertIfGiven"] {
        let (_d, path) = dir_with(&format!("{TLS}  client_auth_type: {mode}\n  client_ca_file: ca.crt\n"));
        assert!(load(&path).unwrap().tls(), "{mode}");
    }
}

#[test]
fn tls_versions_suites_and_curves_are_checked() {
    let e = errors(&format!("{TLS}  max_version: TLS11\n"));
    assert!(e.contains("web.yml:4:16: rustls speaks TLS 1.2 and 1.3 only"), "{e}");
    let e = errors(&format!("{TLS}  min_version: TLS13\n  max_version: TLS12\n"));
    assert!(e.contains("min_version is above max_version"), "{e}");
    let e = errors(&format!("{TLS}  min_version: SSL3\n"));
    assert!(e.contains("unknown TLS version \"SSL3\""), "{e}");
    let e = errors(&format!("{TLS}  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"));
    assert!(e.contains("cipher suite \"TLS_RSA_WITH_AES_128_CBC_SHA\" is not offered by rustls"), "{e}");
    let e = errors(&format!("{TLS}  curve_preferences: [CurveP521]\n"));
    assert!(e.contains("curve \"CurveP521\" is not supported"), "{e}");
    let (_d, path) = dir_with(&format!(
        "{TLS}  min_version: TLS10\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]\n  curve_preferences: [X25519, CurveP256]\n  prefer_server_cipher_suites: false\n"
    ));
    let l = load(&path).unwrap();
    let tls = l.tls.unwrap();
    assert!(!tls.ignore_client_order);
    // TLS 1.3's three, then the two listed TLS 1.2 suites.
    assert_eq!(tls.crypto_provider().cipher_suites.len(), 5);
    assert_eq!(tls.crypto_provider().kx_groups.len(), 2);
}

#[test]
fn broken_certificates_and_keys_are_reported_without_the_key() {
    let (dir, path) = dir_with(TLS);
    let (_, other_cert, _) = pki();
    std::fs::write(dir.path().join("server.crt"), other_cert).unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(e.contains(":3:13: certificate and key do not make a usable pair"), "{e}");
    std::fs::write(dir.path().join("server.key"), "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n").unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(e.contains(":3:13: key_file: no usable PEM private key"), "{e}");
    assert!(!e.contains("c2VjcmV0"), "{e}");
    std::fs::remove_file(dir.path().join("server.crt")).unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(e.contains(":2:14: cert_file: cannot read"), "{e}");
    let e = errors("tls_server_config:\n  cert_file: server.crt\n");
    assert!(e.contains("missing one of key or key_file"), "{e}");
}

#[test]
fn unsupported_exporter_toolkit_options_are_rejected_not_ignored() {
    let e = errors("rate_limit:\n  interval: 1s\n  burst: 10\n");
    assert!(e.contains("web.yml:2:3: rate_limit is not supported"), "{e}");
    let e = errors(&format!("{TLS}  client_allowed_sans: [a]\n"));
    assert!(e.contains("client_allowed_sans is not supported"), "{e}");
}

#[test]
fn debug_output_never_shows_a_hash_or_an_inline_key() {
    let hash = bcrypt::hash("pw", 4).unwrap();
    let yaml = format!("basic_auth_users:\n  alice: {hash}\ntls_server_config:\n  key: SECRETKEYTEXT\n");
    let spec: FileSpec = serde_saphyr::from_str(&yaml).unwrap();
    let shown = format!("{spec:?}");
    assert!(!shown.contains(&hash) && !shown.contains("SECRETKEYTEXT"), "{shown}");
    let (_d, path) = dir_with(&format!("basic_auth_users:\n  alice: {hash}\n"));
    let shown = format!("{:?}", load(&path).unwrap());
    assert!(shown.contains("alice") && !shown.contains(&hash), "{shown}");
}

#[tokio::test]
async fn users_are_picked_up_on_the_next_request_and_a_broken_file_fails_closed() {
    let auth = |user: &str, pw: &str| {
        use base64::Engine as _;
        HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        ))
        .unwrap()
    };
    let (_d, path) = dir_with(&format!("basic_auth_users:\n  alice: {}\n", bcrypt::hash("one", 4).unwrap()));
    let web = WebConfig::open(&path).unwrap();
    let l = web.current().unwrap();
    assert!(web.authorized(&l, Some(&auth("alice", "one"))).await);
    assert!(!web.authorized(&l, Some(&auth("alice", "two"))).await);
    assert!(!web.authorized(&l, Some(&auth("bob", "one"))).await);
    assert!(!web.authorized(&l, None).await);

    std::fs::write(&path, format!("basic_auth_users:\n  alice: {}\n", bcrypt::hash("two", 4).unwrap())).unwrap();
    let l = web.current().unwrap();
    assert!(web.authorized(&l, Some(&auth("alice", "two"))).await);
    assert!(!web.authorized(&l, Some(&auth("alice", "one"))).await);

    std::fs::write(&path, "basic_auth_users:\n  alice: nope\n").unwrap();
    assert!(web.current().is_err(), "a broken file is refused, not the old users kept");
    std::fs::write(&path, TLS).unwrap();
    let e = web.current().unwrap_err().to_string();
    assert!(e.contains("restart serve to switch between HTTP and HTTPS"), "{e}");
}
