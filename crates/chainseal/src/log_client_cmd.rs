//! `chainseal log verify` (monitor) and `chainseal log load` (load generator), both over
//! HTTP only (crates/log-client).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chainseal_log_client::LogClient;
use chainseal_log_client::load::{self, LoadConfig};
use chainseal_log_client::monitor::{self, Continuity, MonitorConfig};
use clap::Args;

/// Arguments of `chainseal log verify`.
#[derive(Args, Debug)]
#[command(after_help = "Example:
  chainseal log verify --url http://127.0.0.1:8080 --vkey \"$(chainseal log vkey --storage log)\" \\
      --state monitor.checkpoint --witness-vkey \"$(chainseal witness vkey --state w)\" --witness-quorum 1")]
pub struct LogVerifyArgs {
    /// The log's tlog-tiles URL prefix (e.g. http://host:8080 or https://host/api/v2).
    #[arg(long)]
    url: String,
    /// The log's verifier key, or a file holding it.
    #[arg(long)]
    vkey: String,
    /// Expected checkpoint origin (default: the key name).
    #[arg(long)]
    origin: Option<String>,
    /// File keeping the last verified checkpoint; the new one must be consistent with it.
    #[arg(long)]
    state: Option<PathBuf>,
    /// A trusted witness's cosignature/v1 verifier key (or a file holding it); repeatable.
    #[arg(long = "witness-vkey", value_name = "VKEY")]
    witness_vkeys: Vec<String>,
    /// Distinct trusted witnesses that must have cosigned (default: 0).
    #[arg(long, default_value_t = 0)]
    witness_quorum: usize,
    /// Also fetch every entry bundle and check its leaf hashes against the level-0 tiles.
    #[arg(long)]
    entries: bool,
    /// Parallel tile fetches.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Refuse to fetch more than this many tiles and bundles.
    #[arg(long, default_value_t = 1_000_000)]
    max_tiles: usize,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `chainseal log load`.
#[derive(Args, Debug)]
#[command(after_help = "Example:
  chainseal log load --url http://127.0.0.1:8080 --entries 20000 --concurrency 256 --json")]
pub struct LogLoadArgs {
    /// The log's base URL (requests go to <url>/api/v2/log/entries).
    #[arg(long)]
    url: String,
    /// Entries to send (pre-generated and signed before timing starts).
    #[arg(long, default_value_t = 1000)]
    entries: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 300)]
    deadline: u64,
    /// Per-request timeout in seconds (Rekor v2 clients use at least 20).
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Bytes of random data hashed and signed per entry.
    #[arg(long, default_value_t = 64)]
    data_len: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// A vkey given inline, or the first line of a file holding it.
fn vkey_arg(v: &str) -> anyhow::Result<String> {
    if v.contains('+') {
        return Ok(v.trim().to_owned());
    }
    let text = std::fs::read_to_string(v).with_context(|| format!("reading vkey file {v}"))?;
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

/// Run `log verify`.
pub fn run_verify(args: LogVerifyArgs) -> anyhow::Result<ExitCode> {
    let cfg = MonitorConfig {
        log_vkey: vkey_arg(&args.vkey)?,
        origin: args.origin,
        witness_vkeys: args
            .witness_vkeys
            .iter()
            .map(|v| vkey_arg(v))
            .collect::<anyhow::Result<_>>()?,
        witness_quorum: args.witness_quorum,
        state_file: args.state,
        check_entries: args.entries,
        concurrency: args.concurrency.max(1),
        max_tiles: args.max_tiles,
    };
    let client = LogClient::new(&args.url, Duration::from_secs(args.timeout))?;
    let report = chainseal_log_client::runtime()?.block_on(monitor::verify_log(&client, &cfg))?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        let continuity = match (report.continuity, report.previous) {
            (Continuity::Extended, Some((s, _))) => format!("consistent with size {s}"),
            (Continuity::Unchanged, _) => "unchanged since the last run".into(),
            _ => "first checkpoint seen".into(),
        };
        println!(
            "verified {} size {} root {}: {} tiles, {} entries checked, {} witness cosignatures; {continuity}",
            report.origin,
            report.size,
            hex::encode(report.root),
            report.tiles,
            report.entries_checked,
            report.witnesses.len(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `log load`.
pub fn run_load(args: LogLoadArgs) -> anyhow::Result<ExitCode> {
    let cfg = LoadConfig {
        entries: args.entries,
        concurrency: args.concurrency.max(1),
        deadline: Duration::from_secs(args.deadline),
        data_len: args.data_len,
    };
    let client = LogClient::with_pool(
        &args.url,
        Duration::from_secs(args.timeout),
        cfg.concurrency,
    )?;
    let r = chainseal_log_client::runtime()?.block_on(load::run(&client, &cfg))?;
    if args.json {
        println!("{}", r.to_json());
    } else {
        println!(
            "prepared {} signed entries in {:.2} s",
            r.prepared, r.prepare_secs
        );
        println!(
            "sent {}, acknowledged {} in {:.2} s: {:.0} entries/s",
            r.sent, r.acknowledged, r.elapsed_secs, r.entries_per_sec
        );
        println!(
            "acknowledgement latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            r.p50_ms, r.p99_ms, r.max_ms
        );
        for (kind, n) in &r.errors {
            println!("errors: {kind}: {n}");
        }
        if r.duplicate_indices > 0 {
            println!("duplicate log indices: {}", r.duplicate_indices);
        }
        if r.deadline_hit {
            println!("deadline reached before every entry was sent");
        }
    }
    let ok = r.acknowledged == r.prepared && r.duplicate_indices == 0;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
