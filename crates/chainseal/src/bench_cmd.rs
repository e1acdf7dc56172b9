//! `chainseal bench verify`: bundles verified per second in one process.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chainseal_verify::{Artifact, Verifier};
use clap::Args;

use crate::verify_cmd::{VerifyArgs, load_artifact, load_trust, policy_from};

/// Arguments of `chainseal bench verify`.
#[derive(Args, Debug)]
pub struct BenchVerifyArgs {
    #[command(flatten)]
    verify: VerifyArgs,
    /// Worker threads verifying in parallel.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// How long to run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// The artifact path or sha256:<hex>.
    artifact: String,
}

/// Verify the same bundle repeatedly (parsing it each time, as a fresh verification
/// would) on `threads` threads and report bundles per second as JSON.
pub fn run(args: &BenchVerifyArgs) -> anyhow::Result<ExitCode> {
    let policy = policy_from(&args.verify)?;
    let verifier = Verifier::new(load_trust(args.verify.trusted_root.as_deref())?);
    let bundle = std::fs::read(&args.verify.bundle)
        .with_context(|| format!("{}", args.verify.bundle.display()))?;
    let (bytes, digest) = load_artifact(&args.artifact)?;
    let artifact = match &bytes {
        Some(b) => Artifact::Bytes(b),
        None => Artifact::Sha256(digest),
    };
    // A benchmark of a bundle that fails would measure an early exit, not verification.
    verifier
        .verify_json(&bundle, artifact, &policy)
        .map_err(|e| anyhow::anyhow!("the bundle does not verify: {e}"))?;
    let threads = args.threads.max(1);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let (mut n, mut bad) = (0u64, 0u64);
                while Instant::now() < deadline {
                    for _ in 0..16 {
                        if verifier.verify_json(&bundle, artifact, &policy).is_err() {
                            bad += 1;
                        }
                        n += 1;
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
                failed.fetch_add(bad, Ordering::Relaxed);
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    if failed.load(Ordering::Relaxed) > 0 {
        anyhow::bail!(
            "{} of {n} verifications failed during the benchmark",
            failed.load(Ordering::Relaxed)
        );
    }
    println!(
        "{{\"bundles\":{n},\"seconds\":{elapsed:.3},\"threads\":{threads},\"bundles_per_second\":{:.0},\"micros_per_bundle_per_thread\":{:.1}}}",
        n as f64 / elapsed,
        1e6 * elapsed * threads as f64 / n as f64
    );
    Ok(ExitCode::SUCCESS)
}
