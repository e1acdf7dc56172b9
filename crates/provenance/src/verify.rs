//! Verifying a provenance attestation for an artifact: Sigstore verification first
//! (through `chainseal_verify`), then every SLSA check against the verified certificate.

use chainseal_crypto::keys::sha256;
use chainseal_crypto::x509::{Certificate, FulcioExtensions, SubjectAltName};
use chainseal_model::bundle::{Bundle, Content};
use chainseal_model::statement::Statement;
use chainseal_verify::{Artifact, ExtensionRequirement, Matcher, Policy, Report, Verifier};

use crate::binding::{SourceClaims, check_build_binding, check_pipeline};
use crate::builder::{
    FACTORY_IDENTITY_REGEX, GITHUB_ACTIONS_ISSUER, VerifiedBuilder, is_factory_identity,
    verify_builder, verify_factory_builder,
};
use crate::error::{Check, Error};
use crate::input::{Attestation, parse_provenance};
use crate::slsa::{
    Provenance, normalize_repo, normalize_source_uri, source_uri_matches, split_source_revision,
};
use crate::versioned_tag::versioned_tag_matches;

/// What the caller expects (slsa-verifier's flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--source-uri`, e.g. `github.com/owner/repo` (or, for a factory's local source,
    /// `/abs/dir`).
    pub source_uri: String,
    /// `--builder-id`: GitHub `name` or `name@version`; a chainseal factory's exact
    /// `spiffe://<td>/factory/<pipeline>` (required for factory provenance).
    pub builder_id: Option<String>,
    /// `--source-tag`, e.g. `v1.2.3`.
    pub source_tag: Option<String>,
    /// `--source-branch`, e.g. `main`.
    pub source_branch: Option<String>,
    /// `--source-versioned-tag`, e.g. `v1.2`: the built tag `refs/tags/<t>` must be a
    /// semantic version agreeing with every component given (slsa-verifier's semver
    /// prefix match, see [`crate::versioned_tag`]).
    pub source_versioned_tag: Option<String>,
    /// `--certificate-oidc-issuer`: the OIDC issuer the signing certificate must name.
    /// Required for a chainseal factory (the stack's issuer, e.g. `stack/authority/url`):
    /// it is configured by the verifier, never read from the certificate. For GitHub
    /// builders it may only be GitHub Actions' issuer.
    pub certificate_oidc_issuer: Option<String>,
    /// `--pipeline FILE` (its SHA-256) or `--pipeline-digest sha256:HEX`: the pipeline
    /// file a chainseal factory must have run (required for factory builders); hex, with or
    /// without `sha256:`.
    pub pipeline_sha256: Option<String>,
    /// Further Fulcio extensions the signing certificate must carry with exact values
    /// (`--certificate-source-repository-uri`, `--certificate-github-workflow-ref`, …).
    pub certificate_extensions: Vec<ExtensionRequirement>,
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
    /// The source, normalised: GitHub, the certificate's repository
    /// `github.com/owner/repo`; factory, the signed provenance's source
    /// ([`crate::slsa::normalize_source_uri`], e.g. `github.com/o/r` or `/work/dir`).
    pub source_repo: String,
    /// The source as a URI without its revision: GitHub `git+https://github.com/owner/repo`;
    /// factory the provenance's `externalParameters.source.uri` less `@<revision>`.
    pub source_uri: String,
    /// Source ref: GitHub, the certificate's (e.g. `refs/tags/v1.2.3`); factory, the
    /// revision of the signed source URI as the pipeline named it (not resolved).
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

/// The source facts verification established.
struct SourceFacts {
    repo: String,
    uri: String,
    git_ref: Option<String>,
}

/// Which kind of signer a certificate names; it selects the Sigstore policy and the SLSA
/// checks. Read from the leaf *before* verification only to choose the policy: both
/// policies are complete, so a forged choice only meets the other policy's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignerKind {
    /// A GitHub Actions workflow identity (issuer exactly GitHub's).
    GitHub,
    /// A chainseal factory: a URI SAN `spiffe://…`.
    Factory,
}

fn signer_kind(cert: &Certificate) -> SignerKind {
    let spiffe = cert
        .subject_alt_names()
        .iter()
        .any(|s| matches!(s, SubjectAltName::Uri(u) if u.starts_with("spiffe://")));
    if spiffe {
        SignerKind::Factory
    } else {
        SignerKind::GitHub
    }
}

/// The OIDC issuer a factory certificate must name: configured by the verifier
/// (`--certificate-oidc-issuer`), never read from the certificate.
fn pinned_factory_issuer(opts: &Options) -> Result<&str, Error> {
    opts.certificate_oidc_issuer
        .as_deref()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            Error::new(
                Check::BuilderIdentity,
                "a chainseal factory's OIDC issuer is configured by the verifier, never read from the certificate: pass --certificate-oidc-issuer URL (the stack's issuer, e.g. $(cat stack/authority/url))",
            )
        })
}

fn fulcio(cert: &Certificate) -> Result<FulcioExtensions, Error> {
    cert.fulcio_identity().map_err(|e| {
        Error::new(
            Check::BuilderIdentity,
            format!("certificate extensions: {e}"),
        )
    })
}

/// The certificate's OIDC issuer extension must be the pinned one.
fn check_factory_issuer(ext: &FulcioExtensions, opts: &Options) -> Result<(), Error> {
    let pinned = pinned_factory_issuer(opts)?;
    match ext.issuer().filter(|i| !i.is_empty()) {
        Some(i) if i == pinned => Ok(()),
        Some(i) => Err(Error::new(
            Check::BuilderIdentity,
            format!(
                "the factory certificate's OIDC issuer is {i:?}, --certificate-oidc-issuer is {pinned:?}"
            ),
        )),
        None => Err(Error::new(
            Check::BuilderIdentity,
            "the factory certificate carries no OIDC issuer extension",
        )),
    }
}

/// The factory identity of a certificate: its one and only SAN, a URI
/// `spiffe://<td>/factory/<pipeline>` (a second SAN would make the identity ambiguous).
fn factory_identity(cert: &Certificate) -> Result<String, Error> {
    match cert.subject_alt_names().as_slice() {
        [SubjectAltName::Uri(u)] if is_factory_identity(u) => Ok(u.clone()),
        sans => Err(Error::new(
            Check::BuilderIdentity,
            format!(
                "a factory certificate must carry exactly one SAN, a URI spiffe://<trust-domain>/factory/<pipeline>; it carries {sans:?}"
            ),
        )),
    }
}

/// The Sigstore policy for `kind`, with the caller's extension requirements. GitHub:
/// any GitHub workflow identity with GitHub's issuer (the SLSA checks decide which
/// workflows are trusted). Factory: a SPIFFE factory identity with the issuer the
/// verifier pinned (`--certificate-oidc-issuer`, required).
fn policy_for(kind: SignerKind, opts: &Options) -> Result<Policy, Error> {
    let extensions = opts.certificate_extensions.clone();
    Ok(match kind {
        SignerKind::Factory => Policy::Identity {
            identity: Matcher::regex(FACTORY_IDENTITY_REGEX)?,
            issuer: Matcher::Exact(pinned_factory_issuer(opts)?.to_string()),
            extensions,
        },
        SignerKind::GitHub => {
            check_github_issuer(opts)?;
            Policy::Identity {
                identity: Matcher::regex("^https://github\\.com/")?,
                issuer: Matcher::Exact(GITHUB_ACTIONS_ISSUER.to_string()),
                extensions,
            }
        }
    })
}

/// GitHub provenance is signed by GitHub Actions' issuer; a pinned other issuer fails.
fn check_github_issuer(opts: &Options) -> Result<(), Error> {
    match opts.certificate_oidc_issuer.as_deref() {
        Some(i) if i != GITHUB_ACTIONS_ISSUER => Err(Error::new(
            Check::BuilderIdentity,
            format!(
                "the provenance is signed by a GitHub Actions workflow (issuer {GITHUB_ACTIONS_ISSUER:?}), --certificate-oidc-issuer is {i:?}"
            ),
        )),
        _ => Ok(()),
    }
}

/// The SLSA checks on a signature-verified attestation, for the signer's kind.
fn check_slsa(
    kind: SignerKind,
    cert: &Certificate,
    statement: &Statement,
    artifact_sha256: &str,
    opts: &Options,
) -> Result<(Provenance, VerifiedBuilder, SourceFacts), Error> {
    // The caller's extension requirements (also in the Sigstore policy; checked here too
    // so a bare envelope, which never meets the policy's last step, reports them).
    chainseal_verify::check_extensions(&fulcio(cert)?, &opts.certificate_extensions)
        .map_err(|e| Error::new(Check::CertificateExtension, e.reason))?;
    match kind {
        SignerKind::GitHub => check_github(cert, statement, artifact_sha256, opts),
        SignerKind::Factory => check_factory(cert, statement, artifact_sha256, opts),
    }
}

fn check_subject(statement: &Statement, artifact_sha256: &str) -> Result<(), Error> {
    if statement.has_subject_sha256(artifact_sha256) {
        Ok(())
    } else {
        Err(Error::new(
            Check::Subject,
            format!("artifact sha256 {artifact_sha256} is not a subject of the provenance"),
        ))
    }
}

/// The SLSA checks for a chainseal factory: builder (the certificate's issuer is the
/// pinned one, `--builder-id` required and equal to the certificate's SPIFFE id,
/// provenance `builder.id` equal to it, factory `buildType`), source (`--source-uri`
/// against the signed `externalParameters.source.uri`, which the trusted builder computed
/// itself), subject, pipeline (`--pipeline`), the certificate's build extensions against
/// the provenance ([`crate::binding`]), then tag and branch against the source ref.
fn check_factory(
    cert: &Certificate,
    statement: &Statement,
    artifact_sha256: &str,
    opts: &Options,
) -> Result<(Provenance, VerifiedBuilder, SourceFacts), Error> {
    let identity = factory_identity(cert)?;
    let ext = fulcio(cert)?;
    check_factory_issuer(&ext, opts)?;
    let provenance = Provenance::parse(&statement.predicate_type, statement.predicate.as_ref())?;
    if !matches!(provenance, Provenance::V1(_)) {
        return Err(Error::new(
            Check::PredicateType,
            format!(
                "a chainseal factory writes SLSA provenance v1, not {:?}",
                statement.predicate_type
            ),
        ));
    }
    let builder = verify_factory_builder(&identity, opts.builder_id.as_deref(), &provenance)?;
    let source = check_factory_source(&provenance, opts)?;
    check_subject(statement, artifact_sha256)?;
    let pipeline = check_pipeline(&provenance, opts.pipeline_sha256.as_deref())?;
    check_build_binding(
        &ext,
        &provenance,
        &pipeline,
        SourceClaims {
            uri_without_revision: &source.uri,
            git: source.uri.starts_with("git+"),
            // Only a full ref is bound (a short revision of an older factory is not).
            git_ref: source.git_ref.as_deref().filter(|r| r.starts_with("refs/")),
        },
    )?;
    check_factory_revision(source.git_ref.as_deref(), opts)?;
    Ok((provenance, builder, source))
}

/// `--source-uri` against the factory provenance's `externalParameters.source.uri`.
fn check_factory_source(provenance: &Provenance, opts: &Options) -> Result<SourceFacts, Error> {
    let uri = provenance
        .external_source_uri()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            Error::new(
                Check::SourceUri,
                "the factory provenance names no externalParameters.source.uri",
            )
        })?;
    if !source_uri_matches(&opts.source_uri, uri) {
        return Err(Error::new(
            Check::SourceUri,
            format!(
                "expected source {:?}, the factory provenance says {uri:?}",
                opts.source_uri
            ),
        ));
    }
    let (_, revision) = split_source_revision(uri);
    let without_rev = match revision {
        Some(r) => uri
            .strip_suffix(r)
            .and_then(|u| u.strip_suffix('@'))
            .unwrap_or(uri),
        None => uri,
    };
    // `source.ref`, when the factory recorded one, must be the URI's revision.
    let git_ref = match provenance.external_parameter("/source/ref") {
        None | Some(serde_json::Value::Null) => revision.map(str::to_string),
        Some(serde_json::Value::String(r)) if Some(r.as_str()) == revision => Some(r.clone()),
        Some(r) => {
            return Err(Error::new(
                Check::SourceUri,
                format!(
                    "the factory provenance's source.ref {r} disagrees with the revision {revision:?} of its source.uri {uri:?}"
                ),
            ));
        }
    };
    Ok(SourceFacts {
        repo: normalize_source_uri(uri),
        uri: without_rev.to_string(),
        git_ref,
    })
}

/// `--source-tag T` passes only when the factory built the full ref `refs/tags/T`,
/// `--source-branch B` only for `refs/heads/B`, `--source-versioned-tag V` only for a tag
/// `refs/tags/<semver>` agreeing with `V`. A revision that is not a full ref (a bare
/// commit, or a short name as older factories recorded it) and a source without a
/// revision (`file://`) meet none of them.
fn check_factory_revision(git_ref: Option<&str>, opts: &Options) -> Result<(), Error> {
    let built = || match git_ref {
        None => "no ref (not a git source, or a bare commit)".to_string(),
        Some(r) if !r.starts_with("refs/") => {
            format!("revision {r:?}, which is not a full ref (neither a tag nor a branch)")
        }
        Some(r) => format!("{r:?}"),
    };
    let wants = [
        (&opts.source_tag, "refs/tags/", Check::SourceTag, "tag"),
        (
            &opts.source_branch,
            "refs/heads/",
            Check::SourceBranch,
            "branch",
        ),
    ];
    for (want, prefix, check, what) in wants {
        let Some(want) = want else { continue };
        let full = format!("{prefix}{want}");
        if want.is_empty() || git_ref != Some(full.as_str()) {
            return Err(Error::new(
                check,
                format!("expected {what} {full:?}, the factory built {}", built()),
            ));
        }
    }
    if let Some(want) = &opts.source_versioned_tag {
        check_versioned_tag(git_ref, want, "the factory built")?;
    }
    Ok(())
}

/// `--source-versioned-tag`: `git_ref` must be `refs/tags/<semver>` agreeing with `want`.
fn check_versioned_tag(git_ref: Option<&str>, want: &str, whose: &str) -> Result<(), Error> {
    let fail = |why: String| {
        Err(Error::new(
            Check::SourceVersionedTag,
            format!("expected a tag matching {want:?}, {whose} {git_ref:?}: {why}"),
        ))
    };
    match git_ref.and_then(|r| r.strip_prefix("refs/tags/")) {
        Some(tag) => match versioned_tag_matches(tag, want) {
            Ok(()) => Ok(()),
            Err(why) => fail(why),
        },
        None => fail("not a tag (refs/tags/…)".into()),
    }
}

/// The SLSA checks for GitHub provenance, in slsa-verifier's order: builder identity,
/// source repository, builder id, subject, tag, branch.
fn check_github(
    cert: &Certificate,
    statement: &Statement,
    artifact_sha256: &str,
    opts: &Options,
) -> Result<(Provenance, VerifiedBuilder, SourceFacts), Error> {
    check_github_issuer(opts)?;
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
    check_subject(statement, artifact_sha256)?;
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
    if let Some(want) = &opts.source_versioned_tag {
        check_versioned_tag(id.git_ref.as_deref(), want, "the certificate's ref is")?;
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
    Ok((
        provenance,
        builder,
        SourceFacts {
            uri: format!("git+https://{}", id.repo),
            repo: id.repo,
            git_ref: id.git_ref,
        },
    ))
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
    // Unverified read of the leaf, only to choose the policy; without a readable leaf the
    // GitHub policy applies and the verifier reports what is wrong with the key material.
    let unverified = leaf_certificate(&att.bundle).ok();
    let kind = unverified.as_ref().map_or(SignerKind::GitHub, signer_kind);
    let policy = policy_for(kind, opts)?;
    let report = match verifier.verify(&att.bundle, Artifact::Sha256(artifact_sha256), &policy) {
        Ok(r) => r,
        Err(e) if att.bare_envelope && e.check == chainseal_verify::Check::TlogEntry => {
            // The DSSE signature and subject verified with the embedded certificate, but
            // there is no log entry to prove when (slsa-verifier searches Rekor online).
            // Acceptance is impossible offline; a failing SLSA check is still the more
            // useful rejection, and rejecting on signature-bound claims is safe.
            let cert = leaf_certificate(&att.bundle)?;
            let (_, st) = statement_of(&att.bundle)?;
            check_slsa(kind, &cert, &st, &hex_digest, opts)?;
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
    let (provenance, builder, source) = check_slsa(kind, &cert, &statement, &hex_digest, opts)?;
    Ok(Verified {
        statement_json,
        statement,
        provenance,
        builder,
        source_repo: source.repo,
        source_uri: source.uri,
        source_ref: source.git_ref,
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

#[cfg(test)]
mod tests;
