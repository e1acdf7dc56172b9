//! Verifying a provenance attestation for an artifact: Sigstore verification first
//! (through `chainseal_verify`), then every SLSA check against the verified certificate.

use chainseal_crypto::keys::sha256;
use chainseal_crypto::x509::{Certificate, FulcioExtensions, SubjectAltName};
use chainseal_model::bundle::{Bundle, Content};
use chainseal_model::statement::Statement;
use chainseal_verify::{Artifact, Matcher, Policy, Report, Verifier};

use crate::builder::{GITHUB_ACTIONS_ISSUER, VerifiedBuilder, verify_builder};
use crate::error::{Check, Error};
use crate::input::{Attestation, parse_provenance};
use crate::slsa::{Provenance, normalize_repo};

/// What the caller expects (slsa-verifier's flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--source-uri`, e.g. `github.com/owner/repo`.
    pub source_uri: String,
    /// `--builder-id`, `name` or `name@version`.
    pub builder_id: Option<String>,
    /// `--source-tag`, e.g. `v1.2.3`.
    pub source_tag: Option<String>,
    /// `--source-branch`, e.g. `main`.
    pub source_branch: Option<String>,
    /// Accept slsa-github-generator builders at `@refs/heads/main` for the generator's own
    /// e2e repositories (slsa-verifier's testing mode). Off for users.
    pub allow_e2e_main_ref: bool,
}

/// A verified provenance attestation.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The exact statement bytes that were signed (DSSE payload).
    pub statement_json: Vec<u8>,
    /// The parsed statement.
    pub statement: Statement,
    /// The parsed SLSA predicate.
    pub provenance: Provenance,
    /// The trusted builder.
    pub builder: VerifiedBuilder,
    /// Source repository from the certificate, `github.com/owner/repo`.
    pub source_repo: String,
    /// Source ref from the certificate, e.g. `refs/tags/v1.2.3`.
    pub source_ref: Option<String>,
    /// The Sigstore verification report.
    pub report: Report,
}

/// The identity facts taken from the verified certificate.
struct CertIdentity {
    workflow: String,
    issuer: Option<String>,
    repo: String,
    git_ref: Option<String>,
}

fn cert_identity(cert: &Certificate) -> Result<CertIdentity, Error> {
    let ext: FulcioExtensions = cert.fulcio_identity().map_err(|e| {
        Error::new(
            Check::BuilderIdentity,
            format!("certificate extensions: {e}"),
        )
    })?;
    let san = cert.subject_alt_names().into_iter().find_map(|s| match s {
        SubjectAltName::Uri(u) => Some(u),
        _ => None,
    });
    let workflow = ext
        .build_signer_uri
        .clone()
        .or(san)
        .ok_or_else(|| Error::new(Check::BuilderIdentity, "certificate names no workflow"))?;
    let repo = match (&ext.source_repository_uri, &ext.github_workflow_repository) {
        (Some(u), _) if !u.is_empty() => normalize_repo(u),
        (_, Some(r)) if !r.is_empty() => format!("github.com/{r}"),
        _ => {
            return Err(Error::new(
                Check::SourceUri,
                "certificate names no source repository",
            ));
        }
    };
    let git_ref = ext
        .source_repository_ref
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| ext.github_workflow_ref.clone().filter(|r| !r.is_empty()));
    Ok(CertIdentity {
        workflow,
        issuer: ext.issuer().map(str::to_string),
        repo,
        git_ref,
    })
}

/// The SLSA checks on a signature-verified attestation, in slsa-verifier's order:
/// builder identity, source repository, builder id, subject, tag, branch.
fn check_slsa(
    cert: &Certificate,
    statement: &Statement,
    artifact_sha256: &str,
    opts: &Options,
) -> Result<(Provenance, VerifiedBuilder, CertIdentity), Error> {
    let id = cert_identity(cert)?;
    let provenance = Provenance::parse(&statement.predicate_type, statement.predicate.as_ref())?;
    let caller = id.repo.strip_prefix("github.com/").unwrap_or(&id.repo);
    let builder = verify_builder(
        &id.workflow,
        id.issuer.as_deref(),
        caller,
        opts.builder_id.as_deref(),
        &provenance,
        opts.allow_e2e_main_ref,
    )?;
    let expected_repo = normalize_repo(&opts.source_uri);
    if expected_repo != id.repo {
        return Err(Error::new(
            Check::SourceUri,
            format!(
                "expected source {expected_repo:?}, the certificate says {:?}",
                id.repo
            ),
        ));
    }
    if let Some(prov_src) = provenance.source_uri()
        && normalize_repo(&prov_src) != id.repo
    {
        return Err(Error::new(
            Check::SourceUri,
            format!(
                "the provenance names source {prov_src:?}, the certificate {:?}",
                id.repo
            ),
        ));
    }
    if !statement.has_subject_sha256(artifact_sha256) {
        return Err(Error::new(
            Check::Subject,
            format!("artifact sha256 {artifact_sha256} is not a subject of the provenance"),
        ));
    }
    if let Some(tag) = &opts.source_tag {
        let want = format!("refs/tags/{tag}");
        if id.git_ref.as_deref() != Some(want.as_str()) {
            return Err(Error::new(
                Check::SourceTag,
                format!(
                    "expected tag {want:?}, the certificate's ref is {:?}",
                    id.git_ref
                ),
            ));
        }
    }
    if let Some(branch) = &opts.source_branch {
        let want = format!("refs/heads/{branch}");
        // A tag push carries the branch only as the event's base_ref, which the trusted
        // builder wrote into the signed provenance.
        let actual = match id.git_ref.as_deref() {
            Some(r) if r.starts_with("refs/tags/") => provenance.base_ref(),
            other => other.map(str::to_string),
        };
        if actual.as_deref() != Some(want.as_str()) {
            return Err(Error::new(
                Check::SourceBranch,
                format!("expected branch {want:?}, the build's branch is {actual:?}"),
            ));
        }
    }
    Ok((provenance, builder, id))
}

fn leaf_certificate(bundle: &Bundle) -> Result<Certificate, Error> {
    let der = bundle.key_material.leaf().ok_or_else(|| {
        Error::new(
            Check::BuilderIdentity,
            "the attestation is not signed with a certificate",
        )
    })?;
    Certificate::from_der(der).map_err(|e| Error::new(Check::Format, format!("certificate: {e}")))
}

fn statement_of(bundle: &Bundle) -> Result<(Vec<u8>, Statement), Error> {
    let Content::Dsse(env) = &bundle.content else {
        return Err(Error::new(
            Check::PredicateType,
            "the attestation is not a DSSE envelope",
        ));
    };
    let st = Statement::from_json(&env.payload)
        .map_err(|e| Error::new(Check::PredicateType, format!("statement: {e}")))?;
    Ok((env.payload.clone(), st))
}

fn verify_one(
    verifier: &Verifier,
    att: &Attestation,
    artifact_sha256: [u8; 32],
    opts: &Options,
) -> Result<Verified, Error> {
    let hex_digest = hex::encode(artifact_sha256);
    // Every GitHub workflow identity; the SLSA checks below decide which are trusted.
    let policy = Policy::Identity {
        identity: Matcher::regex("^https://github\\.com/")?,
        issuer: Matcher::Exact(GITHUB_ACTIONS_ISSUER.to_string()),
    };
    let report = match verifier.verify(&att.bundle, Artifact::Sha256(artifact_sha256), &policy) {
        Ok(r) => r,
        Err(e) if att.bare_envelope && e.check == chainseal_verify::Check::TlogEntry => {
            // The DSSE signature and subject verified with the embedded certificate, but
            // there is no log entry to prove when (slsa-verifier searches Rekor online).
            // Acceptance is impossible offline; a failing SLSA check is still the more
            // useful rejection, and rejecting on signature-bound claims is safe.
            let cert = leaf_certificate(&att.bundle)?;
            let (_, st) = statement_of(&att.bundle)?;
            check_slsa(&cert, &st, &hex_digest, opts)?;
            let mut err = Error::new(
                Check::Signature,
                format!(
                    "line {}: {e}; a bare DSSE envelope has no Rekor entry or timestamp to prove its signing time offline — give the Sigstore bundle instead",
                    att.line
                ),
            );
            err.sigstore_check = Some(e.check);
            return Err(err);
        }
        Err(e) => return Err(e.into()),
    };
    let cert = leaf_certificate(&att.bundle)?;
    // Bind the certificate we read to the one the verifier verified.
    let spki = cert
        .spki_der()
        .map_err(|e| Error::new(Check::Format, format!("certificate key: {e}")))?;
    if hex::encode(sha256(&spki)) != report.signer.public_key_sha256 {
        return Err(Error::new(
            Check::Signature,
            "the leaf certificate is not the one the Sigstore verification used",
        ));
    }
    let (statement_json, statement) = statement_of(&att.bundle)?;
    let (provenance, builder, id) = check_slsa(&cert, &statement, &hex_digest, opts)?;
    Ok(Verified {
        statement_json,
        statement,
        provenance,
        builder,
        source_repo: id.repo,
        source_ref: id.git_ref,
        report,
    })
}

/// Verify the provenance file `provenance` for the artifact with SHA-256
/// `artifact_sha256`. With several attestations in the file, the first that passes every
/// check wins; otherwise the most relevant failure is returned (one about an attestation
/// naming the artifact rather than "not a subject").
pub fn verify_provenance(
    verifier: &Verifier,
    provenance: &[u8],
    artifact_sha256: [u8; 32],
    opts: &Options,
) -> Result<Verified, Error> {
    let atts = parse_provenance(provenance)?;
    let mut best: Option<Error> = None;
    for att in &atts {
        match verify_one(verifier, att, artifact_sha256, opts) {
            Ok(v) => return Ok(v),
            Err(e) => {
                let replace = match &best {
                    None => true,
                    Some(b) => b.check == Check::Subject && e.check != Check::Subject,
                };
                if replace {
                    best = Some(e);
                }
            }
        }
    }
    Err(best.unwrap_or_else(|| Error::new(Check::Format, "no attestation in the file")))
}
