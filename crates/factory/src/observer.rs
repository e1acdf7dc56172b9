//! The observer: everything that happens *outside* the sandbox and is attested.
//!
//! It hashes files (SHA-256), builds the in-toto link of each step from what it saw
//! itself, builds the SLSA provenance v1 Statement for the outputs, and signs both as DSSE
//! envelopes through the run's [`crate::Attestor`] — the only place the factory key is
//! used. Nothing a step writes about itself ends up in an attested field except its captured stdout/stderr
//! (reported as byproducts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chainseal_intoto::Link;
use chainseal_intoto::models::{Artifacts, Digests};
use chainseal_model::statement::{ResourceDescriptor, STATEMENT_V1, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Error;

/// The SLSA provenance v1 predicate type.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// The `buildType` of factory provenance.
pub const BUILD_TYPE: &str = "https://chainseal.dev/factory/v1";

/// Lowercase hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, Error> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Lowercase hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn digests(sha: String) -> Digests {
    BTreeMap::from([("sha256".to_string(), sha)])
}

/// The regular files under `root` (a file or a folder), as `(path, name)` pairs where
/// `name` is `prefix/<path relative to root>`, sorted. Symlinks and special files are
/// refused (`what` names the owner in errors): the observer never follows a link a step
/// planted.
pub fn list_files(root: &Path, prefix: &str, what: &str) -> Result<Vec<(PathBuf, String)>, Error> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| Error::Artifact {
            step: what.to_string(),
            reason: format!("walking {}: {e}", root.display()),
        })?;
        let ft = e.file_type();
        if ft.is_dir() {
            continue;
        }
        let rel = e.path().strip_prefix(root).unwrap_or(e.path());
        let rel = checked_name(rel, what)?;
        let name = match (prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}/{rel}"),
        };
        if !ft.is_file() {
            return Err(Error::Artifact {
                step: what.to_string(),
                reason: format!(
                    "'{name}' is a symlink or special file; only regular files are allowed"
                ),
            });
        }
        out.push((e.into_path(), name));
    }
    Ok(out)
}

/// Hash every listed file into in-toto artifacts.
pub fn hash_files(files: &[(PathBuf, String)]) -> Result<Artifacts, Error> {
    let mut a = Artifacts::new();
    for (p, name) in files {
        a.insert(name.clone(), digests(sha256_file(p)?));
    }
    Ok(a)
}

/// A relative path as an artifact name: valid UTF-8 with no control characters (newlines,
/// tabs, escapes), so that every name has exactly one spelling in links, manifests and
/// digests. Anything else is refused, naming the path as far as it can be shown.
pub fn checked_name<'a>(rel: &'a Path, what: &str) -> Result<&'a str, Error> {
    let Some(s) = rel.to_str() else {
        return Err(Error::Artifact {
            step: what.to_string(),
            reason: format!(
                "file name {:?} is not valid UTF-8; rename it (artifact names must be UTF-8)",
                rel.as_os_str()
            ),
        });
    };
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(Error::Artifact {
            step: what.to_string(),
            reason: format!(
                "file name {s:?} contains the control character {:?}; rename it",
                c
            ),
        });
    }
    Ok(s)
}

/// A digest over a whole tree that no two different trees share: SHA-256 of the
/// RFC 8785 canonical JSON of `[{"name": …, "sha256": …}, …]` in name order. JSON
/// quoting makes every name self-delimiting, so no choice of names can make two
/// listings encode alike (a `sha256sum`-style `"<sha>  <name>\n"` manifest can: a name
/// may contain the separator).
pub fn tree_digest(artifacts: &Artifacts) -> Result<String, Error> {
    let entries: Vec<Value> = artifacts
        .iter()
        .map(|(name, d)| {
            json!({
                "name": name,
                "sha256": d.get("sha256").map(String::as_str).unwrap_or(""),
            })
        })
        .collect();
    let bytes =
        chainseal_model::canonical::jcs(&Value::Array(entries)).map_err(|e| Error::Artifact {
            step: "source".into(),
            reason: format!("tree digest: {e}"),
        })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Build the link of one step from the observer's own measurements.
pub fn step_link(
    name: &str,
    command: &[String],
    materials: Artifacts,
    products: Artifacts,
    outcome: &crate::sandbox::StepOutcome,
    network: bool,
) -> Link {
    let mut byproducts = serde_json::Map::new();
    byproducts.insert(
        "stdout".into(),
        Value::String(tail(&outcome.stdout, 64 * 1024)),
    );
    byproducts.insert(
        "stderr".into(),
        Value::String(tail(&outcome.stderr, 64 * 1024)),
    );
    byproducts.insert("return-value".into(), json!(outcome.code));
    let mut environment = serde_json::Map::new();
    environment.insert("sandbox".into(), json!(sandbox_description(network)));
    Link {
        name: name.to_string(),
        command: command.to_vec(),
        materials,
        products,
        byproducts,
        environment,
    }
}

/// The last `max` bytes of a stream, lossily decoded.
pub fn tail(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// What isolation a step had, as recorded in links and provenance.
pub fn sandbox_description(network: bool) -> Value {
    json!({
        "namespaces": ["mount", "pid", "uts", "ipc", "network"],
        "network": if network {
            "none; its pinned dependencies were fetched by the observer and checked by sha256"
        } else {
            "none"
        },
        "user": "unprivileged, no capabilities, no_new_privs, seccomp filter",
        "rootfs": "read-only nosuid host /usr,/bin,/lib*,/sbin,/etc; private size-capped /tmp; inputs read-only",
    })
}

/// The link as an in-toto Statement v1 with the `link/v0.3` predicate (its products are
/// the subjects), the form Sigstore clients verify against an artifact and
/// `chainseal intoto verify` reads as a link.
pub fn link_statement(link: &Link) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(&link.to_statement()).map_err(|e| Error::Signing {
        what: format!("link {}", link.name),
        reason: e.to_string(),
    })
}

/// Everything the provenance records about one run.
#[derive(Debug, Clone)]
pub struct ProvenanceInput {
    /// The artifacts the run produced: `(name, sha256)`.
    pub subjects: Vec<(String, String)>,
    /// Pipeline name.
    pub pipeline_name: String,
    /// Pipeline file name and SHA-256.
    pub pipeline_file: String,
    /// SHA-256 of the pipeline file.
    pub pipeline_sha256: String,
    /// Source URI (`git+<repo>@<rev>` or `file://…`).
    pub source_uri: String,
    /// The full ref the source revision resolved to (`refs/heads/main`), for git sources
    /// built from a branch or tag.
    pub source_ref: Option<String>,
    /// Source digest set (`gitCommit` and/or `sha256` tree digest).
    pub source_digest: BTreeMap<String, String>,
    /// Resolved dependencies (consumed source files and pinned fetches).
    pub resolved: Vec<ResourceDescriptor>,
    /// The builder id `spiffe://<td>/factory/<pipeline>`.
    pub builder_id: String,
    /// Per-step facts for `internalParameters`.
    pub steps: Vec<Value>,
    /// Trust domain.
    pub trust_domain: String,
    /// Invocation id.
    pub invocation_id: String,
    /// RFC 3339 start time.
    pub started_on: String,
    /// RFC 3339 finish time.
    pub finished_on: String,
    /// The links written, as byproducts.
    pub byproducts: Vec<ResourceDescriptor>,
}

/// The in-toto Statement v1 carrying SLSA provenance v1 for the run's outputs.
pub fn provenance_statement(p: &ProvenanceInput) -> Statement {
    let subject = p
        .subjects
        .iter()
        .map(|(name, sha)| ResourceDescriptor {
            name: name.clone(),
            digest: digests(sha.clone()),
            ..ResourceDescriptor::default()
        })
        .collect();
    let mut source = json!({"uri": p.source_uri, "digest": p.source_digest});
    if let Some(r) = &p.source_ref {
        source["ref"] = json!(r);
    }
    let predicate = json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "pipeline": {
                    "name": p.pipeline_name,
                    "path": p.pipeline_file,
                    "digest": {"sha256": p.pipeline_sha256},
                },
                "source": source,
            },
            "internalParameters": {
                "trustDomain": p.trust_domain,
                "steps": p.steps,
            },
            "resolvedDependencies": p.resolved,
        },
        "runDetails": {
            "builder": {
                "id": p.builder_id,
                "version": {"chainseal-factory": env!("CARGO_PKG_VERSION")},
            },
            "metadata": {
                "invocationId": p.invocation_id,
                "startedOn": p.started_on,
                "finishedOn": p.finished_on,
            },
            "byproducts": p.byproducts,
        },
    });
    Statement {
        type_: STATEMENT_V1.to_string(),
        subject,
        predicate_type: SLSA_PROVENANCE_V1.to_string(),
        predicate: Some(predicate),
    }
}

/// The provenance Statement's JSON bytes (what is signed).
pub fn statement_bytes(st: &Statement) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(st).map_err(|e| Error::Signing {
        what: "provenance".into(),
        reason: e.to_string(),
    })
}
