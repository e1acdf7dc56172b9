//! Which builders are trusted, and how a builder id is matched: slsa-verifier semantics
//! for GitHub builders, exact SPIFFE ids for chainseal's own secure software factory.

use crate::error::{Check, Error};
use crate::slsa::Provenance;

/// `buildType` of SLSA provenance written by chainseal's secure software factory.
pub const FACTORY_BUILD_TYPE: &str = "https://chainseal.dev/factory/v1";

/// The certificate identity (URI SAN) of a chainseal factory:
/// `spiffe://<trust-domain>/factory/<pipeline-name>`. Same language as
/// [`is_factory_identity`].
pub const FACTORY_IDENTITY_REGEX: &str = "^spiffe://[^/]+/factory/[^/]+$";

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
    /// A chainseal secure software factory (`spiffe://<td>/factory/<pipeline>`), trusted
    /// because the user named it with `--builder-id` and its certificate chains to the
    /// `--trusted-root`. SLSA Build L3: every step runs isolated in a fresh sandbox
    /// (no network for builds, read-only inputs), and the provenance is generated and
    /// signed by the observer outside the sandbox, with a key and certificate the steps
    /// never see — a step cannot forge or alter it.
    Factory,
}

/// The builder that verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBuilder {
    /// The builder id: GitHub `name@ref`; factory the SPIFFE id.
    pub id: String,
    /// The signer from the certificate: GitHub the workflow `name@ref`; factory the
    /// SPIFFE id (the same as `id`).
    pub signer: String,
    /// How it was trusted.
    pub kind: BuilderKind,
}

impl VerifiedBuilder {
    /// The SLSA Build level this builder attains.
    pub fn slsa_build_level(&self) -> u8 {
        match self.kind {
            BuilderKind::Generator | BuilderKind::Delegator | BuilderKind::Factory => 3,
            BuilderKind::Named => 2,
        }
    }
}

impl BuilderKind {
    /// A stable lower-case name (`generator`, `delegator`, `named`, `factory`), e.g. for
    /// JSON output.
    pub fn as_str(&self) -> &'static str {
        match self {
            BuilderKind::Generator => "generator",
            BuilderKind::Delegator => "delegator",
            BuilderKind::Named => "named",
            BuilderKind::Factory => "factory",
        }
    }
}

/// Whether `uri` is a chainseal factory identity `spiffe://<trust-domain>/factory/<name>`
/// (non-empty trust domain and name, no further path segments).
pub fn is_factory_identity(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("spiffe://") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    matches!(parts.as_slice(), [td, "factory", name] if !td.is_empty() && !name.is_empty())
}

/// Verify a chainseal factory builder. `identity` is the URI SAN of the *verified*
/// certificate; trust is the user's choice, so `expected` (`--builder-id`) is required and
/// must equal it exactly (no `@version` semantics). The provenance's `builder.id` must be
/// the same identity and its `buildType` [`FACTORY_BUILD_TYPE`].
pub fn verify_factory_builder(
    identity: &str,
    expected: Option<&str>,
    provenance: &Provenance,
) -> Result<VerifiedBuilder, Error> {
    if !is_factory_identity(identity) {
        return Err(Error::new(
            Check::BuilderIdentity,
            format!(
                "certificate identity {identity:?} is not spiffe://<trust-domain>/factory/<pipeline>"
            ),
        ));
    }
    let Some(e) = expected.filter(|e| !e.is_empty()) else {
        return Err(Error::new(
            Check::BuilderId,
            format!(
                "--builder-id is required for provenance signed by a chainseal factory (the certificate names {identity:?})"
            ),
        ));
    };
    if e != identity {
        return Err(Error::new(
            Check::BuilderId,
            format!("--builder-id {e:?} is not the certificate's factory identity {identity:?}"),
        ));
    }
    let prov_id = provenance.builder_id();
    if prov_id != identity {
        return Err(Error::new(
            Check::BuilderId,
            format!(
                "provenance builder.id {prov_id:?} is not the certificate's factory identity {identity:?}"
            ),
        ));
    }
    let build_type = provenance.build_type();
    if build_type != FACTORY_BUILD_TYPE {
        return Err(Error::new(
            Check::BuildType,
            format!("factory provenance buildType {build_type:?} is not {FACTORY_BUILD_TYPE}"),
        ));
    }
    Ok(VerifiedBuilder {
        id: identity.to_string(),
        signer: identity.to_string(),
        kind: BuilderKind::Factory,
    })
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
    use crate::slsa::PROVENANCE_V1;

    const FACTORY_ID: &str = "spiffe://chainseal.local/factory/hello";

    /// A factory provenance predicate as `chainseal factory run` writes it.
    fn factory_provenance(builder_id: &str, build_type: &str) -> Provenance {
        let predicate = serde_json::json!({
            "buildDefinition": {
                "buildType": build_type,
                "externalParameters": {
                    "pipeline": {"name": "hello", "path": "pipeline.yaml", "digest": {"sha256": "ab".repeat(32)}},
                    "source": {"uri": "git+https://github.com/o/r.git@v1.0.0", "digest": {"sha256": "cd".repeat(32), "gitCommit": "ef".repeat(20)}},
                },
            },
            "runDetails": {
                "builder": {"id": builder_id},
                "metadata": {"invocationId": "1", "startedOn": "2026-01-01T00:00:00Z", "finishedOn": "2026-01-01T00:00:01Z"},
            },
        });
        Provenance::parse(PROVENANCE_V1, Some(&predicate)).unwrap()
    }

    #[test]
    fn accepts_spiffe_factory_identity() {
        for id in [
            FACTORY_ID,
            "spiffe://example.org/factory/release-pipeline",
            "spiffe://td/factory/p@1",
        ] {
            assert!(is_factory_identity(id), "{id}");
        }
    }

    #[test]
    fn rejects_identity_that_is_not_a_spiffe_factory_pipeline() {
        for id in [
            "spiffe://td/other/p",
            "spiffe:///factory/p",
            "spiffe://td/factory/",
            "spiffe://td/factory/p/extra",
            "spiffe://td/factory",
            "https://td/factory/p",
            "SPIFFE://td/factory/p",
            "https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.0.0",
        ] {
            assert!(!is_factory_identity(id), "{id}");
        }
    }

    #[test]
    fn accepts_factory_provenance_whose_builder_id_equals_certificate_identity_at_level_3() {
        let b = verify_factory_builder(
            FACTORY_ID,
            Some(FACTORY_ID),
            &factory_provenance(FACTORY_ID, FACTORY_BUILD_TYPE),
        )
        .unwrap();
        assert_eq!(b.id, FACTORY_ID);
        assert_eq!(b.signer, FACTORY_ID);
        assert_eq!(b.kind, BuilderKind::Factory);
        assert_eq!(b.slsa_build_level(), 3);
    }

    #[test]
    fn rejects_factory_provenance_without_builder_id() {
        let prov = factory_provenance(FACTORY_ID, FACTORY_BUILD_TYPE);
        for expected in [None, Some("")] {
            let e = verify_factory_builder(FACTORY_ID, expected, &prov).unwrap_err();
            assert_eq!(e.check, Check::BuilderId, "{e}");
            assert!(e.reason.contains("required"), "{e}");
        }
    }

    #[test]
    fn rejects_factory_provenance_whose_builder_id_differs_from_certificate() {
        let prov = factory_provenance(FACTORY_ID, FACTORY_BUILD_TYPE);
        for expected in [
            "spiffe://chainseal.local/factory/other",
            "spiffe://evil.local/factory/hello",
            "spiffe://chainseal.local/factory/hello@v1",
            "spiffe://chainseal.local/factory/hell",
            "spiffe://chainseal.local/factory/hello/",
            "spiffe://chainseal.local/factory",
        ] {
            let e = verify_factory_builder(FACTORY_ID, Some(expected), &prov).unwrap_err();
            assert_eq!(e.check, Check::BuilderId, "{e}");
            assert!(
                e.reason.contains(expected) && e.reason.contains(FACTORY_ID),
                "{e}"
            );
        }
    }

    #[test]
    fn rejects_factory_provenance_whose_builder_id_claim_differs_from_certificate() {
        // The signed provenance claims another pipeline than the certificate names.
        let prov = factory_provenance("spiffe://chainseal.local/factory/other", FACTORY_BUILD_TYPE);
        let e = verify_factory_builder(FACTORY_ID, Some(FACTORY_ID), &prov).unwrap_err();
        assert_eq!(e.check, Check::BuilderId, "{e}");
        assert!(e.reason.contains("builder.id"), "{e}");
    }

    #[test]
    fn rejects_factory_provenance_with_foreign_build_type() {
        for bt in [
            "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "https://chainseal.dev/factory/v2",
            "",
        ] {
            let e = verify_factory_builder(
                FACTORY_ID,
                Some(FACTORY_ID),
                &factory_provenance(FACTORY_ID, bt),
            )
            .unwrap_err();
            assert_eq!(e.check, Check::BuildType, "{e}");
        }
    }

    #[test]
    fn rejects_factory_builder_for_non_factory_certificate_identity() {
        let id = "spiffe://chainseal.local/workload/hello";
        let e = verify_factory_builder(id, Some(id), &factory_provenance(id, FACTORY_BUILD_TYPE))
            .unwrap_err();
        assert_eq!(e.check, Check::BuilderIdentity, "{e}");
    }

    #[test]
    fn builder_kinds_have_stable_names_and_levels() {
        let level = |kind| {
            VerifiedBuilder {
                id: String::new(),
                signer: String::new(),
                kind,
            }
            .slsa_build_level()
        };
        assert_eq!(BuilderKind::Factory.as_str(), "factory");
        assert_eq!(level(BuilderKind::Factory), 3);
        assert_eq!(BuilderKind::Named.as_str(), "named");
        assert_eq!(level(BuilderKind::Named), 2);
    }

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
