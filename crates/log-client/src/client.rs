//! An async HTTP client for a C2SP tlog-tiles log (read path) and its Rekor v2 write
//! endpoint. Every response body is read with a bound.

use std::time::Duration;

use chainseal_tlog::tile::{MAX_ENTRY_LEN, TILE_WIDTH, Tile, TileKind};

use crate::error::{Error, Result};

/// Bound on a checkpoint response.
pub const MAX_CHECKPOINT: usize = 1 << 20;
/// Bound on a hash tile response (256 hashes).
pub const MAX_HASH_TILE: usize = 256 * 32;
/// Bound on an entry bundle response (256 entries of at most 65,535 bytes, each with a
/// 2-byte length prefix).
pub const MAX_ENTRY_BUNDLE: usize = TILE_WIDTH as usize * (MAX_ENTRY_LEN + 2);
/// Bound on a write API response.
pub const MAX_WRITE_RESPONSE: usize = 1 << 20;

/// A client for one log, rooted at its tlog-tiles prefix (e.g. `http://host:port` or
/// `https://host/api/v2`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct LogClient {
    base: String,
    http: reqwest::Client,
}

impl LogClient {
    /// A client for the log at `url` (http or https). Requests time out after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        Self::with_pool(url, timeout, 8)
    }

    /// Like [`LogClient::new`], keeping up to `idle` idle connections to the host.
    pub fn with_pool(url: &str, timeout: Duration, idle: usize) -> Result<Self> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Config {
                reason: format!("log URL {url:?} must start with http:// or https://"),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(idle)
            .tcp_nodelay(true)
            .user_agent(concat!("chainseal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Http {
                url: base.clone(),
                source,
            })?;
        Ok(Self { base, http })
    }

    /// The log's URL prefix (no trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn read_bounded(url: &str, mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(Error::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|source| Error::Http {
            url: url.to_owned(),
            source,
        })? {
            if out.len() + chunk.len() > limit {
                return Err(Error::TooLarge {
                    url: url.to_owned(),
                    limit,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// GETs `path` (relative to the prefix); `Ok(None)` on 404.
    async fn get(&self, path: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        let url = format!("{}/{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|source| Error::Http {
                url: url.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            let body = Self::read_bounded(&url, resp, 4096)
                .await
                .unwrap_or_default();
            return Err(Error::Status {
                url,
                status,
                body: String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        Self::read_bounded(&url, resp, limit).await.map(Some)
    }

    fn not_found(&self, path: &str) -> Error {
        Error::Status {
            url: format!("{}/{path}", self.base),
            status: 404,
            body: "not found".into(),
        }
    }

    /// The current signed checkpoint, verbatim (not verified here).
    pub async fn checkpoint(&self) -> Result<Vec<u8>> {
        self.get("checkpoint", MAX_CHECKPOINT)
            .await?
            .ok_or_else(|| self.not_found("checkpoint"))
    }

    /// A hash tile or entry bundle. A partial tile the log no longer serves (allowed once
    /// the full tile exists) is read from the full tile, truncated to the partial width.
    /// Only call this for tiles justified by a verified checkpoint.
    pub async fn tile(&self, tile: &Tile) -> Result<Vec<u8>> {
        let limit = match tile.kind {
            TileKind::Hashes(_) => MAX_HASH_TILE,
            TileKind::Entries | TileKind::Data => MAX_ENTRY_BUNDLE,
        };
        let path = tile.path();
        if let Some(b) = self.get(&path, limit).await? {
            return Ok(b);
        }
        if tile.is_full() {
            return Err(self.not_found(&path));
        }
        let full = Tile {
            width: TILE_WIDTH as u16,
            ..*tile
        };
        let data = self
            .get(&full.path(), limit)
            .await?
            .ok_or_else(|| self.not_found(&path))?;
        match tile.kind {
            TileKind::Hashes(_) => Ok(data
                .get(..usize::from(tile.width) * 32)
                .ok_or_else(|| Error::Tile {
                    path: full.path(),
                    reason: "full tile is shorter than the partial width".into(),
                })?
                .to_vec()),
            TileKind::Entries | TileKind::Data => truncate_bundle(&data, usize::from(tile.width))
                .ok_or_else(|| Error::Entries {
                    path: full.path(),
                    reason: "full bundle is shorter than the partial width".into(),
                }),
        }
    }

    /// POSTs a JSON body to `path` (relative to the prefix) and returns the status and the
    /// response body (bounded).
    pub async fn post_json(&self, path: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>)> {
        let url = format!("{}/{path}", self.base);
        let resp = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|source| Error::Http {
                url: url.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        let body = Self::read_bounded(&url, resp, MAX_WRITE_RESPONSE).await?;
        Ok((status, body))
    }
}

/// The first `n` entries of an entry bundle, re-encoded.
fn truncate_bundle(data: &[u8], n: usize) -> Option<Vec<u8>> {
    let mut off = 0usize;
    for _ in 0..n {
        let len = usize::from(u16::from_be_bytes(data.get(off..off + 2)?.try_into().ok()?));
        off = off.checked_add(2 + len)?;
        if off > data.len() {
            return None;
        }
    }
    Some(data[..off].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_bundles_by_entry_count() {
        let b = chainseal_tlog::tile::encode_entry_bundle(&[&b"ab"[..], b"c", b"def"]).unwrap();
        assert_eq!(
            truncate_bundle(&b, 2).unwrap(),
            [0, 2, b'a', b'b', 0, 1, b'c']
        );
        assert_eq!(truncate_bundle(&b, 3).unwrap(), b);
        assert!(truncate_bundle(&b, 4).is_none());
        assert!(truncate_bundle(&[0, 9, 1], 1).is_none());
    }

    #[test]
    fn rejects_non_http_urls() {
        assert!(LogClient::new("file:///etc", Duration::from_secs(1)).is_err());
        assert!(LogClient::new("ftp://x", Duration::from_secs(1)).is_err());
        let c = LogClient::new("http://127.0.0.1:1/api/v2/", Duration::from_secs(1)).unwrap();
        assert_eq!(c.base(), "http://127.0.0.1:1/api/v2");
    }
}
