//! The CT log's checkpoint signature: a static-ct-api note signature (type 0x05), i.e. an
//! RFC 6962 `TreeHeadSignature` carried in a C2SP signed note.
//!
//! - key ID = `SHA-256(name || 0x0A || 0x05 || LogID)[:4]`, LogID = `SHA-256(SPKI DER)`;
//! - signature = `timestamp (u64 BE, ms) || DigitallySigned`, where `DigitallySigned` is
//!   `hash 4 (SHA-256) || signature 3 (ECDSA) || u16 length || ASN.1 DER ECDSA signature`
//!   over `TreeHeadSignature = version 0 || signature_type tree_hash (1) || timestamp ||
//!   tree_size || root_hash`.
//!
//! The signature does not cover the origin line, so the signer refuses to sign a
//! checkpoint whose origin is not its name, or that has extension lines
//! (`chainseal_tlog::pkix::Rfc6962Verifier` refuses them too).

use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::{TYPE_RFC6962, key_id};
use chainseal_tlog::note::{NoteSigner, is_valid_key_name};
use chainseal_tlog::pkix::tree_head_signature_input;

use crate::error::{Error, Result};

/// Signs checkpoints as the static-ct-api log `name` with the log's ECDSA P-256 key, at a
/// fixed timestamp (one signer per checkpoint).
pub struct Rfc6962Signer<'a> {
    name: String,
    key_id: u32,
    key: &'a PrivateKey,
    timestamp_ms: u64,
}

impl std::fmt::Debug for Rfc6962Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc6962Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("timestamp_ms", &self.timestamp_ms)
            .finish_non_exhaustive()
    }
}

impl<'a> Rfc6962Signer<'a> {
    /// A signer named `name` (the log's origin) signing with `key` (ECDSA P-256) and
    /// stamping `timestamp_ms` (ms since the epoch, at most 2^63-1).
    pub fn new(name: &str, key: &'a PrivateKey, timestamp_ms: u64) -> Result<Self> {
        if !is_valid_key_name(name) {
            return Err(Error::Config(format!(
                "CT log origin {name:?} is not a valid note key name"
            )));
        }
        if key.kind() != KeyKind::EcdsaP256 {
            return Err(Error::Config(format!(
                "CT log key must be ECDSA P-256, not {:?}",
                key.kind()
            )));
        }
        if timestamp_ms > i64::MAX as u64 {
            return Err(Error::Crypto("checkpoint timestamp exceeds 2^63-1".into()));
        }
        let mut type_and_key = vec![TYPE_RFC6962];
        type_and_key.extend_from_slice(&sha256(key.public_key().spki_der()));
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &type_and_key),
            key,
            timestamp_ms,
        })
    }
}

fn signing_err(reason: impl Into<String>) -> chainseal_tlog::Error {
    chainseal_tlog::Error::Signing {
        reason: reason.into(),
    }
}

impl NoteSigner for Rfc6962Signer<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn sign(&self, text: &[u8]) -> chainseal_tlog::Result<Vec<u8>> {
        let text = std::str::from_utf8(text).map_err(|_| signing_err("note is not UTF-8"))?;
        let cp = Checkpoint::parse(text)?;
        if cp.origin != self.name {
            return Err(signing_err(format!(
                "checkpoint origin {:?} is not the log's name {:?}",
                cp.origin, self.name
            )));
        }
        if !cp.extensions.is_empty() {
            return Err(signing_err(
                "an RFC 6962 note signature does not cover extension lines",
            ));
        }
        let msg = tree_head_signature_input(self.timestamp_ms, cp.size, &cp.root_hash);
        let der = self
            .key
            .sign(&msg)
            .map_err(|e| signing_err(format!("tree head: {e}")))?;
        let len = u16::try_from(der.len()).map_err(|_| signing_err("signature too long"))?;
        let mut out = Vec::with_capacity(12 + der.len());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&[4, 3]); // SHA-256, ECDSA
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&der);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainseal_tlog::note::{Note, NoteVerifier};
    use chainseal_tlog::pkix::Rfc6962Verifier;

    fn checkpoint(origin: &str, size: u64) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root_hash: [7; 32],
            extensions: vec![],
        }
    }

    #[test]
    fn signatures_verify_with_the_static_ct_verifier_and_carry_the_timestamp() {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let signer = Rfc6962Signer::new("ct.example/log", &key, 1_700_000_000_123).unwrap();
        let v = Rfc6962Verifier::new("ct.example/log", key.public_key()).unwrap();
        assert_eq!(signer.key_id(), v.key_id());
        let mut note = Note::new(checkpoint("ct.example/log", 5).to_text()).unwrap();
        note.sign(&signer).unwrap();
        let verified = Note::parse(&note.to_bytes())
            .unwrap()
            .verify(&[&v])
            .unwrap();
        assert_eq!(verified[0].timestamp, Some(1_700_000_000_123));
        // The same signature over another size, or under another key, does not verify.
        let sig = &note.signatures()[0].signature;
        assert!(!v.verify(checkpoint("ct.example/log", 6).to_text().as_bytes(), sig));
        let other = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let w = Rfc6962Verifier::new("ct.example/log", other.public_key()).unwrap();
        assert!(!w.verify(note.text().as_bytes(), sig));
    }

    #[test]
    fn refuses_another_origin_extension_lines_and_other_keys() {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let signer = Rfc6962Signer::new("ct.example/log", &key, 1).unwrap();
        assert!(
            signer
                .sign(checkpoint("elsewhere", 1).to_text().as_bytes())
                .is_err()
        );
        let mut cp = checkpoint("ct.example/log", 1);
        cp.extensions.push("ext".into());
        assert!(signer.sign(cp.to_text().as_bytes()).is_err());
        let p384 = PrivateKey::generate(KeyKind::EcdsaP384).unwrap();
        assert!(Rfc6962Signer::new("ct.example/log", &p384, 1).is_err());
        assert!(Rfc6962Signer::new("bad name", &key, 1).is_err());
    }
}
