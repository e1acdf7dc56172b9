//! Writing the files Sigstore clients point at: a trusted root
//! (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`), a signing config v0.2
//! and a client trust config v0.1 holding both — in the protobuf-JSON shape of the
//! public-good `trusted_root.json`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{KeyKind, sha256};
use chainseal_tlog::keys::VerifierKey;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::store::PublicMaterial;

/// Media type of trusted roots.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// Media type of signing configs.
pub const SIGNING_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// Media type of client trust configs.
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";
/// The operator named in the signing config.
const OPERATOR: &str = "chainseal-stack";

/// The transparency log as the trusted root lists it.
#[derive(Clone, Debug)]
pub struct LogInfo {
    /// `http://127.0.0.1:<port>`; without the scheme it is the checkpoint origin.
    pub base_url: String,
    /// The log's C2SP verifier key.
    pub vkey: String,
    /// The Rekor v2 log ID (C2SP key ID).
    pub log_id: [u8; 32],
    /// Start of the key's use (Unix seconds).
    pub start: i64,
}

/// RFC 3339 UTC time.
pub fn rfc3339(unix: i64) -> Result<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| Error::Config(format!("time {unix}: {e}")))?;
    t.format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::Config(format!("time {unix}: {e}")))
}

fn valid_for(start: i64, end: Option<i64>) -> Result<Value> {
    let mut v = json!({"start": rfc3339(start)?});
    if let Some(e) = end {
        v["end"] = rfc3339(e)?.into();
    }
    Ok(v)
}

fn key_details(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        KeyKind::EcdsaP384 => "PKIX_ECDSA_P384_SHA_384",
        KeyKind::EcdsaP521 => "PKIX_ECDSA_P521_SHA_512",
        KeyKind::Ed25519 => "PKIX_ED25519",
        KeyKind::Rsa { .. } => "PKIX_RSA_PKCS1V15_2048_SHA256",
    }
}

fn chain_json(chain: &[chainseal_crypto::x509::Certificate]) -> Value {
    json!({"certificates": chain.iter()
        .map(|c| json!({"rawBytes": STANDARD.encode(c.der())}))
        .collect::<Vec<_>>()})
}

/// The trusted root listing `log`, every CA / CT / TSA generation in `m`.
pub fn trusted_root(log: &LogInfo, authority_url: &str, m: &PublicMaterial) -> Result<Value> {
    let vk = VerifierKey::parse(&log.vkey).map_err(|e| Error::Config(format!("log vkey: {e}")))?;
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&vk.public_key);
    let tlog = json!({
        "baseUrl": log.base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": STANDARD.encode(&spki), "keyDetails": "PKIX_ED25519",
                      "validFor": valid_for(log.start, None)?},
        "logId": {"keyId": STANDARD.encode(log.log_id)}
    });
    let cas = m
        .cas
        .iter()
        .map(|g| {
            Ok(json!({
                "subject": {"organization": "chainseal", "commonName": g.material.last().map(|c| c.subject_string()).unwrap_or_default()},
                "uri": authority_url,
                "certChain": chain_json(&g.material),
                "validFor": valid_for(g.start, g.end)?
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    let cts = m
        .cts
        .iter()
        .map(|g| {
            Ok(json!({
                "baseUrl": format!("{authority_url}/ct"),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(g.material.spki_der()),
                              "keyDetails": key_details(g.material.kind()),
                              "validFor": valid_for(g.start, g.end)?},
                "logId": {"keyId": STANDARD.encode(sha256(g.material.spki_der()))}
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    let tsas = m
        .tsas
        .iter()
        .map(|g| {
            Ok(json!({
                "subject": {"organization": "chainseal", "commonName": g.material.first().map(|c| c.subject_string()).unwrap_or_default()},
                "uri": format!("{authority_url}/api/v1/timestamp"),
                "certChain": chain_json(&g.material),
                "validFor": valid_for(g.start, g.end)?
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [tlog],
        "certificateAuthorities": cas,
        "ctlogs": cts,
        "timestampAuthorities": tsas,
    }))
}

/// The signing config v0.2: CA, OIDC, Rekor v2 log and TSA URLs.
pub fn signing_config(authority_url: &str, log_url: &str, start: i64) -> Result<Value> {
    let svc = |url: String, major: u32| -> Result<Value> {
        Ok(
            json!({"url": url, "majorApiVersion": major, "validFor": valid_for(start, None)?, "operator": OPERATOR}),
        )
    };
    Ok(json!({
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [svc(authority_url.to_owned(), 1)?],
        "oidcUrls": [svc(authority_url.to_owned(), 1)?],
        "rekorTlogUrls": [svc(log_url.to_owned(), 2)?],
        "tsaUrls": [svc(format!("{authority_url}/api/v1/timestamp"), 1)?],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"}
    }))
}

/// The client trust config holding `trusted_root` and `signing_config`.
pub fn client_trust_config(trusted_root: &Value, signing_config: &Value) -> Value {
    json!({
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": trusted_root,
        "signingConfig": signing_config,
    })
}
