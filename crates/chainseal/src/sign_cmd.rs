//! `chainseal generate-key-pair`, `sign-blob`, `attest-blob` and `conformance sign-bundle`
//! (owned by the signing work; placeholder).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `chainseal generate-key-pair`.
#[derive(Args, Debug)]
pub struct GenerateKeyPairArgs {}

/// Arguments of `chainseal sign-blob`.
#[derive(Args, Debug)]
pub struct SignBlobArgs {}

/// Arguments of `chainseal attest-blob`.
#[derive(Args, Debug)]
pub struct AttestBlobArgs {}

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

/// Run `generate-key-pair`.
pub fn generate_key_pair(_args: GenerateKeyPairArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Run `sign-blob`.
pub fn sign_blob(_args: SignBlobArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Run `attest-blob`.
pub fn attest_blob(_args: AttestBlobArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Run `conformance sign-bundle`.
pub fn conformance_sign(_args: ConformanceSignArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("sign-bundle: signing is not available in this build yet")
}
