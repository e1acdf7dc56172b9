//! The one error type of `chainseal-provenance`: which check failed, and why.

use std::fmt;

/// The provenance check that rejected an attestation. Its `Display` is the stable name
/// printed on the `FAILED:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The provenance file did not parse (no bundle or DSSE envelope in it).
    Format,
    /// The Sigstore verification (signature, certificate chain, transparency log,
    /// timestamps) failed; the inner `chainseal_verify` check is in the reason.
    Signature,
    /// The signer certificate is not a trusted builder (untrusted reusable workflow,
    /// wrong OIDC issuer, a builder ref that is not a release tag, or a factory
    /// certificate without exactly one SPIFFE factory identity and an OIDC issuer).
    BuilderIdentity,
    /// `--builder-id` does not match the verified builder (or is missing where it is
    /// required: BYOB delegators, chainseal factories), or the provenance's `builder.id`
    /// disagrees with the certificate.
    BuilderId,
    /// A chainseal factory provenance whose `buildType` is not the factory's.
    BuildType,
    /// The source is not `--source-uri`: GitHub, the certificate's source repository (and
    /// the provenance must agree with it); factory, the signed provenance's
    /// `externalParameters.source.uri`.
    SourceUri,
    /// The source ref is not `--source-tag` (GitHub: the certificate's ref; factory: the
    /// revision of the signed source URI).
    SourceTag,
    /// The source ref is not `--source-branch` (as for [`Check::SourceTag`]).
    SourceBranch,
    /// The source ref is not a tag `refs/tags/<semver>` agreeing with every component of
    /// `--source-versioned-tag` (slsa-verifier's semver prefix match).
    SourceVersionedTag,
    /// A chainseal factory provenance was not built from the pipeline file the verifier
    /// names (`--pipeline` / `--pipeline-digest`), or none was named.
    Pipeline,
    /// A chainseal factory certificate's Fulcio build extensions are absent or disagree
    /// with the provenance's claims (pipeline digest, source URI/digest/ref, invocation,
    /// builder), or a certificate extension the verifier requires is absent or different.
    CertificateExtension,
    /// The artifact's SHA-256 is not a subject of the statement.
    Subject,
    /// The statement is not SLSA provenance (v0.2 or v1), or is malformed.
    PredicateType,
    /// A Verification Summary Attestation failed a check (signature, predicate,
    /// verifier, resource, result or levels).
    Vsa,
    /// Signing a VSA failed.
    Signing,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::Format => "provenance format",
            Check::Signature => "signature",
            Check::BuilderIdentity => "builder identity",
            Check::BuilderId => "builder id",
            Check::BuildType => "build type",
            Check::SourceUri => "source uri",
            Check::SourceTag => "source tag",
            Check::SourceBranch => "source branch",
            Check::SourceVersionedTag => "source versioned tag",
            Check::Pipeline => "pipeline",
            Check::CertificateExtension => "certificate extension",
            Check::Subject => "artifact subject",
            Check::PredicateType => "predicate type",
            Check::Vsa => "vsa",
            Check::Signing => "signing",
        })
    }
}

/// A failed provenance or VSA verification: the check and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {reason}")]
#[non_exhaustive]
pub struct Error {
    /// Which check failed.
    pub check: Check,
    /// Why, with the values involved.
    pub reason: String,
    /// The `chainseal_verify` check, when [`Check::Signature`] failed.
    pub sigstore_check: Option<chainseal_verify::Check>,
}

impl Error {
    /// Build an error for `check`.
    pub fn new(check: Check, reason: impl Into<String>) -> Self {
        Error {
            check,
            reason: reason.into(),
            sigstore_check: None,
        }
    }
}

impl From<chainseal_verify::Error> for Error {
    fn from(e: chainseal_verify::Error) -> Self {
        let check = match e.check {
            chainseal_verify::Check::Artifact => Check::Subject,
            _ => Check::Signature,
        };
        Error {
            check,
            reason: e.to_string(),
            sigstore_check: Some(e.check),
        }
    }
}
