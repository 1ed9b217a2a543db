//! The Gatekeeper provider under load and faults, on loopback: many requests at once with bad
//! ones mixed in, a thousand slow clients beside a legitimate one, a certificate rotated while
//! requests flow, and SIGTERM in the middle of a load. Every test is bounded in requests and
//! time and stops by itself. The figures they print are recorded in docs/security.md.

mod common;
mod https;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use https::*;
use prodready_host::provider::{ServerLimits, TlsFiles, tls_config_reloading};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use serde_json::json;

/// The tests here measure latency: one at a time, so none measures another's load.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A request Gatekeeper would send: one health-check key for a Deployment with no probes.
fn validate_request() -> Vec<u8> {
    let key = key_for(
        "health-check",
        &common::serving_deployment("web", "shop"),
        json!({}),
    );
    post_request(&provider_request(&[key]))
}

/// The answer to [`validate_request`] is the rule's: two violations, no error.
fn assert_evaluated(r: &Http) {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let items = &r.json()["response"]["items"];
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(
        items[0]["value"]["violation"].as_array().map(Vec::len),
        Some(2),
        "{items}"
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A keep-alive client: reconnects when the server closes, counts what it sees.
struct Client {
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    conn: Option<Tls>,
}

/// Why a request got no answer.
#[derive(Debug, PartialEq, Eq)]
enum Failed {
    /// The server took no connection (refused, or reset before TLS finished): a Service sends
    /// the client to another replica.
    NotAccepted,
    /// The request was sent on an established connection and no answer came: dropped.
    Dropped(String),
}

impl Client {
    fn new(addr: SocketAddr, config: Arc<ClientConfig>) -> Client {
        Client {
            addr,
            config,
            conn: None,
        }
    }

    fn open(&mut self) -> Result<&mut Tls, Failed> {
        if self.conn.is_none() {
            let tcp = TcpStream::connect(self.addr).map_err(|_| Failed::NotAccepted)?;
            tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let conn = ClientConnection::new(
                self.config.clone(),
                ServerName::try_from("localhost").unwrap(),
            )
            .unwrap();
            let mut tls = StreamOwned::new(conn, tcp);
            while tls.conn.is_handshaking() {
                tls.conn
                    .complete_io(&mut tls.sock)
                    .map_err(|_| Failed::NotAccepted)?;
            }
            self.conn = Some(tls);
        }
        Ok(self.conn.as_mut().unwrap())
    }

    /// Sends `request` (on the open connection, or a new one) and reads the answer.
    fn send(&mut self, request: &[u8]) -> Result<Http, Failed> {
        let conn = self.open()?;
        let answered = conn
            .write_all(request)
            .and_then(|()| conn.flush())
            .and_then(|()| read_response(conn));
        match answered {
            Ok(r) => {
                if r.header("connection") == Some("close") {
                    self.conn = None;
                }
                Ok(r)
            }
            Err(e) => {
                self.conn = None;
                Err(Failed::Dropped(e.to_string()))
            }
        }
    }

    /// The certificate the server presented on the open connection.
    fn server_certificate(&self) -> Option<Vec<u8>> {
        let conn = self.conn.as_ref()?;
        Some(conn.conn.peer_certificates()?.first()?.to_vec())
    }
}

#[test]
fn ten_thousand_requests_at_concurrency_64_with_oversize_and_malformed_ones_mixed_in() {
    let _alone = alone();
    let addr = start(ServerLimits::default(), None);
    let request = validate_request();
    const CLIENTS: usize = 64;
    const REQUESTS: usize = 10_000;
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let (latencies, bad) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                s.spawn(|| {
                    let mut client = Client::new(addr, tls13());
                    let mut latencies = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < REQUESTS {
                        let t = Instant::now();
                        let r = client.send(&request).unwrap_or_else(|e| panic!("{e:?}"));
                        latencies.push(t.elapsed());
                        assert_evaluated(&r);
                        // Every 25th request on a new connection: handshakes under load too.
                        if latencies.len() % 25 == 0 {
                            client.conn = None;
                        }
                    }
                    latencies
                })
            })
            .collect();
        // Beside them, a client sends what a broken or hostile peer would.
        let hostile = s.spawn(|| {
            let oversize = format!(
                "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                (4 << 20) + 1
            );
            let cases: [(&[u8], u16); 4] = [
                (oversize.as_bytes(), 413),
                (&post_request(b"{\"kind\": \"ProviderRequest\""), 400),
                (b"NONSENSE\r\n\r\n", 400),
                (b"POST /validate HTTP/1.1\r\nHost: x\r\n\r\n", 411),
            ];
            let mut sent = 0;
            while next.load(Ordering::Relaxed) < REQUESTS {
                for (bytes, status) in &cases {
                    assert_eq!(raw(addr, bytes).status, *status);
                    sent += 1;
                }
            }
            sent
        });
        let mut all: Vec<Duration> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        all.sort();
        (all, hostile.join().unwrap())
    });
    let wall = started.elapsed();
    assert_eq!(latencies.len(), REQUESTS);
    assert!(bad > 0);
    eprintln!(
        "10,000 requests at concurrency 64 (+{bad} hostile): {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        REQUESTS as f64 / wall.as_secs_f64(),
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
        millis(latencies[latencies.len() - 1]),
    );
}

/// Peak resident memory of this process, from /proc (KiB).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_thousand_slow_clients_do_not_slow_a_legitimate_one() {
    let _alone = alone();
    const SLOW: usize = 1000;
    // Timeouts long enough that the slow clients are all held open for the whole test: the
    // server must serve the legitimate client beside them, not by dropping them.
    let addr = start(
        ServerLimits {
            io_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_connections: 2 * SLOW,
            ..ServerLimits::default()
        },
        None,
    );
    let rss_before = rss_kib();
    let stop = AtomicBool::new(false);
    let open = AtomicUsize::new(0);
    let request = validate_request();
    let latencies = std::thread::scope(|s| {
        // Four threads keep 250 slow connections each. Half drip the TLS handshake, half a
        // request head after it, one byte a second.
        let slow: Vec<_> = (0..4)
            .map(|t| {
                let (stop, open) = (&stop, &open);
                s.spawn(move || {
                    let mut conns: Vec<Slow> = (0..SLOW / 4)
                        .map(|i| Slow::open(addr, (t + i) % 2 == 0))
                        .collect();
                    open.fetch_add(conns.len(), Ordering::SeqCst);
                    while !stop.load(Ordering::SeqCst) {
                        for c in &mut conns {
                            if c.open && !c.tick() {
                                c.open = false;
                                open.fetch_sub(1, Ordering::SeqCst);
                            }
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
            })
            .collect();
        let waited = Instant::now();
        while open.load(Ordering::SeqCst) < SLOW && waited.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(open.load(Ordering::SeqCst), SLOW, "slow clients connected");
        // Let each send a few bytes before the measurement starts.
        std::thread::sleep(Duration::from_secs(2));
        let rss_held = rss_kib();
        // The legitimate client: half its requests on a new connection (the accept path),
        // half on a kept-alive one.
        let mut latencies = Vec::new();
        let mut kept = Client::new(addr, tls13());
        for i in 0..400 {
            let t = Instant::now();
            let r = if i % 2 == 0 {
                raw(addr, &request)
            } else {
                kept.send(&request).unwrap()
            };
            latencies.push(t.elapsed());
            assert_evaluated(&r);
        }
        let still_open = open.load(Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        for t in slow {
            t.join().unwrap();
        }
        assert_eq!(
            still_open, SLOW,
            "every slow client was held open throughout"
        );
        eprintln!(
            "{SLOW} slow clients held open: test process RSS {} MiB -> {} MiB (clients and server)",
            rss_before / 1024,
            rss_held / 1024
        );
        latencies
    });
    let mut sorted = latencies;
    sorted.sort();
    let p99 = percentile(&sorted, 0.99);
    eprintln!(
        "beside {SLOW} slow clients: 400 requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        millis(percentile(&sorted, 0.50)),
        millis(p99),
        millis(sorted[sorted.len() - 1])
    );
    assert!(p99 <= Duration::from_millis(50), "p99 {p99:?}");
}

/// A client that sends a byte a second and never finishes: its ClientHello, or (after a
/// finished handshake) a request head, each byte in a TLS record of its own.
struct Slow {
    tcp: TcpStream,
    tls: Option<ClientConnection>,
    bytes: Vec<u8>,
    sent: usize,
    next: Instant,
    open: bool,
}

impl Slow {
    fn open(addr: SocketAddr, in_handshake: bool) -> Slow {
        let mut tcp = TcpStream::connect(addr).unwrap();
        let mut conn =
            ClientConnection::new(tls13(), ServerName::try_from("localhost").unwrap()).unwrap();
        let (tls, bytes) = if in_handshake {
            let mut hello = Vec::new();
            conn.write_tls(&mut hello).unwrap();
            (None, hello)
        } else {
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).unwrap();
            }
            let head = b"POST /validate HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".repeat(4);
            (Some(conn), head)
        };
        tcp.set_nonblocking(true).unwrap();
        Slow {
            tcp,
            tls,
            bytes,
            sent: 0,
            next: Instant::now(),
            open: true,
        }
    }

    /// Sends the next byte when it is due; false once the server has closed the connection.
    fn tick(&mut self) -> bool {
        let mut scratch = [0u8; 4096];
        match self.tcp.read(&mut scratch) {
            Ok(0) => return false,
            Ok(_) => {} // session tickets and the like
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return false,
        }
        if Instant::now() < self.next || self.sent >= self.bytes.len() {
            return true;
        }
        let byte = &self.bytes[self.sent..=self.sent];
        let written = match &mut self.tls {
            None => self.tcp.write(byte).map(|_| ()),
            Some(conn) => {
                conn.writer().write_all(byte).unwrap();
                let mut record = Vec::new();
                conn.write_tls(&mut record).unwrap();
                self.tcp.write_all(&record)
            }
        };
        self.sent += 1;
        self.next += Duration::from_secs(1);
        match written {
            Ok(()) => true,
            Err(e) => e.kind() == ErrorKind::WouldBlock,
        }
    }
}

#[test]
fn a_certificate_rotated_during_load_fails_no_request() {
    let _alone = alone();
    let dir = std::env::temp_dir().join(format!("prodready-rotate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (old, new) = (pki(), Pki::generate("prodready rotated CA"));
    let write = |pki: &Pki| {
        // As a kubelet updates a Secret volume: each file replaced whole, one after the other.
        for (name, text) in [
            ("tls.crt", &pki.server_cert_pem),
            ("tls.key", &pki.server_key_pem),
        ] {
            std::fs::write(dir.join(format!(".{name}.tmp")), text).unwrap();
            std::fs::rename(dir.join(format!(".{name}.tmp")), dir.join(name)).unwrap();
        }
    };
    write(old);
    let files = TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
        client_ca: None,
    };
    let tls = tls_config_reloading(&files, Duration::from_millis(50)).unwrap();
    let addr = start_with(tls, ServerLimits::default());
    // Clients trust both CAs, as they would while a CA bundle is being rotated, and do not
    // resume sessions: every connection is a full handshake with the certificate served now.
    let mut config = client_config_trusting(
        &[&old.ca_pem, &new.ca_pem],
        &[&rustls::version::TLS13],
        false,
    );
    Arc::make_mut(&mut config).resumption = rustls::client::Resumption::disabled();
    let new_der = pem_der(&new.server_cert_pem);
    let old_der = pem_der(&old.server_cert_pem);
    let rotated = AtomicBool::new(false);
    let request = validate_request();
    let (answered, saw_old, saw_new) = std::thread::scope(|s| {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let mut client = Client::new(addr, config.clone());
                    let (mut answered, mut saw_old, mut saw_new) = (0, false, false);
                    let mut after = 0;
                    // Until 200 requests after the rotation, each on a new connection.
                    while after < 200 {
                        let r = client.send(&request).unwrap_or_else(|e| panic!("{e:?}"));
                        assert_evaluated(&r);
                        answered += 1;
                        let cert = client.server_certificate().unwrap();
                        saw_old |= cert == old_der;
                        saw_new |= cert == new_der;
                        if rotated.load(Ordering::SeqCst) {
                            after += 1;
                        }
                        client.conn = None;
                    }
                    (answered, saw_old, saw_new)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        write(&new);
        rotated.store(true, Ordering::SeqCst);
        clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .fold((0, false, false), |(n, o, w), (n2, o2, w2)| {
                (n + n2, o || o2, w || w2)
            })
    });
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(saw_old, "no connection was served the old certificate");
    assert!(saw_new, "no connection was served the rotated certificate");
    eprintln!("certificate rotated during load: {answered} requests, none failed");
}

fn pem_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[test]
fn sigterm_during_load_drops_no_request() {
    let _alone = alone();
    let dir = std::env::temp_dir().join(format!("prodready-sigterm-{}", std::process::id()));
    let mut served = serve_cli(
        &dir,
        &[
            "--shutdown-delay-ms",
            "500",
            "--shutdown-timeout-ms",
            "10000",
        ],
    );
    let addr = served.addr;
    let request = validate_request();
    let terminated = AtomicBool::new(false);
    let (before, after, dropped) = std::thread::scope(|s| {
        let clients: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    let mut client = Client::new(addr, tls13());
                    let (mut before, mut after, mut dropped) = (0, 0, Vec::new());
                    loop {
                        match client.send(&request) {
                            Ok(r) => {
                                assert_evaluated(&r);
                                if terminated.load(Ordering::SeqCst) {
                                    after += 1;
                                } else {
                                    before += 1;
                                }
                            }
                            Err(Failed::NotAccepted) if terminated.load(Ordering::SeqCst) => break,
                            Err(Failed::NotAccepted) => panic!("refused before SIGTERM"),
                            Err(Failed::Dropped(e)) => {
                                dropped.push(e);
                                if terminated.load(Ordering::SeqCst) {
                                    break;
                                }
                            }
                        }
                    }
                    (before, after, dropped)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(700));
        terminated.store(true, Ordering::SeqCst);
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &served.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        // While it drains, it says it is not ready.
        let waited = Instant::now();
        loop {
            let r = raw(addr, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
            if r.status == 503 {
                break;
            }
            assert_eq!(r.status, 200);
            assert!(waited.elapsed() < Duration::from_millis(400), "still ready");
        }
        clients.into_iter().map(|c| c.join().unwrap()).fold(
            (0, 0, Vec::new()),
            |(b, a, mut d), (b2, a2, d2)| {
                d.extend(d2);
                (b + b2, a + a2, d)
            },
        )
    });
    let waited = Instant::now();
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(waited.elapsed() < Duration::from_secs(15), "still running");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    served.stderr.read_to_string(&mut rest).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("SIGTERM"), "{rest}");
    assert!(dropped.is_empty(), "dropped: {dropped:?}");
    assert!(after > 0, "no request was answered while draining");
    eprintln!(
        "SIGTERM during load: {before} requests before, {after} while draining, none dropped"
    );
}
