//! The service's connections: its own accept loop over hyper, so that what a connection may
//! hold is bounded whoever opens it, authenticated or not.
//!
//! - **A cap on connections**, total and per peer address. When the total is reached, a new
//!   connection takes the place of the quietest open one that is not in a handler (of a
//!   sample): silent connections cannot keep out clients that send requests, while long
//!   polls are never cut. When every sampled connection is in a handler, or the peer's
//!   address is at its own cap, the new connection gets a `503 Service Unavailable` with
//!   `Retry-After` and a JSON `{"error": ...}` body, written by its own short-lived task (the
//!   accept loop never waits on a client) and then closed. Those answering tasks are capped
//!   too; past that cap a connection is closed at once.
//! - **A header timeout**: a connection must deliver a complete request head within it,
//!   counted from the accept (the TLS handshake included) or from the end of its previous
//!   response. A connection that says nothing, sends part of a head, or sits idle between
//!   requests is closed when it runs out.
//! - **An idle timeout**: while none of its requests is being handled, a connection on which
//!   no byte moves either way for this long is closed (a client that stops reading its
//!   answer), and a request body must arrive in full within it. Time spent in a handler — a
//!   long poll waiting for a decision — never counts.
//! - **File descriptors**: the cap is derived from `RLIMIT_NOFILE` (raised to its hard limit)
//!   minus a reserve, so that the database, its WAL, the signing key and the expiry sweep
//!   always find a descriptor; accept errors (EMFILE, ENFILE) back off instead of spinning.
//!
//! Behind a reverse proxy every connection comes from the proxy's address: the per-address
//! cap must then be raised to the total (`--max-connections-per-address`), and the proxy
//! bounds its own clients.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use axum::Router;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Descriptors kept back from connections: stdio, the listener, the runtime's epoll and
/// wake-up descriptors, the SQLite pool (8 connections × database, WAL and shared memory,
/// plus temporary files), the signing key, logs, and headroom for the sweep.
pub const FD_RESERVE: u64 = 128;
/// Connections being answered `503` at once; past this they are closed without an answer.
pub const REFUSING_MAX: usize = 64;
/// Connections told to close to make room (see `Gate::admit`) that have not closed yet.
pub const EVICTING_MAX: usize = 64;
/// How many open connections are looked at to pick one to close when the cap is reached.
const EVICTION_SAMPLE: usize = 32;
/// A connection younger than this is never closed to make room: it has had no chance yet to
/// send its request.
const EVICTION_GRACE_MS: u64 = 1000;
/// The most connections a default configuration accepts, whatever the open-file limit: each
/// held connection costs memory (see the load figures in the README).
pub const DEFAULT_CEILING: usize = 32_768;
/// How long a refused connection is given to send its request and read the 503.
const REFUSE_BUDGET: Duration = Duration::from_secs(2);
/// How long the accept loop pauses when the process or system is out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a shutdown waits for open connections to finish their requests.
const DRAIN: Duration = Duration::from_secs(10);

/// What connections may hold (the `gatekeep server` flags of the same names).
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// `--max-connections`: connections open at once.
    pub max: usize,
    /// `--max-connections-per-address`: connections open at once from one peer address (an
    /// IPv6 /64 counts as one address).
    pub per_address: usize,
    /// `--header-timeout`.
    pub header_timeout: Duration,
    /// `--idle-timeout`.
    pub idle_timeout: Duration,
}

impl ConnLimits {
    pub const DEFAULT_HEADER_SECS: u64 = 10;
    pub const DEFAULT_IDLE_SECS: u64 = 30;

    /// The limits for `nofile` open files, with the caps the operator gave (or the defaults:
    /// every descriptor not reserved, up to [`DEFAULT_CEILING`], and half of that per
    /// address). Refuses caps the open-file limit cannot back.
    pub fn resolve(
        nofile: u64,
        max: Option<usize>,
        per_address: Option<usize>,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> Result<ConnLimits> {
        let reserve = FD_RESERVE + (REFUSING_MAX + EVICTING_MAX) as u64;
        let room = usize::try_from(nofile.saturating_sub(reserve)).unwrap_or(usize::MAX);
        if room < 16 {
            bail!(
                "the open-file limit is {nofile}, which leaves no room for connections after the {reserve} descriptors kept for the database, the signing key, logs and refusing connections\nhint: raise it (`ulimit -n`, or LimitNOFILE= in a systemd unit) to at least {}",
                reserve + 256
            );
        }
        let max = match max {
            Some(max) if max > room => bail!(
                "--max-connections {max} needs about {} open files, but the limit is {nofile}\nhint: raise the hard limit (`ulimit -Hn`, or LimitNOFILE= in a systemd unit), or pass --max-connections {room} or less",
                max as u64 + reserve
            ),
            Some(max) => max,
            None => room.min(DEFAULT_CEILING),
        };
        let per_address = match per_address {
            Some(n) => n.min(max),
            None => (max / 2).max(1),
        };
        Ok(ConnLimits {
            max,
            per_address,
            header_timeout,
            idle_timeout,
        })
    }
}

/// The listen backlog asked for (the kernel caps it at `net.core.somaxconn`). The usual 128
/// overflows under a burst of connections, and a connection whose handshake completes while
/// the queue is full is dropped by the server but left established at the client, which then
/// waits on a connection nobody will ever answer.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with `LISTEN_BACKLOG` (and `SO_REUSEADDR`, as `TcpListener::bind` sets, so
/// a restart does not wait out TIME_WAIT).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raises the soft open-file limit to the hard one and returns the limit now in force: every
/// waiting client holds a connection, and the common soft default of 1,024 would cap the
/// service near a thousand of them.
pub fn raise_file_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                tracing::debug!(from = soft, to = hard, "raised the open-file limit");
                hard
            }
            Err(e) => {
                tracing::warn!(error = %e, soft, "cannot raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        // Unknown: assume the common default rather than nothing.
        Err(_) => 1024,
    }
}

/// Which cap a connection hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Full {
    Total,
    Address,
}

/// The 503 a refused connection reads.
fn refusal(full: Full, limits: &ConnLimits) -> Vec<u8> {
    let error = match full {
        Full::Total => format!(
            "the approval service is at its connection limit ({} connections); retry shortly",
            limits.max
        ),
        Full::Address => format!(
            "the approval service is at its connection limit for your address ({} connections); retry shortly, or close idle connections",
            limits.per_address
        ),
    };
    let body = serde_json::json!({ "error": error }).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The key the per-address cap counts by: the IPv4 address, or the IPv6 /64 (one host
/// usually holds a whole /64, so counting single IPv6 addresses would cap nothing).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None if v6.is_loopback() => ip,
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// The open connections, counted per address, and listed so that one can be picked to close.
#[derive(Default)]
struct Open {
    live: Vec<Arc<Activity>>,
    by_address: HashMap<IpAddr, usize>,
    /// Connections told to close that have not closed yet (still in `live`).
    evicting: usize,
    /// State of the xorshift that picks the sample.
    seed: u64,
}

struct Gate {
    limits: ConnLimits,
    open: Mutex<Open>,
    refusing: AtomicUsize,
    /// Last time (seconds since start) a full-gate warning was logged.
    warned: AtomicU64,
    started: Instant,
}

/// A connection's place under the cap, given back when it drops.
struct Permit {
    gate: Arc<Gate>,
    key: IpAddr,
    activity: Arc<Activity>,
}

impl Gate {
    fn new(limits: ConnLimits) -> Arc<Gate> {
        Arc::new(Gate {
            limits,
            open: Mutex::new(Open {
                seed: 0x9e37_79b9_7f4a_7c15,
                ..Open::default()
            }),
            refusing: AtomicUsize::new(0),
            warned: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    /// A place for a connection from `ip`. At the total cap, the quietest of a sample of open
    /// connections that are not in a handler is told to close and the new one takes its place
    /// (a connection that says nothing must not keep out one that has a request to make); if
    /// none can go, or too many are already closing, or `ip` is at its own cap: refused.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Full> {
        let key = address_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.by_address.get(&key).copied().unwrap_or(0) >= self.limits.per_address {
            return Err(Full::Address);
        }
        if open.live.len() - open.evicting >= self.limits.max {
            if open.evicting >= EVICTING_MAX {
                return Err(Full::Total);
            }
            let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let victim = open.quietest(now_ms).ok_or(Full::Total)?;
            victim.evicted.store(true, Ordering::Relaxed);
            victim.evict.notify_one();
            open.evicting += 1;
        }
        *open.by_address.entry(key).or_insert(0) += 1;
        let activity = Arc::new(Activity::new(self.started, open.live.len()));
        open.live.push(activity.clone());
        Ok(Permit {
            gate: self.clone(),
            key,
            activity,
        })
    }

    fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .live
            .len()
    }

    /// Logs at most one warning every ten seconds about refusals.
    fn warn_full(&self, full: Full, peer: SocketAddr) {
        let now = self.started.elapsed().as_secs() + 10;
        let last = self.warned.load(Ordering::Relaxed);
        if now >= last + 10
            && self
                .warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                ?full,
                %peer,
                max = self.limits.max,
                per_address = self.limits.per_address,
                "refusing connections: at the connection limit (503)"
            );
        }
    }
}

impl Open {
    /// The connection quiet for longest, among a pseudo-random sample of those open, that is
    /// not in a handler and not already closing.
    fn quietest(&mut self, now_ms: u64) -> Option<Arc<Activity>> {
        let n = self.live.len();
        if n == 0 {
            return None;
        }
        let mut best: Option<&Arc<Activity>> = None;
        for _ in 0..EVICTION_SAMPLE.min(n) {
            // xorshift64: cheap and good enough to spread the sample.
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            let candidate = &self.live[usize::try_from(self.seed % n as u64).unwrap_or(0)];
            if candidate.handling.load(Ordering::Relaxed) > 0
                || candidate.evicted.load(Ordering::Relaxed)
                || candidate.accepted_ms + EVICTION_GRACE_MS > now_ms
            {
                continue;
            }
            let last = candidate.last.load(Ordering::Relaxed);
            if best.is_none_or(|b| last < b.last.load(Ordering::Relaxed)) {
                best = Some(candidate);
            }
        }
        best.cloned()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self
            .gate
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = self.activity.slot.load(Ordering::Relaxed);
        if slot < open.live.len() && Arc::ptr_eq(&open.live[slot], &self.activity) {
            open.live.swap_remove(slot);
            if let Some(moved) = open.live.get(slot) {
                moved.slot.store(slot, Ordering::Relaxed);
            }
        }
        if self.activity.evicted.load(Ordering::Relaxed) {
            open.evicting = open.evicting.saturating_sub(1);
        }
        if let Some(from) = open.by_address.get_mut(&self.key) {
            *from -= 1;
            if *from == 0 {
                open.by_address.remove(&self.key);
            }
        }
    }
}

/// A place among the connections being refused.
struct Refusing(Arc<Gate>);

impl Drop for Refusing {
    fn drop(&mut self) {
        self.0.refusing.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether an accept error means the process or the system ran out of descriptors or memory.
fn is_exhaustion(e: &io::Error) -> bool {
    use nix::errno::Errno;
    e.raw_os_error().map(Errno::from_raw).is_some_and(|e| {
        matches!(
            e,
            Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM
        )
    })
}

/// Accepts and serves connections on `listener` until `shutdown` completes, then lets open
/// requests finish (for up to ten seconds).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<ServerConfig>>,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) {
    let gate = Gate::new(limits);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut accept_warned: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_exhaustion(&e) => {
                    // The reserve should prevent this; if it happens anyway (another process
                    // took the system's descriptors), wait rather than spin, and say so once
                    // in a while.
                    if accept_warned.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(error = %e, "cannot accept connections: out of resources; backing off");
                        accept_warned = Some(Instant::now());
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
                // A connection reset before it was accepted, and the like: the next one.
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        match gate.admit(peer.ip()) {
            Ok(permit) => {
                let router = router.clone();
                let tls = tls.clone();
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    let activity = permit.activity.clone();
                    tokio::select! {
                        () = connection(stream, peer, tls, router, limits, activity.clone(), stopped) => {}
                        () = activity.evict.notified() => {
                            tracing::debug!(%peer, "closed a quiet connection to make room");
                        }
                    }
                    drop(permit);
                });
            }
            Err(full) => {
                gate.warn_full(full, peer);
                if gate.refusing.fetch_add(1, Ordering::Relaxed) >= REFUSING_MAX {
                    // Too many being answered already: close this one at once.
                    gate.refusing.fetch_sub(1, Ordering::Relaxed);
                    drop(stream);
                    continue;
                }
                let slot = Refusing(gate.clone());
                let answer = refusal(full, &limits);
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REFUSE_BUDGET, refuse(stream, tls, answer)).await;
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let deadline = Instant::now() + DRAIN;
    while gate.open() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Answers a refused connection with its 503: waits briefly for its request head (closing
/// with a request unread would reset the connection and lose the answer), writes the 503,
/// half-closes, and drains what the client still sends until it closes.
async fn refuse(stream: TcpStream, tls: Option<Arc<ServerConfig>>, answer: Vec<u8>) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => {
            let _ = refuse_on(stream, &answer).await;
        }
        Some(config) => {
            if let Ok(tls) = TlsAcceptor::from(config).accept(stream).await {
                let _ = refuse_on(tls, &answer).await;
            }
        }
    }
}

async fn refuse_on<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, answer: &[u8]) -> io::Result<()> {
    let mut buf = vec![0u8; 8192];
    let mut seen = 0;
    let head = async {
        while seen < buf.len() {
            let n = io.read(&mut buf[seen..]).await?;
            if n == 0 {
                break;
            }
            seen += n;
            if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        io::Result::Ok(())
    };
    // A client that says nothing still gets the answer, after a second.
    let _ = tokio::time::timeout(REFUSE_BUDGET / 2, head).await;
    io.write_all(answer).await?;
    io.flush().await?;
    io.shutdown().await?;
    while io.read(&mut buf).await? > 0 {}
    Ok(())
}

/// When a connection last moved a byte, how many of its requests are in a handler, and
/// whether it was told to close to make room.
struct Activity {
    /// The gate's start: one clock for every connection, so they can be compared.
    base: Instant,
    /// Milliseconds since `base` of the last byte read or written (or of the accept).
    last: AtomicU64,
    handling: AtomicUsize,
    /// Its index in [`Open::live`].
    slot: AtomicUsize,
    /// Milliseconds since `base` of the accept.
    accepted_ms: u64,
    evicted: std::sync::atomic::AtomicBool,
    evict: tokio::sync::Notify,
}

impl Activity {
    fn new(base: Instant, slot: usize) -> Activity {
        let accepted_ms = u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX);
        Activity {
            base,
            last: AtomicU64::new(accepted_ms),
            accepted_ms,
            handling: AtomicUsize::new(0),
            slot: AtomicUsize::new(slot),
            evicted: std::sync::atomic::AtomicBool::new(false),
            evict: tokio::sync::Notify::new(),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(now.saturating_sub(self.last.load(Ordering::Relaxed)))
    }

    /// Resolves once the connection has been quiet for `idle` with no request in a handler.
    async fn idle(&self, idle: Duration) {
        loop {
            let quiet = self.quiet_for();
            let wait = if self.handling.load(Ordering::Relaxed) > 0 {
                idle
            } else if quiet >= idle {
                return;
            } else {
                idle - quiet
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// A request in a handler: the connection is not idle meanwhile.
struct Handling(Arc<Activity>);

impl Handling {
    fn start(activity: &Arc<Activity>) -> Handling {
        activity.handling.fetch_add(1, Ordering::Relaxed);
        Handling(activity.clone())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        // The idle clock restarts when the handler ends, not when the request began.
        self.0.touch();
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that records when it last moved a byte.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that must arrive in full by a deadline (the idle timeout after its head):
/// a body dripped a byte at a time would otherwise hold its connection forever.
struct DeadlineBody {
    inner: Incoming,
    deadline: tokio::time::Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The error a body that missed its deadline ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the idle timeout")]
struct BodyTimeout;

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = self.deadline;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves one admitted connection: the TLS handshake if any, then HTTP/1.1 until the client
/// closes, a timeout fires, or the server stops (open requests are finished first).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    router: Router,
    limits: ConnLimits,
    activity: Arc<Activity>,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let io = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    match tls {
        None => http(io, peer, activity, router, limits, stopped).await,
        Some(config) => {
            // The handshake counts against the header timeout: a client that connects and
            // stalls mid-handshake is closed like one that stalls mid-head.
            let handshake = TlsAcceptor::from(config).accept(io);
            match tokio::time::timeout(limits.header_timeout, handshake).await {
                Ok(Ok(io)) => http(io, peer, activity, router, limits, stopped).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn http<I>(
    io: I,
    peer: SocketAddr,
    activity: Arc<Activity>,
    router: Router,
    limits: ConnLimits,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = TowerToHyperService::new(router);
    let handler_activity = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let handling = Handling::start(&handler_activity);
        let deadline = tokio::time::Instant::now() + limits.idle_timeout;
        let req = req.map(|inner| DeadlineBody {
            inner,
            deadline,
            timer: None,
        });
        let response = router.call(req);
        async move {
            let response = response.await;
            drop(handling);
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let idle = activity.idle(limits.idle_timeout);
    tokio::pin!(idle);
    let mut stopping = *stopped.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            () = &mut idle => {
                tracing::debug!(%peer, "closing an idle connection");
                return;
            }
            changed = stopped.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_cap_comes_from_the_file_limit_and_refuses_what_it_cannot_back() {
        let l = ConnLimits::resolve(20_000, None, None, secs(10), secs(30)).unwrap();
        assert_eq!(l.max, 20_000 - 256);
        assert_eq!(l.per_address, (20_000 - 256) / 2);
        let l = ConnLimits::resolve(1 << 20, None, None, secs(10), secs(30)).unwrap();
        assert_eq!(l.max, DEFAULT_CEILING, "a huge limit is not a huge default");
        let l = ConnLimits::resolve(1024, Some(500), Some(800), secs(1), secs(1)).unwrap();
        assert_eq!((l.max, l.per_address), (500, 500));

        let e = ConnLimits::resolve(1024, Some(5000), None, secs(1), secs(1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--max-connections 5000") && e.contains("ulimit -Hn"),
            "{e}"
        );
        let e = ConnLimits::resolve(200, None, None, secs(1), secs(1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("open-file limit is 200"), "{e}");
    }

    #[test]
    fn the_gate_counts_per_address_and_makes_room_only_by_closing_quiet_connections() {
        let limits = ConnLimits::resolve(1024, Some(3), Some(2), secs(1), secs(1)).unwrap();
        let gate = Gate::new(limits);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let a1 = gate.admit(a).unwrap();
        let a2 = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).err(), Some(Full::Address));
        let b1 = gate.admit(b).unwrap();

        // Full: while every connection is in a handler (a long poll), a new one is refused.
        let busy: Vec<Handling> = [&a1, &a2, &b1]
            .iter()
            .map(|p| Handling::start(&p.activity))
            .collect();
        assert_eq!(gate.admit(b).err(), Some(Full::Total));
        // Quiet but just accepted: not closed yet, it may still send its request.
        drop(busy);
        assert_eq!(gate.admit(b).err(), Some(Full::Total));
        // Once one is quiet past the grace, it is told to close and the new one takes its
        // place.
        std::thread::sleep(Duration::from_millis(EVICTION_GRACE_MS + 50));
        let b2 = gate.admit(b).unwrap();
        let evicted: Vec<bool> = [&a1, &a2, &b1]
            .iter()
            .map(|p| p.activity.evicted.load(Ordering::Relaxed))
            .collect();
        assert_eq!(evicted.iter().filter(|e| **e).count(), 1, "{evicted:?}");
        assert!(!b2.activity.evicted.load(Ordering::Relaxed));
        assert_eq!(
            gate.open(),
            4,
            "the evicted one holds its place until it closes"
        );
        drop(a1);
        drop(a2);
        drop(b1);
        assert_eq!(gate.open(), 1);
        let o = gate.open.lock().unwrap();
        assert_eq!((o.evicting, o.by_address.len()), (0, 1));
        drop(o);
        drop(b2);
        assert!(gate.open.lock().unwrap().by_address.is_empty());

        // One IPv6 /64 is one address; an IPv4-mapped address is its IPv4 address.
        let x: IpAddr = "2001:db8:1:2::7".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_key(x), address_key(y));
        let m: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert_eq!(address_key(m), a);
    }

    #[test]
    fn the_refusal_is_a_complete_503_with_a_json_error() {
        let limits = ConnLimits::resolve(1024, Some(7), None, secs(1), secs(1)).unwrap();
        let text = String::from_utf8(refusal(Full::Total, &limits)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains("retry-after: 1") && head.contains("connection: close"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("connection limit (7"),
            "{v}"
        );
    }
}
