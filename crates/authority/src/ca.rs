//! The certificate authority: short-lived Fulcio-profile code-signing certificates with an
//! embedded SCT, issued by an intermediate under a self-signed root.
//!
//! Issuance follows the RFC 6962 precertificate flow: the precertificate (final extensions
//! plus the critical poison) is signed and logged in [`CtLog`], the SCT over the TBS
//! without poison is embedded as extension `1.3.6.1.4.1.11129.2.4.2`, and the final
//! certificate is signed.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{PrivateKey, PublicKey, SignatureScheme, sha256};
use chainseal_crypto::sct::OID_SCT_LIST;
use chainseal_crypto::x509::Certificate;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use x509_cert::name::Name;
use x509_cert::request::CertReq;

use crate::certs::{self, OID_CT_POISON, OID_KP_CODE_SIGNING, San, Template};
use crate::claims::BuildClaims;
use crate::ct::{CtLog, encode_sct_list};
use crate::error::{Error, Result};
use crate::oidc::Identity;

/// Lifetime of issued signing certificates (Fulcio's: 10 minutes).
pub const LEAF_LIFETIME_SECS: i64 = 600;

/// A certificate authority generation: root, intermediate (the issuer) and its key, and
/// the CT log that timestamps its precertificates.
pub struct Ca {
    root: Certificate,
    intermediate: Certificate,
    intermediate_name: Name,
    issuer_key_hash: [u8; 32],
    key: PrivateKey,
    ct: Arc<CtLog>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("intermediate", &self.intermediate.subject_string())
            .finish_non_exhaustive()
    }
}

/// An issued certificate and the chain above it (intermediate, root).
#[derive(Debug, Clone)]
pub struct Issued {
    /// The signing certificate.
    pub leaf: Certificate,
    /// The intermediate and the root, in that order.
    pub chain: Vec<Certificate>,
}

impl Issued {
    /// Leaf, intermediate and root as PEM strings (Fulcio's `chain.certificates`).
    pub fn pem_chain(&self) -> Vec<String> {
        std::iter::once(&self.leaf)
            .chain(&self.chain)
            .map(certs::pem)
            .collect()
    }
}

impl Ca {
    /// A CA issuing with `key`, whose certificate is `intermediate` under `root`.
    pub fn new(
        root: Certificate,
        intermediate: Certificate,
        key: PrivateKey,
        ct: Arc<CtLog>,
    ) -> Result<Self> {
        if intermediate.public_key()?.spki_der() != key.public_key().spki_der() {
            return Err(Error::Config(
                "the intermediate certificate is not for the CA key".into(),
            ));
        }
        intermediate.verify_signed_by(&root)?;
        let intermediate_name = Name::from_der(&intermediate.subject_der())?;
        let issuer_key_hash = sha256(&intermediate.spki_der()?);
        Ok(Self {
            root,
            intermediate,
            intermediate_name,
            issuer_key_hash,
            key,
            ct,
        })
    }

    /// The root certificate.
    pub fn root(&self) -> &Certificate {
        &self.root
    }

    /// The issuing intermediate.
    pub fn intermediate(&self) -> &Certificate {
        &self.intermediate
    }

    /// The CT log used for SCTs.
    pub fn ct_log(&self) -> &CtLog {
        &self.ct
    }

    /// Issues a code-signing certificate for `spki_der` binding `identity`, valid from
    /// `now` for [`LEAF_LIFETIME_SECS`] (capped at the intermediate's expiry).
    pub fn issue(&self, spki_der: &[u8], identity: &Identity, now: i64) -> Result<Issued> {
        self.issue_with_build_claims(spki_der, identity, &BuildClaims::none(), now)
    }

    /// [`Ca::issue`], also carrying `build` as Fulcio build extensions
    /// (`1.3.6.1.4.1.57264.1.N`, non-critical UTF8String) in the precertificate and the
    /// final certificate. Build claims are honoured only for a URI SAN: for an email
    /// identity they are dropped.
    pub fn issue_with_build_claims(
        &self,
        spki_der: &[u8],
        identity: &Identity,
        build: &BuildClaims,
        now: i64,
    ) -> Result<Issued> {
        let subject_key = PublicKey::from_spki_der(spki_der)
            .map_err(|e| Error::BadRequest(format!("public key: {e}")))?;
        let not_after = (now + LEAF_LIFETIME_SECS - 1).min(self.intermediate.not_after_unix());
        if not_after <= now {
            return Err(Error::Config("the CA certificate has expired".into()));
        }
        let [ski, aki] = certs::key_ids(subject_key.spki_der(), &self.intermediate.spki_der()?)?;
        let [iss_v1, iss_v2] = certs::fulcio_issuer(&identity.issuer)?;
        let mut extensions = vec![
            certs::key_usage(false)?,
            certs::extended_key_usage(OID_KP_CODE_SIGNING, false)?,
            ski,
            aki,
            certs::subject_alt_name(&identity.san)?,
            iss_v1,
            iss_v2,
        ];
        if matches!(identity.san, San::Uri(_)) {
            extensions.extend(build.extensions()?);
        }
        let mut template = Template {
            serial: certs::random_serial()?,
            subject: Name::default(),
            not_before: now,
            not_after,
            spki_der: subject_key.spki_der().to_vec(),
            extensions,
        };

        // 1. Precertificate: final extensions + critical poison; logged in the CT log.
        let tbs_plain = certs::tbs_der(&template, &self.intermediate_name, &self.key)?;
        template
            .extensions
            .push(certs::ext(OID_CT_POISON, true, der::asn1::Null.to_der()?)?);
        let precert_tbs = certs::tbs_der(&template, &self.intermediate_name, &self.key)?;
        let precert = certs::sign_tbs(&precert_tbs, &self.key)?;
        template.extensions.pop();
        let timestamp_ms = u64::try_from(now).unwrap_or(0) * 1000;
        // Returns once the entry (precertificate and chain) is durable in the log.
        let sct = self.ct.add_precert(
            &self.issuer_key_hash,
            &tbs_plain,
            timestamp_ms,
            precert.der(),
            &[self.intermediate.der(), self.root.der()],
        )?;

        // 2. Final certificate with the SCT list embedded.
        let list = OctetString::new(encode_sct_list(&[sct])?)?;
        template
            .extensions
            .push(certs::ext(OID_SCT_LIST, false, list.to_der()?)?);
        let leaf = certs::issue(&template, &self.intermediate_name, &self.key)?;
        Ok(Issued {
            leaf,
            chain: vec![self.intermediate.clone(), self.root.clone()],
        })
    }
}

/// How the client proves it holds the private key.
#[derive(Debug, Clone)]
pub enum KeyRequest {
    /// A public key and a signature over the token's subject (or email) claim.
    PublicKey {
        /// SubjectPublicKeyInfo DER of the key.
        spki_der: Vec<u8>,
        /// The proof-of-possession signature.
        proof: Vec<u8>,
    },
    /// A PKCS#10 certificate signing request (self-signed: the signature is the proof).
    Csr(Vec<u8>),
}

/// Most bytes accepted in a `signingCert` request body.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

fn field<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// Parses a Fulcio v2 `CreateSigningCertificateRequest` (JSON). Returns the token from
/// `credentials.oidcIdentityToken` (if present) and the key request.
pub fn parse_signing_request(body: &[u8]) -> Result<(Option<String>, KeyRequest)> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(Error::BadRequest(format!(
            "request body larger than {MAX_REQUEST_BYTES} bytes"
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("request is not JSON: {e}")))?;
    let token = field(&v, &["credentials", "oidcIdentityToken"])
        .and_then(|t| t.as_str())
        .map(str::to_owned);
    let b64 = |what: &str, s: &serde_json::Value| -> Result<Vec<u8>> {
        let s = s
            .as_str()
            .ok_or_else(|| Error::BadRequest(format!("{what} must be a string")))?;
        STANDARD
            .decode(s.trim())
            .map_err(|e| Error::BadRequest(format!("{what} is not base64: {e}")))
    };
    if let Some(csr) = v.get("certificateSigningRequest") {
        let raw = b64("certificateSigningRequest", csr)?;
        return Ok((
            token,
            KeyRequest::Csr(pem_or_der(&raw, "CERTIFICATE REQUEST")?),
        ));
    }
    let content = field(&v, &["publicKeyRequest", "publicKey", "content"])
        .and_then(|c| c.as_str())
        .ok_or_else(|| {
            Error::BadRequest(
                "need publicKeyRequest.publicKey.content or certificateSigningRequest".into(),
            )
        })?;
    let key = PublicKey::from_pem(content)
        .map_err(|e| Error::BadRequest(format!("publicKeyRequest.publicKey.content: {e}")))?;
    let proof = field(&v, &["publicKeyRequest", "proofOfPossession"])
        .ok_or_else(|| Error::BadRequest("publicKeyRequest.proofOfPossession missing".into()))?;
    Ok((
        token,
        KeyRequest::PublicKey {
            spki_der: key.spki_der().to_vec(),
            proof: b64("proofOfPossession", proof)?,
        },
    ))
}

fn pem_or_der(raw: &[u8], label: &str) -> Result<Vec<u8>> {
    if raw.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(raw)
            .map_err(|_| Error::BadRequest(format!("{label} PEM is not UTF-8")))?;
        let (got, der) = der::pem::decode_vec(text.as_bytes())
            .map_err(|e| Error::BadRequest(format!("{label} PEM: {e}")))?;
        if got != label && got != "NEW CERTIFICATE REQUEST" {
            return Err(Error::BadRequest(format!(
                "expected a {label} PEM block, got {got}"
            )));
        }
        Ok(der)
    } else {
        Ok(raw.to_vec())
    }
}

fn csr_scheme(oid: &ObjectIdentifier) -> Option<SignatureScheme> {
    Some(match oid.to_string().as_str() {
        "1.2.840.10045.4.3.2" => SignatureScheme::EcdsaSha256,
        "1.2.840.10045.4.3.3" => SignatureScheme::EcdsaSha384,
        "1.2.840.10045.4.3.4" => SignatureScheme::EcdsaSha512,
        "1.3.101.112" => SignatureScheme::Ed25519,
        "1.2.840.113549.1.1.11" => SignatureScheme::RsaPkcs1Sha256,
        "1.2.840.113549.1.1.12" => SignatureScheme::RsaPkcs1Sha384,
        "1.2.840.113549.1.1.13" => SignatureScheme::RsaPkcs1Sha512,
        _ => return None,
    })
}

/// Checks the proof of possession and returns the key to certify (SPKI DER).
///
/// Public-key requests must carry a signature by that key over the token's `sub` claim
/// (or its `email` claim, which Fulcio uses for email issuers); CSRs must be validly
/// self-signed. A proof made for another key or another subject never verifies.
pub fn check_proof_of_possession(req: &KeyRequest, identity: &Identity) -> Result<Vec<u8>> {
    match req {
        KeyRequest::PublicKey { spki_der, proof } => {
            let key = PublicKey::from_spki_der(spki_der)
                .map_err(|e| Error::BadRequest(format!("public key: {e}")))?;
            let challenges = std::iter::once(identity.subject.as_str())
                .chain(identity.email.as_deref())
                .collect::<Vec<_>>();
            if challenges
                .iter()
                .any(|c| key.verify(c.as_bytes(), proof).is_ok())
            {
                Ok(spki_der.clone())
            } else {
                Err(Error::ProofOfPossession(
                    "the signature is not by the requested public key over the token's subject"
                        .into(),
                ))
            }
        }
        KeyRequest::Csr(der) => {
            let csr = CertReq::from_der(der)
                .map_err(|e| Error::BadRequest(format!("certificate signing request: {e}")))?;
            let spki_der = csr.info.public_key.to_der()?;
            let key = PublicKey::from_spki_der(&spki_der)
                .map_err(|e| Error::BadRequest(format!("CSR public key: {e}")))?;
            let scheme = csr_scheme(&csr.algorithm.oid).ok_or_else(|| {
                Error::BadRequest(format!(
                    "CSR signature algorithm {} is not supported",
                    csr.algorithm.oid
                ))
            })?;
            let info = csr.info.to_der()?;
            key.verify_with(scheme, &info, csr.signature.raw_bytes())
                .map_err(|_| {
                    Error::ProofOfPossession(
                        "the CSR's signature does not verify with its public key".into(),
                    )
                })?;
            Ok(spki_der)
        }
    }
}

/// The identity's SAN for a certificate: `email` for email identities, else the subject as
/// a URI (if it parses as an absolute URI) or an email (if it is an addr-spec). Values with
/// control characters are refused. (Token verification uses the stricter per-issuer rules
/// of [`crate::oidc`].)
pub fn san_for(subject: &str, email: Option<&str>) -> Result<San> {
    if let Some(e) = email {
        if !crate::oidc::is_addr_spec(e) {
            return Err(Error::Token(format!("email {e:?} is not an addr-spec")));
        }
        return Ok(San::Email(e.to_owned()));
    }
    if subject.chars().any(char::is_control) {
        return Err(Error::Token(
            "the subject contains control characters".into(),
        ));
    }
    if subject.contains("://") && reqwest::Url::parse(subject).is_ok() {
        Ok(San::Uri(subject.to_owned()))
    } else if crate::oidc::is_addr_spec(subject) {
        Ok(San::Email(subject.to_owned()))
    } else {
        Err(Error::Token(format!(
            "subject {subject:?} is neither a URI nor an email address and the token has no verified email"
        )))
    }
}
