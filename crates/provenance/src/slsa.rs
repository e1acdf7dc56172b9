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
