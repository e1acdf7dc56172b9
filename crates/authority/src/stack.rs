//! `chainseal stack`: the transparency log (Rekor v2 write API + tiles), a witness
//! cosigning its checkpoints and the authority (CA + CT log + TSA + development OIDC
//! issuer), all in one process on 127.0.0.1, writing into the stack directory:
//!
//! The stack always runs the development issuer (it is what mints the factory's workload
//! tokens, the role SPIRE plays in a cluster); [`RunningStack::dev_issuer_url`] says where,
//! and callers print it.
//!
//! - `trusted_root.json`, `signing_config.json`, `client_trust_config.json`;
//! - `stack.json`: the ports chosen on first start (reused later: the log's checkpoint
//!   origin is `127.0.0.1:<port>`, so the port is part of the log's identity).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chainseal_log_server::storage::fs::FsStorage;
use chainseal_log_server::{Config as LogConfig, Log};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::http::Authority;
use crate::store::{AuthorityDir, Component};
use crate::trustroot::{self, LogInfo};

/// Stack configuration.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// The stack directory.
    pub dir: PathBuf,
    /// First port (log = base, witness = base + 1, authority = base + 2); 0 = any free
    /// ports. Used on first start only.
    pub listen_base: u16,
    /// External OIDC issuers accepted besides the development issuer.
    pub issuers: Vec<String>,
}

/// Ports and creation time, fixed on first start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StackPorts {
    /// Transparency log port.
    pub log: u16,
    /// Witness port.
    pub witness: u16,
    /// Authority port.
    pub authority: u16,
    /// When the stack was created (Unix seconds): start of the log key's validity.
    pub created: i64,
}

/// A running stack.
#[derive(Debug)]
pub struct RunningStack {
    /// Log base URL.
    pub log_url: String,
    /// Witness URL.
    pub witness_url: String,
    /// Authority base URL (CA, TSA, OIDC issuer).
    pub authority_url: String,
    /// The development OIDC issuer's URL (`iss`): always on in the stack, loopback only.
    pub dev_issuer_url: String,
    /// The stack directory.
    pub dir: PathBuf,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningStack {
    /// Stops every service.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for RunningStack {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn bind(port: u16) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(Error::io(format!("binding 127.0.0.1:{port}")))
}

fn port_of(l: &TcpListener) -> Result<u16> {
    l.local_addr()
        .map(|a| a.port())
        .map_err(Error::io("reading a bound address"))
}

fn read_ports(dir: &Path) -> Result<Option<StackPorts>> {
    match std::fs::read(dir.join("stack.json")) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::Config(format!("stack.json: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading stack.json")(e)),
    }
}

fn log_signer(dir: &Path, ports: &StackPorts) -> Result<chainseal_tlog::keys::Ed25519Signer> {
    let origin = format!("127.0.0.1:{}", ports.log);
    chainseal_log_server::load_or_create_key(&dir.join("log"), &origin, None)
        .map_err(|e| Error::Service(format!("log key: {e}")))
}

/// A workload identity token for `subject` (e.g. the factory's SPIFFE ID), signed by the
/// stack's development issuer and valid for `ttl` seconds: the role SPIRE plays for a
/// workload in a cluster. The stack must have been started once (its URL is recorded).
pub fn workload_token(dir: &Path, subject: &str, ttl: i64) -> Result<String> {
    workload_token_with_claims(dir, subject, ttl, &serde_json::Map::new())
}

/// [`workload_token`] carrying `claims` too (the build claims of
/// [`crate::claims::BUILD_CLAIMS`], which the CA copies into the certificate).
pub fn workload_token_with_claims(
    dir: &Path,
    subject: &str,
    ttl: i64,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<String> {
    let adir = AuthorityDir::open(&dir.join("authority"))?;
    let dev = crate::oidc::DevIssuer::new(&adir.public_url()?, adir.dev_key()?)?;
    dev.mint_with_claims(subject, crate::oidc::SIGSTORE_AUDIENCE, ttl, claims)
}

/// Writes `trusted_root.json`, `signing_config.json` and `client_trust_config.json`.
pub fn write_trust_files(dir: &Path) -> Result<()> {
    let ports = read_ports(dir)?.ok_or_else(|| {
        Error::Config(format!(
            "{} is not a stack directory (no stack.json)",
            dir.display()
        ))
    })?;
    let signer = log_signer(dir, &ports)?;
    let log = LogInfo {
        base_url: format!("http://127.0.0.1:{}", ports.log),
        vkey: signer.to_vkey(),
        log_id: chainseal_log_server::log::log_id(&signer)
            .map_err(|e| Error::Service(format!("log ID: {e}")))?,
        start: ports.created,
    };
    let authority_url = format!("http://127.0.0.1:{}", ports.authority);
    let material = AuthorityDir::open(&dir.join("authority"))?.public_material()?;
    let root = trustroot::trusted_root(&log, &authority_url, &material)?;
    let sc = trustroot::signing_config(&authority_url, &log.base_url, ports.created)?;
    let ctc = trustroot::client_trust_config(&root, &sc);
    for (name, v) in [
        ("trusted_root.json", &root),
        ("signing_config.json", &sc),
        ("client_trust_config.json", &ctc),
    ] {
        let bytes = serde_json::to_vec_pretty(v).map_err(|e| Error::Config(e.to_string()))?;
        crate::store::write_atomic(&dir.join(name), &bytes, 0o644)?;
    }
    Ok(())
}

/// Rotates a component's keys (takes effect at the next start) and rewrites the trust
/// files: the old generation stays listed with a closed `validFor`.
pub fn rotate(dir: &Path, component: Component) -> Result<u32> {
    let id = AuthorityDir::open(&dir.join("authority"))?.rotate(component)?;
    write_trust_files(dir)?;
    Ok(id)
}

/// Starts log, witness and authority; returns once all listen and the trust files are
/// written. Each server runs under `chainseal_serve`'s default limits.
pub async fn start(cfg: &StackConfig) -> Result<RunningStack> {
    start_with(cfg, chainseal_serve::Limits::default()).await
}

/// [`start`] with `limits` (connections, time, requests in flight) for each of the three
/// servers.
pub async fn start_with(
    cfg: &StackConfig,
    limits: chainseal_serve::Limits,
) -> Result<RunningStack> {
    let dir = &cfg.dir;
    std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    // First, before anything listens: refuses an authority folder whose state is lost.
    let adir = AuthorityDir::open(&dir.join("authority"))?;
    let (ports, listeners) = match read_ports(dir)? {
        Some(p) => {
            let ls = [
                bind(p.log).await?,
                bind(p.witness).await?,
                bind(p.authority).await?,
            ];
            (p, ls)
        }
        None => {
            let b = cfg.listen_base;
            let off = |n: u16| if b == 0 { 0 } else { b.saturating_add(n) };
            let ls = [
                bind(off(0)).await?,
                bind(off(1)).await?,
                bind(off(2)).await?,
            ];
            let p = StackPorts {
                log: port_of(&ls[0])?,
                witness: port_of(&ls[1])?,
                authority: port_of(&ls[2])?,
                created: crate::unix_now(),
            };
            let json = serde_json::to_vec_pretty(&p).map_err(|e| Error::Config(e.to_string()))?;
            crate::store::write_atomic(&dir.join("stack.json"), &json, 0o644)?;
            (p, ls)
        }
    };
    let [log_l, witness_l, authority_l] = listeners;
    let log_url = format!("http://127.0.0.1:{}", ports.log);
    let witness_url = format!("http://127.0.0.1:{}", ports.witness);
    let authority_url = format!("http://127.0.0.1:{}", ports.authority);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let shutdown = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let mut tasks = Vec::new();

    // Witness, trusting the log's key.
    let signer = log_signer(dir, &ports)?;
    let witness = chainseal_witness::Witness::open(&chainseal_witness::WitnessConfig {
        state_dir: dir.join("witness"),
        name: Some("chainseal-stack-witness".into()),
        key_file: None,
        logs: vec![signer.to_vkey()],
    })
    .map_err(|e| Error::Service(format!("witness: {e}")))?;
    let witness_vkey = witness.vkey().to_owned();
    let witness = Arc::new(witness);
    let sd = shutdown(rx.clone());
    tasks.push(tokio::spawn(async move {
        if let Err(e) = chainseal_witness::http::serve_with(witness_l, witness, limits, sd).await {
            tracing::error!("witness: {e}");
        }
    }));

    // Log, cosigned by the witness.
    let mut lc = LogConfig::new(&format!("127.0.0.1:{}", ports.log));
    lc.witnesses = vec![
        chainseal_log_server::witness::Witness::parse(&format!("{witness_vkey}@{witness_url}"))
            .map_err(|e| Error::Service(format!("witness config: {e}")))?,
    ];
    lc.witness_quorum = 1;
    let storage = FsStorage::open(&dir.join("log"))
        .map_err(|e| Error::Service(format!("log storage: {e}")))?;
    let log = Log::start(storage, signer, lc)
        .await
        .map_err(|e| Error::Service(format!("log: {e}")))?;
    tasks.push(tokio::spawn(async move {
        if let Err(e) = chainseal_log_server::serve_with(log, log_l, limits).await {
            tracing::error!("log: {e}");
        }
    }));

    // Authority.
    adir.set_public_url(&authority_url)?;
    // The development issuer is on in the stack (loopback only, see the module docs).
    let authority = Arc::new(Authority::load(&adir, &authority_url, cfg.issuers.clone())?);
    tracing::info!(
        "stack: development OIDC issuer enabled at {authority_url} (mints tokens for any subject; development use only)"
    );
    let sd = shutdown(rx.clone());
    tasks.push(tokio::spawn(async move {
        if let Err(e) = crate::http::serve_with(authority_l, authority, limits, sd).await {
            tracing::error!("authority: {e}");
        }
    }));

    write_trust_files(dir)?;
    Ok(RunningStack {
        log_url,
        witness_url,
        dev_issuer_url: authority_url.clone(),
        authority_url,
        dir: dir.clone(),
        shutdown: Some(tx),
        tasks,
    })
}
