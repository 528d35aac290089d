//! A loopback TCP proxy for fault tests: forwards to an upstream port that
//! can change (a restarted server comes back on another port), delays
//! every chunk the client sends by a settable time (a slow server), and can
//! cut the connections it holds (a server gone for clients that keep
//! connections alive).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

/// The proxy's epoch and the one a connection was opened in.
type Epoch = Arc<AtomicU64>;

pub struct Proxy {
    pub port: u16,
    upstream: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    /// Bumped by [`Proxy::cut_to`]: connections of an older epoch close.
    epoch: Epoch,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            upstream: Arc::new(AtomicU16::new(upstream)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            epoch: Arc::new(AtomicU64::new(0)),
        };
        let (up, delay, epoch) = (proxy.upstream.clone(), proxy.delay_ms.clone(), proxy.epoch.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (up, delay, epoch) = (up.clone(), delay.clone(), epoch.clone());
                std::thread::spawn(move || {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", up.load(Ordering::SeqCst))) else {
                        return; // dropping `client` closes it: connection refused, as the server is gone
                    };
                    let born = (epoch.clone(), epoch.load(Ordering::SeqCst));
                    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let back = born.clone();
                    std::thread::spawn(move || pump(s2, c2, None, back));
                    pump(client, server, Some(delay), born);
                });
            }
        });
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Delay every chunk a client sends (each request) by `d` from now on.
    pub fn set_delay(&self, d: Duration) {
        self.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Send new connections to `port`.
    pub fn set_upstream(&self, port: u16) {
        self.upstream.store(port, Ordering::SeqCst);
    }

    /// Send new connections to `port` and close the open ones at their next
    /// chunk, so kept-alive clients notice too.
    pub fn cut_to(&self, port: u16) {
        self.set_upstream(port);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, delay: Option<Arc<AtomicU64>>, (epoch, born): (Epoch, u64)) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(d) = &delay {
            std::thread::sleep(Duration::from_millis(d.load(Ordering::SeqCst)));
        }
        if epoch.load(Ordering::SeqCst) != born {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
