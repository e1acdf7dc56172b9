//! RFC 3161 time-stamp tokens: parsing, verification against trusted TSAs, and issuing.
//!
//! * [`TimestampToken::from_der`] parses a DER `TimeStampResp` (status must be granted or
//!   grantedWithMods) or a bare CMS `ContentInfo` token, keeping the original bytes.
//! * [`verify_timestamp`] checks every binding of the token (see its docs) and returns the
//!   verified `genTime` and which trusted TSA vouched for it.
//! * [`timestamp_request`] builds a `TimeStampReq`; [`TsaSigner::respond`] answers one.
//!
//! ASN.1 structures live in [`asn1`]; CMS `SignedData` comes from the `cms` crate.

pub mod asn1;
mod issue;
mod time;
mod verify;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo};
use der::asn1::ObjectIdentifier;
use der::{Any, Decode, Encode, Reader, SliceReader, Tag, Tagged};

use crate::Error;
use crate::keys::HashAlgorithm;
use crate::x509::Certificate;

pub use issue::{TsaSigner, timestamp_request};
pub use time::GenTime;
pub use verify::{TrustedTsa, VerifiedTimestamp, verify_timestamp};

use asn1::{ID_CT_TST_INFO, ID_SIGNED_DATA, PkiStatusInfo, TimeStampResp, TstInfo};

/// OID of SHA-256.
pub(crate) const OID_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// OID of SHA-384.
pub(crate) const OID_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// OID of SHA-512.
pub(crate) const OID_SHA512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// The hash algorithm of a digest OID (SHA-256/384/512 only).
pub(crate) fn hash_from_oid(oid: &ObjectIdentifier) -> Option<HashAlgorithm> {
    match *oid {
        OID_SHA256 => Some(HashAlgorithm::Sha256),
        OID_SHA384 => Some(HashAlgorithm::Sha384),
        OID_SHA512 => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

/// The digest OID of a hash algorithm.
pub(crate) fn oid_of_hash(hash: HashAlgorithm) -> ObjectIdentifier {
    match hash {
        HashAlgorithm::Sha256 => OID_SHA256,
        HashAlgorithm::Sha384 => OID_SHA384,
        HashAlgorithm::Sha512 => OID_SHA512,
    }
}

fn parse_err(what: &'static str) -> impl Fn(der::Error) -> Error {
    move |e| Error::TimestampParse {
        what,
        reason: e.to_string(),
    }
}

/// A parsed RFC 3161 time-stamp token. Parsing checks structure only (including that the
/// content is `SignedData` over an `id-ct-TSTInfo`); trust is established by
/// [`verify_timestamp`].
#[derive(Clone, Debug)]
pub struct TimestampToken {
    der: Vec<u8>,
    token_der: Vec<u8>,
    tst_info: TstInfo,
    tst_info_der: Vec<u8>,
    imprint_hash: HashAlgorithm,
    signer_info: SignerInfo,
    /// Original DER of the signed attributes, re-tagged as `SET OF` (what was signed).
    signed_attrs_der: Option<Vec<u8>>,
    certificates: Vec<Certificate>,
}

impl TimestampToken {
    /// Parses a DER `TimeStampResp` (whose status must be granted or grantedWithMods) or a
    /// bare `ContentInfo` time-stamp token.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        // A ContentInfo starts with an OID; a TimeStampResp with the PKIStatusInfo SEQUENCE.
        let first_inner_tag = Any::from_der(der)
            .ok()
            .and_then(|outer| Tag::peek(&SliceReader::new(outer.value()).ok()?).ok());
        let content_info = if first_inner_tag == Some(Tag::ObjectIdentifier) {
            ContentInfo::from_der(der).map_err(parse_err("time-stamp token ContentInfo"))?
        } else {
            let resp = TimeStampResp::from_der(der).map_err(parse_err("TimeStampResp"))?;
            check_status(&resp.status)?;
            resp.time_stamp_token.ok_or_else(|| Error::TimestampParse {
                what: "TimeStampResp",
                reason: "status is granted but timeStampToken is absent".into(),
            })?
        };
        let mut token = Self::from_content_info(&content_info)?;
        token.der = der.to_vec();
        Ok(token)
    }

    fn from_content_info(ci: &ContentInfo) -> Result<Self, Error> {
        if ci.content_type != ID_SIGNED_DATA {
            return Err(Error::TimestampContentType {
                reason: format!(
                    "ContentInfo contentType is {}, not id-signedData",
                    ci.content_type
                ),
            });
        }
        let token_der = ci
            .to_der()
            .map_err(parse_err("time-stamp token ContentInfo"))?;
        let signed_data_der = ci.content.to_der().map_err(parse_err("SignedData"))?;
        let signed_data =
            SignedData::from_der(&signed_data_der).map_err(parse_err("SignedData"))?;

        let encap = &signed_data.encap_content_info;
        if encap.econtent_type != ID_CT_TST_INFO {
            return Err(Error::TimestampContentType {
                reason: format!("eContentType is {}, not id-ct-TSTInfo", encap.econtent_type),
            });
        }
        let econtent = encap
            .econtent
            .as_ref()
            .ok_or_else(|| Error::TimestampParse {
                what: "SignedData",
                reason: "eContent (the TSTInfo) is absent".into(),
            })?;
        if econtent.tag() != Tag::OctetString {
            return Err(Error::TimestampParse {
                what: "SignedData",
                reason: format!("eContent is a {}, not an OCTET STRING", econtent.tag()),
            });
        }
        let tst_info_der = econtent.value().to_vec();
        let tst_info = TstInfo::from_der(&tst_info_der).map_err(parse_err("TSTInfo"))?;
        if tst_info.version != 1 {
            return Err(Error::TimestampParse {
                what: "TSTInfo",
                reason: format!("version {} is not v1", tst_info.version),
            });
        }
        let imprint_oid = &tst_info.message_imprint.hash_algorithm.oid;
        let imprint_hash =
            hash_from_oid(imprint_oid).ok_or_else(|| Error::TimestampUnsupportedAlgorithm {
                what: "messageImprint hash",
                oid: imprint_oid.to_string(),
            })?;

        // RFC 3161 §2.4.2: the token carries the TSA's signature and no other.
        let (signer_info, signed_attrs_der) = single_signer(&signed_data_der)?;

        let mut certificates = Vec::new();
        if let Some(set) = &signed_data.certificates {
            // Every embedded certificate must parse strictly: a damaged or foreign one is
            // refused, never skipped.
            for (k, choice) in set.0.iter().enumerate() {
                let CertificateChoices::Certificate(c) = choice else {
                    return Err(Error::TimestampParse {
                        what: "embedded certificate",
                        reason: format!("certificates[{k}] is not an X.509 certificate"),
                    });
                };
                let der = c.to_der().map_err(parse_err("embedded certificate"))?;
                let cert = Certificate::from_der(&der).map_err(|e| Error::TimestampParse {
                    what: "embedded certificate",
                    reason: format!("certificates[{k}]: {e}"),
                })?;
                certificates.push(cert);
            }
        }

        Ok(Self {
            der: Vec::new(),
            token_der,
            tst_info,
            tst_info_der,
            imprint_hash,
            signer_info,
            signed_attrs_der,
            certificates,
        })
    }

    /// The bytes this token was parsed from (a `TimeStampResp` or a `ContentInfo`).
    pub fn as_der(&self) -> &[u8] {
        &self.der
    }

    /// The DER `ContentInfo` of the token itself (without the response wrapper).
    pub fn token_der(&self) -> &[u8] {
        &self.token_der
    }

    /// `genTime` in whole seconds since the Unix epoch (any fraction truncated).
    pub fn gen_time_unix(&self) -> i64 {
        self.tst_info.gen_time.unix()
    }

    /// The sub-second part of `genTime`, in nanoseconds (0 when the TSA sent none).
    pub fn gen_time_nanos(&self) -> u32 {
        self.tst_info.gen_time.nanos()
    }

    /// The claimed accuracy of `genTime` in microseconds, if the TSA stated one.
    pub fn accuracy_micros(&self) -> Option<u64> {
        self.tst_info.accuracy.map(|a| {
            u64::from(a.seconds.unwrap_or(0)) * 1_000_000
                + u64::from(a.millis.unwrap_or(0)) * 1_000
                + u64::from(a.micros.unwrap_or(0))
        })
    }

    /// The message imprint: hash algorithm and digest of the time-stamped data.
    pub fn message_imprint(&self) -> (HashAlgorithm, &[u8]) {
        (
            self.imprint_hash,
            self.tst_info.message_imprint.hashed_message.as_bytes(),
        )
    }

    /// The certificates embedded in the `SignedData` (untrusted until verified).
    pub fn embedded_certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// The parsed `TSTInfo`.
    pub fn tst_info(&self) -> &TstInfo {
        &self.tst_info
    }

    /// The TSA policy OID of the token.
    pub fn policy(&self) -> ObjectIdentifier {
        self.tst_info.policy
    }

    /// The nonce (two's-complement big-endian INTEGER content), if the request had one.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.tst_info.nonce.as_ref().map(|n| n.as_bytes())
    }

    /// The serial number (two's-complement big-endian INTEGER content).
    pub fn serial_number(&self) -> &[u8] {
        self.tst_info.serial_number.as_bytes()
    }
}

fn check_status(status: &PkiStatusInfo) -> Result<(), Error> {
    let code = status.status.as_bytes();
    let name = match code {
        [0] => return Ok(()),
        [1] => return Ok(()),
        [2] => "rejection".to_string(),
        [3] => "waiting".to_string(),
        [4] => "revocationWarning".to_string(),
        [5] => "revocationNotification".to_string(),
        other => format!("unknown ({})", hex_string(other)),
    };
    let mut detail = String::new();
    if let Some(texts) = &status.status_string {
        detail.push_str(&format!(": {}", texts.join("; ")));
    }
    if let Some(bits) = &status.fail_info {
        let set: Vec<String> = bits
            .bits()
            .enumerate()
            .filter(|(_, b)| *b)
            .map(|(i, _)| i.to_string())
            .collect();
        detail.push_str(&format!(" (failInfo bits {})", set.join(",")));
    }
    Err(Error::TimestampStatus {
        status: name,
        detail,
    })
}

pub(crate) fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The TLVs inside a constructed value.
fn tlvs(value: &[u8]) -> der::Result<Vec<Any>> {
    let mut reader = SliceReader::new(value)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(Any::decode(&mut reader)?);
    }
    Ok(out)
}

/// Extracts the one SignerInfo from a DER `SignedData`, plus the original encoding of its
/// signed attributes re-tagged as `SET OF` (RFC 5652 §5.4). Decoding into `SetOfVec` sorts
/// the attributes, so re-encoding the parsed value would not reproduce what the TSA signed
/// if it emitted them unsorted; the raw bytes are therefore taken from the input.
fn single_signer(signed_data_der: &[u8]) -> Result<(SignerInfo, Option<Vec<u8>>), Error> {
    let err = parse_err("SignedData signerInfos");
    let outer = Any::from_der(signed_data_der).map_err(&err)?;
    let fields = tlvs(outer.value()).map_err(&err)?;
    let signer_infos = fields
        .last()
        .filter(|f| f.tag() == Tag::Set)
        .ok_or_else(|| Error::TimestampParse {
            what: "SignedData",
            reason: "signerInfos SET is missing".into(),
        })?;
    let infos = tlvs(signer_infos.value()).map_err(&err)?;
    let [info] = infos.as_slice() else {
        return Err(Error::TimestampParse {
            what: "SignedData",
            reason: format!("expected exactly one SignerInfo, found {}", infos.len()),
        });
    };
    let info_der = info.to_der().map_err(&err)?;
    let signer_info = SignerInfo::from_der(&info_der).map_err(parse_err("SignerInfo"))?;
    let raw_attrs = tlvs(info.value())
        .map_err(&err)?
        .into_iter()
        .find(|f| {
            matches!(f.tag(), Tag::ContextSpecific { constructed: true, number } if number.value() == 0)
        })
        .map(|f| Any::new(Tag::Set, f.value().to_vec()).and_then(|a| a.to_der()))
        .transpose()
        .map_err(&err)?;
    Ok((signer_info, raw_attrs))
}
