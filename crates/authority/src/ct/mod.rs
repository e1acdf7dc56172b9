//! chainseal's certificate transparency log: it logs precertificates in an RFC 6962 Merkle
//! tree (`chainseal_tlog`) and answers each with a signed certificate timestamp.
//!
//! The SCT signs exactly the bytes `chainseal_crypto::sct::signed_data` reconstructs:
//! `version || signature_type(0) || timestamp || entry_type(1) || issuer_key_hash ||
//! u24 TBS || u16 extensions`. The Merkle leaf (`MerkleTreeLeaf`, RFC 6962 §3.4) has the
//! same layout with `leaf_type(0)` in place of `signature_type(0)`, so the same bytes are
//! logged.

use std::sync::Mutex;

use chainseal_crypto::keys::{KeyKind, PrivateKey, PublicKey, sha256};
use chainseal_crypto::sct::{Sct, signed_data};
use chainseal_tlog::merkle::MemoryTree;

use crate::error::{Error, Result};

/// A CT log signing SCTs with an ECDSA P-256 key (SHA-256, as Sigstore clients require).
pub struct CtLog {
    key: PrivateKey,
    log_id: [u8; 32],
    tree: Mutex<MemoryTree>,
}

impl std::fmt::Debug for CtLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtLog")
            .field("log_id", &hex::encode(self.log_id))
            .finish_non_exhaustive()
    }
}

impl CtLog {
    /// A log signing with `key` (must be ECDSA P-256).
    pub fn new(key: PrivateKey) -> Result<Self> {
        if key.kind() != KeyKind::EcdsaP256 {
            return Err(Error::Config(format!(
                "CT log key must be ECDSA P-256, not {:?}",
                key.kind()
            )));
        }
        let log_id = sha256(key.public_key().spki_der());
        Ok(Self {
            key,
            log_id,
            tree: Mutex::new(MemoryTree::new()),
        })
    }

    /// The RFC 6962 log ID (SHA-256 of the public key's SPKI DER).
    pub fn log_id(&self) -> [u8; 32] {
        self.log_id
    }

    /// The log's public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Number of logged precertificates.
    pub fn size(&self) -> u64 {
        self.tree.lock().map(|t| t.size()).unwrap_or(0)
    }

    /// The current Merkle tree root.
    pub fn root(&self) -> Option<[u8; 32]> {
        self.tree.lock().ok().map(|t| t.root())
    }

    /// Logs a precertificate entry and returns its SCT. `precert_tbs` is the final
    /// certificate's TBSCertificate without the SCT list (and without the poison);
    /// `issuer_key_hash` is SHA-256 of the issuing CA's SPKI.
    pub fn add_precert(
        &self,
        issuer_key_hash: &[u8; 32],
        precert_tbs: &[u8],
        timestamp_ms: u64,
    ) -> Result<Sct> {
        let mut sct = Sct {
            version: 0,
            log_id: self.log_id,
            timestamp_ms,
            extensions: Vec::new(),
            hash_alg: 4, // SHA-256
            sig_alg: 3,  // ECDSA
            signature: Vec::new(),
        };
        let data = signed_data(&sct, issuer_key_hash, precert_tbs)?;
        sct.signature = self.key.sign(&data)?;
        // MerkleTreeLeaf: version(0) || leaf_type(0) || the same TimestampedEntry bytes.
        self.tree
            .lock()
            .map_err(|_| Error::Crypto("CT log tree lock poisoned".into()))?
            .push_entry(&data);
        Ok(sct)
    }
}

/// Serialises one SCT (RFC 6962 §3.2 `SignedCertificateTimestamp`).
fn encode_sct(sct: &Sct) -> Result<Vec<u8>> {
    let u16_len = |n: usize| {
        u16::try_from(n)
            .map(u16::to_be_bytes)
            .map_err(|_| Error::Crypto("SCT field too long".into()))
    };
    let mut out = Vec::with_capacity(120 + sct.signature.len());
    out.push(sct.version);
    out.extend_from_slice(&sct.log_id);
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&u16_len(sct.extensions.len())?);
    out.extend_from_slice(&sct.extensions);
    out.push(sct.hash_alg);
    out.push(sct.sig_alg);
    out.extend_from_slice(&u16_len(sct.signature.len())?);
    out.extend_from_slice(&sct.signature);
    Ok(out)
}

/// The TLS `SignedCertificateTimestampList` for `scts`.
pub fn encode_sct_list(scts: &[Sct]) -> Result<Vec<u8>> {
    let mut list = Vec::new();
    for sct in scts {
        let one = encode_sct(sct)?;
        let len = u16::try_from(one.len()).map_err(|_| Error::Crypto("SCT too long".into()))?;
        list.extend_from_slice(&len.to_be_bytes());
        list.extend_from_slice(&one);
    }
    let total = u16::try_from(list.len()).map_err(|_| Error::Crypto("SCT list too long".into()))?;
    let mut out = total.to_be_bytes().to_vec();
    out.extend_from_slice(&list);
    Ok(out)
}
