//! `chainseal log …`: `serve` and `vkey` run the log server (crates/log-server);
//! `verify` and `load` delegate to `log_client_cmd`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chainseal_log_server::storage::fs::FsStorage;
use chainseal_log_server::storage::pg::PgStorage;
use chainseal_log_server::witness::Witness;
use chainseal_log_server::{Config, Log};
use clap::{Args, Subcommand};

use crate::log_client_cmd;

/// Transparency log subcommands.
#[derive(Subcommand)]
pub enum LogCommand {
    /// Serve a transparency log (C2SP tlog-tiles read API, Rekor v2 write API).
    #[command(after_help = "Examples:
  chainseal log serve --storage ./log --origin log.example.com/prod --listen 127.0.0.1:8080
  chainseal log serve --storage ./log --origin log.example.com/prod \\
      --witness \"$(cat witness.vkey)@http://127.0.0.1:8081\" --witness-quorum 1
  chainseal log serve --storage ./log --origin log.example.com/prod \\
      --postgres postgres://log@db/log --object-store s3://bucket/log

The signing key is <storage>/log.key, made on first start and never replaced.")]
    Serve(ServeArgs),
    /// Print the log's C2SP verifier key.
    #[command(after_help = "Example:
  chainseal log verify --url http://127.0.0.1:8080 --vkey \"$(chainseal log vkey --storage ./log)\"")]
    Vkey(VkeyArgs),
    /// Monitor a log: verify its checkpoint and tiles, and consistency with the last one seen.
    Verify(log_client_cmd::LogVerifyArgs),
    /// Load-generate valid signed entries against a log.
    Load(log_client_cmd::LogLoadArgs),
}

/// Arguments of `chainseal log serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Directory for the key, the redb sequencer database and (embedded mode) the tiles.
    #[arg(long)]
    storage: PathBuf,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Checkpoint origin and key name; for Sigstore clients, the base URL without scheme.
    #[arg(long)]
    origin: String,
    /// Signing key file (`PRIVATE+KEY+<origin>+…`); default: <storage>/log.key, generated
    /// on first start.
    #[arg(long)]
    key: Option<PathBuf>,
    /// A witness, `<vkey>@<url>`; repeatable.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// Cosignatures required before a checkpoint is published (default: all witnesses).
    #[arg(long)]
    witness_quorum: Option<usize>,
    /// Milliseconds between looks for batches sequenced by other front ends (and the
    /// back-off after a failure); a batch sequenced here is published as soon as it is
    /// durable (group commit).
    #[arg(long, default_value_t = 250)]
    checkpoint_interval: u64,
    /// Most entries per sequenced batch.
    #[arg(long, default_value_t = 256)]
    batch_max: usize,
    /// Longest a batch waits to fill, in milliseconds (0: group commit, a batch is what
    /// queued while the previous one was made durable).
    #[arg(long, default_value_t = 0)]
    batch_wait: u64,
    /// Largest entry body accepted, in bytes (at most 65535); larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = chainseal_log_server::log::DEFAULT_MAX_ENTRY_BYTES)]
    max_entry_bytes: usize,
    /// Most submissions queued before the server answers 503.
    #[arg(long, default_value_t = 8192)]
    queue: usize,
    /// PostgreSQL URL: sequence in PostgreSQL (several front ends may share it).
    #[arg(long, requires = "object_store")]
    postgres: Option<String>,
    /// With --postgres: where tiles go, a directory or s3://bucket[/prefix].
    #[arg(long)]
    object_store: Option<String>,
    /// Connection, time and load limits of the HTTP server.
    #[command(flatten)]
    limits: ServerLimitsArgs,
}

/// The HTTP server's limits (`chainseal_serve::Limits`).
#[derive(Args, Debug)]
pub struct ServerLimitsArgs {
    /// Open connections at once; more are answered 503 and closed (default: a quarter of
    /// the open-file limit).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Requests handled at once; more are shed with 503 and Retry-After.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    max_in_flight: usize,
    /// Seconds a client has to send a complete request head (also the keep-alive idle
    /// timeout).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    header_timeout: u64,
    /// Seconds to answer one request, reading its body included.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    request_timeout: u64,
}

impl ServerLimitsArgs {
    /// The limits these flags set.
    pub fn limits(&self) -> anyhow::Result<chainseal_serve::Limits> {
        let d = chainseal_serve::Limits::default();
        if self.max_in_flight == 0 || self.header_timeout == 0 || self.request_timeout == 0 {
            anyhow::bail!(
                "--max-in-flight, --header-timeout and --request-timeout must be greater than 0"
            );
        }
        Ok(chainseal_serve::Limits {
            max_connections: match self.max_connections {
                Some(0) => anyhow::bail!("--max-connections must be greater than 0"),
                Some(n) => n,
                None => d.max_connections,
            },
            max_in_flight: self.max_in_flight,
            header_timeout: Duration::from_secs(self.header_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            ..d
        })
    }
}

/// Arguments of `chainseal log vkey`.
#[derive(Args, Debug)]
pub struct VkeyArgs {
    /// The log's storage directory.
    #[arg(long)]
    storage: PathBuf,
}

/// Run a log subcommand.
pub fn run(cmd: LogCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LogCommand::Serve(args) => serve(args),
        LogCommand::Vkey(args) => {
            println!("{}", chainseal_log_server::vkey(&args.storage)?);
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Verify(args) => log_client_cmd::run_verify(args),
        LogCommand::Load(args) => log_client_cmd::run_load(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let signer =
        chainseal_log_server::load_or_create_key(&args.storage, &args.origin, args.key.as_deref())?;
    let mut cfg = Config::new(&args.origin);
    cfg.checkpoint_interval = Duration::from_millis(args.checkpoint_interval);
    cfg.batch_max = args.batch_max;
    cfg.batch_wait = Duration::from_millis(args.batch_wait);
    cfg.queue = args.queue;
    cfg.max_entry_bytes = args.max_entry_bytes;
    cfg.witnesses = args
        .witnesses
        .iter()
        .map(|w| Witness::parse(w))
        .collect::<Result<_, _>>()?;
    cfg.witness_quorum = args.witness_quorum.unwrap_or(cfg.witnesses.len());
    let limits = args.limits.limits()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        let vkey = signer.to_vkey();
        match (&args.postgres, &args.object_store) {
            (Some(url), Some(objects)) => {
                let storage = PgStorage::open(url, objects).await?;
                let log = Log::start(storage, signer, cfg).await?;
                announce(addr, &vkey);
                chainseal_log_server::serve_with(log, listener, limits).await?;
            }
            _ => {
                let storage = FsStorage::open(&args.storage)?;
                let log = Log::start(storage, signer, cfg).await?;
                announce(addr, &vkey);
                chainseal_log_server::serve_with(log, listener, limits).await?;
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn announce(addr: std::net::SocketAddr, vkey: &str) {
    eprintln!("chainseal log: listening on http://{addr}");
    eprintln!("chainseal log: vkey {vkey}");
}
