//! `serve --web.config.file` through the binary: HTTPS with certificates made
//! here (rcgen, aws-lc-rs), basic authentication with bcrypt hashes, client
//! certificates, and the file re-read without a restart. `serve` runs
//! without a reachable Prometheus (healthy, not ready): enough for what is
//! tested here, which is the listener, not the evaluation.

use crate::common;

use common::serve::Serve;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A certificate authority that signs server and client certificates.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca { issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// (certificate, key) as PEM.
    fn sign(&self, name: &str, sans: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn server(&self) -> (String, String) {
        self.sign("fleet-incentives", &["localhost", "127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth)
    }

    fn client(&self, name: &str) -> (String, String) {
        self.sign(name, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// A directory holding `web.yml` and the files it names.
struct WebDir {
    dir: tempfile::TempDir,
}

impl WebDir {
    fn new() -> WebDir {
        WebDir { dir: tempfile::Builder::new().prefix("fleet-web-").tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write atomically (a rename), as a certificate rotation should.
    fn write(&self, name: &str, text: &str) {
        let tmp = self.path(&format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(tmp, self.path(name)).unwrap();
    }

    fn server_cert(&self, ca: &Ca) {
        let (cert, key) = ca.server();
        self.write("server.crt", &cert);
        self.write("server.key", &key);
    }

    fn config(&self) -> PathBuf {
        self.path("web.yml")
    }
}

const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

fn start(web: &WebDir, extra: &[&str]) -> Serve {
    let dead_prometheus = format!("http://127.0.0.1:{}", common::free_port());
    let flag = format!("--web.config.file={}", web.config().display());
    let mut args = vec![flag.as_str()];
    args.extend_from_slice(extra);
    let mut serve = Serve::start(common::free_port(), &dead_prometheus, Path::new("rules"), &args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", serve.port)).is_err() {
        if let Ok(Some(status)) = serve.child.try_wait() {
            panic!("serve exited ({status}):\n{}", serve.log());
        }
        assert!(Instant::now() < deadline, "serve not listening after 30 s:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    serve
}

/// An HTTPS client (reqwest, rustls) on its own runtime.
struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

/// What came back: status, the headers we look at, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    frame_options: Option<String>,
    body: String,
}

impl Client {
    /// Trusting only `ca` (no system roots), with a client certificate if given.
    fn new(ca: &Ca, identity: Option<(String, String)>) -> Client {
        let mut b = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()])
            .timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(0);
        if let Some((cert, key)) = identity {
            b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
        }
        Client { rt: tokio::runtime::Runtime::new().unwrap(), http: b.build().unwrap() }
    }

    /// For plain HTTP.
    fn plain() -> Client {
        Client { rt: tokio::runtime::Runtime::new().unwrap(), http: reqwest::Client::new() }
    }

    fn request(&self, method: &str, url: &str, auth: Option<(&str, &str)>) -> Result<Answer, String> {
        self.rt.block_on(async {
            let mut r = self.http.request(method.parse().unwrap(), url);
            if let Some((user, password)) = auth {
                r = r.basic_auth(user, Some(password));
            }
            let response = r.send().await.map_err(|e| fleet_incentives::error_chain(&e))?;
            let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
            let (status, www_authenticate, frame_options) =
                (response.status().as_u16(), header("www-authenticate"), header("x-frame-options"));
            let body = response.text().await.map_err(|e| fleet_incentives::error_chain(&e))?;
            Ok(Answer { status, www_authenticate, frame_options, body })
        })
    }

    fn get(&self, serve: &Serve, path: &str, auth: Option<(&str, &str)>) -> Result<Answer, String> {
        self.request("GET", &format!("https://127.0.0.1:{}{path}", serve.port), auth)
    }
}

/// The log without terminal colours.
fn plain_log(serve: &Serve) -> String {
    let mut out = String::new();
    let log = serve.log();
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            while chars.next().is_some_and(|c| !c.is_ascii_alphabetic()) {}
        } else {
            out.push(c);
        }
    }
    out
}

fn hash(password: &str) -> String {
    // Cost 4: the lowest bcrypt allows, to keep the tests fast; serve
    // accepts any cost (htpasswd's -C 10 is the usual one).
    bcrypt::hash(password, 4).unwrap()
}

#[test]
fn https_serves_metrics_to_a_client_that_trusts_the_ca_and_no_other() {
    let (web, ca) = (WebDir::new(), Ca::new("fleet CA"));
    web.server_cert(&ca);
    web.write("web.yml", TLS);
    let serve = start(&web, &[]);
    let a = Client::new(&ca, None).get(&serve, "/metrics", None).unwrap();
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("fleet_incentives_build_info"), "{}", a.body);
    let stranger = Client::new(&Ca::new("another CA"), None).get(&serve, "/metrics", None);
    let e = stranger.expect_err("a client that does not trust the CA must not connect");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    let log = plain_log(&serve);
    assert!(log.contains("tls=true basic_auth_users=0"), "{log}");
}

#[test]
fn plain_http_on_the_https_port_gets_a_400_and_no_metrics() {
    let (web, ca) = (WebDir::new(), Ca::new("fleet CA"));
    web.server_cert(&ca);
    web.write("web.yml", TLS);
    let serve = start(&web, &[]);
    let (status, body) = serve.get("/metrics");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("HTTP request to an HTTPS server") && !body.contains("fleet_incentives"), "{body}");
    // The listener still serves HTTPS afterwards.
    assert_eq!(Client::new(&ca, None).get(&serve, "/-/healthy", None).unwrap().status, 200);
}

#[test]
fn basic_auth_protects_every_path_healthy_included_and_the_headers_are_on_every_answer() {
    let (web, ca) = (WebDir::new(), Ca::new("fleet CA"));
    web.server_cert(&ca);
    web.write(
        "web.yml",
        &format!(
            "{TLS}http_server_config:\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  prometheus: {}\n  grafana: {}\n",
            hash("s3cret"),
            hash("other")
        ),
    );
    let serve = start(&web, &[]);
    let c = Client::new(&ca, None);
    for path in ["/metrics", "/-/healthy", "/-/ready", "/"] {
        let a = c.get(&serve, path, None).unwrap();
        assert_eq!(a.status, 401, "{path} without credentials: {a:?}");
        assert!(a.www_authenticate.as_deref().is_some_and(|h| h.starts_with("Basic")), "{a:?}");
        assert_eq!(a.frame_options.as_deref(), Some("deny"), "headers on a 401 too");
        assert!(!a.body.contains("fleet_incentives"), "{a:?}");
        for wrong in [("prometheus", "wrong"), ("prometheus", "other"), ("nobody", "s3cret"), ("", "")] {
            let a = c.get(&serve, path, Some(wrong)).unwrap();
            assert_eq!(a.status, 401, "{path} with {wrong:?}: {a:?}");
        }
    }
    let a = c.get(&serve, "/metrics", Some(("prometheus", "s3cret"))).unwrap();
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("fleet_incentives_build_info"));
    assert_eq!(a.frame_options.as_deref(), Some("deny"));
    assert_eq!(c.get(&serve, "/-/healthy", Some(("grafana", "other"))).unwrap().status, 200);
    // Not ready (no Prometheus): the answer, once authenticated, is the real one.
    assert_eq!(c.get(&serve, "/-/ready", Some(("grafana", "other"))).unwrap().status, 503);
    // Authenticated, the lifecycle endpoints stay off without --web.enable-lifecycle.
    let a = c.request("POST", &format!("https://127.0.0.1:{}/-/reload", serve.port), Some(("prometheus", "s3cret")));
    assert_eq!(a.unwrap().status, 403);
    let log = plain_log(&serve);
    assert!(!log.contains("s3cret") && !log.contains(&hash("s3cret")[..29]), "no password or hash in the log:\n{log}");
}

#[test]
fn basic_auth_works_without_tls_too() {
    let web = WebDir::new();
    web.write("web.yml", &format!("basic_auth_users:\n  prometheus: {}\n", hash("s3cret")));
    let serve = start(&web, &[]);
    let (status, _) = serve.get("/metrics");
    assert_eq!(status, 401);
    let c = Client::plain();
    let a = c.request("GET", &format!("http://127.0.0.1:{}/metrics", serve.port), Some(("prometheus", "s3cret")));
    assert_eq!(a.unwrap().status, 200);
}

#[test]
fn require_and_verify_client_cert_rejects_clients_without_a_certificate_from_the_client_ca() {
    let (web, ca, clients) = (WebDir::new(), Ca::new("fleet CA"), Ca::new("clients CA"));
    web.server_cert(&ca);
    web.write("clients.crt", &clients.pem());
    web.write(
        "web.yml",
        &format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients.crt\n"),
    );
    let serve = start(&web, &[]);
    // In TLS 1.3 the client finishes its side of the handshake first; the
    // server's alert may arrive after the request went out, and the client
    // then reports the closed connection instead of the alert. Either way the
    // request is refused; the alert is named whenever it arrives in time.
    let refused = |e: &str, alert: &str| e.contains(alert) || e.contains("connection was not ready");
    let e = Client::new(&ca, None).get(&serve, "/metrics", None).expect_err("no client certificate");
    assert!(refused(&e, "CertificateRequired"), "{e}");
    let e = Client::new(&ca, Some(Ca::new("rogue CA").client("prometheus")))
        .get(&serve, "/metrics", None)
        .expect_err("a client certificate from another CA");
    assert!(refused(&e, "UnknownCA"), "{e}");
    let a = Client::new(&ca, Some(clients.client("prometheus"))).get(&serve, "/metrics", None).unwrap();
    assert_eq!(a.status, 200, "{a:?}");
}

#[test]
fn certificates_and_users_are_picked_up_without_a_restart_and_a_broken_file_fails_closed() {
    let (web, old_ca) = (WebDir::new(), Ca::new("old CA"));
    web.server_cert(&old_ca);
    web.write("web.yml", &format!("{TLS}basic_auth_users:\n  prometheus: {}\n", hash("one")));
    let serve = start(&web, &[]);
    let old = Client::new(&old_ca, None);
    assert_eq!(old.get(&serve, "/metrics", Some(("prometheus", "one"))).unwrap().status, 200);

    // Rotate: a new CA and server certificate, a new password. Same process.
    let new_ca = Ca::new("new CA");
    web.server_cert(&new_ca);
    web.write("web.yml", &format!("{TLS}basic_auth_users:\n  prometheus: {}\n", hash("two")));
    let new = Client::new(&new_ca, None);
    assert_eq!(new.get(&serve, "/metrics", Some(("prometheus", "two"))).unwrap().status, 200);
    assert_eq!(new.get(&serve, "/metrics", Some(("prometheus", "one"))).unwrap().status, 401);
    assert!(old.get(&serve, "/metrics", Some(("prometheus", "one"))).is_err(), "the old certificate is gone");

    // A broken file: nothing is served (not the old users), the log says why.
    web.write("web.yml", &format!("{TLS}basic_auth_users:\n  prometheus: not-a-hash\n"));
    assert!(new.get(&serve, "/metrics", Some(("prometheus", "two"))).is_err());
    let log = plain_log(&serve);
    assert!(log.contains("web.yml:5:15: user \"prometheus\": not a bcrypt hash"), "{log}");
    // Fixed: served again.
    web.write("web.yml", &format!("{TLS}basic_auth_users:\n  prometheus: {}\n", hash("three")));
    assert_eq!(new.get(&serve, "/metrics", Some(("prometheus", "three"))).unwrap().status, 200);
}

/// `serve` with `web.yml` = `yaml`: its exit code and stderr (it must exit by itself).
fn refused(web: &WebDir, yaml: &str) -> (Option<i32>, String) {
    web.write("web.yml", yaml);
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"))
        .arg("serve")
        .arg(format!("--web.listen-address=127.0.0.1:{}", common::free_port()))
        .arg(format!("--prometheus.url=http://127.0.0.1:{}", common::free_port()))
        .arg(format!("--web.config.file={}", web.config().display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started with an invalid web config:\n{yaml}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_invalid_web_config_stops_serve_with_exit_2_and_says_where() {
    let (web, ca) = (WebDir::new(), Ca::new("fleet CA"));
    web.server_cert(&ca);
    let file = web.config().display().to_string();
    let cases = [
        ("tls_server_config:\n  cert_file: server.crt\n  keyfile: server.key\n", ":3:3: unknown field `keyfile`"),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n", ":2:14: cert_file: cannot read"),
        ("basic_auth_users:\n  prometheus: plaintext\n", ":2:15: user \"prometheus\": not a bcrypt hash"),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
            ":4:21: client_auth_type RequireAndVerifyClientCert needs client_ca_file",
        ),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow-from\n",
            ":3:22: invalid value for x-frame-options",
        ),
    ];
    for (yaml, expected) in cases {
        let (code, err) = refused(&web, yaml);
        assert_eq!(code, Some(2), "{yaml}\n{err}");
        assert!(err.contains(&format!("{file}{expected}")), "expected {file}{expected} in:\n{err}");
        assert!(!err.contains("plaintext"), "the password is not echoed:\n{err}");
    }
}
