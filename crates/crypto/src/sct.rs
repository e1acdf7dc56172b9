//! Embedded Certificate Transparency SCTs (RFC 6962 §3.2–3.3).
//!
//! The leaf carries extension `1.3.6.1.4.1.11129.2.4.2`: an OCTET STRING wrapping the TLS
//! `SignedCertificateTimestampList`. Each SCT signs, for a precertificate entry:
//!
//! ```text
//! version(1) || signature_type(1) = 0 || timestamp(u64, ms) || entry_type(u16) = 1
//! || SHA-256(issuer SPKI) || u24-length TBSCertificate (SCT list extension removed)
//! || u16-length extensions
//! ```
//!
//! SCT extensions may be non-empty (Static CT API logs put the leaf index there); they are
//! signed bytes like any other and are passed through unchanged.

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};

use crate::Error;
use crate::keys::{PublicKey, SignatureScheme, sha256};
use crate::x509::Certificate;

/// OID of the embedded SCT list extension.
pub const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

fn sct_err(reason: impl Into<String>) -> Error {
    Error::Sct {
        reason: reason.into(),
    }
}

/// A trusted CT log.
#[derive(Clone, Debug)]
pub struct CtLog {
    /// RFC 6962 log ID: SHA-256 of the log's SPKI DER.
    pub log_id: [u8; 32],
    /// The log's public key.
    pub key: PublicKey,
    /// Start of the period in which this log is trusted (Unix seconds, inclusive).
    pub valid_from: Option<i64>,
    /// End of the period in which this log is trusted (Unix seconds, inclusive).
    pub valid_to: Option<i64>,
}

impl CtLog {
    /// A log whose ID is computed from its key (RFC 6962 §3.2).
    pub fn from_key(key: PublicKey, valid_from: Option<i64>, valid_to: Option<i64>) -> Self {
        Self {
            log_id: sha256(key.spki_der()),
            key,
            valid_from,
            valid_to,
        }
    }

    fn trusts_time(&self, unix: i64) -> bool {
        self.valid_from.is_none_or(|f| f <= unix) && self.valid_to.is_none_or(|t| unix <= t)
    }
}

/// One parsed SCT (v1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sct {
    /// SCT version (0 = v1).
    pub version: u8,
    /// Log ID.
    pub log_id: [u8; 32],
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// CT extensions (opaque, possibly non-empty).
    pub extensions: Vec<u8>,
    /// TLS HashAlgorithm code.
    pub hash_alg: u8,
    /// TLS SignatureAlgorithm code.
    pub sig_alg: u8,
    /// The signature.
    pub signature: Vec<u8>,
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(sct_err("SCT list truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn uint(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }
    fn vec16(&mut self) -> Result<&'a [u8], Error> {
        let len = self.uint(2)? as usize;
        self.take(len)
    }
}

/// Parse the TLS `SignedCertificateTimestampList` (the bytes inside the OCTET STRING).
/// Unknown SCT versions are kept with empty fields after the version byte; malformed
/// lists are an error.
pub fn parse_sct_list(tls: &[u8]) -> Result<Vec<Sct>, Error> {
    let mut outer = Cursor(tls);
    let list = outer.vec16()?;
    if !outer.0.is_empty() {
        return Err(sct_err("trailing bytes after the SCT list"));
    }
    let mut list = Cursor(list);
    let mut out = Vec::new();
    while !list.0.is_empty() {
        let mut sct = Cursor(list.vec16()?);
        let version = sct.uint(1)? as u8;
        if version != 0 {
            out.push(Sct {
                version,
                log_id: [0; 32],
                timestamp_ms: 0,
                extensions: Vec::new(),
                hash_alg: 0,
                sig_alg: 0,
                signature: Vec::new(),
            });
            continue;
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(sct.take(32)?);
        let timestamp_ms = sct.uint(8)?;
        let extensions = sct.vec16()?.to_vec();
        let hash_alg = sct.uint(1)? as u8;
        let sig_alg = sct.uint(1)? as u8;
        let signature = sct.vec16()?.to_vec();
        if !sct.0.is_empty() {
            return Err(sct_err("trailing bytes inside an SCT"));
        }
        out.push(Sct {
            version,
            log_id,
            timestamp_ms,
            extensions,
            hash_alg,
            sig_alg,
            signature,
        });
    }
    if out.is_empty() {
        return Err(sct_err("empty SCT list"));
    }
    Ok(out)
}

/// The SCTs embedded in `cert` (error if the extension is absent or malformed).
pub fn embedded_scts(cert: &Certificate) -> Result<Vec<Sct>, Error> {
    let value = cert
        .extension_value(&OID_SCT_LIST)
        .ok_or_else(|| sct_err("certificate has no embedded SCT list extension"))?;
    let inner = <&der::asn1::OctetStringRef>::from_der(value)
        .map_err(|e| sct_err(format!("SCT list extension is not an OCTET STRING: {e}")))?;
    parse_sct_list(inner.as_bytes())
}

/// The precertificate TBS: `leaf`'s TBSCertificate with the SCT list extension removed
/// (and the extensions field dropped if it becomes empty); every other byte unchanged.
pub fn precert_tbs(leaf: &Certificate) -> Result<Vec<u8>, Error> {
    let der_err = |e: der::Error| sct_err(format!("re-encoding the precertificate TBS: {e}"));
    let tbs = AnyRef::from_der(leaf.tbs_der()).map_err(der_err)?;
    let mut reader = SliceReader::new(tbs.value()).map_err(der_err)?;
    let mut content = Vec::new();
    let mut removed = false;
    while !reader.is_finished() {
        let field: AnyRef<'_> = reader.decode().map_err(der_err)?;
        let is_extensions = matches!(
            field.tag(),
            Tag::ContextSpecific { constructed: true, number } if number.value() == 3
        );
        if !is_extensions {
            field.encode_to_vec(&mut content).map_err(der_err)?;
            continue;
        }
        let exts = x509_cert::ext::Extensions::from_der(field.value()).map_err(der_err)?;
        let before = exts.len();
        let kept: Vec<_> = exts
            .into_iter()
            .filter(|e| e.extn_id != OID_SCT_LIST)
            .collect();
        removed = kept.len() != before;
        if !kept.is_empty() {
            let exts_der = kept.to_der().map_err(der_err)?;
            AnyRef::new(field.tag(), &exts_der)
                .map_err(der_err)?
                .encode_to_vec(&mut content)
                .map_err(der_err)?;
        }
    }
    if !removed {
        return Err(sct_err("TBSCertificate has no SCT list extension"));
    }
    AnyRef::new(Tag::Sequence, &content)
        .map_err(der_err)?
        .to_der()
        .map_err(der_err)
}

/// The bytes an SCT for a precertificate entry signs (RFC 6962 §3.2).
pub fn signed_data(
    sct: &Sct,
    issuer_key_hash: &[u8; 32],
    precert_tbs: &[u8],
) -> Result<Vec<u8>, Error> {
    let tbs_len = u32::try_from(precert_tbs.len())
        .ok()
        .filter(|l| *l < 1 << 24)
        .ok_or_else(|| sct_err("TBSCertificate too long for a u24 length"))?;
    let ext_len =
        u16::try_from(sct.extensions.len()).map_err(|_| sct_err("SCT extensions too long"))?;
    let mut out = Vec::with_capacity(precert_tbs.len() + sct.extensions.len() + 50);
    out.push(sct.version);
    out.push(0); // signature_type = certificate_timestamp
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type = precert_entry
    out.extend_from_slice(issuer_key_hash);
    out.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    out.extend_from_slice(precert_tbs);
    out.extend_from_slice(&ext_len.to_be_bytes());
    out.extend_from_slice(&sct.extensions);
    Ok(out)
}

fn scheme(sct: &Sct) -> Result<SignatureScheme, Error> {
    // RFC 5246 §7.4.1.4.1: hash 4/5/6 = SHA-256/384/512; signature 1 = RSA, 3 = ECDSA.
    Ok(match (sct.hash_alg, sct.sig_alg) {
        (4, 3) => SignatureScheme::EcdsaSha256,
        (5, 3) => SignatureScheme::EcdsaSha384,
        (6, 3) => SignatureScheme::EcdsaSha512,
        (4, 1) => SignatureScheme::RsaPkcs1Sha256,
        (5, 1) => SignatureScheme::RsaPkcs1Sha384,
        (6, 1) => SignatureScheme::RsaPkcs1Sha512,
        (h, s) => {
            return Err(sct_err(format!(
                "unsupported SCT signature algorithm (hash {h}, signature {s})"
            )));
        }
    })
}

/// Verify the SCTs embedded in `leaf` against `logs`; `issuer` is the certificate that
/// issued `leaf`.
///
/// Policy: every SCT from a known log must verify and carry a timestamp inside that log's
/// validity period (closed interval) — any failure is an error; SCTs from unknown logs are
/// ignored; at least one SCT must verify. Returns the number of verified SCTs.
pub fn verify_embedded_scts(
    leaf: &Certificate,
    issuer: &Certificate,
    logs: &[CtLog],
) -> Result<usize, Error> {
    if leaf.issuer_der() != issuer.subject_der() {
        return Err(sct_err(format!(
            "issuer certificate {:?} is not the leaf's issuer {:?}",
            issuer.subject_string(),
            leaf.issuer_string()
        )));
    }
    let scts = embedded_scts(leaf)?;
    let tbs = precert_tbs(leaf)?;
    let issuer_key_hash = sha256(&issuer.spki_der()?);
    let mut verified = 0;
    for sct in &scts {
        if sct.version != 0 {
            continue;
        }
        let Some(log) = logs.iter().find(|l| l.log_id == sct.log_id) else {
            continue;
        };
        let log_hex: String = sct.log_id.iter().map(|b| format!("{b:02x}")).collect();
        let at = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        if !log.trusts_time(at) {
            return Err(sct_err(format!(
                "SCT from log {log_hex} has timestamp {at}, outside the log's validity period ({:?} to {:?})",
                log.valid_from, log.valid_to
            )));
        }
        let message = signed_data(sct, &issuer_key_hash, &tbs)?;
        log.key
            .verify_with(scheme(sct)?, &message, &sct.signature)
            .map_err(|e| sct_err(format!("SCT from log {log_hex} does not verify: {e}")))?;
        verified += 1;
    }
    if verified == 0 {
        return Err(sct_err(format!(
            "none of the {} embedded SCTs is from a trusted CT log",
            scts.len()
        )));
    }
    Ok(verified)
}
