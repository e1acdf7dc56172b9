//! The HTTP face of the witness (axum): `POST /add-checkpoint` and the monitoring read
//! path `GET /checkpoint/<hex sha256(origin)>` (also at `/<hex>/checkpoint`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chainseal_tlog::witness_protocol::{SIZE_CONTENT_TYPE, encode_size_body};

use crate::error::{Error, Result};
use crate::witness::{Witness, WitnessConfig};

/// Largest accepted request body: 63 proof lines plus a checkpoint with many signatures.
pub const MAX_BODY: usize = 64 * 1024;

const TEXT: &str = "text/plain; charset=utf-8";

/// The witness's routes, with the request body bound applied.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/checkpoint/{origin_id}", get(latest))
        .route("/{origin_id}/checkpoint", get(latest))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

fn error_response(e: &Error) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match e {
        Error::Conflict { stored, .. } => (
            status,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            encode_size_body(*stored),
        )
            .into_response(),
        _ => (status, [(header::CONTENT_TYPE, TEXT)], format!("{e}\n")).into_response(),
    }
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    // Verification, fsync and signing are blocking work: keep them off the reactor.
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body)).await;
    match result {
        Ok(Ok(lines)) => (StatusCode::OK, [(header::CONTENT_TYPE, TEXT)], lines).into_response(),
        Ok(Err(e)) => error_response(&e),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response(),
    }
}

async fn latest(State(w): State<Arc<Witness>>, Path(origin_id): Path<String>) -> Response {
    let valid = origin_id.len() == 64
        && origin_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return (
            StatusCode::BAD_REQUEST,
            "expected lowercase hex SHA-256 of the origin\n",
        )
            .into_response();
    }
    match w.latest(&origin_id) {
        Some(note) => (StatusCode::OK, [(header::CONTENT_TYPE, TEXT)], note).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no cosigned checkpoint for that origin\n",
        )
            .into_response(),
    }
}

/// Serves `witness` on `listener` with the default limits until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    witness: Arc<Witness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        witness,
        chainseal_serve::Limits::default(),
        shutdown,
    )
    .await
}

/// Serves `witness` on `listener` with `limits` (connections, time, requests in flight)
/// until `shutdown` completes.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    witness: Arc<Witness>,
    limits: chainseal_serve::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    chainseal_serve::serve(listener, router(witness), limits, "witness", shutdown).await;
    Ok(())
}

/// Opens the witness, binds `listen`, calls `on_ready` with the bound address, and serves
/// until Ctrl-C. Builds its own Tokio runtime (for the command line).
pub fn serve_blocking(
    config: &WitnessConfig,
    listen: &str,
    limits: chainseal_serve::Limits,
    on_ready: impl FnOnce(SocketAddr, &Witness),
) -> Result<()> {
    let witness = Arc::new(Witness::open(config)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::io(config.state_dir.clone()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(Error::io(listen))?;
        let addr = listener.local_addr().map_err(Error::io(listen))?;
        on_ready(addr, &witness);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve_with(listener, witness, limits, shutdown)
            .await
            .map_err(Error::io(listen))
    })
}
