//! The gate before publish: verify a run's output folder the way a consumer would, from
//! the files on disk and the trusted root alone — never from the factory's memory.
//!
//! In order (the first failure stops the gate and names its check):
//! 1. `provenance` — every file in `artifacts/` is a subject of `provenance.sigstore.json`,
//!    whose Sigstore bundle verifies (certificate chain, signature, timestamp, log
//!    inclusion) and whose certificate identity is one of the allowed identities and the
//!    provenance's builder id (`chainseal_provenance::verify_provenance`);
//! 2. `slsa-level` — the verified builder attains the required SLSA Build level;
//! 3. `link bundle` — each step's link bundle verifies for the same identity and issuer,
//!    and the `.link` file beside it carries the very envelope the bundle logged;
//! 4. `in-toto layout` — the links satisfy the layout generated from the pipeline
//!    ([`crate::layout`]), whose functionaries are exactly the keys verified above
//!    (certified for the run's identity).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chainseal_crypto::keys::{KeyKind, PrivateKey, PublicKey, sha256};
use chainseal_crypto::x509::Certificate;
use chainseal_intoto::{Format, InspectionDir, Key, Metadata, SigningKey, VerifyOptions};
use chainseal_model::bundle::{Bundle, Content};
use chainseal_model::statement::Statement;
use chainseal_provenance::{Options, verify_provenance};
use chainseal_verify::{Artifact, Matcher, Policy, TrustMaterial, Verifier};
use time::OffsetDateTime;

use crate::Error;
use crate::layout::{SOURCE_STEP, layout_for};
use crate::observer;
use crate::pipeline::{Gate, Pipeline};

/// The provenance bundle's file name in a run's output folder.
pub const PROVENANCE_BUNDLE: &str = "provenance.sigstore.json";

/// What the gate established.
#[derive(Debug, Clone)]
pub struct GateReport {
    /// The certificate identity every attestation was verified for.
    pub identity: String,
    /// Its OIDC issuer.
    pub issuer: String,
    /// The SLSA Build level of the verified builder.
    pub slsa_level: u8,
    /// `(artifact, sha256)` verified against the provenance.
    pub artifacts: Vec<(String, String)>,
    /// The checks that passed, in order.
    pub checks: Vec<String>,
}

/// What to check.
#[derive(Debug, Clone, Copy)]
pub struct GateInput<'a> {
    /// The pipeline (for the generated layout and the commands every step must have run).
    pub pipeline: &'a Pipeline,
    /// SHA-256 (hex) of the pipeline file the consumer names: the provenance must record
    /// exactly this file.
    pub pipeline_sha256: &'a str,
    /// The OIDC issuer every certificate must name (configured, never read from one).
    pub issuer: &'a str,
    /// The policy.
    pub gate: &'a Gate,
    /// The run's output folder (`artifacts/`, `links/`, `provenance.sigstore.json`).
    pub out_dir: &'a Path,
    /// The trusted root (JSON) of the authority and log.
    pub trusted_root: &'a [u8],
    /// The expected source (as recorded in the provenance: `git+<repo>@<rev>` or
    /// `file://<dir>`).
    pub source_uri: &'a str,
}

fn read(path: &Path, check: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::gate(check, format!("{}: {e}", path.display())))
}

/// The single file in `dir` named `<step>.<8 hex>.<ext>`.
fn step_file(dir: &Path, step: &str, ext: &str) -> Result<PathBuf, Error> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::gate("link bundle", format!("{}: {e}", dir.display())))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix(&format!("{step}."))
            && let Some(kid) = rest.strip_suffix(&format!(".{ext}"))
            && kid.len() == 8
            && kid.bytes().all(|b| b.is_ascii_hexdigit())
        {
            found.push(e.path());
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::gate(
            "link bundle",
            format!(
                "step '{step}': no {step}.<keyid>.{ext} in {}",
                dir.display()
            ),
        )),
        n => Err(Error::gate(
            "link bundle",
            format!("step '{step}': {n} {ext} files; exactly one is expected"),
        )),
    }
}

fn dsse_of(bundle: &Bundle, what: &str) -> Result<(Vec<u8>, Vec<u8>), Error> {
    match &bundle.content {
        Content::Dsse(env) => Ok((
            env.payload.clone(),
            env.signatures
                .first()
                .map(|s| s.sig.clone())
                .unwrap_or_default(),
        )),
        _ => Err(Error::gate(
            "link bundle",
            format!("{what}: not a DSSE bundle"),
        )),
    }
}

/// The public key of a verified bundle's leaf certificate, checked to be the key the
/// verifier reported (`key_sha256`).
fn verified_key(bundle: &Bundle, key_sha256: &str, check: &str, what: &str) -> Result<Key, Error> {
    let leaf = bundle
        .key_material
        .leaf()
        .ok_or_else(|| Error::gate(check, format!("{what}: no certificate")))?;
    let spki = Certificate::from_der(leaf)
        .and_then(|c| c.spki_der())
        .map_err(|e| Error::gate(check, format!("{what}: {e}")))?;
    if hex::encode(sha256(&spki)) != key_sha256 {
        return Err(Error::gate(
            check,
            format!("{what}: the certificate read is not the one verified"),
        ));
    }
    PublicKey::from_spki_der(&spki)
        .map_err(|e| Error::gate(check, format!("{what}: {e}")))
        .and_then(|k| Key::from_public(k).map_err(|e| Error::gate(check, format!("{what}: {e}"))))
}

/// Verify one step's link bundle for the run's identity, and the `.link` file beside it;
/// returns the key that signed it.
fn check_link(
    verifier: &Verifier,
    links: &Path,
    step: &str,
    expected_command: Option<&[String]>,
    policy: &Policy,
) -> Result<Key, Error> {
    let bpath = step_file(links, step, "sigstore.json")?;
    let what = bpath.display().to_string();
    let bytes = read(&bpath, "link bundle")?;
    let bundle = Bundle::from_json(&bytes)
        .map_err(|e| Error::gate("link bundle", format!("{what}: {e}")))?;
    let (payload, sig) = dsse_of(&bundle, &what)?;
    let st = Statement::from_json(&payload)
        .map_err(|e| Error::gate("link bundle", format!("{what}: statement: {e}")))?;
    let subject = st
        .subject
        .iter()
        .find_map(|s| s.digest.get("sha256"))
        .and_then(|h| hex::decode(h).ok())
        .and_then(|d| <[u8; 32]>::try_from(d).ok())
        .ok_or_else(|| {
            Error::gate(
                "link bundle",
                format!("{what}: no subject with a sha256 digest"),
            )
        })?;
    let report = verifier
        .verify(&bundle, Artifact::Sha256(subject), policy)
        .map_err(|e| Error::gate("link bundle", format!("{what}: {e}")))?;
    let key = verified_key(
        &bundle,
        &report.signer.public_key_sha256,
        "link bundle",
        &what,
    )?;
    // The command the observer ran must be the pipeline's, exactly (in-toto only warns).
    if let Some(want) = expected_command {
        let ran: Vec<String> = st
            .predicate
            .as_ref()
            .and_then(|p| p.get("command"))
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        if ran != want {
            return Err(Error::gate(
                "pipeline",
                format!(
                    "step '{step}' ran {ran:?}, the pipeline's command is {want:?}: these links were not made by this pipeline"
                ),
            ));
        }
    }
    // The in-toto link file must be the logged envelope, byte for byte.
    let lpath = step_file(links, step, "link")?;
    let env = chainseal_model::dsse::Envelope::from_json(&read(&lpath, "link bundle")?)
        .map_err(|e| Error::gate("link bundle", format!("{}: {e}", lpath.display())))?;
    let same_sig = env.signatures.len() == 1 && env.signatures[0].sig == sig;
    if env.payload != payload || !same_sig {
        return Err(Error::gate(
            "link bundle",
            format!("{} is not the envelope logged in {what}", lpath.display()),
        ));
    }
    Ok(key)
}

/// The verified provenance must name the consumer's pipeline file (by digest) and record,
/// step for step, exactly the commands that pipeline declares.
fn check_pipeline(st: &Statement, input: &GateInput<'_>) -> Result<(), Error> {
    let pred = st.predicate.as_ref();
    let recorded = pred
        .and_then(|p| p.pointer("/buildDefinition/externalParameters/pipeline/digest/sha256"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    if recorded != input.pipeline_sha256 {
        return Err(Error::gate(
            "pipeline",
            format!(
                "the provenance records pipeline sha256 {recorded:?}, the pipeline given has sha256 {}: it was built from another pipeline file",
                input.pipeline_sha256
            ),
        ));
    }
    let steps = pred
        .and_then(|p| p.pointer("/buildDefinition/internalParameters/steps"))
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    if steps.len() != input.pipeline.steps.len() {
        return Err(Error::gate(
            "pipeline",
            format!(
                "the provenance records {} steps, the pipeline has {}",
                steps.len(),
                input.pipeline.steps.len()
            ),
        ));
    }
    for (rec, step) in steps.iter().zip(&input.pipeline.steps) {
        let name = rec.get("name").and_then(serde_json::Value::as_str);
        let cmd: Option<Vec<String>> = rec
            .get("command")
            .and_then(|c| serde_json::from_value(c.clone()).ok());
        if name != Some(step.name.as_str()) || cmd.as_deref() != Some(step.argv().as_slice()) {
            return Err(Error::gate(
                "pipeline",
                format!(
                    "the provenance records step {name:?} running {cmd:?}, the pipeline's step '{}' runs {:?}",
                    step.name,
                    step.argv()
                ),
            ));
        }
    }
    Ok(())
}

/// Run the gate over a run's output folder.
pub fn check(input: &GateInput<'_>) -> Result<GateReport, Error> {
    let trust =
        TrustMaterial::from_json(input.trusted_root).map_err(|e| Error::gate("trusted root", e))?;
    let verifier = Verifier::new(trust);
    let mut checks = Vec::new();

    // 1. Provenance for every artifact, for an allowed identity.
    let prov_path = input.out_dir.join(PROVENANCE_BUNDLE);
    let prov = read(&prov_path, "provenance")?;
    let art_dir = input.out_dir.join("artifacts");
    let files = observer::list_files(&art_dir, "", "artifacts")
        .map_err(|e| Error::gate("provenance", e))?;
    if files.is_empty() {
        return Err(Error::gate("provenance", "no artifacts to publish"));
    }
    let mut verified = None;
    let mut artifacts = Vec::new();
    for (path, name) in &files {
        let sha = observer::sha256_file(path)?;
        let digest: [u8; 32] = hex::decode(&sha)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| Error::gate("provenance", "bad digest"))?;
        let mut last = None;
        let mut ok = None;
        for id in &input.gate.identities {
            let opts = Options {
                source_uri: input.source_uri.to_string(),
                builder_id: Some(id.clone()),
                certificate_oidc_issuer: Some(input.issuer.to_string()),
                pipeline_sha256: Some(input.pipeline_sha256.to_string()),
                ..Options::default()
            };
            match verify_provenance(&verifier, &prov, digest, &opts) {
                Ok(v) => {
                    ok = Some(v);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let v = ok.ok_or_else(|| {
            Error::gate(
                "provenance",
                format!(
                    "artifacts/{name} (sha256 {sha}): {} (gate.identities: {})",
                    last.map(|e| e.to_string()).unwrap_or_default(),
                    input.gate.identities.join(", ")
                ),
            )
        })?;
        artifacts.push((name.clone(), sha));
        verified = Some(v);
    }
    let v = verified.ok_or_else(|| Error::gate("provenance", "no artifacts"))?;
    checks.push(format!(
        "provenance: {} artifact(s) are subjects of a verified provenance by {}",
        artifacts.len(),
        v.builder.id
    ));

    // 2. SLSA level.
    let level = v.builder.slsa_build_level();
    if level < input.gate.slsa_level {
        return Err(Error::gate(
            "slsa-level",
            format!(
                "builder {} attains SLSA Build L{level}, the gate requires L{}",
                v.builder.id, input.gate.slsa_level
            ),
        ));
    }
    checks.push(format!(
        "slsa-level: Build L{level} ≥ L{}",
        input.gate.slsa_level
    ));

    // 2b. The provenance records this very pipeline file and its commands.
    check_pipeline(&v.statement, input)?;
    checks.push(format!(
        "pipeline: the provenance records pipeline sha256 {} and its {} commands",
        input.pipeline_sha256,
        input.pipeline.steps.len()
    ));

    // 3. Link bundles, for the same identity.
    let identity = v
        .report
        .signer
        .subject_alternative_names
        .first()
        .cloned()
        .ok_or_else(|| Error::gate("provenance", "the certificate has no SAN"))?;
    let issuer = input.issuer.to_string();
    if v.report.signer.issuer.as_deref() != Some(input.issuer) {
        return Err(Error::gate(
            "provenance",
            format!(
                "the certificate's OIDC issuer is {:?}, the gate requires {:?}",
                v.report.signer.issuer, input.issuer
            ),
        ));
    }
    let policy = Policy::Identity {
        identity: Matcher::Exact(identity.clone()),
        issuer: Matcher::Exact(issuer.clone()),
        extensions: Vec::new(),
    };
    // The provenance's key, and each link's: all certified for this identity (a long
    // run renews its key before a certificate expires).
    let bundle = Bundle::from_json(&prov).map_err(|e| Error::gate("provenance", e))?;
    let mut functionaries = vec![verified_key(
        &bundle,
        &v.report.signer.public_key_sha256,
        "provenance",
        PROVENANCE_BUNDLE,
    )?];
    let links = input.out_dir.join("links");
    let steps: Vec<&str> = std::iter::once(SOURCE_STEP)
        .chain(input.pipeline.steps.iter().map(|s| s.name.as_str()))
        .collect();
    for step in &steps {
        let want = input
            .pipeline
            .steps
            .iter()
            .find(|s| s.name == *step)
            .map(|s| s.argv());
        let k = check_link(&verifier, &links, step, want.as_deref(), &policy)?;
        if !functionaries.iter().any(|f| f.same_public_key(&k)) {
            functionaries.push(k);
        }
    }
    checks.push(format!(
        "link bundle: {} links logged, each signed by a key certified for {identity}",
        steps.len()
    ));

    // 4. The generated in-toto layout, with the run's verified keys as functionaries.
    let now = OffsetDateTime::now_utc();
    let payload = layout_for(
        input.pipeline,
        &functionaries,
        now + Duration::from_secs(3600),
    );
    // The layout is generated here from the pipeline, so it is signed here too, by a
    // key that lives only for this check.
    let owner = PrivateKey::generate(KeyKind::Ed25519)
        .map_err(|e| Error::gate("in-toto layout", e))
        .and_then(|k| SigningKey::from_private(k).map_err(|e| Error::gate("in-toto layout", e)))?;
    let mut md = Metadata::new(payload, Format::Metablock)?;
    md.sign(&owner)?;
    let opts = VerifyOptions {
        link_dir: links,
        parameters: None,
        inspection_dir: InspectionDir::default(),
        inspection_timeout: Duration::from_secs(10),
        now,
    };
    chainseal_intoto::verify(&md, &[owner.public().clone()], &opts)
        .map_err(|e| Error::gate("in-toto layout", e))?;
    checks.push(format!(
        "in-toto layout: {} steps, every material matches the product that made it",
        steps.len()
    ));

    Ok(GateReport {
        identity,
        issuer,
        slsa_level: level,
        artifacts,
        checks,
    })
}
