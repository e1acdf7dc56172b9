//! `chainseal verify-blob`, `verify-blob-attestation` and `conformance verify-bundle`.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chainseal_crypto::keys::PublicKey;
use chainseal_verify::{
    Artifact, ExtensionRequirement, Matcher, Policy, Report, TrustMaterial, Verifier,
};
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
    /// Expected identity as a regular expression. Unanchored, as in cosign: `org/repo`
    /// also matches `https://evil.example/org/repo-fork`. Anchor it and escape dots:
    /// `'^https://github\.com/org/repo/\.github/workflows/release\.yml@refs/tags/v.*$'`.
    #[arg(long, value_name = "REGEX")]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer and Fulcio extensions the certificate must carry (boxed: they are
    /// many, and every command enum holds these flags).
    #[command(flatten)]
    pub certificate: Box<CertificateArgs>,
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

/// What the signing certificate must name besides its identity.
#[derive(Args, Debug)]
pub struct CertificateArgs {
    /// Expected OIDC issuer of the signing certificate.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// Expected OIDC issuer as a regular expression. Unanchored, as in cosign: anchor it,
    /// e.g. `'^https://token\.actions\.githubusercontent\.com$'`.
    #[arg(long, value_name = "REGEX")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Fulcio extensions the signing certificate must carry (exact values).
    #[command(flatten)]
    pub extensions: CertificateExtensionArgs,
}

/// The `--certificate-*` extension flags: (flag, Fulcio arc, value name, help).
const EXTENSION_FLAGS: [(&str, u32, &str, &str); 15] = [
    (
        "certificate-build-signer-uri",
        9,
        "URI",
        "Required BuildSignerURI (.1.9), e.g. the builder's workflow or spiffe://…/factory/<p>",
    ),
    (
        "certificate-build-signer-digest",
        10,
        "DIGEST",
        "Required BuildSignerDigest (.1.10)",
    ),
    (
        "certificate-runner-environment",
        11,
        "ENV",
        "Required RunnerEnvironment (.1.11), e.g. github-hosted or chainseal-factory",
    ),
    (
        "certificate-source-repository-uri",
        12,
        "URI",
        "Required SourceRepositoryURI (.1.12), e.g. https://github.com/o/r",
    ),
    (
        "certificate-source-repository-digest",
        13,
        "DIGEST",
        "Required SourceRepositoryDigest (.1.13), e.g. the commit",
    ),
    (
        "certificate-source-repository-ref",
        14,
        "REF",
        "Required SourceRepositoryRef (.1.14), e.g. refs/tags/v1.2.3",
    ),
    (
        "certificate-build-config-uri",
        18,
        "URI",
        "Required BuildConfigURI (.1.18)",
    ),
    (
        "certificate-build-config-digest",
        19,
        "DIGEST",
        "Required BuildConfigDigest (.1.19), e.g. sha256:<hex> of a factory pipeline file",
    ),
    (
        "certificate-build-trigger",
        20,
        "TRIGGER",
        "Required BuildTrigger (.1.20), e.g. push",
    ),
    (
        "certificate-run-invocation-uri",
        21,
        "URI",
        "Required RunInvocationURI (.1.21)",
    ),
    (
        "certificate-github-workflow-trigger",
        2,
        "TRIGGER",
        "cosign: required GitHub workflow trigger (.1.2), e.g. push",
    ),
    (
        "certificate-github-workflow-sha",
        3,
        "SHA",
        "cosign: required GitHub workflow commit SHA (.1.3)",
    ),
    (
        "certificate-github-workflow-name",
        4,
        "NAME",
        "cosign: required GitHub workflow name (.1.4)",
    ),
    (
        "certificate-github-workflow-repository",
        5,
        "REPO",
        "cosign: required GitHub workflow repository (.1.5), e.g. owner/repo",
    ),
    (
        "certificate-github-workflow-ref",
        6,
        "REF",
        "cosign: required GitHub workflow ref (.1.6), e.g. refs/heads/main",
    ),
];

/// Fulcio certificate extensions (`1.3.6.1.4.1.57264.1.N`) the signing certificate must
/// carry with exactly the given value: cosign's `--certificate-github-workflow-*` flags
/// (the deprecated `.1.2`–`.1.6`) and the generic build extensions, each named for the
/// extension it matches ([`EXTENSION_FLAGS`]). Absent or different: verification fails
/// naming the extension. Parsed by hand into one list (fifteen `Option<String>` fields
/// would make every command enum holding these flags large).
#[derive(Debug, Default, Clone)]
pub struct CertificateExtensionArgs {
    required: Vec<ExtensionRequirement>,
}

impl CertificateExtensionArgs {
    /// The requirements, in arc order.
    pub fn requirements(&self) -> Vec<ExtensionRequirement> {
        self.required.clone()
    }
}

impl clap::FromArgMatches for CertificateExtensionArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut required: Vec<ExtensionRequirement> = EXTENSION_FLAGS
            .iter()
            .filter_map(|(flag, arc, _, _)| {
                m.get_one::<String>(flag)
                    .map(|v| ExtensionRequirement::new(*arc, v.clone()))
            })
            .collect();
        required.sort_by_key(|r| r.arc);
        Ok(Self { required })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for CertificateExtensionArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        EXTENSION_FLAGS
            .iter()
            .fold(cmd, |cmd, (flag, _, value_name, help)| {
                cmd.arg(
                    clap::Arg::new(*flag)
                        .long(*flag)
                        .value_name(*value_name)
                        .help(*help)
                        .action(clap::ArgAction::Set),
                )
            })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
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
    let cert = &args.certificate;
    let extensions = cert.extensions.requirements();
    if let Some(key) = &args.key {
        if cert.certificate_oidc_issuer.is_some()
            || cert.certificate_oidc_issuer_regexp.is_some()
            || !extensions.is_empty()
        {
            bail!(
                "--key verifies a managed-key bundle, which has no certificate: it cannot be combined with --certificate-oidc-issuer[-regexp] or a --certificate-* extension flag"
            );
        }
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
        &cert.certificate_oidc_issuer,
        &cert.certificate_oidc_issuer_regexp,
    ) {
        (Some(s), None) => Matcher::Exact(s.clone()),
        (None, Some(r)) => Matcher::regex(r)?,
        _ => bail!("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp"),
    };
    Ok(Policy::Identity {
        identity,
        issuer,
        extensions,
    })
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
