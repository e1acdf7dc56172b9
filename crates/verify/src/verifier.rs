//! The verification pipeline: every check, in an order that names the most specific
//! failure first.

use chainseal_crypto::keys::{HashAlgorithm as CryptoHash, KeyKind};
use chainseal_crypto::rfc3161::{TimestampToken, verify_timestamp};
use chainseal_model::bundle::{Bundle, Content, HashAlgorithm};
use chainseal_model::dsse::INTOTO_PAYLOAD_TYPE;
use chainseal_model::statement::Statement;
use chainseal_model::trust::Timestamp;

use crate::error::{Check, Error, short_hex};
use chainseal_crypto::x509::{Certificate, SubjectAltName};

use crate::policy::{Matcher, Policy};
use crate::report::{Report, TimestampReport};
use crate::signer::{Signer, fmt_time};
use crate::tlog_entry::{Expected, single_signature, verify_entry};
use crate::trust::TrustMaterial;

/// The artifact a bundle is verified against.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// Only the artifact's SHA-256 digest (e.g. `sha256:<hex>` on the command line, or a
    /// large file hashed while streaming).
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => chainseal_crypto::keys::sha256(b),
            Artifact::Sha256(d) => *d,
        }
    }
}

/// Fulcio's username otherName SAN (`1.3.6.1.4.1.57264.1.7`).
const OID_FULCIO_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";

/// The SAN values an identity may be matched against: email, URI and Fulcio's username
/// otherName (as sigstore-go and sigstore-python do) — never DNS names, other otherName
/// types or anything else the certificate happens to carry.
fn identity_sans(leaf: &Certificate) -> Vec<String> {
    leaf.subject_alt_names()
        .into_iter()
        .filter_map(|san| match san {
            SubjectAltName::Email(s) | SubjectAltName::Uri(s) => Some(s),
            SubjectAltName::OtherName {
                type_id,
                value: Some(v),
            } if type_id == OID_FULCIO_USERNAME => Some(v),
            _ => None,
        })
        .collect()
}

fn check_identity_san(leaf: &Certificate, identity: &Matcher) -> Result<(), Error> {
    let sans = identity_sans(leaf);
    if sans.iter().any(|s| identity.matches(s)) {
        return Ok(());
    }
    Err(Error::new(
        Check::Identity,
        format!(
            "no email, URI or Fulcio username SAN of the certificate ({sans:?}) matches {identity}"
        ),
    ))
}

/// Verifies bundles against parsed trust material. Cheap to share across threads.
#[derive(Debug, Clone)]
pub struct Verifier {
    trust: TrustMaterial,
    /// `trust` with every CA chain's suffixes as CAs of their own, for certificate paths
    /// (see `TrustMaterial::for_certificate_paths`).
    paths: TrustMaterial,
}

/// How far an integrated time may lie in the future (clock skew between log and verifier).
const MAX_FUTURE_SKEW_SECS: i64 = 300;

impl Verifier {
    /// A verifier that trusts exactly `trust`.
    pub fn new(trust: TrustMaterial) -> Self {
        let paths = trust.for_certificate_paths();
        Verifier { trust, paths }
    }

    /// The trust material in use.
    pub fn trust(&self) -> &TrustMaterial {
        &self.trust
    }

    /// Parse and verify a bundle (JSON bytes).
    pub fn verify_json(
        &self,
        bundle_json: &[u8],
        artifact: Artifact<'_>,
        policy: &Policy,
    ) -> Result<Report, Error> {
        let bundle = Bundle::from_json(bundle_json)
            .map_err(|e| Error::new(Check::BundleFormat, e.to_string()))?;
        self.verify(&bundle, artifact, policy)
    }

    /// Verify a parsed bundle. Every check is mandatory.
    pub fn verify(
        &self,
        bundle: &Bundle,
        artifact: Artifact<'_>,
        policy: &Policy,
    ) -> Result<Report, Error> {
        let mut checks: Vec<String> = Vec::new();
        let signer = Signer::establish(&bundle.key_material, policy)?;
        checks.push("key material".into());

        let artifact_sha256 = artifact.sha256();
        let (mut payload_type, mut predicate_type) = (None, None);

        // The signature over the artifact or the DSSE envelope.
        match &bundle.content {
            Content::MessageSignature { digest, signature } => {
                // The signature is over the artifact's digest: the algorithm the bundle
                // names, SHA-256 by default (as Sigstore clients sign). Both artifact forms
                // verify the same way; only Ed25519 signs the message itself.
                let alg = digest
                    .as_ref()
                    .map_or(HashAlgorithm::Sha256, |d| d.algorithm);
                let (crypto_alg, actual) = match (alg, artifact) {
                    (HashAlgorithm::Sha256, _) => (CryptoHash::Sha256, artifact_sha256.to_vec()),
                    (HashAlgorithm::Sha384, Artifact::Bytes(b)) => {
                        (CryptoHash::Sha384, CryptoHash::Sha384.digest(b))
                    }
                    (HashAlgorithm::Sha512, Artifact::Bytes(b)) => {
                        (CryptoHash::Sha512, CryptoHash::Sha512.digest(b))
                    }
                    (alg, Artifact::Sha256(_)) => {
                        return Err(Error::new(
                            Check::Artifact,
                            format!(
                                "the bundle's message digest is {alg:?}; a SHA-256 digest cannot be checked against it"
                            ),
                        ));
                    }
                };
                if let Some(claimed) = digest
                    && claimed.digest != actual
                {
                    return Err(Error::new(
                        Check::Artifact,
                        format!(
                            "the bundle's message digest {} != the artifact's {}",
                            short_hex(&claimed.digest),
                            short_hex(&actual)
                        ),
                    ));
                }
                let verified = match (signer.key.kind(), artifact) {
                    (KeyKind::Ed25519, Artifact::Bytes(b)) => signer.key.verify(b, signature),
                    (KeyKind::Ed25519, Artifact::Sha256(_)) => {
                        return Err(Error::new(
                            Check::Signature,
                            "an Ed25519 signature covers the artifact itself: give the file, not its digest",
                        ));
                    }
                    _ => signer.key.verify_prehashed(crypto_alg, &actual, signature),
                };
                verified.map_err(|e| {
                    Error::new(
                        Check::Signature,
                        format!(
                            "the signature does not verify over artifact sha256 {}: {e}",
                            short_hex(&artifact_sha256)
                        ),
                    )
                })?;
            }
            Content::Dsse(env) => {
                let sig =
                    single_signature(0, env).map_err(|e| Error::new(Check::Signature, e.reason))?;
                signer.key.verify(&env.pae(), sig).map_err(|e| {
                    Error::new(
                        Check::Signature,
                        format!("the DSSE envelope signature does not verify: {e}"),
                    )
                })?;
                if env.payload_type != INTOTO_PAYLOAD_TYPE {
                    return Err(Error::new(
                        Check::Artifact,
                        format!(
                            "DSSE payload type {:?} is not an in-toto statement; no subject to match",
                            env.payload_type
                        ),
                    ));
                }
                let statement = Statement::from_json(&env.payload)
                    .map_err(|e| Error::new(Check::Artifact, e.to_string()))?;
                if !statement.has_subject_sha256(&hex::encode(artifact_sha256)) {
                    return Err(Error::new(
                        Check::Artifact,
                        format!(
                            "artifact sha256 {} is not a subject of the statement",
                            hex::encode(artifact_sha256)
                        ),
                    ));
                }
                payload_type = Some(env.payload_type.clone());
                predicate_type = Some(statement.predicate_type);
            }
        }
        checks.push("signature".into());

        // Transparency log entries: at least one, and every one must verify.
        if bundle.tlog_entries.is_empty() {
            return Err(Error::new(
                Check::TlogEntry,
                "the bundle has no transparency log entry",
            ));
        }
        let exp = Expected {
            bundle,
            signer: &signer,
            artifact_sha256,
        };
        let mut entries = Vec::with_capacity(bundle.tlog_entries.len());
        for (i, entry) in bundle.tlog_entries.iter().enumerate() {
            entries.push(verify_entry(i, entry, &exp, &self.trust)?);
        }
        checks.push("tlog entries".into());

        // RFC 3161 timestamps over the signature: every one must verify.
        let signature_bytes = bundle
            .signature_bytes()
            .ok_or_else(|| Error::new(Check::Signature, "no signature to timestamp"))?;
        let mut timestamps = Vec::with_capacity(bundle.rfc3161_timestamps.len());
        for (i, der) in bundle.rfc3161_timestamps.iter().enumerate() {
            let token = TimestampToken::from_der(der).map_err(|e| {
                Error::new(Check::Timestamp, format!("rfc3161Timestamps[{i}]: {e}"))
            })?;
            let v = verify_timestamp(&token, signature_bytes, &self.trust.tsas).map_err(|e| {
                Error::new(Check::Timestamp, format!("rfc3161Timestamps[{i}]: {e}"))
            })?;
            timestamps.push(TimestampReport {
                gen_time: v.gen_time_unix,
                tsa_index: v.tsa_index,
            });
        }
        if !timestamps.is_empty() {
            checks.push("timestamps".into());
        }

        // The verified times: integrated times proven by SETs and TSA genTimes.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(i64::MAX);
        let tsa_times: Vec<i64> = timestamps.iter().map(|t| t.gen_time).collect();
        let mut times: Vec<i64> = tsa_times.clone();
        for (i, e) in entries.iter().enumerate() {
            let entry_times: Vec<i64> = match e.integrated_time {
                Some(t) => {
                    if t > now + MAX_FUTURE_SKEW_SECS {
                        return Err(Error::new(
                            Check::Time,
                            format!(
                                "tlogEntries[{i}]: integrated time {} is in the future",
                                fmt_time(t)
                            ),
                        ));
                    }
                    times.push(t);
                    vec![t]
                }
                None => tsa_times.clone(),
            };
            // One trusted-root entry for this log ID whose key verified the entry must be
            // valid at every one of the entry's times.
            let covered = e.logs.iter().any(|log| {
                entry_times
                    .iter()
                    .all(|&t| log.valid_for.contains(Timestamp::from_unix(t)))
            });
            if !covered {
                let t = entry_times.first().copied().unwrap_or_default();
                return Err(Error::new(
                    Check::Time,
                    format!(
                        "tlogEntries[{i}]: time {} is outside the validity of log {} in the trusted root",
                        fmt_time(t),
                        e.logs.first().map_or("?", |l| l.base_url.as_str())
                    ),
                ));
            }
        }
        if times.is_empty() {
            return Err(Error::new(
                Check::Time,
                "no verified signing time: no signed entry timestamp and no RFC 3161 timestamp (Rekor v2 entries require a timestamp)",
            ));
        }
        times.sort_unstable();
        times.dedup();

        // Certificate path, SCT and identity at every verified time.
        signer.check_certificate(&times, &self.paths, policy)?;
        if let (Some(leaf), Policy::Identity { identity, .. }) = (&signer.cert, policy) {
            check_identity_san(leaf, identity)?;
        }
        if signer.cert.is_some() {
            checks.extend([
                "certificate chain".into(),
                "signed certificate timestamp".into(),
                "identity".into(),
            ]);
        }

        Ok(Report {
            media_type: bundle.media_type.clone(),
            content: match bundle.content {
                Content::MessageSignature { .. } => "message_signature",
                Content::Dsse(_) => "dsse",
            },
            payload_type,
            predicate_type,
            artifact_sha256: hex::encode(artifact_sha256),
            signer: signer.report(),
            tlog_entries: entries.into_iter().map(|e| e.report).collect(),
            timestamps,
            verified_times: times,
            checks,
        })
    }
}
