//! Rekor v2 write requests, as a client would send them to `POST /api/v2/log/entries`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{PrivateKey, sha256};

/// A `CreateEntryRequest` with a `hashedRekordRequestV002` over `artifact`, signed by
/// `key` (an ECDSA P-256 key: the request names `PKIX_ECDSA_P256_SHA_256`).
pub fn hashed_rekord_request(key: &PrivateKey, artifact: &[u8]) -> Vec<u8> {
    let sig = key.sign(artifact).expect("signing the artifact");
    serde_json::to_vec(&serde_json::json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(sha256(artifact)),
        "signature": {"content": STANDARD.encode(sig), "verifier": {
            "publicKey": {"rawBytes": STANDARD.encode(key.public_key().spki_der())},
            "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}))
    .expect("a JSON request")
}
