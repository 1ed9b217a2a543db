//! Gatekeeper's external-data provider: `prodready serve gatekeeper-provider`.
//!
//! Gatekeeper has no wasm engine, so the rules run here, in the same host and modules as
//! `prodready check`; the generated ConstraintTemplates (`bundle/gatekeeper.rs`) only build a
//! key and relay the answer. Gatekeeper POSTs
//!
//! ```json
//! {"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
//!  "request": {"keys": ["<key>", ...]}}
//! ```
//!
//! and gets one item per key:
//!
//! ```json
//! {"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderResponse",
//!  "response": {"idempotent": true, "systemError": "",
//!               "items": [{"key": "<key>", "value": {"violation": [...], "warn": [...]}}]}}
//! ```
//!
//! **The key** is a JSON text:
//! `{"rule": "<rule id>", "review": <Gatekeeper's input.review>, "parameters": <settings>,
//! "context": [<objects>]}` (`parameters` and `context` optional). The provider maps
//! `review`/`parameters` to a core envelope with [`prodready_sdk::gatekeeper::envelope`], adds
//! `context` as the envelope's `{"objects": [...]}`, evaluates it on a fresh instance of the
//! rule's module and answers [`prodready_sdk::gatekeeper::sets`] of the verdict: the same
//! `violation`/`warn` entries the OPA-ABI flavour produces. An error verdict is one `violation`
//! entry with `check: "error"`. A key the provider cannot read (not JSON, not that shape, an
//! unknown rule) gets an item with `error` set and no value, which the template turns into a
//! violation: nothing here allows by omission. Everything a verdict depends on is in the key,
//! so answers are idempotent and Gatekeeper may cache them.
//!
//! **The server** is a small blocking HTTP/1.1 server over TLS 1.3 (rustls, ring): a thread per
//! connection, at most [`ServerLimits::max_connections`] at once (further clients wait in the
//! listen backlog), keep-alive, every read and write under a timeout and every request under a
//! deadline. `POST /validate` answers ProviderRequests; `GET /healthz` and `GET /readyz` answer
//! probes. A body
//! needs a `Content-Length` (411 without) of at most [`ServerLimits::max_body_bytes`] (413
//! beyond); a body that is not a ProviderRequest is a 400 with `systemError` set; any other
//! method is a 405. The certificate and key are re-read when their files change (a rotated
//! Secret), and `--client-ca` makes the server require Gatekeeper's client certificate (mTLS).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use prodready_sdk::gatekeeper::{self, Sets};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::engine::Host;
use crate::module::RuleModule;

/// The API version of the requests Gatekeeper sends and of our answers.
pub const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";
/// The group every accepted request's `apiVersion` is in (v1alpha1 and v1beta1 alike).
const API_GROUP: &str = "externaldata.gatekeeper.sh/";
/// The `Provider` name the generated templates call.
pub const PROVIDER_NAME: &str = "prodready";
/// Where Gatekeeper POSTs.
pub const VALIDATE_PATH: &str = "/validate";
/// Where liveness probes GET: the process answers.
pub const HEALTH_PATH: &str = "/healthz";
/// Where readiness probes GET: the process answers, its rules loaded (they are before it
/// listens). A separate path, so the two probes are distinct as our own health-check rule asks.
pub const READY_PATH: &str = "/readyz";
/// Most keys one request may carry (Gatekeeper sends one per template evaluation).
pub const MAX_KEYS: usize = 1024;
/// How often the certificate files are checked for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// One answered key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: String,
    /// The rule's answer; absent when `error` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Sets>,
    /// Why the key could not be evaluated; empty when `value` is set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// The `response` of a ProviderResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub idempotent: bool,
    pub items: Vec<Item>,
    #[serde(rename = "systemError", default)]
    pub system_error: String,
}

/// What the provider answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderResponse {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub response: Response,
}

impl ProviderResponse {
    fn new(items: Vec<Item>, system_error: String) -> ProviderResponse {
        ProviderResponse {
            api_version: API_VERSION.to_string(),
            kind: "ProviderResponse".to_string(),
            response: Response {
                idempotent: true,
                items,
                system_error,
            },
        }
    }

    /// A response that carries only a system error (the request as a whole failed).
    pub fn system_error(message: impl Into<String>) -> ProviderResponse {
        ProviderResponse::new(Vec::new(), message.into())
    }
}

/// Gatekeeper's request, as read.
#[derive(Deserialize)]
struct ProviderRequestIn {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    #[serde(default)]
    request: RequestIn,
}

#[derive(Default, Deserialize)]
struct RequestIn {
    #[serde(default)]
    keys: Vec<String>,
}

/// A key, borrowed from its text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyIn<'a> {
    rule: String,
    #[serde(borrow)]
    review: &'a RawValue,
    #[serde(default, borrow)]
    parameters: Option<&'a RawValue>,
    #[serde(default, borrow)]
    context: Option<Vec<&'a RawValue>>,
}

/// The rules the provider evaluates and the host they run in.
pub struct Provider<'h> {
    host: &'h Host,
    modules: Vec<RuleModule>,
}

impl<'h> Provider<'h> {
    pub fn new(host: &'h Host, modules: Vec<RuleModule>) -> Provider<'h> {
        Provider { host, modules }
    }

    /// The rule ids it answers for.
    pub fn rules(&self) -> Vec<&str> {
        self.modules.iter().map(RuleModule::id).collect()
    }

    /// Answers one key (see the module documentation for its format).
    pub fn evaluate_key(&self, key: &str) -> Item {
        match self.try_evaluate_key(key) {
            Ok(sets) => Item {
                key: key.to_string(),
                value: Some(sets),
                error: String::new(),
            },
            Err(error) => Item {
                key: key.to_string(),
                value: None,
                error: format!("prodready: {error}"),
            },
        }
    }

    fn try_evaluate_key(&self, key: &str) -> Result<Sets, String> {
        let parsed: KeyIn<'_> = serde_json::from_str(key).map_err(|e| {
            format!(
                "the key is not {{\"rule\", \"review\", \"parameters\"?, \"context\"?}} as the prodready templates build it: {e}"
            )
        })?;
        let module = self
            .modules
            .iter()
            .find(|m| m.id() == parsed.rule)
            .ok_or_else(|| {
                format!(
                    "unknown rule {:?}; this provider evaluates {}",
                    parsed.rule,
                    self.rules().join(", ")
                )
            })?;
        if !parsed.review.get().starts_with('{') {
            return Err("`review` must be an object (Gatekeeper's input.review)".to_string());
        }
        let envelope = envelope(&parsed)?;
        let verdict = module.evaluate(self.host, &envelope);
        Ok(gatekeeper::sets(module.id(), &verdict))
    }

    /// Answers a request body: `Err` is the system error of a body that is not a
    /// ProviderRequest (the server answers it with 400).
    pub fn respond(&self, body: &[u8]) -> Result<ProviderResponse, String> {
        let request: ProviderRequestIn = serde_json::from_slice(body)
            .map_err(|e| format!("the body is not a ProviderRequest: {e}"))?;
        if request.kind != "ProviderRequest" {
            return Err(format!(
                "kind must be ProviderRequest, not {:?}",
                request.kind
            ));
        }
        if !request.api_version.starts_with(API_GROUP) {
            return Err(format!(
                "apiVersion must be {API_VERSION}, not {:?}",
                request.api_version
            ));
        }
        let keys = request.request.keys;
        if keys.len() > MAX_KEYS {
            return Err(format!(
                "{} keys in one request; at most {MAX_KEYS} are accepted",
                keys.len()
            ));
        }
        let items = keys.iter().map(|k| self.evaluate_key(k)).collect();
        Ok(ProviderResponse::new(items, String::new()))
    }
}

/// The core envelope for a key: Gatekeeper's input mapped by the SDK, plus the context.
fn envelope(key: &KeyIn<'_>) -> Result<Vec<u8>, String> {
    let mut input = String::with_capacity(key.review.get().len() + 64);
    input.push_str("{\"review\":");
    input.push_str(key.review.get());
    if let Some(p) = key.parameters {
        input.push_str(",\"parameters\":");
        input.push_str(p.get());
    }
    input.push('}');
    let mut envelope = gatekeeper::envelope(input.as_bytes())?;
    if let Some(objects) = &key.context {
        // The envelope is a JSON object: reopen it to add the context.
        if envelope.pop() != Some(b'}') {
            return Err("internal: the envelope is not a JSON object".to_string());
        }
        envelope.extend_from_slice(b",\"context\":{\"objects\":[");
        for (i, o) in objects.iter().enumerate() {
            if i > 0 {
                envelope.push(b',');
            }
            envelope.extend_from_slice(o.get().as_bytes());
        }
        envelope.extend_from_slice(b"]}}");
    }
    Ok(envelope)
}

// ---------------------------------------------------------------------------------------------
// TLS

/// Where the server's certificate, key and (for mTLS) client CA are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM CA certificates; when set, clients must present a certificate they signed.
    pub client_ca: Option<PathBuf>,
}

fn crypto() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<CertifiedKey> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("reading the certificate: {e}"))?;
    if certs.is_empty() {
        anyhow::bail!("the certificate file holds no PEM certificate");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| anyhow::anyhow!("reading the private key: {e}"))?;
    CertifiedKey::from_der(certs, key, &crypto())
        .map_err(|e| anyhow::anyhow!("certificate and key do not go together: {e}"))
}

fn file_stamp(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load_files(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()));
    certified_key(&read(cert)?, &read(key)?)
}

/// Serves the certificate from files, re-reading them when they change: a Secret mounted
/// into the pod is swapped in place when cert-manager (or anyone) rotates it.
#[derive(Debug)]
struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    state: Mutex<CertState>,
}

#[derive(Debug)]
struct CertState {
    current: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

impl ReloadingCert {
    fn new(cert: &Path, key: &Path) -> anyhow::Result<ReloadingCert> {
        let stamps = (file_stamp(cert), file_stamp(key));
        let current = Arc::new(load_files(cert, key)?);
        Ok(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            state: Mutex::new(CertState {
                current,
                stamps,
                checked: Instant::now(),
            }),
        })
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= RELOAD_CHECK {
            state.checked = Instant::now();
            let stamps = (file_stamp(&self.cert), file_stamp(&self.key));
            if stamps != state.stamps {
                // A half-written pair fails to load; the stamps stay old and the next check
                // tries again, serving the current certificate meanwhile.
                match load_files(&self.cert, &self.key) {
                    Ok(k) => {
                        state.current = Arc::new(k);
                        state.stamps = stamps;
                        eprintln!("prodready: reloaded {}", self.cert.display());
                    }
                    Err(e) => {
                        eprintln!("prodready: warning: keeping the current certificate: {e:#}")
                    }
                }
            }
        }
        Some(state.current.clone())
    }
}

/// A server certificate that never changes (tests, or PEM given in memory).
#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn server_config(
    certs: Arc<dyn ResolvesServerCert>,
    client_ca_pem: Option<&[u8]>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = crypto();
    // TLS 1.3 only, as Gatekeeper requires of providers.
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| anyhow::anyhow!("reading the client CA: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| anyhow::anyhow!("the client CA is not usable: {e}"))?;
            }
            if roots.is_empty() {
                anyhow::bail!("the client CA file holds no PEM certificate");
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| anyhow::anyhow!("the client CA is not usable: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(certs);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The server's TLS configuration from files (TLS 1.3 only; the certificate reloads when its
/// files change).
pub fn tls_config(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let certs = ReloadingCert::new(&files.cert, &files.key).map_err(|e| {
        anyhow::anyhow!(
            "loading {} and {}: {e:#}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    let client_ca = match &files.client_ca {
        Some(p) => Some(std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?),
        None => None,
    };
    server_config(Arc::new(certs), client_ca.as_deref())
}

/// The server's TLS configuration from PEM text (TLS 1.3 only).
pub fn tls_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let key = certified_key(cert_pem, key_pem)?;
    server_config(Arc::new(FixedCert(Arc::new(key))), client_ca_pem)
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// Bounds on what one client can make the server do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Largest request body (default 4 MiB; larger is a 413).
    pub max_body_bytes: usize,
    /// Largest request head: request line and headers (default 16 KiB; larger is a 431).
    pub max_head_bytes: usize,
    /// Timeout of every read and write, and how long an idle keep-alive connection is kept
    /// (default 5 s).
    pub io_timeout: Duration,
    /// A whole request, head and body, must arrive within this (default 10 s; a 408 after).
    pub request_timeout: Duration,
    /// Connections served at once (default 64); more wait in the listen backlog. Keep it at
    /// most the host's `pool_instances`, or evaluations fail (closed) for want of an instance.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_body_bytes: 4 << 20,
            max_head_bytes: 16 << 10,
            io_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_connections: 64,
        }
    }
}

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    limits: ServerLimits,
}

impl Server {
    /// Binds `addr` (`HOST:PORT`; port 0 picks a free one).
    pub fn bind(
        addr: &str,
        tls: Arc<ServerConfig>,
        limits: ServerLimits,
    ) -> anyhow::Result<Server> {
        let listener =
            TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        Ok(Server {
            listener,
            tls,
            limits,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends (it never returns): a thread per connection, at most
    /// `limits.max_connections` at once.
    pub fn serve(&self, provider: &Provider<'_>) {
        let slots = Slots::new(self.limits.max_connections.max(1));
        std::thread::scope(|scope| {
            loop {
                slots.acquire();
                let stream = match self.listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        slots.release();
                        eprintln!("prodready: warning: accept: {e}");
                        // Out of file descriptors and the like: do not spin.
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                };
                let slots = &slots;
                let tls = self.tls.clone();
                let limits = self.limits;
                let spawned = std::thread::Builder::new()
                    .name("prodready-conn".into())
                    .spawn_scoped(scope, move || {
                        let _slot = SlotGuard(slots);
                        serve_connection(provider, tls, stream, limits);
                    });
                if let Err(e) = spawned {
                    // The closure (and its guard) was dropped with the error: the slot is free.
                    eprintln!("prodready: warning: cannot start a connection thread: {e}");
                }
            }
        })
    }
}

/// A counting semaphore for connections.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
    }

    fn release(&self) {
        *self.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.freed.notify_one();
    }
}

/// Releases a slot when its connection thread ends, panicking or not.
struct SlotGuard<'s>(&'s Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Why a request was not read.
enum HttpError {
    /// Answer with this status and message, then close.
    Status(u16, String),
    /// Close without a word (the client went away, timed out while idle, or broke TLS).
    Close,
}

/// A request head, as far as the server reads it.
struct Head {
    method: String,
    path: String,
    content_length: Option<usize>,
    chunked: bool,
    expect_continue: bool,
    close: bool,
}

/// What to send back.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    allow: Option<&'static str>,
    close: bool,
    /// HEAD: the headers of the body, not the body.
    head_only: bool,
}

impl Reply {
    fn json(status: u16, response: &ProviderResponse) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(response).unwrap_or_else(|_| b"{}".to_vec()),
            allow: None,
            close: status != 200,
            head_only: false,
        }
    }

    fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, &ProviderResponse::system_error(message))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// One client connection: TLS, then requests until it closes, errs or idles out.
///
/// TLS is driven by hand (`read_tls`, `process_new_packets`, `write_tls`) rather than through
/// `rustls::Stream`, so every socket read, the handshake's included, is checked against the
/// deadline: a client dripping a byte at a time cannot hold a connection past it.
struct Conn {
    tls: ServerConnection,
    sock: TcpStream,
    buf: Vec<u8>,
    limits: ServerLimits,
}

fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Conn {
    /// Writes whatever TLS has to send (handshake messages, records, alerts).
    fn flush_tls(&mut self) -> io::Result<()> {
        self.sock.set_write_timeout(Some(self.limits.io_timeout))?;
        while self.tls.wants_write() {
            self.tls.write_tls(&mut self.sock)?;
        }
        Ok(())
    }

    /// Reads more plaintext into `buf`. Within a request, waits until `deadline` at most (then
    /// a 408); between requests (`None`), `io_timeout` at most (then the connection closes).
    /// `Ok(0)` is the end of the stream.
    fn fill(&mut self, deadline: Option<Instant>) -> Result<usize, HttpError> {
        let limit = deadline.unwrap_or_else(|| Instant::now() + self.limits.io_timeout);
        let late = || match deadline {
            Some(_) => HttpError::Status(408, "the request did not arrive in time".into()),
            None => HttpError::Close,
        };
        let mut chunk = [0u8; 16 << 10];
        loop {
            match self.tls.reader().read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Err(HttpError::Close),
            }
            self.flush_tls().map_err(|_| HttpError::Close)?;
            let wait = self
                .limits
                .io_timeout
                .min(limit.saturating_duration_since(Instant::now()));
            if wait.is_zero() {
                return Err(late());
            }
            self.sock
                .set_read_timeout(Some(wait))
                .map_err(|_| HttpError::Close)?;
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(e) if timed_out(&e) => return Err(late()),
                Err(_) => return Err(HttpError::Close),
            }
            if self.tls.process_new_packets().is_err() {
                // A TLS 1.2 client, a bad certificate, garbage: send the alert and go.
                let _ = self.flush_tls();
                return Err(HttpError::Close);
            }
        }
    }

    /// Reads the next request head; `Ok(None)` when the client is done.
    fn read_head(&mut self) -> Result<Option<(Head, Instant)>, HttpError> {
        if self.buf.is_empty() {
            match self.fill(None) {
                Ok(0) | Err(HttpError::Close) => return Ok(None),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        let deadline = Instant::now() + self.limits.request_timeout;
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return parse_head(&head[..end]).map(|h| Some((h, deadline)));
            }
            if self.buf.len() > self.limits.max_head_bytes {
                return Err(HttpError::Status(
                    431,
                    format!(
                        "the request head is larger than {} bytes",
                        self.limits.max_head_bytes
                    ),
                ));
            }
            if self.fill(Some(deadline))? == 0 {
                return Err(HttpError::Close);
            }
        }
    }

    fn read_body(&mut self, len: usize, deadline: Instant) -> Result<Vec<u8>, HttpError> {
        while self.buf.len() < len {
            if self.fill(Some(deadline))? == 0 {
                return Err(HttpError::Close);
            }
        }
        Ok(self.buf.drain(..len).collect())
    }

    /// A lingering close: stop writing, then read and drop what the client is still sending (a
    /// head or body the server refused) for a bounded time, so that closing with unread input
    /// does not reset the connection and destroy the answer before the client has read it.
    fn linger(&mut self) {
        const MAX_BYTES: usize = 1 << 20;
        const MAX_TIME: Duration = Duration::from_secs(1);
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
        let until = Instant::now() + MAX_TIME;
        let mut sink = [0u8; 8192];
        let mut drained = 0;
        while drained < MAX_BYTES {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.sock.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match self.sock.read(&mut sink) {
                Ok(0) | Err(_) => return,
                Ok(n) => drained += n,
            }
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tls.writer().write_all(bytes)?;
        self.flush_tls()
    }

    fn send(&mut self, reply: &Reply) -> io::Result<()> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            reply.status,
            reason(reply.status),
            reply.content_type,
            reply.body.len()
        )
        .into_bytes();
        if let Some(allow) = reply.allow {
            out.extend_from_slice(format!("Allow: {allow}\r\n").as_bytes());
        }
        if reply.close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !reply.head_only {
            out.extend_from_slice(&reply.body);
        }
        self.write_raw(&out)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn bad(message: impl Into<String>) -> HttpError {
    HttpError::Status(400, message.into())
}

fn parse_head(head: &[u8]) -> Result<Head, HttpError> {
    let text = std::str::from_utf8(head).map_err(|_| bad("the request head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!("malformed request line {request_line:?}")));
    };
    let mut close = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(bad(format!("unsupported protocol {version:?}"))),
    };
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut expect_continue = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("malformed header line {line:?}")));
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let n = value
                    .parse::<usize>()
                    .ok()
                    .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| bad(format!("bad Content-Length {value:?}")))?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(bad("conflicting Content-Length headers"));
                }
                content_length = Some(n);
            }
            "transfer-encoding" => chunked = true,
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            "connection" => {
                close |= value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"));
            }
            _ => {}
        }
    }
    let path = target.split('?').next().unwrap_or_default().to_string();
    Ok(Head {
        method: method.to_string(),
        path,
        content_length,
        chunked,
        expect_continue,
        close,
    })
}

fn serve_connection(
    provider: &Provider<'_>,
    tls: Arc<ServerConfig>,
    stream: TcpStream,
    limits: ServerLimits,
) {
    let _ = stream.set_nodelay(true);
    let Ok(session) = ServerConnection::new(tls) else {
        return;
    };
    let mut conn = Conn {
        tls: session,
        sock: stream,
        buf: Vec::new(),
        limits,
    };
    loop {
        let reply = match conn.read_head() {
            Ok(None) | Err(HttpError::Close) => break,
            Err(HttpError::Status(status, message)) => Reply::error(status, &message),
            Ok(Some((head, deadline))) => match handle(provider, &mut conn, &head, deadline) {
                Ok(mut reply) => {
                    reply.close |= head.close;
                    reply
                }
                Err(HttpError::Close) => break,
                Err(HttpError::Status(status, message)) => Reply::error(status, &message),
            },
        };
        if conn.send(&reply).is_err() {
            return;
        }
        if reply.close {
            break;
        }
    }
    conn.tls.send_close_notify();
    let _ = conn.flush_tls();
    conn.linger();
}

/// Routes one request and reads its body when it has one.
fn handle(
    provider: &Provider<'_>,
    conn: &mut Conn,
    head: &Head,
    deadline: Instant,
) -> Result<Reply, HttpError> {
    // A body the route does not read would be taken for the next request: close after.
    let unread_body = head.chunked || head.content_length.is_some_and(|n| n > 0);
    match (head.path.as_str(), head.method.as_str()) {
        (HEALTH_PATH | READY_PATH, "GET" | "HEAD") => Ok(Reply {
            status: 200,
            content_type: "text/plain",
            body: b"ok\n".to_vec(),
            allow: None,
            close: unread_body,
            head_only: head.method == "HEAD",
        }),
        (HEALTH_PATH | READY_PATH, _) => Ok(Reply {
            allow: Some("GET, HEAD"),
            ..Reply::error(405, "only GET and HEAD are allowed here")
        }),
        (VALIDATE_PATH, "POST") => {
            if head.chunked {
                return Err(HttpError::Status(
                    411,
                    "send the body with a Content-Length, not chunked".into(),
                ));
            }
            let Some(len) = head.content_length else {
                return Err(HttpError::Status(
                    411,
                    "a Content-Length is required".into(),
                ));
            };
            if len > conn.limits.max_body_bytes {
                return Err(HttpError::Status(
                    413,
                    format!(
                        "the body is {len} bytes; at most {} are accepted",
                        conn.limits.max_body_bytes
                    ),
                ));
            }
            if head.expect_continue {
                conn.write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .map_err(|_| HttpError::Close)?;
            }
            let body = conn.read_body(len, deadline)?;
            Ok(match provider.respond(&body) {
                Ok(response) => Reply::json(200, &response),
                Err(message) => Reply::error(400, &message),
            })
        }
        (VALIDATE_PATH, _) => Ok(Reply {
            allow: Some("POST"),
            ..Reply::error(405, "only POST is allowed here")
        }),
        (path, _) => Ok(Reply::error(
            404,
            &format!("no such path {path:?}; Gatekeeper POSTs to {VALIDATE_PATH}"),
        )),
    }
}
