//! The provider's HTTPS server: hyper's HTTP/1.1 over tokio-rustls (TLS 1.3), on tokio.
//!
//! **Connections** are tokio tasks, at most [`ServerLimits::max_connections`] at once (further
//! clients wait in the listen backlog). An idle or slow client holds a task and its buffers, a
//! few tens of KiB, never a thread. Every connection is bounded in time:
//! - the TLS handshake must finish within `io_timeout`;
//! - each request head must arrive within `io_timeout` of the connection becoming ready for it
//!   (hyper's header-read timeout), which also closes idle keep-alive connections;
//! - the body, the wait for an evaluation thread and the evaluation must finish within
//!   `request_timeout` of the head (408 while the body is still arriving, 503 after);
//! - a write that makes no progress for `io_timeout` (a client that stopped reading) closes it.
//!
//! **Requests**: `POST /validate` needs a `Content-Length` (411 without, or chunked) of at
//! most `max_body_bytes` (413 beyond, before the body is read); a head larger than
//! `max_head_bytes` is a 431 and a malformed one a 400 (hyper's). A body that is not a
//! ProviderRequest is a 400 with `systemError` set; other methods get 405 with `Allow`, other
//! paths 404. Every answer but a 200 closes the connection; a closing connection still reads
//! (and drops) what the client sends for up to a second, so that its last answer is not lost
//! to the reset a socket closed with unread bytes gets.
//!
//! **Evaluations** run on `eval_threads` threads of their own (at most the host's instance
//! pool, so an evaluation never fails for want of an instance), fed by a queue as long as the
//! connection limit: a burst waits in the queue, under the request's deadline, instead of
//! failing. A request whose client has gone is dropped from the queue unevaluated.
//!
//! **Shutdown** (SIGTERM or SIGINT for [`Server::serve`]): `/readyz` answers 503 and every
//! response carries `Connection: close`; new connections are still accepted for
//! `shutdown_delay` (for Services whose endpoints have not yet dropped the pod; the generated
//! Deployment's preStop sleep does the same before SIGTERM), then the listener closes. Requests
//! in flight and requests on connections already open are answered; the server returns once
//! every connection has closed, or after `shutdown_timeout` at most.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;

use super::{HEALTH_PATH, Provider, ProviderResponse, READY_PATH, VALIDATE_PATH};

/// Bounds on what clients can make the server do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Largest request body (default 4 MiB; larger is a 413).
    pub max_body_bytes: usize,
    /// Largest request head: request line and headers (default 16 KiB, at least 8 KiB; larger
    /// is a 431).
    pub max_head_bytes: usize,
    /// The TLS handshake, each request head (and so an idle keep-alive connection) and each
    /// stalled write must finish within this (default 5 s).
    pub io_timeout: Duration,
    /// A request's body, queueing and evaluation must finish within this of its head (default
    /// 10 s; a 408 while the body is arriving, a 503 after).
    pub request_timeout: Duration,
    /// Connections open at once (default 1024); more wait in the listen backlog.
    pub max_connections: usize,
    /// Threads that evaluate (default: the machine's cores), at most the host's instance pool.
    pub eval_threads: usize,
    /// After SIGTERM, how long new connections are still accepted (default 0).
    pub shutdown_delay: Duration,
    /// After SIGTERM, how long open connections may take to finish (default 20 s, within the
    /// Deployment's 30 s termination grace period less its 5 s preStop sleep).
    pub shutdown_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_body_bytes: 4 << 20,
            max_head_bytes: 16 << 10,
            io_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_connections: 1024,
            eval_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            shutdown_delay: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// hyper's smallest read buffer: it refuses (panics on) a smaller `max_buf_size`.
const MIN_HEAD_BYTES: usize = 8192;

/// A bound listener, ready to serve.
pub struct Server {
    listener: std::net::TcpListener,
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
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        Ok(Server {
            listener,
            tls,
            limits,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully (see the module
    /// documentation) and returns.
    pub fn serve(self, provider: &Provider<'_>) -> anyhow::Result<()> {
        self.serve_until(provider, async {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = term.recv() => eprintln!("prodready: SIGTERM: shutting down"),
                _ = tokio::signal::ctrl_c() => eprintln!("prodready: SIGINT: shutting down"),
            }
        })
    }

    /// Serves until `shutdown` completes, then shuts down gracefully and returns.
    pub fn serve_until(
        self,
        provider: &Provider<'_>,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let limits = self.limits;
        let eval_threads = limits.eval_threads.clamp(1, provider.max_parallel().max(1));
        let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(max_connections);
        let queue = Mutex::new(queue);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(eval_threads.min(4))
            .thread_name("prodready-io")
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("starting the I/O runtime: {e}"))?;
        std::thread::scope(|scope| {
            for i in 0..eval_threads {
                let queue = &queue;
                std::thread::Builder::new()
                    .name(format!("prodready-eval-{i}"))
                    .spawn_scoped(scope, move || evaluate_jobs(provider, queue))
                    .map_err(|e| anyhow::anyhow!("starting an evaluation thread: {e}"))?;
            }
            let shared = Arc::new(Shared {
                limits,
                jobs,
                draining: AtomicBool::new(false),
            });
            let served = runtime.block_on(accept(self, shared, max_connections, shutdown));
            // Connections still open past the shutdown timeout are dropped with the runtime;
            // with them go the last senders of the queue, so the evaluation threads end.
            runtime.shutdown_timeout(Duration::from_millis(100));
            served
        })
    }
}

/// What every connection shares.
struct Shared {
    limits: ServerLimits,
    jobs: SyncSender<Job>,
    /// Shutting down: not ready, and every response closes its connection.
    draining: AtomicBool,
}

/// One request body to evaluate, and where its answer goes.
struct Job {
    body: Bytes,
    reply: oneshot::Sender<(StatusCode, Vec<u8>)>,
}

/// An evaluation thread: answers jobs until every sender is gone.
fn evaluate_jobs(provider: &Provider<'_>, queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        if job.reply.is_closed() {
            continue; // the client has gone (or its deadline passed): nobody reads the answer
        }
        let answer = match provider.respond(&job.body) {
            Ok(response) => (StatusCode::OK, to_json(&response)),
            Err(message) => (
                StatusCode::BAD_REQUEST,
                to_json(&ProviderResponse::system_error(message)),
            ),
        };
        let _ = job.reply.send(answer);
    }
}

fn to_json(response: &ProviderResponse) -> Vec<u8> {
    serde_json::to_vec(response).unwrap_or_else(|_| b"{}".to_vec())
}

/// Accepts connections until `shutdown`, then for `shutdown_delay` more, then waits (at most
/// `shutdown_timeout`) for the open ones to finish.
async fn accept(
    server: Server,
    shared: Arc<Shared>,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(server.listener)
        .map_err(|e| anyhow::anyhow!("listening: {e}"))?;
    let acceptor = TlsAcceptor::from(server.tls);
    let slots = Arc::new(Semaphore::new(max_connections));
    let limits = shared.limits;
    let shutdown = std::pin::pin!(shutdown);
    accept_until(&listener, &acceptor, &slots, &shared, shutdown).await;
    shared.draining.store(true, Ordering::SeqCst);
    if !limits.shutdown_delay.is_zero() {
        let delay = std::pin::pin!(tokio::time::sleep(limits.shutdown_delay));
        accept_until(&listener, &acceptor, &slots, &shared, delay).await;
    }
    drop(listener);
    let open = max_connections - slots.available_permits();
    if open > 0 {
        eprintln!("prodready: no longer accepting; waiting for {open} open connections");
    }
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    match tokio::time::timeout(limits.shutdown_timeout, slots.acquire_many(all)).await {
        Ok(_) => eprintln!("prodready: every connection closed; stopped"),
        Err(_) => eprintln!(
            "prodready: warning: {} connections still open after {} ms; closing them",
            max_connections - slots.available_permits(),
            limits.shutdown_timeout.as_millis()
        ),
    }
    Ok(())
}

async fn accept_until(
    listener: &tokio::net::TcpListener,
    acceptor: &TlsAcceptor,
    slots: &Arc<Semaphore>,
    shared: &Arc<Shared>,
    mut until: Pin<&mut impl Future<Output = ()>>,
) {
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = until.as_mut() => return,
        };
        let Ok(slot) = slot else { return }; // closed: never, the semaphore lives here
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = until.as_mut() => return,
        };
        match accepted {
            Ok((tcp, _)) => {
                let acceptor = acceptor.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    connection(tcp, acceptor, shared).await;
                    drop(slot);
                });
            }
            Err(e) => {
                drop(slot);
                eprintln!("prodready: warning: accept: {e}");
                // Out of file descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One client connection: TLS, then HTTP/1.1 requests until it closes, errs or idles out.
async fn connection(tcp: tokio::net::TcpStream, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    let limits = shared.limits;
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(limits.io_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        // A failed or too slow handshake: nothing to answer in HTTP.
        Ok(Err(_)) | Err(_) => return,
    };
    let mut stream = WriteTimeout::new(tls, limits.io_timeout);
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(respond(&shared, request).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.io_timeout)
        .max_buf_size(limits.max_head_bytes.max(MIN_HEAD_BYTES))
        .keep_alive(true)
        .serve_connection(TokioIo::new(&mut stream), service)
        .await;
    linger(&mut stream).await;
}

/// How long, and how many bytes, a closing connection still reads (see [`linger`]).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;

/// Closes a connection without losing its last answer: a socket closed with unread bytes in
/// it (a 431 for a head still arriving, a 413 for a body still being sent) is reset by the
/// kernel, and a reset can discard the answer before the client reads it. So: say we are
/// done (TLS close_notify, then FIN), and read and drop what the client still sends, until it
/// closes too, for [`LINGER`] or [`LINGER_BYTES`] at most.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let drain = async {
        let _ = stream.shutdown().await;
        let mut buf = [0u8; 8192];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

type Reply = Response<Full<Bytes>>;

/// Answers one request; while shutting down, every answer closes its connection.
async fn respond(shared: &Shared, request: Request<Incoming>) -> Reply {
    let mut reply = route(shared, request).await;
    if reply.status() != StatusCode::OK || shared.draining.load(Ordering::SeqCst) {
        reply
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    reply
}

async fn route(shared: &Shared, request: Request<Incoming>) -> Reply {
    let deadline = Instant::now() + shared.limits.request_timeout;
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match path.as_str() {
        HEALTH_PATH | READY_PATH if method != Method::GET && method != Method::HEAD => with_allow(
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "only GET and HEAD are allowed here",
            ),
            "GET, HEAD",
        ),
        READY_PATH if shared.draining.load(Ordering::SeqCst) => {
            text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
        }
        HEALTH_PATH | READY_PATH => {
            let mut reply = text(StatusCode::OK, "ok\n");
            if has_body(&request) {
                // A body the route does not read: close rather than read it as the next request.
                reply
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            reply
        }
        VALIDATE_PATH if method == Method::POST => validate(shared, request, deadline).await,
        VALIDATE_PATH => with_allow(
            error(StatusCode::METHOD_NOT_ALLOWED, "only POST is allowed here"),
            "POST",
        ),
        path => error(
            StatusCode::NOT_FOUND,
            &format!("no such path {path:?}; Gatekeeper POSTs to {VALIDATE_PATH}"),
        ),
    }
}

fn has_body(request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || content_length(request).is_some_and(|n| n > 0)
}

fn content_length(request: &Request<Incoming>) -> Option<u64> {
    let value = request.headers().get(header::CONTENT_LENGTH)?;
    value.to_str().ok()?.trim().parse().ok()
}

/// `POST /validate`: read the body within the deadline, queue it, wait for the answer.
async fn validate(shared: &Shared, request: Request<Incoming>, deadline: Instant) -> Reply {
    let max = shared.limits.max_body_bytes;
    if request.headers().contains_key(header::TRANSFER_ENCODING) {
        return error(
            StatusCode::LENGTH_REQUIRED,
            "send the body with a Content-Length, not chunked",
        );
    }
    let Some(len) = content_length(&request) else {
        return error(StatusCode::LENGTH_REQUIRED, "a Content-Length is required");
    };
    if len > max as u64 {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is {len} bytes; at most {max} are accepted"),
        );
    }
    let body = Limited::new(request.into_body(), max).collect();
    let body = match tokio::time::timeout_at(deadline, body).await {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(e)) => {
            return error(StatusCode::BAD_REQUEST, &format!("reading the body: {e}"));
        }
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the body did not arrive within {} ms",
                    shared.limits.request_timeout.as_millis()
                ),
            );
        }
    };
    let (reply, answer) = oneshot::channel();
    match shared.jobs.try_send(Job { body, reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the provider is overloaded (its evaluation queue is full); retry",
            );
        }
        Err(TrySendError::Disconnected(_)) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "the provider is stopping");
        }
    }
    match tokio::time::timeout_at(deadline, answer).await {
        Ok(Ok((status, body))) => json(status, body),
        Ok(Err(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "the provider is stopping"),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "no evaluation within {} ms of the request (the provider is overloaded); retry",
                shared.limits.request_timeout.as_millis()
            ),
        ),
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

fn error(status: StatusCode, message: &str) -> Reply {
    json(status, to_json(&ProviderResponse::system_error(message)))
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    reply
}

fn with_allow(mut reply: Reply, allow: &'static str) -> Reply {
    reply
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    reply
}

/// A stream whose writes fail once they have made no progress for `timeout`: a client that
/// stops reading cannot hold its connection (and the shutdown) forever. Reads are bounded by
/// hyper's header-read timeout and the request deadline instead.
struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteTimeout<S> {
    fn new(inner: S, timeout: Duration) -> WriteTimeout<S> {
        WriteTimeout {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// After a write returned `Pending`: an error once it has been pending for `timeout`.
    fn check_stall<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.check_stall(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.check_stall(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.check_stall(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.check_stall(cx, polled)
    }
}
