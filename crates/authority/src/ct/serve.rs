//! The CT log's read-only static-ct-api endpoints, under the authority's `/ct/` prefix:
//! `checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/data/<N>[.p/<W>]` and `issuer/<hex>`,
//! served from the log's folder. Paths are validated (canonical tile paths only, 400
//! otherwise) before any file is touched; tiles are streamed, never read whole.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chainseal_log_server::files;
use chainseal_log_server::http::{CHECKPOINT_CACHE, IMMUTABLE};
use chainseal_tlog::tile::{Tile, TileKind};

use super::CtLog;
use super::disk::CHECKPOINT;
use crate::error::Error;

fn folder(log: &CtLog) -> Result<&std::path::Path, Error> {
    log.dir()
        .ok_or_else(|| Error::NotFound("this CT log is not persisted".into()))
}

/// `GET /ct/checkpoint`: `text/plain; charset=utf-8`, cacheable for a second only.
pub(crate) async fn checkpoint(log: &CtLog) -> Result<Response, Error> {
    let path = folder(log)?.join(CHECKPOINT);
    match tokio::fs::read(&path).await {
        Ok(b) => Ok((
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, CHECKPOINT_CACHE),
            ],
            b,
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::NotFound("no checkpoint published yet".into()))
        }
        Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
    }
}

async fn stream(log: &CtLog, rel: &str, content_type: &'static str) -> Result<Response, Error> {
    let dir = folder(log)?;
    match files::stream_object(dir, rel).await {
        Ok(Some((len, body))) => Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (header::CACHE_CONTROL, IMMUTABLE.to_owned()),
                (header::CONTENT_LENGTH, len.to_string()),
            ],
            axum::body::Body::from_stream(body),
        )
            .into_response()),
        Ok(None) => Err(Error::NotFound(format!("{rel} does not exist"))),
        Err(e) => Err(Error::Storage(format!("CT log: {e}"))),
    }
}

/// `GET /ct/tile/<rest>`: hash tiles and data tiles (full or partial), immutable.
pub(crate) async fn tile(log: &CtLog, rest: &str) -> Result<Response, Error> {
    let path = format!("tile/{rest}");
    let t = Tile::parse_path(&path).map_err(|e| Error::BadRequest(e.to_string()))?;
    if t.kind == TileKind::Entries {
        return Err(Error::NotFound(
            "a static-ct-api log has data tiles (tile/data/…), not entry bundles".into(),
        ));
    }
    stream(log, &t.path(), "application/octet-stream").await
}

/// `GET /ct/issuer/<fingerprint>`: a chain certificate (DER), by lowercase hex SHA-256.
pub(crate) async fn issuer(log: &CtLog, fingerprint: &str) -> Result<Response, Error> {
    let ok = fingerprint.len() == 64
        && fingerprint
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok {
        return Err(Error::BadRequest(
            "an issuer fingerprint is 64 lowercase hex digits".into(),
        ));
    }
    stream(
        log,
        &format!("issuer/{fingerprint}"),
        "application/pkix-cert",
    )
    .await
}
