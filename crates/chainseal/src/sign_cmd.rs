//! `chainseal generate-key-pair`, `sign-blob`, `attest-blob` and `conformance sign-bundle`:
//! thin wrappers over `chainseal-sign`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chainseal_crypto::keys::KeyKind;
use chainseal_sign::{
    Credential, IdentityToken, Password, Payload, SignedBundle, Signer, SigningSetup, WriteOptions,
    generate_key_pair as gen_pair, load_private_key_file, statement_for, write_atomic,
};
use clap::{Args, ValueEnum};

/// Key kinds `generate-key-pair` makes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KindArg {
    /// ECDSA on NIST P-256 (cosign's default).
    EcdsaP256,
    /// Ed25519.
    Ed25519,
}

/// Arguments of `chainseal generate-key-pair`.
#[derive(Args, Debug)]
pub struct GenerateKeyPairArgs {
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "ecdsa-p256")]
    pub kind: KindArg,
    /// Write `<prefix>.key` (encrypted, 0600) and `<prefix>.pub`.
    #[arg(long, default_value = "cosign")]
    pub output_key_prefix: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// Where to sign: a client trust config, or a trusted root plus a signing config.
#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Client trust config (trusted root + signing config v0.2), as sigstore-python takes it.
    #[arg(long, conflicts_with_all = ["trusted_root", "signing_config"])]
    pub trust_config: Option<PathBuf>,
    /// Trusted root JSON (with --signing-config).
    #[arg(long, requires = "signing_config")]
    pub trusted_root: Option<PathBuf>,
    /// Signing config v0.2 JSON (with --trusted-root).
    #[arg(long, requires = "trusted_root")]
    pub signing_config: Option<PathBuf>,
}

/// The signer: a managed key or an identity token.
#[derive(Args, Debug)]
pub struct CredentialArgs {
    /// Private key file (cosign encrypted format or plain PEM).
    #[arg(
        long,
        conflicts_with = "identity_token",
        required_unless_present = "identity_token"
    )]
    pub key: Option<PathBuf>,
    /// OIDC identity token for keyless signing (or env SIGSTORE_ID_TOKEN).
    #[arg(long, env = "SIGSTORE_ID_TOKEN", hide_env_values = true)]
    pub identity_token: Option<String>,
}

/// Arguments of `chainseal sign-blob`.
#[derive(Args, Debug)]
pub struct SignBlobArgs {
    #[command(flatten)]
    pub credential: CredentialArgs,
    #[command(flatten)]
    pub services: ServiceArgs,
    /// Where to write the bundle (stdout if absent).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// The artifact to sign.
    pub file: PathBuf,
}

/// Arguments of `chainseal attest-blob`.
#[derive(Args, Debug)]
pub struct AttestBlobArgs {
    /// The predicate (JSON file).
    #[arg(long)]
    pub predicate: PathBuf,
    /// Predicate type: a URI, or one of cosign's short names (slsaprovenance,
    /// slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex, custom).
    #[arg(long = "type", default_value = "custom")]
    pub predicate_type: String,
    #[command(flatten)]
    pub credential: CredentialArgs,
    #[command(flatten)]
    pub services: ServiceArgs,
    /// Where to write the bundle (stdout if absent).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// The artifact the statement is about.
    pub file: PathBuf,
}

/// Arguments of `chainseal conformance sign-bundle` (the sigstore-conformance protocol).
#[derive(Args, Debug)]
pub struct ConformanceSignArgs {
    /// Use the staging instance.
    #[arg(long)]
    pub staging: bool,
    /// The input is an in-toto statement to sign as DSSE.
    #[arg(long)]
    pub in_toto: bool,
    /// The OIDC identity token.
    #[arg(long)]
    pub identity_token: String,
    /// Where to write the bundle.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Trusted root JSON.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// Signing config JSON.
    #[arg(long)]
    pub signing_config: Option<PathBuf>,
    /// The artifact to sign.
    pub artifact: PathBuf,
}

/// The password from `CHAINSEAL_PASSWORD`, `COSIGN_PASSWORD`, or a prompt (twice when
/// `confirm`).
fn password(confirm: bool) -> anyhow::Result<Password> {
    for var in ["CHAINSEAL_PASSWORD", "COSIGN_PASSWORD"] {
        if let Ok(p) = std::env::var(var) {
            return Ok(Password::from_string(p));
        }
    }
    let p = zeroize::Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ")
            .context("reading the password (set CHAINSEAL_PASSWORD when not on a terminal)")?,
    );
    if confirm {
        let again = zeroize::Zeroizing::new(
            rpassword::prompt_password("Enter password for private key again: ")
                .context("reading the password")?,
        );
        if *p != *again {
            bail!("passwords do not match");
        }
    }
    Ok(Password::new(zeroize::Zeroizing::new(
        p.as_bytes().to_vec(),
    )))
}

/// Run `generate-key-pair`.
pub fn generate_key_pair(args: GenerateKeyPairArgs) -> anyhow::Result<ExitCode> {
    let kind = match args.kind {
        KindArg::EcdsaP256 => KeyKind::EcdsaP256,
        KindArg::Ed25519 => KeyKind::Ed25519,
    };
    let pw = password(true)?;
    let files = gen_pair(kind, &pw, &args.output_key_prefix, args.force)?;
    eprintln!(
        "Private key written to {}\nPublic key written to {}",
        files.private_key.display(),
        files.public_key.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn setup(services: &ServiceArgs) -> anyhow::Result<SigningSetup> {
    let now = time_now();
    Ok(
        match (
            &services.trust_config,
            &services.trusted_root,
            &services.signing_config,
        ) {
            (Some(tc), _, _) => SigningSetup::from_client_trust_config(&read(tc)?, now)?,
            (None, Some(tr), Some(sc)) => SigningSetup::from_files(&read(tr)?, &read(sc)?, now)?,
            _ => bail!(
                "no signing services configured: give --trust-config FILE, or --trusted-root and \
             --signing-config (there is no default instance reachable from here)"
            ),
        },
    )
}

fn time_now() -> i64 {
    chainseal_sign::now_unix()
}

fn credential(c: &CredentialArgs) -> anyhow::Result<Credential> {
    match (&c.key, &c.identity_token) {
        (Some(k), _) => Ok(Credential::Key(load_private_key_file(k, || {
            password(false).map_err(|e| chainseal_sign::Error::Key(e.to_string()))
        })?)),
        (None, Some(t)) => Ok(Credential::IdentityToken(IdentityToken::new(t.clone())?)),
        (None, None) => bail!("give --key or --identity-token"),
    }
}

fn write_bundle(out: Option<&Path>, signed: &SignedBundle) -> anyhow::Result<()> {
    match out {
        Some(p) => {
            write_atomic(
                p,
                &signed.json,
                WriteOptions {
                    overwrite: true,
                    secret: false,
                },
            )?;
            eprintln!("Wrote bundle to {}", p.display());
        }
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(&signed.json)?;
            so.flush()?;
        }
    }
    Ok(())
}

/// Run `sign-blob`.
pub fn sign_blob(args: SignBlobArgs) -> anyhow::Result<ExitCode> {
    let setup = setup(&args.services)?;
    let cred = credential(&args.credential)?;
    let data = read(&args.file)?;
    let signed = Signer::new(setup)?.sign(&cred, Payload::Blob(&data))?;
    write_bundle(args.bundle.as_deref(), &signed)?;
    Ok(ExitCode::SUCCESS)
}

/// cosign's `--type` short names.
fn predicate_type_uri(t: &str) -> anyhow::Result<String> {
    Ok(match t {
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "link" => "https://in-toto.io/Link/v1",
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        "cyclonedx" => "https://cyclonedx.org/bom",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex" => "https://openvex.dev/ns",
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        uri if uri.contains(':') => uri,
        other => bail!("--type {other:?} is neither a known short name nor a URI"),
    }
    .to_owned())
}

/// Run `attest-blob`.
pub fn attest_blob(args: AttestBlobArgs) -> anyhow::Result<ExitCode> {
    let setup = setup(&args.services)?;
    let ptype = predicate_type_uri(&args.predicate_type)?;
    let predicate: serde_json::Value = serde_json::from_slice(&read(&args.predicate)?)
        .with_context(|| format!("predicate {} is not JSON", args.predicate.display()))?;
    let cred = credential(&args.credential)?;
    let data = read(&args.file)?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stmt = statement_for(&name, &data, &ptype, &predicate)?;
    let signed = Signer::new(setup)?.sign(&cred, Payload::Statement(&stmt))?;
    write_bundle(args.bundle.as_deref(), &signed)?;
    Ok(ExitCode::SUCCESS)
}

/// Run `conformance sign-bundle`.
pub fn conformance_sign(args: ConformanceSignArgs) -> anyhow::Result<ExitCode> {
    let (Some(tr), Some(sc)) = (&args.trusted_root, &args.signing_config) else {
        bail!(
            "sign-bundle: {} needs --trusted-root and --signing-config (no public instance is \
             reachable from here)",
            if args.staging {
                "staging"
            } else {
                "production"
            }
        );
    };
    let setup = SigningSetup::from_files(&read(tr)?, &read(sc)?, time_now())?;
    let cred = Credential::IdentityToken(IdentityToken::new(args.identity_token.clone())?);
    let data = read(&args.artifact)?;
    let payload = if args.in_toto {
        Payload::Statement(&data)
    } else {
        Payload::Blob(&data)
    };
    let signed = Signer::new(setup)?.sign(&cred, payload)?;
    write_bundle(Some(&args.bundle), &signed)?;
    Ok(ExitCode::SUCCESS)
}
