//! `chainseal verify-blob`, `verify-blob-attestation` and `conformance verify-bundle`.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chainseal_crypto::keys::PublicKey;
use chainseal_verify::{Artifact, Matcher, Policy, Report, TrustMaterial, Verifier};
use clap::Args;
use sha2::{Digest, Sha256};

/// Files up to this size are read whole (needed for Ed25519 and non-SHA-256 digests);
/// larger ones are hashed while streaming, with a progress bar.
const READ_WHOLE_LIMIT: u64 = 64 << 20;

/// Flags shared by the verify commands (cosign's names).
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The Sigstore bundle to verify.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// Expected identity: a subject alternative name of the signing certificate.
    #[arg(
        long,
        value_name = "IDENTITY",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,
    /// Expected identity as a regular expression (unanchored, as in cosign: use ^…$).
    #[arg(long, value_name = "REGEX")]
    pub certificate_identity_regexp: Option<String>,
    /// Expected OIDC issuer of the signing certificate.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// Expected OIDC issuer as a regular expression (unanchored, as in cosign).
    #[arg(long, value_name = "REGEX")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Verify a managed-key bundle with this PEM public key instead of an identity.
    #[arg(long, value_name = "PEM", conflicts_with_all = ["certificate_identity", "certificate_identity_regexp"])]
    pub key: Option<PathBuf>,
    /// Trusted root JSON replacing the embedded Sigstore public-good root.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Accepted for cosign compatibility: chainseal always verifies offline.
    #[arg(long, hide = true)]
    pub offline: bool,
    /// Print a machine-readable report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The artifact as given: a file, or `sha256:<hex>` when no such file exists.
pub fn load_artifact(arg: &str) -> anyhow::Result<(Option<Vec<u8>>, [u8; 32])> {
    if let Some(hex_digest) = arg.strip_prefix("sha256:")
        && !Path::new(arg).exists()
    {
        let bytes = hex::decode(hex_digest)
            .with_context(|| format!("{arg}: not a file, and not a valid sha256:<hex> digest"))?;
        let digest: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{arg}: a sha256 digest has 64 hex characters"))?;
        return Ok((None, digest));
    }
    let path = Path::new(arg);
    let mut file = File::open(path).with_context(|| format!("artifact {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len <= READ_WHOLE_LIMIT {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", path.display()))?;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        return Ok((Some(bytes), digest));
    }
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(len);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "hashing {bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok((None, hasher.finalize().into()))
}

/// Build the trust material: `--trusted-root` or the embedded public-good root.
pub fn load_trust(trusted_root: Option<&Path>) -> anyhow::Result<TrustMaterial> {
    match trusted_root {
        Some(p) => {
            let bytes =
                std::fs::read(p).with_context(|| format!("trusted root {}", p.display()))?;
            TrustMaterial::from_json(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        }
        None => {
            TrustMaterial::public_good().map_err(|e| anyhow::anyhow!("embedded trusted root: {e}"))
        }
    }
}

/// Build the identity policy from the flags.
pub fn policy_from(args: &VerifyArgs) -> anyhow::Result<Policy> {
    if let Some(key) = &args.key {
        let pem = std::fs::read_to_string(key).with_context(|| format!("key {}", key.display()))?;
        let key =
            PublicKey::from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
        return Ok(Policy::Key(key));
    }
    let identity = match (
        &args.certificate_identity,
        &args.certificate_identity_regexp,
    ) {
        (Some(s), None) => Matcher::Exact(s.clone()),
        (None, Some(r)) => Matcher::regex(r)?,
        _ => bail!(
            "give --certificate-identity or --certificate-identity-regexp (or --key for a managed-key bundle)"
        ),
    };
    let issuer = match (
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
    ) {
        (Some(s), None) => Matcher::Exact(s.clone()),
        (None, Some(r)) => Matcher::regex(r)?,
        _ => bail!("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp"),
    };
    Ok(Policy::Identity { identity, issuer })
}

/// Verify; print the outcome; exit 0 only if every check passed.
pub fn run(
    args: &VerifyArgs,
    artifact_arg: &str,
    want_dsse: Option<bool>,
    predicate_type: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let policy = policy_from(args)?;
    let trust = load_trust(args.trusted_root.as_deref())?;
    let bundle =
        std::fs::read(&args.bundle).with_context(|| format!("bundle {}", args.bundle.display()))?;
    let (bytes, digest) = load_artifact(artifact_arg)?;
    let artifact = match &bytes {
        Some(b) => Artifact::Bytes(b),
        None => Artifact::Sha256(digest),
    };
    let report = Verifier::new(trust).verify_json(&bundle, artifact, &policy);
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: verification failed: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(dsse) = want_dsse {
        check_content_kind(&report, dsse, predicate_type)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn check_content_kind(
    report: &Report,
    dsse: bool,
    predicate_type: Option<&str>,
) -> anyhow::Result<()> {
    if dsse && report.content != "dsse" {
        bail!(
            "verification failed: artifact: the bundle holds a plain signature, not an attestation (use verify-blob)"
        );
    }
    if !dsse && report.content == "dsse" {
        bail!(
            "verification failed: artifact: the bundle holds an attestation (use verify-blob-attestation)"
        );
    }
    if let (Some(want), Some(got)) = (predicate_type, report.predicate_type.as_deref())
        && want != got
    {
        bail!(
            "verification failed: artifact: predicate type {got:?} is not the requested {want:?}"
        );
    }
    Ok(())
}

fn print_human(r: &Report) {
    let who = if r.signer.subject_alternative_names.is_empty() {
        format!("key sha256:{}", r.signer.public_key_sha256)
    } else {
        format!(
            "{} (issuer {})",
            r.signer.subject_alternative_names.join(", "),
            r.signer.issuer.as_deref().unwrap_or("?")
        )
    };
    eprintln!("Verified OK");
    eprintln!("  artifact  sha256:{}", r.artifact_sha256);
    eprintln!("  signer    {who}");
    for e in &r.tlog_entries {
        let index = match (e.log_index, e.proof_index) {
            (Some(i), _) => format!("index {i}"),
            (None, Some(p)) => format!("proof index {p}"),
            (None, None) => "unverified index".into(),
        };
        eprintln!("  logged    {} {index} ({})", e.log_url, e.kind);
    }
    for t in &r.timestamps {
        eprintln!("  timestamp {} (unix) by TSA #{}", t.gen_time, t.tsa_index);
    }
}
