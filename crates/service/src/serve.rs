//! The listener: HTTP/1.1 connections under a header-read timeout, a keep-alive idle timeout and
//! a cap on open connections.
//!
//! A cap alone lets stalled connections lock everyone else out (new clients queue behind them),
//! so at the cap, or when the process runs out of file descriptors, the oldest connections that
//! have not sent a complete request head are shed and accepting goes on. A connection with a
//! request in progress (head read, response not fully written) is never shed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use axum::response::IntoResponse as _;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::HttpConfig;
use crate::problem::Problem;

/// Descriptors kept back from connections for the database, evidence files and the runtime.
const RESERVED_DESCRIPTORS: u64 = 128;
/// Connections shed at once when `accept` fails for want of descriptors.
const SHED_BATCH: usize = 16;
/// How long a kept-alive connection being shed may take to finish writing.
const SHED_GRACE: Duration = Duration::from_secs(1);
/// How long shutdown waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What the listener enforces, resolved from [`HttpConfig`] and the descriptor limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request head must be complete this long after the connection opened (or, on a
    /// kept-alive connection, after the previous response).
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed.
    pub keep_alive_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Limits {
    /// The configured limits, with the cap lowered to fit under the soft descriptor limit.
    pub fn new(config: &HttpConfig) -> Limits {
        let by_descriptors = descriptor_limit().map_or(usize::MAX, |soft| {
            // Leave room for the node's own files; at tiny limits, half for connections.
            let room = soft.saturating_sub(RESERVED_DESCRIPTORS).max(soft / 2);
            usize::try_from(room).unwrap_or(usize::MAX)
        });
        Limits {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds.max(1)),
            keep_alive_timeout: Duration::from_secs(config.keep_alive_timeout_seconds.max(1)),
            max_connections: config.max_connections.min(by_descriptors).max(1),
        }
    }
}

/// The soft limit on open file descriptors, if it can be read.
pub fn descriptor_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _hard)| soft)
}

/// Raises the soft descriptor limit to the hard one (many systems start processes at 1,024).
/// Returns the soft limit in force afterwards.
pub fn raise_descriptor_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
        .ok()
        .or_else(descriptor_limit)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in progress finish
/// (for at most 30 s).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    tracing::info!(
        max_connections = limits.max_connections,
        descriptors = descriptor_limit(),
        header_read_timeout_s = limits.header_read_timeout.as_secs(),
        keep_alive_timeout_s = limits.keep_alive_timeout.as_secs(),
        "listening"
    );
    let registry = Arc::new(Registry::new());
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let http = Arc::new(http);
    tracker.spawn(reap_idle(
        registry.clone(),
        limits.keep_alive_timeout,
        stop.clone(),
    ));
    let mut shutdown = pin!(shutdown);
    let mut warned: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _peer)) => {
                let conn = registry.insert();
                let over = registry.len().saturating_sub(limits.max_connections);
                if over > 0 {
                    let shed = registry.shed_oldest_waiting(over);
                    warn_now_and_then(&mut warned, || {
                        tracing::warn!(
                            shed,
                            cap = limits.max_connections,
                            "connection cap reached; shedding connections that sent no complete request"
                        );
                    });
                }
                tracker.spawn(connection(
                    stream,
                    app.clone(),
                    http.clone(),
                    conn,
                    registry.clone(),
                    stop.clone(),
                ));
            }
            Err(e) if out_of_descriptors(&e) => {
                let shed = registry.shed_oldest_waiting(SHED_BATCH);
                warn_now_and_then(&mut warned, || {
                    tracing::warn!(error = %e, shed, open = registry.len(), "out of file descriptors; shedding connections that sent no complete request");
                });
                // Let the shed connections' tasks close their sockets before accepting again.
                let pause = if shed > 0 { 5 } else { 50 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            // The peer gave up between SYN and accept: nothing to do.
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    stop.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = registry.len(),
            "requests still in progress after 30 s; stopping anyway"
        );
    }
    Ok(())
}

fn warn_now_and_then(last: &mut Option<Instant>, warn: impl FnOnce()) {
    if last.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
        *last = Some(Instant::now());
        warn();
    }
}

fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// One connection, until it ends, is shed, or the server stops.
async fn connection(
    stream: TcpStream,
    app: Router,
    http: Arc<http1::Builder>,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    stop: CancellationToken,
) {
    let _registered = Registered {
        registry,
        id: conn.id,
    };
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = Busy::begin(&conn);
            let mut app = app.clone();
            async move {
                let Some(busy) = busy else {
                    // Shed between reading the head and getting here: the socket is closing.
                    return Ok::<_, Infallible>(shed_response());
                };
                let resp = match tower_service::Service::call(&mut app, req.map(Body::new)).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                Ok(resp.map(|body| Body::new(Tracked { body, _busy: busy })))
            }
        })
    };
    let mut served = pin!(http.serve_connection(TokioIo::new(stream), service));
    let mut stopping = false;
    loop {
        tokio::select! {
            r = served.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            () = conn.shed.cancelled() => break,
            () = stop.cancelled(), if !stopping => {
                stopping = true;
                if conn.try_shed() {
                    break;
                }
                // A request is in progress: finish it, then close.
                served.as_mut().graceful_shutdown();
            }
        }
    }
    // Shed. One that never sent a complete head is dropped at once (its descriptor is what is
    // needed); a kept-alive one may finish writing its last response.
    if conn.served_any.load(Ordering::Acquire) {
        served.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(SHED_GRACE, served).await;
    }
}

fn shed_response() -> Response<Body> {
    let mut r = Problem::unavailable("the node is shedding connections; retry").into_response();
    r.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    r
}

/// Closes kept-alive connections that stay idle longer than `timeout`. (Hyper's header-read
/// timeout also runs between requests, so the effective idle limit is the smaller of the two.)
async fn reap_idle(registry: Arc<Registry>, timeout: Duration, stop: CancellationToken) {
    let period = (timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        registry.shed_idle_for(timeout);
    }
}

/// The open connections, oldest first.
struct Registry {
    start: Instant,
    next_id: AtomicU64,
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

/// What the listener knows of one connection.
struct Conn {
    id: u64,
    start: Instant,
    /// Requests in progress, or [`SHED`] once the connection is being shed.
    busy: AtomicUsize,
    /// Whether a complete request head was ever read (then waiting is keep-alive idling).
    served_any: AtomicBool,
    /// When the last response finished (ms after `start`).
    idle_since_ms: AtomicU64,
    shed: CancellationToken,
}

const SHED: usize = usize::MAX;

impl Registry {
    fn new() -> Registry {
        Registry {
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        // The map stays consistent whatever panicked while holding it.
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self) -> Arc<Conn> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            id,
            start: self.start,
            busy: AtomicUsize::new(0),
            served_any: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
            shed: CancellationToken::new(),
        });
        self.lock().insert(id, conn.clone());
        conn
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Sheds up to `n` of the oldest connections with no request in progress; returns how many.
    fn shed_oldest_waiting(&self, n: usize) -> usize {
        self.shed_where(n, |_| true)
    }

    /// Sheds kept-alive connections idle for longer than `timeout`.
    fn shed_idle_for(&self, timeout: Duration) -> usize {
        let now = self.start.elapsed();
        self.shed_where(usize::MAX, |c| {
            c.served_any.load(Ordering::Acquire)
                && now.saturating_sub(Duration::from_millis(
                    c.idle_since_ms.load(Ordering::Acquire),
                )) > timeout
        })
    }

    fn shed_where(&self, n: usize, pick: impl Fn(&Conn) -> bool) -> usize {
        let mut conns = self.lock();
        let victims: Vec<u64> = conns
            .values()
            .filter(|c| pick(c) && c.try_shed())
            .take(n)
            .map(|c| c.id)
            .collect();
        for id in &victims {
            if let Some(c) = conns.remove(id) {
                c.shed.cancel();
            }
        }
        victims.len()
    }
}

impl Conn {
    /// Marks the connection as being shed, unless a request is in progress.
    fn try_shed(&self) -> bool {
        self.busy
            .compare_exchange(0, SHED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Removes a connection from the registry when its task ends.
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// A request in progress, from its complete head until its response body is written (or
/// dropped).
struct Busy(Arc<Conn>);

impl Busy {
    fn begin(conn: &Arc<Conn>) -> Option<Busy> {
        conn.busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                // Never `n + 1` on SHED: it is usize::MAX.
                if n == SHED { None } else { Some(n + 1) }
            })
            .ok()?;
        conn.served_any.store(true, Ordering::Release);
        Some(Busy(conn.clone()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.idle_since_ms.store(ms, Ordering::Release);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in progress until it is written.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shedding_takes_the_oldest_waiting_connections_and_never_a_busy_one() {
        let r = Registry::new();
        let a = r.insert();
        let b = r.insert();
        let c = r.insert();
        let busy = Busy::begin(&a).expect("not shed");
        assert_eq!(r.shed_oldest_waiting(1), 1);
        assert!(b.shed.is_cancelled(), "the oldest waiting one goes first");
        assert!(!a.shed.is_cancelled() && !c.shed.is_cancelled());
        assert_eq!(r.shed_oldest_waiting(5), 1, "only c is left to shed");
        assert!(c.shed.is_cancelled());
        assert!(
            !a.shed.is_cancelled(),
            "a request in progress is never shed"
        );
        drop(busy);
        assert_eq!(r.shed_oldest_waiting(5), 1);
        assert!(
            Busy::begin(&a).is_none(),
            "a shed connection starts no request"
        );
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn only_kept_alive_connections_idle_too_long_are_reaped() {
        let r = Registry::new();
        let fresh = r.insert();
        let kept = r.insert();
        drop(Busy::begin(&kept));
        assert_eq!(r.shed_idle_for(Duration::from_secs(60)), 0);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(r.shed_idle_for(Duration::from_millis(10)), 1);
        assert!(kept.shed.is_cancelled());
        assert!(
            !fresh.shed.is_cancelled(),
            "a connection yet to send its first head is the header timeout's"
        );
    }

    #[test]
    fn the_cap_fits_under_the_descriptor_limit() {
        let limits = Limits::new(&HttpConfig {
            max_connections: usize::MAX,
            ..HttpConfig::default()
        });
        if let Some(soft) = descriptor_limit() {
            assert!((limits.max_connections as u64) < soft);
        }
        assert!(limits.max_connections >= 1);
    }
}
