//! Signed in-toto metadata in its two envelope formats: the classic Metablock
//! (`{"signed": …, "signatures": [{"keyid", "sig" (hex)}]}` over securesystemslib canonical
//! JSON) and DSSE (`application/vnd.in-toto+json`, signature over PAE).
//!
//! The payload handed out is always the one that was verified: for a Metablock the parsed
//! `signed` value whose canonical form the signature covers, for DSSE the JSON parsed from
//! exactly the payload bytes the signature covers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_model::dsse;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::cjson::canonical_json;
use crate::keys::{Key, SigningKey};

/// Which envelope a metadata file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic `{"signed", "signatures"}` Metablock.
    Metablock,
    /// DSSE envelope.
    Dsse,
}

/// One signature: raw bytes plus the key ID hint it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Key ID hint; never trusted.
    pub keyid: String,
    /// Raw signature bytes.
    pub sig: Vec<u8>,
}

/// A signed link or layout.
#[derive(Debug, Clone)]
pub struct Metadata {
    format: Format,
    payload: Value,
    /// For DSSE: the exact payload bytes and type. For Metablock: empty.
    dsse_payload: Vec<u8>,
    dsse_type: String,
    signatures: Vec<Signature>,
}

impl Metadata {
    /// Parse a Metablock or DSSE envelope; `what` names the source in errors.
    pub fn from_json(bytes: &[u8], what: &str) -> Result<Self, Error> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| Error::format(what, e))?;
        let obj = v
            .as_object()
            .ok_or_else(|| Error::format(what, "metadata must be a JSON object"))?;
        if obj.contains_key("payload") {
            let env = dsse::Envelope::from_json(bytes).map_err(|e| Error::format(what, e))?;
            let payload: Value = serde_json::from_slice(&env.payload)
                .map_err(|e| Error::format(format!("{what} DSSE payload"), e))?;
            if !payload.is_object() {
                return Err(Error::format(what, "DSSE payload must be a JSON object"));
            }
            let signatures = env
                .signatures
                .into_iter()
                .map(|s| Signature {
                    keyid: s.keyid.unwrap_or_default(),
                    sig: s.sig,
                })
                .collect();
            return Ok(Metadata {
                format: Format::Dsse,
                payload,
                dsse_payload: env.payload,
                dsse_type: env.payload_type,
                signatures,
            });
        }
        let signed = obj
            .get("signed")
            .filter(|s| s.is_object())
            .ok_or_else(|| {
                Error::format(
                    what,
                    "neither a DSSE envelope nor a Metablock with an object 'signed'",
                )
            })?
            .clone();
        let sigs = match obj.get("signatures") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(Error::format(what, "'signatures' must be a list")),
        };
        let mut signatures = Vec::with_capacity(sigs.len());
        for (i, s) in sigs.iter().enumerate() {
            let keyid = s
                .get("keyid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let sig_hex = s
                .get("sig")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::format(what, format!("signatures[{i}].sig missing")))?;
            let sig = hex::decode(sig_hex)
                .map_err(|e| Error::format(what, format!("signatures[{i}].sig is not hex: {e}")))?;
            signatures.push(Signature { keyid, sig });
        }
        Ok(Metadata {
            format: Format::Metablock,
            payload: signed,
            dsse_payload: Vec::new(),
            dsse_type: String::new(),
            signatures,
        })
    }

    /// Wrap a payload for signing.
    pub fn new(payload: Value, format: Format) -> Result<Self, Error> {
        let dsse_payload = match format {
            Format::Dsse => {
                serde_json::to_vec(&payload).map_err(|e| Error::format("payload", e))?
            }
            Format::Metablock => {
                // Fail now, not at signing time, if the payload cannot be canonicalised.
                canonical_json(&payload)?;
                Vec::new()
            }
        };
        Ok(Metadata {
            format,
            payload,
            dsse_payload,
            dsse_type: dsse::INTOTO_PAYLOAD_TYPE.to_string(),
            signatures: Vec::new(),
        })
    }

    /// The envelope format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The payload (the `signed` object, or the parsed DSSE payload).
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The payload's `_type` (`layout`, `link`, or a Statement type URI).
    pub fn payload_type(&self) -> &str {
        self.payload
            .get("_type")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The signatures.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The bytes every signature covers.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, Error> {
        match self.format {
            Format::Metablock => canonical_json(&self.payload),
            Format::Dsse => Ok(dsse::pae(&self.dsse_type, &self.dsse_payload)),
        }
    }

    /// Succeeds if any signature verifies with `key`. Key ID hints are ignored.
    pub fn verify(&self, key: &Key) -> Result<(), Error> {
        self.verify_bytes(&self.signed_bytes()?, key)
    }

    /// As [`Metadata::verify`], with the signed bytes computed once by the caller.
    pub(crate) fn verify_bytes(&self, signed: &[u8], key: &Key) -> Result<(), Error> {
        if self.format == Format::Dsse && self.dsse_type != dsse::INTOTO_PAYLOAD_TYPE {
            return Err(Error::SignatureVerification {
                what: "DSSE envelope".into(),
                reason: format!(
                    "payloadType '{}' is not '{}'",
                    self.dsse_type,
                    dsse::INTOTO_PAYLOAD_TYPE
                ),
            });
        }
        if self
            .signatures
            .iter()
            .any(|s| key.verify(signed, &s.sig).is_ok())
        {
            return Ok(());
        }
        Err(Error::SignatureVerification {
            what: format!("{} {}", self.payload_type(), self.format_name()),
            reason: format!(
                "none of its {} signature(s) verifies with key {} ({})",
                self.signatures.len(),
                key.keyid(),
                key.scheme()
            ),
        })
    }

    fn format_name(&self) -> &'static str {
        match self.format {
            Format::Metablock => "metablock",
            Format::Dsse => "DSSE envelope",
        }
    }

    /// Add a signature by `key` (with the reference's key ID as hint).
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), Error> {
        let sig = key.sign(&self.signed_bytes()?)?;
        self.signatures.push(Signature {
            keyid: key.public().keyid(),
            sig,
        });
        Ok(())
    }

    /// Drop all signatures (before re-signing).
    pub fn clear_signatures(&mut self) {
        self.signatures.clear();
    }

    /// Serialise the metadata (pretty, sorted keys, like the reference).
    pub fn to_json(&self) -> Vec<u8> {
        let v = match self.format {
            Format::Metablock => json!({
                "signatures": self.signatures.iter().map(|s| json!({
                    "keyid": s.keyid,
                    "sig": hex::encode(&s.sig),
                })).collect::<Vec<_>>(),
                "signed": self.payload,
            }),
            Format::Dsse => {
                let mut m = Map::new();
                m.insert(
                    "payload".into(),
                    Value::String(STANDARD.encode(&self.dsse_payload)),
                );
                m.insert("payloadType".into(), Value::String(self.dsse_type.clone()));
                m.insert(
                    "signatures".into(),
                    Value::Array(
                        self.signatures
                            .iter()
                            .map(|s| json!({"keyid": s.keyid, "sig": STANDARD.encode(&s.sig)}))
                            .collect(),
                    ),
                );
                Value::Object(m)
            }
        };
        let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Verify a generic DSSE envelope (any payload type) with `key`: succeeds if any
/// signature verifies over `PAE(payloadType, payload)`.
pub fn verify_dsse(envelope: &dsse::Envelope, key: &Key) -> Result<(), Error> {
    let pae = envelope.pae();
    if envelope
        .signatures
        .iter()
        .any(|s| key.verify(&pae, &s.sig).is_ok())
    {
        Ok(())
    } else {
        Err(Error::SignatureVerification {
            what: format!("DSSE envelope of type '{}'", envelope.payload_type),
            reason: format!("no signature verifies with key {}", key.keyid()),
        })
    }
}
