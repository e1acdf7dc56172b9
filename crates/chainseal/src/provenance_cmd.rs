//! `chainseal verify-provenance`: slsa-verifier's `verify-artifact`, offline, for GitHub
//! builders and chainseal's own secure software factory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chainseal_crypto::keys::{PrivateKey, sha256};
use chainseal_provenance::binding::normalize_sha256;
use chainseal_provenance::vsa::{self, VsaPolicy, VsaPredicate, VsaVerifier};
use chainseal_provenance::{Options, verify_provenance};
use chainseal_verify::{TrustMaterial, Verifier};

use crate::verify_cmd::CertificateExtensionArgs;

/// Verify SLSA provenance for artifacts (slsa-verifier's flags).
#[derive(Debug, clap::Args)]
pub struct VerifyProvenanceArgs {
    /// Provenance file: a Sigstore bundle or `.intoto.jsonl`.
    #[arg(long)]
    pub provenance_path: PathBuf,
    /// Expected source repository, e.g. `github.com/owner/repo` (a factory's local source:
    /// its absolute directory).
    #[arg(long)]
    pub source_uri: String,
    /// Expected builder id, with or without `@ref` (required for BYOB builders); for a
    /// chainseal factory its exact `spiffe://<trust-domain>/factory/<pipeline>` (required).
    #[arg(long)]
    pub builder_id: Option<String>,
    /// Expected source tag, e.g. `v1.2.3`.
    #[arg(long)]
    pub source_tag: Option<String>,
    /// Expected source branch, e.g. `main`.
    #[arg(long)]
    pub source_branch: Option<String>,
    /// Expected tag as a semantic version prefix, e.g. `v1.2` (matches `v1.2.x`), `v1`
    /// (matches `v1.x.y`) (slsa-verifier's flag).
    #[arg(long, value_name = "SEMVER")]
    pub source_versioned_tag: Option<String>,
    /// The OIDC issuer the signing certificate must name. Required for a chainseal
    /// factory builder (the stack's issuer, e.g. `$(cat stack/authority/url)`): it is
    /// pinned by the verifier, never read from the certificate.
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
    /// The pipeline file a chainseal factory build must have run (its SHA-256 must be the
    /// provenance's and the certificate's); required for factory builders.
    #[arg(long, value_name = "FILE", conflicts_with = "pipeline_digest")]
    pub pipeline: Option<PathBuf>,
    /// The same as --pipeline, by digest: `sha256:<hex>`.
    #[arg(long, value_name = "sha256:HEX")]
    pub pipeline_digest: Option<String>,
    /// Fulcio extensions the signing certificate must carry (exact values).
    #[command(flatten)]
    pub extensions: CertificateExtensionArgs,
    /// Print the verified statement JSON on stdout.
    #[arg(long, conflicts_with = "json")]
    pub print_provenance: bool,
    /// Print `{"verified":[{artifact, sha256, builderId, builderKind, slsaBuildLevel,
    /// sourceUri, sourceRef}]}` on stdout when every artifact verifies.
    #[arg(long)]
    pub json: bool,
    /// Trusted root JSON replacing the embedded Sigstore public-good root.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// Write a signed Verification Summary Attestation (DSSE JSON) here on success.
    #[arg(long, requires = "vsa_key")]
    pub vsa_out: Option<PathBuf>,
    /// PEM private key signing the VSA.
    #[arg(long, requires = "vsa_out")]
    pub vsa_key: Option<PathBuf>,
    /// Artifacts to verify.
    #[arg(required = true)]
    pub artifacts: Vec<PathBuf>,
}

/// Run the command: exit 0 when every artifact verifies, 1 otherwise.
pub fn run(args: VerifyProvenanceArgs) -> anyhow::Result<ExitCode> {
    let trust = match &args.trusted_root {
        Some(p) => TrustMaterial::from_json(
            &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        )?,
        None => TrustMaterial::public_good()?,
    };
    let verifier = Verifier::new(trust);
    let provenance = std::fs::read(&args.provenance_path)
        .with_context(|| format!("reading {}", args.provenance_path.display()))?;
    let pipeline_sha256 = match (&args.pipeline, &args.pipeline_digest) {
        (Some(p), _) => Some(hex::encode(sha256(
            &std::fs::read(p).with_context(|| format!("reading --pipeline {}", p.display()))?,
        ))),
        (None, Some(d)) => match normalize_sha256(d) {
            Some(hex) if d.starts_with("sha256:") => Some(hex),
            _ => bail!("--pipeline-digest {d:?} is not sha256:<64 hex>"),
        },
        (None, None) => None,
    };
    let opts = Options {
        source_uri: args.source_uri.clone(),
        builder_id: args.builder_id.clone(),
        source_tag: args.source_tag.clone(),
        source_branch: args.source_branch.clone(),
        source_versioned_tag: args.source_versioned_tag.clone(),
        certificate_oidc_issuer: args.certificate_oidc_issuer.clone(),
        pipeline_sha256,
        certificate_extensions: args.extensions.requirements(),
        allow_e2e_main_ref: false,
    };
    let mut verified = Vec::new();
    for path in &args.artifacts {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let digest = sha256(&bytes);
        match verify_provenance(&verifier, &provenance, digest, &opts) {
            Ok(v) => {
                if args.print_provenance {
                    println!("{}", String::from_utf8_lossy(&v.statement_json));
                }
                eprintln!(
                    "Verified build using builder {} ({} builder, SLSA Build L{}) from {}{} for {}",
                    v.builder.id,
                    v.builder.kind.as_str(),
                    v.builder.slsa_build_level(),
                    v.source_uri,
                    v.source_ref
                        .as_deref()
                        .map_or_else(String::new, |r| format!(" at {r}")),
                    path.display()
                );
                verified.push((path, hex::encode(digest), v));
            }
            Err(e) => {
                eprintln!("FAILED: SLSA verification failed: {}: {e}", path.display());
                return Ok(ExitCode::from(1));
            }
        }
    }
    if let (Some(out), Some(key_path)) = (&args.vsa_out, &args.vsa_key) {
        let pem = std::fs::read_to_string(key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        let key = PrivateKey::from_pem(&pem).context("parsing --vsa-key")?;
        let level = verified
            .iter()
            .map(|(_, _, v)| v.builder.slsa_build_level())
            .min()
            .unwrap_or(0);
        let subjects: Vec<(String, String)> = verified
            .iter()
            .map(|(p, d, _)| {
                (
                    p.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                    d.clone(),
                )
            })
            .collect();
        let pred = VsaPredicate {
            verifier: VsaVerifier {
                id: "https://chainseal.dev/verify-provenance".into(),
                version: Some(
                    [(
                        "chainseal".to_string(),
                        env!("CARGO_PKG_VERSION").to_string(),
                    )]
                    .into(),
                ),
            },
            time_verified: vsa::now_rfc3339(),
            resource_uri: verified
                .first()
                .map_or_else(String::new, |(_, _, v)| v.source_uri.clone()),
            policy: VsaPolicy {
                uri: Some("https://slsa.dev/spec/v1.0/verifying-artifacts".into()),
                digest: None,
            },
            input_attestations: vec![vsa::InputAttestation {
                uri: Some(args.provenance_path.display().to_string()),
                digest: [("sha256".to_string(), hex::encode(sha256(&provenance)))].into(),
            }],
            verification_result: "PASSED".into(),
            verified_levels: (1..=level)
                .rev()
                .take(1)
                .map(|l| format!("SLSA_BUILD_LEVEL_{l}"))
                .collect(),
            dependency_levels: None,
            slsa_version: Some("1.0".into()),
        };
        let st = vsa::vsa_statement(&subjects, &pred)?;
        let env = vsa::sign_statement(st, &key, None)?;
        std::fs::write(out, env.to_json()).with_context(|| format!("writing {}", out.display()))?;
    }
    if args.json {
        let list: Vec<serde_json::Value> = verified
            .iter()
            .map(|(p, d, v)| {
                serde_json::json!({
                    "artifact": p.display().to_string(),
                    "sha256": d,
                    "builderId": v.builder.id,
                    "builderKind": v.builder.kind.as_str(),
                    "slsaBuildLevel": v.builder.slsa_build_level(),
                    "sourceUri": v.source_uri,
                    "sourceRef": v.source_ref,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "verified": list }));
    }
    eprintln!("PASSED: SLSA verification passed");
    Ok(ExitCode::SUCCESS)
}
