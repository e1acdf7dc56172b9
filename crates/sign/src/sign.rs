//! The signing flow: key or keyless certificate → signature → timestamps → log entry →
//! a v0.3 bundle, which is re-parsed and verified before it is handed back.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chainseal_crypto::keys::{HashAlgorithm, KeyKind, PrivateKey, PublicKey, sha256};
use chainseal_crypto::x509::Certificate;
use chainseal_model::dsse::{INTOTO_PAYLOAD_TYPE, pae};
use chainseal_model::statement::Statement;
use chainseal_verify::{Artifact, Matcher, Policy, Report, TrustMaterial, Verifier};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::Error;
use crate::config::SigningSetup;
use crate::services::Http;

/// Media type of the bundles produced.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// An OIDC identity token, wiped on drop; `Debug` shows only that it is redacted.
#[derive(Clone)]
pub struct IdentityToken(Zeroizing<String>);

impl IdentityToken {
    /// Wraps a compact JWT (surrounding whitespace removed). Refuses text that is not three
    /// base64url segments; the token's signature is the CA's business, not ours.
    pub fn new(token: String) -> Result<Self, Error> {
        let token = Zeroizing::new(token);
        let t = token.trim();
        let parts: Vec<&str> = t.split('.').collect();
        if parts.len() != 3
            || parts
                .iter()
                .take(2)
                .any(|p| URL_SAFE_NO_PAD.decode(p).is_err())
        {
            return Err(Error::Token(
                "not a compact JWT (header.payload.signature)".into(),
            ));
        }
        Ok(IdentityToken(Zeroizing::new(t.to_owned())))
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityToken(<redacted>)")
    }
}

/// Who signs: a managed key, or a short-lived certificate obtained with a token.
#[derive(Debug)]
pub enum Credential {
    /// A managed key; the bundle carries `publicKey.hint`.
    Key(PrivateKey),
    /// Keyless: an ephemeral P-256 key certified by the CA for this token's identity.
    IdentityToken(IdentityToken),
    /// Keyless with a key certified earlier by [`Signer::certify`]: one short-lived
    /// certificate for several signatures (e.g. every attestation of one factory run).
    Certified(Arc<CertifiedKey>),
}

/// An ephemeral P-256 key and the certificate chain the CA issued for it (leaf first).
/// The key is zeroized on drop and never printed.
pub struct CertifiedKey {
    key: PrivateKey,
    chain: Vec<Certificate>,
    policy: Policy,
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl CertifiedKey {
    /// The certificate chain, leaf first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The certified public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Signs `message` with the certified key (ECDSA P-256, SHA-256). Only for metadata
    /// that is not logged (e.g. an in-toto layout); use [`Signer::sign`] for attestations.
    pub fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.key.sign(message)?)
    }

    /// The exact identity the certificate binds (SAN and OIDC issuer).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// What to sign.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// An artifact: a message signature over its digest (hashedrekord).
    Blob(&'a [u8]),
    /// An in-toto statement (JSON bytes, signed exactly as given) in a DSSE envelope.
    Statement(&'a [u8]),
}

/// A bundle that passed verification.
#[derive(Debug, Clone)]
pub struct SignedBundle {
    /// The bundle JSON (protobuf JSON, v0.3).
    pub json: Vec<u8>,
    /// What the self-check verified.
    pub report: Report,
}

/// Signs against one configured Sigstore instance.
#[derive(Debug)]
pub struct Signer {
    setup: SigningSetup,
    verifier: Verifier,
    http: Http,
}

fn key_details(kind: KeyKind) -> Result<&'static str, Error> {
    Ok(match kind {
        KeyKind::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        KeyKind::EcdsaP384 => "PKIX_ECDSA_P384_SHA_384",
        KeyKind::EcdsaP521 => "PKIX_ECDSA_P521_SHA_512",
        KeyKind::Ed25519 => "PKIX_ED25519",
        KeyKind::Rsa { bits: 2048 } => "PKIX_RSA_PKCS1V15_2048_SHA256",
        KeyKind::Rsa { bits: 3072 } => "PKIX_RSA_PKCS1V15_3072_SHA256",
        KeyKind::Rsa { bits: 4096 } => "PKIX_RSA_PKCS1V15_4096_SHA256",
        other => return Err(Error::Key(format!("{other:?} keys cannot be logged"))),
    })
}

fn hash_name(h: HashAlgorithm) -> &'static str {
    match h {
        HashAlgorithm::Sha256 => "SHA2_256",
        HashAlgorithm::Sha384 => "SHA2_384",
        HashAlgorithm::Sha512 => "SHA2_512",
    }
}

/// `verificationMaterial.publicKey.hint`: base64 SHA-256 of the SPKI DER.
pub fn public_key_hint(key: &PublicKey) -> String {
    STANDARD.encode(sha256(key.spki_der()))
}

/// A signing key owned by one signature, or shared by a certified credential.
enum PrivateKeyRef {
    Owned(PrivateKey),
    Certified(Arc<CertifiedKey>),
}

impl PrivateKeyRef {
    fn get(&self) -> &PrivateKey {
        match self {
            PrivateKeyRef::Owned(k) => k,
            PrivateKeyRef::Certified(c) => &c.key,
        }
    }
}

/// The key that signs and how the log and the bundle name it.
struct SigningIdentity {
    key: Arc<PrivateKeyRef>,
    /// `verifier` object of a Rekor v2 request (without `keyDetails`).
    verifier: Value,
    /// `verificationMaterial` fields for the key/certificate.
    material: (String, Value),
    policy: Policy,
}

impl Signer {
    /// A signer for `setup`; the trusted root must parse (it is used for the self-check).
    pub fn new(setup: SigningSetup) -> Result<Self, Error> {
        let trust = TrustMaterial::from_json(&setup.trusted_root_json)
            .map_err(|e| Error::Config(format!("trusted root: {e}")))?;
        Ok(Signer {
            setup,
            verifier: Verifier::new(trust),
            http: Http::new()?,
        })
    }

    /// The services in use.
    pub fn setup(&self) -> &SigningSetup {
        &self.setup
    }

    /// Signs `payload` with `credential`: blocking (runs its own small async runtime).
    pub fn sign(
        &self,
        credential: &Credential,
        payload: Payload<'_>,
    ) -> Result<SignedBundle, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("async runtime: {e}")))?;
        rt.block_on(self.sign_async(credential, payload))
    }

    /// Signs `payload` with `credential`.
    pub async fn sign_async(
        &self,
        credential: &Credential,
        payload: Payload<'_>,
    ) -> Result<SignedBundle, Error> {
        self.bundle_async(credential, payload, None).await
    }

    /// Timestamps, logs and bundles a signature made earlier by `credential`'s key over
    /// `payload` (for a statement: over its DSSE PAE), e.g. with
    /// [`CertifiedKey::sign_raw`]. The bundle is verified before it is returned, so a
    /// signature that does not verify is refused.
    pub async fn record_signed_async(
        &self,
        credential: &Credential,
        payload: Payload<'_>,
        signature: &[u8],
    ) -> Result<SignedBundle, Error> {
        self.bundle_async(credential, payload, Some(signature))
            .await
    }

    async fn bundle_async(
        &self,
        credential: &Credential,
        payload: Payload<'_>,
        presigned: Option<&[u8]>,
    ) -> Result<SignedBundle, Error> {
        let id = self.identity(credential).await?;
        let key = id.key.get();
        let kind = key.kind();
        let details = key_details(kind)?;

        // Sign, and describe the log entry and the bundle content.
        let (signature, entry_request, content, artifact) = match payload {
            Payload::Blob(data) => {
                let hash = kind.default_scheme().hash().ok_or_else(|| {
                    Error::Key(
                        "Ed25519 keys cannot sign blobs into a Rekor v2 hashedrekord entry; \
                         use an ECDSA key, or attest-blob"
                            .into(),
                    )
                })?;
                let digest = hash.digest(data);
                // ECDSA/RSA with the scheme's hash over the data = a signature over `digest`.
                let sig = match presigned {
                    Some(s) => s.to_vec(),
                    None => key.sign(data)?,
                };
                let mut verifier = id.verifier.clone();
                verifier["keyDetails"] = json!(details);
                let req = json!({"hashedRekordRequestV002": {
                    "digest": STANDARD.encode(&digest),
                    "signature": {"content": STANDARD.encode(&sig), "verifier": verifier},
                }});
                let content = (
                    "messageSignature".to_owned(),
                    json!({
                        "messageDigest": {"algorithm": hash_name(hash), "digest": STANDARD.encode(&digest)},
                        "signature": STANDARD.encode(&sig),
                    }),
                );
                (sig, req, content, Artifact::Bytes(data))
            }
            Payload::Statement(stmt) => {
                let parsed = Statement::from_json(stmt)
                    .map_err(|e| Error::Input(format!("in-toto statement: {e}")))?;
                let subject = first_sha256_subject(&parsed)?;
                let pae_bytes = pae(INTOTO_PAYLOAD_TYPE, stmt);
                let sig = match presigned {
                    Some(s) => s.to_vec(),
                    None => key.sign(&pae_bytes)?,
                };
                let mut verifier = id.verifier.clone();
                verifier["keyDetails"] = json!(details);
                let req = match kind.default_scheme().hash() {
                    // Rekor v2 hashedrekord over the DSSE PAE (rekor-v2-spec §6.1.4), as
                    // sigstore-python 4.5 logs attestations.
                    Some(hash) => json!({"hashedRekordRequestV002": {
                        "digest": STANDARD.encode(hash.digest(&pae_bytes)),
                        "signature": {"content": STANDARD.encode(&sig), "verifier": verifier},
                    }}),
                    // Ed25519 cannot be pre-hashed: log the envelope itself.
                    None => json!({"dsseRequestV002": {
                        "envelope": {
                            "payload": STANDARD.encode(stmt),
                            "payloadType": INTOTO_PAYLOAD_TYPE,
                            "signatures": [{"sig": STANDARD.encode(&sig)}],
                        },
                        "verifiers": [verifier],
                    }}),
                };
                let content = (
                    "dsseEnvelope".to_owned(),
                    json!({
                        "payload": STANDARD.encode(stmt),
                        "payloadType": INTOTO_PAYLOAD_TYPE,
                        "signatures": [{"sig": STANDARD.encode(&sig)}],
                    }),
                );
                (sig, req, content, Artifact::Sha256(subject))
            }
        };

        // Timestamps first (as sigstore-python does), then the log entries.
        let mut timestamps = Vec::with_capacity(self.setup.tsas.len());
        for tsa in &self.setup.tsas {
            let ts = self.http.timestamp(&tsa.url, &signature).await?;
            timestamps.push(json!({"signedTimestamp": STANDARD.encode(ts)}));
        }
        let mut entries = Vec::with_capacity(self.setup.tlogs.len());
        for log in &self.setup.tlogs {
            entries.push(self.http.create_entry(&log.url, &entry_request).await?);
        }

        let mut material = serde_json::Map::new();
        material.insert(id.material.0.clone(), id.material.1.clone());
        material.insert("tlogEntries".into(), Value::Array(entries));
        material.insert(
            "timestampVerificationData".into(),
            json!({"rfc3161Timestamps": timestamps}),
        );
        let mut bundle = serde_json::Map::new();
        bundle.insert("mediaType".into(), json!(BUNDLE_V03));
        bundle.insert("verificationMaterial".into(), Value::Object(material));
        bundle.insert(content.0, content.1);
        let mut bytes = serde_json::to_vec_pretty(&Value::Object(bundle))
            .map_err(|e| Error::Input(format!("encoding the bundle: {e}")))?;
        bytes.push(b'\n');

        // Never hand out a bundle that does not verify.
        let report = self.verifier.verify_json(&bytes, artifact, &id.policy)?;
        Ok(SignedBundle {
            json: bytes,
            report,
        })
    }

    /// Obtains a short-lived certificate for a fresh P-256 key with `token` (the CA
    /// binds the token's identity); the result signs any number of payloads as
    /// [`Credential::Certified`] while the certificate is valid.
    pub async fn certify(&self, token: &IdentityToken) -> Result<CertifiedKey, Error> {
        let ca = self.setup.ca.as_ref().ok_or_else(|| {
            Error::Config(
                "keyless signing needs a certificate authority (caUrls) in the signing config"
                    .into(),
            )
        })?;
        let key = PrivateKey::generate(KeyKind::EcdsaP256)?;
        let chain = self
            .http
            .signing_certificate(&ca.url, token.as_str(), &key)
            .await?;
        let leaf = chain.first().ok_or_else(|| Error::Service {
            service: "certificate authority",
            url: ca.url.clone(),
            reason: "empty chain".into(),
        })?;
        let policy = identity_policy(leaf)?;
        Ok(CertifiedKey { key, chain, policy })
    }

    async fn identity(&self, credential: &Credential) -> Result<SigningIdentity, Error> {
        let certified = match credential {
            Credential::Key(k) => {
                // PrivateKey is not Clone: round-trip through its zeroized PKCS#8.
                let key = PrivateKey::from_pkcs8_der(&k.to_pkcs8_der())?;
                let public = key.public_key();
                return Ok(SigningIdentity {
                    verifier: json!({"publicKey": {"rawBytes": STANDARD.encode(public.spki_der())}}),
                    material: (
                        "publicKey".into(),
                        json!({"hint": public_key_hint(&public)}),
                    ),
                    policy: Policy::Key(public),
                    key: Arc::new(PrivateKeyRef::Owned(key)),
                });
            }
            Credential::IdentityToken(token) => Arc::new(self.certify(token).await?),
            Credential::Certified(c) => Arc::clone(c),
        };
        let leaf = certified.chain.first().ok_or_else(|| Error::Service {
            service: "certificate authority",
            url: String::new(),
            reason: "empty chain".into(),
        })?;
        Ok(SigningIdentity {
            verifier: json!({"x509Certificate": {"rawBytes": STANDARD.encode(leaf.der())}}),
            material: (
                "certificate".into(),
                json!({"rawBytes": STANDARD.encode(leaf.der())}),
            ),
            policy: certified.policy.clone(),
            key: Arc::new(PrivateKeyRef::Certified(certified)),
        })
    }
}

/// The exact identity the CA certified (first SAN, OIDC issuer extension): what the
/// self-check requires.
fn identity_policy(leaf: &Certificate) -> Result<Policy, Error> {
    let san = leaf
        .subject_alt_names()
        .iter()
        .find_map(|s| s.value().map(str::to_owned))
        .ok_or_else(|| Error::Service {
            service: "certificate authority",
            url: String::new(),
            reason: "the certificate has no usable subject alternative name".into(),
        })?;
    let fx = leaf.fulcio_identity()?;
    let issuer = fx.issuer().ok_or_else(|| Error::Service {
        service: "certificate authority",
        url: String::new(),
        reason: "the certificate has no OIDC issuer extension".into(),
    })?;
    Ok(Policy::Identity {
        identity: Matcher::Exact(san),
        issuer: Matcher::Exact(issuer.to_owned()),
        extensions: Vec::new(),
    })
}

fn first_sha256_subject(stmt: &Statement) -> Result<[u8; 32], Error> {
    stmt.subject
        .iter()
        .find_map(|s| s.digest.get("sha256"))
        .and_then(|h| hex::decode(h).ok())
        .and_then(|d| <[u8; 32]>::try_from(d).ok())
        .ok_or_else(|| Error::Input("the statement has no subject with a sha256 digest".into()))
}

/// Builds an in-toto Statement v1 for one subject (`name`, SHA-256 of `artifact`) with the
/// given predicate type and predicate (a JSON value).
pub fn statement_for(
    name: &str,
    artifact: &[u8],
    predicate_type: &str,
    predicate: &Value,
) -> Result<Vec<u8>, Error> {
    if predicate_type.is_empty() {
        return Err(Error::Input("predicate type is empty".into()));
    }
    let v = json!({
        "_type": chainseal_model::statement::STATEMENT_V1,
        "subject": [{"name": name, "digest": {"sha256": hex::encode(sha256(artifact))}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    serde_json::to_vec(&v).map_err(|e| Error::Input(format!("statement: {e}")))
}
