//! Verifying a provenance attestation for an artifact: Sigstore verification first
//! (through `chainseal_verify`), then every SLSA check against the verified certificate.

use chainseal_crypto::keys::sha256;
use chainseal_crypto::x509::{Certificate, FulcioExtensions, SubjectAltName};
use chainseal_model::bundle::{Bundle, Content};
use chainseal_model::statement::Statement;
use chainseal_verify::{Artifact, Matcher, Policy, Report, Verifier};

use crate::builder::{
    FACTORY_IDENTITY_REGEX, GITHUB_ACTIONS_ISSUER, VerifiedBuilder, is_factory_identity,
    verify_builder, verify_factory_builder,
};
use crate::error::{Check, Error};
use crate::input::{Attestation, parse_provenance};
use crate::slsa::{
    Provenance, normalize_repo, normalize_source_uri, source_uri_matches, split_source_revision,
};

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

/// The certificate's OIDC issuer extension, which a factory certificate must carry.
fn factory_issuer(cert: &Certificate) -> Result<String, Error> {
    let ext = cert.fulcio_identity().map_err(|e| {
        Error::new(
            Check::BuilderIdentity,
            format!("certificate extensions: {e}"),
        )
    })?;
    ext.issuer()
        .filter(|i| !i.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::new(
                Check::BuilderIdentity,
                "the factory certificate carries no OIDC issuer extension",
            )
        })
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

/// The Sigstore policy for `kind`. GitHub: any GitHub workflow identity with GitHub's
/// issuer (the SLSA checks decide which workflows are trusted). Factory: a SPIFFE
/// factory identity with the (required) issuer the certificate names.
fn policy_for(kind: SignerKind, cert: Option<&Certificate>) -> Result<Policy, Error> {
    Ok(match (kind, cert) {
        (SignerKind::Factory, Some(cert)) => Policy::Identity {
            identity: Matcher::regex(FACTORY_IDENTITY_REGEX)?,
            issuer: Matcher::Exact(factory_issuer(cert)?),
        },
        _ => Policy::Identity {
            identity: Matcher::regex("^https://github\\.com/")?,
            issuer: Matcher::Exact(GITHUB_ACTIONS_ISSUER.to_string()),
        },
    })
}

/// The SLSA checks on a signature-verified attestation, for the signer's kind.
fn check_slsa(
    kind: SignerKind,
    cert: &Certificate,
    statement: &Statement,
    artifact_sha256: &str,
    opts: &Options,
) -> Result<(Provenance, VerifiedBuilder, SourceFacts), Error> {
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

/// The SLSA checks for a chainseal factory: builder (`--builder-id` required and equal
/// to the certificate's SPIFFE id, provenance `builder.id` equal to it, factory
/// `buildType`), source (`--source-uri` against the signed
/// `externalParameters.source.uri`, which the trusted builder computed itself), subject,
/// then tag and branch against the source URI's revision.
fn check_factory(
    cert: &Certificate,
    statement: &Statement,
    artifact_sha256: &str,
    opts: &Options,
) -> Result<(Provenance, VerifiedBuilder, SourceFacts), Error> {
    let identity = factory_identity(cert)?;
    factory_issuer(cert)?;
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
    Ok(SourceFacts {
        repo: normalize_source_uri(uri),
        uri: without_rev.to_string(),
        git_ref: revision.map(str::to_string),
    })
}

/// `--source-tag T` wants the revision `T` or `refs/tags/T`; `--source-branch B` wants `B`
/// or `refs/heads/B`. A revision that is a full ref (`refs/…`) must be of the asked-for
/// kind. A source without a revision (`file://`) meets neither.
fn check_factory_revision(revision: Option<&str>, opts: &Options) -> Result<(), Error> {
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
        // A short revision (`v1`, `main`) is compared as written; a full ref must be of the
        // asked-for kind (`refs/tags/v1` is never a branch).
        let full = if want.starts_with(prefix) {
            want.clone()
        } else {
            format!("{prefix}{want}")
        };
        let ok = !want.is_empty()
            && revision.is_some_and(|r| r == full || (!r.starts_with("refs/") && r == want));
        if !ok {
            return Err(Error::new(
                check,
                format!(
                    "expected {what} {want:?}, the factory built revision {}",
                    revision.map_or_else(
                        || "none (not a git source)".to_string(),
                        |r| format!("{r:?}")
                    )
                ),
            ));
        }
    }
    Ok(())
}

/// The SLSA checks for GitHub provenance, in slsa-verifier's order: builder identity,
/// source repository, builder id, subject, tag, branch.
fn check_github(
    cert: &Certificate,
    statement: &Statement,
    artifact_sha256: &str,
    opts: &Options,
) -> Result<(Provenance, VerifiedBuilder, SourceFacts), Error> {
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
    let policy = policy_for(kind, unverified.as_ref())?;
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
mod tests {
    use std::sync::Arc;

    use chainseal_authority::ca::Ca;
    use chainseal_authority::certs::{self, OID_KP_CODE_SIGNING, San, Template};
    use chainseal_authority::ct::CtLog;
    use chainseal_authority::oidc::Identity;
    use chainseal_crypto::keys::{KeyKind, PrivateKey};
    use chainseal_model::statement::{ResourceDescriptor, STATEMENT_V1};

    use super::*;
    use crate::builder::{BuilderKind, FACTORY_BUILD_TYPE};
    use crate::slsa::{PROVENANCE_V1, PROVENANCE_V02};

    const FACTORY_ID: &str = "spiffe://chainseal.local/factory/hello";
    const DEV_ISSUER: &str = "http://127.0.0.1:38555";
    const GIT_SOURCE: &str = "git+https://github.com/o/r.git@v1.0.0";

    fn now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
    }

    fn p256() -> PrivateKey {
        PrivateKey::generate(KeyKind::EcdsaP256).unwrap()
    }

    /// A leaf from chainseal's own CA (root, intermediate, embedded SCT), exactly as the
    /// authority issues it for an OIDC identity with a URI subject.
    fn ca_leaf(san: &str, issuer: &str) -> Certificate {
        ca_leaf_and_key(san, issuer).0
    }

    fn ca_leaf_and_key(san: &str, issuer: &str) -> (Certificate, PrivateKey) {
        let t = now();
        let root_key = p256();
        let root = certs::self_signed_ca(&root_key, "CN=chainseal test root", t - 60, 1).unwrap();
        let int_key = p256();
        let int = certs::intermediate_ca(
            &int_key,
            "CN=chainseal test intermediate",
            &root,
            &root_key,
            t - 60,
            Some(OID_KP_CODE_SIGNING),
        )
        .unwrap();
        let ca = Ca::new(root, int, int_key, Arc::new(CtLog::new(p256()).unwrap())).unwrap();
        let identity = Identity {
            issuer: issuer.into(),
            subject: san.into(),
            email: None,
            san: San::Uri(san.into()),
        };
        let leaf_key = p256();
        let leaf = ca
            .issue(leaf_key.public_key().spki_der(), &identity, t)
            .unwrap()
            .leaf;
        (leaf, leaf_key)
    }

    /// A leaf with the given SAN and (optional) Fulcio issuer extensions, for shapes the
    /// CA would not issue.
    fn custom_leaf(san: &San, issuer: Option<&str>) -> Certificate {
        let t = now();
        let ca_key = p256();
        let mut extensions = vec![
            certs::key_usage(false).unwrap(),
            certs::extended_key_usage(OID_KP_CODE_SIGNING, false).unwrap(),
            certs::subject_alt_name(san).unwrap(),
        ];
        if let Some(i) = issuer {
            extensions.extend(certs::fulcio_issuer(i).unwrap());
        }
        let template = Template {
            serial: certs::random_serial().unwrap(),
            subject: certs::name("").unwrap(),
            not_before: t,
            not_after: t + 600,
            spki_der: p256().public_key().spki_der().to_vec(),
            extensions,
        };
        certs::issue(&template, &certs::name("CN=test ca").unwrap(), &ca_key).unwrap()
    }

    fn artifact() -> String {
        hex::encode(sha256(b"hello artifact"))
    }

    /// The statement `chainseal factory run` writes, for `artifact()`.
    fn factory_statement(builder_id: &str, source_uri: &str) -> Statement {
        let predicate = serde_json::json!({
            "buildDefinition": {
                "buildType": FACTORY_BUILD_TYPE,
                "externalParameters": {
                    "pipeline": {"name": "hello", "path": "pipeline.yaml", "digest": {"sha256": "ab".repeat(32)}},
                    "source": {"uri": source_uri, "digest": {"sha256": "cd".repeat(32)}},
                },
                "internalParameters": {"trustDomain": "chainseal.local", "steps": []},
                "resolvedDependencies": [],
            },
            "runDetails": {
                "builder": {"id": builder_id, "version": {"chainseal-factory": "0.1.0"}},
                "metadata": {"invocationId": "inv-1", "startedOn": "2026-01-01T00:00:00Z", "finishedOn": "2026-01-01T00:00:01Z"},
                "byproducts": [],
            },
        });
        Statement {
            type_: STATEMENT_V1.into(),
            subject: vec![ResourceDescriptor {
                name: "hello".into(),
                digest: [("sha256".to_string(), artifact())].into(),
                ..ResourceDescriptor::default()
            }],
            predicate_type: PROVENANCE_V1.into(),
            predicate: Some(predicate),
        }
    }

    fn opts(source: &str) -> Options {
        Options {
            source_uri: source.into(),
            builder_id: Some(FACTORY_ID.into()),
            ..Options::default()
        }
    }

    fn check(cert: &Certificate, st: &Statement, o: &Options) -> Result<SourceFacts, Error> {
        check_slsa(signer_kind(cert), cert, st, &artifact(), o).map(|(_, b, s)| {
            assert_eq!(b.kind, BuilderKind::Factory);
            s
        })
    }

    #[test]
    fn chainseal_ca_factory_certificate_selects_factory_policy_with_its_issuer() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        assert_eq!(signer_kind(&cert), SignerKind::Factory);
        let Policy::Identity { identity, issuer } =
            policy_for(SignerKind::Factory, Some(&cert)).unwrap()
        else {
            panic!("not an identity policy")
        };
        assert!(identity.matches(FACTORY_ID));
        assert!(issuer.matches(DEV_ISSUER));
        // The factory policy admits neither GitHub workflows nor other SPIFFE workloads.
        assert!(
            !identity.matches("https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.0.0")
        );
        assert!(!identity.matches("spiffe://chainseal.local/workload/hello"));
        assert!(!identity.matches("spiffe://chainseal.local/factory/hello/x"));
        assert!(!issuer.matches(GITHUB_ACTIONS_ISSUER));
    }

    #[test]
    fn github_workflow_certificate_keeps_the_github_only_policy() {
        let wf = "https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.0.0";
        let cert = custom_leaf(&San::Uri(wf.into()), Some(GITHUB_ACTIONS_ISSUER));
        assert_eq!(signer_kind(&cert), SignerKind::GitHub);
        let email = custom_leaf(&San::Email("a@example.com".into()), Some(DEV_ISSUER));
        assert_eq!(signer_kind(&email), SignerKind::GitHub);
        let Policy::Identity { identity, issuer } =
            policy_for(SignerKind::GitHub, Some(&cert)).unwrap()
        else {
            panic!("not an identity policy")
        };
        assert!(identity.matches(wf));
        assert!(!identity.matches(FACTORY_ID));
        assert!(issuer.matches(GITHUB_ACTIONS_ISSUER));
        assert!(!issuer.matches(DEV_ISSUER));
    }

    #[test]
    fn rejects_factory_certificate_without_oidc_issuer() {
        let cert = custom_leaf(&San::Uri(FACTORY_ID.into()), None);
        assert_eq!(signer_kind(&cert), SignerKind::Factory);
        let e = policy_for(SignerKind::Factory, Some(&cert)).unwrap_err();
        assert_eq!(e.check, Check::BuilderIdentity, "{e}");
        let e = check(
            &cert,
            &factory_statement(FACTORY_ID, GIT_SOURCE),
            &opts("github.com/o/r"),
        )
        .err()
        .unwrap();
        assert_eq!(e.check, Check::BuilderIdentity, "{e}");
    }

    #[test]
    fn rejects_factory_certificate_whose_spiffe_id_is_not_a_factory_pipeline() {
        let id = "spiffe://chainseal.local/workload/hello";
        let cert = ca_leaf(id, DEV_ISSUER);
        let o = Options {
            builder_id: Some(id.into()),
            ..opts("github.com/o/r")
        };
        let e = check(&cert, &factory_statement(id, GIT_SOURCE), &o)
            .err()
            .unwrap();
        assert_eq!(e.check, Check::BuilderIdentity, "{e}");
    }

    #[test]
    fn accepts_factory_provenance_for_subject_built_from_expected_source() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        let s = check(
            &cert,
            &factory_statement(FACTORY_ID, GIT_SOURCE),
            &opts("github.com/o/r"),
        )
        .unwrap();
        assert_eq!(s.repo, "github.com/o/r");
        assert_eq!(s.uri, "git+https://github.com/o/r.git");
        assert_eq!(s.git_ref.as_deref(), Some("v1.0.0"));
        let s = check(
            &cert,
            &factory_statement(FACTORY_ID, "file:///work/x"),
            &opts("/work/x"),
        )
        .unwrap();
        assert_eq!(s.repo, "/work/x");
        assert_eq!(s.uri, "file:///work/x");
        assert_eq!(s.git_ref, None);
    }

    #[test]
    fn rejects_factory_provenance_whose_builder_id_differs_from_certificate() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        // --builder-id names another pipeline.
        let o = Options {
            builder_id: Some("spiffe://chainseal.local/factory/other".into()),
            ..opts("github.com/o/r")
        };
        let e = check(&cert, &factory_statement(FACTORY_ID, GIT_SOURCE), &o)
            .err()
            .unwrap();
        assert_eq!(e.check, Check::BuilderId, "{e}");
        // --builder-id missing.
        let o = Options {
            builder_id: None,
            ..opts("github.com/o/r")
        };
        let e = check(&cert, &factory_statement(FACTORY_ID, GIT_SOURCE), &o)
            .err()
            .unwrap();
        assert_eq!(e.check, Check::BuilderId, "{e}");
        // The provenance claims a builder the certificate does not name, even when
        // --builder-id names that claimed builder.
        let claimed = "spiffe://chainseal.local/factory/release";
        let o = Options {
            builder_id: Some(claimed.into()),
            ..opts("github.com/o/r")
        };
        let e = check(&cert, &factory_statement(claimed, GIT_SOURCE), &o)
            .err()
            .unwrap();
        assert_eq!(e.check, Check::BuilderId, "{e}");
        let e = check(
            &cert,
            &factory_statement(claimed, GIT_SOURCE),
            &opts("github.com/o/r"),
        )
        .err()
        .unwrap();
        assert_eq!(e.check, Check::BuilderId, "{e}");
    }

    #[test]
    fn rejects_factory_provenance_from_other_source() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        let st = factory_statement(FACTORY_ID, GIT_SOURCE);
        for src in ["github.com/evil/r", "github.com/o/r2", "/work/x"] {
            let e = check(&cert, &st, &opts(src)).err().unwrap();
            assert_eq!(e.check, Check::SourceUri, "{e}");
            assert!(
                e.reason.contains(src) && e.reason.contains(GIT_SOURCE),
                "{e}"
            );
        }
        let st = factory_statement(FACTORY_ID, "file:///work/x");
        let e = check(&cert, &st, &opts("/work/y")).err().unwrap();
        assert_eq!(e.check, Check::SourceUri, "{e}");
    }

    #[test]
    fn rejects_factory_provenance_without_source_uri() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        let mut st = factory_statement(FACTORY_ID, GIT_SOURCE);
        if let Some(p) = st.predicate.as_mut() {
            p["buildDefinition"]["externalParameters"]["source"] = serde_json::json!({});
        }
        let e = check(&cert, &st, &opts("github.com/o/r")).err().unwrap();
        assert_eq!(e.check, Check::SourceUri, "{e}");
    }

    #[test]
    fn rejects_factory_provenance_with_foreign_build_type() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        let mut st = factory_statement(FACTORY_ID, GIT_SOURCE);
        if let Some(p) = st.predicate.as_mut() {
            p["buildDefinition"]["buildType"] =
                "https://actions.github.io/buildtypes/workflow/v1".into();
        }
        let e = check(&cert, &st, &opts("github.com/o/r")).err().unwrap();
        assert_eq!(e.check, Check::BuildType, "{e}");
    }

    #[test]
    fn rejects_factory_signed_provenance_that_is_not_slsa_v1() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        let mut st = factory_statement(FACTORY_ID, GIT_SOURCE);
        st.predicate_type = PROVENANCE_V02.into();
        st.predicate = Some(serde_json::json!({
            "builder": {"id": FACTORY_ID},
            "buildType": FACTORY_BUILD_TYPE,
            "invocation": {"configSource": {"uri": GIT_SOURCE}},
        }));
        let e = check(&cert, &st, &opts("github.com/o/r")).err().unwrap();
        assert_eq!(e.check, Check::PredicateType, "{e}");
    }

    #[test]
    fn rejects_factory_provenance_for_artifact_not_a_subject() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        let st = factory_statement(FACTORY_ID, GIT_SOURCE);
        let other = hex::encode(sha256(b"another artifact"));
        let e = check_slsa(
            SignerKind::Factory,
            &cert,
            &st,
            &other,
            &opts("github.com/o/r"),
        )
        .err()
        .unwrap();
        assert_eq!(e.check, Check::Subject, "{e}");
    }

    #[test]
    fn accepts_factory_source_tag_and_branch_matching_revision() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        for (rev, tag) in [
            ("v1.0.0", "v1.0.0"),
            ("refs/tags/v1.0.0", "v1.0.0"),
            ("refs/tags/v1.0.0", "refs/tags/v1.0.0"),
        ] {
            let st = factory_statement(FACTORY_ID, &format!("git+https://github.com/o/r@{rev}"));
            let o = Options {
                source_tag: Some(tag.into()),
                ..opts("github.com/o/r")
            };
            check(&cert, &st, &o).unwrap();
        }
        for (rev, branch) in [("main", "main"), ("refs/heads/release/1", "release/1")] {
            let st = factory_statement(FACTORY_ID, &format!("git+https://github.com/o/r@{rev}"));
            let o = Options {
                source_branch: Some(branch.into()),
                ..opts("github.com/o/r")
            };
            check(&cert, &st, &o).unwrap();
        }
    }

    #[test]
    fn rejects_factory_source_tag_or_branch_not_the_revision() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        let tagged = factory_statement(FACTORY_ID, "git+https://github.com/o/r@refs/tags/v1.0.0");
        for tag in ["v1.0.1", "v1", "refs/heads/v1.0.0", ""] {
            let o = Options {
                source_tag: Some(tag.into()),
                ..opts("github.com/o/r")
            };
            let e = check(&cert, &tagged, &o).err().unwrap();
            assert_eq!(e.check, Check::SourceTag, "{tag}: {e}");
        }
        // A tag is not a branch, and a branch not a tag.
        for branch in ["v1.0.0", "refs/tags/v1.0.0"] {
            let o = Options {
                source_branch: Some(branch.into()),
                ..opts("github.com/o/r")
            };
            assert_eq!(
                check(&cert, &tagged, &o).err().unwrap().check,
                Check::SourceBranch,
                "{branch}"
            );
        }
        let branch = factory_statement(FACTORY_ID, "git+https://github.com/o/r@refs/heads/main");
        let o = Options {
            source_tag: Some("main".into()),
            ..opts("github.com/o/r")
        };
        assert_eq!(
            check(&cert, &branch, &o).err().unwrap().check,
            Check::SourceTag
        );
    }

    #[test]
    fn rejects_factory_tag_or_branch_for_source_without_revision() {
        let cert = ca_leaf(FACTORY_ID, DEV_ISSUER);
        let st = factory_statement(FACTORY_ID, "file:///work/x");
        let o = Options {
            source_tag: Some("v1.0.0".into()),
            ..opts("/work/x")
        };
        assert_eq!(check(&cert, &st, &o).err().unwrap().check, Check::SourceTag);
        let o = Options {
            source_branch: Some("main".into()),
            ..opts("/work/x")
        };
        assert_eq!(
            check(&cert, &st, &o).err().unwrap().check,
            Check::SourceBranch
        );
    }

    /// A bare DSSE envelope line (`.intoto.jsonl`) signed by a factory leaf, carrying
    /// its certificate; it has no log entry, so it can pass every check but the log's.
    fn factory_envelope(statement: &Statement) -> Vec<u8> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let (leaf, key) = ca_leaf_and_key(FACTORY_ID, DEV_ISSUER);
        let payload = serde_json::to_vec(statement).unwrap();
        let pae = chainseal_model::dsse::pae(chainseal_model::dsse::INTOTO_PAYLOAD_TYPE, &payload);
        let line = serde_json::json!({
            "payloadType": chainseal_model::dsse::INTOTO_PAYLOAD_TYPE,
            "payload": b64.encode(&payload),
            "signatures": [{"sig": b64.encode(key.sign(&pae).unwrap()), "cert": certs::pem(&leaf)}],
        });
        let mut out = serde_json::to_vec(&line).unwrap();
        out.push(b'\n');
        out
    }

    fn verify_envelope(envelope: &[u8], o: &Options) -> Error {
        let verifier = Verifier::new(chainseal_verify::TrustMaterial::public_good().unwrap());
        let digest: [u8; 32] = sha256(b"hello artifact");
        verify_provenance(&verifier, envelope, digest, o).unwrap_err()
    }

    #[test]
    fn factory_envelope_passing_every_factory_rule_still_needs_a_log_entry() {
        let env = factory_envelope(&factory_statement(FACTORY_ID, GIT_SOURCE));
        let e = verify_envelope(&env, &opts("github.com/o/r"));
        assert_eq!(e.check, Check::Signature, "{e}");
        assert_eq!(
            e.sigstore_check,
            Some(chainseal_verify::Check::TlogEntry),
            "{e}"
        );
    }

    #[test]
    fn factory_envelope_is_judged_by_factory_rules_not_github_ones() {
        let env = factory_envelope(&factory_statement(FACTORY_ID, GIT_SOURCE));
        let o = Options {
            builder_id: Some("spiffe://chainseal.local/factory/other".into()),
            ..opts("github.com/o/r")
        };
        assert_eq!(verify_envelope(&env, &o).check, Check::BuilderId);
        let e = verify_envelope(&env, &opts("github.com/evil/r"));
        assert_eq!(e.check, Check::SourceUri, "{e}");
    }
}
