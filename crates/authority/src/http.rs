//! The authority's HTTP API: Fulcio v2 (`/api/v2/signingCert`, `/api/v2/trustBundle`,
//! `/api/v2/configuration`), RFC 3161 (`/api/v1/timestamp`, `/api/v1/timestamp/certchain`),
//! the development issuer (`/.well-known/openid-configuration`, `/jwks`) and the CT log's
//! static-ct-api read endpoints (`/ct/checkpoint`, `/ct/tile/…`, `/ct/issuer/…`).
//!
//! Errors are answered with a 4xx status and a JSON body `{"code": …, "message": reason}`
//! (the shape Fulcio clients read); request bodies are bounded.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::ca::{self, Ca};
use crate::certs;
use crate::error::Error;
use crate::oidc::{OidcVerifier, TokenPolicy};
use crate::store::AuthorityDir;
use crate::tsa::Tsa;

/// The running authority: CA, TSA and token verifier.
#[derive(Debug)]
pub struct Authority {
    /// The certificate authority.
    pub ca: Ca,
    /// The time-stamping authority.
    pub tsa: Tsa,
    /// The identity-token verifier (with the development issuer, if enabled).
    pub oidc: OidcVerifier,
}

/// How an [`Authority`] runs.
#[derive(Clone, Debug)]
pub struct AuthorityConfig {
    /// The public base URL (the development issuer's `iss`).
    pub public_url: String,
    /// External OIDC issuers verified online (`https://`, or loopback).
    pub issuers: Vec<String>,
    /// Whether the development issuer is enabled (its tokens accepted, its discovery and
    /// JWKS served). It mints tokens for any subject: development and air-gapped use only.
    pub dev_issuer: bool,
    /// Token limits.
    pub token_policy: TokenPolicy,
}

impl AuthorityConfig {
    /// Served at `public_url`, no external issuer, development issuer off, default limits.
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.to_owned(),
            issuers: Vec::new(),
            dev_issuer: false,
            token_policy: TokenPolicy::default(),
        }
    }
}

impl Authority {
    /// Loads the current generation of every component from `dir` **with the development
    /// issuer enabled** (as the stack and tests use it), served at `public_url`; external
    /// `issuers` are verified online. Production use: [`Authority::load_with`].
    pub fn load(dir: &AuthorityDir, public_url: &str, issuers: Vec<String>) -> crate::Result<Self> {
        let mut cfg = AuthorityConfig::new(public_url);
        cfg.issuers = issuers;
        cfg.dev_issuer = true;
        Self::load_with(dir, &cfg)
    }

    /// Loads the current generation of every component from `dir`, configured by `cfg`.
    pub fn load_with(dir: &AuthorityDir, cfg: &AuthorityConfig) -> crate::Result<Self> {
        let (root, inter, key) = dir.ca()?;
        let ct = Arc::new(crate::ct::CtLog::open(
            dir.ct_key()?,
            &dir.ct_log_dir()?,
            &crate::ct::origin_for_url(&cfg.public_url),
        )?);
        let ca = Ca::new(root, inter, key, ct)?;
        let (tsa_key, chain) = dir.tsa()?;
        let tsa = Tsa::new(tsa_key, chain)?;
        let dev = if cfg.dev_issuer {
            Some(crate::oidc::DevIssuer::new(
                &cfg.public_url,
                dir.dev_key()?,
            )?)
        } else {
            None
        };
        let oidc = OidcVerifier::new(crate::oidc::SIGSTORE_AUDIENCE, dev, cfg.issuers.clone())?
            .with_policy(cfg.token_policy.clone());
        Ok(Self { ca, tsa, oidc })
    }

    /// Verifies the token and the proof of possession, then issues a certificate carrying
    /// the token's validated build claims (URI identities only).
    pub async fn signing_cert(
        &self,
        headers_token: Option<&str>,
        body: &[u8],
    ) -> crate::Result<ca::Issued> {
        let (body_token, key_req) = ca::parse_signing_request(body)?;
        let token = body_token.as_deref().or(headers_token).ok_or_else(|| {
            Error::Token(
                "no identity token (credentials.oidcIdentityToken or Authorization: Bearer)".into(),
            )
        })?;
        let (identity, build) = self.oidc.verify_with_build_claims(token).await?;
        let spki = ca::check_proof_of_possession(&key_req, &identity)?;
        // Issuing appends to the CT log and waits for its files to be durable: keep that
        // off the async worker's other tasks where the runtime can spare the thread.
        let issue = || {
            self.ca
                .issue_with_build_claims(&spki, &identity, &build, crate::unix_now())
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(issue),
            _ => issue(),
        }
    }
}

fn error_response(e: &Error) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!("authority: {e}");
    }
    let body = serde_json::json!({"code": status.as_u16(), "message": e.to_string()});
    (status, axum::Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn signing_cert(
    State(a): State<Arc<Authority>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match a.signing_cert(bearer(&headers), &body).await {
        Ok(issued) => {
            let body = serde_json::json!({"signedCertificateEmbeddedSct": {
                "chain": {"certificates": issued.pem_chain()}
            }});
            (StatusCode::CREATED, axum::Json(body)).into_response()
        }
        Err(e) => error_response(&e),
    }
}

async fn trust_bundle(State(a): State<Arc<Authority>>) -> Response {
    let chain = [a.ca.intermediate(), a.ca.root()].map(certs::pem);
    axum::Json(serde_json::json!({"chains": [{"certificates": chain}]})).into_response()
}

async fn configuration(State(a): State<Arc<Authority>>) -> Response {
    let issuers: Vec<_> = a
        .oidc
        .issuer_urls()
        .into_iter()
        .map(|u| serde_json::json!({"issuerUrl": u, "audience": crate::oidc::SIGSTORE_AUDIENCE, "challengeClaim": "sub"}))
        .collect();
    axum::Json(serde_json::json!({"issuers": issuers})).into_response()
}

async fn timestamp(State(a): State<Arc<Authority>>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/timestamp-query") {
        return error_response(&Error::BadRequest(format!(
            "Content-Type must be application/timestamp-query, not {ct:?}"
        )));
    }
    match a.tsa.respond(&body, crate::unix_now()) {
        Ok(reply) => {
            let status = if reply.granted {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            let mut resp = (
                status,
                [(header::CONTENT_TYPE, "application/timestamp-reply")],
                reply.body,
            )
                .into_response();
            if let Some(r) = reply.reason
                && let Ok(v) = header::HeaderValue::from_str(
                    &r.replace(|c: char| !c.is_ascii_graphic() && c != ' ', "?"),
                )
            {
                resp.headers_mut().insert("x-rejection-reason", v);
            }
            resp
        }
        Err(e) => error_response(&e),
    }
}

async fn cert_chain(State(a): State<Arc<Authority>>) -> Response {
    let pem: String = a.tsa.chain().iter().map(certs::pem).collect();
    (
        [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
        pem,
    )
        .into_response()
}

async fn discovery(State(a): State<Arc<Authority>>) -> Response {
    match a.oidc.dev() {
        Some(d) => axum::Json(d.discovery()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn jwks(State(a): State<Arc<Authority>>) -> Response {
    match a.oidc.dev().map(|d| d.jwks()) {
        Some(Ok(j)) => axum::Json(j).into_response(),
        Some(Err(e)) => error_response(&e),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn ct_checkpoint(State(a): State<Arc<Authority>>) -> Response {
    crate::ct::serve::checkpoint(a.ca.ct_log())
        .await
        .unwrap_or_else(|e| error_response(&e))
}

async fn ct_tile(State(a): State<Arc<Authority>>, Path(rest): Path<String>) -> Response {
    crate::ct::serve::tile(a.ca.ct_log(), &rest)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

async fn ct_issuer(State(a): State<Arc<Authority>>, Path(fp): Path<String>) -> Response {
    crate::ct::serve::issuer(a.ca.ct_log(), &fp)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

/// The router for `authority`.
pub fn router(authority: Arc<Authority>) -> Router {
    Router::new()
        .route("/api/v2/signingCert", post(signing_cert))
        .route("/api/v2/trustBundle", get(trust_bundle))
        .route("/api/v2/configuration", get(configuration))
        .route("/api/v1/timestamp", post(timestamp))
        .route("/api/v1/timestamp/certchain", get(cert_chain))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/ct/checkpoint", get(ct_checkpoint))
        .route("/ct/tile/{*rest}", get(ct_tile))
        .route("/ct/issuer/{fingerprint}", get(ct_issuer))
        .layer(DefaultBodyLimit::max(ca::MAX_REQUEST_BYTES))
        .with_state(authority)
}

/// Serves `authority` on `listener` with the default limits until `shutdown` completes.
/// Warns (tracing) when the development issuer is enabled on a non-loopback address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    authority: Arc<Authority>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> crate::Result<()> {
    serve_with(
        listener,
        authority,
        chainseal_serve::Limits::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with `limits` (connections, time, requests in flight).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    authority: Arc<Authority>,
    limits: chainseal_serve::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> crate::Result<()> {
    if authority.oidc.dev().is_some()
        && let Ok(addr) = listener.local_addr()
        && !addr.ip().is_loopback()
    {
        tracing::warn!(
            "authority: the development OIDC issuer is enabled on non-loopback address {addr}: it mints tokens for any subject"
        );
    }
    chainseal_serve::serve(listener, router(authority), limits, "authority", shutdown).await;
    Ok(())
}
