//! Which builders are trusted, and how a builder id is matched (slsa-verifier semantics).

use crate::error::{Check, Error};
use crate::slsa::Provenance;

/// The OIDC issuer of GitHub Actions workload identities.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
const GITHUB: &str = "https://github.com/";
const GENERATOR_REPO: &str = "slsa-framework/slsa-github-generator";
const E2E_REPO: &str = "slsa-framework/example-package";

/// slsa-github-generator reusable workflows trusted without `--builder-id`: the workflow
/// itself builds (or generates provenance) and signs with its own identity.
const GENERATORS: &[&str] = &[
    "/.github/workflows/generator_generic_slsa3.yml",
    "/.github/workflows/builder_go_slsa3.yml",
    "/.github/workflows/builder_docker-based_slsa3.yml",
    "/.github/workflows/builder_container-based_slsa3.yml",
    "/.github/workflows/generator_container_slsa3.yml",
];

/// BYOB delegators: they sign provenance for a tool reusable workflow (TRW) named in the
/// provenance's `builder.id`; `--builder-id` is then mandatory.
const DELEGATORS: &[&str] = &[
    "/.github/workflows/delegator_generic_slsa3.yml",
    "/.github/workflows/delegator_lowperms-generic_slsa3.yml",
];

/// How the builder was trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuilderKind {
    /// An slsa-github-generator builder or generator (SLSA Build L3).
    Generator,
    /// A BYOB delegator vouching for the tool reusable workflow in `builder.id` (L3).
    Delegator,
    /// A reusable workflow the caller named with `--builder-id` (e.g. the BCR
    /// publish workflow using GitHub's attest action); trusted because the user said so.
    Named,
}

/// The builder that verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBuilder {
    /// The builder id, `name@ref`.
    pub id: String,
    /// The signing workflow from the certificate, `name@ref`.
    pub signer: String,
    /// How it was trusted.
    pub kind: BuilderKind,
}

impl VerifiedBuilder {
    /// The SLSA Build level this builder attains.
    pub fn slsa_build_level(&self) -> u8 {
        match self.kind {
            BuilderKind::Generator | BuilderKind::Delegator => 3,
            BuilderKind::Named => 2,
        }
    }
}

/// Whether a user-given builder id (`name` or `name@version`) matches `actual`
/// (`name@ref`). A version matches the ref itself or `refs/tags/<version>`.
pub fn builder_id_matches(expected: &str, actual: &str) -> bool {
    let (a_name, a_ref) = actual.split_once('@').unwrap_or((actual, ""));
    match expected.split_once('@') {
        None => expected == a_name,
        Some((e_name, e_ver)) => {
            e_name == a_name
                && !e_ver.is_empty()
                && (e_ver == a_ref || a_ref.strip_prefix("refs/tags/") == Some(e_ver))
        }
    }
}

/// Whether `ref` is `refs/tags/vX.Y.Z` with numeric parts and no pre-release or build.
fn is_release_tag(r: &str) -> bool {
    let Some(v) = r.strip_prefix("refs/tags/v") else {
        return false;
    };
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Verify the signing workflow (from the verified certificate) is a trusted builder and
/// agrees with `--builder-id` and the provenance's `builder.id`.
///
/// `workflow` is the certificate's build signer URI (or URI SAN), `issuer` its OIDC
/// issuer, `caller_repo` the certificate's source repository (`owner/repo`).
/// `allow_e2e_main_ref` accepts `@refs/heads/main` for the generator's own e2e tests, as
/// slsa-verifier does only in testing mode.
pub fn verify_builder(
    workflow: &str,
    issuer: Option<&str>,
    caller_repo: &str,
    expected: Option<&str>,
    provenance: &Provenance,
    allow_e2e_main_ref: bool,
) -> Result<VerifiedBuilder, Error> {
    if issuer != Some(GITHUB_ACTIONS_ISSUER) {
        return Err(Error::new(
            Check::BuilderIdentity,
            format!("certificate OIDC issuer {issuer:?} is not {GITHUB_ACTIONS_ISSUER}"),
        ));
    }
    let Some((name, r)) = workflow.split_once('@') else {
        return Err(Error::new(
            Check::BuilderIdentity,
            format!("certificate workflow {workflow:?} has no @ref"),
        ));
    };
    let Some(path) = name.strip_prefix(GITHUB) else {
        return Err(Error::new(
            Check::BuilderIdentity,
            format!("certificate workflow {workflow:?} is not on https://github.com/"),
        ));
    };
    let expected = expected.filter(|e| !e.is_empty());
    let generator_path = path.strip_prefix(GENERATOR_REPO);
    let is_generator = generator_path.is_some_and(|p| GENERATORS.contains(&p));
    let is_delegator = generator_path.is_some_and(|p| DELEGATORS.contains(&p));
    let prov_id = provenance.builder_id();

    if is_generator || is_delegator {
        let main_ok = allow_e2e_main_ref
            && r == "refs/heads/main"
            && (caller_repo == GENERATOR_REPO || caller_repo == E2E_REPO);
        if !is_release_tag(r) && !main_ok {
            return Err(Error::new(
                Check::BuilderIdentity,
                format!("builder {name} ref {r:?} is not a release tag refs/tags/vX.Y.Z"),
            ));
        }
    }
    if is_generator {
        if let Some(e) = expected
            && !builder_id_matches(e, workflow)
        {
            return Err(Error::new(
                Check::BuilderId,
                format!("--builder-id {e:?} does not match the certificate's builder {workflow}"),
            ));
        }
        if prov_id != workflow {
            return Err(Error::new(
                Check::BuilderId,
                format!(
                    "provenance builder.id {prov_id:?} is not the certificate's builder {workflow}"
                ),
            ));
        }
        return Ok(VerifiedBuilder {
            id: workflow.to_string(),
            signer: workflow.to_string(),
            kind: BuilderKind::Generator,
        });
    }
    if is_delegator {
        let Some(e) = expected else {
            return Err(Error::new(
                Check::BuilderId,
                format!("--builder-id is required for provenance signed by the delegator {name}"),
            ));
        };
        if !builder_id_matches(e, prov_id) {
            return Err(Error::new(
                Check::BuilderId,
                format!(
                    "--builder-id {e:?} does not match the provenance builder.id {prov_id:?} vouched for by {workflow}"
                ),
            ));
        }
        return Ok(VerifiedBuilder {
            id: prov_id.to_string(),
            signer: workflow.to_string(),
            kind: BuilderKind::Delegator,
        });
    }
    match expected {
        Some(e) if builder_id_matches(e, workflow) => {
            if prov_id != workflow {
                return Err(Error::new(
                    Check::BuilderId,
                    format!(
                        "provenance builder.id {prov_id:?} is not the certificate's builder {workflow}"
                    ),
                ));
            }
            Ok(VerifiedBuilder {
                id: workflow.to_string(),
                signer: workflow.to_string(),
                kind: BuilderKind::Named,
            })
        }
        _ => Err(Error::new(
            Check::BuilderIdentity,
            format!(
                "untrusted reusable workflow: the certificate was issued to {workflow}{}",
                expected.map_or(String::new(), |e| format!(", not --builder-id {e:?}"))
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_id_matches_with_and_without_ref() {
        let a = "https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.2.3";
        assert!(builder_id_matches(
            "https://github.com/o/r/.github/workflows/b.yml",
            a
        ));
        assert!(builder_id_matches(
            "https://github.com/o/r/.github/workflows/b.yml@v1.2.3",
            a
        ));
        assert!(builder_id_matches(
            "https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.2.3",
            a
        ));
    }

    #[test]
    fn builder_id_mismatch_on_name_or_version() {
        let a = "https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.2.3";
        assert!(!builder_id_matches(
            "https://github.com/o/r/.github/workflows/c.yml",
            a
        ));
        assert!(!builder_id_matches(
            "https://github.com/o/r/.github/workflows/b.yml@v1.2.4",
            a
        ));
        assert!(!builder_id_matches(
            "https://github.com/o/r/.github/workflows/b.yml@",
            a
        ));
        assert!(!builder_id_matches(
            "https://github.com/o/r/.github/workflows/b",
            a
        ));
    }

    #[test]
    fn release_tag_accepts_only_vxyz() {
        assert!(is_release_tag("refs/tags/v2.1.0"));
        for bad in [
            "refs/tags/v2.1",
            "refs/tags/v2.1.0-rc1",
            "refs/heads/main",
            "refs/tags/2.1.0",
            "refs/tags/v2.1.0+b",
        ] {
            assert!(!is_release_tag(bad), "{bad}");
        }
    }
}
