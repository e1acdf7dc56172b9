//! DSSE envelopes (<https://github.com/secure-systems-lab/dsse>) and the pre-authentication
//! encoding (PAE) that is what a DSSE signature actually covers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The payload type of in-toto statements carried in DSSE.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope as it appears in JSON: base64 payload, payload type and signatures.
///
/// `payload` holds the *decoded* bytes exactly as they were signed; nothing is ever
/// re-serialised before hashing or verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The payload type, e.g. [`INTOTO_PAYLOAD_TYPE`].
    pub payload_type: String,
    /// Signatures over `pae(payload_type, payload)`.
    pub signatures: Vec<Signature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Raw signature bytes (decoded from base64).
    pub sig: Vec<u8>,
    /// Optional key ID hint; never trusted, only used to order key attempts.
    pub keyid: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    #[serde(default)]
    signatures: Vec<WireSignature>,
}

#[derive(Serialize, Deserialize)]
struct WireSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
    sig: String,
}

/// Decode standard base64, also accepting the URL-safe alphabet that some producers emit
/// (the DSSE spec allows either).
pub(crate) fn decode_b64(what: &str, s: &str) -> Result<Vec<u8>, Error> {
    STANDARD
        .decode(s)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
        .map_err(|e| Error::Base64 {
            field: what.to_string(),
            reason: e.to_string(),
        })
}

impl Envelope {
    /// Parse an envelope from its JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let wire: WireEnvelope = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "DSSE envelope".into(),
            reason: e.to_string(),
        })?;
        Self::from_wire(wire)
    }

    fn from_wire(wire: WireEnvelope) -> Result<Self, Error> {
        let payload = decode_b64("dsse.payload", &wire.payload)?;
        let signatures = wire
            .signatures
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(Signature {
                    sig: decode_b64(&format!("dsse.signatures[{i}].sig"), &s.sig)?,
                    keyid: s.keyid.filter(|k| !k.is_empty()),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Envelope {
            payload,
            payload_type: wire.payload_type,
            signatures,
        })
    }

    /// Serialise to JSON (standard base64), e.g. for writing a `.dsse` or link file.
    pub fn to_json(&self) -> Vec<u8> {
        let wire = WireEnvelope {
            payload: STANDARD.encode(&self.payload),
            payload_type: self.payload_type.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| WireSignature {
                    keyid: s.keyid.clone(),
                    sig: STANDARD.encode(&s.sig),
                })
                .collect(),
        };
        serde_json::to_vec(&wire).expect("envelope serialises")
    }

    /// The bytes a signature on this envelope covers.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + payload_type.len() + payload.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/intoto/dsse-spec"
    );

    #[test]
    fn pae_matches_dsse_spec_vector_bytes() {
        let env = Envelope::from_json(&std::fs::read(format!("{VECTORS}/envelope.json")).unwrap())
            .unwrap();
        let want = std::fs::read(format!("{VECTORS}/pae.bin")).unwrap();
        assert_eq!(env.pae(), want);
    }

    #[test]
    fn pae_changes_when_type_or_payload_changes() {
        let a = pae("t", b"body");
        assert_ne!(a, pae("u", b"body"));
        assert_ne!(a, pae("t", b"bodz"));
        // Length prefixes stop boundary shifting between type and body.
        assert_ne!(pae("ab", b"c"), pae("a", b"bc"));
    }

    #[test]
    fn rejects_envelope_with_bad_base64() {
        let err = Envelope::from_json(br#"{"payload":"!!","payloadType":"x","signatures":[]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("dsse.payload"), "{err}");
    }
}
