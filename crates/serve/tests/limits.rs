//! Request-level limits, against a server on loopback: each attack beside a control.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use chainseal_serve::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn limits() -> Limits {
    Limits {
        max_connections: 64,
        max_in_flight: 4,
        header_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(1),
        h2_max_streams: 8,
        retry_after_secs: 2,
    }
}

/// A server with `/fast` and `/slow` (sleeps `slow`), on a fresh port.
async fn start(limits: Limits, slow: Duration) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route("/fast", get(|| async { "ok" })).route(
        "/slow",
        get(move || {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(slow).await;
                "slow ok"
            }
        }),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(chainseal_serve::serve(
        l,
        app,
        limits,
        "test",
        std::future::pending(),
    ));
    (addr, hits)
}

/// One HTTP/1.1 request; the status line and headers of the answer.
async fn get_raw(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_limit_are_shed_with_503() {
    let (addr, hits) = start(limits(), Duration::from_millis(600)).await;
    // Control: one request is answered.
    assert!(get_raw(addr, "/fast").await.starts_with("HTTP/1.1 200"));
    let mut tasks = Vec::new();
    for _ in 0..12 {
        tasks.push(tokio::spawn(async move { get_raw(addr, "/slow").await }));
    }
    let mut ok = 0;
    let mut shed = 0;
    for t in tasks {
        let r = t.await.unwrap();
        if r.starts_with("HTTP/1.1 200") {
            ok += 1;
        } else if r.starts_with("HTTP/1.1 503") {
            assert!(r.to_ascii_lowercase().contains("retry-after: 2"), "{r}");
            shed += 1;
        } else {
            panic!("unexpected answer: {r:?}");
        }
    }
    assert!(
        (1..=4).contains(&ok),
        "at most 4 in flight were served, got {ok}"
    );
    assert_eq!(ok + shed, 12);
    assert!(
        hits.load(Ordering::SeqCst) <= 4 + 4,
        "shed requests never reached the handler"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_its_time_is_answered_503() {
    let (addr, _) = start(limits(), Duration::from_secs(30)).await;
    let t0 = Instant::now();
    let r = get_raw(addr, "/slow").await;
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert!(r.contains("not answered within 1 s"), "{r}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(get_raw(addr, "/fast").await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_http2_preface_is_cut_at_the_header_timeout() {
    let (addr, _) = start(limits(), Duration::ZERO).await;
    for partial in [
        &b"PRI * HTTP/2.0\r\n"[..],
        b"",
        b"GET /fast HTTP/1.1\r\nHost:",
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(partial).await.unwrap();
        let t0 = Instant::now();
        let mut buf = Vec::new();
        // The server closes the connection (EOF, possibly after an error answer).
        let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(r.is_ok(), "{partial:?}: the connection was held past 5 s");
        assert!(
            t0.elapsed() >= Duration::from_millis(400),
            "{partial:?}: closed before the header timeout"
        );
    }
    // Control: a complete request on a fresh connection.
    assert!(get_raw(addr, "/fast").await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_refused_with_503_at_once() {
    let l = Limits {
        max_connections: 8,
        header_timeout: Duration::from_secs(30),
        ..limits()
    };
    let (addr, _) = start(l, Duration::ZERO).await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /fast HTTP/1.1\r\n").await.unwrap();
        idle.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    let r = get_raw(addr, "/fast").await;
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert!(r.contains("Retry-After: 2"), "{r}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    drop(idle);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        get_raw(addr, "/fast").await.starts_with("HTTP/1.1 200"),
        "control after the slots are freed"
    );
}
