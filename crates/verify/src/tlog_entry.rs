//! Verification of one transparency-log entry of a bundle: the body matches the bundle,
//! the signed entry timestamp (Rekor v1), the inclusion proof and the signed checkpoint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::PublicKey;
use chainseal_model::bundle::{
    Bundle, BundleVersion, Content, HashAlgorithm, HashOutput, TlogEntry,
};
use chainseal_model::rekor::{EntryBody, V2Verifier};
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::merkle;
use chainseal_tlog::note::{Note, NoteVerifier};

use crate::error::{Check, Error, short_hex};
use crate::report::LogEntryReport;
use crate::signer::Signer;
use crate::trust::{TrustMaterial, TrustedLog};

/// What the bundle's content commits to, computed once.
pub(crate) struct Expected<'a> {
    pub bundle: &'a Bundle,
    pub signer: &'a Signer,
    /// SHA-256 of the artifact (message signatures).
    pub artifact_sha256: [u8; 32],
}

/// The outcome of one verified entry.
pub(crate) struct VerifiedEntry<'t> {
    pub report: LogEntryReport,
    /// The integrated time, only when a signed entry timestamp proved it.
    pub integrated_time: Option<i64>,
    /// Every trusted-root log with the entry's log ID whose key verified the entry (a
    /// trusted root may list one log ID several times, e.g. with successive `validFor`
    /// periods); the entry's times must lie in the validity of one of them.
    pub logs: Vec<&'t TrustedLog>,
}

fn err(check: Check, i: usize, reason: impl std::fmt::Display) -> Error {
    Error::new(check, format!("tlogEntries[{i}]: {reason}"))
}

/// A Rekor log key acting as a C2SP note verifier: ECDSA (Rekor v1, key hint = SHA-256 of
/// the SPKI) or Ed25519 (Rekor v2, key hint = C2SP key ID), named by the log's host.
struct LogNoteVerifier<'a> {
    log: &'a TrustedLog,
}

impl NoteVerifier for LogNoteVerifier<'_> {
    fn name(&self) -> &str {
        &self.log.note_name
    }
    fn key_id(&self) -> u32 {
        u32::from_be_bytes(self.log.checkpoint_key_hint)
    }
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        self.log.key.verify(text, sig).is_ok()
    }
}

/// Verify entry `i` against every trusted-root log carrying its log ID; it verifies if
/// one of them accepts it. The error is the first log's.
pub(crate) fn verify_entry<'t>(
    i: usize,
    entry: &TlogEntry,
    exp: &Expected<'_>,
    trust: &'t TrustMaterial,
) -> Result<VerifiedEntry<'t>, Error> {
    let candidates: Vec<&TrustedLog> = trust
        .tlogs
        .iter()
        .filter(|t| t.log_id == entry.log_id)
        .collect();
    if candidates.is_empty() {
        return Err(err(
            Check::TlogEntry,
            i,
            format!(
                "log ID {} is not a transparency log in the trusted root",
                hex::encode(&entry.log_id)
            ),
        ));
    }

    // 1. The body the log committed to must describe exactly this bundle.
    let body =
        EntryBody::parse(&entry.kind, &entry.version, &entry.canonicalized_body).map_err(|e| {
            err(
                Check::TlogEntry,
                i,
                format!("{} {} body: {e}", entry.kind, entry.version),
            )
        })?;
    check_kind(i, entry, &body)?;
    check_body(i, &body, exp)?;

    let mut verified: Option<VerifiedEntry<'t>> = None;
    let mut first_err = None;
    for log in candidates {
        match verify_with_log(i, entry, exp, &body, log) {
            Ok(v) => match &mut verified {
                None => verified = Some(v),
                Some(done) => done.logs.push(log),
            },
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match (verified, first_err) {
        (Some(v), _) => Ok(v),
        (None, Some(e)) => Err(e),
        (None, None) => Err(err(
            Check::TlogEntry,
            i,
            "no trusted log verified the entry",
        )),
    }
}

/// The entry's `kindVersion` and the body's spec must name the same type: a
/// `hashedrekord` 0.0.2 kind carrying a `dsseV002` spec (or the reverse) is refused.
fn check_kind(i: usize, entry: &TlogEntry, body: &EntryBody) -> Result<(), Error> {
    let (kind, version) = match body {
        EntryBody::HashedRekordV001 { .. } => ("hashedrekord", "0.0.1"),
        EntryBody::HashedRekordV002 { .. } => ("hashedrekord", "0.0.2"),
        EntryBody::DsseV001 { .. } => ("dsse", "0.0.1"),
        EntryBody::DsseV002 { .. } => ("dsse", "0.0.2"),
        EntryBody::IntotoV002 { .. } => ("intoto", "0.0.2"),
    };
    if entry.kind != kind || entry.version != version {
        return Err(err(
            Check::TlogEntry,
            i,
            format!(
                "kindVersion is {} {} but the body's spec is a {kind} {version} spec",
                entry.kind, entry.version
            ),
        ));
    }
    Ok(())
}

fn verify_with_log<'t>(
    i: usize,
    entry: &TlogEntry,
    exp: &Expected<'_>,
    body: &EntryBody,
    log: &'t TrustedLog,
) -> Result<VerifiedEntry<'t>, Error> {
    // 2. Signed entry timestamp (Rekor v1 inclusion promise) proves the integrated time.
    let mut integrated_time = None;
    if let Some(set) = &entry.signed_entry_timestamp {
        let payload = serde_json::json!({
            "body": STANDARD.encode(&entry.canonicalized_body),
            "integratedTime": entry.integrated_time,
            "logID": hex::encode(&entry.log_id),
            "logIndex": entry.log_index,
        });
        let canonical = chainseal_model::canonical::jcs(&payload)
            .map_err(|e| err(Check::SignedEntryTimestamp, i, e))?;
        log.key.verify(&canonical, set).map_err(|e| {
            err(
                Check::SignedEntryTimestamp,
                i,
                format!("signature by {} does not verify: {e}", log.base_url),
            )
        })?;
        integrated_time = Some(entry.integrated_time);
    } else if exp.bundle.version == BundleVersion::V0_1 {
        return Err(err(
            Check::SignedEntryTimestamp,
            i,
            "v0.1 bundles require an inclusion promise (signed entry timestamp)",
        ));
    }

    // 3. Inclusion proof and the checkpoint that signs its root.
    let (mut tree_size, mut checkpoint_origin) = (None, None);
    match &entry.inclusion_proof {
        None if exp.bundle.version >= BundleVersion::V0_2 => {
            return Err(err(
                Check::InclusionProof,
                i,
                "missing: v0.2+ bundles must carry an inclusion proof (verification never goes online to fetch one)",
            ));
        }
        None => {}
        Some(proof) => {
            let index = u64::try_from(proof.log_index).map_err(|_| {
                err(
                    Check::InclusionProof,
                    i,
                    format!("negative log index {}", proof.log_index),
                )
            })?;
            let size = u64::try_from(proof.tree_size).map_err(|_| {
                err(
                    Check::InclusionProof,
                    i,
                    format!("negative tree size {}", proof.tree_size),
                )
            })?;
            // Rekor v2 entries carry no SET, so nothing but the proof authenticates their
            // log index; v2 logs are not sharded, so the two indices must be equal.
            if matches!(
                body,
                EntryBody::HashedRekordV002 { .. } | EntryBody::DsseV002 { .. }
            ) && entry.log_index != proof.log_index
            {
                return Err(err(
                    Check::InclusionProof,
                    i,
                    format!(
                        "log index {} != the inclusion proof's log index {} (Rekor v2)",
                        entry.log_index, proof.log_index
                    ),
                ));
            }
            let leaf = merkle::leaf_hash(&entry.canonicalized_body);
            let hashes = proof
                .hashes
                .iter()
                .map(|h| merkle::hash_from_slice("proof hash", h))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(Check::InclusionProof, i, e))?;
            let computed = merkle::root_from_inclusion_proof(index, size, &leaf, &hashes)
                .map_err(|e| err(Check::InclusionProof, i, e))?;
            if computed.as_slice() != proof.root_hash.as_slice() {
                return Err(err(
                    Check::InclusionProof,
                    i,
                    format!(
                        "computed root {} != claimed root {}",
                        short_hex(&computed),
                        short_hex(&proof.root_hash)
                    ),
                ));
            }
            let text = proof
                .checkpoint
                .as_deref()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    err(
                        Check::Checkpoint,
                        i,
                        "missing: an inclusion proof must come with a signed checkpoint",
                    )
                })?;
            let is_v2 = matches!(
                body,
                EntryBody::HashedRekordV002 { .. } | EntryBody::DsseV002 { .. }
            );
            let cp = verify_checkpoint(i, text, log, is_v2)?;
            if cp.size != size || cp.root_hash.as_slice() != computed.as_slice() {
                return Err(err(
                    Check::InclusionProof,
                    i,
                    format!(
                        "computed root {} (size {size}) != checkpoint root {} (size {})",
                        short_hex(&computed),
                        short_hex(&cp.root_hash),
                        cp.size
                    ),
                ));
            }
            tree_size = Some(proof.tree_size);
            checkpoint_origin = Some(cp.origin);
        }
    }

    // The global log index is authenticated by the SET (Rekor v1) or, for Rekor v2, by its
    // equality with the verified proof index; otherwise it is an unverified claim and is
    // not reported as a fact.
    let is_v2 = matches!(
        body,
        EntryBody::HashedRekordV002 { .. } | EntryBody::DsseV002 { .. }
    );
    let verified_index =
        (integrated_time.is_some() || (is_v2 && tree_size.is_some())).then_some(entry.log_index);
    Ok(VerifiedEntry {
        report: LogEntryReport {
            log_url: log.base_url.clone(),
            log_id: hex::encode(&entry.log_id),
            log_index: verified_index,
            proof_index: entry
                .inclusion_proof
                .as_ref()
                .filter(|_| tree_size.is_some())
                .map(|p| p.log_index),
            kind: format!("{} {}", entry.kind, entry.version),
            integrated_time,
            tree_size,
            checkpoint_origin,
        },
        integrated_time,
        logs: vec![log],
    })
}

/// Parse the checkpoint note and require a valid signature by this log's key, under the
/// log's key name; witness cosignatures and other unknown lines are ignored. The origin
/// line must be the one this log writes: for Rekor v2 (C2SP tlog-checkpoint) the key name
/// itself, i.e. the base URL's host and path; for Rekor v1 `<host> - <tree ID>` (or the
/// bare host).
fn verify_checkpoint(
    i: usize,
    text: &str,
    log: &TrustedLog,
    is_v2: bool,
) -> Result<Checkpoint, Error> {
    let note = Note::parse(text.as_bytes()).map_err(|e| err(Check::Checkpoint, i, e))?;
    let cp = Checkpoint::parse(note.text()).map_err(|e| err(Check::Checkpoint, i, e))?;
    if !origin_is_logs(&cp.origin, &log.note_name, is_v2) {
        return Err(err(
            Check::Checkpoint,
            i,
            format!(
                "checkpoint origin {:?} is not log {}'s (expected {:?}{})",
                cp.origin,
                log.base_url,
                log.note_name,
                if is_v2 {
                    ""
                } else {
                    " or \"<host> - <tree ID>\""
                }
            ),
        ));
    }
    let verifier = LogNoteVerifier { log };
    note.verify(&[&verifier]).map_err(|e| {
        err(
            Check::Checkpoint,
            i,
            format!(
                "no valid signature by {} (key hint {}): {e}",
                log.note_name,
                hex::encode(log.checkpoint_key_hint)
            ),
        )
    })?;
    Ok(cp)
}

/// Is `origin` the checkpoint origin of the log whose key name is `name`?
fn origin_is_logs(origin: &str, name: &str, is_v2: bool) -> bool {
    if origin == name {
        return true;
    }
    // Rekor v1 (Trillian) origins: "<hostname> - <tree ID>".
    !is_v2
        && origin
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(" - "))
            .is_some_and(|tree| chainseal_tlog::checkpoint::parse_decimal(tree).is_some())
}

/// Does a PEM (certificate or public key) from a v1 body denote the signer? When the
/// bundle carries a certificate the body must name that certificate (byte-equal DER): a
/// body naming only its public key records no identity.
fn pem_is_signer(pem: &[u8], signer: &Signer) -> bool {
    let Ok(text) = std::str::from_utf8(pem) else {
        return false;
    };
    match &signer.cert {
        Some(leaf) => leaf.is_pem_of_self(text),
        None => {
            !text.contains("CERTIFICATE-----")
                && PublicKey::from_pem(text).is_ok_and(|k| k.spki_der() == signer.key.spki_der())
        }
    }
}

fn v2_is_signer(v: &V2Verifier, signer: &Signer) -> bool {
    match (v, &signer.cert) {
        (V2Verifier::Certificate(der), Some(leaf)) => der.as_slice() == leaf.der(),
        (V2Verifier::PublicKey(spki), None) => spki.as_slice() == signer.key.spki_der(),
        _ => false,
    }
}

fn sha256_output(h: &HashOutput) -> Option<&[u8]> {
    (h.algorithm == HashAlgorithm::Sha256).then_some(h.digest.as_slice())
}

fn check_body(i: usize, body: &EntryBody, exp: &Expected<'_>) -> Result<(), Error> {
    let pem = |v: &Vec<u8>| pem_is_signer(v, exp.signer);
    let v2 = |v: &V2Verifier| v2_is_signer(v, exp.signer);
    match (&exp.bundle.content, body) {
        (
            Content::MessageSignature { signature, .. },
            EntryBody::HashedRekordV001 {
                digest,
                signature: logged,
                verifier_pem,
            },
        ) => {
            check_digest(i, digest, &exp.artifact_sha256, "artifact sha256")?;
            check_signatures(
                i,
                std::slice::from_ref(&(logged.clone(), verifier_pem.clone())),
                signature,
                pem,
            )
        }
        (
            Content::MessageSignature { signature, .. },
            EntryBody::HashedRekordV002 {
                digest,
                signature: logged,
                verifier,
            },
        ) => {
            check_digest(i, digest, &exp.artifact_sha256, "artifact sha256")?;
            check_signatures(
                i,
                std::slice::from_ref(&(logged.clone(), verifier.clone())),
                signature,
                v2,
            )
        }
        (
            Content::Dsse(env),
            EntryBody::HashedRekordV002 {
                digest,
                signature: logged,
                verifier,
            },
        ) => {
            // DSSE over hashedrekord: the entry digest is SHA-256 of the PAE.
            let pae_digest = chainseal_crypto::keys::sha256(&env.pae());
            check_digest(i, digest, &pae_digest, "SHA-256 of the envelope's PAE")?;
            check_signatures(
                i,
                std::slice::from_ref(&(logged.clone(), verifier.clone())),
                single_signature(i, env)?,
                v2,
            )
        }
        (
            Content::Dsse(env),
            EntryBody::DsseV001 {
                payload_hash,
                signatures,
            },
        ) => {
            check_digest(
                i,
                payload_hash,
                &chainseal_crypto::keys::sha256(&env.payload),
                "SHA-256 of the envelope payload",
            )?;
            check_signatures(i, signatures, single_signature(i, env)?, pem)
        }
        (
            Content::Dsse(env),
            EntryBody::DsseV002 {
                payload_hash,
                signatures,
            },
        ) => {
            check_digest(
                i,
                payload_hash,
                &chainseal_crypto::keys::sha256(&env.payload),
                "SHA-256 of the envelope payload",
            )?;
            check_signatures(i, signatures, single_signature(i, env)?, v2)
        }
        (
            Content::Dsse(env),
            EntryBody::IntotoV002 {
                payload_hash,
                payload_type,
                payload,
                signatures,
            },
        ) => {
            check_digest(
                i,
                payload_hash,
                &chainseal_crypto::keys::sha256(&env.payload),
                "SHA-256 of the envelope payload",
            )?;
            // The payload hash (checked above) always binds the payload; the payload itself
            // is compared too when the stored body kept it.
            if payload.as_ref().is_some_and(|p| p != &env.payload) {
                return Err(mismatch(i, "payload"));
            }
            if payload_type != &env.payload_type {
                return Err(mismatch(i, "payload type"));
            }
            check_signatures(i, signatures, single_signature(i, env)?, pem)
        }
        (content, body) => {
            let c = match content {
                Content::MessageSignature { .. } => "a message signature",
                Content::Dsse(_) => "a DSSE envelope",
            };
            let b = match body {
                EntryBody::HashedRekordV001 { .. } => "hashedrekord 0.0.1",
                EntryBody::HashedRekordV002 { .. } => "hashedrekord 0.0.2",
                EntryBody::DsseV001 { .. } => "dsse 0.0.1",
                EntryBody::DsseV002 { .. } => "dsse 0.0.2",
                EntryBody::IntotoV002 { .. } => "intoto 0.0.2",
            };
            Err(err(
                Check::TlogEntry,
                i,
                format!("bundle content is {c} but the log entry is {b}"),
            ))
        }
    }
}

fn mismatch(i: usize, what: &str) -> Error {
    err(
        Check::TlogEntry,
        i,
        format!("{what} in the log entry does not match the bundle"),
    )
}

/// The logged digest must be SHA-256 and equal `expected`.
fn check_digest(i: usize, logged: &HashOutput, expected: &[u8], what: &str) -> Result<(), Error> {
    if sha256_output(logged) != Some(expected) {
        return Err(err(
            Check::TlogEntry,
            i,
            format!(
                "digest {} in the log entry != {what} {}",
                short_hex(&logged.digest),
                short_hex(expected)
            ),
        ));
    }
    Ok(())
}

/// The log entry must record exactly one signature: the bundle's, by the bundle's signer.
fn check_signatures<V>(
    i: usize,
    logged: &[(Vec<u8>, V)],
    sig: &[u8],
    is_signer: impl Fn(&V) -> bool,
) -> Result<(), Error> {
    match logged {
        [(logged_sig, verifier)] => {
            if logged_sig.as_slice() != sig {
                return Err(mismatch(i, "signature"));
            }
            if !is_signer(verifier) {
                return Err(mismatch(i, "verifier key or certificate"));
            }
            Ok(())
        }
        _ => Err(mismatch(
            i,
            &format!("signature set ({} signatures)", logged.len()),
        )),
    }
}

pub(crate) fn single_signature(
    i: usize,
    env: &chainseal_model::dsse::Envelope,
) -> Result<&[u8], Error> {
    match env.signatures.as_slice() {
        [one] => Ok(&one.sig),
        other => Err(err(
            Check::Signature,
            i,
            format!(
                "DSSE envelope must carry exactly one signature, found {}",
                other.len()
            ),
        )),
    }
}
