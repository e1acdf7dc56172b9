//! Verification Summary Attestations (`https://slsa.dev/verification_summary/v1`):
//! emitted, signed with a plain key, after a successful provenance verification; and
//! verified against a public key and the consumer's expectations.

use std::collections::BTreeMap;

use chainseal_crypto::keys::{PrivateKey, PublicKey};
use chainseal_model::dsse::{Envelope, INTOTO_PAYLOAD_TYPE, Signature};
use chainseal_model::statement::{STATEMENT_V1, Statement};
use serde::{Deserialize, Serialize};

use crate::error::{Check, Error};

/// `predicateType` of a VSA v1.
pub const VSA_V1: &str = "https://slsa.dev/verification_summary/v1";

/// The verifier that produced a VSA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsaVerifier {
    /// Verifier URI.
    pub id: String,
    /// Component versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<BTreeMap<String, String>>,
}

/// The policy a VSA was verified against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct VsaPolicy {
    /// Policy URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Policy digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<BTreeMap<String, String>>,
}

/// An input attestation reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InputAttestation {
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digest.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
}

/// The VSA v1 predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VsaPredicate {
    /// Who verified.
    pub verifier: VsaVerifier,
    /// When (RFC 3339).
    #[serde(default)]
    pub time_verified: String,
    /// What was verified.
    pub resource_uri: String,
    /// Against which policy.
    #[serde(default)]
    pub policy: VsaPolicy,
    /// Attestations used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_attestations: Vec<InputAttestation>,
    /// `PASSED` or `FAILED`.
    pub verification_result: String,
    /// e.g. `SLSA_BUILD_LEVEL_3`.
    #[serde(default)]
    pub verified_levels: Vec<String>,
    /// Level → count of dependencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_levels: Option<BTreeMap<String, u64>>,
    /// SLSA version, e.g. `1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slsa_version: Option<String>,
}

/// The current UTC time in RFC 3339, for `timeVerified`.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Build the VSA statement JSON for `subjects` (name, sha256 hex).
pub fn vsa_statement(
    subjects: &[(String, String)],
    predicate: &VsaPredicate,
) -> Result<Vec<u8>, Error> {
    let subject: Vec<serde_json::Value> = subjects
        .iter()
        .map(|(name, d)| serde_json::json!({"name": name, "digest": {"sha256": d}}))
        .collect();
    let st = serde_json::json!({
        "_type": STATEMENT_V1,
        "subject": subject,
        "predicateType": VSA_V1,
        "predicate": predicate,
    });
    serde_json::to_vec(&st).map_err(|e| Error::new(Check::Signing, format!("VSA statement: {e}")))
}

/// Sign a statement into a DSSE envelope with `key`.
pub fn sign_statement(
    statement: Vec<u8>,
    key: &PrivateKey,
    keyid: Option<String>,
) -> Result<Envelope, Error> {
    let mut env = Envelope {
        payload: statement,
        payload_type: INTOTO_PAYLOAD_TYPE.to_string(),
        signatures: Vec::new(),
    };
    let sig = key
        .sign(&env.pae())
        .map_err(|e| Error::new(Check::Signing, e.to_string()))?;
    env.signatures.push(Signature { sig, keyid });
    Ok(env)
}

/// What a consumer requires of a VSA (slsa-verifier `verify-vsa`).
#[derive(Debug, Clone, Default)]
pub struct VsaExpectations {
    /// Every one of these digests (`alg`, value) must be a subject digest.
    pub subject_digests: Vec<(String, String)>,
    /// `verifier.id` must equal this.
    pub verifier_id: String,
    /// `resourceUri` must equal this.
    pub resource_uri: String,
    /// Required levels: `SLSA_<TRACK>_LEVEL_n` is met by an equal or higher level of the
    /// same track; any other level must be present verbatim.
    pub verified_levels: Vec<String>,
}

fn slsa_level(s: &str) -> Option<(&str, u32)> {
    let rest = s.strip_prefix("SLSA_")?;
    let (track, n) = rest.rsplit_once("_LEVEL_")?;
    Some((track, n.parse().ok()?))
}

/// Verify a VSA file (a DSSE envelope, or JSON Lines of them) with `key`: signature,
/// predicate type, subjects, verifier id, resource URI, result `PASSED`, and levels.
pub fn verify_vsa(
    bytes: &[u8],
    key: &PublicKey,
    expect: &VsaExpectations,
) -> Result<(Statement, VsaPredicate), Error> {
    let text = bytes.trim_ascii();
    let line = text
        .split(|&b| b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or(text);
    let env = Envelope::from_json(line)
        .map_err(|e| Error::new(Check::Format, format!("VSA envelope: {e}")))?;
    let pae = env.pae();
    if !env
        .signatures
        .iter()
        .any(|s| key.verify(&pae, &s.sig).is_ok())
    {
        return Err(Error::new(
            Check::Vsa,
            "no VSA signature verifies with the given key",
        ));
    }
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(Error::new(
            Check::Vsa,
            format!("payload type {:?} is not in-toto", env.payload_type),
        ));
    }
    let st = Statement::from_json(&env.payload)
        .map_err(|e| Error::new(Check::Vsa, format!("statement: {e}")))?;
    if st.predicate_type != VSA_V1 {
        return Err(Error::new(
            Check::Vsa,
            format!("predicate type {:?} is not {VSA_V1}", st.predicate_type),
        ));
    }
    let pred: VsaPredicate = st
        .predicate
        .as_ref()
        .ok_or_else(|| Error::new(Check::Vsa, "no predicate"))
        .and_then(|p| {
            VsaPredicate::deserialize(p)
                .map_err(|e| Error::new(Check::Vsa, format!("predicate: {e}")))
        })?;
    for (alg, value) in &expect.subject_digests {
        if !st.subject.iter().any(|s| s.digest.get(alg) == Some(value)) {
            return Err(Error::new(
                Check::Vsa,
                format!("no subject has digest {alg}:{value}"),
            ));
        }
    }
    if pred.verifier.id != expect.verifier_id {
        return Err(Error::new(
            Check::Vsa,
            format!(
                "verifier id {:?} is not {:?}",
                pred.verifier.id, expect.verifier_id
            ),
        ));
    }
    if pred.resource_uri != expect.resource_uri {
        return Err(Error::new(
            Check::Vsa,
            format!(
                "resource URI {:?} is not {:?}",
                pred.resource_uri, expect.resource_uri
            ),
        ));
    }
    if pred.verification_result != "PASSED" {
        return Err(Error::new(
            Check::Vsa,
            format!("verification result is {:?}", pred.verification_result),
        ));
    }
    for want in &expect.verified_levels {
        let met = match slsa_level(want) {
            Some((track, n)) => pred
                .verified_levels
                .iter()
                .filter_map(|l| slsa_level(l))
                .any(|(t, m)| t == track && m >= n),
            None => pred.verified_levels.iter().any(|l| l == want),
        };
        if !met {
            return Err(Error::new(
                Check::Vsa,
                format!("level {want} is not among {:?}", pred.verified_levels),
            ));
        }
    }
    Ok((st, pred))
}
