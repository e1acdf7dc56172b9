//! Host an [`axum::Router`] on a TCP listener so that no client, slow or hostile, can
//! take the service down: what `axum::serve` leaves unbounded is bounded here.
//!
//! - **Connections**: at most [`Limits::max_connections`] at once (by default a quarter of
//!   the process's open-file limit, so that in `chainseal stack` one port's flood cannot
//!   starve the other services of file descriptors). A connection over the limit is
//!   answered `503 Service Unavailable` with `Retry-After` and closed at once.
//! - **Time**: a client must send its first bytes and then a complete request head
//!   within [`Limits::header_timeout`] (also the idle timeout of a kept-alive HTTP/1
//!   connection); a request must be answered within [`Limits::request_timeout`],
//!   reading its body included.
//! - **Load**: at most [`Limits::max_in_flight`] requests are handled at once; above that
//!   a request is shed with `503` and `Retry-After` instead of queueing without bound.
//! - **HTTP/2** (prior knowledge, h2c): at most [`Limits::h2_max_streams`] streams per
//!   connection, bounded send buffers, keep-alive pings that drop dead peers.
//! - **Logs**: accept errors, shed requests and timeouts are logged with `tracing`; every
//!   request at `debug` level.
//!
//! It never terminates on a client's behaviour: accept errors (`EMFILE`, resets) are
//! logged and the loop goes on.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::{BoxError, ServiceBuilder};

/// What one server allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Requests handled at once; more are shed with 503.
    pub max_in_flight: usize,
    /// Time for a client's first bytes and for each complete request head (and the idle
    /// time allowed between requests on a kept-alive connection).
    pub header_timeout: Duration,
    /// Time to answer one request, reading its body included.
    pub request_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub h2_max_streams: u32,
    /// Seconds a client is told to wait (`Retry-After`) when shed.
    pub retry_after_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            max_in_flight: 4096,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            h2_max_streams: 64,
            retry_after_secs: 1,
        }
    }
}

/// The soft open-file limit of this process, from `/proc/self/limits` (no libc call).
pub fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    soft.parse().ok()
}

/// A quarter of the open-file limit (after 64 kept for files, the database and outbound
/// calls), between 16 and 4,096: three servers in one process (`chainseal stack`) then
/// cannot exhaust the descriptors between them.
pub fn default_max_connections() -> usize {
    let nofile = open_file_limit().unwrap_or(1024);
    let share = nofile.saturating_sub(64) / 4;
    usize::try_from(share).unwrap_or(4096).clamp(16, 4096)
}

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn overloaded(limits: &Limits, what: &str) -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{what}; retry in {} s\n", limits.retry_after_secs),
    )
        .into_response();
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(limits.retry_after_secs),
    );
    r
}

/// `app` with the request limits: a timeout per request and a bound on requests in
/// flight, both answered 503 with `Retry-After`.
pub fn with_request_limits(app: Router, limits: &Limits) -> Router {
    let l = *limits;
    app.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |e: BoxError| async move {
                if e.is::<tower::load_shed::error::Overloaded>() {
                    tracing::warn!(
                        max_in_flight = l.max_in_flight,
                        "request shed: the server is at its limit of requests in flight"
                    );
                    overloaded(&l, "overloaded: too many requests in flight")
                } else if e.is::<tower::timeout::error::Elapsed>() {
                    tracing::warn!(timeout_s = l.request_timeout.as_secs(), "request timed out");
                    overloaded(
                        &l,
                        &format!(
                            "the request was not answered within {} s",
                            l.request_timeout.as_secs()
                        ),
                    )
                } else {
                    tracing::error!(error = %e, "request failed");
                    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
                }
            }))
            .load_shed()
            // Global: axum applies a layer to each route, and the bound is the server's.
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                l.max_in_flight,
            ))
            .timeout(l.request_timeout),
    )
}

/// Wait until the client has sent its first bytes and, if they start an HTTP/2
/// preface, all 24 of them (hyper reads them with no deadline); `false` if it does not
/// within `t` or hangs up.
async fn first_bytes_within(stream: &TcpStream, t: Duration) -> bool {
    let wait = async {
        let mut buf = [0u8; 24];
        loop {
            match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if n >= H2_PREFACE.len() || buf[..n] != H2_PREFACE[..n] => return true,
                // A partial preface: the rest is on its way (or never comes).
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    };
    tokio::time::timeout(t, wait).await.unwrap_or(false)
}

async fn reject(mut stream: TcpStream, limits: Limits) {
    let body = "too many connections; retry later\n";
    let msg = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        limits.retry_after_secs,
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(msg.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Serve `app` on `listener` under `limits` until `shutdown` completes; then stop
/// accepting and let open connections finish their requests. `name` labels the logs.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    name: &'static str,
    shutdown: impl Future<Output = ()> + Send,
) {
    let app = with_request_limits(app, &limits);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_streams)
        .max_send_buf_size(64 * 1024)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(
            server = name,
            %addr,
            max_connections = limits.max_connections,
            max_in_flight = limits.max_in_flight,
            "serving"
        );
    }
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE, ENFILE, ECONNABORTED…: never a reason to stop serving.
                    tracing::warn!(server = name, error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(
                server = name,
                %peer,
                max_connections = limits.max_connections,
                "connection refused with 503: at the connection limit"
            );
            tokio::spawn(reject(stream, limits));
            continue;
        };
        let builder = builder.clone();
        let svc = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if !first_bytes_within(&stream, limits.header_timeout).await {
                tracing::debug!(server = name, %peer, "closed: no request within the header timeout");
                return;
            }
            let _ = stream.set_nodelay(true);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(server = name, %peer, error = %e, "connection ended with an error");
            }
        });
    }
    let _ = stop_tx.send(true);
    tracing::info!(server = name, "stopped accepting connections");
}
