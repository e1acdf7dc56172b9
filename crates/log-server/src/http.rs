//! HTTP: the C2SP tlog-tiles read API (at the root and under `/api/v2/`) and the Rekor v2
//! write API (`POST /api/v2/log/entries`).
//!
//! Reads go straight to storage objects and never touch the sequencer. Every error is a
//! JSON `{"error": "…"}` with a 4xx/5xx status.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chainseal_tlog::tile::{Tile, TileKind};

use crate::entry::MAX_REQUEST_BYTES;
use crate::error::Error;
use crate::log::Log;
use crate::storage::Storage;

/// Cache-Control for tiles and bundles (their content never changes).
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control for the checkpoint.
pub const CHECKPOINT_CACHE: &str = "public, max-age=1";

fn json_error(status: StatusCode, reason: &str) -> Response {
    let body = serde_json::json!({ "error": reason }).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Overloaded | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("{self}");
        }
        let mut r = json_error(status, &self.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

/// The router for a log: read API at `/` and `/api/v2/`, write API at `/api/v2/log/entries`.
pub fn router<S: Storage>(log: Log<S>) -> Router {
    Router::new()
        .route("/checkpoint", get(checkpoint::<S>))
        .route("/api/v2/checkpoint", get(checkpoint::<S>))
        .route("/tile/{*rest}", get(tile::<S>))
        .route("/api/v2/tile/{*rest}", get(tile::<S>))
        .route("/api/v2/log/entries", post(create_entry::<S>))
        .route("/metrics", get(metrics::<S>))
        .fallback(|| async { json_error(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(log)
}

async fn metrics<S: Storage>(State(log): State<Log<S>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        log.metrics_text(),
    )
        .into_response()
}

async fn checkpoint<S: Storage>(State(log): State<Log<S>>) -> Response {
    match log.storage().read("checkpoint").await {
        Ok(Some(b)) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, CHECKPOINT_CACHE),
            ],
            b,
        )
            .into_response(),
        Ok(None) => json_error(StatusCode::NOT_FOUND, "no checkpoint published yet"),
        Err(e) => e.into_response(),
    }
}

async fn tile<S: Storage>(State(log): State<Log<S>>, Path(rest): Path<String>) -> Response {
    let path = format!("tile/{rest}");
    let t = match Tile::parse_path(&path) {
        Ok(t) => t,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("{e}")),
    };
    if t.kind == TileKind::Data {
        return json_error(StatusCode::NOT_FOUND, "this log has no data tiles");
    }
    match log.storage().read_stream(&t.path()).await {
        Ok(Some((len, stream))) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (header::CACHE_CONTROL, IMMUTABLE.to_owned()),
                (header::CONTENT_LENGTH, len.to_string()),
            ],
            axum::body::Body::from_stream(stream),
        )
            .into_response(),
        Ok(None) => json_error(StatusCode::NOT_FOUND, &format!("{path} does not exist")),
        Err(e) => e.into_response(),
    }
}

async fn create_entry<S: Storage>(
    State(log): State<Log<S>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return json_error(e.status(), &format!("request body: {}", e.body_text()));
        }
    };
    match log.submit(&body).await {
        Ok(tle) => (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            tle,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
