//! A REAL browser: headless Chromium (Debian package `chromium`), one
//! process per page and action, each with its own temporary profile
//! (`--user-data-dir`), so tests may run it in parallel.
//!
//! - [`Chromium::dump_dom`]: the DOM after the page loaded (`--dump-dom`).
//! - [`Chromium::screenshot`]: a PNG of the viewport (`--screenshot`,
//!   `--window-size`).
//! - [`Chromium::print_pdf`]: the page printed (`--print-to-pdf`, no header
//!   or footer), as the print dialog would: `@media print`, `@page`.
//!
//! Every run goes through [`Tripwire`], an HTTP proxy that answers nothing
//! and records what reached it (`--proxy-server`, loopback included): a
//! page that needs the network asks it. Chromium's own background traffic
//! (component updates, account and time services of Google, there even for
//! an empty page and not stopped by `--disable-background-networking` in
//! this version) is recognised by its hosts and left out.
//!
//! Flags checked on Chromium 156 (Debian 12): `--headless` (the new
//! headless mode), `--no-sandbox` (tests run as root), `--disable-gpu`,
//! `--disable-dev-shm-usage` (a small /dev/shm in containers).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one Chromium run may take.
const TIMEOUT: Duration = Duration::from_secs(90);

pub struct Chromium {
    binary: PathBuf,
    tripwire: Tripwire,
}

impl Chromium {
    /// The `chromium` on the PATH, or a panic saying how to install it.
    pub fn start() -> Chromium {
        let binary = ["chromium", "chromium-browser"]
            .iter()
            .find_map(|name| fleet_incentives::local_prometheus::find_binary(name))
            .unwrap_or_else(|| {
                panic!(
                    "`chromium` is not installed: the statement tests render the HTML statements in a real browser. \
                     Install it with `apt-get install -y chromium` (Debian package), or run scripts/setup.sh test"
                )
            });
        Chromium { binary, tripwire: Tripwire::start() }
    }

    /// The DOM of `page` once loaded, serialized.
    pub fn dump_dom(&self, page: &Path) -> String {
        let o = self.run(page, &["--dump-dom".into()]);
        String::from_utf8(o.stdout).expect("the DOM is UTF-8")
    }

    /// A PNG of `page` in a `width` × `height` window.
    pub fn screenshot(&self, page: &Path, png: &Path, (width, height): (u32, u32)) {
        let args = [format!("--screenshot={}", png.display()), format!("--window-size={width},{height}")];
        self.run(page, &args);
        assert!(png.is_file(), "chromium wrote no screenshot {}", png.display());
    }

    /// `page` printed to a PDF (the page's own `@page` size and margins).
    pub fn print_pdf(&self, page: &Path, pdf: &Path) {
        self.run(page, &[format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer".into()]);
        assert!(pdf.is_file(), "chromium wrote no PDF {}", pdf.display());
    }

    /// Requests that reached the tripwire from pages (not Chromium's own).
    pub fn page_requests(&self) -> Vec<String> {
        self.tripwire.requests().into_iter().filter(|r| !browser_own(r)).collect()
    }

    fn run(&self, page: &Path, action: &[String]) -> Output {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("file://{}", page.canonicalize().unwrap().display());
        let mut child = Command::new(&self.binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ])
            .arg(format!("--proxy-server=http://127.0.0.1:{}", self.tripwire.port))
            .arg("--proxy-bypass-list=<-loopback>")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(action)
            .arg(&url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut out = vec![];
            std::io::Read::read_to_end(&mut BufReader::new(stdout), &mut out).unwrap();
            out
        });
        let stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut err);
            err
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium {action:?} {url} did not finish in {TIMEOUT:?}: {}", errors.join().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (stdout, stderr) = (reader.join().unwrap(), errors.join().unwrap());
        assert!(status.success(), "chromium {action:?} {url}: {status}\n{stderr}");
        Output { status, stdout, stderr: stderr.into_bytes() }
    }
}

/// Chromium's own requests: Google's update, account and time services.
fn browser_own(request: &str) -> bool {
    let host = request_host(request);
    ["google.com", "googleapis.com", "gvt1.com", "gstatic.com"]
        .iter()
        .any(|own| host == *own || host.ends_with(&format!(".{own}")))
}

/// The host a proxy request line names: `CONNECT host:443 …` or `GET http://host/… …`.
pub fn request_host(request: &str) -> String {
    let target = request.split_whitespace().nth(1).unwrap_or_default();
    let rest = target.split_once("://").map_or(target, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_string()
}

/// A proxy that records the request line of every connection and answers 502.
pub struct Tripwire {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Tripwire {
    fn start() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(vec![]));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let record = record.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut line = String::new();
                    let mut reader = BufReader::new(&stream);
                    let _ = reader.read_line(&mut line);
                    record.lock().unwrap().push(line.trim_end().to_string());
                    let _ = (&stream)
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                });
            }
        });
        Tripwire { port, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// The text a reader sees in a serialized DOM: tags and comments dropped,
/// `<style>` and `<title>` left out, the usual entities decoded, white
/// space collapsed.
pub fn visible_text(dom: &str) -> String {
    let body = dom.split_once("<body").map_or(dom, |(_, b)| b);
    let mut text = String::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        rest = &rest[close..];
    }
    text.push_str(rest);
    let decoded = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Width and height of a PNG (its IHDR chunk).
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}
