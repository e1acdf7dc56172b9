//! Issuing: building `TimeStampReq`s and answering them as a TSA.

use std::fmt;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{BitString, Int, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;

use super::asn1::{
    EssCertIdV2, ID_AA_SIGNING_CERTIFICATE_V2, ID_CONTENT_TYPE, ID_CT_TST_INFO, ID_MESSAGE_DIGEST,
    ID_SIGNED_DATA, IssuerSerial, MessageImprint, PkiStatusInfo, SigningCertificateV2,
    TimeStampReq, TimeStampResp, TstInfo,
};
use super::time::GenTime;
use super::{hash_from_oid, oid_of_hash};
use crate::Error;
use crate::keys::{HashAlgorithm, PrivateKey, SignatureScheme};
use crate::x509::Certificate;

fn issue_err(what: &'static str) -> impl Fn(der::Error) -> Error {
    move |e| Error::TimestampIssue {
        reason: format!("{what}: {e}"),
    }
}

/// Two's-complement INTEGER content for an unsigned big-endian value.
fn positive_int(unsigned: &[u8]) -> Result<Int, der::Error> {
    let start = unsigned
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(unsigned.len());
    let trimmed = unsigned.get(start..).unwrap_or_default();
    let mut bytes = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        bytes.push(0);
    }
    bytes.extend_from_slice(trimmed);
    Int::new(&bytes)
}

/// A DER `TimeStampReq` for `data`: its `hash` digest, an optional nonce (unsigned
/// big-endian bytes, encoded as a positive INTEGER) and `certReq`.
pub fn timestamp_request(
    data: &[u8],
    hash: HashAlgorithm,
    nonce: Option<&[u8]>,
    cert_req: bool,
) -> Result<Vec<u8>, Error> {
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: oid_of_hash(hash),
                parameters: None,
            },
            hashed_message: OctetString::new(hash.digest(data))
                .map_err(issue_err("hashedMessage"))?,
        },
        req_policy: None,
        nonce: nonce
            .map(positive_int)
            .transpose()
            .map_err(issue_err("nonce"))?,
        cert_req,
        extensions: None,
    };
    req.to_der().map_err(issue_err("TimeStampReq"))
}

/// `PKIFailureInfo` bits (RFC 3161 §2.4.2).
#[derive(Clone, Copy)]
enum FailInfo {
    BadAlg = 0,
    BadRequest = 2,
    BadDataFormat = 5,
    UnacceptedPolicy = 15,
    UnacceptedExtension = 16,
}

/// A time-stamping authority: a signing key, its certificate chain (leaf first, root last)
/// and the policy OID stamped into every `TSTInfo`.
pub struct TsaSigner {
    key: PrivateKey,
    chain: Vec<Certificate>,
    policy_oid: ObjectIdentifier,
}

impl fmt::Debug for TsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsaSigner")
            .field("key_kind", &self.key.kind())
            .field("chain_len", &self.chain.len())
            .field("policy_oid", &self.policy_oid.to_string())
            .finish_non_exhaustive()
    }
}

impl TsaSigner {
    /// A TSA signing with `key`, whose certificate is `chain[0]` (its public key must be the
    /// key's). `policy_oid` is dotted decimal, e.g. `"1.3.6.1.4.1.57264.2"`.
    pub fn new(key: PrivateKey, chain: Vec<Certificate>, policy_oid: &str) -> Result<Self, Error> {
        let policy_oid = ObjectIdentifier::new(policy_oid).map_err(|e| Error::TimestampIssue {
            reason: format!("policy OID {policy_oid:?}: {e}"),
        })?;
        let leaf = chain.first().ok_or_else(|| Error::TimestampIssue {
            reason: "TSA certificate chain is empty".into(),
        })?;
        if leaf.public_key()?.spki_der() != key.public_key().spki_der() {
            return Err(Error::TimestampIssue {
                reason: "the TSA certificate's public key is not the signing key's".into(),
            });
        }
        Ok(Self {
            key,
            chain,
            policy_oid,
        })
    }

    /// Answers a DER `TimeStampReq` with a DER `TimeStampResp` time-stamped at
    /// `gen_time_unix` with serial number `serial` (unsigned big-endian, must be unique per
    /// TSA). Requests this TSA cannot honour (malformed, unsupported hash, other policy,
    /// extensions) get a `rejection` response with the matching failInfo bit; `Err` only
    /// means this TSA could not produce a response at all.
    pub fn respond(
        &self,
        request_der: &[u8],
        gen_time_unix: i64,
        serial: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let req = match TimeStampReq::from_der(request_der) {
            Ok(r) => r,
            Err(e) => return reject(FailInfo::BadDataFormat, &format!("malformed request: {e}")),
        };
        if req.version != 1 {
            return reject(FailInfo::BadRequest, "unsupported request version");
        }
        let imprint_alg = &req.message_imprint.hash_algorithm;
        let Some(hash) = hash_from_oid(&imprint_alg.oid) else {
            return reject(
                FailInfo::BadAlg,
                "unsupported messageImprint hash algorithm",
            );
        };
        if imprint_alg
            .parameters
            .as_ref()
            .is_some_and(|p| !p.is_null())
        {
            return reject(FailInfo::BadAlg, "unexpected hash algorithm parameters");
        }
        if req.message_imprint.hashed_message.as_bytes().len() != hash.output_len() {
            return reject(
                FailInfo::BadDataFormat,
                "hashedMessage has the wrong length",
            );
        }
        if req.req_policy.is_some_and(|p| p != self.policy_oid) {
            return reject(
                FailInfo::UnacceptedPolicy,
                "requested policy is not supported",
            );
        }
        if req.extensions.as_ref().is_some_and(|e| !e.is_empty()) {
            return reject(
                FailInfo::UnacceptedExtension,
                "request extensions are not supported",
            );
        }
        if serial.is_empty() {
            return Err(Error::TimestampIssue {
                reason: "serial number is empty".into(),
            });
        }

        let tst_info = TstInfo {
            version: 1,
            policy: self.policy_oid,
            message_imprint: req.message_imprint,
            serial_number: positive_int(serial).map_err(issue_err("serial number"))?,
            gen_time: GenTime::from_unix(gen_time_unix).map_err(issue_err("genTime"))?,
            accuracy: None,
            ordering: false,
            nonce: req.nonce,
            tsa: None,
            extensions: None,
        };
        let tst_der = tst_info.to_der().map_err(issue_err("TSTInfo"))?;
        let token = self.sign_tst_info(&tst_der, req.cert_req)?;
        let resp = TimeStampResp {
            status: PkiStatusInfo {
                status: Int::new(&[0]).map_err(issue_err("status"))?,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(token),
        };
        resp.to_der().map_err(issue_err("TimeStampResp"))
    }

    fn sign_tst_info(&self, tst_der: &[u8], include_certs: bool) -> Result<ContentInfo, Error> {
        let leaf_der = self.chain.first().map(|c| c.der()).unwrap_or_default();
        let leaf =
            x509_cert::Certificate::from_der(leaf_der).map_err(issue_err("TSA certificate"))?;
        let tbs = leaf.tbs_certificate();

        let scheme = self.key.kind().default_scheme();
        let (digest_hash, sig_alg) = signature_algorithm(scheme)?;
        let digest_alg = AlgorithmIdentifierOwned {
            oid: oid_of_hash(digest_hash),
            parameters: None,
        };

        let attr = |oid: ObjectIdentifier, value: Any| -> Result<Attribute, Error> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value]).map_err(issue_err("attribute"))?,
            })
        };
        let ess = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(HashAlgorithm::Sha256.digest(leaf_der))
                    .map_err(issue_err("ESSCertIDv2"))?,
                issuer_serial: Some(IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                    serial_number: Int::new(tbs.serial_number().as_bytes())
                        .map_err(issue_err("ESSCertIDv2"))?,
                }),
            }],
            policies: None,
        };
        let enc = issue_err("signed attribute");
        let signed_attrs = SetOfVec::try_from(vec![
            attr(
                ID_CONTENT_TYPE,
                Any::encode_from(&ID_CT_TST_INFO).map_err(&enc)?,
            )?,
            attr(
                ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(digest_hash.digest(tst_der)).map_err(&enc)?)
                    .map_err(&enc)?,
            )?,
            attr(
                ID_AA_SIGNING_CERTIFICATE_V2,
                Any::encode_from(&ess).map_err(&enc)?,
            )?,
        ])
        .map_err(&enc)?;
        let to_sign = signed_attrs.to_der().map_err(&enc)?;
        let signature = self.key.sign_with(scheme, &to_sign)?;

        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer().clone(),
                serial_number: tbs.serial_number().clone(),
            }),
            digest_alg: digest_alg.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: sig_alg,
            signature: OctetString::new(signature).map_err(issue_err("signature"))?,
            unsigned_attrs: None,
        };
        let certificates = if include_certs {
            // The TSA certificate and intermediates; the root is the verifier's to supply.
            let n = if self.chain.len() > 1 {
                self.chain.len() - 1
            } else {
                1
            };
            let mut choices = Vec::new();
            for c in self.chain.iter().take(n) {
                let parsed =
                    x509_cert::Certificate::from_der(c.der()).map_err(issue_err("certificate"))?;
                choices.push(CertificateChoices::Certificate(parsed));
            }
            Some(CertificateSet::try_from(choices).map_err(issue_err("certificates"))?)
        } else {
            None
        };
        let signed_data = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![digest_alg])
                .map_err(issue_err("digestAlgorithms"))?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(
                    Any::new(Tag::OctetString, tst_der.to_vec()).map_err(issue_err("eContent"))?,
                ),
            },
            certificates,
            crls: None,
            signer_infos: SignerInfos::try_from(vec![signer_info])
                .map_err(issue_err("signerInfos"))?,
        };
        Ok(ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data).map_err(issue_err("SignedData"))?,
        })
    }
}

const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

/// (digestAlgorithm, signatureAlgorithm) for a signing scheme.
fn signature_algorithm(
    scheme: SignatureScheme,
) -> Result<(HashAlgorithm, AlgorithmIdentifierOwned), Error> {
    let null = || Some(Any::null());
    let (hash, alg, params) = match scheme {
        SignatureScheme::EcdsaSha256 => (HashAlgorithm::Sha256, OID_ECDSA_SHA256, None),
        SignatureScheme::EcdsaSha384 => (HashAlgorithm::Sha384, OID_ECDSA_SHA384, None),
        SignatureScheme::EcdsaSha512 => (HashAlgorithm::Sha512, OID_ECDSA_SHA512, None),
        // RFC 8419: Ed25519 in CMS uses SHA-512 as the digest algorithm.
        SignatureScheme::Ed25519 => (HashAlgorithm::Sha512, OID_ED25519, None),
        SignatureScheme::RsaPkcs1Sha256 => (HashAlgorithm::Sha256, OID_RSA_SHA256, null()),
        SignatureScheme::RsaPkcs1Sha384 => (HashAlgorithm::Sha384, OID_RSA_SHA384, null()),
        SignatureScheme::RsaPkcs1Sha512 => (HashAlgorithm::Sha512, OID_RSA_SHA512, null()),
        other => {
            return Err(Error::TimestampIssue {
                reason: format!("signing scheme {other:?} is not supported for timestamps"),
            });
        }
    };
    Ok((
        hash,
        AlgorithmIdentifierOwned {
            oid: alg,
            parameters: params,
        },
    ))
}

/// A `rejection` TimeStampResp with one failInfo bit and a status text.
fn reject(bit: FailInfo, text: &str) -> Result<Vec<u8>, Error> {
    let n = bit as usize;
    let mut bytes = vec![0u8; n / 8 + 1];
    if let Some(b) = bytes.last_mut() {
        *b = 0x80 >> (n % 8);
    }
    // Named-bit lists drop trailing zero bits in DER.
    let unused = u8::try_from(7 - n % 8).unwrap_or(0);
    let resp = TimeStampResp {
        status: PkiStatusInfo {
            status: Int::new(&[2]).map_err(issue_err("status"))?,
            status_string: Some(vec![text.to_string()]),
            fail_info: Some(BitString::new(unused, bytes).map_err(issue_err("failInfo"))?),
        },
        time_stamp_token: None,
    };
    resp.to_der().map_err(issue_err("TimeStampResp"))
}
