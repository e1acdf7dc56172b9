//! SLSA provenance predicates, v0.2 and v1, and the few facts verification reads from
//! them. Unknown fields are ignored (the in-toto monotonic principle); free-form parts
//! (parameters, environment) stay JSON values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Check, Error};

/// `predicateType` of SLSA provenance v0.2.
pub const PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
/// `predicateType` of SLSA provenance v1.
pub const PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// A builder (both versions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Builder {
    /// The builder's URI.
    pub id: String,
    /// v1: builder version map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<BTreeMap<String, String>>,
    /// v1: the builder's own dependencies.
    #[serde(
        default,
        rename = "builderDependencies",
        skip_serializing_if = "Option::is_none"
    )]
    pub builder_dependencies: Option<Vec<Value>>,
}

/// SLSA provenance v0.2 `configSource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConfigSource {
    /// Source URI, e.g. `git+https://github.com/o/r@refs/tags/v1`.
    #[serde(default)]
    pub uri: String,
    /// Digest of the source.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    /// Entry point (e.g. the workflow path).
    #[serde(default, rename = "entryPoint")]
    pub entry_point: String,
}

/// SLSA provenance v0.2 `invocation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Invocation {
    /// Where the build configuration came from.
    #[serde(default, rename = "configSource")]
    pub config_source: ConfigSource,
    /// User parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Builder-provided environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Value>,
}

/// SLSA provenance v0.2 predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenanceV02 {
    /// The builder.
    pub builder: Builder,
    /// Build type URI.
    #[serde(rename = "buildType")]
    pub build_type: String,
    /// How the build was invoked.
    #[serde(default)]
    pub invocation: Invocation,
    /// Build configuration, if any.
    #[serde(
        default,
        rename = "buildConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub build_config: Option<Value>,
    /// Metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Materials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materials: Option<Vec<Value>>,
}

/// SLSA provenance v1 `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildDefinition {
    /// Build type URI.
    #[serde(rename = "buildType")]
    pub build_type: String,
    /// External parameters (the user-controlled inputs).
    #[serde(rename = "externalParameters")]
    pub external_parameters: Value,
    /// Internal (platform) parameters.
    #[serde(
        default,
        rename = "internalParameters",
        skip_serializing_if = "Option::is_none"
    )]
    pub internal_parameters: Option<Value>,
    /// Resolved dependencies (resource descriptors).
    #[serde(
        default,
        rename = "resolvedDependencies",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resolved_dependencies: Vec<ResourceRef>,
}

/// A resource descriptor as used in `resolvedDependencies` / `byproducts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ResourceRef {
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Digest set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
}

/// SLSA provenance v1 `runDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDetails {
    /// The builder.
    pub builder: Builder,
    /// Invocation id and times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Byproducts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byproducts: Option<Vec<Value>>,
}

/// SLSA provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenanceV1 {
    /// What was built and from which inputs.
    #[serde(rename = "buildDefinition")]
    pub build_definition: BuildDefinition,
    /// Who built it and how the run went.
    #[serde(rename = "runDetails")]
    pub run_details: RunDetails,
}

/// A parsed SLSA provenance predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// `https://slsa.dev/provenance/v0.2`.
    V02(ProvenanceV02),
    /// `https://slsa.dev/provenance/v1`.
    V1(ProvenanceV1),
}

impl Provenance {
    /// Parse the predicate for `predicate_type`.
    pub fn parse(predicate_type: &str, predicate: Option<&Value>) -> Result<Self, Error> {
        let predicate = predicate
            .ok_or_else(|| Error::new(Check::PredicateType, "the statement has no predicate"))?;
        let bad = |e: serde_json::Error| {
            Error::new(
                Check::PredicateType,
                format!("malformed {predicate_type} predicate: {e}"),
            )
        };
        match predicate_type {
            PROVENANCE_V02 => Ok(Self::V02(
                ProvenanceV02::deserialize(predicate).map_err(bad)?,
            )),
            PROVENANCE_V1 => Ok(Self::V1(ProvenanceV1::deserialize(predicate).map_err(bad)?)),
            other => Err(Error::new(
                Check::PredicateType,
                format!("predicate type {other:?} is not SLSA provenance v0.2 or v1"),
            )),
        }
    }

    /// `builder.id`.
    pub fn builder_id(&self) -> &str {
        match self {
            Self::V02(p) => &p.builder.id,
            Self::V1(p) => &p.run_details.builder.id,
        }
    }

    /// The build type.
    pub fn build_type(&self) -> &str {
        match self {
            Self::V02(p) => &p.build_type,
            Self::V1(p) => &p.build_definition.build_type,
        }
    }

    /// The source the provenance says was built, as `git+https://…@ref` where available:
    /// v0.2 `invocation.configSource.uri`; v1 the GitHub-attestation workflow
    /// parameters, else the first resolved dependency.
    pub fn source_uri(&self) -> Option<String> {
        match self {
            Self::V02(p) => Some(p.invocation.config_source.uri.clone()).filter(|s| !s.is_empty()),
            Self::V1(p) => {
                let wf = p.build_definition.external_parameters.get("workflow");
                if let (Some(repo), Some(r)) = (
                    wf.and_then(|w| w.get("repository")).and_then(Value::as_str),
                    wf.and_then(|w| w.get("ref")).and_then(Value::as_str),
                ) {
                    return Some(format!("git+{repo}@{r}"));
                }
                p.build_definition
                    .resolved_dependencies
                    .first()
                    .and_then(|d| d.uri.clone())
            }
        }
    }

    /// v1 `buildDefinition.externalParameters.source.uri`: the source a chainseal factory
    /// fetched and recorded itself (`git+<repo>@<revision>` or `file://<dir>`). `None` for
    /// v0.2, or when absent or not a string.
    pub fn external_source_uri(&self) -> Option<&str> {
        match self {
            Self::V02(_) => None,
            Self::V1(p) => p
                .build_definition
                .external_parameters
                .get("source")
                .and_then(|s| s.get("uri"))
                .and_then(Value::as_str),
        }
    }

    /// v1 `buildDefinition.externalParameters` at the JSON pointer `ptr` (e.g.
    /// `/pipeline/digest/sha256`). `None` for v0.2 or when absent.
    pub fn external_parameter(&self, ptr: &str) -> Option<&Value> {
        match self {
            Self::V02(_) => None,
            Self::V1(p) => p.build_definition.external_parameters.pointer(ptr),
        }
    }

    /// v1 `runDetails.metadata.invocationId`, when a string.
    pub fn invocation_id(&self) -> Option<&str> {
        match self {
            Self::V02(_) => None,
            Self::V1(p) => p
                .run_details
                .metadata
                .as_ref()
                .and_then(|m| m.get("invocationId"))
                .and_then(Value::as_str),
        }
    }

    /// The event's base ref (`refs/heads/…`) for a tag push, from the builder-written
    /// environment: the branch a tag was created from.
    pub fn base_ref(&self) -> Option<String> {
        let payload = match self {
            Self::V02(p) => p
                .invocation
                .environment
                .as_ref()
                .and_then(|e| e.get("github_event_payload")),
            Self::V1(p) => p
                .build_definition
                .internal_parameters
                .as_ref()
                .and_then(|e| e.get("GITHUB_EVENT_PAYLOAD")),
        }?;
        payload
            .get("base_ref")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// The repository part of a source URI, normalised to `github.com/owner/repo`: strips
/// `git+`, the scheme, a trailing `.git`, and any `@ref`.
pub fn normalize_repo(uri: &str) -> String {
    let s = uri.strip_prefix("git+").unwrap_or(uri);
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.split('@').next().unwrap_or(s);
    let s = s.trim_end_matches('/');
    s.strip_suffix(".git").unwrap_or(s).to_string()
}

/// URI schemes stripped by [`normalize_source_uri`].
const SOURCE_SCHEMES: &[&str] = &["https://", "http://", "file://", "ssh://"];

/// Split a source URI into its location and revision. Only a `git+` URI carries a
/// revision: `git+<repo>@<revision>` gives `(<repo>, Some(<revision>))`, the `git+`
/// dropped. The revision starts at the *last* `@` after the URI's authority, so the
/// user of `git+ssh://git@host/o/r@v1` is not mistaken for a revision, and a revision may
/// contain `/` (`refs/tags/v1`). A revision containing `@` yields a repository that ends
/// in `@…`, which matches no expected source without an `@`: ambiguity fails closed. Any
/// other URI (e.g. `file://` — a directory may be named `a@b`) has no revision. An empty
/// revision is none.
pub fn split_source_revision(uri: &str) -> (&str, Option<&str>) {
    let Some(rest) = uri.strip_prefix("git+") else {
        return (uri, None);
    };
    let path_start = match rest.find("://") {
        Some(i) => {
            let authority = i + 3;
            rest.get(authority..)
                .and_then(|a| a.find('/'))
                .map_or(rest.len(), |j| authority + j)
        }
        None => 0,
    };
    let at = rest
        .get(path_start..)
        .and_then(|p| p.rfind('@'))
        .map(|j| path_start + j);
    match at {
        Some(at) => {
            let (repo, rev) = rest.split_at(at);
            let rev = rev.get(1..).unwrap_or_default();
            (repo, Some(rev).filter(|r| !r.is_empty()))
        }
        None => (rest, None),
    }
}

/// Normalise a source URI for comparison: strip `git+` and the `@<revision>` of a `git+`
/// URI ([`split_source_revision`]), the scheme (`https://`, `http://`, `file://`,
/// `ssh://`) and any user in the authority (`git@`), trailing `/`, and — except for a
/// `file://` directory, where `x.git` and `x` are different directories — a trailing
/// `.git`. `git+https://github.com/o/r.git@v1` and `github.com/o/r` both give
/// `github.com/o/r`; `file:///work/x` gives `/work/x`.
pub fn normalize_source_uri(uri: &str) -> String {
    let (s, _) = split_source_revision(uri);
    let is_dir = uri.starts_with("file://");
    let s = match SOURCE_SCHEMES.iter().find_map(|p| s.strip_prefix(p)) {
        Some(rest) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest.get(..authority_end).and_then(|a| a.rfind('@')) {
                Some(at) => rest.get(at + 1..).unwrap_or_default(),
                None => rest,
            }
        }
        None => s,
    };
    let s = s.trim_end_matches('/');
    if is_dir {
        s.to_string()
    } else {
        s.strip_suffix(".git").unwrap_or(s).to_string()
    }
}

/// Whether the user's `--source-uri` names the source `provenance_uri` recorded by a
/// chainseal factory. A `file://` source is a directory: `expected` is compared as a path
/// (`file://` and trailing `/` stripped, nothing else). Any other source is compared after
/// [`normalize_source_uri`] on both sides. An empty normalised source matches nothing.
pub fn source_uri_matches(expected: &str, provenance_uri: &str) -> bool {
    let actual = normalize_source_uri(provenance_uri);
    let wanted = if provenance_uri.starts_with("file://") {
        expected
            .strip_prefix("file://")
            .unwrap_or(expected)
            .trim_end_matches('/')
            .to_string()
    } else {
        normalize_source_uri(expected)
    };
    !actual.is_empty() && wanted == actual
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_git_source_with_revision_to_repository() {
        for uri in [
            "git+https://github.com/o/r.git@v1.0.0",
            "git+https://github.com/o/r@refs/tags/v1.0.0",
            "git+http://github.com/o/r/@main",
            "git+ssh://git@github.com/o/r.git@refs/heads/main",
            "https://github.com/o/r.git",
            "github.com/o/r",
            "github.com/o/r/",
        ] {
            assert_eq!(normalize_source_uri(uri), "github.com/o/r", "{uri}");
        }
        assert_eq!(normalize_source_uri("file:///work/x/"), "/work/x");
        assert_eq!(normalize_source_uri("git+/work/repo@abc"), "/work/repo");
    }

    #[test]
    fn normalization_keeps_distinct_sources_distinct() {
        // Different host, owner or repository stay different.
        let base = normalize_source_uri("git+https://github.com/o/r.git@v1.0.0");
        for uri in [
            "git+https://gitlab.com/o/r.git@v1.0.0",
            "git+https://github.com/evil/r.git@v1.0.0",
            "git+https://github.com/o/r2.git@v1.0.0",
            "git+https://github.com/o/r/sub@v1.0.0",
            "git+https://github.com.evil/o/r@v1.0.0",
        ] {
            assert_ne!(normalize_source_uri(uri), base, "{uri}");
        }
        // A directory `x.git` is not the directory `x`.
        assert_eq!(normalize_source_uri("file:///work/x.git"), "/work/x.git");
    }

    #[test]
    fn splits_revision_after_authority_keeping_slashes_in_ref() {
        assert_eq!(
            split_source_revision("git+ssh://git@host/o/r@refs/tags/v1"),
            ("ssh://git@host/o/r", Some("refs/tags/v1"))
        );
        assert_eq!(
            split_source_revision("git+https://github.com/o/r.git@v1.0.0"),
            ("https://github.com/o/r.git", Some("v1.0.0"))
        );
        assert_eq!(
            split_source_revision("git+../repo@main"),
            ("../repo", Some("main"))
        );
    }

    #[test]
    fn finds_no_revision_in_user_info_file_sources_or_empty_suffix() {
        // The `git@` of the authority is a user, not a revision.
        assert_eq!(
            split_source_revision("git+ssh://git@host/o/r"),
            ("ssh://git@host/o/r", None)
        );
        // A file:// source is a directory, which may be named `a@b`.
        assert_eq!(
            split_source_revision("file:///work/a@b"),
            ("file:///work/a@b", None)
        );
        assert_eq!(
            split_source_revision("git+https://github.com/o/r@"),
            ("https://github.com/o/r", None)
        );
    }

    #[test]
    fn source_uri_matches_equivalent_spellings() {
        let git = "git+https://github.com/o/r.git@v1.0.0";
        for expected in [
            "github.com/o/r",
            "https://github.com/o/r",
            "https://github.com/o/r.git",
            "git+https://github.com/o/r",
            "git+https://github.com/o/r@v1.0.0",
            "github.com/o/r/",
        ] {
            assert!(source_uri_matches(expected, git), "{expected}");
        }
        for expected in ["/work/x", "/work/x/", "file:///work/x"] {
            assert!(source_uri_matches(expected, "file:///work/x"), "{expected}");
        }
        assert!(source_uri_matches(
            "host/o/r",
            "git+ssh://git@host/o/r.git@refs/heads/main"
        ));
    }

    #[test]
    fn source_uri_rejects_other_repository_host_or_directory() {
        let git = "git+https://github.com/o/r.git@v1.0.0";
        for expected in [
            "github.com/o/r2",
            "github.com/evil/r",
            "gitlab.com/o/r",
            "github.com/o",
            "github.com/o/r/sub",
            "",
        ] {
            assert!(!source_uri_matches(expected, git), "{expected}");
        }
        for expected in [
            "/work/y",
            "/work",
            "/work/x.git",
            "/work/x/sub",
            "work/x",
            "",
        ] {
            assert!(
                !source_uri_matches(expected, "file:///work/x"),
                "{expected}"
            );
        }
        // A directory named `a@b` is not the directory `a`.
        assert!(!source_uri_matches("/work/a", "file:///work/a@b"));
        assert!(source_uri_matches("/work/a@b", "file:///work/a@b"));
    }

    #[test]
    fn source_revision_containing_at_sign_fails_closed() {
        // `git+<repo>@pkg@1.0` is ambiguous: the repository read is `<repo>@pkg`, which no
        // `--source-uri` without `@` matches.
        assert!(!source_uri_matches(
            "github.com/o/r",
            "git+https://github.com/o/r@pkg@1.0"
        ));
    }

    #[test]
    fn empty_provenance_source_matches_nothing() {
        assert!(!source_uri_matches("", "file://"));
        assert!(!source_uri_matches("", "git+https://@v1"));
        assert!(!source_uri_matches("/", "file:///"));
    }
}
