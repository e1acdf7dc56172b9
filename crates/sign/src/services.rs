//! The three network calls of a signing: a certificate from a Fulcio-compatible CA (v2
//! REST API, CSR form as sigstore-python sends it), an entry in a Rekor v2 log, and an
//! RFC 3161 timestamp. Each response is checked before it is used.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{HashAlgorithm, PrivateKey, sha256};
use chainseal_crypto::rfc3161::{TimestampToken, timestamp_request};
use chainseal_crypto::x509::Certificate;
use der::asn1::{BitString, SetOfVec};
use der::{Decode, Encode};
use serde_json::{Value, json};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};

use crate::Error;

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// Upper bound on any response body we accept.
const MAX_RESPONSE: usize = 4 << 20;
const TIMEOUT: Duration = Duration::from_secs(60);

fn svc_err(service: &'static str, url: &str, reason: impl Into<String>) -> Error {
    Error::Service {
        service,
        url: url.to_owned(),
        reason: reason.into(),
    }
}

/// An HTTP client for the signing services.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    /// A client with a 60 s timeout and a chainseal user agent.
    pub fn new() -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("chainseal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Http { client })
    }

    async fn read_body(
        service: &'static str,
        url: &str,
        resp: reqwest::Response,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), Error> {
        let status = resp.status();
        if resp
            .content_length()
            .is_some_and(|l| l > MAX_RESPONSE as u64)
        {
            return Err(svc_err(service, url, "response too large"));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| svc_err(service, url, format!("reading response: {e}")))?;
        if body.len() > MAX_RESPONSE {
            return Err(svc_err(service, url, "response too large"));
        }
        Ok((status, body.to_vec()))
    }

    fn status_err(service: &'static str, url: &str, status: u16, body: &[u8]) -> Error {
        let text = String::from_utf8_lossy(body);
        let msg: String = text.chars().take(300).collect();
        svc_err(service, url, format!("HTTP {status}: {}", msg.trim()))
    }

    /// Asks the CA for a code-signing certificate for `key`, proving possession with a
    /// PKCS#10 CSR signed by it. Returns the chain, leaf first.
    pub async fn signing_certificate(
        &self,
        ca_base: &str,
        token: &str,
        key: &PrivateKey,
    ) -> Result<Vec<Certificate>, Error> {
        const S: &str = "certificate authority";
        let url = format!("{ca_base}/api/v2/signingCert");
        let csr = csr_pem(key)?;
        let body = json!({
            "credentials": {"oidcIdentityToken": token},
            "certificateSigningRequest": STANDARD.encode(csr.as_bytes()),
        });
        let resp = self
            .client
            .post(&url)
            .bearer_auth(token)
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| svc_err(S, &url, format!("request failed: {e}")))?;
        let (status, body) = Self::read_body(S, &url, resp).await?;
        if !status.is_success() {
            return Err(Self::status_err(S, &url, status.as_u16(), &body));
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| svc_err(S, &url, format!("response JSON: {e}")))?;
        let chain = v
            .get("signedCertificateEmbeddedSct")
            .or_else(|| v.get("signedCertificateDetachedSct"))
            .and_then(|c| c.get("chain"))
            .and_then(|c| c.get("certificates"))
            .and_then(Value::as_array)
            .ok_or_else(|| svc_err(S, &url, "response has no certificate chain"))?;
        let mut certs = Vec::with_capacity(chain.len());
        for pem in chain {
            let pem = pem
                .as_str()
                .ok_or_else(|| svc_err(S, &url, "certificate is not a PEM string"))?;
            certs.push(
                Certificate::from_pem(pem)
                    .map_err(|e| svc_err(S, &url, format!("certificate: {e}")))?,
            );
        }
        let leaf = certs
            .first()
            .ok_or_else(|| svc_err(S, &url, "empty certificate chain"))?;
        if leaf.spki_der()? != key.public_key().spki_der() {
            return Err(svc_err(
                S,
                &url,
                "the issued certificate is not for our public key",
            ));
        }
        Ok(certs)
    }

    /// Writes an entry to a Rekor v2 log; returns its `TransparencyLogEntry` (protobuf
    /// JSON, as the log sent it).
    pub async fn create_entry(&self, log_base: &str, request: &Value) -> Result<Value, Error> {
        const S: &str = "transparency log";
        let url = format!("{log_base}/api/v2/log/entries");
        let resp = self
            .client
            .post(&url)
            .header("Accept", "application/json")
            .json(request)
            .send()
            .await
            .map_err(|e| svc_err(S, &url, format!("request failed: {e}")))?;
        let (status, body) = Self::read_body(S, &url, resp).await?;
        if !status.is_success() {
            return Err(Self::status_err(S, &url, status.as_u16(), &body));
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| svc_err(S, &url, format!("response JSON: {e}")))?;
        if v.get("inclusionProof").is_none() {
            return Err(svc_err(S, &url, "entry has no inclusion proof"));
        }
        Ok(v)
    }

    /// Timestamps `signature` (SHA-256 imprint, random nonce, certReq) and returns the DER
    /// `TimeStampResp` after checking its status, imprint and nonce.
    pub async fn timestamp(&self, tsa_url: &str, signature: &[u8]) -> Result<Vec<u8>, Error> {
        const S: &str = "timestamp authority";
        let mut nonce = [0u8; 16];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| svc_err(S, tsa_url, "RNG failed"))?;
        nonce[0] &= 0x7f;
        nonce[0] |= 0x01;
        let req = timestamp_request(signature, HashAlgorithm::Sha256, Some(&nonce), true)?;
        let resp = self
            .client
            .post(tsa_url)
            .header("Content-Type", "application/timestamp-query")
            .header("Accept", "application/timestamp-reply")
            .body(req)
            .send()
            .await
            .map_err(|e| svc_err(S, tsa_url, format!("request failed: {e}")))?;
        let (status, body) = Self::read_body(S, tsa_url, resp).await?;
        if !status.is_success() {
            return Err(Self::status_err(S, tsa_url, status.as_u16(), &body));
        }
        let token = TimestampToken::from_der(&body)
            .map_err(|e| svc_err(S, tsa_url, format!("response: {e}")))?;
        let (alg, imprint) = token.message_imprint();
        if alg != HashAlgorithm::Sha256 || imprint != sha256(signature) {
            return Err(svc_err(S, tsa_url, "timestamp covers other data"));
        }
        let n = token.nonce().map(|n| {
            let start = n.iter().position(|b| *b != 0).unwrap_or(n.len());
            n.get(start..).unwrap_or_default().to_vec()
        });
        if n.as_deref() != Some(&nonce[..]) {
            return Err(svc_err(
                S,
                tsa_url,
                "timestamp nonce does not match the request",
            ));
        }
        Ok(body)
    }
}

/// A PKCS#10 CSR for `key` (ECDSA P-256 only), empty subject, signed by the key.
pub fn csr_pem(key: &PrivateKey) -> Result<String, Error> {
    let enc = |e: der::Error| Error::Key(format!("CSR encoding: {e}"));
    let info = CertReqInfo {
        version: Version::V1,
        subject: Name::from_der(&[0x30, 0x00]).map_err(enc)?,
        public_key: SubjectPublicKeyInfoOwned::from_der(key.public_key().spki_der())
            .map_err(enc)?,
        attributes: SetOfVec::new(),
    };
    let tbs = info.to_der().map_err(enc)?;
    let sig = key.sign(&tbs)?;
    let req = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(&sig).map_err(enc)?,
    };
    let der = req.to_der().map_err(enc)?;
    der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &der)
        .map_err(|e| Error::Key(format!("CSR PEM: {e}")))
}
