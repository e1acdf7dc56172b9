//! What binds a chainseal factory build: the pipeline file the verifier names, and the
//! certificate's Fulcio build extensions (`1.3.6.1.4.1.57264.1.N`, copied by the authority
//! from the run token's claims) against the signed provenance's claims.
//!
//! | extension | must equal | |
//! |---|---|---|
//! | `.1.19` BuildConfigDigest | `sha256:` + `externalParameters.pipeline.digest.sha256` | required |
//! | `.1.12` SourceRepositoryURI | `externalParameters.source.uri` without `@<revision>` | required |
//! | `.1.13` SourceRepositoryDigest | git: `source.digest.gitCommit`; path: `sha256:` + `source.digest.sha256` | required |
//! | `.1.14` SourceRepositoryRef | the source ref | present exactly when the provenance has a ref |
//! | `.1.21` RunInvocationURI | `urn:uuid:` + `runDetails.metadata.invocationId` | when present |
//! | `.1.9` BuildSignerURI | `runDetails.builder.id` | when present |
//! | `.1.10` BuildSignerDigest | `sha256:` + the pipeline digest | when present |

use chainseal_crypto::x509::FulcioExtensions;
use chainseal_verify::fulcio_extension_label;

use crate::error::{Check, Error};
use crate::slsa::Provenance;

/// A SHA-256 digest given as `sha256:<hex>` or `<hex>`, as 64 lowercase hex; `None` when
/// it is not one.
pub fn normalize_sha256(s: &str) -> Option<String> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// The pipeline digest the factory provenance records
/// (`externalParameters.pipeline.digest.sha256`) must be the one the verifier names
/// (`--pipeline FILE` / `--pipeline-digest sha256:HEX`), which is required. Returns it.
pub(crate) fn check_pipeline(
    provenance: &Provenance,
    expected: Option<&str>,
) -> Result<String, Error> {
    let expected = expected.ok_or_else(|| {
        Error::new(
            Check::Pipeline,
            "a chainseal factory build is verified against the pipeline it must have run: pass --pipeline FILE (the pipeline file) or --pipeline-digest sha256:HEX",
        )
    })?;
    let want = normalize_sha256(expected).ok_or_else(|| {
        Error::new(
            Check::Pipeline,
            format!("the expected pipeline digest {expected:?} is not sha256:<64 hex>"),
        )
    })?;
    let recorded = provenance
        .external_parameter("/pipeline/digest/sha256")
        .and_then(serde_json::Value::as_str);
    match recorded {
        Some(r) if r == want => Ok(want),
        Some(r) => Err(Error::new(
            Check::Pipeline,
            format!(
                "the provenance records pipeline sha256:{r}, the expected pipeline is sha256:{want}: it was built from another pipeline file"
            ),
        )),
        None => Err(Error::new(
            Check::Pipeline,
            format!(
                "the provenance records no externalParameters.pipeline.digest.sha256; the expected pipeline is sha256:{want}"
            ),
        )),
    }
}

/// When an extension must be in the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// Always: a certificate without it does not bind the build.
    Required,
    /// Exactly when the provenance has the value.
    WithProvenance,
    /// Checked only when the certificate carries it.
    IfPresent,
}

/// The source facts of a factory provenance that the certificate must bind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceClaims<'a> {
    /// `externalParameters.source.uri` without `@<revision>` (`git+<url>` or `file://<dir>`).
    pub uri_without_revision: &'a str,
    /// Whether it is a git source (`git+…`).
    pub git: bool,
    /// The source ref (`source.ref`, else the URI's revision when it is a full ref).
    pub git_ref: Option<&'a str>,
}

/// Every factory build extension against the provenance (table in the module docs). A
/// missing or different value fails [`Check::CertificateExtension`], naming the extension
/// and both values.
pub(crate) fn check_build_binding(
    ext: &FulcioExtensions,
    provenance: &Provenance,
    pipeline_sha256: &str,
    source: SourceClaims<'_>,
) -> Result<(), Error> {
    let str_at = |ptr: &str| {
        provenance
            .external_parameter(ptr)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    let source_digest = if source.git {
        str_at("/source/digest/gitCommit")
    } else {
        str_at("/source/digest/sha256").map(|d| format!("sha256:{d}"))
    };
    let digest_what = if source.git {
        "source.digest.gitCommit"
    } else {
        "source.digest.sha256"
    };
    let pipeline = format!("sha256:{pipeline_sha256}");
    let bindings: [(u32, Option<String>, &str, Presence); 7] = [
        (
            19,
            Some(pipeline.clone()),
            "pipeline digest",
            Presence::Required,
        ),
        (
            12,
            Some(source.uri_without_revision.to_string()),
            "source.uri without its revision",
            Presence::Required,
        ),
        (13, source_digest, digest_what, Presence::Required),
        (
            14,
            source.git_ref.map(str::to_string),
            "source ref",
            Presence::WithProvenance,
        ),
        (
            21,
            provenance.invocation_id().map(|i| format!("urn:uuid:{i}")),
            "runDetails.metadata.invocationId (as urn:uuid:)",
            Presence::IfPresent,
        ),
        (
            9,
            Some(provenance.builder_id().to_string()),
            "builder.id",
            Presence::IfPresent,
        ),
        (10, Some(pipeline), "pipeline digest", Presence::IfPresent),
    ];
    for (arc, claimed, what, presence) in bindings {
        let label = fulcio_extension_label(arc);
        let cert = ext.all.get(&arc);
        let fail = |reason: String| Err(Error::new(Check::CertificateExtension, reason));
        match (cert, claimed.as_deref()) {
            (Some(c), Some(p)) if c == p => {}
            (Some(c), Some(p)) => {
                return fail(format!(
                    "certificate extension {label} is {c:?}, the provenance's {what} is {p:?}"
                ));
            }
            (Some(c), None) => {
                return fail(format!(
                    "certificate extension {label} is {c:?}, the provenance records no {what}"
                ));
            }
            (None, p) => {
                let missing = match presence {
                    Presence::Required => true,
                    Presence::WithProvenance => p.is_some(),
                    Presence::IfPresent => false,
                };
                if missing {
                    return fail(format!(
                        "the factory certificate carries no {label} extension, so it does not bind the build (the provenance's {what} is {})",
                        p.map_or_else(|| "absent too".to_string(), |p| format!("{p:?}"))
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_sha256_digests_with_or_without_prefix() {
        let hex = "AB".repeat(32);
        assert_eq!(normalize_sha256(&hex), Some("ab".repeat(32)));
        assert_eq!(
            normalize_sha256(&format!("sha256:{hex}")),
            Some("ab".repeat(32))
        );
        for bad in [
            "",
            "sha256:",
            "sha512:00",
            &"ab".repeat(31),
            &"zz".repeat(32),
        ] {
            assert_eq!(normalize_sha256(bad), None, "{bad}");
        }
    }
}
